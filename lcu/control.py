"""Control maps for ACE++ controllable generation, computed with kornia (no external annotator package).

ACE++ composites the map into the masked area of the edit photo and repaints it with repainting scale 0,
so the model sees the map exactly where it must generate.
"""
from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from .layout import AcePlusError
from .masks import binarize, same_aspect

CONTROL_KINDS = ("gray", "mosaic", "canny")


def to_rgb(image: torch.Tensor) -> torch.Tensor:
    """[B, H, W, C] with C in (1, 3, 4) as RGB: grayscale repeated, alpha dropped."""
    if image.shape[-1] == 1:
        return image.expand(*image.shape[:-1], 3)
    if image.shape[-1] == 4:
        return image[..., :3]
    return image


def channels_first(image: torch.Tensor) -> torch.Tensor:
    return rearrange(to_rgb(image), "b h w c -> b c h w")


def channels_last(image: torch.Tensor) -> torch.Tensor:
    return rearrange(image, "b c h w -> b h w c").clamp(0.0, 1.0).contiguous()


def gray_map(image: torch.Tensor) -> torch.Tensor:
    """Luminance as a 3-channel image (the recolor task)."""
    gray = kornia.color.rgb_to_grayscale(channels_first(image))
    return channels_last(repeat(gray, "b 1 h w -> b c h w", c=3))


def mosaic_map(image: torch.Tensor, cell: int = 16) -> torch.Tensor:
    """Pixelation: every cell x cell block (the last ones may be partial) set to its mean colour."""
    if cell < 1:
        raise AcePlusError(f"the mosaic cell must be at least 1 px; got {cell}.")
    x = channels_first(image)
    h, w = x.shape[-2:]
    means = F.avg_pool2d(x, kernel_size=cell, stride=cell, ceil_mode=True)
    blocks = means.repeat_interleave(cell, dim=-2).repeat_interleave(cell, dim=-1)
    return channels_last(blocks[..., :h, :w])


def canny_map(image: torch.Tensor, low: float = 0.1, high: float = 0.2) -> torch.Tensor:
    """White edges on black (3 channels)."""
    if not 0.0 < low < high < 1.0:
        raise AcePlusError(f"canny thresholds must satisfy 0 < low < high < 1; got low={low}, high={high}.")
    _, edges = kornia.filters.canny(channels_first(image), low_threshold=low, high_threshold=high)
    return channels_last(repeat(edges, "b 1 h w -> b c h w", c=3))


def make_control_map(image: torch.Tensor, kind: str, **params) -> torch.Tensor:
    makers = {"gray": gray_map, "mosaic": mosaic_map, "canny": canny_map}
    if kind not in makers:
        raise AcePlusError(f"unknown control map '{kind}'; use one of {', '.join(CONTROL_KINDS)} (or give an "
                           "external map as an image).")
    return makers[kind](image, **params)


def fit_batch(t: torch.Tensor, batch: int, what: str) -> torch.Tensor:
    if t.shape[0] == batch:
        return t
    if t.shape[0] == 1:
        return t.expand(batch, *t.shape[1:])
    raise AcePlusError(f"the {what} has a batch of {t.shape[0]} but the image has {batch}; give 1 or {batch}.")


def composite_control(image: torch.Tensor, control: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`image` with `control` pasted where the mask (binarised at 0.5) is 1, bit-identical elsewhere."""
    image, control = to_rgb(image), to_rgb(control)
    h, w = image.shape[1:3]
    if control.shape[1:3] != (h, w):
        if not same_aspect(tuple(control.shape[1:3]), (h, w)):
            raise AcePlusError(
                f"the control map is {control.shape[2]}x{control.shape[1]} but the image is {w}x{h} (another aspect "
                "ratio); make the control map from this image or resize it to the image size.")
        control = channels_last(F.interpolate(channels_first(control), size=(h, w), mode="bilinear",
                                              antialias=True, align_corners=False))
    if mask.shape[1:3] != (h, w):
        raise AcePlusError(f"the mask is {mask.shape[2]}x{mask.shape[1]} but the image is {w}x{h}.")
    control = fit_batch(control, image.shape[0], "control map").to(image.dtype)
    inside = fit_batch(binarize(mask), image.shape[0], "mask").unsqueeze(-1) > 0
    return torch.where(inside, control, image)
