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


@pytest.fixture(scope="session")
def vae_and_prompt(comfy, fx):
    """The fixture VAE and a prompt encoded by the fixture CLIP-L, from stock loaders."""
    clip = comfy.call("CLIPLoader", clip_name=fx.CLIP_L, type="stable_diffusion")[0]
    return comfy.call("VAELoader", vae_name=fx.VAE)[0], comfy.call("CLIPTextEncode", clip=clip, text="a test")[0]
