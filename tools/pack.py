"""Build the archive users get from the Comfy Registry, and install it the way ComfyUI-Manager does.

    python tools/pack.py build OUT.zip            # the Registry archive of this checkout
    python tools/pack.py install OUT.zip DEST     # unpack into DEST (a custom_nodes/<folder>) + requirements
    python tools/pack.py prepare WORKDIR          # both: WORKDIR/node.zip, WORKDIR/ComfyUI/custom_nodes/aceplusplus-lcu

Packer: the real one. ``build`` runs ``comfy node pack`` of comfy-cli (pinned below) from its own virtual
environment in ``$ACEPP_CACHE/packer`` (created on first use, about 20 s; never the runtime venv, whose
pins it would fight). comfy-cli 1.23.0 (``comfy_cli/file_utils.py: zip_files``) zips the output of
``git ls-files`` run in the current directory, minus paths matching ``.comfyignore`` (gitwildmatch
patterns through ``pathspec``), plus any ``[tool.comfy] includes``; it writes ``node.zip`` in the
current directory. ``comfy node publish`` uploads that same zip.

Dev flow: the real packer only sees git-*tracked* files. So that a new file is tested before it is
committed, ``build`` copies every git-visible file of the checkout (``git ls-files --cached --others
--exclude-standard``: tracked plus untracked-but-not-ignored, minus deleted ones) into a scratch
directory, makes a throwaway git repository there that tracks exactly those files, and runs the packer
in it. On a clean clone (CI) that set is exactly the tracked files, i.e. what the Registry packs. The
checkout's own ``.git`` is only read.

Install: like ComfyUI-Manager installing a Registry version, the zip is extracted into
``custom_nodes/<folder>`` (a folder name unlike the repository's: nothing may depend on it), then the
pack's ``requirements.txt`` is resolved by pip with ``tools/constraints.txt`` in the runtime's python.
The runtime virtual environment belongs to ``tools/runtime.sh`` and is shared, so pip runs with
``--dry-run``: when it would install nothing (the normal case) that *is* the install; otherwise the
changes pip wants are printed as a warning (the lock disagrees with requirements.txt: run
tools/relock.sh) and the shared environment is left alone.
"""
from __future__ import annotations

import argparse
import contextlib
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
COMFY_CLI = "comfy-cli==1.23.0"
INSTALL_FOLDER = "aceplusplus-lcu"  # the Registry name; deliberately not the repository's folder name
# This machine's pip.conf names local package folders that pip warns about once per package.
_PIP_NOISE = "is ignored: it is neither a file nor a directory"


def cache_dir() -> Path:
    value = os.environ.get("ACEPP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "aceplusplus")
    return Path(value)


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        stderr = "\n".join(line for line in proc.stderr.splitlines() if _PIP_NOISE not in line)
        raise SystemExit(f"[ACE++ pack] failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{stderr}")
    return proc


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock file, so that two concurrent test runs do not build the packer venv together."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def packer() -> Path:
    """The ``comfy`` executable of the cached packer venv (built on first use)."""
    home = cache_dir() / "packer"
    venv = home / "venv"
    comfy = venv / "bin" / "comfy"
    stamp = venv / ".acepp-stamp"
    with _locked(home / ".lock"):
        if not (comfy.is_file() and stamp.is_file() and stamp.read_text() == COMFY_CLI):
            t0 = time.perf_counter()
            print(f"[ACE++ pack] installing {COMFY_CLI} into {venv} (first run on this machine)", flush=True)
            shutil.rmtree(venv, ignore_errors=True)
            base_python = getattr(sys, "_base_executable", sys.executable)
            _run([base_python, "-m", "venv", str(venv)])
            _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  COMFY_CLI])
            stamp.write_text(COMFY_CLI)
            print(f"[ACE++ pack] packer ready in {time.perf_counter() - t0:.1f} s", flush=True)
    return comfy


def git_visible_files(root: Path = ROOT) -> list[str]:
    """Tracked plus untracked-but-not-ignored files of the checkout that exist on disk (paths relative to root)."""
    out = _run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]).stdout
    names = sorted({name for name in out.split("\0") if name})
    return [name for name in names if (root / name).is_file() or (root / name).is_symlink()]


def build(out_zip: Path, root: Path = ROOT) -> Path:
    """Build the Registry archive of ``root``'s git-visible files into ``out_zip``."""
    comfy = packer()
    out_zip = Path(out_zip).resolve()
    with tempfile.TemporaryDirectory(prefix="acepp-stage-") as tmp:
        stage = Path(tmp) / "pack"
        for name in git_visible_files(root):
            target = stage / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target, follow_symlinks=False)
        git = ["git", "-C", str(stage), "-c", "core.autocrlf=false"]
        _run(git[:3] + ["init", "-q"])
        _run(git + ["add", "--all", "--force", "."])  # exactly the copied files, whatever .gitignore says
        home = Path(tmp) / "home"  # comfy-cli keeps its config.ini under $HOME: not the user's
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_CACHE_HOME": str(home / ".cache")}
        user_gitconfig = Path(os.path.expanduser("~/.gitconfig"))
        if user_gitconfig.is_file():
            env.setdefault("GIT_CONFIG_GLOBAL", str(user_gitconfig))
        _run([str(comfy), "--skip-prompt", "--no-enable-telemetry", "node", "pack"], cwd=stage, env=env,
             stdin=subprocess.DEVNULL)
        out_zip.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(stage / "node.zip"), out_zip)
    return out_zip


def _pip_dry_run(python: str, requirements: Path, constraints: Path) -> list[dict]:
    proc = _run([python, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
                 "--report", "-", "-r", str(requirements), "-c", str(constraints)])
    text = proc.stdout.strip()
    return json.loads(text).get("install", []) if text else []


def install(archive: Path, dest: Path, python: str | None = None) -> dict:
    """Extract ``archive`` into ``dest`` (must not exist or be empty) and resolve its requirements."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"[ACE++ pack] {dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    python = python or os.environ.get("ACEPP_PYTHON") or sys.executable
    t0 = time.perf_counter()
    wanted = _pip_dry_run(python, dest / "requirements.txt", ROOT / "tools" / "constraints.txt")
    seconds = time.perf_counter() - t0
    if wanted:
        changes = ", ".join(f"{item['metadata']['name']} {item['metadata']['version']}" for item in wanted)
        print(f"[ACE++ pack] WARNING: the runtime does not satisfy requirements.txt; pip would install {changes}. "
              "The runtime venv is left as its lock (tools/runtime-<core>.lock) made it: run tools/relock.sh <core>.",
              flush=True)
    return {"requirements_seconds": seconds, "pip_would_install": [i["metadata"]["name"] for i in wanted]}


def prepare(workdir: Path) -> tuple[Path, Path]:
    """Build ``workdir/node.zip`` and install it into ``workdir/ComfyUI/custom_nodes/aceplusplus-lcu``."""
    workdir = Path(workdir).resolve()
    t0 = time.perf_counter()
    archive = build(workdir / "node.zip")
    t_build = time.perf_counter() - t0
    dest = workdir / "ComfyUI" / "custom_nodes" / INSTALL_FOLDER
    t1 = time.perf_counter()
    info = install(archive, dest)
    t_install = time.perf_counter() - t1
    with zipfile.ZipFile(archive) as zf:
        count = sum(1 for i in zf.infolist() if not i.is_dir())
    print(f"[ACE++ pack] archive {archive.stat().st_size / 1024:.0f} KiB, {count} files, built in {t_build:.1f} s; "
          f"installed in {t_install:.1f} s (requirements {info['requirements_seconds']:.1f} s) at {dest}", flush=True)
    return archive, dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="build the Registry archive")
    p.add_argument("out_zip", type=Path)
    p = sub.add_parser("install", help="install an archive as ComfyUI-Manager does")
    p.add_argument("archive", type=Path)
    p.add_argument("dest", type=Path, help="the pack's folder, e.g. ComfyUI/custom_nodes/aceplusplus-lcu")
    p = sub.add_parser("prepare", help="build + install into a work directory; prints the two paths")
    p.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(args.out_zip))
    elif args.command == "install":
        install(args.archive, args.dest)
    else:
        archive, dest = prepare(args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
