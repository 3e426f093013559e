"""The harness itself: the pack imports into a real ComfyUI, the fixture models load through stock loaders,
and a stock FLUX.1-Fill graph runs in-process and on a live server."""
from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch
from PIL import Image

from aceplusplus.tools import fixtures as fx
from harness import NODE_PREFIX, PACK_LINK_NAME, import_report, make_base, stock_fill_graph


W, H = 64, 48  # input image size (PIL: width, height)


def make_input_png(path):
    """A 64x48 RGBA picture whose transparent rectangle is the area to inpaint (ComfyUI: MASK = 1 - alpha)."""
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, W, dtype=np.uint8)[None, :]
    rgb[..., 1] = np.linspace(255, 0, H, dtype=np.uint8)[:, None]
    rgb[..., 2] = 90
    alpha = np.full((H, W), 255, np.uint8)
    alpha[8:40, 16:48] = 0
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    return path


def lora_not_loaded(records) -> list[str]:
    keys = []
    for r in records:
        m = re.match(r"lora key not loaded: (.+)$", r.getMessage())
        if m:
            keys.append(m.group(1))
    return keys


# ------------------------------------------------------------------ (a) import smoke

@pytest.mark.smoke
def test_quick_test_for_ci_loads_the_pack(fixtures_dir, tmp_path):
    from harness.server import quick_test

    layout = make_base(tmp_path / "base", fixtures_dir)
    result = quick_test(layout, tmp_path / "quick_test.log")
    tail = result.log[-6000:]
    assert result.returncode == 0, f"main.py --quick-test-for-ci exited {result.returncode}:\n{tail}"
    report = import_report(result.log)
    failed_custom = [p for p, ok in report["custom_nodes"].items() if not ok]
    assert not failed_custom, f"custom nodes IMPORT FAILED: {failed_custom}\n{tail}"
    assert not report["extras_failed"], f"IMPORT FAILED: {report['extras_failed']}\n{tail}"
    assert any(p.endswith(f"custom_nodes/{PACK_LINK_NAME}") for p in report["custom_nodes"]), \
        f"the pack is missing from ComfyUI's custom-node import table:\n{tail}"
    assert result.declared_error is None, result.declared_error
    assert result.declared, f"the pack declares no nodes (or was not imported):\n{tail}"
    assert result.pack_node_ids == result.declared, \
        f"declared {result.declared} but ComfyUI registered {result.pack_node_ids} (id clash with a stock node?)"
    assert all(n.startswith(NODE_PREFIX) for n in result.pack_node_ids), result.pack_node_ids


def test_inprocess_comfy_registers_the_pack(comfy):
    comfy.require_pack()
    assert comfy.pack_node_ids() == comfy.pack_declared_node_ids()
    assert all(n.startswith(NODE_PREFIX) for n in comfy.pack_node_ids())
    assert not comfy.extras_failed, comfy.extras_failed


# ------------------------------------------------------------------ (b) fixtures through stock loaders

def test_fixture_files_are_cached_and_complete(fixtures_dir):
    files = fx.fixture_files(fixtures_dir)
    expected = {f"diffusion_models/{fx.FILL_MODEL}", f"diffusion_models/{fx.FFT_MODEL}",
                f"text_encoders/{fx.CLIP_L}", f"vae/{fx.VAE}",
                *(f"loras/{n}" for n in fx.GOOD_LORAS), f"loras/{fx.UNMAPPABLE_LORA}",
                *(f"loras/{n}" for n in fx.FAMILY_LORA_FILES),
                *(f"{form.folder}/{form.file(family)}" for form in fx.MODEL_FORMS.values()
                  for family in ("fill", "fft")),
                f"{fx.GGUF_FOLDER}/{fx.WRONG_FAMILY_GGUF}", f"{fx.GGUF_FOLDER}/{fx.TRUNCATED_GGUF}"}
    assert set(files) == expected
    for rel, size in files.items():
        assert (fixtures_dir / rel).stat().st_size == size > 0
    assert fx.ensure_fixtures(fixtures_dir) == fixtures_dir  # stamp hit, no rebuild


def _file_keys(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return set(f.keys())


def test_fft_model_has_448_inputs_and_takes_the_loras(comfy, fixtures_dir, caplog):
    import comfy.lora as comfy_lora
    from safetensors.torch import load_file

    (model,) = comfy.call("UNETLoader", unet_name=fx.FFT_MODEL, weight_dtype="default")
    try:
        assert type(model.model.model_config).__name__ == "Flux"
        assert model.model.diffusion_model.img_in.weight.shape[1] == fx.FFT_IN == 448
        assert model.model.model_config.unet_config["in_channels"] == 112
        key_map = comfy_lora.model_lora_keys_unet(model.model, {})
        for name in list(fx.GOOD_LORAS) + [fx.UNMAPPABLE_LORA]:
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                patches = comfy_lora.load_lora(load_file(str(fixtures_dir / "loras" / name)), key_map)
            assert len(patches) == len(fx.lora_modules()), name
            assert set(lora_not_loaded(caplog.records)) == fx.expected_unmapped_keys(name), name
    finally:
        del model
        comfy.free()


@pytest.fixture(scope="class")
def fill_model(comfy):
    (model,) = comfy.call("UNETLoader", unet_name=fx.FILL_MODEL, weight_dtype="default")
    yield model
    del model
    comfy.free()


class TestFillModel:
    """Tests sharing one loaded Fill model (class scope: freed before the graph tests load their own)."""

    def test_fill_model_is_flux_inpaint(self, comfy, fill_model, fixtures_dir):
        assert type(fill_model.model.model_config).__name__ == "FluxInpaint"
        dm = fill_model.model.diffusion_model
        assert dm.img_in.weight.shape == (fx.HIDDEN, fx.FILL_IN)
        assert dm.txt_in.weight.shape[1] == fx.CONTEXT_DIM and dm.vector_in.in_layer.weight.shape[1] == fx.VEC_DIM
        assert len(dm.double_blocks) == fx.DOUBLE_BLOCKS and len(dm.single_blocks) == fx.SINGLE_BLOCKS
        assert fill_model.model.model_config.unet_config["guidance_embed"] is True
        # every weight ComfyUI built comes from the file and nothing in the file is left over (under the names the
        # core gives them: current cores rename the RMSNorm `scale` to `weight`)
        file_keys = _file_keys(fixtures_dir / "diffusion_models" / fx.FILL_MODEL)
        assert set(dm.state_dict()) == set(fill_model.model.model_config.process_unet_state_dict(
            dict.fromkeys(file_keys)))
        assert all(torch.isfinite(p.detach()).all() for p in dm.parameters())

    @pytest.mark.parametrize("lora_name", sorted(fx.GOOD_LORAS) + [fx.UNMAPPABLE_LORA])
    def test_lora_loader_model_only_reports_unmapped_keys(self, comfy, fill_model, lora_name, caplog):
        with caplog.at_level(logging.WARNING):
            (patched,) = comfy.call("LoraLoaderModelOnly", model=fill_model, lora_name=lora_name, strength_model=1.0)
        not_loaded = lora_not_loaded(caplog.records)
        expected = fx.expected_unmapped_keys(lora_name)
        assert sorted(not_loaded) == sorted(expected)
        if lora_name == fx.UNMAPPABLE_LORA:
            assert len(not_loaded) == fx.UNMAPPABLE_KEY_COUNT == 9
        new_keys = set(patched.patches) - set(fill_model.patches)
        assert len(new_keys) == len(fx.lora_modules()) == 13
        assert all(k.startswith(("diffusion_model.double_blocks.0.", "diffusion_model.single_blocks.0."))
                   for k in new_keys), new_keys
        assert not any("NOT LOADED" in r.getMessage() for r in caplog.records)


def test_clip_l_encodes_to_flux_context(comfy):
    (clip,) = comfy.call("CLIPLoader", clip_name=fx.CLIP_L, type="stable_diffusion")
    (cond,) = comfy.call("CLIPTextEncode", clip=clip, text="a portrait of a woman in a red coat")
    tokens, extra = cond[0]
    pooled = extra["pooled_output"]
    assert tokens.shape == (1, 77, 768) and pooled.shape == (1, 768)
    assert torch.isfinite(tokens).all() and torch.isfinite(pooled).all()
    assert tokens.std() > 0.1 and pooled.std() > 0.1
    (other,) = comfy.call("CLIPTextEncode", clip=clip, text="a dog")
    assert not torch.equal(other[0][0], tokens)  # the text actually matters


def test_vae_round_trip_shapes(comfy):
    vae_list = comfy.node_class("VAELoader").INPUT_TYPES()["required"]["vae_name"][0]
    assert fx.VAE in vae_list
    (vae,) = comfy.call("VAELoader", vae_name=fx.VAE)
    assert vae.latent_channels == 16 and vae.downscale_ratio == 8
    pixels = torch.rand(1, 64, 96, 3, generator=torch.Generator().manual_seed(0))
    (latent,) = comfy.call("VAEEncode", pixels=pixels, vae=vae)
    assert latent["samples"].shape == (1, 16, 8, 12)
    assert torch.isfinite(latent["samples"]).all() and latent["samples"].std() > 0.01
    (image,) = comfy.call("VAEDecode", samples=latent, vae=vae)
    assert image.shape == (1, 64, 96, 3)
    assert torch.isfinite(image).all() and 0 <= image.min() and image.max() <= 1 and image.std() > 0.01


def test_v1_and_v3_nodes_share_one_call_helper(comfy):
    assert comfy.node("FluxGuidance").is_v3 and not comfy.node("CLIPTextEncode").is_v3
    cond = [[torch.zeros(1, 77, 768), {"pooled_output": torch.zeros(1, 768)}]]
    (out,) = comfy.call("FluxGuidance", conditioning=cond, guidance=50.0)
    assert out[0][1]["guidance"] == 50.0
    with pytest.raises(KeyError, match="ACEPP_NoSuchNode"):
        comfy.node("ACEPP_NoSuchNode")


# ------------------------------------------------------------------ (c) a stock graph end to end

def test_stock_fill_graph_in_process(comfy):
    make_input_png(comfy.input_dir / "acepp_harness_in.png")
    graph = stock_fill_graph("acepp_harness_in.png", seed=1, prefix="acepp_harness_inproc")
    try:
        ui = comfy.run_graph(graph, keep_cache=True)
        (latent,) = comfy.cached_output("9")
        (image,) = comfy.cached_output("10")
        assert latent["samples"].shape == (1, 16, H // 8, W // 8)
        assert torch.isfinite(latent["samples"]).all()
        assert image.shape == (1, H, W, 3) and torch.isfinite(image).all()
    finally:
        comfy.free()
    paths = comfy.image_paths(ui)
    assert len(paths) == 1 and paths[0].is_file() and paths[0].suffix == ".png"
    assert paths[0].parent == comfy.output_dir
    with Image.open(paths[0]) as png:
        assert png.size == (W, H) and png.mode == "RGB"
        assert np.asarray(png).std() > 0  # not a blank frame


def test_invalid_graph_raises_with_node_errors_in_process(comfy):
    from aceplusplus.tools.comfy_inprocess import GraphValidationError

    graph = stock_fill_graph("acepp_harness_in.png")
    graph["2"]["inputs"]["clip_name"] = "no_such_clip.safetensors"
    with pytest.raises(GraphValidationError) as err:
        comfy.run_graph(graph)
    assert "2" in err.value.node_errors
    assert "no_such_clip.safetensors" in str(err.value)


def test_stock_fill_graph_on_live_server(live_server, tmp_path):
    name = live_server.upload_image(make_input_png(tmp_path / "acepp_harness_up.png"))
    assert (live_server.layout.input / name).is_file()
    prompt_id = live_server.session.post_prompt(stock_fill_graph(name, seed=2, prefix="acepp_harness_live"))
    entry = live_server.wait(prompt_id, timeout=300)
    assert entry["status"]["status_str"] == "success"
    paths = live_server.outputs(prompt_id)
    assert len(paths) == 1 and paths[0].is_file()
    assert paths[0].resolve().is_relative_to(live_server.layout.output.resolve())
    with Image.open(paths[0]) as png:
        assert png.size == (W, H) and png.mode == "RGB"
    (ref,) = live_server.image_refs(prompt_id)
    assert live_server.session.view(ref) == paths[0].read_bytes()
    live_server.session.free()


# ------------------------------------------------------------------ (d) server-side validation

def test_live_server_rejects_unknown_node_type(live_server):
    from harness.server import ClientError

    with pytest.raises(ClientError) as err:
        live_server.session.post_prompt({"1": {"class_type": "ACEPP_DoesNotExist", "inputs": {}}})
    answer = err.value.details
    assert err.value.code == 7 and answer["status"] == 400
    assert answer["node_errors"] == {}  # present, and empty: the prompt itself is rejected
    # 0.3.75 calls it an invalid prompt, current cores a missing node type
    assert answer["error"]["type"] in ("invalid_prompt", "missing_node_type")
    assert "ACEPP_DoesNotExist" in answer["error"]["message"]


def test_live_server_reports_node_errors_for_bad_inputs(live_server, tmp_path):
    from harness.server import ClientError

    name = live_server.upload_image(make_input_png(tmp_path / "acepp_harness_bad.png"))
    graph = stock_fill_graph(name)
    graph["9"]["inputs"]["steps"] = 0  # below KSampler's minimum of 1
    with pytest.raises(ClientError) as err:
        live_server.session.post_prompt(graph)
    assert err.value.code == 7 and err.value.details["status"] == 400
    assert set(err.value.details["node_errors"]) == {"9"}
    assert err.value.details["node_errors"]["9"]["class_type"] == "KSampler"


def test_live_server_lists_the_pack_nodes(live_server):
    ids = live_server.pack_node_ids()
    assert ids and all(n.startswith(NODE_PREFIX) for n in ids), ids
