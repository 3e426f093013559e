"""The layout preview (lcu/preview.py) against the canvas itself: for random sizes, masks and widget values the
plan worked out from sizes alone is the layout build_canvas makes from the tensors, and an input the node
rejects is rejected by the preview with the same message. So the preview and the run can never drift."""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.canvas import EDIT_STYLES, build_canvas
from aceplusplus.lcu.errors import AcePlusError
from aceplusplus.lcu.layout import Rect
from aceplusplus.lcu.preview import UNKNOWN, MaskSketch, plan_layout
from aceplusplus.lcu.sizing import PANEL_SIZINGS, REFERENCE_SIZINGS, centre_crop_aspect, centre_crop_hw

# Mostly sizes a canvas can be built from; now and then an extreme one (errors must agree too).
SIDES = st.one_of(st.integers(48, 360), st.integers(48, 360), st.integers(48, 360), st.integers(4, 360))


def _sketch(mask: torch.Tensor) -> MaskSketch:
    """What the browser sends for a mask: its size and the box of its pixels at or above 0.5."""
    hit = (mask >= 0.5).any(dim=0)
    rows, cols = torch.nonzero(hit.any(dim=1)).flatten(), torch.nonzero(hit.any(dim=0)).flatten()
    box = None if rows.numel() == 0 else Rect(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0]) + 1,
                                               int(rows[-1] - rows[0]) + 1)
    return MaskSketch(mask.shape[1], mask.shape[2], box)


@st.composite
def cases(draw):
    edit_case = draw(st.booleans())
    refs = draw(st.lists(st.tuples(SIDES, SIDES), min_size=0 if edit_case or draw(st.integers(0, 9)) == 0 else 1,
                         max_size=3))
    if edit_case:
        eh, ew = draw(SIDES), draw(SIDES)
        kind = draw(st.sampled_from(["none", "box", "box", "box", "empty", "placeholder", "other_size"]))
        mask = None
        if kind == "box":
            x0, x1 = sorted(draw(st.lists(st.integers(0, ew), min_size=2, max_size=2, unique=True)))
            y0, y1 = sorted(draw(st.lists(st.integers(0, eh), min_size=2, max_size=2, unique=True)))
            mask = torch.zeros(1, eh, ew)
            mask[:, y0:y1, x0:x1] = draw(st.sampled_from([1.0, 0.5, 0.8]))
            if draw(st.booleans()):  # a soft fringe under 0.5 does not count
                mask[:, max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2].clamp_(min=0.3)
        elif kind == "empty":
            mask = torch.zeros(1, eh, ew)
        elif kind == "placeholder":
            mask = torch.zeros(1, 64, 64)
        elif kind == "other_size":
            mask = torch.ones(1, draw(SIDES), draw(SIDES))
        edit, target = (eh, ew), (1024, 1024)
    else:
        edit, mask = None, None
        target = (draw(st.integers(16, 700)), draw(st.integers(16, 700)))
        target = target if draw(st.integers(0, 4)) == 0 else (target[0], max(target[1], target[0] // 4 + 1))
    crop = draw(st.booleans())
    widgets = dict(
        token_budget=draw(st.sampled_from([64, 128, 256, 512, 1024, 4096])),
        reference_sizing=draw(st.sampled_from(REFERENCE_SIZINGS)),
        keep_pixels_rate=draw(st.sampled_from([0.1, 0.5, 0.8, 1.0])),
        context_margin=draw(st.integers(0, 200)) if crop else None,
        reference_share=draw(st.sampled_from([0.05, 0.3, 0.5, 0.5, 1.0, 1.0, 1.0])),
        resampling=draw(st.sampled_from(["antialiased", "nearest-exact"])),
        panel_sizing=draw(st.sampled_from(PANEL_SIZINGS + ("token_budget",) * 3)),
        panel_size=(draw(st.sampled_from([16, 64, 128, 512, 768])), draw(st.sampled_from([16, 48, 256, 768]))),
        edit_style=draw(st.sampled_from(EDIT_STYLES + ("in_place",))),
    )
    reference_mask = None
    if refs and draw(st.integers(0, 3)) == 0:  # the object of reference 1: a box, nothing, or another size
        rh, rw = refs[0]
        reference_mask = torch.zeros(1, rh, rw)
        kind = draw(st.sampled_from(["box", "box", "empty", "other_size"]))
        if kind == "box":
            y0, x0 = draw(st.integers(0, rh - 1)), draw(st.integers(0, rw - 1))
            reference_mask[:, y0:y0 + draw(st.integers(1, rh)), x0:x0 + draw(st.integers(1, rw))] = 1.0
        elif kind == "other_size":
            reference_mask = torch.ones(1, rh + 1, rw)
    widgets["reference_mask"] = reference_mask
    return refs, edit, mask, target, widgets


def _outcome(fn):
    try:
        return fn(), None
    except AcePlusError as err:
        return None, str(err)


@settings(max_examples=130, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_preview_is_the_layout_build_canvas_makes(case):
    refs, edit, mask, target, widgets = case
    images = [torch.rand(1, h, w, 3) for h, w in refs]
    edit_image = None if edit is None else torch.rand(1, *edit, 3)
    built, built_error = _outcome(lambda: build_canvas(images, edit_image, mask, target_size=target, **widgets))
    sketch = None if mask is None else _sketch(mask)
    reference_mask = widgets.pop("reference_mask")
    widgets["reference_mask"] = None if reference_mask is None else _sketch(reference_mask)
    plan, plan_error = _outcome(lambda: plan_layout(refs, edit, sketch, target, **widgets))
    if plan is not None and plan["status"] == "unknown":
        # Only a mask resized at run leaves the preview without the box it needs.
        assert sketch is not None and (sketch.height, sketch.width) != edit, plan
        return
    assert plan_error == built_error, (plan_error, built_error)
    if built is None:
        return
    layout = built.layout
    assert plan["status"] == "ok"
    assert (plan["canvas"]["width"], plan["canvas"]["height"]) == (layout.canvas_width, layout.canvas_height)
    assert plan["tokens"] == layout.tokens and plan["token_budget"] == layout.token_budget
    assert plan["scale"] == layout.scale
    assert [Rect(**r["panel"]) for r in plan["references"]] == list(layout.reference_panels)
    assert [Rect(**r["content"]) for r in plan["references"]] == list(layout.reference_content)
    t = plan["target"]
    assert Rect(**t["panel"]) == layout.target_panel
    assert Rect(**t["region"]) == layout.target_region
    assert (t["width"], t["height"]) == (layout.target_width, layout.target_height)
    assert t["new_image"] == (layout.source is None)  # reference generation has no edit image to stitch into
    assert plan["target_tokens"] == (layout.target_panel.w // 16) * (layout.canvas_height // 16)
    # The canvas the node outputs has exactly the planned size.
    assert tuple(built.image.shape[1:3]) == (plan["canvas"]["height"], plan["canvas"]["width"])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 5000))
def test_centre_crop_hw_is_what_centre_crop_aspect_keeps(h, w):
    image = torch.empty(1, h, w, 0)  # no pixels: only the shape matters
    assert tuple(centre_crop_aspect(image).shape[1:3]) == centre_crop_hw(h, w)


def test_unknown_mask_is_unknown_only_where_the_layout_needs_it():
    kwargs = dict(reference_hws=[(256, 256)], edit_hw=(300, 400), mask=UNKNOWN)
    assert plan_layout(**kwargs)["status"] == "ok"  # the whole image: the mask's place does not matter
    unknown = plan_layout(**kwargs, context_margin=64)
    assert unknown["status"] == "unknown" and "crop_to_context is on" in unknown["message"]
    wide = plan_layout([], (100, 900), UNKNOWN)
    assert wide["status"] == "unknown" and "beyond 4:1" in wide["message"]


def test_several_regions_are_known_at_run():
    plan = plan_layout([], (300, 400), UNKNOWN, regions="connected_components")
    assert plan["status"] == "at_run" and "known when the node runs" in plan["message"]


def test_warnings_name_the_change_that_helps():
    wide = plan_layout([(600, 1000)], (1216, 832))
    assert wide["target_share"] < 0.5 and any("reference_share to 0.5" in w for w in wide["warnings"])
    assert not plan_layout([(600, 1000)], (1216, 832), reference_share=0.5)["warnings"]
    big = plan_layout([], (3000, 4000), MaskSketch(3000, 4000, Rect(1000, 1000, 600, 400)))
    assert big["px_per_px"] < 0.5 and any("set crop_to_context to true" in w for w in big["warnings"])
    cropped = plan_layout([], (3000, 4000), MaskSketch(3000, 4000, Rect(1000, 1000, 600, 400)), context_margin=128)
    assert (cropped["canvas"]["width"], cropped["canvas"]["height"]) == (848, 656) and not cropped["warnings"]
    assert cropped["target"]["cropped"] and cropped["target"]["region"] == {"x": 872, "y": 872, "w": 856, "h": 656}


@pytest.mark.parametrize("kwargs, message", [
    (dict(reference_hws=[], target_size=(1024, 1024)), "reference generation needs at least one reference"),
    (dict(reference_hws=[(64, 64)], target_size=(8192, 16)), "beyond the 4:1 aspect"),
    (dict(reference_hws=[(64, 64)], mask=MaskSketch(64, 64, None)), "a mask was given without an edit image"),
    # An empty mask means the whole image, but only LoadImage's 64x64 placeholder may have another aspect.
    (dict(edit_hw=(512, 512), mask=MaskSketch(512, 1024, None)), "the mask is 1024x512 but the image is 512x512"),
    (dict(edit_hw=(512, 1024), mask=MaskSketch(64, 64, None)), None),
    (dict(edit_hw=(8, 512), regions="connected_components"), "the edit image is 512x8; both sides must be at least"),
    (dict(edit_hw=(96, 64), mask=MaskSketch(96, 64, Rect(16, 32, 32, 32)), reference_hws=[(64, 16)],
          context_margin=0), "set context_margin to 16 (or set crop_to_context to false"),
    (dict(reference_hws=[(64, 16)], target_size=(32, 32)), "or set height to 64."),
    (dict(edit_hw=(512, 512), mask=MaskSketch(512, 1024, Rect(0, 0, 8, 8))), "another aspect ratio"),
    (dict(edit_hw=(1024, 1024), reference_hws=[(1024, 256)] * 4, token_budget=16), "set token_budget to 64 (or"),
])
def test_errors_are_the_nodes(kwargs, message):
    plan, error = _outcome(lambda: plan_layout(**kwargs))
    if message is None:
        assert plan["status"] == "ok"
    else:
        assert error is not None and error.startswith("[ACE++] ") and message in error, error


def _mask_tensor(sketch: MaskSketch) -> torch.Tensor:
    mask = torch.zeros(1, sketch.height, sketch.width)
    if sketch.box is not None:
        sketch.box.slice(mask)[...] = 1.0
    return mask


@pytest.mark.parametrize("kwargs", [
    dict(edit_hw=(512, 512), mask=MaskSketch(512, 1024, None)),  # all zero, another aspect: refused
    dict(edit_hw=(512, 1024), mask=MaskSketch(64, 64, None)),  # LoadImage's placeholder: the whole image
    dict(edit_hw=(1, 1), mask=MaskSketch(1, 1, None), regions="connected_components"),
    dict(edit_hw=(96, 64), mask=MaskSketch(96, 64, Rect(16, 32, 32, 32)), reference_hws=[(64, 16)], context_margin=0),
])
def test_the_preview_answers_what_the_node_answers(kwargs):
    """The same sizes through the node's build_canvas (real tensors) and the preview: the same error, or both fine."""
    _, preview_error = _outcome(lambda: plan_layout(**kwargs))
    h, w = kwargs["edit_hw"]
    refs = [torch.rand(1, rh, rw, 3) for rh, rw in kwargs.get("reference_hws", [])]
    _, node_error = _outcome(lambda: build_canvas(
        refs, edit_image=torch.rand(1, h, w, 3), mask=_mask_tensor(kwargs["mask"]),
        context_margin=kwargs.get("context_margin"), regions=kwargs.get("regions", "one")))
    assert preview_error == node_error
