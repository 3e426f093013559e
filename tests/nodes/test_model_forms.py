"""The model forms users run on smaller GPUs, on a real in-process ComfyUI with ComfyUI-GGUF installed from its
archive: each form of the Fill and FFT fixtures (tools/fixtures.py: MODEL_FORMS) and each fp8 weight_dtype
loads through the loader a user would pick, is told apart by the family check, and takes the ACE++ LoRA
completely; the FFT loader reports what it loaded and warns once about fp8. A model the pack cannot inspect (a
Nunchaku-style wrapper) gets one [ACE++] message wherever it is used. The same forms sampled through the bundled
workflows: tests/test_model_form_workflows.py."""
from __future__ import annotations

import pytest
import torch

from aceplusplus.tools import fixtures as fx

RELEASED = "(released file for the vertical)"
LORA_REPORT = "comfyui_local_lora16.safetensors: all 39 LoRA tensors applied."  # 13 modules x 3 tensors
FP8_WARNING = "WARNING: the ACE++ FFT model in fp8 is known to give broken colours"


def load(comfy, form_key: str, family: str):
    """(model, FFT loader report or None) for the form's file of `family`, by the loader users pick for it."""
    class_type, inputs = fx.MODEL_FORMS[form_key].loader_node(family)
    outputs = comfy.call(class_type, **inputs)
    return outputs[0], (outputs[1] if class_type == "ACEPP_FFTLoader" else None)


def apply_lora(comfy, model) -> str:
    return comfy.call("ACEPP_LoraLoader", model=model, vertical="local_editing", lora_name=RELEASED, strength=1.0,
                      on_mismatch="error")[1]


@pytest.mark.parametrize("form_key", list(fx.MODEL_FORMS))
def test_every_form_loads_as_its_family_and_takes_the_lora_completely(comfy, pack, form_key):
    fill, _ = load(comfy, form_key, "fill")
    fft, report = load(comfy, form_key, "fft")
    assert pack.families.model_family(fill) is pack.families.ModelFamily.FILL
    assert pack.families.model_family(fft) is pack.families.ModelFamily.FFT
    assert apply_lora(comfy, fill) == LORA_REPORT
    if fx.MODEL_FORMS[form_key].loader == "gguf":
        assert type(fill).__name__ == "GGUFModelPatcher" and pack.families.from_gguf(fill)
    else:
        assert report.count("WARNING") == 1 and FP8_WARNING in report, report  # every safetensors form is fp8


@pytest.mark.parametrize("weight_dtype", fx.FP8_DTYPES)
def test_stock_fp8_weight_dtypes_keep_the_family_and_the_lora(comfy, pack, weight_dtype):
    model = comfy.call("UNETLoader", unet_name=fx.FILL_MODEL, weight_dtype=weight_dtype)[0]
    stored = {"fp8_e4m3fn": torch.float8_e4m3fn, "fp8_e4m3fn_fast": torch.float8_e4m3fn,
              "fp8_e5m2": torch.float8_e5m2}[weight_dtype]
    assert model.model.diffusion_model.double_blocks[0].img_mlp[0].weight.dtype == stored
    assert pack.families.model_family(model) is pack.families.ModelFamily.FILL
    assert apply_lora(comfy, model) == LORA_REPORT


@pytest.mark.parametrize("weight_dtype", fx.FP8_DTYPES)
def test_fft_loader_loads_fp8_as_the_stock_loader_does_and_warns_once(comfy, pack, weight_dtype):
    model, report = comfy.call("ACEPP_FFTLoader", unet_name=fx.FFT_MODEL, weight_dtype=weight_dtype)[:2]
    stock = comfy.call("UNETLoader", unet_name=fx.FFT_MODEL, weight_dtype=weight_dtype)[0]
    ours = model.model.diffusion_model.double_blocks[0].img_mlp[0].weight
    assert ours.dtype == stock.model.diffusion_model.double_blocks[0].img_mlp[0].weight.dtype
    assert ours.dtype.itemsize == 1
    assert pack.families.model_family(model) is pack.families.ModelFamily.FFT
    assert report.startswith(f"{fx.FFT_MODEL}: ACE++ FFT model, 448 inputs, stored as BF16, loaded as {weight_dtype}.")
    assert report.count("WARNING") == 1 and FP8_WARNING in report


def test_fft_loader_reports_a_bf16_load_without_warning(comfy):
    report = comfy.call("ACEPP_FFTLoader", unet_name=fx.FFT_MODEL, weight_dtype="bf16")[1]
    assert report == f"{fx.FFT_MODEL}: ACE++ FFT model, 448 inputs, stored as BF16, loaded as bf16."


@pytest.mark.parametrize("form_key, scaling", [("fp8_scaled", "scaled fp8"), ("quantized", "per-layer quantised")])
def test_fft_loader_names_how_a_scaled_file_is_stored(comfy, form_key, scaling):
    _, report = load(comfy, form_key, "fft")
    assert f"stored as BF16, F32, F8_E4M3 ({scaling})." in report, report


# ---------------------------------------------------------------------------------------------------
# A model the pack cannot inspect or patch


class ComfyFluxWrapper(torch.nn.Module):
    """A stand-in for Nunchaku's wrapper (ComfyUI-nunchaku, wrappers/flux.py): its loader builds ComfyUI's own
    Flux model from a FLUX config and swaps the diffusion model for this wrapper, which holds a diffusers-style
    transformer (`x_embedder` where ComfyUI's FLUX has `img_in`) and applies LoRAs from its own list. What the
    pack sees is the same: a comfy.model_base.Flux whose diffusion model has no `img_in`. What it does not have:
    SVDQuant's 4-bit kernels (CUDA only) and a forward pass."""

    def __init__(self):
        super().__init__()
        self.model = torch.nn.Module()
        self.model.x_embedder = torch.nn.Linear(384, 8)
        self.loras = []


@pytest.fixture(scope="module")
def wrapped_model(comfy):
    """A patcher around ComfyUI's Flux model class whose diffusion model is the wrapper. The Flux instance is made
    bare (no transformer is built: the wrapper replaces it, as Nunchaku's loader does)."""
    from comfy.model_base import Flux
    from comfy.model_patcher import ModelPatcher

    flux = Flux.__new__(Flux)
    torch.nn.Module.__init__(flux)
    flux.diffusion_model = ComfyFluxWrapper()
    return ModelPatcher(flux, torch.device("cpu"), torch.device("cpu"))


UNINSPECTABLE = (r"^\[ACE\+\+\] the model is a FLUX model whose diffusion model is a ComfyFluxWrapper \(from "
                 r"[\w.]*test_model_forms\), not ComfyUI's FLUX transformer: a wrapped model such as a Nunchaku "
                 r"\(SVDQuant\) one, whose layers this pack can neither check .* nor patch .*Load FLUX.1-Fill-dev "
                 r"with Load Diffusion Model instead .*Unet Loader \(GGUF\)")


def test_a_wrapped_model_gets_one_message_in_the_lora_loader(comfy, wrapped_model):
    with pytest.raises(ValueError, match=UNINSPECTABLE):
        comfy.call("ACEPP_LoraLoader", model=wrapped_model, vertical="local_editing", lora_name=RELEASED,
                   strength=1.0, on_mismatch="error")


@pytest.mark.parametrize("node", ["ACEPP_FillConditioning", "ACEPP_FFTConditioning"])
def test_a_wrapped_model_gets_one_message_in_the_conditioning(comfy, wrapped_model, vae_and_prompt, node):
    vae, cond = vae_and_prompt
    canvas, mask = torch.rand(1, 32, 48, 3), torch.ones(1, 32, 48)
    with pytest.raises(ValueError, match=UNINSPECTABLE):
        comfy.call(node, model=wrapped_model, positive=cond, negative=cond, vae=vae, canvas=canvas,
                   canvas_mask=mask, repainting_scale=1.0, noise_mask=False)


def test_a_wrapped_model_gets_one_message_when_sampling_starts(pack, wrapped_model):
    """A conditioning made with a Fill model and sampled with the wrapped one: the check it carries says so."""
    check = pack.families.SamplingCheck(16)
    with pytest.raises(ValueError, match=UNINSPECTABLE):
        check.pre_run(wrapped_model.model, lambda percent: percent)
