"""The bounded stitch equals the whole-image computation inside the box and is the original outside it."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lcu.blend import blend_mask, grow_mask, match_color
from lcu.canvas import build_canvas
from lcu.images import resize_image
from lcu.layout import Rect
from lcu.masks import binarize
from lcu.stitch import COLOR_RING, extract_target, nonzero_box, resize_window, stitch


def reference_stitch(decoded, layout, grow=0, feather=0, color_match=False):
    """The stitcher as it was before it was bounded: every step over the whole target region."""
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
        generated = match_color(generated, original_region, context)
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
    box = nonzero_box(mask, 12)
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
