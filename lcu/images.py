"""ComfyUI's tensor conventions, enforced once: IMAGE is [B, H, W, C] in 0..1, MASK is [B, H, W] in 0..1.

Channel conversion, batch broadcasting, resizing and the "same aspect ratio or error" rule that every
lcu module (canvas, masks, control maps, stitch, blend) applies to what users wire in.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from .errors import AcePlusError

ASPECT_TOLERANCE = 0.01


def to_rgb(image: torch.Tensor) -> torch.Tensor:
    """An IMAGE [B, H, W, C] with 3 channels: C=1 is repeated, C=4 loses its alpha, C=3 is returned as is."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise AcePlusError(f"expected an IMAGE shaped [batch, height, width, channels], got {shape}; "
                           "connect an IMAGE output here (a MASK needs a 'Convert Mask to Image' node first)")
    channels = image.shape[-1]
    if channels == 3:
        return image
    if channels == 1:
        return repeat(image, "b h w 1 -> b h w c", c=3)
    if channels == 4:
        return image[..., :3]
    raise AcePlusError(f"an image has {channels} channels; give an RGB (3), greyscale (1) or RGBA (4) image")


def _shape(t) -> str:
    return "x".join(map(str, t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def image_problem(image, what: str, pixels: bool = True) -> str | None:
    """What is wrong with a user's IMAGE ([B, H, W, C], or one [H, W, C] image), None when nothing is.

    The one shape check of the pack: the nodes' input validation and every lcu function use it. With `pixels`
    False the pixels are not read (the nodes' check: lcu checks for NaN in the pixels it reads, such as the
    crop of a large photo the canvas shows)."""
    if not isinstance(image, torch.Tensor) or image.dim() not in (3, 4):
        return (f"the {what} is not an IMAGE [batch, height, width, channels] (got {_shape(image)}); connect an IMAGE output "
                "(a MASK needs a 'Convert Mask to Image' node first).")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    batch, height, width, channels = image.shape
    if batch == 0 or height == 0 or width == 0:
        return (f"the {what} is empty ({batch} images of {width}x{height} px); connect an image with pixels (check "
                "the crop, resize or batch node before it).")
    if channels not in (1, 3, 4):
        return f"the {what} has {channels} channels; connect an RGB (3), greyscale (1) or RGBA (4) image."
    if pixels and image.is_floating_point() and not bool(torch.isfinite(image).all()):
        return f"the {what} contains NaN or infinite pixel values; fix or replace the node that made it."
    return None


def mask_problem(mask, what: str) -> str | None:
    """What is wrong with a user's MASK ([B, H, W], or one [H, W] mask), None when nothing is."""
    if not isinstance(mask, torch.Tensor) or mask.dim() not in (2, 3):
        return (f"the {what} is not a MASK [batch, height, width] (got {_shape(mask)}); connect a MASK output (an "
                "IMAGE needs a 'Convert Image to Mask' node first).")
    if mask.numel() == 0:
        return (f"the {what} is empty ({_shape(mask)}); connect a mask with pixels, or disconnect it to use the "
                "whole image (check the crop or resize node before it).")
    if mask.is_floating_point() and not bool(torch.isfinite(mask).all()):
        return f"the {what} contains NaN or infinite values; fix or replace the node that made it."
    return None


def as_image_batch(image, what: str) -> torch.Tensor:
    """A user's IMAGE (a single [H, W, C] image too) as a float RGB batch; errors name the input."""
    problem = image_problem(image, what)
    if problem:
        raise AcePlusError(problem)
    if image.dim() == 3:
        image = image.unsqueeze(0)
    return to_rgb(image.float())


def broadcast_batch(t: torch.Tensor, batch: int, what: str, per: str = "image") -> torch.Tensor:
    """`t` (an IMAGE or MASK) with `batch` items, one per image (or per region of a photo): a batch of 1 serves
    every one, any other size is an error naming both counts."""
    if t.shape[0] == batch:
        return t
    if t.shape[0] == 1:
        return t.expand(batch, *t.shape[1:])
    if per != "image" and batch == 1:
        raise AcePlusError(f"the {what} has a batch of {t.shape[0]} but there is only 1 {per}; give a batch of 1 (used "
                           f"for the {per}), or {t.shape[0]} {per}s (item i for {per} i).")
    if per != "image":
        raise AcePlusError(f"the {what} has a batch of {t.shape[0]} but there are {batch} {per}s; give 1 (used for "
                           f"every {per}) or {batch} (item i for {per} i).")
    if batch == 1:
        raise AcePlusError(f"the {what} has a batch of {t.shape[0]} but the image has a batch of 1; give a "
                           f"single {what} (used for every image) or a batch of {t.shape[0]} images.")
    raise AcePlusError(f"the {what} has a batch of {t.shape[0]} but the image has a batch of {batch}; "
                       f"give 1 (used for every image) or {batch}.")


def same_aspect(a_hw: tuple[int, int], b_hw: tuple[int, int]) -> bool:
    return abs(a_hw[1] / a_hw[0] - b_hw[1] / b_hw[0]) <= ASPECT_TOLERANCE * (b_hw[1] / b_hw[0])


def check_aspect(hw: tuple[int, int], image_hw: tuple[int, int], what: str) -> None:
    """Another size is fine (it gets resized); another aspect ratio is an error naming both sizes."""
    if not same_aspect(hw, image_hw):
        (h, w), (height, width) = hw, image_hw
        raise AcePlusError(f"the {what} is {w}x{h} but the image is {width}x{height}, another aspect ratio; "
                           f"make the {what} from this image or resize/crop it to {width}x{height}.")


RESAMPLINGS = ("antialiased", "nearest-exact")
# The pack's default: antialiased bilinear when shrinking (no aliasing on fine detail), bicubic when enlarging.
# "nearest-exact" is what the reference implementation and ACE++'s training resize the canvas with.
DEFAULT_RESAMPLING = "antialiased"


def resize_image(image: torch.Tensor, height: int, width: int, resampling: str = DEFAULT_RESAMPLING) -> torch.Tensor:
    """Resize a [B, H, W, C] image. antialiased: bilinear with antialiasing when shrinking, bicubic when
    enlarging. nearest-exact: every output pixel copies the nearest input pixel (ACE++'s training-time resize)."""
    if resampling not in RESAMPLINGS:
        raise AcePlusError(f"unknown resampling '{resampling}'; use one of {', '.join(RESAMPLINGS)}.")
    if image.shape[1:3] == (height, width):
        return image
    x = rearrange(image, "b h w c -> b c h w")
    if resampling == "nearest-exact":
        x = F.interpolate(x, size=(height, width), mode="nearest-exact")
    elif height <= image.shape[1] and width <= image.shape[2]:
        x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    else:
        x = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False)
    return rearrange(x, "b c h w -> b h w c").clamp(0.0, 1.0)


def resize_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a [B, H, W] mask (antialiased when shrinking); values stay in 0..1."""
    if mask.shape[-2:] == (height, width):
        return mask
    out = F.interpolate(rearrange(mask, "b h w -> b 1 h w"), size=(height, width), mode="bilinear",
                        antialias=True, align_corners=False)
    return rearrange(out, "b 1 h w -> b h w").clamp(0.0, 1.0)
