"""Randomised, seeded runs of the bundled workflows on the live ComfyUI (tiny fixtures, 1 sampling step), each
through the headless client's own code: random image sizes (16 px to a few hundred), mask shapes (empty, one
pixel, a border, soft below 0.5, soft gradients, blobs, everything), references, token budgets,
crop-to-context, context margins, grow / feather / colour match and repainting scale.

Every case either succeeds, with the output the size of the input (or of the requested size for a
generation) and every pixel beyond the grown and feathered mask equal to the input's (a mask with nothing at or
above 0.5 means the whole image, as documented), or fails with an
`[ACE++]` message while the server keeps answering. Where the message names a widget change (lcu/fixes.py's one
phrasing: "set grow to 4", "set crop_to_context to true and context_margin to 0", for a generation "set height to
160"), the change is applied and the run must then succeed.

Reproduce: ACEPP_RANDOM_SEED=<seed> (default below), ACEPP_RANDOM_CASES=<n>; a failing case prints its seed, its
index and every value drawn, and `-k caseNN` runs it alone.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from aceplusplus.client import catalog
from aceplusplus.client.errors import ClientError
from aceplusplus.client.session import BlockingSession
from harness import named_settings
from test_workflows import run_workflow

SEED = int(os.environ.get("ACEPP_RANDOM_SEED", "90210"))
CASES = int(os.environ.get("ACEPP_RANDOM_CASES", "24"))
EDITS = ("local_editing", "subject_editing", "try_on", "face_swap", "local_editing_control", "fft_editing")
GENERATIONS = ("subject_generation", "portrait_generation", "fft_reference_generation")
MASKS = ("empty", "pixel", "border", "soft_below_half", "soft_gradient", "blobs", "rect", "full")
# Widgets a message may name as its fix, with the node that has them (ids are the same role in every workflow).
WIDGETS = {"token_budget": "11", "context_margin": "11", "keep_pixels_rate": "11", "crop_to_context": "11",
           "reference_sizing": "11", "width": "11", "height": "11", "repainting_scale": "12", "grow": "15",
           "feather": "15", "color_match": "15"}


def _size(rng: random.Random) -> tuple[int, int]:
    """Mostly within ACE++'s 4:1 aspect (some tiny, some a few hundred px), now and then beyond it."""
    side = lambda: rng.choice([16, rng.randint(16, 64), rng.randint(32, 320), rng.randint(64, 320)])  # noqa: E731
    w, h = side(), side()
    if rng.random() < 0.85:
        while max(w, h) > 3.5 * min(w, h):
            w, h = side(), side()
    return w, h


def draw_case(index: int) -> dict:
    """Case ``index`` of run ``SEED``: the same values every time, whatever else runs."""
    rng = random.Random(f"{SEED}:{index}")
    workflow = rng.choice(EDITS + EDITS + GENERATIONS)  # edits twice as often
    case = {"index": index, "workflow": workflow, "sampler_seed": rng.randint(0, 2**31),
            "size": _size(rng), "reference": _size(rng),
            "reference_alpha": rng.random() < 0.2, "mask": rng.choice(MASKS), "mask_seed": rng.randint(0, 2**31)}
    graph = catalog.load(workflow).graph()
    sets = {"11.token_budget": rng.choice([64, 128, 192, 256, 512]),
            "11.crop_to_context": rng.random() < 0.5,
            "11.context_margin": rng.choice([0, 8, 24, 64, 128]),
            "11.keep_pixels_rate": rng.choice([0.1, 0.5, 0.8, 1.0]),
            "12.repainting_scale": rng.choice([0.0, 0.5, 1.0]),
            "15.grow": rng.choice([-3, 0, 0, 2, 7]),
            "15.feather": rng.choice([0, 0, 3, 9]),
            "15.color_match": rng.random() < 0.3}
    case["set"] = {k: v for k, v in sets.items() if k.split(".")[1] in graph[k.split(".")[0]]["inputs"]}
    return case


def describe(case: dict) -> str:
    return f"ACEPP_RANDOM_SEED={SEED} case{case['index']:02d}: {case}"


def make_mask(case: dict):
    """The mask image (white = generate) of the case's kind."""
    import numpy as np

    rng = np.random.default_rng(case["mask_seed"])
    w, h = case["size"]
    m = np.zeros((h, w), np.uint8)
    kind = case["mask"]
    if kind == "pixel":
        m[rng.integers(h), rng.integers(w)] = 255
    elif kind == "border":
        t = int(rng.integers(1, 4))
        m[:t], m[-t:], m[:, :t], m[:, -t:] = 255, 255, 255, 255
    elif kind == "soft_below_half":
        y0, x0 = rng.integers(0, h // 2 + 1), rng.integers(0, w // 2 + 1)
        m[y0:y0 + max(1, h // 3), x0:x0 + max(1, w // 3)] = int(rng.integers(20, 127))
    elif kind == "soft_gradient":
        m[:] = np.linspace(0, 255, w, dtype=np.float64).astype(np.uint8)[None, :]
        m[:, : w // 3] = 0
    elif kind == "blobs":
        yy, xx = np.mgrid[:h, :w]
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.integers(h), rng.integers(w)
            ry, rx = rng.integers(1, max(2, h // 4)), rng.integers(1, max(2, w // 4))
            m[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 255
    elif kind == "rect":
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0:y0 + int(rng.integers(1, h + 1)), x0:x0 + int(rng.integers(1, w + 1))] = 255
    elif kind == "full":
        m[:] = 255
    return m


def write_inputs(case: dict, folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(case["sampler_seed"])
    w, h = case["size"]
    yy, xx = np.mgrid[:h, :w]
    edit = np.stack([(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)), rng.integers(0, 256, (h, w))], -1)
    rw, rh = case["reference"]
    ref = rng.integers(0, 256, (rh, rw, 4 if case["reference_alpha"] else 3), dtype=np.uint8)
    paths = {"edit_image": folder / "edit.png", "mask": folder / "mask.png", "reference": folder / "ref.png"}
    Image.fromarray(edit.astype(np.uint8)).save(paths["edit_image"])
    Image.fromarray(make_mask(case)).save(paths["mask"])
    Image.fromarray(ref).save(paths["reference"])
    return paths


def beyond_reach(mask, reach: int):
    """Pixels whose chessboard distance to every mask pixel (> 0) is above ``reach``: the stitcher must copy
    them from the original (the blend mask grows and feathers by at most ``reach`` in that distance)."""
    import numpy as np

    near = mask > 0
    for _ in range(reach):  # one chessboard step a time: a 3x3 dilation
        padded = np.pad(near, 1)
        near = np.logical_or.reduce([padded[dy:dy + near.shape[0], dx:dx + near.shape[1]]
                                     for dy in range(3) for dx in range(3)])
    return ~near


def named_fix(message: str) -> dict[str, object] | None:
    """{"node.widget": value, ...} of the fix the message names (lcu/fixes.py's "set a to 1 and b to 2"), as
    typed; None when it names no widget value (a range to choose from, or another kind of fix)."""
    named = {name: value for name, value in named_settings(message).items() if name in WIDGETS}
    if not named or any(value.startswith("a ") for value in named.values()):
        return None
    typed = {"true": True, "false": False}
    return {f"{WIDGETS[name]}.{name}": typed[value] if value in typed else float(value) if "." in value else int(value)
            for name, value in named.items()}


def run_case(server: str, case: dict, files: dict[str, Path], out: Path, sets: dict, size: tuple[int, int]):
    values = {"steps": 1}
    workflow = catalog.load(case["workflow"])
    if "width" in workflow.params:
        values.update(width=size[0], height=size[1])
    return run_workflow(server, case["workflow"], files, out, seed=case["sampler_seed"],
                        set=tuple(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sets.items()),
                        **values)


def check_output(case: dict, files: dict[str, Path], saved: list[Path], sets: dict, size: tuple[int, int]) -> None:
    import numpy as np
    from PIL import Image

    assert len(saved) == 1, describe(case)
    result = np.asarray(Image.open(saved[0]).convert("RGB"))
    w, h = size
    assert result.shape == (h, w, 3), f"output {result.shape[1]}x{result.shape[0]}, wanted {w}x{h}: {describe(case)}"
    if case["workflow"] not in EDITS:
        return
    original = np.asarray(Image.open(files["edit_image"]).convert("RGB"))
    mask = np.asarray(Image.open(files["mask"]))
    if not (mask >= 128).any():
        return  # nothing at or above 0.5: "no mask", the whole image is the change (lcu/masks.py)
    keep = beyond_reach(mask, max(0, sets.get("15.grow", 0)) + sets.get("15.feather", 0))
    changed = (result != original).any(-1) & keep
    assert not changed.any(), (f"{int(changed.sum())} pixel(s) beyond the blend mask changed, first at "
                               f"{tuple(int(v) for v in np.argwhere(changed)[0])} (y, x): {describe(case)}")


def assert_alive(server: str, case: dict) -> None:
    with BlockingSession(server) as session:
        try:
            session.check(timeout=30)
        except ClientError as e:
            pytest.fail(f"the server stopped answering after {describe(case)}: {e}")


@pytest.fixture(scope="module")
def server(live_server) -> str:
    return live_server.base_url


# Grouped by workflow: consecutive runs share the loaded model and LoRA.
ALL_CASES = sorted((draw_case(i) for i in range(CASES)), key=lambda c: (EDITS + GENERATIONS).index(c["workflow"]))
OUTCOMES: list[str] = []


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: f"case{c['index']:02d}-{c['workflow']}-{c['mask']}")
def test_random_case(server, case, tmp_path):
    files = write_inputs(case, tmp_path)
    sets, size = dict(case["set"]), case["size"]
    try:
        _, saved = run_case(server, case, files, tmp_path / "out", sets, size)
    except ClientError as err:
        message = str(err)
        assert "[ACE++]" in message, f"a failure without an [ACE++] message ({message}): {describe(case)}"
        assert_alive(server, case)
        fix = named_fix(message.split("[ACE++]", 1)[1])
        if fix is None:
            OUTCOMES.append(f"case{case['index']:02d}: [ACE++] error, no widget fix to apply")
            print(f"\n[random] {describe(case)}\n  -> {message.strip()[:400]}")
            return
        # A generation's width and height are the client's --width/--height (the size asked for).
        size = (fix.pop("11.width", size[0]), fix.pop("11.height", size[1])) if case["workflow"] in GENERATIONS \
            else size
        sets.update(fix)
        try:
            _, saved = run_case(server, case, files, tmp_path / "out_fixed", sets, size)
        except ClientError as again:
            pytest.fail(f"the fix the message named ({fix}) did not work: first {message.strip()[:300]}\n"
                        f"then {str(again).strip()[:300]}\n{describe(case)}")
        check_output(case, files, saved, sets, size)
        OUTCOMES.append(f"case{case['index']:02d}: [ACE++] error, named fix {fix} applied, then success")
        return
    check_output(case, files, saved, sets, size)
    OUTCOMES.append(f"case{case['index']:02d}: success")


def test_random_cases_summary():
    """Runs last (file order): how the drawn cases ended, for the log."""
    if OUTCOMES:
        print(f"\n[random] ACEPP_RANDOM_SEED={SEED}: {len(OUTCOMES)} case(s): "
              f"{sum(o.endswith('success') for o in OUTCOMES)} succeeded (with a named fix: "
              f"{sum('fix' in o and o.endswith('success') for o in OUTCOMES)}), "
              f"{sum(o.endswith('apply') for o in OUTCOMES)} clean [ACE++] errors")
