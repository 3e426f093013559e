"""The demo: the bundled portrait-generation workflow, end to end on the project's own ComfyUI.

    bash tools/demo.sh [--models DIR] [--out DIR]

Starts the embedded ComfyUI with this pack, queues the API twin workflows/api/portrait_generation.json through
the HTTP API with a synthetic face drawn by tools/samples.py, and writes the result plus a contact sheet
(reference | canvas with the mask tinted | mask | result). With --models DIR holding the real model files
(ComfyUI's models layout) it runs the official settings at 1024x1024; without, it uses the tiny
random-weight fixtures at 128x128 (the output is noise: it shows the plumbing, not the model) and says so.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

from aceplusplus.client import cli
from aceplusplus.client.session import BlockingSession
from aceplusplus.tools import fixtures
from aceplusplus.tools.comfy_process import EmbeddedComfy
from aceplusplus.tools.samples import write_samples
from aceplusplus.tools.workflow_specs import WORKFLOWS

WORKFLOW = "portrait_generation"
TILE = 256


def missing_real_files(models: Path) -> list[str]:
    """The model files the workflow's loader nodes name (their download entries) that `models` lacks."""
    wanted = {(e["directory"], e["name"]) for node in WORKFLOWS[WORKFLOW].nodes.values() for e in node.models}
    return sorted(f"{folder}/{name}" for folder, name in wanted if not (models / folder / name).is_file())


def canvas_previews(server: str, out: Path) -> list[Path]:
    """The ACE++ Canvas node's previews (canvas with the mask tinted, then the mask) of the last run."""
    with BlockingSession(server) as session:
        history = session.get_json("/history")
        entry = max(history.values(), key=lambda e: e.get("prompt", [0])[0])
        graph = entry["prompt"][2]
        saved = []
        for node_id, output in entry["outputs"].items():
            if graph[node_id]["class_type"] != "ACEPP_CanvasBuilder":
                continue
            for i, item in enumerate(output.get("images", [])):
                target = out / f"canvas_preview_{i}.png"
                target.write_bytes(session.view(item))
                saved.append(target)
    return saved


def contact_sheet(paths: list[Path], labels: list[str], target: Path) -> None:
    tiles = []
    for path in paths:
        img = Image.open(path).convert("RGB")
        tiles.append(img.resize((max(1, round(img.width * TILE / img.height)), TILE), Image.LANCZOS))
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) + 1), TILE + 32), (24, 24, 24))
    draw, x = ImageDraw.Draw(sheet), 8
    for tile, label in zip(tiles, labels):
        sheet.paste(tile, (x, 24))
        draw.text((x, 6), label, fill=(230, 230, 230))
        x += tile.width + 8
    sheet.save(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, help="a ComfyUI models folder holding the real model files")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="where to write (default out/demo)")
    args = parser.parse_args()
    out = args.out.resolve()
    inputs = write_samples(out / "inputs")
    if args.models:
        missing = missing_real_files(args.models)
        if missing:
            print(f"[ACE++ demo] {args.models} lacks: {', '.join(missing)} (see README, 'Models').", file=sys.stderr)
            return 2
        models, real = args.models.resolve(), True
        overrides = []
    else:
        models, real = fixtures.ensure_fixtures(fixtures.default_out_dir()), False
        overrides = ["--width", "128", "--height", "128"]
    kind = f"REAL models from {models}" if real else "TINY random-weight fixtures (output is noise: plumbing only)"
    print(f"[ACE++ demo] workflow {WORKFLOW} with {kind}")
    start = time.monotonic()
    with EmbeddedComfy(models_dir=models) as comfy:
        code = cli.main(["run", WORKFLOW, "--server", comfy.url, "--input", f"reference={inputs['acepp_face.png']}",
                         "--seed", "1", "--out", str(out / "result"), *overrides])
        if code != 0:
            print(comfy.log_tail(), file=sys.stderr)
            return code
        previews = canvas_previews(comfy.url, out)
    results = sorted((out / "result").glob(f"{WORKFLOW}_seed1*.png"))
    sheet = out / "contact_sheet.png"
    contact_sheet([inputs["acepp_face.png"], *previews, results[-1]], ["reference", "canvas (mask tinted)", "mask",
                  f"result {Image.open(results[-1]).size[0]}x{Image.open(results[-1]).size[1]}"], sheet)
    summary = {"workflow": WORKFLOW, "models": "real" if real else "tiny fixtures", "result": str(results[-1]),
               "contact_sheet": str(sheet), "seconds": round(time.monotonic() - start, 1)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"[ACE++ demo] models: {kind}")
    print(f"[ACE++ demo] result: {results[-1]}")
    print(f"[ACE++ demo] contact sheet (reference | canvas | mask | result): {sheet}")
    print(f"[ACE++ demo] done in {summary['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
