"""The loaders' reports on the node, in a real browser: no wasted re-runs, and the report survives reloads.

A loader (ACE++ LoRA Loader, ACE++ FFT Loader) shows its report through a display widget of web/js/reports.js.
The frontend's API export (graphToPrompt) skips a widget only when `widget.options.serialize === false`: a
report that entered the prompt would change ComfyUI's cache key, and the next unchanged Run would execute the
whole graph again (a full FLUX sampling on real models). ComfyUI 0.3.75 sends `executed` for a cached node only
when it is an output node, so the report is kept in the node's properties (saved with the workflow, never in
the prompt) and shown again when the workflow loads.

Against both frontends (harness.browser: the pinned 1.32.x and the newest release), with the bundled Subject
Generation workflow made small (CLIP-L in place of T5-XXL, 64x64, one step), its sample input uploaded by the
pack's own command, and the workflow queued from the UI (the Run button's command):

* the first run executes the loader and its report appears on the node, out of the prompt and the widgets_values;
* the second, unchanged run is fully cached (ComfyUI's `execution_cached` lists every node of the prompt);
* after a page reload (the frontend restores the open workflow from the browser's storage) the report is on
  the node again, the prompt is unchanged, and a third run is fully cached with the report still there;
* control: with `options.serialize` unset (the bug), the report is in the prompt and ComfyUI no longer
  serves the loader or the sampler from its cache.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.browser import COMMANDS, NAMES, NODES, REPORT_WIDGET, VUE_NODES

REPO = Path(__file__).resolve().parents[1]
SUBJECT = REPO / "workflows" / "ACE++ Subject Generation.json"
FFT = REPO / "workflows" / "ACE++ FFT Instruction Editing.json"
REPORT_PROPERTY = NAMES["report_property"]  # the node property that keeps the last report
LORA_LOADER, FFT_LOADER = NODES["lora_loader"], NODES["fft_loader"]
# A LoRA strength no other test uses, so that the first run really executes the loader on a shared server.
STRENGTH = 0.75


def _small(workflow: dict) -> dict:
    """The workflow at test size on the tiny fixtures, edited in the UI format the way a user would:
    DualCLIPLoader -> CLIPLoader(clip_l, stable_diffusion) (no T5-XXL among the fixtures; as the headless
    client's swap_text_encoder does), a 64x64 target, one sampling step, LoRA strength STRENGTH."""
    for node in workflow["nodes"]:
        values = node.get("widgets_values")
        if node["type"] == "DualCLIPLoader":
            node.update(type="CLIPLoader", inputs=[], title="CLIPLoader (CLIP-L only: no T5-XXL on the server)",
                        widgets_values=[values[0], "stable_diffusion", "default"])
            node["properties"]["Node name for S&R"] = "CLIPLoader"
        elif node["type"] == NODES["canvas"]:
            assert values[:2] == [1024, 1024], values
            values[:2] = [64, 64]
        elif node["type"] == "KSampler":
            assert values[2] == 28 and values[1] == "fixed", values  # steps; the seed stays fixed between runs
            values[2] = 1
        elif node["type"] == LORA_LOADER:
            assert values[2] == 1.0, values
            values[2] = STRENGTH
    return workflow


def _report_widget(node: dict) -> dict | None:
    return next((w for w in node["widgets"] if w["name"] == REPORT_WIDGET), None)


def _check_report_on_node(fe, report: str, saved_values: list, where: str) -> None:
    """The report is the loader's last widget, display-only, remembered in the node's properties, and the
    node's own widgets_values are exactly the saved ones."""
    node = fe.node(LORA_LOADER)
    widget = _report_widget(node)
    assert widget is not None, f"{where}: no report on the LoRA loader (widgets: {node['widgets']})"
    assert node["widgets"][-1]["name"] == REPORT_WIDGET, f"{where}: the report is not the last widget"
    assert widget["value"] == report, f"{where}: the node shows {widget['value']!r}, the loader reported {report!r}"
    assert (widget["serialize"], widget["options_serialize"]) == (False, False), f"{where}: {widget}"
    assert node["properties"].get(REPORT_PROPERTY) == report, f"{where}: properties {node['properties']}"
    assert node["widgets_values"] == saved_values, f"{where}: widgets_values {node['widgets_values']}"


def _check_fully_cached(run: dict, prompt: dict, where: str) -> None:
    assert run["outcome"] == "execution_success", f"{where}: {run}"
    assert sorted(run["cached"] or [], key=int) == sorted(prompt, key=int), (
        f"{where}: ComfyUI took only {run['cached']} from its cache; the prompt has {sorted(prompt, key=int)}")
    # A cached node gets an `executed` message only when it is an output node (SaveImage here).
    assert set(run["executed"]) <= {nid for nid, n in prompt.items() if n["class_type"] == "SaveImage"}, run


def _wait_until_stored(fe, report: str) -> None:
    """The frontend saved the open workflow, report included, to the browser's storage (what a reload reads).
    Looks for the report's first line: the newest frontend stores the workflow JSON inside JSON (escaped twice)."""
    needle = report.splitlines()[0]
    assert needle and not set(needle) & set('"\\'), needle
    fe.page.wait_for_function("""(needle) => [localStorage, sessionStorage].some((store) =>
        Object.keys(store).some((key) => (store.getItem(key) ?? '').includes(needle)))""",
                              arg=needle, timeout=10_000)


def test_second_unchanged_run_is_fully_cached_and_the_report_survives_a_reload(frontend):
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    workflow = _small(json.loads(SUBJECT.read_text("utf-8")))
    saved_values = next(n["widgets_values"] for n in workflow["nodes"] if n["type"] == LORA_LOADER)
    fe.load(workflow)
    fe.command(COMMANDS["load_samples"])  # the pack's own upload of the workflow's sample input
    fe.wait_for_previews({n["id"]: n["widgets_values"][0] for n in workflow["nodes"] if n["type"] == "LoadImage"})
    prompt = fe.prompt()
    assert prompt == fe.prompt(without_pack_widgets=True)
    assert prompt["3"]["class_type"] == "CLIPLoader" and prompt["2"]["inputs"]["strength"] == STRENGTH
    loader = str(fe.node(LORA_LOADER)["id"])

    # 1. The loader runs and reports.
    first = fe.queue()
    assert first["outcome"] == "execution_success", first
    assert loader not in (first["cached"] or []), f"the first run took the loader from the cache: {first}"
    report = "\n".join(first["executed"][loader]["text"])
    assert "LoRA" in report and "applied" in report, report
    assert _report_widget(fe.node(LORA_LOADER))["value"] == report, f"{fe.name}: no report on the node"

    # 2. The same workflow again, unchanged: everything from ComfyUI's cache (the symptom of a report in the
    #    prompt would be a second full execution); the report stays, out of the prompt and the widgets_values.
    second = fe.queue()
    _check_fully_cached(second, prompt, f"{fe.name}: second run")
    assert fe.prompt() == prompt, f"{fe.name}: the report changed the prompt"
    assert report not in json.dumps(fe.prompt()), f"{fe.name}: the report entered the prompt"
    saved = fe.saved_workflow()
    (saved_loader,) = (n for n in saved["nodes"] if n["type"] == LORA_LOADER)
    assert saved_loader["widgets_values"] == saved_values and saved_loader["properties"][REPORT_PROPERTY] == report
    entry = fe.history(second["prompt_id"])
    cached_in_history = next(d["nodes"] for t, d in entry["status"]["messages"] if t == "execution_cached")
    assert sorted(cached_in_history, key=int) == sorted(prompt, key=int), entry["status"]
    _check_report_on_node(fe, report, saved_values, f"{fe.name}: after the cached run")

    # 3. A reload: the frontend restores the open workflow from the browser's storage; the report is back.
    _wait_until_stored(fe, report)
    fe.open(reload=True)
    _check_report_on_node(fe, report, saved_values, f"{fe.name}: after a reload")
    assert fe.prompt() == prompt, f"{fe.name}: the prompt changed over the reload"
    third = fe.queue()
    _check_fully_cached(third, prompt, f"{fe.name}: run after the reload")
    _check_report_on_node(fe, report, saved_values, f"{fe.name}: after the cached run that followed the reload")

    # 4. Control, the bug: without options.serialize = false the report is a prompt input, which changes the
    #    cache key of the loader and of everything after it (the sampler included).
    fe.js("""const w = app.graph.getNodeById(arg[0]).widgets.find((w) => w.name === arg[1]);
             delete w.options.serialize;""", [int(loader), REPORT_WIDGET])
    buggy = fe.prompt()
    assert buggy[loader]["inputs"].get(REPORT_WIDGET) == report, buggy[loader]
    assert buggy != prompt
    wasted = fe.queue(interrupt_when_cached=True)  # interrupted once ComfyUI said what it reuses
    sampler = next(nid for nid, n in prompt.items() if n["class_type"] == "KSampler")
    assert loader not in wasted["cached"] and sampler not in wasted["cached"], (
        f"{fe.name}: the control run reused the loader or the sampler: {wasted}")
    fe.js("""const w = app.graph.getNodeById(arg[0]).widgets.find((w) => w.name === arg[1]);
             w.options.serialize = false;""", [int(loader), REPORT_WIDGET])
    assert fe.prompt() == prompt
    assert not fe.extension_errors(), fe.extension_errors()


def test_fft_loader_report_is_restored_on_load(frontend):
    """The FFT loader keeps its report the same way (its report shown as the server would send it)."""
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    workflow = json.loads(FFT.read_text("utf-8"))
    fe.load(workflow)
    prompt = fe.prompt()
    (node,) = fe.nodes(FFT_LOADER)
    report = "ace_plus_fft.safetensors: 448 input channels, bf16.\nWARNING: a test line"
    fe.js("app.graph.getNodeById(arg[0]).onExecuted({text: arg[1].split('\\n')});", [node["id"], report])
    _wait_until_stored(fe, report)
    fe.open(reload=True)
    (restored,) = fe.nodes(FFT_LOADER)
    widget = _report_widget(restored)
    assert widget is not None and widget["value"] == report, restored["widgets"]
    assert (widget["serialize"], widget["options_serialize"]) == (False, False)
    assert restored["widgets_values"] == node["widgets_values"]
    assert fe.prompt() == prompt
    # A workflow saved with a report shows it when opened (the same path: onConfigure).
    saved = fe.saved_workflow()
    fe.load(json.loads(FFT.read_text("utf-8")))
    assert _report_widget(fe.node(FFT_LOADER)) is None
    fe.load(saved)
    assert _report_widget(fe.node(FFT_LOADER))["value"] == report
    assert not fe.extension_errors(), fe.extension_errors()
