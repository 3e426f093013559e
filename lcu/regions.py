"""Several regions of one photo in one run: the mask split into regions, each cropped to its context, all crops
widened to one common aspect so that their canvases (one per region) stack into one batch.

A region is either a connected component of the binarised mask (components closer than a merge distance join,
specks under a minimum area are dropped) or one item of a mask batch. Components are labelled on a grid of cells
(at most GRID_CELLS a side, so a 4096 px photo costs the same as a 512 px one, and as coarse as a sixteenth of
the merge distance) with kornia's connected-component labelling; every pixel of a cell belongs to that cell's region.
A soft fringe (under 0.5) within about FRINGE_PX of a region belongs to it; fainter areas farther away are left
unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from kornia.contrib import connected_components

from .errors import AcePlusError
from .fixes import set_to
from .layout import Rect
from .sizing import MAX_ASPECT, TOKEN_PX

REGION_MODES = ("one", "connected_components", "mask_batch")
DEFAULT_REGION_MODE = "one"
DEFAULT_MERGE_DISTANCE = 64  # px: components closer than about this join into one region
DEFAULT_MIN_REGION_AREA = 64  # px of binarised mask: smaller components are specks, dropped
DEFAULT_MAX_REGIONS = 8
MAX_REGIONS = 64  # the most the canvas node's max_regions widget allows
CONTEXT_MARGIN_STEP = 8  # the canvas node's context_margin widget: 0 + k * this many px
GRID_CELLS = 512  # components are labelled on a grid of at most this many cells a side
FRINGE_PX = 64  # a soft fringe (under 0.5) within about this many px of a region belongs to it


def cell_size(height: int, width: int, merge_distance: int = 0) -> int:
    """Pixels per grid cell side for a height x width mask: at most GRID_CELLS cells a side, and as coarse as a
    sixteenth of the merge distance (cheaper labelling; regions that stay apart are then always cells apart, and
    the distance at which regions join is off by at most two cells, an eighth of it)."""
    return max(1, math.ceil(max(height, width) / GRID_CELLS), merge_distance // 16)


@dataclass(frozen=True)
class RegionSplit:
    """The regions of one photo's soft mask, in reading order (top to bottom, then left to right).

    `boxes[i]` is the tight bounding box of region i's binarised mask. Region i's soft mask is item i of a
    mask batch (`owner` None), or the photo's soft mask where the cell `owner` grid says `labels[i]`."""

    soft: torch.Tensor  # [1, H, W] (components) or [N, H, W] (mask batch), 0..1
    boxes: tuple[Rect, ...]
    owner: Optional[torch.Tensor] = None  # [rows, cols] region label of every cell, 0 = no region
    labels: tuple[int, ...] = ()
    cell: int = 1

    def __len__(self) -> int:
        return len(self.boxes)

    def mask_in(self, i: int, rect: Rect) -> torch.Tensor:
        """Region i's soft mask inside `rect` ([1, rect.h, rect.w]): a view of the mask batch item, or the soft
        mask times region i's cells (computed for the rectangle only)."""
        if self.owner is None:
            return rect.slice(self.soft[i:i + 1])
        return rect.slice(self.soft) * owned(self.owner, self.labels[i], self.cell, rect).to(self.soft.dtype)


def owned(owner: torch.Tensor, label: int, cell: int, rect: Rect) -> torch.Tensor:
    """[1, rect.h, rect.w] bool: the pixels of `rect` whose cell of the `owner` grid is `label`."""
    r0, c0 = rect.y // cell, rect.x // cell
    r1, c1 = (rect.bottom - 1) // cell + 1, (rect.right - 1) // cell + 1
    pixels = repeat(owner[r0:r1, c0:c1] == label, "r q -> (r a) (q b)", a=cell, b=cell)
    top, left = rect.y - r0 * cell, rect.x - c0 * cell
    return pixels[top:top + rect.h, left:left + rect.w].unsqueeze(0)


def mask_box(mask: torch.Tensor) -> Rect:
    """Bounding box of the binarised [B, H, W] mask over the whole batch (the mask has a pixel at or above 0.5)."""
    return Rect.bounding((mask >= 0.5).any(dim=0))


def _span(lo: int, hi: int, minimum: int, limit: int) -> tuple[int, int]:
    """[lo, hi) clamped to [0, limit), grown symmetrically to `minimum`, then shifted inside [0, limit)."""
    lo, hi = max(0, lo), min(limit, hi)
    short = max(0, minimum - (hi - lo))
    lo, hi = lo - short // 2, hi + short - short // 2
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > limit:
        lo, hi = max(0, lo - (hi - limit)), limit
    return lo, hi


def region_around(box: Rect, margin: int, height: int, width: int) -> Rect:
    """`box` grown by `margin`, clamped to a height x width image, at least one token a side and within ACE++'s
    aspect limit where the image allows: the crop-to-context region of a mask whose bounding box is `box`."""
    if margin < 0:
        raise AcePlusError(f"context_margin must be 0 or more pixels; got {margin}.")
    y0, y1 = _span(box.y - margin, box.bottom + margin, TOKEN_PX, height)
    x0, x1 = _span(box.x - margin, box.right + margin, TOKEN_PX, width)
    h, w = y1 - y0, x1 - x0
    if w > MAX_ASPECT * h:
        y0, y1 = _span(y0, y1, math.ceil(w / MAX_ASPECT), height)
    elif h > MAX_ASPECT * w:
        x0, x1 = _span(x0, x1, math.ceil(h / MAX_ASPECT), width)
    return Rect.spanning(x0, y0, x1, y1)


def _label(occupied: torch.Tensor) -> torch.Tensor:
    """Connected components (8-neighbour) of a [rows, cols] 0/1 float grid: a label > 0 per component, 0 off it.
    kornia propagates labels a fixed number of steps; the steps double until one more changes nothing."""
    grid = rearrange(occupied, "r q -> 1 1 r q")
    steps = 64
    while True:
        labels = connected_components(grid, num_iterations=steps)
        settled = F.max_pool2d(labels, kernel_size=3, stride=1, padding=1) * grid
        if torch.equal(settled, labels):
            return labels[0, 0].long()
        steps *= 2


def _spread(labels: torch.Tensor, support: torch.Tensor, steps: int) -> torch.Tensor:
    """Every unlabelled cell of `support` reached from a region through `support` within `steps` cells takes the
    label of the nearest region (the higher label on ties): a soft fringe under 0.5 belongs to the region it
    surrounds, and a faint haze over the whole photo costs `steps` passes at most."""
    owner = labels.to(torch.float32)[None, None]
    free = ((labels == 0) & (support > 0)).to(torch.float32)[None, None]
    for _ in range(steps):
        reached = torch.where(owner > 0, owner, F.max_pool2d(owner, 3, stride=1, padding=1) * free)
        if torch.equal(reached, owner):
            break
        owner = reached
    return owner[0, 0].long()


def _reading_order(boxes: list[Rect]) -> list[int]:
    return sorted(range(len(boxes)), key=lambda i: (boxes[i].y, boxes[i].x))


def _check_count(count: int, max_regions: int, why: str) -> None:
    if count > max_regions:
        if count <= MAX_REGIONS:
            fix = f"{set_to(max_regions=count)} (each region is one canvas of the batch)"
        else:
            fix = f"at most {MAX_REGIONS} regions can be sampled in one run"
        raise AcePlusError(f"the mask gives {count} regions{why}, more than max_regions {max_regions}; {fix}, or "
                           "join regions (raise merge_distance, or use a mask with fewer regions).")


def component_regions(soft: torch.Tensor, merge_distance: int = DEFAULT_MERGE_DISTANCE,
                      min_area: int = DEFAULT_MIN_REGION_AREA,
                      max_regions: int = DEFAULT_MAX_REGIONS) -> RegionSplit:
    """Split the soft mask of one photo ([1, H, W], 1 = generate) into its connected components.

    Components whose binarised pixels are closer than about `merge_distance` px join (on the cell grid); a
    component with fewer than `min_area` binarised pixels is dropped."""
    if merge_distance < 0 or min_area < 0:
        raise AcePlusError(f"merge_distance and min_region_area must be 0 or more; got {merge_distance} and "
                           f"{min_area}.")
    height, width = soft.shape[1], soft.shape[2]
    c = cell_size(height, width, merge_distance)
    rows, cols = math.ceil(height / c), math.ceil(width / c)
    binary = rearrange((soft[:1] >= 0.5).to(torch.float32), "1 h w -> 1 1 h w")
    binary = F.pad(binary, (0, cols * c - width, 0, rows * c - height))
    area = (F.avg_pool2d(binary, c) * (c * c)).round()[0, 0]  # binarised pixels per cell
    occupied = (area > 0).to(torch.float32)
    reach = math.ceil(merge_distance / (2 * c))  # cells each component is grown by before labelling
    grown = F.max_pool2d(occupied[None, None], 2 * reach + 1, stride=1, padding=reach)[0, 0] if reach else occupied
    labels = _label(grown)
    support = F.max_pool2d(F.pad(rearrange(soft[:1], "1 h w -> 1 1 h w") > 0, (0, cols * c - width, 0,
                                 rows * c - height)).to(torch.float32), c)[0, 0]
    owner = _spread(labels, support, math.ceil(FRINGE_PX / c))
    per_label = torch.bincount(labels.flatten(), weights=area.flatten().double())
    areas = {int(label): float(per_label[label]) for label in torch.unique(labels[occupied > 0])}
    kept = [label for label, a in areas.items() if a >= min_area]
    if not kept:
        largest = max(areas.values(), default=0.0)
        raise AcePlusError(f"no region of the mask covers min_region_area ({min_area} px): the largest has "
                           f"{largest:.0f} px; {set_to(min_region_area=int(largest))} (or less), or paint a larger "
                           "mask.")
    _check_count(len(kept), max_regions, f" (after joining regions closer than merge_distance {merge_distance} px "
                                         f"and dropping those under min_region_area {min_area} px)")
    boxes = []
    for label in kept:
        cells = Rect.bounding((labels == label) & (occupied > 0))
        rect = Rect(cells.x * c, cells.y * c, cells.w * c, cells.h * c).intersection(Rect(0, 0, width, height))
        tight = Rect.bounding((rect.slice(soft[:1])[0] >= 0.5) & owned(owner, label, c, rect)[0])
        boxes.append(tight.placed_in(rect))
    order = _reading_order(boxes)
    return RegionSplit(soft=soft[:1], boxes=tuple(boxes[i] for i in order), owner=owner,
                       labels=tuple(kept[i] for i in order), cell=c)


def batch_regions(soft: torch.Tensor, max_regions: int = DEFAULT_MAX_REGIONS) -> RegionSplit:
    """One region per item of a soft mask batch ([N, H, W], every item of the same photo), in batch order."""
    _check_count(soft.shape[0], max_regions, " (one per item of the mask batch)")
    boxes = tuple(Rect.bounding(item >= 0.5) for item in soft)
    return RegionSplit(soft=soft, boxes=boxes)


def _aspect_range(crops, height: int, width: int) -> tuple[float, float]:
    """(lowest, highest) width/height every crop can be widened to inside the photo, within 4:1; empty when
    lowest > highest."""
    lo = max([c.w / height for c in crops] + [1.0 / MAX_ASPECT])
    hi = min([width / c.h for c in crops] + [MAX_ASPECT])
    return lo, hi * (1 + 1e-9)


def common_crops(boxes: tuple[Rect, ...], margin: int, height: int, width: int,
                 aspect: Optional[float] = None) -> tuple[Rect, ...]:
    """Each box's crop-to-context region, widened to one common aspect inside the height x width photo so that
    every crop resizes to the same target panel without distortion (within a pixel of rounding).

    The aspect is `aspect` (a panel sizing's: square or equal panels) or else the geometric mean of the regions'
    own, moved into the range every region can reach inside
    the photo (a region can widen up to the photo's width and heighten up to its height) and within 4:1."""
    crops = [region_around(box, margin, height, width) for box in boxes]
    lo, hi = _aspect_range(crops, height, width)
    if lo > hi:
        tight_lo, tight_hi = _aspect_range([region_around(b, 0, height, width) for b in boxes], height, width)
        if margin > 0 and tight_lo <= tight_hi:
            fix = set_to(context_margin=0)
        else:
            fix = f"crop or pad the photo to at most {MAX_ASPECT:g}:1, or paint the regions less wide"
        raise AcePlusError(f"the regions of this {width}x{height} photo cannot share one aspect within the "
                           f"{MAX_ASPECT:g}:1 ACE++ supports (the widest crop is {max(c.w for c in crops)} px, the "
                           f"tallest {max(c.h for c in crops)} px); {fix}.")
    aspect = math.exp(sum(math.log(c.w / c.h) for c in crops) / len(crops)) if aspect is None else aspect
    aspect = min(max(aspect, lo), hi)
    return tuple(widen_to(crop, aspect, height, width) for crop in crops)


def widen_to(crop: Rect, aspect: float, height: int, width: int) -> Rect:
    """`crop` grown along one axis (centred, shifted inside the height x width photo) towards width/height =
    `aspect`, as far as the photo allows: it is never cut, so an aspect the photo cannot hold is only approached."""
    if crop.w < aspect * crop.h:
        want = min(width, round(aspect * crop.h))
        x0 = min(max(0, crop.x - (want - crop.w) // 2), width - want)
        return Rect(x0, crop.y, want, crop.h)
    want = min(height, round(crop.w / aspect))
    y0 = min(max(0, crop.y - (want - crop.h) // 2), height - want)
    return Rect(crop.x, y0, crop.w, want)
