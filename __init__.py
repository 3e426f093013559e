"""ACE++ for ComfyUI: instruction-based image creation and editing on FLUX.1-Fill-dev (LCU++).

Importing this package registers nodes and nothing else: no network, no file writes, no model loading.
The node modules are imported when ComfyUI asks for the extension, so this file also imports cleanly
outside ComfyUI (pytest collects the repository root as a package while testing lcu/). Then, too, the pack
adds its one HTTP route (POST /acepp/plan, the canvas layout for the frontend's preview: nodes/routes.py) to
the running server's routes.
Node IDs (stable forever, prefixed ACEPP_) are listed in nodes/extension.py.

On a ComfyUI older than MINIMUM_CORE (without the V3 node API the nodes are written in) the pack registers
nothing, no frontend extension either, and says so in one line of ComfyUI's log.
"""
import importlib.util
import logging

MINIMUM_CORE = "0.3.48"


def missing_core_feature() -> str | None:
    """What the running ComfyUI lacks of the node API the pack uses; None when it has everything, or when this
    is no ComfyUI at all (no `comfy` package: pytest collecting the repository)."""
    if importlib.util.find_spec("comfy") is None:
        return None
    try:
        from comfy_api.v0_0_2 import ComfyExtension, io, ui  # noqa: F401
        for name in ("ComfyNode", "Schema", "NodeOutput"):
            getattr(io, name)
        getattr(ui, "PreviewText")
    except (ImportError, AttributeError) as e:
        return str(e)
    return None


def running_core() -> str:
    try:
        from comfyui_version import __version__
        return __version__
    except ImportError:  # ComfyUI has written its version into comfyui_version.py since 0.3.x
        return "an old ComfyUI without comfyui_version.py"


_MISSING = missing_core_feature()
if _MISSING is None:
    WEB_DIRECTORY = "./web"

    async def comfy_entrypoint():
        from .nodes.extension import AcePlusExtension
        from .nodes.routes import register_routes

        register_routes()
        return AcePlusExtension()

    __all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
else:
    logging.error(f"[ACE++] this node pack needs ComfyUI {MINIMUM_CORE} or newer (its V3 node API); this ComfyUI is "
                  f"{running_core()} ({_MISSING}). Update ComfyUI (ComfyUI-Manager: Update ComfyUI, or `git pull` in "
                  "the ComfyUI folder) and restart: until then no ACE++ node is registered.")
    NODE_CLASS_MAPPINGS: dict = {}  # an explicit "nothing", so ComfyUI adds no warning of its own
    __all__ = ["NODE_CLASS_MAPPINGS"]
