"""Canvas sizing: one token budget over the whole canvas, every side and panel boundary on the 16 px grid.

FLUX patchifies the /8 latent 2x2, so one token is a 16x16 pixel cell and tokens = (H/16)*(W/16) for
the whole canvas (references and target together). Official ACE++ code disagrees with itself about the
budget (2048 in training, 3072/4096/6144/8192 in its inference paths); this pack defines it once, here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .layout import AcePlusError

TOKEN_PX = 16
DEFAULT_TOKEN_BUDGET = 4096  # a 1024x1024 canvas
MAX_ASPECT = 4.0  # ACE++ centre-crops inputs beyond 4:1
REFERENCE_SIZINGS = ("resize", "keep_pixels")
DEFAULT_KEEP_PIXELS_RATE = 0.8  # what the FFT model is stable with


def floor16(value: float) -> int:
    # The small epsilon keeps 47.999999 (float noise from a scale) on the grid line it means.
    return int(math.floor(value / TOKEN_PX + 1e-9)) * TOKEN_PX


@dataclass(frozen=True)
class PanelPlan:
    panel_width: int
    content_height: int  # < canvas height only for keep_pixels references, padded grey top and bottom


@dataclass(frozen=True)
class CanvasPlan:
    scale: float
    canvas_height: int
    references: tuple[PanelPlan, ...]
    target_width: int

    @property
    def canvas_width(self) -> int:
        return sum(r.panel_width for r in self.references) + self.target_width


def centre_crop_aspect(image: torch.Tensor, max_aspect: float = MAX_ASPECT) -> torch.Tensor:
    """Centre-crop a [B, H, W, C] image to at most max_aspect:1 either way (what ACE++ does)."""
    h, w = image.shape[1], image.shape[2]
    if w > max_aspect * h:
        keep = int(max_aspect * h)
        x0 = (w - keep) // 2
        return image[:, :, x0:x0 + keep]
    if h > max_aspect * w:
        keep = int(max_aspect * w)
        y0 = (h - keep) // 2
        return image[:, y0:y0 + keep]
    return image


def reference_extent(ref_hw: tuple[int, int], target_height: int, sizing: str, keep_rate: float) -> tuple[float, float]:
    """(width, height) of a reference's content at target scale, before the budget is applied."""
    rh, rw = ref_hw
    if sizing == "resize":
        # LoRA path: the reference spans the full target height, aspect kept.
        return rw * target_height / rh, float(target_height)
    if sizing == "keep_pixels":
        # FFT path: never enlarged; shrunk only when taller than keep_rate * target height.
        factor = min(1.0, keep_rate * target_height / rh)
        return rw * factor, rh * factor
    raise AcePlusError(f"unknown reference sizing '{sizing}'; use one of {', '.join(REFERENCE_SIZINGS)}.")


def plan_canvas(
    target_hw: tuple[int, int],
    reference_hws: Sequence[tuple[int, int]],
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    reference_sizing: str = "resize",
    keep_pixels_rate: float = DEFAULT_KEEP_PIXELS_RATE,
) -> CanvasPlan:
    """Panel sizes for a target of target_hw (what the target panel must show) and the references."""
    th, tw = target_hw
    if th < TOKEN_PX or tw < TOKEN_PX:
        raise AcePlusError(f"the target is {tw}x{th}; both sides must be at least {TOKEN_PX} px.")
    if max(th, tw) > MAX_ASPECT * min(th, tw):
        raise AcePlusError(
            f"the target is {tw}x{th}, beyond the {MAX_ASPECT:g}:1 aspect ACE++ supports; crop the edit image, "
            "or enable crop-to-context so only the area around the mask is used."
        )
    if reference_sizing not in REFERENCE_SIZINGS:
        raise AcePlusError(f"unknown reference sizing '{reference_sizing}'; use one of {', '.join(REFERENCE_SIZINGS)}.")
    if token_budget < 1:
        raise AcePlusError(f"token_budget must be positive; got {token_budget}.")
    if not 0.0 < keep_pixels_rate <= 1.0:
        raise AcePlusError(f"keep_pixels_rate must be in (0, 1]; got {keep_pixels_rate}.")
    extents = [reference_extent(hw, th, reference_sizing, keep_pixels_rate) for hw in reference_hws]
    width = sum(w for w, _ in extents) + tw
    scale = min(1.0, math.sqrt(token_budget * TOKEN_PX * TOKEN_PX / (width * th)))
    canvas_height = floor16(th * scale)
    references = tuple(
        PanelPlan(panel_width=floor16(w * scale), content_height=min(canvas_height, max(1, round(h * scale))))
        for w, h in extents
    )
    plan = CanvasPlan(scale=scale, canvas_height=canvas_height, references=references,
                      target_width=floor16(tw * scale))
    narrowest = min([plan.canvas_height, plan.target_width] + [r.panel_width for r in references])
    if narrowest < TOKEN_PX:
        # The budget at which the narrowest unscaled panel side would reach one token (16 px), plus slack
        # for the flooring of every side.
        smallest_side = min([th, tw] + [w for w, _ in extents])
        needed = math.ceil(width * th * (2 * TOKEN_PX / smallest_side) ** 2 / (TOKEN_PX * TOKEN_PX))
        raise AcePlusError(
            f"a token budget of {token_budget} is too small for this canvas: at scale {scale:.3f} a panel would be "
            f"under {TOKEN_PX} px. Raise token_budget to at least {needed}, or use fewer or less extreme references."
        )
    return plan
