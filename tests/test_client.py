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
import urllib.request
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import pack_dir  # noqa: E402
from test_workflows import _images  # noqa: E402
from workflow_specs import WORKFLOWS  # noqa: E402

from client import catalog, errors as client  # noqa: E402  (client.EXIT_*: the documented exit codes)
from client.images import prepare_images  # noqa: E402
from client.process import free_port  # noqa: E402

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
        assert f"{wid}: {spec['title']}  (in ComfyUI: {spec['card']}.json)" in proc.stdout
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
    with pytest.raises(OSError):  # stopped afterwards
        urllib.request.urlopen(f"http://127.0.0.1:{port}/system_stats", timeout=5)


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
        app.router.add_get("/queue", functools.partial(reply, {"queue_running": [], "queue_pending": []}))
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
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import pkgutil, importlib, client; "
            "[importlib.import_module('client.' + m.name) for m in pkgutil.iter_modules(client.__path__) "
            "if m.name != '__main__']; "
            "print(sorted({n.split('.')[0] for n in sys.modules} - set(sys.stdlib_module_names) - {'client', '__main__'}))")
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(CLIENT.parent)], capture_output=True, text=True)
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
