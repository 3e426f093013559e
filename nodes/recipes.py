"""The FLUX-Fill in-context models as data: one frozen record per model, read by the workflow generator (the
bundled workflows, their Notes and presets: tools/workflow_specs.py), the LoRA loader (its `vertical` choices come
from nodes/catalog.py's LORAS), the help pages, the README and the client. No ComfyUI import.

Every model here puts a reference (or the source itself) beside a masked target on FLUX.1-Fill-dev; what differs
is data: how big the panels are, what the reference and target panels hold, the prompt, guidance and steps, Redux.
The canvas settings are ACE++ Canvas widget values (lcu/settings.py), so the pack's canvas, crop-to-context and
exact stitch serve them all; the sizes follow each model's public code (tools/recipe_sizes.py compares them).
"""
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from .catalog import FAMILY_LORAS, ModelFile

INSTRUCTION = "{instruction}"  # where a prompt template takes the user's words


@dataclass(frozen=True)
class Recipe:
    key: str  # the LoRA loader's vertical and the workflows' model
    name: str
    source: str  # the public repository the settings are read from
    what: str  # one line: what the model does
    lora: ModelFile
    canvas: Mapping  # ACE++ Canvas widget values that differ from the node's defaults
    prompt_template: str  # the prompt, with INSTRUCTION where the user's words go ("" for none)
    guidance: float  # FluxGuidance
    steps: int
    redux: bool = False  # FLUX.1 Redux of the reference joins the prompt
    vram: str = "24 GB (FLUX.1-Fill-dev bf16 + the LoRA); 16 GB in fp8; 8-12 GB with a GGUF Fill model"
    notes: tuple = field(default=())

    def prompt(self, instruction: str = "") -> str:
        return self.prompt_template.replace(INSTRUCTION, instruction)


RECIPES: dict[str, Recipe] = {r.key: r for r in (
    Recipe(
        "icedit", "ICEdit", "https://github.com/River-Zhang/ICEdit",
        "instruction editing: the photo on the left, its edited twin generated on the right",
        FAMILY_LORAS["icedit"],
        # 512 px panels (the width ICEdit is trained and run at); a blank twin of the source, fully generated.
        canvas=MappingProxyType({"panel_sizing": "fixed_width", "panel_width": 512, "edit_style": "blank_twin",
                                 "token_budget": 8192}),
        prompt_template=("A diptych with two side-by-side images of the same scene. On the right, the scene is "
                         f"exactly the same as on the left but {INSTRUCTION}"),
        guidance=50.0, steps=28,
        notes=("Use the normal LoRA: ICEdit's MoE LoRA does not load through ComfyUI's LoRA loader.",)),
    Recipe(
        "insert_anything", "Insert Anything", "https://github.com/song-wensong/insert-anything",
        "inserts the masked object of the reference into the masked area of a photo",
        FAMILY_LORAS["insert_anything"],
        # 768 px squares; the target crop grown around the mask and widened to a square; the reference isolated on
        # white (reference_mask) by the canvas.
        canvas=MappingProxyType({"panel_sizing": "square", "panel_width": 768, "crop_to_context": True,
                                 "context_margin": 128, "token_budget": 4608}),
        prompt_template="", guidance=30.0, steps=50, redux=True),
    Recipe(
        "catvton", "CatVTON-FLUX", "https://github.com/nftblackmagic/catvton-flux",
        "virtual try-on: the garment on the left, the person wearing it on the right",
        FAMILY_LORAS["catvton"],
        # Equal 576x768 panels (its training size); the person's crop widened to 3:4 so nothing is stretched.
        canvas=MappingProxyType({"panel_sizing": "equal", "panel_width": 576, "panel_height": 768,
                                 "crop_to_context": True, "context_margin": 64}),
        prompt_template=("The pair of images highlights a clothing and its styling on a model, high resolution, "
                         "4K, 8K; [IMAGE1] Detailed product shot of a clothing [IMAGE2] The same cloth is worn by a "
                         "model in a lifestyle setting."),
        guidance=30.0, steps=30,
        notes=("A full fine-tuned CatVTON-FLUX model (xiaozaa/catvton-flux-beta, 384 inputs) loads in Load Diffusion "
               "Model instead of FLUX.1-Fill-dev; then remove the LoRA loader.",)),
)}
