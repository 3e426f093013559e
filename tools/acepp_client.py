"""ACE++ headless client: run a bundled workflow on a ComfyUI server and download the results.

    python tools/acepp_client.py list
    python tools/acepp_client.py run WORKFLOW (--server URL | --embedded [--models DIR])
        [--input NAME=FILE ...] [--input-set SET.json ...] [--prompt TEXT] [--seed N ...] [--steps N]
        [--lora-strength X] [--width W] [--height H] [--set NODE.INPUT=VALUE ...] --out DIR

Named inputs (see `list`): `reference` and `edit_image` are image files uploaded to the server (POST
/upload/image) and put into the workflow's LoadImage nodes. `mask` is a grayscale image (white = generate)
of the edit image's size: the client writes it into the alpha channel of the edit image before upload
(alpha = 255 - mask), which is exactly how ComfyUI's LoadImage reads a painted mask, so the graph stays as
bundled. Without --input mask, an RGBA edit image's own transparent area is the mask.

Several --seed values (and/or several --input-set JSON files, each {"reference": "a.png", "prompt": "...",
"seed": 3, ...} with paths relative to the file) queue several prompts in one call. --set changes any
widget of the API graph: NODE is a node id, a class name that occurs once, or a node title
(e.g. --set KSampler.steps=4 or --set 11.width=80); VALUE is JSON when it parses, else a string.

--embedded starts this project's own ComfyUI (tools/runtime.sh) with --models DIR as its models folder
(default: the tiny random-weight fixtures, $ACEPP_CACHE/fixtures/models from tools/fixtures.py) and stops
it afterwards. Whenever the server has no T5-XXL file for the workflow's DualCLIPLoader, that node becomes
CLIPLoader(clip_l, type stable_diffusion) and the client says so: the only graph rewrite it ever makes.

Results (the SaveImage outputs) are written under --out and nowhere else; the paths are printed.

Exit codes:
  0  success
  2  bad command line (argparse), or --embedded without a models folder
  3  unknown workflow
  4  an input or parameter the workflow does not have (or a required image input is missing)
  5  an image file is missing, unreadable, or the mask does not fit the edit image
  6  the server cannot be reached (or the embedded server failed to start)
  7  the server rejected the prompt (validation errors: node_errors are printed)
  8  execution error on the server
  9  the run was interrupted (POST /interrupt, or Ctrl-C here)
  10 the server named an output file whose path would leave --out (nothing written)
  11 timed out waiting for the result
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import io
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path, PurePosixPath

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from workflow_specs import CLIP, WORKFLOWS  # noqa: E402
from comfy_process import EmbeddedComfy, ServerError, runtime_env  # noqa: E402
from workflows import WORKFLOWS_DIR  # noqa: E402

EXIT_OK, EXIT_USAGE, EXIT_WORKFLOW, EXIT_INPUT, EXIT_IMAGE, EXIT_SERVER, EXIT_REJECTED, EXIT_EXECUTION, \
    EXIT_INTERRUPTED, EXIT_UNSAFE_PATH, EXIT_TIMEOUT = 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
UPLOAD_SUBFOLDER = "acepp_client"
SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+\-()]*$")


class ClientError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def say(msg: str) -> None:
    print(msg, flush=True)


def warn(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ===================================================================================================
# Workflows and their named inputs


def get_workflow(name: str) -> tuple[dict, dict]:
    spec = WORKFLOWS.get(name)
    if spec is None:
        raise ClientError(EXIT_WORKFLOW, f"unknown workflow '{name}'; bundled: {', '.join(WORKFLOWS)}")
    path = WORKFLOWS_DIR / "api" / f"{name}.json"
    try:
        api = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ClientError(EXIT_WORKFLOW, f"cannot read the API twin {path} ({e}); run: python tools/workflows.py build")
    return spec, api


def param_names(spec: dict) -> list[str]:
    return list(spec["params"])


def describe(spec: dict) -> str:
    lines = [f"{spec['id']}: {spec['title']}", f"    {spec['description']}"]
    for name, info in spec["images"].items():
        need = "optional" if name == "mask" else "required"
        lines.append(f"    --input {name}=FILE   ({need}) {info['help']}")
    flags = {"prompt": "--prompt TEXT", "seed": "--seed N (repeat for a batch)", "steps": "--steps N",
             "lora_strength": "--lora-strength X", "width": "--width W", "height": "--height H"}
    lines.append("    parameters: " + ", ".join(flags[p] for p in spec["params"]))
    return "\n".join(lines)


def parse_assignments(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ClientError(EXIT_USAGE, f"{what} '{item}' is not NAME=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def find_node(api: dict, ref: str) -> str:
    if ref in api:
        return ref
    by_class = [nid for nid, n in api.items() if n["class_type"] == ref]
    if len(by_class) == 1:
        return by_class[0]
    by_title = [nid for nid, n in api.items() if (n.get("_meta") or {}).get("title") == ref]
    if len(by_title) == 1:
        return by_title[0]
    if len(by_class) > 1:
        raise ClientError(EXIT_INPUT, f"--set: several {ref} nodes ({', '.join(by_class)}); use the node id")
    raise ClientError(EXIT_INPUT, f"--set: no node '{ref}' in the workflow; nodes: "
                      + ", ".join(f"{nid} {n['class_type']}" for nid, n in api.items()))


def apply_set(api: dict, assignments: dict[str, str]) -> None:
    for target, text in assignments.items():
        if "." not in target:
            raise ClientError(EXIT_USAGE, f"--set '{target}={text}': write NODE.INPUT=VALUE")
        node_ref, input_name = target.rsplit(".", 1)
        nid = find_node(api, node_ref)
        node = api[nid]
        if input_name not in node["inputs"]:
            raise ClientError(EXIT_INPUT, f"--set: node {nid} ({node['class_type']}) has no input '{input_name}'; "
                              f"it has {', '.join(node['inputs'])}")
        if isinstance(node["inputs"][input_name], list):
            raise ClientError(EXIT_INPUT, f"--set: {nid}.{input_name} is a link, not a value")
        node["inputs"][input_name] = parse_value(text)


# ===================================================================================================
# Images: read, mask into alpha, encode as PNG for upload


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
    from PIL import Image

    if mask.size != edit.size:
        ew, eh = edit.size
        mw, mh = mask.size
        if abs(mw * eh - mh * ew) > max(ew, eh):  # another aspect ratio: no guessing
            raise ClientError(EXIT_IMAGE, f"mask {mask_path} is {mw}x{mh} but the edit image is {ew}x{eh} (another "
                              "aspect ratio); give a mask of the edit image's size")
        mask = mask.resize(edit.size, Image.NEAREST)
    gray = mask.convert("L")
    rgba = edit.convert("RGBA")
    rgba.putalpha(gray.point(lambda v: 255 - v))
    return rgba


def png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def prepare_images(spec: dict, files: dict[str, Path]) -> dict[str, bytes]:
    """{image input name: PNG bytes to upload}; mask folded into edit_image."""
    unknown = [n for n in files if n not in spec["images"]]
    if unknown:
        raise ClientError(EXIT_INPUT, f"workflow '{spec['id']}' has no input {', '.join(repr(n) for n in unknown)}; "
                          f"its inputs: {', '.join(spec['images']) or 'none'}")
    missing = [n for n in spec["images"] if n != "mask" and n not in files]
    if missing:
        raise ClientError(EXIT_INPUT, f"workflow '{spec['id']}' needs "
                          + " ".join(f"--input {n}=FILE" for n in missing))
    out = {}
    for name, path in files.items():
        if name == "mask":
            continue
        image = load_image(path, name)
        if name == "edit_image" and "mask" in files:
            image = with_mask(image, load_image(files["mask"], "mask"), files["mask"])
        elif image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        out[name] = png_bytes(image)
    return out


# ===================================================================================================
# One job = one prompt to queue


def build_jobs(args, spec: dict, api: dict) -> list[dict]:
    base_inputs = {k: Path(v).expanduser() for k, v in parse_assignments(args.input, "--input").items()}
    sets = [({}, Path.cwd(), "")] if not args.input_set else []
    for set_file in args.input_set or []:
        path = Path(set_file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            raise ClientError(EXIT_INPUT, f"--input-set {path}: {e}")
        sets.append((data, path.parent, path.stem))
    jobs = []
    for data, folder, label in sets:
        files = dict(base_inputs)
        params = {}
        for key, value in data.items():
            if key in spec["images"]:
                files[key] = (folder / str(value)).expanduser()
            elif key in ("prompt", "seed", "steps", "lora_strength", "width", "height"):
                params[key] = value
            else:
                raise ClientError(EXIT_INPUT, f"--input-set {label}: workflow '{spec['id']}' has no input '{key}'")
        for key in ("prompt", "steps", "lora_strength", "width", "height"):
            if getattr(args, key) is not None:
                params.setdefault(key, getattr(args, key))
        seeds = [params.pop("seed")] if "seed" in params else (args.seed or [None])
        for key in params:
            if key not in spec["params"]:
                raise ClientError(EXIT_INPUT, f"workflow '{spec['id']}' takes no {key.replace('_', '-')} "
                                  f"(parameters: {', '.join(spec['params'])})")
        images = prepare_images(spec, files)
        for seed in seeds:
            graph = copy.deepcopy(api)
            values = dict(params)
            if seed is not None:
                values["seed"] = int(seed)
            for key, value in values.items():
                nid, input_name = spec["params"][key]
                graph[nid]["inputs"][input_name] = value
            apply_set(graph, parse_assignments(args.set, "--set"))
            seed_node, seed_input = spec["params"]["seed"]
            name = "_".join(p for p in (spec["id"], label, f"seed{graph[seed_node]['inputs'][seed_input]}") if p)
            jobs.append({"graph": graph, "images": images, "label": name})
    return jobs


def swap_text_encoder(graph: dict, object_info_clip: dict) -> str | None:
    """DualCLIPLoader -> CLIPLoader(clip_l, stable_diffusion) when the server has no T5-XXL for it."""
    node = graph.get(CLIP)
    if not node or node["class_type"] != "DualCLIPLoader":
        return None
    spec = (object_info_clip.get("DualCLIPLoader") or {}).get("input", {}).get("required", {}).get("clip_name2")
    options = spec[0] if spec and isinstance(spec[0], list) else (spec[1].get("options", []) if spec else [])
    t5 = node["inputs"]["clip_name2"]
    if t5 in options:
        return None
    clip_l = node["inputs"]["clip_name1"]
    graph[CLIP] = {"inputs": {"clip_name": clip_l, "type": "stable_diffusion", "device": "default"},
                   "class_type": "CLIPLoader", "_meta": {"title": "CLIPLoader (CLIP-L only: no T5-XXL on the server)"}}
    return (f"the server has no {t5}: DualCLIPLoader replaced by CLIPLoader({clip_l}, type stable_diffusion) "
            "(the only graph change; quality needs T5-XXL)")


# ===================================================================================================
# Talking to the server


def safe_output_path(out_dir: Path, subfolder: str, filename: str) -> Path:
    parts = [p for p in PurePosixPath(str(subfolder).replace("\\", "/")).parts] + [filename]
    for part in parts:
        if part in ("", ".", "..") or part.startswith("/") or not SAFE_COMPONENT.match(part) or "/" in part \
                or "\\" in part:
            raise ClientError(EXIT_UNSAFE_PATH, f"the server named an output '{subfolder}/{filename}' that is not a "
                              f"plain relative path inside --out; nothing written")
    target = out_dir.joinpath(*parts)
    root = out_dir.resolve()
    if root not in target.resolve().parents:
        raise ClientError(EXIT_UNSAFE_PATH, f"output '{subfolder}/{filename}' would be written outside {out_dir}")
    return target


class Runner:
    def __init__(self, server: str, out_dir: Path, timeout: float, quiet: bool = False):
        self.server = server.rstrip("/")
        self.out_dir = out_dir
        self.timeout = timeout
        self.quiet = quiet
        self.client_id = uuid.uuid4().hex
        self.session = None
        self.ws = None
        self.events: dict[str, asyncio.Queue] = {}
        self.early: dict[str, list] = {}  # events that arrived before POST /prompt answered
        self.titles: dict[str, dict] = {}
        self.reader = None

    async def __aenter__(self):
        import aiohttp

        self.aiohttp = aiohttp
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10,
                                                                           sock_read=None))
        return self

    async def __aexit__(self, *exc):
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
        await self.session.close()

    async def get_json(self, path: str, **kw):
        try:
            async with self.session.get(self.server + path, **kw) as resp:
                if resp.status != 200:
                    raise ClientError(EXIT_SERVER, f"GET {path}: HTTP {resp.status}")
                return await resp.json()
        except self.aiohttp.ClientError as e:
            raise ClientError(EXIT_SERVER, f"cannot reach the ComfyUI server at {self.server} ({e})")

    async def check_server(self) -> None:
        try:
            await asyncio.wait_for(self.get_json("/system_stats"), 15)
        except (ClientError, asyncio.TimeoutError, OSError) as e:
            raise ClientError(EXIT_SERVER, f"cannot reach the ComfyUI server at {self.server} "
                              f"({getattr(e, 'args', [''])[0] or type(e).__name__}). Start ComfyUI, check --server, "
                              "or use --embedded.")

    async def upload(self, name: str, data: bytes) -> str:
        filename = f"{name}_{hashlib.sha256(data).hexdigest()[:16]}.png"
        form = self.aiohttp.FormData()
        form.add_field("image", data, filename=filename, content_type="image/png")
        form.add_field("type", "input")
        form.add_field("subfolder", UPLOAD_SUBFOLDER)
        form.add_field("overwrite", "true")
        try:
            async with self.session.post(self.server + "/upload/image", data=form) as resp:
                if resp.status != 200:
                    raise ClientError(EXIT_SERVER, f"upload of {name} failed: HTTP {resp.status} {await resp.text()}")
                info = await resp.json()
        except self.aiohttp.ClientError as e:
            raise ClientError(EXIT_SERVER, f"upload of {name} failed ({e})")
        return f"{info['subfolder']}/{info['name']}" if info.get("subfolder") else info["name"]

    async def connect_ws(self) -> None:
        url = self.server.replace("http://", "ws://").replace("https://", "wss://") + f"/ws?clientId={self.client_id}"
        try:
            self.ws = await self.session.ws_connect(url, heartbeat=30, max_msg_size=0)
        except (self.aiohttp.ClientError, OSError) as e:
            warn(f"[ACE++] websocket unavailable ({e}); polling /history instead")
            self.ws = None
            return
        self.reader = asyncio.create_task(self._read_ws())

    async def _read_ws(self) -> None:
        async for msg in self.ws:
            if msg.type != self.aiohttp.WSMsgType.TEXT:
                continue  # binary previews
            try:
                event = json.loads(msg.data)
            except ValueError:
                continue
            data = event.get("data") or {}
            pid = data.get("prompt_id")
            if pid in self.events:
                self.events[pid].put_nowait(event)
            elif pid:
                self.early.setdefault(pid, []).append(event)
        for queue in self.events.values():
            queue.put_nowait({"type": "#ws_closed", "data": {}})

    async def queue(self, graph: dict) -> str:
        payload = {"prompt": graph, "client_id": self.client_id}
        try:
            async with self.session.post(self.server + "/prompt", json=payload) as resp:
                body = await resp.text()
                status = resp.status
        except self.aiohttp.ClientError as e:
            raise ClientError(EXIT_SERVER, f"POST /prompt failed ({e})")
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        if status != 200 or answer.get("node_errors"):
            raise ClientError(EXIT_REJECTED,
                              "the server rejected the prompt:\n" + format_rejection(answer, body, graph))
        pid = answer["prompt_id"]
        self.events[pid] = asyncio.Queue()
        for event in self.early.pop(pid, []):
            self.events[pid].put_nowait(event)
        self.titles[pid] = graph
        return pid

    async def wait(self, pid: str, label: str) -> dict:
        """The history entry of a finished prompt; raises ClientError for errors/interrupts/timeouts."""
        deadline = time.monotonic() + self.timeout
        graph = self.titles[pid]
        use_ws = self.ws is not None
        last_progress = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientError(EXIT_TIMEOUT, f"{label}: no result after {self.timeout:.0f} s (prompt {pid})")
            if use_ws:
                try:
                    event = await asyncio.wait_for(self.events[pid].get(), min(remaining, 5.0))
                except asyncio.TimeoutError:
                    event = None
                if event is None or event["type"] == "#ws_closed":
                    if event is not None:
                        warn("[ACE++] websocket closed; polling /history instead")
                        use_ws = False
                    entry = await self.history(pid)
                    if entry is not None:
                        return self.finished(entry, pid, label)
                    continue
                kind, data = event["type"], event.get("data") or {}
                if kind == "progress" and not self.quiet:
                    node = graph.get(str(data.get("node")), {})
                    line = f"[{label}] {node.get('class_type', data.get('node'))} {data.get('value')}/{data.get('max')}"
                    if line != last_progress:
                        say(line)
                        last_progress = line
                elif kind == "execution_error":
                    raise ClientError(EXIT_EXECUTION, format_execution_error(data, label))
                elif kind == "execution_interrupted":
                    raise ClientError(EXIT_INTERRUPTED, f"{label}: the run was interrupted on the server "
                                      f"(at node {data.get('node_id')} {data.get('node_type', '')}).")
                elif kind == "executing" and data.get("node") is None:
                    entry = await self.history(pid)
                    while entry is None and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
                        entry = await self.history(pid)
                    return self.finished(entry, pid, label)
            else:
                entry = await self.history(pid)
                if entry is not None and (entry.get("status") or {}).get("completed") is not None:
                    return self.finished(entry, pid, label)
                await asyncio.sleep(0.5)

    async def history(self, pid: str) -> dict | None:
        data = await self.get_json(f"/history/{pid}")
        return data.get(pid) if isinstance(data, dict) else None

    def finished(self, entry: dict, pid: str, label: str) -> dict:
        status = entry.get("status") or {}
        for name, data in status.get("messages") or []:
            if name == "execution_error":
                raise ClientError(EXIT_EXECUTION, format_execution_error(data, label))
            if name == "execution_interrupted":
                raise ClientError(EXIT_INTERRUPTED, f"{label}: the run was interrupted on the server.")
        if status.get("status_str") == "error":
            raise ClientError(EXIT_EXECUTION, f"{label}: the server reports an error for prompt {pid}")
        return entry

    async def download(self, entry: dict, label: str) -> list[Path]:
        saved = []
        wanted = []
        for node_id, output in (entry.get("outputs") or {}).items():
            for item in output.get("images") or []:
                if item.get("type", "output") == "output":
                    wanted.append(item)
        for item in wanted:  # every path is checked before anything is written
            safe_output_path(self.out_dir, item.get("subfolder", ""), item.get("filename", ""))
        for item in wanted:
            target = safe_output_path(self.out_dir, item.get("subfolder", ""), item["filename"])
            params = {"filename": item["filename"], "subfolder": item.get("subfolder", ""), "type": "output"}
            try:
                async with self.session.get(self.server + "/view", params=params) as resp:
                    if resp.status != 200:
                        raise ClientError(EXIT_SERVER, f"{label}: GET /view {item['filename']}: HTTP {resp.status}")
                    data = await resp.read()
            except self.aiohttp.ClientError as e:
                raise ClientError(EXIT_SERVER, f"{label}: download of {item['filename']} failed ({e})")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            saved.append(target)
        return saved

    async def interrupt(self) -> None:
        try:
            async with self.session.post(self.server + "/interrupt", json={}) as resp:
                await resp.read()
            async with self.session.post(self.server + "/queue", json={"delete": list(self.events)}) as resp:
                await resp.read()
        except Exception:  # best effort on the way out
            pass


def format_rejection(answer: dict, body: str, graph: dict) -> str:
    lines = []
    error = answer.get("error")
    if isinstance(error, dict):
        lines.append(f"  {error.get('message', '')}: {error.get('details', '')}".rstrip(": "))
    for nid, info in (answer.get("node_errors") or {}).items():
        ctype = info.get("class_type") or graph.get(nid, {}).get("class_type", "?")
        for err in info.get("errors") or []:
            lines.append(f"  node {nid} ({ctype}): {err.get('message', '')}: {err.get('details', '')}")
    if not lines:
        lines.append("  " + body[:1000])
    return "\n".join(lines)


def format_execution_error(data: dict, label: str) -> str:
    return (f"{label}: execution error in node {data.get('node_id')} ({data.get('node_type')}): "
            f"{data.get('exception_type', '')}: {str(data.get('exception_message', '')).strip()}")


async def run_jobs(server: str, jobs: list[dict], out_dir: Path, timeout: float, quiet: bool) -> list[Path]:
    async with Runner(server, out_dir, timeout, quiet) as runner:
        await runner.check_server()
        try:
            object_info_clip = await runner.get_json("/object_info/DualCLIPLoader")
        except ClientError:
            object_info_clip = {}
        notes = set()
        for job in jobs:
            note = swap_text_encoder(job["graph"], object_info_clip)
            if note:
                notes.add(note)
        for note in sorted(notes):
            warn(f"[ACE++] {note}")
        uploaded: dict[bytes, str] = {}
        for job in jobs:
            for name, data in job["images"].items():
                if data not in uploaded:
                    uploaded[data] = await runner.upload(name, data)
                spec_images = job["spec"]["images"][name]
                job["graph"][spec_images["node"]]["inputs"][spec_images["input"]] = uploaded[data]
        await runner.connect_ws()
        try:
            pids = []
            for job in jobs:
                pids.append(await runner.queue(job["graph"]))
                if not quiet:
                    say(f"[{job['label']}] queued as {pids[-1]}")
            saved: list[Path] = []
            first_error, failed = None, 0
            for job, pid in zip(jobs, pids):
                try:
                    entry = await runner.wait(pid, job["label"])
                    files = await runner.download(entry, job["label"])
                except ClientError as e:
                    if e.code == EXIT_UNSAFE_PATH:
                        raise
                    warn(f"[ACE++] {e}")
                    first_error = first_error or e
                    failed += 1
                    continue
                if not files:
                    warn(f"[{job['label']}] finished but saved no image (an identical prompt is served from the "
                         "cache without a new file: change the seed)")
                for path in files:
                    say(f"[{job['label']}] saved {path}")
                saved += files
            if first_error is not None:
                raise ClientError(first_error.code, f"{failed} of {len(jobs)} prompt(s) failed; first: {first_error}")
            return saved
        except (KeyboardInterrupt, asyncio.CancelledError):
            await runner.interrupt()
            raise ClientError(EXIT_INTERRUPTED, "interrupted here (Ctrl-C): the server run was interrupted too")


# ===================================================================================================
# CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acepp_client.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the bundled workflows and the named inputs each takes")
    run = sub.add_parser("run", help="run a bundled workflow", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("workflow")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--server", help="ComfyUI address (default http://127.0.0.1:8188)")
    where.add_argument("--embedded", action="store_true", help="start this project's own ComfyUI for the run")
    run.add_argument("--models", type=Path, help="--embedded: the models folder (default: the tiny fixtures)")
    run.add_argument("--input", action="append", default=[], metavar="NAME=FILE", help="a named image input")
    run.add_argument("--input-set", action="append", default=[], metavar="FILE.json",
                     help="a JSON object of inputs/parameters; one prompt per set")
    run.add_argument("--prompt", help="the instruction")
    run.add_argument("--seed", type=int, action="append", help="sampling seed; repeat for a batch")
    run.add_argument("--steps", type=int, help="sampling steps (ACE++: 28)")
    run.add_argument("--lora-strength", dest="lora_strength", type=float, help="LoRA strength (ACE++: 1.0)")
    run.add_argument("--width", type=int, help="generation workflows: width of the new image")
    run.add_argument("--height", type=int, help="generation workflows: height of the new image")
    run.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE", help="set any widget")
    run.add_argument("--out", required=True, type=Path, help="folder for the results (nothing is written elsewhere)")
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait per prompt")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def command_run(args) -> int:
    spec, api = get_workflow(args.workflow)
    jobs = build_jobs(args, spec, api)
    for job in jobs:
        job["spec"] = spec
    server_url = args.server or "http://127.0.0.1:8188"
    embedded = None
    if args.embedded:
        models = args.models
        if models is None:
            cache = os.environ.get("ACEPP_CACHE") or runtime_env()["ACEPP_CACHE"]
            models = Path(cache) / "fixtures" / "models"
        if not Path(models).is_dir():
            raise ClientError(EXIT_USAGE, f"--embedded: models folder {models} does not exist (build the tiny "
                              "fixtures with: python tools/fixtures.py, or pass --models DIR)")
        embedded = EmbeddedComfy(models_dir=models, log=warn)
        try:
            server_url = embedded.start()
        except ServerError as e:
            raise ClientError(EXIT_SERVER, f"the embedded ComfyUI did not start: {e}")
    elif args.models:
        raise ClientError(EXIT_USAGE, "--models only applies with --embedded")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        saved = asyncio.run(run_jobs(server_url, jobs, args.out, args.timeout, args.quiet))
    finally:
        if embedded is not None:
            embedded.stop()
    say(f"{len(saved)} image(s) written to {args.out}")
    return EXIT_OK


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            for spec in WORKFLOWS.values():
                say(describe(spec) + "\n")
            say("Run one: python tools/acepp_client.py run WORKFLOW --server URL --input NAME=FILE ... --out DIR")
            return EXIT_OK
        return command_run(args)
    except ClientError as e:
        warn(f"[ACE++ client] error: {e}")
        return e.code
    except KeyboardInterrupt:
        warn("[ACE++ client] interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head`
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
