"""A real ComfyUI server (main.py) in a subprocess, driven over HTTP through the client's own session.

    srv = ComfyServer(layout, log_path).start()
    pid = srv.session.post_prompt(graph)          # rejected -> ClientError(EXIT_REJECTED), .details = ComfyUI's answer
    entry = srv.wait(pid, timeout=180)    # execution_error -> ClientError(EXIT_EXECUTION) + server log tail
    paths = srv.outputs(pid)              # saved images under <base>/output
    srv.stop()                            # terminate by PID, then kill

The process is tools/comfy_process.EmbeddedComfy and every request goes through client/session.py: the same
code the demo and the headless client use. Also :func:`quick_test`: ``main.py --quick-test-for-ci`` (loads
every node, then exits), run through a tiny wrapper that records, at exit, which node ids ComfyUI registered
from the pack and which the pack declares, so a test can tell "imported but lost its nodes" from "imported fine".
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aceplusplus.client.errors import ClientError
from aceplusplus.client.process import plain_log
from aceplusplus.client.session import BlockingSession
from aceplusplus.tools.comfy_process import EmbeddedComfy

from . import PACK_LINK_NAME, PACK_MODULE, BaseLayout, comfy_root

START_TIMEOUT_S = float(os.environ.get("ACEPP_SERVER_START_TIMEOUT", "60"))


def _python() -> str:
    return os.environ.get("ACEPP_PYTHON") or sys.executable


class ComfyServer:
    """One ComfyUI server process on 127.0.0.1 with ``layout`` as its base directory; the session's calls
    (get_json, post_json, object_info, history, view, free, ...) are available on it directly."""

    def __init__(self, layout: BaseLayout, log_path: Path):
        self.layout = layout
        self.log_path = Path(log_path)
        self.process = EmbeddedComfy(base=layout.base, log_path=log_path, startup_timeout=START_TIMEOUT_S,
                                     log=lambda msg: None)
        self.session: BlockingSession | None = None

    # ---------------------------------------------------------------- process
    @property
    def base_url(self) -> str:
        return self.process.url

    @property
    def start_seconds(self) -> float | None:
        return self.process.start_seconds

    def start(self) -> "ComfyServer":
        self.process.start()
        self.session = BlockingSession(self.base_url)
        return self

    def stop(self) -> int | None:
        if self.session is not None:
            self.session.close()
            self.session = None
        return self.process.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.alive()

    def log_tail(self, n_chars: int = 6000) -> str:
        return self.process.log_tail(n_chars)

    def log_text(self) -> str:
        return plain_log(self.log_path.read_text("utf-8", "replace")) if self.log_path.exists() else ""

    def peak_rss_bytes(self) -> int | None:
        """Peak resident memory of the server process so far (VmHWM), None when not running."""
        if not self.alive():
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    # ---------------------------------------------------------------- HTTP: self.session (client/session.py)
    def pack_node_ids(self) -> list[str]:
        """Node ids the server reports as coming from custom_nodes/aceplusplus."""
        return sorted(k for k, v in self.session.object_info().items() if v.get("python_module") == PACK_MODULE)

    def wait(self, prompt_id: str, timeout: float = 180) -> dict:
        """The finished prompt's history entry; a failure carries the server log's tail."""
        try:
            return self.session.wait(prompt_id, prompt_id, timeout)
        except ClientError as e:
            raise ClientError(e.code, f"{e}\n--- server log tail ---\n{self.log_tail(3000)}", e.details) from e

    def image_refs(self, prompt_id: str) -> list[dict]:
        entry = self.session.history(prompt_id) or {}
        return [ref for ui in entry.get("outputs", {}).values() for ref in ui.get("images", [])]

    def outputs(self, prompt_id: str) -> list[Path]:
        """Files of the images a finished prompt saved (paths under the base directory)."""
        return [self.layout.directory_for(ref.get("type", "output")) / ref.get("subfolder", "") / ref["filename"]
                for ref in self.image_refs(prompt_id)]

    def upload_image(self, path: str | os.PathLike, name: str | None = None, subfolder: str = "",
                     overwrite: bool = True) -> str:
        """POST /upload/image of a file; the name to use in LoadImage."""
        path = Path(path)
        return self.session.upload_image(path.read_bytes(), name or path.name, subfolder, overwrite)

    def run(self, api_graph: dict, timeout: float = 180) -> list[Path]:
        """post_prompt + wait + outputs."""
        prompt_id = self.session.post_prompt(api_graph)
        self.wait(prompt_id, timeout)
        return self.outputs(prompt_id)


# ---------------------------------------------------------------- quick test

_QUICK_TEST_WRAPPER = r"""
import asyncio, atexit, inspect, json, os, runpy, sys

def _dump():
    report = {"registered": {}, "declared": None, "declared_error": None}
    nodes = sys.modules.get("nodes")
    if nodes is not None:
        report["registered"] = {k: getattr(v, "RELATIVE_PYTHON_MODULE", None)
                                for k, v in nodes.NODE_CLASS_MAPPINGS.items()}
        pack = os.environ["ACEPP_QT_PACK_PATH"].replace(".", "_x_")
        module = sys.modules.get(pack)
        if module is not None:
            try:
                if getattr(module, "NODE_CLASS_MAPPINGS", None):
                    report["declared"] = sorted(module.NODE_CLASS_MAPPINGS)
                elif hasattr(module, "comfy_entrypoint"):
                    async def collect():
                        ext = module.comfy_entrypoint()
                        if inspect.isawaitable(ext):
                            ext = await ext
                        return [c.GET_SCHEMA().node_id for c in await ext.get_node_list()]
                    report["declared"] = sorted(asyncio.run(collect()))
            except Exception as e:
                report["declared_error"] = repr(e)
    with open(os.environ["ACEPP_QT_REPORT"], "w") as f:
        json.dump(report, f)

atexit.register(_dump)
sys.argv = ["main.py"] + sys.argv[1:]
runpy.run_path("main.py", run_name="__main__")
"""


@dataclass
class QuickTestResult:
    returncode: int
    log: str
    registered: dict  # node id -> RELATIVE_PYTHON_MODULE
    declared: list | None  # node ids the pack declares (None: pack module not imported)
    declared_error: str | None
    seconds: float

    @property
    def pack_node_ids(self) -> list[str]:
        return sorted(k for k, v in self.registered.items() if v == PACK_MODULE)


def quick_test(layout: BaseLayout | None, log_path: Path, timeout: float = 180, root: Path | None = None
               ) -> QuickTestResult:
    """Run ``main.py --quick-test-for-ci`` of ComfyUI ``root`` (default: the suite's) on ``layout`` (via runpy,
    with an at-exit node report). ``layout`` None: the core's own folders, for cores older than
    ``--base-directory`` (the pack must then be linked into ``root``/custom_nodes/aceplusplus)."""
    root = Path(root) if root else comfy_root()
    custom_nodes = layout.custom_nodes if layout else root / "custom_nodes"
    report = Path(log_path).with_suffix(".json")
    report.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ACEPP_QT_REPORT": str(report),
           "ACEPP_QT_PACK_PATH": str(custom_nodes / PACK_LINK_NAME)}
    cmd = [_python(), "-c", _QUICK_TEST_WRAPPER, "--cpu", "--quick-test-for-ci", "--disable-auto-launch"]
    if layout:
        cmd += ["--base-directory", str(layout.base), "--database-url", "sqlite:///:memory:"]
    if "--disable-api-nodes" in (root / "comfy" / "cli_args.py").read_text("utf-8"):
        cmd.append("--disable-api-nodes")  # as the live servers (tools/comfy_process.py); cores since 0.3.3x have it
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.run(cmd, cwd=str(root), stdout=log, stderr=subprocess.STDOUT, env=env,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    seconds = time.monotonic() - t0
    data = json.loads(report.read_text()) if report.exists() else {"registered": {}, "declared": None,
                                                                    "declared_error": "no report written"}
    return QuickTestResult(proc.returncode, plain_log(Path(log_path).read_text("utf-8", "replace")),
                           data["registered"], data["declared"], data["declared_error"], seconds)
