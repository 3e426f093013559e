"""Running a batch of jobs on one or more ComfyUI servers, ComfyUI itself being the engine.

Each server takes a new job only while its queue (GET /queue: every prompt running or waiting there,
whoever queued it) is shorter than ``depth`` and no longer than another live server's, so jobs spread by
queue length and a busy server is left alone. A server that stops answering is dropped and its unfinished
jobs go back to the others; jobs that fail on their own (rejected, execution error, timeout) are not retried.
Outputs are written as <out>/<job name>.png (then _2, _3 ... for further images), each through a temporary
file, so a rerun with ``skip_existing`` resumes exactly where a batch stopped."""
from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from .errors import EXIT_INTERRUPTED, EXIT_SERVER, EXIT_UNSAFE_PATH, EXIT_USAGE, ClientError
from .graph import swap_text_encoder
from .jobs import Job, plain_name
from .session import ComfySession, not_comfyui

UPLOAD_SUBFOLDER = "acepp_client"
POLL_S = 0.2
Log = Callable[[str], None]


@dataclass(frozen=True)
class BatchResult:
    written: dict  # job name -> tuple of output paths
    skipped: tuple[str, ...]  # job names whose outputs were already there
    failed: dict  # job name -> ClientError
    servers_failed: dict  # server url -> what went wrong


def output_paths(out_dir: Path, job: Job, count: int, suffix: str = ".png") -> list[Path]:
    return [out_dir / (f"{job.name}{suffix}" if i == 0 else f"{job.name}_{i + 1}{suffix}") for i in range(count)]


def is_done(out_dir: Path, job: Job) -> bool:
    """The job's first output exists (it is written last, so the job finished)."""
    return out_dir.is_dir() and any(p.stem == job.name and p.is_file() for p in out_dir.iterdir())


def check_server_name(ref: dict) -> None:
    """A server's output reference must be plain relative names; anything else is refused before any write."""
    if not isinstance(ref.get("filename"), str) or not isinstance(ref.get("subfolder", ""), str):
        raise ClientError(EXIT_UNSAFE_PATH, f"the server named an output {ref!r} that is not a plain relative path; "
                          "nothing written")
    subfolder = str(ref.get("subfolder", "")).replace("\\", "/")
    parts = [p for p in PurePosixPath(subfolder).parts] + [str(ref.get("filename", ""))]
    if subfolder.startswith("/") or not all(plain_name(p) for p in parts):
        raise ClientError(EXIT_UNSAFE_PATH, f"the server named an output '{subfolder}/{ref.get('filename')}' that is "
                          "not a plain relative path; nothing written")


class _Server:
    def __init__(self, url: str):
        self.session = ComfySession(url)
        self.url = self.session.url
        self.alive = True
        self.load = 0
        self.uploaded: dict[str, str] = {}  # sha256 of the bytes -> name on this server
        self.dual_clip_info: dict | None = None
        self.in_flight: dict[str, str] = {}  # prompt id -> job name
        self.claimed: set[str] = set()  # names of the jobs this server has taken and not finished


class Batch:
    def __init__(self, servers: list[str], jobs: list[Job], out_dir: Path, *, timeout: float, log: Log,
                 warn: Log, progress: bool = True, depth: int = 2):
        self.servers = [_Server(url) for url in dict.fromkeys(servers)]
        self.jobs = jobs
        self.out_dir = out_dir
        self.timeout = timeout
        self.log, self.warn = log, warn
        self.progress = progress
        self.depth = depth
        self.pending: list[Job] = []
        self.attempts: dict[str, int] = {}
        self.written: dict[str, tuple[Path, ...]] = {}
        self.failed: dict[str, ClientError] = {}
        self.servers_failed: dict[str, str] = {}
        self.notes: set[str] = set()
        self._last_progress: dict[str, str] = {}

    # ------------------------------------------------------------------------------------------ run
    async def run(self, skip_existing: bool = False) -> BatchResult:
        skipped = tuple(j.name for j in self.jobs if skip_existing and is_done(self.out_dir, j))
        self.pending = [j for j in self.jobs if j.name not in skipped]
        if skipped:
            self.log(f"[ACE++ client] {len(skipped)} job(s) already written, skipped (--skip-existing)")
        for server in self.servers:
            await server.session.__aenter__()
        try:
            await self._connect()
            workers = [asyncio.create_task(self._serve(s)) for s in self.servers if s.alive]
            try:
                await asyncio.gather(*workers)
            except asyncio.CancelledError:
                for task in workers:
                    task.cancel()
                for server in self.servers:
                    if server.alive:
                        await server.session.interrupt(list(server.in_flight))
                raise ClientError(EXIT_INTERRUPTED, "interrupted here (Ctrl-C): the server runs were interrupted too")
        finally:
            for server in self.servers:
                await server.session.close()
        for job in self.pending:  # left over when every server failed
            self.failed.setdefault(job.name, ClientError(EXIT_SERVER, f"{job.name}: no server left to run it ("
                                   + "; ".join(f"{u}: {w}" for u, w in self.servers_failed.items()) + ")"))
        return BatchResult(self.written, skipped, self.failed, self.servers_failed)

    async def _connect(self) -> None:
        errors = []
        for server in self.servers:
            try:
                await server.session.check()
            except ClientError as e:
                self._server_failed(server, e, at_start=True)
                errors.append(str(e))
                continue
            if not await server.session.listen():
                self.warn(f"[ACE++ client] {server.url}: websocket unavailable; polling /history instead")
        if not any(s.alive for s in self.servers):
            raise ClientError(EXIT_SERVER, "\n".join(errors))

    def _server_failed(self, server: _Server, error: ClientError, at_start: bool = False) -> None:
        if not server.alive:
            return
        server.alive = False
        self.servers_failed[server.url] = str(error)
        others = [s.url for s in self.servers if s.alive]
        self.warn(f"[ACE++ client] server {server.url} failed{' at start' if at_start else ''}: {error}"
                  + (f"; its jobs go to {', '.join(others)}" if others else ""))

    # --------------------------------------------------------------------------------------- worker
    async def _serve(self, server: _Server) -> None:
        tasks: set[asyncio.Task] = set()
        while server.alive and (self.pending or tasks or self._others_busy(server)):
            if tasks:
                done, _ = await asyncio.wait(tasks, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED)
                tasks -= done
            if not server.alive or not self.pending or len(tasks) >= self.depth:
                if not tasks:
                    await asyncio.sleep(POLL_S)  # other servers' jobs may come back to us
                continue
            try:
                server.load = await server.session.queue_length()
            except ClientError as e:
                self._server_failed(server, e)
                break
            others = [s.load for s in self.servers if s.alive and s is not server]
            if server.load >= self.depth or (others and server.load > min(others)):
                await asyncio.sleep(POLL_S)
                continue
            job = self.pending.pop(0)
            server.claimed.add(job.name)
            server.load += 1
            tasks.add(asyncio.create_task(self._run_job(server, job)))
        if tasks:
            await asyncio.gather(*tasks)

    def _others_busy(self, server: _Server) -> bool:
        """Another live server still runs jobs that could come back if it fails."""
        return any(s.alive and s is not server and s.claimed for s in self.servers)

    async def _run_job(self, server: _Server, job: Job) -> None:
        self.attempts[job.name] = self.attempts.get(job.name, 0) + 1
        try:
            graph = job.prompt(await self._upload(server, job))
            if server.dual_clip_info is None:
                info = (await server.session.object_info("DualCLIPLoader")).get("DualCLIPLoader", {})
                if not isinstance(info, dict):
                    raise not_comfyui(server.url, "GET /object_info/DualCLIPLoader")
                server.dual_clip_info = info
            note = swap_text_encoder(graph, server.dual_clip_info)
            if note and note not in self.notes:
                self.notes.add(note)
                self.warn(f"[ACE++] {note}")
            pid = await server.session.post_prompt(graph)
            server.in_flight[pid] = job.name
            self.log(f"[{job.name}] queued as {pid} on {server.url}")
            try:
                entry = await server.session.wait(pid, job.name, self.timeout, self._show_progress)
            finally:
                server.in_flight.pop(pid, None)
            paths = await self._download(server, entry, job)
        except ClientError as e:
            if e.server_down:
                self._server_failed(server, e)
                if any(s.alive for s in self.servers) and self.attempts[job.name] < len(self.servers):
                    self.pending.insert(0, job)
                    return
            self.failed[job.name] = e
            self.warn(f"[ACE++] {e}")
            return
        finally:
            server.claimed.discard(job.name)
        self.written[job.name] = tuple(paths)
        if not paths:
            self.warn(f"[{job.name}] finished but saved no image")
        for path in paths:
            self.log(f"[{job.name}] saved {path}")

    def _show_progress(self, event: dict) -> None:
        if not self.progress:
            return
        line = f"[{event['label']}] {event['node']} {event['value']}/{event['max']}"
        if self._last_progress.get(event["label"]) != line:
            self._last_progress[event["label"]] = line
            self.log(line)

    async def _upload(self, server: _Server, job: Job) -> dict[str, str]:
        names = {}
        for upload in job.uploads:
            digest = hashlib.sha256(upload.data).hexdigest()
            if digest not in server.uploaded:
                server.uploaded[digest] = await server.session.upload_image(
                    upload.data, f"{upload.role}_{digest[:16]}.png", UPLOAD_SUBFOLDER)
            names[upload.role] = server.uploaded[digest]
        return names

    async def _download(self, server: _Server, entry: dict, job: Job) -> list[Path]:
        outputs = [output for output in (entry.get("outputs") or {}).values()]
        images = [output.get("images") or [] if isinstance(output, dict) else None for output in outputs]
        if not all(isinstance(items, list) and all(isinstance(item, dict) for item in items) for items in images):
            raise not_comfyui(server.url, f"GET /history (outputs of {job.name})")
        refs = [item for items in images for item in items if item.get("type", "output") == "output"]
        for ref in refs:  # every name is checked before anything is written
            check_server_name(ref)
        blobs = [await server.session.view(ref) for ref in refs]
        suffix = PurePosixPath(refs[0]["filename"]).suffix if refs else ".png"
        targets = output_paths(self.out_dir, job, len(blobs), suffix or ".png")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for target, data in reversed(list(zip(targets, blobs))):  # the first output last: it marks the job done
                partial = target.with_name(f".{target.name}.part")
                partial.write_bytes(data)
                partial.replace(target)
        except OSError as e:  # the folder vanished, the disk is full, a name is refused by the file system
            raise ClientError(EXIT_USAGE, f"{job.name}: cannot write its result into {self.out_dir} "
                              f"({e.__class__.__name__}: {e.strerror or e}); free space or give another --out"
                              ) from None
        return targets


async def run_batch(servers: list[str], jobs: list[Job], out_dir: Path, *, timeout: float, log: Log, warn: Log,
                    progress: bool = True, skip_existing: bool = False) -> BatchResult:
    return await Batch(servers, jobs, out_dir, timeout=timeout, log=log, warn=warn, progress=progress).run(skip_existing)
