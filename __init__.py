"""ACE++ for ComfyUI: instruction-based image creation and editing on FLUX.1-Fill-dev (LCU++).

Importing this package registers nodes and nothing else: no network, no file writes, no model loading.
The node modules are imported when ComfyUI asks for the extension, so this file also imports cleanly
outside ComfyUI (pytest collects the repository root as a package while testing lcu/). Then, too, the pack
adds its one HTTP route (POST /acepp/plan, the canvas layout for the frontend's preview: nodes/routes.py) to
the running server's routes.
Node IDs (stable forever, prefixed ACEPP_) are listed in nodes/__init__.py.
"""

WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import AcePlusExtension
    from .nodes.routes import register_routes

    register_routes()
    return AcePlusExtension()


__all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
