"""ComfyUI inside this process (the tests' in-process harness and the benchmarks): direct node calls and whole
graphs through its own executor.

Start-up order matters and mirrors main.py:
1. ComfyUI's root goes first on sys.path, as main.py has it. This is the project's one sys.path edit: the pack
   itself is imported as the package ``aceplusplus`` (tools/runtime.sh) and its repository root is never on
   the path, so the pack's ``nodes`` package cannot shadow ComfyUI's ``nodes`` module.
2. ``comfy.cli_args.args`` is edited *before* ``folder_paths`` / ``comfy.model_management`` are imported:
   both read it at import time (base directory, CPU device). Without ``comfy.options.enable_args_parsing()``
   ComfyUI parses an empty argv, so pytest's own arguments never reach it.
3. ``utils.extra_config`` is imported before ``nodes``: nodes.py puts ``<root>/comfy`` first on
   sys.path, after which ``import utils`` finds ``comfy/utils.py`` instead of ComfyUI's ``utils`` package.
4. ``nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False)`` loads comfy_extras and the
   custom_nodes folder (the pack, linked as custom_nodes/aceplusplus).

Graphs run through ``execution.validate_prompt`` + ``execution.PromptExecutor`` exactly as the server's
prompt worker drives them; the executor only needs a server object with ``client_id``, ``last_node_id``,
``send_sync``, ``queue_updated`` and ``sockets_metadata`` (:class:`HarnessServer`).
ComfyUI's warnings (e.g. ``lora key not loaded: <key>``) go to the root logger, so pytest's ``caplog``
sees them.
"""
from __future__ import annotations

import asyncio
import copy
import gc
import inspect
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

from .comfy_process import PACK_LINK_NAME, PACK_MODULE, BaseLayout, ComfySetupError, comfy_root, make_base

CLIENT_ID = "acepp-harness"


class GraphValidationError(AssertionError):
    """ComfyUI rejected a graph (what the server answers with HTTP 400): ``error`` and ``node_errors``."""

    def __init__(self, error: dict, node_errors: dict):
        self.error = error
        self.node_errors = node_errors
        super().__init__(format_validation(error, node_errors))


class GraphExecutionError(AssertionError):
    """A node raised while the graph ran: ``details`` is ComfyUI's execution_error message."""

    def __init__(self, details: dict):
        self.details = details
        tb = "".join(details.get("traceback") or [])
        super().__init__(f"node {details.get('node_id')} ({details.get('node_type')}) failed: "
                         f"{details.get('exception_type')}: {details.get('exception_message')}\n{tb}")


def format_validation(error: dict | None, node_errors: dict | None) -> str:
    """One readable text for a validation failure (the prompt error plus every node error)."""
    lines = []
    if error:
        lines.append(f"{error.get('type')}: {error.get('message')} {error.get('details') or ''}".rstrip())
    for node_id, info in (node_errors or {}).items():
        for err in info.get("errors", []):
            lines.append(f"  node {node_id} ({info.get('class_type')}): {err.get('type')}: "
                         f"{err.get('message')}: {err.get('details')}")
    return "\n".join(lines) or "invalid prompt"


class HarnessServer:
    """Stand-in for ``server.PromptServer`` with what execution.py and progress reporting call."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata: dict = {}
        self.messages: list[tuple[Any, Any]] = []
        try:  # custom nodes may register HTTP routes at import time
            from aiohttp import web
            self.routes = web.RouteTableDef()
        except ImportError:  # pragma: no cover - aiohttp is a ComfyUI requirement
            self.routes = None
        try:  # cores since about 0.10: comfy_extras/nodes_replacements.py registers node replacements here
            from app.node_replace_manager import NodeReplaceManager
            self.node_replace_manager = NodeReplaceManager()
        except ImportError:
            pass

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def send_progress_text(self, text, node_id, sid=None):
        self.messages.append(("progress_text", {"node": node_id, "text": text}))

    def queue_updated(self):
        pass


class NodeHandle:
    """A registered node class, callable directly: ``handle(**inputs) -> tuple`` of its outputs."""

    def __init__(self, comfy: "InProcessComfy", class_id: str):
        self.comfy = comfy
        self.class_id = class_id
        self.cls = comfy.node_class(class_id)

    @property
    def is_v3(self) -> bool:
        from comfy_api.internal import _ComfyNodeInternal
        return inspect.isclass(self.cls) and issubclass(self.cls, _ComfyNodeInternal)

    def input_types(self) -> dict:
        return self.cls.INPUT_TYPES()

    def raw(self, hidden: dict | None = None, **inputs):
        """Run the node as the executor does; return what it returns (V3: NodeOutput, V1: tuple or dict)."""
        import torch

        if self.is_v3:
            from comfy_api.internal import make_locked_method_func
            self.cls.VALIDATE_CLASS()
            clone = self.cls.PREPARE_CLASS_CLONE(hidden or {})
            fn = make_locked_method_func(self.cls, self.cls.FUNCTION, clone)
        else:
            fn = getattr(self.cls(), self.cls.FUNCTION)
        with torch.inference_mode():
            result = fn(**inputs)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
        return result

    def __call__(self, hidden: dict | None = None, **inputs) -> tuple:
        result = self.raw(hidden, **inputs)
        return _as_tuple(result)


async def _await(awaitable):
    return await awaitable


def _as_tuple(result) -> tuple:
    from comfy_api.latest import io

    if isinstance(result, io.NodeOutput):
        return tuple(result.result or ())
    if isinstance(result, dict):
        return tuple(result.get("result") or ())
    if result is None:
        return ()
    return tuple(result)


class InProcessComfy:
    """One ComfyUI per process (module-level singletons inside ComfyUI forbid a second one)."""

    def __init__(self, layout: BaseLayout, startup_log: str, extras_failed: list[str]):
        import execution
        import folder_paths
        import nodes

        self.layout = layout
        self.nodes = nodes
        self.execution = execution
        self.folder_paths = folder_paths
        self.startup_log = startup_log
        self.extras_failed = extras_failed
        self.server = HarnessServer()
        self.executor = execution.PromptExecutor(self.server, cache_type=execution.CacheType.CLASSIC,
                                                 cache_args={"lru": 0, "ram": 0, "ram_inactive": 0})
        self.last_messages: list = []

    # ---------------------------------------------------------------- folders
    @property
    def input_dir(self) -> Path:
        return Path(self.folder_paths.get_input_directory())

    @property
    def output_dir(self) -> Path:
        return Path(self.folder_paths.get_output_directory())

    # ---------------------------------------------------------------- nodes
    def node_class(self, class_id: str):
        try:
            return self.nodes.NODE_CLASS_MAPPINGS[class_id]
        except KeyError:
            raise KeyError(f"no node {class_id!r} registered in ComfyUI") from None

    def node(self, class_id: str) -> NodeHandle:
        """A callable handle on a registered node (V1 or V3)."""
        return NodeHandle(self, class_id)

    def call(self, class_id: str, hidden: dict | None = None, **inputs) -> tuple:
        """Run one node directly with Python values; return its outputs as a tuple (V1 and V3 alike)."""
        return NodeHandle(self, class_id)(hidden, **inputs)

    @property
    def pack_loaded(self) -> bool:
        return PACK_LINK_NAME in self.nodes.LOADED_MODULE_DIRS

    def pack_node_ids(self) -> list[str]:
        """Node ids ComfyUI registered from custom_nodes/aceplusplus."""
        return sorted(k for k, v in self.nodes.NODE_CLASS_MAPPINGS.items()
                      if getattr(v, "RELATIVE_PYTHON_MODULE", None) == PACK_MODULE)

    def pack_module(self):
        """The pack's root module as ComfyUI imported it (its name is the directory path)."""
        path = str(self.layout.custom_nodes / PACK_LINK_NAME)
        return sys.modules.get(path.replace(".", "_x_"))

    def pack_declared_node_ids(self) -> list[str]:
        """Node ids the pack itself declares (V3 comfy_entrypoint node list, or V1 NODE_CLASS_MAPPINGS)."""
        return declared_node_ids(self.pack_module())

    def require_pack(self) -> None:
        """Fail with ComfyUI's import log unless the pack loaded and registered nodes."""
        if not self.pack_loaded or not self.pack_node_ids():
            raise AssertionError("the pack did not load into ComfyUI; start-up log:\n" + self.startup_log[-8000:])

    # ---------------------------------------------------------------- graphs
    def validate(self, prompt: dict) -> list[str]:
        """Validate an API-format graph; return the output node ids or raise GraphValidationError."""
        valid, error, outputs, node_errors = asyncio.run(
            self.execution.validate_prompt(str(uuid.uuid4()), prompt, None))
        if not valid:
            raise GraphValidationError(error, node_errors)
        return outputs

    def run_graph(self, prompt: dict, *, keep_cache: bool = False, extra_data: dict | None = None) -> dict:
        """Validate and execute an API-format graph; return ``{output node id: ui dict}`` (e.g. images).

        keep_cache=False drops every cached node output and unloads models afterwards (memory back);
        keep_cache=True keeps them so :meth:`cached_output` can read intermediate values and a following
        graph reuses loaded models, as a running server would.
        """
        prompt = copy.deepcopy(prompt)
        outputs = self.validate(prompt)
        prompt_id = str(uuid.uuid4())
        self.server.messages = []
        self.server.last_prompt_id = prompt_id
        data = {"client_id": CLIENT_ID, **(extra_data or {})}
        try:
            self.executor.execute(prompt, prompt_id, data, outputs)
            self.last_messages = list(self.executor.status_messages)
            if not self.executor.success:
                errors = [d for event, d in self.executor.status_messages if event == "execution_error"]
                details = errors[-1] if errors else {"exception_message": "execution failed without an error message"}
                raise GraphExecutionError(details)
            return copy.deepcopy(self.executor.history_result["outputs"])
        finally:
            if not keep_cache:
                self.free()

    def cached_output(self, node_id: str) -> tuple:
        """Outputs of a node of the last graph run with keep_cache=True (first item of each output)."""
        entry = self.executor.caches.outputs.get(str(node_id))
        if inspect.isawaitable(entry):  # the cache's get is a coroutine on current cores
            entry = asyncio.run(entry)
        if entry is None:
            raise KeyError(f"node {node_id} has no cached output (run the graph with keep_cache=True)")
        return tuple(o[0] if isinstance(o, list) and len(o) == 1 else o for o in entry.outputs)

    def image_paths(self, ui_outputs: dict) -> list[Path]:
        """Files behind the ``images`` entries of run_graph's result."""
        paths = []
        for ui in ui_outputs.values():
            for ref in ui.get("images", []):
                folder = Path(self.folder_paths.get_directory_by_type(ref.get("type", "output")))
                paths.append(folder / ref.get("subfolder", "") / ref["filename"])
        return paths

    def free(self) -> None:
        """Drop the executor's caches, unload models, collect garbage."""
        import comfy.model_management as mm

        self.executor.reset()
        mm.unload_all_models()
        gc.collect()
        mm.soft_empty_cache()


def declared_node_ids(module) -> list[str]:
    """Node ids a custom-node module declares, without ComfyUI's registry (V3 entrypoint or V1 mapping)."""
    if module is None:
        return []
    if getattr(module, "NODE_CLASS_MAPPINGS", None):
        return sorted(module.NODE_CLASS_MAPPINGS)
    entry = getattr(module, "comfy_entrypoint", None)
    if entry is None:
        return []

    async def collect():
        ext = entry()
        if inspect.isawaitable(ext):
            ext = await ext
        return [cls.GET_SCHEMA().node_id for cls in await ext.get_node_list()]

    return sorted(asyncio.run(collect()))


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        try:
            self.lines.append(record.getMessage())
        except Exception:  # pragma: no cover
            self.lines.append(str(record.msg))


_INSTANCE: InProcessComfy | None = None


def start_inprocess(base: Path, models: Path, pack: Path | None = None, other_packs: tuple[Path, ...] = ()
                    ) -> InProcessComfy:
    """Set ComfyUI up in this process with ``base`` as its base directory; idempotent per process."""
    global _INSTANCE
    if _INSTANCE is not None:
        if _INSTANCE.layout.base != Path(base):
            raise ComfySetupError("ComfyUI is already set up in this process with another base directory")
        return _INSTANCE
    root = comfy_root()
    layout = make_base(Path(base), models, pack, other_packs)
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))

    import comfy.options  # noqa: F401  (args parsing stays disabled: ComfyUI parses [] not pytest's argv)
    from comfy.cli_args import args
    args.cpu = True
    args.base_directory = str(layout.base)
    args.database_url = "sqlite:///:memory:"
    args.disable_auto_launch = True
    args.auto_launch = False

    capture = _Capture()
    root_logger = logging.getLogger()
    root_logger.addHandler(capture)
    old_level = root_logger.level
    if root_logger.level > logging.INFO:
        root_logger.setLevel(logging.INFO)
    try:
        import folder_paths
        import utils.extra_config  # noqa: F401  (before nodes: see module docstring)
        import comfy.model_management  # noqa: F401
        if Path(folder_paths.base_path).resolve() != layout.base.resolve():
            raise ComfySetupError(f"folder_paths was configured for {folder_paths.base_path}, not {layout.base}")
        import server
        import nodes
        import execution  # noqa: F401
        if getattr(server.PromptServer, "instance", None) is None:
            server.PromptServer.instance = HarnessServer()
        extras_failed = asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
    finally:
        root_logger.removeHandler(capture)
        root_logger.setLevel(old_level)
    _INSTANCE = InProcessComfy(layout, "\n".join(capture.lines), list(extras_failed or []))
    return _INSTANCE
