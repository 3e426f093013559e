"""Canvas nodes: gather references, build the LCU++ canvas and show what the model will receive."""
import logging

import torch
from comfy_api.v0_0_2 import io, ui

from ..lcu.canvas import build_canvas
from ..lcu.errors import AcePlusError
from ..lcu.masks import faint_mask_warning
from ..lcu.settings import DEFAULTS, CanvasSettings, setting_choices, setting_range
from .schema import Schema
from .types import CATEGORY, Layout, References
from .validation import checked

log = logging.getLogger(__name__)

MASK_TINT = torch.tensor([1.0, 0.1, 0.1])


def mask_overlay(canvas: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The canvas with the area to generate tinted red and the panel boundaries visible."""
    m = mask.unsqueeze(-1) * 0.55
    return canvas * (1.0 - m) + MASK_TINT.to(canvas) * m


def setting_input(name: str, tooltip: str, optional: bool = False) -> io.Input:
    """The widget of canvas setting `name`, its default and range or choices from the settings record."""
    default, choices, grid = getattr(DEFAULTS, name), setting_choices(name), setting_range(name)
    if choices is not None:
        return io.Combo.Input(name, options=list(choices), default=default, tooltip=tooltip, optional=optional)
    if grid is None:
        return io.Boolean.Input(name, default=default, tooltip=tooltip, optional=optional)
    number = io.Int if isinstance(default, int) else io.Float
    return number.Input(name, default=default, min=grid.min, max=grid.max, step=grid.step, tooltip=tooltip,
                        optional=optional)


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
                              tooltip="Where to generate on the edit image (1 = generate; values at or above 0.5 "
                                      "count as masked). Empty, all-zero, everywhere below 0.5 (a warning says so) "
                                      "or LoadImage's placeholder = the whole image. A mask of another size with the "
                                      "same aspect ratio is resized; another aspect ratio is an error."),
                setting_input("width", tooltip="Width of the image to generate when there is no edit image (exactly "
                                       "this size comes out of ACE++ Stitch)."),
                setting_input("height", tooltip="Height of the image to generate when there is no edit image."),
                setting_input("token_budget", tooltip="Most FLUX tokens (16x16 px cells) for the WHOLE canvas, "
                                       "references included. 4096 = a 1024x1024 canvas. Larger is sharper but slower "
                                       "and needs more memory; the canvas is only ever shrunk, never enlarged."),
                setting_input("reference_sizing", tooltip="resize: each reference is scaled to the target height "
                                       "(ACE++ LoRAs). keep_pixels: references keep their pixels, shrunk only when "
                                       "taller than keep_pixels_rate x target height, padded grey (ACE++ FFT model)."),
                setting_input("keep_pixels_rate", tooltip="keep_pixels only: the tallest a reference may be, as a "
                                       "fraction of the target height (0.8 is what the FFT model is stable with)."),
                setting_input("crop_to_context", tooltip="Edit only a crop of the edit image around the mask (plus "
                                       "context_margin). The token cost then follows the masked area, not the photo, "
                                       "so a small edit on a large photo is generated at full resolution."),
                setting_input("context_margin", tooltip="crop_to_context only: pixels of surrounding context kept "
                                       "around the mask's bounding box (clamped to the image)."),
                # Added after the released inputs, optional with defaults: saved workflows stay positional.
                setting_input("reference_share", optional=True, tooltip="The most of the canvas width the references "
                                       "together may take. 1 = no limit (references at full target height, as in the "
                                       "reference implementation). With a wide reference or several references the "
                                       "target gets few tokens and comes out soft: 0.5 keeps the target at least half "
                                       "the canvas; references beyond the share are shrunk, aspect kept, and padded "
                                       "grey top and bottom."),
                setting_input("resampling", optional=True, tooltip="How references and the edit image are resized "
                                       "onto the canvas. antialiased (default): smooth, no aliasing on fine detail "
                                       "(bilinear with antialiasing when shrinking, bicubic when enlarging). "
                                       "nearest-exact: copies the nearest pixel, as the reference implementation and "
                                       "ACE++'s training do; choose it to match training-time inputs exactly."),
                setting_input("regions", optional=True, tooltip="How the mask becomes regions to edit. one: a single "
                                       "target (the whole image, or one crop with crop_to_context). "
                                       "connected_components: each separate area of the mask is its own region (three "
                                       "faces, several logos). mask_batch: each mask of a batch is one region of the "
                                       "same photo. Several regions are each cropped to their context "
                                       "(context_margin, whatever crop_to_context says), widened to one common "
                                       "aspect, resized to one target panel and sampled together as one batch (one "
                                       "canvas per region); ACE++ Stitch puts every region back into the one photo. A "
                                       "reference batch of 1 serves every region; a batch of N gives reference i to "
                                       "region i."),
                setting_input("merge_distance", optional=True, tooltip="connected_components only: areas of the mask "
                                       "closer than about this many pixels join into one region (measured on a grid "
                                       "of cells of a sixteenth of this distance, and of long side / 512 px on photos "
                                       "over 512 px)."),
                setting_input("min_region_area", optional=True, tooltip="connected_components only: areas of the mask "
                                       "with fewer pixels than this (at or above 0.5) are specks and are left "
                                       "unchanged."),
                setting_input("max_regions", optional=True, tooltip="Several regions only: the most regions one run "
                                       "may sample (each is one canvas of the batch, so memory and time grow with "
                                       "it). More is an error that says how many the mask gives."),
                setting_input("panel_sizing", optional=True, tooltip="How big the panels are. token_budget: as large "
                                       "as token_budget allows (ACE++). fixed_width: every panel panel_width wide, the "
                                       "height from the target's aspect (ICEdit: 512). square: every panel a "
                                       "panel_width square (Insert Anything: 768). equal: every panel panel_width x "
                                       "panel_height (CatVTON-FLUX: 576x768). Square and equal panels widen the crop "
                                       "around the mask to the panel's aspect where the photo allows, so nothing is "
                                       "stretched; token_budget still caps every sizing (all panels shrink together) "
                                       "and reference_share applies to token_budget only."),
                setting_input("panel_width", optional=True, tooltip="fixed_width, square, equal: the width of each "
                                       "panel in pixels (16 px grid)."),
                setting_input("panel_height", optional=True, tooltip="equal only: the height of each panel in pixels "
                                       "(16 px grid)."),
                setting_input("edit_style", optional=True, tooltip="in_place: the target panel is the edit image "
                                       "(or its crop) and the model repaints the masked part. blank_twin (ICEdit): the "
                                       "edit image's crop becomes the last reference panel and the target beside it is "
                                       "blank and wholly generated, its edited twin; ACE++ Stitch blends it back "
                                       "through your mask (the whole image without a mask). One region only."),
                io.Mask.Input("reference_mask", optional=True,
                              tooltip="The object in `reference` (1 = the object; e.g. its Load Image MASK). The "
                                      "reference becomes that object on white, cropped to the mask's box plus a "
                                      "margin (Insert Anything's reference). Must be the reference's size; empty "
                                      "keeps the whole reference."),
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
    def execute(cls, reference=None, more_references=None, edit_image=None, mask=None, reference_mask=None,
                **widgets) -> io.NodeOutput:
        references = ([reference] if reference is not None else []) + list(more_references or ())
        if reference_mask is not None and reference is None:
            raise AcePlusError("reference_mask is connected but reference is not; connect the image the mask was "
                               "painted on to reference, or disconnect reference_mask.")
        # Settings left out (optional inputs an older saved workflow lacks) take the record's defaults.
        settings = CanvasSettings(**widgets)
        canvas = build_canvas(references=references, edit_image=edit_image, mask=mask, reference_mask=reference_mask,
                              **settings.canvas_arguments())
        # Preview: the canvas with the area to generate tinted, then the mask itself (exactly what the model gets).
        mask_rgb = canvas.mask.unsqueeze(-1).expand(-1, -1, -1, 3)
        preview = ui.PreviewImage(torch.cat([mask_overlay(canvas.image, canvas.mask), mask_rgb]), cls=cls).as_dict()
        warning = faint_mask_warning(mask)
        if warning:  # shown on the node (its UI text) and in the server log
            log.warning(warning)
            preview["text"] = [warning]
        return io.NodeOutput(canvas.image, canvas.mask, canvas.layout, ui=preview)
