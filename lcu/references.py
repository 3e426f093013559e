"""A reference's object on its own: the pixels of the reference mask on white, cropped to the mask's box with a
margin (what Insert Anything trains on, and what keeps a busy background out of a try-on or an insertion)."""
from __future__ import annotations

import math
from typing import Optional

import torch

from .errors import AcePlusError
from .images import broadcast_batch, mask_problem
from .layout import Rect
from .masks import is_placeholder, is_placeholder_size

WHITE = 1.0
# The box is grown by this share of its own width and height on each side (clamped to the reference): Insert
# Anything's expand ratio 1.3 (utils/utils.py expand_image_mask), 15 % each side.
REFERENCE_MASK_MARGIN = 0.15


def isolated_box(box: Rect, height: int, width: int, margin: float = REFERENCE_MASK_MARGIN) -> Rect:
    """The crop of an isolated reference: the mask's box grown by `margin` x its size on each side, clamped."""
    grow_x, grow_y = math.ceil(margin * box.w), math.ceil(margin * box.h)
    return Rect.spanning(max(0, box.x - grow_x), max(0, box.y - grow_y), min(width, box.right + grow_x),
                         min(height, box.bottom + grow_y))


def isolated_extent(reference_hw: tuple[int, int], mask_hw: tuple[int, int], box: Optional[Rect]) -> tuple[int, int]:
    """(height, width) of reference 1 after isolate_reference, from sizes alone (the layout preview): the mask's
    size must be the reference's (the same error as the node's), `box` None keeps the whole reference."""
    height, width = reference_hw
    if is_placeholder_size(mask_hw, reference_hw):
        return reference_hw
    _check_size(mask_hw, reference_hw)
    if box is None:
        return reference_hw
    grown = isolated_box(box, height, width)
    return grown.h, grown.w


def _check_size(mask_hw: tuple[int, int], reference_hw: tuple[int, int]) -> None:
    if tuple(mask_hw) != tuple(reference_hw):
        raise AcePlusError(f"the reference_mask is {mask_hw[1]}x{mask_hw[0]} but reference 1 is "
                           f"{reference_hw[1]}x{reference_hw[0]}; paint the mask on the reference itself (its Load "
                           "Image node's MASK output), or disconnect reference_mask.")


def require_reference(reference_count: int) -> None:
    """A reference_mask needs the reference it was painted on (build_canvas and the layout preview both check)."""
    if not reference_count:
        raise AcePlusError("a reference_mask was given without a reference; connect the reference it was painted "
                           "on, or disconnect reference_mask.")


def isolate_reference(reference: torch.Tensor, mask: Optional[torch.Tensor],
                      margin: float = REFERENCE_MASK_MARGIN) -> torch.Tensor:
    """`reference` [B, H, W, 3] with everything outside `mask` (1 = the object, soft edges kept) turned white,
    cropped to the mask's box grown by `margin` x its size. None, an all-zero mask or LoadImage's placeholder
    leaves the reference as it is. The mask must be the reference's own size (a mask batch of 1 serves every
    image; otherwise batches match)."""
    if mask is None:
        return reference
    problem = mask_problem(mask, "reference_mask")
    if problem:
        raise AcePlusError(problem)
    mask = mask.unsqueeze(0) if mask.dim() == 2 else mask
    height, width = reference.shape[1:3]
    if is_placeholder(mask, (height, width)):
        return reference
    _check_size(tuple(mask.shape[1:]), (height, width))
    mask = broadcast_batch(mask.to(reference.dtype).clamp(0, 1), reference.shape[0], "reference_mask")
    box = Rect.bounding((mask >= 0.5).any(dim=0))
    if box is None:  # nothing marked: the whole reference, as an empty edit mask means the whole image
        return reference
    grown = isolated_box(box, height, width, margin)
    soft = mask.unsqueeze(-1)
    on_white = reference * soft + WHITE * (1.0 - soft)
    return grown.slice(on_white)
