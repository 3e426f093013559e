"""The result node: from the decoded canvas to the user's image at its original size."""
from comfy_api.v0_0_2 import io

from ..lcu.errors import AcePlusError
from ..lcu.fixes import set_to
from ..lcu.stitch import stitch
from .schema import Schema
from .types import CATEGORY, Layout
from .validation import checked


class Stitch(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_Stitch",
            display_name="ACE++ Stitch Result",
            category=CATEGORY,
            search_aliases=("stitch", "paste back", "crop and stitch", "inpaint stitch", "composite", "face swap",
                            "try-on"),
            description="Cuts the exact target panel out of the decoded canvas and returns it at the size the user "
                        "asked for. For edits it is composited into the original edit image through the mask: "
                        "every pixel outside the (grown, feathered) blend mask is the original, bit for bit.",
            inputs=[
                io.Image.Input("image", tooltip="The decoded canvas (VAE Decode after the sampler)."),
                Layout.Input("layout", tooltip="The layout from the ACE++ Canvas node that built this canvas."),
                io.Int.Input("grow", default=0, min=-256, max=256, step=1,
                             tooltip="Edits only: grow (>0) or shrink (<0) the blend mask by this many pixels."),
                io.Int.Input("feather", default=0, min=0, max=256, step=1,
                             tooltip="Edits only: soften the blend mask edge over about this many pixels."),
                io.Boolean.Input("color_match", default=False,
                                 tooltip="Edits only: correct the generated region's colours by the drift the model "
                                         "showed on the unmasked context around it."),
            ],
            outputs=[
                io.Image.Output(display_name="image",
                                tooltip="The result at the target's full size: the generated image, or for edits the "
                                        "original with the generated area blended in (unchanged outside blend_mask)."),
                io.Mask.Output(display_name="blend_mask",
                               tooltip="The mask the result was blended through, at the target's size (grown, "
                                       "feathered, 0 outside the region the model saw; all ones for generation)."),
            ],
        )

    @classmethod
    @checked
    def execute(cls, image, layout, grow, feather, color_match) -> io.NodeOutput:
        result, blend = stitch(image, layout, grow=grow, feather=feather, color_match=color_match)
        if grow < 0 and layout.source is not None and not bool(blend.any()):
            # lcu's stitch of a mask shrunk to nothing is the edit image itself; handed to the user, that is the
            # whole sampling thrown away without a word.
            raise AcePlusError(f"grow {grow} shrinks the blend mask to nothing, so the result would be the edit "
                               f"image unchanged; {set_to(grow=0)} (or shrink less than the masked area is wide).")
        return io.NodeOutput(result, blend)
