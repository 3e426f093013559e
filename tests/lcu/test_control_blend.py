"""Control maps and the blend mask (pure tensors)."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lcu.blend import blend_mask, feather_mask, grow_mask, match_color
from lcu.control import canny_map, composite_control, gray_map, make_control_map, mosaic_map, to_rgb
from lcu.layout import AcePlusError


def image(h=37, w=53, b=1, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def square_mask(h=64, w=64, box=(20, 40, 20, 40)):
    mask = torch.zeros(1, h, w)
    mask[:, box[0]:box[1], box[2]:box[3]] = 1
    return mask


@pytest.mark.parametrize("kind", ["gray", "mosaic", "canny"])
def test_maps_keep_shape_at_odd_sizes(kind):
    out = make_control_map(image(), kind)
    assert out.shape == (1, 37, 53, 3) and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_gray_is_gray():
    out = gray_map(image())
    assert torch.equal(out[..., 0], out[..., 1]) and torch.equal(out[..., 1], out[..., 2])


def test_mosaic_cells_are_constant_including_partial_ones():
    out = mosaic_map(image(), cell=8)
    for y0 in range(0, 37, 8):
        for x0 in range(0, 53, 8):
            block = out[0, y0:y0 + 8, x0:x0 + 8]
            assert torch.allclose(block, block[0, 0].expand_as(block))
    img = image()
    assert torch.allclose(out[0, 32, 48], img[0, 32:37, 48:53].mean(dim=(0, 1)), atol=1e-6)


def test_canny_finds_a_step_edge():
    img = torch.zeros(1, 32, 32, 3)
    img[:, :, 16:] = 1.0
    edges = canny_map(img)[0, 8:24, :, 0]
    columns = torch.nonzero(edges.sum(dim=0)).flatten().tolist()
    assert columns and all(14 <= c <= 17 for c in columns)
    with pytest.raises(AcePlusError, match="low < high"):
        canny_map(img, low=0.5, high=0.2)


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(AcePlusError, match="gray, mosaic, canny"):
        make_control_map(image(), "depth")


def test_composite_only_inside_the_mask():
    img, control = image(64, 64), image(32, 32, seed=1)  # same aspect: resized
    out = composite_control(img, control, square_mask())
    inside = square_mask().bool()[0]
    assert torch.equal(out[0][~inside], img[0][~inside])
    assert not torch.equal(out[0][inside], img[0][inside])
    with pytest.raises(AcePlusError, match="another aspect"):
        composite_control(img, image(32, 48), square_mask())
    with pytest.raises(AcePlusError, match="batch of 2"):
        composite_control(image(64, 64, b=3), image(64, 64, b=2), square_mask())


def test_to_rgb():
    assert to_rgb(torch.rand(1, 4, 4, 1)).shape == (1, 4, 4, 3)
    rgba = torch.rand(1, 4, 4, 4)
    assert torch.equal(to_rgb(rgba), rgba[..., :3])


def test_grow_and_shrink():
    mask = square_mask()
    assert torch.equal(grow_mask(mask, 0), mask)
    grown = grow_mask(mask, 3)
    assert grown.sum() == 26 * 26 and torch.all(grown >= mask)
    assert torch.equal(grow_mask(grown, -3), mask)
    assert grow_mask(mask, -3).sum() == 14 * 14


def test_grow_is_fast_on_large_masks():
    import time
    mask = torch.zeros(1, 2048, 2048)
    mask[:, 900:1100, 900:1100] = 1
    start = time.perf_counter()
    grown = grow_mask(mask, 64)
    assert time.perf_counter() - start < 5.0
    assert grown.sum() == (200 + 128) ** 2


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 6), st.integers(-4, 6), st.integers(0, 99))
def test_blend_is_exactly_zero_far_from_the_mask(feather, grow, seed):
    mask = (torch.rand(1, 40, 40, generator=torch.Generator().manual_seed(seed)) > 0.98).float()
    blend = blend_mask(mask, grow=grow, feather=feather)
    assert float(blend.min()) >= 0 and float(blend.max()) <= 1
    reach = grow_mask((grow_mask(mask, grow) > 0).float(), feather)
    assert torch.all(blend[reach == 0] == 0)


def test_feather_softens_the_edge():
    soft = feather_mask(square_mask(), 4)
    assert 0 < float(soft[0, 20, 30]) < 1 and float(soft[0, 30, 30]) > 0.95 and float(soft[0, 10, 10]) == 0


def test_match_color_removes_a_colour_drift():
    original = image(48, 48)
    region = torch.ones(1, 48, 48)
    assert torch.allclose(match_color(original, original, region), original, atol=1e-3)
    drifted = original * 0.8 + 0.1
    fixed = match_color(drifted, original, region)
    assert (fixed - original).abs().mean() < 0.02 < (drifted - original).abs().mean()
    assert torch.equal(match_color(drifted, original, torch.zeros(1, 48, 48)), drifted)
