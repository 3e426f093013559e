"""Pre- and post-processing cost: the pack's canvas + stitch against the stock-node chain, side by side.

    source tools/runtime.sh && "$ACEPP_PYTHON" tools/bench.py [--sizes 1 4 9 16] [--mask 512] [--repeats 3]

For every photo size (megapixels, square) with a fixed centred square mask, and with the options off and on,
one subprocess per configuration (so that its peak RSS is its own) times:

- pack (crop): ACE++ build_canvas with crop-to-context (context_margin 128), then stitch of a decoded canvas;
- pack (whole): the same with the whole photo as the target panel (the canvas squeezes it into the budget);
- stock: in-process ComfyUI stock nodes doing the same work on the whole photo: pre = ImageScale of the photo
  to the model size; post = ImageScale of the decoded image back to the original size, GrowMask, a blurred
  mask (MaskToImage, ImageBlur, ImageToMask), ImageCompositeMasked.

Options off: no grow, no feather, no colour match (stock: the plain mask). On: grow 4, feather 8 and colour
match (stock: GrowMask 4, ImageBlur radius 8, sigma 8/3; the stock chain has no colour match).
Times are the best of --repeats runs; peak RSS is the subprocess's high-water mark (ru_maxrss), also shown
above the RSS it had once its inputs were made. Then tokens and target-panel pixels per original pixel of the
region the panel shows, for whole-photo and crop-to-context canvases.

Last, several regions of one photo (also alone: --regions): two 256x256 masked squares in opposite corners of a
4096x4096 photo (64 px from the edges), at token budgets T of 1024, 2048 and 4096 for the whole run. One
spanning crop: regions "one" with crop-to-context (one canvas of budget T around both squares). Per-region
crops: regions "connected_components" (two canvases, one per square, each of budget T/2, so the same total).
For each: the crop(s), the canvas batch, the tokens it uses, target-panel pixels per original pixel, the size of
a square in the canvas, and the wall time of build_canvas (pre) and of stitch with grow 4, feather 8 and colour
match (post).

Then scattered masks (also alone: --scattered): with regions "one" and crop-to-context, two 64x64 masked areas
3000 px apart along each axis (opposite corners) of a 9.4 MP photo, against one 512x512 area in its middle, both
in one subprocess, taking turns: the best wall time of stitch with grow 4, feather 8 and colour match for each, and
their ratio.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 4096
MARGIN = 128
GROW, FEATHER = 4, 8


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _inputs(megapixels: int, mask_side: int):
    import torch

    side = int(round(math.sqrt(megapixels) * 1024))
    gen = torch.Generator().manual_seed(megapixels)
    photo = torch.rand(1, side, side, 3, generator=gen)
    mask = torch.zeros(1, side, side)
    top = (side - mask_side) // 2
    mask[:, top:top + mask_side, top:top + mask_side] = 1.0
    return photo, mask


def _best(fn, repeats: int) -> tuple[float, object]:
    """The best of `repeats` timed runs (one run only when it takes over 5 s: the stock chain on big photos)."""
    best, out = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
        if best > 5.0:
            break
    return best, out


def run_pack(megapixels: int, mask_side: int, options: bool, repeats: int, crop: bool) -> dict:
    import torch

    from aceplusplus.lcu.canvas import build_canvas
    from aceplusplus.lcu.stitch import stitch

    torch.set_grad_enabled(False)
    margin = MARGIN if crop else None
    small = torch.rand(1, 256, 256, 3)  # warm-up: first calls pay for lazy initialisation, not for the photo
    small_mask = torch.zeros(1, 256, 256)
    small_mask[:, 96:160, 96:160] = 1.0
    warm = build_canvas(edit_image=small, mask=small_mask, token_budget=BUDGET, context_margin=margin)
    stitch(warm.image, warm.layout, grow=GROW, feather=FEATHER, color_match=True)
    photo, mask = _inputs(megapixels, mask_side)
    base = _rss_mib()
    pre, canvas = _best(lambda: build_canvas(edit_image=photo, mask=mask, token_budget=BUDGET,
                                             context_margin=margin), repeats)
    # A "model output": the canvas, colour-drifted a little, as the VAE would decode it.
    decoded = (canvas.image * 0.9 + 0.05 + 0.02 * torch.rand(canvas.image.shape)).clamp(0, 1)
    kwargs = dict(grow=GROW, feather=FEATHER, color_match=True) if options else {}
    post, _ = _best(lambda: stitch(decoded, canvas.layout, **kwargs), repeats)
    layout = canvas.layout
    region = layout.target_region
    return {"pre": pre, "post": post, "rss": _rss_mib(), "base": base, "tokens": layout.tokens,
            "px_ratio": (layout.target_panel.w * layout.target_panel.h) / (region.w * region.h),
            "canvas": f"{layout.canvas_width}x{layout.canvas_height}", "mask_px": round(mask_side * layout.scale)}


REGION_SIDE, REGION_INSET = 256, 64
REGION_BUDGETS = (1024, 2048, 4096)


def run_regions(megapixels: int, repeats: int, budget: int, regions: str) -> dict:
    """Two squares in opposite corners of the photo as one spanning crop (regions "one", one canvas of `budget`)
    or as per-region crops (regions "connected_components", one canvas of `budget` / 2 each); see the module's
    docstring."""
    import torch

    from aceplusplus.lcu.canvas import build_canvas
    from aceplusplus.lcu.stitch import stitch

    torch.set_grad_enabled(False)
    per_canvas = budget if regions == "one" else budget // 2
    small, small_mask = torch.rand(1, 512, 512, 3), torch.zeros(1, 512, 512)  # warm-up: lazy initialisation
    small_mask[:, 16:80, 16:80] = 1.0
    small_mask[:, 400:464, 400:464] = 1.0
    warm = build_canvas(edit_image=small, mask=small_mask, token_budget=per_canvas, context_margin=MARGIN,
                        regions=regions)
    stitch(warm.image, warm.layout, grow=GROW, feather=FEATHER, color_match=True)
    side = int(round(math.sqrt(megapixels) * 1024))
    photo = torch.rand(1, side, side, 3, generator=torch.Generator().manual_seed(megapixels))
    mask = torch.zeros(1, side, side)
    near, far = REGION_INSET, side - REGION_INSET - REGION_SIDE
    mask[:, near:near + REGION_SIDE, near:near + REGION_SIDE] = 1.0
    mask[:, far:far + REGION_SIDE, far:far + REGION_SIDE] = 1.0
    pre, canvas = _best(lambda: build_canvas(edit_image=photo, mask=mask, token_budget=per_canvas,
                                             context_margin=MARGIN, regions=regions), repeats)
    decoded = (canvas.image * 0.9 + 0.05 + 0.02 * torch.rand(canvas.image.shape)).clamp(0, 1)
    post, (result, _) = _best(lambda: stitch(decoded, canvas.layout, grow=GROW, feather=FEATHER, color_match=True),
                              repeats)
    assert tuple(result.shape) == tuple(photo.shape)
    layout, batch = canvas.layout, canvas.image.shape[0]
    crops = layout.target_regions
    return {"side": side, "pre": pre, "post": post, "batch": batch,
            "canvas": f"{layout.canvas_width}x{layout.canvas_height}", "tokens": layout.tokens * batch,
            "crop": f"{crops[0].w}x{crops[0].h}",
            "px_ratio": min(layout.target_panel.w * layout.target_panel.h / (r.w * r.h) for r in crops),
            "square": round(REGION_SIDE * min(layout.panel_scale(r) for r in crops))}


def regions_table(repeats: int) -> None:
    """Runs and prints the several-regions comparison, one subprocess per configuration."""
    rows = [(budget, _child("regions", 16, budget, False, repeats, "one"),
             _child("regions", 16, budget, False, repeats, "connected_components")) for budget in REGION_BUDGETS]
    side = rows[0][1]["side"]
    print(f"Two {REGION_SIDE}x{REGION_SIDE} masked squares in opposite corners of a {side}x{side} photo "
          f"({REGION_INSET} px from the edges), context_margin {MARGIN}; post = stitch with grow {GROW}, feather "
          f"{FEATHER}, colour match. One spanning crop: regions one, one canvas of budget T. Per-region crops: "
          "regions connected_components, one canvas of budget T/2 per square.")
    head = (f"{'T':>5} | {'one spanning crop':<17} {'canvas':>11} {'tokens':>6} {'px/px':>7} {'square':>7} "
            f"{'pre':>7} {'post':>7} | {'per-region crops':<16} {'canvases':>13} {'tokens':>6} {'px/px':>7} "
            f"{'square':>7} {'pre':>7} {'post':>7}")
    print(head)
    print("-" * len(head))
    for budget, one, per in rows:
        print(f"{budget:>5} | {one['crop']:<17} {one['canvas']:>11} {one['tokens']:>6} {one['px_ratio']:>7.4f} "
              f"{one['square']:>7} {one['pre']:>6.3f}s {one['post']:>6.3f}s | "
              f"{str(per['batch']) + ' x ' + per['crop']:<16} {str(per['batch']) + ' x ' + per['canvas']:>13} "
              f"{per['tokens']:>6} {per['px_ratio']:>7.4f} {per['square']:>7} {per['pre']:>6.3f}s {per['post']:>6.3f}s",
              flush=True)
    print("(px/px: target-panel pixels per original pixel of the crop; square: a masked square's side in the canvas)")


SCATTER_MP, SCATTER_SIDE, SCATTER_APART, ONE_SIDE = 9, 64, 3000, 512


def run_scattered(repeats: int) -> dict:
    """Stitch time of two small areas far apart against one 512x512 area, on the same photo, in this one process
    (see the module's docstring)."""
    import torch

    from aceplusplus.lcu.canvas import build_canvas
    from aceplusplus.lcu.stitch import stitch

    torch.set_grad_enabled(False)
    side = int(round(math.sqrt(SCATTER_MP) * 1024))
    photo = torch.rand(1, side, side, 3, generator=torch.Generator().manual_seed(SCATTER_MP))
    scattered = torch.zeros(1, side, side)
    near = (side - SCATTER_APART - SCATTER_SIDE) // 2  # the two areas' corners are SCATTER_APART px apart
    for corner in (near, near + SCATTER_APART):
        scattered[:, corner:corner + SCATTER_SIDE, corner:corner + SCATTER_SIDE] = 1.0
    one = torch.zeros(1, side, side)
    top = (side - ONE_SIDE) // 2
    one[:, top:top + ONE_SIDE, top:top + ONE_SIDE] = 1.0
    cases = {}
    for name, mask in (("one", one), ("scattered", scattered)):
        canvas = build_canvas(edit_image=photo, mask=mask, token_budget=BUDGET, context_margin=MARGIN)
        decoded = (canvas.image * 0.9 + 0.05 + 0.02 * torch.rand(canvas.image.shape)).clamp(0, 1)
        result, _ = stitch(decoded, canvas.layout, grow=GROW, feather=FEATHER, color_match=True)  # warm-up
        assert tuple(result.shape) == tuple(photo.shape)
        cases[name] = decoded, canvas.layout
    # The two cases take turns, so that whatever else loads the machine meanwhile weighs on both alike.
    times = {name: math.inf for name in cases}
    for _ in range(repeats):
        for name, (decoded, layout) in cases.items():
            start = time.perf_counter()
            stitch(decoded, layout, grow=GROW, feather=FEATHER, color_match=True)
            times[name] = min(times[name], time.perf_counter() - start)
    return {"side": side, "near": near, **times}


def scattered_table(repeats: int) -> None:
    """Runs and prints the scattered-mask comparison (one subprocess)."""
    r = _child("scattered", SCATTER_MP, ONE_SIDE, True, repeats)
    side, near = r["side"], r["near"]
    print(f"Scattered mask on a {side}x{side} photo ({side * side / 1e6:.1f} MP), regions one, context_margin {MARGIN}, "
          f"stitch with grow {GROW}, feather {FEATHER}, colour match, best of {repeats}:")
    print(f"  one {ONE_SIDE}x{ONE_SIDE} area in the middle:                          {r['one']:7.3f}s")
    print(f"  two {SCATTER_SIDE}x{SCATTER_SIDE} areas at ({near},{near}) and ({near + SCATTER_APART},"
          f"{near + SCATTER_APART}), {SCATTER_APART} px apart: {r['scattered']:7.3f}s")
    print(f"  scattered / one: {r['scattered'] / r['one']:.2f}x", flush=True)


def run_stock(megapixels: int, mask_side: int, options: bool, repeats: int) -> dict:
    import torch

    from aceplusplus.tools.comfy_inprocess import start_inprocess

    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory(prefix="acepp-bench-") as tmp:
        models = Path(tmp) / "models"
        models.mkdir()
        comfy = start_inprocess(Path(tmp) / "base", models)
        photo, mask = _inputs(megapixels, mask_side)
        side = photo.shape[1]
        model_side = 16 * int(math.sqrt(BUDGET))  # the whole photo at the token budget (square: 1024)
        base = _rss_mib()

        def pre():
            return comfy.call("ImageScale", image=photo, upscale_method="bilinear", width=model_side,
                              height=model_side, crop="disabled")[0]

        pre_s, scaled = _best(pre, repeats)
        decoded = (scaled * 0.9 + 0.05 + 0.02 * torch.rand(scaled.shape)).clamp(0, 1)

        def post():
            back = comfy.call("ImageScale", image=decoded, upscale_method="bilinear", width=side, height=side,
                              crop="disabled")[0]
            blend = mask
            if options:
                blend = comfy.call("GrowMask", mask=blend, expand=GROW, tapered_corners=False)[0]
                as_image = comfy.call("MaskToImage", mask=blend)[0]
                blurred = comfy.call("ImageBlur", image=as_image, blur_radius=FEATHER, sigma=FEATHER / 3.0)[0]
                blend = comfy.call("ImageToMask", image=blurred, channel="red")[0]
            return comfy.call("ImageCompositeMasked", destination=photo, source=back, x=0, y=0,
                              resize_source=False, mask=blend)[0]

        keep = photo, mask, decoded  # warm-up on a small photo, as for the pack
        photo, mask = torch.rand(1, 256, 256, 3), torch.zeros(1, 256, 256)
        mask[:, 96:160, 96:160] = 1.0
        side, decoded = 256, torch.rand(1, 64, 64, 3)
        post()
        photo, mask, decoded = keep
        side = photo.shape[1]
        post_s, result = _best(post, repeats)
        assert tuple(result.shape) == tuple(photo.shape)
        return {"pre": pre_s, "post": post_s, "rss": _rss_mib(), "base": base}


def _child(kind: str, megapixels: int, mask_side: int, options: bool, repeats: int, regions: str = "one") -> dict:
    """One configuration in a subprocess of its own (for "regions", `mask_side` carries the token budget)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--sizes", str(megapixels),
           "--mask", str(mask_side), "--repeats", str(repeats), "--child-regions", regions] + (
        ["--options"] if options else [])
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ))
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 9, 16], help="photo sizes in megapixels")
    parser.add_argument("--mask", type=int, default=512, help="masked square side (px)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per step (the best is shown)")
    parser.add_argument("--regions", action="store_true",
                        help="only the several-regions comparison (two squares in opposite corners of a 16 MP photo)")
    parser.add_argument("--scattered", action="store_true",
                        help="only the scattered-mask case (two 64x64 areas 3000 px apart vs one 512x512 area, 9.4 MP)")
    parser.add_argument("--child", choices=["crop", "whole", "stock", "regions", "scattered"], help=argparse.SUPPRESS)
    parser.add_argument("--options", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-regions", default="one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mp = args.sizes[0]
        if args.child == "regions":
            out = run_regions(mp, args.repeats, budget=args.mask, regions=args.child_regions)
        elif args.child == "scattered":
            out = run_scattered(args.repeats)
        elif args.child == "stock":
            out = run_stock(mp, args.mask, args.options, args.repeats)
        else:
            out = run_pack(mp, args.mask, args.options, args.repeats, crop=args.child == "crop")
        print(json.dumps(out), flush=True)
        return
    if args.regions:
        print(f"{os.cpu_count()} CPUs, torch threads as default, best of {args.repeats}")
        print()
        regions_table(args.repeats)
        return
    if args.scattered:
        print(f"{os.cpu_count()} CPUs, torch threads as default")
        print()
        scattered_table(args.repeats)
        return

    print(f"{os.cpu_count()} CPUs, torch threads as default; mask {args.mask}x{args.mask}, token budget {BUDGET}, "
          f"best of {args.repeats}; options on = grow {GROW}, feather {FEATHER}, colour match (stock: no colour "
          "match)")
    print()
    header = (f"{'photo':>6} {'options':>7} | {'crop pre':>8} {'crop post':>9} {'whole post':>10} | "
              f"{'stock pre':>9} {'stock post':>10} | {'(pre+post) crop/stock':>21} {'post crop/stock':>15} | "
              f"{'RSS MiB crop/whole/stock (above inputs)':>40}")
    print(header)
    print("-" * len(header))
    tokens, post_on = [], {}
    for mp in args.sizes:
        for options in (False, True):
            crop = _child("crop", mp, args.mask, options, args.repeats)
            whole = _child("whole", mp, args.mask, options, args.repeats)
            stock = _child("stock", mp, args.mask, options, args.repeats)
            if options:
                post_on[mp] = crop["post"]
            ratio = (crop["pre"] + crop["post"]) / (stock["pre"] + stock["post"])
            rss = "/".join(f"{r['rss']:.0f}" for r in (crop, whole, stock))
            above = "/".join(f"{r['rss'] - r['base']:.0f}" for r in (crop, whole, stock))
            print(f"{mp:>4}MP {'on' if options else 'off':>7} | {crop['pre']:>7.3f}s {crop['post']:>8.3f}s "
                  f"{whole['post']:>9.3f}s | {stock['pre']:>8.3f}s {stock['post']:>9.3f}s | {ratio:>20.2f}x "
                  f"{crop['post'] / stock['post']:>14.2f}x | {rss + ' (' + above + ')':>40}", flush=True)
            if not options:
                tokens.append((mp, whole, crop))
    print()
    if len(args.sizes) > 1:
        first = args.sizes[0]
        print(f"stitch (crop-to-context, options on) time relative to {first} MP: " + ", ".join(
            f"{mp} MP {post_on[mp] / post_on[first]:.2f}x" for mp in args.sizes[1:]))
        print()
    print(f"{'photo':>6} | {'whole-photo canvas':>18} {'tokens':>6} {'target px/orig px':>17} {'mask in canvas':>14} | "
          f"{'crop canvas':>11} {'tokens':>6} {'target px/orig px':>17} {'mask in canvas':>14}")
    for mp, whole, crop in tokens:
        cells = []
        for r, width in ((whole, 18), (crop, 11)):
            side = f"{r['mask_px']}x{r['mask_px']}"
            cells.append(f"{r['canvas']:>{width}} {r['tokens']:>6} {r['px_ratio']:>17.4f} {side:>14}")
        print(f"{mp:>4}MP | " + " | ".join(cells))
    print()
    regions_table(args.repeats)
    print()
    scattered_table(args.repeats)


if __name__ == "__main__":
    main()
