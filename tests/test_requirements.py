"""requirements.txt can never move torch: pip resolves it against a ComfyUI that already has an older torch.

Each case makes a throwaway virtual environment (with pip) holding a stand-in torch: only a
``torch-X.dist-info`` (METADATA, RECORD, INSTALLER), so pip sees that torch as installed and nothing is
downloaded. ``pip install --dry-run --report`` then resolves requirements.txt against the real index
(reachable here and in CI; pip's own cache is the only thing kept) and the report must not install
anything of the torch family. A control case shows the stand-in is taken seriously: an unbounded kornia
*does* replace torch 2.4.1 (kornia 0.9 needs torch >= 2.5.1).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TORCH_FAMILY = re.compile(r"^(torch|torchvision|torchaudio|triton|pytorch-triton.*|nvidia-.*)$")
_PIP_NOISE = "is ignored: it is neither a file nor a directory"


def _venv_with_stand_in_torch(where: Path, torch_version: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, capture_output=True)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    info = Path(purelib) / f"torch-{torch_version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {torch_version}\n"
                                   "Summary: stand-in for the tests: metadata only\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("".join(f"{info.name}/{n},,\n" for n in ("METADATA", "INSTALLER", "RECORD")))
    return python


def _dry_run(python: Path, *requirements: str) -> list[dict]:
    proc = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
                           "--report", "-", *requirements], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        stderr = "\n".join(line for line in proc.stderr.splitlines() if _PIP_NOISE not in line)
        pytest.fail(f"pip could not resolve {requirements}:\n{stderr}")
    return json.loads(proc.stdout)["install"]


def _names(report: list[dict]) -> dict[str, str]:
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in report}


@pytest.mark.parametrize("torch_version", ["2.4.1", "2.1.2"])
def test_requirements_never_move_torch(tmp_path, torch_version):
    python = _venv_with_stand_in_torch(tmp_path / "venv", torch_version)
    installs = _names(_dry_run(python, "-r", str(ROOT / "requirements.txt")))
    moved = sorted(name for name in installs if TORCH_FAMILY.match(name))
    assert not moved, f"with torch {torch_version} installed, pip would install {moved}: {installs}"
    assert {"einops", "kornia"} <= set(installs), installs  # the stand-in venv has neither: both resolve


@pytest.mark.skipif(sys.version_info < (3, 11), reason="kornia 0.9 (the torch-replacing one) needs Python 3.11")
def test_control_an_unbounded_kornia_replaces_torch_2_4(tmp_path):
    python = _venv_with_stand_in_torch(tmp_path / "venv", "2.4.1")
    installs = _names(_dry_run(python, "kornia>=0.7.1"))
    assert "torch" in installs and installs["torch"] != "2.4.1", installs


def test_runtime_lock_satisfies_requirements():
    from packaging.requirements import Requirement

    pins = dict(line.split("==", 1) for line in (ROOT / "tools" / "runtime.lock").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {re.sub(r"[-_.]+", "-", k).lower(): v.strip() for k, v in pins.items()}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            version = pins.get(re.sub(r"[-_.]+", "-", req.name).lower())
            assert version and req.specifier.contains(version), f"runtime.lock has {req.name} {version}: not {req}"


@pytest.mark.parametrize("bound", ["oldest", "newest"])
def test_lcu_passes_on_every_kornia_the_requirements_allow(tmp_path, bound):
    """The pack's maths runs on the oldest and the newest kornia that requirements.txt admits (the runtime venv
    holds the newest one for this Python; a user's ComfyUI may hold any): lcu's own tests, run again with that
    kornia first on the path."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    (spec,) = [Requirement(line).specifier for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line.strip().startswith("kornia")]
    index = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "kornia", "--disable-pip-version-check"],
                           capture_output=True, text=True, timeout=120).stdout
    available = [Version(v) for v in index.split("Available versions:")[1].splitlines()[0].split(",")]
    allowed = sorted(v for v in spec.filter(available) if not v.is_prerelease)
    version = allowed[0] if bound == "oldest" else allowed[-1]
    target = tmp_path / "kornia"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
                           "--target", str(target), f"kornia=={version}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    env = {**__import__("os").environ, "PYTHONPATH": str(target)}
    check = subprocess.run([sys.executable, "-c", "import kornia; print(kornia.__version__)"], env=env,
                           capture_output=True, text=True)
    assert check.stdout.strip() == str(version), check.stderr
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(ROOT / "tests" / "lcu")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"lcu tests fail on kornia {version}:\n{proc.stdout[-3000:]}"
