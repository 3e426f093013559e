"""Outpainting (lcu/outpaint.py): the extended image and its mask, and the margin checks whose named fixes pass."""
import dataclasses
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.canvas import GREY
from aceplusplus.lcu.errors import AcePlusError
from aceplusplus.lcu.outpaint import (DEFAULT_MARGINS, MARGIN_STEP, MAX_MARGIN, SIDES, Margins, extend_image,
                                      extended_hw, margins_problem)
from aceplusplus.lcu.settings import MAX_SIDE
from aceplusplus.lcu.sizing import beyond_aspect

FIX = re.compile(r"set ((?:\w+ to -?\d+(?: and )?)+) \(margins in px")


def rand_image(h, w, b=1, c=3, seed=0):
    return torch.rand(b, h, w, c, generator=torch.Generator().manual_seed(seed))


def named(message: str) -> dict[str, int]:
    """The margins a message tells the user to set, read back as the user would type them."""
    found = FIX.search(message)
    assert found, message
    return {name: int(value) for name, value in re.findall(r"(\w+) to (-?\d+)", found.group(1))}


def apply_fix(margins: Margins, message: str) -> Margins:
    changes = named(message)
    assert changes and set(changes) <= set(SIDES), message
    for side, value in changes.items():  # on the widget's grid: the frontend would not round it elsewhere
        assert value % MARGIN_STEP == 0 and 0 <= value <= MAX_MARGIN, message
    return dataclasses.replace(margins, **changes)


# --- the extended image ------------------------------------------------------------------------------------

def test_extend_image_places_the_original_and_greys_the_margins():
    image = rand_image(10, 12, b=2)
    extended, mask = extend_image(image, Margins(left=8, top=16, right=24, bottom=0))
    assert extended.shape == (2, 26, 44, 3) and mask.shape == (2, 26, 44)
    assert torch.equal(extended[:, 16:26, 8:20], image)
    assert torch.equal(mask[:, 16:26, 8:20], torch.zeros(2, 10, 12))
    new = mask == 1
    assert int(new.sum()) == 2 * (26 * 44 - 10 * 12) and bool(((mask == 0) | new).all())
    assert bool((extended[new] == GREY).all())


def test_extend_image_takes_one_image_greyscale_and_rgba():
    grey = rand_image(16, 16, c=1)
    extended, _ = extend_image(grey[0], Margins(bottom=8))  # a single [H, W, C] image too
    assert extended.shape == (1, 24, 16, 3)
    assert torch.equal(extended[0, :16, :, 1], grey[0, ..., 0])
    rgba = rand_image(16, 16, c=4)
    extended, _ = extend_image(rgba, Margins(left=8))
    assert torch.equal(extended[:, :, 8:], rgba[..., :3])


def test_extend_image_checks_the_image_once():
    with pytest.raises(AcePlusError, match=r"^\[ACE\+\+\] the image is not an IMAGE"):
        extend_image(torch.rand(4, 4), DEFAULT_MARGINS)
    with pytest.raises(AcePlusError, match=r"^\[ACE\+\+\] the image contains NaN"):
        extend_image(torch.full((1, 8, 8, 3), float("nan")), Margins(right=8))


def test_the_defaults_extend_to_the_right():
    assert DEFAULT_MARGINS == Margins(left=0, top=0, right=256, bottom=0)
    assert MAX_MARGIN == MAX_SIDE and margins_problem((512, 512), DEFAULT_MARGINS) is None


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 48), w=st.integers(1, 48), b=st.integers(1, 3),
       margins=st.tuples(*[st.integers(0, 6)] * 4).filter(any), seed=st.integers(0, 2**16))
def test_original_pixels_are_bit_identical_and_the_mask_is_exact(h, w, b, margins, seed):
    m = Margins(*(MARGIN_STEP * v for v in margins))
    new_h, new_w = extended_hw((h, w), m)
    if margins_problem((h, w), m):
        with pytest.raises(AcePlusError):
            extend_image(rand_image(h, w, b, seed=seed), m)
        return
    image = rand_image(h, w, b, seed=seed)
    extended, mask = extend_image(image, m)
    assert extended.shape == (b, new_h, new_w, 3) and mask.shape == (b, new_h, new_w)
    rows, cols = slice(m.top, m.top + h), slice(m.left, m.left + w)
    assert torch.equal(extended[:, rows, cols], image)
    assert bool((mask[:, rows, cols] == 0).all())
    outside = torch.ones(new_h, new_w, dtype=torch.bool)
    outside[rows, cols] = False
    assert bool((mask[:, outside] == 1).all()) and bool((extended[:, outside] == GREY).all())


# --- the checks and their named fixes -----------------------------------------------------------------------

def test_all_zero_names_the_default_extension():
    message = margins_problem((512, 512), Margins())
    assert message == ("all four margins are 0, so there is nothing to extend; set right to 256 (margins in px, "
                       "multiples of 8).")
    with pytest.raises(AcePlusError, match=r"^\[ACE\+\+\] all four margins are 0"):
        extend_image(rand_image(16, 16), Margins())


def test_all_zero_on_a_small_image_names_a_value_that_fits():
    # 64 px tall: 256 more on the right would be 320x64, beyond 4:1; the largest that fits is named.
    assert named(margins_problem((64, 64), Margins())) == {"right": 192}


def test_a_negative_margin_names_zero_and_what_else_it_takes():
    assert named(margins_problem((512, 512), Margins(left=-8, right=64))) == {"left": 0}
    # -8 on the only side given: 0 there leaves nothing to extend, so the message also names the extension.
    message = margins_problem((512, 512), Margins(top=-8))
    assert message.startswith("the top margin is -8, but a margin is a whole number of pixels to add")
    assert named(message) == {"top": 0, "right": 256}


def test_beyond_aspect_names_the_largest_margin_on_the_grid():
    message = margins_problem((64, 64), Margins(right=256))
    assert message == ("extended by these margins the image would be 320x64, beyond the 4:1 aspect ACE++ supports; "
                       "set right to 192 (margins in px, multiples of 8).")
    # The larger of the long axis' margins is shrunk, on the grid (4 * 70 - 70 - 8 = 202 -> 200).
    assert named(margins_problem((70, 70), Margins(left=8, right=256))) == {"right": 200}
    # Taller than 4:1: a vertical margin is shrunk.
    assert named(margins_problem((60, 50), Margins(top=200))) == {"top": 136}


def test_beyond_aspect_even_at_zero_names_the_other_axis():
    # A 100x16 image with 8 px at the top is 100x24: no horizontal margin to shrink, so the short side grows.
    assert named(margins_problem((16, 100), Margins(top=8))) == {"bottom": 8}
    # Both sides extended: even 0 on the larger leaves it too wide, so the other axis grows.
    assert named(margins_problem((16, 16), Margins(left=64, right=64))) == {"bottom": 24}


def test_over_max_side_names_the_largest_margin_that_fits():
    message = margins_problem((512, 512), Margins(left=MAX_SIDE))
    assert message.startswith(f"extended by these margins the image would be {512 + MAX_SIDE}x512, more than the "
                              f"{MAX_SIDE} px a side this node makes")
    assert named(message) == {"left": 1536}  # 2048 wide: the most a 512 px tall image takes within 4:1
    assert named(margins_problem((4096, 8000), Margins(right=256))) == {"right": 192}


def test_an_axis_left_as_it_is_may_be_over_max_side():
    assert margins_problem((MAX_SIDE + 100, 4000), Margins(right=8)) is None


def test_no_margins_can_fix_an_image_over_max_side_on_both_axes():
    message = margins_problem((MAX_SIDE + 8, MAX_SIDE + 8), Margins())
    assert "no margins can fix this" in message and "set " not in message


@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 9000), w=st.integers(1, 9000),
       margins=st.tuples(*[st.one_of(st.integers(-16, 4 * MAX_SIDE), st.integers(0, 64).map(lambda k: 8 * k))] * 4))
def test_every_named_fix_passes(h, w, margins):
    """Whatever is wrong, the margins a message names pass every check once applied (or it names none)."""
    m = Margins(*margins)
    message = margins_problem((h, w), m)
    new_h, new_w = extended_hw((h, w), m)
    ok = (all(v >= 0 for v in margins) and any(margins) and not beyond_aspect(new_h, new_w)
          and not (m.left + m.right and new_w > MAX_SIDE) and not (m.top + m.bottom and new_h > MAX_SIDE))
    assert (message is None) == ok, message
    if message is None or "no margins can fix" in message:
        return
    fixed = apply_fix(m, message)
    assert margins_problem((h, w), fixed) is None, (message, fixed)


def test_the_named_fix_of_a_non_integer_margin():
    assert named(margins_problem((512, 512), Margins(left=12.5))) == {"left": 8}
    assert named(margins_problem((512, 512), Margins(left=float("nan"), right=16))) == {"left": 0}
