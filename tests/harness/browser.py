"""The real ComfyUI frontend in headless Debian Chromium, driven by playwright: the one home of the browser tests'
launch settings, the two frontends they run against, and :class:`Frontend` (one page, driven through
``window.comfyAPI`` as the pack's extension itself is).

Two frontends, both served by a live ComfyUI 0.3.75 of the harness:

* ``pinned``: the comfyui-frontend-package ComfyUI 0.3.75's requirements pin (1.32.x), installed in the venv.
* ``newest``: the newest release on PyPI when the project last moved it (``NEWEST_FRONTEND`` in
  tools/browser_setup.sh, or ``ACEPP_NEWEST_FRONTEND``), installed by tools/browser_setup.sh into
  ``$ACEPP_CACHE/frontends/<version>`` (never into the venv). ComfyUI serves whichever
  ``comfyui_frontend_package`` comes first on its path, so that server runs with the folder on PYTHONPATH.

Nothing here is ever skipped: a missing browser, playwright or frontend fails with the command that installs it.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.request
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from aceplusplus.tools.pack import cache_dir

from . import REPO_ROOT, ComfySetupError

CHROMIUM = "/usr/bin/chromium"
# What this machine needs: no sandbox as root, and no background connections (the network is closed).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
SETUP_HINT = ("run `bash tools/browser_setup.sh` (installs Debian's chromium, playwright into the venv and the "
              "newest ComfyUI frontend into $ACEPP_CACHE/frontends)")
# A fresh profile would open the template browser and the missing-models dialog over the canvas.
QUIET_SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingModelsWarning": False}
FRONTENDS = ("pinned", "newest")
FRONTEND_PACKAGE = "comfyui-frontend-package"
# The names the pack's frontend and these tests share (node IDs, the pack's widgets, its command, the samples, the
# preview's data-acepp marks): one file, which web/js/shared.js reads too.
NAMES = json.loads((REPO_ROOT / "web" / "names.json").read_text("utf-8"))
NODES, WIDGETS, COMMANDS, MARKS = NAMES["nodes"], NAMES["widgets"], NAMES["commands"], NAMES["marks"]
SAMPLES_LABEL = WIDGETS["samples_button"]
REPORT_WIDGET = WIDGETS["report"]
PREVIEW_WIDGET = WIDGETS["layout_preview"]
PRESET_WIDGET = WIDGETS["preset_menu"]
# The pack's display-only widgets: never part of a prompt or of the saved widgets_values.
PACK_WIDGETS = tuple(WIDGETS.values())
# The frontend's own setting that switches the Vue node renderer on (the classic canvas renderer when off).
VUE_NODES = "Comfy.VueNodes.Enabled"
# vueAppReady comes before the node definitions: wait for the pack's node and the first graph.
READY = (f"() => window.LiteGraph?.registered_node_types?.[{json.dumps(NODES['canvas'])}]"
         " && window.comfyAPI?.app?.app?.graph?.nodes?.length")


# ------------------------------------------------------------------------------------------ frontends


@dataclass(frozen=True)
class FrontendServer:
    """A live ComfyUI server (harness.server.ComfyServer) and the frontend it serves."""
    name: str  # "pinned" or "newest"
    version: str  # the comfyui-frontend-package version the page must report
    server: object


def newest_frontend_version() -> str:
    """ACEPP_NEWEST_FRONTEND, else the NEWEST_FRONTEND that tools/browser_setup.sh installs."""
    if os.environ.get("ACEPP_NEWEST_FRONTEND"):
        return os.environ["ACEPP_NEWEST_FRONTEND"]
    script = (REPO_ROOT / "tools" / "browser_setup.sh").read_text("utf-8")
    found = re.search(r'^NEWEST_FRONTEND="\$\{ACEPP_NEWEST_FRONTEND:-([0-9.]+)\}"', script, re.M)
    if not found:
        raise ComfySetupError("tools/browser_setup.sh sets no NEWEST_FRONTEND=\"${ACEPP_NEWEST_FRONTEND:-X.Y.Z}\"")
    return found.group(1)


def pinned_frontend_version() -> str:
    """The frontend package installed in the venv that runs ComfyUI (this process's own environment)."""
    try:
        return version(FRONTEND_PACKAGE)
    except PackageNotFoundError as err:
        raise ComfySetupError(f"{FRONTEND_PACKAGE} is not installed in this venv: run `bash tools/test.sh`") from err


def newest_frontend_dir() -> Path:
    """The pip --target folder holding the newest frontend (its comfyui_frontend_package first on a path)."""
    want = newest_frontend_version()
    folder = cache_dir() / "frontends" / want
    if not (folder / "comfyui_frontend_package" / "static" / "index.html").is_file() \
            or not (folder / f"comfyui_frontend_package-{want}.dist-info").is_dir():
        raise ComfySetupError(f"the {FRONTEND_PACKAGE} {want} frontend is not in {folder}: {SETUP_HINT}")
    return folder


@contextlib.contextmanager
def newest_frontend_on_path():
    """PYTHONPATH starts with the newest frontend's folder while the block runs (a server started inside it
    inherits it: ComfyUI 0.3.75 imports comfyui_frontend_package and serves its static folder)."""
    folder = str(newest_frontend_dir())
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = folder + (os.pathsep + before if before else "")
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def post_json(base_url: str, path: str, payload) -> None:
    """A plain POST (urllib: the servers' own sessions cannot run inside playwright's event loop)."""
    request = urllib.request.Request(base_url + path, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        if answer.status != 200:
            raise ComfySetupError(f"POST {path} answered HTTP {answer.status}")


def get_json(base_url: str, path: str):
    """A plain GET of a JSON answer (urllib, as post_json)."""
    with urllib.request.urlopen(base_url + path, timeout=30) as answer:
        return json.loads(answer.read())


def quieten(base_url: str) -> None:
    """The server-side settings that keep first-run dialogs off the canvas (stored per ComfyUI user)."""
    post_json(base_url, "/settings", QUIET_SETTINGS)


def check_tools() -> None:
    """ComfySetupError naming tools/browser_setup.sh when Chromium or playwright is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        raise ComfySetupError(f"{CHROMIUM} is missing: {SETUP_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        raise ComfySetupError(f"playwright does not import ({err}): {SETUP_HINT}") from err


def launch(playwright, profile_dir: Path):
    """A persistent Chromium context on a fresh profile (its localStorage is what a page reload restores from)."""
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS),
        viewport={"width": 1600, "height": 1000})
    context.add_init_script("localStorage.setItem('vueNodesBannerDismissed', 'true')")
    return context


# ------------------------------------------------------------------------------------------ one page


class Frontend:
    """One page of the ComfyUI frontend of ``server``, driven through window.comfyAPI (as the extension is).

    ``name`` is ``pinned`` or ``newest``; ``expected_version`` the frontend package the server should serve.
    Events of the server's websocket (as the page's api object receives them) are recorded from the start.
    """

    EVENTS = ("execution_start", "execution_cached", "executed", "execution_success", "execution_error",
              "execution_interrupted")

    def __init__(self, page, server, name: str = "pinned", expected_version: str | None = None):
        self.page = page
        self.server = server
        self.name = name
        self.errors: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(f"{err}\n{getattr(err, 'stack', '')}"))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.open()
        if expected_version is not None and self.version != expected_version:
            raise ComfySetupError(f"the {name} frontend should be {FRONTEND_PACKAGE} {expected_version}, "
                                    f"the server serves {self.version}")

    # ---------------------------------------------------------------- page
    def open(self, reload: bool = False) -> None:
        """Load (or reload) the page and wait until the graph is ready; start recording server events."""
        if reload:
            self.page.reload()
        else:
            self.page.goto(self.server.base_url)
        self.page.wait_for_function(READY, timeout=60_000)
        self.page.evaluate("""(types) => {
            window.__acepp_events = [];
            const api = window.comfyAPI.api.api;
            for (const type of types) api.addEventListener(type, (e) => window.__acepp_events.push([type, e.detail]));
        }""", list(self.EVENTS))

    @property
    def version(self) -> str:
        return self.page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")

    def js(self, body: str, arg=None):
        """Run an async function body with `app` bound; `arg` is its argument."""
        return self.page.evaluate(f"async (arg) => {{ const app = window.comfyAPI.app.app; {body} }}", arg)

    def set_setting(self, key: str, value) -> None:
        self.js("await app.extensionManager.setting.set(arg[0], arg[1]);", [key, value])

    def load(self, workflow: dict) -> None:
        self.js("await app.loadGraphData(arg);", workflow)

    def command(self, command_id: str) -> None:
        self.js("await app.extensionManager.command.execute(arg);", command_id)

    # ---------------------------------------------------------------- graph
    def prompt(self, without_pack_widgets: bool = False) -> dict:
        """graphToPrompt()'s API prompt; optionally with the pack's display widgets taken off every node."""
        return self.js("""
            const removed = [];
            if (arg.strip) for (const node of app.graph.nodes) {
              const keep = (node.widgets ?? []).filter((w) => !arg.ours.includes(w.name));
              if (node.widgets && keep.length !== node.widgets.length) { removed.push([node, node.widgets]); node.widgets = keep; }
            }
            try { return (await app.graphToPrompt()).output; }
            finally { for (const [node, widgets] of removed) node.widgets = widgets; }
        """, {"ours": list(PACK_WIDGETS), "strip": without_pack_widgets})

    def nodes(self, node_type: str) -> list[dict]:
        """Each node of a type: id, widgets (name, type, value, serialize flags), saved widgets_values, properties.
        Ids as numbers: the newest frontend hands some out as numeric strings ("9")."""
        return self.js("""
            return app.graph.nodes.filter((n) => n.type === arg).map((n) => ({
              id: /^[0-9]+$/.test(String(n.id)) ? Number(n.id) : n.id,
              widgets: (n.widgets ?? []).map((w) => ({name: w.name, type: w.type, value: w.value ?? null,
                                                      serialize: w.serialize ?? null,
                                                      options_serialize: w.options?.serialize ?? null})),
              widgets_values: n.serialize().widgets_values ?? null,
              properties: JSON.parse(JSON.stringify(n.properties ?? {})),
            }));
        """, node_type)

    def node(self, node_type: str) -> dict:
        (found,) = self.nodes(node_type)
        return found

    def saved_workflow(self) -> dict:
        """The open workflow as the frontend saves it (app.graph.serialize())."""
        return self.js("return JSON.parse(JSON.stringify(app.graph.serialize()));")

    # ---------------------------------------------------------------- running
    def history(self, prompt_id: str) -> dict:
        """GET /history/<prompt_id>: the finished prompt's entry."""
        return get_json(self.server.base_url, f"/history/{prompt_id}")[prompt_id]

    def events(self) -> list[list]:
        return self.page.evaluate("() => window.__acepp_events")

    def queue(self, timeout_s: float = 180, interrupt_when_cached: bool = False) -> dict:
        """Queue the open workflow as the Run button does (the Comfy.QueuePrompt command) and wait until the
        server finished it (or, with `interrupt_when_cached`, interrupt it once ComfyUI said which nodes come
        from its cache): {prompt_id, cached: [node ids], executed: {node id: ui output}, outcome, error}."""
        self.page.evaluate("() => { window.__acepp_events.length = 0; }")
        self.command("Comfy.QueuePrompt")
        ended = ("execution_success", "execution_error", "execution_interrupted")
        if interrupt_when_cached:
            self.page.wait_for_function("() => window.__acepp_events.some(([t]) => t === 'execution_cached')",
                                        timeout=timeout_s * 1000)
            self.js("await window.comfyAPI.api.api.fetchApi('/interrupt', {method: 'POST'});")
        self.page.wait_for_function("(ended) => window.__acepp_events.some(([t]) => ended.includes(t))",
                                    arg=list(ended), timeout=timeout_s * 1000)
        events = self.events()
        prompt_ids = {detail.get("prompt_id") for _, detail in events if isinstance(detail, dict)} - {None}
        assert len(prompt_ids) == 1, f"events of more than one prompt: {events}"
        return {
            "prompt_id": prompt_ids.pop(),
            "cached": next((d["nodes"] for t, d in events if t == "execution_cached"), None),
            "executed": {d["node"]: d.get("output") for t, d in events if t == "executed"},
            "outcome": next(t for t, _ in events if t in ended),
            "error": next((d for t, d in events if t == "execution_error"), None),
        }

    # ---------------------------------------------------------------- samples
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
