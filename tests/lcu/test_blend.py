"""Grow, feather and blend masks (exact zeros far from the mask) and the Lab colour transfer."""
import time

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.blend import MIN_CONTEXT_PIXELS, blend_mask, feather_mask, fit_color, grow_mask
from aceplusplus.lcu.errors import AcePlusError


def box_mask(h=64, w=64, top=20, bottom=40, left=20, right=40, b=1):
    mask = torch.zeros(b, h, w)
    mask[:, top:bottom, left:right] = 1.0
    return mask


def reference_dilation(mask, p):
    """A square max filter that ignores the pixels outside the image (padding -inf)."""
    x = F.pad(mask.unsqueeze(1), (p, p, p, p), value=float("-inf"))
    return F.max_pool2d(x, 2 * p + 1, stride=1).squeeze(1)


def reference_grow(mask, p):
    return reference_dilation(mask, p) if p >= 0 else -reference_dilation(-mask, -p)


def chessboard_reach(mask, p):
    """1 where some non-zero pixel of `mask` lies within chessboard distance p."""
    return reference_dilation((mask > 0).float(), p) > 0


# --- grow_mask --------------------------------------------------------------------------------------------

def test_grow_zero_is_the_input_itself():
    mask = box_mask()
    assert grow_mask(mask, 0) is mask


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 45), st.integers(1, 45), st.integers(-50, 50), st.integers(0, 10_000), st.booleans())
def test_grow_is_exactly_a_square_grey_level_max_or_min_filter(h, w, p, seed, soft):
    values = torch.rand(2, h, w, generator=torch.Generator().manual_seed(seed))
    mask = values if soft else (values > 0.9).float()
    assert torch.equal(grow_mask(mask, p), reference_grow(mask, p))


def test_grow_is_monotonic_in_p():
    mask = torch.rand(1, 37, 53, generator=torch.Generator().manual_seed(1)) ** 4
    previous = grow_mask(mask, -6)
    for p in range(-5, 7):
        current = grow_mask(mask, p)
        assert torch.all(current >= previous)
        previous = current
    assert torch.all(grow_mask(mask, -1) <= mask) and torch.all(mask <= grow_mask(mask, 1))


@pytest.mark.parametrize("p", [1, 3, 9])
def test_grow_then_shrink_recovers_a_square(p):
    inner = box_mask(64, 64, 20, 40, 22, 41)
    grown = grow_mask(inner, p)
    assert grown.sum() == (20 + 2 * p) * (19 + 2 * p)
    assert torch.equal(grow_mask(grown, -p), inner)
    corner = box_mask(40, 40, 0, 12, 0, 15)  # touching the borders: they are not eroded into
    assert torch.equal(grow_mask(grow_mask(corner, p), -p), corner)


def test_grow_keeps_a_2d_mask_2d_and_rejects_fractions():
    mask = box_mask()[0]
    assert grow_mask(mask, 2).shape == (64, 64)
    assert grow_mask(mask, 2.0).shape == (64, 64)
    with pytest.raises(AcePlusError, match="whole number"):
        grow_mask(mask, 1.5)


def test_grow_is_fast_on_a_large_mask():
    mask = box_mask(2048, 2048, 900, 1100, 950, 1150)
    grow_mask(mask, 4)  # warm up
    start = time.perf_counter()
    grown = grow_mask(mask, 64)
    elapsed = time.perf_counter() - start
    assert grown.sum() == (200 + 128) ** 2
    assert elapsed < 5.0, f"grow_mask(2048x2048, 64) took {elapsed:.2f} s"


# --- feather_mask -----------------------------------------------------------------------------------------

def test_feather_zero_is_the_input_itself_and_negative_fails():
    mask = box_mask()
    assert feather_mask(mask, 0) is mask
    with pytest.raises(AcePlusError, match="grow < 0"):
        feather_mask(mask, -2)


@pytest.mark.parametrize("p", [1, 4, 12])
def test_feather_softens_the_edge_inside_its_reach_only(p):
    mask = box_mask(80, 80, 30, 50, 30, 50)
    soft = feather_mask(mask, p)
    assert float(soft.min()) >= 0.0 and float(soft.max()) <= 1.0
    reach = chessboard_reach(mask, p)
    assert torch.all(soft[~reach] == 0.0)
    assert torch.all(soft[grow_mask(mask, -p) == 1] == 1.0)  # solid interior stays exactly 1
    assert 0.0 < float(soft[0, 30, 40]) < 1.0 and 0.0 < float(soft[0, 29, 40]) < 1.0
    row = soft[0, 40, 30 - p:40]  # from outside to the centre: non-decreasing
    assert torch.all(row[1:] >= row[:-1])
    assert torch.allclose(soft, soft.flip(-1)) and torch.allclose(soft, soft.transpose(-1, -2))


def test_feather_of_a_mask_touching_the_border_does_not_fade_there():
    mask = box_mask(40, 40, 0, 40, 0, 20)
    soft = feather_mask(mask, 6)
    assert torch.all(soft[0, :, :10] == 1.0)


# --- blend_mask -------------------------------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(st.integers(8, 40), st.integers(8, 40), st.integers(-4, 6), st.integers(0, 8), st.integers(0, 10_000),
       st.sampled_from([0.5, 0.95, 0.99]))
def test_blend_mask_is_exactly_zero_far_from_the_mask(h, w, grow, feather, seed, threshold):
    values = torch.rand(1, h, w, generator=torch.Generator().manual_seed(seed))
    mask = torch.where(values > threshold, values, torch.zeros_like(values))  # sparse and soft
    blend = blend_mask(mask, grow=grow, feather=feather)
    assert blend.shape == mask.shape
    assert float(blend.min()) >= 0.0 and float(blend.max()) <= 1.0
    assert torch.all(blend[~chessboard_reach(mask, max(grow, 0) + feather)] == 0.0)


def test_blend_mask_composes_grow_then_feather():
    mask = box_mask()
    assert torch.equal(blend_mask(mask), mask)
    assert torch.equal(blend_mask(mask, grow=3, feather=5), feather_mask(grow_mask(mask, 3), 5).clamp(0, 1))
    assert torch.equal(blend_mask(mask, grow=-30), torch.zeros_like(mask))


# --- colour match: fit_color, then ColorTransfer.apply (as the stitcher does) ----------------------------------

def rand_image(h=48, w=48, b=1, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def test_fit_color_finds_nothing_to_change_when_nothing_drifted():
    original = rand_image(b=2)
    region = box_mask(48, 48, 0, 48, 0, 20)
    assert fit_color(original, original, region) is None


def test_the_transfer_removes_a_colour_shift_over_the_region_and_applies_to_any_crop():
    original = rand_image(48, 64, seed=4)
    generated = original * 0.8 + 0.1
    region = torch.ones(1, 48, 64)
    region[:, 16:32, 20:44] = 0.0  # the generated hole does not count
    transfer = fit_color(generated, original, region)
    fixed = transfer.apply(generated)
    context = region[0] > 0
    before = (generated - original)[0][context].abs().mean()
    after = (fixed - original)[0][context].abs().mean()
    assert after < 0.02 < before
    assert float(fixed.min()) >= 0.0 and float(fixed.max()) <= 1.0
    # The stitcher fits on a ring and applies to the box inside it: a crop comes out as that crop of the whole.
    assert torch.equal(transfer.apply(generated[:, 16:32, 20:44]), fixed[:, 16:32, 20:44])


def test_fit_color_needs_enough_reference_pixels_per_image():
    original = rand_image(b=2, seed=5)
    generated = original * 0.8 + 0.1
    region = torch.zeros(2, 48, 48)
    region[0] = 1.0
    region[1, 0, :MIN_CONTEXT_PIXELS - 1] = 1.0  # one pixel short
    fixed = fit_color(generated, original, region).apply(generated)
    assert torch.equal(fixed[1], generated[1])
    assert (fixed[0] - original[0]).abs().mean() < 0.02
    assert fit_color(generated, original, torch.zeros(1, 48, 48)) is None


def test_the_transfer_on_a_flat_region_stays_finite_and_in_range():
    original = torch.full((1, 32, 32, 3), 0.5)
    generated = torch.full((1, 32, 32, 3), 0.6)
    generated[:, 10:20, 10:20] = torch.tensor([0.9, 0.1, 0.3])  # detail only in the hole
    region = torch.ones(1, 32, 32)
    region[:, 10:20, 10:20] = 0.0
    fixed = fit_color(generated, original, region).apply(generated)
    assert torch.isfinite(fixed).all() and float(fixed.min()) >= 0.0 and float(fixed.max()) <= 1.0
    assert torch.allclose(fixed[0, 0, 0], original[0, 0, 0], atol=0.01)
    assert (fixed[0, 15, 15] - fixed[0, 0, 0]).abs().max() > 0.2  # the hole's detail survives


def test_fit_color_broadcasts_an_original_of_batch_one_and_checks_sizes():
    original = rand_image(seed=6)
    generated = torch.cat([original * 0.9 + 0.05, original * 0.8 + 0.1])
    fixed = fit_color(generated, original, torch.ones(1, 48, 48)).apply(generated)
    assert fixed.shape == generated.shape
    assert ((fixed - original).abs().mean(dim=(1, 2, 3)) < 0.02).all()
    with pytest.raises(AcePlusError, match="original is 40x48 but the generated image is 48x48"):
        fit_color(generated, rand_image(48, 40), torch.ones(1, 48, 48))
    with pytest.raises(AcePlusError, match="reference region has a batch of 3"):
        fit_color(generated, original, torch.ones(3, 48, 48))
