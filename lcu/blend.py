"""The blend mask that composites a generated region back into the original photo, and colour matching.

Exactness matters here: the stitcher copies every pixel where the blend mask is 0 from the original, bit for
bit, so growing and feathering never leave stray non-zero values far from the mask. "Distance" is the
chessboard (square) distance: growing by p reaches every pixel within a (2p+1) x (2p+1) square.

Masks are [B, H, W] float in 0..1 (a single [H, W] mask is accepted too and keeps its shape); soft masks are
treated as grey levels (grey-level morphology).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import kornia
import torch
import torch.nn.functional as F
from einops import rearrange

from .errors import AcePlusError
from .images import to_rgb

MIN_CONTEXT_PIXELS = 16  # colour matching needs at least this much reference weight per image
_LAB_STD_FLOOR = 1.0  # Lab units added to both standard deviations: a flat region never blows the scale up
_MAX_STD_SCALE = 4.0  # and the contrast change stays within [1/4, 4]
_POOL_REACH = 16  # up to this reach a max pool per axis is faster than the logarithmic three-tap passes


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise AcePlusError(f"{name} must be a whole number of pixels, got {value!r}")
    return int(value)


def _as_masks(mask: torch.Tensor, what: str = "mask") -> torch.Tensor:
    """[B, H, W] or [H, W] -> [B, 1, H, W] floating."""
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise AcePlusError(f"expected a {what} shaped [batch, height, width], got {shape}")
    if not mask.is_floating_point():
        mask = mask.float()
    return rearrange(mask, "h w -> 1 1 h w") if mask.ndim == 2 else rearrange(mask, "b h w -> b 1 h w")


def _back(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return rearrange(x, "1 1 h w -> h w") if like.ndim == 2 else rearrange(x, "b 1 h w -> b h w")


def _radii(reach: int) -> list[int]:
    """Radii r_i with sum == reach and {-r_i, 0, r_i} summing (Minkowski) to every offset in [-reach, reach].

    1, 2, 4, ... then the remainder: every offset is a sum of same-sign steps, so each partial sum lies between
    the pixel and its target and the decomposition is exact at the image borders too.
    """
    radii, total, step = [], 0, 1
    while total + step <= reach:
        radii.append(step)
        total += step
        step *= 2
    if reach > total:
        radii.append(reach - total)
    return radii


def _three_tap(x: torch.Tensor, radius: int, axis: int, op, pad_value: float) -> torch.Tensor:
    """Morphology `op` with the sparse element {-radius, 0, +radius} along `axis` (-1: width, -2: height).

    Pixels `radius` apart along the axis are made neighbours by folding the axis: the positions with the same
    remainder modulo `radius` form one line, on which a dense 3-tap element does the work.
    """
    size = x.shape[axis]
    lines = -(-size // radius)
    if axis == -1:
        x = F.pad(x, (0, lines * radius - size), value=pad_value)
        x = rearrange(x, "b c h (n r) -> b c n (h r)", r=radius)
    else:
        x = F.pad(x, (0, 0, 0, lines * radius - size), value=pad_value)
        x = rearrange(x, "b c (n r) w -> b c n (r w)", r=radius)
    kernel = torch.ones(3, 1, device=x.device, dtype=x.dtype)
    x = op(x, kernel, border_type="constant", border_value=pad_value, engine="unfold")
    if axis == -1:
        return rearrange(x, "b c n (h r) -> b c h (n r)", r=radius)[..., :size]
    return rearrange(x, "b c n (r w) -> b c (n r) w", r=radius)[..., :size, :]


def _pooled_morphology(x: torch.Tensor, reach: int, dilate: bool) -> torch.Tensor:
    """The same square filter for a small reach: one max pool per axis (its padding is -inf: ignored pixels)."""
    x = x if dilate else -x
    x = F.max_pool2d(x, (1, 2 * reach + 1), stride=1, padding=(0, reach))
    x = F.max_pool2d(x, (2 * reach + 1, 1), stride=1, padding=(reach, 0))
    return (x if dilate else -x).contiguous()


def _square_morphology(x: torch.Tensor, reach: int, dilate: bool) -> torch.Tensor:
    """Flat grey-level dilation/erosion of [B, 1, H, W] by a (2 reach + 1)^2 square, geodesic borders.

    Separable (rows, then columns) and logarithmic (about 2 log2(reach) three-tap passes), so a 2048^2 mask
    grows by 64 px in a fraction of a second with a few image-sized buffers. Padding with the global minimum
    (dilation) or maximum (erosion) is neutral, i.e. the same as ignoring the pixels outside the image.
    """
    if 0 < reach <= _POOL_REACH:
        return _pooled_morphology(x, reach, dilate)
    op = kornia.morphology.dilation if dilate else kornia.morphology.erosion
    pad_value = float(x.min() if dilate else x.max())
    for axis in (-1, -2):
        for radius in _radii(min(reach, x.shape[axis] - 1)):  # beyond size - 1 nothing more is reachable
            x = _three_tap(x, radius, axis, op, pad_value)
    return x.contiguous()


def grow_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate (pixels > 0) or erode (pixels < 0) the mask by a (2|p|+1) square; 0 returns the input itself."""
    pixels = _whole(pixels, "grow")
    if pixels == 0:
        return mask
    x = _as_masks(mask)
    if x.numel() == 0:
        return mask
    return _back(_square_morphology(x, abs(pixels), dilate=pixels > 0), mask)


def feather_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Gaussian-soften the mask's edges over about `pixels` (0 returns the input itself).

    Kernel (2p+1)^2 with sigma p/3 (at least 0.5), replicate borders (a mask touching the image edge does not
    fade there). The result is exactly 0 farther than `pixels` from every non-zero input pixel, exactly 1
    where the whole (2p+1)^2 neighbourhood is 1, and within [0, 1] everywhere.
    """
    pixels = _whole(pixels, "feather")
    if pixels < 0:
        raise AcePlusError(f"feather must be 0 or more pixels, got {pixels}; use grow < 0 to shrink the mask")
    if pixels == 0:
        return mask
    x = _as_masks(mask)
    if x.numel() == 0:
        return mask
    size, sigma = 2 * pixels + 1, max(pixels / 3.0, 0.5)
    blurred = kornia.filters.gaussian_blur2d(x, (size, size), (sigma, sigma), border_type="replicate")
    reach = _square_morphology((x > 0).to(x.dtype), pixels, dilate=True) > 0
    solid = _square_morphology(x, pixels, dilate=False) >= 1.0
    out = torch.where(reach, blurred.clamp(0.0, 1.0), torch.zeros_like(blurred))
    out = torch.where(solid, torch.ones_like(out), out)
    return _back(out, mask)


def blend_mask(mask: torch.Tensor, grow: int = 0, feather: int = 0) -> torch.Tensor:
    """feather_mask(grow_mask(mask, grow), feather), clamped to [0, 1]: 1 = generated, 0 = original."""
    return feather_mask(grow_mask(mask, grow), feather).clamp(0.0, 1.0)


def _weighted_stats(lab: torch.Tensor, weights: torch.Tensor, count: torch.Tensor):
    mean = (lab * weights).sum(dim=(2, 3), keepdim=True) / count
    var = (((lab - mean) ** 2) * weights).sum(dim=(2, 3), keepdim=True) / count
    return mean, var.sqrt()


@dataclass(frozen=True)
class ColorTransfer:
    """A fitted per-channel affine Lab transfer (see fit_color); `apply` may run on any part of the image."""

    g_mean: torch.Tensor  # [B, 3, 1, 1] Lab statistics of the generated image over the reference region
    o_mean: torch.Tensor  # and of the original
    scale: torch.Tensor
    change: torch.Tensor  # [B, 1, 1, 1] bool: enough reference weight and statistics that disagree

    def apply(self, generated: torch.Tensor) -> torch.Tensor:
        """`generated` ([B, h, w, C], any crop of the image the transfer was fitted on) colour-corrected."""
        gen = rearrange(to_rgb(generated), "b h w c -> b c h w")
        work = self.scale.dtype
        gen_w = gen.to(work)
        gen_lab = kornia.color.rgb_to_lab(gen_w)
        matched_lab = (gen_lab - self.g_mean) * self.scale + self.o_mean
        # Apply the change as a difference of two identical round trips: when nothing needs changing the
        # Lab <-> RGB round-trip error cancels exactly and the image comes back bit for bit.
        delta = kornia.color.lab_to_rgb(matched_lab, clip=False) - kornia.color.lab_to_rgb(gen_lab, clip=False)
        matched = (gen_w + delta).clamp(0.0, 1.0).to(gen.dtype)
        out = torch.where(self.change, matched, gen)
        return rearrange(out, "b c h w -> b h w c").contiguous()


def fit_color(generated: torch.Tensor, original: torch.Tensor,
              reference_region: torch.Tensor) -> Optional[ColorTransfer]:
    """The colour correction that makes `generated`'s Lab mean/std over `reference_region` match `original`'s there;
    None when no image needs a change.

    `reference_region` ([B or 1, H, W] weights in 0..1) marks where generated should equal original (the unmasked
    context that the model regenerated); `original` may have a batch of 1. A per-channel affine Lab transfer,
    applied with ColorTransfer.apply to any part of the image: an image whose region weighs less than
    MIN_CONTEXT_PIXELS (16), or whose statistics already agree, is left unchanged (bit for bit)."""
    gen = rearrange(to_rgb(generated), "b h w c -> b c h w")
    ori = rearrange(to_rgb(original), "b h w c -> b c h w").to(device=gen.device)
    weights = _as_masks(reference_region, "reference region").to(device=gen.device)
    batch, _, height, width = gen.shape
    for what, t in (("original", ori), ("reference region", weights)):
        if tuple(t.shape[-2:]) != (height, width):
            raise AcePlusError(f"colour match: the {what} is {t.shape[-1]}x{t.shape[-2]} but the generated image is "
                               f"{width}x{height}; give both at the same size")
        if t.shape[0] not in (1, batch):
            raise AcePlusError(f"colour match: the {what} has a batch of {t.shape[0]} but the generated image has "
                               f"a batch of {batch}; give 1 or {batch}")
    work = torch.float64 if gen.dtype == torch.float64 else torch.float32
    gen_w, ori_w, weights = gen.to(work), ori.to(work), weights.to(work).clamp(0.0, 1.0)
    count = weights.sum(dim=(2, 3), keepdim=True)
    usable = count >= MIN_CONTEXT_PIXELS  # [B or 1, 1, 1, 1]
    if not bool(usable.any()):
        return None
    count = count.clamp_min(1.0)
    # Only the pixels with some weight count: convert just those ([B, 3, N, 1]) to Lab.
    select = (weights > 0).any(dim=0)[0]
    gen_w, ori_w, weights = (rearrange(t[..., select], "b c n -> b c n 1") for t in (gen_w, ori_w, weights))

    g_mean, g_std = _weighted_stats(kornia.color.rgb_to_lab(gen_w), weights, count)
    o_mean, o_std = _weighted_stats(kornia.color.rgb_to_lab(ori_w), weights, count)
    scale = ((o_std + _LAB_STD_FLOOR) / (g_std + _LAB_STD_FLOOR)).clamp(1.0 / _MAX_STD_SCALE, _MAX_STD_SCALE)
    agree = ((g_mean == o_mean) & (g_std == o_std)).all(dim=1, keepdim=True)
    change = usable & ~agree
    if not bool(change.any()):
        return None
    return ColorTransfer(g_mean=g_mean, o_mean=o_mean, scale=scale, change=change)
