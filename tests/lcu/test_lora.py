"""LoRA coverage from names alone (lcu/lora.py): which tensors of a LoRA file land on a layer of the model."""
from __future__ import annotations

import pytest

from aceplusplus.lcu.lora import (BASE_BY_IMG_IN, FILL_BASE, SHOWN_KEYS, LoraCoverage, lora_base_model,
                                  lora_coverage, lora_module_of)

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


# A few block tensors every FLUX LoRA may have: FLUX.1-dev and FLUX.1-Fill-dev share these shapes.
BLOCKS = {"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (16, 3072),
          "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": (3072, 16),
          "transformer.single_transformer_blocks.0.proj_out.lora_A.weight": (16, 15360)}


@pytest.mark.parametrize("down_key", [
    "transformer.x_embedder.lora_A.weight",  # diffusers / PEFT (ICEdit, Insert Anything, CatVTON, ai-toolkit)
    "x_embedder.lora_A.weight",
    "base_model.model.x_embedder.lora_A.default.weight",
    "diffusion_model.img_in.lora_A.weight",  # ComfyUI
    "img_in.lora_A.weight",  # BFL
    "lora_unet_img_in.lora_down.weight",  # kohya
    "lora_transformer_x_embedder.lora_down.weight",  # OneTrainer
])
@pytest.mark.parametrize("in_features, base", [(64, "FLUX.1-dev or FLUX.1-schnell"), (384, FILL_BASE),
                                               (448, "the ACE++ FFT model")])
def test_the_input_embedding_names_the_base(down_key, in_features, base):
    assert lora_base_model({**BLOCKS, down_key: (8, in_features)}) == base == BASE_BY_IMG_IN[in_features]


def test_an_unknown_input_width_is_named_by_its_count():
    assert lora_base_model({"transformer.x_embedder.lora_A.weight": [4, 96]}) == \
        "a FLUX model with 96 input features"


def test_without_an_input_embedding_the_keys_cannot_tell_the_base():
    """An IC-LoRA (FLUX.1-dev) trains only the blocks, whose shapes FLUX.1-dev and Fill share: nothing to read."""
    context = {"transformer.transformer_blocks.0.attn.add_q_proj.lora_A.weight": (16, 3072),
               "transformer.transformer_blocks.0.ff_context.net.2.lora_A.weight": (16, 12288)}
    assert lora_base_model({**BLOCKS, **context}) is None
    assert lora_base_model({}) is None


def test_only_the_input_embedding_down_matrix_counts():
    """Its up matrix ([3072, rank]), a ControlNet's x_embedder and other layers named alike say nothing."""
    assert lora_base_model({"transformer.x_embedder.lora_B.weight": (3072, 64),
                            "transformer.controlnet_x_embedder.lora_A.weight": (8, 64),
                            "lora_unet_double_blocks_0_img_in_x.lora_down.weight": (8, 64),
                            "lora_unet_img_in.alpha": ()}) is None
