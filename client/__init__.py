"""ACE++ headless client: runs the pack's bundled workflows through ComfyUI's HTTP API.

Ships inside the node pack and runs with ComfyUI's own Python (`python <pack folder>/client --help`); it
imports nothing of ComfyUI and needs only the standard library, aiohttp and Pillow (both ship with ComfyUI).
Modules: errors (the one error type and exit codes), catalog (bundled workflows and their named inputs),
graph (API-graph editing), images (files, masks, PNG), jobs (frozen job records), session (the one
ComfyUI HTTP/websocket session), scheduler (a batch over one or more servers), process (a ComfyUI child
process), cli (the command line).
"""
