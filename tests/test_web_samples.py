"""The shipped sample inputs (web/samples) and the "Load ACE++ sample inputs" button, in a real browser.

* The shipped PNGs decode to exactly the pixels tools/samples.py draws (no drift), and stay small.
* In headless Debian Chromium (driven by playwright) against the real ComfyUI frontend of the live server:
  every bundled workflow that names sample images gets them in one step (the menu command in the classic
  renderer, a real click on the node's button in the Vue node renderer): the files land in the server's
  input folder with the shipped pixels, the LoadImage nodes hold the names, the previews load, and the
  queued prompt (graphToPrompt) and the saved widgets_values are exactly what they are without the
  extension's widgets.

Needs /usr/bin/chromium and playwright in the venv: `bash tools/browser_setup.sh` installs both. They are
never skipped: missing tools make the browser tests fail with that instruction.
ACEPP_SAVE_SCREENSHOTS=1 also copies the screenshot to docs/images/samples_button.png (for the README).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import samples  # noqa: E402  (tools/ is not a package)

JS = REPO / "web" / "js" / "acepp.js"
WORKFLOWS = sorted(p for p in (REPO / "workflows").glob("*.json"))
LABEL = "Load ACE++ sample inputs"
COMMAND = "ACEPP.LoadSampleInputs"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETUP_HINT = "run `bash tools/browser_setup.sh` (installs Debian's chromium and playwright into the venv)"
# A fresh profile would open the template browser and the missing-models dialog over the canvas.
QUIET_SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingModelsWarning": False}
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
        f"web/samples holds {shipped}, expected the six samples: run `python tools/samples.py --ship`")
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
    source = JS.read_text("utf-8")
    block = re.search(r"SAMPLE_NAMES = Object\.freeze\(\[(.*?)\]\)", source, re.S)
    assert block, "SAMPLE_NAMES not found in web/js/acepp.js"
    assert sorted(re.findall(r'"([^"]+)"', block.group(1))) == sorted(samples.SAMPLES)
    # git clones and Registry installs name the pack folder differently: the URL comes from import.meta.url.
    assert "import.meta.url" in source
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
    assert "/extensions/" not in code and "aceplusplus" not in code


# ----------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def playwright_api():
    """playwright's sync API; a failure (never a skip) naming tools/browser_setup.sh when anything is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: {SETUP_HINT}", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.fail(f"playwright does not import in {sys.executable} ({err}): {SETUP_HINT}", pytrace=False)
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="module")
def browser(playwright_api, live_server, tmp_path_factory):
    """Headless Chromium on a fresh profile, the server's settings quietened (no first-run dialogs)."""
    request = urllib.request.Request(live_server.base_url + "/settings", data=json.dumps(QUIET_SETTINGS).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
    context = playwright_api.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium_profile")), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_FLAGS, viewport={"width": 1600, "height": 1000})
    context.add_init_script("localStorage.setItem('vueNodesBannerDismissed', 'true')")
    yield context
    context.close()


class Frontend:
    """One page of the ComfyUI frontend, driven through window.comfyAPI (as the extension itself is)."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.errors: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(f"{err}\n{getattr(err, 'stack', '')}"))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.goto(server.base_url)
        # vueAppReady comes before the node definitions: wait for the pack's node and the first graph.
        page.wait_for_function("() => window.LiteGraph?.registered_node_types?.ACEPP_CanvasBuilder"
                               " && window.comfyAPI?.app?.app?.graph?.nodes?.length", timeout=60_000)

    def js(self, body: str, arg=None):
        """Run an async function body with `app` bound; `arg` is its argument."""
        return self.page.evaluate(f"async (arg) => {{ const app = window.comfyAPI.app.app; {body} }}", arg)

    def set_setting(self, key: str, value) -> None:
        self.js("await app.extensionManager.setting.set(arg[0], arg[1]);", [key, value])

    def load(self, workflow: dict) -> None:
        self.js("await app.loadGraphData(arg);", workflow)

    def prompt(self, without_extension_widgets: bool = False) -> dict:
        """graphToPrompt()'s API prompt; optionally with the pack's display widgets taken off every node."""
        return self.js("""
            const ours = (w) => w.name === arg.label || w.name === 'acepp_report';
            const removed = [];
            if (arg.strip) for (const node of app.graph.nodes) {
              const keep = (node.widgets ?? []).filter((w) => !ours(w));
              if (node.widgets && keep.length !== node.widgets.length) { removed.push([node, node.widgets]); node.widgets = keep; }
            }
            try { return (await app.graphToPrompt()).output; }
            finally { for (const [node, widgets] of removed) node.widgets = widgets; }
        """, {"label": LABEL, "strip": without_extension_widgets})

    def nodes(self, node_type: str) -> list[dict]:
        return self.js("""
            return app.graph.nodes.filter((n) => n.type === arg).map((n) => ({
              id: n.id,
              widgets: (n.widgets ?? []).map((w) => ({name: w.name, type: w.type, value: w.value ?? null,
                                                      serialize: w.serialize ?? null,
                                                      options_serialize: w.options?.serialize ?? null})),
              widgets_values: n.serialize().widgets_values ?? null,
            }));
        """, node_type)

    def wait_for_previews(self, names: dict[int, str]) -> None:
        """Every LoadImage node in `names` shows a loaded preview of its sample (no broken image): the
        classic renderer keeps it in node.imgs, the Vue node renderer as an <img> inside the node's element."""
        self.page.wait_for_function("""(names) => {
            const app = window.comfyAPI.app.app;
            const shows = (img, name) => img && img.complete && img.naturalWidth > 0
              && new URL(img.src, location.href).searchParams.get('filename') === name;
            return Object.entries(names).every(([id, name]) => {
              const element = document.querySelector(`[data-node-id="${id}"]`);
              return shows(app.graph.getNodeById(Number(id))?.imgs?.[0], name)
                || [...(element?.querySelectorAll('img') ?? [])].some((img) => shows(img, name));
            });
        }""", arg={str(k): v for k, v in names.items()}, timeout=20_000)

    def click_and_wait_for_uploads(self, locator, count: int, timeout_s: float = 20) -> None:
        """Click `locator` (a real mouse click) and wait until `count` POST /upload/image answered 200."""
        answered: list[int] = []

        def on_response(response):
            if response.request.method == "POST" and response.url.endswith("/upload/image"):
                answered.append(response.status)

        self.page.on("response", on_response)
        try:
            locator.click()
            for _ in range(int(timeout_s * 10)):
                if len(answered) >= count:
                    break
                self.page.wait_for_timeout(100)
        finally:
            self.page.remove_listener("response", on_response)
        assert answered == [200] * count, f"POST /upload/image answers after the click: {answered}"

    def node_text(self, node_id: int) -> str:
        """The visible text of a node's element (Vue node renderer)."""
        return self.page.evaluate("(id) => document.querySelector(`[data-node-id='${id}']`)?.innerText ?? ''",
                                  node_id)

    def view_status(self, name: str) -> int:
        return self.js("return (await fetch(`/view?filename=${encodeURIComponent(arg)}&type=input`)).status;", name)

    def extension_errors(self) -> list[str]:
        return [e for e in self.errors if "acepp" in e.lower() and "404" not in e]


@pytest.fixture
def frontend(browser, live_server):
    page = browser.new_page()
    try:
        yield Frontend(page, live_server)
    finally:
        page.close()


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


def _check_loaded(fe: Frontend, workflow: dict, where: str) -> None:
    """The frontend kept every saved widget value of the LoadImage and canvas nodes, in place."""
    saved = {n["id"]: n.get("widgets_values") for n in workflow["nodes"]}
    for node_type in ("LoadImage", "ACEPP_CanvasBuilder"):
        for node in fe.nodes(node_type):
            assert node["widgets_values"] == saved[node["id"]], (
                f"{where}: node {node['id']} ({node_type}) re-saves {node['widgets_values']}, "
                f"the file has {saved[node['id']]}")


def test_sample_inputs_command_loads_every_bundled_workflow(frontend, live_server):
    """Classic renderer, the menu command: all eleven workflows, all six samples."""
    fe = frontend
    fe.set_setting("Comfy.VueNodes.Enabled", False)
    used = set()
    for path in WORKFLOWS:
        workflow = json.loads(path.read_text("utf-8"))
        names = _sample_names(workflow)
        _remove_samples(live_server.layout.input)
        fe.load(workflow)
        _check_loaded(fe, workflow, path.name)
        canvas = fe.nodes("ACEPP_CanvasBuilder")
        assert len(canvas) == 1 and canvas[0]["widgets"][-1]["name"] == LABEL, path.name
        button = canvas[0]["widgets"][-1]
        assert (button["type"], button["serialize"], button["options_serialize"]) == ("button", False, False)
        before = fe.prompt()
        assert before == fe.prompt(without_extension_widgets=True), f"{path.name}: the button entered the prompt"

        fe.js("await app.extensionManager.command.execute(arg);", COMMAND)
        fe.wait_for_previews(names)
        _check_uploaded(live_server.layout.input, set(names.values()))
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
                    if any(n["type"] == "ACEPP_LoraLoader" for n in w["nodes"]))
    fe.load(workflow)
    (lora,) = fe.nodes("ACEPP_LoraLoader")
    before, saved = fe.prompt(), lora["widgets_values"]
    fe.js("app.graph.getNodeById(arg).onExecuted({text: ['ACE++ LoRA report: 1 of 1 tensors applied']});", lora["id"])
    (lora,) = fe.nodes("ACEPP_LoraLoader")
    report = lora["widgets"][-1]
    assert report["name"] == "acepp_report" and report["value"].startswith("ACE++ LoRA report")
    assert (report["serialize"], report["options_serialize"]) == (False, False)
    assert lora["widgets_values"] == saved
    assert fe.prompt() == before


@pytest.fixture
def no_samples_at_page_load(live_server):
    """The six samples are absent from the input folder before the page (and its combo lists) loads."""
    _remove_samples(live_server.layout.input)


def test_sample_button_click_in_vue_nodes(no_samples_at_page_load, frontend, live_server, tmp_path):
    """Vue node renderer: a real click on the canvas node's button; a second click changes nothing."""
    fe = frontend
    path = next(p for p in WORKFLOWS if set(_sample_names(json.loads(p.read_text("utf-8"))).values())
                == {"acepp_garment.png", "acepp_person.png"})
    workflow = json.loads(path.read_text("utf-8"))
    names = _sample_names(workflow)
    _remove_samples(live_server.layout.input)
    fe.set_setting("Comfy.VueNodes.Enabled", True)
    try:
        fe.load(workflow)
        _check_loaded(fe, workflow, path.name)
        before = fe.prompt()
        # Frame the sample nodes and the canvas node (test-side view control only).
        fe.js("""
            const nodes = app.graph.nodes.filter((n) => ['LoadImage', 'ACEPP_CanvasBuilder'].includes(n.type));
            app.canvas.selectItems?.(nodes);
            await app.extensionManager.command.execute('Comfy.Canvas.FitView');
            app.canvas.deselectAll?.();
        """)
        # The files were missing when the graph loaded: the Vue dropdowns show their placeholder.
        assert not any(name in fe.node_text(node_id) for node_id, name in names.items())
        button = fe.page.get_by_role("button", name=LABEL)
        fe.click_and_wait_for_uploads(button, len(set(names.values())))
        fe.wait_for_previews(names)
        for node_id, name in names.items():  # ... and now the names
            fe.page.wait_for_function("([id, name]) => document.querySelector(`[data-node-id='${id}']`)"
                                      "?.innerText.includes(name)", arg=[node_id, name], timeout=10_000)
        _check_uploaded(live_server.layout.input, set(names.values()))
        assert fe.prompt() == before
        fe.page.wait_for_timeout(400)  # let the toast finish sliding in
        shot = tmp_path / "samples_button.png"
        fe.page.screenshot(path=str(shot))
        if os.environ.get("ACEPP_SAVE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_SCREENSHOT)

        # A second click is idempotent: the same files overwritten (never "acepp_x (1).png"), the same names.
        fe.click_and_wait_for_uploads(button, len(set(names.values())))
        fe.wait_for_previews(names)
        _check_uploaded(live_server.layout.input, set(names.values()))
        assert fe.prompt() == before
        assert not fe.extension_errors(), fe.extension_errors()
    finally:
        fe.set_setting("Comfy.VueNodes.Enabled", False)
