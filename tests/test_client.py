"""tools/acepp_client.py as a user runs it (a subprocess): a real run against the live ComfyUI, batches,
and one clear message + documented exit code for each kind of bad input. A small fake server covers
what a real one will not do on request (malicious output names, no websocket)."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import acepp_client as client  # noqa: E402
from comfy_process import free_port  # noqa: E402
from test_workflows import _images  # noqa: E402
from workflow_specs import WORKFLOWS  # noqa: E402

CLIENT = ROOT / "tools" / "acepp_client.py"


@pytest.fixture(scope="session")
def server(live_server) -> str:
    """The harness's session-wide live ComfyUI (the same one test_workflows.py uses)."""
    return live_server.base_url


@pytest.fixture
def images(tmp_path):
    return _images(tmp_path)


def run_client(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, str(CLIENT), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------------


def test_list_names_every_workflow_and_its_inputs():
    proc = run_client("list")
    assert proc.returncode == 0, proc.stderr
    for wid, spec in WORKFLOWS.items():
        assert f"{wid}:" in proc.stdout
    block = proc.stdout.split("face_swap:")[1].split("\n\n")[0]
    assert "--input reference=FILE" in block and "--input edit_image=FILE" in block and "--input mask=FILE" in block
    assert "--input edit_image" not in proc.stdout.split("portrait_generation:")[1].split("\n")[2]


def test_help_documents_the_exit_codes():
    proc = run_client("run", "--help")
    assert proc.returncode == 0
    for code in range(2, 12):
        assert f"\n  {code} " in proc.stdout


def test_run_batch_of_seeds_writes_only_under_out(server, images, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = files_under(tmp_path)
    out = tmp_path / "results"
    proc = run_client("run", "portrait_generation", "--server", server, "--input", f"reference={images['reference']}",
                      "--prompt", "Maintain the facial features, a test portrait", "--seed", 11, "--seed", 12,
                      "--steps", 2, "--width", 64, "--height", 48, "--out", out, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    saved = sorted(out.rglob("*.png"))
    assert len(saved) == 2
    assert "DualCLIPLoader replaced by CLIPLoader" in proc.stderr
    for path in saved:
        assert str(path) in proc.stdout
        from PIL import Image

        with Image.open(path) as im:
            assert im.size == (64, 48)
    assert files_under(tmp_path) - before == set(saved)  # nothing outside --out


def test_run_input_set_and_set_override(server, images, tmp_path):
    input_set = tmp_path / "job_a.json"
    input_set.write_text(json.dumps({"edit_image": images["edit_image"].name, "mask": images["mask"].name,
                                     "prompt": "{image} a small red hat", "seed": 5}))
    out = tmp_path / "out"
    proc = run_client("run", "local_editing", "--server", server, "--input-set", input_set,
                      "--set", "KSampler.steps=2", "--set", "ACE++ Stitch Result (full size).feather=0", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "local_editing_job_a_seed5" in proc.stdout
    (saved,) = out.rglob("*.png")
    from PIL import Image

    with Image.open(saved) as im, Image.open(images["edit_image"]) as edit:
        assert im.size == edit.size


# ---------------------------------------------------------------------------------------------------
# Bad input: a clear message and its own exit code


def test_unknown_workflow(tmp_path):
    proc = run_client("run", "no_such_flow", "--server", "http://127.0.0.1:9", "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_WORKFLOW
    assert "unknown workflow 'no_such_flow'" in proc.stderr and "face_swap" in proc.stderr


def test_input_the_workflow_does_not_have(images, tmp_path):
    proc = run_client("run", "portrait_generation", "--server", "http://127.0.0.1:9",
                      "--input", f"reference={images['reference']}", "--input", f"edit_image={images['edit_image']}",
                      "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_INPUT
    assert "has no input 'edit_image'" in proc.stderr and "reference" in proc.stderr


def test_parameter_the_workflow_does_not_have(images, tmp_path):
    proc = run_client("run", "face_swap", "--server", "http://127.0.0.1:9",
                      "--input", f"reference={images['reference']}",
                      "--input", f"edit_image={images['edit_image']}", "--width", 64, "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_INPUT and "takes no width" in proc.stderr


def test_missing_required_input(tmp_path):
    proc = run_client("run", "try_on", "--server", "http://127.0.0.1:9", "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_INPUT
    assert "--input reference=FILE" in proc.stderr and "--input edit_image=FILE" in proc.stderr


def test_set_unknown_node_or_input(images, tmp_path):
    base = ["run", "portrait_generation", "--server", "http://127.0.0.1:9", "--input",
            f"reference={images['reference']}", "--out", tmp_path / "o"]
    proc = run_client(*base, "--set", "NoSuchNode.steps=3")
    assert proc.returncode == client.EXIT_INPUT and "no node 'NoSuchNode'" in proc.stderr
    proc = run_client(*base, "--set", "13.nonsense=3")
    assert proc.returncode == client.EXIT_INPUT and "has no input 'nonsense'" in proc.stderr


def test_missing_image_file(tmp_path):
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9",
                      "--input", f"reference={tmp_path / 'nope.png'}", "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_IMAGE and "file not found" in proc.stderr and "nope.png" in proc.stderr


def test_unreadable_image_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("this is not a picture")
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9", "--input", f"reference={bad}",
                      "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_IMAGE and "cannot read" in proc.stderr and "bad.png" in proc.stderr


def test_mask_of_another_aspect_ratio(images, tmp_path):
    from PIL import Image

    mask = tmp_path / "square_mask.png"
    Image.new("L", (64, 64), 255).save(mask)
    proc = run_client("run", "local_editing", "--server", "http://127.0.0.1:9",
                      "--input", f"edit_image={images['edit_image']}", "--input", f"mask={mask}",
                      "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_IMAGE and "aspect ratio" in proc.stderr


def test_unreachable_server(images, tmp_path):
    proc = run_client("run", "subject_generation", "--server", f"http://127.0.0.1:{free_port()}",
                      "--input", f"reference={images['reference']}", "--out", tmp_path / "o", timeout=60)
    assert proc.returncode == client.EXIT_SERVER and "cannot reach the ComfyUI server" in proc.stderr


def test_embedded_without_models_folder(images, tmp_path):
    proc = run_client("run", "subject_generation", "--embedded", "--models", tmp_path / "no_models",
                      "--input", f"reference={images['reference']}", "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_USAGE and "does not exist" in proc.stderr


def test_server_validation_error_prints_node_errors(server, images, tmp_path):
    proc = run_client("run", "subject_generation", "--server", server, "--input", f"reference={images['reference']}",
                      "--set", "13.sampler_name=no_such_sampler", "--steps", 2, "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_REJECTED, proc.stderr
    assert "rejected" in proc.stderr and "node 13 (KSampler)" in proc.stderr and "no_such_sampler" in proc.stderr
    assert not list((tmp_path / "o").rglob("*.png"))


def test_execution_error(server, images, tmp_path):
    # vertical 'file' with no LoRA file chosen passes validation and fails when the LoRA loader runs.
    proc = run_client("run", "subject_generation", "--server", server, "--input", f"reference={images['reference']}",
                      "--set", "2.vertical=file", "--steps", 2, "--seed", 3, "--width", 64, "--height", 48,
                      "--out", tmp_path / "o")
    assert proc.returncode == client.EXIT_EXECUTION, proc.stdout + proc.stderr
    assert "execution error in node 2 (ACEPP_LoraLoader)" in proc.stderr


def _queue_running(server: str) -> bool:
    with urllib.request.urlopen(server + "/queue") as resp:
        return bool(json.loads(resp.read())["queue_running"])


def test_interrupted_run(server, images, tmp_path):
    args = ["run", "subject_generation", "--server", server, "--input", f"reference={images['reference']}",
            "--steps", 500, "--seed", int(time.time()) % 100000, "--width", 64, "--height", 48,
            "--out", tmp_path / "o"]
    proc = subprocess.Popen([sys.executable, str(CLIENT), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _queue_running(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        urllib.request.urlopen(urllib.request.Request(server + "/interrupt", data=b"{}", method="POST"))
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == client.EXIT_INTERRUPTED, stdout + stderr
    assert "interrupted" in stderr


# ---------------------------------------------------------------------------------------------------
# A fake ComfyUI for what a real one will not do on request


class FakeComfy:
    def __init__(self, filename: str, subfolder: str = "", websocket: bool = True):
        from aiohttp import web

        self.filename, self.subfolder, self.websocket = filename, subfolder, websocket
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sockets = []
        self.history: dict = {}
        async def reply(payload, request):
            return web.json_response(payload)

        async def view(request):
            return web.Response(body=b"\x89PNG fake")

        app = web.Application()
        app.router.add_get("/system_stats", functools.partial(reply, {"system": {}}))
        app.router.add_get("/object_info/DualCLIPLoader", functools.partial(reply, {}))
        app.router.add_post("/upload/image", self.upload)
        app.router.add_post("/prompt", self.prompt)
        app.router.add_get("/history/{pid}", self.get_history)
        app.router.add_get("/view", view)
        if websocket:
            app.router.add_get("/ws", self.ws)
        self.app = app
        self.loop = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        import asyncio

        from aiohttp import web

        self.loop = asyncio.new_event_loop()
        runner = web.AppRunner(self.app)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.runner = runner
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self):
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        async def shutdown():
            for ws in list(self.sockets):
                await ws.close()
            await self.runner.cleanup()

        import asyncio

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def upload(self, request):
        from aiohttp import web

        post = await request.post()
        return web.json_response({"name": post["image"].filename, "subfolder": post.get("subfolder", ""),
                                  "type": "input"})

    async def prompt(self, request):
        import asyncio

        from aiohttp import web

        pid = str(uuid.uuid4())
        self.history[pid] = {"outputs": {"16": {"images": [{"filename": self.filename, "subfolder": self.subfolder,
                                                            "type": "output"}]}},
                             "status": {"status_str": "success", "completed": True, "messages": []}}

        async def finish():
            await asyncio.sleep(0.2)
            for ws in list(self.sockets):
                await ws.send_json({"type": "executing", "data": {"node": None, "prompt_id": pid}})

        asyncio.ensure_future(finish())
        return web.json_response({"prompt_id": pid, "number": 1, "node_errors": {}})

    async def get_history(self, request):
        from aiohttp import web

        pid = request.match_info["pid"]
        return web.json_response({pid: self.history[pid]} if pid in self.history else {})

    async def ws(self, request):
        from aiohttp import web

        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for _ in ws:
            pass
        return ws


@pytest.mark.parametrize("filename,subfolder", [("../../escaped.png", ""), ("ok.png", "../.."),
                                                ("ok.png", "/tmp"), ("..", ""), ("a\\..\\..\\b.png", "")])
def test_output_path_escaping_out_is_refused(images, tmp_path, filename, subfolder):
    work = tmp_path / "work"
    out = work / "out"
    work.mkdir()
    with FakeComfy(filename, subfolder) as fake:
        proc = run_client("run", "subject_generation", "--server", fake.url, "--input",
                          f"reference={images['reference']}", "--out", out, cwd=work, timeout=60)
    assert proc.returncode == client.EXIT_UNSAFE_PATH, proc.stdout + proc.stderr
    assert "nothing written" in proc.stderr or "outside" in proc.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".png" and "ref" not in p.name
                and p.name not in ("edit.png", "mask.png")]


def test_polls_history_when_the_websocket_fails(images, tmp_path):
    with FakeComfy("ACE_result_00001_.png", "ACE++", websocket=False) as fake:
        proc = run_client("run", "subject_generation", "--server", fake.url, "--input",
                          f"reference={images['reference']}", "--out", tmp_path / "out", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "polling /history" in proc.stderr
    assert (tmp_path / "out" / "ACE++" / "ACE_result_00001_.png").read_bytes() == b"\x89PNG fake"


def test_mask_becomes_the_alpha_of_the_edit_image(images, tmp_path):
    """How the client hands a mask to the unchanged graph: alpha = 255 - mask (LoadImage: MASK = 1 - alpha)."""
    import io

    import numpy as np
    from PIL import Image

    spec = WORKFLOWS["subject_editing"]
    files = {"reference": images["reference"], "edit_image": images["edit_image"], "mask": images["mask"]}
    prepared = client.prepare_images(spec, files)
    assert set(prepared) == {"reference", "edit_image"}
    edit = Image.open(io.BytesIO(prepared["edit_image"]))
    assert edit.mode == "RGBA"
    mask = np.asarray(Image.open(images["mask"]))
    assert (np.asarray(edit)[..., 3] == 255 - mask).all()
    assert (np.asarray(edit)[..., :3] == np.asarray(Image.open(images["edit_image"]).convert("RGB"))).all()
    # A half-size mask of the same aspect ratio is scaled up; an RGBA edit image without a mask keeps its alpha.
    small = tmp_path / "small_mask.png"
    Image.fromarray(mask[::2, ::2]).save(small)
    scaled = Image.open(io.BytesIO(client.prepare_images(spec, {**files, "mask": small})["edit_image"]))
    assert scaled.size == edit.size
    own = tmp_path / "own_alpha.png"
    edit.save(own)
    kept = Image.open(io.BytesIO(client.prepare_images(spec, {"reference": images["reference"],
                                                              "edit_image": own})["edit_image"]))
    assert (np.asarray(kept) == np.asarray(edit)).all()
