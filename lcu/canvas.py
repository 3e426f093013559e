"""LCU++ canvas: references left to right at the target height, then the target panel, one token budget.

The target panel is the edit image (or a crop of it around the mask, "crop-to-context"), or a mid-grey
panel of the requested size for pure reference generation. The canvas mask is 0 over every reference
and the binarised user mask over the target. Several regions of one photo (lcu.regions) give a batch of
canvases, one per region, all of one size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .errors import AcePlusError
from .fixes import on_grid, set_to
from .images import DEFAULT_RESAMPLING, as_image_batch, broadcast_batch, image_problem, resize_image, to_rgb
from .layout import CanvasLayout, EditSource, Rect
from .masks import model_mask, normalize_mask
from .references import WHITE, isolate_reference, require_reference
from .regions import (CONTEXT_MARGIN_STEP, DEFAULT_MAX_REGIONS, DEFAULT_MERGE_DISTANCE, DEFAULT_MIN_REGION_AREA,
                      DEFAULT_REGION_MODE, REGION_MODES, batch_regions, common_crops, component_regions, mask_box,
                      region_around, widen_to)
from .sizing import (DEFAULT_KEEP_PIXELS_RATE, DEFAULT_PANEL_HEIGHT, DEFAULT_PANEL_SIZING, DEFAULT_PANEL_WIDTH,
                     DEFAULT_REFERENCE_SHARE, DEFAULT_TOKEN_BUDGET, MAX_ASPECT, TOKEN_PX, PanelPlan, TallerTarget,
                     beyond_aspect, centre_crop_aspect, panel_aspect, plan_canvas)

GREY = 0.5
# in_place: the target panel shows the edit image (or its crop) and the model repaints the masked part of it.
# blank_twin: the edit image's crop is a reference panel and the target panel next to it is blank and wholly
# generated (ICEdit's diptych); the stitch still blends the result back through the user's mask (the whole image
# without one).
EDIT_STYLES = ("in_place", "blank_twin")
DEFAULT_EDIT_STYLE = "in_place"


@dataclass(frozen=True)
class Canvas:
    image: torch.Tensor  # [B, H, W, 3]
    mask: torch.Tensor  # [B, H, W], binary, 1 = generate
    layout: CanvasLayout


def _batched(image: torch.Tensor) -> torch.Tensor:
    return image.unsqueeze(0) if image.dim() == 3 else image


def check_edit_size(edit_hw: tuple[int, int]) -> None:
    """Both sides of the edit image at least one token. Checked before the mask is read or split: no crop, region
    or widget can make a target of a smaller image, so this is the first message such an image gets."""
    height, width = edit_hw
    if height < TOKEN_PX or width < TOKEN_PX:
        raise AcePlusError(f"the edit image is {width}x{height}; both sides must be at least {TOKEN_PX} px: give a "
                           "larger edit image.")


def taller_generation(width: int) -> TallerTarget:
    """A reference generation's target gets taller through the height widget (and width, to stay within 4:1)."""
    def phrase(needed: int) -> str:
        if needed <= MAX_ASPECT * width:
            return f"or {set_to(height=needed)}"
        return f"or {set_to(height=needed, width=math.ceil(needed / MAX_ASPECT))}"
    return phrase


def taller_edit(edit_hw: tuple[int, int], boxes: Optional[Sequence[Rect]], context_margin: Optional[int],
                several: bool) -> TallerTarget:
    """An edit's target gets taller through a larger context_margin when it is a crop around `boxes` (the mask's
    box, or each region's), or by turning the crop off; otherwise only a taller edit image helps. The margin
    named is the smallest on the widget's grid whose crop (the largest, with several regions: the one the plan
    is sized by) is tall enough."""
    height, width = edit_hw

    def crop_height(margin: int) -> int:
        if several:
            return max(common_crops(tuple(boxes), margin, height, width), key=lambda r: r.w * r.h).h
        return region_around(boxes[0], margin, height, width).h

    def phrase(needed: int) -> str:
        if context_margin is None or not boxes or height < needed:
            return f"or a taller edit image (at least {needed} px)"
        margin = context_margin  # a margin of the image's height crops its full height: the loop ends by then
        while crop_height(margin) < needed:
            margin = on_grid(margin + 1, 0, CONTEXT_MARGIN_STEP)
        fix = f"or {set_to(context_margin=margin)}"
        if not several and not beyond_aspect(height, width):
            fix += f" (or {set_to(crop_to_context=False)} to use the whole image)"
        return fix
    return phrase


def needs_mask_box(edit_hw: tuple[int, int], context_margin: Optional[int]) -> bool:
    """Whether the single target region depends on where the mask is: the mask is read for its box only then."""
    return context_margin is not None or beyond_aspect(*edit_hw)


def target_region(edit_hw: tuple[int, int], box: Optional[Rect], context_margin: Optional[int],
                  aspect: Optional[float] = None) -> Rect:
    """The part of a height x width edit image the target panel shows: all of it (context_margin None) or the
    region around the mask's bounding box `box` (needed only with a margin or an image beyond 4:1), widened
    towards `aspect` (square or equal panels) as far as the image allows. Raises the error that names the change
    when the region is beyond 4:1.

    The one rule for the single-region canvas: build_canvas and the layout preview route both use it."""
    height, width = edit_hw
    if context_margin is None:
        region = Rect(0, 0, width, height)
    else:
        region = region_around(box, context_margin, height, width)
        if aspect is not None:
            region = widen_to(region, aspect, height, width)
    if beyond_aspect(region.h, region.w):
        raise aspect_error(edit_hw, box, context_margin)
    return region


def aspect_error(edit_hw: tuple[int, int], box: Rect, context_margin: Optional[int]) -> AcePlusError:
    """The edit image (or its crop) is beyond 4:1: name the change that actually brings it within."""
    height, width = edit_hw
    tight = region_around(box, 0, height, width)
    limit = f"{MAX_ASPECT:g}:1"
    if context_margin is None:
        if not beyond_aspect(tight.h, tight.w):
            return AcePlusError(f"the edit image is {width}x{height}, beyond the {limit} aspect ACE++ supports; "
                                f"{set_to(crop_to_context=True, context_margin=0)} (the area around the mask fits), "
                                f"or crop the edit image to at most {limit}.")
    elif not beyond_aspect(tight.h, tight.w):
        return AcePlusError(f"crop_to_context is on, but with a context_margin of {context_margin} px the area around "
                            f"the mask is beyond the {limit} aspect ACE++ supports inside this {width}x{height} edit "
                            f"image; {set_to(context_margin=0)}, or crop the edit image.")
    return AcePlusError(f"the edit image is {width}x{height} and the area around its mask is beyond the {limit} aspect "
                        f"ACE++ supports, even cropped; crop or pad the edit image to at most {limit}.")


def check_generation(mask_given: bool, reference_count: int, target_size: tuple[int, int], regions: str) -> None:
    """The checks of a reference generation (no edit image) before planning: build_canvas and the layout preview
    both run them, so the preview says what the node would."""
    if mask_given:
        raise AcePlusError("a mask was given without an edit image; connect the image the mask belongs to.")
    if regions != DEFAULT_REGION_MODE:
        raise AcePlusError(f"regions is {regions}, which needs an edit image and its mask; connect edit_image "
                           "and mask, or set regions to one.")
    target_w, target_h = int(target_size[0]), int(target_size[1])
    if target_w <= 0 or target_h <= 0:
        raise AcePlusError(f"the target size must be positive; got {target_w}x{target_h}.")
    if not reference_count:
        raise AcePlusError("reference generation needs at least one reference image.")
    if beyond_aspect(target_h, target_w):
        within = (set_to(height=math.ceil(target_w / MAX_ASPECT)) if target_w > target_h
                  else set_to(width=math.ceil(target_h / MAX_ASPECT)))
        raise AcePlusError(f"width x height is {target_w}x{target_h}, beyond the {MAX_ASPECT:g}:1 aspect ACE++ "
                           f"supports; {within} (or change both to at most {MAX_ASPECT:g}:1).")


def check_edit_style(edit_style: str, editing: bool, regions: str) -> bool:
    """Whether this is a blank-twin edit; the error naming the fix where the style cannot apply. build_canvas and
    the layout preview both run it."""
    if edit_style not in EDIT_STYLES:
        raise AcePlusError(f"unknown edit_style '{edit_style}'; use one of {', '.join(EDIT_STYLES)}.")
    if edit_style == DEFAULT_EDIT_STYLE:
        return False
    if not editing:
        raise AcePlusError(f"edit_style {edit_style} edits an image, but no edit image is connected; connect "
                           f"edit_image, or {set_to(edit_style=DEFAULT_EDIT_STYLE)}.")
    if regions != DEFAULT_REGION_MODE:
        in_place = set_to(edit_style=DEFAULT_EDIT_STYLE)
        raise AcePlusError(f"edit_style {edit_style} makes one twin of one image, but regions is {regions} (several "
                           f"regions); {set_to(regions=DEFAULT_REGION_MODE)}, or {in_place} to edit each region in "
                           "place.")
    return True


def place_reference(reference: torch.Tensor, plan: PanelPlan, canvas_height: int,
                    resampling: str = DEFAULT_RESAMPLING, fill: float = GREY) -> torch.Tensor:
    """The reference panel: the content resized with the reference's own aspect, padded around it with `fill`
    (grey; white around an object isolated on white)."""
    content = resize_image(reference, plan.content_height, plan.content_width, resampling)
    if (plan.content_height, plan.content_width) == (canvas_height, plan.panel_width):
        return content
    panel = content.new_full((content.shape[0], canvas_height, plan.panel_width, 3), fill)
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
    regions: str = DEFAULT_REGION_MODE,
    merge_distance: int = DEFAULT_MERGE_DISTANCE,
    min_region_area: int = DEFAULT_MIN_REGION_AREA,
    max_regions: int = DEFAULT_MAX_REGIONS,
    panel_sizing: str = DEFAULT_PANEL_SIZING,
    panel_size: tuple[int, int] = (DEFAULT_PANEL_WIDTH, DEFAULT_PANEL_HEIGHT),
    edit_style: str = DEFAULT_EDIT_STYLE,
    reference_mask: Optional[torch.Tensor] = None,
) -> Canvas:
    """Build the LCU++ canvas (a batch of them for several regions).

    references: IMAGE batches placed left to right (each centre-cropped to 4:1 at most).
    edit_image/mask: the image to edit and where (see masks.normalize_mask); without an edit image the
      target is a grey panel of target_size = (width, height), fully masked (reference generation).
    context_margin: None uses the whole edit image; a number crops it to the mask's bounding box grown by
      that many pixels, so the token cost follows the masked region instead of the photo.
    reference_share: the most of the canvas width the references together may take (1 = no limit); wider
      references are shrunk, aspect kept, and padded grey.
    resampling: "antialiased" (the pack's default) or "nearest-exact" (ACE++'s training-time resize).
    regions: "one" (one target region, as above), "connected_components" (each component of the mask, joined
      when closer than merge_distance, specks under min_region_area dropped) or "mask_batch" (each mask item
      one region of the same photo). Several regions always crop each to its context (context_margin, 0 when
      None), widen the crops to one common aspect and give one canvas per region, at most max_regions; a
      reference batch of 1 serves every region, a batch of N gives item i to region i.
    panel_sizing/panel_size: how big the panels are (lcu.sizing.PANEL_SIZINGS); square and equal panels widen
      the crop (crop_to_context, each region's) to the panels' aspect where the photo allows.
    edit_style: "in_place" or "blank_twin" (EDIT_STYLES): the edit image's crop as the last reference panel and a
      blank, wholly generated target panel beside it (one region only).
    reference_mask: the object in the first reference (lcu.references.isolate_reference: on white, cropped to
      its box with a margin); None or empty keeps the reference as it is.
    """
    if regions not in REGION_MODES:
        raise AcePlusError(f"unknown regions '{regions}'; use one of {', '.join(REGION_MODES)}.")
    twin = check_edit_style(edit_style, edit_image is not None, regions)
    aspect = panel_aspect(panel_sizing, panel_size)
    references = list(references)
    if reference_mask is not None:
        require_reference(len(references))
        references[0] = isolate_reference(as_image_batch(references[0], "reference 1"), reference_mask)
    refs = [centre_crop_aspect(as_image_batch(r, f"reference {i + 1}")) for i, r in enumerate(references)]
    per = "image"
    if edit_image is not None:
        # Shape and channels only: the pixels are checked on the part the canvas reads (crop first).
        problem = image_problem(edit_image, "edit image", pixels=False)
        if problem:
            raise AcePlusError(problem)
        edit = to_rgb(_batched(edit_image).float())
        edit_hw = tuple(edit.shape[1:3])
        check_edit_size(edit_hw)
        if regions == DEFAULT_REGION_MODE:  # one target region
            batch = edit.shape[0]
            soft = normalize_mask(mask, edit)
            box = mask_box(soft) if needs_mask_box(edit_hw, context_margin) else None
            crops = (target_region(edit_hw, box, context_margin, aspect),)
            region_masks = (crops[0].slice(soft),)
            taller = taller_edit(edit_hw, None if box is None else (box,), context_margin, several=False)
        else:
            margin = context_margin or 0
            crops, region_masks, boxes = _split(edit, mask, regions, margin, merge_distance, min_region_area,
                                                max_regions, aspect)
            batch, per = len(crops), "region"
            taller = taller_edit(edit_hw, boxes, margin, several=True)
        for crop in crops:
            as_image_batch(crop.slice(edit), "edit image")  # NaN / infinity where the model will look
        target_w, target_h = edit.shape[2], edit.shape[1]
        dtype = edit.dtype
        source = EditSource(image=edit, region_masks=region_masks)
    else:
        if target_size is None:
            raise AcePlusError("give an edit image, or a target width and height for reference generation.")
        check_generation(mask is not None, len(refs), target_size, regions)
        target_w, target_h = int(target_size[0]), int(target_size[1])
        taller = taller_generation(target_w)
        batch = max(r.shape[0] for r in refs)
        crops = (Rect(0, 0, target_w, target_h),)
        dtype = refs[0].dtype
        source = None
    refs = [broadcast_batch(r, batch, f"reference {i + 1}", per) for i, r in enumerate(refs)]

    # One plan for every canvas of the batch, sized by the largest region (the others are resized to its panel).
    largest = max(crops, key=lambda r: r.w * r.h)
    plan = plan_canvas((largest.h, largest.w), [tuple(r.shape[1:3]) for r in refs], token_budget,
                       reference_sizing, keep_pixels_rate, reference_share, taller, panel_sizing, panel_size, twin)
    height = plan.canvas_height
    rects, contents, target_panel = plan.placed()
    fills = [WHITE if i == 0 and reference_mask is not None else GREY for i in range(len(refs))]
    panels = [place_reference(ref, panel, height, resampling, fill)
              for ref, panel, fill in zip(refs, plan.references, fills)]
    masks = [torch.zeros(batch, height, panel.panel_width, dtype=dtype) for panel in plan.references]
    if twin:
        # The source beside a blank target: the model sees it whole and draws its edited twin.
        panels.append(resize_image(crops[0].slice(source.image), height, plan.target_width, resampling))
        panels.append(torch.full((batch, height, plan.target_width, 3), GREY, dtype=dtype))
        masks.append(torch.ones(batch, height, plan.target_width, dtype=dtype))
    elif source is None:
        # Built at panel size: exactly grey and exactly masked, with no resampling.
        panels.append(torch.full((batch, height, plan.target_width, 3), GREY, dtype=dtype))
        masks.append(torch.ones(batch, height, plan.target_width, dtype=dtype))
    else:
        panels.append(torch.cat([resize_image(crop.slice(source.image), height, plan.target_width, resampling)
                                 for crop in crops]))
        masks.append(torch.cat([model_mask(m, height, plan.target_width) for m in source.region_masks]))
    layout = CanvasLayout(
        canvas_width=plan.canvas_width, canvas_height=height, reference_panels=rects,
        target_panel=target_panel, target_width=target_w, target_height=target_h,
        target_regions=crops, scale=plan.scale, token_budget=token_budget, reference_sizing=reference_sizing,
        reference_content=contents, reference_share=reference_share, resampling=resampling,
        panel_sizing=panel_sizing, edit_style=edit_style, source=source,
    )
    return Canvas(image=torch.cat(panels, dim=2).contiguous(), mask=torch.cat(masks, dim=2).contiguous(),
                  layout=layout)


def _split(edit: torch.Tensor, mask: Optional[torch.Tensor], mode: str, margin: int, merge_distance: int,
           min_area: int, max_regions: int,
           aspect: Optional[float]) -> tuple[tuple[Rect, ...], tuple[torch.Tensor, ...], tuple[Rect, ...]]:
    """(crops, region masks, the regions' mask boxes) of several regions of one photo: each region's context,
    widened to one aspect."""
    if edit.shape[0] != 1:
        raise AcePlusError(f"regions {mode} edits several areas of one photo, but the edit image has a batch of "
                           f"{edit.shape[0]}; give one image, or set regions to one.")
    if mode == "mask_batch":
        items = 1 if mask is None or mask.dim() < 3 else mask.shape[0]
        soft = normalize_mask(mask, edit.expand(items, *edit.shape[1:]), empty_means_whole=items == 1)
        split = batch_regions(soft, max_regions)
    else:
        if isinstance(mask, torch.Tensor) and mask.dim() == 3 and mask.shape[0] > 1:
            raise AcePlusError(f"regions connected_components splits one mask into regions, but the mask has a batch "
                               f"of {mask.shape[0]}; give one mask, or set regions to mask_batch (each mask of the "
                               "batch one region).")
        split = component_regions(normalize_mask(mask, edit), merge_distance, min_area, max_regions)
    crops = common_crops(split.boxes, margin, edit.shape[1], edit.shape[2], aspect)
    return crops, tuple(split.mask_in(i, crop) for i, crop in enumerate(crops)), split.boxes
