"""Control maps for ACE++ controllable generation, and pasting them into the edit photo.

In ACE++ local editing a "control" task shows the model a derived picture (grey, pixelated, edges)
inside the masked area of the edit image, and the model repaints that area with repainting scale 0.
These helpers make the derived picture and composite it into the photo; the pixels outside the mask
are never touched (bit-identical).

Conventions: IMAGE is [B, H, W, C] float in 0..1, MASK is [B, H, W] float in 0..1 (ComfyUI's).
"""
from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from .images import broadcast_batch, check_aspect, mask_problem, resize_image, resize_mask, to_rgb
from .errors import AcePlusError
from .masks import binarize

CONTROL_KINDS = ("gray", "mosaic", "canny")


def _channels_first(image: torch.Tensor) -> torch.Tensor:
    return rearrange(to_rgb(image), "b h w c -> b c h w")


def _channels_last(image: torch.Tensor) -> torch.Tensor:
    return rearrange(image, "b c h w -> b h w c")


def _grey_to_rgb(grey: torch.Tensor) -> torch.Tensor:
    """[B, 1, H, W] -> IMAGE [B, H, W, 3]."""
    return repeat(grey, "b 1 h w -> b h w c", c=3).contiguous()


def gray_map(image: torch.Tensor) -> torch.Tensor:
    """Greyscale version of the image (the recolor task's control), still 3 channels, BT.601 luma."""
    grey = kornia.color.rgb_to_grayscale(_channels_first(image))
    return _grey_to_rgb(grey.clamp(0.0, 1.0))


def mosaic_map(image: torch.Tensor, cell: int = 16) -> torch.Tensor:
    """Pixelation: every cell x cell block (grid from the top-left corner) becomes its mean colour.

    Any height and width work: the cells on the right and bottom edges are cut short and averaged over the
    pixels they hold. The output has the input's exact size.
    """
    if isinstance(cell, bool) or int(cell) != cell or int(cell) < 1:
        raise AcePlusError(f"mosaic cell size must be a whole number of pixels >= 1, got {cell!r}")
    cell = int(cell)
    x = _channels_first(image)
    height, width = x.shape[-2:]
    # ceil_mode keeps the partial edge cells; with no padding torch divides them by the pixels they cover.
    pooled = F.avg_pool2d(x, kernel_size=cell, stride=cell, ceil_mode=True)
    cells = repeat(pooled, "b c h w -> b c (h dh) (w dw)", dh=cell, dw=cell)[..., :height, :width]
    return _channels_last(cells).contiguous()


def canny_map(image: torch.Tensor, low: float = 0.1, high: float = 0.2) -> torch.Tensor:
    """Canny edges (kornia.filters.canny, default 5x5 blur): white 1.0 edges on black, 3 channels.

    `low` and `high` are kornia's hysteresis thresholds on the unnormalised Sobel magnitude of the blurred
    grey image (a unit step scores about 2.6), so lower values find fainter edges.
    """
    low, high = float(low), float(high)
    if not (0.0 < low <= high):
        raise AcePlusError(f"canny thresholds need 0 < low <= high (usually low < high, e.g. 0.1 and 0.2); "
                           f"got low={low}, high={high}: lower the low threshold or raise the high one")
    x = _channels_first(image)
    if min(x.shape[-2:]) < 3:
        raise AcePlusError(f"canny needs an image of at least 3x3 pixels, got {x.shape[-1]}x{x.shape[-2]}")
    _, edges = kornia.filters.canny(x, low_threshold=low, high_threshold=high)
    return _grey_to_rgb(edges.to(x.dtype))


_MAKERS = {"gray": gray_map, "mosaic": mosaic_map, "canny": canny_map}


def make_control_map(image: torch.Tensor, kind: str, **params) -> torch.Tensor:
    """The control map `kind` (one of CONTROL_KINDS) of the image; `params` go to that kind's function."""
    key = str(kind).strip().lower()
    if key not in _MAKERS:
        raise AcePlusError(f"unknown control kind {kind!r}; choose one of: {', '.join(CONTROL_KINDS)}")
    return _MAKERS[key](image, **params)


def composite_control(image: torch.Tensor, control: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`image` with `control` pasted where the mask (binarised at 0.5, >= 0.5 is in) is 1.

    Pixels outside the mask are the image's own, bit for bit. A control or mask of another size but the same
    aspect ratio (within 1%) is resized to the image; a control or mask batch of 1 serves every image.
    """
    image = to_rgb(image)
    batch, height, width, _ = image.shape
    control = to_rgb(control).to(device=image.device, dtype=image.dtype)
    check_aspect(tuple(control.shape[1:3]), (height, width), "control map")
    control = broadcast_batch(resize_image(control, height, width), batch, "control map")

    problem = mask_problem(mask, "mask")
    if problem:
        raise AcePlusError(problem)
    m = (mask if mask.ndim == 3 else mask.unsqueeze(0)).to(device=image.device, dtype=torch.float32)
    check_aspect(tuple(m.shape[1:3]), (height, width), "mask")
    inside = broadcast_batch(binarize(resize_mask(m, height, width)), batch, "mask").unsqueeze(-1) > 0
    return torch.where(inside, control, image)
