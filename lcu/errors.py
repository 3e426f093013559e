"""The pack's one user-facing error type, raised by lcu and the nodes alike."""
from __future__ import annotations

PACK = "[ACE++]"


class AcePlusError(ValueError):
    """A user-facing error: the message says what to change; it is shown prefixed with [ACE++]."""

    def __init__(self, message: str):
        super().__init__(f"{PACK} {message}")
