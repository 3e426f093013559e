"""The project's own ComfyUI (tools/runtime.sh: the venv and the ComfyUI core it provides) as a process,
with this pack linked into a base directory: the demo, the workflow builder and the test harness's live
server. The process itself is client/process.py and every HTTP call goes through client/session.py, the same
code the headless client uses. The one scratch base-directory builder (:func:`make_base`) lives here too: the
in-process ComfyUI (tools/comfy_inprocess.py), the live servers and the GPU check all lay their bases out with it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aceplusplus.client.errors import EXIT_SERVER, ClientError
from aceplusplus.client.process import ComfyProcess
from aceplusplus.tools.pack import cache_dir

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
PACK_LINK_NAME = "aceplusplus"  # the pack's folder name under custom_nodes
# ComfyUI tags every node of a custom-node directory with this module name (object_info "python_module").
PACK_MODULE = f"custom_nodes.{PACK_LINK_NAME}"

RUNTIME_KEYS = ("ACEPP_PYTHON", "ACEPP_COMFY_ROOT", "ACEPP_CACHE")
GGUF_NODES_ARCHIVE = "ComfyUI-GGUF-795e451.tar.gz"


class ComfySetupError(RuntimeError):
    """The environment cannot host ComfyUI (missing runtime, broken layout)."""


def comfy_root() -> Path:
    """The ComfyUI source tree named by ACEPP_COMFY_ROOT; a clear error when it is unset or wrong."""
    value = os.environ.get("ACEPP_COMFY_ROOT")
    if not value:
        raise ComfySetupError(
            "ACEPP_COMFY_ROOT is not set, so ComfyUI cannot be found. Run `bash tools/test.sh` (it provisions "
            "the runtime), or `source tools/runtime.sh` first.")
    root = Path(value).resolve()
    if not (root / "main.py").is_file() or not (root / "nodes.py").is_file():
        raise ComfySetupError(f"ACEPP_COMFY_ROOT={value} holds no ComfyUI (main.py, nodes.py); "
                              "run `bash tools/test.sh` to provision it")
    return root


def pack_dir() -> Path:
    """The node pack linked into custom_nodes: ACEPP_PACK_DIR (the test run's installed archive), else this
    repository."""
    return Path(os.environ.get("ACEPP_PACK_DIR") or ROOT).resolve()


@dataclass(frozen=True)
class BaseLayout:
    """A ComfyUI --base-directory: models -> the models folder, custom_nodes/aceplusplus -> the pack."""
    base: Path

    @property
    def models(self) -> Path:
        return self.base / "models"

    @property
    def custom_nodes(self) -> Path:
        return self.base / "custom_nodes"

    @property
    def input(self) -> Path:
        return self.base / "input"

    @property
    def output(self) -> Path:
        return self.base / "output"

    @property
    def temp(self) -> Path:
        return self.base / "temp"

    def directory_for(self, kind: str) -> Path:
        """Folder of an image reference's ``type`` (output, temp, input)."""
        return {"output": self.output, "temp": self.temp, "input": self.input}[kind]


def shared_dir() -> Path:
    """../shared beside the checkout (ACEPP_SHARED): newer ComfyUI sources, ComfyUI-Manager's scanner,
    ComfyUI-GGUF."""
    return Path(os.environ.get("ACEPP_SHARED") or ROOT.parent / "shared")


def gguf_nodes() -> Path:
    """ComfyUI-GGUF (city96), the node pack users load GGUF models with, unpacked once from the archive in
    $ACEPP_SHARED/comfyui into $ACEPP_CACHE/custom_nodes; its folder. It needs the `gguf` package, which both
    runtime locks hold."""
    archive = shared_dir() / "comfyui" / GGUF_NODES_ARCHIVE
    if not archive.is_file():
        raise ComfySetupError(f"{archive} is missing: ComfyUI-GGUF is installed from it (set ACEPP_SHARED to the "
                              "folder that holds comfyui/)")
    dest = cache_dir() / "custom_nodes" / archive.name.removesuffix(".tar.gz")
    if not (dest / ".complete").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
        (dest / ".complete").touch()
    (folder,) = [d for d in dest.iterdir() if d.is_dir()]
    return folder


def make_base(base: Path, models: Path | None, pack: Path | None = None, other_packs: tuple[Path, ...] = ()
              ) -> BaseLayout:
    """Lay out a base directory: custom_nodes/aceplusplus -> ``pack`` (default :func:`pack_dir`), each of
    ``other_packs`` (node packs users run beside this one: :func:`gguf_nodes`) under its own folder name, and,
    when given, models -> ``models`` (links; nothing is written into any of them)."""
    base = Path(base)
    pack = Path(pack) if pack is not None else pack_dir()
    if not (pack / "__init__.py").is_file():
        raise ComfySetupError(f"no node pack at {pack} (no __init__.py)")
    layout = BaseLayout(base)
    for d in (layout.custom_nodes, layout.input, layout.output, layout.temp, base / "user"):
        d.mkdir(parents=True, exist_ok=True)
    links = ([(layout.custom_nodes / PACK_LINK_NAME, pack)]
             + [(layout.custom_nodes / Path(other).name, Path(other)) for other in other_packs]
             + ([(layout.models, Path(models))] if models else []))
    for link, target in links:
        if link.is_symlink() or link.exists():
            if link.is_symlink() and link.resolve() == target.resolve():
                continue
            raise ComfySetupError(f"{link} exists and is not a link to {target}")
        link.symlink_to(target.resolve(), target_is_directory=True)
    return layout


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
            self.base = make_base(Path(tempfile.mkdtemp(prefix="acepp_comfy_")), self.models_dir, self.pack_dir).base
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
        failed = [i for i, line in enumerate(lines) if f"custom_nodes/{PACK_LINK_NAME}" in line
                  and (line.startswith("Cannot import") or "Error while calling comfy_entrypoint" in line)]
        if not failed:
            return ""
        end = failed[-1]
        start = max((i for i in range(end) if lines[i].startswith("Traceback")), default=end)
        if not any(f"custom_nodes/{PACK_LINK_NAME}" in line for line in lines[start:end]):
            start = end  # no traceback of ours in the log (comfy_entrypoint errors are one line)
        return "\n".join(lines[start:end + 1])
