"""Outpainting: the image extended by margins and the mask of the new area, ready for ACE++ Canvas."""
from comfy_api.v0_0_2 import io, ui

from ..lcu.outpaint import DEFAULT_MARGINS, MARGIN_STEP, MAX_MARGIN, SIDES, Margins, extend_image
from .canvas import mask_overlay
from .schema import Schema
from .types import CATEGORY
from .validation import checked

MARGIN_TOOLTIPS = {
    "left": "Pixels of new area to add on the left (multiples of 8).",
    "top": "Pixels of new area to add at the top (multiples of 8).",
    "right": "Pixels of new area to add on the right (multiples of 8).",
    "bottom": "Pixels of new area to add at the bottom (multiples of 8).",
}


def margin_input(side: str) -> io.Int.Input:
    return io.Int.Input(side, default=getattr(DEFAULT_MARGINS, side), min=0, max=MAX_MARGIN, step=MARGIN_STEP,
                        tooltip=MARGIN_TOOLTIPS[side])


class Outpaint(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_Outpaint",
            display_name="ACE++ Extend Image (outpaint)",
            category=CATEGORY,
            search_aliases=("outpaint", "outpainting", "extend", "uncrop", "expand canvas", "pad image"),
            description="Extends an image by the given number of pixels on each side and returns a mask of exactly "
                        "the new area, for ACE++ outpainting. The new area is mid-grey and the mask is 1 there and "
                        "0 on every original pixel, so ACE++ Canvas generates only the new area and ACE++ Stitch "
                        "returns the original pixels bit for bit.",
            inputs=[
                io.Image.Input("image", tooltip="The image to extend."),
                *(margin_input(side) for side in SIDES),
            ],
            outputs=[
                io.Image.Output(display_name="image",
                                tooltip="The extended image (the new area mid-grey): connect to ACE++ Canvas "
                                        "edit_image."),
                io.Mask.Output(display_name="mask",
                               tooltip="1 on the new margins, 0 on the original pixels: connect to ACE++ Canvas "
                                       "mask."),
            ],
        )

    @classmethod
    @checked
    def execute(cls, image, left, top, right, bottom) -> io.NodeOutput:
        extended, mask = extend_image(image, Margins(left=left, top=top, right=right, bottom=bottom))
        # Preview: the extended image with the area ACE++ will generate tinted, as ACE++ Canvas shows its mask.
        return io.NodeOutput(extended, mask, ui=ui.PreviewImage(mask_overlay(extended, mask), cls=cls))
