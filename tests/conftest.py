"""Session fixtures for tests that need a real ComfyUI: tiny fixture models, in-process ComfyUI, live server.

Fixtures (all built once per session, on first use):
    comfy_root      Path of the ComfyUI tree (ACEPP_COMFY_ROOT; fails with "run bash tools/test.sh" if unset)
    fixtures_dir    models folder built by tools/fixtures.py (cached in $ACEPP_CACHE/fixtures/models)
    comfy           tools/comfy_inprocess.py InProcessComfy: node(), call(), run_graph(), free() ...
    live_server     harness.server.ComfyServer: post_prompt(), wait(), outputs(), upload_image() ...
                    (both with ComfyUI-GGUF installed beside the pack, from its archive: tools/comfy_process.py)
    pack_archive    Path of the Comfy Registry zip under test (ACEPP_ARCHIVE from tools/test.sh, else built by
                    tools/pack.py); the ComfyUI fixtures load the copy installed from it (ACEPP_PACK_DIR)
Browser fixtures (harness.browser; headless Debian Chromium through playwright):
    frontend_server harness.browser.FrontendServer, parametrised over the two frontends: ``pinned`` (the
                    live_server, frontend 1.32.x from the venv) and ``newest`` (a second server of its own,
                    one per test module, with the newest frontend from $ACEPP_CACHE/frontends first on its path)
    browser         a Chromium context on a fresh profile for that server (per module and frontend)
    frontend        harness.browser.Frontend: one page of that frontend, ready, server events recorded
Tests using ``comfy`` get the ``inprocess`` marker, tests using ``live_server`` or ``frontend_server`` the
``live`` marker
(``-m "not live"`` skips the server). A failing test that used the live server gets the tail of the
server log attached to its report.
"""
from __future__ import annotations

import os
import resource
import time

import pytest

from harness import ComfySetupError, comfy_root as _comfy_root, fixtures_dir as _fixtures_dir, gguf_nodes, make_base

_TIMINGS: dict[str, float] = {}
_SERVER = None
_FRONTEND_SERVERS: dict = {}  # frontend name -> its running server (for the log tail of a failing test)


@pytest.fixture(scope="session")
def comfy_root():
    try:
        return _comfy_root()
    except ComfySetupError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="session")
def fixtures_dir(comfy_root):
    t0 = time.perf_counter()
    path = _fixtures_dir()
    _TIMINGS["fixture models ready (s)"] = time.perf_counter() - t0
    return path


@pytest.fixture(scope="session")
def pack_archive(tmp_path_factory):
    """The Comfy Registry archive under test: ACEPP_ARCHIVE (built by tools/test.sh), else built now."""
    from pathlib import Path

    from aceplusplus.tools import pack

    if os.environ.get("ACEPP_ARCHIVE"):
        return Path(os.environ["ACEPP_ARCHIVE"])
    return pack.build(tmp_path_factory.mktemp("archive") / "node.zip")


@pytest.fixture(scope="session")
def comfy(fixtures_dir, tmp_path_factory):
    from aceplusplus.tools.comfy_inprocess import start_inprocess

    t0 = time.perf_counter()
    instance = start_inprocess(tmp_path_factory.mktemp("comfy_inprocess"), fixtures_dir, other_packs=(gguf_nodes(),))
    _TIMINGS["in-process ComfyUI start (s)"] = time.perf_counter() - t0
    yield instance
    instance.free()


@pytest.fixture(scope="session")
def live_server(fixtures_dir, tmp_path_factory):
    global _SERVER
    from harness.server import ComfyServer

    base = tmp_path_factory.mktemp("comfy_server")
    layout = make_base(base / "base", fixtures_dir, other_packs=(gguf_nodes(),))
    server = ComfyServer(layout, base / "server.log")
    _SERVER = server
    try:
        server.start()
    except Exception as err:
        pytest.fail(f"live ComfyUI server: {err}", pytrace=False)
    _TIMINGS["live server start (s)"] = server.start_seconds
    yield server
    peak = server.peak_rss_bytes()
    if peak:
        _TIMINGS["live server peak RSS (GiB)"] = peak / 2**30
    server.stop()
    _SERVER = None


# ----------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def newest_frontend_server(fixtures_dir, tmp_path_factory):
    """A second live server serving the newest ComfyUI frontend (its folder first on PYTHONPATH). Module scope:
    it never outlives the browser tests of one module; the live_server's models are freed before it starts (two
    servers with loaded models would not fit beside other work)."""
    from harness import browser
    from harness.server import ComfyServer

    try:
        expected = browser.newest_frontend_version()
        folder = browser.newest_frontend_dir()
    except ComfySetupError as err:
        pytest.fail(str(err), pytrace=False)
    if _SERVER is not None and _SERVER.alive():
        browser.post_json(_SERVER.base_url, "/free", {"unload_models": True, "free_memory": True})
    base = tmp_path_factory.mktemp("comfy_server_newest_frontend")
    server = ComfyServer(make_base(base / "base", fixtures_dir), base / "server.log")
    _FRONTEND_SERVERS["newest"] = server
    try:
        with browser.newest_frontend_on_path():
            server.start()
        served = [line for line in server.log_text().splitlines() if "web root:" in line]
        if not served or folder.as_posix() not in served[-1]:
            raise ComfySetupError(f"the server does not serve the frontend {expected} from {folder}: {served}")
    except Exception as err:
        server.stop()
        _FRONTEND_SERVERS.pop("newest", None)
        pytest.fail(f"live ComfyUI server with the newest frontend: {err}", pytrace=False)
    _TIMINGS["live server (newest frontend) start (s)"] = server.start_seconds
    yield server
    server.stop()
    _FRONTEND_SERVERS.pop("newest", None)


# ACEPP_FRONTENDS (comma-separated, default both): tools/test.sh runs the oldest core with its pinned one only.
FRONTENDS = [name for name in os.environ.get("ACEPP_FRONTENDS", "pinned,newest").split(",") if name]


@pytest.fixture(scope="module", params=FRONTENDS)
def frontend_server(request):
    """The live server of one frontend, as harness.browser.FrontendServer(name, version, server)."""
    from harness import browser

    try:
        if request.param == "pinned":
            server, version = request.getfixturevalue("live_server"), browser.pinned_frontend_version()
            _FRONTEND_SERVERS["pinned"] = server
        else:
            server, version = request.getfixturevalue("newest_frontend_server"), browser.newest_frontend_version()
        browser.quieten(server.base_url)
    except ComfySetupError as err:
        pytest.fail(str(err), pytrace=False)
    return browser.FrontendServer(request.param, version, server)


@pytest.fixture(scope="module")
def playwright_api(frontend_server):
    """playwright's sync API; a failure (never a skip) naming tools/browser_setup.sh when anything is missing.
    It runs an event loop in this thread, in which the servers' blocking HTTP sessions cannot run: it starts
    after the server (frontend_server) and ends before the next one starts (one per frontend)."""
    from harness import browser

    try:
        browser.check_tools()
    except ComfySetupError as err:
        pytest.fail(str(err), pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="module")
def browser(playwright_api, frontend_server, tmp_path_factory):
    """Headless Chromium on a fresh profile for one frontend's server."""
    from harness.browser import launch

    context = launch(playwright_api, tmp_path_factory.mktemp(f"chromium_profile_{frontend_server.name}"))
    yield context
    context.close()


@pytest.fixture
def frontend(browser, frontend_server):
    """One page of the frontend under test, ready (the pack's nodes registered, a graph shown)."""
    from harness.browser import Frontend

    page = browser.new_page()
    try:
        yield Frontend(page, frontend_server.server, frontend_server.name, frontend_server.version)
    finally:
        page.close()


_NOT_RUN: dict[str, list[str]] = {}  # why -> node ids deselected for it


def _deselect(config, items, why: str, leave_out) -> None:
    left_out = [item for item in items if leave_out(item)]
    if left_out:
        _NOT_RUN.setdefault(why, []).extend(item.nodeid for item in left_out)
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


def shared_dir():
    """../shared beside the checkout (ACEPP_SHARED): newer ComfyUI sources and ComfyUI-Manager's scanner."""
    from aceplusplus.tools.comfy_process import shared_dir as shared

    return shared()


def pytest_collection_modifyitems(config, items):
    if not shared_dir().is_dir():
        _deselect(config, items, f"they need {shared_dir()} (ACEPP_SHARED), which this machine lacks",
                  lambda item: item.get_closest_marker("needs_shared") is not None)
    marked = [item for item in items if item.get_closest_marker("core") is not None]
    if marked:
        from harness import core_version

        core = core_version()
        for item in marked:
            marker = item.get_closest_marker("core")
            if marker.args[0] != core:
                _deselect(config, items, f"they run on ComfyUI {marker.args[0]} only, not {core}: "
                          f"{marker.kwargs.get('reason', '')}", lambda other, item=item: other is item)
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "comfy" in names:
            item.add_marker(pytest.mark.inprocess)
        if "live_server" in names or "frontend_server" in names:
            item.add_marker(pytest.mark.live)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _SERVER is not None and "live_server" in getattr(item, "fixturenames", ()):
        report.sections.append(("live ComfyUI server log (tail)", _SERVER.log_tail(8000)))
    params = getattr(getattr(item, "callspec", None), "params", {})
    if report.failed and params.get("frontend_server") in _FRONTEND_SERVERS:
        name = params["frontend_server"]
        report.sections.append((f"live ComfyUI server log, {name} frontend (tail)",
                                _FRONTEND_SERVERS[name].log_tail(8000)))


def pytest_terminal_summary(terminalreporter):
    if _NOT_RUN:
        terminalreporter.section("ACE++ tests not run")
        for why, ids in _NOT_RUN.items():
            terminalreporter.write_line(f"{len(ids)} deselected because {why}: " + ", ".join(ids))
    if not _TIMINGS and not os.environ.get("ACEPP_REPORT_MEMORY"):
        return
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    terminalreporter.section("ACE++ harness")
    for key, value in _TIMINGS.items():
        terminalreporter.write_line(f"{key}: {value:.2f}")
    terminalreporter.write_line(f"pytest process peak RSS (GiB): {peak_self:.2f}")
