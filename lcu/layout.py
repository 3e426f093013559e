"""The layout record: where every panel of an LCU++ canvas sits and how to get back to the user's pixels.

It is built once by the canvas builder and read by every later step (conditioning previews, target
extraction, stitching), so nobody ever wires widths, heights or offsets by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from .errors import AcePlusError


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in pixels: x, y of the top-left corner, width w, height h.

    The pack's one rectangle type: every box, crop and panel is one, and its geometry lives here."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @classmethod
    def bounding(cls, hit: torch.Tensor) -> Optional["Rect"]:
        """The bounding box of the True pixels of a [h, w] bool tensor; None when there are none."""
        rows = torch.nonzero(hit.any(dim=1)).flatten()
        if rows.numel() == 0:
            return None
        cols = torch.nonzero(hit.any(dim=0)).flatten()
        return cls.spanning(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)

    @classmethod
    def spanning(cls, x0: int, y0: int, x1: int, y1: int) -> "Rect":
        """The rectangle [x0, x1) x [y0, y1)."""
        return cls(x0, y0, x1 - x0, y1 - y0)

    @classmethod
    def clusters(cls, hit: torch.Tensor, gap: int) -> tuple["Rect", ...]:
        """Bounding boxes of the True pixels of a [h, w] bool tensor, split wherever at least `gap` empty rows or
        columns run between them, again inside every part until no part splits (recursive XY cut), in reading
        order. Any two boxes are then at least `gap` px apart along x or y, so grown by gap // 2 they stay
        disjoint; each box is the bounding box of the pixels it holds. One read of each part."""
        done: list[Rect] = []
        todo = [cls(0, 0, hit.shape[1], hit.shape[0])]
        while todo:
            part = todo.pop()
            inside = hit[part.y:part.bottom, part.x:part.right]
            rows, cols = _runs(inside.any(dim=1), gap), _runs(inside.any(dim=0), gap)
            if len(rows) > 1:
                todo.extend(cls.spanning(part.x, part.y + a, part.right, part.y + b) for a, b in rows)
            elif len(cols) > 1:
                todo.extend(cls.spanning(part.x + a, part.y, part.x + b, part.bottom) for a, b in cols)
            elif rows:
                (y0, y1), (x0, x1) = rows[0], cols[0]
                done.append(cls.spanning(part.x + x0, part.y + y0, part.x + x1, part.y + y1))
        return tuple(sorted(done, key=lambda r: (r.y, r.x)))

    def grown(self, by: int, height: int, width: int) -> "Rect":
        """This rectangle grown by `by` (>= 0) px on every side, clamped to a height x width image."""
        return Rect.spanning(max(0, self.x - by), max(0, self.y - by),
                             min(width, self.right + by), min(height, self.bottom + by))

    def intersection(self, other: "Rect") -> Optional["Rect"]:
        """The part of this rectangle inside `other`; None when they do not overlap."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect.spanning(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def relative_to(self, outer: "Rect") -> "Rect":
        """This rectangle in the coordinates of `outer` (whose top-left corner becomes 0, 0)."""
        return Rect(self.x - outer.x, self.y - outer.y, self.w, self.h)

    def placed_in(self, outer: "Rect") -> "Rect":
        """This rectangle, given in the coordinates of `outer`, in the coordinates `outer` is given in."""
        return Rect(self.x + outer.x, self.y + outer.y, self.w, self.h)

    def slice(self, t: torch.Tensor) -> torch.Tensor:
        """The rectangle out of a [B, H, W, ...] tensor."""
        return t[:, self.y:self.bottom, self.x:self.right]


def _runs(occupied: torch.Tensor, gap: int) -> list[tuple[int, int]]:
    """[start, end) of the runs of a 1-D bool tensor's True entries, joined across fewer than `gap` False ones."""
    at = torch.nonzero(occupied).flatten()
    if at.numel() == 0:
        return []
    breaks = torch.nonzero(at[1:] - at[:-1] > gap).flatten().tolist()
    starts = [int(at[0])] + [int(at[i + 1]) for i in breaks]
    ends = [int(at[i]) + 1 for i in breaks] + [int(at[-1]) + 1]
    return list(zip(starts, ends))


@dataclass(frozen=True)
class EditSource:
    """The user's edit image at full resolution and, for each target region, the soft mask to blend the result
    back through, cut to that region (views of the user's mask where possible: no photo-sized copies)."""

    image: torch.Tensor  # [B, H, W, 3] in 0..1 (B = 1 when the canvas has several regions)
    region_masks: tuple[torch.Tensor, ...]  # one [B or 1, region.h, region.w] per target region, 0..1, 1 = generated


@dataclass(frozen=True)
class CanvasLayout:
    """Geometry of a canvas batch: references left to right, then the target panel, all of canvas height.

    `target_regions` are the parts of the user's target that the target panel shows, in target pixels. One
    region serves every item of the batch: the whole edit image, a crop of it (crop-to-context), or the
    requested size for pure generation. Several regions (several areas of one photo, one run) mean canvas
    item i shows region i; every region's crop has the same aspect and is resized to the same target panel.
    """

    canvas_width: int
    canvas_height: int
    reference_panels: tuple[Rect, ...]
    target_panel: Rect
    target_width: int  # the user's target size: the edit image, or the requested generation size
    target_height: int
    target_regions: tuple[Rect, ...]
    scale: float  # canvas pixels per target pixel of the largest region (<= 1 with token_budget sizing; fixed panel
    # sizings may enlarge a small target)
    token_budget: int
    reference_sizing: str
    # Where each reference's content sits inside its panel (canvas pixels, own aspect); the rest is grey, mask 0.
    reference_content: tuple[Rect, ...]
    reference_share: float  # the most of the canvas width the references together could take (1 = no limit)
    resampling: str  # how the canvas panels were resized: "antialiased" or "nearest-exact"
    panel_sizing: str  # how the panel sizes were chosen (lcu.sizing.PANEL_SIZINGS)
    # lcu.canvas.EDIT_STYLES; "blank_twin": the last reference panel is the edit image's crop, the target was blank
    edit_style: str
    source: Optional[EditSource] = field(default=None, compare=False, repr=False)

    @property
    def tokens(self) -> int:
        return (self.canvas_width // 16) * (self.canvas_height // 16)

    @property
    def target_region(self) -> Rect:
        """The region every canvas of the batch shows; an error for a layout of several regions."""
        if len(self.target_regions) != 1:
            raise AcePlusError(f"this layout has {len(self.target_regions)} regions, one per canvas of the batch; "
                               "read target_regions.")
        return self.target_regions[0]

    def panel_scale(self, region: Rect) -> float:
        """Target panel pixels per original pixel, along the width, for one of the regions."""
        return self.target_panel.w / region.w
