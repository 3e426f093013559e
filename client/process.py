"""A ComfyUI server as a child process on 127.0.0.1: start ``main.py`` on a free port, wait until it answers,
stop it by PID. Used by the client's --embedded mode and, through tools/comfy_process.py, by the demo, the
workflow builder and the test harness (which add the project's own runtime)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from .errors import EXIT_SERVER, ClientError
from .session import BlockingSession


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyProcess:
    """``python main.py --listen 127.0.0.1 --port <free>`` in ``comfy_root`` with ``args`` added; the log goes
    to ``log_path``. Use as a context manager, or start()/stop(); ``url`` is the address once started."""

    def __init__(self, comfy_root: str | os.PathLike, log_path: str | os.PathLike, *, python: str = sys.executable,
                 args: tuple[str, ...] = (), env: dict | None = None, startup_timeout: float = 240.0):
        self.comfy_root = Path(comfy_root)
        self.log_path = Path(log_path)
        self.python = python
        self.args = tuple(args)
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.start_seconds: float | None = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - chars))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self) -> str:
        if not (self.comfy_root / "main.py").is_file():
            raise ClientError(EXIT_SERVER, f"no ComfyUI main.py in {self.comfy_root}")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [self.python, "main.py", "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch",
               *self.args]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", **self.env)
            self.proc = subprocess.Popen(cmd, cwd=self.comfy_root, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        with BlockingSession(self.url, connect_timeout=2) as session:
            while time.monotonic() < started + self.startup_timeout:
                code = self.proc.poll()
                if code is not None:
                    tail = self.log_tail()
                    self.stop()
                    raise ClientError(EXIT_SERVER, f"ComfyUI exited with code {code} during start-up:\n{tail}")
                try:
                    session.get_json("/system_stats", timeout=2)
                    self.start_seconds = time.monotonic() - started
                    return self.url
                except ClientError:
                    time.sleep(0.3)
        tail = self.log_tail()
        self.stop()
        raise ClientError(EXIT_SERVER, f"ComfyUI did not answer within {self.startup_timeout:.0f} s:\n{tail}")

    def stop(self) -> int | None:
        """Terminate (then kill) the server; its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode
