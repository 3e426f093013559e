"""Canvas nodes: gather references, build the LCU++ canvas and show what the model will receive."""
import torch
from comfy_api.v0_0_2 import io, ui

from ..lcu.canvas import build_canvas
from ..lcu.images import DEFAULT_RESAMPLING, RESAMPLINGS
from ..lcu.regions import (DEFAULT_MAX_REGIONS, DEFAULT_MERGE_DISTANCE, DEFAULT_MIN_REGION_AREA, DEFAULT_REGION_MODE,
                           MAX_REGIONS, REGION_MODES)
from ..lcu.sizing import (DEFAULT_KEEP_PIXELS_RATE, DEFAULT_REFERENCE_SHARE, DEFAULT_TOKEN_BUDGET, MAX_TOKEN_BUDGET,
                          MIN_REFERENCE_SHARE, REFERENCE_SIZINGS)
from .schema import Schema
from .types import CATEGORY, Layout, References
from .validation import checked

MASK_TINT = torch.tensor([1.0, 0.1, 0.1])


def mask_overlay(canvas: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The canvas with the area to generate tinted red and the panel boundaries visible."""
    m = mask.unsqueeze(-1) * 0.55
    return canvas * (1.0 - m) + MASK_TINT.to(canvas) * m


def canvas_settings(width, height, token_budget, reference_sizing, keep_pixels_rate, crop_to_context, context_margin,
                    reference_share, resampling, regions) -> dict:
    """The canvas node's widget values as lcu's canvas settings (build_canvas and the layout preview's plan)."""
    return dict(
        target_size=(width, height), token_budget=token_budget, reference_sizing=reference_sizing,
        keep_pixels_rate=keep_pixels_rate, reference_share=reference_share, resampling=resampling, regions=regions,
        # Several regions are always cropped to their context (the regions tooltip says so).
        context_margin=context_margin if crop_to_context or regions != DEFAULT_REGION_MODE else None,
    )


class AddReference(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_AddReference",
            display_name="ACE++ Add Reference",
            category=CATEGORY,
            search_aliases=("multiple references", "reference list", "multi reference"),
            description="Appends a reference image to a list of references. Chain several of these to give ACE++ "
                        "any number of references; they appear left to right on the canvas in chain order.",
            inputs=[
                io.Image.Input("image", tooltip="The reference image (a face, a subject, a garment, a logo...)."),
                References.Input("references", optional=True,
                                 tooltip="References added so far (from another ACE++ Add Reference); leave empty "
                                         "to start a new list."),
            ],
            outputs=[References.Output(display_name="references",
                                       tooltip="The references so far plus this image. Connect to ACE++ Canvas "
                                               "more_references, or to another ACE++ Add Reference.")],
        )

    @classmethod
    @checked
    def execute(cls, image, references=None) -> io.NodeOutput:
        return io.NodeOutput(tuple(references or ()) + (image,))


class CanvasBuilder(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_CanvasBuilder",
            display_name="ACE++ Canvas (LCU++)",
            category=CATEGORY,
            search_aliases=("in-context", "in-context editing", "try-on", "virtual try-on", "face swap", "logo paste",
                            "subject", "portrait", "reference canvas", "crop to context", "multi region"),
            advanced=("keep_pixels_rate", "reference_share", "resampling", "merge_distance", "min_region_area",
                      "max_regions"),
            description="Builds the ACE++ LCU++ input: references on the left at the target height, the target on "
                        "the right, one token budget over the whole canvas, every side on the 16 px grid. Without "
                        "an edit image the target is a grey panel of width x height with a full mask (reference "
                        "generation). Outputs the canvas, its mask (0 on references, 1 where to generate) and the "
                        "layout record that ACE++ Stitch uses to return the result at full size. With regions set to "
                        "connected_components or mask_batch, several areas of one photo each get their own crop, "
                        "one canvas per region in one batch.",
            inputs=[
                io.Image.Input("reference", optional=True,
                               tooltip="One reference image, placed first (leftmost)."),
                References.Input("more_references", optional=True,
                                 tooltip="Further references from ACE++ Add Reference, placed after `reference`."),
                io.Image.Input("edit_image", optional=True,
                               tooltip="The image to edit. Leave empty for reference generation (then width and "
                                       "height set the size of the new image)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Where to generate on the edit image (1 = generate). Empty, all-zero or "
                                      "LoadImage's placeholder = the whole image. A mask of another size with the "
                                      "same aspect ratio is resized; another aspect ratio is an error."),
                io.Int.Input("width", default=1024, min=16, max=8192, step=1,
                             tooltip="Width of the image to generate when there is no edit image (exactly this "
                                     "size comes out of ACE++ Stitch)."),
                io.Int.Input("height", default=1024, min=16, max=8192, step=1,
                             tooltip="Height of the image to generate when there is no edit image."),
                io.Int.Input("token_budget", default=DEFAULT_TOKEN_BUDGET, min=64, max=MAX_TOKEN_BUDGET, step=64,
                             tooltip="Most FLUX tokens (16x16 px cells) for the WHOLE canvas, references included. "
                                     "4096 = a 1024x1024 canvas. Larger is sharper but slower and needs more "
                                     "memory; the canvas is only ever shrunk, never enlarged."),
                io.Combo.Input("reference_sizing", options=list(REFERENCE_SIZINGS), default="resize",
                               tooltip="resize: each reference is scaled to the target height (ACE++ LoRAs). "
                                       "keep_pixels: references keep their pixels, shrunk only when taller than "
                                       "keep_pixels_rate x target height, padded grey (ACE++ FFT model)."),
                io.Float.Input("keep_pixels_rate", default=DEFAULT_KEEP_PIXELS_RATE, min=0.1, max=1.0, step=0.05,
                               tooltip="keep_pixels only: the tallest a reference may be, as a fraction of the "
                                       "target height (0.8 is what the FFT model is stable with)."),
                io.Boolean.Input("crop_to_context", default=False,
                                 tooltip="Edit only a crop of the edit image around the mask (plus context_margin). "
                                         "The token cost then follows the masked area, not the photo, so a small "
                                         "edit on a large photo is generated at full resolution."),
                io.Int.Input("context_margin", default=128, min=0, max=8192, step=8,
                             tooltip="crop_to_context only: pixels of surrounding context kept around the mask's "
                                     "bounding box (clamped to the image)."),
                # Added after the released inputs, optional with defaults: saved workflows stay positional.
                io.Float.Input("reference_share", default=DEFAULT_REFERENCE_SHARE, min=MIN_REFERENCE_SHARE, max=1.0,
                               step=0.05, optional=True,
                               tooltip="The most of the canvas width the references together may take. 1 = no "
                                       "limit (references at full target height, as in the reference "
                                       "implementation). With a wide reference or several references the target "
                                       "gets few tokens and comes out soft: 0.5 keeps the target at least half "
                                       "the canvas; references beyond the share are shrunk, aspect kept, and "
                                       "padded grey top and bottom."),
                io.Combo.Input("resampling", options=list(RESAMPLINGS), default=DEFAULT_RESAMPLING, optional=True,
                               tooltip="How references and the edit image are resized onto the canvas. "
                                       "antialiased (default): smooth, no aliasing on fine detail (bilinear with "
                                       "antialiasing when shrinking, bicubic when enlarging). nearest-exact: copies "
                                       "the nearest pixel, as the reference implementation and ACE++'s training "
                                       "do; choose it to match training-time inputs exactly."),
                io.Combo.Input("regions", options=list(REGION_MODES), default=DEFAULT_REGION_MODE, optional=True,
                               tooltip="How the mask becomes regions to edit. one: a single target (the whole "
                                       "image, or one crop with crop_to_context). connected_components: each "
                                       "separate area of the mask is its own region (three faces, several logos). "
                                       "mask_batch: each mask of a batch is one region of the same photo. Several "
                                       "regions are each cropped to their context (context_margin, whatever "
                                       "crop_to_context says), widened to one common aspect, resized to one "
                                       "target panel and sampled together as one batch (one canvas per region); "
                                       "ACE++ Stitch puts every region back into the one photo. A reference batch "
                                       "of 1 serves every region; a batch of N gives reference i to region i."),
                io.Int.Input("merge_distance", default=DEFAULT_MERGE_DISTANCE, min=0, max=8192, step=1, optional=True,
                             tooltip="connected_components only: areas of the mask closer than about this many "
                                     "pixels join into one region (measured on a grid of cells of a sixteenth of "
                                     "this distance, and of long side / 512 px on photos over 512 px)."),
                io.Int.Input("min_region_area", default=DEFAULT_MIN_REGION_AREA, min=0, max=1 << 26, step=1,
                             optional=True,
                             tooltip="connected_components only: areas of the mask with fewer pixels than this "
                                     "(at or above 0.5) are specks and are left unchanged."),
                io.Int.Input("max_regions", default=DEFAULT_MAX_REGIONS, min=1, max=MAX_REGIONS, step=1,
                             optional=True,
                             tooltip="Several regions only: the most regions one run may sample (each is one "
                                     "canvas of the batch, so memory and time grow with it). More is an error "
                                     "that says how many the mask gives."),
            ],
            outputs=[
                io.Image.Output(display_name="canvas",
                                tooltip="The LCU++ canvas: references on the left, the target on the right, within "
                                        "token_budget. Connect to the canvas input of ACE++ Fill/FFT Conditioning."),
                io.Mask.Output(display_name="canvas_mask",
                               tooltip="Where the model generates: 1 on the target's (binarised) mask, 0 on every "
                                       "reference. Connect to the canvas_mask input of ACE++ Fill/FFT Conditioning."),
                Layout.Output(display_name="layout",
                              tooltip="Where every panel sits (and, with several regions, where each region's canvas "
                                      "goes back), plus the original edit image and mask. Connect to ACE++ Stitch to "
                                      "get the result back at full size."),
            ],
        )

    @classmethod
    @checked
    def execute(cls, width, height, token_budget, reference_sizing, keep_pixels_rate, crop_to_context,
                context_margin, reference=None, more_references=None, edit_image=None, mask=None,
                reference_share=DEFAULT_REFERENCE_SHARE, resampling=DEFAULT_RESAMPLING, regions=DEFAULT_REGION_MODE,
                merge_distance=DEFAULT_MERGE_DISTANCE, min_region_area=DEFAULT_MIN_REGION_AREA,
                max_regions=DEFAULT_MAX_REGIONS) -> io.NodeOutput:
        references = ([reference] if reference is not None else []) + list(more_references or ())
        settings = canvas_settings(width=width, height=height, token_budget=token_budget,
                                   reference_sizing=reference_sizing, keep_pixels_rate=keep_pixels_rate,
                                   crop_to_context=crop_to_context, context_margin=context_margin,
                                   reference_share=reference_share, resampling=resampling, regions=regions)
        canvas = build_canvas(references=references, edit_image=edit_image, mask=mask, **settings,
                              merge_distance=merge_distance, min_region_area=min_region_area, max_regions=max_regions)
        # Preview: the canvas with the area to generate tinted, then the mask itself (exactly what the model gets).
        mask_rgb = canvas.mask.unsqueeze(-1).expand(-1, -1, -1, 3)
        preview = ui.PreviewImage(torch.cat([mask_overlay(canvas.image, canvas.mask), mask_rgb]), cls=cls)
        return io.NodeOutput(canvas.image, canvas.mask, canvas.layout, ui=preview)
