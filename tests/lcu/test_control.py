"""Control maps (gray, mosaic, canny) and compositing them into the edit image."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.control import CONTROL_KINDS, canny_map, composite_control, gray_map, make_control_map, mosaic_map
from aceplusplus.lcu.errors import AcePlusError
from aceplusplus.lcu.images import to_rgb


def rand_image(h=37, w=53, b=1, c=3, seed=0):
    return torch.rand(b, h, w, c, generator=torch.Generator().manual_seed(seed))


def box_mask(h, w, top, bottom, left, right, b=1):
    mask = torch.zeros(b, h, w)
    mask[:, top:bottom, left:right] = 1.0
    return mask


# --- to_rgb -----------------------------------------------------------------------------------------------

def test_to_rgb_converts_grey_and_rgba_and_keeps_rgb():
    grey = rand_image(c=1)
    rgb = to_rgb(grey)
    assert rgb.shape == (1, 37, 53, 3)
    assert torch.equal(rgb[..., 0], grey[..., 0]) and torch.equal(rgb[..., 2], grey[..., 0])
    rgba = rand_image(c=4)
    assert torch.equal(to_rgb(rgba), rgba[..., :3])
    plain = rand_image()
    assert to_rgb(plain) is plain


def test_to_rgb_rejects_other_shapes():
    with pytest.raises(AcePlusError, match=r"2 channels.*RGB \(3\)"):
        to_rgb(torch.rand(1, 4, 4, 2))
    with pytest.raises(AcePlusError, match=r"\[batch, height, width, channels\]"):
        to_rgb(torch.rand(4, 4, 3))


# --- the maps ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", CONTROL_KINDS)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_maps_keep_size_batch_and_range(kind, channels):
    image = rand_image(37, 53, b=2, c=channels)
    out = make_control_map(image, kind)
    assert out.shape == (2, 37, 53, 3) and out.dtype == torch.float32 and out.is_contiguous()
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_gray_map_is_bt601_luma_in_three_equal_channels():
    image = rand_image()
    out = gray_map(image)
    assert torch.equal(out[..., 0], out[..., 1]) and torch.equal(out[..., 1], out[..., 2])
    luma = image @ torch.tensor([0.299, 0.587, 0.114])
    assert torch.allclose(out[..., 0], luma, atol=1e-6)


@pytest.mark.parametrize("cell", [1, 5, 8, 16])
def test_mosaic_cells_are_constant_means_including_partial_edge_cells(cell):
    image = rand_image(37, 53)
    out = mosaic_map(image, cell=cell)
    assert out.shape == image.shape
    for y0 in range(0, 37, cell):
        for x0 in range(0, 53, cell):
            block = out[0, y0:y0 + cell, x0:x0 + cell]
            assert torch.equal(block, block[:1, :1].expand_as(block))
            expected = image[0, y0:y0 + cell, x0:x0 + cell].mean(dim=(0, 1))
            assert torch.allclose(block[0, 0], expected, atol=1e-6)
    if cell == 1:
        assert torch.allclose(out, image)


def test_mosaic_larger_than_the_image_is_one_colour_and_bad_cells_fail():
    image = rand_image(10, 7)
    out = mosaic_map(image, cell=64)
    assert torch.allclose(out, image.mean(dim=(1, 2), keepdim=True).expand_as(image), atol=1e-6)
    for bad in (0, -3, 2.5):
        with pytest.raises(AcePlusError, match="mosaic cell"):
            mosaic_map(image, cell=bad)


@pytest.mark.parametrize("edge_at", [20, 31])
def test_canny_finds_a_vertical_step_edge_at_its_column(edge_at):
    image = torch.zeros(1, 40, 48, 3)
    image[:, :, edge_at:] = 1.0
    edges = canny_map(image)
    assert set(edges.unique().tolist()) <= {0.0, 1.0}
    interior = edges[0, 4:-4, :, 0]
    columns = torch.nonzero(interior.sum(dim=0)).flatten().tolist()
    assert columns and all(edge_at - 1 <= c <= edge_at for c in columns)
    assert bool((interior.sum(dim=1) >= 1).all())  # the edge is unbroken, row after row


def test_canny_finds_a_horizontal_edge_and_nothing_on_a_flat_image():
    image = torch.full((1, 33, 29, 3), 0.3)
    assert float(canny_map(image).max()) == 0.0
    image[:, 16:] = 0.9
    rows = torch.nonzero(canny_map(image)[0, :, 4:-4, 0].sum(dim=1)).flatten().tolist()
    assert rows and all(15 <= r <= 16 for r in rows)


def test_canny_thresholds_and_tiny_images_fail_with_a_fix():
    image = rand_image(16, 16)
    with pytest.raises(AcePlusError, match="low < high"):
        canny_map(image, low=0.5, high=0.2)
    with pytest.raises(AcePlusError, match="0 < low"):
        canny_map(image, low=0.0, high=0.2)
    with pytest.raises(AcePlusError, match="at least 3x3"):
        canny_map(rand_image(2, 16))
    assert canny_map(image, low=0.3, high=0.3).shape == (1, 16, 16, 3)  # equal thresholds are allowed


def test_lower_canny_thresholds_find_at_least_as_many_edges():
    image = rand_image(48, 48, seed=3)
    assert canny_map(image, 0.05, 0.1).sum() >= canny_map(image, 0.5, 0.9).sum()


def test_make_control_map_dispatches_with_params():
    image = rand_image()
    assert torch.equal(make_control_map(image, "mosaic", cell=4), mosaic_map(image, 4))
    assert torch.equal(make_control_map(image, " Canny ", low=0.2, high=0.4), canny_map(image, 0.2, 0.4))
    assert torch.equal(make_control_map(image, "gray"), gray_map(image))
    with pytest.raises(AcePlusError, match="choose one of: gray, mosaic, canny"):
        make_control_map(image, "depth")


# --- composite_control ------------------------------------------------------------------------------------

def test_composite_pastes_inside_the_binarised_mask_and_nothing_else():
    image, control = rand_image(37, 53), rand_image(37, 53, seed=1)
    mask = torch.zeros(1, 37, 53)
    mask[:, 5:20, 10:30] = 0.5  # >= 0.5 counts as inside
    mask[:, 25:30, 10:30] = 0.49  # below: outside
    out = composite_control(image, control, mask)
    inside = mask[0] >= 0.5
    assert out.shape == image.shape and out.dtype == image.dtype
    assert torch.equal(out[0][~inside], image[0][~inside])
    assert torch.equal(out[0][inside], control[0][inside])


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 40), st.integers(3, 40), st.integers(0, 10_000))
def test_composite_leaves_unmasked_pixels_bit_identical(h, w, seed):
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(2, h, w, 3, generator=gen)
    control = torch.rand(1, h, w, 3, generator=gen)
    mask = torch.rand(2, h, w, generator=gen)
    out = composite_control(image, control, mask)
    outside = mask < 0.5
    assert torch.equal(out[outside], image[outside])
    assert torch.equal(out[~outside], control.expand(2, -1, -1, -1)[~outside])


def test_composite_resizes_a_control_of_the_same_aspect_ratio():
    image = rand_image(64, 96)
    control = torch.full((1, 32, 48, 3), 0.25)
    mask = box_mask(64, 96, 10, 50, 20, 70)
    out = composite_control(image, control, mask)
    assert torch.allclose(out[0, 10:50, 20:70], torch.full((40, 50, 3), 0.25), atol=1e-6)
    assert torch.equal(out[0, :10], image[0, :10])
    # within 1 %: 96/64 = 1.5 against 97/65 = 1.492
    assert composite_control(image, rand_image(65, 97), mask).shape == image.shape


def test_composite_rejects_another_aspect_ratio_naming_both_sizes():
    image = rand_image(64, 96)
    with pytest.raises(AcePlusError, match=r"50x32 but the image is 96x64.*another aspect.*resize"):
        composite_control(image, rand_image(32, 50), box_mask(64, 96, 0, 8, 0, 8))
    with pytest.raises(AcePlusError, match=r"mask is 64x64 but the image is 96x64"):
        composite_control(image, image, box_mask(64, 64, 0, 8, 0, 8))


def test_composite_broadcasts_batches_of_one_and_rejects_others():
    image = rand_image(20, 24, b=3)
    control = rand_image(20, 24, b=1, seed=1)
    mask = box_mask(20, 24, 0, 10, 0, 24)
    out = composite_control(image, control, mask)
    assert out.shape == (3, 20, 24, 3)
    for i in range(3):
        assert torch.equal(out[i, :10], control[0, :10]) and torch.equal(out[i, 10:], image[i, 10:])
    assert torch.equal(composite_control(image, control, mask[0]), out)  # a single [H, W] mask
    with pytest.raises(AcePlusError, match="control map has a batch of 2 but the image has a batch of 3"):
        composite_control(image, rand_image(20, 24, b=2), mask)
    with pytest.raises(AcePlusError, match="mask has a batch of 2"):
        composite_control(image, control, box_mask(20, 24, 0, 10, 0, 24, b=2))


def test_composite_accepts_grey_and_rgba_inputs():
    image = rand_image(16, 16, c=4)
    control = rand_image(16, 16, c=1, seed=2)
    out = composite_control(image, control, box_mask(16, 16, 0, 8, 0, 16))
    assert out.shape == (1, 16, 16, 3)
    assert torch.equal(out[0, 8:], image[0, 8:, :, :3])
    assert torch.equal(out[0, :8, :, 1], control[0, :8, :, 0])
