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
    """The user's edit image at full resolution and the soft mask to blend the result back through."""

    image: torch.Tensor  # [B, H, W, 3] in 0..1
    blend_mask: torch.Tensor  # [B, H, W] in 0..1, soft as given, 1 = generated pixels


@dataclass(frozen=True)
class CanvasLayout:
    """Geometry of one canvas: references left to right, then the target panel, all of canvas height.

    `target_region` is the part of the user's target that the target panel shows, in target pixels:
    the whole edit image, a crop of it (crop-to-context), or the requested size for pure generation.
    """

    canvas_width: int
    canvas_height: int
    reference_panels: tuple[Rect, ...]
    target_panel: Rect
    target_width: int  # the user's target size: the edit image, or the requested generation size
    target_height: int
    target_region: Rect
    scale: float  # canvas pixels per target pixel (<= 1: the budget only ever shrinks)
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

    def describe(self) -> str:
        refs = ", ".join(f"{r.w}x{r.h}" + (f" (content {c.w}x{c.h})" if (c.w, c.h) != (r.w, r.h) else "")
                         for r, c in zip(self.reference_panels, self.reference_content)) or "none"
        region = self.target_region
        return (
            f"canvas {self.canvas_width}x{self.canvas_height} ({self.tokens}/{self.token_budget} tokens), "
            f"references {refs}, target panel {self.target_panel.w}x{self.target_panel.h} at x={self.target_panel.x}, "
            f"showing {region.w}x{region.h} at ({region.x},{region.y}) of a {self.target_width}x{self.target_height} "
            f"target, scale {self.scale:.3f}, {self.resampling}"
        )
