"""The one input check every node of the pack runs before its own code, driven by the node's own schema.

ComfyUI 0.3.75 checks INT/FLOAT widget values against min/max only when they are typed into the prompt (not
when they come through a link), lets NaN through, and never checks V3 combo values against their options.
So each node's `execute` is wrapped with :func:`checked`: every input declared in `define_schema` is checked
against its declaration (numbers finite and within min..max, combo values among the options, booleans,
IMAGE and MASK tensors through lcu's one shape check) and the first problem is one `[ACE++]` error naming the
node, the input, the value and the change that fixes it. No node has special cases here.

IMAGE pixels are not read here: lcu checks for NaN in the pixels it reads (the canvas reads only the crop it
shows of what may be a 16 MP photo), so a bad pixel outside that crop costs nothing and stops nothing.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers

from comfy_api.v0_0_2 import io

from ..lcu.errors import AcePlusError
from ..lcu.images import image_problem, mask_problem

MAX_LISTED = 12  # combo choices named in a message; long file lists are cut


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def number_problem(node: str, inp, value, whole: bool) -> str | None:
    lo, hi = _number(getattr(inp, "min", None)), _number(getattr(inp, "max", None))
    kind = "a whole number" if whole else "a number"
    ok_type = isinstance(value, numbers.Integral) if whole else isinstance(value, numbers.Real)
    if isinstance(value, bool) or not ok_type:
        return f"{node}: {inp.id} is {value!r}, not {kind}; set {inp.id} to {kind} between {lo} and {hi}."
    too_low = inp.min is not None and value < inp.min
    too_high = inp.max is not None and value > inp.max
    if not math.isfinite(value) or too_low or too_high:
        return f"{node}: {inp.id} is {_number(value)}; set {inp.id} to {kind} between {lo} and {hi}."
    return None


def combo_problem(node: str, inp, value) -> str | None:
    options = list(inp.options or [])
    if value in options:
        return None
    listed = ", ".join(map(str, options[:MAX_LISTED]))
    if len(options) > MAX_LISTED:
        listed += f", ... ({len(options)} in all)"
    return f"{node}: {inp.id} is {value!r}, which is not one of its choices; choose one of: {listed}."


def input_problem(node: str, inp, value) -> str | None:
    """What is wrong with `value` for the schema input `inp` of `node`, None when it is fine (or not given)."""
    if value is None:
        return None  # an optional input left unconnected: the node decides what that means
    if isinstance(inp, io.Boolean.Input):
        return None if isinstance(value, bool) else f"{node}: {inp.id} is {value!r}; set {inp.id} to true or false."
    if isinstance(inp, io.Int.Input):
        return number_problem(node, inp, value, whole=True)
    if isinstance(inp, io.Float.Input):
        return number_problem(node, inp, value, whole=False)
    if isinstance(inp, io.Combo.Input):
        return combo_problem(node, inp, value)
    if isinstance(inp, io.Image.Input):
        return image_problem(value, f"{inp.id} input of {node}", pixels=False)
    if isinstance(inp, io.Mask.Input):
        return mask_problem(value, f"{inp.id} input of {node}")
    return None


def _shown_name(schema: io.Schema) -> str:
    return schema.display_name or schema.node_id


def display_name(node: type[io.ComfyNode]) -> str:
    """The node as the node library shows it: how every message of the pack names a node."""
    return _shown_name(node.define_schema())


def check_inputs(node: type[io.ComfyNode], values: dict) -> None:
    """Raise the `[ACE++]` error for the first input of `node` whose value its schema does not allow (the schema
    built once per run: this runs before every execute)."""
    schema = node.define_schema()
    for inp in schema.inputs:
        problem = input_problem(_shown_name(schema), inp, values.get(inp.id))
        if problem:
            raise AcePlusError(problem)


def checked(execute):
    """Decorator for a node's `execute` (under @classmethod): the schema check runs first."""
    signature = inspect.signature(execute)
    # An execute that takes its widget values as **settings: checked like named parameters.
    gathered = [p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]

    @functools.wraps(execute)
    def run(cls, *args, **kwargs):
        values = dict(signature.bind(cls, *args, **kwargs).arguments)
        for name in gathered:
            values.update(values.pop(name, {}))
        check_inputs(cls, values)
        return execute(cls, *args, **kwargs)

    return run
