"""The project's own ComfyUI as a process: start it on 127.0.0.1 with this pack linked, talk JSON to it, stop it.

Used by the demo, the headless client's --embedded mode, the workflow builder and the test harness's live
server (stdlib only). The interpreter and ComfyUI tree come from tools/runtime.sh.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent


class ServerError(RuntimeError):
    """The server could not be reached or answered with an error."""


def fetch_json(url: str, data: dict | None = None, timeout: float = 30.0):
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode() or "null")
    except urllib.error.HTTPError as e:
        raise ServerError(f"{url}: HTTP {e.code} {e.read().decode(errors='replace')[:500]}") from e
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise ServerError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from e


def runtime_env() -> dict:
    """ACEPP_PYTHON / ACEPP_COMFY_ROOT / ACEPP_CACHE: from the environment when tools/runtime.sh was sourced,
    else by sourcing it in a bash subprocess (which provisions the venv on a fresh machine)."""
    keys = ("ACEPP_PYTHON", "ACEPP_COMFY_ROOT", "ACEPP_CACHE")
    if all(os.environ.get(k) for k in keys):
        return {k: os.environ[k] for k in keys}
    script = f'source "{TOOLS / "runtime.sh"}" >&2 && ' + " && ".join(f'echo "{k}=${k}"' for k in keys)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ServerError("tools/runtime.sh failed:\n" + proc.stderr[-2000:])
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return {k: env[k] for k in keys}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedComfy:
    """This project's ComfyUI with the pack linked in, on a free port, in a temporary base directory.

    models_dir (optional) becomes the server's models/ folder (a symlink; nothing is written into it);
    pack_dir is the node pack linked as custom_nodes/aceplusplus (this repository by default). Use as a
    context manager; .url is the server address once started. The server log stays in the temp dir
    (log_tail()) and is shown when start-up fails.
    """

    def __init__(self, models_dir: str | os.PathLike | None = None, startup_timeout: float = 240.0,
                 log=None, pack_dir: str | os.PathLike = ROOT, base: str | os.PathLike | None = None,
                 log_path: str | os.PathLike | None = None):
        self.models_dir = Path(models_dir).resolve() if models_dir else None
        self.pack_dir = Path(pack_dir).resolve()
        self.startup_timeout = startup_timeout
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.proc: subprocess.Popen | None = None
        # A given base directory is the caller's (already laid out, kept); otherwise a temporary one is made.
        self.given_base = Path(base) if base else None
        self.base: Path | None = None
        self.log_path = Path(log_path) if log_path else None
        self.url = ""
        self.start_seconds: float | None = None

    def __enter__(self) -> "EmbeddedComfy":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def log_file(self) -> Path:
        return self.log_path or self.base / "comfyui.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - chars))
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pack_import_error(self) -> str:
        """The server log's traceback of this pack's failed import ('' when there is none)."""
        lines = self.log_tail(200_000).splitlines()
        failed = [i for i, line in enumerate(lines) if "custom_nodes/aceplusplus" in line
                  and (line.startswith("Cannot import") or "Error while calling comfy_entrypoint" in line)]
        if not failed:
            return ""
        end = failed[-1]
        start = max((i for i in range(end) if lines[i].startswith("Traceback")), default=end)
        if not any("custom_nodes/aceplusplus" in line for line in lines[start:end]):
            start = end  # no traceback of ours in the log (comfy_entrypoint errors are one line)
        return "\n".join(lines[start:end + 1])

    def start(self) -> str:
        env = runtime_env()
        if self.models_dir is not None and not self.models_dir.is_dir():
            raise ServerError(f"models folder {self.models_dir} does not exist")
        if self.given_base is not None:
            self.base = self.given_base
        else:
            self.base = Path(tempfile.mkdtemp(prefix="acepp_comfy_"))
            (self.base / "custom_nodes").mkdir()
            os.symlink(self.pack_dir, self.base / "custom_nodes" / "aceplusplus", target_is_directory=True)
            if self.models_dir is not None:
                os.symlink(self.models_dir, self.base / "models", target_is_directory=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [env["ACEPP_PYTHON"], "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
               "--base-directory", str(self.base), "--database-url", "sqlite:///:memory:",
               "--disable-auto-launch"]
        self.log(f"[ACE++] starting ComfyUI ({env['ACEPP_COMFY_ROOT']}) on {self.url}"
                 + (f" with models from {self.models_dir}" if self.models_dir else ""))
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log_file, "ab") as logfile:
            child_env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", **env)
            self.proc = subprocess.Popen(cmd, cwd=env["ACEPP_COMFY_ROOT"], stdout=logfile, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=child_env, start_new_session=True)
        deadline = started + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                tail = self.log_tail()
                self.stop()
                raise ServerError(f"ComfyUI exited with code {code} during start-up:\n{tail}")
            try:
                fetch_json(self.url + "/system_stats", timeout=2)
                self.start_seconds = time.monotonic() - started
                return self.url
            except ServerError:
                time.sleep(0.3)
        tail = self.log_tail()
        self.stop()
        raise ServerError(f"ComfyUI did not answer within {self.startup_timeout:.0f} s:\n{tail}")

    def stop(self) -> int | None:
        """Stop the server by PID (SIGTERM, then SIGKILL); remove a temporary base directory. The exit code."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self.base is not None and self.given_base is None:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = None
        return proc.returncode if proc is not None else None
