"""The pack's one HTTP route: POST /acepp/plan, the layout the ACE++ Canvas node will build, for the frontend's
live preview (web/js/gather.js builds the request, web/js/plan.js sends it).

Request (JSON object; nothing else is read, no file is opened):
    widgets     {name: value} for the canvas node's widget inputs (width, height, token_budget, ...), checked
                against the node's own schema exactly as the node checks them when it runs (same limits, same
                `[ACE++]` messages); every required widget must be there, optional ones default as in the node
    references  [{"width": w, "height": h}, ...] the references in canvas order (default: none)
    edit_image  {"width": w, "height": h} or null (reference generation)
    mask        null (not connected), "unknown" (connected, known only at run) or
                {"width": w, "height": h, "box": null | {"x", "y", "w", "h"}}: the mask's size and the bounding box
                of its pixels at or above 0.5 (null: none are, which the node reads as the whole image)
    reference_mask  the same for the mask of the first reference (its object, on white, cropped to the box)
Answers: 200 with lcu.preview.plan_layout's dict ("status" ok / unknown / at_run); 400 with {"error": "[ACE++] ..."}
for a request that is not what is described here and for a canvas the node would refuse (the node's own
message); 500 with {"error": ...} (no traceback) should the pack itself fail.
"""
from __future__ import annotations

import functools
import json
import logging
import numbers
import sys

from aiohttp import web
from comfy_api.v0_0_2 import io

from ..lcu.errors import AcePlusError
from ..lcu.layout import Rect
from ..lcu.preview import UNKNOWN, MaskSketch, plan_layout
from ..lcu.settings import CanvasSettings
from .canvas import CanvasBuilder
from .validation import input_problem

ROUTE = "/acepp/plan"
MAX_BODY_BYTES = 64 * 1024
MAX_IMAGE_SIDE = 65535  # the largest side a JPEG or PNG decoder in a browser will hand over
MAX_REFERENCES = 64
FIELDS = ("widgets", "references", "edit_image", "mask", "reference_mask")
WIDGET_TYPES = (io.Int.Input, io.Float.Input, io.Boolean.Input, io.Combo.Input)
WHO = "layout preview"
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def canvas_schema():
    return CanvasBuilder.define_schema()


def widget_inputs() -> dict:
    """The canvas node's widget inputs by name, from its schema (limits and choices are defined there once)."""
    return {inp.id: inp for inp in canvas_schema().inputs if isinstance(inp, WIDGET_TYPES)}


def _fail(message: str):
    raise AcePlusError(f"{WHO}: {message}")


def _whole(value, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        shown = "missing" if value is None else repr(value)
        _fail(f"{where} is {shown}; give a whole number from {low} to {high}.")
    return int(value)


def _object(value, where: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        _fail(f"{where} is {json.dumps(value)[:80]}; give an object with {', '.join(keys)}.")
    extra = sorted(set(value) - set(keys))
    if extra:
        _fail(f"{where} has {', '.join(map(repr, extra))}, which it does not take; give only {', '.join(keys)}.")
    return value


def _size(value, where: str) -> tuple[int, int]:
    """(height, width) of a {"width", "height"} object."""
    size = _object(value, where, ("width", "height"))
    width = _whole(size.get("width"), f"{where}.width", 1, MAX_IMAGE_SIDE)
    height = _whole(size.get("height"), f"{where}.height", 1, MAX_IMAGE_SIDE)
    return height, width


def _mask(value, name: str = "mask"):
    if value is None or value == UNKNOWN:
        return value
    if isinstance(value, str):
        _fail(f"{name} is {value!r}; give null, \"{UNKNOWN}\" or an object with width, height and box.")
    mask = _object(value, name, ("width", "height", "box"))
    height, width = _size({k: mask.get(k) for k in ("width", "height")}, name)
    if "box" not in mask:
        _fail(f"{name}.box is missing; give the box of the mask's pixels at or above 0.5, or null when there are "
              "none.")
    if mask["box"] is None:
        return MaskSketch(height, width, None)
    box = _object(mask["box"], f"{name}.box", ("x", "y", "w", "h"))
    x = _whole(box.get("x"), f"{name}.box.x", 0, width - 1)
    y = _whole(box.get("y"), f"{name}.box.y", 0, height - 1)
    w = _whole(box.get("w"), f"{name}.box.w", 1, width - x)
    h = _whole(box.get("h"), f"{name}.box.h", 1, height - y)
    return MaskSketch(height, width, Rect(x, y, w, h))


def _widgets(value) -> dict:
    """The widget values, each checked as the node checks it; optional widgets left out take their default."""
    inputs = widget_inputs()
    given = _object(value, "widgets", tuple(inputs))
    node = canvas_schema().display_name
    missing = [name for name, inp in inputs.items() if not inp.optional and name not in given]
    if missing:
        raise AcePlusError(f"{node}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing from the "
                           f"{WHO}'s request; send every widget of the node.")
    values = {}
    for name, inp in inputs.items():
        if name not in given:
            values[name] = inp.default
            continue
        if given[name] is None:
            raise AcePlusError(f"{node}: {name} is null; set {name} or leave it out.")
        problem = input_problem(node, inp, given[name])
        if problem:
            raise AcePlusError(problem)
        values[name] = given[name]
    return values


def parse_request(body) -> dict:
    """plan_layout's keyword arguments from a request body (decoded JSON); AcePlusError names what is wrong."""
    request = _object(body, "the request", FIELDS)
    if "widgets" not in request:
        _fail("the request has no widgets; send the canvas node's widget values as \"widgets\".")
    values = _widgets(request["widgets"])
    references = request.get("references", [])
    if not isinstance(references, list) or len(references) > MAX_REFERENCES:
        _fail(f"references must be a list of at most {MAX_REFERENCES} sizes.")
    edit = request.get("edit_image")
    settings = CanvasSettings(**values)
    return dict(
        reference_hws=[_size(r, f"references[{i}]") for i, r in enumerate(references)],
        edit_hw=None if edit is None else _size(edit, "edit_image"),
        mask=_mask(request.get("mask")),
        reference_mask=_mask(request.get("reference_mask"), "reference_mask"),
        **settings.layout_arguments(),
    )


def plan_request(body) -> dict:
    return plan_layout(**parse_request(body))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def handle_plan(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(400, f"[ACE++] {WHO}: the request is over {MAX_BODY_BYTES // 1024} KiB; send sizes and widget "
                           "values only.")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return _error(400, f"[ACE++] {WHO}: the request is over {MAX_BODY_BYTES // 1024} KiB; send sizes and widget "
                           "values only.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _error(400, f"[ACE++] {WHO}: the request is not JSON; send a JSON object with {', '.join(FIELDS)}.")
    try:
        plan = plan_request(body)
    except AcePlusError as err:
        return _error(400, str(err))
    except Exception as err:  # a bug of the pack: said plainly, logged with its traceback, never sent
        log.exception("[ACE++] %s failed", ROUTE)
        return _error(500, f"[ACE++] {WHO}: the pack failed to plan this canvas ({type(err).__name__}); please "
                           "report it with the server log.")
    return web.json_response(plan, dumps=lambda obj: json.dumps(obj, allow_nan=False))


def register_routes() -> bool:
    """Add POST /acepp/plan to the running ComfyUI server's routes (once); False when there is no server (the
    pack loaded into a script or a test process). Called when ComfyUI asks for the extension, never on import."""
    server = sys.modules.get("server")  # ComfyUI's own server module, imported by main.py before the packs load
    prompt_server = getattr(getattr(server, "PromptServer", None), "instance", None)
    routes = getattr(prompt_server, "routes", None)
    if routes is None:
        return False
    if not any(getattr(route, "path", None) == ROUTE for route in routes):
        routes.post(ROUTE)(handle_plan)
    return True
