"""From the decoded canvas back to the user's pixels, driven only by the layout record.

extract_target cuts the exact target panel and resizes it to the size of the region it shows (the
official ComfyUI port skips the resize and returns results shrunk, ali-vilab/ACE_plus#90). stitch then
composites that region into the original edit image through the blend mask, so every pixel outside the
(grown, feathered) blend mask is bit-identical to the input.
"""
from __future__ import annotations

import torch

from .blend import blend_mask, grow_mask, match_color
from .images import as_image_batch, resize_image
from .layout import AcePlusError, CanvasLayout
from .masks import binarize


def check_decoded(decoded: torch.Tensor, layout: CanvasLayout) -> torch.Tensor:
    decoded = as_image_batch(decoded, "decoded canvas")
    if tuple(decoded.shape[1:3]) != (layout.canvas_height, layout.canvas_width):
        raise AcePlusError(
            f"the decoded image is {decoded.shape[2]}x{decoded.shape[1]} but the layout describes a "
            f"{layout.canvas_width}x{layout.canvas_height} canvas; connect the VAE Decode output of the sampling "
            "that used this canvas, with the layout from the same canvas builder."
        )
    return decoded


def extract_target(decoded: torch.Tensor, layout: CanvasLayout) -> torch.Tensor:
    """The target panel at the size of the region it shows ([B, region.h, region.w, 3])."""
    decoded = check_decoded(decoded, layout)
    region = layout.target_region
    return resize_image(layout.target_panel.slice(decoded), region.h, region.w)


def repeat_to(t: torch.Tensor, batch: int, what: str) -> torch.Tensor:
    if t.shape[0] == batch:
        return t
    if batch % t.shape[0] == 0:
        return t.repeat_interleave(batch // t.shape[0], dim=0)
    raise AcePlusError(f"{batch} decoded images cannot be matched to {t.shape[0]} {what}s; sample one latent "
                       f"per {what} (or a multiple of that many).")


def stitch(
    decoded: torch.Tensor,
    layout: CanvasLayout,
    grow: int = 0,
    feather: int = 0,
    color_match: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(result, blend mask): the target at the user's full size, composited into the edit image if any.

    For reference generation the result is the target panel at the requested size and the blend mask is
    all ones. For edits, pixels where the blend mask is 0 are copied from the original, bit for bit.
    """
    generated = extract_target(decoded, layout)
    batch = generated.shape[0]
    if layout.source is None:
        return generated, generated.new_ones(generated.shape[:3])
    region = layout.target_region
    original = repeat_to(layout.source.image, batch, "edit image").to(generated.dtype)
    soft = repeat_to(layout.source.blend_mask, batch, "edit image").to(generated.dtype)
    # The blend may grow and feather outward, but never beyond the region the model saw.
    blend = torch.zeros_like(soft)
    region_blend = blend_mask(region.slice(soft), grow=grow, feather=feather)
    blend[:, region.y:region.bottom, region.x:region.right] = region_blend
    original_region = region.slice(original)
    if color_match:
        # The model regenerated the unmasked context too; its colour drift there is what gets corrected.
        context = 1.0 - binarize(grow_mask(region_blend, 2))
        generated = match_color(generated, original_region, context)
    weight = region_blend.unsqueeze(-1)
    mixed = torch.where(weight > 0, original_region * (1.0 - weight) + generated * weight, original_region)
    result = original.clone()
    result[:, region.y:region.bottom, region.x:region.right] = mixed
    return result, blend
