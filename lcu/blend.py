"""The blend mask that composites a generated region back into the original photo, and colour matching.

Zeros stay exact zeros far from the mask: the stitcher copies every pixel where the blend mask is 0 from
the original, bit for bit.
"""
from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F
from einops import rearrange

MIN_CONTEXT_PIXELS = 16


def _dilate(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    # A (2p+1)^2 square max filter done as two 1-D passes: cost grows with p, memory does not.
    x = rearrange(mask, "b h w -> b 1 h w")
    k = 2 * pixels + 1
    x = F.max_pool2d(x, kernel_size=(1, k), stride=1, padding=(0, pixels))
    x = F.max_pool2d(x, kernel_size=(k, 1), stride=1, padding=(pixels, 0))
    return rearrange(x, "b 1 h w -> b h w")


def grow_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate (pixels > 0) or erode (pixels < 0) a [B, H, W] mask with a square of side 2|p|+1; soft masks
    are treated as grey levels."""
    if pixels == 0:
        return mask
    if pixels > 0:
        return _dilate(mask, pixels)
    return 1.0 - _dilate(1.0 - mask, -pixels)


def feather_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Gaussian-soften the edge over about `pixels`; exactly 0 farther than `pixels` from the mask."""
    if pixels <= 0:
        return mask
    sigma = pixels / 2.0
    blurred = kornia.filters.gaussian_blur2d(rearrange(mask, "b h w -> b 1 h w"), (2 * pixels + 1, 2 * pixels + 1),
                                             (sigma, sigma), border_type="replicate")
    support = _dilate((mask > 0).to(mask.dtype), pixels)
    return (rearrange(blurred, "b 1 h w -> b h w") * support).clamp(0.0, 1.0)


def blend_mask(mask: torch.Tensor, grow: int = 0, feather: int = 0) -> torch.Tensor:
    return feather_mask(grow_mask(mask, grow), feather).clamp(0.0, 1.0)


def match_color(generated: torch.Tensor, original: torch.Tensor, reference_region: torch.Tensor) -> torch.Tensor:
    """Shift the generated image's Lab mean/std to the original's, measured where both should agree
    (`reference_region`, [B, H, W] weights). With fewer than MIN_CONTEXT_PIXELS of context there is
    nothing to measure and `generated` is returned unchanged."""
    weights = rearrange(reference_region, "b h w -> b 1 h w").to(generated.dtype)
    count = weights.sum(dim=(2, 3), keepdim=True)
    if bool((count < MIN_CONTEXT_PIXELS).any()):
        return generated
    gen = kornia.color.rgb_to_lab(rearrange(generated, "b h w c -> b c h w"))
    ori = kornia.color.rgb_to_lab(rearrange(original, "b h w c -> b c h w"))

    def stats(lab):
        mean = (lab * weights).sum(dim=(2, 3), keepdim=True) / count
        var = (((lab - mean) ** 2) * weights).sum(dim=(2, 3), keepdim=True) / count
        return mean, var.sqrt().clamp_min(1e-3)

    (g_mean, g_std), (o_mean, o_std) = stats(gen), stats(ori)
    matched = kornia.color.lab_to_rgb((gen - g_mean) * (o_std / g_std) + o_mean)
    return rearrange(matched, "b c h w -> b h w c").clamp(0.0, 1.0)
