"""The project's own ComfyUI (tools/runtime.sh: the venv and the ComfyUI 0.3.75 it provides) as a process,
with this pack linked into a temporary base directory: the demo, the workflow builder and the test harness's
live server. The process itself is client/process.py and every HTTP call goes through client/session.py,
the same code the headless client uses.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from client.errors import EXIT_SERVER, ClientError  # noqa: E402
from client.process import ComfyProcess, free_port  # noqa: E402,F401  (free_port: re-exported for tests)
from client.session import BlockingSession  # noqa: E402,F401

RUNTIME_KEYS = ("ACEPP_PYTHON", "ACEPP_COMFY_ROOT", "ACEPP_CACHE")


def runtime_env() -> dict:
    """ACEPP_PYTHON / ACEPP_COMFY_ROOT / ACEPP_CACHE: from the environment when tools/runtime.sh was sourced,
    else by sourcing it in a bash subprocess (which provisions the venv on a fresh machine)."""
    if all(os.environ.get(k) for k in RUNTIME_KEYS):
        return {k: os.environ[k] for k in RUNTIME_KEYS}
    script = f'source "{TOOLS / "runtime.sh"}" >&2 && ' + " && ".join(f'echo "{k}=${k}"' for k in RUNTIME_KEYS)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClientError(EXIT_SERVER, "tools/runtime.sh failed:\n" + proc.stderr[-2000:])
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return {k: env[k] for k in RUNTIME_KEYS}


class EmbeddedComfy(ComfyProcess):
    """The project's ComfyUI on CPU with this pack (``pack_dir``) linked as custom_nodes/aceplusplus.

    ``models_dir`` (optional) becomes the server's models/ folder (a link; nothing is written into it). A given
    ``base`` directory is the caller's, already laid out and kept; otherwise a temporary one is made and removed
    on stop(). The log goes to ``log_path`` (default: the base directory's comfyui.log). ``parent_watch``
    (client/process.py): by default the server dies with the process that started it, however that ends, so
    a killed test run or demo leaves no orphaned ComfyUI behind."""

    def __init__(self, models_dir=None, startup_timeout: float = 240.0, log=None, pack_dir=ROOT, base=None,
                 log_path=None, parent_watch: str = "auto"):
        env = runtime_env()
        self.models_dir = Path(models_dir).resolve() if models_dir else None
        self.pack_dir = Path(pack_dir).resolve()
        self.given_base = Path(base) if base else None
        self.base = self.given_base
        self.announce = log or (lambda msg: print(msg, file=sys.stderr))
        self.log_path_given = Path(log_path) if log_path else None
        super().__init__(env["ACEPP_COMFY_ROOT"], self.log_path_given or "comfyui.log", python=env["ACEPP_PYTHON"],
                         env=env, startup_timeout=startup_timeout, parent_watch=parent_watch)

    def start(self) -> str:
        if self.models_dir is not None and not self.models_dir.is_dir():
            raise ClientError(EXIT_SERVER, f"models folder {self.models_dir} does not exist")
        if self.given_base is None:
            self.base = Path(tempfile.mkdtemp(prefix="acepp_comfy_"))
            (self.base / "custom_nodes").mkdir()
            (self.base / "custom_nodes" / "aceplusplus").symlink_to(self.pack_dir, target_is_directory=True)
            if self.models_dir is not None:
                (self.base / "models").symlink_to(self.models_dir, target_is_directory=True)
        self.log_path = self.log_path_given or self.base / "comfyui.log"
        # No API nodes: they only reach paid online services, and importing them is a third of a current core's start.
        self.args = ("--cpu", "--base-directory", str(self.base), "--database-url", "sqlite:///:memory:",
                     "--disable-api-nodes")
        self.announce(f"[ACE++] starting ComfyUI ({self.comfy_root})"
                      + (f" with models from {self.models_dir}" if self.models_dir else ""))
        return super().start()

    def stop(self) -> int | None:
        code = super().stop()
        if self.base is not None and self.given_base is None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        return code

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
