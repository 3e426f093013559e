"""Soak benchmark (not a test): many prompts of a bundled workflow through the headless client's own code, one
of them interrupted mid-run, then POST /free, then the rest; prints successes, runs per minute and the
server's resident memory (VmRSS) at the start, the middle and the end.

    python tools/soak.py -n 40                        # the project's ComfyUI with the tiny fixture models
    python tools/soak.py -n 40 --server http://127.0.0.1:8188 --pid 12345   # any ComfyUI (--pid: its RSS)

Every prompt gets its own seed (no cache hits). With the fixture models the pixels are meaningless; what is
measured is the server holding up: every run finishes, the interrupted one says so, memory does not creep.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aceplusplus.client import catalog, graph as client_graph, jobs as client_jobs
from aceplusplus.client.errors import EXIT_INTERRUPTED, ClientError
from aceplusplus.client.scheduler import run_batch
from aceplusplus.client.session import ComfySession


def rss_mib(pid: int | None) -> float | None:
    """VmRSS of a process in MiB (None when unknown)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def make_inputs(folder: Path, width: int, height: int) -> dict[str, Path]:
    from PIL import Image, ImageDraw

    edit = Image.new("RGB", (width, height), (30, 110, 190))
    draw = ImageDraw.Draw(edit)
    for x in range(0, width, 7):
        draw.line((x, 0, x, height), fill=(x * 3 % 255, 80, 40))
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).rectangle((width // 2, height // 4, width * 7 // 8, height * 3 // 4), fill=255)
    ref = Image.new("RGB", (height * 3 // 4, height), (200, 120, 60))
    paths = {"edit_image": folder / "edit.png", "mask": folder / "mask.png", "reference": folder / "ref.png"}
    edit.save(paths["edit_image"])
    mask.save(paths["mask"])
    ref.save(paths["reference"])
    return paths


def build(workflow_id: str, files: dict[str, Path], seeds: list[int], steps: int) -> list[client_jobs.Job]:
    workflow = catalog.load(workflow_id)
    return client_jobs.build_jobs(workflow, files={k: v for k, v in files.items() if k in workflow.images},
                                  values={"steps": steps}, seeds=seeds, sets=[],
                                  overrides=client_graph.parse_assignments([], "--set"))


async def interrupt_when_running(url: str, after_s: float) -> float | None:
    """POST /interrupt once a prompt has been running for ``after_s``; the time it was sent (None: never ran)."""
    async with ComfySession(url) as session:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            queue = await session.get_json("/queue")
            if queue.get("queue_running"):
                await asyncio.sleep(after_s)
                await session.interrupt()
                return time.monotonic()
            await asyncio.sleep(0.1)
    return None


async def soak(url: str, pid: int | None, args, out: Path, files: dict[str, Path]) -> dict:
    quiet = lambda msg: None  # noqa: E731
    seeds = list(range(args.seed, args.seed + args.n))
    half = args.n // 2
    first, rest = seeds[:half], seeds[half:]
    report = {"rss": {}, "ok": 0, "failed": {}, "seconds": 0.0}

    async def batch(seed_list: list[int]) -> None:
        if not seed_list:
            return
        t0 = time.monotonic()
        result = await run_batch([url], build(args.workflow, files, seed_list, args.steps), out, timeout=600,
                                 log=quiet, warn=quiet, progress=False)
        report["seconds"] += time.monotonic() - t0
        report["ok"] += len(result.written)
        report["failed"].update({name: str(err) for name, err in result.failed.items()})

    report["rss"]["start (idle)"] = rss_mib(pid)
    await batch(first[:1])  # the first run loads the models
    report["rss"]["after the first run"] = rss_mib(pid)
    await batch(first[1:])
    report["rss"]["middle"] = rss_mib(pid)

    # One long run, interrupted while it samples; then POST /free (models unloaded, reloaded by the next run).
    long_job = build(args.workflow, files, [args.seed + 10_000], args.interrupt_steps)
    watcher = asyncio.create_task(interrupt_when_running(url, args.interrupt_after))
    t0 = time.monotonic()
    result = await run_batch([url], long_job, out, timeout=600, log=quiet, warn=quiet, progress=False)
    sent = await watcher
    error = next(iter(result.failed.values()), None)
    report["interrupt"] = {"sent": sent is not None, "exit_code": error.code if error else 0,
                           "answered_as_interrupted": bool(error and error.code == EXIT_INTERRUPTED),
                           "seconds": time.monotonic() - t0}
    async with ComfySession(url) as session:
        await session.free()
    report["rss"]["after interrupt + /free"] = rss_mib(pid)

    await batch(rest)
    report["rss"]["end"] = rss_mib(pid)
    async with ComfySession(url) as session:
        await session.check()  # still answering
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=40, help="prompts to run (besides the interrupted one)")
    parser.add_argument("--server", help="a running ComfyUI (default: start the project's, with the fixtures)")
    parser.add_argument("--pid", type=int, help="with --server: the server's process id, for its memory")
    parser.add_argument("--workflow", default="local_editing", help="a bundled workflow id (default local_editing)")
    parser.add_argument("--steps", type=int, default=1, help="sampling steps per prompt (default 1)")
    parser.add_argument("--width", type=int, default=80)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--interrupt-steps", type=int, default=200, help="steps of the run that gets interrupted")
    parser.add_argument("--interrupt-after", type=float, default=2.0, help="seconds into that run")
    parser.add_argument("--seed", type=int, default=1000, help="first seed (each prompt its own)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="acepp_soak_") as tmp:
        tmp = Path(tmp)
        files = make_inputs(tmp, args.width, args.height)
        started = time.monotonic()
        if args.server:
            url, pid, server = args.server, args.pid, None
        else:
            from aceplusplus.tools import fixtures
            from aceplusplus.tools.comfy_process import EmbeddedComfy

            server = EmbeddedComfy(models_dir=fixtures.ensure_fixtures(fixtures.default_out_dir()))
            url = server.start()
            pid = server.pid
        try:
            report = asyncio.run(soak(url, pid, args, tmp / "out", files))
        except ClientError as e:
            print(f"[soak] failed: {e}", file=sys.stderr)
            return e.code
        finally:
            if server is not None:
                server.stop()
    runs = report["ok"]
    per_min = runs / report["seconds"] * 60 if report["seconds"] else 0.0
    print(f"[soak] workflow {args.workflow}, {args.width}x{args.height}, {args.steps} step(s), server {url}")
    print(f"[soak] successes: {runs}/{args.n}; failures: {len(report['failed'])}")
    for name, err in list(report["failed"].items())[:5]:
        print(f"[soak]   {name}: {err}")
    print(f"[soak] runs per minute: {per_min:.1f} ({runs} runs in {report['seconds']:.1f} s of batches; "
          f"{time.monotonic() - started:.0f} s in all)")
    i = report["interrupt"]
    print(f"[soak] interrupt: sent={i['sent']}, the client answered exit {i['exit_code']} "
          f"({'interrupted' if i['answered_as_interrupted'] else 'NOT reported as interrupted'}) "
          f"after {i['seconds']:.1f} s; then POST /free")
    rss = report["rss"]
    print("[soak] server VmRSS (MiB): " + ", ".join(
        f"{k} {v:.0f}" if v is not None else f"{k} n/a" for k, v in rss.items()))
    base, end = rss.get("after the first run"), rss.get("end")
    if base is not None and end is not None:
        print(f"[soak] RSS drift, after the first run -> end: {end - base:+.0f} MiB ({(end - base) / base:+.1%})")
    ok = runs == args.n and i["answered_as_interrupted"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
