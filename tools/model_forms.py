"""Peak memory of each model form on the CPU, as a proxy for what each saves on a GPU: the tiny Fill and FFT
fixtures (tools/fixtures.py: MODEL_FORMS, and the stock fp8 weight_dtype of the bf16 file) loaded by the loader a
user picks for them, the Fill ones with the ACE++ LoRA, and sampled for STEPS steps through the pack's
conditioning and ComfyUI's KSampler. Each form runs in its own Python process (an in-process ComfyUI with
ComfyUI-GGUF beside the pack), so each peak is its own.

    source tools/runtime.sh && "$ACEPP_PYTHON" -m aceplusplus.tools.model_forms [--forms KEY ...]

Prints one row per form and family: peak RSS, its rise over the process after ComfyUI started (what the model
and sampling added), and the seconds of the sampling call. The tiny model is 1 double + 1 single block of FLUX's
hidden size (0.5 B parameters; FLUX.1 has 57 blocks, 11.9 B), so the rise scales by ~24x to the full model;
ratios between forms are what carries over. Numbers: docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aceplusplus.tools import fixtures as fx

STEPS = 2
CANVAS = (96, 64)  # width, height of the sampled canvas
RELEASED = "(released file for the vertical)"
BF16_FORMS = {"bf16": ("default", "bf16"), "fp8_e4m3fn (weight_dtype)": ("fp8_e4m3fn", "fp8_e4m3fn")}


def form_keys() -> list[str]:
    return list(BF16_FORMS) + list(fx.MODEL_FORMS)


def measure(form_key: str, family: str) -> dict:
    """In this process: start ComfyUI, load `family`'s model in `form_key`, sample; the figures."""
    import torch

    from aceplusplus.tools.comfy_inprocess import start_inprocess
    from aceplusplus.tools.comfy_process import gguf_nodes

    comfy = start_inprocess(Path(tempfile.mkdtemp(prefix="acepp_forms_")), fx.ensure_fixtures(),
                            other_packs=(gguf_nodes(),))
    clip = comfy.call("CLIPLoader", clip_name=fx.CLIP_L, type="stable_diffusion")[0]
    cond = comfy.call("CLIPTextEncode", clip=clip, text="a test")[0]
    vae = comfy.call("VAELoader", vae_name=fx.VAE)[0]
    started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if form_key in BF16_FORMS:
        stock_dtype, fft_dtype = BF16_FORMS[form_key]
        class_type, inputs = (fx.stock_loader_node("fill", fx.FILL_MODEL, stock_dtype) if family == "fill"
                              else fx.stock_loader_node("fft", fx.FFT_MODEL, fft_dtype))
    else:
        class_type, inputs = fx.MODEL_FORMS[form_key].loader_node(family)
    model = comfy.call(class_type, **inputs)[0]
    if family == "fill":
        model = comfy.call("ACEPP_LoraLoader", model=model, vertical="local_editing", lora_name=RELEASED,
                           strength=1.0, on_mismatch="error")[0]
    width, height = CANVAS
    canvas = torch.rand(1, height, width, 3, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, height, width)
    mask[:, :, width // 2:] = 1
    node = "ACEPP_FillConditioning" if family == "fill" else "ACEPP_FFTConditioning"
    positive, negative, latent = comfy.call(node, model=model, positive=cond, negative=cond, vae=vae, canvas=canvas,
                                            canvas_mask=mask, repainting_scale=0.0, noise_mask=False)
    start = time.perf_counter()
    samples = comfy.call("KSampler", model=model, seed=1, steps=STEPS, cfg=1.0, sampler_name="euler",
                         scheduler="normal", positive=positive, negative=negative, latent_image=latent,
                         denoise=1.0)[0]["samples"]
    seconds = time.perf_counter() - start
    if not torch.isfinite(samples).all():
        raise RuntimeError(f"{form_key} {family}: non-finite samples")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_gib": peak / 2**20, "rise_gib": (peak - started) / 2**20, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--forms", nargs="*", default=form_keys(), choices=form_keys(), metavar="KEY",
                    help=f"forms to measure (default all: {', '.join(form_keys())})")
    ap.add_argument("--one", nargs=2, metavar=("FORM", "FAMILY"), help=argparse.SUPPRESS)  # the child process
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(measure(*a.one)))
        return 0
    print(f"{'form':28} {'family':6} {'peak RSS GiB':>12} {'rise GiB':>9} {'sampling s':>11}")
    for key in a.forms:
        for family in ("fill", "fft"):
            proc = subprocess.run([sys.executable, "-m", "aceplusplus.tools.model_forms", "--one", key, family],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{key:28} {family:6} failed:\n{proc.stderr[-3000:]}")
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{key:28} {family:6} {row['peak_gib']:12.2f} {row['rise_gib']:9.2f} {row['seconds']:11.1f}",
                  flush=True)
    for key in a.forms:
        what = (fx.MODEL_FORMS[key].what if key in fx.MODEL_FORMS
                else "the bf16 file, loaded with weight_dtype {} (Fill) / {} (FFT)".format(*BF16_FORMS[key]))
        print(f"{key}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
