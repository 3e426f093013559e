"""The two model families ACE++ samples with, told apart by the model itself, and the two guards that catch a
conditioning sampled with a model of the other family before the first step.

FLUX.1-Fill-dev and the ACE++ FFT model differ only in img_in: ComfyUI's Flux.concat_cond sizes the
conditioning from that layer, so the stock detection (FluxInpaint for 384 inputs, plain Flux for 448) is
all that is needed.

The guards, both wired with ComfyUI's public extension points and neither a hook (a hooked conditioning costs a
Dynamic VRAM model a reload from disk on cores since 0.16):
* :class:`SamplingCheck`, carried by every ACE++ conditioning in its per-conditioning ControlNet slot: ComfyUI
  calls its `pre_run` with the model being sampled, whichever loader made it;
* :func:`guard_conditioning`, an OUTER_SAMPLE wrapper (comfy.patcher_extension) on the models the pack's loaders
  return: it checks any conditioning, ComfyUI's stock InpaintModelConditioning's too.

Messages name the pack's nodes by their schemas' display names: each node module registers, with
:func:`serves`, the nodes a family is used with (this module cannot import them: they import it).
"""
from __future__ import annotations

import enum
import functools

import torch

import comfy.controlnet
import comfy.model_base
from comfy.patcher_extension import WrappersMP

from ..lcu.errors import AcePlusError
from .validation import display_name


class ModelFamily(enum.Enum):
    """FLUX input channels per latent pixel, before the 2x2 patchify."""

    FILL = 96  # 16 noise + 16 masked image + 64 mask
    FFT = 112  # 16 noise + 16 context + 16 change + 64 mask


FAMILY_NAMES = {ModelFamily.FILL: "FLUX.1-Fill-dev (384 inputs)", ModelFamily.FFT: "the ACE++ FFT model (448 inputs)"}
LATENT_CHANNELS, MASK_CHANNELS = 16, 64
GUARD_KEY = "acepp_conditioning_guard"

# What to wire for each family; {conditioning} and {loader} are the pack's nodes for it, by display name.
SWAP_HINTS = {ModelFamily.FILL: "use {conditioning} with FLUX.1-Fill-dev (+ an ACE++ LoRA)",
              ModelFamily.FFT: "use {conditioning} with the ACE++ FFT model ({loader})"}
# family -> role ("conditioning", "loader") -> the pack's node for it, registered by the node modules.
_NODES: dict[ModelFamily, dict[str, type]] = {family: {} for family in ModelFamily}


def serves(family: ModelFamily, role: str):
    """Class decorator: the node is the pack's `role` node for `family` (named in the swap hints)."""
    def register(node: type) -> type:
        _NODES[family][role] = node
        return node
    return register


def swap_hint(family: ModelFamily) -> str:
    """What to wire for `family`, naming the pack's nodes as the node library shows them."""
    return SWAP_HINTS[family].format(**{role: display_name(node) for role, node in _NODES[family].items()})


def flux_transformer(model):
    """The diffusion model of a FLUX-family MODEL (a patcher, or the model ComfyUI samples), None for anything
    else."""
    base = model if isinstance(model, comfy.model_base.BaseModel) else getattr(model, "model", None)
    return base.diffusion_model if isinstance(base, comfy.model_base.Flux) else None


def flux_input_channels(model) -> int | None:
    """Input channels per latent pixel of a FLUX-family MODEL, None for anything else. GGUF weights
    (ComfyUI-GGUF) report their logical shape, so they are read as any other. Raises when the diffusion model is
    a wrapper without FLUX's layers (Nunchaku's SVDQuant models are)."""
    dm = flux_transformer(model)
    if dm is None:
        return None
    img_in = getattr(dm, "img_in", None)
    if not isinstance(getattr(img_in, "weight", None), torch.Tensor):
        raise AcePlusError(uninspectable(dm))
    return img_in.weight.shape[1] // (dm.patch_size * dm.patch_size)


def uninspectable(diffusion_model) -> str:
    """Why a FLUX model whose diffusion model is another pack's wrapper cannot be used, and what to load instead."""
    kind = type(diffusion_model)
    return (f"the model is a FLUX model whose diffusion model is a {kind.__name__} (from {kind.__module__}), not "
            "ComfyUI's FLUX transformer: a wrapped model such as a Nunchaku (SVDQuant) one, whose layers this pack "
            "can neither check (is it FLUX.1-Fill-dev?) nor patch (ACE++ LoRAs are applied to ComfyUI's own "
            "layers). Load FLUX.1-Fill-dev with Load Diffusion Model instead (weight_dtype fp8_e4m3fn needs about "
            "12 GB for its weights), or a FLUX.1-Fill-dev GGUF with Unet Loader (GGUF) from ComfyUI-GGUF (Q4_K_S "
            "about 7 GB), and apply the ACE++ LoRA to it with the ACE++ LoRA Loader.")


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
    source = ", from a GGUF file" if from_gguf(model) else ""
    return f"a FLUX model with {channels * 4} inputs (FLUX.1-dev/Schnell: no fill channels){source}"


def family_problem(model, family: ModelFamily, node: type) -> str | None:
    """Why `node` (a node class of the pack) cannot take `model`, None when the model is of `family`. The
    message names the node and the model; the caller names the fix."""
    found = model_family(model)
    if found == family:
        return None
    return f"{display_name(node)} needs {FAMILY_NAMES[family]} but the model is {describe_model(model)}"


def require_family(model, family: ModelFamily, node: type) -> None:
    """Raise, naming what to wire instead, when `model` is not of `family`."""
    problem = family_problem(model, family, node)
    if problem:
        found = model_family(model)
        if found is not None:
            hint = swap_hint(found)
        elif from_gguf(model):
            hint = f"load a GGUF file of {FAMILY_NAMES[family]} in Unet Loader (GGUF) instead"
        else:
            hint = f"load {FAMILY_NAMES[family]} instead"
        raise AcePlusError(f"{problem}; {hint}.")


def from_gguf(model) -> bool:
    """Whether the model's weights come from a GGUF file: ComfyUI-GGUF's tensors carry their GGML type."""
    img_in = getattr(flux_transformer(model), "img_in", None)
    return hasattr(getattr(img_in, "weight", None), "tensor_type")


def image_channels(family: ModelFamily) -> int:
    """Channels of the image latent the conditioning must bring: 16 for Fill, 32 for FFT."""
    return family.value - LATENT_CHANNELS - MASK_CHANNELS


def check_latent_fits(family: ModelFamily, channels: int) -> None:
    """Before the first step: a conditioning image latent of `channels` must fit the sampled model's `family`."""
    if channels != image_channels(family):
        made_for = next((FAMILY_NAMES[f] for f in ModelFamily if image_channels(f) == channels), "another model")
        raise AcePlusError(
            f"the sampler's model is {FAMILY_NAMES[family]} but its conditioning has a {channels}-channel "
            f"image latent, made for {made_for}; {swap_hint(family)} (stock InpaintModelConditioning "
            "only fits FLUX.1-Fill-dev).")


def _check_conds_before_sampling(family: ModelFamily, executor, *args, **kwargs):
    """The OUTER_SAMPLE wrapper: `executor.class_obj` is the CFGGuider, whose conds are set by then."""
    for conds in executor.class_obj.conds.values():
        for cond in conds or []:
            latent = cond.get("concat_latent_image")
            # Without a concat latent ComfyUI's Flux model fills in one 16-channel zero latent.
            check_latent_fits(family, latent.shape[1] if latent is not None else LATENT_CHANNELS)
    return executor(*args, **kwargs)


def guard_conditioning(model, family: ModelFamily) -> None:
    """Make `model` (a patcher this pack's loaders return) check its conditioning before sampling starts.

    The conditioning nodes of this pack check the model they are given and carry a SamplingCheck, but a user
    can wire ComfyUI's stock InpaintModelConditioning to a model of the pack. Without this the mismatch
    surfaces as a matrix-shape error inside the first sampling step. A patcher wrapper is no hook: it costs
    neither Dynamic VRAM nor a reload, and clones (the non-dynamic delegate included) keep it.
    """
    if not model.get_wrappers(WrappersMP.OUTER_SAMPLE, GUARD_KEY):
        model.add_wrapper_with_key(WrappersMP.OUTER_SAMPLE, GUARD_KEY,
                                   functools.partial(_check_conds_before_sampling, family))


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
            made_by = " or ".join(display_name(_NODES[f]["conditioning"]) for f in ModelFamily)
            raise AcePlusError(
                f"the sampler's model is {describe_model(model)} but its conditioning comes from {made_by}; "
                "connect the same model you gave the conditioning node to KSampler's model.")
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
