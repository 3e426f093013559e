"""Prints what the model sees for a small edit on a large photo, with and without crop-to-context.

    python tools/bench_crop_context.py [--size 4096] [--mask 512] [--margin 128] [--budget 4096]

Pure lcu/ (no ComfyUI, no model): token count of the canvas, the scale at which the masked region is
generated (1.0 = native resolution), and the region's size in canvas pixels.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lcu.canvas import build_canvas  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096, help="edit image side (px)")
    parser.add_argument("--mask", type=int, default=512, help="masked square side (px)")
    parser.add_argument("--margin", type=int, default=128, help="context margin for crop-to-context (px)")
    parser.add_argument("--budget", type=int, default=4096, help="token budget")
    args = parser.parse_args()
    photo = torch.rand(1, args.size, args.size, 3)
    mask = torch.zeros(1, args.size, args.size)
    top = (args.size - args.mask) // 2
    mask[:, top:top + args.mask, top:top + args.mask] = 1
    print(f"edit image {args.size}x{args.size}, mask {args.mask}x{args.mask}, token budget {args.budget}")
    print(f"{'mode':<22}{'canvas':>12}{'tokens':>8}{'scale':>8}{'mask in canvas':>16}{'build s':>9}")
    for label, margin in (("whole photo", None), (f"crop-to-context {args.margin}", args.margin)):
        start = time.perf_counter()
        canvas = build_canvas(edit_image=photo, mask=mask, token_budget=args.budget, context_margin=margin)
        took = time.perf_counter() - start
        layout = canvas.layout
        side = round(args.mask * layout.scale)
        print(f"{label:<22}{layout.canvas_width:>6}x{layout.canvas_height:<5}{layout.tokens:>8}{layout.scale:>8.3f}"
              f"{f'{side}x{side}':>16}{took:>9.2f}")


if __name__ == "__main__":
    main()
