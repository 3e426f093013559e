"""Bundled workflows: build the UI files, their API twins and thumbnails from tools/workflow_specs.py, check
them for drift, and convert any frontend-saved UI workflow to the API format (the converter ComfyUI lacks).

    python tools/workflows.py build [--server URL | --embedded]   write workflows/<title>.json, .jpg,
                                                                  api/<id>.json, api/index.json and the
                                                                  subgraph blueprints subgraphs/<name>.json
    python tools/workflows.py check [--server URL | --embedded]   exit 1 listing every drift
    python tools/workflows.py convert UI.json [--server URL | --embedded] [-o API.json]

Node schemas come from a running ComfyUI's GET /object_info. --embedded (the default when no --server is
given) starts this project's own ComfyUI (tools/runtime.sh: the venv and the ComfyUI it provides) on a free
local port with a temporary base directory that links this pack into custom_nodes/, and stops it after.

Importable: spec_to_ui(spec, object_info), spec_to_blueprint(spec, object_info), ui_to_api(ui_workflow,
object_info), fetch_object_info(server).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections import defaultdict
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import workflow_specs  # noqa: E402
from comfy_process import EXIT_SERVER, BlockingSession, ClientError, EmbeddedComfy  # noqa: E402
from workflow_specs import BLUEPRINTS, WORKFLOWS, is_link  # noqa: E402

ROOT = TOOLS.parent
WORKFLOWS_DIR = ROOT / "workflows"
# Subgraph blueprints: ComfyUI serves custom_nodes/<pack>/subgraphs/*.json (app/subgraph_manager.py), the folder
# beside workflows/.
BLUEPRINTS_DIR = ROOT / "subgraphs"
PACK_CNR_ID = "aceplusplus-lcu"  # [project] name in pyproject.toml: the Registry id Manager looks up


def fetch_object_info(server: str) -> dict:
    with BlockingSession(server) as session:
        return session.object_info()


# ===================================================================================================


# ===================================================================================================
# Node schemas (GET /object_info) as the frontend reads them.

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "MARKDOWN", "IMAGEUPLOAD", "COLOR", "IMAGECOMPARE",
                "CHART", "GALLERIA", "TEXTAREA", "WEBCAM", "LOAD_3D", "LOAD_3D_ANIMATION"}
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize", "increment-wrap"}
MEDIA_UPLOAD = ("image_upload", "video_upload", "animated_image_upload")
VIRTUAL_TYPES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
MODE_NEVER, MODE_BYPASS = 2, 4


def _opts(spec) -> dict:
    return spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict) else {}


def input_type(spec) -> str:
    t = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
    return "COMBO" if isinstance(t, list) else str(t)


def ordered_inputs(node_def: dict) -> list[tuple[str, list, str]]:
    """(name, spec, section) for required then optional inputs, in input_order when the server gives one."""
    out = []
    order = node_def.get("input_order") or {}
    for section in ("required", "optional"):
        entries = node_def.get("input", {}).get(section) or {}
        names = [n for n in order.get(section, []) if n in entries]
        names += [n for n in entries if n not in names]
        out += [(n, entries[n], section) for n in names]
    return out


def is_widget(spec) -> bool:
    if _opts(spec).get("forceInput"):
        return False
    t = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
    return isinstance(t, list) or t in WIDGET_TYPES


def has_control(name: str, spec) -> bool:
    opts = _opts(spec)
    if "control_after_generate" in opts:
        return bool(opts["control_after_generate"])
    return input_type(spec) == "INT" and name in ("seed", "noise_seed")


def combo_options(spec) -> list:
    t = spec[0]
    return list(t) if isinstance(t, list) else list(_opts(spec).get("options") or [])


def widget_slots(node_def: dict, legacy_force_inputs: bool = False) -> list[tuple[str, object]]:
    """The node's serialized widget values, in order: (input name, spec) for a widget, ("#control", name)
    for the control_after_generate value after it, ("#upload", None) for the media upload button."""
    slots: list[tuple[str, object]] = []
    entries = ordered_inputs(node_def)
    for section in ("required", "optional"):
        for name, spec, sec in entries:
            if sec != section:
                continue
            forced = _opts(spec).get("forceInput") and legacy_force_inputs and input_type(spec) in WIDGET_TYPES
            if is_widget(spec) or forced:
                slots.append((name, spec if not forced else None))
                if has_control(name, spec):
                    slots.append(("#control", name))
        if section == "required" and any(_opts(s).get(k) for _, s, sec in entries if sec == "required"
                                         for k in MEDIA_UPLOAD):
            slots.append(("#upload", None))
    return slots


def widget_default(name: str, spec):
    opts = _opts(spec)
    if "default" in opts:
        return opts["default"]
    if input_type(spec) == "COMBO":
        options = combo_options(spec)
        if options:
            return options[0]
    fallback = {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}
    if input_type(spec) in fallback:
        return fallback[input_type(spec)]
    raise ValueError(f"widget '{name}' has no default; give it a value in the spec")


def display_name(object_info: dict, class_type: str) -> str:
    return (object_info.get(class_type) or {}).get("display_name") or class_type


# ===================================================================================================
# Dynamic prompts: the frontend rewrites STRING widgets declared dynamicPrompts (CLIPTextEncode's text) when
# it queues: comments are stripped and {a|b} picks one option, so a literal {image} becomes "image" unless
# written \{image\}. The converter does the same so an API twin equals what the browser would send.


def process_dynamic_prompt(text: str, choose=lambda options: options[0]) -> str:
    text = re.sub(r"/\*[\s\S]*?\*/|//.*", "", text)
    pos = 0

    def escape() -> str:
        nonlocal pos
        ch = text[pos] if pos < len(text) else ""
        pos += 1
        return "\\" + ch

    def choice_block() -> str:
        nonlocal pos
        options, current, depth = [], "", 0
        while pos < len(text):
            ch = text[pos]
            pos += 1
            if ch == "\\":
                current += escape()
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                if not depth:
                    break
                depth -= 1
            elif ch == "|" and not depth:
                options.append(current)
                current = ""
                continue
            current += ch
        options.append(current)
        return process_dynamic_prompt(choose(options), choose)

    out = ""
    while pos < len(text):
        ch = text[pos]
        pos += 1
        if ch == "\\":
            out += escape()
        elif ch == "{":
            out += choice_block()
        else:
            out += ch
    return re.sub(r"\\([{}|])", r"\1", out)


def escape_dynamic_prompt(text: str) -> str:
    """The text to put in a dynamicPrompts widget so that the frontend sends exactly `text`."""
    if "//" in text or "/*" in text:
        raise ValueError("dynamic-prompt text cannot carry // or /* (the frontend strips them as comments)")
    return re.sub(r"([{}|])", r"\\\1", text)


# ===================================================================================================
# spec -> UI workflow (frontend schema 0.4)


def _node_size(class_type: str, node_def: dict, n_sockets: int, n_outputs: int, slots) -> list[int]:
    widths = {"CLIPTextEncode": 420, "SaveImage": 420, "LoadImage": 320, "ACEPP_CanvasBuilder": 340,
              "KSampler": 320, "DualCLIPLoader": 340, "ACEPP_LoraLoader": 340}
    width = widths.get(class_type, 320)
    height = 36 + 22 * max(n_sockets, n_outputs)  # n_sockets: the socket inputs, widget slots excluded
    for name, spec in slots:
        if name == "#upload":
            height += 26
        elif spec is not None and input_type(spec) == "STRING" and _opts(spec).get("multiline"):
            height += 130
        else:
            height += 26
    if class_type == "LoadImage":
        height = max(height, 330)
    if class_type == "SaveImage":
        height = max(height, 380)
    return [width, height]


def _depths(spec: dict) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(nid: str, stack=()) -> int:
        if nid in depth:
            return depth[nid]
        if nid in stack:
            raise ValueError(f"{spec['id']}: cycle through node {nid}")
        sources = [v[0] for v in spec["nodes"][nid]["inputs"].values() if is_link(v)]
        depth[nid] = 1 + max((visit(s, stack + (nid,)) for s in sources), default=-1)
        return depth[nid]

    for nid in spec["nodes"]:
        visit(nid)
    return depth


def _topological(spec: dict) -> list[str]:
    depth = _depths(spec)
    return sorted(spec["nodes"], key=lambda n: (depth[n], int(n) if n.isdigit() else n))


SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20  # the ids of a subgraph's input and output nodes in its links


def _ui_nodes(spec: dict, object_info: dict, boundary: dict | None = None,
              left: int = 40 + 440 + 70) -> tuple[dict[str, dict], list[list]]:
    """The UI nodes of a spec (by spec id, laid out in columns from x = `left`) and its links table.
    `boundary` maps (node id, input name) to the index of the subgraph input that feeds it (a blueprint's
    inner graph): such a socket counts as connected, and a widget keeps the spec's value."""
    boundary = boundary or {}
    missing = sorted({n["class_type"] for n in spec["nodes"].values()} - set(object_info))
    if missing:
        raise ValueError(f"{spec['id']}: the server does not know node type(s) {', '.join(missing)} "
                         "(is the pack loaded? see the server log for IMPORT FAILED)")
    order = _topological(spec)
    ids = {nid: int(nid) for nid in spec["nodes"]}
    links: list[list] = []
    nodes: dict[str, dict] = {}

    for nid in sorted(spec["nodes"], key=lambda n: ids[n]):
        node = spec["nodes"][nid]
        ct = node["class_type"]
        node_def = object_info[ct]
        entries = ordered_inputs(node_def)
        unknown = set(node["inputs"]) - {name for name, _, _ in entries}
        if unknown:
            raise ValueError(f"{spec['id']}: node {nid} ({ct}) has no input(s) {', '.join(sorted(unknown))}")
        inputs, widget_inputs, values = [], [], []
        for name, ispec, section in entries:
            value = node["inputs"].get(name)
            bound = boundary.get((nid, name))
            if is_widget(ispec):
                # Every widget also has an input slot (linked when the widget is driven by a link).
                entry = {"name": name, "type": input_type(ispec), "widget": {"name": name}, "link": None}
                if is_link(value):
                    entry["_src"] = value
                elif bound is not None:
                    entry["_src"] = (SUBGRAPH_INPUT, bound)
                widget_inputs.append(entry)
            else:
                if value is not None and not is_link(value):
                    raise ValueError(f"{spec['id']}: node {nid} ({ct}) input '{name}' is a socket: give a link")
                entry = {"name": name, "type": input_type(ispec), "link": None}
                if value is not None:
                    entry["_src"] = value
                elif bound is not None:
                    entry["_src"] = (SUBGRAPH_INPUT, bound)
                elif section == "required":
                    raise ValueError(f"{spec['id']}: node {nid} ({ct}) required input '{name}' is not connected")
                inputs.append(entry)
        inputs += widget_inputs  # sockets first, then the widgets' slots, as the frontend lists them
        slots = widget_slots(node_def)
        for name, ispec in slots:
            if name == "#control":
                values.append("fixed")
            elif name == "#upload":
                values.append("image")
            else:
                value = node["inputs"].get(name)
                if value is None or is_link(value):
                    value = widget_default(name, ispec)
                if isinstance(value, str) and _opts(ispec).get("dynamicPrompts"):
                    value = escape_dynamic_prompt(value)
                values.append(value)
        out_types = node_def.get("output") or []
        out_names = node_def.get("output_name") or out_types
        outputs = [{"name": out_names[i], "type": (t if isinstance(t, str) else "COMBO"), "links": [],
                    "slot_index": i} for i, t in enumerate(out_types)]
        properties = {"Node name for S&R": ct}
        if ct.startswith("ACEPP_"):
            properties["cnr_id"] = PACK_CNR_ID
        else:
            properties["cnr_id"] = "comfy-core"
        if node.get("models"):
            properties["models"] = [dict(m) for m in node["models"]]
        ui = {"id": ids[nid], "type": ct, "pos": [0, 0],
              "size": _node_size(ct, node_def, len(inputs) - len(widget_inputs), len(outputs), slots),
              "flags": {}, "order": order.index(nid), "mode": 0, "inputs": inputs, "outputs": outputs}
        if node.get("title"):
            ui["title"] = node["title"]
        ui["properties"] = properties
        ui["widgets_values"] = values
        nodes[nid] = ui

    # Links, in target order, and their ids on both ends.
    for nid in sorted(nodes, key=lambda n: ids[n]):
        for slot, entry in enumerate(nodes[nid]["inputs"]):
            src = entry.pop("_src", None)
            if src is None:
                continue
            src_id, src_slot = src
            if src_id == SUBGRAPH_INPUT:
                links.append([len(links) + 1, SUBGRAPH_INPUT, src_slot, ids[nid], slot, entry["type"]])
                entry["link"] = len(links)
                continue
            if src_id not in nodes:
                raise ValueError(f"{spec['id']}: node {nid} links to unknown node {src_id}")
            outputs = nodes[src_id]["outputs"]
            if src_slot >= len(outputs):
                raise ValueError(f"{spec['id']}: node {src_id} has no output {src_slot}")
            link_id = len(links) + 1
            out_type = outputs[src_slot]["type"]
            links.append([link_id, ids[src_id], src_slot, ids[nid], slot, out_type])
            entry["link"] = link_id
            outputs[src_slot]["links"].append(link_id)

    # Layout: one column per graph depth, left to right (a workflow's Note is left of everything).
    depth = _depths(spec)
    gap_x, gap_y, title_h = 70, 46, 30
    x = left

    def source_y(n: str) -> float:  # mean centre height of the nodes feeding n (already placed)
        ys = [nodes[v[0]]["pos"][1] + nodes[v[0]]["size"][1] / 2
              for v in spec["nodes"][n]["inputs"].values() if is_link(v)]
        return sum(ys) / len(ys) if ys else 0.0

    for d in range(max(depth.values()) + 1):
        column = [n for n in order if depth[n] == d]
        if d:
            column.sort(key=lambda n: (source_y(n), ids[n]))
        y = 40
        for n in column:
            nodes[n]["pos"] = [x, y]
            y += nodes[n]["size"][1] + gap_y + title_h
        x += max(nodes[n]["size"][0] for n in column) + gap_x
    return nodes, links


def spec_to_ui(spec: dict, object_info: dict) -> dict:
    """The UI-format workflow (what the frontend saves and loads) for a workflow spec."""
    nodes, links = _ui_nodes(spec, object_info)
    ids = {nid: int(nid) for nid in spec["nodes"]}
    note_w = 440
    note_lines = spec["note"].count("\n") + 1
    note_h = max(400, 18 * note_lines + sum(len(line) // 60 for line in spec["note"].split("\n")) * 18)
    note_id = max(ids.values()) + 1
    note = {"id": note_id, "type": "Note", "pos": [40, 40], "size": [note_w, note_h], "flags": {},
            "order": len(nodes), "mode": 0, "inputs": [], "outputs": [], "title": f"Read me: {spec['title']}",
            "properties": {}, "widgets_values": [spec["note"]], "color": "#432", "bgcolor": "#653"}
    all_nodes = [nodes[n] for n in sorted(nodes, key=lambda n: ids[n])] + [note]
    # The frontend offers a node's properties.models only when the name is one of its widget values (not so
    # for ACEPP_LoraLoader, which picks the released file by vertical); a workflow-level "models" list is
    # always offered, so every file is listed there too.
    models: list[dict] = []
    for node in all_nodes:
        for entry in node["properties"].get("models", []):
            if entry not in models:
                models.append(dict(entry))
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://github.com/aceplusplus/comfyui-aceplusplus/{spec['id']}")),
        "revision": 0,
        "last_node_id": note_id,
        "last_link_id": len(links),
        "nodes": all_nodes,
        "links": links,
        "groups": [],
        "models": models,
        "config": {},
        "extra": {"ds": {"scale": 0.7, "offset": [0, 0]}, "info": {"name": spec["title"],
                                                                 "description": spec["description"]}},
        "version": 0.4,
    }


# ===================================================================================================
# blueprint spec -> subgraph blueprint (what the frontend's "Publish subgraph" saves: one subgraph node whose
# definition holds the inner graph)


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/aceplusplus/comfyui-aceplusplus/" + "/".join(parts)))


def blueprint_instance_id(spec: dict) -> int:
    """The id of the blueprint's one node in its file (the frontend gives it a new one when it is dropped)."""
    return max(int(nid) for nid in spec["nodes"]) + 1


def spec_to_blueprint(spec: dict, object_info: dict) -> dict:
    """The blueprint file for a blueprint spec (tools/workflow_specs.py: BLUEPRINTS)."""
    boundary: dict[tuple[str, str], int] = {}
    for index, inp in enumerate(spec["inputs"]):
        for target in inp["to"]:
            if target in boundary:
                raise ValueError(f"blueprint {spec['id']}: {target} is fed by two inputs")
            boundary[target] = index
    in_w, gap_x = 160, 70
    nodes, links = _ui_nodes(spec, object_info, boundary, left=40 + in_w + gap_x)
    ids = {nid: int(nid) for nid in spec["nodes"]}

    sub_inputs, node_inputs, proxies = [], [], []
    for index, inp in enumerate(spec["inputs"]):
        entries = [e for nid, name in inp["to"] for e in nodes[nid]["inputs"] if e["name"] == name]
        types = {e["type"] for e in entries}
        if len(entries) != len(inp["to"]) or len(types) != 1:
            raise ValueError(f"blueprint {spec['id']}: input {inp['name']} feeds {inp['to']} of types {types}")
        kind = types.pop()
        widget = "widget" in entries[0]
        label = {"label": inp["label"]} if inp.get("label") else {}
        sub_inputs.append({"id": _stable_id("blueprint", spec["id"], "input", inp["name"]), "name": inp["name"],
                           "type": kind, "linkIds": [l[0] for l in links if l[1] == SUBGRAPH_INPUT and l[2] == index],
                           "localized_name": inp["name"], **label})
        node_inputs.append({"name": inp["name"], "type": kind, "link": None, "localized_name": inp["name"], **label,
                            **({"widget": {"name": inp["name"]}} if widget else {})})
        if widget:
            nid, name = inp["to"][0]
            proxies.append([str(ids[nid]), name])
    sub_outputs, node_outputs = [], []
    for index, out in enumerate(spec["outputs"]):
        nid, slot = out["from"]
        source = nodes[nid]["outputs"][slot]
        links.append([len(links) + 1, ids[nid], slot, SUBGRAPH_OUTPUT, index, source["type"]])
        source["links"].append(len(links))
        sub_outputs.append({"id": _stable_id("blueprint", spec["id"], "output", out["name"]), "name": out["name"],
                            "type": source["type"], "linkIds": [len(links)], "localized_name": out["name"]})
        node_outputs.append({"name": out["name"], "type": source["type"], "links": [], "localized_name": out["name"]})

    inner = [nodes[n] for n in sorted(nodes, key=lambda n: ids[n])]
    right = max(n["pos"][0] + n["size"][0] for n in inner) + gap_x
    definition = {
        "id": _stable_id("blueprint", spec["id"]),
        "version": 1,
        "state": {"lastGroupId": 0, "lastNodeId": max(ids.values()), "lastLinkId": len(links), "lastRerouteId": 0},
        "revision": 0,
        "config": {},
        "name": spec["name"],
        "category": spec["category"],
        "description": spec["description"],
        "inputNode": {"id": SUBGRAPH_INPUT, "bounding": [40, 40, in_w, 30 + 20 * len(sub_inputs)]},
        "outputNode": {"id": SUBGRAPH_OUTPUT, "bounding": [right, 40, 140, 30 + 20 * len(sub_outputs)]},
        "inputs": sub_inputs,
        "outputs": sub_outputs,
        "widgets": [],
        "nodes": inner,
        "groups": [],
        "links": [{"id": l[0], "origin_id": l[1], "origin_slot": l[2], "target_id": l[3], "target_slot": l[4],
                   "type": l[5]} for l in links],
        "extra": {},
    }
    sockets = sum(1 for i in node_inputs if "widget" not in i)
    instance = {
        "id": blueprint_instance_id(spec), "type": definition["id"], "pos": [0, 0],
        "size": [400, 36 + 22 * max(sockets, len(node_outputs)) + 26 * len(proxies)],
        "flags": {}, "order": 0, "mode": 0, "inputs": node_inputs, "outputs": node_outputs,
        "properties": {"proxyWidgets": proxies, "cnr_id": PACK_CNR_ID}, "widgets_values": [], "title": spec["name"],
    }
    return {
        "revision": 0, "last_node_id": instance["id"], "last_link_id": 0, "nodes": [instance], "links": [],
        "version": 0.4, "definitions": {"subgraphs": [definition]},
        # The frontend reads the description here first (frontend 1.32 only here), the aliases for a user's blueprint.
        "extra": {"BlueprintDescription": spec["description"], "BlueprintSearchAliases": spec["search_aliases"]},
    }


def blueprint_api(spec: dict, object_info: dict) -> dict:
    """The API graph of a dropped blueprint with nothing connected (what ui_to_api makes of the file): its inner
    nodes as `<node id>:<inner id>`, every widget at its value, every input fed from outside left out."""
    prefix = f"{blueprint_instance_id(spec)}:"
    out = {}
    for nid, node in spec["nodes"].items():
        inputs = {k: ([prefix + v[0], v[1]] if is_link(v) else v) for k, v in node["inputs"].items()}
        title = node.get("title") or display_name(object_info, node["class_type"])
        out[prefix + nid] = {"inputs": inputs, "class_type": node["class_type"], "_meta": {"title": title}}
    return out


def blueprint_path(spec: dict, out_dir: Path = WORKFLOWS_DIR) -> Path:
    """The blueprint file for the workflows folder `out_dir` (subgraphs/ beside it); the frontend names a blueprint
    by its file."""
    return out_dir.parent / BLUEPRINTS_DIR.name / f"{spec['name']}.json"


def render_blueprint(spec: dict, object_info: dict) -> tuple[dict, dict]:
    """(blueprint file, its API graph by ui_to_api)."""
    blueprint = spec_to_blueprint(spec, object_info)
    return blueprint, ui_to_api(json.loads(_dump(blueprint)), object_info)


# ===================================================================================================
# UI workflow -> API prompt


class ConversionError(ValueError):
    """The UI workflow cannot be converted (unknown node types, broken links, ...)."""


def _valid_connection(a, b) -> bool:
    if not a or not b or a == "*" or b == "*" or a == 0 or b == 0:
        return True
    a, b = str(a).lower(), str(b).lower()
    if "," not in a and "," not in b:
        return a == b
    return bool(set(a.split(",")) & set(b.split(",")))


def _link_table(raw_links) -> dict[int, tuple]:
    table = {}
    for link in raw_links or []:
        if link is None:
            continue
        if isinstance(link, dict):
            table[link["id"]] = (link["origin_id"], link["origin_slot"], link["target_id"], link["target_slot"],
                                 link.get("type"))
        else:
            table[link[0]] = tuple(link[1:6])
    return table


class _Scope:
    """One graph level: the root workflow, or one instance of a subgraph (its nodes get "<path>:" ids)."""

    INPUT_NODE, OUTPUT_NODE = -10, -20

    def __init__(self, conv: "_Converter", nodes: list, links, prefix: str, definition=None, instance=None,
                 parent: "_Scope | None" = None):
        self.conv, self.prefix, self.definition, self.instance, self.parent = conv, prefix, definition, instance, parent
        self.nodes = {n["id"]: n for n in nodes}
        self.links = _link_table(links)
        self.children: dict = {}
        self.promoted: dict[int, object] = {}  # subgraph input index -> widget value on the instance
        self.overrides: dict = defaultdict(dict)  # inner node id -> {widget: value} (proxyWidgets)
        if definition is not None:
            self._read_promoted_widgets()

    def _read_promoted_widgets(self) -> None:
        values = self.instance.get("widgets_values") or []
        sub_inputs = self.definition.get("inputs") or []
        by_name = {inp.get("name"): i for i, inp in enumerate(sub_inputs)}
        if isinstance(values, dict):
            for name, value in values.items():
                if name in by_name:
                    self.promoted[by_name[name]] = value
            return
        proxies = (self.instance.get("properties") or {}).get("proxyWidgets")
        if proxies:
            for (source, name), value in zip(proxies, values):
                if str(source) == "-1":
                    if name in by_name:
                        self.promoted[by_name[name]] = value
                else:
                    self.overrides[int(source)][name] = value
            return
        widget_inputs = [i for i, inp in enumerate(self.instance.get("inputs") or []) if inp.get("widget")]
        if widget_inputs:
            names = [self.instance["inputs"][i]["name"] for i in widget_inputs]
            indices = [by_name[n] for n in names if n in by_name]
        else:
            indices = [i for i, inp in enumerate(sub_inputs) if str(inp.get("type")) in WIDGET_TYPES]
        for index, value in zip(indices, values):
            self.promoted[index] = value

    def key(self, node_id) -> str:
        return f"{self.prefix}{node_id}"

    def child(self, instance: dict) -> "_Scope":
        if instance["id"] not in self.children:
            definition = self.conv.subgraphs[instance["type"]]
            self.children[instance["id"]] = _Scope(self.conv, definition.get("nodes") or [], definition.get("links"),
                                                   f"{self.prefix}{instance['id']}:", definition, instance, self)
        return self.children[instance["id"]]

    def node(self, node_id) -> dict:
        if node_id not in self.nodes:
            raise ConversionError(f"a link points to node {self.key(node_id)}, which is not in the workflow")
        return self.nodes[node_id]

    # -- resolution: ("link", api_id, slot) | ("value", v) | None (not connected) ---------------------

    def resolve_input(self, node: dict, slot: int, seen: set):
        inputs = node.get("inputs") or []
        if slot >= len(inputs):
            return None
        tag = (self.prefix, node["id"], "I", slot)
        if tag in seen:
            raise ConversionError(f"circular link through node {self.key(node['id'])}")
        seen = seen | {tag}
        link_id = inputs[slot].get("link")
        if link_id is None:
            return None
        if link_id not in self.links:
            raise ConversionError(f"node {self.key(node['id'])} input '{inputs[slot].get('name')}' uses link "
                                  f"{link_id}, which is not in the links table")
        origin_id, origin_slot = self.links[link_id][0], self.links[link_id][1]
        if origin_id == self.INPUT_NODE and self.definition is not None:
            return self.resolve_subgraph_input(origin_slot, seen)
        return self.resolve_output(origin_id, origin_slot, inputs[slot].get("type"), seen)

    def resolve_subgraph_input(self, index: int, seen: set):
        sub_inputs = self.definition.get("inputs") or []
        if index >= len(sub_inputs):
            return None
        name = sub_inputs[index].get("name")
        inst_inputs = self.instance.get("inputs") or []
        slot = next((i for i, inp in enumerate(inst_inputs) if inp.get("name") == name), None)
        if slot is not None and inst_inputs[slot].get("link") is not None:
            return self.parent.resolve_input(self.instance, slot, seen)
        if index in self.promoted:
            return ("value", self.promoted[index], False)
        return None

    def resolve_output(self, node_id, slot: int, wanted_type, seen: set):
        node = self.node(node_id)
        tag = (self.prefix, node_id, "O", slot)
        if tag in seen:
            raise ConversionError(f"circular link through node {self.key(node_id)}")
        seen = seen | {tag}
        mode = node.get("mode", 0)
        if mode == MODE_BYPASS:
            index = self._bypass_input(node, slot, wanted_type)
            return None if index < 0 else self.resolve_input(node, index, seen)
        if mode == MODE_NEVER:
            return None
        ntype = node.get("type")
        if ntype == "Reroute":
            return self.resolve_input(node, 0, seen)
        if ntype == "PrimitiveNode":
            values = node.get("widgets_values") or []
            return ("value", values[0], True) if values else None
        if ntype in self.conv.subgraphs:
            inner = self.child(node)
            outs = inner.definition.get("outputs") or []
            if slot >= len(outs) or not outs[slot].get("linkIds"):
                return None
            link = inner.links.get(outs[slot]["linkIds"][0])
            if link is None:
                return None
            if link[0] == self.INPUT_NODE:
                return inner.resolve_subgraph_input(link[1], seen)
            return inner.resolve_output(link[0], link[1], wanted_type, seen)
        if ntype in ("Note", "MarkdownNote"):
            return None
        return ("link", self.key(node_id), slot)

    @staticmethod
    def _bypass_input(node: dict, slot: int, wanted_type) -> int:
        """The input a bypassed node passes to output `slot` (the frontend's rule), -1 for none."""
        inputs, outputs = node.get("inputs") or [], node.get("outputs") or []
        out_type = outputs[slot].get("type") if slot < len(outputs) else None
        if wanted_type in ("*", "", None):
            return slot if len(inputs) > slot else (0 if inputs else -1)
        if slot < len(inputs) and _valid_connection(inputs[slot].get("type"), out_type) \
                and _valid_connection(inputs[slot].get("type"), wanted_type):
            return slot
        for i, inp in enumerate(inputs):
            if inp.get("type") == wanted_type:
                return i
        for i, inp in enumerate(inputs):
            if _valid_connection(inp.get("type"), out_type) and _valid_connection(inp.get("type"), wanted_type):
                return i
        return -1


class _Converter:
    def __init__(self, ui: dict, object_info: dict, choose):
        if not isinstance(ui, dict) or "nodes" not in ui:
            if isinstance(ui, dict) and ui and all(isinstance(v, dict) and "class_type" in v for v in ui.values()):
                raise ConversionError("this file is already in the API format (node id -> class_type/inputs)")
            raise ConversionError("not a UI workflow: no 'nodes' list")
        self.ui, self.object_info, self.choose = ui, object_info, choose
        self.subgraphs = {sg["id"]: sg for sg in (ui.get("definitions") or {}).get("subgraphs") or []}
        self.group_nodes = set(((ui.get("extra") or {}).get("groupNodes") or {}))
        self.unknown: list[str] = []
        self.prompt: dict = {}

    def run(self) -> dict:
        root = _Scope(self, self.ui["nodes"], self.ui.get("links"), "")
        self._collect(root)
        if self.unknown:
            raise ConversionError("unknown node type(s) (not on this server; install the pack that provides them, "
                                  "or remove the node): " + "; ".join(self.unknown))
        # Like the frontend: a link to a node that is not in the prompt (muted, ...) is dropped.
        for entry in self.prompt.values():
            for name, value in list(entry["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) \
                        and value[0] not in self.prompt:
                    del entry["inputs"][name]
        return dict(sorted(self.prompt.items(), key=lambda kv: [int(p) if p.isdigit() else p
                                                                for p in kv[0].split(":")]))

    def _collect(self, scope: _Scope) -> None:
        for node in scope.nodes.values():
            mode, ntype = node.get("mode", 0), node.get("type")
            if mode in (MODE_NEVER, MODE_BYPASS) or ntype in VIRTUAL_TYPES:
                continue
            if ntype in self.subgraphs:
                self._collect(scope.child(node))
                continue
            if ntype not in self.object_info:
                if not (node.get("inputs") or node.get("outputs")):
                    continue  # a decorative frontend-only node (a label): nothing to run
                hint = " (a legacy group node: convert it to a subgraph in the frontend)" \
                    if ntype in self.group_nodes or str(ntype).startswith("workflow") else ""
                self.unknown.append(f"node {scope.key(node['id'])} '{ntype}'{hint}")
                continue
            self.prompt[scope.key(node["id"])] = self._convert_node(scope, node)

    def _widget_values(self, node: dict, node_def: dict, overrides: dict) -> dict:
        values = node.get("widgets_values")
        out = {}
        if isinstance(values, dict):  # some custom frontends save widgets by name
            for name, spec, _ in ordered_inputs(node_def):
                if is_widget(spec) and name in values:
                    out[name] = values[name]
        elif isinstance(values, list):
            slots = widget_slots(node_def)
            legacy = widget_slots(node_def, legacy_force_inputs=True)
            if len(values) == len(legacy) != len(slots):
                slots = legacy  # old files kept values for inputs later declared forceInput
            pos = 0
            for name, spec in slots:
                if pos >= len(values):
                    break
                if name == "#control":
                    if isinstance(values[pos], str) and values[pos] in CONTROL_VALUES:
                        pos += 1
                    continue
                if name == "#upload":
                    if values[pos] is None or values[pos] in ("image", "video", "audio", "upload"):
                        pos += 1
                    continue
                value = values[pos]
                if isinstance(value, str) and value in CONTROL_VALUES and pos > 0 and spec is not None \
                        and isinstance(values[pos - 1], (int, float)) and input_type(spec) != "STRING" \
                        and value not in combo_options(spec):
                    # A control value the node no longer declares (saved with an older node definition).
                    pos += 1
                    if pos >= len(values):
                        break
                    value = values[pos]
                pos += 1
                if spec is not None:
                    out[name] = value
        out.update(overrides)
        return out

    def _convert_node(self, scope: _Scope, node: dict) -> dict:
        node_def = self.object_info[node["type"]]
        specs = {name: spec for name, spec, _ in ordered_inputs(node_def)}
        widget_values = self._widget_values(node, node_def, scope.overrides.get(node["id"], {}))
        inputs: dict = {}
        for name, value in widget_values.items():
            spec = specs.get(name)
            if isinstance(value, str) and spec is not None and _opts(spec).get("dynamicPrompts"):
                value = process_dynamic_prompt(value, self.choose)
            inputs[name] = {"__value__": value} if isinstance(value, list) else value
        for slot, inp in enumerate(node.get("inputs") or []):
            name = inp.get("name")
            if inp.get("link") is None:
                continue
            resolved = scope.resolve_input(node, slot, set())
            if resolved is None:
                if name not in widget_values:
                    inputs.pop(name, None)
                continue
            if resolved[0] == "link":
                inputs[name] = [resolved[1], resolved[2]]
            else:
                value = resolved[1]
                spec = specs.get(name)
                if resolved[2] and isinstance(value, str) and spec is not None \
                        and _opts(spec).get("dynamicPrompts"):
                    value = process_dynamic_prompt(value, self.choose)
                inputs[name] = {"__value__": value} if isinstance(value, list) else value
        title = node.get("title") or display_name(self.object_info, node["type"])
        return {"inputs": inputs, "class_type": node["type"], "_meta": {"title": title}}


def ui_to_api(ui_workflow: dict, object_info: dict, choose=lambda options: options[0]) -> dict:
    """Converts a UI-format workflow (saved by the frontend, or built here) to the API prompt format.

    Notes and markdown notes are dropped; reroutes are resolved through; a PrimitiveNode's value goes into
    the widget it feeds; muted nodes (mode 2) are dropped and links from them removed; bypassed nodes
    (mode 4) pass each output's matching-typed input through; a widget input with a link uses the link;
    control_after_generate values and the upload button value are skipped; V1 list combos and V3
    ["COMBO", {"options"}] combos both count as widgets; subgraphs are flattened to "<outer>:<inner>" ids
    with promoted widget values; dynamic-prompt STRING widgets are processed as the frontend does (a {a|b}
    choice takes `choose(options)`, the first by default). Node types the server does not know raise
    ConversionError naming them.
    """
    return _Converter(ui_workflow, object_info, choose).run()


def spec_api(spec: dict, object_info: dict) -> dict:
    """spec_to_api with the titles the frontend would give (display names for untitled nodes)."""
    api = workflow_specs.spec_to_api(spec)
    for nid, node in api.items():
        if "title" not in spec["nodes"][nid]:
            node["_meta"]["title"] = display_name(object_info, node["class_type"])
    return api


# ===================================================================================================
# Thumbnails: a diagram of the task (no generated pixels).


def _holes(masked) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (PIL getbbox form) of the separate areas of a 0/255 mask image, in the order they are found."""
    from PIL import ImageDraw

    left, boxes = masked.copy(), []
    while (box := left.getbbox()) is not None:
        x0, y0, x1, y1 = box
        seed = next((x, y0) for x in range(x0, x1) if left.getpixel((x, y0)) == 255)
        ImageDraw.floodfill(left, seed, 128)  # this area only (4-connected)
        boxes.append(left.point(lambda v: 255 if v == 128 else 0).getbbox())
        left = left.point(lambda v: 0 if v == 128 else v)
    return boxes


def draw_thumbnail(spec: dict):
    """A diagram of the task: reference(s) + edit image with its mask -> result (no generated pixels)."""
    from PIL import Image, ImageDraw, ImageFont

    import samples

    W, H, margin, panel_h = 560, 320, 16, 150
    gold, text_color, dim = (240, 200, 90), (235, 235, 235), (190, 196, 210)
    img = Image.new("RGB", (W, H), (30, 33, 40))
    d = ImageDraw.Draw(img)
    font_title, font, font_small = (ImageFont.load_default(size=n) for n in (22, 14, 12))
    d.rectangle((0, 0, W, 44), fill=(52, 60, 84))
    d.text((margin, 10), spec["title"], font=font_title, fill=(255, 255, 255))
    badge = "ACE++ FFT model" if spec["model"] == "fft" else f"FLUX.1 Fill + {spec['model'].replace('_', ' ')} LoRA"
    d.text((margin, H - 24), badge + (" + Redux" if spec["redux"] else ""), font=font_small, fill=dim)

    drawers = samples.SAMPLES
    panels: list[tuple[Image.Image, str]] = []  # (picture, caption); joined by "+" then "->" before the last
    if spec["reference"]:
        panels.append((drawers[spec["reference"]](0.5).convert("RGB"), "reference"))
    if spec["edit"]:
        rgba = drawers[spec["edit"]](0.5)
        rgb = rgba.convert("RGB")  # RGB and alpha apart: PIL premultiplies RGBA when resizing
        masked = rgba.getchannel("A").point(lambda a: 255 if a < 128 else 0)
        if spec["control"]:
            rgb.paste(rgb.convert("L").convert("RGB"), mask=masked)
            shown = rgb.copy()
        else:
            shown = Image.composite(Image.blend(rgb, Image.new("RGB", rgb.size, (230, 60, 60)), 0.55), rgb, masked)
        holes = _holes(masked)
        for hole in holes:
            ImageDraw.Draw(shown).rectangle(hole, outline=(230, 60, 60), width=3)
        several = f" ({len(holes)} regions)" if len(holes) > 1 else ""
        panels.append((shown, "edit image + mask" + several
                       + (f" ({spec['control']} map)" if spec["control"] else "")))
        result = rgb.copy()
        rd = ImageDraw.Draw(result)
        x0, y0, x1, y1 = masked.getbbox()
        for i in range(x0 - (y1 - y0), x1, 14):
            rd.line((i, y1, i + (y1 - y0), y0), fill=gold, width=4)
        result.paste(rgb, mask=masked.point(lambda v: 255 - v))
        for hole in holes:
            rd.rectangle(hole, outline=gold, width=3)
        panels.append((result, "result, full size" + (", one batch" if several else "")))
    else:
        blank = Image.new("RGB", (300, 300), (128, 128, 128))
        ImageDraw.Draw(blank).rectangle((0, 0, 299, 299), outline=gold, width=6)
        panels.append((blank, "new image (width x height)"))

    joints = ["+"] * (len(panels) - 2) + ["->"]
    joint_w = 44
    avail = W - 2 * margin - joint_w * (len(panels) - 1)
    sizes = [(p.width * panel_h / p.height, panel_h) for p, _ in panels]
    factor = min(1.0, avail / sum(w for w, _ in sizes))
    x, top = margin, 62
    for i, ((picture, caption), (w, h)) in enumerate(zip(panels, sizes)):
        w, h = max(1, round(w * factor)), max(1, round(h * factor))
        img.paste(picture.resize((w, h), Image.LANCZOS), (x, top + (panel_h - h) // 2))
        d.text((x, top + (panel_h + h) // 2 + 6), caption, font=font_small, fill=dim)
        x += w
        if i < len(joints):
            cy = top + panel_h // 2
            if joints[i] == "+":
                d.text((x + 14, cy - 14), "+", font=font_title, fill=gold)
            else:
                d.line((x + 8, cy, x + 28, cy), fill=gold, width=4)
                d.polygon([(x + 28, cy - 8), (x + 38, cy), (x + 28, cy + 8)], fill=gold)
            x += joint_w

    words, lines, line = spec["prompt"].split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > 72:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    if len(lines) > 2:
        lines = [lines[0], lines[1].rsplit(" ", 1)[0] + " \u2026"]
    for i, text in enumerate(lines):
        quoted = ("\u201c" if i == 0 else " ") + text + ("\u201d" if i == len(lines) - 1 else "")
        d.text((margin, top + panel_h + 30 + 18 * i), quoted, font=font, fill=text_color)
    return img


# ===================================================================================================
# build / check


def _dump(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(spec: dict, object_info: dict) -> tuple[dict, dict]:
    """(UI workflow, API twin) for a spec; the twin is made from the UI file by ui_to_api."""
    ui = spec_to_ui(spec, object_info)
    return ui, ui_to_api(json.loads(_dump(ui)), object_info)


def build(object_info: dict, out_dir: Path = WORKFLOWS_DIR, log=print) -> list[Path]:
    written = []
    (out_dir / "api").mkdir(parents=True, exist_ok=True)
    for wid, spec in WORKFLOWS.items():
        ui, api = render(spec, object_info)
        expected = spec_api(spec, object_info)
        if api != expected:
            raise RuntimeError(f"{wid}: ui_to_api(spec_to_ui(spec)) differs from the spec:\n"
                               + "\n".join(json_diff(expected, api)[:20]))
        ui_path, api_path, thumb = paths(spec, out_dir)
        for path, text in ((ui_path, _dump(ui)), (api_path, _dump(api))):
            path.write_text(text, encoding="utf-8")
            written.append(path)
        draw_thumbnail(spec).save(thumb, "JPEG", quality=82, optimize=True)
        written.append(thumb)
    index = out_dir / "api" / "index.json"
    index.write_text(_dump(workflow_specs.client_index()), encoding="utf-8")
    written.append(index)
    for bid, spec in BLUEPRINTS.items():
        blueprint, api = render_blueprint(spec, object_info)
        if api != blueprint_api(spec, object_info):
            raise RuntimeError(f"blueprint {bid}: ui_to_api(spec_to_blueprint(spec)) differs from the spec:\n"
                               + "\n".join(json_diff(blueprint_api(spec, object_info), api)[:20]))
        path = blueprint_path(spec, out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(blueprint), encoding="utf-8")
        written.append(path)
    for path in written:
        log(f"wrote {path.relative_to(out_dir.parent) if out_dir.parent in path.parents else path}")
    return written


def paths(spec: dict, out_dir: Path = WORKFLOWS_DIR) -> tuple[Path, Path, Path]:
    """(UI file, API twin, thumbnail): the UI file and thumbnail carry the card title, the twin the id."""
    return out_dir / f"{spec['card']}.json", out_dir / "api" / f"{spec['id']}.json", out_dir / f"{spec['card']}.jpg"


def json_diff(expected, actual, path: str = "$") -> list[str]:
    if type(expected) is not type(actual) and not (isinstance(expected, (int, float))
                                                   and isinstance(actual, (int, float))
                                                   and not isinstance(expected, bool)
                                                   and not isinstance(actual, bool)):
        return [f"{path}: expected {json.dumps(expected)[:120]}, found {json.dumps(actual)[:120]}"]
    if isinstance(expected, dict):
        out = []
        for k in expected:
            if k not in actual:
                out.append(f"{path}.{k}: missing (expected {json.dumps(expected[k])[:120]})")
            else:
                out += json_diff(expected[k], actual[k], f"{path}.{k}")
        out += [f"{path}.{k}: unexpected {json.dumps(actual[k])[:120]}" for k in actual if k not in expected]
        return out
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{path}: expected {len(expected)} items, found {len(actual)}: {json.dumps(actual)[:160]}"]
        out = []
        for i, (a, b) in enumerate(zip(expected, actual)):
            out += json_diff(a, b, f"{path}[{i}]")
        return out
    if expected == actual:
        return []
    return [f"{path}: expected {json.dumps(expected)[:120]}, found {json.dumps(actual)[:120]}"]


def check(object_info: dict, out_dir: Path = WORKFLOWS_DIR) -> list[str]:
    """Every drift between the specs, the UI files, their API twins and the thumbnails (empty = all good)."""
    drifts: list[str] = []
    for wid, spec in WORKFLOWS.items():
        ui_path, api_path, jpg = paths(spec, out_dir)
        ui, api = render(spec, object_info)
        expected_api = spec_api(spec, object_info)
        drifts += [f"{wid}: converter: {d}" for d in json_diff(expected_api, api)]
        ui_file = api_file = None
        if not ui_path.is_file():
            drifts.append(f"{ui_path.name}: missing (run: python tools/workflows.py build)")
        else:
            ui_file = json.loads(ui_path.read_text(encoding="utf-8"))
            drifts += [f"{ui_path.name}: {d}" for d in json_diff(ui, ui_file)]
        if not api_path.is_file():
            drifts.append(f"api/{api_path.name}: missing (run: python tools/workflows.py build)")
        else:
            api_file = json.loads(api_path.read_text(encoding="utf-8"))
            drifts += [f"api/{api_path.name} vs spec: {d}" for d in json_diff(expected_api, api_file)]
        if ui_file is not None and api_file is not None:
            try:
                converted = ui_to_api(ui_file, object_info)
                drifts += [f"api/{api_path.name} vs ui_to_api({ui_path.name}): {d}"
                           for d in json_diff(converted, api_file)]
            except ConversionError as e:
                drifts.append(f"{ui_path.name}: does not convert: {e}")
        if not jpg.is_file():
            drifts.append(f"{jpg.name}: missing thumbnail")
    index = out_dir / "api" / "index.json"
    if not index.is_file():
        drifts.append("api/index.json: missing (run: python tools/workflows.py build)")
    else:
        drifts += [f"api/index.json: {d}" for d in json_diff(workflow_specs.client_index(),
                                                             json.loads(index.read_text(encoding="utf-8")))]
    expected_files = {p for spec in WORKFLOWS.values() for p in paths(spec, out_dir)} | {index}
    for path in sorted(out_dir.glob("*.json")) + sorted((out_dir / "api").glob("*.json")) + sorted(out_dir.glob("*.jpg")):
        if path not in expected_files:
            drifts.append(f"{path.relative_to(out_dir)}: no spec in tools/workflow_specs.py (stale file?)")
    for bid, spec in BLUEPRINTS.items():
        path = blueprint_path(spec, out_dir)
        where = f"{path.parent.name}/{path.name}"
        blueprint, api = render_blueprint(spec, object_info)
        drifts += [f"blueprint {bid}: converter: {d}" for d in json_diff(blueprint_api(spec, object_info), api)]
        if not path.is_file():
            drifts.append(f"{where}: missing (run: python tools/workflows.py build)")
        else:
            drifts += [f"{where}: {d}" for d in json_diff(blueprint, json.loads(path.read_text(encoding="utf-8")))]
    expected_blueprints = {blueprint_path(spec, out_dir) for spec in BLUEPRINTS.values()}
    for path in sorted((out_dir.parent / BLUEPRINTS_DIR.name).glob("*.json")):
        if path not in expected_blueprints:
            drifts.append(f"{path.parent.name}/{path.name}: no blueprint in tools/workflow_specs.py (stale file?)")
    return drifts


# ===================================================================================================
# CLI


def _with_object_info(args, fn):
    if args.server:
        return fn(fetch_object_info(args.server))
    with EmbeddedComfy(models_dir=getattr(args, "models", None)) as server:
        object_info = fetch_object_info(server.url)
        if not any(name.startswith("ACEPP_") for name in object_info):
            raise ClientError(EXIT_SERVER, "the ACE++ pack failed to import in the embedded ComfyUI:\n"
                                 + (server.pack_import_error() or server.log_tail()))
        return fn(object_info)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("build", "write the UI files, API twins and thumbnails"),
                            ("check", "exit 1 listing every drift"),
                            ("convert", "convert a UI workflow file to the API format")):
        p = sub.add_parser(name, help=help_text)
        if name == "convert":
            p.add_argument("ui_file", type=Path)
            p.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
        group = p.add_mutually_exclusive_group()
        group.add_argument("--server", help="a running ComfyUI, e.g. http://127.0.0.1:8188")
        group.add_argument("--embedded", action="store_true",
                           help="start this project's own ComfyUI for the node schemas (the default)")
        p.add_argument("--dir", type=Path, default=WORKFLOWS_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            _with_object_info(args, lambda oi: build(oi, args.dir))
            return 0
        if args.command == "check":
            drifts = _with_object_info(args, lambda oi: check(oi, args.dir))
            if drifts:
                print(f"{len(drifts)} drift(s) in {args.dir}:", file=sys.stderr)
                for line in drifts:
                    print("  " + line, file=sys.stderr)
                print("Fix tools/workflow_specs.py or run: python tools/workflows.py build", file=sys.stderr)
                return 1
            print(f"{len(WORKFLOWS)} workflows, their API twins and thumbnails, and {len(BLUEPRINTS)} subgraph "
                  "blueprint(s) are in sync.")
            return 0
        ui = json.loads(args.ui_file.read_text(encoding="utf-8"))
        api = _with_object_info(args, lambda oi: ui_to_api(ui, oi))
        if args.output:
            args.output.write_text(_dump(api), encoding="utf-8")
        else:
            sys.stdout.write(_dump(api))
        return 0
    except (ClientError, ConversionError, ValueError, OSError) as e:
        print(f"[ACE++ workflows] error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
