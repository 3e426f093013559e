"""From the decoded canvas back to the user's pixels, driven only by the layout record.

extract_target cuts the exact target panel and resizes it to the size of the region it shows (the
official ComfyUI port skips the resize and returns results shrunk, ali-vilab/ACE_plus#90). stitch then
composites that region into the original edit image through the blend mask, so every pixel outside the
(grown, feathered) blend mask is bit-identical to the input.

The cost of stitch follows the mask, not the photo, even a scattered one: the blend mask can only be non-zero
within max(grow, 0) + feather pixels of the user's mask, and where the mask's areas lie far apart (two blemishes
on opposite corners) the photo between them is never worked on. blend_boxes splits the mask's non-zero pixels
into areas at least 2 (reach + COLOR_RING) px apart, each with its own box; in each box the target panel is
resized back, the blend mask grown and feathered (reading the pixels the filters need) and the pixels mixed.
The result equals the whole-image computation within float rounding, however the mask splits. Colour matching
takes each area's statistics from a ring of COLOR_RING px of context around that area's own box (areas whose
rings would overlap are one area), so each area is corrected by the drift around it. Everything else is the
original, copied once.
"""
from __future__ import annotations

import math

import torch
from einops import einsum

from .blend import _whole, blend_mask, fit_color, grow_mask
from .errors import AcePlusError
from .images import as_image_batch, broadcast_batch, resize_image
from .layout import CanvasLayout, Rect
from .masks import binarize

COLOR_RING = 128  # px of unmasked context around an area's blend box that colour matching takes its statistics from
_CONTEXT_GAP = 2  # the context for colour matching starts this many px outside the blend mask


def check_decoded(decoded: torch.Tensor, layout: CanvasLayout) -> torch.Tensor:
    decoded = as_image_batch(decoded, "decoded canvas")
    if tuple(decoded.shape[1:3]) != (layout.canvas_height, layout.canvas_width):
        raise AcePlusError(
            f"the decoded image is {decoded.shape[2]}x{decoded.shape[1]} but the layout describes a "
            f"{layout.canvas_width}x{layout.canvas_height} canvas; connect the VAE Decode output of the sampling "
            "that used this canvas, with the layout from the same canvas builder."
        )
    return decoded


def extract_target(decoded: torch.Tensor, layout: CanvasLayout) -> torch.Tensor:
    """The target panel at the size of the region it shows ([B, region.h, region.w, 3])."""
    decoded = check_decoded(decoded, layout)
    region = layout.target_region
    # Back to the user's size always with the pack's default resize (bicubic when enlarging), whatever
    # layout.resampling the canvas was built with: nearest-exact would enlarge the result blocky.
    return resize_image(layout.target_panel.slice(decoded), region.h, region.w)


# --- resizing a window of the output ----------------------------------------------------------------------

def _cubic(x: float) -> float:
    a, x = -0.75, abs(x)  # PyTorch's bicubic (Keys, A = -0.75)
    if x <= 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return 0.0


def _axis_weights(size_in: int, size_out: int, lo: int, hi: int, mode: str) -> tuple[torch.Tensor, int]:
    """Rows lo..hi-1 of the [size_out, size_in] matrix F.interpolate applies along one axis (align_corners
    False), restricted to the input columns they read: (weights [hi - lo, n] float64, first input index)."""
    scale32 = torch.tensor(size_in, dtype=torch.float32) / size_out  # PyTorch's float32 scale
    scale = float(scale32)
    taps: list[dict[int, float]] = []
    for i in range(lo, hi):
        row: dict[int, float] = {}
        if size_in == size_out:
            row[i] = 1.0
        elif mode == "nearest-exact":
            source = torch.floor((torch.tensor(i, dtype=torch.float32) + 0.5) * scale32)  # PyTorch's float32 maths
            row[min(int(source), size_in - 1)] = 1.0
        elif mode == "bilinear-aa":
            support = scale if scale >= 1.0 else 1.0
            invscale = 1.0 / scale if scale >= 1.0 else 1.0
            centre = scale * (i + 0.5)
            first = max(int(centre - support + 0.5), 0)
            last = min(int(centre + support + 0.5), size_in)
            weights = [max(0.0, 1.0 - abs((j - centre + 0.5) * invscale)) for j in range(first, last)]
            total = sum(weights)
            for j, w in zip(range(first, last), weights):
                row[j] = row.get(j, 0.0) + (w / total if total else 0.0)
        else:  # bicubic
            real = scale * (i + 0.5) - 0.5
            base = math.floor(real)
            t = real - base
            for k, w in enumerate((_cubic(t + 1.0), _cubic(t), _cubic(1.0 - t), _cubic(2.0 - t))):
                j = min(max(base - 1 + k, 0), size_in - 1)
                row[j] = row.get(j, 0.0) + w
        taps.append(row)
    first = min(min(r) for r in taps)
    last = max(max(r) for r in taps) + 1
    matrix = torch.zeros(hi - lo, last - first, dtype=torch.float64)
    for i, row in enumerate(taps):
        for j, w in row.items():
            matrix[i, j - first] = w
    return matrix, first


def resize_window(image: torch.Tensor, height: int, width: int, window: Rect,
                  resampling: str = "antialiased") -> torch.Tensor:
    """`window` of resize_image(image, height, width, resampling), reading only the input pixels it needs.

    Same values as resizing the whole image and slicing (within float rounding), at a cost that follows the
    window: both resizes are separable, so each axis is a small matrix of interpolation weights."""
    in_h, in_w = image.shape[1], image.shape[2]
    if (in_h, in_w) == (height, width):
        return window.slice(image)
    if resampling == "nearest-exact":
        mode = "nearest-exact"
    elif height <= in_h and width <= in_w:
        mode = "bilinear-aa"
    else:
        mode = "bicubic"
    rows, y0 = _axis_weights(in_h, height, window.y, window.bottom, mode)
    cols, x0 = _axis_weights(in_w, width, window.x, window.right, mode)
    source = image[:, y0:y0 + rows.shape[1], x0:x0 + cols.shape[1]]
    rows, cols = rows.to(image.dtype), cols.to(image.dtype)
    out = einsum(rows, source, "i h, b h w c -> b i w c")
    out = einsum(cols, out, "j w, b i w c -> b i j c")
    return out.clamp(0.0, 1.0)


# --- the bounded stitch -----------------------------------------------------------------------------------

def blend_boxes(mask: torch.Tensor, reach: int) -> tuple[Rect, ...]:
    """The boxes where the blend mask of a [B, H, W] soft mask, grown and feathered by `reach` px in all, can be
    non-zero: the mask's non-zero pixels (over the batch) split into areas at least 2 (reach + COLOR_RING) px apart
    (Rect.clusters), each area's bounding box grown by `reach` and clamped to the mask, in reading order. The boxes,
    and the rings of COLOR_RING px around them, are pairwise disjoint; none when the mask is all zero."""
    height, width = mask.shape[1], mask.shape[2]
    areas = Rect.clusters((mask > 0).any(dim=0), 2 * (reach + COLOR_RING))
    return tuple(area.grown(reach, height, width) for area in areas)


def _blend_in(soft: torch.Tensor, box: Rect, grow: int, feather: int) -> torch.Tensor:
    """blend_mask(soft, grow, feather) inside `box`, computed from the pixels within |grow| + feather of it
    (every value in the box depends on those only, so it equals the whole-mask computation)."""
    work = box.grown(abs(grow) + feather, soft.shape[1], soft.shape[2])
    return box.relative_to(work).slice(blend_mask(work.slice(soft), grow=grow, feather=feather))


def stitch(
    decoded: torch.Tensor,
    layout: CanvasLayout,
    grow: int = 0,
    feather: int = 0,
    color_match: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(result, blend mask): the target at the user's full size, composited into the edit image if any.

    For reference generation the result is the target panel at the requested size and the blend mask is
    all ones. For edits, pixels where the blend mask is 0 are copied from the original, bit for bit; the work
    is bounded to the boxes where the blend mask can be non-zero, one per area of the mask, and colour matching
    corrects each area by the drift on a ring of context around it (see the module's docstring). A layout of
    several regions composites decoded item i into region i of the one photo, in the layout's order: where
    grown masks touch, a later region blends over the earlier ones.
    """
    grow = _whole(grow, "grow")
    feather = _whole(feather, "feather")
    if feather < 0:
        raise AcePlusError(f"feather must be 0 or more pixels, got {feather}; use grow < 0 to shrink the mask")
    if layout.source is None:
        generated = extract_target(decoded, layout)
        return generated, generated.new_ones(generated.shape[:3])
    decoded = check_decoded(decoded, layout)
    batch, dtype = decoded.shape[0], decoded.dtype
    regions = layout.target_regions
    if len(regions) == 1:
        original = broadcast_batch(layout.source.image, batch, "edit image", per="decoded image").to(dtype)
        masks = (broadcast_batch(layout.source.region_masks[0], batch, "mask", per="decoded image").to(dtype),)
        panels = (layout.target_panel.slice(decoded),)
    else:
        if batch != len(regions):
            raise AcePlusError(f"the decoded batch has {batch} image{'s' if batch != 1 else ''} but the layout has "
                               f"{len(regions)} regions (one "
                               "canvas each); connect the VAE Decode of the sampling that used this canvas batch, "
                               "without repeating or splitting its latents.")
        original = layout.source.image.to(dtype)
        masks = tuple(m.to(dtype) for m in layout.source.region_masks)
        panels = tuple(layout.target_panel.slice(decoded[i:i + 1]) for i in range(batch))
    # The result is the original copied once; only the boxes where a blend mask is non-zero are rewritten. With
    # several regions `original` stays untouched for the colour statistics of every region.
    fresh = original is not layout.source.image and len(regions) == 1
    result = original.contiguous() if fresh else original.clone()
    blend = result.new_zeros(result.shape[:3])
    for region, panel, soft_region in zip(regions, panels, masks):
        _stitch_region(result, blend, original, panel, region, soft_region, grow, feather, color_match)
    return result, blend


def _stitch_region(result: torch.Tensor, blend: torch.Tensor, original: torch.Tensor, panel: torch.Tensor,
                   region: Rect, soft_region: torch.Tensor, grow: int, feather: int, color_match: bool) -> None:
    """Blend one region's generated `panel` into `result` (and its blend mask into `blend`), in place, area by area
    (blend_boxes); colour statistics come from the untouched `original`."""
    original_region = region.slice(original)
    # The blend may grow and feather outward, but never beyond the region the model saw.
    for box in blend_boxes(soft_region, max(grow, 0) + feather):
        box_blend = _blend_in(soft_region, box, grow, feather)
        if color_match:
            # The model regenerated the unmasked context too; its colour drift there is what gets corrected,
            # measured on a ring of context around this area (the whole region when the region is that small).
            # No other area's box reaches into the ring (blend_boxes keeps them apart).
            ring = box.grown(COLOR_RING, region.h, region.w)
            inside = box.relative_to(ring)
            ring_blend = box_blend.new_zeros(box_blend.shape[0], ring.h, ring.w)
            inside.slice(ring_blend)[...] = box_blend
            context = 1.0 - binarize(grow_mask(ring_blend, _CONTEXT_GAP))
            generated_ring = resize_window(panel, region.h, region.w, ring)
            transfer = fit_color(generated_ring, ring.slice(original_region), context)
            generated = inside.slice(generated_ring)
            if transfer is not None:
                generated = transfer.apply(generated)
        else:
            generated = resize_window(panel, region.h, region.w, box)
        placed = box.placed_in(region)
        below = placed.slice(result)
        weight = box_blend.unsqueeze(-1)
        below[...] = torch.where(weight > 0, below * (1.0 - weight) + generated * weight, below)
        covered = placed.slice(blend)
        covered[...] = covered * (1.0 - box_blend) + box_blend
