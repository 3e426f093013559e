"""The LoRAs of the FLUX-Fill in-context family (ICEdit, Insert Anything, CatVTON-Flux: diffusers/PEFT keys, and a
kohya conversion) through ACE++ LoRA Loader on a real in-process ComfyUI with the tiny Fill model: every tensor
lands and the patched weights change; FLUX.1-dev LoRAs: one whose input layer says so is refused, an IC-LoRA
(no input layer) cannot be told from a Fill LoRA and loads."""
import logging

import pytest
import torch
from safetensors import safe_open

from aceplusplus.lcu.lora import FILL_BASE, lora_base_model
from aceplusplus.tools import fixtures as fixture_models

FILL_FAMILY = sorted(name for name, lora in fixture_models.FAMILY_LORA_FILES.items() if lora.made_for == FILL_BASE)
RELEASED = "(released file for the vertical)"


@pytest.fixture(scope="module")
def fill_model(comfy, fx):
    model = comfy.call("UNETLoader", unet_name=fx.FILL_MODEL, weight_dtype="default")[0]
    yield model
    del model
    comfy.free()


def lora_shapes(fixtures_dir, name) -> dict[str, tuple[int, ...]]:
    with safe_open(str(fixtures_dir / "loras" / name), "pt") as f:
        return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}


def load(comfy, model, name, on_mismatch="error"):
    return comfy.call("ACEPP_LoraLoader", model=model, vertical="file", lora_name=name, strength=1.0,
                      on_mismatch=on_mismatch)


def patched_weights(model, patched) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """model weight -> (original, patched), both float32, for every weight `patched` adds patches to: ComfyUI's own
    calculate_weight on a copy, so the shared model is never changed."""
    import comfy.lora

    weights = model.model.state_dict()
    out = {}
    for key, patches in patched.patches.items():
        original = weights[key].detach().float()
        out[key] = original, comfy.lora.calculate_weight(patches, original.clone(), key)
    return out


def test_the_fixtures_have_the_real_files_key_styles(fixtures_dir, fx):
    for name, lora in fx.FAMILY_LORA_FILES.items():
        shapes = lora_shapes(fixtures_dir, name)
        if lora.kohya:
            assert all(k.startswith("lora_unet_") and k.endswith((".lora_down.weight", ".lora_up.weight", ".alpha"))
                       for k in shapes), name
            assert shapes["lora_unet_img_in.lora_down.weight"] == (lora.rank, fx.FILL_IN)
            assert shapes["lora_unet_single_blocks_0_linear1.lora_down.weight"] == (4 * lora.rank, fx.HIDDEN)
        else:
            assert all(k.startswith("transformer.") and k.endswith((".lora_A.weight", ".lora_B.weight"))
                       for k in shapes), name
            assert len(shapes) == 2 * len(fx.family_lora_modules(lora)), name
            x_embedder = shapes.get("transformer.x_embedder.lora_A.weight")
            assert x_embedder == (None if lora.img_in is None else (lora.rank, lora.img_in)), name
            context = any(".add_q_proj." in k or ".ff_context." in k for k in shapes)
            assert context == (lora.targets != "edit"), name  # ICEdit / Insert Anything: no context stream
        assert fx.expected_unmapped_keys(name) == frozenset()


@pytest.mark.parametrize("name", FILL_FAMILY)
def test_family_loras_apply_completely_and_change_the_weights(comfy, fx, fixtures_dir, fill_model, name):
    shapes = lora_shapes(fixtures_dir, name)
    assert lora_base_model(shapes) == FILL_BASE  # x_embedder / img_in takes 384 inputs
    patched, report = load(comfy, fill_model, name)
    assert report == f"{name}: all {len(shapes)} LoRA tensors applied."
    assert patched is not fill_model and not fill_model.patches
    per_module = 3 if fx.FAMILY_LORA_FILES[name].kohya else 2  # kohya: down, up, alpha; PEFT: A, B
    assert sum(map(len, patched.patches.values())) == len(shapes) // per_module  # one patch per LoRA module
    assert "diffusion_model.img_in.weight" in patched.patches
    for key, (original, new) in patched_weights(fill_model, patched).items():
        assert new.shape == original.shape and not torch.equal(new, original), key


@pytest.mark.core("0.28.2", reason="the same ComfyUI arithmetic on both cores; 40 s of CPU on the oldest")
def test_the_kohya_conversion_adds_what_the_peft_file_adds(comfy, fx, fill_model):
    """icedit_normal_lora_kohya holds the PEFT file's tensors with q/k/v (and proj_mlp) merged: same weights."""
    peft = patched_weights(fill_model, load(comfy, fill_model, fx.ICEDIT_LORA)[0])
    kohya = patched_weights(fill_model, load(comfy, fill_model, fx.ICEDIT_KOHYA_LORA)[0])
    assert set(peft) == set(kohya)
    for key in peft:
        original, want = peft[key]
        assert torch.allclose(kohya[key][1], want, rtol=0, atol=1e-6), key
        assert (want - original).abs().max() > 1e-4, key


def test_a_flux_dev_lora_with_an_input_layer_is_refused(comfy, fx, fixtures_dir, fill_model):
    name = fx.DEV_IMG_IN_LORA
    assert fx.FAMILY_LORA_FILES[name].made_for == "FLUX.1-dev"
    with pytest.raises(ValueError) as info:
        load(comfy, fill_model, name)
    assert str(info.value) == (
        f"[ACE++] {name} was made for FLUX.1-dev or FLUX.1-schnell, not FLUX.1-Fill-dev: its input layer "
        "(x_embedder / img_in) does not fit this model, and ComfyUI only logs a shape error for it when sampling "
        "starts. Load a LoRA trained on FLUX.1-Fill-dev, e.g. the ACE++, ICEdit, Insert Anything or CatVTON LoRAs; "
        "to try it anyway, set on_mismatch to warn.")


def test_a_wrong_base_lora_loads_with_a_warning_when_asked(comfy, fx, fixtures_dir, fill_model, caplog):
    """The named fix works: the blocks apply, and ComfyUI leaves img_in as it is (logging the shape error)."""
    name = fx.DEV_IMG_IN_LORA
    patched, report = load(comfy, fill_model, name, on_mismatch="warn")
    count = len(lora_shapes(fixtures_dir, name))
    assert report.startswith(f"{name}: all {count} LoRA tensors applied. WARNING: {name} was made for FLUX.1-dev ")
    with caplog.at_level(logging.ERROR):
        weights = patched_weights(fill_model, patched)
    original, new = weights.pop("diffusion_model.img_in.weight")
    assert torch.equal(new, original)
    assert any("img_in" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert all(not torch.equal(new, original) for original, new in weights.values())


def test_an_ic_lora_cannot_be_told_from_a_fill_lora_and_loads(comfy, fx, fixtures_dir, fill_model):
    """IC-LoRAs are FLUX.1-dev LoRAs of the blocks only, whose shapes dev and Fill share: nothing in the file says
    FLUX.1-dev, and ComfyUI applies every tensor to the Fill model (what it does there is the user's call)."""
    name = fx.IC_LORA
    shapes = lora_shapes(fixtures_dir, name)
    assert fx.FAMILY_LORA_FILES[name].made_for == "FLUX.1-dev" and lora_base_model(shapes) is None
    assert not any("x_embedder" in key for key in shapes)
    assert any(".ff_context." in key for key in shapes) and any(".add_q_proj." in key for key in shapes)
    patched, report = load(comfy, fill_model, name)
    assert report == f"{name}: all {len(shapes)} LoRA tensors applied."
    assert "diffusion_model.img_in.weight" not in patched.patches
    assert "diffusion_model.double_blocks.0.txt_attn.qkv.weight" in patched.patches
    for key, (original, new) in patched_weights(fill_model, patched).items():
        assert not torch.equal(new, original), key


def test_the_catalog_names_the_fixture_files(comfy, fx, fixtures_dir, fill_model):
    """The loader's family verticals find their files by the catalog's names, which the fixtures use."""
    from aceplusplus.nodes.catalog import FAMILY_LORAS

    assert {release.name for release in FAMILY_LORAS.values()} == {fx.ICEDIT_LORA, fx.INSERT_ANYTHING_LORA,
                                                                    fx.CATVTON_LORA}
    for vertical, release in FAMILY_LORAS.items():
        count = len(lora_shapes(fixtures_dir, release.name))
        report = comfy.call("ACEPP_LoraLoader", model=fill_model, vertical=vertical, lora_name=RELEASED, strength=1.0,
                            on_mismatch="error")[1]
        assert report == f"{release.name}: all {count} LoRA tensors applied.", vertical
