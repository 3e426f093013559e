"""ACE++ conditioning: the canvas through ComfyUI's own FLUX Fill path (concat_latent_image + concat_mask).

ComfyUI's Flux model completes the conditioning itself: it appends the 8x8 pixel-unshuffled mask (64
channels) to `concat_latent_image` and sizes that from the model's own img_in. So the Fill model (384 =
4 x (16 noise + 16 image + 64 mask)) gets one latent and the FFT model (448 = 4 x (16 + 16 context +
16 change + 64)) gets two, concatenated. Each node checks the model first, so a mismatch is an error
naming the node to swap instead of a shape error deep inside the sampler.
"""
import torch
from comfy_api.v0_0_2 import io

from ..lcu.conditioning import fft_split, repaint
from .families import ModelFamily, SamplingCheck, require_family, serves
from .schema import Schema
from .types import CATEGORY
from .validation import checked


def encode(vae, pixels: torch.Tensor) -> torch.Tensor:
    return vae.encode(pixels[:, :, :, :3])


def conditioned(positive, negative, concat_latent: torch.Tensor, mask: torch.Tensor, canvas, vae, noise_mask: bool):
    """(positive, negative, latent) with the concat latent and mask attached as InpaintModelConditioning does."""
    concat_mask = mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1])
    values = {"concat_latent_image": concat_latent, "concat_mask": concat_mask}
    # The sampled model is checked against this conditioning before the first step, whichever loader made it.
    # A ControlNet applied before this node stays in the chain; positive and negative share one check per
    # chain, as a stock ControlNet is shared, so ComfyUI can still batch them together.
    checks: dict[int, SamplingCheck] = {}

    def with_check(meta: dict) -> dict:
        previous = meta.get("control")
        if id(previous) not in checks:
            checks[id(previous)] = SamplingCheck(concat_latent.shape[1], previous)
        return {**meta, **values, "control": checks[id(previous)]}

    out = [[[tensor, with_check(meta)] for tensor, meta in c] for c in (positive, negative)]
    # The encoded canvas, as the stock InpaintModelConditioning returns: at denoise 1 (the ACE++ setting) only
    # its shape matters, below 1 sampling starts from it.
    latent = {"samples": encode(vae, canvas)}
    if noise_mask:
        latent["noise_mask"] = concat_mask
    return out[0], out[1], latent


COMMON_INPUTS = [
    io.Conditioning.Input("positive", tooltip="The encoded instruction (CLIP Text Encode + FluxGuidance 50)."),
    io.Conditioning.Input("negative", tooltip="Unused at cfg 1 (the ACE++ setting), but KSampler needs one."),
    io.Vae.Input("vae", tooltip="The FLUX VAE (ae.safetensors)."),
    io.Image.Input("canvas", tooltip="The canvas from ACE++ Canvas."),
    io.Mask.Input("canvas_mask", tooltip="The canvas mask from ACE++ Canvas."),
]
NOISE_MASK = io.Boolean.Input(
    "noise_mask", default=False,
    tooltip="Also restrict sampling to the mask (ComfyUI noise mask). ACE++ itself regenerates the whole canvas "
            "(off); on keeps the references and unmasked latents fixed.")
OUTPUTS = [
    io.Conditioning.Output(display_name="positive",
                           tooltip="The positive conditioning with the canvas latent and mask attached. Connect to "
                                   "KSampler positive."),
    io.Conditioning.Output(display_name="negative",
                           tooltip="The negative conditioning with the same canvas latent and mask. Connect to "
                                   "KSampler negative."),
    io.Latent.Output(display_name="latent",
                     tooltip="The starting latent at the canvas size (the encoded canvas with a noise mask when "
                             "noise_mask is on). Connect to KSampler latent_image: denoise 1 is the ACE++ setting, "
                             "below 1 sampling starts from the canvas."),
]


def conditioning_schema(*, model: str, repainting_scale: io.Float.Input, search_aliases: tuple[str, ...],
                        description: str) -> dict:
    """The schema fields of the two conditioning nodes, which differ only in the model they take, the
    repainting_scale default and their words: the inputs in their released order, the outputs."""
    return dict(
        category=CATEGORY, search_aliases=search_aliases, description=description,
        inputs=[io.Model.Input("model", tooltip=f"{model} that will sample (checked, not changed)."), *COMMON_INPUTS,
                repainting_scale, NOISE_MASK],
        outputs=OUTPUTS,
    )


class AceConditioning:
    """What the two conditioning nodes share: the model check, repainting, the attached latent and mask. A mixin,
    not an io.ComfyNode itself: ComfyUI-Manager's scanner takes every ComfyNode subclass for a node of the pack,
    and each node names io.ComfyNode among its own bases so the scanner finds its literal node_id."""

    FAMILY: ModelFamily

    @classmethod
    def image_latent(cls, vae, pixels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The concat latent the family's model takes for the repainted canvas `pixels`."""
        raise NotImplementedError

    @classmethod
    @checked
    def execute(cls, model, positive, negative, vae, canvas, canvas_mask, repainting_scale,
                noise_mask) -> io.NodeOutput:
        require_family(model, cls.FAMILY, cls)
        concat_latent = cls.image_latent(vae, repaint(canvas, canvas_mask, repainting_scale), canvas_mask)
        return io.NodeOutput(*conditioned(positive, negative, concat_latent, canvas_mask, canvas, vae, noise_mask))


@serves(ModelFamily.FILL, "conditioning")
class FillConditioning(AceConditioning, io.ComfyNode):
    FAMILY = ModelFamily.FILL

    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_FillConditioning",
            display_name="ACE++ Fill Conditioning",
            **conditioning_schema(
                model="The FLUX.1-Fill model",
                repainting_scale=io.Float.Input(
                    "repainting_scale", default=1.0, min=0.0, max=1.0, step=0.05,
                    tooltip="How much of the masked content is erased to grey: 1 = all (portrait, subject, try-on, "
                            "logo, face swap), 0.5 = local-editing default, 0 = kept (control maps, "
                            "super-resolution)."),
                search_aliases=("Flux Fill", "inpaint conditioning", "InpaintModelConditioning", "repainting scale",
                                "in-context", "try-on", "face swap"),
                description="Conditions FLUX.1-Fill (with an ACE++ LoRA) on the canvas, applying ACE++'s repainting "
                            "scale inside the mask. The stock InpaintModelConditioning always greys the mask, which "
                            "is only right at repainting_scale 1."),
        )

    @classmethod
    def image_latent(cls, vae, pixels, mask):
        return encode(vae, pixels)


@serves(ModelFamily.FFT, "conditioning")
class FFTConditioning(AceConditioning, io.ComfyNode):
    FAMILY = ModelFamily.FFT

    @classmethod
    def define_schema(cls):
        return Schema(
            node_id="ACEPP_FFTConditioning",
            display_name="ACE++ FFT Conditioning",
            **conditioning_schema(
                model="The ACE++ FFT model",
                repainting_scale=io.Float.Input(
                    "repainting_scale", default=0.0, min=0.0, max=1.0, step=0.05,
                    tooltip="How much of the masked content is erased to grey before the split. 0 keeps it, so the "
                            "change latent shows the model what to edit (instruction editing); 1 erases it (insert "
                            "something new)."),
                search_aliases=("ACE FFT", "instruction editing", "inpaint conditioning", "repainting scale",
                                "in-context"),
                description="Conditions the ACE++ FFT model (448 input channels) on the canvas: the VAE latents of "
                            "the context (canvas outside the mask) and of the change (inside the mask) are "
                            "concatenated (32 channels); ComfyUI's Flux model appends the 64 mask channels and the "
                            "16 noise channels: 112 per latent pixel, 448 after 2x2 patchify."),
        )

    @classmethod
    def image_latent(cls, vae, pixels, mask):
        context, change = fft_split(pixels, mask)
        return torch.cat([encode(vae, context), encode(vae, change)], dim=1)
