"""GPU check (issue 16, part 7): full-size random-weight FLUX.1-Fill and ACE++ FFT models through the pack's
bundled workflows on ComfyUI v0.28.2 with Dynamic VRAM, reporting per run: exceptions, whether the sampled
ModelPatcher stayed dynamic, seconds per step, peak VRAM, and the pack's pre/post time as a share of the job.

    bash tools/gpu_check.sh --prepare                                  here: the tarball + wheels into .gpu_check/
    bash tools/gpu_check.sh                                            on the GPU machine (one H200: ~4 min)
    python tools/gpu_check.py --comfyui DIR_OR_TARBALL [--python PY]   the same, by hand
    python tools/gpu_check.py --tiny                                   anywhere, CPU included (1-3 min)

Development tooling only (tools/ is not shipped). docs/BENCHMARKS.md, "GPU check", has the device command.

What it does:
1. Preflight: the server's Python (--python, default $ACEPP_PYTHON, else this interpreter) must import what this
   ComfyUI's requirements.txt lists plus the pack's einops and kornia, less what the check does without: the
   frontend, template and docs packages (the server runs with --front-end-root on an empty folder), alembic,
   blake3, simpleeval, spandrel, pydantic-settings, PyOpenGL and comfy-angle (ComfyUI only warns). PyAV (av) is
   imported at start-up and v0.28.2's LoadImage decodes through it, but its wheel is too large to carry to the GPU
   machine: where it is missing, an import-only stand-in goes on the server's path and LoadImage becomes the
   probe's Pillow loader (said so in the report). Anything else missing stops the check (exit 3) with the list.
2. Models, random weights (tools/fixtures.py's specs; tensors drawn on the GPU when there is one), in --work/models
   (default: a temporary folder in /dev/shm when the models fit there, else on the disk): FLUX.1-Fill (hidden
   3072, 19 double + 38 single blocks, 384 inputs, guidance_in, CLIP-L-wide txt_in, bf16: 11.9 B params, 22 GiB;
   --tiny: 1 double + 0 single blocks), a kohya LoRA over all of its blocks (rank 16; 64 for portrait) for every
   LoRA the chosen workflows load, and the suite's tiny CLIP-L and TAEF1-shaped VAE. The model file has
   img_in.weight last behind a padded header, so the ACE++ FFT model (the same weights, 448 inputs) is made from
   it in place after the LoRA runs (header and img_in rewritten, file renamed): one 22 GiB write, not two.
3. ComfyUI (--comfyui: a ComfyUI folder, or the comfyui-0.28.2.tar.gz to unpack into --work; default
   $ACEPP_COMFY_ROOT) starts with the pack and tools/gpu_check_probe linked into custom_nodes and no flag that
   turns Dynamic VRAM off (--cpu only without a GPU or with --cpu).
4. Per workflow (default local_editing, then fft_editing): a 1-step warm-up prompt (loads the model and LoRA;
   reported apart), then one prompt per token budget (ACEPP_CanvasBuilder's token_budget: 2048, 4096, 6144;
   --tiny: 64, 128, 192) with --steps steps (5; --tiny 2), each on a freshly uploaded 1600x1600 edit image
   (--tiny 256x256) so that nothing below the loaders comes from ComfyUI's cache. DualCLIPLoader becomes
   CLIPLoader(clip_l) exactly as the client swaps it when the server has no T5-XXL. Between workflows POST /free
   unloads everything, so each run's peaks are its own workflow's.
5. The report (stdout, and report.txt, report.json and comfyui.log in --out, default out/gpu_check): per run the
   exception or none; "dynamic": whether the ModelPatcher KSampler sampled was dynamic (the probe wraps
   CFGGuider.inner_set_conds and outer_sample: v0.16+ swaps to get_non_dynamic_delegate() when a conditioning
   carries hooks); seconds per step (mean of steps 2..n; step 1 apart: it can load weights); peak VRAM (PyTorch's
   max_memory_allocated over sampling and over the prompt, max_memory_reserved, and the most device memory in
   use from mem_get_info, which also counts what comfy-aimdo maps outside PyTorch's allocator); the pack's
   pre/post time: ACEPP_CanvasBuilder + the ACE++ conditioning node (it runs ComfyUI's VAE encode) + ACEPP_Stitch
   against the whole prompt (the probe's time, and ComfyUI's own "Prompt executed in").

Full size, it starts no run past --max-seconds (default 360) and reports the rest as skipped, so that the device
command ends well inside 10 minutes. Exit code: 0 every run finished without an exception, 1 one raised, 2 bad
command line (or no GPU for the full size, or no room for the models), 3 packages missing, 4 the server (or the
pack, or the probe) did not start.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

from aceplusplus.tools.comfy_process import PACK_LINK_NAME

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent

PROBE_DIR = TOOLS / "gpu_check_probe"

PROBE_LINK = "acepp_gpu_check_probe"
PILLOW_LOADER = "ACEPPGPUCheck_LoadImagePillow"  # tools/gpu_check_probe's node
HEADER_SPARE = 256  # bytes of padding in a model file's header, room for the FFT conversion's longer numbers
GIB = 2 ** 30

FULL = {"double": 19, "single": 38, "tokens": (2048, 4096, 6144), "steps": 5, "edit": (1600, 1600),
        "mask": (240, 240, 1360, 1360), "reference": (768, 1024), "max_seconds": 360.0, "job_timeout": 300.0}
TINY = {"double": 1, "single": 0, "tokens": (64, 128, 192), "steps": 2, "edit": (256, 256),
        "mask": (80, 80, 176, 176), "reference": (48, 64), "max_seconds": 0.0, "job_timeout": 300.0}
DEFAULT_WORKFLOWS = ("local_editing", "fft_editing")
LORA_RANK = 16  # the rank of the rank-16 LoRAs; a 64-rank vertical (portrait) keeps its own rank

# requirements.txt names whose import name differs from the distribution name.
IMPORT_NAMES = {"pyyaml": "yaml", "pillow": "PIL", "pyopengl": "OpenGL"}
# What the check does without: ComfyUI only warns (or --front-end-root replaces it).
NOT_NEEDED = {"comfyui_frontend_package", "comfyui_workflow_templates", "comfyui_embedded_docs", "alembic",
              "blake3", "simpleeval", "spandrel", "pydantic_settings", "OpenGL", "comfy_angle"}
STAND_IN = {"av"}  # imported at start-up, used only for video: an import-only stand-in will do
STAND_IN_MODULE = Path(__file__).resolve().parent / "stubs" / "acepp_stand_in.py"
# Imported for real in the preflight (their own dependencies are not in requirements.txt).
IMPORT_CHECK = ("pydantic", "sqlalchemy", "torchsde", "kornia", "comfy_aimdo", "comfy_kitchen")
PACK_NEEDS = ("einops", "kornia")


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------- preflight

PREFLIGHT = r"""
import importlib, importlib.util, json, shutil, sys
need, check = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def absent(name):
    try:
        return importlib.util.find_spec(name) is None
    except Exception:
        return True
out = {"python": sys.version.split()[0], "executable": sys.executable,
       "missing": [m for m in need if absent(m)], "broken": {}}
for name in check:
    if name in out["missing"]:
        continue
    try:
        importlib.import_module(name)
    except Exception as e:
        out["broken"][name] = f"{type(e).__name__}: {e}"
try:
    import torch
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    out["cuda"] = torch.cuda.is_available()
    if out["cuda"]:
        props = torch.cuda.get_device_properties(0)
        out["gpu"] = props.name
        out["gpu_memory"] = props.total_memory
except Exception as e:
    out["torch_error"] = f"{type(e).__name__}: {e}"
print("ACEPP_PREFLIGHT " + json.dumps(out))
"""


def requirement_modules(comfy_root: Path) -> tuple[list[str], list[str]]:
    """(needed import names, stand-in-able import names) from the ComfyUI's requirements.txt plus the pack's."""
    needed, stand_in = [], []
    path = comfy_root / "requirements.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        dist = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].strip()
        module = IMPORT_NAMES.get(dist.lower(), dist.lower().replace("-", "_"))
        if module in NOT_NEEDED:
            continue
        (stand_in if module in STAND_IN else needed).append(module)
    for module in PACK_NEEDS:
        if module not in needed:
            needed.append(module)
    return needed, stand_in


def preflight(python: str, comfy_root: Path) -> dict:
    needed, stand_in = requirement_modules(comfy_root)
    check = [m for m in IMPORT_CHECK if m in needed]
    proc = subprocess.run([python, "-c", PREFLIGHT, json.dumps(needed + stand_in), json.dumps(check)],
                          capture_output=True, text=True, env=dict(os.environ))
    line = next((x for x in proc.stdout.splitlines() if x.startswith("ACEPP_PREFLIGHT ")), None)
    if line is None:
        raise SystemExit(f"[gpu_check] cannot run the server's Python {python}:\n{proc.stderr[-2000:]}")
    info = json.loads(line.split(" ", 1)[1])
    info["stand_in"] = [m for m in stand_in if m in info["missing"]]
    info["missing"] = [m for m in info["missing"] if m not in stand_in]
    return info


def comfy_version(comfy_root: Path) -> str:
    text = (comfy_root / "comfyui_version.py").read_text() if (comfy_root / "comfyui_version.py").is_file() else ""
    found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", text)
    return found.group(1) if found else "unknown"


def resolve_comfy(spec: str | None, work: Path) -> Path:
    """A ComfyUI root from a folder, or from a .tar.gz unpacked into work/comfyui (once)."""
    if not spec:
        raise SystemExit("[gpu_check] no ComfyUI: pass --comfyui DIR (or the comfyui-0.28.2.tar.gz), or source "
                         "tools/runtime.sh with ACEPP_CORE=0.28.2 (ACEPP_COMFY_ROOT)")
    path = Path(spec).expanduser().resolve()
    if path.is_dir():
        if not (path / "main.py").is_file():
            raise SystemExit(f"[gpu_check] {path} has no main.py: not a ComfyUI folder")
        return path
    if not path.is_file():
        raise SystemExit(f"[gpu_check] --comfyui {spec}: no such folder or file")
    target = work / "comfyui"
    root = target / "ComfyUI"
    if not (root / "main.py").is_file():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tarfile.open(path) as tar:
            tar.extractall(target, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(target)
        tops = [p for p in target.iterdir() if (p / "main.py").is_file()]
        if not tops:
            raise SystemExit(f"[gpu_check] {path} holds no ComfyUI folder (no */main.py)")
        if tops[0] != root:
            tops[0].rename(root)
    return root


# --------------------------------------------------------------------------------------------- models

def _lora_verticals() -> dict:
    """nodes/catalog.py's ACE_LORAS: vertical -> file name."""
    from aceplusplus.nodes.catalog import ACE_LORAS

    return {vertical: f.name for vertical, f in ACE_LORAS.items()}


class ModelWriter:
    """Writes safetensors files tensor by tensor from a tools/fixtures.py spec, drawing each tensor on `device`
    (one seeded generator per tensor name) and copying it out, so that a 24 GB model never sits in host memory."""

    def __init__(self, device: str, seed: int, std: float):
        self.device = device
        self.seed = seed
        self.std = std

    def tensor(self, family: str, name: str, shape, init, dtype):
        import torch

        if init == "normal":
            gen = torch.Generator(device=self.device)
            gen.manual_seed((self.seed * 1_000_003 + zlib.crc32(f"{family}/{name}".encode())) % (2 ** 63))
            return torch.empty(shape, dtype=dtype, device=self.device).normal_(0.0, self.std, generator=gen)
        if init == "ones":
            return torch.ones(shape, dtype=dtype, device=self.device)
        if init == "zeros":
            return torch.zeros(shape, dtype=dtype, device=self.device)
        if isinstance(init, (int, float)) and not isinstance(init, bool):
            return torch.full(shape, float(init), dtype=dtype, device=self.device)
        raise ValueError(f"{name}: init {init!r} is not one the GPU check draws")

    def write(self, path: Path, spec: dict, family: str, *, last: str | None = None, std: float) -> int:
        """The file at `path` (written beside it, then renamed); `last` is laid out last. Its size in bytes."""
        import torch

        self.std = std
        names = sorted(n for n in spec if n != last) + ([last] if last else [])
        header, offset = {}, 0
        for name in names:
            shape, _ = spec[name]
            size = 2 * _numel(shape)
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
            offset += size
        header["__metadata__"] = {"acepp_gpu_check": "random weights, for tests only"}
        raw = _padded_header(header)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(raw)))
            f.write(raw)
            for name in names:
                shape, init = spec[name]
                data = self.tensor(family, name, shape, init, torch.bfloat16).contiguous().reshape(-1).view(torch.uint8)
                f.write(data.cpu().numpy().data)
        os.replace(tmp, path)
        return path.stat().st_size


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _padded_header(header: dict) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    size = (len(raw) + HEADER_SPARE + 7) // 8 * 8  # data stays 8-byte aligned
    return raw.ljust(size, b" ")


def read_header(path: Path) -> tuple[int, dict]:
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        return size, json.loads(f.read(size))


def convert_to_fft(fill: Path, fft: Path, writer: ModelWriter, in_channels: int, std: float) -> None:
    """Turns the Fill model file into the FFT model in place: img_in.weight (the last tensor) gets `in_channels`
    inputs, the header is rewritten within its padding, the file is truncated to its new end and renamed."""
    import torch

    size, header = read_header(fill)
    info = header["img_in.weight"]
    start, end = info["data_offsets"]
    if end != max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"):
        raise SystemExit(f"[gpu_check] {fill}: img_in.weight is not the last tensor; rebuild the models")
    shape = [info["shape"][0], in_channels]
    info["shape"], info["data_offsets"] = shape, [start, start + 2 * _numel(shape)]
    header["__metadata__"]["acepp_gpu_check_fft"] = "img_in widened to the FFT model's inputs"
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if len(raw) > size:
        raise SystemExit(f"[gpu_check] {fill}: the header has no room for the FFT conversion")
    writer.std = std
    weight = writer.tensor("flux-fft", "img_in.weight", shape, "normal", torch.bfloat16)
    with open(fill, "r+b") as f:
        f.seek(8)
        f.write(raw.ljust(size, b" "))
        f.seek(8 + size + start)
        f.write(weight.contiguous().reshape(-1).view(torch.uint8).cpu().numpy().data)
        f.truncate(8 + size + start + 2 * _numel(shape))
    del weight
    if writer.device.startswith("cuda"):
        torch.cuda.empty_cache()
    os.replace(fill, fft)


def check_file(path: Path, expect_in: int | None = None) -> None:
    """The file opens with the safetensors library (as ComfyUI does without Dynamic VRAM) and with a plain header
    read (as ComfyUI's own loader does with it), every byte accounted for."""
    from safetensors import safe_open

    size, header = read_header(path)
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    if 8 + size + end != path.stat().st_size:
        raise SystemExit(f"[gpu_check] {path}: header and file size disagree")
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
        if expect_in is not None and f.get_slice("img_in.weight").get_shape()[1] != expect_in:
            raise SystemExit(f"[gpu_check] {path}: img_in.weight does not have {expect_in} inputs")
    if keys != {k for k in header if k != "__metadata__"}:
        raise SystemExit(f"[gpu_check] {path}: the safetensors library sees other tensors than the header")


def build_models(models: Path, cfg: dict, loras: list[str], device: str, lora_ranks: dict) -> dict:
    """The Fill model, the LoRAs, CLIP-L and the VAE in `models`; what was written, with times."""
    import torch

    from aceplusplus.tools import fixtures as fx

    started = time.perf_counter()
    writer = ModelWriter(device, fx.SEED, fx.STD)
    flux = fx.flux_spec(fx.FILL_IN, double_blocks=cfg["double"], single_blocks=cfg["single"])
    params = sum(_numel(shape) for shape, _ in flux.values())
    fill_path = models / "diffusion_models" / fx.FILL_MODEL
    (models / "diffusion_models" / fx.FFT_MODEL).unlink(missing_ok=True)  # made from the Fill file later
    size = writer.write(fill_path, flux, "flux", last="img_in.weight", std=fx.STD)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    flux_seconds = time.perf_counter() - started
    check_file(fill_path, fx.FILL_IN)
    mods = fx.lora_modules(double_blocks=cfg["double"], single_blocks=cfg["single"])
    lora_sizes = {}
    for name in loras:
        rank = lora_ranks.get(name, LORA_RANK)
        spec = fx.lora_spec(rank, mods)
        lora_sizes[name] = writer.write(models / "loras" / name, spec, name, std=fx.STD)
        check_file(models / "loras" / name)
    # The suite's tiny text encoder and VAE, drawn on the CPU exactly as tools/fixtures.py draws them.
    fx._save(fx._materialise(fx.clip_l_spec(), "clip_l", torch.bfloat16), models / "text_encoders" / fx.CLIP_L)
    fx._save(fx._materialise(fx.taef1_spec(), "taef1", torch.float32), models / "vae" / fx.VAE)
    used_before = None
    if device.startswith("cuda"):  # give back what drawing cached; what this process still holds is reported
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info()
        used_before = total - free
    return {"flux_params": params, "flux_bytes": size, "flux_seconds": flux_seconds, "loras": lora_sizes,
            "lora_modules": len(mods), "seconds": time.perf_counter() - started,
            "device_used_before_server": used_before, "writer": writer}


def model_bytes(cfg: dict, loras: list[str]) -> int:
    from aceplusplus.tools import fixtures as fx

    lora_ranks = dict(fx.GOOD_LORAS)
    flux = fx.flux_spec(fx.FFT_IN, double_blocks=cfg["double"], single_blocks=cfg["single"])
    total = sum(2 * _numel(shape) for shape, _ in flux.values())
    mods = fx.lora_modules(double_blocks=cfg["double"], single_blocks=cfg["single"])
    for name in loras:
        total += sum(2 * _numel(shape) for shape, _ in fx.lora_spec(lora_ranks.get(name, LORA_RANK), mods).values())
    return total + 400 * 2 ** 20  # CLIP-L, the VAE and headroom


# --------------------------------------------------------------------------------------------- images

def make_images(cfg: dict, tag: int) -> dict:
    """PNG bytes by image input: the edit image with its mask in the alpha channel (what LoadImage reads as a
    painted mask) and a reference; `tag` makes each upload's pixels its own."""
    import numpy as np
    from PIL import Image

    from aceplusplus.client.images import png_bytes, with_mask

    w, h = cfg["edit"]
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x // 16 + y // 16) % 2) * 200 + 30],
                   axis=-1).astype(np.uint8)
    rgb[0, 0] = (tag % 256, tag // 256 % 256, 7)
    mask = np.zeros((h, w), np.uint8)
    x0, y0, x1, y1 = cfg["mask"]
    mask[y0:y1, x0:x1] = 255
    edit = with_mask(Image.fromarray(rgb, "RGB"), Image.fromarray(mask, "L"), Path("mask"))
    rw, rh = cfg["reference"]
    ref = Image.new("RGB", (rw, rh), (200, 120, 60 + tag % 100))
    return {"edit_image": png_bytes(edit), "reference": png_bytes(ref)}


# --------------------------------------------------------------------------------------------- runs

class ProbeLog:
    """Reads the probe's JSON lines as they are appended."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.events: list[dict] = []

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits for the next read
        self.offset += len(complete)
        new = [json.loads(line) for line in complete.decode("utf-8").splitlines() if line.strip()]
        self.events.extend(new)
        return new

    def for_prompt(self, pid: str) -> list[dict]:
        self.read()
        return [e for e in self.events if e.get("prompt_id") == pid]


def prepare_graph(wid: str, cfg: dict, *, tokens: int, steps: int, seed: int, dual_clip_info: dict,
                  uploaded: dict, pillow_loader: bool = False) -> dict:
    from aceplusplus.client import catalog
    from aceplusplus.client import graph as client_graph

    workflow = catalog.load(wid)
    graph = workflow.graph()
    for key, value in (("seed", seed), ("steps", steps)):
        node, name = workflow.params[key]
        graph[node]["inputs"][name] = value
    canvases = [nid for nid, n in graph.items() if n["class_type"] == "ACEPP_CanvasBuilder"]
    if len(canvases) != 1 or "token_budget" not in graph[canvases[0]]["inputs"]:
        raise SystemExit(f"[gpu_check] {wid}: expected one ACEPP_CanvasBuilder with a token_budget input")
    graph[canvases[0]]["inputs"]["token_budget"] = tokens
    client_graph.swap_text_encoder(graph, dual_clip_info)
    for role, image in workflow.images.items():
        if image.required:
            graph[image.node]["inputs"][image.input] = uploaded[role]
    if pillow_loader:  # no PyAV on the server: LoadImage (v0.28.2 decodes through it) -> the probe's Pillow loader
        for node in graph.values():
            if node["class_type"] == "LoadImage":
                node["class_type"] = PILLOW_LOADER
                node["inputs"] = {"image": node["inputs"]["image"]}
    for node in graph.values():
        if node["class_type"] == "SaveImage":
            node["inputs"]["filename_prefix"] = f"gpu_check/{wid}_{tokens}"
    return graph


def summarise(events: list[dict]) -> dict:
    """One run's numbers from the probe's events for its prompt."""
    nodes: dict[str, float] = {}
    for e in events:
        if e["event"] == "node" and e.get("class_type"):
            nodes[e["class_type"]] = nodes.get(e["class_type"], 0.0) + e["seconds"]
    samples = [e for e in events if e["event"] == "sample"]
    conds = [e for e in events if e["event"] == "set_conds"]
    prompt = next((e for e in events if e["event"] == "prompt"), {})
    out = {"nodes": nodes, "job_seconds": prompt.get("seconds"), "peak_alloc": prompt.get("peak_alloc"),
           "peak_reserved": prompt.get("peak_reserved"), "device_used": prompt.get("device_used")}
    pack = {"canvas": sum(v for k, v in nodes.items() if k == "ACEPP_CanvasBuilder"),
            "conditioning": sum(v for k, v in nodes.items() if k.startswith("ACEPP_") and k.endswith("Conditioning")),
            "stitch": sum(v for k, v in nodes.items() if k == "ACEPP_Stitch")}
    out["pack"] = pack
    out["pack_seconds"] = sum(pack.values())
    if samples:
        s = samples[-1]
        steps = s.get("step_seconds") or []
        latent = s.get("latent") or []
        if len(latent) >= 4:
            b, h, w = latent[0], latent[-2], latent[-1]
            out["tokens"] = b * ((h + 1) // 2) * ((w + 1) // 2)
            out["canvas"] = f"{w * 8}x{h * 8}" + (f" x{b}" if b > 1 else "")
        out.update(patcher=s.get("patcher"), sample_seconds=s.get("seconds"), steps=steps,
                   sample_peak_alloc=s.get("peak_alloc"), sample_peak_reserved=s.get("peak_reserved"),
                   sample_device_used=s.get("device_used"), sample_error=s.get("error"))
    if conds:
        c = conds[-1]
        out["set_conds"] = {k: c.get(k) for k in ("before", "after", "hooks", "delegate", "error")}
    return out


def dynamic_verdict(run: dict, ready: dict) -> str:
    patcher = run.get("patcher") or (run.get("set_conds") or {}).get("after") or {}
    conds = run.get("set_conds") or {}
    hooks = [k for k, v in (conds.get("hooks") or {}).items() if v]
    hooked = f"conditioning with hooks: {', '.join(hooks)}" if hooks else "no conditioning hooks"
    if not patcher and not conds:
        return "unknown (no sampling reached)"
    if "cpu" in str(patcher.get("device") or (conds.get("before") or {}).get("device") or ""):
        return f"n/a (CPU; {hooked}, which on a GPU with Dynamic VRAM swaps to a non-dynamic delegate)" if hooks \
            else "n/a (CPU; no conditioning hooks)"
    if not ready.get("dynamic_vram"):
        return f"no: Dynamic VRAM is off in this server ({hooked})"
    if conds.get("error"):
        return f"NO: the swap to a non-dynamic delegate failed: {conds['error']}"
    if conds.get("delegate") or patcher.get("dynamic") is False:
        return f"NO: KSampler sampled a non-dynamic delegate ({patcher.get('class')}; {hooked})"
    if patcher.get("dynamic"):
        return f"yes ({patcher.get('class')}; {hooked})"
    return f"unknown ({patcher})"


def _gib(n) -> str:
    return "n/a" if n is None else f"{n / GIB:.1f} GiB"


def describe_run(run: dict, ready: dict) -> list[str]:
    head = f"[{run['workflow']} @ {run['budget']} tokens{' (warm-up)' if run.get('warmup') else ''}]"
    if run.get("skipped"):
        return [f"{head} skipped: {run['skipped']}"]
    lines = [f"{head} " + ("exception: " + run["error"] if run.get("error") else "no exception")
             + (f"; canvas {run['canvas']}, {run['tokens']} tokens" if run.get("tokens") else "")
             + (f"; output {run['output']}" if run.get("output") else "")]
    lines.append(f"  dynamic: {dynamic_verdict(run, ready)}")
    steps = run.get("steps") or []
    if steps:
        rest = steps[1:]
        which = "step 2" if len(steps) == 2 else f"mean of steps 2-{len(steps)}"
        lines.append(f"  s/step: {(sum(rest) / len(rest)) if rest else steps[0]:.3f}"
                     + (f" ({which}; step 1 {steps[0]:.3f} s)" if rest
                        else " (1 step)")
                     + (f"; sampling {run['sample_seconds']:.2f} s in all" if run.get("sample_seconds") else ""))
    if ready.get("cuda") and run.get("peak_alloc") is not None:
        lines.append(f"  peak VRAM: {_gib(run.get('sample_peak_alloc'))} allocated while sampling, "
                     f"{_gib(run.get('peak_alloc'))} over the job (PyTorch; reserved "
                     f"{_gib(run.get('peak_reserved'))}); "
                     f"device memory in use at most {_gib(run.get('device_used'))}")
    else:
        lines.append("  peak VRAM: n/a (CPU)")
    job = run.get("job_seconds")
    if job:
        pack = run["pack"]
        comfy = f", ComfyUI: {run['comfy_seconds']:.2f} s" if run.get("comfy_seconds") is not None else ""
        lines.append(f"  pack pre/post: canvas {pack['canvas']:.3f} s + conditioning {pack['conditioning']:.3f} s "
                     f"+ stitch {pack['stitch']:.3f} s = {run['pack_seconds']:.3f} s of a {job:.2f} s job "
                     f"({100 * run['pack_seconds'] / job:.1f} %{comfy})")
        other = {k: v for k, v in run["nodes"].items() if not k.startswith("ACEPP_") or "Loader" in k}
        lines.append("  other nodes: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(other.items(),
                                                                                     key=lambda kv: -kv[1])))
    return lines


def run_one(session, probe: ProbeLog, server_log: Path, wid: str, cfg: dict, *, tokens: int, steps: int,
            seed: int, tag: int, dual_clip_info: dict, timeout: float, out_dir: Path, warmup: bool = False,
            save: bool = False, pillow_loader: bool = False) -> dict:
    import io

    from PIL import Image

    from aceplusplus.client import catalog
    from aceplusplus.client.errors import EXIT_TIMEOUT

    run = {"workflow": wid, "budget": tokens, "steps_asked": steps, "warmup": warmup}
    log_offset = server_log.stat().st_size if server_log.exists() else 0
    pid = None
    try:
        roles = {role for role, image in catalog.load(wid).images.items() if image.required}
        uploaded = {role: session.upload_image(data, f"acepp_gpu_check_{wid}_{tag}_{role}.png")
                    for role, data in make_images(cfg, tag).items() if role in roles}
        graph = prepare_graph(wid, cfg, tokens=tokens, steps=steps, seed=seed, dual_clip_info=dual_clip_info,
                              uploaded=uploaded, pillow_loader=pillow_loader)
        pid = session.post_prompt(graph)
        entry = session.wait(pid, f"{wid}@{tokens}", timeout)
        refs = [img for node in entry.get("outputs", {}).values() for img in node.get("images", [])
                if img.get("type") == "output"]
        if refs:
            result = Image.open(io.BytesIO(session.view(refs[0])))
            run["output"] = f"{result.width}x{result.height}" + (
                " (the edit image's size)" if (result.width, result.height) == tuple(cfg["edit"]) else
                f" (NOT the edit image's {cfg['edit'][0]}x{cfg['edit'][1]})")
            if save and not warmup:
                result.save(out_dir / f"{wid}_{tokens}.png")
    except Exception as e:  # ClientError (rejected, execution error, timeout, server gone) or anything else: reported
        text = " | ".join(line.strip() for line in str(e).splitlines() if line.strip())
        run["error"] = (text[:1000] or type(e).__name__) if type(e).__name__ == "ClientError" else \
            f"{type(e).__name__}: {text[:1000]}"
        if pid is not None and getattr(e, "code", None) == EXIT_TIMEOUT:
            session.interrupt([pid])  # so that the next run does not queue behind this one
    if pid is not None:
        deadline = time.monotonic() + 10
        events = probe.for_prompt(pid)
        while not any(e["event"] == "prompt" for e in events) and time.monotonic() < deadline:
            time.sleep(0.2)
            events = probe.for_prompt(pid)
        run.update(summarise(events))
        run["prompt_id"] = pid
    text = server_log.read_bytes()[log_offset:].decode("utf-8", "replace") if server_log.exists() else ""
    found = re.findall(r"Prompt executed in ([0-9.]+) seconds", text)
    if found:
        run["comfy_seconds"] = float(found[-1])
    return run


# --------------------------------------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--comfyui", default=os.environ.get("ACEPP_COMFY_ROOT"),
                    help="ComfyUI folder, or comfyui-0.28.2.tar.gz to unpack (default: $ACEPP_COMFY_ROOT)")
    ap.add_argument("--python", default=os.environ.get("ACEPP_PYTHON") or sys.executable,
                    help="the server's Python (default: $ACEPP_PYTHON, else this interpreter)")
    ap.add_argument("--tiny", action="store_true", help="tiny model and images: the same check in a minute or two")
    ap.add_argument("--cpu", action="store_true", help="run the server with --cpu (automatic without a GPU)")
    ap.add_argument("--work", help="scratch folder for ComfyUI, the models and the server's base directory (default: "
                    "a new temporary one in /dev/shm when the models fit there, else in the temp folder; full size "
                    "needs 23 GiB)")
    ap.add_argument("--out", help="where report.txt, report.json and comfyui.log go (default: out/gpu_check)")
    ap.add_argument("--keep", action="store_true", help="keep --work (default: removed when it was made here)")
    ap.add_argument("--workflows", nargs="+", default=list(DEFAULT_WORKFLOWS), help="bundled workflow ids")
    ap.add_argument("--tokens", nargs="+", type=int,
                    help="token budgets, multiples of 64 (default 2048 4096 6144; --tiny 64 128 192)")
    ap.add_argument("--steps", type=int, help="sampling steps per run (default 5; --tiny 2)")
    ap.add_argument("--double-blocks", type=int, help="FLUX double blocks (default 19; --tiny 1)")
    ap.add_argument("--single-blocks", type=int, help="FLUX single blocks (default 38; --tiny 0)")
    ap.add_argument("--max-seconds", type=float,
                    help="start no run after this many seconds from the start (default 360 full size; 0 = no limit)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the 1-step warm-up prompt of each workflow")
    ap.add_argument("--save-outputs", action="store_true", help="also save each run's result image in --out")
    return ap.parse_args(argv)


def _reexec(python: str) -> None:
    """This script needs torch, safetensors, numpy, Pillow and aiohttp itself: when this interpreter lacks them,
    run it again under the server's Python."""
    missing = [m for m in ("torch", "safetensors", "numpy", "PIL", "aiohttp") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    same = os.path.abspath(python) == os.path.abspath(sys.executable)  # a venv links to its base: no realpath
    if same or os.environ.get("ACEPP_GPU_CHECK_REEXEC"):
        raise SystemExit(f"[gpu_check] {sys.executable} lacks {', '.join(missing)}: run this with the server's Python")
    env = dict(os.environ, ACEPP_GPU_CHECK_REEXEC="1")
    os.execve(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]], env)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.python = shutil.which(args.python) or args.python
    started = time.monotonic()
    _reexec(args.python)
    cfg = dict(TINY if args.tiny else FULL)
    for key, value in (("tokens", args.tokens), ("steps", args.steps), ("double", args.double_blocks),
                       ("single", args.single_blocks), ("max_seconds", args.max_seconds)):
        if value is not None:
            cfg[key] = tuple(value) if key == "tokens" else value
    if cfg["double"] < 1 or cfg["single"] < 0 or cfg["steps"] < 1:
        raise SystemExit("[gpu_check] needs at least 1 double block, 0 single blocks and 1 step")
    if any(t < 64 or t % 64 for t in cfg["tokens"]):
        raise SystemExit("[gpu_check] token budgets are multiples of 64 (the canvas node's step), 64 at least")
    workflows = plan_workflows(args.workflows)
    need = model_bytes(cfg, sorted({n for w in workflows.values() for n in w["loras"]}))

    made_work = not args.work
    if args.work:
        work = Path(args.work).expanduser().resolve()
    else:  # a temporary folder where the models fit: memory (/dev/shm) first, then the disk
        roots = [Path("/dev/shm"), Path(tempfile.gettempdir()), Path("/var/tmp"), Path.home()]
        roots = [r for r in roots if r.is_dir() and os.access(r, os.W_OK)]
        room = [r for r in roots if shutil.disk_usage(r).free > need + 2 * GIB]
        work = Path(tempfile.mkdtemp(prefix="acepp-gpu-check-", dir=(room or roots)[0])).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(args.out).expanduser().resolve() if args.out else ROOT / "out" / "gpu_check"
    out_dir.mkdir(parents=True, exist_ok=True)
    report_lines: list[str] = []

    def say(msg: str = "") -> None:
        log(msg)
        report_lines.append(msg)

    try:
        return _check(args, cfg, workflows, need, work, out_dir, say, started)
    finally:
        (out_dir / "report.txt").write_text("\n".join(report_lines) + "\n", encoding="utf-8")
        if made_work and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def plan_workflows(ids: list[str]) -> dict:
    """Per workflow id: the LoRA files it loads and whether it samples the FFT model."""
    from aceplusplus.client import catalog

    workflows = {}
    verticals = _lora_verticals()
    for wid in ids:
        wf = catalog.load(wid)
        graph = wf.graph()
        if "edit_image" not in wf.images:
            raise SystemExit(f"[gpu_check] {wid}: only editing workflows (with an edit image) are supported")
        loras = [verticals[n["inputs"]["vertical"]] for n in graph.values() if n["class_type"] == "ACEPP_LoraLoader"]
        fft = any(n["class_type"] == "ACEPP_FFTLoader" for n in graph.values())
        workflows[wid] = {"loras": loras, "fft": fft}
    return workflows


def _check(args, cfg: dict, workflows: dict, need: int, work: Path, out_dir: Path, say, started: float) -> int:
    comfy_root = resolve_comfy(args.comfyui, work)
    info = preflight(args.python, comfy_root)
    version = comfy_version(comfy_root)
    gpu = bool(info.get("cuda")) and not args.cpu
    say(f"[gpu_check] ComfyUI {version} ({comfy_root}); server Python {info['python']} ({args.python}); "
        f"torch {info.get('torch', '?')} (CUDA {info.get('torch_cuda')}); "
        + (f"GPU {info.get('gpu')} ({_gib(info.get('gpu_memory'))})" if info.get("cuda") else "no GPU")
        + ("" if gpu else "; the server runs with --cpu"))
    if info.get("missing") or info.get("broken") or info.get("torch_error"):
        say("[gpu_check] the server's Python lacks what this ComfyUI needs:")
        for name in info.get("missing", []):
            say(f"  missing: {name}")
        for name, err in info.get("broken", {}).items():
            say(f"  cannot import {name}: {err}")
        if info.get("torch_error"):
            say(f"  torch: {info['torch_error']}")
        say("  carry them as wheels: bash tools/gpu_check.sh --prepare (here, with the registries), then name its "
            "folder in carry (see docs/BENCHMARKS.md, GPU check)")
        return 3
    if not args.tiny and not gpu:
        say("[gpu_check] the full-size check needs a CUDA GPU; use --tiny for the small version")
        return 2
    if info["stand_in"]:
        say(f"[gpu_check] {', '.join(info['stand_in'])} missing: an import-only stand-in goes on the server's path "
            f"(ComfyUI imports PyAV at start-up), and LoadImage, which decodes through PyAV, becomes the probe's "
            f"Pillow loader {PILLOW_LOADER}")

    # LoRA workflows first: the FFT model is made from the Fill model file in place.
    order = sorted(workflows, key=lambda w: workflows[w]["fft"])
    loras = sorted({name for w in workflows.values() for name in w["loras"]})

    from aceplusplus.tools import fixtures as fx

    lora_ranks = dict(fx.GOOD_LORAS)
    models = work / "models"
    free = shutil.disk_usage(work).free
    say(f"[gpu_check] models: FLUX {cfg['double']} double + {cfg['single']} single blocks, bf16, "
        f"{len(loras)} LoRA(s); {need / GIB:.1f} GiB to write in {work} ({free / GIB:.1f} GiB free)")
    if free < need:
        say("[gpu_check] not enough disk space: give --work a folder on a disk with room")
        return 2
    device = "cuda" if gpu else "cpu"
    built = build_models(models, cfg, loras, device, lora_ranks)
    writer = built.pop("writer")
    say(f"[gpu_check] built in {built['seconds']:.1f} s: FLUX.1-Fill {built['flux_params'] / 1e9:.2f} B params, "
        f"{built['flux_bytes'] / GIB:.2f} GiB ({built['flux_seconds']:.1f} s, drawn on {device}); LoRAs "
        + ", ".join(f"{n} ({v / 2 ** 20:.0f} MiB, {built['lora_modules']} modules)" for n, v in built["loras"].items())
        + "; tiny CLIP-L and TAEF1-shaped VAE"
        + (f"; {_gib(built['device_used_before_server'])} of device memory in use before the server starts (the "
           "CUDA context of this process and anything else on the GPU: part of every 'in use' figure)"
           if built["device_used_before_server"] is not None else ""))

    # The server's base directory: the pack and the probe linked in, the models folder linked.
    from aceplusplus.tools.comfy_process import make_base

    base = work / "base"
    shutil.rmtree(base, ignore_errors=True)
    layout = make_base(base, models, ROOT)
    (layout.custom_nodes / PROBE_LINK).symlink_to(PROBE_DIR, target_is_directory=True)
    web = work / "web"
    web.mkdir(exist_ok=True)
    probe_path = work / "probe.jsonl"
    probe_path.unlink(missing_ok=True)
    env = {"ACEPP_PROBE_LOG": str(probe_path)}
    if info["stand_in"]:
        # The project's one stand-in (tools/stubs/acepp_stand_in.py), for these packages only: tools/stubs itself
        # would also shadow the machine's real torchvision and torchaudio.
        stand_ins = work / "stand_ins"
        stand_ins.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STAND_IN_MODULE, stand_ins / STAND_IN_MODULE.name)
        for name in info["stand_in"]:
            (stand_ins / name).mkdir(exist_ok=True)
            (stand_ins / name / "__init__.py").write_text(
                "from acepp_stand_in import stand_in\n\nstand_in(__name__)\n", encoding="utf-8")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(stand_ins), os.environ.get("PYTHONPATH"))))
    cli = (comfy_root / "comfy" / "cli_args.py").read_text(encoding="utf-8")
    server_args = ["--base-directory", str(base), "--database-url", "sqlite:///:memory:", "--front-end-root", str(web)]
    if "--disable-api-nodes" in cli:
        server_args.append("--disable-api-nodes")
    if not gpu:
        server_args.append("--cpu")

    from aceplusplus.client.errors import ClientError
    from aceplusplus.client.process import ComfyProcess
    from aceplusplus.client.session import BlockingSession

    server_log = work / "comfyui.log"
    server_log.unlink(missing_ok=True)
    process = ComfyProcess(comfy_root, server_log, python=args.python, args=tuple(server_args), env=env,
                           startup_timeout=300.0)
    say(f"[gpu_check] starting ComfyUI: {' '.join(server_args)}")
    runs: list[dict] = []
    failed = False
    try:
        try:
            process.start()
        except ClientError as e:
            say(f"[gpu_check] ComfyUI did not start: {e}")
            return 4
        probe = ProbeLog(probe_path)
        probe.read()
        ready = next((e for e in probe.events if e["event"] == "ready"), {})
        problem = next((e for e in probe.events if e["event"] == "probe_error"), None)
        ready["cuda"] = gpu
        pack_error = [line for line in process.log_tail(200_000).splitlines()
                      if "custom_nodes" in line and PACK_LINK_NAME in line and ("Cannot import" in line or "IMPORT FAILED"
                                                                            in line)]
        kitchen = dict(re.findall(r"Found comfy_kitchen backend (\w+): \{'available': (True|False)",
                                  process.log_tail(200_000)))
        ready["comfy_kitchen"] = kitchen
        say(f"[gpu_check] ComfyUI up in {process.start_seconds:.1f} s; Dynamic VRAM: "
            + ("on" if ready.get("dynamic_vram") else "off")
            + f" (CoreModelPatcher = {ready.get('core_model_patcher')}); device {ready.get('device_name')}; "
            + "comfy-kitchen backends available: "
            + (", ".join(k for k, v in kitchen.items() if v == "True") or "none found in the log"))
        if problem or not ready:
            say(f"[gpu_check] the probe did not install: {problem or 'no ready event'}; see {server_log}")
            return 4
        if pack_error:
            say("[gpu_check] the pack failed to import: " + " | ".join(pack_error))
            return 4
        with BlockingSession(process.url) as session:
            session.listen()
            dual_clip = session.object_info("DualCLIPLoader")["DualCLIPLoader"]
            tag = 0
            for index, wid in enumerate(order):
                if index and process.alive():
                    session.free()
                if workflows[wid]["fft"] and not (models / "diffusion_models" / fx.FFT_MODEL).exists():
                    t0 = time.perf_counter()
                    fft = models / "diffusion_models" / fx.FFT_MODEL
                    convert_to_fft(models / "diffusion_models" / fx.FILL_MODEL, fft, writer, fx.FFT_IN, fx.STD)
                    check_file(fft, fx.FFT_IN)
                    say(f"[gpu_check] FFT model made from the Fill file in place in {time.perf_counter() - t0:.2f} s")
                plan = [] if args.no_warmup else [(min(cfg["tokens"]), 1, True)]
                plan += [(tokens, cfg["steps"], False) for tokens in cfg["tokens"]]
                for tokens, steps, warmup in plan:
                    tag += 1
                    elapsed = time.monotonic() - started
                    if not process.alive():
                        run = {"workflow": wid, "budget": tokens, "warmup": warmup,
                               "skipped": f"the server has exited (see {server_log.name})"}
                    elif cfg["max_seconds"] and elapsed > cfg["max_seconds"]:
                        run = {"workflow": wid, "budget": tokens, "warmup": warmup,
                               "skipped": f"past --max-seconds ({elapsed:.0f} s > {cfg['max_seconds']:.0f} s)"}
                    else:
                        timeout = cfg["job_timeout"]
                        if cfg["max_seconds"]:
                            timeout = max(60.0, min(timeout, cfg["max_seconds"] + 120 - elapsed))
                        run = run_one(session, probe, server_log, wid, cfg, tokens=tokens, steps=steps,
                                      seed=20250421 + tag, tag=tag, dual_clip_info=dual_clip, timeout=timeout,
                                      out_dir=out_dir, warmup=warmup, save=args.save_outputs,
                                      pillow_loader=bool(info["stand_in"]))
                    failed |= bool(run.get("error"))
                    runs.append(run)
                    for line in describe_run(run, ready):
                        say(line)
    finally:
        process.stop()
        if server_log.exists():
            data = server_log.read_bytes()
            (out_dir / "comfyui.log").write_bytes(data[-8 * 2 ** 20:])
    say()
    say(summary_table(runs, ready))
    say(f"[gpu_check] {sum(1 for r in runs if r.get('error'))} of {len(runs)} runs raised; "
        f"{sum(1 for r in runs if r.get('skipped'))} skipped; {time.monotonic() - started:.0f} s in all")
    report = {"comfyui": version, "preflight": info, "config": {k: v for k, v in cfg.items()}, "models": built,
              "server_args": server_args, "ready": ready, "runs": runs, "seconds": time.monotonic() - started}
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return 1 if failed else 0


def summary_table(runs: list[dict], ready: dict) -> str:
    head = (f"{'workflow':<14} {'budget':>6} {'tokens':>6} {'exception':>9} {'dynamic':>8} {'s/step':>7} "
            f"{'peak alloc':>10} {'device used':>11} {'pack s':>7} {'job s':>7} {'pack %':>6}")
    rows = [head, "-" * len(head)]
    for r in runs:
        if r.get("warmup"):
            continue
        if r.get("skipped"):
            rows.append(f"{r['workflow']:<14} {r['budget']:>6} {'skipped':>6}")
            continue
        verdict = dynamic_verdict(r, ready).split(" ")[0].rstrip(":")
        steps = r.get("steps") or []
        per_step = (sum(steps[1:]) / len(steps[1:])) if len(steps) > 1 else (steps[0] if steps else None)
        job = r.get("job_seconds")
        rows.append(f"{r['workflow']:<14} {r['budget']:>6} {r.get('tokens', '?'):>6} "
                    f"{'YES' if r.get('error') else 'no':>9} {verdict:>8} "
                    f"{'n/a' if per_step is None else f'{per_step:.3f}':>7} "
                    f"{_gib(r.get('peak_alloc')) if ready.get('cuda') else 'n/a':>10} "
                    f"{_gib(r.get('device_used')) if ready.get('cuda') else 'n/a':>11} "
                    f"{r.get('pack_seconds', 0.0):>7.3f} {'n/a' if job is None else f'{job:.2f}':>7} "
                    f"{(100 * r.get('pack_seconds', 0.0) / job) if job else 0.0:>5.1f}%")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
