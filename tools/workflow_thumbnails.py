"""Thumbnails of the bundled workflows (workflows/<card>.jpg, shown by the template browser): a diagram of the task,
drawn from the sample inputs (tools/samples.py) with no generated pixels: reference(s) + edit image with its mask ->
result."""
from __future__ import annotations

from aceplusplus.tools import samples
from aceplusplus.tools.workflow_specs import Workflow


def _holes(masked) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (PIL getbbox form) of the separate areas of a 0/255 mask image, in the order they are found."""
    from PIL import ImageDraw

    left, boxes = masked.copy(), []
    while (box := left.getbbox()) is not None:
        x0, y0, x1, y1 = box
        seed = next((x, y0) for x in range(x0, x1) if left.getpixel((x, y0)) == 255)
        ImageDraw.floodfill(left, seed, 128)  # this area only (4-connected)
        boxes.append(left.point(lambda v: 255 if v == 128 else 0).getbbox())
        left = left.point(lambda v: 0 if v == 128 else v)
    return boxes


def draw_thumbnail(workflow: Workflow):
    """A diagram of the task: reference(s) + edit image with its mask -> result (no generated pixels)."""
    from PIL import Image, ImageDraw, ImageFont

    W, H, margin, panel_h = 560, 320, 16, 150
    gold, text_color, dim = (240, 200, 90), (235, 235, 235), (190, 196, 210)
    img = Image.new("RGB", (W, H), (30, 33, 40))
    d = ImageDraw.Draw(img)
    font_title, font, font_small = (ImageFont.load_default(size=n) for n in (22, 14, 12))
    d.rectangle((0, 0, W, 44), fill=(52, 60, 84))
    d.text((margin, 10), workflow.title, font=font_title, fill=(255, 255, 255))
    lora = workflow.recipe.name if workflow.recipe else workflow.model.replace("_", " ")
    badge = "ACE++ FFT model" if workflow.model == "fft" else f"FLUX.1 Fill + {lora} LoRA"
    d.text((margin, H - 24), badge + (" + Redux" if workflow.uses_redux else ""), font=font_small, fill=dim)

    drawers = samples.SAMPLES
    panels: list[tuple[Image.Image, str]] = []  # (picture, caption); joined by "+" then "->" before the last
    if workflow.reference:
        panels.append((drawers[workflow.reference](0.5).convert("RGB"), "reference"))
    if workflow.outpaint:
        photo = drawers[workflow.edit](0.5).convert("RGB")
        m = workflow.outpaint
        size = (photo.width + (m.left + m.right) // 2, photo.height + (m.top + m.bottom) // 2)
        extended = Image.new("RGB", size, (128, 128, 128))
        extended.paste(photo, (m.left // 2, m.top // 2))
        result = extended.copy()
        rd = ImageDraw.Draw(result)
        for i in range(-size[1], size[0], 14):  # the new margins hatched, the photo itself untouched
            rd.line((i, size[1], i + size[1], 0), fill=gold, width=4)
        result.paste(photo, (m.left // 2, m.top // 2))
        panels += [(photo, "photo"), (extended, "+ margins (mask)"), (result, "result, photo untouched")]
    elif workflow.edit:
        rgba = drawers[workflow.edit](0.5)
        rgb = rgba.convert("RGB")  # RGB and alpha apart: PIL premultiplies RGBA when resizing
        masked = rgba.getchannel("A").point(lambda a: 255 if a < 128 else 0)
        if workflow.control:
            rgb.paste(rgb.convert("L").convert("RGB"), mask=masked)
            shown = rgb.copy()
        else:
            shown = Image.composite(Image.blend(rgb, Image.new("RGB", rgb.size, (230, 60, 60)), 0.55), rgb, masked)
        holes = _holes(masked)
        for hole in holes:
            ImageDraw.Draw(shown).rectangle(hole, outline=(230, 60, 60), width=3)
        several = f" ({len(holes)} regions)" if len(holes) > 1 else ""
        panels.append((shown, "edit image + mask" + several
                       + (f" ({workflow.control} map)" if workflow.control else "")))
        result = rgb.copy()
        rd = ImageDraw.Draw(result)
        x0, y0, x1, y1 = masked.getbbox()
        for i in range(x0 - (y1 - y0), x1, 14):
            rd.line((i, y1, i + (y1 - y0), y0), fill=gold, width=4)
        result.paste(rgb, mask=masked.point(lambda v: 255 - v))
        for hole in holes:
            rd.rectangle(hole, outline=gold, width=3)
        panels.append((result, "result, full size" + (", one batch" if several else "")))
    else:
        blank = Image.new("RGB", (300, 300), (128, 128, 128))
        ImageDraw.Draw(blank).rectangle((0, 0, 299, 299), outline=gold, width=6)
        panels.append((blank, "new image (width x height)"))

    joints = ["+"] * (len(panels) - 2) + ["->"]
    joint_w = 44
    avail = W - 2 * margin - joint_w * (len(panels) - 1)
    sizes = [(p.width * panel_h / p.height, panel_h) for p, _ in panels]
    factor = min(1.0, avail / sum(w for w, _ in sizes))
    x, top = margin, 62
    for i, ((picture, caption), (w, h)) in enumerate(zip(panels, sizes)):
        w, h = max(1, round(w * factor)), max(1, round(h * factor))
        img.paste(picture.resize((w, h), Image.LANCZOS), (x, top + (panel_h - h) // 2))
        d.text((x, top + (panel_h + h) // 2 + 6), caption, font=font_small, fill=dim)
        x += w
        if i < len(joints):
            cy = top + panel_h // 2
            if joints[i] == "+":
                d.text((x + 14, cy - 14), "+", font=font_title, fill=gold)
            else:
                d.line((x + 8, cy, x + 28, cy), fill=gold, width=4)
                d.polygon([(x + 28, cy - 8), (x + 38, cy), (x + 28, cy + 8)], fill=gold)
            x += joint_w

    words, lines, line = workflow.prompt.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > 72:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    if len(lines) > 2:
        lines = [lines[0], lines[1].rsplit(" ", 1)[0] + " \u2026"]
    for i, text in enumerate(lines):
        quoted = ("\u201c" if i == 0 else " ") + text + ("\u201d" if i == len(lines) - 1 else "")
        d.text((margin, top + panel_h + 30 + 18 * i), quoted, font=font, fill=text_color)
    return img


def thumbnail_jpeg(w: Workflow) -> bytes:
    """The thumbnail file's bytes (the same for the same Pillow: tools/runtime.sh pins it, so `check` compares them)."""
    import io

    out = io.BytesIO()
    draw_thumbnail(w).save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()
