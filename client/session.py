"""One conversation with one ComfyUI server: HTTP calls, uploads, queueing, the websocket, results.

This is the only code of the project that speaks ComfyUI's HTTP API: the headless client, the demo, the
process manager (tools/comfy_process.py), the workflow builder and the test harness all use it.
``ComfySession`` is asynchronous (aiohttp, which ships with ComfyUI); ``BlockingSession`` is the same session
for synchronous code. Every failure is a ``ClientError`` whose code says what kind it is (errors.py).
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Callable

from .errors import (EXIT_EXECUTION, EXIT_INTERRUPTED, EXIT_REJECTED, EXIT_SERVER, EXIT_TIMEOUT,
                     ClientError)

WS_CLOSED = "#ws_closed"  # the event a prompt's queue gets when the websocket goes away
Progress = Callable[[dict], None]


def not_comfyui(url: str, what: str, body: bytes | str | None = None) -> ClientError:
    """A server whose answer is not what ComfyUI answers (not JSON, or JSON of another shape): it is treated as
    a server that failed (EXIT_SERVER), so a batch drops it and runs its jobs elsewhere."""
    sample = body[:200] if body is not None else ""
    return ClientError(EXIT_SERVER, f"the server at {url} answered {what} with something that is not ComfyUI's "
                       f"answer{f' ({sample!r})' if sample else ''}: check --server (is it a ComfyUI?)")


def parse_json(url: str, what: str, body: bytes, kind: type = dict):
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise not_comfyui(url, what, body) from None
    if not isinstance(data, kind):
        raise not_comfyui(url, what, body)
    return data


def format_rejection(answer: dict, body: str, graph: dict) -> str:
    """POST /prompt's error answer as lines naming each node and what is wrong with it."""
    lines = []
    error = answer.get("error")
    if isinstance(error, dict):
        lines.append(f"  {error.get('message', '')}: {error.get('details', '')}".rstrip(": "))
    node_errors = answer.get("node_errors")
    for nid, info in (node_errors.items() if isinstance(node_errors, dict) else ()):
        info = info if isinstance(info, dict) else {"errors": [{"message": str(info)}]}
        ctype = info.get("class_type") or (graph.get(nid) or {}).get("class_type", "?")
        errors = info.get("errors") if isinstance(info.get("errors"), list) else []
        for err in errors:
            err = err if isinstance(err, dict) else {"message": str(err)}
            lines.append(f"  node {nid} ({ctype}): {err.get('message', '')}: {err.get('details', '')}")
    if not lines:
        lines.append("  " + body[:1000])
    return "\n".join(lines)


def format_execution_error(data: dict, label: str) -> str:
    return (f"{label}: execution error in node {data.get('node_id')} ({data.get('node_type')}): "
            f"{data.get('exception_type', '')}: {str(data.get('exception_message', '')).strip()}")


def _completed(entry: dict | None) -> bool:
    """A history entry of a prompt that has finished (well or not)."""
    status = (entry or {}).get("status")
    return isinstance(status, dict) and status.get("completed") is not None


class ComfySession:
    """One ComfyUI server at ``url``. Use ``async with``; ``listen()`` opens the websocket so that ``wait``
    follows progress live (without it, or when it drops, ``wait`` polls /history)."""

    def __init__(self, url: str, *, client_id: str | None = None, connect_timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self.connect_timeout = connect_timeout
        self._http = None
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._events: dict[str, asyncio.Queue] = {}
        self._early: dict[str, list] = {}  # events that arrived before POST /prompt answered
        self._graphs: dict[str, dict] = {}

    async def __aenter__(self) -> "ComfySession":
        import aiohttp

        self._aiohttp = aiohttp
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=self.connect_timeout, sock_read=None))
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ------------------------------------------------------------------------------------------ HTTP
    async def request(self, method: str, path: str, *, json_body=None, data=None, params=None,
                      timeout: float | None = None) -> tuple[int, bytes]:
        """(status, body) of one request; a server that cannot be reached is ClientError(EXIT_SERVER)."""
        kwargs = {"json": json_body, "data": data, "params": params}
        if timeout is not None:
            kwargs["timeout"] = self._aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._http.request(method, self.url + path, **kwargs) as resp:
                return resp.status, await resp.read()
        except (self._aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
            raise ClientError(EXIT_SERVER, f"cannot reach the ComfyUI server at {self.url} "
                              f"({e.__class__.__name__}{': ' + str(e) if str(e) else ''})") from e

    async def get_json(self, path: str, *, params=None, timeout: float | None = None, kind: type = dict):
        """The JSON answer of a GET (a JSON object unless ``kind`` says otherwise); anything else is
        ClientError(EXIT_SERVER), like a server that does not answer."""
        status, body = await self.request("GET", path, params=params, timeout=timeout)
        if status != 200:
            raise ClientError(EXIT_SERVER, f"GET {path} on {self.url}: HTTP {status} {body[:300]!r}")
        return parse_json(self.url, f"GET {path}", body, kind)

    async def post_json(self, path: str, payload: dict, *, timeout: float | None = None) -> tuple[int, bytes]:
        return await self.request("POST", path, json_body=payload, timeout=timeout)

    async def check(self, timeout: float = 15.0) -> dict:
        """GET /system_stats: the server answers, or ClientError(EXIT_SERVER) saying how to fix it."""
        try:
            return await self.get_json("/system_stats", timeout=timeout)
        except ClientError as e:
            raise ClientError(EXIT_SERVER, f"{e}. Start ComfyUI, check --server, or use --embedded.") from e

    async def object_info(self, node_class: str | None = None) -> dict:
        return await self.get_json("/object_info" + (f"/{node_class}" if node_class else ""), timeout=120)

    async def queue_length(self) -> int:
        """Prompts running or waiting on the server, from anyone (GET /queue)."""
        queue = await self.get_json("/queue", timeout=15)
        running, pending = queue.get("queue_running") or [], queue.get("queue_pending") or []
        if not isinstance(running, list) or not isinstance(pending, list):
            raise not_comfyui(self.url, "GET /queue", json.dumps(queue))
        return len(running) + len(pending)

    async def upload_image(self, data: bytes, filename: str, subfolder: str = "", overwrite: bool = True) -> str:
        """POST /upload/image; the value a LoadImage ``image`` widget takes for the stored file."""
        form = self._aiohttp.FormData()
        form.add_field("image", data, filename=filename, content_type="image/png")
        form.add_field("type", "input")
        form.add_field("subfolder", subfolder)
        form.add_field("overwrite", "true" if overwrite else "false")
        status, body = await self.request("POST", "/upload/image", data=form)
        if status != 200:
            raise ClientError(EXIT_SERVER, f"upload of {filename} to {self.url} failed: HTTP {status} {body[:300]!r}")
        info = parse_json(self.url, "POST /upload/image", body)
        name, subfolder = info.get("name"), info.get("subfolder") or ""
        if not isinstance(name, str) or not name or not isinstance(subfolder, str):
            raise not_comfyui(self.url, "POST /upload/image", body)
        return f"{subfolder}/{name}" if subfolder else name

    async def view(self, ref: dict) -> bytes:
        """The bytes of an image reference ({filename, subfolder, type}) from a history entry."""
        params = {"filename": str(ref["filename"]), "subfolder": str(ref.get("subfolder", "")),
                  "type": str(ref.get("type", "output"))}
        status, body = await self.request("GET", "/view", params=params)
        if status != 200:
            raise ClientError(EXIT_SERVER, f"GET /view {ref['filename']} on {self.url}: HTTP {status}")
        return body

    async def free(self) -> None:
        """POST /free: unload models and free memory (the next prompt reloads them)."""
        await self.post_json("/free", {"unload_models": True, "free_memory": True})

    async def interrupt(self, forget: list[str] | None = None) -> None:
        """Stop the running prompt and drop ``forget`` (prompt ids) from the queue; best effort."""
        try:
            await self.post_json("/interrupt", {}, timeout=10)
            if forget:
                await self.post_json("/queue", {"delete": forget}, timeout=10)
        except ClientError:
            pass

    # ------------------------------------------------------------------------------------- prompts
    async def post_prompt(self, graph: dict) -> str:
        """Queue an API-format graph; its prompt id. Rejected -> ClientError(EXIT_REJECTED), details = answer."""
        status, body = await self.post_json("/prompt", {"prompt": graph, "client_id": self.client_id})
        text = body.decode("utf-8", "replace")
        try:
            answer = json.loads(text)
        except (ValueError, RecursionError):
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status == 200 and not answer.get("node_errors") and not isinstance(answer.get("prompt_id"), str):
            raise not_comfyui(self.url, "POST /prompt", body)
        # A 200 that still lists node_errors means ComfyUI dropped the invalid outputs and runs the rest.
        if status != 200 or answer.get("node_errors") or "prompt_id" not in answer:
            raise ClientError(EXIT_REJECTED, "the server rejected the prompt:\n" + format_rejection(answer, text, graph),
                              details={"status": status, **answer})
        pid = answer["prompt_id"]
        self._events[pid] = asyncio.Queue()
        for event in self._early.pop(pid, []):
            self._events[pid].put_nowait(event)
        self._graphs[pid] = graph
        return pid

    async def history(self, pid: str) -> dict | None:
        data = await self.get_json(f"/history/{pid}")
        entry = data.get(pid)
        if entry is not None and (not isinstance(entry, dict) or not isinstance(entry.get("status") or {}, dict)):
            raise not_comfyui(self.url, f"GET /history/{pid}", json.dumps(data))
        return entry

    async def listen(self) -> bool:
        """Open the websocket (progress and completion events); False when the server offers none."""
        if self._ws is not None:
            return True
        url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + f"/ws?clientId={self.client_id}"
        try:
            self._ws = await self._http.ws_connect(url, heartbeat=30, max_msg_size=0)
        except (self._aiohttp.ClientError, OSError, asyncio.TimeoutError):
            return False
        self._reader = asyncio.create_task(self._read_ws())
        return True

    async def _read_ws(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type != self._aiohttp.WSMsgType.TEXT:
                    continue  # binary previews
                try:
                    event = json.loads(msg.data)
                except (ValueError, RecursionError):
                    continue
                if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                    continue  # not a ComfyUI event
                if not isinstance(event.get("data"), dict):
                    event["data"] = {}
                pid = event["data"].get("prompt_id")
                if not isinstance(pid, str):
                    continue
                if pid in self._events:
                    self._events[pid].put_nowait(event)
                elif pid:
                    self._early.setdefault(pid, []).append(event)
        finally:
            self._ws = None
            for queue in self._events.values():
                queue.put_nowait({"type": WS_CLOSED, "data": {}})

    async def wait(self, pid: str, label: str, timeout: float, on_progress: Progress | None = None) -> dict:
        """The history entry of a finished prompt. Errors on the server, interrupts and timeouts raise."""
        deadline = time.monotonic() + timeout
        live = pid in self._events and (self._ws is not None or not self._events[pid].empty())
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientError(EXIT_TIMEOUT, f"{label}: no result after {timeout:.0f} s (prompt {pid} on {self.url})")
            if not live:
                entry = await self.history(pid)
                if _completed(entry):
                    return self._finished(entry, pid, label)
                await asyncio.sleep(min(0.25, remaining))
                continue
            try:
                event = await asyncio.wait_for(self._events[pid].get(), min(remaining, 5.0))
            except asyncio.TimeoutError:
                event = None  # quiet for a while: look at /history in case an event was missed
            if event is None or event["type"] == WS_CLOSED:
                live = event is None
                entry = await self.history(pid)
                if _completed(entry):
                    return self._finished(entry, pid, label)
                continue
            kind, data = event["type"], event.get("data") or {}
            if kind == "progress" and on_progress is not None:
                node = self._graphs.get(pid, {}).get(str(data.get("node")), {})
                on_progress({"label": label, "node": node.get("class_type", data.get("node")),
                             "value": data.get("value"), "max": data.get("max")})
            elif kind == "execution_error":
                raise ClientError(EXIT_EXECUTION, format_execution_error(data, label), details=data)
            elif kind == "execution_interrupted":
                raise ClientError(EXIT_INTERRUPTED, f"{label}: the run was interrupted on the server "
                                  f"(at node {data.get('node_id')} {data.get('node_type', '')}).", details=data)
            elif kind == "executing" and data.get("node") is None:
                entry = await self.history(pid)
                while entry is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    entry = await self.history(pid)
                if entry is None:
                    continue
                return self._finished(entry, pid, label)

    def _finished(self, entry: dict, pid: str, label: str) -> dict:
        self._events.pop(pid, None)
        self._graphs.pop(pid, None)
        status = entry.get("status") or {}
        messages = status.get("messages") if isinstance(status, dict) else None
        outputs = entry.get("outputs") or {}
        if not isinstance(status, dict) or not isinstance(messages or [], list) or not isinstance(outputs, dict) \
                or not all(isinstance(m, (list, tuple)) and len(m) == 2 for m in messages or []):
            raise not_comfyui(self.url, f"GET /history/{pid}", json.dumps(entry)[:200])
        for name, data in messages or []:
            data = data if isinstance(data, dict) else {}
            if name == "execution_error":
                raise ClientError(EXIT_EXECUTION, format_execution_error(data, label), details=data)
            if name == "execution_interrupted":
                raise ClientError(EXIT_INTERRUPTED, f"{label}: the run was interrupted on the server.", details=data)
        if status.get("status_str") == "error" or not status.get("completed", True):
            raise ClientError(EXIT_EXECUTION, f"{label}: the server reports an error for prompt {pid}",
                              details=status)
        return entry


class BlockingSession:
    """``ComfySession`` for synchronous code: every coroutine method becomes a plain call that runs on this
    object's own event loop (so it must not be used from inside a running loop). ``close()`` when done."""

    def __init__(self, url: str, **kwargs):
        self._loop = asyncio.new_event_loop()
        self._session = ComfySession(url, **kwargs)
        self._loop.run_until_complete(self._session.__aenter__())

    @property
    def url(self) -> str:
        return self._session.url

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._session.close())
            self._loop.close()

    def __enter__(self) -> "BlockingSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _blocking(name: str):
    """ComfySession.<name> as a plain call on the BlockingSession's own loop."""
    method = getattr(ComfySession, name)

    def call(self, *args, **kwargs):
        return self._loop.run_until_complete(method(self._session, *args, **kwargs))

    call.__name__, call.__qualname__, call.__doc__ = name, f"BlockingSession.{name}", method.__doc__
    return call


# Every request ComfySession makes, each a named method of BlockingSession (listed, so readers and tools see them).
for _name in ("request", "get_json", "post_json", "check", "object_info", "queue_length", "upload_image", "view",
              "free", "interrupt", "post_prompt", "history", "listen", "wait"):
    setattr(BlockingSession, _name, _blocking(_name))
del _name
