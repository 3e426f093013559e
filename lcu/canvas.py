"""LCU++ canvas: references left to right at the target height, then the target panel, one token budget.

The target panel is the edit image (or a crop of it around the mask, "crop-to-context"), or a mid-grey
panel of the requested size for pure reference generation. The canvas mask is 0 over every reference
and the binarised user mask over the target.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .images import DEFAULT_RESAMPLING, as_image_batch, broadcast_batch, resize_image, to_rgb
from .layout import AcePlusError, CanvasLayout, EditSource, Rect
from .masks import binarize, model_mask, normalize_mask
from .sizing import (DEFAULT_KEEP_PIXELS_RATE, DEFAULT_REFERENCE_SHARE, DEFAULT_TOKEN_BUDGET, MAX_ASPECT, TOKEN_PX,
                     PanelPlan, beyond_aspect, centre_crop_aspect, plan_canvas)

GREY = 0.5


@dataclass(frozen=True)
class Canvas:
    image: torch.Tensor  # [B, H, W, 3]
    mask: torch.Tensor  # [B, H, W], binary, 1 = generate
    layout: CanvasLayout


def _shaped(image) -> bool:
    """An IMAGE tensor ([B, H, W, C] or [H, W, C]) with pixels: its shape is checked without reading them all."""
    return isinstance(image, torch.Tensor) and image.dim() in (3, 4) and image.numel() > 0


def _batched(image: torch.Tensor) -> torch.Tensor:
    return image.unsqueeze(0) if image.dim() == 3 else image


def context_region(mask: torch.Tensor, margin: int) -> Rect:
    """Bounding box of the binarised mask (over the whole batch) grown by `margin`, clamped to the image,
    at least one token a side and within ACE++'s aspect limit where the image allows."""
    height, width = mask.shape[1], mask.shape[2]
    if margin < 0:
        raise AcePlusError(f"context_margin must be 0 or more pixels; got {margin}.")
    hit = (mask >= 0.5).any(dim=0)  # binarize(mask) over the batch, in one read of the mask
    rows = torch.nonzero(hit.any(dim=1)).flatten()
    cols = torch.nonzero(hit.any(dim=0)).flatten()
    y0, y1 = int(rows[0]) - margin, int(rows[-1]) + 1 + margin
    x0, x1 = int(cols[0]) - margin, int(cols[-1]) + 1 + margin

    def span(lo: int, hi: int, minimum: int, limit: int) -> tuple[int, int]:
        # Grow [lo, hi) symmetrically to `minimum`, then shift it inside [0, limit).
        lo, hi = max(0, lo), min(limit, hi)
        short = max(0, minimum - (hi - lo))
        lo, hi = lo - short // 2, hi + short - short // 2
        if lo < 0:
            lo, hi = 0, hi - lo
        if hi > limit:
            lo, hi = max(0, lo - (hi - limit)), limit
        return lo, hi

    y0, y1 = span(y0, y1, TOKEN_PX, height)
    x0, x1 = span(x0, x1, TOKEN_PX, width)
    h, w = y1 - y0, x1 - x0
    if w > MAX_ASPECT * h:
        y0, y1 = span(y0, y1, int(w / MAX_ASPECT) + 1, height)
    elif h > MAX_ASPECT * w:
        x0, x1 = span(x0, x1, int(h / MAX_ASPECT) + 1, width)
    return Rect(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def aspect_error(soft: torch.Tensor, context_margin: Optional[int]) -> AcePlusError:
    """The edit image (or its crop) is beyond 4:1: name the change that actually brings it within."""
    height, width = soft.shape[1], soft.shape[2]
    tight = context_region(soft, 0)
    limit = f"{MAX_ASPECT:g}:1"
    if context_margin is None:
        if not beyond_aspect(tight.h, tight.w):
            return AcePlusError(f"the edit image is {width}x{height}, beyond the {limit} aspect ACE++ supports; turn "
                                f"on crop_to_context with context_margin 0 (the area around the mask fits), or crop "
                                f"the edit image to at most {limit}.")
    elif not beyond_aspect(tight.h, tight.w):
        return AcePlusError(f"crop_to_context is on, but with a context_margin of {context_margin} px the area around "
                            f"the mask is beyond the {limit} aspect ACE++ supports inside this {width}x{height} edit "
                            "image; set context_margin to 0, or crop the edit image.")
    return AcePlusError(f"the edit image is {width}x{height} and the area around its mask is beyond the {limit} aspect "
                        f"ACE++ supports, even cropped; crop or pad the edit image to at most {limit}.")


def place_reference(reference: torch.Tensor, plan: PanelPlan, canvas_height: int,
                    resampling: str = DEFAULT_RESAMPLING) -> torch.Tensor:
    """The reference panel: the content resized with the reference's own aspect, padded grey around it."""
    content = resize_image(reference, plan.content_height, plan.content_width, resampling)
    if (plan.content_height, plan.content_width) == (canvas_height, plan.panel_width):
        return content
    panel = content.new_full((content.shape[0], canvas_height, plan.panel_width, 3), GREY)
    panel[:, plan.content_y:plan.content_y + plan.content_height,
          plan.content_x:plan.content_x + plan.content_width] = content
    return panel


def build_canvas(
    references: Sequence[torch.Tensor] = (),
    edit_image: Optional[torch.Tensor] = None,
    mask: Optional[torch.Tensor] = None,
    target_size: Optional[tuple[int, int]] = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    reference_sizing: str = "resize",
    keep_pixels_rate: float = DEFAULT_KEEP_PIXELS_RATE,
    context_margin: Optional[int] = None,
    reference_share: float = DEFAULT_REFERENCE_SHARE,
    resampling: str = DEFAULT_RESAMPLING,
) -> Canvas:
    """Build the LCU++ canvas.

    references: IMAGE batches placed left to right (each centre-cropped to 4:1 at most).
    edit_image/mask: the image to edit and where (see masks.normalize_mask); without an edit image the
      target is a grey panel of target_size = (width, height), fully masked (reference generation).
    context_margin: None uses the whole edit image; a number crops it to the mask's bounding box grown by
      that many pixels, so the token cost follows the masked region instead of the photo.
    reference_share: the most of the canvas width the references together may take (1 = no limit); wider
      references are shrunk, aspect kept, and padded grey.
    resampling: "antialiased" (the pack's default) or "nearest-exact" (ACE++'s training-time resize).
    """
    refs = [centre_crop_aspect(as_image_batch(r, f"reference {i + 1}")) for i, r in enumerate(references)]
    if edit_image is not None:
        if _shaped(edit_image):
            # Shape and channels only: the pixels are checked on the part the canvas reads (crop first).
            as_image_batch(edit_image[..., :1, :1, :], "edit image")
            edit = to_rgb(_batched(edit_image).float())
        else:
            edit = as_image_batch(edit_image, "edit image")  # raises the error that names the problem
        batch = edit.shape[0]
        soft = normalize_mask(mask, edit)
        if context_margin is None:
            region = Rect(0, 0, edit.shape[2], edit.shape[1])
        else:
            region = context_region(soft, context_margin)
        if beyond_aspect(region.h, region.w):
            raise aspect_error(soft, context_margin)
        as_image_batch(region.slice(edit), "edit image")  # NaN / infinity where the model will look
        target_w, target_h = edit.shape[2], edit.shape[1]
        dtype = edit.dtype
        source = EditSource(image=edit, blend_mask=soft)
    else:
        if mask is not None:
            raise AcePlusError("a mask was given without an edit image; connect the image the mask belongs to.")
        if target_size is None:
            raise AcePlusError("give an edit image, or a target width and height for reference generation.")
        target_w, target_h = int(target_size[0]), int(target_size[1])
        if target_w <= 0 or target_h <= 0:
            raise AcePlusError(f"the target size must be positive; got {target_w}x{target_h}.")
        if not refs:
            raise AcePlusError("reference generation needs at least one reference image.")
        if beyond_aspect(target_h, target_w):
            raise AcePlusError(f"width x height is {target_w}x{target_h}, beyond the {MAX_ASPECT:g}:1 aspect ACE++ "
                               f"supports; set width and height to at most {MAX_ASPECT:g}:1.")
        batch = max(r.shape[0] for r in refs)
        region = Rect(0, 0, target_w, target_h)
        dtype = refs[0].dtype
        source = None
    refs = [broadcast_batch(r, batch, f"reference {i + 1}") for i, r in enumerate(refs)]

    plan = plan_canvas((region.h, region.w), [tuple(r.shape[1:3]) for r in refs], token_budget,
                       reference_sizing, keep_pixels_rate, reference_share)
    height = plan.canvas_height
    panels, masks, rects, contents, x = [], [], [], [], 0
    for ref, panel in zip(refs, plan.references):
        panels.append(place_reference(ref, panel, height, resampling))
        masks.append(torch.zeros(batch, height, panel.panel_width, dtype=dtype))
        rects.append(Rect(x, 0, panel.panel_width, height))
        contents.append(Rect(x + panel.content_x, panel.content_y, panel.content_width, panel.content_height))
        x += panel.panel_width
    if source is None:
        # Built at panel size: exactly grey and exactly masked, with no resampling.
        panels.append(torch.full((batch, height, plan.target_width, 3), GREY, dtype=dtype))
        masks.append(torch.ones(batch, height, plan.target_width, dtype=dtype))
    else:
        panels.append(resize_image(region.slice(source.image), height, plan.target_width, resampling))
        masks.append(model_mask(region.slice(source.blend_mask), height, plan.target_width))
    layout = CanvasLayout(
        canvas_width=plan.canvas_width, canvas_height=height, reference_panels=tuple(rects),
        target_panel=Rect(x, 0, plan.target_width, height), target_width=target_w, target_height=target_h,
        target_region=region, scale=plan.scale, token_budget=token_budget, reference_sizing=reference_sizing,
        reference_content=tuple(contents), reference_share=reference_share, resampling=resampling, source=source,
    )
    return Canvas(image=torch.cat(panels, dim=2).contiguous(), mask=torch.cat(masks, dim=2).contiguous(),
                  layout=layout)
