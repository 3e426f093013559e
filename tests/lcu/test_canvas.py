"""Canvas geometry, masks and the canvas -> stitch round trip (pure tensors, no ComfyUI)."""
import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.canvas import GREY, build_canvas
from aceplusplus.lcu.conditioning import fft_split, repaint
from aceplusplus.lcu.errors import AcePlusError
from aceplusplus.lcu.layout import Rect
from aceplusplus.lcu.masks import faint_mask_warning, normalize_mask
from aceplusplus.lcu.regions import mask_box, region_around
from aceplusplus.lcu.sizing import MAX_TOKEN_BUDGET, centre_crop_aspect, plan_canvas
from aceplusplus.lcu.stitch import extract_target, stitch

from checks import assert_grid


def image(h, w, b=1, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


# --- sizing -----------------------------------------------------------------------------------------

def test_no_budget_pressure_keeps_multiples_of_16_exactly():
    plan = plan_canvas((512, 768), [(512, 256)], token_budget=100000)
    assert plan.scale == 1.0
    assert plan.canvas_height == 512 and plan.target_width == 768 and plan.references[0].panel_width == 256


def test_budget_shrinks_whole_canvas_never_enlarges():
    plan = plan_canvas((1024, 1024), [(1024, 1024)], token_budget=4096)
    assert plan.scale == pytest.approx(math.sqrt(0.5))
    assert plan.canvas_height == 720 and plan.target_width == 720 and plan.references[0].panel_width == 720
    assert (plan.canvas_height // 16) * (plan.canvas_width // 16) <= 4096
    small = plan_canvas((64, 64), [(32, 32)], token_budget=4096)
    assert small.scale == 1.0 and small.canvas_height == 64 and small.references[0].panel_width == 64


def test_keep_pixels_never_enlarges_and_caps_height_at_rate():
    small = plan_canvas((512, 512), [(100, 80)], 100000, "keep_pixels", 0.8)
    assert small.references[0].content_height == 100 and small.references[0].panel_width == 80
    tall = plan_canvas((512, 512), [(1000, 500)], 100000, "keep_pixels", 0.8)
    # The panel is floored to the grid (192 of 204.8 px); the content keeps the reference's 1:2 aspect inside
    # it (192x384) instead of being squeezed to 192x410, and stays within the rate.
    ref = tall.references[0]
    assert ref.panel_width == 16 * math.floor(500 * 0.8 * 512 / 1000 / 16) == 192
    assert (ref.content_width, ref.content_height) == (192, 384) and ref.content_height <= 0.8 * 512


@pytest.mark.parametrize("kwargs, message", [
    (dict(target_hw=(8, 64), reference_hws=[]), "at least 16"),
    (dict(target_hw=(64, 64 * 5), reference_hws=[]), "4:1"),
    (dict(target_hw=(1024, 1024), reference_hws=[(1024, 1024)] * 3, token_budget=3), "set token_budget to 64"),
    (dict(target_hw=(64, 64), reference_hws=[], reference_sizing="stretch"), "unknown reference sizing"),
])
def test_sizing_errors_say_what_to_change(kwargs, message):
    with pytest.raises(AcePlusError, match=message) as info:
        plan_canvas(**kwargs)
    assert str(info.value).startswith("[ACE++]")


def test_budget_error_suggests_a_budget_that_works():
    with pytest.raises(AcePlusError) as info:
        plan_canvas((1024, 1024), [(1024, 256)] * 4, token_budget=16)
    needed = int(str(info.value).split("set token_budget to ")[1].split(" ")[0])
    plan_canvas((1024, 1024), [(1024, 256)] * 4, token_budget=needed)


def test_extreme_references_are_centre_cropped_to_4_to_1():
    wide = image(10, 100)
    assert centre_crop_aspect(wide).shape[1:3] == (10, 40)
    assert torch.equal(centre_crop_aspect(wide), wide[:, :, 30:70])
    assert centre_crop_aspect(image(100, 10)).shape[1:3] == (40, 10)


# --- reference generation -------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(1024, 1024), (200, 136), (333, 517), (64, 48)])
def test_generation_canvas_layout_and_masks(size):
    ref = image(300, 200)
    canvas = build_canvas([ref], target_size=size, token_budget=4096)
    layout = canvas.layout
    assert_grid(layout)
    assert canvas.image.shape == (1, layout.canvas_height, layout.canvas_width, 3)
    (ref_panel,) = layout.reference_panels
    assert ref_panel.h == layout.target_panel.h == layout.canvas_height
    assert torch.all(ref_panel.slice(canvas.mask) == 0)
    assert torch.all(layout.target_panel.slice(canvas.mask) == 1)
    assert torch.all(layout.target_panel.slice(canvas.image) == GREY)
    out, blend = stitch(canvas.image, layout)
    assert out.shape == (1, size[1], size[0], 3) and torch.all(blend == 1)


def test_generation_errors():
    with pytest.raises(AcePlusError, match="at least one reference"):
        build_canvas([], target_size=(64, 64))
    with pytest.raises(AcePlusError, match="positive"):
        build_canvas([image(32, 32)], target_size=(0, 64))
    with pytest.raises(AcePlusError, match="is not an IMAGE"):
        build_canvas(["not an image"], target_size=(64, 64))
    with pytest.raises(AcePlusError, match="channels"):
        build_canvas([torch.rand(1, 32, 32, 2)], target_size=(64, 64))


def test_grayscale_and_rgba_inputs_become_rgb():
    canvas = build_canvas([torch.rand(1, 32, 32, 1)], edit_image=torch.rand(1, 48, 48, 4))
    assert canvas.image.shape[-1] == 3


def test_multiple_references_keep_order_and_height():
    refs = [torch.full((1, 64, 32, 3), v) for v in (0.1, 0.3, 0.9)]
    canvas = build_canvas(refs, target_size=(64, 64), token_budget=100000)
    panels = canvas.layout.reference_panels
    assert [p.w for p in panels] == [32, 32, 32] and all(p.h == 64 for p in panels)
    for panel, v in zip(panels, (0.1, 0.3, 0.9)):
        assert torch.allclose(panel.slice(canvas.image), torch.tensor(v))


def test_reference_batch_broadcast_and_mismatch():
    canvas = build_canvas([image(32, 32, b=1)], edit_image=image(48, 48, b=3))
    assert canvas.image.shape[0] == 3
    with pytest.raises(AcePlusError, match="batch of 2"):
        build_canvas([image(32, 32, b=2)], edit_image=image(48, 48, b=3))


# --- masks -------------------------------------------------------------------------------------------

def test_mask_semantics():
    img = image(100, 80, b=2)
    assert torch.all(normalize_mask(None, img) == 1)
    assert torch.all(normalize_mask(torch.zeros(1, 64, 64), img) == 1)  # LoadImage placeholder
    assert torch.all(normalize_mask(torch.zeros(1, 100, 80), img) == 1)  # all-zero = whole image
    assert torch.all(normalize_mask(torch.ones(1, 100, 80), img) == 1)  # all-one = whole image too
    assert torch.all(normalize_mask(torch.zeros(1, 64, 64), image(64, 64)) == 1)  # a 64x64 image's empty mask
    half = torch.zeros(1, 100, 80)
    half[:, :, 40:] = 1
    got = normalize_mask(half, img)
    assert got.shape == (2, 100, 80) and torch.equal(got[0], half[0]) and torch.equal(got[1], half[0])
    soft = torch.full((1, 100, 80), 0.3)
    soft[:, :50] = 0.7
    assert torch.equal(normalize_mask(soft, img)[0], soft[0])  # kept soft for the blend
    assert normalize_mask(torch.ones(1, 50, 40), img).shape == (2, 100, 80)  # same aspect: resized
    with pytest.raises(AcePlusError, match="aspect ratio"):
        normalize_mask(torch.ones(1, 50, 50), img)
    with pytest.raises(AcePlusError, match="mask has a batch of 3 but the image has a batch of 2"):
        normalize_mask(torch.ones(3, 100, 80), img)


def test_soft_mask_is_binarised_for_the_model():
    mask = torch.zeros(1, 64, 64)
    mask[:, :, 32:] = 0.6
    mask[:, :, :16] = 0.4
    canvas = build_canvas(edit_image=image(64, 64), mask=mask)
    assert set(canvas.mask.unique().tolist()) == {0.0, 1.0}
    assert torch.all(canvas.mask[:, :, 32:] == 1) and torch.all(canvas.mask[:, :, :32] == 0)


def test_mask_without_edit_image_is_an_error():
    with pytest.raises(AcePlusError, match="without an edit image"):
        build_canvas([image(32, 32)], mask=torch.ones(1, 32, 32), target_size=(32, 32))


# --- crop-to-context -------------------------------------------------------------------------------

def context_region(mask, margin):
    return region_around(mask_box(mask), margin, mask.shape[1], mask.shape[2])


def test_context_region_clamps_and_keeps_aspect():
    mask = torch.zeros(1, 200, 300)
    mask[:, 10:20, 280:300] = 1
    r = context_region(mask, 1000)  # margin larger than the image: the whole image
    assert r == Rect(0, 0, 300, 200)
    r = context_region(mask, 0)
    assert r.w >= 16 and r.h >= 16 and max(r.w, r.h) <= 4 * min(r.w, r.h)
    assert r.x <= 280 and r.right == 300 and r.y <= 10 and r.bottom >= 20
    with pytest.raises(AcePlusError, match="context_margin"):
        context_region(mask, -1)


def test_crop_to_context_on_a_large_photo_generates_at_native_resolution():
    photo = torch.rand(1, 4096, 4096, 3)
    mask = torch.zeros(1, 4096, 4096)
    mask[:, 1000:1512, 2000:2512] = 1
    whole = build_canvas(edit_image=photo, mask=mask, token_budget=4096)
    cropped = build_canvas(edit_image=photo, mask=mask, token_budget=4096, context_margin=128)
    assert cropped.layout.tokens <= whole.layout.tokens
    assert cropped.layout.scale == 1.0 and whole.layout.scale < 0.26
    assert cropped.layout.target_region == Rect(1872, 872, 768, 768)
    out, blend = stitch(cropped.image, cropped.layout)
    assert out.shape == photo.shape
    assert torch.equal(out[blend == 0], photo[blend == 0])


# --- conditioning pixels ----------------------------------------------------------------------------

def test_repainting_scale_and_fft_split():
    canvas = torch.rand(1, 32, 48, 3)
    mask = torch.zeros(1, 32, 48)
    mask[:, :, 16:] = 1
    assert torch.equal(repaint(canvas, mask, 0.0), canvas)
    full = repaint(canvas, mask, 1.0)
    assert torch.all(full[:, :, 16:] == GREY) and torch.equal(full[:, :, :16], canvas[:, :, :16])
    half = repaint(canvas, mask, 0.5)
    assert torch.allclose(half[:, :, 16:] - GREY, (canvas[:, :, 16:] - GREY) * 0.5, atol=1e-6)
    context, change = fft_split(canvas, mask)
    assert torch.all(context[:, :, 16:] == GREY) and torch.allclose(context[:, :, :16], canvas[:, :, :16])
    assert torch.all(change[:, :, :16] == GREY) and torch.allclose(change[:, :, 16:], canvas[:, :, 16:])
    with pytest.raises(AcePlusError, match="between 0 and 1"):
        repaint(canvas, mask, 1.5)
    with pytest.raises(AcePlusError, match="do not match"):
        repaint(canvas, torch.zeros(1, 16, 16), 1.0)


# --- the round trip, over many random shapes ---------------------------------------------------------

@st.composite
def edit_cases(draw):
    h = draw(st.integers(16, 160))
    w = draw(st.integers(max(16, h // 4 + 1), min(4 * h, 240)))
    batch = draw(st.sampled_from([1, 1, 2]))
    kind = draw(st.sampled_from(["rect", "none", "zero", "soft", "placeholder"]))
    if kind == "rect":
        y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
        mask = torch.zeros(1, h, w)
        mask[:, y0:y1, x0:x1] = 1
    elif kind == "soft":
        mask = torch.rand(1, h, w, generator=torch.Generator().manual_seed(draw(st.integers(0, 99))))
    elif kind == "zero":
        mask = torch.zeros(1, h, w)
    elif kind == "placeholder":
        mask = torch.zeros(1, 64, 64)
    else:
        mask = None
    refs = [(draw(st.integers(16, 120)), draw(st.integers(16, 120))) for _ in range(draw(st.integers(0, 3)))]
    refs = [(rh, min(max(rw, rh // 4 + 1), 4 * rh)) for rh, rw in refs]
    return dict(
        hw=(h, w), batch=batch, mask=mask, refs=refs,
        budget=draw(st.sampled_from([64, 128, 256, 1024, 4096])),
        sizing=draw(st.sampled_from(["resize", "keep_pixels"])),
        margin=draw(st.one_of(st.none(), st.integers(0, 300))),
        grow=draw(st.integers(-4, 6)), feather=draw(st.integers(0, 5)),
        seed=draw(st.integers(0, 2**16)),
    )


@pytest.fixture
def one_thread():
    # Thousands of tiny tensors: thread start-up costs more than the work (10x slower on a busy 2-core box).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                                 HealthCheck.function_scoped_fixture])
@given(case=edit_cases())
def test_round_trip_properties(one_thread, case):
    h, w = case["hw"]
    photo = image(h, w, b=case["batch"], seed=case["seed"])
    refs = [image(rh, rw, seed=i) for i, (rh, rw) in enumerate(case["refs"])]
    try:
        canvas = build_canvas(refs, edit_image=photo, mask=case["mask"], token_budget=case["budget"],
                              reference_sizing=case["sizing"], context_margin=case["margin"])
    except AcePlusError as e:
        message = str(e)
        assert "4:1" in message or "token_budget" in message or "wider reference" in message, message
        if "set token_budget to " in message:
            # The named budget works (and is one the widget allows).
            needed = int(message.split("set token_budget to ")[1].split(" ")[0])
            assert needed <= MAX_TOKEN_BUDGET
            build_canvas(refs, edit_image=photo, mask=case["mask"], token_budget=needed,
                         reference_sizing=case["sizing"], context_margin=case["margin"])
        assume(False)
    layout = canvas.layout
    assert_grid(layout)
    assert layout.scale <= 1.0
    region = layout.target_region
    assert 0 <= region.x and region.right <= w and 0 <= region.y and region.bottom <= h
    assert torch.all(canvas.mask[:, :, :layout.target_panel.x] == 0)
    # Any "model output": the stitched result has the photo's size and is the photo outside the blend.
    decoded = torch.rand(canvas.image.shape, generator=torch.Generator().manual_seed(case["seed"] + 1))
    out, blend = stitch(decoded, layout, grow=case["grow"], feather=case["feather"])
    assert out.shape == photo.shape and blend.shape == photo.shape[:3]
    keep = (blend == 0).unsqueeze(-1).expand_as(out)
    assert torch.equal(out[keep], photo[keep])
    assert torch.all(blend[:, :region.y] == 0) and torch.all(blend[:, region.bottom:] == 0)
    assert extract_target(decoded, layout).shape[1:3] == (region.h, region.w)


def test_stitch_rejects_a_canvas_of_another_layout():
    canvas = build_canvas(edit_image=image(64, 64))
    with pytest.raises(AcePlusError, match="VAE Decode"):
        stitch(torch.rand(1, 32, 32, 3), canvas.layout)
    # The one batch rule (images.broadcast_batch): 1 edit image serves every decoded one, otherwise equal counts,
    # and no "multiple" (4 decoded images for 2 edit images) is guessed at.
    two = build_canvas(edit_image=image(64, 64, b=2)).layout
    for decoded in (3, 4):
        with pytest.raises(AcePlusError, match=rf"edit image has a batch of 2 but there are {decoded} decoded images; "
                                               rf"give 1 .* or {decoded}"):
            stitch(torch.rand(decoded, 64, 64, 3), two)
    with pytest.raises(AcePlusError, match=r"edit image has a batch of 2 but there is only 1 decoded image"):
        stitch(torch.rand(1, 64, 64, 3), two)
    one = build_canvas(edit_image=image(64, 64)).layout
    assert stitch(torch.rand(3, 64, 64, 3), one)[0].shape == (3, 64, 64, 3)


@settings(max_examples=200, deadline=None)
@given(st.integers(16, 90), st.integers(16, 90), st.integers(1, 90), st.integers(1, 90), st.integers(0, 999))
def test_model_mask_covers_every_masked_pixel(h, w, oh, ow, seed):
    from aceplusplus.lcu.masks import model_mask
    oh, ow = min(oh, h), min(ow, w)
    mask = (torch.rand(1, h, w, generator=torch.Generator().manual_seed(seed)) > 0.97).float()
    small = model_mask(mask, oh, ow)
    assert small.shape == (1, oh, ow) and set(small.unique().tolist()) <= {0.0, 1.0}
    ys, xs = torch.nonzero(mask[0] >= 0.5, as_tuple=True)
    assert torch.all(small[0, ys * oh // h, xs * ow // w] == 1)


# --- every error names a change that works -------------------------------------------------------------

def test_narrow_reference_at_full_size_does_not_ask_for_a_bigger_budget():
    # A 4:1 tall reference next to a 32 px tall target is 8 px wide even at scale 1: no budget helps.
    with pytest.raises(AcePlusError) as info:
        plan_canvas((32, 32), [(64, 16)], token_budget=MAX_TOKEN_BUDGET)
    message = str(info.value)
    assert "token_budget" not in message and "at least 64 px tall" in message
    plan_canvas((64, 32), [(64, 16)], token_budget=MAX_TOKEN_BUDGET)  # the named fix works


def test_budget_error_never_names_a_budget_above_the_widget_maximum():
    with pytest.raises(AcePlusError) as info:
        plan_canvas((16, 64), [(16, 64)] * 20000, token_budget=64)
    assert "too wide for any token budget" in str(info.value) and "set token_budget" not in str(info.value)


@pytest.mark.parametrize("budget", [16, 64, 100])
def test_named_budget_is_the_smallest_that_works(budget):
    hws = [(1024, 128)] * 8
    with pytest.raises(AcePlusError) as info:
        plan_canvas((1024, 1024), hws, token_budget=budget)
    needed = int(str(info.value).split("set token_budget to ")[1].split(" ")[0])
    plan_canvas((1024, 1024), hws, token_budget=needed)
    with pytest.raises(AcePlusError):  # the widget's grid value below it (lcu.sizing.TOKEN_BUDGET_STEP) fails
        plan_canvas((1024, 1024), hws, token_budget=needed - 64)


def test_aspect_errors_name_the_fix_for_the_current_crop_setting():
    photo = image(16, 200)
    mask = torch.zeros(1, 16, 200)
    mask[:, :, 90:100] = 1
    with pytest.raises(AcePlusError, match="set crop_to_context to true and context_margin to 0"):
        build_canvas([], edit_image=photo, mask=mask)
    build_canvas([], edit_image=photo, mask=mask, context_margin=0)  # the named fix works
    with pytest.raises(AcePlusError, match="crop_to_context is on.*set context_margin to 0"):
        build_canvas([], edit_image=photo, mask=mask, context_margin=128)
    with pytest.raises(AcePlusError, match="even cropped; crop or pad the edit image") as info:
        build_canvas([], edit_image=photo, mask=None, context_margin=0)
    assert "crop_to_context" not in str(info.value)


def test_batch_rule_message_with_a_single_image():
    with pytest.raises(AcePlusError, match=r"batch of 1; give a single mask \(used for every image\) or a batch "
                                           r"of 3 images\.$"):
        normalize_mask(torch.ones(3, 16, 16), image(16, 16))


@pytest.mark.parametrize("bad", [torch.zeros(1, 0, 16, 3), torch.zeros(0, 16, 16, 3), torch.zeros(16, 16),
                                 torch.full((1, 16, 16, 3), float("nan"))])
def test_bad_image_tensors_are_pack_errors(bad):
    with pytest.raises(AcePlusError, match=r"^\[ACE\+\+\] the edit image (is empty|is not an IMAGE|contains NaN)"):
        build_canvas([], edit_image=bad)


@pytest.mark.parametrize("bad", [torch.zeros(1, 0, 16), torch.zeros(0, 16), torch.full((1, 16, 16), float("inf"))])
def test_bad_mask_tensors_are_pack_errors(bad):
    with pytest.raises(AcePlusError, match=r"^\[ACE\+\+\] the mask (is empty|contains NaN)"):
        build_canvas([], edit_image=image(16, 16), mask=bad)


def test_a_faint_mask_is_warned_about_naming_its_item_and_peak():
    faint = torch.zeros(1, 8, 8)
    faint[:, 2:4, 2:4] = 0.3
    assert "the mask is everywhere below 0.5 (its highest value is 0.30)" in faint_mask_warning(faint)
    batch = torch.cat([torch.ones(1, 8, 8), faint])
    assert "item 2 of the 2 masks is everywhere below 0.5" in faint_mask_warning(batch)
    assert faint_mask_warning(faint[0]).startswith("[ACE++] the mask is")  # one [H, W] mask
    for meant in (torch.zeros(1, 8, 8), torch.full((1, 8, 8), 0.5), torch.full((1, 8, 8), -0.2), None):
        assert faint_mask_warning(meant) is None  # all zero (the whole image on purpose), reaching 0.5, no mask
