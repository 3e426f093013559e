"""The pack's ComfyUI extension: the node list ComfyUI registers (node IDs, stable forever, are ACEPP_*)."""
from typing_extensions import override

from comfy_api.v0_0_2 import ComfyExtension, io

from .canvas import AddReference, CanvasBuilder
from .control import ControlMap
from .conditioning import FFTConditioning, FillConditioning
from .loaders import FFTLoader, LoraLoader
from .outpaint import Outpaint
from .stitch import Stitch

NODES = [LoraLoader, FFTLoader, AddReference, CanvasBuilder, ControlMap, FillConditioning, FFTConditioning, Stitch,
         Outpaint]


class AcePlusExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
