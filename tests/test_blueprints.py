"""The pack's subgraph blueprint (subgraphs/<name>.json, built by tools/workflows.py from tools/workflow_specs.py)
on a live ComfyUI: served where the frontend looks for a pack's blueprints, and run as the one node it is.

ComfyUI (app/subgraph_manager.py, 0.3.75 and 0.28.2 alike) serves every ``custom_nodes/*/subgraphs/*.json`` at
``GET /global_subgraphs`` (names, by id) and ``GET /global_subgraphs/<id>`` (the file); the frontend lists them
in its node library under "Subgraph Blueprints". That the file is what the generator builds is checked with the
workflows (tools/workflows.py check, tests/test_workflows.py). The browser side: tests/test_web_library.py.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from harness import PACK_LINK_NAME

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import workflows as W  # noqa: E402  (tools/ is not a package)
from workflow_specs import BLUEPRINTS  # noqa: E402

SPEC = BLUEPRINTS["edit"]
FILE = W.blueprint_path(SPEC)
EDIT_SIZE, MASK_BOX = (80, 64), (40, 16, 72, 48)  # the photo, and the area to generate (x0, y0, x1, y1 exclusive)


@pytest.fixture(scope="module")
def object_info(live_server) -> dict:
    return W.fetch_object_info(live_server.base_url)


def test_the_blueprint_ships_in_the_folder_comfyui_serves():
    assert FILE.parent == REPO / "subgraphs" and sorted(p.name for p in FILE.parent.iterdir()) == [FILE.name]
    comfyignore = (REPO / ".comfyignore").read_text("utf-8").split()
    assert not any(p.strip("/") in ("subgraphs", "subgraphs/*", "*.json") for p in comfyignore), comfyignore
    blueprint = json.loads(FILE.read_text("utf-8"))
    (node,) = blueprint["nodes"]
    (definition,) = blueprint["definitions"]["subgraphs"]
    assert node["type"] == definition["id"] and definition["name"] == FILE.stem == node["title"]
    assert definition["category"] == "ACE++" and blueprint["extra"]["BlueprintDescription"] == definition["description"]


def test_the_server_lists_and_serves_the_blueprint(live_server):
    listed = live_server.get_json("/global_subgraphs")
    ours = {k: v for k, v in listed.items() if v.get("info", {}).get("node_pack") == f"custom_nodes.{PACK_LINK_NAME}"}
    assert [v["name"] for v in ours.values()] == [FILE.stem], ours
    (entry_id,) = ours
    served = live_server.get_json(f"/global_subgraphs/{entry_id}")
    assert served["source"] == "custom_node" and json.loads(served["data"]) == json.loads(FILE.read_text("utf-8"))


def test_the_blueprint_converts_to_its_inner_graph(object_info):
    """Dropped with nothing connected, the node stands for the spec's inner nodes (official ACE++ settings)."""
    api = W.ui_to_api(json.loads(FILE.read_text("utf-8")), object_info)
    assert api == W.blueprint_api(SPEC, object_info)
    prefix = f"{W.blueprint_instance_id(SPEC)}:"
    assert api[prefix + "13"]["inputs"]["steps"] == 28 and api[prefix + "7"]["inputs"]["guidance"] == 50


def _workflow_around(blueprint: dict, images: dict[str, str], fx) -> dict:
    """A UI workflow: the blueprint's node fed by the fixture loaders and two Load Image nodes, into Save Image;
    its promoted widgets set to a prompt, repainting 1, no crop, seed 7 and 2 steps."""
    wf = json.loads(json.dumps(blueprint))
    (node,) = wf["nodes"]
    node["widgets_values"] = ["The logo is printed on the mug.", 1.0, False, 7, 2]
    nodes = {node["id"]: node}
    links: list[list] = []

    def add(nid: int, kind: str, values: list, outputs: list[str], inputs: list[str] = ()) -> None:
        nodes[nid] = {"id": nid, "type": kind, "pos": [0, 0], "size": [300, 100], "flags": {}, "order": 0, "mode": 0,
                      "inputs": [{"name": n, "type": n.upper(), "link": None} for n in inputs],
                      "outputs": [{"name": t, "type": t, "links": []} for t in outputs],
                      "properties": {}, "widgets_values": values}

    def link(src: int, src_slot: int, dst: int, dst_name: str) -> None:
        slot = next(i for i, inp in enumerate(nodes[dst]["inputs"]) if inp["name"] == dst_name)
        kind = nodes[src]["outputs"][src_slot]["type"]
        links.append([len(links) + 1, src, src_slot, dst, slot, kind])
        nodes[dst]["inputs"][slot]["link"] = len(links)
        nodes[src]["outputs"][src_slot]["links"].append(len(links))

    add(1, "UNETLoader", [fx.FILL_MODEL, "default"], ["MODEL"])
    add(2, "ACEPP_LoraLoader", ["subject", "(released file for the vertical)", 1.0, "error"], ["MODEL", "STRING"],
        ["model"])
    add(3, "CLIPLoader", [fx.CLIP_L, "stable_diffusion", "default"], ["CLIP"])
    add(4, "VAELoader", [fx.VAE], ["VAE"])
    add(8, "LoadImage", [images["reference"], "image"], ["IMAGE", "MASK"])
    add(9, "LoadImage", [images["edit"], "image"], ["IMAGE", "MASK"])
    add(50, "SaveImage", ["acepp_blueprint"], [], ["images"])
    link(1, 0, 2, "model")
    for src, src_slot, name in ((2, 0, "model"), (3, 0, "clip"), (4, 0, "vae"), (9, 0, "edit_image"), (9, 1, "mask"),
                                (8, 0, "reference")):
        link(src, src_slot, node["id"], name)
    link(node["id"], 0, 50, "images")
    wf["nodes"], wf["links"] = list(nodes.values()), links
    wf["last_node_id"], wf["last_link_id"] = max(nodes), len(links)
    return wf


def test_the_blueprint_runs_as_one_node(live_server, object_info, tmp_path):
    """The blueprint's node wired to the fixture models and a photo with a mask: ComfyUI runs the chain and the
    photo comes back at its size, unchanged outside the mask."""
    from harness import tool_module

    ref = Image.new("RGB", (48, 64), (200, 120, 60))
    edit = Image.new("RGBA", EDIT_SIZE, (30, 110, 190, 255))
    ImageDraw.Draw(edit).rectangle((6, 6, 30, 58), fill=(250, 240, 20, 255))
    ImageDraw.Draw(edit).rectangle((MASK_BOX[0], MASK_BOX[1], MASK_BOX[2] - 1, MASK_BOX[3] - 1),
                                   fill=(30, 110, 190, 0))  # transparent = generate (LoadImage's mask)
    ref.save(tmp_path / "bp_ref.png")
    edit.save(tmp_path / "bp_edit.png")
    names = {"reference": live_server.upload_image(tmp_path / "bp_ref.png"),
             "edit": live_server.upload_image(tmp_path / "bp_edit.png")}
    workflow = _workflow_around(json.loads(FILE.read_text("utf-8")), names, tool_module("fixtures"))
    api = W.ui_to_api(workflow, object_info)
    inner = {k: v["class_type"] for k, v in api.items() if k.startswith(f"{W.blueprint_instance_id(SPEC)}:")}
    assert sorted(inner.values()) == sorted(n["class_type"] for n in SPEC["nodes"].values())
    sampler = next(v for k, v in api.items() if v["class_type"] == "KSampler")
    assert (sampler["inputs"]["steps"], sampler["inputs"]["seed"]) == (2, 7)  # the node's promoted widgets
    (saved,) = [p for p in live_server.run(api, timeout=300) if p.is_relative_to(live_server.layout.output)]
    result = np.asarray(Image.open(saved).convert("RGB"))
    original = np.asarray(edit.convert("RGB"))
    assert result.shape == original.shape
    keep = np.asarray(edit.getchannel("A")) >= 128
    assert (result[keep] == original[keep]).all(), "pixels outside the mask changed"
