"""ACE++ model loading through ComfyUI's own machinery: no global model list is touched, no core class is
subclassed, every model stays a ModelPatcher clone under ComfyUI's memory management.

File finding and reading, the LoRA and FFT loaders and their nodes. Which family a model is, and the guards
the loaded models carry, are nodes/families.py's.
"""
import os
from dataclasses import dataclass

import safetensors
import torch
from comfy_api.v0_0_2 import io, ui

import comfy.lora
import comfy.lora_convert
import comfy.sd
import comfy.utils
import folder_paths

from ..lcu.errors import AcePlusError
from ..lcu.fixes import set_to
from ..lcu.lora import FILL_BASE, LoraCoverage, lora_base_model, lora_coverage
from .catalog import LORAS, MODEL_FILES, ModelFile
from .families import (ModelFamily, family_problem, guard_conditioning, model_family, require_family, serves,
                       swap_hint)
from .schema import Schema
from .types import CATEGORY
from .validation import checked, display_name


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
        source = f" Download it from {download.download_hint}" if download else ""
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


@dataclass(frozen=True)
class StoredForm:
    """How a safetensors file stores its weights, from its header alone."""

    dtypes: frozenset[str]  # "BF16", "F8_E4M3", ...
    scaling: str | None  # None, or how fp8 weights carry their scales: "scaled fp8" or "per-layer quantised"

    @property
    def fp8(self) -> bool:
        return any(d.startswith("F8") for d in self.dtypes)

    def describe(self) -> str:
        return ", ".join(sorted(self.dtypes)) + (f" ({self.scaling})" if self.scaling else "")


def stored_form(path: str) -> StoredForm:
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            keys = set(f.keys())
            dtypes = frozenset(f.get_slice(key).get_dtype() for key in keys)
            metadata = f.metadata() or {}
    except Exception as e:
        raise unreadable(path, e) from e
    # The two layouts ComfyUI reads scaled fp8 weights from: the older `scaled_fp8` marker tensor, and per-layer
    # formats in the `_quantization_metadata` header entry (ComfyUI 0.3.7x and later, comfy-kitchen).
    scaling = ("per-layer quantised" if "_quantization_metadata" in metadata
               else "scaled fp8" if "scaled_fp8" in keys else None)
    return StoredForm(dtypes, scaling)


def apply_lora(model, lora_sd: dict, strength: float) -> tuple[object, LoraCoverage]:
    """(patched clone, coverage): the LoRA added to a clone of `model` through ComfyUI's patcher."""
    lora_sd = comfy.lora_convert.convert_lora(lora_sd)
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    patches = comfy.lora.load_lora(lora_sd, key_map, log_missing=False)
    patched = model.clone()
    applied = set(patched.add_patches(patches, strength))
    return patched, lora_coverage(lora_sd, key_map, unpatched=[k for k in patches if k not in applied])


LORA_CHOICES = list(LORAS) + ["file"]
RELEASED = "(released file for the vertical)"


@serves(ModelFamily.FILL, "loader")
class LoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_LoraLoader",
            display_name="ACE++ LoRA Loader",
            category=CATEGORY,
            search_aliases=("ACE++ LoRA", "Flux Fill LoRA", "portrait LoRA", "subject LoRA", "local editing LoRA",
                            "in-context LoRA", "try-on", "face swap"),
            description="Applies an ACE++ LoRA (portrait, subject or local editing) to FLUX.1-Fill-dev through "
                        "ComfyUI's own patching (the loaded model is cloned, never changed). Checks that the model "
                        "is FLUX.1-Fill-dev and that every LoRA tensor lands on a layer, instead of ComfyUI's "
                        "silent half-applied LoRA. Chain several to stack LoRAs.",
            inputs=[
                io.Model.Input("model", tooltip="FLUX.1-Fill-dev from Load Diffusion Model (not FLUX.1-dev, not the "
                                                "ACE++ FFT model: the LoRAs only fit the Fill model)."),
                io.Combo.Input("vertical", options=LORA_CHOICES, default="portrait",
                               tooltip="Which released LoRA: ACE++ portrait (faces), subject (objects, logos, "
                                       "try-on), local_editing (repainting, control maps); icedit (ICEdit instruction "
                                       "editing), insert_anything (Insert Anything), catvton (CatVTON-FLUX try-on). "
                                       "'file' uses lora_name."),
                io.Combo.Input("lora_name", options=[RELEASED] + folder_paths.get_filename_list("loras"),
                               tooltip="vertical = file only: any LoRA file from models/loras."),
                io.Float.Input("strength", default=1.0, min=-4.0, max=4.0, step=0.05,
                               tooltip="LoRA strength; ACE++ is trained and evaluated at 1.0."),
                io.Combo.Input("on_mismatch", options=["error", "warn"], default="error",
                               tooltip="What to do when LoRA tensors do not map onto the model, or its input layer "
                                       "was trained on another base (FLUX.1-dev): stop with an error, or go on and "
                                       "show the warning on this node."),
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
            release = LORAS[vertical]
            path, shown = find_model_file("loras", release.name, release), release.name
        if model_family(model) is ModelFamily.FFT:
            # The FFT model is ACE++ without a LoRA: the fix is to take this node out, not to change the LoRA.
            raise AcePlusError(f"{family_problem(model, ModelFamily.FILL, cls)}, which needs no LoRA; remove "
                               f"{display_name(cls)} and {swap_hint(ModelFamily.FFT)}, or load "
                               f"{MODEL_FILES['fill'].name} to use this LoRA.")
        require_family(model, ModelFamily.FILL, cls)
        lora_sd = load_state_dict(path)
        # A LoRA whose input layer is another base's maps by name and ComfyUI would only log a shape error for it
        # when sampling starts: said here instead, from the shapes (a LoRA without img_in cannot be told apart).
        base = lora_base_model({key: tuple(t.shape) for key, t in lora_sd.items()})
        wrong_base = (f"{shown} was made for {base}, not {FILL_BASE}: its input layer (x_embedder / img_in) does "
                      "not fit this model, and ComfyUI only logs a shape error for it when sampling starts."
                      if base not in (None, FILL_BASE) else "")
        if wrong_base and on_mismatch == "error":
            raise AcePlusError(f"{wrong_base} Load a LoRA trained on {FILL_BASE}, e.g. the ACE++, ICEdit, Insert "
                               f"Anything or CatVTON LoRAs; to try it anyway, {set_to(on_mismatch='warn')}.")
        patched, coverage = apply_lora(model, lora_sd, strength)
        guard_conditioning(patched, ModelFamily.FILL)
        report = coverage.summary(shown) + (f" WARNING: {wrong_base}" if wrong_base else "")
        if not coverage.complete and on_mismatch == "error":
            raise AcePlusError(f"{report} To use it anyway, {set_to(on_mismatch='warn')}.")
        return io.NodeOutput(patched, report, ui=ui.PreviewText(report))


# weight_dtype -> ComfyUI's model_options, the fp8 choices as the stock Load Diffusion Model has them.
FFT_DTYPES = {"bf16": {"dtype": torch.bfloat16}, "fp32": {"dtype": torch.float32}, "default": {},
              "fp8_e4m3fn": {"dtype": torch.float8_e4m3fn},
              "fp8_e4m3fn_fast": {"dtype": torch.float8_e4m3fn, "fp8_optimizations": True},
              "fp8_e5m2": {"dtype": torch.float8_e5m2}}
FP8_FFT_WARNING = ("WARNING: the ACE++ FFT model in fp8 is known to give broken colours (reported upstream); if "
                   "it does, use the bf16 file with weight_dtype bf16 (about 24 GB of weights), or FLUX.1-Fill-dev in "
                   "fp8 or GGUF with an ACE++ LoRA (12 GB or less).")


@serves(ModelFamily.FFT, "loader")
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
                               tooltip="bf16 (recommended, about 24 GB of weights) or fp32; the fp8 choices (as "
                                       "Load Diffusion Model's) halve that, but fp8 FFT weights are known to break "
                                       "colours. 'default' keeps the file's own dtype (an fp8 or quantised file "
                                       "stays so). The FLUX Fill family does not run in fp16."),
            ],
            outputs=[
                io.Model.Output(display_name="model",
                                tooltip="The ACE++ FFT model (448 inputs), checked, that also checks its conditioning "
                                        "when sampling starts. Connect to ACE++ FFT Conditioning and KSampler."),
                io.String.Output(display_name="report",
                                 tooltip="The file, its 448 inputs, the dtypes it is stored in and the one it is "
                                         "loaded as, with a warning for fp8 weights (also shown on the node)."),
            ],
        )

    @classmethod
    @checked
    def execute(cls, unet_name, weight_dtype) -> io.NodeOutput:
        if weight_dtype == "fp16":
            raise AcePlusError("the FLUX Fill family (the ACE++ FFT model included) does not support fp16; choose "
                               "bf16, or fp32 if your GPU has no bf16.")
        fft_file = MODEL_FILES["fft"]
        path = find_model_file("diffusion_models", unet_name, fft_file)
        model_options = FFT_DTYPES[weight_dtype]  # a known choice: the schema check ran first
        stored = stored_form(path)
        try:
            # ComfyUI's own path-based loader: it passes the file's metadata on (the per-layer formats of a
            # quantised file), and records how to load the file again, which is how current cores make a
            # non-dynamic copy of a Dynamic VRAM model.
            model = comfy.sd.load_diffusion_model(path, model_options=dict(model_options))
        except Exception as e:
            if "Could not detect model type" in str(e):  # ComfyUI's own words for a file of no model it knows
                raise AcePlusError(f"'{unet_name}' is not a diffusion model ComfyUI recognises; pick "
                                   f"{fft_file.name} ({fft_file.url}).") from None
            raise AcePlusError(f"ComfyUI could not load '{unet_name}' as a diffusion model ({e}).") from e
        wrong_file = family_problem(model, ModelFamily.FFT, cls)
        if wrong_file:
            # Another model's file in the FFT loader: the fix is the FFT file here; whoever meant to use
            # FLUX.1-Fill-dev is told its own path too.
            fix = f"{set_to(unet_name=fft_file.name)} (download it from {fft_file.url})"
            if model_family(model) is ModelFamily.FILL:
                fix += (f"; or, to use FLUX.1-Fill-dev, load it with Load Diffusion Model and "
                        f"{swap_hint(ModelFamily.FILL)}")
            raise AcePlusError(f"{wrong_file}; {fix}.")
        guard_conditioning(model, ModelFamily.FFT)
        report = f"{unet_name}: ACE++ FFT model, 448 inputs, stored as {stored.describe()}"
        report += f", loaded as {weight_dtype}." if weight_dtype != "default" else "."
        if stored.fp8 or weight_dtype.startswith("fp8"):
            report += " " + FP8_FFT_WARNING
        return io.NodeOutput(model, report, ui=ui.PreviewText(report))
