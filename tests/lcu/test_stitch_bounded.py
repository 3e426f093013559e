"""The bounded stitch equals the whole-image computation inside its boxes (one per area of a scattered mask) and is
the original outside them; colour matching corrects each area from its own ring."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.blend import blend_mask, fit_color, grow_mask
from aceplusplus.lcu.canvas import build_canvas
from aceplusplus.lcu.images import resize_image
from aceplusplus.lcu.layout import Rect
from aceplusplus.lcu.masks import binarize
from aceplusplus.lcu.stitch import COLOR_RING, blend_boxes, extract_target, resize_window, stitch


def reference_stitch(decoded, layout, grow=0, feather=0, color_match=False):
    """The stitcher as it was before it was bounded: every step over the whole target region (colour statistics
    too: one ring for every area)."""
    generated = extract_target(decoded, layout)
    batch = generated.shape[0]
    region = layout.target_region
    original = layout.source.image.expand(batch, -1, -1, -1).to(generated.dtype)
    soft_region = layout.source.region_masks[0].expand(batch, -1, -1).to(generated.dtype)
    blend = torch.zeros_like(original[..., 0])
    region_blend = blend_mask(soft_region, grow=grow, feather=feather)
    blend[:, region.y:region.bottom, region.x:region.right] = region_blend
    original_region = region.slice(original)
    if color_match:
        context = 1.0 - binarize(grow_mask(region_blend, 2))
        transfer = fit_color(generated, original_region, context)
        generated = generated if transfer is None else transfer.apply(generated)
    weight = region_blend.unsqueeze(-1)
    mixed = torch.where(weight > 0, original_region * (1.0 - weight) + generated * weight, original_region)
    result = original.clone()
    result[:, region.y:region.bottom, region.x:region.right] = mixed
    return result, blend


def photo_and_mask(h, w, seed, soft):
    gen = torch.Generator().manual_seed(seed)
    photo = torch.rand(1, h, w, 3, generator=gen)
    mask = torch.zeros(1, h, w)
    top, left = int(torch.randint(0, h - 8, (1,), generator=gen)), int(torch.randint(0, w - 8, (1,), generator=gen))
    mh, mw = int(torch.randint(4, h - top, (1,), generator=gen)), int(torch.randint(4, w - left, (1,), generator=gen))
    mask[:, top:top + mh, left:left + mw] = torch.rand(1, mh, mw, generator=gen) if soft else 1.0
    return photo, mask


@pytest.mark.parametrize("size", [(97, 131), (64, 64), (50, 170)])
@pytest.mark.parametrize("target", [(40, 56), (200, 150), (64, 64), (30, 300)])
@pytest.mark.parametrize("resampling", ["antialiased", "nearest-exact"])
def test_resize_window_is_the_window_of_the_whole_resize(size, target, resampling):
    image = torch.rand(2, *size, 3, generator=torch.Generator().manual_seed(3))
    height, width = target
    whole = resize_image(image, height, width) if resampling == "antialiased" else \
        resize_image(image, height, width, resampling)
    for window in (Rect(0, 0, width, height), Rect(3, 5, width // 2, height // 3),
                   Rect(width - 7, height - 4, 7, 4)):
        assert torch.allclose(resize_window(image, height, width, window, resampling), window.slice(whole),
                              atol=2e-5, rtol=0)


@settings(max_examples=40, deadline=None)
@given(st.integers(40, 120), st.integers(40, 120), st.integers(0, 10_000), st.integers(-3, 6), st.integers(0, 6),
       st.booleans(), st.booleans(), st.sampled_from([None, 0, 12]), st.sampled_from([64, 256, 4096]))
def test_bounded_stitch_equals_the_whole_image_computation(h, w, seed, grow, feather, soft, color, margin, budget):
    photo, mask = photo_and_mask(h, w, seed, soft)
    canvas = build_canvas(edit_image=photo, mask=mask, token_budget=budget, context_margin=margin)
    decoded = torch.rand(canvas.image.shape, generator=torch.Generator().manual_seed(seed + 1))
    # The images here are smaller than the colour ring, so its statistics cover the whole region as before.
    assert max(h, w) <= COLOR_RING
    out, blend = stitch(decoded, canvas.layout, grow=grow, feather=feather, color_match=color)
    want, want_blend = reference_stitch(decoded, canvas.layout, grow=grow, feather=feather, color_match=color)
    assert torch.allclose(blend, want_blend, atol=1e-6, rtol=0)
    assert torch.equal(blend == 0, want_blend == 0)
    assert torch.allclose(out, want, atol=3e-5, rtol=0)
    assert torch.equal(out[blend == 0], photo.expand_as(out)[blend == 0])


def test_a_large_photo_is_touched_only_near_the_mask():
    photo = torch.rand(1, 1500, 1700, 3, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, 1500, 1700)
    mask[:, 600:812, 900:1100] = 1.0
    canvas = build_canvas(edit_image=photo, mask=mask, token_budget=1024)
    decoded = torch.rand(canvas.image.shape, generator=torch.Generator().manual_seed(2))
    out, blend = stitch(decoded, canvas.layout, grow=4, feather=8)
    want, want_blend = reference_stitch(decoded, canvas.layout, grow=4, feather=8)
    assert torch.allclose(out, want, atol=3e-5, rtol=0) and torch.allclose(blend, want_blend, atol=1e-6, rtol=0)
    (box,) = blend_boxes(mask, 12)
    assert box == Rect(888, 588, 224, 236)
    outside = torch.ones(1, 1500, 1700, dtype=torch.bool)
    box.slice(outside)[...] = False
    assert torch.equal(out[outside], photo[outside]) and not bool(blend[outside].any())
    # With colour matching the statistics come from a ring of context around the box: the drift is removed.
    drifted = (decoded * 0.8 + 0.1)
    matched, _ = stitch(drifted, canvas.layout, grow=4, feather=8, color_match=True)
    plain, _ = stitch(drifted, canvas.layout, grow=4, feather=8)
    inside = box.slice(blend) > 0
    assert torch.equal(matched[outside], photo[outside])
    assert not torch.equal(box.slice(matched)[inside], box.slice(plain)[inside])


def test_the_original_is_not_modified_and_a_batch_is_stitched_per_image():
    photo, mask = photo_and_mask(90, 70, 7, soft=True)
    before = photo.clone()
    canvas = build_canvas(edit_image=photo, mask=mask, token_budget=256)
    decoded = torch.rand(3, *canvas.image.shape[1:], generator=torch.Generator().manual_seed(8))
    out, blend = stitch(decoded, canvas.layout, grow=2, feather=3, color_match=True)
    want, want_blend = reference_stitch(decoded, canvas.layout, grow=2, feather=3, color_match=True)
    assert torch.equal(photo, before)
    assert out.shape == (3, 90, 70, 3) and torch.allclose(out, want, atol=3e-5, rtol=0)
    assert torch.allclose(blend, want_blend, atol=1e-6, rtol=0)


# --- scattered masks: one box per area ---------------------------------------------------------------------

def scattered_mask(h, w, areas, soft, seed):
    """A [1, h, w] mask with the given (top, left, height, width) areas, hard or soft."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(1, h, w)
    for top, left, ah, aw in areas:
        mask[:, top:top + ah, left:left + aw] = torch.rand(1, ah, aw, generator=gen) if soft else 1.0
    return mask


def far_apart(h, w, seed):
    """Two small areas near opposite corners of an h x w photo (w >= 430: at least 2 (16 + COLOR_RING) px apart)."""
    gen = torch.Generator().manual_seed(seed)
    pick = lambda lo, hi: int(torch.randint(lo, hi, (1,), generator=gen))  # noqa: E731
    first = (pick(0, 30), pick(0, 30), pick(3, 40), pick(3, 40))
    second = (pick(h - 70, h - 40), pick(w - 70, w - 40), pick(3, 40), pick(3, 40))
    return [first, second]


@settings(max_examples=10, deadline=None)
@given(st.integers(300, 360), st.integers(430, 520), st.integers(0, 10_000), st.integers(-3, 8), st.integers(0, 8),
       st.booleans())
def test_scattered_areas_stitch_as_the_whole_image_computation(h, w, seed, grow, feather, soft):
    photo = torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(seed))
    mask = scattered_mask(h, w, far_apart(h, w, seed), soft, seed)
    assert len(blend_boxes(mask, max(grow, 0) + feather)) == 2  # the case under test: the areas are stitched apart
    canvas = build_canvas(edit_image=photo, mask=mask, token_budget=1024)
    decoded = torch.rand(canvas.image.shape, generator=torch.Generator().manual_seed(seed + 1))
    out, blend = stitch(decoded, canvas.layout, grow=grow, feather=feather)
    want, want_blend = reference_stitch(decoded, canvas.layout, grow=grow, feather=feather)
    assert torch.allclose(blend, want_blend, atol=1e-6, rtol=0) and torch.equal(blend == 0, want_blend == 0)
    # Float rounding only: resize_window's float32 weight products against F.interpolate's bicubic.
    assert torch.allclose(out, want, atol=5e-5, rtol=0)
    # Unmasked pixels, the photo between the areas included, are the original bit for bit.
    assert torch.equal(out[blend == 0], photo[blend == 0])


def test_colour_match_corrects_each_area_from_its_own_ring():
    h, w = 416, 896
    photo = torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(11)) * 0.6 + 0.2
    left, right = (200, 60, 48, 48), (180, 800, 40, 40)
    both = build_canvas(edit_image=photo, mask=scattered_mask(h, w, [left, right], False, 0), token_budget=4096)
    assert both.layout.target_panel.w == w  # the panel is the photo at full size: the model's drift is all there is
    # The "model" drifted differently on the two sides of the photo.
    panel = both.layout.target_panel
    decoded = both.image.clone()
    half = panel.x + w // 2
    decoded[:, :, panel.x:half] = decoded[:, :, panel.x:half] * 0.8 + 0.15
    decoded[:, :, half:] = decoded[:, :, half:] * 0.9 - 0.05
    out, blend = stitch(decoded, both.layout, grow=2, feather=4, color_match=True)
    spanning, _ = reference_stitch(decoded, both.layout, grow=2, feather=4, color_match=True)
    plain, _ = stitch(decoded, both.layout, grow=2, feather=4)
    for top, x, ah, aw in (left, right):
        inside = (slice(None), slice(top, top + ah), slice(x, x + aw))
        error = (out[inside] - photo[inside]).abs().mean()
        # Each area's own ring sees only its side's drift and removes it; one ring over both (the spanning box)
        # averages two drifts and corrects neither.
        assert error < 0.01 < (plain[inside] - photo[inside]).abs().mean()
        assert error * 3 < (spanning[inside] - photo[inside]).abs().mean()
    # An area's result does not depend on the other area at all: alone, it stitches to the same pixels.
    for area in (left, right):
        alone = build_canvas(edit_image=photo, mask=scattered_mask(h, w, [area], False, 0), token_budget=4096)
        single, _ = stitch(decoded, alone.layout, grow=2, feather=4, color_match=True)
        (box,) = blend_boxes(alone.layout.source.region_masks[0], 2 + 4)
        assert torch.equal(box.slice(single), box.slice(out))
    assert torch.equal(out[blend == 0], photo[blend == 0])


@settings(max_examples=100, deadline=None)
@given(st.integers(8, 700), st.integers(8, 700), st.integers(-4, 20), st.integers(0, 20),
       st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.integers(1, 60), st.integers(1, 60)), min_size=0,
                max_size=6))
def test_the_work_of_a_scattered_mask_is_bounded_by_its_areas(h, w, grow, feather, areas):
    mask = scattered_mask(h, w, [(int(y * (h - 1)), int(x * (w - 1)), ah, aw) for y, x, ah, aw in areas], False, 0)
    reach = max(grow, 0) + feather
    boxes = blend_boxes(mask, reach)
    hit = mask[0] > 0
    spanning = Rect.bounding(hit)
    if spanning is None:
        assert boxes == ()
        return
    spanning = spanning.grown(reach, h, w)
    # Every pixel the blend can reach lies in exactly one box ...
    cover = torch.zeros(h, w, dtype=torch.int32)
    for box in boxes:
        box.slice(cover[None])[...] += 1
    assert int(cover.max()) == 1
    assert bool((cover[blend_mask(mask, grow=grow, feather=feather)[0] > 0] == 1).all())
    # ... each box is the box of the grown areas it holds, inside the old spanning box, never more in all ...
    for box in boxes:
        inside = Rect.bounding(box.slice(hit[None])[0])
        assert inside.placed_in(box).grown(reach, h, w) == box
        assert box.intersection(spanning) == box
    assert sum(b.w * b.h for b in boxes) <= spanning.w * spanning.h
    # ... and the colour rings around the boxes do not overlap: each area's statistics are its own.
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = max(b.x - a.right, a.x - b.right, b.y - a.bottom, a.y - b.bottom)
            assert apart >= 2 * COLOR_RING
