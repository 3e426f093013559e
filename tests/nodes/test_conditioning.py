"""The conditioning nodes' starting latent (the encoded canvas, so every denoise works), their parity with the
stock InpaintModelConditioning, and the pre-sampling check they attach for models from stock loaders."""
import numpy as np
import pytest
import torch
from PIL import Image

from harness import stock_fill_graph

W, H = 64, 48


def make_rgba(path):
    """A 64x48 picture whose transparent rectangle is the mask (ComfyUI: MASK = 1 - alpha)."""
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha = np.full((H, W), 255, np.uint8)
    alpha[8:40, 16:48] = 0
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)


def parity_graph(image: str, denoise: float) -> dict:
    """The stock FLUX Fill inpaint graph plus the pack's canvas + Fill conditioning on the same model, image,
    prompt and seed; both sample at `denoise` with noise_mask off. 10 = stock decode, 23 = the pack's."""
    graph = stock_fill_graph(image, seed=5, steps=2, prefix="acepp_parity")
    graph["8"]["inputs"]["noise_mask"] = False
    graph["9"]["inputs"]["denoise"] = denoise
    graph["20"] = {"class_type": "ACEPP_CanvasBuilder",
                   "inputs": {"edit_image": ["4", 0], "mask": ["4", 1], "width": 1024, "height": 1024,
                              "token_budget": 4096, "reference_sizing": "resize", "keep_pixels_rate": 0.8,
                              "crop_to_context": False, "context_margin": 128}}
    graph["21"] = {"class_type": "ACEPP_FillConditioning",
                   "inputs": {"model": ["1", 0], "positive": ["7", 0], "negative": ["6", 0], "vae": ["3", 0],
                              "canvas": ["20", 0], "canvas_mask": ["20", 1], "repainting_scale": 1.0,
                              "noise_mask": False}}
    graph["22"] = {"class_type": "KSampler",
                   "inputs": {**graph["9"]["inputs"], "positive": ["21", 0], "negative": ["21", 1],
                              "latent_image": ["21", 2]}}
    graph["23"] = {"class_type": "VAEDecode", "inputs": {"samples": ["22", 0], "vae": ["3", 0]}}
    graph["24"] = {"class_type": "PreviewImage", "inputs": {"images": ["23", 0]}}
    return graph


def test_low_denoise_matches_stock_inpaint_conditioning(comfy):
    make_rgba(comfy.input_dir / "acepp_parity.png")
    try:
        comfy.run_graph(parity_graph("acepp_parity.png", 0.05), keep_cache=True)
        (stock,) = comfy.cached_output("10")
        (pack,) = comfy.cached_output("23")
        (canvas,) = comfy.cached_output("20")[:1]
        positive, negative, latent = comfy.cached_output("21")
        (model,) = comfy.cached_output("1")
        assert canvas.shape == (1, H, W, 3)  # scale 1: the canvas is the image itself
        diff = float((stock - pack).abs().mean())
        # What the old starting latent (zeros) gave in the same graph: the canvas was ignored.
        (zero_start,) = comfy.call("KSampler", model=model, seed=5, steps=2, cfg=1.0, sampler_name="euler",
                                   scheduler="normal", positive=positive, negative=negative,
                                   latent_image={"samples": torch.zeros_like(latent["samples"])}, denoise=0.05)
        (vae,) = comfy.cached_output("3")
        (zero_decoded,) = comfy.call("VAEDecode", samples=zero_start, vae=vae)
        before = float((stock - zero_decoded).abs().mean())
    finally:
        comfy.free()
    print(f"parity mean |diff|: {diff * 255:.3f}/255 (a zero starting latent: {before * 255:.1f}/255)")
    assert diff < 1 / 255, f"mean |difference| {diff * 255:.2f}/255"
    assert before > 10 / 255


def test_the_starting_latent_is_the_encoded_canvas(comfy, fx, vae_and_prompt):
    model = comfy.call("UNETLoader", unet_name=fx.FILL_MODEL, weight_dtype="default")[0]
    vae, cond = vae_and_prompt
    canvas = torch.rand(1, 32, 48, 3, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, 32, 48)
    mask[:, 8:24, 8:40] = 1
    for noise_mask in (False, True):
        _, _, latent = comfy.call("ACEPP_FillConditioning", model=model, positive=cond, negative=cond, vae=vae,
                                  canvas=canvas, canvas_mask=mask, repainting_scale=0.5, noise_mask=noise_mask)
        with torch.inference_mode():
            assert torch.allclose(latent["samples"], vae.encode(canvas))
        assert ("noise_mask" in latent) == noise_mask


def test_conditioning_checks_a_model_from_a_stock_loader(comfy, fx, vae_and_prompt):
    """The pack's conditioning carries its own pre-sampling check: a model from the stock UNETLoader that does
    not fit it is named before the first step (that model has no guard of its own)."""
    fill = comfy.call("UNETLoader", unet_name=fx.FILL_MODEL, weight_dtype="default")[0]
    fft = comfy.call("UNETLoader", unet_name=fx.FFT_MODEL, weight_dtype="default")[0]
    vae, cond = vae_and_prompt
    canvas = torch.rand(1, 32, 48, 3, generator=torch.Generator().manual_seed(2))
    mask = torch.ones(1, 32, 48)
    positive, negative, latent = comfy.call("ACEPP_FillConditioning", model=fill, positive=cond, negative=cond,
                                            vae=vae, canvas=canvas, canvas_mask=mask, repainting_scale=1.0,
                                            noise_mask=False)
    sampler = dict(seed=0, steps=1, cfg=1.0, sampler_name="euler", scheduler="normal", positive=positive,
                   negative=negative, latent_image=latent, denoise=1.0)
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] the sampler's model is the ACE\+\+ FFT model \(448 inputs\) "
                                         r"but its conditioning has a 16-channel image latent"):
        comfy.call("KSampler", model=fft, **sampler)
    (samples,) = comfy.call("KSampler", model=fill, **sampler)  # the model it was made for samples
    assert torch.isfinite(samples["samples"]).all()
    # The check travels with the conditioning only: the stock model itself is left without wrappers.
    assert not fft.wrappers.get("outer_sample")


def test_the_two_conditioning_nodes_differ_only_in_model_and_repainting_default(comfy):
    """One schema: same inputs, outputs and advanced marks; what differs is the model, the repainting_scale
    default and the words."""
    fill, fft = (comfy.node_class(n).define_schema() for n in ("ACEPP_FillConditioning", "ACEPP_FFTConditioning"))

    def shape(schema):
        return [(type(i).__name__, i.id, i.optional, getattr(i, "min", None), getattr(i, "max", None))
                for i in schema.inputs], [(type(o).__name__, o.display_name, o.tooltip) for o in schema.outputs]

    assert shape(fill) == shape(fft)
    differing = {i.id for i, j in zip(fill.inputs, fft.inputs) if i.as_dict() != j.as_dict() or i.tooltip != j.tooltip}
    assert differing == {"model", "repainting_scale"}
    assert (fill.inputs[6].default, fft.inputs[6].default) == (1.0, 0.0)
    assert fill.display_name != fft.display_name and fill.description != fft.description
