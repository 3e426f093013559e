"""The recipes' canvases against their public code (tools/recipe_sizes.py), on fixed cases of this file's own, none
of them the script's held-out sizes: ICEdit's canvas is always the public one (at the size FluxFillPipeline
diffuses), Insert Anything's whenever the pack's square crop fits in the photo, CatVTON's whenever the crop can be
widened to 3:4 in the photo; the pack's target panel never stretches the region (beyond the 16 px grid) and the
user always gets the photo's own size back."""
import pytest

from aceplusplus.lcu.layout import Rect
from aceplusplus.nodes.recipes import RECIPES
from aceplusplus.tools.recipe_sizes import (Case, box2squre, compare, expand_bbox, floor16, held_out_cases,
                                            icedit_public, insert_anything_crop, stretch, unstretched)

ICEDIT = [(3000, 2000), (512, 700), (4000, 2250), (1920, 1080), (777, 1333)]  # photo (width, height)

# (photo w, h, mask box, reference w, h, reference mask box): the pack's square crop (box + 128 px a side) fits
INSERT_FITS = [
    (2000, 1500, Rect(800, 600, 300, 200), 1200, 1600, Rect(200, 300, 700, 900)),
    (1024, 1024, Rect(0, 0, 100, 400), 900, 900, Rect(100, 100, 600, 500)),  # a corner: the public crop is cut
    (3000, 2000, Rect(1800, 500, 900, 1200), 2048, 1536, Rect(0, 0, 2048, 1536)),
]
INSERT_TOO_NARROW = [(600, 1800, Rect(200, 500, 200, 700), 800, 600, Rect(10, 10, 700, 500))]  # 456x956 in 600 wide

# (photo w, h, mask box, garment w, h): the crop (box + 64 px a side) widens to exactly 3:4 or rounds up to it
CATVTON_FITS = [
    (1500, 2000, Rect(400, 300, 400, 896), 1000, 1400),  # 528x1024 -> 768x1024
    (2400, 3200, Rect(600, 900, 1000, 600), 3000, 2000),  # 1128x728 -> 1128x1504
    (3000, 4000, Rect(500, 800, 1736, 2000), 1200, 1200),  # 1864x2128 -> 1864x2485 (768 w/h = 576.08)
]
CATVTON_CANNOT = [(1600, 900, Rect(200, 300, 1200, 300), 900, 1200)]  # a wide box in a landscape photo
# The 3:4 crop fits, but widen_to rounds it to 752x1003 (a hair under 3:4) and the panel floors to 560 px.
CATVTON_ROUNDED_DOWN = (2000, 3000, Rect(500, 800, 300, 875), 900, 1200)


def insert_case(w, h, box, rw, rh, rbox) -> Case:
    return Case("insert_anything", (h, w), box, (rh, rw), rbox)


def catvton_case(w, h, box, gw, gh) -> Case:
    return Case("catvton", (h, w), box, (gh, gw))


def square_fits(case: Case, margin: int = 128) -> bool:
    """The mask box grown by the margin (clipped to the photo) fits in the photo once widened to a square."""
    height, width = case.edit_hw
    return max(min(width, case.box.w + 2 * margin), min(height, case.box.h + 2 * margin)) <= min(width, height)


def three_four_fits(case: Case, margin: int = 64) -> bool:
    height, width = case.edit_hw
    b = case.box
    assert b.x >= margin and b.y >= margin and b.right + margin <= width and b.bottom + margin <= height
    w, h = b.w + 2 * margin, b.h + 2 * margin
    return round(0.75 * h) <= width if w < 0.75 * h else round(w / 0.75) <= height


def check_pack_promises(row) -> None:
    pack = row.pack
    assert unstretched(pack.target, pack.region), (pack.target, pack.region)
    assert pack.output == (row.case.edit_hw[1], row.case.edit_hw[0])
    assert pack.canvas[0] % 16 == 0 and pack.canvas[1] % 16 == 0


def test_the_recipes_are_the_three_compared():
    assert set(RECIPES) == {"icedit", "insert_anything", "catvton"}


def test_no_case_here_is_a_held_out_one():
    held = {(c.key, c.edit_hw) for key in RECIPES for c in held_out_cases(key)}
    mine = ([("icedit", (h, w)) for w, h in ICEDIT]
            + [("insert_anything", (c[1], c[0])) for c in INSERT_FITS + INSERT_TOO_NARROW]
            + [("catvton", (c[1], c[0])) for c in CATVTON_FITS + CATVTON_CANNOT + [CATVTON_ROUNDED_DOWN]])
    assert not held & set(mine)
    assert all(len(held_out_cases(key)) >= 6 for key in RECIPES)


@pytest.mark.parametrize("width,height", ICEDIT)
def test_icedit_canvas_is_the_public_one(width, height):
    public = icedit_public(width, height)
    expected_h = height if width == 512 else (int(height * 512 / width) // 8) * 8  # inference.py L40-46
    assert public.output == (512, expected_h)
    assert public.canvas == (1024, floor16(expected_h))  # what FluxFillPipeline diffuses
    row = compare(Case("icedit", (height, width)))
    assert row.pack.canvas == public.canvas
    assert row.same_panels
    check_pack_promises(row)


@pytest.mark.parametrize("case", [insert_case(*c) for c in INSERT_FITS], ids=str)
def test_insert_anything_canvas_is_the_public_one_when_the_square_fits(case):
    assert square_fits(case)
    row = compare(case)
    assert row.public.canvas == (1536, 768)
    assert row.pack.canvas == row.public.canvas and row.same_panels
    assert row.pack.region.w == row.pack.region.h
    assert abs(stretch(row.public.region, row.public.content) - 1) < 0.01  # padded white, never stretched
    check_pack_promises(row)


@pytest.mark.parametrize("case", [insert_case(*c) for c in INSERT_TOO_NARROW], ids=str)
def test_insert_anything_follows_the_crop_when_the_photo_is_too_narrow(case):
    assert not square_fits(case)
    row = compare(case)
    assert row.pack.canvas[1] == 768 and row.pack.canvas[0] < 1536
    check_pack_promises(row)


def test_insert_anything_public_crop():
    # Far from the borders the public crop is square (to a pixel: box2squre spans 2 * (side // 2)); at a border
    # box2squre's square is cut (then padded white).
    middle = insert_anything_crop(3000, 3000, Rect(1400, 1400, 100, 150))
    assert abs(middle.w - middle.h) <= 1 and middle.w > 1000
    corner = insert_anything_crop(1024, 1024, Rect(0, 0, 100, 400))
    assert corner.x == 0 and corner.y == 0 and corner.w != corner.h
    # expand_bbox's box covers f(r) of the image: 0.1 + 1.5 r for a small r
    y1, y2, x1, x2 = expand_bbox(1000, 1000, (450, 549, 450, 549))
    assert abs((y2 - y1) * (x2 - x1) / 1e6 - 0.115) < 0.005
    assert box2squre(1000, 1000, (100, 300, 400, 500)) == (100, 300, 350, 550)


@pytest.mark.parametrize("case", [catvton_case(*c) for c in CATVTON_FITS], ids=str)
def test_catvton_canvas_is_the_public_one_when_3_4_fits(case):
    assert three_four_fits(case)
    row = compare(case)
    assert row.public.canvas == (1152, 768)
    assert row.pack.canvas == row.public.canvas and row.same_panels
    check_pack_promises(row)


@pytest.mark.parametrize("case", [catvton_case(*c) for c in CATVTON_CANNOT], ids=str)
def test_catvton_follows_the_crop_when_3_4_cannot_fit(case):
    assert not three_four_fits(case)
    row = compare(case)
    assert not row.same_canvas
    # the public code stretches the whole person photo to 576x768; the pack does not
    assert abs(stretch(row.public.region, row.public.content) - 1) > 0.1
    check_pack_promises(row)


def test_catvton_crop_rounded_under_3_4_keeps_the_public_canvas():
    """widen_to's whole-pixel crop (752x1003, a hair under 3:4) still gets the full 576 px panel."""
    case = catvton_case(*CATVTON_ROUNDED_DOWN)
    assert three_four_fits(case)
    row = compare(case)
    check_pack_promises(row)
    assert row.pack.canvas == row.public.canvas
