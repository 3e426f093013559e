"""ACE++ model loading on a real in-process ComfyUI with the tiny fixtures: model families, LoRA coverage,
the conditioning mismatch guard, the FFT conditioning layout, and no global mutation of ComfyUI."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def fill_model(comfy, fx):
    return comfy.call("UNETLoader", unet_name=fx.FILL_MODEL, weight_dtype="default")[0]


@pytest.fixture(scope="module")
def fft_model(comfy, fx):
    return comfy.call("ACEPP_FFTLoader", unet_name=fx.FFT_MODEL, weight_dtype="bf16")[0]


@pytest.fixture(scope="module")
def vae(comfy, fx):
    return comfy.call("VAELoader", vae_name=fx.VAE)[0]


@pytest.fixture(scope="module")
def cond(comfy, fx):
    clip = comfy.call("CLIPLoader", clip_name=fx.CLIP_L, type="stable_diffusion")[0]
    return comfy.call("CLIPTextEncode", clip=clip, text="{image} a test")[0]


@pytest.fixture
def extra_loras(comfy, tmp_path):
    """A temporary extra `loras` folder (as extra_model_paths.yaml would add), removed afterwards."""
    import folder_paths
    folder_paths.add_model_folder_path("loras", str(tmp_path))
    yield tmp_path
    folder_paths.folder_names_and_paths["loras"][0].remove(str(tmp_path))


def test_model_families_are_detected_by_stock_comfyui(pack, fill_model, fft_model):
    from comfy import model_base
    assert type(fill_model.model.model_config).__name__ == "FluxInpaint"
    assert type(fft_model.model.model_config).__name__ == "Flux"
    assert isinstance(fft_model.model, model_base.Flux)
    assert pack.families.model_family(fill_model) is pack.families.ModelFamily.FILL
    assert pack.families.model_family(fft_model) is pack.families.ModelFamily.FFT
    assert fft_model.model.diffusion_model.img_in.weight.shape[1] == 448
    assert fft_model.model.diffusion_model.img_in.weight.dtype == torch.bfloat16


NODES_DIR = Path(__file__).resolve().parents[2] / "nodes"


def imported_modules(module: str) -> set[str]:
    """The pack modules `nodes/<module>.py` imports (relative imports, as written)."""
    tree = ast.parse((NODES_DIR / f"{module}.py").read_text("utf-8"))
    return {"." * node.level + (node.module or "") for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level}


def test_model_families_stand_apart_from_the_loaders():
    """Conditioning needs the families and their guards, never file loading; the families need no node module."""
    assert ".families" in imported_modules("conditioning") and ".loaders" not in imported_modules("conditioning")
    assert ".families" in imported_modules("loaders")
    assert not {".loaders", ".conditioning", ".canvas"} & imported_modules("families")


@pytest.mark.parametrize("vertical, file", [("portrait", "comfyui_portrait_lora64.safetensors"),
                                            ("subject", "comfyui_subject_lora16.safetensors"),
                                            ("local_editing", "comfyui_local_lora16.safetensors")])
def test_released_loras_apply_completely_on_a_clone(comfy, fx, pack, fill_model, vertical, file):
    patched, report = comfy.call("ACEPP_LoraLoader", model=fill_model, vertical=vertical,
                                 lora_name="(released file for the vertical)", strength=1.0, on_mismatch="error")
    assert report.startswith(f"{file}: all ") and "applied" in report
    assert patched is not fill_model and patched.model is fill_model.model  # a ModelPatcher clone
    assert len(patched.patches) == len(fx.lora_modules()) and len(fill_model.patches) == 0
    guard = ("outer_sample", pack.families.GUARD_KEY)
    assert len(patched.get_wrappers(*guard)) == 1 and not fill_model.get_wrappers(*guard)  # on the clone only


def test_stacked_loras_add_up(comfy, fill_model):
    once = comfy.call("ACEPP_LoraLoader", model=fill_model, vertical="portrait", lora_name="(released file for the vertical)",
                      strength=1.0, on_mismatch="error")[0]
    twice = comfy.call("ACEPP_LoraLoader", model=once, vertical="subject", lora_name="(released file for the vertical)",
                       strength=0.5, on_mismatch="error")[0]
    key = next(iter(twice.patches))
    assert len(twice.patches[key]) == 2 and len(once.patches[key]) == 1


def test_unmappable_lora_is_reported_exactly(comfy, fx, pack, fill_model):
    from comfy.utils import load_torch_file
    with pytest.raises(ValueError) as info:
        comfy.call("ACEPP_LoraLoader", model=fill_model, vertical="file", lora_name=fx.UNMAPPABLE_LORA,
                   strength=1.0, on_mismatch="error")
    message = str(info.value)
    assert message.startswith("[ACE++]") and f"{fx.UNMAPPABLE_KEY_COUNT} of " in message
    assert "FLUX.1-Fill-dev" in message and "set on_mismatch to warn" in message
    patched, report = comfy.call("ACEPP_LoraLoader", model=fill_model, vertical="file",
                                 lora_name=fx.UNMAPPABLE_LORA, strength=1.0, on_mismatch="warn")
    assert f"{fx.UNMAPPABLE_KEY_COUNT} of " in report and len(patched.patches) == len(fx.lora_modules())
    lora = load_torch_file(str(fx.default_out_dir() / "loras" / fx.UNMAPPABLE_LORA))
    _, coverage = pack.loaders.apply_lora(fill_model, lora, 1.0)
    assert set(coverage.unmapped_keys) == set(fx.expected_unmapped_keys(fx.UNMAPPABLE_LORA))
    assert coverage.unpatched == ()


def test_lora_on_the_fft_model_says_to_remove_the_lora_loader(comfy, fft_model):
    with pytest.raises(ValueError) as info:
        comfy.call("ACEPP_LoraLoader", model=fft_model, vertical="portrait",
                   lora_name="(released file for the vertical)", strength=1.0, on_mismatch="warn")
    assert str(info.value) == (
        "[ACE++] ACE++ LoRA Loader needs FLUX.1-Fill-dev (384 inputs) but the model is the ACE++ FFT model (448 "
        "inputs), which needs no LoRA; remove ACE++ LoRA Loader and use ACE++ FFT Conditioning with the ACE++ FFT "
        "model (ACE++ FFT Loader), or load flux1-fill-dev.safetensors to use this LoRA.")


def test_missing_released_lora_names_file_folder_and_download(comfy, fill_model, monkeypatch, tmp_path):
    import folder_paths
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "loras", ([str(tmp_path)], {".safetensors"}))
    monkeypatch.setattr(folder_paths, "filename_list_cache", {})
    with pytest.raises(ValueError) as info:
        comfy.call("ACEPP_LoraLoader", model=fill_model, vertical="subject",
                   lora_name="(released file for the vertical)", strength=1.0, on_mismatch="error")
    message = str(info.value)
    assert "comfyui_subject_lora16.safetensors" in message and str(tmp_path) in message
    assert "https://huggingface.co/ali-vilab/ACE_Plus/resolve/main/subject/" in message


def test_released_lora_in_a_subfolder_is_found(fx, pack, extra_loras):
    (extra_loras / "ace").mkdir()
    shutil.copy(fx.default_out_dir() / "loras" / "comfyui_local_lora16.safetensors",
                extra_loras / "ace" / "comfyui_local_lora16.safetensors")
    path = pack.loaders.find_model_file("loras", "comfyui_local_lora16.safetensors")
    assert path.endswith("comfyui_local_lora16.safetensors")


def test_truncated_lora_is_a_clear_error(comfy, fx, fill_model, extra_loras):
    good = (fx.default_out_dir() / "loras" / "comfyui_local_lora16.safetensors").read_bytes()
    (extra_loras / "broken_lora.safetensors").write_bytes(good[: len(good) // 3])
    import folder_paths
    folder_paths.filename_list_cache.clear()
    with pytest.raises(ValueError, match="corrupt or incompletely downloaded"):
        comfy.call("ACEPP_LoraLoader", model=fill_model, vertical="file", lora_name="broken_lora.safetensors",
                    strength=1.0, on_mismatch="error")


def test_fft_loader_refuses_fp16_and_the_fill_model(comfy, fx, pack):
    with pytest.raises(ValueError, match="does not support fp16"):
        comfy.call("ACEPP_FFTLoader", unet_name=fx.FFT_MODEL, weight_dtype="fp16")
    with pytest.raises(ValueError) as info:
        comfy.call("ACEPP_FFTLoader", unet_name=fx.FILL_MODEL, weight_dtype="bf16")
    # The fix named first is the FFT file in this loader; the Fill path stays named for whoever meant it.
    assert str(info.value) == (
        "[ACE++] ACE++ FFT Loader needs the ACE++ FFT model (448 inputs) but the model is FLUX.1-Fill-dev (384 "
        "inputs); set unet_name to ace_plus_fft.safetensors (download it from "
        "https://huggingface.co/ali-vilab/ACE_Plus/resolve/main/ace_plus_fft.safetensors); or, to use "
        "FLUX.1-Fill-dev, load it with Load Diffusion Model and use ACE++ Fill Conditioning with FLUX.1-Fill-dev "
        "(+ an ACE++ LoRA).")
    model = comfy.call("ACEPP_FFTLoader", unet_name=fx.FFT_MODEL, weight_dtype="bf16")[0]  # the named fix works
    assert pack.families.model_family(model) is pack.families.ModelFamily.FFT


def canvas_inputs(size=(48, 32)):
    image = torch.rand(1, size[1], size[0], 3, generator=torch.Generator().manual_seed(3))
    mask = torch.zeros(1, size[1], size[0])
    mask[:, :, size[0] // 2:] = 1
    return image, mask


@pytest.mark.parametrize("node, wrong, swap", [
    ("ACEPP_FillConditioning", "fft_model", "ACE\\+\\+ FFT Conditioning"),
    ("ACEPP_FFTConditioning", "fill_model", "ACE\\+\\+ Fill Conditioning"),
])
def test_mismatch_guard_names_the_node_to_swap(comfy, request, vae, cond, node, wrong, swap):
    canvas, mask = canvas_inputs()
    with pytest.raises(ValueError, match=swap):
        comfy.call(node, model=request.getfixturevalue(wrong), positive=cond, negative=cond, vae=vae,
                   canvas=canvas, canvas_mask=mask, repainting_scale=1.0, noise_mask=False)


def test_fft_conditioning_is_112_channels_in_documented_order(comfy, fft_model, vae, cond):
    from aceplusplus.lcu.conditioning import fft_split
    canvas, mask = canvas_inputs()
    positive, _, latent = comfy.call("ACEPP_FFTConditioning", model=fft_model, positive=cond, negative=cond, vae=vae,
                                     canvas=canvas, canvas_mask=mask, repainting_scale=0.0, noise_mask=False)
    values = positive[0][1]
    concat = values["concat_latent_image"]
    assert concat.shape == (1, 32, 4, 6) and latent["samples"].shape == (1, 16, 4, 6)
    context, change = fft_split(canvas, mask)
    with torch.inference_mode():  # the loaded VAE's weights are inference tensors, as in ComfyUI's executor
        assert torch.allclose(concat[:, :16], vae.encode(context))
        assert torch.allclose(concat[:, 16:], vae.encode(change))
    noise = torch.zeros(1, 16, 4, 6)
    full = fft_model.model.concat_cond(noise=noise, concat_latent_image=concat, concat_mask=values["concat_mask"],
                                       device=torch.device("cpu"))
    assert noise.shape[1] + full.shape[1] == 112  # 16 noise + 16 context + 16 change + 64 mask
    latent_format = fft_model.model.latent_format
    assert torch.allclose(full[:, :16], latent_format.process_in(concat[:, :16]))
    assert torch.allclose(full[:, 16:32], latent_format.process_in(concat[:, 16:]))
    unshuffled = torch.nn.functional.pixel_unshuffle(mask.reshape(1, 1, 32, 48), 8)
    assert torch.equal(full[:, 32:], unshuffled)


def test_fill_conditioning_applies_the_repainting_scale(comfy, fill_model, vae, cond):
    from aceplusplus.lcu.conditioning import repaint
    canvas, mask = canvas_inputs()
    for scale in (0.0, 0.5, 1.0):
        positive, negative, _ = comfy.call("ACEPP_FillConditioning", model=fill_model, positive=cond, negative=cond,
                                           vae=vae, canvas=canvas, canvas_mask=mask, repainting_scale=scale,
                                           noise_mask=True)
        concat = positive[0][1]["concat_latent_image"]
        assert concat.shape == (1, 16, 4, 6)
        with torch.inference_mode():
            assert torch.allclose(concat, vae.encode(repaint(canvas, mask, scale)))
        assert torch.equal(negative[0][1]["concat_mask"], mask.reshape(1, 1, 32, 48))


def test_comfyui_model_list_is_never_changed(comfy_root, fill_model, fft_model):
    from comfy import supported_models as supported
    fresh = subprocess.run(
        [sys.executable, "-c", "import comfy.options; comfy.options.enable_args_parsing(False); import comfy.cli_args as a; "
                               "a.args.cpu = True; import comfy.supported_models as s; print(','.join(c.__name__ for c in s.models))"],
        cwd=comfy_root, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    assert ",".join(c.__name__ for c in supported.models) == fresh


def sample(comfy, model, positive, negative, latent):
    return comfy.call("KSampler", model=model, seed=0, steps=1, cfg=1.0, sampler_name="euler", scheduler="normal",
                      positive=positive, negative=negative, latent_image=latent, denoise=1.0)


def test_sampling_guard_catches_stock_conditioning_on_the_fft_model(comfy, fft_model, vae, cond):
    canvas, mask = canvas_inputs()
    positive, negative, latent = comfy.call("InpaintModelConditioning", positive=cond, negative=cond, vae=vae,
                                            pixels=canvas, mask=mask, noise_mask=False)
    with pytest.raises(ValueError, match=r"16-channel image latent, made for FLUX.1-Fill-dev .*ACE\+\+ FFT Conditioning"):
        sample(comfy, fft_model, positive, negative, latent)


def test_sampling_guard_catches_fft_conditioning_on_a_lora_fill_model(comfy, fill_model, fft_model, vae, cond):
    canvas, mask = canvas_inputs()
    fill_lora = comfy.call("ACEPP_LoraLoader", model=fill_model, vertical="local_editing",
                           lora_name="(released file for the vertical)", strength=1.0, on_mismatch="error")[0]
    positive, negative, latent = comfy.call("ACEPP_FFTConditioning", model=fft_model, positive=cond, negative=cond,
                                            vae=vae, canvas=canvas, canvas_mask=mask, repainting_scale=0.0,
                                            noise_mask=False)
    with pytest.raises(ValueError, match=r"32-channel image latent, made for the ACE\+\+ FFT model .*ACE\+\+ Fill Conditioning"):
        sample(comfy, fill_lora, positive, negative, latent)
    (samples,) = sample(comfy, fft_model, positive, negative, latent)  # the right pairing samples
    assert samples["samples"].shape == latent["samples"].shape and torch.isfinite(samples["samples"]).all()


def test_sampling_check_catches_fft_conditioning_on_a_stock_loaded_fill_model(comfy, fill_model, fft_model, vae, cond):
    """Only the check the conditioning carries can see this: the stock UNETLoader's model has no wrapper."""
    canvas, mask = canvas_inputs()
    positive, negative, latent = comfy.call("ACEPP_FFTConditioning", model=fft_model, positive=cond, negative=cond,
                                            vae=vae, canvas=canvas, canvas_mask=mask, repainting_scale=0.0,
                                            noise_mask=False)
    with pytest.raises(ValueError, match=r"the sampler's model is FLUX.1-Fill-dev \(384 inputs\) but its conditioning "
                                         r"has a 32-channel image latent"):
        sample(comfy, fill_model, positive, negative, latent)


def ace_conditionings(comfy, fill_model, fft_model, vae, cond):
    """(name, conditioning) for every conditioning output of the pack's two conditioning nodes."""
    canvas, mask = canvas_inputs()
    common = dict(positive=cond, negative=cond, vae=vae, canvas=canvas, canvas_mask=mask, noise_mask=False)
    fill = comfy.call("ACEPP_FillConditioning", model=fill_model, repainting_scale=1.0, **common)
    fft = comfy.call("ACEPP_FFTConditioning", model=fft_model, repainting_scale=0.0, **common)
    return [("fill positive", fill[0]), ("fill negative", fill[1]), ("fft positive", fft[0]),
            ("fft negative", fft[1])]


def has_hooks(conditioning) -> bool:
    """comfy.sampler_helpers.cond_has_hooks where the core has it (the test that makes a sampler demote a
    Dynamic VRAM model); on older cores the same test written out: a hook group, or a control with hooks."""
    import comfy.sampler_helpers as helpers

    if hasattr(helpers, "cond_has_hooks"):
        return helpers.cond_has_hooks(conditioning)
    return any("hooks" in meta or ("control" in meta and meta["control"].get_extra_hooks())
               for _, meta in conditioning)


def test_ace_conditioning_carries_no_hooks(comfy, fill_model, fft_model, vae, cond):
    import comfy.hooks as hooks

    for name, conditioning in ace_conditionings(comfy, fill_model, fft_model, vae, cond):
        assert not has_hooks(conditioning), name
    # The check can fail: the same conditioning with a hook group (what the pack used before) has hooks.
    hooked = hooks.set_hooks_for_conditioning(cond, hooks.HookGroup())
    assert has_hooks(hooked)


def test_a_dynamic_vram_model_is_not_swapped_by_ace_conditioning(comfy, fill_model, fft_model, vae, cond):
    """CFGGuider.set_conds keeps a Dynamic VRAM patcher for ACE++ conditioning (on cores with Dynamic VRAM, a
    hooked conditioning makes it sample a non-dynamic copy reloaded from disk instead)."""
    import comfy.hooks as hooks
    import comfy.sampler_helpers as helpers
    import comfy.samplers as samplers

    dynamic = fill_model.clone()
    # A CPU has no Dynamic VRAM: flag the patcher as a GPU install has it, and stand in for the reloaded copy.
    dynamic.is_dynamic = lambda: True
    delegate = fill_model.clone()
    dynamic.get_non_dynamic_delegate = lambda: delegate
    for name, conditioning in ace_conditionings(comfy, fill_model, fft_model, vae, cond):
        guider = samplers.CFGGuider(dynamic)
        guider.set_conds(conditioning, conditioning)
        assert guider.model_patcher is dynamic, name
    hooked = hooks.set_hooks_for_conditioning(cond, hooks.HookGroup())
    guider = samplers.CFGGuider(dynamic)
    guider.set_conds(hooked, hooked)
    # The check can fail: a core that demotes hooked conditioning swaps the patcher for its delegate here.
    demotes = hasattr(helpers, "cond_has_hooks")
    assert guider.model_patcher is (delegate if demotes else dynamic)


def test_sampling_check_keeps_a_controlnet_applied_before_it(comfy, pack, fill_model, vae, cond):
    """A ControlNet applied to the prompt before the ACE++ conditioning stays in the chain."""
    import comfy.controlnet as controlnet

    earlier = controlnet.ControlBase()
    with_control = [[tensor, {**meta, "control": earlier}] for tensor, meta in cond]
    canvas, mask = canvas_inputs()
    positive, negative, _ = comfy.call("ACEPP_FillConditioning", model=fill_model, positive=with_control,
                                       negative=cond, vae=vae, canvas=canvas, canvas_mask=mask,
                                       repainting_scale=1.0, noise_mask=False)
    check = positive[0][1]["control"]
    assert isinstance(check, pack.families.SamplingCheck) and check.previous_controlnet is earlier
    assert negative[0][1]["control"].previous_controlnet is None


def test_fft_loader_loads_through_comfyuis_path_loader_with_the_files_metadata(comfy, fx, monkeypatch):
    import comfy.sd as sd

    seen = []
    real = sd.load_diffusion_model_state_dict

    def spy(state_dict, *args, **kwargs):
        seen.append(kwargs.get("metadata"))
        return real(state_dict, *args, **kwargs)

    monkeypatch.setattr(sd, "load_diffusion_model_state_dict", spy)
    comfy.call("ACEPP_FFTLoader", unet_name=fx.FFT_MODEL, weight_dtype="bf16")
    assert seen == [{"acepp_fixture": "random weights, for tests only"}]


@pytest.mark.parametrize("which", ["fft", "fill_lora"])
def test_models_of_the_pack_can_be_reloaded_by_comfyui(comfy, pack, fill_model, fft_model, which):
    """Current cores make a non-dynamic copy of a Dynamic VRAM model by loading it again (clone with
    disable_dynamic / force_deepcopy through the loader's cached_patcher_init); force_deepcopy takes the same
    branch on a CPU. The copy keeps the family, the weights, the LoRA patches and the pack's guard wrapper."""
    import inspect

    import comfy.patcher_extension as ext

    model = fft_model if which == "fft" else comfy.call(
        "ACEPP_LoraLoader", model=fill_model, vertical="local_editing", lora_name="(released file for the vertical)",
        strength=1.0, on_mismatch="error")[0]
    if "force_deepcopy" not in inspect.signature(model.clone).parameters:
        # Cores before Dynamic VRAM (0.3.75) never reload a model: there is nothing to make a copy from.
        assert not hasattr(model, "cached_patcher_init")
        return
    copy = model.clone(force_deepcopy=True)
    assert copy.model is not model.model
    assert pack.families.model_family(copy) is pack.families.model_family(model)
    weight = "img_in.weight"
    assert torch.equal(copy.model.diffusion_model.get_parameter(weight), model.model.diffusion_model.get_parameter(weight))
    assert copy.patches.keys() == model.patches.keys()
    assert len(copy.get_wrappers(ext.WrappersMP.OUTER_SAMPLE, pack.families.GUARD_KEY)) == 1
