"""A ComfyUI server as a child process on 127.0.0.1: start ``main.py`` on a free port, wait until it answers,
stop it by PID. Used by the client's --embedded mode and, through tools/comfy_process.py, by the demo, the
workflow builder and the test harness (which add the project's own runtime)."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .errors import EXIT_SERVER, ClientError
from .session import BlockingSession


_LOG_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_LEVEL_TAG = re.compile(r"^\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\] ", re.M)


def plain_log(text: str) -> str:
    """ComfyUI's log as plain lines: current cores colour every line and start it with its level tag."""
    return _LEVEL_TAG.sub("", _LOG_COLOUR.sub("", text))


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_WATCH = ("auto", "prctl", "watchdog", "off")

# Runs the server in place of ``python main.py`` when the kernel cannot tie its life to ours: a thread polls
# the parent (argv[1]) and kills this process the moment the parent is gone, then main.py runs as usual.
_WATCHDOG = r"""
import os, runpy, sys, threading, time
parent = int(sys.argv[1])
def gone():
    if os.name == "nt":
        import ctypes
        k32 = ctypes.windll.kernel32
        handle = k32.OpenProcess(0x00100000, False, parent)  # SYNCHRONIZE
        if not handle:
            return True
        try:
            return k32.WaitForSingleObject(handle, 0) == 0  # WAIT_OBJECT_0: it has exited
        finally:
            k32.CloseHandle(handle)
    return os.getppid() != parent  # re-parented: the parent died
def watch():
    while not gone():
        time.sleep(0.5)
    os._exit(137)
threading.Thread(target=watch, name="acepp-parent-watch", daemon=True).start()
sys.argv = ["main.py"] + sys.argv[2:]
runpy.run_path("main.py", run_name="__main__")
"""


def _prctl_pdeathsig():
    """A preexec_fn that makes the kernel SIGKILL the child when the thread that forked it ends, or None where
    prctl is not available (not Linux). Resolved here, in the parent: the child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        import signal

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, sigkill, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody would kill us later
            os._exit(137)

    return preexec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyProcess:
    """``python main.py --listen 127.0.0.1 --port <free>`` in ``comfy_root`` with ``args`` added; the log goes
    to ``log_path``. Use as a context manager, or start()/stop(); ``url`` is the address once started.

    ``parent_watch`` ties the server's life to this process, so that a parent killed without a chance to call
    stop() (SIGKILL, a test runner's timeout) leaves no orphaned server holding gigabytes: "prctl" (Linux: the
    kernel SIGKILLs the server when the forking thread ends; used by "auto" when start() runs on the main
    thread, whose end is the process's), "watchdog" (a thread inside the server polls for its parent and exits
    when it is gone: any OS, within about half a second), "auto" (prctl where it applies, else the watchdog)
    or "off"."""

    def __init__(self, comfy_root: str | os.PathLike, log_path: str | os.PathLike, *, python: str = sys.executable,
                 args: tuple[str, ...] = (), env: dict | None = None, startup_timeout: float = 240.0,
                 parent_watch: str = "auto"):
        if parent_watch not in PARENT_WATCH:
            raise ValueError(f"parent_watch must be one of {PARENT_WATCH}, not {parent_watch!r}")
        self.parent_watch = parent_watch
        self.watch_used = "off"  # what start() actually used
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
                return plain_log(f.read().decode("utf-8", "replace"))
        except OSError:
            return ""

    def start(self) -> str:
        if not (self.comfy_root / "main.py").is_file():
            raise ClientError(EXIT_SERVER, f"no ComfyUI main.py in {self.comfy_root}")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        server_args = ["--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch", *self.args]
        preexec, self.watch_used = None, "off"
        if self.parent_watch in ("auto", "prctl"):
            main_thread = threading.current_thread() is threading.main_thread()
            preexec = _prctl_pdeathsig() if (main_thread or self.parent_watch == "prctl") else None
            self.watch_used = "prctl" if preexec is not None else "watchdog"
        elif self.parent_watch == "watchdog":
            self.watch_used = "watchdog"
        if self.watch_used == "watchdog":
            cmd = [self.python, "-c", _WATCHDOG, str(os.getpid()), *server_args]
        else:
            cmd = [self.python, "main.py", *server_args]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", **self.env)
            self.proc = subprocess.Popen(cmd, cwd=self.comfy_root, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                         preexec_fn=preexec)
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
