"""How an `[ACE++]` message names a fix that is a widget change: one phrasing, "set <input> to <value>" (several
inputs: "set a to 1 and b to 2"), with a value the widget can hold.

A user types the named value into the widget, and the frontend rounds it onto the widget's grid (min + k * step):
a value off that grid would come back rounded and fail again. So every value a message names is first put on
the grid here (:func:`on_grid`), rounded in the direction that keeps the fix working. tests/test_bad_inputs.py
reads the phrasing back (tests/harness: ``named_settings``), applies it by the widget's own rules from /object_info and
resubmits the job.
"""
from __future__ import annotations

import math


def shown(value) -> str:
    """A widget value as the user types it: true/false, whole numbers plain, other numbers short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def set_to(**values) -> str:
    """'set a to 1' or 'set a to 1 and b to 2' (in the order given)."""
    return "set " + " and ".join(f"{name} to {shown(value)}" for name, value in values.items())


def on_grid(value: float, low: float, step: float, up: bool = True) -> float:
    """The nearest value of the widget grid low + k * step at or above `value` (at or below with up False).

    The float noise of a step such as 0.05 is rounded away, so 0.15000000000000002 comes back as 0.15."""
    steps = (value - low) / step
    k = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    result = low + max(k, 0) * step
    return int(result) if isinstance(low, int) and isinstance(step, int) else round(result, 10)
