"""Outpainting: extend an image by margins of mid-grey, with a mask of exactly the new area.

The extended image goes to ACE++ Canvas as the edit image and the mask as its mask; ACE++ Stitch then copies every
pixel outside the mask from the extended image, so the original pixels come back bit for bit. Every margin check
lives in :func:`margins_problem`, whose message names the widget values that fix it (on the widgets' grid, and
checked by this module to pass).

Conventions: IMAGE is [B, H, W, C] float in 0..1, MASK is [B, H, W] float in 0..1 (ComfyUI's).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import torch

from .canvas import GREY
from .errors import AcePlusError
from .fixes import on_grid, set_to
from .images import as_image_batch
from .settings import MAX_SIDE
from .sizing import MAX_ASPECT, beyond_aspect

SIDES = ("left", "top", "right", "bottom")
HORIZONTAL, VERTICAL = ("left", "right"), ("top", "bottom")
MARGIN_STEP = 8  # the margin widgets' grid: 0, 8, 16 ... MAX_SIDE (ComfyUI's latents are 8 px per cell)
MAX_MARGIN = MAX_SIDE


@dataclass(frozen=True)
class Margins:
    """Pixels to add on each side of an image."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0

    def total_width(self) -> int:
        return self.left + self.right

    def total_height(self) -> int:
        return self.top + self.bottom


# The node's widget defaults: extend to the right, the most common outpainting.
DEFAULT_MARGINS = Margins(right=256)


def extended_hw(hw: tuple[int, int], margins: Margins) -> tuple[int, int]:
    height, width = hw
    return height + margins.total_height(), width + margins.total_width()


def _whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _grid() -> range:
    return range(0, MAX_MARGIN + 1, MARGIN_STEP)


def _usable(value) -> bool:
    return _whole(value) and value >= 0


def _down_to_grid(value) -> int:
    """A margin that is no whole number of pixels 0 or more (-8, 12.5, NaN) as the grid value a user would mean."""
    if not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        return 0
    return min(on_grid(value, 0, MARGIN_STEP, up=False), MAX_MARGIN)


# ----------------------------------------------------------------------------------------------- the checks
# Each problem is found by _first_problem; _one_change proposes the change of margins that removes it. A message
# names the margins after as many changes as it takes to pass every check, so applying it never meets another error.

def _first_problem(hw: tuple[int, int], m: Margins) -> str | None:
    values = [getattr(m, side) for side in SIDES]
    if not all(_usable(v) for v in values):
        return "negative"
    if not any(values):
        return "nothing"
    height, width = extended_hw(hw, m)
    # An axis the margins do not extend is the user's image as it is: only the margins' own growth is refused.
    if (m.total_width() and width > MAX_SIDE) or (m.total_height() and height > MAX_SIDE):
        return "size"
    if beyond_aspect(height, width):
        return "aspect"
    return None


def _passes(hw: tuple[int, int], m: Margins) -> bool:
    return _first_problem(hw, m) is None


def _valid_values(hw: tuple[int, int], m: Margins, side: str) -> list[int]:
    """Every value on the widget's grid for `side` that, the other margins kept, passes every check. The grid has
    MAX_MARGIN / MARGIN_STEP + 1 values and each check is integer arithmetic: trying them all is exact and cheap."""
    return [v for v in _grid() if _passes(hw, dataclasses.replace(m, **{side: v}))]


def _largest_margin(m: Margins, sides: tuple[str, str]) -> str:
    # The larger margin is the one to shrink; on a tie the right (bottom) one, where users usually extend.
    return max(reversed(sides), key=lambda side: getattr(m, side))


def _one_change(hw: tuple[int, int], m: Margins, problem: str) -> Margins | None:
    """The margins with `problem` removed (None when no margin change can remove it)."""
    height, width = extended_hw(hw, m)
    if problem == "negative":
        fixed = {side: _down_to_grid(getattr(m, side)) for side in SIDES if not _usable(getattr(m, side))}
        return dataclasses.replace(m, **fixed)
    if problem == "nothing":
        for side in ("right", "bottom", "left", "top"):
            values = [v for v in _valid_values(hw, m, side) if v > 0]
            if values:  # the value nearest the default extension
                return dataclasses.replace(m, **{side: min(values, key=lambda v: (abs(v - DEFAULT_MARGINS.right), v))})
        return None
    if problem == "size":
        axis = HORIZONTAL if m.total_width() and width > MAX_SIDE else VERTICAL
        side = _largest_margin(m, axis)
        values = _valid_values(hw, m, side)
        if values:
            return dataclasses.replace(m, **{side: max(values)})
        # No value passes everything: the largest that fits MAX_SIDE, and the next change fixes what is left.
        room = MAX_SIDE - (extended_hw(hw, m)[1 if axis == HORIZONTAL else 0] - getattr(m, side))
        return dataclasses.replace(m, **{side: on_grid(max(room, 0), 0, MARGIN_STEP, up=False)})
    # aspect: shrink the largest margin on the long axis; if even 0 there is too long, extend the short axis.
    axis, other = (HORIZONTAL, "bottom") if width > height else (VERTICAL, "right")
    side = _largest_margin(m, axis)
    values = _valid_values(hw, m, side) if getattr(m, side) > 0 else []
    if values:
        return dataclasses.replace(m, **{side: max(values)})
    values = _valid_values(hw, m, other)
    return dataclasses.replace(m, **{other: min(values)}) if values else None


def named_fix(hw: tuple[int, int], margins: Margins) -> Margins | None:
    """The margins an error message names: the user's with one change per problem until all checks pass (None
    when no margins can make this image pass)."""
    m = margins
    for _ in range(2 * len(SIDES)):  # each change removes a problem for good; a few suffice
        problem = _first_problem(hw, m)
        if problem is None:
            return m
        m = _one_change(hw, m, problem)
        if m is None:
            return None
    return m if _passes(hw, m) else None


def margins_problem(hw: tuple[int, int], margins: Margins) -> str | None:
    """What is wrong with extending a height x width image by `margins`, with the fix; None when nothing is.

    The one margin check: extend_image raises it and the node's tests read it."""
    problem = _first_problem(hw, margins)
    if problem is None:
        return None
    height, width = extended_hw(hw, margins)
    fixed = named_fix(hw, margins)
    changes = {side: getattr(fixed, side) for side in SIDES
               if fixed is not None and getattr(fixed, side) != getattr(margins, side)}
    limit = f"{MAX_ASPECT:g}:1"
    if problem == "negative":
        bad = next(side for side in SIDES if not _usable(getattr(margins, side)))
        what = (f"the {bad} margin is {getattr(margins, bad)!r}, but a margin is a whole number of pixels to add, "
                "0 or more")
    elif problem == "nothing":
        what = "all four margins are 0, so there is nothing to extend"
    elif problem == "size":
        what = (f"extended by these margins the image would be {width}x{height}, more than the {MAX_SIDE} px a side "
                "this node makes")
    else:
        what = (f"extended by these margins the image would be {width}x{height}, beyond the {limit} aspect ACE++ "
                "supports")
    if fixed is None:
        return (f"{what}; no margins can fix this {hw[1]}x{hw[0]} image: crop or resize it to at most {limit} and "
                f"{MAX_SIDE} px a side first.")
    return f"{what}; {set_to(**changes)} (margins in px, multiples of {MARGIN_STEP})."


def check_margins(hw: tuple[int, int], margins: Margins) -> None:
    problem = margins_problem(hw, margins)
    if problem:
        raise AcePlusError(problem)


# ----------------------------------------------------------------------------------------------- the image

def extend_image(image: torch.Tensor, margins: Margins) -> tuple[torch.Tensor, torch.Tensor]:
    """The image [B, H, W, C] extended by `margins` as RGB [B, H', W', 3] (new area mid-grey, the original
    pixels copied unchanged) and the mask [B, H', W']: exactly 1 on the new area, exactly 0 on the original."""
    rgb = as_image_batch(image, "image")
    batch, height, width, _ = rgb.shape
    check_margins((height, width), margins)
    new_height, new_width = extended_hw((height, width), margins)
    rows = slice(margins.top, margins.top + height)
    cols = slice(margins.left, margins.left + width)
    extended = rgb.new_full((batch, new_height, new_width, 3), GREY)
    extended[:, rows, cols] = rgb
    mask = rgb.new_ones((batch, new_height, new_width))
    mask[:, rows, cols] = 0.0
    return extended, mask

