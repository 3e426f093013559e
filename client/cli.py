"""The command line: `list` the bundled workflows, `run` one of them on one or more ComfyUI servers."""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import catalog
from .errors import (EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ClientError)
from .graph import parse_assignments
from .jobs import build_jobs, read_input_set
from .process import ComfyProcess
from .scheduler import run_batch

COMMAND = f"{Path(sys.executable).name} {catalog.PACK_ROOT / 'client'}"
DEFAULT_SERVER = "http://127.0.0.1:8188"

USAGE = f"""ACE++ headless client: run a bundled ACE++ workflow on ComfyUI servers and download the results.

    {COMMAND} list
    {COMMAND} run WORKFLOW [--server URL ...| --embedded] --input NAME=FILE ... --out DIR

Run it with the Python that runs your ComfyUI (it needs only the standard library, aiohttp and Pillow, which
ComfyUI ships), from the pack's folder inside ComfyUI/custom_nodes, whatever that folder is called.

Named inputs (see `list`): `reference` and `edit_image` are image files uploaded to the server (POST
/upload/image) into the workflow's LoadImage nodes. `mask` is a grayscale image (white = generate) of the edit
image's size: it becomes the edit image's alpha (alpha = 255 - mask), exactly how LoadImage reads a painted
mask, so the graph stays as bundled. Without --input mask, an RGBA edit image's transparent area is the mask.

Several --seed values and/or --input-set JSON files (each {{"reference": "a.png", "prompt": "...", "seed": 3}},
paths relative to the file) make a batch: one job per set and seed. --set changes any widget: NODE is a node
id, a class name that occurs once, or a node title (--set KSampler.steps=4, --set 11.width=800); VALUE is
JSON when it parses, else text.

--server may be given several times: jobs go to the server with the shortest queue (GET /queue); a server
that fails is dropped and its unfinished jobs run on the others. Each job writes <out>/<job name>.png (job
name: workflow_inputset_seedN), so --skip-existing reruns a batch from where it stopped.

--embedded starts a ComfyUI for the run and stops it afterwards (it also ends when the client is killed):
the one this pack is installed in (or --comfyui DIR), with its own models folder or --models DIR.
Whenever a server has no T5-XXL file for the DualCLIPLoader, that node becomes CLIPLoader(clip_l, type
stable_diffusion) and the client says so: the only graph rewrite it ever makes.

{EXIT_CODES_HELP}
"""


def _print(msg: str, stream) -> None:
    try:
        print(msg, file=stream, flush=True)
    except UnicodeEncodeError:  # a file name that is not valid in the terminal's encoding
        encoding = getattr(stream, "encoding", None) or "utf-8"
        print(msg.encode(encoding, "backslashreplace").decode(encoding), file=stream, flush=True)


def say(msg: str) -> None:
    _print(msg, sys.stdout)


def warn(msg: str) -> None:
    _print(msg, sys.stderr)


def check_server_url(url: str) -> str:
    """--server: http(s)://host[:port][/path], said plainly rather than failing somewhere in aiohttp."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
    except ValueError as e:
        raise ClientError(EXIT_USAGE, f"--server {url!r}: {e}; give an address such as {DEFAULT_SERVER}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(EXIT_USAGE, f"--server {url!r} is not an http:// or https:// address; give an address "
                          f"such as {DEFAULT_SERVER}")
    return url


def prepare_out(out: Path) -> None:
    """--out must be a folder (made when missing) that this user can write: checked before any server work."""
    if out.exists() and not out.is_dir():
        raise ClientError(EXIT_USAGE, f"--out {out} is a file, not a folder: give a folder for the results "
                          "(it is created when missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ClientError(EXIT_USAGE, f"--out {out}: cannot create the folder ({e.strerror or e}); give a folder "
                          "you can write to") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ClientError(EXIT_USAGE, f"--out {out}: the folder is not writable; give a folder you can write to")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=COMMAND, description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the bundled workflows and the named inputs each takes")
    run = sub.add_parser("run", help="run a bundled workflow", description=USAGE,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("workflow")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--server", action="append", help=f"a ComfyUI address; repeat for several (default {DEFAULT_SERVER})")
    where.add_argument("--embedded", action="store_true", help="start a ComfyUI for the run (see above)")
    run.add_argument("--comfyui", type=Path, help="--embedded: the ComfyUI folder to start (default: the one this pack is in)")
    run.add_argument("--models", type=Path, help="--embedded: the models folder (default: that ComfyUI's own)")
    run.add_argument("--cpu", action="store_true", help="--embedded: run that ComfyUI on the CPU")
    run.add_argument("--input", action="append", default=[], metavar="NAME=FILE", help="a named image input")
    run.add_argument("--input-set", action="append", default=[], metavar="FILE.json",
                     help="a JSON object of inputs/parameters; one job per set")
    run.add_argument("--prompt", help="the instruction")
    run.add_argument("--seed", type=int, action="append", help="sampling seed; repeat for a batch")
    run.add_argument("--steps", type=int, help="sampling steps (ACE++: 28)")
    run.add_argument("--lora-strength", dest="lora_strength", type=float, help="LoRA strength (ACE++: 1.0)")
    run.add_argument("--width", type=int, help="generation workflows: width of the new image")
    run.add_argument("--height", type=int, help="generation workflows: height of the new image")
    for side in catalog.MARGINS:
        run.add_argument(f"--{side}", type=int, help=f"outpainting workflows: pixels added on the {side}")
    run.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE", help="set any widget")
    run.add_argument("--gguf", metavar="FILE.gguf", help="load the model from this GGUF file (models/unet) with "
                     "ComfyUI-GGUF's Unet Loader (GGUF); the server needs ComfyUI-GGUF installed")
    run.add_argument("--out", required=True, type=Path, help="folder for the results (nothing is written elsewhere)")
    run.add_argument("--skip-existing", action="store_true", help="skip jobs whose output is already in --out")
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait per job")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


class Embedded:
    """--embedded: the ComfyUI to start, in a temporary base directory unless it is the one the pack is in."""

    def __init__(self, args):
        own = catalog.PACK_ROOT.parent.parent
        root = args.comfyui or os.environ.get("ACEPP_COMFY_ROOT") or (own if (own / "main.py").is_file() else None)
        if root is None or not (Path(root) / "main.py").is_file():
            raise ClientError(EXIT_USAGE, "--embedded: no ComfyUI to start" + (f" in {root}" if root else
                              " (this pack is not inside ComfyUI/custom_nodes)") + "; give --comfyui DIR")
        root = Path(root).resolve()
        self.base = None
        comfy_args: list[str] = ["--cpu"] if args.cpu else []
        if args.models is not None or own.resolve() != root:
            models = (args.models or root / "models").resolve()
            if not models.is_dir():
                raise ClientError(EXIT_USAGE, f"--embedded: models folder {models} does not exist (pass --models DIR)")
            self.base = Path(tempfile.mkdtemp(prefix="acepp_client_"))
            (self.base / "custom_nodes").mkdir()
            (self.base / "custom_nodes" / catalog.PACK_ROOT.name).symlink_to(catalog.PACK_ROOT, target_is_directory=True)
            (self.base / "models").symlink_to(models, target_is_directory=True)
            comfy_args += ["--base-directory", str(self.base), "--database-url", "sqlite:///:memory:"]
        log = (self.base or Path(tempfile.mkdtemp(prefix="acepp_client_"))) / "comfyui.log"
        self.process = ComfyProcess(root, log, python=os.environ.get("ACEPP_PYTHON") or sys.executable,
                                    args=tuple(comfy_args))

    def __enter__(self) -> str:
        warn(f"[ACE++ client] starting ComfyUI from {self.process.comfy_root} (log: {self.process.log_path})")
        try:
            return self.process.start()
        except ClientError as e:
            self.__exit__()
            hint = ("\nThis Python's torch has no CUDA: add --cpu." if "not compiled with CUDA" in str(e) else "")
            raise ClientError(e.code, f"the embedded ComfyUI did not start: {e}{hint}")

    def __exit__(self, *exc) -> None:
        self.process.stop()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)


def command_run(args) -> int:
    workflow = catalog.load(args.workflow)
    if not args.embedded and (args.models or args.comfyui or args.cpu):
        raise ClientError(EXIT_USAGE, "--models, --comfyui and --cpu only apply with --embedded")
    for url in args.server or []:
        check_server_url(url)
    if not args.timeout > 0:  # also NaN
        raise ClientError(EXIT_USAGE, f"--timeout {args.timeout}: give a number of seconds above 0")
    sets = [read_input_set(Path(p), workflow) for p in args.input_set]
    files = {k: Path(v).expanduser() for k, v in parse_assignments(args.input, "--input").items()}
    values = {k: getattr(args, k) for k in ("prompt", "steps", "lora_strength", "width", "height", *catalog.MARGINS)}
    jobs = build_jobs(workflow, files=files, values=values, seeds=args.seed, sets=sets,
                      overrides=parse_assignments(args.set, "--set"), gguf=args.gguf)
    prepare_out(args.out)

    def run(servers: list[str]):
        return asyncio.run(run_batch(servers, jobs, args.out, timeout=args.timeout, log=say, warn=warn,
                                     progress=not args.quiet, skip_existing=args.skip_existing))

    if args.embedded:
        with Embedded(args) as url:
            result = run([url])
    else:
        result = run(args.server or [DEFAULT_SERVER])
    images = sum(len(paths) for paths in result.written.values())
    say(f"{images} image(s) written to {args.out} ({len(result.written)} of {len(jobs)} job(s) run"
        + (f", {len(result.skipped)} already there" if result.skipped else "") + ")")
    if result.failed:
        first = next(iter(result.failed.values()))
        raise ClientError(first.code, f"{len(result.failed)} of {len(jobs)} job(s) failed; first: {first}")
    return EXIT_OK


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            for workflow in catalog.load_all():
                say(workflow.describe() + "\n")
            say(f"Run one: {COMMAND} run WORKFLOW --server URL --input NAME=FILE ... --out DIR")
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
