"""Canvas sizing: one token budget over the whole canvas, every side and panel boundary on the 16 px grid.

FLUX patchifies the /8 latent 2x2, so one token is a 16x16 pixel cell and tokens = (H/16)*(W/16) for
the whole canvas (references and target together). Official ACE++ code disagrees with itself about the
budget (2048 in training, 3072/4096/6144/8192 in its inference paths); this pack defines it once, here.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .errors import AcePlusError
from .fixes import on_grid, set_to
from .layout import Rect

TOKEN_PX = 16
DEFAULT_TOKEN_BUDGET = 4096  # a 1024x1024 canvas
# The canvas node's token_budget widget: MIN_TOKEN_BUDGET + k * TOKEN_BUDGET_STEP up to MAX_TOKEN_BUDGET (a
# 4096x4096 canvas). Messages name budgets on this grid only (lcu.fixes.on_grid).
MIN_TOKEN_BUDGET = 64
TOKEN_BUDGET_STEP = 64
MAX_TOKEN_BUDGET = 65536
MAX_ASPECT = 4.0  # ACE++ centre-crops inputs beyond 4:1
REFERENCE_SIZINGS = ("resize", "keep_pixels")
# How panel sizes are chosen. token_budget: as large as the budget allows (the ACE++ way). The others are what the
# rest of the FLUX-Fill in-context family was trained on, the budget still capping them: fixed_width (every panel
# panel_width wide, the height from the target's aspect: ICEdit's 512 px diptych), square (every panel a
# panel_width square: Insert Anything's 768 px) and equal (every panel panel_width x panel_height: CatVTON-FLUX's
# 576x768).
PANEL_SIZINGS = ("token_budget", "fixed_width", "square", "equal")
DEFAULT_PANEL_SIZING = "token_budget"
DEFAULT_PANEL_WIDTH = 768
DEFAULT_PANEL_HEIGHT = 768
DEFAULT_KEEP_PIXELS_RATE = 0.8  # what the FFT model is stable with
# The most of the canvas width the references together may take. 1 = no limit: every reference takes the width its
# sizing gives it (the reference implementation's behaviour); 0.5 keeps the target at least half the canvas.
DEFAULT_REFERENCE_SHARE = 1.0
MIN_REFERENCE_SHARE = 0.05  # the canvas node's reference_share widget: MIN_REFERENCE_SHARE + k * its step, up to 1
REFERENCE_SHARE_STEP = 0.05
# "a target at least <n> px tall", said as the change that gives one where the target comes from (the caller
# knows: the height widget, the crop's context_margin, or the edit image itself).
TallerTarget = Callable[[int], str]


def taller_target_anywhere(height: int) -> str:
    return f"or a target at least {height} px tall"


def floor16(value: float) -> int:
    # The small epsilon keeps 47.999999 (float noise from a scale) on the grid line it means.
    return int(math.floor(value / TOKEN_PX + 1e-9)) * TOKEN_PX


@dataclass(frozen=True)
class PanelPlan:
    """One reference panel: panel_width on the grid, the full canvas height; inside it the reference's content
    (its own aspect, from the final rounded sizes) at (content_x, content_y), the rest padded grey (mask 0)."""

    panel_width: int
    content_width: int
    content_height: int
    content_x: int = 0  # offsets of the content inside the panel (centred)
    content_y: int = 0


@dataclass(frozen=True)
class CanvasPlan:
    scale: float
    canvas_height: int
    references: tuple[PanelPlan, ...]
    target_width: int

    @property
    def canvas_width(self) -> int:
        return sum(r.panel_width for r in self.references) + self.target_width

    def placed(self) -> tuple[tuple[Rect, ...], tuple[Rect, ...], Rect]:
        """(reference panels, each reference's content, the target panel) as canvas rectangles, left to right."""
        panels, contents, x = [], [], 0
        for ref in self.references:
            panels.append(Rect(x, 0, ref.panel_width, self.canvas_height))
            contents.append(Rect(x + ref.content_x, ref.content_y, ref.content_width, ref.content_height))
            x += ref.panel_width
        return tuple(panels), tuple(contents), Rect(x, 0, self.target_width, self.canvas_height)


def centre_crop_hw(height: int, width: int, max_aspect: float = MAX_ASPECT) -> tuple[int, int]:
    """(height, width) left of a height x width image centre-cropped to at most max_aspect:1 either way."""
    if width > max_aspect * height:
        return height, int(max_aspect * height)
    if height > max_aspect * width:
        return int(max_aspect * width), width
    return height, width


def centre_crop_aspect(image: torch.Tensor, max_aspect: float = MAX_ASPECT) -> torch.Tensor:
    """Centre-crop a [B, H, W, C] image to at most max_aspect:1 either way (what ACE++ does)."""
    h, w = image.shape[1], image.shape[2]
    keep_h, keep_w = centre_crop_hw(h, w, max_aspect)
    y0, x0 = (h - keep_h) // 2, (w - keep_w) // 2
    return image[:, y0:y0 + keep_h, x0:x0 + keep_w]


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


def beyond_aspect(height: int, width: int) -> bool:
    return max(height, width) > MAX_ASPECT * min(height, width)


def too_narrow(th: int, tw: int, extents, reference_hws, token_budget: int, sizing: str,
               taller: TallerTarget = taller_target_anywhere) -> str:
    """Why a panel came out under one token wide, with the change that fixes it: never "raise token_budget"
    when no budget can help, never a budget above the widget's maximum or off its grid."""
    narrow = [(i, w) for i, (w, _) in enumerate(extents) if w < TOKEN_PX]
    if narrow:
        # Even at full size (scale 1) this reference is under 16 px wide: no budget can help.
        i, w = narrow[0]
        rh, rw = reference_hws[i]
        resized = rw * th / rh  # its width with reference_sizing resize
        if sizing == "keep_pixels" and resized >= TOKEN_PX:
            return (f"reference {i + 1} ({rw}x{rh}) would be only {w:.0f} px wide with keep_pixels (shrunk to "
                    f"keep_pixels_rate x the target height); {set_to(reference_sizing='resize')}, or give a wider "
                    "reference.")
        return (f"reference {i + 1} ({rw}x{rh}) would be only {w:.0f} px wide next to a target {th} px tall; give a "
                f"wider reference, {taller(math.ceil(TOKEN_PX * rh / rw))}.")
    scale = _scale(th, tw, extents, token_budget)
    if not _fits(th, tw, extents, MAX_TOKEN_BUDGET):
        return (f"this canvas is too wide for any token budget (at most {MAX_TOKEN_BUDGET}): a panel would be under "
                f"{TOKEN_PX} px. Use fewer or less extreme references, or a less wide target.")
    lo, hi = token_budget, MAX_TOKEN_BUDGET  # lo does not fit, hi does: the smallest budget that fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _fits(th, tw, extents, mid) else (mid, hi)
    # More budget never makes a panel narrower, so the next budget on the widget's grid fits too.
    budget = on_grid(hi, MIN_TOKEN_BUDGET, TOKEN_BUDGET_STEP)
    return (f"a token budget of {token_budget} is too small for this canvas: at scale {scale:.3f} a panel would be "
            f"under {TOKEN_PX} px; {set_to(token_budget=budget)} (or more), or use fewer or less extreme references.")


def _scale(th: int, tw: int, extents, token_budget: int) -> float:
    width = sum(w for w, _ in extents) + tw
    return min(1.0, math.sqrt(token_budget * TOKEN_PX * TOKEN_PX / (width * th)))


def _fits(th: int, tw: int, extents, token_budget: int) -> bool:
    scale = _scale(th, tw, extents, token_budget)
    return min([floor16(th * scale), floor16(tw * scale)] + [floor16(w * scale) for w, _ in extents]) >= TOKEN_PX


def fit_content(ref_hw: tuple[int, int], panel_width: int, height: int) -> tuple[int, int]:
    """(width, height) of the largest content with the reference's own aspect, at most `height` tall and
    `panel_width` wide; the rounded side is within half a pixel of the exact aspect."""
    rh, rw = ref_hw
    if rw * height > panel_width * rh:  # the panel's width limits it
        return panel_width, max(1, min(height, round(panel_width * rh / rw)))
    return max(1, min(panel_width, round(height * rw / rh))), height


def share_factor(tw: float, extents, share: float) -> float:
    """How much every reference shrinks so that together they take at most `share` of the canvas width."""
    total = sum(w for w, _ in extents)
    if share >= 1.0 or total <= 0:
        return 1.0
    return min(1.0, share / (1.0 - share) * tw / total)


def _layout(th: int, tw: int, reference_hws, extents, token_budget: int, sizing: str, keep_rate: float,
            share: float, twin: bool = False) -> CanvasPlan:
    """The plan for references shrunk to `share` (and the twin, when asked), without the under-one-token check."""
    factor = share_factor(tw, extents, share)
    extents = [(w * factor, h * factor) for w, h in extents]
    scale = _scale(th, tw * (1 + twin), extents, token_budget)
    canvas_height = floor16(th * scale)
    target_width = floor16(tw * scale)
    widths = [floor16(w * scale) for w, _ in extents]
    if share < 1.0:
        # Flooring each side to the grid can tip the share over: take whole tokens off the widest panel.
        limit = share / (1.0 - share) * target_width + 1e-9
        while sum(widths) > limit and max(widths) >= TOKEN_PX:
            widths[widths.index(max(widths))] -= TOKEN_PX
    # keep_pixels: the rate is an upper bound on the final, rounded canvas height.
    cap = canvas_height if sizing == "resize" else int(math.floor(keep_rate * canvas_height + 1e-9))
    references = []
    for hw, (_, h), width in zip(reference_hws, extents, widths):
        cw, ch = fit_content(hw, max(width, 1), max(1, min(cap, round(h * scale))))
        references.append(PanelPlan(panel_width=width, content_width=cw, content_height=ch,
                                    content_x=(width - cw) // 2, content_y=(canvas_height - ch) // 2))
    if twin:
        references.append(twin_panel(target_width, canvas_height))
    return CanvasPlan(scale=scale, canvas_height=canvas_height, references=tuple(references),
                      target_width=target_width)


def twin_panel(width: int, height: int) -> PanelPlan:
    """A blank-twin edit's source panel: the target's own crop, exactly the target panel's size."""
    return PanelPlan(panel_width=width, content_width=width, content_height=height)


def _narrowest(plan: CanvasPlan) -> int:
    return min([plan.canvas_height, plan.target_width] + [r.panel_width for r in plan.references])


def share_too_small(share: float, th: int, tw: int, reference_hws, extents, token_budget: int, sizing: str,
                    keep_rate: float, taller: TallerTarget = taller_target_anywhere, twin: bool = False) -> str:
    """Why a reference panel came out under one token with this reference_share, naming the smallest share on the
    widget's grid that works."""
    why = (f"reference_share {share:g} is too small for these references: a reference panel would be under one "
           f"{TOKEN_PX} px token;")
    candidate = on_grid(max(share, MIN_REFERENCE_SHARE), MIN_REFERENCE_SHARE, REFERENCE_SHARE_STEP)
    while candidate < 1.0:
        plan = _layout(th, tw, reference_hws, extents, token_budget, sizing, keep_rate, candidate, twin)
        if _narrowest(plan) >= TOKEN_PX:
            return f"{why} {set_to(reference_share=candidate)} (or more; 1 = no limit)."
        candidate = on_grid(candidate + REFERENCE_SHARE_STEP / 2, MIN_REFERENCE_SHARE, REFERENCE_SHARE_STEP)
    if _narrowest(_layout(th, tw, reference_hws, extents, token_budget, sizing, keep_rate, 1.0, twin)) >= TOKEN_PX:
        return f"{why} {set_to(reference_share=1)} (no limit)."
    why_not = too_narrow(th, tw * (1 + twin), extents, reference_hws, token_budget, sizing, taller).rstrip(".")
    return f"{why_not}; {set_to(reference_share=1)} (no limit) too."


def plan_canvas(
    target_hw: tuple[int, int],
    reference_hws: Sequence[tuple[int, int]],
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    reference_sizing: str = "resize",
    keep_pixels_rate: float = DEFAULT_KEEP_PIXELS_RATE,
    reference_share: float = DEFAULT_REFERENCE_SHARE,
    taller: TallerTarget = taller_target_anywhere,
    panel_sizing: str = DEFAULT_PANEL_SIZING,
    panel_size: tuple[int, int] = (DEFAULT_PANEL_WIDTH, DEFAULT_PANEL_HEIGHT),
    twin: bool = False,
) -> CanvasPlan:
    """Panel sizes for a target of target_hw (what the target panel must show) and the references.

    Every panel boundary is on the 16 px grid; each reference's content keeps its own aspect inside its panel
    (the rest is padded grey). reference_share < 1 shrinks the references so that together they take at most
    that fraction of the canvas width. `taller` says how this caller's target gets taller (for the message when a
    reference would be under one token wide next to it).

    panel_sizing other than token_budget sizes the panels from panel_size = (width, height) instead (see
    PANEL_SIZINGS; reference_share does not apply), shrunk together when they would pass token_budget. twin adds
    a last reference panel of exactly the target panel's size (a blank-twin edit's source, left of the blank
    target), never shrunk by reference_share."""
    th, tw = target_hw
    if th < TOKEN_PX or tw < TOKEN_PX:
        raise AcePlusError(f"the target is {tw}x{th}; both sides must be at least {TOKEN_PX} px: give a larger "
                           "edit image (or a larger width and height).")
    if beyond_aspect(th, tw):
        raise AcePlusError(f"the target is {tw}x{th}, beyond the {MAX_ASPECT:g}:1 aspect ACE++ supports; crop or "
                           f"pad it to at most {MAX_ASPECT:g}:1.")
    if reference_sizing not in REFERENCE_SIZINGS:
        raise AcePlusError(f"unknown reference sizing '{reference_sizing}'; use one of {', '.join(REFERENCE_SIZINGS)}.")
    if token_budget < 1:
        raise AcePlusError(f"token_budget must be positive; got {token_budget}.")
    if not 0.0 < keep_pixels_rate <= 1.0:
        raise AcePlusError(f"keep_pixels_rate must be in (0, 1]; got {keep_pixels_rate}.")
    if not 0.0 < reference_share <= 1.0:
        raise AcePlusError(f"reference_share must be in (0, 1]; got {reference_share}. Set it to 1 (no limit), or "
                           "0.5 to keep the target at least half the canvas width.")
    panel_aspect(panel_sizing, panel_size)  # the sizing and its panel box, checked once for every sizing
    reference_hws = [tuple(hw) for hw in reference_hws]
    if panel_sizing != DEFAULT_PANEL_SIZING:
        plan = _fixed_panels(th, tw, reference_hws, panel_sizing, panel_size, token_budget, reference_sizing,
                             keep_pixels_rate, twin)
    else:
        plan = _budget_panels(th, tw, reference_hws, token_budget, reference_sizing, keep_pixels_rate,
                              reference_share, taller, twin)
    return plan


def panel_box(target_hw: tuple[int, int], panel_sizing: str, panel_size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a fixed sizing's panel before the budget: fixed_width's height follows the target's
    aspect (floored to the grid, at least one token); square and equal are panel_size itself (square: its width)."""
    width, height = panel_size
    if panel_sizing == "fixed_width":
        th, tw = target_hw
        return width, max(TOKEN_PX, floor16(width * th / tw))
    if panel_sizing == "square":
        return width, width
    return width, height


def panel_aspect(panel_sizing: str, panel_size: tuple[int, int]) -> float | None:
    """The width/height a crop is widened to for this sizing (square, equal), None where it follows the target.
    Raises the error that names the fix for a panel box beyond 4:1 or under one token."""
    if panel_sizing not in PANEL_SIZINGS:
        raise AcePlusError(f"unknown panel_sizing '{panel_sizing}'; use one of {', '.join(PANEL_SIZINGS)}.")
    for name, value in zip(("panel_width", "panel_height"), panel_size):
        if value < TOKEN_PX:
            raise AcePlusError(f"{name} is {value}; {set_to(**{name: TOKEN_PX})} or more.")
    if panel_sizing not in ("square", "equal"):
        return None
    width, height = panel_box((1, 1), panel_sizing, panel_size)
    if beyond_aspect(height, width):
        fix = (set_to(panel_height=on_grid(math.ceil(width / MAX_ASPECT), TOKEN_PX, TOKEN_PX)) if width > height
               else set_to(panel_height=on_grid(int(width * MAX_ASPECT), TOKEN_PX, TOKEN_PX, up=False)))
        raise AcePlusError(f"equal panels of {width}x{height} are beyond the {MAX_ASPECT:g}:1 aspect ACE++ "
                           f"supports; {fix}.")
    return width / height


def _fixed_sizes(th: int, tw: int, box_w: int, box_h: int, count: int, twin: bool, panel_sizing: str,
                 token_budget: int) -> tuple[float, int, int, int]:
    """(scale, canvas height, reference panel width, target panel width) of a fixed sizing within the budget."""
    target_w = box_w if panel_sizing == "fixed_width" else box_h * tw / th
    scale = min(1.0, math.sqrt(token_budget * TOKEN_PX * TOKEN_PX / ((count * box_w + target_w * (1 + twin)) * box_h)))
    width = floor16(box_w * scale)
    if panel_sizing == "fixed_width":
        # The height follows the target's aspect at the final width: one rounding, not two.
        return scale, floor16(width * th / tw), width, width
    height = floor16(box_h * scale)
    # A crop widened to the box's aspect is within a pixel of it (whole pixels): that is the box's width.
    exact = abs(tw - box_w * th / box_h) <= 1
    return scale, height, width, width if exact else floor16(height * tw / th)


def _fixed_panels(th: int, tw: int, reference_hws, panel_sizing: str, panel_size: tuple[int, int], token_budget: int,
                  sizing: str, keep_rate: float, twin: bool) -> CanvasPlan:
    """Every reference panel box_w x box_h; the target panel box_h tall and as wide as its aspect gives (box_w
    when the target has the box's aspect, which crop-to-context arranges); all shrunk together to the budget."""
    box_w, box_h = panel_box((th, tw), panel_sizing, panel_size)
    sizes = functools.partial(_fixed_sizes, th, tw, box_w, box_h, len(reference_hws), twin, panel_sizing)
    _, height, width, target_width = sizes(token_budget)
    if min(height, width, target_width) < TOKEN_PX:
        fits = lambda budget: min(sizes(budget)[1:]) >= TOKEN_PX  # noqa: E731
        what = f"{len(reference_hws) + twin + 1} {panel_sizing} panels of {box_w}x{box_h}"
        if not fits(MAX_TOKEN_BUDGET):
            raise AcePlusError(f"the target ({tw}x{th}) is too narrow for {what}: a panel would be under {TOKEN_PX} px "
                               f"within any token budget; crop the edit image nearer the panels' aspect, or "
                               f"{set_to(panel_sizing=DEFAULT_PANEL_SIZING)}.")
        lo, hi = token_budget, MAX_TOKEN_BUDGET  # more budget never makes a panel narrower
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if fits(mid) else (mid, hi)
        raise AcePlusError(f"a token budget of {token_budget} is too small for {what}: a panel would be under "
                           f"{TOKEN_PX} px; {set_to(token_budget=on_grid(hi, MIN_TOKEN_BUDGET, TOKEN_BUDGET_STEP))} "
                           "(or more).")
    cap = height if sizing == "resize" else int(math.floor(keep_rate * height + 1e-9))
    references = []
    for hw in reference_hws:
        cw, ch = fit_content(hw, width, cap)
        references.append(PanelPlan(panel_width=width, content_width=cw, content_height=ch,
                                    content_x=(width - cw) // 2, content_y=(height - ch) // 2))
    if twin:
        references.append(twin_panel(target_width, height))
    return CanvasPlan(scale=height / th, canvas_height=height, references=tuple(references),
                      target_width=target_width)


def _budget_panels(th: int, tw: int, reference_hws, token_budget: int, reference_sizing: str, keep_pixels_rate: float,
                   reference_share: float, taller: TallerTarget, twin: bool) -> CanvasPlan:
    """token_budget sizing: the largest panels within the budget (the twin counted as a reference of the
    target's own size and aspect, left out of reference_share)."""
    extents = [reference_extent(hw, th, reference_sizing, keep_pixels_rate) for hw in reference_hws]
    plan = _layout(th, tw, reference_hws, extents, token_budget, reference_sizing, keep_pixels_rate, reference_share,
                   twin)
    if _narrowest(plan) < TOKEN_PX:
        if reference_share < 1.0:
            raise AcePlusError(share_too_small(reference_share, th, tw, reference_hws, extents, token_budget,
                                               reference_sizing, keep_pixels_rate, taller, twin))
        # The twin is as wide as the target: for the budget it is more target width.
        raise AcePlusError(too_narrow(th, tw * (1 + twin), extents, reference_hws, token_budget, reference_sizing,
                                      taller))
    return plan
