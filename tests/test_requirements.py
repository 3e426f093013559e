"""requirements.txt moves neither torch nor kornia in a ComfyUI that satisfies its own requirements.

ComfyUI's own requirements.txt (0.3.75 and v0.28.2 alike) holds ``torch``, ``einops`` and ``kornia>=0.7.1``, so a
fresh ComfyUI gets the newest kornia (0.9.0 today, which needs torch >= 2.5.1 and Python >= 3.11) and an older one
keeps whatever kornia >= 0.7.1 it has. The pack's kornia line admits every kornia that ComfyUI's admits (the bound
``<0.9`` it had before made pip, and ComfyUI-Manager, which installs requirements.txt line by line with
``pip install <line>``, *downgrade* kornia 0.9 to 0.8.3: the control below shows it).

Each environment case is a throwaway virtual environment (no pip of its own: this interpreter's pip acts on it
through ``pip --python``) holding metadata-only stand-ins: a
``<name>-<version>.dist-info`` (METADATA, RECORD, INSTALLER) per package, so pip sees them as installed and nothing
is downloaded. The kornia stand-in carries the real ``Requires-Dist`` of that kornia release (read from the index
by ``pip install --dry-run --report``), so pip checks it against the stand-in torch as it would the real thing.
``pip install --dry-run --report -r requirements.txt`` then resolves against the real index (reachable here and
in CI; pip's own cache is the only thing kept) and must install nothing at all.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from aceplusplus.tools import pack

ROOT = Path(__file__).resolve().parent.parent
TORCH_FAMILY = re.compile(r"^(torch|torchvision|torchaudio|triton|pytorch-triton.*|nvidia-.*)$")
# Versions of kornia's other dependencies in the stand-in environments (each checked against kornia's real
# Requires-Dist when a case is built, so a change of kornia's metadata fails loudly here).
OTHER_STAND_INS = {"kornia-rs": "0.2.0", "numpy": "2.4.6", "packaging": "26.3"}
# Environments a ComfyUI that satisfies its own requirements can have: the newest (what a fresh install resolves
# today), the newest kornia for torch 2.4 (kornia 0.9 needs torch >= 2.5.1), and the oldest kornia ComfyUI admits.
ENVIRONMENTS = {
    "torch 2.13.0 + kornia 0.9.0": ("2.13.0", "0.9.0"),
    "torch 2.4.1 + kornia 0.8.3": ("2.4.1", "0.8.3"),
    "torch 2.1.2 + kornia 0.7.1": ("2.1.2", "0.7.1"),
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(path: Path) -> list[Requirement]:
    return [Requirement(line.split("#", 1)[0].strip()) for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def _pack_requirement(name: str) -> Requirement:
    (req,) = [r for r in _requirement_lines(ROOT / "requirements.txt") if _normal(r.name) == name]
    return req


def _pip(python: Path | str, *args: str) -> subprocess.CompletedProcess:
    """This interpreter's pip acting on ``python``'s environment (``pip --python``: the venvs need no pip)."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args, "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=300)


def _dry_run(python: Path | str, *requirements: str) -> list[dict]:
    proc = _pip(python, "install", "--dry-run", "--quiet", "--report", "-", *requirements)
    if proc.returncode != 0:
        stderr = "\n".join(line for line in proc.stderr.splitlines() if pack._PIP_NOISE not in line)
        pytest.fail(f"pip could not resolve {requirements}:\n{stderr}")
    return json.loads(proc.stdout)["install"]


def _names(report: list[dict]) -> dict[str, str]:
    return {_normal(item["metadata"]["name"]): item["metadata"]["version"] for item in report}


@functools.lru_cache(maxsize=None)
def _kornia_releases() -> tuple[Version, ...]:
    """Every kornia release on the index (``pip index versions``)."""
    index = _pip(sys.executable, "index", "versions", "kornia").stdout
    return tuple(Version(v.strip()) for v in index.split("Available versions:")[1].splitlines()[0].split(","))


@functools.lru_cache(maxsize=None)
def _real_requires(name: str, version: str) -> list[str]:
    """Requires-Dist of a release on the index (extras left out), from pip's report: metadata only."""
    (item,) = _dry_run(sys.executable, "--no-deps", "--ignore-installed", f"{name}=={version}")
    requires = [Requirement(r) for r in item["metadata"].get("requires_dist", [])]
    return [str(r) for r in requires if r.marker is None or r.marker.evaluate({"extra": ""})]


def _venv_with_stand_ins(where: Path, packages: dict[str, tuple[str, list[str]]]) -> Path:
    """A venv whose site-packages holds metadata-only stand-ins: {name: (version, [Requires-Dist, ...])}."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, capture_output=True)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    for name, (version, requires) in packages.items():
        info = Path(purelib) / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                       "Summary: stand-in for the tests: metadata only\n"
                                       + "".join(f"Requires-Dist: {r}\n" for r in requires))
        (info / "INSTALLER").write_text("pip\n")
        (info / "RECORD").write_text("".join(f"{info.name}/{n},,\n" for n in ("METADATA", "INSTALLER", "RECORD")))
    return python


def _comfyui_environment(where: Path, torch: str, kornia: str) -> Path:
    """What ComfyUI's requirements leave: torch, einops, kornia (with its real dependencies), as stand-ins."""
    requires = _real_requires("kornia", kornia)
    packages = {"torch": (torch, []), "einops": ("0.8.1", []), "kornia": (kornia, requires)}
    for line in map(Requirement, requires):
        name = _normal(line.name)
        if name == "torch":
            assert line.specifier.contains(torch), f"kornia {kornia} needs {line}: not a consistent environment"
            continue
        assert name in OTHER_STAND_INS and line.specifier.contains(OTHER_STAND_INS[name]), \
            f"kornia {kornia} needs {line}: give OTHER_STAND_INS a version that satisfies it"
        packages[name] = (OTHER_STAND_INS[name], [])
    python = _venv_with_stand_ins(where, packages)
    check = _pip(python, "check")
    assert check.returncode == 0, f"the stand-in environment is inconsistent:\n{check.stdout}{check.stderr}"
    return python


@pytest.mark.skipif(sys.version_info < (3, 11), reason="kornia 0.8.3 and 0.9 need Python 3.11")
@pytest.mark.parametrize("case", list(ENVIRONMENTS))
def test_requirements_install_nothing_in_a_comfyui_environment(tmp_path, case):
    torch, kornia = ENVIRONMENTS[case]
    python = _comfyui_environment(tmp_path / "venv", torch, kornia)
    installs = _names(_dry_run(python, "-r", str(ROOT / "requirements.txt")))
    moved = sorted(name for name in installs if TORCH_FAMILY.match(name) or name == "kornia")
    assert not moved, f"with {case}, pip would install {moved}: {installs}"
    assert not installs, f"with {case}, requirements.txt would still install {installs}"


def test_requirements_admit_every_kornia_comfyui_admits(comfy_root):
    """The pack's kornia line admits every version the ComfyUI under test admits (so it never asks pip to replace a
    kornia that ComfyUI accepts), and the pack names nothing of the torch family."""
    ours = _requirement_lines(ROOT / "requirements.txt")
    assert not [r for r in ours if TORCH_FAMILY.match(_normal(r.name))], ours
    (comfy_kornia,) = [r for r in _requirement_lines(comfy_root / "requirements.txt") if _normal(r.name) == "kornia"]
    refused = [str(v) for v in comfy_kornia.specifier.filter(_kornia_releases())
               if v not in _pack_requirement("kornia").specifier]
    assert not refused, f"ComfyUI ({comfy_kornia}) admits kornia {refused}, requirements.txt does not"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="kornia 0.9 needs Python 3.11")
def test_control_the_old_kornia_bound_downgrades_kornia_0_9(tmp_path):
    """The stand-ins are taken seriously, and why the bound went: ``kornia>=0.7.1,<0.9`` downgrades 0.9.0."""
    python = _comfyui_environment(tmp_path / "venv", *ENVIRONMENTS["torch 2.13.0 + kornia 0.9.0"])
    installs = _names(_dry_run(python, "kornia>=0.7.1,<0.9"))
    assert installs.get("kornia", "0.9.0") != "0.9.0" and Version(installs["kornia"]) < Version("0.9"), installs


@pytest.mark.skipif(sys.version_info < (3, 11), reason="kornia 0.9 (the torch-replacing one) needs Python 3.11")
def test_control_without_kornia_comfyuis_own_kornia_line_replaces_torch_2_4(tmp_path):
    """Outside the promise: an environment that does not satisfy ComfyUI's requirements (no kornia at all) and has
    torch 2.4.1 gets torch replaced by ``kornia>=0.7.1``, ComfyUI's own line and the pack's alike (pip picks kornia
    0.9, which needs torch >= 2.5.1). It shows the stand-in torch is taken seriously."""
    python = _venv_with_stand_ins(tmp_path / "venv", {"torch": ("2.4.1", [])})
    installs = _names(_dry_run(python, str(_pack_requirement("kornia"))))
    assert "torch" in installs and installs["torch"] != "2.4.1", installs


def test_runtime_locks_satisfy_requirements():
    locks = sorted((ROOT / "tools").glob("runtime*.lock"))
    assert locks, "no tools/runtime*.lock"
    for lock in locks:
        pins = dict(line.split("==", 1) for line in lock.read_text().splitlines()
                    if "==" in line and not line.startswith("#"))
        pins = {_normal(k): v.strip() for k, v in pins.items()}
        for req in _requirement_lines(ROOT / "requirements.txt"):
            version = pins.get(_normal(req.name))
            assert version and req.specifier.contains(version), f"{lock.name} has {req.name} {version}: not {req}"


@pytest.mark.parametrize("bound", ["oldest", "newest"])
def test_lcu_passes_on_every_kornia_the_requirements_allow(tmp_path, bound):
    """The pack's maths runs on the oldest and the newest kornia that requirements.txt admits (a user's ComfyUI may
    hold any): lcu's own tests, run again with that kornia first on the path (installed without dependencies: the
    runtime's torch, kornia-rs and numpy satisfy every kornia admitted here)."""
    allowed = sorted(v for v in _pack_requirement("kornia").specifier.filter(_kornia_releases()) if not v.is_prerelease)
    version = allowed[0] if bound == "oldest" else allowed[-1]
    target = tmp_path / "kornia"
    proc = _pip(sys.executable, "install", "--quiet", "--no-deps", "--target", str(target), f"kornia=={version}")
    assert proc.returncode == 0, proc.stderr
    # The regions round trip at 40 cases instead of 320: this run is about kornia's API, the main run covers the rest.
    # That kornia first on the path, then the import path the suite runs with (the pack as `aceplusplus`).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")])),
           "ACEPP_REGION_CASES": "40"}
    check = subprocess.run([sys.executable, "-c", "import kornia; print(kornia.__version__)"], env=env,
                           capture_output=True, text=True)
    assert check.stdout.strip() == str(version), check.stderr
    proc = subprocess.run([sys.executable, "-P", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(ROOT / "tests" / "lcu")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"lcu tests fail on kornia {version}:\n{proc.stdout[-3000:]}"
