"""ComfyUI adapters of the pack: thin V3 nodes over lcu/ (the mathematics) and ComfyUI's own machinery."""
from typing_extensions import override

from comfy_api.v0_0_2 import ComfyExtension, io

from .canvas import AddReference, CanvasBuilder
from .control import ControlMap
from .conditioning import FFTConditioning, FillConditioning
from .models import FFTLoader, LoraLoader
from .stitch import Stitch

NODES = [LoraLoader, FFTLoader, AddReference, CanvasBuilder, ControlMap, FillConditioning, FFTConditioning, Stitch]


class AcePlusExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
