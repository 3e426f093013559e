"""ComfyUI adapters of the pack: thin V3 nodes over lcu/ (the mathematics) and ComfyUI's own machinery.

Importing this package imports nothing of ComfyUI, so tools read `nodes.catalog` without one; the node list
is in `extension.py`, imported when ComfyUI asks for the extension."""
