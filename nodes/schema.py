"""The node-library features of newer ComfyUI cores, used only where the running core's V3 io has them.

Every node of the pack builds its schema through :func:`Schema`, the one place that knows about them:

* ``search_aliases`` (an ``io.Schema`` field; ComfyUI 0.28.2 has it, 0.3.75 not): the frontend's node search
  matches them like the display name, so users find the nodes by what they type ("ACE Plus", "LCU", "try-on").
* ``advanced`` (an ``io.Input`` keyword, reported in the input's definition; 0.28.2 has it, 0.3.75 not): the Vue
  node renderer of frontends from 1.39.0 on folds such an input under the node's "Show advanced inputs" until
  asked for (the classic canvas still draws it). Its widget, socket, name and position stay where they were:
  saved workflows are positional, and an advanced input is still saved, queued and checked like any other.

Both are detected from the core's own io (a Schema field, an Input keyword the Input then reports in its
definition), never from a version number, so the 0.3.x cores (0.3.48 to 0.3.75) load the pack unchanged,
without them.
Left out on purpose: ``essentials_category`` (ComfyUI's own curated Essentials tab; the frontend then shows the
node as an "essentials" node instead of this pack's).
"""
from __future__ import annotations

import copy
import dataclasses

from comfy_api.v0_0_2 import io

from .advanced import ADVANCED

# Every node is found by these, besides its own aliases and its display name.
PACK_ALIASES = ("ACE Plus", "ACE++", "ACE plus plus", "LCU", "LCU++")


def _advanced(inp: io.Input) -> io.Input:
    """A copy of a schema input marked advanced (what ``advanced=True`` in its constructor sets); the input
    itself may be a module constant shared by several nodes."""
    marked = copy.copy(inp)
    marked.advanced = True
    return marked


def _schema_has_search_aliases() -> bool:
    return any(field.name == "search_aliases" for field in dataclasses.fields(io.Schema))


def _inputs_take_advanced() -> bool:
    """True when the core's widget inputs take ``advanced=True`` and report it in their definition, and a copy
    marked by :func:`_advanced` reports it the same."""
    try:
        probes = [io.Boolean.Input("probe", advanced=True), io.Int.Input("probe", advanced=True),
                  io.Float.Input("probe", advanced=True), io.Combo.Input("probe", options=["a"], advanced=True)]
    except TypeError:  # ComfyUI 0.3.x: no such keyword
        return False
    marked = _advanced(io.Boolean.Input("probe"))
    return all(probe.as_dict().get("advanced") is True for probe in [*probes, marked])


SEARCH_ALIASES_SUPPORTED = _schema_has_search_aliases()
ADVANCED_SUPPORTED = _inputs_take_advanced()


# Named like io.Schema on purpose: ComfyUI-Manager's scanner takes a V3 node's id from the node_id="..." of a
# call named Schema inside define_schema (anything else maps the class name instead).
def Schema(*, node_id: str, inputs: list, search_aliases: tuple[str, ...] = (), **fields) -> io.Schema:
    """``io.Schema(node_id=..., inputs=..., **fields)`` plus, where this core has them, the search aliases
    (the pack's own first) and the ``advanced`` mark on the node's inputs named in advanced.py."""
    advanced = ADVANCED[node_id]
    unknown = sorted(set(advanced) - {inp.id for inp in inputs})
    if unknown:
        raise ValueError(f"{node_id}: advanced.py names no input {unknown}")
    if ADVANCED_SUPPORTED:
        inputs = [_advanced(inp) if inp.id in advanced else inp for inp in inputs]
    if SEARCH_ALIASES_SUPPORTED:
        fields["search_aliases"] = list(dict.fromkeys((*PACK_ALIASES, *search_aliases)))
    return io.Schema(node_id=node_id, inputs=list(inputs), **fields)
