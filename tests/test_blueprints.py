"""The pack's subgraph blueprint (subgraphs/<name>.json, built by tools/workflows.py from tools/workflow_specs.py)
on a live ComfyUI: served where the frontend looks for a pack's blueprints, and run as the one node it is.

ComfyUI (app/subgraph_manager.py, 0.3.75 and 0.28.2 alike) serves every ``custom_nodes/*/subgraphs/*.json`` at
``GET /global_subgraphs`` (names, by id) and ``GET /global_subgraphs/<id>`` (the file); the frontend lists them
in its node library under "Subgraph Blueprints". That the file is what the generator builds is checked with the
workflows (tools/workflows.py check, tests/test_workflows.py); that the frontend queues it as the record's inner
graph, by tests/test_web_library.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from aceplusplus.tools import fixtures
from aceplusplus.tools.workflow_specs import BLUEPRINTS, SAMPLER_ID, api_prompt
from harness import PACK_LINK_NAME

REPO = Path(__file__).resolve().parents[1]
SPEC = BLUEPRINTS["edit"]
FILE = REPO / "subgraphs" / f"{SPEC.name}.json"
EDIT_SIZE, MASK_BOX = (80, 64), (40, 16, 72, 48)  # the photo, and the area to generate (x0, y0, x1, y1 exclusive)


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
    listed = live_server.session.get_json("/global_subgraphs")
    ours = {k: v for k, v in listed.items() if v.get("info", {}).get("node_pack") == f"custom_nodes.{PACK_LINK_NAME}"}
    assert [v["name"] for v in ours.values()] == [FILE.stem], ours
    (entry_id,) = ours
    served = live_server.session.get_json(f"/global_subgraphs/{entry_id}")
    assert served["source"] == "custom_node" and json.loads(served["data"]) == json.loads(FILE.read_text("utf-8"))


def around_the_blueprint(images: dict[str, str], widgets: dict) -> dict:
    """The API graph of the blueprint's node fed by the fixture loaders and two Load Image nodes, into Save Image:
    the record's inner nodes ("50:<inner id>", as the frontend flattens a subgraph node 50) with each of the node's
    inputs put where the record says it goes (`widgets`: the promoted widgets' values)."""
    outer = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": fixtures.FILL_MODEL, "weight_dtype": "default"}},
        "2": {"class_type": "ACEPP_LoraLoader", "inputs": {"model": ["1", 0], "vertical": "subject", "strength": 1.0,
                                                           "lora_name": "(released file for the vertical)",
                                                           "on_mismatch": "error"}},
        "3": {"class_type": "CLIPLoader", "inputs": {"clip_name": fixtures.CLIP_L, "type": "stable_diffusion"}},
        "4": {"class_type": "VAELoader", "inputs": {"vae_name": fixtures.VAE}},
        "8": {"class_type": "LoadImage", "inputs": {"image": images["reference"]}},
        "9": {"class_type": "LoadImage", "inputs": {"image": images["edit"]}},
    }
    fed = {"model": ["2", 0], "clip": ["3", 0], "vae": ["4", 0], "edit_image": ["9", 0], "mask": ["9", 1],
           "reference": ["8", 0], **widgets}
    inner = api_prompt(SPEC.nodes, lambda class_type: class_type, prefix="50:")
    for inp in SPEC.inputs:
        for nid, name in inp.to:
            if inp.name in fed:
                inner[f"50:{nid}"]["inputs"][name] = fed[inp.name]
    (image_out,) = [src for name, src in SPEC.outputs if name == "image"]
    save = {"class_type": "SaveImage", "inputs": {"images": [f"50:{image_out[0]}", image_out[1]],
                                                  "filename_prefix": "acepp_blueprint"}}
    return {**outer, **inner, "60": save}


def test_the_blueprint_runs_as_one_node(live_server, tmp_path):
    """The blueprint's inner graph wired to the fixture models and a photo with a mask: ComfyUI runs the chain and
    the photo comes back at its size, unchanged outside the mask."""
    from PIL import ImageDraw

    ref = Image.new("RGB", (48, 64), (200, 120, 60))
    edit = Image.new("RGBA", EDIT_SIZE, (30, 110, 190, 255))
    ImageDraw.Draw(edit).rectangle((6, 6, 30, 58), fill=(250, 240, 20, 255))
    ImageDraw.Draw(edit).rectangle((MASK_BOX[0], MASK_BOX[1], MASK_BOX[2] - 1, MASK_BOX[3] - 1),
                                   fill=(30, 110, 190, 0))  # transparent = generate (LoadImage's mask)
    ref.save(tmp_path / "bp_ref.png")
    edit.save(tmp_path / "bp_edit.png")
    names = {"reference": live_server.upload_image(tmp_path / "bp_ref.png"),
             "edit": live_server.upload_image(tmp_path / "bp_edit.png")}
    api = around_the_blueprint(names, {"text": "The logo is printed on the mug.", "repainting_scale": 1.0,
                                       "crop_to_context": False, "seed": 7, "steps": 2})
    assert (api[f"50:{SAMPLER_ID}"]["inputs"]["steps"], api[f"50:{SAMPLER_ID}"]["inputs"]["seed"]) == (2, 7)
    (saved,) = [p for p in live_server.run(api, timeout=300) if p.is_relative_to(live_server.layout.output)]
    result = np.asarray(Image.open(saved).convert("RGB"))
    original = np.asarray(edit.convert("RGB"))
    assert result.shape == original.shape
    keep = np.asarray(edit.getchannel("A")) >= 128
    assert (result[keep] == original[keep]).all(), "pixels outside the mask changed"
