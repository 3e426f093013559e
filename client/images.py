"""Image inputs: read a file, fold a mask into the edit image's alpha, encode PNG for upload.

Pillow is imported only here and only when an image is read (it ships with ComfyUI, like aiohttp)."""
from __future__ import annotations

import io
import struct
from pathlib import Path

from .catalog import Workflow
from .errors import EXIT_IMAGE, EXIT_INPUT, ClientError


def load_image(path: Path, role: str):
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    if path.is_dir():
        raise ClientError(EXIT_IMAGE, f"{role}: {path} is a folder; give an image file")
    if not path.is_file():
        raise ClientError(EXIT_IMAGE, f"{role}: file not found: {path}")
    try:
        with warnings.catch_warnings():
            # Above MAX_IMAGE_PIXELS Pillow only warns (above twice that it refuses): refuse both, with the
            # numbers, before gigabytes of pixels are decoded here and again by the server's LoadImage.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                return ImageOps.exif_transpose(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        limit = Image.MAX_IMAGE_PIXELS
        size = _declared_size(path)
        raise ClientError(EXIT_IMAGE, f"{role}: {path} is too large to read safely"
                          + (f" ({size[0]}x{size[1]} = {size[0] * size[1]:,} pixels)" if size else "")
                          + f": Pillow's decompression-bomb limit is {limit:,} pixels (ComfyUI's LoadImage reads "
                          "images with the same Pillow). Scale the image down below that; the model works at "
                          f"about 1 megapixel anyway. ({e.__class__.__name__})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, TypeError, KeyError,
            IndexError, struct.error, MemoryError) as e:
        # What Pillow's decoders and EXIF parser raise for damaged or hostile files.
        raise ClientError(EXIT_IMAGE, f"{role}: cannot read {path} as an image ({e.__class__.__name__}: {e})")


def _declared_size(path: Path):
    """The width and height a file declares, read without decoding it (None when even that fails)."""
    from PIL import Image

    try:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # opening reads the header only; nothing is decoded here
        try:
            with Image.open(path) as im:
                return im.size
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    except Exception:  # only a detail of the message: never the reason for another error
        return None


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
            # A palette or greyscale image with a transparent colour keeps it as alpha (LoadImage's mask).
            alpha = "A" in image.getbands() or "transparency" in image.info
            image = image.convert("RGBA" if alpha else "RGB")
        out[name] = png_bytes(image)
    return out
