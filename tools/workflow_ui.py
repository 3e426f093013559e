"""Spec -> UI file: a bundled workflow (tools/workflow_specs.py: Workflow) as the frontend saves it (schema 0.4:
nodes with positions and widget values, a links table, a Note), and a subgraph blueprint as "Publish subgraph"
saves it.

The widget values of a UI node are positional, in the order the frontend lays out the node's widgets from the
node's schema (GET /object_info): `widget_slots`. Nothing here checks that order against itself: the browser test
(tests/test_web_library.py) loads every file into the real frontends and compares what they queue with the API
twin written straight from the spec.
"""
from __future__ import annotations

import uuid
from typing import Mapping

from aceplusplus.tools.workflow_specs import Blueprint, Node, Workflow, escape_dynamic_prompt, is_link

PACK_CNR_ID = "aceplusplus-lcu"  # [project] name in pyproject.toml: the Registry id Manager looks up
SITE = "https://github.com/aceplusplus/comfyui-aceplusplus/"  # the namespace of the files' stable uuids

# ---------------------------------------------------------------------------------------------------
# Node schemas (GET /object_info) as the frontend reads them.

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
MEDIA_UPLOAD = ("image_upload", "video_upload", "animated_image_upload")


def options(spec) -> dict:
    return spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict) else {}


def input_type(spec) -> str:
    """An input's type; a V1 list combo (the options as the type) counts as COMBO."""
    kind = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
    return "COMBO" if isinstance(kind, list) else str(kind)


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
    return not options(spec).get("forceInput") and input_type(spec) in WIDGET_TYPES


def widget_slots(node_def: dict) -> list[tuple[str, object]]:
    """The node's serialized widget values, in order: (input name, spec) for a widget, ("#control", name) for the
    control_after_generate value after it (seeds), ("#upload", None) for the media upload button."""
    slots: list[tuple[str, object]] = []
    entries = ordered_inputs(node_def)
    for section in ("required", "optional"):
        for name, spec, sec in entries:
            if sec == section and is_widget(spec):
                slots.append((name, spec))
                control = options(spec).get("control_after_generate",
                                            input_type(spec) == "INT" and name in ("seed", "noise_seed"))
                if control:
                    slots.append(("#control", name))
        if section == "required" and any(options(s).get(k) for _, s, sec in entries if sec == "required"
                                         for k in MEDIA_UPLOAD):
            slots.append(("#upload", None))
    return slots


def widget_default(name: str, spec):
    if "default" in options(spec):
        return options(spec)["default"]
    kind = input_type(spec)
    combo = list(spec[0]) if isinstance(spec[0], list) else list(options(spec).get("options") or [])
    if kind == "COMBO" and combo:
        return combo[0]
    fallback = {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}
    if kind in fallback:
        return fallback[kind]
    raise ValueError(f"widget '{name}' has no default; give it a value in the spec")


def display_name(object_info: dict, class_type: str) -> str:
    return (object_info.get(class_type) or {}).get("display_name") or class_type


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, SITE + "/".join(parts)))


# ---------------------------------------------------------------------------------------------------
# Nodes, links and layout, shared by workflows and blueprints


def _node_size(class_type: str, n_sockets: int, n_outputs: int, slots) -> list[int]:
    widths = {"CLIPTextEncode": 420, "SaveImage": 420, "LoadImage": 320, "ACEPP_CanvasBuilder": 340,
              "KSampler": 320, "DualCLIPLoader": 340, "ACEPP_LoraLoader": 340}
    height = 36 + 22 * max(n_sockets, n_outputs)  # n_sockets: the socket inputs, widget slots excluded
    for name, spec in slots:
        multiline = spec is not None and input_type(spec) == "STRING" and options(spec).get("multiline")
        height += 130 if multiline else 26
    height = max(height, {"LoadImage": 330, "SaveImage": 380}.get(class_type, 0))
    return [widths.get(class_type, 320), height]


def _depths(where: str, nodes: Mapping[str, Node]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(nid: str, stack=()) -> int:
        if nid in depth:
            return depth[nid]
        if nid in stack:
            raise ValueError(f"{where}: cycle through node {nid}")
        sources = [v[0] for v in nodes[nid].inputs.values() if is_link(v)]
        depth[nid] = 1 + max((visit(s, stack + (nid,)) for s in sources), default=-1)
        return depth[nid]

    for nid in nodes:
        visit(nid)
    return depth


SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20  # the ids of a subgraph's input and output nodes in its links


def _ui_nodes(where: str, spec_nodes: Mapping[str, Node], object_info: dict, boundary: dict | None = None,
              left: int = 40 + 440 + 70) -> tuple[dict[str, dict], list[list]]:
    """The UI nodes of a graph (by spec id, laid out in columns from x = `left`) and its links table.
    `boundary` maps (node id, input name) to the index of the subgraph input that feeds it (a blueprint's
    inner graph): such a socket counts as connected, and a widget keeps the spec's value."""
    boundary = boundary or {}
    missing = sorted({n.class_type for n in spec_nodes.values()} - set(object_info))
    if missing:
        raise ValueError(f"{where}: the server does not know node type(s) {', '.join(missing)} "
                         "(is the pack loaded? see the server log for IMPORT FAILED)")
    depth = _depths(where, spec_nodes)
    order = sorted(spec_nodes, key=lambda n: (depth[n], int(n)))
    nodes: dict[str, dict] = {}
    for nid in sorted(spec_nodes, key=int):
        node = spec_nodes[nid]
        nodes[nid] = _ui_node(where, nid, node, object_info[node.class_type], boundary, order.index(nid))
    links = _link(where, nodes)
    _lay_out(spec_nodes, nodes, depth, order, left)
    return nodes, links


def _ui_node(where: str, nid: str, node: Node, node_def: dict, boundary: dict, order: int) -> dict:
    ct = node.class_type
    entries = ordered_inputs(node_def)
    unknown = set(node.inputs) - {name for name, _, _ in entries}
    if unknown:
        raise ValueError(f"{where}: node {nid} ({ct}) has no input(s) {', '.join(sorted(unknown))}")
    sockets, widget_inputs = [], []
    for name, ispec, section in entries:
        value, bound = node.inputs.get(name), boundary.get((nid, name))
        source = value if is_link(value) else (SUBGRAPH_INPUT, bound) if bound is not None else None
        if is_widget(ispec):
            # Every widget also has an input slot (linked when the widget is driven by a link).
            widget_inputs.append({"name": name, "type": input_type(ispec), "widget": {"name": name}, "link": None,
                                  "_src": source})
            continue
        if value is not None and not is_link(value):
            raise ValueError(f"{where}: node {nid} ({ct}) input '{name}' is a socket: give a link")
        if source is None and section == "required":
            raise ValueError(f"{where}: node {nid} ({ct}) required input '{name}' is not connected")
        sockets.append({"name": name, "type": input_type(ispec), "link": None, "_src": source})
    slots = widget_slots(node_def)
    values = []
    for name, ispec in slots:
        if name == "#control":
            values.append("fixed")
        elif name == "#upload":
            values.append("image")
        else:
            value = node.inputs.get(name)
            if value is None or is_link(value):
                value = widget_default(name, ispec)
            if isinstance(value, str) and options(ispec).get("dynamicPrompts"):
                value = escape_dynamic_prompt(value)
            values.append(value)
    out_types = node_def.get("output") or []
    out_names = node_def.get("output_name") or out_types
    outputs = [{"name": out_names[i], "type": (t if isinstance(t, str) else "COMBO"), "links": [], "slot_index": i}
               for i, t in enumerate(out_types)]
    properties = {"Node name for S&R": ct, "cnr_id": PACK_CNR_ID if ct.startswith("ACEPP_") else "comfy-core"}
    if node.models:
        properties["models"] = [dict(m) for m in node.models]
    ui = {"id": int(nid), "type": ct, "pos": [0, 0], "size": _node_size(ct, len(sockets), len(outputs), slots),
          "flags": {}, "order": order, "mode": 0, "inputs": sockets + widget_inputs, "outputs": outputs}
    if node.title:
        ui["title"] = node.title
    ui["properties"] = properties
    ui["widgets_values"] = values
    return ui


def _link(where: str, nodes: dict[str, dict]) -> list[list]:
    """The links table, in target order, with the link ids written on both ends."""
    links: list[list] = []
    for nid in sorted(nodes, key=int):
        for slot, entry in enumerate(nodes[nid]["inputs"]):
            src = entry.pop("_src")
            if src is None:
                continue
            src_id, src_slot = src
            if src_id == SUBGRAPH_INPUT:
                links.append([len(links) + 1, SUBGRAPH_INPUT, src_slot, int(nid), slot, entry["type"]])
                entry["link"] = len(links)
                continue
            if src_id not in nodes:
                raise ValueError(f"{where}: node {nid} links to unknown node {src_id}")
            outputs = nodes[src_id]["outputs"]
            if src_slot >= len(outputs):
                raise ValueError(f"{where}: node {src_id} has no output {src_slot}")
            links.append([len(links) + 1, int(src_id), src_slot, int(nid), slot, outputs[src_slot]["type"]])
            entry["link"] = len(links)
            outputs[src_slot]["links"].append(len(links))
    return links


def _lay_out(spec_nodes: Mapping[str, Node], nodes: dict[str, dict], depth: dict[str, int], order: list[str],
             left: int) -> None:
    """One column per graph depth, left to right, each node level with the nodes that feed it."""
    gap_x, gap_y, title_h = 70, 46, 30
    x = left

    def source_y(n: str) -> float:  # mean centre height of the nodes feeding n (already placed)
        ys = [nodes[v[0]]["pos"][1] + nodes[v[0]]["size"][1] / 2 for v in spec_nodes[n].inputs.values() if is_link(v)]
        return sum(ys) / len(ys) if ys else 0.0

    for d in range(max(depth.values()) + 1):
        column = [n for n in order if depth[n] == d]
        if d:
            column.sort(key=lambda n: (source_y(n), int(n)))
        y = 40
        for n in column:
            nodes[n]["pos"] = [x, y]
            y += nodes[n]["size"][1] + gap_y + title_h
        x += max(nodes[n]["size"][0] for n in column) + gap_x


# ---------------------------------------------------------------------------------------------------
# Workflow -> UI file


def workflow_ui(w: Workflow, object_info: dict) -> dict:
    """The UI-format workflow (what the frontend saves and loads) of a bundled workflow, its Note on the left."""
    nodes, links = _ui_nodes(w.id, w.nodes, object_info)
    note_lines = w.note.split("\n")
    note_h = max(400, 18 * len(note_lines) + sum(len(line) // 60 for line in note_lines) * 18)
    note_id = max(int(n) for n in nodes) + 1
    note = {"id": note_id, "type": "Note", "pos": [40, 40], "size": [440, note_h], "flags": {},
            "order": len(nodes), "mode": 0, "inputs": [], "outputs": [], "title": f"Read me: {w.title}",
            "properties": {}, "widgets_values": [w.note], "color": "#432", "bgcolor": "#653"}
    all_nodes = [nodes[n] for n in sorted(nodes, key=int)] + [note]
    # The frontend offers a node's properties.models only when the name is one of its widget values (not so
    # for ACEPP_LoraLoader, which picks the released file by vertical); a workflow-level "models" list is
    # always offered, so every file is listed there too.
    models: list[dict] = []
    for node in all_nodes:
        models += [dict(e) for e in node["properties"].get("models", []) if e not in models]
    return {
        "id": _stable_id(w.id),
        "revision": 0,
        "last_node_id": note_id,
        "last_link_id": len(links),
        "nodes": all_nodes,
        "links": links,
        "groups": [],
        "models": models,
        "config": {},
        "extra": {"ds": {"scale": 0.7, "offset": [0, 0]}, "info": {"name": w.title, "description": w.description}},
        "version": 0.4,
    }


# ---------------------------------------------------------------------------------------------------
# Blueprint -> blueprint file (one subgraph node whose definition holds the inner graph)


def blueprint_instance_id(b: Blueprint) -> int:
    """The id of the blueprint's one node in its file (the frontend gives it a new one when it is dropped)."""
    return max(int(nid) for nid in b.nodes) + 1


def blueprint_ui(b: Blueprint, object_info: dict) -> dict:
    """The blueprint file: what the frontend's "Publish subgraph" saves."""
    boundary: dict[tuple[str, str], int] = {}
    for index, inp in enumerate(b.inputs):
        for target in inp.to:
            if target in boundary:
                raise ValueError(f"blueprint {b.id}: {target} is fed by two inputs")
            boundary[target] = index
    in_w, gap_x = 160, 70
    nodes, links = _ui_nodes(f"blueprint {b.id}", b.nodes, object_info, boundary, left=40 + in_w + gap_x)

    sub_inputs, node_inputs, proxies = [], [], []
    for index, inp in enumerate(b.inputs):
        entries = [e for nid, name in inp.to for e in nodes[nid]["inputs"] if e["name"] == name]
        types = {e["type"] for e in entries}
        if len(entries) != len(inp.to) or len(types) != 1:
            raise ValueError(f"blueprint {b.id}: input {inp.name} feeds {inp.to} of types {types}")
        kind = types.pop()
        widget = "widget" in entries[0]
        label = {"label": inp.label} if inp.label else {}
        sub_inputs.append({"id": _stable_id("blueprint", b.id, "input", inp.name), "name": inp.name, "type": kind,
                           "linkIds": [l[0] for l in links if l[1] == SUBGRAPH_INPUT and l[2] == index],
                           "localized_name": inp.name, **label})
        node_inputs.append({"name": inp.name, "type": kind, "link": None, "localized_name": inp.name, **label,
                            **({"widget": {"name": inp.name}} if widget else {})})
        if widget:
            nid, name = inp.to[0]
            proxies.append([nid, name])
    sub_outputs, node_outputs = [], []
    for index, (name, (nid, slot)) in enumerate(b.outputs):
        source = nodes[nid]["outputs"][slot]
        links.append([len(links) + 1, int(nid), slot, SUBGRAPH_OUTPUT, index, source["type"]])
        source["links"].append(len(links))
        sub_outputs.append({"id": _stable_id("blueprint", b.id, "output", name), "name": name,
                            "type": source["type"], "linkIds": [len(links)], "localized_name": name})
        node_outputs.append({"name": name, "type": source["type"], "links": [], "localized_name": name})

    inner = [nodes[n] for n in sorted(nodes, key=int)]
    right = max(n["pos"][0] + n["size"][0] for n in inner) + gap_x
    definition = {
        "id": _stable_id("blueprint", b.id),
        "version": 1,
        "state": {"lastGroupId": 0, "lastNodeId": max(int(n) for n in nodes), "lastLinkId": len(links),
                  "lastRerouteId": 0},
        "revision": 0,
        "config": {},
        "name": b.name,
        "category": b.category,
        "description": b.description,
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
        "id": blueprint_instance_id(b), "type": definition["id"], "pos": [0, 0],
        "size": [400, 36 + 22 * max(sockets, len(node_outputs)) + 26 * len(proxies)],
        "flags": {}, "order": 0, "mode": 0, "inputs": node_inputs, "outputs": node_outputs,
        "properties": {"proxyWidgets": proxies, "cnr_id": PACK_CNR_ID}, "widgets_values": [], "title": b.name,
    }
    return {
        "revision": 0, "last_node_id": instance["id"], "last_link_id": 0, "nodes": [instance], "links": [],
        "version": 0.4, "definitions": {"subgraphs": [definition]},
        # The frontend reads the description here first (frontend 1.32 only here), the aliases for a user's blueprint.
        "extra": {"BlueprintDescription": b.description, "BlueprintSearchAliases": list(b.search_aliases)},
    }
