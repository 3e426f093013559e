"""Masks as users really give them, normalised to one meaning: [B, H, W] in 0..1, 1 = generate.

- No mask, LoadImage's 64x64 placeholder (an image without alpha) or an all-zero mask: regenerate the
  whole target (ACE++ semantics: "no mask" means the whole edit image is the change). A faint mask (values,
  but none at or above 0.5) means the same, with a warning (faint_mask_warning).
- A mask of another size than its image is resized when the aspect ratio agrees, rejected otherwise.
- One mask broadcasts over an image batch.
- The model sees the mask binarised at 0.5; the stitcher blends through the soft mask.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .images import broadcast_batch, check_aspect, mask_problem, resize_mask
from .errors import AcePlusError

PLACEHOLDER_SIZE = 64  # LoadImage returns a 64x64 zero mask when the image has no alpha channel


def binarize(mask: torch.Tensor) -> torch.Tensor:
    return (mask >= 0.5).to(mask.dtype)


def model_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The mask the model sees at panel size: binarised at 0.5, then shrunk so that a panel pixel is masked
    when any masked pixel falls under it. The generated area thus always covers the area that the stitcher
    blends back, and a small mask never vanishes when the canvas is scaled down."""
    binary = binarize(mask)
    if binary.shape[-2:] == (height, width):
        return binary
    if height > mask.shape[1] or width > mask.shape[2]:
        return binarize(resize_mask(binary, height, width))
    return F.adaptive_max_pool2d(binary.unsqueeze(1), (height, width)).squeeze(1)


def is_placeholder_size(mask_hw: tuple[int, int], image_hw: tuple[int, int]) -> bool:
    """Whether an empty mask of mask_hw is LoadImage's placeholder for an image of image_hw (which then means the
    whole image whatever its aspect); any other mask must have the image's aspect. The layout preview decides
    by this too."""
    return tuple(mask_hw) == (PLACEHOLDER_SIZE, PLACEHOLDER_SIZE) and tuple(image_hw) != tuple(mask_hw)


def is_placeholder(mask: torch.Tensor, image_hw: tuple[int, int]) -> bool:
    return is_placeholder_size(tuple(mask.shape[-2:]), image_hw) and not bool(mask.any())


def faint_mask_warning(mask: Optional[torch.Tensor]) -> Optional[str]:
    """The warning for a mask that has values but none at or above the 0.5 threshold (in some item): the node
    reads it as "nothing masked", that is the whole image, which a faint brush stroke rarely means. None when
    the mask is absent, all zero (the whole image on purpose) or reaches 0.5."""
    if not isinstance(mask, torch.Tensor) or mask.dim() not in (2, 3) or mask.numel() == 0:
        return None
    # One read of the mask: an item is faint when its highest value is above 0 and below 0.5.
    peaks = mask.reshape(-1, mask.shape[-2] * mask.shape[-1]).amax(dim=1)
    faint = (peaks > 0) & (peaks < 0.5)
    if not bool(faint.any()):
        return None
    first = int(torch.nonzero(faint)[0])
    which = "the mask" if peaks.shape[0] == 1 else f"item {first + 1} of the {peaks.shape[0]} masks"
    return (f"[ACE++] {which} is everywhere below 0.5 (its highest value is {float(peaks[first]):.2f}), so "
            "nothing counts as masked and the whole image is regenerated; paint the area to change at 0.5 or "
            "above (or raise the mask's values, e.g. with a threshold node), or disconnect the mask if the whole "
            "image is meant.")


def normalize_mask(mask: Optional[torch.Tensor], image: torch.Tensor, what: str = "mask",
                   empty_means_whole: bool = True) -> torch.Tensor:
    """The user's mask for `image` ([B, H, W, C]) as a soft [B, H, W] mask, 1 = generate.

    Returns all ones for "no mask" (None, the LoadImage placeholder, or nothing above 0.5 anywhere). With
    empty_means_whole False (each item of a mask batch is one region) an item with nothing to generate is an
    error instead.
    """
    batch, height, width = image.shape[0], image.shape[1], image.shape[2]
    if mask is None:
        return image.new_ones(batch, height, width)
    if isinstance(mask, torch.Tensor) and mask.dim() == 4 and mask.shape[-1] in (1, 3, 4):
        mask = mask[..., 0]  # an IMAGE wired as a mask: take its first channel
    problem = mask_problem(mask, what)
    if problem:
        raise AcePlusError(problem)
    if mask.dim() == 2:
        mask = mask.unsqueeze(0)
    # A photo-sized mask is read a few times but copied only when a value has to change (cost follows the edit).
    mask = mask.to(image.dtype)
    low, high = torch.aminmax(mask)
    if low < 0.0 or high > 1.0:
        mask = mask.clamp(0.0, 1.0)
    if is_placeholder(mask, (height, width)):
        return image.new_ones(batch, height, width)
    check_aspect(tuple(mask.shape[-2:]), (height, width), what)
    mask = broadcast_batch(resize_mask(mask, height, width), batch, what)
    # Per image: nothing to generate means "regenerate the whole target".
    empty = ~(mask >= 0.5).flatten(1).any(dim=1)
    if bool(empty.any()) and not empty_means_whole:
        item = int(torch.nonzero(empty)[0]) + 1
        raise AcePlusError(f"item {item} of the {batch} {what}s has nothing to generate (no value at or above 0.5); "
                           f"paint it, or remove it from the batch.")
    if bool(empty.any()):
        mask = mask.clone()
        mask[empty] = 1.0
    return mask
