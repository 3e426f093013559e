"""Canvas planning: reference_share, references that keep their shape, and the resampling choice; the values
the sizing messages name are on the widget's grid and work."""
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.canvas import GREY, build_canvas
from aceplusplus.lcu.errors import AcePlusError
from aceplusplus.lcu.images import RESAMPLINGS, resize_image
from aceplusplus.lcu.fixes import on_grid, set_to
from aceplusplus.lcu.sizing import (MAX_TOKEN_BUDGET, MIN_REFERENCE_SHARE, MIN_TOKEN_BUDGET, REFERENCE_SHARE_STEP,
                                    TOKEN_BUDGET_STEP, TOKEN_PX, plan_canvas)
from aceplusplus.lcu.stitch import stitch

WIDE_REF = (600, 1000)  # height, width: a 1000x600 reference
TALL_TARGET = (1216, 832)  # a 832x1216 target


def check_plan(plan, target_hw, reference_hws, budget, sizing="resize", rate=0.8, share=1.0):
    """Every side on the grid, within the budget, every reference's content in its own aspect inside its panel."""
    height, width = plan.canvas_height, plan.canvas_width
    sides = [height, plan.target_width] + [r.panel_width for r in plan.references]
    assert all(side % TOKEN_PX == 0 and side >= TOKEN_PX for side in sides)
    assert (height // TOKEN_PX) * (width // TOKEN_PX) <= budget
    for (rh, rw), ref in zip(reference_hws, plan.references):
        cw, ch = ref.content_width, ref.content_height
        assert 1 <= cw <= ref.panel_width and 1 <= ch <= height
        assert 0 <= ref.content_x <= ref.panel_width - cw and 0 <= ref.content_y <= height - ch
        # Content aspect within 1 px of the reference's own, on the side that was rounded.
        assert abs(cw - ch * rw / rh) <= 1.0 or abs(ch - cw * rh / rw) <= 1.0
        if sizing == "keep_pixels":
            assert ch <= rate * height + 1e-9  # the rate is an upper bound
            assert ch <= rh and cw <= rw  # never enlarged
    if share < 1.0:
        assert sum(r.panel_width for r in plan.references) <= share * width + 1e-9


# --- the wide-reference case of issue 10 ---------------------------------------------------------------

def test_default_canvas_is_unchanged_for_a_wide_reference():
    # Today's (and the reference implementation's) plan: the target gets 448 of 1552 px.
    plan = plan_canvas(TALL_TARGET, [WIDE_REF], token_budget=4096)
    assert (plan.canvas_height, plan.references[0].panel_width, plan.target_width) == (656, 1104, 448)
    assert plan.canvas_width == 1552
    assert plan == plan_canvas(TALL_TARGET, [WIDE_REF], token_budget=4096, reference_share=1.0)
    check_plan(plan, TALL_TARGET, [WIDE_REF], 4096)


def test_reference_share_half_gives_the_target_half_the_canvas():
    plan = plan_canvas(TALL_TARGET, [WIDE_REF], token_budget=4096, reference_share=0.5)
    assert plan.target_width * 2 >= plan.canvas_width
    assert (plan.canvas_height, plan.references[0].panel_width, plan.target_width) == (864, 592, 592)
    ref = plan.references[0]
    assert (ref.content_width, ref.content_height) == (592, 355)  # 1000x600 in shape, padded grey top and bottom
    check_plan(plan, TALL_TARGET, [WIDE_REF], 4096, share=0.5)


def test_reference_share_on_the_canvas_pads_grey_and_stitches():
    ref = torch.rand(1, 600, 1000, 3)
    canvas = build_canvas([ref], target_size=(832, 1216), reference_share=0.5)
    layout = canvas.layout
    (panel,), (content,) = layout.reference_panels, layout.reference_content
    assert layout.target_panel.w * 2 >= layout.canvas_width and layout.tokens <= 4096
    assert (content.w, content.h) == (592, 355) and content.x == panel.x and content.y == (864 - 355) // 2
    assert torch.all(canvas.image[:, :content.y, :panel.right] == GREY)
    assert torch.all(canvas.image[:, content.bottom:, :panel.right] == GREY)
    assert torch.all(panel.slice(canvas.mask) == 0)
    out, blend = stitch(canvas.image, layout)
    assert out.shape == (1, 1216, 832, 3) and torch.all(blend == 1)


def test_default_build_equals_explicit_defaults():
    refs = [torch.rand(1, 600, 1000, 3), torch.rand(1, 300, 200, 3)]
    photo = torch.rand(1, 300, 260, 3)
    a = build_canvas(refs, edit_image=photo)
    b = build_canvas(refs, edit_image=photo, reference_share=1.0, resampling="antialiased")
    assert a.layout == b.layout and torch.equal(a.image, b.image) and torch.equal(a.mask, b.mask)


# --- reference_share errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("share", [0.0, -0.5, 1.5, float("nan")])
def test_reference_share_out_of_range(share):
    with pytest.raises(AcePlusError, match=r"^\[ACE\+\+\] reference_share must be in \(0, 1\].*Set it to 1"):
        plan_canvas((512, 512), [(512, 512)], reference_share=share)


def test_too_small_reference_share_names_a_share_that_works():
    refs = [(512, 512)] * 4
    with pytest.raises(AcePlusError) as info:
        plan_canvas((512, 512), refs, token_budget=1024, reference_share=0.05)
    message = str(info.value)
    assert message.startswith("[ACE++] reference_share 0.05 is too small") and "token" in message
    named = float(named_value(message, "reference_share"))
    assert MIN_REFERENCE_SHARE <= named <= 1.0
    assert on_grid(named, MIN_REFERENCE_SHARE, REFERENCE_SHARE_STEP) == named  # a value the widget can hold
    plan_canvas((512, 512), refs, token_budget=1024, reference_share=named)  # the named fix works
    with pytest.raises(AcePlusError):  # and the grid's value below it does not
        plan_canvas((512, 512), refs, token_budget=1024, reference_share=round(named - REFERENCE_SHARE_STEP, 2))


def test_share_error_when_even_no_limit_fails_names_the_budget_too():
    with pytest.raises(AcePlusError) as info:
        plan_canvas((1024, 1024), [(1024, 128)] * 8, token_budget=16, reference_share=0.3)
    message = str(info.value)
    assert "set reference_share to 1 (no limit) too." in message
    needed = int(named_value(message, "token_budget"))
    plan_canvas((1024, 1024), [(1024, 128)] * 8, token_budget=needed, reference_share=1.0)


def named_value(message: str, name: str) -> str:
    """The value a message names in its one fix phrasing, "set <name> to <value>" (lcu.fixes.set_to)."""
    found = re.search(rf"set {name} to ([^\s,;()]+?)[.]?(?:[\s,;()]|$)", message)
    assert found, message
    return found.group(1)


@pytest.mark.parametrize("budget", [16, 64, 100])
def test_named_budget_is_the_smallest_on_the_widget_grid_that_works(budget):
    """The widget holds only MIN_TOKEN_BUDGET + k * TOKEN_BUDGET_STEP: a budget off that grid (68) would be
    rounded back (to 64) by the frontend and fail again."""
    hws = [(1024, 128)] * 8
    with pytest.raises(AcePlusError) as info:
        plan_canvas((1024, 1024), hws, token_budget=budget)
    needed = int(named_value(str(info.value), "token_budget"))
    assert (needed - MIN_TOKEN_BUDGET) % TOKEN_BUDGET_STEP == 0 and needed <= MAX_TOKEN_BUDGET
    plan_canvas((1024, 1024), hws, token_budget=needed)
    if needed > MIN_TOKEN_BUDGET:
        with pytest.raises(AcePlusError):
            plan_canvas((1024, 1024), hws, token_budget=needed - TOKEN_BUDGET_STEP)


@pytest.mark.parametrize("value, low, step, up, expected", [
    (68, 64, 64, True, 128), (64, 64, 64, True, 64), (1, 64, 64, True, 64), (0.06, 0.05, 0.05, True, 0.1),
    (0.15000000000000002, 0.05, 0.05, True, 0.15), (17, 0, 8, True, 24), (17, 0, 8, False, 16),
])
def test_on_grid_rounds_onto_the_widget_grid(value, low, step, up, expected):
    assert on_grid(value, low, step, up) == expected


def test_set_to_is_the_one_phrasing():
    assert set_to(token_budget=128) == "set token_budget to 128"
    assert set_to(crop_to_context=True, context_margin=0) == "set crop_to_context to true and context_margin to 0"
    assert set_to(reference_share=0.35000000000000003) == "set reference_share to 0.35"


# --- the planning properties, over many random shapes ------------------------------------------------------

@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    th=st.integers(16, 2048), aspect=st.floats(0.26, 3.9),
    refs=st.lists(st.tuples(st.integers(8, 2048), st.floats(0.26, 3.9)), min_size=0, max_size=4),
    budget=st.sampled_from([256, 1024, 2048, 4096, 6144, 16384]),
    sizing=st.sampled_from(["resize", "keep_pixels"]), rate=st.sampled_from([0.3, 0.5, 0.8, 1.0]),
    share=st.sampled_from([1.0, 0.9, 0.5, 0.33, 0.2, 0.05]),
)
def test_plan_properties(th, aspect, refs, budget, sizing, rate, share):
    tw = max(16, min(4 * th, round(th * aspect)))
    hws = [(rh, max(1, min(4 * rh, round(rh * a)))) for rh, a in refs]
    hws = [(max(rh, (rw + 3) // 4), rw) for rh, rw in hws]  # within 4:1, as the canvas crops them
    try:
        plan = plan_canvas((th, tw), hws, budget, sizing, rate, share)
    except AcePlusError as e:
        message = str(e)
        assert "token" in message or "wider reference" in message, message
        return
    check_plan(plan, (th, tw), hws, budget, sizing, rate, share)
    if share == 1.0:
        # No limit: the panels are today's, floor16 of the extents at the budget's scale.
        assert plan.canvas_height == 16 * int(th * plan.scale / 16 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(rh=st.integers(16, 300), rw=st.integers(16, 300), th=st.integers(32, 300),
       sizing=st.sampled_from(["resize", "keep_pixels"]))
def test_canvas_reference_content_rect_matches_the_plan(rh, rw, th, sizing):
    rw = max(min(rw, 4 * rh), (rh + 3) // 4)
    try:
        canvas = build_canvas([torch.rand(1, rh, rw, 3)], target_size=(th, th), reference_sizing=sizing,
                              token_budget=MAX_TOKEN_BUDGET)
    except AcePlusError:
        return
    layout = canvas.layout
    (panel,), (content,) = layout.reference_panels, layout.reference_content
    assert panel.x <= content.x and content.right <= panel.right and 0 <= content.y and content.bottom <= panel.h
    grey = torch.ones(panel.h, panel.w, dtype=torch.bool)
    grey[content.y:content.bottom, content.x - panel.x:content.right - panel.x] = False
    assert torch.all(panel.slice(canvas.image)[0][grey] == GREY)


# --- resampling ---------------------------------------------------------------------------------------------

def test_nearest_exact_copies_source_pixels_and_antialiased_blends():
    ref = (torch.arange(64 * 64 * 3, dtype=torch.float32).reshape(1, 64, 64, 3) % 7) / 7
    near = resize_image(ref, 32, 32, "nearest-exact")
    assert torch.equal(near, ref[:, 1::2, 1::2])
    smooth = resize_image(ref, 32, 32, "antialiased")
    assert not torch.equal(smooth, near)
    assert RESAMPLINGS == ("antialiased", "nearest-exact")


def test_canvas_resampling_choice():
    ref = torch.rand(1, 128, 128, 3)
    photo = torch.rand(1, 256, 256, 3)
    near = build_canvas([ref], edit_image=photo, token_budget=256, resampling="nearest-exact")
    smooth = build_canvas([ref], edit_image=photo, token_budget=256)
    assert near.layout.resampling == "nearest-exact" and smooth.layout.resampling == "antialiased"
    target = near.layout.target_panel.slice(near.image)
    # Every nearest-exact pixel is one of the photo's own pixels.
    assert torch.isin(target.flatten(), photo.flatten()).all()
    assert not torch.equal(target, smooth.layout.target_panel.slice(smooth.image))
    with pytest.raises(AcePlusError, match=r"unknown resampling 'bilinear'; use one of antialiased, nearest-exact"):
        build_canvas([ref], edit_image=photo, resampling="bilinear")
