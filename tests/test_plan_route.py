"""POST /acepp/plan on a live ComfyUI server: the canvas layout for the frontend's preview (nodes/routes.py).

* Registered when ComfyUI loads the pack (comfy_entrypoint), under /acepp/plan and ComfyUI's /api prefix.
* A good request answers 200 with exactly lcu.preview.plan_layout's plan (the canvas node's own code).
* Every bad request answers 400 with one `[ACE++]` message and never a traceback; widget values get the very
  message the canvas node raises, with the limits of the node's schema as /object_info reports them.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from aceplusplus.lcu.layout import Rect
from aceplusplus.lcu.preview import MaskSketch, plan_layout

NODE = "ACEPP_CanvasBuilder"
WIDGETS = {"width": 1024, "height": 1024, "token_budget": 4096, "reference_sizing": "resize",
           "keep_pixels_rate": 0.8, "crop_to_context": False, "context_margin": 128}
EDIT = {"width": 4000, "height": 3000}
MASK = {"width": 4000, "height": 3000, "box": {"x": 1000, "y": 1000, "w": 600, "h": 400}}


def post(base_url: str, body, path: str = "/acepp/plan", raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def body(**changes) -> dict:
    out = {"widgets": dict(WIDGETS), "references": [{"width": 768, "height": 768}], "edit_image": dict(EDIT),
           "mask": json.loads(json.dumps(MASK))}
    for key, value in changes.items():
        if key.startswith("w_"):
            out["widgets"][key[2:]] = value
        else:
            out[key] = value
    return out


def without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


# ------------------------------------------------------------------------------------------------ good requests


def test_good_requests_answer_the_nodes_own_plan(live_server):
    base = live_server.base_url
    status, plan = post(base, body())
    assert status == 200, plan
    assert plan == json.loads(json.dumps(plan_layout([(768, 768)], (3000, 4000),
                                                     MaskSketch(3000, 4000, Rect(1000, 1000, 600, 400)))))
    assert plan["status"] == "ok" and plan["tokens"] <= 4096 and plan["warnings"], plan  # 0.38 px/px: a warning
    # crop_to_context: the crop around the mask (docs: 856x656 of a 4000x3000 photo), at /api too.
    status, cropped = post(base, body(references=[], w_crop_to_context=True), path="/api/acepp/plan")
    assert status == 200 and cropped["canvas"] == {"width": 848, "height": 656}, cropped
    assert cropped["target"]["region"] == {"x": 872, "y": 872, "w": 856, "h": 656}
    # Reference generation: optional parts left out; optional widgets given.
    status, generation = post(base, {"widgets": {**WIDGETS, "reference_share": 0.5, "resampling": "nearest-exact"},
                                     "references": [{"width": 1000, "height": 600}]})
    assert status == 200 and generation["target"]["new_image"], generation
    assert generation["target_share"] >= 0.5
    # A mask known only at run: fine without crop_to_context, "unknown" with it.
    status, unknown = post(base, body(mask="unknown", w_crop_to_context=True))
    assert status == 200 and unknown["status"] == "unknown" and "crop_to_context" in unknown["message"]
    status, whole = post(base, body(mask="unknown"))
    assert status == 200 and whole["status"] == "ok"
    # LoadImage's 64x64 placeholder (empty) means the whole image whatever the image's aspect, as in the node.
    status, placeholder = post(base, body(mask={"width": 64, "height": 64, "box": None}))
    assert status == 200 and placeholder["status"] == "ok", placeholder


def test_the_family_sizings_and_the_reference_mask_reach_the_plan(live_server):
    """Insert Anything's recipe: square panels, the crop widened to a square, reference 1 cropped to its object."""
    base = live_server.base_url
    reference_mask = {"width": 768, "height": 768, "box": {"x": 100, "y": 200, "w": 300, "h": 400}}
    status, plan = post(base, body(w_panel_sizing="square", w_panel_width=768, w_crop_to_context=True,
                                   w_token_budget=4608, reference_mask=reference_mask))
    assert status == 200 and plan["status"] == "ok", plan
    assert plan["canvas"] == {"width": 1536, "height": 768} and plan["panel_sizing"] == "square"
    region = plan["target"]["region"]
    assert region["w"] == region["h"], region
    assert plan["references"][0]["content"]["h"] == 768  # 390x520 (the box + 15 % a side), fitted in its square
    assert plan == json.loads(json.dumps(plan_layout(
        [(768, 768)], (3000, 4000), MaskSketch(3000, 4000, Rect(1000, 1000, 600, 400)), token_budget=4608,
        context_margin=128, panel_sizing="square", panel_size=(768, 768),
        reference_mask=MaskSketch(768, 768, Rect(100, 200, 300, 400)))))
    # The node's own message for a reference mask of another size, and for a twin without an edit image.
    status, answer = post(base, body(reference_mask={**reference_mask, "width": 700}))
    assert status == 400 and "paint the mask on the reference itself" in answer["error"], answer
    status, answer = post(base, {"widgets": {**WIDGETS, "edit_style": "blank_twin"},
                                 "references": [{"width": 100, "height": 100}]})
    assert status == 400 and answer["error"].endswith("set edit_style to in_place."), answer


def test_route_limits_are_the_schema_limits(live_server):
    """For every number widget: its schema max is planned, max + 1 is refused naming the range."""
    info = live_server.session.object_info()[NODE]["input"]
    specs = {**info["required"], **info.get("optional", {})}
    checked = 0
    for name, spec in specs.items():
        if spec[0] not in ("INT", "FLOAT") or name not in WIDGETS and name not in ("reference_share",):
            continue
        options = spec[1]
        over = options["max"] + 1
        status, answer = post(live_server.base_url, body(**{f"w_{name}": over}))
        assert status == 400 and f"set {name} to" in answer["error"], (name, answer)
        assert f"between {options['min']:g} and {options['max']:g}" in answer["error"], answer
        status, answer = post(live_server.base_url, body(**{f"w_{name}": options["min"]}))
        assert "set " + name not in answer.get("error", ""), answer
        checked += 1
    assert checked >= 6


# ------------------------------------------------------------------------------------------------ bad requests

BAD = {
    "not json": (None, b"{widgets: 1", "is not JSON"),
    "a list": ([], None, "give an object with widgets"),
    "no widgets": ({"references": []}, None, "the request has no widgets"),
    "missing height": (body(widgets=without(WIDGETS, "height")), None, "height is missing"),
    "null width": (body(w_width=None), None, "width is null"),
    "budget as text": (body(w_token_budget="4096"), None,
                       "token_budget is '4096', not a whole number; set token_budget to a whole number between 64 "
                       "and 65536."),
    "negative budget": (body(w_token_budget=-64), None,
                        "ACE++ Canvas (LCU++): token_budget is -64; set token_budget to a whole number between 64 "
                        "and 65536."),
    "huge budget": (body(w_token_budget=10 ** 12), None, "token_budget is 1000000000000;"),
    "budget NaN": (None, json.dumps(body()).replace('"token_budget": 4096', '"token_budget": NaN').encode(),
                   "token_budget is nan"),
    "rate infinite": (None, json.dumps(body()).replace('"keep_pixels_rate": 0.8', '"keep_pixels_rate": 1e999')
                      .encode(), "keep_pixels_rate is inf"),
    "fractional budget": (body(w_token_budget=4096.5), None, "not a whole number"),
    "unknown sizing": (body(w_reference_sizing="stretch"), None,
                       "reference_sizing is 'stretch', which is not one of its choices; choose one of: resize, "
                       "keep_pixels."),
    "crop as text": (body(w_crop_to_context="yes"), None,
                     "crop_to_context is 'yes'; set crop_to_context to true or false."),
    "unknown widget": (body(w_steps=28), None, "widgets has 'steps', which it does not take"),
    "an input as widget": (body(w_mask=1), None, "widgets has 'mask', which it does not take"),
    "unknown field": (dict(body(), prompt="x"), None, "the request has 'prompt', which it does not take"),
    "negative width": (body(edit_image={"width": -4000, "height": 3000}), None,
                       "edit_image.width is -4000; give a whole number from 1 to 65535."),
    "huge height": (body(edit_image={"width": 4000, "height": 10 ** 9}), None, "edit_image.height is 1000000000"),
    "fractional side": (body(references=[{"width": 10.5, "height": 10}]), None, "references[0].width is 10.5"),
    "boolean side": (body(references=[{"width": True, "height": 10}]), None, "references[0].width is True"),
    "references not a list": (body(references={"width": 1}), None, "references must be a list"),
    "too many references": (body(references=[{"width": 64, "height": 64}] * 65), None, "at most 64 sizes"),
    "reference without height": (body(references=[{"width": 64}]), None, "references[0].height is missing"),
    "mask box outside": (body(mask={**MASK, "box": {"x": 3900, "y": 0, "w": 200, "h": 10}}), None,
                         "mask.box.w is 200; give a whole number from 1 to 100."),
    "mask without box": (body(mask=without(MASK, "box")), None, "mask.box is missing"),
    "mask word": (body(mask="maybe"), None, "mask is 'maybe'"),
    "too large": (None, json.dumps(body(pad="x" * 70_000)).encode(), "the request is over 64 KiB"),
    # Well-formed, but a canvas the node refuses: the node's own message.
    "mask without edit image": (body(edit_image=None), None,
                                "[ACE++] a mask was given without an edit image; connect the image the mask belongs "
                                "to."),
    "budget too small": (body(references=[{"width": 64, "height": 256}] * 12, w_token_budget=64), None,
                         "[ACE++] a token budget of 64 is too small for this canvas: at scale 0.020 a panel would be "
                         "under 16 px; set token_budget to 128 (or more)"),  # 70 fits; 128 is on the widget's grid
    "mask of another aspect": (body(mask={"width": 100, "height": 100, "box": {"x": 0, "y": 0, "w": 5, "h": 5}}),
                               None, "[ACE++] the mask is 100x100 but the image is 4000x3000, another aspect ratio"),
    # All zero (no box) means the whole image, but the node still refuses its other aspect: so does the preview.
    "all-zero mask of another aspect": (body(mask={"width": 100, "height": 100, "box": None}), None,
                                        "[ACE++] the mask is 100x100 but the image is 4000x3000, another aspect"),
    "edit image under one token": (body(edit_image={"width": 8, "height": 3000}, mask=None), None,
                                   "[ACE++] the edit image is 8x3000; both sides must be at least 16 px"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_get_400_and_one_message(live_server, case):
    payload, raw, expected = BAD[case]
    status, answer = post(live_server.base_url, payload, raw=raw)
    assert status == 400, (case, answer)
    assert set(answer) == {"error"}, answer
    message = answer["error"]
    assert message.startswith("[ACE++] ") and "Traceback" not in message and "\n" not in message, message
    assert expected in message, message


def test_server_is_fine_after_the_bad_requests(live_server):
    assert len(BAD) >= 10
    status, plan = post(live_server.base_url, body())
    assert status == 200 and plan["status"] == "ok"
    assert "[ACE++] /acepp/plan failed" not in live_server.log_text()
