"""The layout preview: what the ACE++ Canvas node will build, worked out from sizes and widget values alone.

The frontend's live preview (web/js/gather.js builds the request, plan.js sends it) sends the sizes it knows
(references, edit image, the mask's bounding box) and the node's widget values to the route POST /acepp/plan
(nodes/routes.py), which checks them and calls :func:`plan_layout`. No pixel is read here: the geometry comes from the very functions build_canvas
uses (centre_crop_hw, target_region, plan_canvas), in the same order, and the errors are the ones the node
raises, so the preview and the run cannot disagree. tests/lcu/test_preview.py compares the two on random sizes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

from .canvas import (DEFAULT_EDIT_STYLE, check_edit_size, check_edit_style, check_generation, needs_mask_box,
                     taller_edit, taller_generation, target_region)
from .fixes import set_to
from .images import DEFAULT_RESAMPLING, check_aspect
from .layout import Rect
from .masks import is_placeholder_size
from .regions import DEFAULT_REGION_MODE
from .references import isolated_extent, require_reference
from .sizing import (DEFAULT_KEEP_PIXELS_RATE, DEFAULT_PANEL_HEIGHT, DEFAULT_PANEL_SIZING, DEFAULT_PANEL_WIDTH,
                     DEFAULT_REFERENCE_SHARE, DEFAULT_TOKEN_BUDGET, MAX_ASPECT, MAX_TOKEN_BUDGET, TOKEN_PX,
                     centre_crop_hw, panel_aspect, plan_canvas)


# Below these the preview warns: the target gets less than half the canvas, or comes back upscaled over 2x.
LOW_TARGET_SHARE = 0.5
LOW_PX_PER_PX = 0.5


@dataclass(frozen=True)
class MaskSketch:
    """What the preview knows of the mask: its size and the bounding box of its pixels at or above 0.5
    (`box` None: no pixel is, which the node reads as "the whole image", like LoadImage's placeholder)."""

    height: int
    width: int
    box: Optional[Rect]


UNKNOWN = "unknown"  # a mask is connected, but where it is becomes known only when the graph runs
MaskInput = Union[None, MaskSketch, str]


def _rect(r: Rect) -> dict:
    return {"x": r.x, "y": r.y, "w": r.w, "h": r.h}


def _edit_region(edit_hw: tuple[int, int], mask: MaskInput, context_margin: Optional[int],
                 aspect: Optional[float] = None):
    """(region, box, None) for an edit image as build_canvas finds them (`box`: the mask's bounding box on the edit
    image, None when not known), or (None, None, why) when the region needs a box known only at run."""
    height, width = edit_hw
    whole = Rect(0, 0, width, height)
    if mask is None:
        box = whole  # no mask: the whole image
    elif mask == UNKNOWN:
        box = None
    elif mask.box is None:
        # Nothing at or above 0.5: the whole image, as the node reads it; its aspect counts unless it is
        # LoadImage's placeholder (the node refuses an empty mask of another aspect too).
        if not is_placeholder_size((mask.height, mask.width), edit_hw):
            check_aspect((mask.height, mask.width), edit_hw, "mask")
        box = whole
    else:
        check_aspect((mask.height, mask.width), edit_hw, "mask")
        box = mask.box if (mask.height, mask.width) == edit_hw else None  # resized at run: known then
    needs_box = needs_mask_box(edit_hw, context_margin)
    if needs_box and box is None:
        why = "crop_to_context is on" if context_margin is not None else f"the edit image is beyond {MAX_ASPECT:g}:1"
        return None, None, f"{why}, so the layout depends on where the mask is, which is known when the graph runs."
    return target_region(edit_hw, box if needs_box else None, context_margin, aspect), box, None


def warnings_for(target_share: float, px_per_px: float, generation: bool, crop_to_context: bool,
                 token_budget: int, reference_share: float) -> list[str]:
    """What the numbers mean for quality, with the change that helps."""
    out = []
    if target_share < LOW_TARGET_SHARE:
        fix = ("set reference_share to 0.5 to give it at least half" if reference_share > LOW_TARGET_SHARE
               else "use fewer or narrower references")
        out.append(f"the target gets only {target_share:.0%} of the canvas tokens (the references take the rest); "
                   f"{fix}.")
    if px_per_px < LOW_PX_PER_PX:
        upscale = 1.0 / px_per_px
        fixes = []
        if token_budget < MAX_TOKEN_BUDGET:
            fixes.append("raise token_budget")
        if generation:
            fixes.append("lower width and height")
            what = f"the new image is generated at {px_per_px:.2f} px per output px (upscaled {upscale:.1f}x)"
        else:
            if not crop_to_context:
                fixes.append(set_to(crop_to_context=True))
            what = (f"the target is regenerated at {px_per_px:.2f} px per original px (its detail comes back "
                    f"upscaled {upscale:.1f}x)")
        out.append(what + ("; " + " or ".join(fixes) if fixes else "") + ".")
    return out


def plan_layout(
    reference_hws: Sequence[tuple[int, int]] = (),
    edit_hw: Optional[tuple[int, int]] = None,
    mask: MaskInput = None,
    target_size: tuple[int, int] = (1024, 1024),
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    reference_sizing: str = "resize",
    keep_pixels_rate: float = DEFAULT_KEEP_PIXELS_RATE,
    context_margin: Optional[int] = None,
    reference_share: float = DEFAULT_REFERENCE_SHARE,
    resampling: str = DEFAULT_RESAMPLING,
    regions: str = DEFAULT_REGION_MODE,
    panel_sizing: str = DEFAULT_PANEL_SIZING,
    panel_size: tuple[int, int] = (DEFAULT_PANEL_WIDTH, DEFAULT_PANEL_HEIGHT),
    edit_style: str = DEFAULT_EDIT_STYLE,
    reference_mask: MaskInput = None,
) -> dict:
    """The canvas build_canvas would make for these sizes, as a JSON-ready dict; raises the AcePlusError the
    node would raise. Arguments as build_canvas's, with sizes in place of tensors: reference_hws and edit_hw
    as (height, width), target_size as (width, height), `mask` and `reference_mask` None (not connected), a
    MaskSketch, or UNKNOWN.

    "status" is "ok" (the plan), "unknown" (the layout depends on a mask known only at run; "message" says
    why) or "at_run" (several regions: their number and layout come from the mask's pixels)."""
    twin = check_edit_style(edit_style, edit_hw is not None, regions)
    aspect = panel_aspect(panel_sizing, panel_size)
    reference_hws = [tuple(hw) for hw in reference_hws]
    if reference_mask is not None:
        require_reference(len(reference_hws))
        if reference_mask == UNKNOWN:
            return {"status": "unknown", "message": "reference 1 is cropped to its reference_mask, whose pixels are "
                                                    "known when the graph runs."}
        reference_hws[0] = isolated_extent(reference_hws[0], (reference_mask.height, reference_mask.width),
                                           reference_mask.box)
    cropped = [centre_crop_hw(h, w) for h, w in reference_hws]
    if edit_hw is not None:
        check_edit_size(tuple(edit_hw))
        if regions != DEFAULT_REGION_MODE:
            return {"status": "at_run",
                    "message": f"regions is {regions}: every region of the mask gets a canvas of its own; how many "
                               "regions, and their layout, are known when the node runs."}
        region, box, why = _edit_region(tuple(edit_hw), mask, context_margin, aspect)
        if region is None:
            return {"status": "unknown", "message": why}
        target_w, target_h = edit_hw[1], edit_hw[0]
        taller = taller_edit(tuple(edit_hw), None if box is None else (box,), context_margin, several=False)
    else:
        check_generation(mask is not None, len(cropped), target_size, regions)
        target_w, target_h = int(target_size[0]), int(target_size[1])
        region, box = Rect(0, 0, target_w, target_h), None
        taller = taller_generation(target_w)
    plan = plan_canvas((region.h, region.w), cropped, token_budget, reference_sizing, keep_pixels_rate,
                       reference_share, taller, panel_sizing, panel_size, twin)

    height = plan.canvas_height
    panels, contents, target_panel = plan.placed()
    references = [{"panel": _rect(panel), "content": _rect(content), "width": w, "height": h,
                   "cropped_to": None if (ch, cw) == (h, w) else {"width": cw, "height": ch}}
                  for (h, w), (ch, cw), panel, content in zip(reference_hws, cropped, panels, contents)]
    if twin:  # the edit image's crop beside the blank target: drawn as the last reference panel
        references.append({"panel": _rect(panels[-1]), "content": _rect(contents[-1]), "width": region.w,
                           "height": region.h, "cropped_to": None, "twin": True})
    canvas_w = plan.canvas_width
    tokens = (canvas_w // TOKEN_PX) * (height // TOKEN_PX)
    target_tokens = (target_panel.w // TOKEN_PX) * (height // TOKEN_PX)
    px_per_px = min(target_panel.w / region.w, target_panel.h / region.h)
    mask_on_canvas = None
    if box is not None:
        inside = box.intersection(region)
        if inside is not None:  # the mask's box drawn over the target panel (display only)
            inside = inside.relative_to(region)
            sx, sy = target_panel.w / region.w, target_panel.h / region.h
            left, top = target_panel.x + inside.x * sx, inside.y * sy
            mask_on_canvas = {"x": round(left, 1), "y": round(top, 1), "w": round(inside.w * sx, 1),
                              "h": round(inside.h * sy, 1)}
    share = target_tokens / tokens
    return {
        "status": "ok",
        "canvas": {"width": canvas_w, "height": height},
        "tokens": tokens,
        "token_budget": token_budget,
        "scale": plan.scale,
        "references": references,
        "target": {
            "panel": _rect(target_panel), "width": target_w, "height": target_h, "region": _rect(region),
            "new_image": edit_hw is None,  # reference generation: a grey panel of width x height
            "cropped": (region.w, region.h) != (target_w, target_h),  # crop_to_context took part of the photo
            "mask_box": None if box is None or edit_hw is None else _rect(box), "mask_on_canvas": mask_on_canvas,
        },
        "target_tokens": target_tokens,
        "target_share": share,
        "px_per_px": px_per_px,
        "reference_sizing": reference_sizing,
        "resampling": resampling,
        "panel_sizing": panel_sizing,
        "edit_style": edit_style,
        "warnings": warnings_for(share, px_per_px, edit_hw is None, context_margin is not None, token_budget,
                                 reference_share),
    }
