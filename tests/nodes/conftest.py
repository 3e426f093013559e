"""Shared fixtures of the node tests: the fixture-model names and the pack's modules as ComfyUI loaded them."""
import sys

import pytest

from aceplusplus.tools import fixtures


@pytest.fixture(scope="session")
def fx():
    return fixtures


@pytest.fixture(scope="session")
def pack(comfy):
    """pack.models / pack.canvas ...: the pack's nodes/ modules, as imported by ComfyUI at start-up."""
    comfy.require_pack()
    root = comfy.pack_module().__name__

    class Pack:
        def __getattr__(self, name):
            return sys.modules[f"{root}.nodes.{name}"]

    return Pack()
