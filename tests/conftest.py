"""Session fixtures for tests that need a real ComfyUI: tiny fixture models, in-process ComfyUI, live server.

Fixtures (all built once per session, on first use):
    comfy_root      Path of the ComfyUI tree (ACEPP_COMFY_ROOT; fails with "run bash tools/test.sh" if unset)
    fixtures_dir    models folder built by tools/fixtures.py (cached in $ACEPP_CACHE/fixtures/models)
    comfy           harness.inprocess.InProcessComfy: node(), call(), run_graph(), free() ...
    live_server     harness.server.ComfyServer: post_prompt(), wait(), outputs(), upload_image() ...
    pack_archive    Path of the Comfy Registry zip under test (ACEPP_ARCHIVE from tools/test.sh, else built by
                    tools/pack.py); the ComfyUI fixtures load the copy installed from it (ACEPP_PACK_DIR)
Tests using ``comfy`` get the ``inprocess`` marker, tests using ``live_server`` the ``live`` marker
(``-m "not live"`` skips the server). A failing test that used the live server gets the tail of the
server log attached to its report.
"""
from __future__ import annotations

import os
import resource
import time

import pytest

from harness import HarnessSetupError, comfy_root as _comfy_root, fixtures_dir as _fixtures_dir, make_base

_TIMINGS: dict[str, float] = {}
_SERVER = None


@pytest.fixture(scope="session")
def comfy_root():
    try:
        return _comfy_root()
    except HarnessSetupError as err:
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

    from harness import REPO_ROOT

    if os.environ.get("ACEPP_ARCHIVE"):
        return Path(os.environ["ACEPP_ARCHIVE"])
    import importlib.util

    spec = importlib.util.spec_from_file_location("acepp_tools_pack", REPO_ROOT / "tools" / "pack.py")
    pack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pack)
    return pack.build(tmp_path_factory.mktemp("archive") / "node.zip")


@pytest.fixture(scope="session")
def comfy(fixtures_dir, tmp_path_factory):
    from harness.inprocess import start_inprocess

    t0 = time.perf_counter()
    instance = start_inprocess(tmp_path_factory.mktemp("comfy_inprocess"), fixtures_dir)
    _TIMINGS["in-process ComfyUI start (s)"] = time.perf_counter() - t0
    yield instance
    instance.free()


@pytest.fixture(scope="session")
def live_server(fixtures_dir, tmp_path_factory):
    global _SERVER
    from harness.server import ComfyServer

    base = tmp_path_factory.mktemp("comfy_server")
    layout = make_base(base / "base", fixtures_dir)
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


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "comfy" in names:
            item.add_marker(pytest.mark.inprocess)
        if "live_server" in names:
            item.add_marker(pytest.mark.live)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _SERVER is not None and "live_server" in getattr(item, "fixturenames", ()):
        report.sections.append(("live ComfyUI server log (tail)", _SERVER.log_tail(8000)))


def pytest_terminal_summary(terminalreporter):
    if not _TIMINGS and not os.environ.get("ACEPP_REPORT_MEMORY"):
        return
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    terminalreporter.section("ACE++ harness")
    for key, value in _TIMINGS.items():
        terminalreporter.write_line(f"{key}: {value:.2f}")
    terminalreporter.write_line(f"pytest process peak RSS (GiB): {peak_self:.2f}")
