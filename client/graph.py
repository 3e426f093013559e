"""Editing an API-format graph: find a node, set a widget, the GGUF loader a user asks for, and the one rewrite the
client makes by itself (no T5-XXL on the server)."""
from __future__ import annotations

import json

from .errors import EXIT_INPUT, EXIT_USAGE, ClientError


def parse_assignments(items: list[str], what: str) -> dict[str, str]:
    """NAME=VALUE strings as a dict (the last one wins)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ClientError(EXIT_USAGE, f"{what} '{item}' is not NAME=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def parse_value(text: str):
    """JSON when it parses (numbers, booleans, lists), else the text itself."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def find_node(graph: dict, ref: str) -> str:
    """A node id from an id, a class name that occurs once, or a node title."""
    if ref in graph:
        return ref
    by_class = [nid for nid, n in graph.items() if n["class_type"] == ref]
    if len(by_class) == 1:
        return by_class[0]
    by_title = [nid for nid, n in graph.items() if (n.get("_meta") or {}).get("title") == ref]
    if len(by_title) == 1:
        return by_title[0]
    if len(by_class) > 1:
        raise ClientError(EXIT_INPUT, f"--set: several {ref} nodes ({', '.join(by_class)}); use the node id")
    raise ClientError(EXIT_INPUT, f"--set: no node '{ref}' in the workflow; nodes: "
                      + ", ".join(f"{nid} {n['class_type']}" for nid, n in graph.items()))


def apply_set(graph: dict, assignments: dict[str, str]) -> None:
    """--set NODE.INPUT=VALUE on a widget (never on a link)."""
    for target, text in assignments.items():
        if "." not in target:
            raise ClientError(EXIT_USAGE, f"--set '{target}={text}': write NODE.INPUT=VALUE")
        node_ref, input_name = target.rsplit(".", 1)
        nid = find_node(graph, node_ref)
        node = graph[nid]
        if input_name not in node["inputs"]:
            raise ClientError(EXIT_INPUT, f"--set: node {nid} ({node['class_type']}) has no input '{input_name}'; "
                              f"it has {', '.join(node['inputs'])}")
        if isinstance(node["inputs"][input_name], list):
            raise ClientError(EXIT_INPUT, f"--set: {nid}.{input_name} is a link, not a value")
        node["inputs"][input_name] = parse_value(text)


MODEL_LOADER = "1"  # the diffusion-model loader's node id in every bundled workflow
MODEL_LOADERS = ("UNETLoader", "ACEPP_FFTLoader")
GGUF_LOADER = "UnetLoaderGGUF"  # ComfyUI-GGUF (city96)


def use_gguf_model(graph: dict, unet_name: str) -> None:
    """--gguf: the workflow's model loaded from a GGUF file by ComfyUI-GGUF's Unet Loader (GGUF) instead of its own
    loader, wired the same way (the Notes' advice for 8-12 GB GPUs)."""
    if not unet_name.endswith(".gguf"):
        raise ClientError(EXIT_USAGE, f"--gguf {unet_name}: not a .gguf file; give the name of a GGUF file in the "
                          "server's models/unet (ComfyUI-GGUF lists them)")
    loader = graph.get(MODEL_LOADER, {})
    if loader.get("class_type") not in MODEL_LOADERS:
        raise ClientError(EXIT_INPUT, f"--gguf: node {MODEL_LOADER} of this workflow is not its model loader "
                          f"({loader.get('class_type')})")
    graph[MODEL_LOADER] = {"class_type": GGUF_LOADER, "inputs": {"unet_name": unet_name},
                           "_meta": {"title": "Unet Loader (GGUF)"}}


def combo_options(object_info_node: dict, input_name: str) -> list:
    """The choices of a combo input in /object_info (both the old [list] and the new COMBO forms)."""
    try:
        spec = (object_info_node or {}).get("input", {}).get("required", {}).get(input_name)
        if not spec:
            return []
        options = spec[0] if isinstance(spec[0], list) else (spec[1] or {}).get("options", [])
    except (AttributeError, IndexError, KeyError, TypeError):  # a schema of another shape: no choices known
        return []
    return options if isinstance(options, list) else []


def swap_text_encoder(graph: dict, dual_clip_info: dict) -> str | None:
    """DualCLIPLoader -> CLIPLoader(clip_l, stable_diffusion) when the server has no T5-XXL file for it.
    The only graph rewrite the client ever makes; returns the note to show, or None when nothing changed."""
    for nid, node in graph.items():
        if node["class_type"] != "DualCLIPLoader":
            continue
        t5 = node["inputs"]["clip_name2"]
        if t5 in combo_options(dual_clip_info, "clip_name2"):
            continue
        clip_l = node["inputs"]["clip_name1"]
        graph[nid] = {"inputs": {"clip_name": clip_l, "type": "stable_diffusion", "device": "default"},
                      "class_type": "CLIPLoader",
                      "_meta": {"title": "CLIPLoader (CLIP-L only: no T5-XXL on the server)"}}
        return (f"the server has no {t5}: DualCLIPLoader replaced by CLIPLoader({clip_l}, type stable_diffusion) "
                "(the only graph change; quality needs T5-XXL)")
    return None
