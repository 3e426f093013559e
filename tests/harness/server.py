"""A real ComfyUI server (main.py) in a subprocess, driven over HTTP with urllib only.

    srv = ComfyServer(layout, log_path).start()
    pid = srv.post_prompt(graph)          # HTTP 400 -> PromptRejected(status, error, node_errors)
    entry = srv.wait(pid, timeout=180)    # execution_error -> PromptFailed(message)
    paths = srv.outputs(pid)              # saved images under <base>/output
    srv.stop()                            # terminate by PID, then kill

Also :func:`quick_test`: ``main.py --quick-test-for-ci`` (loads every node, then exits), run through a
tiny wrapper that records, at exit, which node ids ComfyUI registered from the pack and which the pack
declares, so a test can tell "imported but lost its nodes" from "imported fine".
"""
from __future__ import annotations

import json
import mimetypes
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import PACK_LINK_NAME, PACK_MODULE, REPO_ROOT, BaseLayout, comfy_root

sys.path.insert(0, str(REPO_ROOT / "tools"))
from comfy_process import EmbeddedComfy, ServerError  # noqa: E402  (tools/ is not a package)

START_TIMEOUT_S = float(os.environ.get("ACEPP_SERVER_START_TIMEOUT", "60"))


class PromptRejected(AssertionError):
    """POST /prompt answered an error status (400 on validation failure) with ``error``/``node_errors``."""

    def __init__(self, status: int, body: dict):
        from .inprocess import format_validation

        self.status = status
        self.body = body
        self.error = body.get("error") or {}
        self.node_errors = body.get("node_errors")
        super().__init__(f"HTTP {status}: " + format_validation(self.error, self.node_errors or {}))


class PromptFailed(AssertionError):
    """The prompt ran and a node raised: ``details`` is ComfyUI's execution_error message."""

    def __init__(self, prompt_id: str, details: dict, log_tail: str = ""):
        self.prompt_id = prompt_id
        self.details = details
        tb = "".join(details.get("traceback") or [])
        super().__init__(f"prompt {prompt_id}: node {details.get('node_id')} ({details.get('node_type')}) "
                         f"failed: {details.get('exception_type')}: {details.get('exception_message')}\n{tb}"
                         + (f"\n--- server log tail ---\n{log_tail}" if log_tail else ""))


def _python() -> str:
    return os.environ.get("ACEPP_PYTHON") or sys.executable


class ComfyServer:
    """One ComfyUI server process on 127.0.0.1 with ``layout`` as its base directory.

    The process itself (start, wait for /system_stats, stop by PID) is tools/comfy_process.EmbeddedComfy,
    the same code the demo and the headless client use; this class adds the test-side HTTP helpers.
    """

    def __init__(self, layout: BaseLayout, log_path: Path):
        self.layout = layout
        self.log_path = Path(log_path)
        self.process = EmbeddedComfy(base=layout.base, log_path=log_path, startup_timeout=START_TIMEOUT_S,
                                     log=lambda msg: None)

    # ---------------------------------------------------------------- process
    @property
    def base_url(self) -> str:
        return self.process.url

    @property
    def start_seconds(self) -> float | None:
        return self.process.start_seconds

    def start(self) -> "ComfyServer":
        self.process.start()
        return self

    def stop(self) -> int | None:
        return self.process.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.alive()

    def log_tail(self, n_chars: int = 6000) -> str:
        return self.process.log_tail(n_chars)

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

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

    # ---------------------------------------------------------------- HTTP
    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                 timeout: float = 30) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def get_json(self, path: str, timeout: float = 30):
        status, data = self._request("GET", path, timeout=timeout)
        if status != 200:
            raise ServerError(f"GET {path} -> HTTP {status}: {data[:500]!r}")
        return json.loads(data)

    def post_json(self, path: str, payload: dict, timeout: float = 30) -> tuple[int, bytes]:
        return self._request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"},
                             timeout=timeout)

    def object_info(self, node_class: str | None = None) -> dict:
        """GET /object_info (every node's schema) or /object_info/<class>."""
        return self.get_json("/object_info" + (f"/{urllib.parse.quote(node_class)}" if node_class else ""))

    def pack_node_ids(self) -> list[str]:
        """Node ids the server reports as coming from custom_nodes/aceplusplus."""
        return sorted(k for k, v in self.object_info().items() if v.get("python_module") == PACK_MODULE)

    def post_prompt(self, api_graph: dict, client_id: str | None = None) -> str:
        """Queue an API-format graph; return its prompt id.

        HTTP 400 raises PromptRejected with ``node_errors``; so does a 200 answer that still lists
        node_errors (ComfyUI then silently drops the invalid outputs and runs the rest).
        """
        payload = {"prompt": api_graph, "client_id": client_id or "acepp-tests"}
        status, data = self.post_json("/prompt", payload)
        try:
            body = json.loads(data)
        except ValueError:
            body = {"error": {"type": "non_json", "message": data[:500].decode("utf-8", "replace")}}
        if status != 200:
            raise PromptRejected(status, body)
        if body.get("node_errors"):
            raise PromptRejected(status, body)
        return body["prompt_id"]

    def history(self, prompt_id: str) -> dict | None:
        return self.get_json(f"/history/{prompt_id}").get(prompt_id)

    def wait(self, prompt_id: str, timeout: float = 180, poll: float = 0.25) -> dict:
        """Poll /history/<id> until the prompt finished; return its entry, raise PromptFailed on error."""
        deadline = time.monotonic() + timeout
        while True:
            entry = self.history(prompt_id)
            if entry is not None and (entry.get("status") or {}).get("completed") is not None:
                status = entry["status"]
                if status.get("status_str") == "error" or not status.get("completed"):
                    errors = [m[1] for m in status.get("messages", []) if m[0] == "execution_error"]
                    raise PromptFailed(prompt_id, errors[-1] if errors else {"exception_message": str(status)},
                                       self.log_tail(3000))
                return entry
            if not self.alive():
                raise ServerError(f"server died while running {prompt_id}; log tail:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"prompt {prompt_id} not finished after {timeout:.0f} s; log tail:\n"
                                  f"{self.log_tail()}")
            time.sleep(poll)

    def image_refs(self, prompt_id: str) -> list[dict]:
        entry = self.history(prompt_id) or {}
        return [ref for ui in entry.get("outputs", {}).values() for ref in ui.get("images", [])]

    def outputs(self, prompt_id: str) -> list[Path]:
        """Files of the images a finished prompt saved (paths under the base directory)."""
        return [self.layout.directory_for(ref.get("type", "output")) / ref.get("subfolder", "") / ref["filename"]
                for ref in self.image_refs(prompt_id)]

    def view(self, ref: dict) -> bytes:
        """Fetch an image reference ({filename, subfolder, type}) through GET /view."""
        query = urllib.parse.urlencode({"filename": ref["filename"], "subfolder": ref.get("subfolder", ""),
                                        "type": ref.get("type", "output")})
        status, data = self._request("GET", f"/view?{query}")
        if status != 200:
            raise ServerError(f"GET /view?{query} -> HTTP {status}")
        return data

    def upload_image(self, path: str | os.PathLike, name: str | None = None, subfolder: str = "",
                     overwrite: bool = True) -> str:
        """POST /upload/image (multipart); return the name to use in LoadImage."""
        path = Path(path)
        name = name or path.name
        boundary = uuid.uuid4().hex
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        fields = [("overwrite", "true" if overwrite else "false"), ("type", "input"), ("subfolder", subfolder)]
        body = b""
        for key, value in fields:
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n").encode()
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
                 f"Content-Type: {ctype}\r\n\r\n").encode() + path.read_bytes() + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        status, data = self._request("POST", "/upload/image", body,
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        if status != 200:
            raise ServerError(f"POST /upload/image -> HTTP {status}: {data[:300]!r}")
        info = json.loads(data)
        return f"{info['subfolder']}/{info['name']}" if info.get("subfolder") else info["name"]

    def free(self) -> None:
        """POST /free: unload models and free memory (next prompt reloads)."""
        self.post_json("/free", {"unload_models": True, "free_memory": True})

    def run(self, api_graph: dict, timeout: float = 180) -> list[Path]:
        """post_prompt + wait + outputs."""
        prompt_id = self.post_prompt(api_graph)
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


def quick_test(layout: BaseLayout, log_path: Path, timeout: float = 180) -> QuickTestResult:
    """Run ``main.py --quick-test-for-ci`` on ``layout`` (via runpy, with an at-exit node report)."""
    report = Path(log_path).with_suffix(".json")
    report.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ACEPP_QT_REPORT": str(report),
           "ACEPP_QT_PACK_PATH": str(layout.custom_nodes / PACK_LINK_NAME)}
    cmd = [_python(), "-c", _QUICK_TEST_WRAPPER, "--cpu", "--quick-test-for-ci", "--base-directory",
           str(layout.base), "--database-url", "sqlite:///:memory:", "--disable-auto-launch"]
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.run(cmd, cwd=str(comfy_root()), stdout=log, stderr=subprocess.STDOUT, env=env,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    seconds = time.monotonic() - t0
    data = json.loads(report.read_text()) if report.exists() else {"registered": {}, "declared": None,
                                                                    "declared_error": "no report written"}
    return QuickTestResult(proc.returncode, Path(log_path).read_text("utf-8", "replace"), data["registered"],
                           data["declared"], data["declared_error"], seconds)
