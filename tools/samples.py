"""Synthetic sample images for the demo and the workflow tests, drawn by the project (no third-party photo).

Each bundled workflow names its inputs by these file names (acepp_face.png, ...). Edit images carry
their mask in the alpha channel the way ComfyUI's LoadImage reads it: MASK = 1 - alpha, so the area to
generate is transparent.

    python tools/samples.py OUT_DIR [--scale 0.25]
    python tools/samples.py --ship        # (re)writes web/samples/*.png, the copies shipped with the pack

The shipped copies (SHIP_SCALE, a few KB each) are what the "Load ACE++ sample inputs" button of the
ACE++ Canvas node uploads into ComfyUI's input folder (web/js/samples.js); tests/test_web_samples.py checks
that they still decode to exactly the pixels drawn here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

SKIN, HAIR, SHIRT = (224, 182, 150), (70, 45, 30), (40, 70, 140)


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(16, round(size[0] * scale)), max(16, round(size[1] * scale))


def face(scale: float = 1.0) -> Image.Image:
    """A stylised head and shoulders on a plain background (the portrait reference)."""
    img = Image.new("RGB", (512, 640), (200, 215, 230))
    d = ImageDraw.Draw(img)
    d.ellipse((96, 40, 416, 420), fill=HAIR)
    d.rectangle((96, 500, 416, 640), fill=SHIRT)
    d.rectangle((216, 400, 296, 520), fill=SKIN)
    d.ellipse((136, 110, 376, 440), fill=SKIN)
    for x in (196, 316):
        d.ellipse((x - 26, 230, x + 26, 262), fill=(255, 255, 255))
        d.ellipse((x - 11, 235, x + 11, 257), fill=(60, 90, 50))
    d.polygon([(256, 260), (236, 330), (276, 330)], fill=(205, 160, 130))
    d.arc((200, 330, 312, 400), 15, 165, fill=(170, 60, 60), width=8)
    return img.resize(_scaled(img.size, scale), Image.LANCZOS)


def logo(scale: float = 1.0) -> Image.Image:
    """A flat geometric logo (the subject reference)."""
    img = Image.new("RGB", (512, 512), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.ellipse((56, 56, 456, 456), fill=(230, 90, 40))
    d.polygon([(256, 120), (380, 380), (132, 380)], fill=(255, 255, 255))
    d.rectangle((226, 250, 286, 380), fill=(230, 90, 40))
    return img.resize(_scaled(img.size, scale), Image.LANCZOS)


def garment(scale: float = 1.0) -> Image.Image:
    """A striped T-shirt on white (the try-on reference)."""
    img = Image.new("RGB", (512, 512), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.polygon([(96, 96), (196, 56), (316, 56), (416, 96), (470, 200), (390, 230), (380, 470), (132, 470),
               (122, 230), (42, 200)], fill=(30, 120, 90))
    for y in range(120, 470, 48):
        d.rectangle((132, y, 380, y + 18), fill=(240, 220, 80))
    return img.resize(_scaled(img.size, scale), Image.LANCZOS)


def with_mask(img: Image.Image, *boxes: tuple[float, float, float, float]) -> Image.Image:
    """RGBA copy of `img`, transparent (= masked for LoadImage) inside every box given as fractions of the size."""
    w, h = img.size
    alpha = Image.new("L", img.size, 255)
    for box in boxes:
        ImageDraw.Draw(alpha).rectangle((round(box[0] * w), round(box[1] * h), round(box[2] * w) - 1,
                                         round(box[3] * h) - 1), fill=0)
    out = img.convert("RGBA")
    out.putalpha(alpha)
    return out


def scene(scale: float = 1.0) -> Image.Image:
    """A table with a cup and headphones; the mask covers the headphones' band (edit image)."""
    img = Image.new("RGB", (768, 512), (235, 225, 205))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 300, 768, 512), fill=(150, 100, 60))
    d.rectangle((120, 200, 220, 320), fill=(245, 245, 245))
    d.arc((200, 225, 260, 285), 270, 90, fill=(245, 245, 245), width=12)
    d.arc((420, 150, 640, 370), 180, 360, fill=(30, 30, 30), width=22)
    d.ellipse((400, 250, 470, 350), fill=(30, 30, 30))
    d.ellipse((590, 250, 660, 350), fill=(30, 30, 30))
    return with_mask(img.resize(_scaled(img.size, scale), Image.LANCZOS), (0.52, 0.26, 0.88, 0.72))


# The fronts of the three mugs of scene_regions(), as fractions of its size: three separate masked areas, far
# enough apart (82 px at the shipped half size) that regions=connected_components keeps them apart at the
# default merge_distance of 64 px.
MUG_FRONTS = tuple((x - 0.05, 0.47, x + 0.05, 0.65) for x in (0.1875, 0.5, 0.8125))


def scene_regions(scale: float = 1.0) -> Image.Image:
    """A shelf with three plain mugs; the front of each mug is masked (multi-region edit image)."""
    img = Image.new("RGB", (768, 512), (214, 226, 232))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 360, 768, 512), fill=(120, 84, 56))
    d.rectangle((0, 352, 768, 368), fill=(150, 108, 72))
    for (x0, _, x1, _), body in zip(MUG_FRONTS, ((245, 245, 240), (190, 215, 235), (240, 225, 190))):
        left, right = round((x0 - 0.025) * 768), round((x1 + 0.025) * 768)
        d.rounded_rectangle((left, 220, right, 356), radius=10, fill=body)
        d.ellipse((left, 210, right, 232), fill=tuple(round(c * 0.8) for c in body))
        d.arc((right - 22, 250, right + 34, 318), 270, 90, fill=body, width=12)
    return with_mask(img.resize(_scaled(img.size, scale), Image.LANCZOS), *MUG_FRONTS)


def person(scale: float = 1.0) -> Image.Image:
    """A figure whose torso is masked (try-on edit image)."""
    img = Image.new("RGB", (512, 768), (210, 220, 210))
    d = ImageDraw.Draw(img)
    d.ellipse((196, 60, 316, 200), fill=SKIN)
    d.rectangle((150, 210, 362, 520), fill=(200, 200, 200))
    d.rectangle((170, 520, 342, 760), fill=(50, 50, 80))
    return with_mask(img.resize(_scaled(img.size, scale), Image.LANCZOS), (0.27, 0.26, 0.73, 0.69))


def portrait(scale: float = 1.0) -> Image.Image:
    """The face sample with the face masked (face-swap edit image)."""
    return with_mask(face(scale), (0.27, 0.17, 0.73, 0.69))


SAMPLES = {
    "acepp_face.png": face, "acepp_logo.png": logo, "acepp_garment.png": garment,
    "acepp_scene.png": scene, "acepp_person.png": person, "acepp_portrait.png": portrait,
    "acepp_scene_regions.png": scene_regions,
}


# The copies shipped in the pack's web folder (ComfyUI serves them at /extensions/<pack folder>/samples/).
SHIP_DIR = Path(__file__).resolve().parent.parent / "web" / "samples"
SHIP_SCALE = 0.5


def write_samples(out_dir: Path, scale: float = 1.0) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, draw in SAMPLES.items():
        paths[name] = out_dir / name
        # optimize=True: smaller files, same pixels (PNG is lossless).
        draw(scale).save(paths[name], optimize=True)
    return paths


def ship() -> dict[str, Path]:
    """(Re)write the shipped sample copies, web/samples/*.png at SHIP_SCALE."""
    return write_samples(SHIP_DIR, SHIP_SCALE)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, nargs="?", help="where to write the sample PNGs")
    parser.add_argument("--scale", type=float, default=1.0, help="resize factor (tests use small images)")
    parser.add_argument("--ship", action="store_true",
                        help=f"write the shipped copies to web/samples/ at scale {SHIP_SCALE} (instead of OUT_DIR)")
    args = parser.parse_args()
    if args.ship == (args.out_dir is not None):
        parser.error("give either OUT_DIR or --ship")
    paths = ship() if args.ship else write_samples(args.out_dir, args.scale)
    for path in paths.values():
        print(f"{path} ({path.stat().st_size} bytes)" if args.ship else path)
