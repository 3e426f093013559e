"""Several regions of one photo: splitting the mask, one canvas batch of common size, stitching every region back.

ACEPP_REGION_CASES sets how many random cases the property test draws (320 by default).
"""
import math
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.blend import blend_mask
from aceplusplus.lcu.canvas import build_canvas
from aceplusplus.lcu.errors import AcePlusError
from aceplusplus.lcu.layout import Rect
from aceplusplus.lcu.regions import GRID_CELLS, batch_regions, cell_size, common_crops, component_regions
from aceplusplus.lcu.stitch import stitch

from checks import assert_grid


def photo(h, w, seed=0, b=1):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def blank(h, w, b=1):
    return torch.zeros(b, h, w)


def paint(mask, rect, value=1.0):
    mask[:, rect.y:rect.bottom, rect.x:rect.right] = value
    return mask


def region_blend(layout, i, grow, feather):
    """Region i's blend mask placed in photo coordinates: where its generated pixels may land."""
    region = layout.target_regions[i]
    out = torch.zeros(layout.target_height, layout.target_width)
    out[region.y:region.bottom, region.x:region.right] = blend_mask(layout.source.region_masks[i], grow, feather)[0]
    return out


def assert_one_aspect(crops, height, width):
    """Every crop inside the photo, all of one aspect up to the rounding of a side to whole pixels."""
    for a in crops:
        assert 0 <= a.x and a.right <= width and 0 <= a.y and a.bottom <= height
        for b in crops:
            slack = max(1.0, a.w / a.h) / min(a.w, a.h) + max(1.0, b.w / b.h) / min(b.w, b.h)
            assert abs(a.w / a.h - b.w / b.h) <= slack + 1e-9


# --- splitting the mask --------------------------------------------------------------------------------------

def test_components_split_in_reading_order_and_drop_specks():
    mask = blank(300, 400)
    paint(mask, Rect(300, 20, 50, 40))  # top right
    paint(mask, Rect(20, 200, 60, 60))  # bottom left
    paint(mask, Rect(30, 30, 40, 30))  # top left
    paint(mask, Rect(200, 150, 5, 5))  # a 25 px speck
    split = component_regions(mask, merge_distance=0, min_area=64)
    assert split.boxes == (Rect(300, 20, 50, 40), Rect(30, 30, 40, 30), Rect(20, 200, 60, 60))
    assert len(component_regions(mask, merge_distance=0, min_area=25)) == 4


def test_close_components_merge_far_ones_do_not():
    mask = paint(paint(blank(200, 300), Rect(20, 20, 40, 40)), Rect(80, 20, 40, 40))  # a 20 px gap
    assert len(component_regions(mask, merge_distance=0)) == 2
    assert len(component_regions(mask, merge_distance=10)) == 2
    merged = component_regions(mask, merge_distance=24)
    assert merged.boxes == (Rect(20, 20, 100, 40),)


def test_each_region_owns_its_soft_fringe_and_nothing_of_the_others():
    mask = blank(200, 300)
    paint(mask, Rect(10, 10, 60, 60), 0.3)  # a faint fringe around the first region
    paint(mask, Rect(20, 20, 40, 40))
    paint(mask, Rect(200, 100, 50, 50))
    split = component_regions(mask, merge_distance=0, min_area=0)
    assert len(split) == 2
    whole = Rect(0, 0, 300, 200)
    first, second = split.mask_in(0, whole)[0], split.mask_in(1, whole)[0]
    assert torch.equal(first + second, mask[0])  # every soft value belongs to exactly one region
    assert float(first[20:60, 20:60].min()) == 1.0 and float(first[10:20, 10:70].max()) == pytest.approx(0.3)
    assert not bool(second[:, :150].any())


def test_a_large_photo_is_labelled_on_a_bounded_grid():
    assert cell_size(512, 300) == 1 and cell_size(4096, 4096) == 4096 // GRID_CELLS
    mask = paint(paint(blank(4096, 4096), Rect(100, 100, 256, 256)), Rect(3740, 3740, 256, 256))
    split = component_regions(mask)
    assert split.boxes == (Rect(100, 100, 256, 256), Rect(3740, 3740, 256, 256))


def test_mask_batch_gives_one_region_per_item():
    masks = torch.cat([paint(blank(100, 100), Rect(10, 10, 20, 20)), paint(blank(100, 100), Rect(60, 60, 30, 30))])
    split = batch_regions(masks)
    assert split.boxes == (Rect(10, 10, 20, 20), Rect(60, 60, 30, 30))
    assert torch.equal(split.mask_in(1, Rect(0, 0, 100, 100)), masks[1:2])


def test_crops_share_one_aspect_and_contain_their_regions():
    boxes = (Rect(10, 10, 30, 90), Rect(200, 40, 120, 20), Rect(150, 150, 40, 40))
    crops = common_crops(boxes, 8, 240, 360)
    assert_one_aspect(crops, 240, 360)
    for crop, box in zip(crops, boxes):
        assert crop.x <= box.x and crop.right >= box.right and crop.y <= box.y and crop.bottom >= box.bottom
    assert 0.25 <= crops[0].w / crops[0].h <= 4


# --- the property: any regions of any photo round-trip -------------------------------------------------------

@st.composite
def photos_with_regions(draw):
    # Photos within ACE++'s 4:1 (a region spanning a wider photo is an error, tested below).
    height = draw(st.integers(48, 240))
    width = draw(st.integers(max(48, -(-height // 4)), min(240, 4 * height)))
    count = draw(st.integers(1, 6))
    rects = []
    for _ in range(count):
        w, h = draw(st.integers(1, max(1, width // 3))), draw(st.integers(1, max(1, height // 3)))
        rects.append(Rect(draw(st.integers(0, width - w)), draw(st.integers(0, height - h)), w, h))
    mode = draw(st.sampled_from(["connected_components", "mask_batch"]))
    soft = draw(st.booleans())
    return dict(height=height, width=width, rects=rects, mode=mode, soft=soft, seed=draw(st.integers(0, 2**16)),
                merge=draw(st.integers(0, 40)), margin=draw(st.integers(0, 48)),
                budget=draw(st.sampled_from([64, 256, 1024, 4096])), grow=draw(st.integers(-4, 8)),
                feather=draw(st.integers(0, 8)), references=draw(st.sampled_from([0, 1, "per region"])))


@settings(max_examples=int(os.environ.get("ACEPP_REGION_CASES", 320)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=photos_with_regions())
def test_any_regions_round_trip_into_the_one_photo(case):
    gen = torch.Generator().manual_seed(case["seed"])
    height, width, rects = case["height"], case["width"], case["rects"]
    image = torch.rand(1, height, width, 3, generator=gen)
    masks = blank(height, width, len(rects))
    for i, rect in enumerate(rects):
        value = 0.5 + 0.5 * torch.rand(1, rect.h, rect.w, generator=gen) if case["soft"] else 1.0
        masks[i, rect.y:rect.bottom, rect.x:rect.right] = value
    mask = masks if case["mode"] == "mask_batch" else masks.amax(dim=0, keepdim=True)
    count = len(rects) if case["mode"] == "mask_batch" else None
    refs = []
    if case["references"] == 1:
        refs = [torch.rand(1, 30, 40, 3, generator=gen)]
    elif case["references"] == "per region":
        split = component_regions(mask, case["merge"], 0, 64) if count is None else None
        refs = [torch.rand(count or len(split), 30, 40, 3, generator=gen)]
    canvas = build_canvas(refs, edit_image=image, mask=mask, token_budget=case["budget"], regions=case["mode"],
                          context_margin=case["margin"], merge_distance=case["merge"], min_region_area=0,
                          max_regions=64)
    layout = canvas.layout
    n = len(layout.target_regions)
    if count is not None:
        assert n == count
    # One canvas per region, every one within the budget and on the grid, crops of one aspect inside the photo.
    assert canvas.image.shape == (n, layout.canvas_height, layout.canvas_width, 3)
    assert canvas.mask.shape == (n, layout.canvas_height, layout.canvas_width)
    assert_grid(layout)
    assert_one_aspect(layout.target_regions, height, width)
    # Every pixel the user marked (at or above 0.5) is in some region's mask.
    covered = torch.zeros(height, width, dtype=torch.bool)
    for i, region in enumerate(layout.target_regions):
        covered[region.y:region.bottom, region.x:region.right] |= layout.source.region_masks[i][0] >= 0.5
    assert torch.equal(covered, (mask >= 0.5).any(dim=0))
    # The round trip: the photo's size, the original outside every blend mask, each region only inside its own.
    grow, feather = case["grow"], case["feather"]
    decoded = torch.rand(canvas.image.shape, generator=gen)
    out, blend = stitch(decoded, layout, grow=grow, feather=feather)
    assert out.shape == image.shape and blend.shape == (1, height, width)
    assert torch.equal(out[blend == 0], image[blend == 0])
    own = [region_blend(layout, i, grow, feather) for i in range(n)]
    union = torch.stack(own).amax(dim=0)
    assert torch.equal(blend[0] > 0, union > 0)
    for i in range(n):
        changed = decoded.clone()
        changed[i] = torch.rand(changed[i].shape, generator=gen)
        moved = (stitch(changed, layout, grow=grow, feather=feather)[0] != out).any(dim=-1)[0]
        assert not bool(moved[own[i] == 0].any()), f"region {i} changed pixels outside its own blend mask"


# --- order, references and bad input ------------------------------------------------------------------------

def test_a_later_region_blends_over_an_earlier_one_where_grown_masks_touch():
    mask = torch.cat([paint(blank(128, 128), Rect(10, 10, 40, 40)), paint(blank(128, 128), Rect(60, 60, 40, 40))])
    canvas = build_canvas(edit_image=photo(128, 128), mask=mask, regions="mask_batch", context_margin=32)
    decoded = torch.zeros(canvas.image.shape)
    decoded[1] = 1.0  # region 2 all white, region 1 all black
    out, blend = stitch(decoded, canvas.layout, grow=12)
    overlap = (region_blend(canvas.layout, 0, 12, 0) > 0) & (region_blend(canvas.layout, 1, 12, 0) > 0)
    assert bool(overlap.any())
    assert torch.allclose(out[0][overlap], torch.ones(1), atol=1e-5)  # white: the later region on top
    assert torch.equal(blend[0][overlap], torch.ones_like(blend[0][overlap]))


def test_reference_item_i_goes_to_region_i():
    mask = paint(paint(blank(200, 200), Rect(10, 10, 40, 40)), Rect(150, 150, 40, 40))
    faces = torch.stack([torch.full((32, 32, 3), 0.2), torch.full((32, 32, 3), 0.9)])
    canvas = build_canvas([faces], edit_image=photo(200, 200), mask=mask, regions="connected_components")
    panel = canvas.layout.reference_panels[0]
    assert torch.allclose(panel.slice(canvas.image)[0], torch.tensor(0.2))
    assert torch.allclose(panel.slice(canvas.image)[1], torch.tensor(0.9))


def test_a_large_photo_gets_native_resolution_per_region():
    big = photo(2048, 2048)
    mask = paint(paint(blank(2048, 2048), Rect(100, 100, 200, 200)), Rect(1700, 1700, 200, 200))
    spanning = build_canvas(edit_image=big, mask=mask, context_margin=64, token_budget=4096)
    regions = build_canvas(edit_image=big, mask=mask, context_margin=64, token_budget=2048,
                           regions="connected_components")
    assert spanning.layout.panel_scale(spanning.layout.target_region) < 0.6
    assert all(regions.layout.panel_scale(r) >= 0.95 for r in regions.layout.target_regions)
    out, blend = stitch(torch.rand(regions.image.shape), regions.layout)
    assert out.shape == big.shape and torch.equal(out[blend == 0], big[blend == 0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(mask=paint(blank(100, 100), Rect(5, 5, 4, 4)), min_region_area=50),
     r"no region of the mask covers min_region_area \(50 px\): the largest has 16 px; set min_region_area to 16 "
     r"\(or less\)"),
    (dict(mask=sum(paint(blank(100, 100), Rect(10 * i, 10 * i, 4, 4)) for i in range(5)), max_regions=3,
          merge_distance=0, min_region_area=0),
     r"the mask gives 5 regions .* more than max_regions 3; set max_regions to 5"),
    (dict(mask=paint(blank(100, 100, 3), Rect(5, 5, 9, 9)), regions="mask_batch", max_regions=2),
     r"the mask gives 3 regions \(one per item of the mask batch\), more than max_regions 2; set max_regions to 3"),
    (dict(mask=paint(blank(50, 100, 2), Rect(5, 5, 9, 9)), regions="mask_batch"),
     r"the mask is 100x50 but the image is 100x100, another aspect ratio"),
    (dict(mask=torch.cat([paint(blank(100, 100), Rect(5, 5, 9, 9)), blank(100, 100)]), regions="mask_batch"),
     r"item 2 of the 2 masks has nothing to generate .*; paint it, or remove it from the batch"),
    (dict(mask=paint(paint(blank(100, 100), Rect(5, 5, 9, 9)), Rect(80, 80, 9, 9)), merge_distance=0,
          references=[torch.rand(3, 20, 20, 3)]),
     r"the reference 1 has a batch of 3 but there are 2 regions; give 1 \(used for every region\) or 2"),
    (dict(references=[torch.rand(2, 20, 20, 3)]),
     r"the reference 1 has a batch of 2 but there is only 1 region; give a batch of 1 \(used for the region\), or 2 "
     r"regions \(item i for region i\)"),
    (dict(edit_image=photo(100, 100, b=2)),
     r"edits several areas of one photo, but the edit image has a batch of 2; give one image, or set regions to one"),
    (dict(edit_image=None, mask=None, target_size=(64, 64), references=[torch.rand(1, 20, 20, 3)]),
     r"regions is connected_components, which needs an edit image and its mask"),
    (dict(mask=paint(blank(100, 100, 2), Rect(5, 5, 9, 9))),
     r"splits one mask into regions, but the mask has a batch of 2; give one mask, or set regions to mask_batch"),
    (dict(edit_image=photo(48, 213), mask=paint(blank(48, 213), Rect(5, 0, 200, 1)), context_margin=0),
     r"the regions of this 213x48 photo cannot share one aspect within the 4:1 ACE\+\+ supports \(the widest crop is "
     r"200 px, the tallest 48 px\); crop or pad the photo to at most 4:1, or paint the regions less wide"),
    (dict(edit_image=photo(48, 213), mask=paint(blank(48, 213), Rect(9, 0, 184, 1))),
     r"cannot share one aspect .*\(the widest crop is 200 px, the tallest 48 px\); set context_margin to 0\."),
    (dict(regions="many"), r"unknown regions 'many'; use one of one, connected_components, mask_batch"),
])
def test_bad_regions_name_the_fix(kwargs, message):
    args = dict(edit_image=photo(100, 100), mask=paint(blank(100, 100), Rect(5, 5, 9, 9)),
                regions="connected_components", context_margin=8)
    args.update(kwargs)
    with pytest.raises(AcePlusError, match=message) as info:
        build_canvas(**args)
    assert str(info.value).startswith("[ACE++]")


def test_a_decoded_batch_that_is_not_one_per_region_is_an_error():
    mask = paint(paint(blank(100, 100), Rect(5, 5, 9, 9)), Rect(80, 80, 9, 9))
    canvas = build_canvas(edit_image=photo(100, 100), mask=mask, regions="connected_components", merge_distance=0)
    with pytest.raises(AcePlusError, match="the decoded batch has 4 images but the layout has 2 regions"):
        stitch(canvas.image.repeat(2, 1, 1, 1), canvas.layout)
    with pytest.raises(AcePlusError, match="this layout has 2 regions"):
        canvas.layout.target_region


def test_no_mask_with_components_is_the_whole_photo():
    canvas = build_canvas(edit_image=photo(64, 96), mask=None, regions="connected_components")
    assert canvas.layout.target_regions == (Rect(0, 0, 96, 64),)
    assert math.isclose(canvas.layout.panel_scale(canvas.layout.target_region), 1.0)
