"""ACE++ model loading through ComfyUI's own machinery: no global model list is touched, no core class is
subclassed, every model stays a ModelPatcher clone under ComfyUI's memory management.

FLUX.1-Fill-dev and the ACE++ FFT model differ only in img_in: ComfyUI's Flux.concat_cond sizes the
conditioning from that layer, so the stock detection (FluxInpaint for 384 inputs, plain Flux for 448) is
all that is needed.
"""
import enum
import os
from dataclasses import dataclass

import safetensors
import torch
from comfy_api.v0_0_2 import io, ui

import comfy.controlnet
import comfy.lora
import comfy.lora_convert
import comfy.model_base
import comfy.patcher_extension
import comfy.sd
import comfy.utils
import folder_paths

from ..lcu.layout import AcePlusError
from .catalog import ACE_LORAS, MODEL_FILES, ModelFile
from .schema import Schema
from .types import CATEGORY
from .validation import checked


class ModelFamily(enum.Enum):
    """FLUX input channels per latent pixel, before the 2x2 patchify."""

    FILL = 96  # 16 noise + 16 masked image + 64 mask
    FFT = 112  # 16 noise + 16 context + 16 change + 64 mask


FAMILY_NAMES = {ModelFamily.FILL: "FLUX.1-Fill-dev (384 inputs)", ModelFamily.FFT: "the ACE++ FFT model (448 inputs)"}
SWAP_HINT = {
    ModelFamily.FILL: "use ACE++ Fill Conditioning with FLUX.1-Fill-dev (+ an ACE++ LoRA)",
    ModelFamily.FFT: "use ACE++ FFT Conditioning with the ACE++ FFT model (ACE++ FFT Loader)",
}


def flux_input_channels(model) -> int | None:
    """Input channels per latent pixel of a FLUX-family MODEL (a patcher, or the model ComfyUI samples), None
    for anything else."""
    base = model if isinstance(model, comfy.model_base.BaseModel) else getattr(model, "model", None)
    if not isinstance(base, comfy.model_base.Flux):
        return None
    dm = base.diffusion_model
    return dm.img_in.weight.shape[1] // (dm.patch_size * dm.patch_size)


def model_family(model) -> ModelFamily | None:
    channels = flux_input_channels(model)
    return next((f for f in ModelFamily if f.value == channels), None)


def describe_model(model) -> str:
    family = model_family(model)
    if family is not None:
        return FAMILY_NAMES[family]
    channels = flux_input_channels(model)
    if channels is None:
        return f"a {type(getattr(model, 'model', model)).__name__} model (not FLUX)"
    return f"a FLUX model with {channels * 4} inputs (FLUX.1-dev/Schnell: no fill channels)"


def require_family(model, family: ModelFamily, node: str) -> None:
    found = model_family(model)
    if found == family:
        return
    hint = SWAP_HINT[found] if found is not None else f"load {FAMILY_NAMES[family]} instead"
    raise AcePlusError(f"{node} needs {FAMILY_NAMES[family]} but the model is {describe_model(model)}; {hint}.")


LATENT_CHANNELS, MASK_CHANNELS = 16, 64
GUARD_KEY = "acepp_conditioning_guard"


def image_channels(family: ModelFamily) -> int:
    """Channels of the image latent the conditioning must bring: 16 for Fill, 32 for FFT."""
    return family.value - LATENT_CHANNELS - MASK_CHANNELS


def check_latent_fits(family: ModelFamily, channels: int) -> None:
    """Before the first step: a conditioning image latent of `channels` must fit the sampled model's `family`."""
    if channels != image_channels(family):
        made_for = next((FAMILY_NAMES[f] for f in ModelFamily if image_channels(f) == channels), "another model")
        raise AcePlusError(
            f"the sampler's model is {FAMILY_NAMES[family]} but its conditioning has a {channels}-channel "
            f"image latent, made for {made_for}; {SWAP_HINT[family]} (stock InpaintModelConditioning "
            "only fits FLUX.1-Fill-dev).")


def guard_conditioning(model, family: ModelFamily) -> None:
    """Make `model` (a patcher this pack's loaders return) check its conditioning before sampling starts.

    The conditioning nodes of this pack check the model they are given and carry a SamplingCheck, but a user
    can wire ComfyUI's stock InpaintModelConditioning to a model of the pack. Without this the mismatch
    surfaces as a matrix-shape error inside the first sampling step. A patcher wrapper is no hook: it costs
    neither Dynamic VRAM nor a reload, and clones (the non-dynamic delegate included) keep it.
    """
    def check_before_sampling(executor, *args, **kwargs):
        for conds in executor.class_obj.conds.values():
            for cond in conds or []:
                latent = cond.get("concat_latent_image")
                # Without a concat latent ComfyUI's Flux model fills in one 16-channel zero latent.
                check_latent_fits(family, latent.shape[1] if latent is not None else LATENT_CHANNELS)
        return executor(*args, **kwargs)

    if GUARD_KEY not in model.wrappers.get(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, {}):
        model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, GUARD_KEY, check_before_sampling)


class SamplingCheck(comfy.controlnet.ControlBase):
    """Carried by every ACE++ conditioning in ComfyUI's per-conditioning `control` slot, where ComfyUI calls
    `pre_run(model, ...)` with the model being sampled once before the first step: the conditioning checks the
    sampled model, whichever loader made it (a stock Load Diffusion Model's too).

    Why not a hook group (comfy.hooks): since ComfyUI 0.16 a conditioning with hooks makes the sampler swap a
    Dynamic VRAM model for a non-dynamic copy reloaded from disk. This adds no hooks, no model and no memory,
    and contributes no control: each step it passes on whatever a ControlNet applied before it gives.
    """

    def __init__(self, channels: int, previous=None):
        super().__init__()
        self.channels = channels
        self.set_previous_controlnet(previous)

    def pre_run(self, model, percent_to_timestep_function):
        family = model_family(model)
        if family is None:
            raise AcePlusError(
                f"the sampler's model is {describe_model(model)} but its conditioning comes from ACE++ Fill/FFT "
                "Conditioning; connect the same model you gave the conditioning node to KSampler's model.")
        check_latent_fits(family, self.channels)
        super().pre_run(model, percent_to_timestep_function)

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        if self.previous_controlnet is None:
            return None
        return self.previous_controlnet.get_control(x_noisy, t, cond, batched_number, transformer_options)

    def copy(self):
        return SamplingCheck(self.channels)  # as ComfyUI's own controls: whoever copies links the chain

    def deepclone_multigpu(self, load_device, autoregister=False):
        # No model to clone; ComfyUI clones every link of the chain for each device and links the clones itself.
        clone = self.copy()
        if autoregister:
            self.multigpu_clones[load_device] = clone
        return clone


def find_model_file(folder: str, name: str, download: ModelFile | None = None) -> str:
    """Full path of `name` in any of ComfyUI's `folder` paths (subfolders and extra_model_paths included)."""
    path = folder_paths.get_full_path(folder, name)
    if path is None:
        # Users often keep the released files in a subfolder (loras/ace/...): match by file name.
        for candidate in folder_paths.get_filename_list(folder):
            if os.path.basename(candidate) == os.path.basename(name):
                path = folder_paths.get_full_path(folder, candidate)
                break
    if path is None:
        where = ", ".join(folder_paths.get_folder_paths(folder)) or f"models/{folder}"
        source = f" Download it from {download.url}" if download else ""
        raise AcePlusError(f"'{name}' is not in any '{folder}' folder ({where}). Put it there and press "
                           f"Refresh (R).{source}")
    return path


def unreadable(path: str, error: Exception) -> AcePlusError:
    """A truncated or corrupt download, said so instead of a safetensors traceback."""
    return AcePlusError(f"could not read '{os.path.basename(path)}' ({type(error).__name__}: {error}). The file is "
                        "probably corrupt or incompletely downloaded; download it again.")


def load_state_dict(path: str) -> dict:
    try:
        return comfy.utils.load_torch_file(path, safe_load=True)
    except Exception as e:
        raise unreadable(path, e) from e


def stored_dtypes(path: str) -> set[str]:
    """The dtypes a safetensors file stores its tensors in ("BF16", "F8_E4M3", ...), from its header alone."""
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            return {f.get_slice(key).get_dtype() for key in f.keys()}
    except Exception as e:
        raise unreadable(path, e) from e


def lora_module_of(key: str, key_map: dict) -> str | None:
    """The model weight a LoRA tensor key maps onto, by its longest prefix known to ComfyUI's key map."""
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in key_map:
            return prefix
    return None


@dataclass(frozen=True)
class LoraCoverage:
    total_keys: int
    unmapped_keys: tuple[str, ...]  # tensors of the file that match no layer of the model
    unpatched: tuple[str, ...]  # model weights the LoRA targets that the model does not have

    @property
    def complete(self) -> bool:
        return not self.unmapped_keys and not self.unpatched

    def summary(self, name: str) -> str:
        if self.complete:
            return f"{name}: all {self.total_keys} LoRA tensors applied."
        shown = ", ".join((self.unmapped_keys + self.unpatched)[:5])
        return (f"{name}: {len(self.unmapped_keys)} of {self.total_keys} LoRA tensors match no layer of this model"
                f"{f' and {len(self.unpatched)} target weights are missing' if self.unpatched else ''} "
                f"(e.g. {shown}). The LoRA is for another base model: ACE++ LoRAs need FLUX.1-Fill-dev.")


def apply_lora(model, lora_sd: dict, strength: float):
    """(patched clone, coverage): the LoRA added to a clone of `model` through ComfyUI's patcher."""
    lora_sd = comfy.lora_convert.convert_lora(lora_sd)
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    unmapped = tuple(sorted(k for k in lora_sd if lora_module_of(k, key_map) is None))
    patches = comfy.lora.load_lora(lora_sd, key_map, log_missing=False)
    patched = model.clone()
    applied = set(patched.add_patches(patches, strength))
    unpatched = tuple(sorted(str(k) for k in patches if k not in applied))
    return patched, LoraCoverage(total_keys=len(lora_sd), unmapped_keys=unmapped, unpatched=unpatched)


LORA_CHOICES = list(ACE_LORAS) + ["file"]
RELEASED = "(released file for the vertical)"


class LoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_LoraLoader",
            display_name="ACE++ LoRA Loader",
            category=CATEGORY,
            search_aliases=("ACE++ LoRA", "Flux Fill LoRA", "portrait LoRA", "subject LoRA", "local editing LoRA",
                            "in-context LoRA", "try-on", "face swap"),
            advanced=("on_mismatch",),
            description="Applies an ACE++ LoRA (portrait, subject or local editing) to FLUX.1-Fill-dev through "
                        "ComfyUI's own patching (the loaded model is cloned, never changed). Checks that the model "
                        "is FLUX.1-Fill-dev and that every LoRA tensor lands on a layer, instead of ComfyUI's "
                        "silent half-applied LoRA. Chain several to stack LoRAs.",
            inputs=[
                io.Model.Input("model", tooltip="FLUX.1-Fill-dev from Load Diffusion Model (not FLUX.1-dev, not the "
                                                "ACE++ FFT model: the LoRAs only fit the Fill model)."),
                io.Combo.Input("vertical", options=LORA_CHOICES, default="portrait",
                               tooltip="Which released ACE++ LoRA: portrait (faces), subject (objects, logos, "
                                       "try-on), local_editing (repainting, control maps). 'file' uses lora_name."),
                io.Combo.Input("lora_name", options=[RELEASED] + folder_paths.get_filename_list("loras"),
                               tooltip="vertical = file only: any LoRA file from models/loras."),
                io.Float.Input("strength", default=1.0, min=-4.0, max=4.0, step=0.05,
                               tooltip="LoRA strength; ACE++ is trained and evaluated at 1.0."),
                io.Combo.Input("on_mismatch", options=["error", "warn"], default="error",
                               tooltip="What to do when LoRA tensors do not map onto the model: stop with an "
                                       "error, or go on and show the warning on this node."),
            ],
            outputs=[
                io.Model.Output(display_name="model",
                                tooltip="FLUX.1-Fill-dev with the LoRA applied (a patched clone) that also checks its "
                                        "conditioning when sampling starts. Connect to ACE++ Fill Conditioning and "
                                        "KSampler, or to another ACE++ LoRA Loader to stack LoRAs."),
                io.String.Output(display_name="report",
                                 tooltip="How the LoRA applied: all tensors applied, or how many match no layer of "
                                         "the model (also shown on the node)."),
            ],
        )

    @classmethod
    @checked
    def execute(cls, model, vertical, lora_name, strength, on_mismatch) -> io.NodeOutput:
        if vertical == "file":
            if lora_name == RELEASED:
                raise AcePlusError("vertical is 'file' but no LoRA file is selected in lora_name; pick one, or "
                                   "pick a vertical to use its released file.")
            path, shown = find_model_file("loras", lora_name), lora_name
        else:
            release = ACE_LORAS[vertical]
            path, shown = find_model_file("loras", release.name, release), release.name
        require_family(model, ModelFamily.FILL, "ACE++ LoRA Loader")
        patched, coverage = apply_lora(model, load_state_dict(path), strength)
        guard_conditioning(patched, ModelFamily.FILL)
        report = coverage.summary(shown)
        if not coverage.complete and on_mismatch == "error":
            raise AcePlusError(report + " Set on_mismatch to 'warn' to use it anyway.")
        return io.NodeOutput(patched, report, ui=ui.PreviewText(report))


FFT_DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32, "default": None}


class FFTLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_FFTLoader",
            display_name="ACE++ FFT Loader",
            category=CATEGORY,
            search_aliases=("ACE FFT", "ACE++ FFT model", "ace_plus_fft", "instruction editing", "in-context"),
            description="Loads the ACE++ FFT model (ace_plus_fft.safetensors, 448 input channels) with ComfyUI's "
                        "stock diffusion-model loader and checks it: no global model list is patched. Use it with "
                        "ACE++ FFT Conditioning.",
            inputs=[
                io.Combo.Input("unet_name", options=folder_paths.get_filename_list("diffusion_models"),
                               tooltip="ace_plus_fft.safetensors in models/diffusion_models."),
                io.Combo.Input("weight_dtype", options=list(FFT_DTYPES) + ["fp16"], default="bf16",
                               tooltip="bf16 (recommended) or fp32. The FLUX Fill family does not run in fp16, "
                                       "and fp8 FFT weights are known to break colours."),
            ],
            outputs=[
                io.Model.Output(display_name="model",
                                tooltip="The ACE++ FFT model (448 inputs), checked, that also checks its conditioning "
                                        "when sampling starts. Connect to ACE++ FFT Conditioning and KSampler."),
                io.String.Output(display_name="report",
                                 tooltip="The file, its 448 inputs and the dtypes it is stored in, with a warning for "
                                         "fp8 weights (also shown on the node)."),
            ],
        )

    @classmethod
    @checked
    def execute(cls, unet_name, weight_dtype) -> io.NodeOutput:
        if weight_dtype == "fp16":
            raise AcePlusError("the FLUX Fill family (the ACE++ FFT model included) does not support fp16; choose "
                               "bf16, or fp32 if your GPU has no bf16.")
        path = find_model_file("diffusion_models", unet_name, MODEL_FILES["fft"])
        dtype = FFT_DTYPES[weight_dtype]  # a known choice: the schema check ran first
        stored = stored_dtypes(path)
        try:
            # ComfyUI's own path-based loader: it passes the file's metadata on, and records how to load the file
            # again, which is how current cores make a non-dynamic copy of a Dynamic VRAM model.
            model = comfy.sd.load_diffusion_model(path, model_options={"dtype": dtype} if dtype else {})
        except Exception as e:
            if "Could not detect model type" in str(e):  # ComfyUI's own words for a file of no model it knows
                raise AcePlusError(f"'{unet_name}' is not a diffusion model ComfyUI recognises; pick "
                                   f"ace_plus_fft.safetensors ({MODEL_FILES['fft'].url}).") from None
            raise AcePlusError(f"ComfyUI could not load '{unet_name}' as a diffusion model ({e}).") from e
        require_family(model, ModelFamily.FFT, "ACE++ FFT Loader")
        guard_conditioning(model, ModelFamily.FFT)
        report = f"{unet_name}: ACE++ FFT model, 448 inputs, stored as {', '.join(sorted(stored))}."
        if any(d.startswith("F8") for d in stored):
            report += " WARNING: fp8 FFT weights are known to give broken colours; use the bf16 file."
        return io.NodeOutput(model, report, ui=ui.PreviewText(report))
