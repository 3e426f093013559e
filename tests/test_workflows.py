"""The bundled workflows: they only use core + ACE++ nodes, carry model links and thumbnails, every generated
file equals what tools/workflows.py builds (no drift), they are served as templates, and each one runs end to end
on a live ComfyUI with the tiny random-weight fixtures (DualCLIPLoader swapped for CLIPLoader: no tiny T5-XXL).
That each UI file queues as its API twin is checked by the real frontends: tests/test_web_library.py.

Pixels of random weights mean nothing; what is checked is the output size and, for edits, that every
pixel outside the mask is the input's, bit for bit.
"""
from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
import json
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import pytest

from aceplusplus.client import catalog, graph as client_graph, jobs as client_jobs
from aceplusplus.client.errors import ClientError
from aceplusplus.client.scheduler import run_batch
from aceplusplus.client.session import BlockingSession
from aceplusplus.tools import workflows as W
from aceplusplus.nodes.recipes import RECIPES
from aceplusplus.tools.workflow_specs import COND, GUIDE, RENAMED, SAVE, WORKFLOWS

ROOT = Path(__file__).resolve().parent.parent

WF_DIR = ROOT / "workflows"
CORE_MODULES = ("nodes", "comfy_extras.", "comfy_api_nodes.")
REDUX = [w for w, s in WORKFLOWS.items() if s.uses_redux]
MODEL_ORDER = ["portrait", "subject", "local_editing", "fft", *RECIPES]
# Ordered so that consecutive runs share the model and LoRA (ComfyUI keeps them loaded and patched). The editing
# workflows with Redux run too, with the Redux nodes left out (see REDUX_OFF).
RUNNABLE = sorted((w for w, s in WORKFLOWS.items() if not s.uses_redux or s.edit),
                  key=lambda w: (MODEL_ORDER.index(WORKFLOWS[w].model), w))
RECIPE_WORKFLOWS = [w for w, s in WORKFLOWS.items() if s.recipe]
# The recipes' panels at a quarter size in the end-to-end runs (their full-size canvases cost a minute each on the
# CPU; test_recipe_workflow_builds_its_models_canvas_and_stitches_exactly builds those, on the newest core).
QUARTER_PANELS = {w: tuple(f"11.{name}={WORKFLOWS[w].canvas_settings[name] // 4}"
                           for name in ("panel_width", "panel_height")) for w in RECIPE_WORKFLOWS}
# Margins for the outpainting workflows' small test photo (the bundled ones are for real photos).
OUTPAINT = {"left": 16, "top": 16, "right": 32, "bottom": 0}
EDIT_SIZE, REF_SIZE, GEN_SIZE = (80, 64), (48, 64), (80, 64)
MASK_BOX = (40, 16, 72, 48)  # x0, y0, x1, y1 (exclusive) inside the 80x64 edit image
# Workflows whose canvas splits the mask into several regions get a wider edit image with three separate areas,
# 76 px apart: further than the default merge_distance (64 px), so each stays its own region.
REGION_EDIT_SIZE = (200, 64)
REGION_BOXES = ((6, 8, 18, 20), (94, 40, 106, 52), (182, 20, 194, 32))  # 144 px each, over min_region_area 64
STEPS = 2


# ---------------------------------------------------------------------------------------------------
# The server: the harness's session-wide live ComfyUI (tests/harness/server.py) with the pack linked in and
# the tiny fixtures as its models folder. test_client.py uses the same one.


@pytest.fixture(scope="session")
def server(live_server) -> str:
    return live_server.base_url


@pytest.fixture(scope="session")
def object_info(server) -> dict:
    return W.fetch_object_info(server)


def ui_files() -> list[Path]:
    return sorted(WF_DIR.glob("*.json"))


# ---------------------------------------------------------------------------------------------------
# Static checks (against the live server's node schemas)


def test_every_spec_has_its_files():
    assert {p.stem for p in ui_files()} == {s.card for s in WORKFLOWS.values()}
    assert {p.stem for p in (WF_DIR / "api").glob("*.json")} == set(WORKFLOWS) | {"index"}
    assert catalog.workflow_ids() == list(WORKFLOWS)


@pytest.mark.parametrize("path", ui_files(), ids=lambda p: p.stem)
def test_ui_workflow_is_consistent_and_uses_only_core_and_pack_nodes(path, object_info):
    ui = json.loads(path.read_text(encoding="utf-8"))
    assert ui["version"] == 0.4 and ui["revision"] == 0
    assert ui["last_node_id"] == max(n["id"] for n in ui["nodes"])
    assert ui["last_link_id"] == max(link[0] for link in ui["links"])
    notes = [n for n in ui["nodes"] if n["type"] == "Note"]
    assert len(notes) == 1 and "models/" in notes[0]["widgets_values"][0]
    for node in ui["nodes"]:
        if node["type"] == "Note":
            continue
        assert node["type"] in object_info, f"{path.name}: {node['type']} is not on the server"
        module = object_info[node["type"]]["python_module"]
        assert node["type"].startswith("ACEPP_") or module.startswith(CORE_MODULES), (node["type"], module)
        if node["type"].startswith("ACEPP_"):
            assert module.startswith("custom_nodes."), module
    # Every link is consistent on both ends.
    by_id = {n["id"]: n for n in ui["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, link_type in ui["links"]:
        assert link_id in by_id[src]["outputs"][src_slot]["links"]
        assert by_id[dst]["inputs"][dst_slot]["link"] == link_id
        assert by_id[src]["outputs"][src_slot]["type"] == link_type


@pytest.mark.parametrize("path", ui_files(), ids=lambda p: p.stem)
def test_loaders_carry_model_download_entries(path, object_info):
    ui = json.loads(path.read_text(encoding="utf-8"))
    loaders = [n for n in ui["nodes"] if n["type"].endswith("Loader")]
    assert loaders
    for node in loaders:
        models = node["properties"].get("models")
        assert models, f"{path.name}: {node['type']} has no properties.models"
        for entry in models:
            assert set(entry) == {"name", "url", "directory"}
            assert entry["url"].startswith("https://huggingface.co/")
            # The download saves the repository's file name; a generic one (pytorch_lora_weights.safetensors) is
            # renamed, and the Note says to save it under the catalog's name.
            assert entry["url"].endswith(entry["name"]) or entry["name"] in RENAMED, entry
            if entry["name"] in RENAMED:
                note = next(n for n in ui["nodes"] if n["type"] == "Note")["widgets_values"][0]
                assert f"(save it as {entry['name']})" in note, entry
        names = {m["name"] for m in models}
        file_widgets = [v for v in node["widgets_values"] if isinstance(v, str) and v.endswith(".safetensors")]
        assert set(file_widgets) <= names, (node["type"], file_widgets, names)
        # The frontend offers a node's entry only when its name is a widget value; the workflow-level list
        # (always offered) must hold every file, the ACE++ LoRA (chosen by vertical) included.
        assert all(entry in ui["models"] for entry in models)
    lora = [n for n in loaders if n["type"] == "ACEPP_LoraLoader"]
    if lora:
        assert lora[0]["properties"]["models"][0]["directory"] == "loras"


@pytest.mark.parametrize("path", ui_files(), ids=lambda p: p.stem)
def test_every_ui_file_has_a_small_jpeg_thumbnail(path):
    from PIL import Image

    jpg = path.with_suffix(".jpg")
    assert jpg.is_file(), f"{jpg.name} missing"
    assert jpg.stat().st_size < 60_000
    with Image.open(jpg) as im:
        assert im.format == "JPEG" and im.width >= 256


# The bundled files are generated against the node definitions of 0.3.75 (tools/workflows.py build runs the default
# runtime, the oldest core the pack supports); current cores add outputs (SaveImage's IMAGE), which the frontend fills
# in when it loads a file: tests/test_web_library.py loads every bundled workflow on v0.28.2's frontends and compares
# what they queue with the API twins.
@pytest.mark.core("0.3.75", reason="the generated files are built against 0.3.75's node definitions")
def test_generated_files_do_not_drift(object_info):
    assert W.check(object_info) == []


def test_check_reports_every_kind_of_drift(object_info, tmp_path):
    """check() builds into a temporary folder and compares bytes: a changed twin, UI file, preset file or help
    table, a missing thumbnail and a stale file each show up by name."""
    W.build(object_info, tmp_path, prose=ROOT, log=lambda msg: None)
    assert W.check(object_info, tmp_path) == []
    api_file = tmp_path / "workflows" / "api" / "try_on.json"
    api = json.loads(api_file.read_text())
    api["13"]["inputs"]["steps"] = 20
    api_file.write_text(json.dumps(api, indent=2))
    (tmp_path / "workflows" / "ACE++ Face Swap.jpg").unlink()
    ui_file = tmp_path / "workflows" / "ACE++ Local Editing.json"
    ui_file.write_text(ui_file.read_text().replace("flux1-fill-dev.safetensors", "other.safetensors"))
    presets = tmp_path / "web" / "presets.json"
    presets.write_text(presets.read_text().replace('"repainting_scale": 0.5', '"repainting_scale": 0.25'))
    page = tmp_path / "web" / "docs" / "ACEPP_Stitch.md"
    page.write_text(page.read_text().replace("| `grow` | INT | 0 |", "| `grow` | INT | 4 |"))
    (tmp_path / "workflows" / "ACE++ Old Name.json").write_text("{}")
    text = "\n".join(W.check(object_info, tmp_path))
    assert "workflows/api/try_on.json: differs" in text and '"steps": 20' in text, text
    assert "workflows/ACE++ Face Swap.jpg: missing" in text, text
    assert "workflows/ACE++ Local Editing.json: differs" in text and "other.safetensors" in text, text
    assert "web/presets.json: differs" in text and "0.25" in text, text
    assert "web/docs/ACEPP_Stitch.md: differs" in text and "| `grow` | INT | 4 |" in text, text
    assert "workflows/ACE++ Old Name.json: stale" in text, text


def test_api_twins_are_the_specs():
    """The twin the client runs is the spec's graph as is: class, every input, links as [id, slot]."""
    for wid, spec in WORKFLOWS.items():
        graph = catalog.load(wid).graph()
        assert list(graph) == list(spec.nodes), wid
        for nid, node in spec.nodes.items():
            assert graph[nid]["class_type"] == node.class_type, (wid, nid)
            assert graph[nid]["inputs"] == {k: list(v) if isinstance(v, tuple) else v
                                            for k, v in node.inputs.items()}, (wid, nid)
        assert graph[SAVE]["inputs"]["filename_prefix"] == f"ACE++/{wid}"


def test_workflow_templates_endpoint_lists_every_bundled_workflow(server):
    with urllib.request.urlopen(server + "/api/workflow_templates") as resp:
        templates = json.loads(resp.read())
    cards = {s.card for s in WORKFLOWS.values()}
    ours = [names for names in templates.values() if set(names) & cards]
    assert len(ours) == 1 and set(ours[0]) == cards, templates  # the api/ twins are not templates
    folder = next(k for k, v in templates.items() if v is ours[0])
    for card in cards:  # titles with spaces, '+' and brackets, fetched the way the frontend builds the URL
        quoted = urllib.parse.quote(f"{folder}/{card}")
        with urllib.request.urlopen(f"{server}/api/workflow_templates/{quoted}.json") as resp:
            assert json.loads(resp.read())["nodes"]
        with urllib.request.urlopen(f"{server}/api/workflow_templates/{quoted}.jpg") as resp:
            assert resp.read(3) == b"\xff\xd8\xff"


# ---------------------------------------------------------------------------------------------------
# End to end on the live server


def _images(tmp_path: Path, regions: bool = False) -> dict[str, Path]:
    """Reference, edit image and mask files; with `regions` the edit image is REGION_EDIT_SIZE and its mask has
    the three separate REGION_BOXES."""
    from PIL import Image, ImageDraw

    size, boxes = (REGION_EDIT_SIZE, REGION_BOXES) if regions else (EDIT_SIZE, (MASK_BOX,))
    ref = Image.new("RGB", REF_SIZE, (200, 120, 60))
    ImageDraw.Draw(ref).ellipse((8, 8, 40, 56), fill=(240, 220, 180))
    edit = Image.new("RGB", size, (30, 110, 190))
    draw = ImageDraw.Draw(edit)
    draw.rectangle((6, 6, 30, 58), fill=(250, 240, 20))
    for x in range(0, size[0], 7):
        draw.line((x, 0, x, size[1]), fill=(x * 3 % 255, 80, 40))
    mask = Image.new("L", size, 0)
    for box in boxes:
        ImageDraw.Draw(mask).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=255)
    paths = {"reference": tmp_path / "ref.png", "edit_image": tmp_path / "edit.png", "mask": tmp_path / "mask.png"}
    ref.save(paths["reference"])
    edit.save(paths["edit_image"])
    mask.save(paths["mask"])
    return paths


def without_redux(job: client_jobs.Job) -> client_jobs.Job:
    """The job with the conditioning fed by FluxGuidance instead of Redux: the Redux models cannot run on the tiny
    fixtures (see test_redux_workflows_validate_except_for_the_missing_redux_models), and ComfyUI neither
    validates nor runs the nodes no output needs."""
    graph = json.loads(job.graph_json)
    graph[COND]["inputs"]["positive"] = [GUIDE, 0]
    return dataclasses.replace(job, graph_json=json.dumps(graph))


def run_workflow(server: str, wid: str, files: dict[str, Path], out: Path, *, seed: int, set: tuple = (),
                 log: list | None = None, gguf: str | None = None, redux: bool = True, **values
                 ) -> tuple[list[client_jobs.Job], list[Path]]:
    """One job of a bundled workflow through the headless client's own code; (jobs, written files). `log`, when
    given, receives the client's log lines (queued prompt ids, websocket progress per step); `set` and `gguf` are
    the client's --set and --gguf; `redux` False leaves the Redux nodes out (without_redux)."""
    workflow = catalog.load(wid)
    jobs = client_jobs.build_jobs(workflow, files={k: v for k, v in files.items() if k in workflow.images},
                                  values={"steps": STEPS, **values}, seeds=[seed], sets=[],
                                  overrides=client_graph.parse_assignments(list(set), "--set"), gguf=gguf)
    if not redux:
        jobs = [without_redux(job) for job in jobs]
    result = asyncio.run(run_batch([server], jobs, out, timeout=600, log=log.append if log is not None else
                                   lambda m: None, warn=lambda m: None))
    if result.failed:
        raise next(iter(result.failed.values()))
    return jobs, [p for paths in result.written.values() for p in paths]


@pytest.mark.parametrize("wid", RUNNABLE)
def test_workflow_runs_end_to_end(wid, server, tmp_path):
    import numpy as np
    from PIL import Image

    spec = WORKFLOWS[wid]
    files = _images(tmp_path, regions=spec.regions != "one")
    generation = not spec.edit
    params = {"width": GEN_SIZE[0], "height": GEN_SIZE[1]} if generation else {}
    if spec.outpaint:
        params = OUTPAINT
    out = tmp_path / "out"
    jobs, saved = run_workflow(server, wid, files, out, seed=zlib.crc32(wid.encode()) % 10_000,
                               redux=not spec.uses_redux, set=QUARTER_PANELS.get(wid, ()), **params)
    assert len(jobs) == 1 and saved == [out / f"{jobs[0].name}.png"]
    # The only graph rewrite: no T5-XXL among the fixtures (made per server, so not in the job's graph).
    assert json.loads(jobs[0].graph_json)["3"]["class_type"] == "DualCLIPLoader"
    result = np.asarray(Image.open(saved[0]).convert("RGB"))
    assert np.isfinite(result).all()
    if generation:
        assert result.shape[:2] == (GEN_SIZE[1], GEN_SIZE[0])
    elif spec.outpaint:
        original = np.asarray(Image.open(files["edit_image"]).convert("RGB"))
        height, width = original.shape[:2]
        top, left = OUTPAINT["top"], OUTPAINT["left"]
        assert result.shape == (height + top + OUTPAINT["bottom"], width + left + OUTPAINT["right"], 3)
        assert (result[top:top + height, left:left + width] == original).all(), "original pixels changed"
        new = np.ones(result.shape[:2], bool)
        new[top:top + height, left:left + width] = False
        assert (result[new] != 128).any(axis=-1).mean() > 0.5, "the new margins were not generated"
    else:
        original = np.asarray(Image.open(files["edit_image"]).convert("RGB"))
        assert result.shape == original.shape
        keep = np.asarray(Image.open(files["mask"])) < 128
        assert (result[keep] == original[keep]).all(), "pixels outside the mask changed"
        assert keep.sum() < keep.size  # the mask covers something


def test_multi_region_editing_samples_three_regions_as_one_batch(server, tmp_path):
    """Three separate areas of one photo through the bundled multi-region workflow (the headless client's own
    code): one image of the photo's size comes back, changed in the three areas and nowhere else, and the three
    regions were sampled together: KSampler ran once (its websocket progress went 1..steps once, and ComfyUI
    did not serve it from its cache) on a batch of three canvases (the canvas node previewed three canvases
    and three masks, all of one size; ACE++ Stitch refuses a decoded batch that is not one image per region)."""
    import numpy as np
    from PIL import Image

    wid = "multi_region_editing"
    assert WORKFLOWS[wid].nodes["11"].inputs["regions"] == "connected_components"
    files = _images(tmp_path, regions=True)
    with Image.open(files["edit_image"]) as edit:  # a photo of its own, so that ComfyUI's cache serves no node
        edit = edit.copy()
    edit.putpixel((0, 0), (1, 2, 3))
    edit.save(files["edit_image"])
    out, log = tmp_path / "out", []
    jobs, saved = run_workflow(server, wid, files, out, seed=4242, log=log)
    assert len(jobs) == 1 and saved == [out / f"{jobs[0].name}.png"]

    result = np.asarray(Image.open(saved[0]).convert("RGB"))
    original = np.asarray(Image.open(files["edit_image"]).convert("RGB"))
    assert result.shape == original.shape == (REGION_EDIT_SIZE[1], REGION_EDIT_SIZE[0], 3)
    keep = np.asarray(Image.open(files["mask"])) < 128
    assert (result[keep] == original[keep]).all(), "pixels outside the three areas changed"
    for x0, y0, x1, y1 in REGION_BOXES:
        changed = (result[y0:y1, x0:x1] != original[y0:y1, x0:x1]).any(axis=-1)
        assert changed.mean() > 0.5, f"the area at ({x0},{y0}) is not regenerated: {changed.mean():.0%} changed"

    # One sampling: the client's progress lines (from ComfyUI's websocket) for this job.
    name = jobs[0].name
    sampler = [line.split("] ", 1)[1] for line in log if line.startswith(f"[{name}] KSampler ")]
    assert sampler == [f"KSampler {step}/{STEPS}" for step in range(1, STEPS + 1)], log
    (pid,) = [line.split("queued as ")[1].split(" ")[0] for line in log if "queued as" in line]
    with BlockingSession(server) as session:
        entry = session.history(pid)
        cached = [set(data.get("nodes") or ()) for kind, data in entry["status"]["messages"]
                  if kind == "execution_cached"]
        assert cached and not {"11", "13"} & set().union(*cached), cached
        previews = entry["outputs"]["11"]["images"]  # canvas preview: the canvases, then their masks
        assert len(previews) == 2 * len(REGION_BOXES), previews
        sizes = {Image.open(io.BytesIO(session.view(ref))).size for ref in previews}
    assert len(sizes) == 1, sizes
    (canvas_w, canvas_h), = sizes
    assert canvas_h == REGION_EDIT_SIZE[1] and canvas_w < 2 * REGION_EDIT_SIZE[0], sizes


@pytest.mark.parametrize("wid", REDUX)
def test_redux_workflows_validate_except_for_the_missing_redux_models(wid, server, object_info):
    """FLUX Redux cannot run on the tiny fixtures: ComfyUI's CLIPVisionLoader builds SigCLIP from a fixed
    config (27 layers x 1152) and the Redux style model emits 4096-wide T5-space tokens, which the
    CLIP-L-only (768-wide) tiny text path cannot take. So the graph is converted and validated by the
    server: the only node errors allowed are the two absent model files."""
    api = catalog.load(wid).graph()
    assert {n["class_type"] for n in api.values()} >= {"CLIPVisionLoader", "CLIPVisionEncode", "StyleModelLoader",
                                                      "StyleModelApply"}
    graph = copy.deepcopy(api)
    assert client_graph.swap_text_encoder(graph, object_info["DualCLIPLoader"])
    with BlockingSession(server) as session:
        graph["8"]["inputs"]["image"] = session.upload_image(_png(REF_SIZE), "acepp_redux_reference.png")
        if "9" in graph:  # the editing workflows' photo
            graph["9"]["inputs"]["image"] = session.upload_image(_png(EDIT_SIZE), "acepp_redux_edit.png")
        with pytest.raises(ClientError) as err:
            session.post_prompt(graph)
    answer = err.value.details
    errors = {(nid, e["extra_info"].get("input_name")) for nid, info in answer["node_errors"].items()
              for e in info["errors"]}
    assert errors == {("17", "clip_name"), ("19", "style_model_name")}, answer["node_errors"]


def _png(size) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (90, 140, 200)).save(buf, "PNG")
    return buf.getvalue()


# A photo large enough for every recipe's crop to take its panel's aspect (as the public code's crops do), so
# the canvas is the one the model's own code diffuses (tools/recipe_sizes.py compares many more sizes).
RECIPE_EDIT_SIZE, RECIPE_REF_SIZE = (512, 384), (300, 400)
RECIPE_MASK_BOX = (200, 150, 280, 230)
RECIPE_CANVAS = {"icedit": (1024, 384), "insert_anything": (1536, 768), "catvton": (1152, 768)}


@pytest.mark.core("0.28.2", reason="full-size recipe canvases cost a minute each on the CPU; the oldest core runs "
                                   "them at a quarter size (test_workflow_runs_end_to_end)")
@pytest.mark.parametrize("wid", RECIPE_WORKFLOWS)
def test_recipe_workflow_builds_its_models_canvas_and_stitches_exactly(wid, server, tmp_path):
    """Each FLUX-Fill in-context recipe (ICEdit, Insert Anything, CatVTON-FLUX) through its bundled workflow: the
    canvas node built the canvas the model's public code would (its size is on the canvas preview), and the photo
    comes back at its own size, unchanged outside the mask and regenerated inside."""
    import numpy as np
    from PIL import Image, ImageDraw

    spec = WORKFLOWS[wid]
    assert set(RECIPE_CANVAS) == set(RECIPES)
    paths = {"reference": tmp_path / "ref.png", "edit_image": tmp_path / "edit.png", "mask": tmp_path / "mask.png"}
    ref = Image.new("RGB", RECIPE_REF_SIZE, (200, 120, 60))
    ImageDraw.Draw(ref).ellipse((40, 60, 260, 340), fill=(240, 220, 180))
    ref.save(paths["reference"])
    edit = Image.new("RGB", RECIPE_EDIT_SIZE, (30, 110, 190))
    for x in range(0, RECIPE_EDIT_SIZE[0], 7):
        ImageDraw.Draw(edit).line((x, 0, x, RECIPE_EDIT_SIZE[1]), fill=(x % 255, 80, 40))
    edit.save(paths["edit_image"])
    mask = Image.new("L", RECIPE_EDIT_SIZE, 0)
    ImageDraw.Draw(mask).rectangle((RECIPE_MASK_BOX[0], RECIPE_MASK_BOX[1], RECIPE_MASK_BOX[2] - 1,
                                    RECIPE_MASK_BOX[3] - 1), fill=255)
    mask.save(paths["mask"])
    out, log = tmp_path / "out", []
    jobs, saved = run_workflow(server, wid, paths, out, seed=zlib.crc32(wid.encode()) % 10_000, log=log,
                               redux=not spec.uses_redux)

    result = np.asarray(Image.open(saved[0]).convert("RGB"))
    original = np.asarray(edit)
    assert result.shape == original.shape
    keep = np.asarray(mask) < 128
    assert (result[keep] == original[keep]).all(), "pixels outside the mask changed"
    assert (result[~keep] != original[~keep]).any(axis=-1).mean() > 0.5, "the masked area was not regenerated"
    (pid,) = [line.split("queued as ")[1].split(" ")[0] for line in log if "queued as" in line]
    with BlockingSession(server) as session:
        canvas_preview = session.history(pid)["outputs"]["11"]["images"][0]
        size = Image.open(io.BytesIO(session.view(canvas_preview))).size
    assert size == RECIPE_CANVAS[spec.model], f"{wid}: canvas {size}"

