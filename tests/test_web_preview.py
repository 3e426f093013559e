"""The ACE++ Canvas node's live layout preview and task presets (web/js/preview.js, presets.js) in a real browser.

web/presets.json, the one table of presets, is checked against tools/workflow_specs.py (the bundled workflows'
recipes) without a browser. In headless Debian Chromium against the real ComfyUI frontend of a live server, the
frontend the core pins (1.32.9 on ComfyUI 0.3.75, 1.45.21 on v0.28.2) and the newest one (fixture
`frontend_server`; harness.browser), with the bundled Subject Editing workflow and its sample inputs uploaded by
the pack's own command:

* the preview follows the widgets: for several token_budget / crop_to_context / context_margin combinations
  (set as the widgets' own callbacks set them; crop_to_context once by a real click on its switch in the Vue node
  renderer) the canvas size and tokens it shows are those of the canvas the node then builds when the graph is
  run (the canvas node, its Load Image nodes and a Preview Image of its canvas, queued from the browser's own
  prompt); a combination the node refuses shows "cannot plan: <the node's own [ACE++] message>";
* it follows the wiring: the mask disconnected, then connected again; a reference from a node that is not a
  Load Image is "unknown until run";
* every task preset sets the canvas, conditioning and LoRA widgets to its recipe (web/presets.json) and says
  what it changed; in the Vue renderer by a real pick in the node's dropdown;
* the preview and the preset menu are out of the prompt and the saved widgets_values;
* the canvas node's advanced inputs (marked by a core whose io has the mark) are out of sight in the Vue node
  renderer until its "Show advanced inputs" is clicked (frontend 1.39.0 on), every input shows elsewhere, and a
  preset still sets them;
* screenshots (pytest's tmp dir; with ACEPP_SAVE_SCREENSHOTS=1 the pinned frontend's Vue one also goes to
  web/docs/images/layout_preview.png, shown by the README and by the node's help page in ComfyUI).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from aceplusplus.tools.workflow_specs import LORAS, PRESET_CANVAS_WIDGETS, WORKFLOWS
from harness import PACK_LINK_NAME
from harness.browser import (COMMANDS, MARKS, NAMES, NODES, PACK_WIDGETS, PRESET_WIDGET, PREVIEW_WIDGET, VUE_NODES,
                              get_json)

REPO = Path(__file__).resolve().parents[1]

WORKFLOW = REPO / "workflows" / "ACE++ Subject Editing (logo paste, object insert).json"
FFT_WORKFLOW = REPO / "workflows" / "ACE++ FFT Instruction Editing.json"
PRESETS = json.loads((REPO / "web" / "presets.json").read_text("utf-8"))["presets"]
PROMPT_CHOICE = NAMES["preset_prompt"]
CANVAS = 11  # node ids by role, the same in every bundled workflow (tools/workflow_specs.py)
EDIT_IMAGE, REF_IMAGE, CONDITIONING, LORA = 9, 8, 12, 2
# One copy, shipped: the help page (served from web/docs, images relative to it) and the README both show it.
DOC_SHOT = REPO / "web" / "docs" / "images" / "layout_preview.png"
# (token_budget, crop_to_context, context_margin, reference_share): six the node builds, one it refuses.
COMBOS = [(4096, False, 128, 1.0), (256, False, 128, 1.0), (256, True, 128, 1.0), (128, True, 16, 1.0),
          (1024, True, 0, 1.0), (128, False, 128, 1.0), (64, False, 128, 0.05)]
# The panel sizings of the FLUX-Fill family (panel_sizing, panel_width, panel_height, edit_style, crop_to_context),
# on the same graph: the preview's figures against the canvas the node builds, as for COMBOS.
PANEL_COMBOS = [("square", 256, 256, "in_place", True), ("equal", 192, 256, "in_place", True),
                ("fixed_width", 256, 256, "blank_twin", False), ("equal", 512, 64, "in_place", False)]


# ----------------------------------------------------------------------------------------------- helpers


def set_widget(fe, node_id: int, name: str, value) -> None:
    """What the frontend does when a user edits a widget: the value, then the widget's and the node's callbacks."""
    fe.js("""const node = app.graph.getNodeById(arg[0]);
             const widget = node.widgets.find((w) => w.name === arg[1]);
             const before = widget.value;
             widget.value = arg[2];
             widget.callback?.(arg[2], app.canvas, node);
             node.onWidgetChanged?.(arg[1], arg[2], before, widget);""", [node_id, name, value])


def widget_values(fe, node_id: int) -> dict:
    return fe.js("return Object.fromEntries(app.graph.getNodeById(arg).widgets.map((w) => [w.name, w.value ?? null]));",
                 node_id)


def preview(fe) -> dict:
    """The preview's last answer (result) and its visible text."""
    return fe.js("""const node = app.graph.getNodeById(arg[0]);
                    const widget = node.widgets.find((w) => w.name === arg[1]);
                    return {result: widget.aceppResult ?? null, text: widget.element.innerText};""",
                 [CANVAS, PREVIEW_WIDGET])


def wait_for_preview(fe, widgets: dict, timeout_ms: int = 15_000) -> dict:
    """The preview once it answered for these widget values."""
    fe.page.wait_for_function("""([id, preview, want]) => {
        const node = window.comfyAPI.app.app.graph.getNodeById(id);
        const result = node?.widgets?.find((w) => w.name === preview)?.aceppResult;
        const sent = result?.request?.widgets;
        return sent && Object.entries(want).every(([k, v]) => sent[k] === v);
    }""", arg=[CANVAS, PREVIEW_WIDGET, widgets], timeout=timeout_ms)
    return preview(fe)


def wait_until(fe, condition: str, timeout_ms: int = 15_000) -> dict:
    """The preview once its last answer `r` meets a JavaScript condition."""
    fe.page.wait_for_function(f"""([id, preview]) => {{
        const node = window.comfyAPI.app.app.graph.getNodeById(id);
        const r = node?.widgets?.find((w) => w.name === preview)?.aceppResult;
        return r && ({condition});
    }}""", arg=[CANVAS, PREVIEW_WIDGET], timeout=timeout_ms)
    return preview(fe)


def wait_for_text(fe, needle: str, timeout_ms: int = 15_000) -> dict:
    fe.page.wait_for_function("""([id, preview, needle]) => {
        const node = window.comfyAPI.app.app.graph.getNodeById(id);
        const widget = node?.widgets?.find((w) => w.name === preview);
        return widget?.element?.innerText.includes(needle);
    }""", arg=[CANVAS, PREVIEW_WIDGET, needle], timeout=timeout_ms)
    return preview(fe)


def canvas_only(prompt: dict) -> dict:
    """The browser's prompt cut to the canvas node and what feeds it, plus a Preview Image of its canvas."""
    keep, todo = set(), [str(CANVAS)]
    while todo:
        nid = todo.pop()
        if nid in keep:
            continue
        keep.add(nid)
        todo += [v[0] for v in prompt[nid]["inputs"].values() if isinstance(v, list) and len(v) == 2]
    out = {nid: prompt[nid] for nid in keep}
    out["900"] = {"class_type": "PreviewImage", "inputs": {"images": [str(CANVAS), 0]}}
    return out


def run_canvas(fe, timeout_s: float = 60) -> tuple[tuple[int, int] | None, str | None]:
    """Queue the canvas part of the open workflow on the server: ((width, height) of the canvas, None), or
    (None, the node's error message)."""
    base = fe.server.base_url
    request = urllib.request.Request(base + "/prompt", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"prompt": canvas_only(fe.prompt()),
                                                      "client_id": "acepp-preview-test"}).encode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        prompt_id = json.loads(answer.read())["prompt_id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entry = get_json(base, f"/history/{prompt_id}").get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None and entry["status"].get("status_str"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the canvas run {prompt_id} did not finish in {timeout_s} s")
    if entry["status"]["status_str"] != "success":
        error = next(d for t, d in entry["status"]["messages"] if t == "execution_error")
        return None, error["exception_message"].strip()
    ref = entry["outputs"]["900"]["images"][0]
    query = urllib.parse.urlencode({k: ref[k] for k in ("filename", "subfolder", "type")})
    with urllib.request.urlopen(f"{base}/view?{query}", timeout=30) as answer:
        return Image.open(io.BytesIO(answer.read())).size, None


def load_with_samples(fe, path: Path) -> dict:
    workflow = json.loads(path.read_text("utf-8"))
    fe.load(workflow)
    fe.command(COMMANDS["load_samples"])
    fe.wait_for_previews({n["id"]: n["widgets_values"][0] for n in workflow["nodes"] if n["type"] == "LoadImage"})
    return workflow


def frame(fe, node_ids: list[int]) -> None:
    """Test-side view control: fit the view to these nodes."""
    fe.js("""const nodes = arg.map((id) => app.graph.getNodeById(id));
             app.canvas.selectItems?.(nodes);
             await app.extensionManager.command.execute('Comfy.Canvas.FitView');
             app.canvas.deselectAll?.();""", node_ids)
    fe.page.wait_for_timeout(300)


def check_display_only(fe, workflow: dict) -> None:
    """The preview and the preset menu are in neither the prompt nor the saved widgets_values."""
    prompt = fe.prompt()
    assert not set(prompt[str(CANVAS)]["inputs"]) & set(PACK_WIDGETS), prompt[str(CANVAS)]
    widgets = {w["name"]: w for w in fe.node(NODES["canvas"])["widgets"]}
    for name in (PREVIEW_WIDGET, PRESET_WIDGET):
        assert (widgets[name]["serialize"], widgets[name]["options_serialize"]) == (False, False), widgets[name]
    saved = next(n["widgets_values"] for n in workflow["nodes"] if n["id"] == CANVAS)
    assert len(fe.node(NODES["canvas"])["widgets_values"]) == len(saved)


# ----------------------------------------------------------------------------------------------- no browser
# The tasks of the preset menu (issue 12, and the FLUX-Fill family of issue 19): one preset each, named after the
# bundled workflow that is its recipe.
TASKS = ("portrait_generation", "subject_generation", "subject_editing", "try_on", "face_swap", "local_editing",
         "local_editing_control", "fft_editing", "outpaint", "icedit", "insert_anything", "catvton_try_on")


def test_presets_are_the_bundled_workflows_recipes():
    """web/presets.json (the one table of presets) agrees with tools/workflow_specs.py, the bundled workflows'
    source: model (LoRA vertical or the FFT model), repainting_scale and every canvas widget a preset sets."""
    assert [p["id"] for p in PRESETS] == list(TASKS)
    assert len({p["label"] for p in PRESETS}) == len(PRESETS) and PROMPT_CHOICE not in {p["label"] for p in PRESETS}
    for preset in PRESETS:
        spec = WORKFLOWS[preset["workflow"]]
        assert preset["id"] == preset["workflow"] and preset["card"] == spec.title, preset["id"]
        assert preset["model"] == spec.model and preset["model"] in {*LORAS, "fft"}, preset["id"]
        assert preset["repainting_scale"] == spec.repainting, preset["id"]
        canvas = spec.nodes[str(CANVAS)]
        assert canvas.class_type == NODES["canvas"]
        assert preset["canvas"] and set(preset["canvas"]) <= set(PRESET_CANVAS_WIDGETS), preset["id"]
        for name, value in preset["canvas"].items():
            assert canvas.inputs[name] == value, (preset["id"], name)
        conditioning = spec.nodes[str(CONDITIONING)]
        assert conditioning.class_type == (NODES["fft_conditioning"] if preset["model"] == "fft"
                                              else NODES["fill_conditioning"]), preset["id"]
        if preset["model"] != "fft":
            assert spec.nodes[str(LORA)].inputs["vertical"] == preset["model"], preset["id"]
        assert preset["tip"].strip(), preset["id"]


def test_docs_show_the_preview_screenshot(live_server):
    """The README and the help page show the test's screenshot; ComfyUI serves it next to the help page, whose
    relative image links its help panel resolves against /extensions/<pack folder>/docs/."""
    assert DOC_SHOT.is_file() and DOC_SHOT.stat().st_size < 300_000
    assert "](web/docs/images/layout_preview.png)" in (REPO / "README.md").read_text("utf-8")
    assert "](images/layout_preview.png)" in (REPO / "web" / "docs" / "ACEPP_CanvasBuilder.md").read_text("utf-8")
    url = f"{live_server.base_url}/extensions/{PACK_LINK_NAME}/docs/images/layout_preview.png"
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.status == 200 and answer.read() == DOC_SHOT.read_bytes()


# ----------------------------------------------------------------------------------------------- browser


def test_preview_figures_are_what_the_canvas_node_builds(frontend, frontend_server, tmp_path):
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    workflow = load_with_samples(fe, WORKFLOW)
    check_display_only(fe, workflow)
    built = warned = 0
    for budget, crop, margin, share in COMBOS:
        widgets = {"token_budget": budget, "crop_to_context": crop, "context_margin": margin, "reference_share": share}
        for name, value in widgets.items():
            set_widget(fe, CANVAS, name, value)
        shown = wait_for_preview(fe, widgets)
        result = shown["result"]
        size, error = run_canvas(fe)
        where = f"{fe.name}: {widgets}"
        if error is not None:
            assert result["status"] == "error", f"{where}: the node refused ({error}), the preview showed {result}"
            assert result["error"] == error and error.startswith("[ACE++] "), where
            assert f"cannot plan: {error}" in shown["text"], shown["text"]
            continue
        assert result["status"] == "ok", f"{where}: {result}"
        planned = (result["canvas"]["width"], result["canvas"]["height"])
        assert planned == size, f"{where}: the preview shows {planned}, the node built {size}"
        assert result["tokens"] == (size[0] // 16) * (size[1] // 16) and result["token_budget"] == budget
        assert result["target"]["cropped"] == crop and result["request"]["mask"]["box"] is not None
        assert f"Canvas {size[0]} × {size[1]} · {result['tokens']} / {budget} tokens" in shown["text"], shown["text"]
        for warning in result["warnings"]:
            assert f"⚠ {warning}" in shown["text"], shown["text"]
        warned += bool(result["warnings"])
        built += 1
    assert built >= 5 and warned  # 128 tokens for the whole photo: regenerated under 0.5 px per original px
    fe.page.screenshot(path=str(tmp_path / f"preview_classic_{fe.name}.png"))

    assert "panel_sizing" in widget_values(fe, CANVAS)  # the family's sizings: checked, never skipped
    set_widget(fe, CANVAS, "token_budget", 4096)
    for sizing, width, height, style, crop in PANEL_COMBOS:
        widgets = {"panel_sizing": sizing, "panel_width": width, "panel_height": height, "edit_style": style,
                   "crop_to_context": crop}
        for name, value in widgets.items():
            set_widget(fe, CANVAS, name, value)
        shown = wait_for_preview(fe, widgets)
        result = shown["result"]
        size, error = run_canvas(fe)
        if error is not None:  # equal panels beyond 4:1: refused by both with the node's message
            assert result["status"] == "error" and result["error"] == error, (widgets, result, error)
            continue
        assert result["status"] == "ok" and (result["canvas"]["width"], result["canvas"]["height"]) == size
        assert f"Panels: {sizing.replace('_', ' ')}" in shown["text"], shown["text"]
        if style == "blank_twin":
            assert result["references"][-1]["twin"] and "Source (blank twin" in shown["text"], shown["text"]
        else:
            assert all(r["panel"]["w"] == width for r in result["references"]), result
    for name, value in {"panel_sizing": "token_budget", "edit_style": "in_place"}.items():
        set_widget(fe, CANVAS, name, value)

    # The wiring: without the mask the whole photo is the target; the mask back, its box again.
    widgets = {"token_budget": 4096, "reference_share": 1.0, "crop_to_context": True, "context_margin": 16}
    for name, value in widgets.items():
        set_widget(fe, CANVAS, name, value)
    assert wait_for_preview(fe, widgets)["result"]["target"]["cropped"] is True
    # The canvas node's inputs: reference, more_references, edit_image, mask.
    fe.js("app.graph.getNodeById(arg).disconnectInput(3);", CANVAS)
    shown = wait_until(fe, "r.request?.mask === null")
    assert shown["result"]["target"]["region"]["w"] == 384 and "Canvas 640 × 256" in shown["text"], shown
    assert shown["result"]["target"]["cropped"] is False  # crop_to_context on, but no mask: the whole image
    fe.js("app.graph.getNodeById(arg[0]).connect(1, app.graph.getNodeById(arg[1]), 3);", [EDIT_IMAGE, CANVAS])
    shown = wait_until(fe, "r.request?.mask?.box")
    assert shown["result"]["request"]["mask"]["box"] == {"x": 200, "y": 67, "w": 138, "h": 117}
    assert shown["result"]["target"]["cropped"] is True and "Crop " in shown["text"], shown["text"]
    # A reference that does not come from a Load Image node: unknown until run.
    fe.js("""const scale = window.LiteGraph.createNode('ImageScaleBy'); app.graph.add(scale);
             app.graph.getNodeById(arg[0]).connect(0, scale, 0);
             scale.connect(0, app.graph.getNodeById(arg[1]), 0);""", [REF_IMAGE, CANVAS])
    shown = wait_until(fe, "r.status === 'unknown_input'")
    assert "Layout unknown until run: reference 1 comes from" in shown["text"], shown["text"]
    # Several regions (the canvas node's `regions`, where this ComfyUI's pack has it): known at run, not guessed.
    fe.js("app.graph.getNodeById(arg).disconnectInput(0);", CANVAS)
    if "regions" in widget_values(fe, CANVAS):
        set_widget(fe, CANVAS, "regions", "connected_components")
        shown = wait_until(fe, "r.status === 'at_run'")
        assert "Layout known at run: regions is connected_components" in shown["text"], shown["text"]
    # A second canvas node gets its own preview from the one timer of all previews; removing it leaves the
    # first one's preview following its widgets.
    second = fe.js("const node = window.LiteGraph.createNode(arg); app.graph.add(node); return node.id;",
                   NODES["canvas"])
    fe.page.wait_for_function("""([id, preview]) => window.comfyAPI.app.app.graph.getNodeById(id)?.widgets
        ?.find((w) => w.name === preview)?.aceppResult?.request""", arg=[second, PREVIEW_WIDGET], timeout=15_000)
    fe.js("app.graph.remove(app.graph.getNodeById(arg));", second)
    set_widget(fe, CANVAS, "token_budget", 1024)
    assert wait_for_preview(fe, {"token_budget": 1024})["result"]["request"]["widgets"]["token_budget"] == 1024
    assert not fe.extension_errors(), fe.extension_errors()


def test_presets_set_the_recipe_and_say_what_they_changed(frontend):
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    workflow = load_with_samples(fe, WORKFLOW)
    labels = fe.js("return app.graph.getNodeById(arg[0]).widgets.find((w) => w.name === arg[1]).options.values;",
                   [CANVAS, PRESET_WIDGET])
    assert labels == [PROMPT_CHOICE] + [p["label"] for p in PRESETS]
    for preset in PRESETS:
        # Something else first, so that every preset has something to change.
        set_widget(fe, CONDITIONING, "repainting_scale", 0.25)
        set_widget(fe, CANVAS, "reference_sizing", "keep_pixels" if preset["model"] != "fft" else "resize")
        set_widget(fe, CANVAS, PRESET_WIDGET, preset["label"])  # what picking it in the menu does
        shown = wait_for_text(fe, f"Preset {preset['label']}:")
        canvas, conditioning, lora = (widget_values(fe, i) for i in (CANVAS, CONDITIONING, LORA))
        for name, value in preset["canvas"].items():
            assert canvas[name] == value, (preset["id"], name, canvas[name])
        assert canvas[PRESET_WIDGET] == PROMPT_CHOICE  # the menu is ready for the next pick
        if preset["model"] == "fft":  # this graph samples with the Fill model and a LoRA: said, not changed
            assert conditioning["repainting_scale"] == 0.25 and "needs ACE++ FFT Conditioning" in shown["text"]
        else:
            assert conditioning["repainting_scale"] == preset["repainting_scale"], preset["id"]
            assert lora["vertical"] == preset["model"], preset["id"]
            assert f"repainting_scale 0.25 → {preset['repainting_scale']:g}" in shown["text"], shown["text"]
        assert "reference_sizing" in shown["text"], shown["text"]
    check_display_only(fe, workflow)

    # The FFT workflow: the FFT preset sets the FFT conditioning; a LoRA preset says what it would need.
    fft = json.loads(FFT_WORKFLOW.read_text("utf-8"))
    fe.load(fft)
    set_widget(fe, CONDITIONING, "repainting_scale", 1.0)
    set_widget(fe, CANVAS, PRESET_WIDGET, next(p["label"] for p in PRESETS if p["model"] == "fft"))
    shown = wait_for_text(fe, "Preset FFT")
    assert widget_values(fe, CONDITIONING)["repainting_scale"] == 0.0, shown["text"]
    face = next(p for p in PRESETS if p["id"] == "face_swap")
    set_widget(fe, CANVAS, PRESET_WIDGET, face["label"])
    shown = wait_for_text(fe, f"Preset {face['label']}:")
    assert "needs ACE++ Fill Conditioning" in shown["text"] and widget_values(fe, CONDITIONING)["repainting_scale"] == 0
    check_display_only(fe, fft)
    assert not fe.extension_errors(), fe.extension_errors()


def test_preview_and_presets_in_the_vue_node_renderer(frontend, frontend_server, tmp_path):
    """Real clicks in the Vue node renderer: the crop_to_context switch, a preset picked from the node's menu."""
    fe = frontend
    fe.set_setting(VUE_NODES, True)
    try:
        workflow = load_with_samples(fe, WORKFLOW)
        frame(fe, [CANVAS, REF_IMAGE, EDIT_IMAGE])
        node = fe.page.locator(f"[data-node-id='{CANVAS}']")
        wait_for_text(fe, "Canvas 640 × 256")
        assert "Canvas 640 × 256 · 640 / 4096 tokens" in node.inner_text()  # drawn inside the Vue node
        diagram, reference = (f"[data-acepp='{MARKS[part]}']" for part in ("canvas_diagram", "reference"))
        assert node.locator(f"{diagram} {reference}").count() == 1

        preset = next(p for p in PRESETS if p["id"] == "local_editing")
        node.get_by_role("combobox", name=PRESET_WIDGET).click()
        fe.page.get_by_role("option", name=preset["label"], exact=True).click()
        shown = wait_for_text(fe, f"Preset {preset['label']}:")
        assert widget_values(fe, CANVAS)["crop_to_context"] is True and widget_values(fe, LORA)["vertical"] == \
            "local_editing" and widget_values(fe, CONDITIONING)["repainting_scale"] == 0.5, shown["text"]
        shown = wait_for_text(fe, "Crop ")
        assert node.locator(f"[data-acepp='{MARKS['crop_box']}']").count() == 1
        fe.page.wait_for_timeout(500)  # the toast slides in
        shot = tmp_path / f"layout_preview_{fe.name}.png"
        frame(fe, [CANVAS])  # the canvas node alone, whole, for the picture; no banner over it
        fe.page.evaluate("""() => { for (const el of document.querySelectorAll('div')) {
            const banner = /^Prefer the legacy design\\?/.test(el.innerText ?? '');
            if (banner && el.childElementCount < 8) el.style.display = 'none';
        } }""")
        box = node.bounding_box()
        fe.page.screenshot(path=str(shot), clip={"x": max(0, box["x"] - 8), "y": max(0, box["y"] - 8),
                                                 "width": box["width"] + 16, "height": box["height"] + 16})

        node.get_by_role("switch", name="crop_to_context").click()  # a real click: crop off again
        shown = wait_for_preview(fe, {"crop_to_context": False})
        assert shown["result"]["target"]["cropped"] is False and "Whole photo 384 × 256" in node.inner_text()
        size, error = run_canvas(fe)
        assert error is None and size == (shown["result"]["canvas"]["width"], shown["result"]["canvas"]["height"])
        check_display_only(fe, workflow)
        if os.environ.get("ACEPP_SAVE_SCREENSHOTS") == "1" and fe.name == "pinned":
            DOC_SHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOC_SHOT)
        assert shot.stat().st_size < 300_000
        assert not fe.extension_errors(), fe.extension_errors()
    finally:
        fe.set_setting(VUE_NODES, False)


# Inputs a node marks advanced (V3 `advanced=True`: ComfyUI 0.28.2's io has it, 0.3.75's not; nodes/schema.py)
# are folded under the node's "Show advanced inputs" by the Vue node renderer from frontend 1.39.0 on: its bundle
# is the first with the setting Comfy.Node.AlwaysShowAdvancedWidgets (declared `versionAdded: 1.39.0`) and the
# button's strings; 1.38.0 has neither (1.38.14, a later patch release, got both). The classic canvas renderer of
# 1.45.21 and 1.58.1 still draws every widget, a core node's advanced inputs too.
ADVANCED_SINCE = (1, 39, 0)


def visible_widget_text(fe, node_id: int) -> str:
    """The text the Vue node renderer shows on a node, its layout preview left out."""
    return fe.page.evaluate("""([id, preview]) => {
        const root = document.querySelector(`[data-node-id='${id}']`);
        return [...(root?.querySelectorAll('*') ?? [])]
          .filter((el) => !el.children.length && el.checkVisibility() && !el.closest(`[data-acepp='${preview}']`))
          .map((el) => el.textContent).join('\\n');
    }""", [node_id, MARKS["layout_preview"]])


def test_advanced_inputs_are_collapsed_until_asked_for(frontend, frontend_server):
    """Vue node renderer: the canvas node's advanced inputs are out of sight until its "Show advanced inputs" is
    clicked (where the core marks them and the frontend folds them; elsewhere every input shows), and the preview
    and the preset menu work either way."""
    fe = frontend
    info = get_json(fe.server.base_url, f"/object_info/{NODES['canvas']}")[NODES["canvas"]]
    specs = {**info["input"]["required"], **(info["input"].get("optional") or {})}
    advanced = [n for n, spec in specs.items()
                if len(spec) > 1 and isinstance(spec[1], dict) and spec[1].get("advanced")]
    folds = bool(advanced) and tuple(int(p) for p in fe.version.split(".")[:3]) >= ADVANCED_SINCE
    fe.set_setting(VUE_NODES, True)
    try:
        workflow = load_with_samples(fe, WORKFLOW)
        frame(fe, [CANVAS])
        node = fe.page.locator(f"[data-node-id='{CANVAS}']")
        wait_for_text(fe, "Canvas 640 × 256")
        widgets = fe.js("return app.graph.getNodeById(arg).widgets.map((w) => [w.name, !!w.options?.advanced]);",
                        CANVAS)
        names = [name for name, _ in widgets if name not in PACK_WIDGETS]
        show = node.get_by_role("button", name="Show advanced inputs")
        shown = visible_widget_text(fe, CANVAS)
        where = f"{fe.name} {fe.version}"
        if not folds:  # a core without the mark (0.3.75), or a frontend before 1.39.0: every input in sight
            assert [name for name in names if name not in shown] == [], (where, shown)
            assert show.count() == 0, where
        else:
            assert [name for name, flag in widgets if flag] == advanced, (where, widgets)
            assert [name for name in advanced if name in shown] == [], (where, shown)
            assert [name for name in names if name not in advanced and name not in shown] == [], (where, shown)
            show.click()
            fe.page.wait_for_function("""([id, names]) => {
                const text = document.querySelector(`[data-node-id='${id}']`)?.innerText ?? '';
                return names.every((name) => text.includes(name));
            }""", arg=[CANVAS, advanced], timeout=10_000)
            assert "Canvas 640 × 256" in preview(fe)["text"]
            assert node.get_by_role("button", name="Hide advanced inputs").count() == 1, where
        # The preset menu and the preview, with the advanced inputs folded away: keep_pixels_rate is one of them.
        preset = next(p for p in PRESETS if p["model"] == "fft")
        set_widget(fe, CANVAS, "keep_pixels_rate", 0.5)
        set_widget(fe, CANVAS, PRESET_WIDGET, preset["label"])
        shown_preview = wait_for_text(fe, f"Preset {preset['label']}:")
        assert widget_values(fe, CANVAS)["keep_pixels_rate"] == preset["canvas"]["keep_pixels_rate"], shown_preview
        check_display_only(fe, workflow)
        assert not fe.extension_errors(), fe.extension_errors()
    finally:
        fe.set_setting(VUE_NODES, False)


def test_saved_workflow_keeps_its_widget_values(frontend):
    """With the preview shown, the workflow saves exactly the widget values of its file (positional)."""
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    workflow = json.loads(WORKFLOW.read_text("utf-8"))
    fe.load(workflow)
    fe.page.wait_for_function("""([id, preview]) => window.comfyAPI.app.app.graph.getNodeById(id)?.widgets
        ?.find((w) => w.name === preview)?.aceppResult""", arg=[CANVAS, PREVIEW_WIDGET], timeout=15_000)
    saved = {n["id"]: n for n in fe.saved_workflow()["nodes"]}
    for node in workflow["nodes"]:
        if node.get("widgets_values"):
            assert saved[node["id"]].get("widgets_values") == node["widgets_values"], node["type"]


# Each core's own frontend (1.45.21 on v0.28.2, 1.32.9 on 0.3.75). On the newest (1.58.1) the Preview Image this
# test adds stays unconnected ("Required input is missing: images"), so its graph, not the warning, is refused;
# building that graph there is left to do.
@pytest.mark.parametrize("frontend_server", ["pinned"], indirect=True)
def test_a_faint_mask_warning_shows_under_the_preview_until_a_run_without_one(frontend):
    """A mask everywhere below 0.5 means the whole image: the node's run says so under its preview, and the next
    run without that problem clears it (queued from the page, as the Run button does)."""
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    workflow = load_with_samples(fe, WORKFLOW)
    edit_file = next(n["widgets_values"][0] for n in workflow["nodes"] if n["id"] == EDIT_IMAGE)
    width, height = Image.open(REPO / "web" / "samples" / edit_file).size
    # Only the canvas and what feeds it run (every other node muted: left out of the prompt), with a Preview Image
    # of its canvas and a flat 0.3 mask in place of the painted one.
    mask = fe.js("""const keep = new Set(arg.keep);
        for (const node of app.graph._nodes) if (!keep.has(node.id)) node.mode = 2;  // LiteGraph's "never"
        const canvas = app.graph.getNodeById(arg.canvas);
        const mask = window.LiteGraph.createNode('SolidMask'); app.graph.add(mask);
        mask.widgets.find((w) => w.name === 'value').value = 0.3;
        mask.widgets.find((w) => w.name === 'width').value = arg.width;
        mask.widgets.find((w) => w.name === 'height').value = arg.height;
        mask.connect(0, canvas, 3);
        const shown = window.LiteGraph.createNode('PreviewImage'); app.graph.add(shown);
        canvas.connect(0, shown, 0);
        return mask.id;""", {"keep": [REF_IMAGE, EDIT_IMAGE, CANVAS], "canvas": CANVAS, "width": width,
                             "height": height})
    assert fe.queue()["outcome"] == "execution_success"
    shown = wait_for_text(fe, "[ACE++] the mask is everywhere below 0.5")
    assert "the mask is everywhere below 0.5" in shown["text"], shown["text"]
    set_widget(fe, mask, "value", 1.0)
    assert fe.queue()["outcome"] == "execution_success"
    fe.page.wait_for_function("""([id, preview]) => !window.comfyAPI.app.app.graph.getNodeById(id).widgets
        .find((w) => w.name === preview).element.innerText.includes('[ACE++]')""", arg=[CANVAS, PREVIEW_WIDGET],
                              timeout=15_000)
    assert not fe.extension_errors(), fe.extension_errors()
