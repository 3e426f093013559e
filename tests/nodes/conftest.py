"""Shared fixtures of the node tests: the fixture-model names and the pack's modules as ComfyUI loaded them."""
import sys

import pytest

from harness import tool_module


@pytest.fixture(scope="session")
def fx():
    return tool_module("fixtures")


@pytest.fixture(scope="session")
def pack(comfy):
    """pack.models / pack.canvas ...: the pack's nodes/ modules, as imported by ComfyUI at start-up."""
    comfy.require_pack()
    root = comfy.pack_module().__name__

    class Pack:
        def __getattr__(self, name):
            return sys.modules[f"{root}.nodes.{name}"]

    return Pack()
