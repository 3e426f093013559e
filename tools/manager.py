"""ComfyUI-Manager's own code run against this pack: its node scanner and its command-line installer.

    python tools/manager.py venv                        # build (or reuse) Manager's venv; print its python
    python tools/manager.py repo OUT.git                # this checkout's git-visible files as a bare git repository
    python tools/manager.py scan DIR...                 # Manager's scanner on each DIR: the node IDs it maps (JSON)
    python tools/manager.py install-git URL BASE        # `cm-cli install --no-deps URL` into BASE/custom_nodes
    python tools/manager.py install-archive ZIP BASE    # a Registry archive into BASE/custom_nodes/<id>, as Manager does
    python tools/manager.py snapshot BASE               # `cm-cli save-snapshot`: the packs Manager sees in BASE

Manager's venv. ComfyUI-Manager is the ``comfyui-manager`` package on PyPI (``MANAGER`` below; ComfyUI v0.28.2's
``manager_requirements.txt`` pins 4.2.2, whose install and security code is the same for what is used here). It
lives in its own virtual environment in ``$ACEPP_CACHE/manager/venv``, built on first use (about 90 s, then a
stamp check) from ``PINS``: the package and everything it declares, resolved once and installed with
``--no-deps`` so that every machine gets the same set; never the runtime venv, whose pins it would fight. Two
packages of ComfyUI's own environment are added because Manager uses them without declaring them: ``aiohttp``
(``comfyui_manager/__init__.py`` imports it) and ``comfyui-frontend-package`` (after every install
``PIPFixer.fix_broken`` pip-installs the frontend that ComfyUI's requirements.txt names when it is missing from the
environment Manager runs in: without it each install would download it).

Scanner. ``scan`` runs ``manager_scanner.py`` (Manager's ``scanner.py``, SCANNER_VERSION 2.0.13, kept in
``$ACEPP_SHARED/comfyui``; ``ACEPP_SHARED`` defaults to ``../shared`` beside the checkout) loaded by path. It
imports GitPython, PyGithub and requests at the top: it runs in this interpreter when that has them, else in
Manager's venv (which has all three as Manager's own dependencies). For each folder it reports ``code``: the IDs of
``extract_nodes_from_repo`` (the per-file rules: NODE_CLASS_MAPPINGS literals and the V3 rule, ``node_id="..."``
of a ``Schema(...)`` call inside ``define_schema``, else the class name), and ``map``: the folder's entry in the
``extension-node-map.json`` that ``gen_json`` writes, which adds the keys of a root ``node_list.json``.

Installer. ``cm-cli`` runs in Manager's venv with ``COMFYUI_PATH`` = the ComfyUI under test (``ACEPP_COMFY_ROOT``)
and, through its own entry point ``cm_cli.main``, with ComfyUI's ``--base-directory`` set to a scratch BASE (what
``main.py --base-directory BASE`` does): it clones into BASE/custom_nodes and keeps its files in
BASE/user/__manager, never in the shared ComfyUI tree. ``--no-deps`` always: Manager pip-installs a pack's
requirements with its own interpreter, which here is not ComfyUI's (the pack's requirements are checked against
ComfyUI-like environments by tests/test_requirements.py). What works today (read from comfyui-manager 4.3):

* a git URL: ``cm-cli install URL`` accepts any URL with a scheme and a host (``is_valid_url``) and clones it with
  GitPython into ``custom_nodes/<last path part, without .git>``; locally ``file://localhost/abs/path/name.git``
  passes that check and git clones it (``file:///...`` has no host and is refused). The UI's *Install via Git
  URL* calls the same ``gitclone_install``.
* a Registry archive: ``cm-cli install <id>`` only installs a Registry ID, whose zip it downloads from
  api.comfy.org; it cannot install a zip from disk. ``install_archive`` therefore runs the part of Manager's
  Registry install (``UnifiedManager._cnr_install``) that follows the download, in Manager's venv: Manager's
  ``manager_util.extract_package_as_zip`` into ``custom_nodes/<id>`` (``id`` = ``[project] name`` of the pack's
  pyproject.toml, the Registry ID), then the ``.tracking`` file ``_cnr_install`` writes (the extracted names, one a
  line), by which Manager recognises a Registry install (``cm-cli save-snapshot`` lists it under
  ``cnr_custom_nodes``). Its post-install step, pip on requirements.txt (the pack has no install.py), is left
  out, as ``--no-deps`` leaves it out of the git install.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from aceplusplus.tools import pack
from aceplusplus.tools.comfy_process import comfy_root, shared_dir

MANAGER = "comfyui-manager==4.3"
# comfyui-manager 4.3 with everything it declares (resolved by pip on 2026-12-03), plus aiohttp and the frontend
# package, which Manager expects from ComfyUI's environment (see the module docstring).
PINS = (
    "aiohappyeyeballs==2.7.1", "aiohttp==3.14.5", "aiosignal==1.4.0", "annotated-doc==0.0.7",
    "annotated-types==0.8.0", "anyio==4.16.0", "attrs==26.1.0", "certifi==2026.10.19.post1", "cffi==2.1.1",
    "chardet==7.7.0", "charset-normalizer==3.5.3", "click==8.5.1", MANAGER, "comfyui-frontend-package==1.32.9",
    "cryptography==50.0.2", "filelock==4.3.1", "frozenlist==1.8.0", "fsspec==2026.9.0", "gitdb==4.0.12",
    "GitPython==3.2.1", "h11==0.16.0", "hf-xet==1.8.0", "httpcore2==2.16.2", "httpx2==2.16.2",
    "huggingface-hub==2.4.0", "idna==3.20", "markdown-it-py==4.3.0", "mdurl==0.1.2", "multidict==7.2.1",
    "nh3==0.3.8", "numpy==2.4.6", "packaging==26.4", "propcache==0.5.4", "pycparser==3.12", "pydantic==2.14.4",
    "pydantic-core==2.50.5", "PyGithub==2.10.0", "Pygments==2.21.0", "PyJWT==2.15.1", "PyNaCl==1.6.2",
    "PyYAML==6.0.4", "regex==2026.11.19", "requests==2.34.2", "rich==15.0.0", "safetensors==0.8.0",
    "shellingham==1.5.4", "smmap==5.0.3", "tokenizers==0.23.3", "toml==0.10.2", "tqdm==4.70.1",
    "transformers==5.24.0", "truststore==0.10.5", "typer==0.29.2", "typing-inspection==0.4.5",
    "typing-extensions==4.16.0", "urllib3==2.8.0", "uv==0.13.9", "yarl==1.25.1",
)
SCANNER_MODULES = ("git", "github", "requests")  # what manager_scanner.py imports beyond the standard library


class ManagerError(RuntimeError):
    """A Manager tool failed; the message carries its command and output."""


def _run(cmd: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)
    if proc.returncode != 0:
        stderr = "\n".join(line for line in proc.stderr.splitlines() if pack._PIP_NOISE not in line)
        raise ManagerError(f"[ACE++ manager] failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                           f"{proc.stdout[-4000:]}{stderr[-4000:]}")
    return proc


# ----------------------------------------------------------------------------------------------- the venv
def manager_python() -> Path:
    """The python of Manager's cached venv (built on first use from PINS)."""
    home = pack.cache_dir() / "manager"
    venv = home / "venv"
    python = venv / "bin" / "python"
    stamp = venv / ".acepp-stamp"
    want = "\n".join(PINS)
    with pack._locked(home / ".lock"):
        if not (python.is_file() and stamp.is_file() and stamp.read_text() == want):
            t0 = time.perf_counter()
            print(f"[ACE++ manager] installing {MANAGER} into {venv} (first run on this machine)", flush=True)
            shutil.rmtree(venv, ignore_errors=True)
            _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)])
            _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", *PINS])
            _run([str(python), "-m", "pip", "check", "--disable-pip-version-check"])
            stamp.write_text(want)
            print(f"[ACE++ manager] ready in {time.perf_counter() - t0:.1f} s", flush=True)
    return python


# ------------------------------------------------------------------------------------------ a git checkout
def make_repo(bare: Path, root: Path = ROOT) -> Path:
    """A bare git repository at ``bare`` with one commit holding the checkout's git-visible files (tracked plus
    untracked-but-not-ignored, as tools/pack.py packs them): what a clone of the pushed branch would give."""
    bare = Path(bare)
    with tempfile.TemporaryDirectory(prefix="acepp-repo-") as tmp:
        work = Path(tmp) / "work"
        for name in pack.git_visible_files(root):
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target, follow_symlinks=False)
        git = ["git", "-C", str(work), "-c", "user.name=ACE++ tests", "-c", "user.email=tests@invalid",
               "-c", "core.autocrlf=false", "-c", "commit.gpgsign=false"]
        _run(git[:3] + ["init", "-q", "-b", "main"])
        _run(git + ["add", "--all", "--force", "."])
        _run(git + ["commit", "-q", "-m", "the checkout's git-visible files"])
        _run(["git", "clone", "-q", "--bare", str(work), str(bare)])
    return bare


def file_url(bare: Path) -> str:
    """The URL cm-cli accepts for a local repository: ``file://localhost/...`` (a scheme and a host)."""
    return "file://localhost" + Path(bare).resolve().as_posix()


# ------------------------------------------------------------------------------------------------ scanner
def scanner_file() -> Path:
    return shared_dir() / "comfyui" / "manager_scanner.py"


def scanner_python() -> Path:
    """This interpreter when it can import what the scanner imports, else Manager's venv."""
    if all(importlib.util.find_spec(name) is not None for name in SCANNER_MODULES):
        return Path(sys.executable)
    return manager_python()


_SCAN = r"""
import importlib, json, os, sys, tempfile
from pathlib import Path

scanner_name, out_path, *folders = sys.argv[1:]
scanner = importlib.import_module(scanner_name)  # its folder is this process's PYTHONPATH (scan)
report = {"scanner_version": scanner.SCANNER_VERSION, "folders": {}}
for folder in folders:
    code, _ = scanner.extract_nodes_from_repo(Path(folder), force_rescan=True)
    # gen_json: the whole map as Manager publishes it, over a temp_dir holding this one pack
    with tempfile.TemporaryDirectory() as tmp:
        name = "acepp_pack"
        os.symlink(os.path.abspath(folder), os.path.join(tmp, name))
        url = "https://example.invalid/acepp/" + name
        scanner.temp_dir = tmp
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            scanner.gen_json({name: (url, "ACE++", None, None)}, scan_only_mode=True, force_rescan=True)
            with open("extension-node-map.json", encoding="utf-8") as f:
                entry = json.load(f).get(url, [[], {}])
        finally:
            os.chdir(cwd)
    report["folders"][folder] = {"code": sorted(code), "map": sorted(entry[0])}
with open(out_path, "w", encoding="utf-8") as f:
    json.dump(report, f)
"""


def scan(folders: list[Path], scanner: Path | None = None) -> dict:
    """``{"scanner_version": ..., "folders": {str(folder): {"code": [...], "map": [...]}}}``: what Manager's scanner
    maps for each folder (one process for all of them)."""
    scanner = Path(scanner or scanner_file())
    if not scanner.is_file():
        raise ManagerError(f"[ACE++ manager] no ComfyUI-Manager scanner at {scanner}: set ACEPP_SHARED to the "
                           "folder holding comfyui/manager_scanner.py")
    python = scanner_python()
    with tempfile.TemporaryDirectory(prefix="acepp-scan-") as tmp:
        out = Path(tmp) / "scan.json"
        _run([str(python), "-c", _SCAN, scanner.stem, str(out), *(str(Path(f).resolve()) for f in folders)],
             cwd=tmp, env={**os.environ, "PYTHONPATH": str(scanner.parent), "PYTHONDONTWRITEBYTECODE": "1"})
        report = json.loads(out.read_text())
    report["folders"] = {str(f): report["folders"][str(Path(f).resolve())] for f in folders}
    return report


# ---------------------------------------------------------------------------------------------- installer
# Manager's code against ComfyUI's folder_paths (ComfyUI's folder is the PYTHONPATH of Manager's Python, see
# _manager_env) with --base-directory = COMFYUI_FOLDERS_BASE_PATH, then argv.
_PRELUDE = r"""
import os, sys
from comfy.cli_args import args
args.base_directory = os.environ["COMFYUI_FOLDERS_BASE_PATH"]
"""
_CM_CLI = _PRELUDE + r"""
from cm_cli import main
sys.argv = ["cm-cli", *sys.argv[1:]]
sys.exit(main())
"""
_EXTRACT = _PRELUDE + r"""
from comfyui_manager.common import manager_util
archive, install_path = sys.argv[1:]
os.makedirs(install_path, exist_ok=True)
extracted = manager_util.extract_package_as_zip(archive, install_path)
if extracted is None:
    sys.exit(f"not a zip: {archive}")
with open(os.path.join(install_path, ".tracking"), "w", encoding="utf-8") as f:
    f.write("\n".join(extracted))
"""


def _manager_env(base: Path) -> dict:
    base = Path(base).resolve()
    (base / "custom_nodes").mkdir(parents=True, exist_ok=True)
    return {**os.environ, "COMFYUI_PATH": str(comfy_root()), "COMFYUI_FOLDERS_BASE_PATH": str(base),
            "PYTHONPATH": str(comfy_root()), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


def cm_cli(args: list[str], base: Path, timeout: float = 300) -> str:
    """Run ``cm-cli ARGS`` on the scratch base; its output (stdout + stderr)."""
    proc = _run([str(manager_python()), "-c", _CM_CLI, *args], timeout=timeout, env=_manager_env(base), cwd=base)
    return proc.stdout + proc.stderr


def install_git(url: str, base: Path) -> Path:
    """``cm-cli install --no-deps URL`` into ``base/custom_nodes``; the installed folder. cm-cli exits 0 even when
    an install fails, so success is read from its output and the folder."""
    folder = Path(base) / "custom_nodes" / Path(url.rstrip("/")).name.removesuffix(".git")
    log = cm_cli(["install", "--no-deps", url], base)
    if "[INSTALLED]" not in log or not (folder / ".git").is_dir():
        raise ManagerError(f"[ACE++ manager] cm-cli did not install {url} into {folder}:\n{log[-4000:]}")
    return folder


def registry_id(archive: Path) -> str:
    """The Registry ID of an archive: ``[project] name`` of its pyproject.toml."""
    import tomllib  # Python 3.11+, as the runtime venv

    with zipfile.ZipFile(archive) as zf:
        return tomllib.loads(zf.read("pyproject.toml").decode("utf-8"))["project"]["name"]


def install_archive(archive: Path, base: Path) -> Path:
    """A Registry archive into ``base/custom_nodes/<id>`` through Manager's own Registry-install steps (the
    download aside); the installed folder."""
    folder = Path(base) / "custom_nodes" / registry_id(archive)
    if folder.exists():
        raise ManagerError(f"[ACE++ manager] {folder} exists (Manager refuses too)")
    _run([str(manager_python()), "-c", _EXTRACT, str(Path(archive).resolve()), str(folder.resolve())],
         env=_manager_env(base), cwd=base)
    return folder


def snapshot(base: Path) -> dict:
    """``cm-cli save-snapshot --no-full-snapshot``: the custom nodes Manager sees in ``base`` (git_custom_nodes:
    URL -> commit; cnr_custom_nodes: Registry ID -> version; file_custom_nodes)."""
    out = Path(base).resolve() / "acepp-snapshot.json"
    cm_cli(["save-snapshot", "--no-full-snapshot", "--output", str(out)], base)
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("venv", help="build (or reuse) Manager's venv; print its python")
    p = sub.add_parser("repo", help="this checkout's git-visible files as a bare repository")
    p.add_argument("bare", type=Path)
    p = sub.add_parser("scan", help="Manager's scanner on folders")
    p.add_argument("folders", type=Path, nargs="+")
    p = sub.add_parser("install-git", help="cm-cli install --no-deps URL into BASE/custom_nodes")
    p.add_argument("url")
    p.add_argument("base", type=Path)
    p = sub.add_parser("install-archive", help="a Registry archive into BASE/custom_nodes/<id>, as Manager does")
    p.add_argument("archive", type=Path)
    p.add_argument("base", type=Path)
    p = sub.add_parser("snapshot", help="cm-cli save-snapshot of BASE")
    p.add_argument("base", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "venv":
            print(manager_python())
        elif args.command == "repo":
            bare = make_repo(args.bare)
            print(file_url(bare))
        elif args.command == "scan":
            print(json.dumps(scan(args.folders), indent=1))
        elif args.command == "install-git":
            print(install_git(args.url, args.base))
        elif args.command == "install-archive":
            print(install_archive(args.archive, args.base))
        else:
            print(json.dumps(snapshot(args.base), indent=1))
    except ManagerError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
