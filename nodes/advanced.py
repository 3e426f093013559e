"""Which inputs of each node are advanced: the widgets few people change, which current frontends fold under
*Show advanced inputs*. Data only, no ComfyUI import: the schemas mark these inputs where the core can
(schema.py: Schema), and the generator marks them in the help pages' input tables on every core."""

ADVANCED: dict[str, tuple[str, ...]] = {
    "ACEPP_LoraLoader": ("on_mismatch",),
    "ACEPP_FFTLoader": (),
    "ACEPP_AddReference": (),
    "ACEPP_CanvasBuilder": ("keep_pixels_rate", "reference_share", "resampling", "merge_distance", "min_region_area",
                            "max_regions", "panel_width", "panel_height"),
    "ACEPP_ControlMap": ("mosaic_cell", "canny_low", "canny_high"),
    "ACEPP_FillConditioning": ("noise_mask",),
    "ACEPP_FFTConditioning": ("noise_mask",),
    "ACEPP_Stitch": (),
    "ACEPP_Outpaint": (),
}
