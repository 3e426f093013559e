"""The layout record: where every panel of an LCU++ canvas sits and how to get back to the user's pixels.

It is built once by the canvas builder and read by every later step (conditioning previews, target
extraction, stitching), so nobody ever wires widths, heights or offsets by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

PACK = "[ACE++]"


class AcePlusError(ValueError):
    """A user-facing error: the message says what to change. Raised by lcu and the nodes alike."""

    def __init__(self, message: str):
        super().__init__(f"{PACK} {message}")


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in pixels: x, y of the top-left corner, width w, height h."""

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

    def slice(self, t: torch.Tensor) -> torch.Tensor:
        """The rectangle out of a [B, H, W, ...] tensor."""
        return t[:, self.y:self.bottom, self.x:self.right]


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
    scale: float  # canvas pixels per target pixel of the largest region (<= 1: the budget only ever shrinks)
    token_budget: int
    reference_sizing: str
    # Where each reference's content sits inside its panel (canvas pixels, own aspect); the rest is grey, mask 0.
    reference_content: tuple[Rect, ...]
    reference_share: float  # the most of the canvas width the references together could take (1 = no limit)
    resampling: str  # how the canvas panels were resized: "antialiased" or "nearest-exact"
    source: Optional[EditSource] = field(default=None, compare=False, repr=False)

    @property
    def tokens(self) -> int:
        return (self.canvas_width // 16) * (self.canvas_height // 16)

    @property
    def is_edit(self) -> bool:
        return self.source is not None

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

    def describe(self) -> str:
        refs = ", ".join(f"{r.w}x{r.h}" + (f" (content {c.w}x{c.h})" if (c.w, c.h) != (r.w, r.h) else "")
                         for r, c in zip(self.reference_panels, self.reference_content)) or "none"
        shows = "; ".join(f"{r.w}x{r.h} at ({r.x},{r.y}), {self.panel_scale(r):.3f} px/px"
                          for r in self.target_regions)
        count = len(self.target_regions)
        regions = f"{count} regions, one canvas each: " if count > 1 else "showing "
        return (
            f"canvas {self.canvas_width}x{self.canvas_height} ({self.tokens}/{self.token_budget} tokens), "
            f"references {refs}, target panel {self.target_panel.w}x{self.target_panel.h} at x={self.target_panel.x}, "
            f"{regions}{shows} of a {self.target_width}x{self.target_height} target, {self.resampling}"
        )
