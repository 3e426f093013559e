"""The node-library features of newer cores (nodes/schema.py), on whichever ComfyUI the suite runs.

ComfyUI 0.28.2's V3 io has ``Schema.search_aliases`` and ``Input(advanced=True)``; 0.3.75's has neither. The pack
detects them from the io itself. These tests detect them independently (the Schema's fields, the Input's
keywords) and check the node definitions ComfyUI reports (GET /object_info's entries, ComfyUI's own V3 -> V1
conversion): with the features, every node carries the pack's search aliases and exactly its advanced inputs are
marked; without them, the definitions carry neither and the pack loads as before. On both, every node keeps its
released input names in their released order (saved workflows are positional).
"""
from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from harness import core_version

DOCS = Path(__file__).resolve().parents[2] / "web" / "docs"
# The released inputs, in order: never renamed, never moved (tools/workflow_specs.py and saved workflows rely on it).
RELEASED_INPUTS = {
    "ACEPP_LoraLoader": ["model", "vertical", "lora_name", "strength", "on_mismatch"],
    "ACEPP_FFTLoader": ["unet_name", "weight_dtype"],
    "ACEPP_AddReference": ["image", "references"],
    "ACEPP_CanvasBuilder": ["reference", "more_references", "edit_image", "mask", "width", "height", "token_budget",
                            "reference_sizing", "keep_pixels_rate", "crop_to_context", "context_margin",
                            "reference_share", "resampling", "regions", "merge_distance", "min_region_area",
                            "max_regions", "panel_sizing", "panel_width", "panel_height", "edit_style",
                            "reference_mask"],
    "ACEPP_ControlMap": ["image", "mask", "kind", "control_image", "mosaic_cell", "canny_low", "canny_high"],
    "ACEPP_FillConditioning": ["model", "positive", "negative", "vae", "canvas", "canvas_mask", "repainting_scale",
                               "noise_mask"],
    "ACEPP_FFTConditioning": ["model", "positive", "negative", "vae", "canvas", "canvas_mask", "repainting_scale",
                              "noise_mask"],
    "ACEPP_Stitch": ["image", "layout", "grow", "feather", "color_match"],
    "ACEPP_Outpaint": ["image", "left", "top", "right", "bottom"],
}
# What users type for this pack; each node is found by these (its own aliases come on top).
PACK_ALIASES = {"ACE Plus", "ACE++", "LCU"}
# Known cores: whether their io has the features (the tests' own detection must agree).
KNOWN_CORES = {"0.3.75": False, "0.28.2": True}


def core_has_features() -> tuple[bool, bool]:
    """(Schema has search_aliases, widget inputs take advanced), read from the running core's io."""
    from comfy_api.v0_0_2 import io

    aliases = "search_aliases" in {f.name for f in dataclasses.fields(io.Schema)}
    advanced = all("advanced" in inspect.signature(cls.__init__).parameters
                   for cls in (io.Int.Input, io.Float.Input, io.Boolean.Input, io.Combo.Input))
    return aliases, advanced


def node_info(comfy, node_id: str) -> dict:
    return comfy.node_class(node_id).GET_NODE_INFO_V1()


def input_options(info: dict) -> dict[str, dict]:
    out = {}
    for group in ("required", "optional"):
        for name, spec in (info["input"].get(group) or {}).items():
            out[name] = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return out


def test_the_pack_detects_what_this_core_has(comfy, pack):
    aliases, advanced = core_has_features()
    assert (pack.schema.SEARCH_ALIASES_SUPPORTED, pack.schema.ADVANCED_SUPPORTED) == (aliases, advanced)
    version = core_version()
    if version in KNOWN_CORES:
        assert aliases == advanced == KNOWN_CORES[version], f"ComfyUI {version}: aliases {aliases}, advanced {advanced}"


def test_released_inputs_keep_their_names_and_order(comfy):
    assert sorted(comfy.pack_declared_node_ids()) == sorted(RELEASED_INPUTS)
    for node_id, names in RELEASED_INPUTS.items():
        schema = comfy.node_class(node_id).define_schema()
        assert [i.id for i in schema.inputs] == names, node_id
        info = node_info(comfy, node_id)
        order = info.get("input_order") or {group: list(info["input"].get(group) or {})
                                            for group in ("required", "optional")}
        assert [n for g in ("required", "optional") for n in order.get(g, [])] == \
            [n for n in names if n in info["input"].get("required", {})] + \
            [n for n in names if n in (info["input"].get("optional") or {})], node_id


def test_object_info_carries_aliases_and_advanced_inputs_where_the_core_has_them(comfy, pack):
    aliases, advanced = core_has_features()
    for node_id in RELEASED_INPUTS:
        info = node_info(comfy, node_id)
        found = info.get("search_aliases") or []
        if aliases:
            assert PACK_ALIASES <= set(found), (node_id, found)
            assert len(found) == len(set(found)) > len(PACK_ALIASES), (node_id, found)
        else:
            assert not found, (node_id, found)
        marked = {name for name, options in input_options(info).items() if options.get("advanced")}
        assert marked == (set(pack.schema.ADVANCED[node_id]) if advanced else set()), node_id
        if not advanced:
            assert all("advanced" not in options for options in input_options(info).values()), node_id
    if aliases:
        canvas = set(node_info(comfy, "ACEPP_CanvasBuilder")["search_aliases"])
        assert {"in-context", "try-on", "face swap"} <= canvas, canvas


def test_the_advanced_inputs_are_rarely_changed_widgets(comfy, pack):
    """Whatever the core: the inputs the pack calls advanced, all widgets (a socket is never folded away)."""
    assert pack.schema.ADVANCED == {
        "ACEPP_LoraLoader": ("on_mismatch",),
        "ACEPP_FFTLoader": (),
        "ACEPP_AddReference": (),
        "ACEPP_CanvasBuilder": ("keep_pixels_rate", "reference_share", "resampling", "merge_distance",
                                "min_region_area", "max_regions", "panel_width", "panel_height"),
        "ACEPP_ControlMap": ("mosaic_cell", "canny_low", "canny_high"),
        "ACEPP_FillConditioning": ("noise_mask",),
        "ACEPP_FFTConditioning": ("noise_mask",),
        "ACEPP_Stitch": (),
        "ACEPP_Outpaint": (),
    }
    for node_id, names in pack.schema.ADVANCED.items():
        info = node_info(comfy, node_id)
        specs = {**info["input"].get("required", {}), **(info["input"].get("optional") or {})}
        for name in names:
            kind = specs[name][0]
            assert isinstance(kind, list) or kind in ("INT", "FLOAT", "BOOLEAN", "COMBO"), (node_id, name, kind)


@pytest.mark.parametrize("node_id", sorted(RELEASED_INPUTS))
def test_help_pages_mark_exactly_the_advanced_inputs(node_id, comfy, pack):
    comfy.node_class(node_id).define_schema()
    text = (DOCS / f"{node_id}.md").read_text("utf-8")
    rows = dict(re.findall(r"^\| `(\w+)`( \([a-z, ]+\))? \|", text, re.M))
    assert set(RELEASED_INPUTS[node_id]) <= set(rows), node_id
    marked = {name for name in RELEASED_INPUTS[node_id] if "advanced" in rows[name]}
    assert marked == set(pack.schema.ADVANCED[node_id]), f"{node_id}.md: mark these 'advanced': {marked}"


def test_the_canvas_widgets_are_the_settings_record(comfy):
    """Defaults, ranges and choices of the canvas node's widgets come from lcu/settings.py, in its field order,
    as /object_info reports them (the route and the generator read the same record)."""
    from aceplusplus.lcu.settings import DEFAULTS, setting_choices, setting_range

    info = node_info(comfy, "ACEPP_CanvasBuilder")
    specs = {**info["input"]["required"], **(info["input"].get("optional") or {})}
    widgets = [name for name in RELEASED_INPUTS["ACEPP_CanvasBuilder"] if name in DEFAULTS.widget_values()]
    assert widgets == list(DEFAULTS.widget_values())
    for name, default in DEFAULTS.widget_values().items():
        kind, options = specs[name][0], input_options(info)[name]
        assert options["default"] == default, name
        grid, choices = setting_range(name), setting_choices(name)
        if grid is not None:
            assert (kind, options["min"], options["max"], options["step"]) == (
                "INT" if isinstance(default, int) else "FLOAT", grid.min, grid.max, grid.step), name
        elif choices is not None:
            listed = kind if isinstance(kind, list) else options["options"]
            assert list(listed) == list(choices), name
        else:
            assert kind == "BOOLEAN", name
