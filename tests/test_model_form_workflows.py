"""Every model form users run on 8-24 GB GPUs, through the bundled workflows on the live server: the LoRA
workflow (Local Editing: FLUX.1-Fill-dev + the ACE++ LoRA) and the FFT workflow (FFT Editing), each with the
change the Notes tell users to make (a weight_dtype, another file, or ComfyUI-GGUF's Unet Loader (GGUF), installed
into the test ComfyUI from its archive), made with the headless client's own options (--set, --gguf).

The bundled LoRA Loader runs with on_mismatch "error", so a run that finishes proves the LoRA's coverage was
complete on that form; the output keeps every pixel outside the mask bit for bit. Pixels of random weights mean
nothing beyond that.
"""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from PIL import Image

from aceplusplus.client.errors import ClientError
from aceplusplus.tools import fixtures as fx
from test_workflows import _images, run_workflow

LORA_WORKFLOW, FFT_WORKFLOW = "local_editing", "fft_editing"


def choice(form_key: str, family: str) -> dict:
    """What a user changes in the bundled workflow for a file of `form_key` (tools/fixtures.py: MODEL_FORMS), as the
    headless client's options: --gguf for a GGUF, else --set on the workflow's own loader (node 1)."""
    class_type, inputs = fx.MODEL_FORMS[form_key].loader_node(family)
    if class_type == "UnetLoaderGGUF":
        return {"gguf": inputs["unet_name"]}
    return {"set": tuple(f"1.{name}={value}" for name, value in inputs.items())}


FP8_DTYPE = fx.FP8_DTYPES[0]
CASES = [(family, f"{FP8_DTYPE} of the bf16 file", {"set": (f"1.weight_dtype={FP8_DTYPE}",)})
         for family in ("fill", "fft")]
CASES += [(family, form_key, choice(form_key, family)) for family in ("fill", "fft") for form_key in fx.MODEL_FORMS
          if (family, form_key) != ("fill", "fp8")]
# A LoRA on fp8 weights costs ComfyUI a stochastic rounding of every patched matrix on the CPU (~25 s a run
# here), so the Fill cases are one per loader and file layout (the fp8 file is the fp8 weight_dtype's layout), and
# on the oldest core one per loader. The other fp8 weight_dtypes, and every form on both cores, are loaded, checked
# and LoRA'd in process (tests/nodes/test_model_forms.py).
OLDEST_CORE_FILL = {f"{FP8_DTYPE} of the bf16 file", "gguf_q8_0"}
NEWEST_ONLY = pytest.mark.core("0.28.2", reason="the oldest core runs one Fill case per loader (slow on the CPU)")


@pytest.mark.parametrize("family, form, options", [
    pytest.param(*case, id=f"{case[0]}-{case[1].split()[0]}",
                 marks=[NEWEST_ONLY] if case[0] == "fill" and case[1] not in OLDEST_CORE_FILL else [])
    for case in CASES])
def test_bundled_workflow_runs_on_every_model_form(live_server, tmp_path, family, form, options):
    wid = LORA_WORKFLOW if family == "fill" else FFT_WORKFLOW
    files = _images(tmp_path)
    out = tmp_path / "out"
    jobs, saved = run_workflow(live_server.base_url, wid, files, out, seed=zlib.crc32(form.encode()) % 10_000,
                               **options)
    assert len(jobs) == 1 and saved == [out / f"{jobs[0].name}.png"]
    loader = json.loads(jobs[0].graph_json)["1"]
    assert loader["class_type"] == ("UnetLoaderGGUF" if "gguf" in options
                                    else "UNETLoader" if family == "fill" else "ACEPP_FFTLoader")
    result = np.asarray(Image.open(saved[0]).convert("RGB"))
    original = np.asarray(Image.open(files["edit_image"]).convert("RGB"))
    assert result.shape == original.shape and np.isfinite(result).all()
    keep = np.asarray(Image.open(files["mask"])) < 128
    assert (result[keep] == original[keep]).all(), f"pixels outside the mask changed ({form})"
    assert (result[~keep] != original[~keep]).any(), "the masked area was not sampled"


@pytest.mark.parametrize("file, expected", [
    (fx.WRONG_FAMILY_GGUF, r"ACE\+\+ LoRA Loader needs FLUX.1-Fill-dev .* 64 inputs .*from a GGUF file; load a GGUF "
                           r"file of FLUX.1-Fill-dev \(384 inputs\) in Unet Loader \(GGUF\) instead"),
    (fx.MODEL_FORMS["gguf_q8_0"].file("fft"), r"ACE\+\+ LoRA Loader needs FLUX.1-Fill-dev .* the ACE\+\+ FFT model "
                                              r"\(448 inputs\), which needs no LoRA; remove ACE\+\+ LoRA Loader"),
])
def test_a_gguf_of_the_wrong_family_gets_the_fix_and_the_server_stays_up(live_server, tmp_path, file, expected):
    with pytest.raises(ClientError, match=expected):
        run_workflow(live_server.base_url, LORA_WORKFLOW, _images(tmp_path), tmp_path / "out", seed=1,
                     gguf=file)
    assert live_server.alive()


def test_a_fill_gguf_in_the_fft_workflow_names_the_fill_path(live_server, tmp_path):
    """The FFT workflow's loader swapped for Unet Loader (GGUF) with a Fill GGUF: the FFT conditioning says which
    conditioning that model takes."""
    with pytest.raises(ClientError, match=r"ACE\+\+ FFT Conditioning needs the ACE\+\+ FFT model .* but the model "
                                          r"is FLUX.1-Fill-dev \(384 inputs\); use ACE\+\+ Fill Conditioning"):
        run_workflow(live_server.base_url, FFT_WORKFLOW, _images(tmp_path), tmp_path / "out", seed=1,
                     gguf=fx.MODEL_FORMS["gguf_q8_0"].file("fill"))
    assert live_server.alive()


def test_a_truncated_gguf_fails_in_its_loader_and_the_server_stays_up(live_server, tmp_path):
    """ComfyUI-GGUF reads the file, so the error is its loader's own (the pack sees no file name): the job fails at
    that node and the server goes on to the next job."""
    with pytest.raises(ClientError, match="UnetLoaderGGUF"):
        run_workflow(live_server.base_url, LORA_WORKFLOW, _images(tmp_path), tmp_path / "out", seed=1,
                     gguf=fx.TRUNCATED_GGUF)
    assert live_server.alive()
    _, saved = run_workflow(live_server.base_url, LORA_WORKFLOW, _images(tmp_path), tmp_path / "again", seed=2,
                            **choice("gguf_q8_0", "fill"))
    assert len(saved) == 1
