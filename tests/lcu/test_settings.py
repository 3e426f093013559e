"""The canvas settings record (lcu/settings.py): defaults a widget can hold, the same defaults lcu's own functions
take, and the one mapping from widget values to lcu's canvas arguments."""
from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from aceplusplus.lcu.canvas import build_canvas
from aceplusplus.lcu.fixes import on_grid
from aceplusplus.lcu.preview import plan_layout
from aceplusplus.lcu.settings import DEFAULTS, CanvasSettings, setting_choices, setting_range

NAMES = [f.name for f in dataclasses.fields(CanvasSettings)]


@pytest.mark.parametrize("name", NAMES)
def test_every_default_is_a_value_its_widget_holds(name):
    default, grid, choices = getattr(DEFAULTS, name), setting_range(name), setting_choices(name)
    if isinstance(default, bool):
        assert grid is None and choices is None
    elif choices is not None:
        assert grid is None and default in choices
    else:
        assert grid.min <= default <= grid.max
        assert on_grid(default, grid.min, grid.step) == default, f"{name} default {default} is off its grid"
        assert isinstance(default, int) == isinstance(grid.step, int)


@pytest.mark.parametrize("function", [build_canvas, plan_layout])
def test_lcus_own_defaults_are_the_records(function):
    """Called without a setting, lcu builds what the node builds with that setting left at its default."""
    parameters = inspect.signature(function).parameters
    # context_margin is lcu's crop (None: none), the record's margin property: compared below.
    shared = [name for name in NAMES if name in parameters and name != "context_margin"]
    assert len(shared) >= 6, shared
    assert {name: parameters[name].default for name in shared} == {name: getattr(DEFAULTS, name) for name in shared}
    assert parameters["context_margin"].default == DEFAULTS.margin  # crop_to_context off: the whole image
    if "target_size" in parameters and parameters["target_size"].default is not None:
        assert parameters["target_size"].default == (DEFAULTS.width, DEFAULTS.height)


def test_the_record_is_frozen_and_round_trips_as_widget_values():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.token_budget = 64
    values = DEFAULTS.widget_values()
    assert list(values) == NAMES and CanvasSettings(**values) == DEFAULTS


@pytest.mark.parametrize("crop, regions, margin", [(False, "one", None), (True, "one", 40),
                                                   (False, "connected_components", 40), (True, "mask_batch", 40)])
def test_several_regions_are_always_cropped_to_their_context(crop, regions, margin):
    settings = CanvasSettings(crop_to_context=crop, regions=regions, context_margin=40)
    assert settings.margin == margin
    assert settings.layout_arguments()["context_margin"] == margin == settings.canvas_arguments()["context_margin"]


def test_the_arguments_are_what_lcu_takes():
    """The layout arguments plan the canvas the full arguments build, so the preview route and the node agree."""
    settings = CanvasSettings(width=96, height=64, token_budget=128, reference_share=0.5)
    reference = torch.rand(1, 80, 40, 3, generator=torch.Generator().manual_seed(0))
    canvas = build_canvas(references=[reference], **settings.canvas_arguments())
    plan = plan_layout(reference_hws=[(80, 40)], **settings.layout_arguments())
    assert (plan["canvas"]["width"], plan["canvas"]["height"]) == (canvas.layout.canvas_width,
                                                                   canvas.layout.canvas_height)
    assert set(settings.canvas_arguments()) - set(settings.layout_arguments()) == {
        "merge_distance", "min_region_area", "max_regions"}
