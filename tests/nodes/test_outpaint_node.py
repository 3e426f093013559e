"""ACE++ Extend Image (outpaint) on a real in-process ComfyUI, through ACE++ Canvas and ACE++ Stitch: the original
pixels come back bit for bit and the new area is what was generated."""
import pytest
import torch

from aceplusplus.lcu.canvas import GREY

CANVAS = dict(width=1024, height=1024, token_budget=4096, reference_sizing="resize", keep_pixels_rate=0.8,
              crop_to_context=True, context_margin=128)


def rand_image(h, w, b=1, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def extend(comfy, image, left=0, top=0, right=0, bottom=0):
    return comfy.call("ACEPP_Outpaint", image=image, left=left, top=top, right=right, bottom=bottom)


@pytest.mark.parametrize("margins", [dict(right=64, top=32), dict(left=16, bottom=8), dict(left=40, right=40)])
def test_outpaint_canvas_stitch_keeps_every_original_pixel(comfy, margins):
    photo = rand_image(128, 160, seed=3)
    extended, mask = extend(comfy, photo, **margins)
    left, top = margins.get("left", 0), margins.get("top", 0)
    height = 128 + top + margins.get("bottom", 0)
    width = 160 + left + margins.get("right", 0)
    assert extended.shape == (1, height, width, 3) and mask.shape == (1, height, width)
    original = (slice(None), slice(top, top + 128), slice(left, left + 160))
    assert torch.equal(extended[original], photo) and bool((mask[original] == 0).all())
    new = torch.ones(height, width, dtype=torch.bool)
    new[original[1:]] = False
    assert bool((mask[:, new] == 1).all()) and bool((extended[:, new] == GREY).all())

    canvas, canvas_mask, layout = comfy.call("ACEPP_CanvasBuilder", edit_image=extended, mask=mask, **CANVAS)
    assert bool(canvas_mask.any())
    decoded = torch.rand(canvas.shape, generator=torch.Generator().manual_seed(11))  # stands in for VAE Decode
    result, blend = comfy.call("ACEPP_Stitch", image=decoded, layout=layout, grow=0, feather=0, color_match=False)
    assert result.shape == (1, height, width, 3)
    assert torch.equal(result[original], photo)  # bit-identical, not merely close
    assert bool((result[:, new] != GREY).any(dim=-1).all())  # every new pixel was generated


def test_outpaint_node_preview_and_defaults(comfy):
    out = comfy.node("ACEPP_Outpaint").raw(image=rand_image(128, 256), left=0, top=0, right=256, bottom=0)
    extended, mask = out.result
    assert extended.shape == (1, 128, 512, 3) and mask.shape == (1, 128, 512)
    preview = out.ui if isinstance(out.ui, dict) else out.ui.as_dict()
    assert len(preview["images"]) == 1  # the extended image, its new area tinted
    schema = comfy.node_class("ACEPP_Outpaint").define_schema()
    defaults = {i.id: i.default for i in schema.inputs if i.id != "image"}
    assert defaults == {"left": 0, "top": 0, "right": 256, "bottom": 0}
    assert {(i.min, i.max, i.step) for i in schema.inputs if i.id != "image"} == {(0, 8192, 8)}


def test_outpaint_node_errors_name_a_fix_that_works(comfy):
    photo = rand_image(64, 64)
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] extended by these margins the image would be 320x64, beyond "
                                         r"the 4:1 aspect ACE\+\+ supports; set right to 192 "):
        extend(comfy, photo, right=256)
    extended, _ = extend(comfy, photo, right=192)
    assert extended.shape == (1, 64, 256, 3)
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] all four margins are 0, so there is nothing to extend; "
                                         r"set right to 192 "):
        extend(comfy, photo)
    with pytest.raises(ValueError, match=r"^\[ACE\+\+\] ACE\+\+ Extend Image \(outpaint\): left is -8; set left to a "
                                         r"whole number between 0 and 8192"):
        extend(comfy, photo, left=-8, right=8)
