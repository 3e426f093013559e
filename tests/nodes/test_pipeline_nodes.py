"""The canvas, control-map and stitch nodes on a real in-process ComfyUI, and the whole ACE++ pipeline through
ComfyUI's own loaders, Fill conditioning, KSampler and VAE with the tiny fixtures."""
import pytest
import torch



def rand_image(h, w, b=1, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


CANVAS_DEFAULTS = dict(width=1024, height=1024, token_budget=4096, reference_sizing="resize", keep_pixels_rate=0.8,
                       crop_to_context=False, context_margin=128)


def canvas(comfy, **inputs):
    return comfy.call("ACEPP_CanvasBuilder", **(CANVAS_DEFAULTS | inputs))


def test_canvas_node_outputs_and_preview(comfy):
    out = comfy.node("ACEPP_CanvasBuilder").raw(**(CANVAS_DEFAULTS | dict(reference=rand_image(300, 200), width=200,
                                                                              height=136)))
    image, mask, layout = out.result
    assert image.shape == (1, layout.canvas_height, layout.canvas_width, 3) and mask.shape == image.shape[:3]
    assert (layout.target_width, layout.target_height) == (200, 136)
    assert "text" not in out.ui  # a warning (a faint mask) would go there
    previews = out.ui["images"]
    assert len(previews) == 2  # the canvas with the mask tinted, then the mask itself
    from PIL import Image
    import folder_paths
    for item in previews:
        path = f"{folder_paths.get_temp_directory()}/{item['subfolder']}/{item['filename']}"
        assert Image.open(path).size == (layout.canvas_width, layout.canvas_height)


def test_add_reference_chain_keeps_order(comfy):
    first = torch.full((1, 64, 32, 3), 0.2)
    second = torch.full((1, 64, 32, 3), 0.8)
    (refs,) = comfy.call("ACEPP_AddReference", image=first)
    (refs,) = comfy.call("ACEPP_AddReference", image=second, references=refs)
    image, _, layout = canvas(comfy, reference=torch.full((1, 64, 32, 3), 0.5), more_references=refs, width=64,
                              height=64, token_budget=65536)
    values = [float(p.slice(image).mean()) for p in layout.reference_panels]
    assert values == pytest.approx([0.5, 0.2, 0.8], abs=1e-6)


def test_canvas_node_errors_are_prefixed_and_actionable(comfy):
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] reference generation needs at least one reference"):
        canvas(comfy)
    with pytest.raises(ValueError, match=r"\[ACE\+\+\] the mask is 50x50 but the image is 80x100, another aspect"):
        canvas(comfy, edit_image=rand_image(100, 80), mask=torch.ones(1, 50, 50))


def test_canvas_node_checks_the_pixels_of_the_crop_it_reads(comfy):
    """The node checks the edit image's shape only; lcu checks the pixels the canvas reads, so a bad pixel
    outside the crop is never read (a large photo is not scanned in full) and one inside is refused."""
    photo = rand_image(200, 300, seed=8)
    mask = torch.zeros(1, 200, 300)
    mask[:, 20:60, 20:60] = 1
    cropped = dict(edit_image=photo, mask=mask, crop_to_context=True, context_margin=8)
    outside = photo.clone()
    outside[0, 150, 250, 1] = float("nan")
    image, _, layout = canvas(comfy, **(cropped | dict(edit_image=outside)))
    assert layout.target_regions[0].x + layout.target_regions[0].w < 250 and torch.isfinite(image).all()
    inside = photo.clone()
    inside[0, 40, 40, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] the edit image contains NaN or infinite pixel values"):
        canvas(comfy, **(cropped | dict(edit_image=inside)))
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] the edit image contains NaN"):  # no crop: all is read
        canvas(comfy, **(cropped | dict(edit_image=outside, crop_to_context=False)))


def test_canvas_node_reference_share_and_resampling(comfy):
    # Left out (an older saved workflow or API graph): no limit, antialiased, today's canvas.
    _, _, default = canvas(comfy, reference=rand_image(600, 1000), width=832, height=1216)
    assert (default.canvas_width, default.target_panel.w) == (1552, 448)
    assert (default.reference_share, default.resampling) == (1.0, "antialiased")
    image, mask, layout = canvas(comfy, reference=rand_image(600, 1000), width=832, height=1216, reference_share=0.5,
                                 resampling="nearest-exact")
    assert layout.target_panel.w * 2 >= layout.canvas_width and layout.tokens <= 4096
    assert layout.resampling == "nearest-exact" and image.shape[1:3] == mask.shape[1:] == (864, 1184)
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] ACE\+\+ Canvas \(LCU\+\+\): reference_share is 0; set "
                                         r"reference_share to a number between 0.05 and 1"):
        canvas(comfy, reference=rand_image(64, 64), reference_share=0.0)
    with pytest.raises(ValueError, match=r"resampling is 'bilinear', which is not one of its choices"):
        canvas(comfy, reference=rand_image(64, 64), resampling="bilinear")


ADDED_CANVAS_INPUTS = ["reference_share", "resampling", "regions", "merge_distance", "min_region_area", "max_regions",
                       "panel_sizing", "panel_width", "panel_height", "edit_style", "reference_mask"]


def test_canvas_node_new_inputs_come_last_and_are_optional(pack):
    inputs = pack.canvas.CanvasBuilder.define_schema().inputs
    assert [i.id for i in inputs][-len(ADDED_CANVAS_INPUTS):] == ADDED_CANVAS_INPUTS  # in the order they were added
    assert all(i.optional for i in inputs[-len(ADDED_CANVAS_INPUTS):])


def test_control_map_node(comfy):
    image = rand_image(64, 64)
    mask = torch.zeros(1, 64, 64)
    mask[:, 16:48, 16:48] = 1
    edited, control = comfy.call("ACEPP_ControlMap", image=image, mask=mask, kind="gray", mosaic_cell=16,
                                 canny_low=0.1, canny_high=0.2)
    assert torch.equal(edited[:, :16], image[:, :16])
    assert torch.allclose(edited[0, 20, 20, 0], edited[0, 20, 20, 1])
    with pytest.raises(ValueError, match="no control_image is connected"):
        comfy.call("ACEPP_ControlMap", image=image, mask=mask, kind="external", mosaic_cell=16, canny_low=0.1,
                   canny_high=0.2)
    depth = rand_image(32, 32, seed=5)
    edited, _ = comfy.call("ACEPP_ControlMap", image=image, mask=mask, kind="external", control_image=depth,
                           mosaic_cell=16, canny_low=0.1, canny_high=0.2)
    assert edited.shape == image.shape and torch.equal(edited[:, 50:], image[:, 50:])


@pytest.fixture(scope="module")
def pipeline(comfy, fx):
    model = comfy.call("UNETLoader", unet_name=fx.FILL_MODEL, weight_dtype="default")[0]
    clip = comfy.call("CLIPLoader", clip_name=fx.CLIP_L, type="stable_diffusion")[0]
    vae = comfy.call("VAELoader", vae_name=fx.VAE)[0]
    return model, clip, vae


def run_ace(comfy, pipeline, vertical, canvas_inputs, repainting_scale=1.0, steps=2):
    model, clip, vae = pipeline
    model = comfy.call("ACEPP_LoraLoader", model=model, vertical=vertical,
                       lora_name="(released file for the vertical)", strength=1.0, on_mismatch="error")[0]
    positive = comfy.call("CLIPTextEncode", clip=clip, text="Maintain the facial features, a test")[0]
    positive = comfy.call("FluxGuidance", conditioning=positive, guidance=50.0)[0]
    negative = comfy.call("CLIPTextEncode", clip=clip, text="")[0]
    image, mask, layout = canvas(comfy, **canvas_inputs)
    positive, negative, latent = comfy.call("ACEPP_FillConditioning", model=model, positive=positive,
                                            negative=negative, vae=vae, canvas=image, canvas_mask=mask,
                                            repainting_scale=repainting_scale, noise_mask=False)
    (samples,) = comfy.call("KSampler", model=model, seed=7, steps=steps, cfg=1.0, sampler_name="euler",
                            scheduler="normal", positive=positive, negative=negative, latent_image=latent,
                            denoise=1.0)
    (decoded,) = comfy.call("VAEDecode", samples=samples, vae=vae)
    assert decoded.shape == image.shape and torch.isfinite(decoded).all()
    return comfy.call("ACEPP_Stitch", image=decoded, layout=layout, grow=0, feather=0, color_match=False)


@pytest.mark.parametrize("size, budget", [((96, 64), 4096), ((90, 70), 4096), ((200, 120), 64)])
def test_reference_generation_returns_the_requested_size(comfy, pipeline, size, budget):
    result, blend = run_ace(comfy, pipeline, "portrait", dict(reference=rand_image(80, 60), width=size[0],
                                                               height=size[1], token_budget=budget))
    assert result.shape == (1, size[1], size[0], 3) and torch.isfinite(result).all()
    assert torch.all(blend == 1)


def test_local_edit_keeps_unmasked_pixels_bit_identical(comfy, pipeline):
    photo = rand_image(72, 88, seed=2)
    mask = torch.zeros(1, 72, 88)
    mask[:, 20:50, 30:70] = 1
    result, blend = run_ace(comfy, pipeline, "local_editing", dict(edit_image=photo, mask=mask),
                            repainting_scale=0.5)
    assert result.shape == photo.shape
    assert torch.equal(result[0][blend[0] == 0], photo[0][blend[0] == 0])
    assert not torch.equal(result[0][blend[0] == 1], photo[0][blend[0] == 1])


def test_three_regions_sample_as_one_batch_and_stitch_into_the_one_photo(comfy, pipeline):
    photo = rand_image(96, 160, seed=4)
    mask = torch.zeros(1, 96, 160)
    for y, x in ((8, 8), (60, 20), (30, 120)):
        mask[:, y:y + 20, x:x + 24] = 1
    faces = rand_image(40, 32, b=3, seed=6)  # reference i for region i
    inputs = dict(reference=faces, edit_image=photo, mask=mask, context_margin=8, regions="connected_components",
                  merge_distance=4, min_region_area=16, max_regions=3)
    _, _, layout = canvas(comfy, **inputs)
    assert len(layout.target_regions) == 3
    result, blend = run_ace(comfy, pipeline, "portrait", inputs)
    assert result.shape == photo.shape and blend.shape == (1, 96, 160)
    assert torch.equal(result[0][blend[0] == 0], photo[0][blend[0] == 0])
    assert torch.equal(blend[0] > 0, mask[0] > 0)
    with pytest.raises(ValueError, match=r"the mask gives 3 regions .*set max_regions to 3"):
        canvas(comfy, **(inputs | dict(max_regions=2)))
    with pytest.raises(ValueError, match=r"regions is 'all', which is not one of its choices"):
        canvas(comfy, **(inputs | dict(regions="all")))

