"""Control maps for ACE++ local editing, computed by the pack itself (no external annotator package)."""
from comfy_api.v0_0_2 import io, ui

from ..lcu.control import CONTROL_KINDS, composite_control, make_control_map
from ..lcu.errors import AcePlusError
from ..lcu.masks import normalize_mask
from .schema import Schema
from .types import CATEGORY
from .validation import checked

EXTERNAL = "external"


class ControlMap(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_ControlMap",
            display_name="ACE++ Control Map",
            category=CATEGORY,
            search_aliases=("control map", "canny", "recolor", "mosaic", "controllable editing", "in-context"),
            description="Turns the masked area of the edit image into a control map for ACE++ controllable "
                        "generation: gray (recolor), mosaic, canny (computed here with kornia), or any map you "
                        "made elsewhere (depth, contour, doodle) with kind = external. The map replaces the image "
                        "only inside the mask; feed the result to ACE++ Canvas as the edit image and use "
                        "repainting_scale 0 so the model sees the map.",
            inputs=[
                io.Image.Input("image", tooltip="The edit image."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Where the control map goes (and what ACE++ will repaint). Empty = whole image."),
                io.Combo.Input("kind", options=list(CONTROL_KINDS) + [EXTERNAL], default="gray",
                               tooltip="gray: recolor. mosaic: pixelation. canny: edges. external: the "
                                       "control_image input as it is."),
                io.Image.Input("control_image", optional=True,
                               tooltip="kind = external: a ready control map (depth, contour, doodle...). Another "
                                       "size with the same aspect ratio is resized to the image."),
                io.Int.Input("mosaic_cell", default=16, min=2, max=256,
                             tooltip="kind = mosaic: cell size in pixels."),
                io.Float.Input("canny_low", default=0.1, min=0.01, max=0.99, step=0.01,
                               tooltip="kind = canny: low hysteresis threshold."),
                io.Float.Input("canny_high", default=0.2, min=0.01, max=0.99, step=0.01,
                               tooltip="kind = canny: high hysteresis threshold."),
            ],
            outputs=[
                io.Image.Output(display_name="edit_image",
                                tooltip="The image with the control map pasted inside the mask (every pixel outside "
                                        "is unchanged). Connect to the edit_image input of ACE++ Canvas."),
                io.Image.Output(display_name="control_map",
                                tooltip="The control map of the whole image, for preview (kind = external: "
                                        "control_image as connected)."),
            ],
        )

    @classmethod
    @checked
    def execute(cls, image, kind, mosaic_cell, canny_low, canny_high, mask=None, control_image=None) -> io.NodeOutput:
        if kind == EXTERNAL:
            if control_image is None:
                raise AcePlusError("kind is 'external' but no control_image is connected; connect your control map "
                                   "(depth, contour, doodle...) or choose gray, mosaic or canny.")
            control = control_image
        else:
            params = {"mosaic": {"cell": mosaic_cell}, "canny": {"low": canny_low, "high": canny_high}}.get(kind, {})
            control = make_control_map(image, kind, **params)
        edited = composite_control(image, control, normalize_mask(mask, image))
        return io.NodeOutput(edited, control, ui=ui.PreviewImage(edited, cls=cls))
