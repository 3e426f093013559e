"""Image inputs: read a file, fold a mask into the edit image's alpha, encode PNG for upload.

Pillow is imported only here and only when an image is read (it ships with ComfyUI, like aiohttp)."""
from __future__ import annotations

import io
from pathlib import Path

from .catalog import Workflow
from .errors import EXIT_IMAGE, EXIT_INPUT, ClientError


def load_image(path: Path, role: str):
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.is_file():
        raise ClientError(EXIT_IMAGE, f"{role}: file not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ClientError(EXIT_IMAGE, f"{role}: cannot read {path} as an image ({e.__class__.__name__}: {e})")


def with_mask(edit, mask, mask_path: Path):
    """The edit image as RGBA with alpha = 255 - mask: how ComfyUI's LoadImage reads a painted mask."""
    from PIL import Image

    if mask.size != edit.size:
        ew, eh = edit.size
        mw, mh = mask.size
        if abs(mw * eh - mh * ew) > max(ew, eh):  # another aspect ratio: no guessing
            raise ClientError(EXIT_IMAGE, f"mask {mask_path} is {mw}x{mh} but the edit image is {ew}x{eh} (another "
                              "aspect ratio); give a mask of the edit image's size")
        mask = mask.resize(edit.size, Image.NEAREST)
    rgba = edit.convert("RGBA")
    rgba.putalpha(mask.convert("L").point(lambda v: 255 - v))
    return rgba


def png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def prepare_images(workflow: Workflow, files: dict[str, Path]) -> dict[str, bytes]:
    """{image input name: PNG bytes to upload}; a mask is folded into the image it belongs to."""
    unknown = [n for n in files if n not in workflow.images]
    if unknown:
        raise ClientError(EXIT_INPUT, f"workflow '{workflow.id}' has no input {', '.join(repr(n) for n in unknown)}; "
                          f"its inputs: {', '.join(workflow.images) or 'none'}")
    missing = [n for n, image in workflow.images.items() if image.required and n not in files]
    if missing:
        raise ClientError(EXIT_INPUT, f"workflow '{workflow.id}' needs " + " ".join(f"--input {n}=FILE" for n in missing))
    masks = {workflow.images[n].into: n for n in files if not workflow.images[n].required}
    out = {}
    for name, path in files.items():
        if not workflow.images[name].required:
            continue
        image = load_image(path, name)
        if name in masks:
            mask_path = files[masks[name]]
            image = with_mask(image, load_image(mask_path, masks[name]), mask_path)
        elif image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        out[name] = png_bytes(image)
    return out
