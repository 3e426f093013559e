"""The ACE++ Canvas node's settings as one frozen record: every setting's default and range are defined here once.

Its readers: the node's schema (widget defaults, ranges, choices: nodes/canvas.py), the node itself and the layout
preview route (widget values -> lcu's canvas arguments: :meth:`CanvasSettings.canvas_arguments`), and the workflow
generator (the values a bundled workflow starts from: :meth:`CanvasSettings.widget_values`). The settings that
lcu's own functions default to (token budget, keep-pixels rate, reference share, resampling, regions) keep their
home beside the code that uses them and are read from there.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from .images import DEFAULT_RESAMPLING, RESAMPLINGS
from .regions import (CONTEXT_MARGIN_STEP, DEFAULT_MAX_REGIONS, DEFAULT_MERGE_DISTANCE, DEFAULT_MIN_REGION_AREA,
                      DEFAULT_REGION_MODE, MAX_REGIONS, REGION_MODES)
from .canvas import DEFAULT_EDIT_STYLE, EDIT_STYLES
from .sizing import (DEFAULT_PANEL_HEIGHT, DEFAULT_PANEL_SIZING, DEFAULT_PANEL_WIDTH, PANEL_SIZINGS, TOKEN_PX,
                     DEFAULT_KEEP_PIXELS_RATE, DEFAULT_REFERENCE_SHARE, DEFAULT_TOKEN_BUDGET, MAX_TOKEN_BUDGET,
                     MIN_REFERENCE_SHARE, MIN_TOKEN_BUDGET, REFERENCE_SHARE_STEP, REFERENCE_SIZINGS, TOKEN_BUDGET_STEP)

MAX_SIDE = 8192  # px: the largest width, height or margin the node's widgets take


@dataclass(frozen=True)
class Range:
    """A number widget's grid: min + k * step, up to max."""

    min: float
    max: float
    step: float


def _number(default, low, high, step):
    return dataclasses.field(default=default, metadata={"range": Range(low, high, step)})


def _choice(default: str, choices: tuple[str, ...]):
    return dataclasses.field(default=default, metadata={"choices": tuple(choices)})


@dataclass(frozen=True)
class CanvasSettings:
    """The canvas node's widget values, in the node's input order (saved workflows are positional)."""

    width: int = _number(1024, 16, MAX_SIDE, 1)  # reference generation: the size of the new image
    height: int = _number(1024, 16, MAX_SIDE, 1)
    token_budget: int = _number(DEFAULT_TOKEN_BUDGET, MIN_TOKEN_BUDGET, MAX_TOKEN_BUDGET, TOKEN_BUDGET_STEP)
    reference_sizing: str = _choice("resize", REFERENCE_SIZINGS)
    keep_pixels_rate: float = _number(DEFAULT_KEEP_PIXELS_RATE, 0.1, 1.0, 0.05)
    crop_to_context: bool = False
    context_margin: int = _number(128, 0, MAX_SIDE, CONTEXT_MARGIN_STEP)
    # Added after the released settings, optional on the node: older saved workflows leave them out.
    reference_share: float = _number(DEFAULT_REFERENCE_SHARE, MIN_REFERENCE_SHARE, 1.0, REFERENCE_SHARE_STEP)
    resampling: str = _choice(DEFAULT_RESAMPLING, RESAMPLINGS)
    regions: str = _choice(DEFAULT_REGION_MODE, REGION_MODES)
    merge_distance: int = _number(DEFAULT_MERGE_DISTANCE, 0, MAX_SIDE, 1)
    min_region_area: int = _number(DEFAULT_MIN_REGION_AREA, 0, 1 << 26, 1)
    max_regions: int = _number(DEFAULT_MAX_REGIONS, 1, MAX_REGIONS, 1)
    panel_sizing: str = _choice(DEFAULT_PANEL_SIZING, PANEL_SIZINGS)
    panel_width: int = _number(DEFAULT_PANEL_WIDTH, TOKEN_PX, MAX_SIDE, TOKEN_PX)
    panel_height: int = _number(DEFAULT_PANEL_HEIGHT, TOKEN_PX, MAX_SIDE, TOKEN_PX)
    edit_style: str = _choice(DEFAULT_EDIT_STYLE, EDIT_STYLES)

    @property
    def several_regions(self) -> bool:
        return self.regions != DEFAULT_REGION_MODE

    @property
    def margin(self) -> Optional[int]:
        """The context margin lcu crops with, None for the whole edit image. Several regions are always cropped
        to their context (the node's regions tooltip says so), whatever crop_to_context says."""
        return self.context_margin if self.crop_to_context or self.several_regions else None

    def layout_arguments(self) -> dict:
        """The keyword arguments that decide the layout: what build_canvas and lcu.preview.plan_layout share."""
        return dict(target_size=(self.width, self.height), token_budget=self.token_budget,
                    reference_sizing=self.reference_sizing, keep_pixels_rate=self.keep_pixels_rate,
                    context_margin=self.margin, reference_share=self.reference_share, resampling=self.resampling,
                    regions=self.regions, panel_sizing=self.panel_sizing,
                    panel_size=(self.panel_width, self.panel_height), edit_style=self.edit_style)

    def canvas_arguments(self) -> dict:
        """build_canvas's keyword arguments: the layout's, plus how a mask splits into regions."""
        return self.layout_arguments() | dict(merge_distance=self.merge_distance,
                                              min_region_area=self.min_region_area, max_regions=self.max_regions)

    def widget_values(self) -> dict:
        """{widget name: value} in the node's input order (what a workflow file stores for the node)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def setting_range(name: str) -> Optional[Range]:
    """The grid of a number setting, None for a choice or a switch."""
    return _FIELDS[name].metadata.get("range")


def setting_choices(name: str) -> Optional[tuple[str, ...]]:
    """The choices of a choice setting, None for a number or a switch."""
    return _FIELDS[name].metadata.get("choices")


_FIELDS = {f.name: f for f in dataclasses.fields(CanvasSettings)}
DEFAULTS = CanvasSettings()
