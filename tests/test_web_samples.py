"""The shipped sample inputs (web/samples) and the "Load ACE++ sample inputs" button, in a real browser.

* The shipped PNGs decode to exactly the pixels tools/samples.py draws (no drift), and stay small.
* In headless Debian Chromium (driven by playwright, tests/harness/browser.py) against the real ComfyUI frontend
  of a live server, both the frontend ComfyUI 0.3.75 pins and the newest one (fixture `frontend_server`):
  every bundled workflow that names sample images gets them in one step (the menu command in the classic
  renderer, a real click on the node's button in the Vue node renderer): the files land in the server's
  input folder with the shipped pixels, the LoadImage nodes hold the names, the previews load, and the
  queued prompt (graphToPrompt) and the saved widgets_values are exactly what they are without the
  extension's widgets.

Needs /usr/bin/chromium, playwright in the venv and the newest frontend in $ACEPP_CACHE/frontends:
`bash tools/browser_setup.sh` installs them. They are never skipped: missing tools make the browser tests fail
with that instruction.
ACEPP_SAVE_SCREENSHOTS=1 also copies the pinned frontend's screenshot to docs/images/samples_button.png (README).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from aceplusplus.tools import samples
from harness.browser import COMMANDS, NAMES, NODES, PACK_WIDGETS, REPORT_WIDGET, SAMPLES_LABEL, VUE_NODES

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "web" / "js"
WORKFLOWS = sorted(p for p in (REPO / "workflows").glob("*.json"))
DOCS_SCREENSHOT = REPO / "docs" / "images" / "samples_button.png"


def _pixels(path: Path) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(path) as img:
        img.load()
        return img.mode, img.size, img.tobytes()


def _sample_names(workflow: dict) -> dict[int, str]:
    """LoadImage node id -> the sample it names."""
    return {n["id"]: n["widgets_values"][0] for n in workflow["nodes"]
            if n["type"] == "LoadImage" and n.get("widgets_values") and n["widgets_values"][0] in samples.SAMPLES}


# ----------------------------------------------------------------------------------------- no browser


def test_shipped_samples_are_exactly_what_samples_py_draws():
    shipped = sorted(p.name for p in samples.SHIP_DIR.iterdir())
    assert shipped == sorted(samples.SAMPLES), (
        f"web/samples holds {shipped}, expected the samples of tools/samples.py: run `python tools/samples.py --ship`")
    sizes = {}
    for name, draw in samples.SAMPLES.items():
        path = samples.SHIP_DIR / name
        drawn = draw(samples.SHIP_SCALE)
        mode, size, data = _pixels(path)
        assert (mode, size) == (drawn.mode, drawn.size), f"{name}: shipped {mode} {size}, drawn {drawn.mode} {drawn.size}"
        assert data == drawn.tobytes(), f"{name} drifted from tools/samples.py: run `python tools/samples.py --ship`"
        sizes[name] = path.stat().st_size
    assert max(sizes.values()) < 60_000, sizes
    assert sum(sizes.values()) < 250_000, sizes


def test_every_bundled_workflow_names_only_shipped_samples():
    assert WORKFLOWS, "no bundled workflows found"
    used = set()
    for path in WORKFLOWS:
        workflow = json.loads(path.read_text("utf-8"))
        loads = [n for n in workflow["nodes"] if n["type"] == "LoadImage"]
        names = _sample_names(workflow)
        assert len(names) == len(loads), f"{path.name}: a LoadImage node names no shipped sample"
        used |= set(names.values())
    assert used == set(samples.SAMPLES)


def test_frontend_names_the_same_samples_and_no_pack_folder():
    assert sorted(NAMES["samples"]) == sorted(samples.SAMPLES)  # web/names.json, what the frontend uploads
    # git clones and Registry installs name the pack folder differently: URLs come from import.meta.url.
    sources = {path.name: path.read_text("utf-8") for path in sorted(JS.glob("*.js"))}
    assert all("import.meta.url" in sources[name] for name in ("shared.js", "samples.js", "presets.js"))
    for name, source in sources.items():
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
        assert "/extensions/" not in code and "aceplusplus" not in code, name


# ----------------------------------------------------------------------------------------- browser


def _remove_samples(input_dir: Path) -> None:
    for name in samples.SAMPLES:
        for path in input_dir.glob(name.replace(".png", "*.png")):
            path.unlink()


def _check_uploaded(input_dir: Path, names: set[str]) -> None:
    for name in names:
        path = input_dir / name
        assert path.is_file(), f"{name} was not uploaded to {input_dir}"
        assert _pixels(path) == _pixels(samples.SHIP_DIR / name), f"{name} in the input folder is not the shipped file"
    stray = sorted(p.name for p in input_dir.glob("acepp_* (*).png"))
    assert not stray, f"uploads were renamed instead of overwritten: {stray}"


def _check_loaded(fe, workflow: dict, where: str) -> None:
    """The frontend kept every saved widget value of the LoadImage and canvas nodes, in place."""
    saved = {n["id"]: n.get("widgets_values") for n in workflow["nodes"]}
    for node_type in ("LoadImage", NODES["canvas"]):
        for node in fe.nodes(node_type):
            assert node["widgets_values"] == saved[node["id"]], (
                f"{where}: node {node['id']} ({node_type}) re-saves {node['widgets_values']}, "
                f"the file has {saved[node['id']]}")


def test_sample_inputs_command_loads_every_bundled_workflow(frontend, frontend_server):
    """Classic renderer, the menu command: every bundled workflow, every sample."""
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    used = set()
    for path in WORKFLOWS:
        workflow = json.loads(path.read_text("utf-8"))
        names = _sample_names(workflow)
        _remove_samples(frontend_server.server.layout.input)
        fe.load(workflow)
        _check_loaded(fe, workflow, path.name)
        canvas = fe.nodes(NODES["canvas"])
        # The pack's widgets (this button, then the layout preview's) come after all of the node's own ones.
        order = [w["name"] for w in canvas[0]["widgets"]] if len(canvas) == 1 else []
        assert SAMPLES_LABEL in order and all(n in PACK_WIDGETS for n in order[order.index(SAMPLES_LABEL):]), (
            path.name, order)
        button = canvas[0]["widgets"][order.index(SAMPLES_LABEL)]
        assert (button["type"], button["serialize"], button["options_serialize"]) == ("button", False, False)
        before = fe.prompt()
        assert before == fe.prompt(without_pack_widgets=True), f"{path.name}: the button entered the prompt"

        fe.command(COMMANDS["load_samples"])
        fe.wait_for_previews(names)
        _check_uploaded(frontend_server.server.layout.input, set(names.values()))
        for node in fe.nodes("LoadImage"):
            assert node["widgets"][0]["value"] == names[node["id"]]
        for name in set(names.values()):
            assert fe.view_status(name) == 200, name
        assert fe.prompt() == before, f"{path.name}: loading the samples changed the prompt"
        _check_loaded(fe, workflow, path.name)
        used |= set(names.values())
    assert used == set(samples.SAMPLES)
    assert not fe.extension_errors(), fe.extension_errors()


def test_report_widget_stays_out_of_the_prompt_and_the_saved_values(frontend):
    """A loader's report (shown after it ran) is a display: not a prompt input, not a widgets_values entry."""
    fe = frontend
    workflow = next(w for w in (json.loads(p.read_text("utf-8")) for p in WORKFLOWS)
                    if any(n["type"] == NODES["lora_loader"] for n in w["nodes"]))
    fe.load(workflow)
    (lora,) = fe.nodes(NODES["lora_loader"])
    before, saved = fe.prompt(), lora["widgets_values"]
    fe.js("app.graph.getNodeById(arg).onExecuted({text: ['ACE++ LoRA report: 1 of 1 tensors applied']});", lora["id"])
    (lora,) = fe.nodes(NODES["lora_loader"])
    report = lora["widgets"][-1]
    assert report["name"] == REPORT_WIDGET and report["value"].startswith("ACE++ LoRA report")
    assert (report["serialize"], report["options_serialize"]) == (False, False)
    assert lora["widgets_values"] == saved
    assert fe.prompt() == before


@pytest.fixture
def no_samples_at_page_load(frontend_server):
    """The samples are absent from the input folder before the page (and its combo lists) loads."""
    _remove_samples(frontend_server.server.layout.input)


def test_sample_button_click_in_vue_nodes(no_samples_at_page_load, frontend, frontend_server, tmp_path):
    """Vue node renderer: a real click on the canvas node's button; a second click changes nothing."""
    fe = frontend
    path = next(p for p in WORKFLOWS if set(_sample_names(json.loads(p.read_text("utf-8"))).values())
                == {"acepp_garment.png", "acepp_person.png"})
    workflow = json.loads(path.read_text("utf-8"))
    names = _sample_names(workflow)
    _remove_samples(frontend_server.server.layout.input)
    fe.set_setting(VUE_NODES, True)
    try:
        fe.load(workflow)
        _check_loaded(fe, workflow, path.name)
        before = fe.prompt()
        # Frame the sample nodes and the canvas node (test-side view control only).
        fe.js("""
            const nodes = app.graph.nodes.filter((n) => ['LoadImage', arg].includes(n.type));
            app.canvas.selectItems?.(nodes);
            await app.extensionManager.command.execute('Comfy.Canvas.FitView');
            app.canvas.deselectAll?.();
        """, NODES["canvas"])
        # The files were missing when the graph loaded: the Vue dropdowns show their placeholder.
        assert not any(name in fe.node_text(node_id) for node_id, name in names.items())
        button = fe.page.get_by_role("button", name=SAMPLES_LABEL)
        fe.click_and_wait_for_uploads(button, len(set(names.values())))
        fe.wait_for_previews(names)
        for node_id, name in names.items():  # ... and now the names
            try:
                fe.page.wait_for_function("([id, name]) => document.querySelector(`[data-node-id='${id}']`)"
                                          "?.innerText.includes(name)", arg=[node_id, name], timeout=10_000)
            except Exception as err:
                html = fe.page.evaluate("(id) => document.querySelector(`[data-node-id='${id}']`)?.outerHTML ?? ''",
                                        node_id)
                raise AssertionError(f"{frontend_server.name}: node {node_id} does not show {name}: "
                                     f"{fe.node_text(node_id)!r}\n{html[:6000]}") from err
        _check_uploaded(frontend_server.server.layout.input, set(names.values()))
        assert fe.prompt() == before
        fe.page.wait_for_timeout(400)  # let the toast finish sliding in
        shot = tmp_path / "samples_button.png"
        fe.page.screenshot(path=str(shot))
        if os.environ.get("ACEPP_SAVE_SCREENSHOTS") == "1" and frontend_server.name == "pinned":
            DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_SCREENSHOT)

        # A second click is idempotent: the same files overwritten (never "acepp_x (1).png"), the same names.
        fe.click_and_wait_for_uploads(button, len(set(names.values())))
        fe.wait_for_previews(names)
        _check_uploaded(frontend_server.server.layout.input, set(names.values()))
        assert fe.prompt() == before
        assert not fe.extension_errors(), fe.extension_errors()
    finally:
        fe.set_setting(VUE_NODES, False)
