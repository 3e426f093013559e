"""Pixel-space preparation of what the FLUX Fill / ACE++ FFT models are conditioned on.

Both work in centred space (grey 0.5 = 0). The Fill model (384 inputs) gets one masked canvas; the FFT
model (448 inputs) gets two: the context (what to keep) and the change (what is being edited).
"""
from __future__ import annotations

import torch

from .images import broadcast_batch, image_problem, mask_problem
from .errors import AcePlusError

GREY = 0.5


def check_canvas_mask(canvas: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The canvas mask as [B, H, W, 1] for `canvas`: the same shape checks and batch rule as every other input."""
    problem = image_problem(canvas, "canvas") or mask_problem(mask, "canvas mask")
    if problem:
        raise AcePlusError(problem)
    if mask.dim() == 2:
        mask = mask.unsqueeze(0)
    if canvas.dim() != 4 or tuple(canvas.shape[1:3]) != tuple(mask.shape[1:3]):
        raise AcePlusError(
            f"the canvas {tuple(canvas.shape)} and its mask {tuple(mask.shape)} do not match; connect both from "
            "the same ACE++ canvas builder."
        )
    return broadcast_batch(mask, canvas.shape[0], "canvas mask").to(canvas.dtype).unsqueeze(-1)


def repaint(canvas: torch.Tensor, mask: torch.Tensor, repainting_scale: float) -> torch.Tensor:
    """ACE++ repainting: target = grey + (target - grey) * (1 - mask * s).

    s = 1 greys the masked area (classic fill: portrait, subject, try-on, logo, face swap); s = 0 keeps
    it (control maps, super-resolution); 0.5 is the local-editing default. The stock
    InpaintModelConditioning always greys (s = 1).
    """
    if not 0.0 <= repainting_scale <= 1.0:
        raise AcePlusError(f"repainting_scale must be between 0 and 1; got {repainting_scale}.")
    m = check_canvas_mask(canvas, mask)
    return GREY + (canvas - GREY) * (1.0 - m * repainting_scale)


def fft_split(canvas: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(context, change) for the FFT model: the canvas outside the mask and inside it, grey elsewhere."""
    m = check_canvas_mask(canvas, mask)
    centred = canvas - GREY
    return GREY + centred * (1.0 - m), GREY + centred * m
