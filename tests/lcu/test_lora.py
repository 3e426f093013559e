"""LoRA coverage from names alone (lcu/lora.py): which tensors of a LoRA file land on a layer of the model."""
from __future__ import annotations

import pytest

from aceplusplus.lcu.lora import SHOWN_KEYS, LoraCoverage, lora_coverage, lora_module_of

# Shaped as comfy.lora.model_lora_keys_unet builds it for FLUX: both naming schemes point at one model weight.
KEY_MAP = {
    "diffusion_model.double_blocks.0.img_attn.qkv": "diffusion_model.double_blocks.0.img_attn.qkv.weight",
    "lora_unet_double_blocks_0_img_attn_qkv": "diffusion_model.double_blocks.0.img_attn.qkv.weight",
    "diffusion_model.double_blocks.0.img_attn": "diffusion_model.double_blocks.0.img_attn.weight",
    "lora_unet_single_blocks_1_linear1": "diffusion_model.single_blocks.1.linear1.weight",
}
FITTING = [
    "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight",
    "lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight",
    "lora_unet_double_blocks_0_img_attn_qkv.alpha",
    "diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight",
    "lora_unet_single_blocks_1_linear1.lora_down.weight",
]
# An SDXL LoRA's tensors: no FLUX layer has these names.
FOREIGN = ["lora_unet_input_blocks_4_1_proj_in.lora_down.weight", "lora_te1_text_model_encoder_layers_0_mlp_fc1.alpha"]


def test_a_tensor_belongs_to_the_longest_known_prefix():
    assert lora_module_of("diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight", KEY_MAP) == \
        "diffusion_model.double_blocks.0.img_attn.qkv"  # not the shorter ...img_attn, also in the map
    assert lora_module_of("lora_unet_single_blocks_1_linear1.alpha", KEY_MAP) == "lora_unet_single_blocks_1_linear1"
    assert lora_module_of(FOREIGN[0], KEY_MAP) is None
    assert lora_module_of("lora_unet_single_blocks_1_linear1", KEY_MAP) is None  # a module name is no tensor key


def test_a_fitting_lora_is_complete():
    coverage = lora_coverage(FITTING, KEY_MAP)
    assert coverage == LoraCoverage(total_keys=5, unmapped_keys=(), unpatched=())
    assert coverage.complete
    assert coverage.summary("portrait.safetensors") == "portrait.safetensors: all 5 LoRA tensors applied."


def test_tensors_of_another_model_are_named_and_counted():
    coverage = lora_coverage(FITTING + FOREIGN[::-1], KEY_MAP)
    assert not coverage.complete
    assert coverage.unmapped_keys == tuple(sorted(FOREIGN))
    summary = coverage.summary("sdxl.safetensors")
    assert summary.startswith("sdxl.safetensors: 2 of 7 LoRA tensors match no layer of this model (e.g. ")
    assert all(key in summary for key in FOREIGN) and "target weights" not in summary
    assert summary.endswith("ACE++ LoRAs need FLUX.1-Fill-dev.")


def test_the_summary_lists_a_few_names_only():
    many = [f"lora_unet_output_blocks_{i}_0.lora_down.weight" for i in range(SHOWN_KEYS + 3)]
    summary = lora_coverage(many, KEY_MAP).summary("x")
    assert sum(key in summary for key in many) == SHOWN_KEYS and f"{len(many)} of {len(many)}" in summary


def test_targets_the_model_lacks_make_it_incomplete():
    """The patcher's unapplied targets (names, or ComfyUI's (name, offset) tuples) are reported sorted."""
    missing = [("diffusion_model.single_blocks.1.linear1.weight", (0, 0, 9)), "diffusion_model.a.weight"]
    coverage = lora_coverage(FITTING, KEY_MAP, unpatched=missing)
    assert not coverage.complete and coverage.unmapped_keys == ()
    assert coverage.unpatched == tuple(sorted(str(k) for k in missing))
    assert "0 of 5 LoRA tensors match no layer of this model and 2 target weights are missing" in \
        coverage.summary("x")


@pytest.mark.parametrize("keys", [[], ["alpha"]])
def test_degenerate_files(keys):
    coverage = lora_coverage(keys, KEY_MAP)
    assert coverage.total_keys == len(keys) and coverage.complete == (not keys)
