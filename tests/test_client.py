"""The headless client as a user runs it: `python <installed pack folder>/client ...` (a subprocess, from the
copy of the pack the suite installed from the packed archive), against the live ComfyUI: runs, batches, a
batch spread over two servers one of which dies, resuming, and one clear message + documented exit code for
each kind of bad input. A small fake server covers what a real one will not do on request (malicious output
names, no websocket)."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from aceplusplus.client import catalog, errors as client  # client.EXIT_*: the documented exit codes
from aceplusplus.client.images import prepare_images
from aceplusplus.client.errors import ClientError
from aceplusplus.client.process import free_port
from aceplusplus.client.session import BlockingSession
from aceplusplus.tools.workflow_specs import WORKFLOWS
from harness import pack_dir
from test_workflows import _images

CLIENT = pack_dir() / "client"  # the installed copy when the suite runs on the packed archive


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
        assert f"{wid}: {spec.title}  (in ComfyUI: {spec.card}.json)" in proc.stdout
    # The command a user of this very install has: this Python and this folder, whatever it is called.
    assert f"Run one: {Path(sys.executable).name} {CLIENT} run WORKFLOW" in proc.stdout
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
    assert saved == [out / "portrait_generation_seed11.png", out / "portrait_generation_seed12.png"]
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
    assert saved == out / "local_editing_job_a_seed5.png"
    from PIL import Image

    with Image.open(saved) as im, Image.open(images["edit_image"]) as edit:
        assert im.size == edit.size


def test_run_multi_region_editing_with_a_three_area_mask(server, tmp_path):
    """The command of the multi-region workflow's Note: three areas of one photo, one job, one sampling."""
    import numpy as np
    from PIL import Image

    files = _images(tmp_path, regions=True)
    out = tmp_path / "out"
    proc = run_client("run", "multi_region_editing", "--server", server, "--input", f"edit_image={files['edit_image']}",
                      "--input", f"mask={files['mask']}", "--input", f"reference={files['reference']}",
                      "--steps", 1, "--seed", 31, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (saved,) = out.rglob("*.png")
    assert saved == out / "multi_region_editing_seed31.png"
    assert proc.stdout.count("KSampler 1/1") == 1, proc.stdout  # the three regions in one sampling
    with Image.open(saved) as im, Image.open(files["edit_image"]) as edit, Image.open(files["mask"]) as mask:
        result, original = np.asarray(im.convert("RGB")), np.asarray(edit.convert("RGB"))
        keep = np.asarray(mask) < 128
    assert result.shape == original.shape
    assert (result[keep] == original[keep]).all() and (result[~keep] != original[~keep]).any()


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


def test_embedded_run_starts_and_stops_its_own_comfyui(fixtures_dir, comfy_root, images, tmp_path):
    out = tmp_path / "o"
    proc = run_client("run", "subject_generation", "--embedded", "--cpu", "--comfyui", comfy_root,
                      "--models", fixtures_dir, "--input", f"reference={images['reference']}", "--steps", 1,
                      "--width", 32, "--height", 32, "--seed", 4, "--out", out, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"starting ComfyUI from {comfy_root}" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["subject_generation_seed4.png"]
    port = proc.stdout.split(" on http://127.0.0.1:")[1].split()[0]
    with BlockingSession(f"http://127.0.0.1:{port}") as session, pytest.raises(ClientError):  # stopped afterwards
        session.check(timeout=5)


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


def _queue_running(session: BlockingSession) -> bool:
    return bool(session.get_json("/queue")["queue_running"])


def test_interrupted_run(server, images, tmp_path):
    args = ["run", "subject_generation", "--server", server, "--input", f"reference={images['reference']}",
            "--steps", 500, "--seed", int(time.time()) % 100000, "--width", 64, "--height", 48,
            "--out", tmp_path / "o"]
    proc = subprocess.Popen([sys.executable, str(CLIENT), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        with BlockingSession(server) as session:
            deadline = time.monotonic() + 120
            while not _queue_running(session) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)
            session.interrupt()
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == client.EXIT_INTERRUPTED, stdout + stderr
    assert "interrupted" in stderr


# ---------------------------------------------------------------------------------------------------
# A fake ComfyUI for what a real one will not do on request


class FakeComfy:
    """``answers``: {(METHOD, path): raw body} served instead of the proper answer (a misbehaving server)."""

    def __init__(self, filename: str, subfolder: str = "", websocket: bool = True, answers: dict | None = None):
        from aiohttp import web

        self.filename, self.subfolder, self.websocket = filename, subfolder, websocket
        self.answers = answers or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sockets = []
        self.history: dict = {}
        async def reply(payload, request):
            return web.json_response(payload)

        async def view(request):
            return web.Response(body=b"\x89PNG fake")

        async def canned(body, request):
            if request.method == "POST":
                await request.read()
            return web.Response(body=body, content_type="application/json")

        app = web.Application()

        def add(method, path, handler):
            if (method, path) in self.answers:
                handler = functools.partial(canned, self.answers[(method, path)])
            app.router.add_route(method, path, handler)

        add("GET", "/system_stats", functools.partial(reply, {"system": {}}))
        add("GET", "/object_info/DualCLIPLoader", functools.partial(reply, {}))
        add("GET", "/queue", functools.partial(reply, {"queue_running": [], "queue_pending": []}))
        add("POST", "/upload/image", self.upload)
        add("POST", "/prompt", self.prompt)
        add("GET", "/history/{pid}", self.get_history)
        add("GET", "/view", view)
        if websocket:
            add("GET", "/ws", self.ws)
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
    assert (tmp_path / "out" / "subject_generation_seed20250421.png").read_bytes() == b"\x89PNG fake"


def test_mask_becomes_the_alpha_of_the_edit_image(images, tmp_path):
    """How the client hands a mask to the unchanged graph: alpha = 255 - mask (LoadImage: MASK = 1 - alpha)."""
    import io

    import numpy as np
    from PIL import Image

    spec = catalog.load("subject_editing")
    files = {"reference": images["reference"], "edit_image": images["edit_image"], "mask": images["mask"]}
    prepared = prepare_images(spec, files)
    assert set(prepared) == {"reference", "edit_image"}
    edit = Image.open(io.BytesIO(prepared["edit_image"]))
    assert edit.mode == "RGBA"
    mask = np.asarray(Image.open(images["mask"]))
    assert (np.asarray(edit)[..., 3] == 255 - mask).all()
    assert (np.asarray(edit)[..., :3] == np.asarray(Image.open(images["edit_image"]).convert("RGB"))).all()
    # A half-size mask of the same aspect ratio is scaled up; an RGBA edit image without a mask keeps its alpha.
    small = tmp_path / "small_mask.png"
    Image.fromarray(mask[::2, ::2]).save(small)
    scaled = Image.open(io.BytesIO(prepare_images(spec, {**files, "mask": small})["edit_image"]))
    assert scaled.size == edit.size
    own = tmp_path / "own_alpha.png"
    edit.save(own)
    kept = Image.open(io.BytesIO(prepare_images(spec, {"reference": images["reference"],
                                                              "edit_image": own})["edit_image"]))
    assert (np.asarray(kept) == np.asarray(edit)).all()


# ---------------------------------------------------------------------------------------------------
# Importing nothing of ComfyUI, and more than one server


def test_client_imports_only_the_standard_library():
    """Importing every module of the client pulls in no third-party package (aiohttp and Pillow are imported
    only when a run needs them, and both ship with ComfyUI): it runs with ComfyUI's Python as it is."""
    code = ("import sys, pkgutil, importlib, client; "
            "[importlib.import_module('client.' + m.name) for m in pkgutil.iter_modules(client.__path__) "
            "if m.name != '__main__']; "
            "print(sorted({n.split('.')[0] for n in sys.modules} - set(sys.stdlib_module_names) - {'client', '__main__'}))")
    # `-c` puts the working folder (the installed pack) first on the path, as `python -m client` there does.
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=CLIENT.parent,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_dead_server_in_the_list_is_named_and_the_batch_completes(server, images, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    out = tmp_path / "out"
    proc = run_client("run", "subject_generation", "--server", dead, "--server", server, "--input",
                      f"reference={images['reference']}", "--seed", 31, "--seed", 32, "--steps", 1,
                      "--width", 32, "--height", 32, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"server {dead} failed at start" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["subject_generation_seed31.png", "subject_generation_seed32.png"]


@pytest.fixture
def second_server(fixtures_dir, tmp_path):
    """Another live ComfyUI with the same pack and models, which a test may kill."""
    from harness import make_base
    from harness.server import ComfyServer

    layout = make_base(tmp_path / "second_base", fixtures_dir)
    extra = ComfyServer(layout, tmp_path / "second_server.log").start()
    yield extra
    extra.stop()


BATCH = 100


def test_batch_of_100_over_two_servers_survives_losing_one_and_resumes(server, second_server, images, tmp_path):
    sets = tmp_path / "sets"
    sets.mkdir()
    for i in range(BATCH):
        (sets / f"job{i:03d}.json").write_text(json.dumps({"reference": str(images["reference"]), "seed": 1000 + i}))
    out = tmp_path / "out"
    args = ["run", "subject_generation", "--server", server, "--server", second_server.base_url, "--steps", 1,
            "--width", 32, "--height", 32, "--quiet", "--out", out,
            *[a for path in sorted(sets.iterdir()) for a in ("--input-set", path)]]
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(CLIENT), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    killed_after = None
    try:
        while proc.poll() is None and time.monotonic() - start < 900:
            done = len(list(out.glob("*.png"))) if out.is_dir() else 0
            if killed_after is None and done >= BATCH // 4:
                os.kill(second_server.pid, 9)  # the second server dies mid-batch
                killed_after = done
            time.sleep(0.2)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    seconds = time.monotonic() - start
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert killed_after is not None and killed_after < BATCH
    assert f"server {second_server.base_url} failed" in stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"subject_generation_job{i:03d}_seed{1000 + i}.png" for i in range(BATCH))
    saved = [line for line in stdout.splitlines() if " saved " in line]
    assert len(saved) == BATCH == len({line.split(" saved ")[1] for line in saved})  # each output written once
    queued_on = {line.rsplit(" on ", 1)[1] for line in stdout.splitlines() if " queued as " in line}
    assert queued_on == {server, second_server.base_url}  # both servers took jobs before one died
    print(f"\n[batch] {BATCH} jobs over 2 servers, one killed after {killed_after} outputs: {seconds:.1f} s")

    # A rerun of the same batch with --skip-existing finds every job done and queues nothing.
    (out / names[0]).unlink()
    proc = run_client(*[str(a) for a in args[:args.index("--server") + 2]], *map(str, args[args.index("--steps"):]),
                      "--skip-existing")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{BATCH - 1} job(s) already written, skipped" in proc.stdout
    assert proc.stdout.count(" queued as ") == 1 and (out / names[0]).is_file()


# ---------------------------------------------------------------------------------------------------
# Hostile and unusual input: each failure with its documented code and a message, never a traceback


def assert_clean_failure(proc, code: int, *phrases: str) -> None:
    assert proc.returncode == code, f"exit {proc.returncode} (wanted {code}):\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert "[ACE++ client] error: " in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr)


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A valid-looking PNG header that declares width x height pixels with next to no data: a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000], ids=["above_the_limit_warning", "twice_the_limit_error"])
def test_decompression_bomb_png_is_an_image_error(tmp_path, side):
    from PIL import Image

    bomb = _png_declaring(tmp_path / "bomb.png", side, side)
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9", "--input", f"reference={bomb}",
                      "--out", tmp_path / "o")
    assert_clean_failure(proc, client.EXIT_IMAGE, "bomb.png", f"{Image.MAX_IMAGE_PIXELS:,} pixels",
                         f"{side}x{side}", "Scale the image down")


def test_out_naming_an_existing_file(images, tmp_path):
    taken = tmp_path / "results.png"
    taken.write_bytes(b"mine")
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9",
                      "--input", f"reference={images['reference']}", "--out", taken)
    assert_clean_failure(proc, client.EXIT_USAGE, "is a file, not a folder", "give a folder")
    assert taken.read_bytes() == b"mine"
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9",
                      "--input", f"reference={images['reference']}", "--out", taken / "sub")
    assert_clean_failure(proc, client.EXIT_USAGE, "cannot create the folder")


@pytest.mark.parametrize("content,phrase", [
    ({"seed": "abc"}, 'seed "abc" is not an integer'),
    ({"seed": 1.5}, "seed 1.5 is not an integer"),
    ({"seed": True}, "seed true is not an integer"),
    ({"steps": "2"}, 'steps "2" is not an integer'),
    ({"prompt": ["a", "b"]}, "prompt"),
    ({"reference": ["ref.png"]}, '"reference" must be an image file name'),
    ({"reference": None}, '"reference" must be an image file name'),
    ("[1, 2]", "not a JSON object"),
    ("{'single': 'quotes'}", "JSONDecodeError"),
    ("[" * 100_000 + "]" * 100_000, "RecursionError"),
    (b'{"prompt": "caf\xe9"}', "save it as UTF-8"),
], ids=["seed_text", "seed_float", "seed_bool", "steps_text", "prompt_list", "image_list", "image_null",
        "not_object", "not_json", "too_deep", "not_utf8"])
def test_malformed_input_set(images, tmp_path, content, phrase):
    path = tmp_path / "set.json"
    if isinstance(content, dict):
        path.write_text(json.dumps({"reference": str(images["reference"]), **content}))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9", "--input-set", path,
                      "--out", tmp_path / "o")
    assert_clean_failure(proc, client.EXIT_INPUT, phrase)


@pytest.mark.parametrize("url", ["localhost:8188", "ftp://127.0.0.1:8188", "http://127.0.0.1:99999", "http://"])
def test_server_that_is_not_an_http_address(images, tmp_path, url):
    proc = run_client("run", "subject_generation", "--server", url, "--input", f"reference={images['reference']}",
                      "--out", tmp_path / "o")
    assert_clean_failure(proc, client.EXIT_USAGE, "--server", "http://127.0.0.1:8188")


def test_set_on_a_missing_node_or_a_link(images, tmp_path):
    base = ["run", "subject_generation", "--server", "http://127.0.0.1:9", "--input",
            f"reference={images['reference']}", "--out", tmp_path / "o"]
    assert_clean_failure(run_client(*base, "--set", "99.steps=3"), client.EXIT_INPUT, "no node '99'")
    assert_clean_failure(run_client(*base, "--set", "CLIPTextEncode.text=x"), client.EXIT_INPUT, "several")
    assert_clean_failure(run_client(*base, "--set", "13.model=x"), client.EXIT_INPUT, "is a link")
    assert_clean_failure(run_client(*base, "--set", "steps=3"), client.EXIT_USAGE, "NODE.INPUT=VALUE")


def test_gguf_option_swaps_the_model_loader_and_refuses_other_files(images, tmp_path):
    """--gguf loads the workflow's model with ComfyUI-GGUF's loader (its runs: tests/test_model_form_workflows.py)."""
    from aceplusplus.client import jobs

    for wid in ("local_editing", "fft_editing"):
        files = {"edit_image": images["edit_image"], "mask": images["mask"]}
        (job,) = jobs.build_jobs(catalog.load(wid), files=files, values={}, seeds=[1], sets=[], overrides={},
                                 gguf="flux1-fill-dev-Q4_K_S.gguf")
        graph = json.loads(job.graph_json)
        assert graph["1"]["class_type"] == "UnetLoaderGGUF"
        assert graph["1"]["inputs"] == {"unet_name": "flux1-fill-dev-Q4_K_S.gguf"}
    base = ["run", "subject_generation", "--server", "http://127.0.0.1:9", "--input",
            f"reference={images['reference']}", "--out", tmp_path / "o"]
    assert_clean_failure(run_client(*base, "--gguf", "flux1-fill-dev.safetensors"), client.EXIT_USAGE,
                         "not a .gguf file")


def test_non_utf8_file_names(images, tmp_path):
    """File names that are not valid UTF-8 (POSIX allows any bytes) are named in the messages, not a crash."""
    if sys.platform == "win32":
        pytest.skip("POSIX file names")
    name = os.fsdecode(b"ref\xff.png")
    (tmp_path / name).write_bytes(images["reference"].read_bytes())
    proc = run_client("run", "subject_generation", "--server", f"http://127.0.0.1:{free_port()}",
                      "--input", f"reference={tmp_path / name}", "--out", tmp_path / os.fsdecode(b"out\xfe"),
                      timeout=60)
    assert_clean_failure(proc, client.EXIT_SERVER, "cannot reach")


def test_plain_name_guard():
    from aceplusplus.client.jobs import plain_name

    for name in ("ACE_result_00001_.png", "my result_00001_.png", "Résultat final", "結果 01", "مرحبا",
                 "می\u200cخواهم", "\U0001F469\u200d\U0001F4BB art", "ACE++", "a\u00a0b", "name.with.dots"):
        assert plain_name(name), repr(name)
    for name in ("result.png\n", "result\r", "a\nb", "\x00", "a\tb", " lead", "trail ", "\u00a0a", ".", "..",
                 "", "a/b", "a\\b", "a\u2028b", "\u202egnp.exe", "a\u2066b", "\ud800"):
        assert not plain_name(name), repr(name)


@pytest.mark.parametrize("filename,subfolder,code", [
    ("ACE_result_00001_.png\n", "", client.EXIT_UNSAFE_PATH),
    ("ok.png", "ACE++\n", client.EXIT_UNSAFE_PATH),
    ("Résultat final_00001_.png", "ACE++ 結果", client.EXIT_OK),
], ids=["newline_file", "newline_folder", "unicode_and_spaces"])
def test_server_output_names(images, tmp_path, filename, subfolder, code):
    with FakeComfy(filename, subfolder) as fake:
        proc = run_client("run", "subject_generation", "--server", fake.url, "--input",
                          f"reference={images['reference']}", "--out", tmp_path / "out", timeout=60)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ([] if code else ["subject_generation_seed20250421.png"])


@pytest.mark.parametrize("answers", [
    {("GET", "/system_stats"): b"<html>not json</html>"},
    {("GET", "/system_stats"): b"[1, 2, 3]"},
    {("GET", "/queue"): b'{"queue_running": 5, "queue_pending": []}'},
    {("GET", "/queue"): b"\xff\xfe garbage"},
    {("GET", "/object_info/DualCLIPLoader"): b'{"DualCLIPLoader": "nope"}'},
    {("POST", "/upload/image"): b"{}"},
    {("POST", "/upload/image"): b'"just a string"'},
    {("POST", "/prompt"): b"[1]"},
    {("POST", "/prompt"): b'{"prompt_id": 7}'},
    {("GET", "/history/{pid}"): b"null"},
], ids=["stats_html", "stats_list", "queue_types", "queue_bytes", "object_info", "upload_empty", "upload_string",
        "prompt_list", "prompt_id_type", "history_null"])
def test_server_answering_garbage_is_a_server_failure(images, tmp_path, answers):
    with FakeComfy("ok.png", answers=answers, websocket=False) as fake:
        proc = run_client("run", "subject_generation", "--server", fake.url, "--input",
                          f"reference={images['reference']}", "--out", tmp_path / "out", "--timeout", 20, timeout=60)
    assert_clean_failure(proc, client.EXIT_SERVER, fake.url)


def test_history_entry_of_another_shape_is_a_server_failure(images, tmp_path):
    with FakeComfy("ok.png", websocket=False) as fake:
        class Garbage(dict):
            def __contains__(self, pid):
                return True

            def __getitem__(self, pid):
                return {"status": ["not", "a", "dict"], "outputs": 5}

        fake.history = Garbage()
        proc = run_client("run", "subject_generation", "--server", fake.url, "--input",
                          f"reference={images['reference']}", "--out", tmp_path / "out", "--timeout", 20, timeout=60)
    assert_clean_failure(proc, client.EXIT_SERVER, "not ComfyUI's answer")


def test_image_input_naming_a_folder_and_a_prompt_that_is_not_utf8(images, tmp_path):
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9", "--input", f"reference={tmp_path}",
                      "--out", tmp_path / "o")
    assert_clean_failure(proc, client.EXIT_IMAGE, "is a folder")
    if sys.platform == "win32":
        return
    proc = run_client("run", "subject_generation", "--server", "http://127.0.0.1:9",
                      "--input", f"reference={images['reference']}", "--prompt", os.fsdecode(b"caf\xe9"),
                      "--out", tmp_path / "o")
    assert_clean_failure(proc, client.EXIT_INPUT, "not valid UTF-8")
