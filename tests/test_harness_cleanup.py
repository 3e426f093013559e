"""A ComfyUI server started by the harness (tools/comfy_process.EmbeddedComfy, client/process.py) ends with the
process that started it, however that process ends: a test run killed by a timeout or SIGKILL must not leave
an orphaned server holding gigabytes. Each case starts a server from a throwaway Python process, SIGKILLs that
process (no chance to call stop()) and waits for the server to be gone and its port free."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import pack_dir

GONE_WITHIN_S = 5.0

# argv: parent_watch, "main" or "thread" (which thread calls start()), pack dir
STARTER = r"""
import json, sys, threading, time
mode, where, pack = sys.argv[1:4]
from aceplusplus.tools.comfy_process import EmbeddedComfy

server = EmbeddedComfy(pack_dir=pack, parent_watch=mode, log=lambda msg: None, startup_timeout=120)
if where == "thread":
    worker = threading.Thread(target=server.start)
    worker.start()
    worker.join()  # the starting thread has ended: a thread-bound PDEATHSIG would already have killed it
else:
    server.start()
print(json.dumps({"pid": server.pid, "url": server.url, "used": server.watch_used, "base": str(server.base)}),
      flush=True)
time.sleep(3600)
"""


def _state(pid: int) -> str | None:
    """The process's state letter (Z: a zombie, dead but not reaped), None when there is no such process."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except OSError:
        return None
    return "?"


def _alive(pid: int) -> bool:
    if Path("/proc").is_dir():
        return _state(pid) not in (None, "Z", "X")
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("mode,where,expect", [("auto", "main", "prctl" if sys.platform.startswith("linux")
                                                else "watchdog"),
                                               ("auto", "thread", "watchdog"),
                                               ("watchdog", "main", "watchdog")])
def test_server_dies_with_the_process_that_started_it(comfy_root, mode, where, expect):
    starter = subprocess.Popen([sys.executable, "-c", STARTER, mode, where, str(pack_dir())],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server_pid, base = None, None
    try:
        line = starter.stdout.readline()
        assert line, f"the starter process printed nothing: {starter.communicate(timeout=30)[1][-3000:]}"
        info = json.loads(line)
        server_pid, base = info["pid"], info["base"]
        port = int(info["url"].rsplit(":", 1)[1])
        assert info["used"] == expect
        assert _alive(server_pid) and not _port_free(port)
        killed = time.monotonic()
        starter.send_signal(signal.SIGKILL)  # no stop(), no atexit, no finally: the parent just vanishes
        starter.wait(timeout=10)
        while time.monotonic() - killed < GONE_WITHIN_S and (_alive(server_pid) or not _port_free(port)):
            time.sleep(0.05)
        seconds = time.monotonic() - killed
        assert not _alive(server_pid), f"the orphaned server {server_pid} still runs {seconds:.1f} s later"
        assert _port_free(port), f"port {port} still taken {seconds:.1f} s later"
        print(f"\n[cleanup] {mode}/{where} ({info['used']}): server gone {seconds:.2f} s after its parent was killed")
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait(timeout=10)
        if server_pid is not None and _alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)  # only the server this test started
        if base is not None:  # the temporary base directory its killed parent had no chance to remove
            shutil.rmtree(base, ignore_errors=True)
