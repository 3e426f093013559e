"""Panel sizings beside the token budget (fixed_width, square, equal), the blank-twin edit and the reference mask:
the canvases the FLUX-Fill in-context family (ICEdit, Insert Anything, CatVTON-FLUX) is trained on, built by the
pack's one canvas and stitched back exactly."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.canvas import GREY, build_canvas
from aceplusplus.lcu.errors import AcePlusError
from aceplusplus.lcu.references import REFERENCE_MASK_MARGIN, WHITE, isolate_reference
from aceplusplus.lcu.sizing import TOKEN_PX, plan_canvas
from aceplusplus.lcu.stitch import stitch

from checks import assert_grid

SIDES = st.integers(32, 400)
PANEL = st.sampled_from([64, 128, 256, 512, 576, 768])
BUDGETS = st.sampled_from([256, 1024, 4096, 8192])


@settings(max_examples=150, deadline=None)
@given(th=SIDES, tw=SIDES, refs=st.lists(st.tuples(SIDES, SIDES), max_size=3), width=PANEL, height=PANEL,
       sizing=st.sampled_from(["fixed_width", "square", "equal"]), budget=BUDGETS, twin=st.booleans())
def test_fixed_sizings_give_equal_reference_panels_within_the_budget(th, tw, refs, width, height, sizing, budget, twin):
    if max(th, tw) > 4 * min(th, tw) or (sizing == "equal" and max(width, height) > 4 * min(width, height)):
        return
    try:
        plan = plan_canvas((th, tw), refs, budget, panel_sizing=sizing, panel_size=(width, height), twin=twin)
    except AcePlusError as err:
        assert "token_budget" in str(err) or "too narrow" in str(err)
        return
    tokens = plan.canvas_width * plan.canvas_height // (TOKEN_PX * TOKEN_PX)
    assert tokens <= budget
    box_w = width
    box_h = {"square": width, "equal": height}.get(sizing, max(16, math.floor(width * th / tw / 16) * 16))
    users = plan.references[:len(refs)]
    assert len({r.panel_width for r in users}) <= 1  # every reference panel the same
    for r in users:  # each reference's content fits its panel, aspect kept
        assert r.content_width <= r.panel_width and r.content_height <= plan.canvas_height
    if twin:
        assert plan.references[-1].panel_width == plan.target_width
    target_w = box_w if sizing == "fixed_width" else box_h * tw / th
    if (len(refs) * box_w + (1 + twin) * target_w) * box_h <= budget * TOKEN_PX * TOKEN_PX:  # within: exact sizes
        assert plan.canvas_height == box_h
        assert all(r.panel_width == box_w for r in users)
        if sizing == "fixed_width":
            assert plan.target_width == box_w
    # The target panel keeps the target's aspect (one side within a token of it): nothing is stretched.
    width, height = plan.target_width, plan.canvas_height
    assert min(abs(width - height * tw / th), abs(height - width * th / tw)) < TOKEN_PX


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(200, 420), w=st.integers(200, 420), box=st.tuples(st.integers(0, 150), st.integers(0, 150),
       st.integers(8, 48), st.integers(8, 48)), sizing=st.sampled_from([("square", 768, 768), ("equal", 576, 768)]))
def test_square_and_equal_panels_widen_the_crop_to_their_aspect(h, w, box, sizing):
    x, y, bw, bh = box
    mask = torch.zeros(1, h, w)
    mask[:, y:y + bh, x:x + bw] = 1
    name, pw, ph = sizing
    canvas = build_canvas(edit_image=torch.rand(1, h, w, 3), mask=mask, context_margin=24, panel_sizing=name,
                          panel_size=(pw, ph), token_budget=8192)
    layout = canvas.layout
    assert_grid(layout)
    region = layout.target_region
    assert region.x <= x and region.y <= y and region.right >= x + bw and region.bottom >= y + bh
    assert abs(region.w / region.h - pw / ph) < 0.02  # the photo is large enough for the panel's aspect
    assert (layout.target_panel.w, layout.canvas_height) == (pw, ph)


def test_equal_panels_beyond_four_to_one_name_a_height_on_the_grid():
    with pytest.raises(AcePlusError, match="set panel_height to 128"):
        plan_canvas((64, 64), [], panel_sizing="equal", panel_size=(512, 64))
    plan_canvas((64, 64), [], panel_sizing="equal", panel_size=(512, 128))


def test_a_budget_too_small_for_fixed_panels_names_one_that_fits():
    with pytest.raises(AcePlusError, match=r"set token_budget to (\d+)") as err:
        plan_canvas((4000, 1000), [(100, 100)] * 5, 64, panel_sizing="square", panel_size=(512, 512))
    budget = int(err.value.args[0].split("set token_budget to ")[1].split(" ")[0])
    plan_canvas((4000, 1000), [(100, 100)] * 5, budget, panel_sizing="square", panel_size=(512, 512))


@pytest.mark.parametrize("with_mask", [True, False])
def test_blank_twin_is_the_source_beside_a_blank_target_and_stitches_back(with_mask):
    torch.manual_seed(0)
    edit = torch.rand(1, 150, 200, 3)
    mask = None
    if with_mask:
        mask = torch.zeros(1, 150, 200)
        mask[:, 40:90, 60:140] = 1
    canvas = build_canvas(edit_image=edit, mask=mask, panel_sizing="fixed_width", panel_size=(512, 512),
                          edit_style="blank_twin", token_budget=8192)
    layout = canvas.layout
    assert_grid(layout)
    twin, target = layout.reference_panels[-1], layout.target_panel
    assert (twin.w, twin.h) == (target.w, target.h) == (512, 384)
    assert layout.edit_style == "blank_twin"
    assert bool((twin.slice(canvas.mask) == 0).all()) and bool((target.slice(canvas.mask) == 1).all())
    assert bool((target.slice(canvas.image) == GREY).all())
    assert not bool((twin.slice(canvas.image) == GREY).all())  # the source is shown
    decoded = torch.rand(1, layout.canvas_height, layout.canvas_width, 3)
    result, _ = stitch(decoded, layout)
    assert result.shape == edit.shape
    if with_mask:
        keep = mask[0] < 0.5
        assert bool((result[0][keep] == edit[0][keep]).all())
        assert bool((result[0][~keep] != edit[0][~keep]).any())
    else:  # no mask: the model regenerates the whole image
        assert bool((result != edit).float().mean() > 0.9)


def test_blank_twin_needs_an_edit_image_and_one_region():
    with pytest.raises(AcePlusError, match="set edit_style to in_place"):
        build_canvas(references=[torch.rand(1, 64, 64, 3)], target_size=(64, 64), edit_style="blank_twin")
    mask = torch.zeros(1, 64, 200)
    mask[:, 10:20, 10:20] = 1
    mask[:, 10:20, 150:160] = 1
    with pytest.raises(AcePlusError, match="set regions to one"):
        build_canvas(edit_image=torch.rand(1, 64, 200, 3), mask=mask, regions="connected_components",
                     edit_style="blank_twin")


@settings(max_examples=60, deadline=None)
@given(h=st.integers(16, 120), w=st.integers(16, 120), box=st.tuples(st.integers(0, 100), st.integers(0, 100),
       st.integers(1, 60), st.integers(1, 60)))
def test_the_reference_object_sits_on_white_cropped_to_its_box_and_margin(h, w, box):
    x, y, bw, bh = box
    reference = torch.rand(1, h, w, 3)
    mask = torch.zeros(1, h, w)
    mask[:, y:y + bh, x:x + bw] = 1
    if not bool(mask.any()):
        assert isolate_reference(reference, mask) is reference
        return
    out = isolate_reference(reference, mask)
    bw, bh = min(bw, w - x), min(bh, h - y)
    gx, gy = math.ceil(REFERENCE_MASK_MARGIN * bw), math.ceil(REFERENCE_MASK_MARGIN * bh)
    x0, y0 = max(0, x - gx), max(0, y - gy)
    assert out.shape[1:3] == (min(h, y + bh + gy) - y0, min(w, x + bw + gx) - x0)
    inside = torch.zeros(out.shape[1:3], dtype=torch.bool)
    inside[y - y0:y - y0 + bh, x - x0:x - x0 + bw] = True
    assert bool((out[0][inside] == reference[0, y0:y0 + out.shape[1], x0:x0 + out.shape[2]][inside]).all())
    assert bool((out[0][~inside] == WHITE).all())


def test_a_reference_mask_of_another_size_names_the_fix():
    with pytest.raises(AcePlusError, match="paint the mask on the reference itself"):
        isolate_reference(torch.rand(1, 40, 60, 3), torch.ones(1, 30, 60))
    placeholder = torch.zeros(1, 64, 64)  # LoadImage's mask of a file without alpha: the whole reference
    reference = torch.rand(1, 40, 60, 3)
    assert isolate_reference(reference, placeholder) is reference


def test_an_isolated_reference_is_padded_white_in_its_panel():
    reference = torch.rand(1, 100, 100, 3)
    mask = torch.zeros(1, 100, 100)
    mask[:, 10:90, 40:60] = 1  # a tall object: its square panel is padded left and right
    canvas = build_canvas(references=[reference], edit_image=torch.rand(1, 128, 128, 3), reference_mask=mask,
                          panel_sizing="square", panel_size=(128, 128))
    panel, content = canvas.layout.reference_panels[0], canvas.layout.reference_content[0]
    assert content.w < panel.w
    assert bool((canvas.image[0, :, :content.x] == WHITE).all())


def test_several_regions_take_the_square_panels_and_stitch_exactly():
    torch.manual_seed(1)
    edit = torch.rand(1, 160, 400, 3)
    mask = torch.zeros(1, 160, 400)
    mask[:, 20:50, 20:60] = 1
    mask[:, 90:140, 300:330] = 1
    canvas = build_canvas(references=[torch.rand(1, 80, 60, 3)], edit_image=edit, mask=mask, context_margin=16,
                          regions="connected_components", panel_sizing="square", panel_size=(128, 128))
    layout = canvas.layout
    assert_grid(layout)
    assert len(layout.target_regions) == 2 and canvas.image.shape[0] == 2
    assert all(abs(r.w - r.h) <= 1 for r in layout.target_regions)  # widened to the square panels
    assert (layout.target_panel.w, layout.canvas_height) == (128, 128)
    result, _ = stitch(torch.rand(2, layout.canvas_height, layout.canvas_width, 3), layout)
    keep = mask[0] < 0.5
    assert result.shape == edit.shape and bool((result[0][keep] == edit[0][keep]).all())
