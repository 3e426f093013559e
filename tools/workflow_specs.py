"""The bundled ACE++ workflows as data: one frozen record per workflow (the single source of workflows/, the
subgraph blueprint and web/presets.json; tools/workflows.py builds the files).

A record states only what differs between the workflows (the model, the inputs, the prompt, a few canvas
widgets, the task preset); every workflow shares one skeleton (`Workflow.nodes`), whose node ids are the same for
the same role everywhere (13 is always the KSampler), so ``--set 13.steps=4`` means the same thing in every
workflow and the headless client (``client/``) can rely on them. The graph is API-like: node id -> `Node`
(class_type + named inputs, a link being ``(source node id, output index)``, anything else a widget value), so the
API twin is written straight from it (`api_prompt`).

Per workflow the record also gives the *named inputs* the headless client accepts (``workflows/api/index.json``
from `client_index`): ``images`` (an uploaded image -> a LoadImage ``image`` widget; ``mask`` is composited as the
alpha of the edit image before upload) and ``params`` (prompt, seed, steps, ...).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Callable, Mapping

from aceplusplus.lcu.outpaint import Margins
from aceplusplus.lcu.settings import DEFAULTS as _CANVAS, CanvasSettings
from aceplusplus.nodes.catalog import LORAS as _LORA_FILES, MODEL_FILES as _MODEL_FILES
from aceplusplus.nodes.recipes import RECIPES, Recipe

MODEL_FILES = {k: f.properties_entry() for k, f in _MODEL_FILES.items()}
LORAS = {k: f.properties_entry() for k, f in _LORA_FILES.items()}
# Files saved under another name than the repository's (nodes/catalog.py: ModelFile.renamed); the Note says so.
RENAMED = frozenset(f.name for f in _MODEL_FILES.values() if f.renamed)

# ---------------------------------------------------------------------------------------------------
# Official ACE++ settings (ACE_PLUS_FACTS §1).

STEPS, CFG, SAMPLER, SCHEDULER, DENOISE, GUIDANCE, LORA_STRENGTH = 28, 1.0, "euler", "normal", 1.0, 50.0, 1.0
SEED = 20250421

# Stable node ids by role.
UNET, LORA, CLIP, VAE, PROMPT, NEGATIVE, GUIDE = "1", "2", "3", "4", "5", "6", "7"
REF_IMAGE, EDIT_IMAGE, CONTROL, CANVAS, COND, SAMPLER_ID, DECODE, STITCH, SAVE = (
    "8", "9", "10", "11", "12", "13", "14", "15", "16")
CLIP_VISION, VISION_ENCODE, STYLE_MODEL, STYLE_APPLY = "17", "18", "19", "20"
OUTPAINT = "21"

# The canvas widgets every workflow starts from: the node's own defaults (lcu/settings.py; a record's `canvas`
# overrides some).
CANVAS_DEFAULTS = MappingProxyType(_CANVAS.widget_values())
REFERENCE_HELP = {"acepp_face.png": "a face photo", "acepp_logo.png": "a logo or object",
                  "acepp_garment.png": "a garment"}

Link = tuple  # (source node id, output index)


def is_link(value) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


@dataclass(frozen=True)
class Node:
    """One node of a graph: its class, its inputs by name (links and widget values), the title shown on it and
    the model files it loads (ComfyUI ``properties.models`` entries: the frontend offers their download)."""
    class_type: str
    inputs: Mapping
    title: str | None = None
    models: tuple = ()


def N(class_type: str, title: str | None = None, models: tuple = (), **inputs) -> Node:
    return Node(class_type, MappingProxyType(inputs), title, tuple(models))


def api_prompt(nodes: Mapping[str, Node], display_name: Callable[[str], str], prefix: str = "") -> dict:
    """The API-format prompt of a graph (what the frontend's graphToPrompt sends for its UI file): links as
    ``[id, slot]``, ids with `prefix` (a subgraph node's inner nodes are "<node id>:<inner id>"), untitled nodes
    titled by `display_name(class_type)` as the frontend does."""
    return {prefix + nid: {"inputs": {k: ([prefix + v[0], v[1]] if is_link(v) else v) for k, v in node.inputs.items()},
                           "class_type": node.class_type,
                           "_meta": {"title": node.title or display_name(node.class_type)}}
            for nid, node in nodes.items()}


@dataclass(frozen=True)
class Preset:
    """The workflow's entry in the ACE++ Canvas node's task preset menu (web/presets.json)."""
    label: str
    tip: str


# The canvas widgets a task preset sets (web/js: the preset menu), each only where the preset's other values make
# it mean something: {widget: (the widget it depends on, the values where it counts) or None for always}.
PRESET_CANVAS_WIDGETS = MappingProxyType({
    "token_budget": None, "reference_sizing": None, "keep_pixels_rate": ("reference_sizing", ("keep_pixels",)),
    "crop_to_context": None, "context_margin": ("crop_to_context", (True,)), "panel_sizing": None,
    "panel_width": ("panel_sizing", ("fixed_width", "square", "equal")), "panel_height": ("panel_sizing", ("equal",)),
    "edit_style": None,
})


@dataclass(frozen=True)
class Workflow:
    """One bundled workflow. model: a LoRA vertical (FLUX.1-Fill + that LoRA: ACE++'s, or a recipe's of
    nodes/recipes.py, whose canvas, guidance, steps and Redux then come from the recipe) or "fft" (the ACE++ FFT
    model); reference / edit: the sample input files (tools/samples.py draws them), none for no such input;
    canvas: the canvas widgets that differ from CANVAS_DEFAULTS (over the recipe's); outpaint: extend the edit
    image by these margins first (ACE++ Extend Image)."""
    id: str
    title: str
    description: str
    task: str  # "generation" or "editing"
    model: str
    prompt: str
    reference: str | None = None
    edit: str | None = None
    repainting: float = 1.0
    control: str | None = None  # an ACE++ Control Map kind before the canvas
    redux: bool = False  # FLUX.1 Redux adds the reference to the prompt
    canvas: Mapping = field(default_factory=lambda: MappingProxyType({}))
    preset: Preset | None = None
    reference_mask: bool = False  # the reference's Load Image MASK isolates its object (ACE++ Canvas reference_mask)
    outpaint: Margins | None = None

    @property
    def recipe(self) -> Recipe | None:
        return RECIPES.get(self.model)

    @property
    def family(self) -> str:
        """Whose settings the workflow runs: ACE++'s or the recipe's model's."""
        return self.recipe.name if self.recipe else "ACE++"

    @property
    def guidance(self) -> float:
        return self.recipe.guidance if self.recipe else GUIDANCE

    @property
    def steps(self) -> int:
        return self.recipe.steps if self.recipe else STEPS

    @property
    def uses_redux(self) -> bool:
        return self.redux or bool(self.recipe and self.recipe.redux)

    @property
    def card(self) -> str:
        """The template browser titles a pack's workflow by its file name: the file is named by the title."""
        return self.title

    @property
    def fft(self) -> bool:
        return self.model == "fft"

    @cached_property
    def canvas_settings(self) -> dict:
        recipe = self.recipe.canvas if self.recipe else {}
        unknown = (set(self.canvas) | set(recipe)) - set(CANVAS_DEFAULTS)
        if unknown:
            raise ValueError(f"{self.id}: no canvas widget(s) {', '.join(sorted(unknown))}")
        return {**CANVAS_DEFAULTS, **recipe, **self.canvas}

    @property
    def regions(self) -> str:
        return self.canvas_settings["regions"]

    @cached_property
    def nodes(self) -> dict[str, Node]:
        """The shared skeleton: loaders, prompt, canvas, (Redux,) conditioning, KSampler, decode, stitch, save."""
        nodes = self._model_nodes()
        nodes[CLIP] = N("DualCLIPLoader", "Load text encoders (CLIP-L + T5-XXL)",
                        [MODEL_FILES["clip_l"], MODEL_FILES["t5xxl"]], clip_name1=MODEL_FILES["clip_l"]["name"],
                        clip_name2=MODEL_FILES["t5xxl"]["name"], type="flux", device="default")
        nodes[VAE] = N("VAELoader", "Load the FLUX VAE", [MODEL_FILES["vae"]], vae_name=MODEL_FILES["vae"]["name"])
        nodes[PROMPT] = N("CLIPTextEncode", "Instruction (prompt)", text=self.prompt, clip=(CLIP, 0))
        nodes[NEGATIVE] = N("CLIPTextEncode", "Negative (unused at cfg 1)", text="", clip=(CLIP, 0))
        nodes[GUIDE] = N("FluxGuidance", f"FluxGuidance {self.guidance:g} ({self.family})",
                         conditioning=(PROMPT, 0), guidance=self.guidance)
        nodes.update(self._canvas_nodes())
        positive = (GUIDE, 0)
        if self.uses_redux:
            nodes.update(_redux_nodes(positive))
            positive = (STYLE_APPLY, 0)
        sampling_model = (UNET, 0) if self.fft else (LORA, 0)
        nodes[COND] = N("ACEPP_FFTConditioning" if self.fft else "ACEPP_FillConditioning",
                        "ACE++ FFT Conditioning" if self.fft else "ACE++ Fill Conditioning",
                        model=sampling_model, positive=positive, negative=(NEGATIVE, 0), vae=(VAE, 0),
                        canvas=(CANVAS, 0), canvas_mask=(CANVAS, 1), repainting_scale=self.repainting,
                        noise_mask=False)
        nodes.update(_sampling_nodes(sampling_model, vae=(VAE, 0), steps=self.steps, who=self.family))
        nodes[SAVE] = N("SaveImage", images=(STITCH, 0), filename_prefix=f"ACE++/{self.id}")
        return nodes

    def _model_nodes(self) -> dict[str, Node]:
        if self.fft:
            return {UNET: N("ACEPP_FFTLoader", "Load the ACE++ FFT model", [MODEL_FILES["fft"]],
                            unet_name=MODEL_FILES["fft"]["name"], weight_dtype="bf16")}
        return {UNET: N("UNETLoader", "Load FLUX.1-Fill-dev", [MODEL_FILES["fill"]],
                        unet_name=MODEL_FILES["fill"]["name"], weight_dtype="default"),
                LORA: N("ACEPP_LoraLoader", f"{self.recipe.name} LoRA" if self.recipe
                        else f"ACE++ {self.model.replace('_', ' ')} LoRA",
                        [self.recipe.lora.properties_entry() if self.recipe else LORAS[self.model]],
                        model=(UNET, 0), vertical=self.model, lora_name="(released file for the vertical)",
                        strength=LORA_STRENGTH, on_mismatch="error")}

    def _canvas_nodes(self) -> dict[str, Node]:
        nodes, links = {}, {}
        if self.reference:
            nodes[REF_IMAGE] = N("LoadImage", "Reference image (paint the object: right-click > Open in MaskEditor)"
                                 if self.reference_mask else "Reference image", image=self.reference)
            links["reference"] = (REF_IMAGE, 0)
            if self.reference_mask:
                links["reference_mask"] = (REF_IMAGE, 1)
        if self.outpaint:
            nodes[EDIT_IMAGE] = N("LoadImage", "Photo to extend", image=self.edit)
            nodes[OUTPAINT] = N("ACEPP_Outpaint", "ACE++ Extend Image (outpaint)", image=(EDIT_IMAGE, 0),
                                **dataclasses.asdict(self.outpaint))
            links["edit_image"], links["mask"] = (OUTPAINT, 0), (OUTPAINT, 1)
        elif self.edit:
            nodes[EDIT_IMAGE] = N("LoadImage", "Edit image (paint the mask: right-click > Open in MaskEditor)",
                                  image=self.edit)
            links["edit_image"] = (EDIT_IMAGE, 0)
            if self.control:
                nodes[CONTROL] = N("ACEPP_ControlMap", f"ACE++ Control Map ({self.control})", image=(EDIT_IMAGE, 0),
                                   mask=(EDIT_IMAGE, 1), kind=self.control, mosaic_cell=16, canny_low=0.1,
                                   canny_high=0.2)
                links["edit_image"] = (CONTROL, 0)
            links["mask"] = (EDIT_IMAGE, 1)
        nodes[CANVAS] = N("ACEPP_CanvasBuilder", "ACE++ Canvas (LCU++)", **links, **self.canvas_settings)
        return nodes

    @cached_property
    def images(self) -> dict:
        """The client's named image inputs."""
        images = {}
        if self.reference:
            images["reference"] = {"node": REF_IMAGE, "input": "image",
                                   "help": f"the reference image ({REFERENCE_HELP[self.reference]})" + (
                                       "; an RGBA file's transparent area marks the object" if self.reference_mask
                                       else "")}
        several = CanvasSettings(regions=self.regions).several_regions
        if self.outpaint:
            images["edit_image"] = {"node": EDIT_IMAGE, "input": "image",
                                    "help": "the photo to extend (the margins are the params left/top/right/bottom)"}
        elif self.edit:
            images["edit_image"] = {"node": EDIT_IMAGE, "input": "image", "help": (
                "the image to edit (an RGBA file's transparent areas are the mask: each separate area is one region)"
                if several else "the image to edit (an RGBA file's transparent area is the mask)")}
            images["mask"] = {"into": "edit_image", "help": (
                "grayscale mask, white = generate, several separate areas (one region each), same size as edit_image "
                "(becomes the edit image's alpha before upload)" if several else
                "grayscale mask, white = generate, same size as edit_image (becomes the edit image's alpha before "
                "upload)")}
        return images

    @cached_property
    def params(self) -> dict:
        """The client's named widget inputs: [node id, input name]."""
        params = {"prompt": [PROMPT, "text"], "seed": [SAMPLER_ID, "seed"], "steps": [SAMPLER_ID, "steps"]}
        if not self.fft:
            params["lora_strength"] = [LORA, "strength"]
        if not self.edit:
            params["width"] = [CANVAS, "width"]
            params["height"] = [CANVAS, "height"]
        if self.outpaint:
            params.update({side: [OUTPAINT, side] for side in dataclasses.asdict(self.outpaint)})
        return params

    @cached_property
    def note(self) -> str:
        return _note(self)


def _redux_nodes(positive: Link) -> dict[str, Node]:
    return {
        CLIP_VISION: N("CLIPVisionLoader", "Load SigCLIP vision", [MODEL_FILES["sigclip"]],
                       clip_name=MODEL_FILES["sigclip"]["name"]),
        VISION_ENCODE: N("CLIPVisionEncode", "Encode the reference", clip_vision=(CLIP_VISION, 0),
                         image=(REF_IMAGE, 0), crop="center"),
        STYLE_MODEL: N("StyleModelLoader", "Load FLUX.1 Redux", [MODEL_FILES["redux"]],
                       style_model_name=MODEL_FILES["redux"]["name"]),
        STYLE_APPLY: N("StyleModelApply", "Redux: add the reference to the prompt", conditioning=positive,
                       style_model=(STYLE_MODEL, 0), clip_vision_output=(VISION_ENCODE, 0), strength=1.0,
                       strength_type="multiply"),
    }


def _sampling_nodes(model: Link | None = None, vae: Link | None = None, steps: int = STEPS,
                    who: str = "ACE++") -> dict[str, Node]:
    """KSampler at the official settings (`who`'s: a recipe's steps), VAE Decode and ACE++ Stitch (model and vae:
    none in the blueprint, where they come from outside)."""
    sockets = lambda **links: {k: v for k, v in links.items() if v is not None}  # noqa: E731
    return {
        SAMPLER_ID: N("KSampler", f"KSampler ({who}: {steps} steps, cfg 1, euler/normal)", **sockets(model=model),
                      seed=SEED, steps=steps, cfg=CFG, sampler_name=SAMPLER, scheduler=SCHEDULER,
                      positive=(COND, 0), negative=(COND, 1), latent_image=(COND, 2), denoise=DENOISE),
        DECODE: N("VAEDecode", samples=(SAMPLER_ID, 0), **sockets(vae=vae)),
        STITCH: N("ACEPP_Stitch", "ACE++ Stitch Result (full size)", image=(DECODE, 0), layout=(CANVAS, 2),
                  grow=0, feather=0, color_match=False),
    }


# What to change in a bundled workflow for a GPU below 24 GB: a widget, or one loader node swapped.
GGUF_SWAP = ("8-12 GB: install ComfyUI-GGUF (city96, through the Manager), put a GGUF of {model} (Q4_K_S ... Q8_0) "
             "in models/unet, replace '{node}' by 'Unet Loader (GGUF)' and connect its MODEL output to the same "
             "inputs.")
SMALLER_GPU_LORA = [
    "- 16 GB: set 'Load Diffusion Model' weight_dtype to fp8_e4m3fn, or load an fp8, scaled-fp8 or quantised "
    "FLUX.1-Fill-dev file.",
    "- " + GGUF_SWAP.format(model="FLUX.1-Fill-dev", node="Load Diffusion Model"),
]
SMALLER_GPU_FFT = [
    "- 16 GB: set 'ACE++ FFT Loader' weight_dtype to fp8_e4m3fn. The FFT model in fp8 is known to give broken "
    "colours (the loader's report warns); if it does, use the LoRA workflows in fp8 instead.",
    "- " + GGUF_SWAP.format(model="the FFT model, where you have one", node="ACE++ FFT Loader"),
]


def _note(w: Workflow) -> str:
    """The Note shown in the workflow: what to load, where the model files go, what to type."""
    files: list[dict] = []
    for node in w.nodes.values():
        files += [entry for entry in node.models if entry not in files]
    lines = [w.title, "", w.description, "", "MODEL FILES (put each in ComfyUI/models/<folder>, then press R):"]
    for entry in files:
        gated = " (gated: accept the licence on Hugging Face first)" if "black-forest-labs" in entry["url"] else ""
        lines.append(f"- models/{entry['directory']}/{entry['name']}{gated}")
        lines.append(f"  {entry['url']}" + (f" (save it as {entry['name']})" if entry["name"] in RENAMED else ""))
    lines += ["", "INPUTS (to try it at once: click 'Load ACE++ sample inputs' on the ACE++ Canvas node; it uploads "
                  "the small sample images this workflow names):"]
    if w.reference:
        lines.append(f"- 'Reference image': load {REFERENCE_HELP[w.reference]} (sample: {w.reference}).")
    if w.edit:
        lines.append(f"- 'Edit image': load the photo to edit (sample: {w.edit}), then right-click > Open in "
                     "MaskEditor and paint where ACE++ should generate (an RGBA file's transparent area works too).")
    else:
        lines.append("- 'ACE++ Canvas': width and height are the size of the new image.")
    if CanvasSettings(regions=w.regions).several_regions:
        canvas = w.canvas_settings
        lines += ["", f"REGIONS (the 'ACE++ Canvas' node, regions = {w.regions}):",
                  "- Paint several separate areas in the MaskEditor, one per object to edit. Each area becomes its "
                  "own region: a full-resolution crop around it (context_margin px of context), not one crop "
                  "spanning them all.",
                  "- All regions are sampled together as one batch (one canvas per region, each within "
                  "token_budget: memory and time grow with the number of regions); 'ACE++ Stitch' puts every "
                  "region back into the one photo, everything outside the mask untouched.",
                  f"- Areas closer than merge_distance ({canvas['merge_distance']} px) join into one region; areas "
                  f"under min_region_area ({canvas['min_region_area']} px) are left unchanged; more than max_regions "
                  f"({canvas['max_regions']}) regions is an error that says how many the mask gives.",
                  "- One reference image serves every region. A batch of N reference images (N = the number of "
                  "regions) gives reference i to region i, regions ordered by their top edge, then their left edge.",
                  "- regions = mask_batch takes a batch of masks instead, each mask one region of the same photo; "
                  "regions = one edits a single target as the other ACE++ workflows do."]
    if w.outpaint:
        lines += ["", "OUTPAINT (the 'ACE++ Extend Image' node): left, top, right and bottom are the pixels added on "
                      "each side; only the new area is generated and every original pixel comes back unchanged. "
                      "crop_to_context keeps the cost to the new margins plus context_margin px of the photo."]
    if w.reference_mask:
        lines += ["", "REFERENCE OBJECT: paint the object on the reference (right-click > Open in MaskEditor); the "
                      "canvas puts it on white, cropped to its box with a margin. Without a mask the whole reference "
                      "is used."]
    lines += ["", "PROMPT (the 'Instruction (prompt)' node):", escape_dynamic_prompt(w.prompt) or "(empty)"]
    if w.recipe and "{instruction}" in w.recipe.prompt_template:
        fixed = w.recipe.prompt_template.split("{instruction}")[0]
        lines.append(f"Keep the start '{fixed.strip()}' ({w.recipe.name} was trained on it); change only the words "
                     "after it.")
    if "{image}" in w.prompt:
        lines.append("{image} means the edit image. Keep it written as \\{image\\}: the backslashes stop ComfyUI's "
                     "dynamic prompts from turning {image} into plain 'image' when you queue.")
    lines += ["", "SMALLER GPUs (the README's VRAM guide):"] + (SMALLER_GPU_FFT if w.fft else SMALLER_GPU_LORA)
    if w.recipe:
        lines += ["", f"ABOUT {w.recipe.name.upper()} ({w.recipe.source}): {w.recipe.what}. VRAM: {w.recipe.vram}."]
        lines += [f"- {note}" for note in w.recipe.notes]
    lines += ["", f"Official {w.family} settings: {w.steps} steps, cfg {CFG:g}, {SAMPLER}/{SCHEDULER}, denoise "
                  f"{DENOISE:g}, FluxGuidance {w.guidance:g}" + ("" if w.fft else f", LoRA strength {LORA_STRENGTH:g}")
              + f", repainting_scale {w.repainting:g}. The result is saved under output/ACE++/{w.id}."]
    lines += ["", f"Headless (ComfyUI's HTTP API), with the Python that runs ComfyUI: python ComfyUI/custom_nodes/"
              f"<this pack's folder>/client run {w.id} "
              + " ".join(f"--input {name}=FILE" for name in w.images) + " --prompt \"...\" --out DIR"]
    return "\n".join(lines)


def escape_dynamic_prompt(text: str) -> str:
    """The text to put in a dynamicPrompts widget (CLIPTextEncode's) so that the frontend sends exactly `text`:
    when it queues, the frontend strips // and /* comments and turns {a|b} into one option, so a literal {image}
    becomes "image" unless written \\{image\\}. (The browser test of the bundled files checks the round trip.)"""
    if "//" in text or "/*" in text:
        raise ValueError("dynamic-prompt text cannot carry // or /* (the frontend strips them as comments)")
    return re.sub(r"([{}|])", r"\\\1", text)


# ---------------------------------------------------------------------------------------------------
# The bundled workflows, in the order of the client's list and the preset menu.

_PORTRAIT_PROMPT = ("Maintain the facial features, A girl is wearing a neat police uniform and sporting a badge. She is "
                    "smiling with a friendly and confident demeanor. The background is blurred, featuring a cafe "
                    "scene.")
_SUBJECT_PROMPT = ("Display the logo in a minimalist style printed in white on a matte black ceramic coffee mug, "
                   "alongside a steaming cup of coffee on a cozy cafe table.")
_KEEP_PIXELS = MappingProxyType({"reference_sizing": "keep_pixels", "keep_pixels_rate": _CANVAS.keep_pixels_rate})

WORKFLOWS: dict[str, Workflow] = {w.id: w for w in (
    Workflow(
        "portrait_generation", "ACE++ Portrait Generation",
        "Generates a new image of the person in the reference photo (portrait LoRA, 1024x1024).",
        task="generation", model="portrait", reference="acepp_face.png", prompt=_PORTRAIT_PROMPT,
        preset=Preset("Portrait generation",
                      "Connect a face photo to reference and no edit image; width x height is the new image. Start the "
                      "prompt with 'Maintain the facial features, '.")),
    Workflow(
        "subject_generation", "ACE++ Subject Generation",
        "Generates a new image featuring the subject or logo of the reference (subject LoRA, 1024x1024).",
        task="generation", model="subject", reference="acepp_logo.png", prompt=_SUBJECT_PROMPT,
        preset=Preset("Subject generation",
                      "Connect the subject or logo to reference and no edit image; width x height is the new image.")),
    Workflow(
        "subject_editing", "ACE++ Subject Editing (logo paste, object insert)",
        "Puts the reference subject or logo into the masked area of a photo (subject LoRA).",
        task="editing", model="subject", reference="acepp_logo.png", edit="acepp_scene.png",
        prompt="The logo is printed on the headphones.",
        preset=Preset("Subject editing / logo paste",
                      "Reference: the logo or object; edit image: the photo with the target area masked. Keep the "
                      "prompt short ('The logo is printed on the headphones.').")),
    Workflow(
        "multi_region_editing", "ACE++ Multi-Region Editing (logo on several objects)",
        "Puts the reference logo into every separately masked area of one photo in one run: each area is its own "
        "full-resolution crop, all sampled as one batch and stitched back into the photo (subject LoRA).",
        task="editing", model="subject", reference="acepp_logo.png", edit="acepp_scene_regions.png",
        canvas=MappingProxyType({"crop_to_context": True, "regions": "connected_components"}),
        prompt="The logo is printed on the mug."),
    Workflow(
        "try_on", "ACE++ Virtual Try-On",
        "Dresses the person of the edit image in the reference garment inside the mask (subject LoRA).",
        task="editing", model="subject", reference="acepp_garment.png", edit="acepp_person.png",
        prompt="The woman is wearing the garment from the reference image.",
        preset=Preset("Virtual try-on", "Reference: the garment; edit image: the person with the clothing area masked.")),
    Workflow(
        "face_swap", "ACE++ Face Swap",
        "Replaces the masked face of the edit image with the reference face (portrait LoRA).",
        task="editing", model="portrait", reference="acepp_face.png", edit="acepp_portrait.png",
        prompt="Maintain the facial features. The person in {image} has the face of the reference.",
        preset=Preset("Face swap", "Reference: the face; edit image: the photo with the face masked. Start the prompt "
                                   "with 'Maintain the facial features.'")),
    Workflow(
        "local_editing", "ACE++ Local Editing",
        "Repaints the masked area of a photo following the instruction; only a crop around the mask is "
        "generated (local-editing LoRA, repainting 0.5).",
        task="editing", model="local_editing", edit="acepp_scene.png", repainting=0.5,
        canvas=MappingProxyType({"crop_to_context": True}),
        prompt="{image} a pair of bright red headphones on the table.",
        preset=Preset("Local editing",
                      "No reference; edit image: the photo with the area to repaint masked. Prompts start with "
                      "'{image}' (type \\{image\\} in the editor).")),
    Workflow(
        "local_editing_control", "ACE++ Controllable Local Editing (recolor)",
        "Turns the masked area into a gray control map and regenerates it in colour following the instruction "
        "(local-editing LoRA, repainting 0).",
        task="editing", model="local_editing", edit="acepp_scene.png", control="gray", repainting=0.0,
        prompt="{image} a vintage photo of a street with warm colors.",
        preset=Preset("Control map (recolor, mosaic, canny, depth)",
                      "Put the control map into the masked area with ACE++ Control Map before the canvas; "
                      "repainting_scale 0 keeps it for the model.")),
    Workflow(
        "fft_editing", "ACE++ FFT Instruction Editing",
        "Edits the masked area of a photo following the instruction with the ACE++ FFT model (repainting 0).",
        task="editing", model="fft", edit="acepp_scene.png", repainting=0.0, canvas=_KEEP_PIXELS,
        prompt="{image} change the color of the headphones to blue.",
        preset=Preset("FFT instruction editing",
                      "Needs the ACE++ FFT model (ACE++ FFT Loader) and ACE++ FFT Conditioning; repainting_scale 0 "
                      "shows the model what to edit, 1 erases it first.")),
    Workflow(
        "fft_reference_generation", "ACE++ FFT Reference Generation",
        "Generates a new 1024x1024 image featuring the reference with the ACE++ FFT model (keep_pixels 0.8).",
        task="generation", model="fft", reference="acepp_logo.png", repainting=0.0, canvas=_KEEP_PIXELS,
        prompt="The logo is printed on a white t-shirt worn by a man in a park."),
    Workflow(
        "portrait_generation_redux", "ACE++ Portrait Generation + Redux",
        "Portrait generation with FLUX.1 Redux adding the reference's look to the prompt (portrait LoRA).",
        task="generation", model="portrait", reference="acepp_face.png", redux=True, prompt=_PORTRAIT_PROMPT),
    Workflow(
        "subject_generation_redux", "ACE++ Subject Generation + Redux",
        "Subject generation with FLUX.1 Redux adding the reference's look to the prompt (subject LoRA).",
        task="generation", model="subject", reference="acepp_logo.png", redux=True, prompt=_SUBJECT_PROMPT),
    Workflow(
        "subject_editing_redux", "ACE++ Subject Editing + Redux",
        "Subject editing with FLUX.1 Redux adding the reference's look to the prompt, as the ACE++ authors advise "
        "for identity (subject LoRA).",
        task="editing", model="subject", reference="acepp_logo.png", edit="acepp_scene.png", redux=True,
        prompt="The logo is printed on the headphones."),
    Workflow(
        "try_on_redux", "ACE++ Virtual Try-On + Redux",
        "Virtual try-on with FLUX.1 Redux adding the garment's look to the prompt (subject LoRA).",
        task="editing", model="subject", reference="acepp_garment.png", edit="acepp_person.png", redux=True,
        prompt="The woman is wearing the garment from the reference image."),
    Workflow(
        "face_swap_redux", "ACE++ Face Swap + Redux",
        "Face swap with FLUX.1 Redux adding the reference face's look to the prompt (portrait LoRA).",
        task="editing", model="portrait", reference="acepp_face.png", edit="acepp_portrait.png", redux=True,
        prompt="Maintain the facial features. The person in {image} has the face of the reference."),
    Workflow(
        "outpaint", "ACE++ Outpainting",
        "Extends a photo by a chosen margin on each side and fills the new area (local-editing LoRA); every "
        "original pixel comes back unchanged.",
        task="editing", model="local_editing", edit="acepp_scene.png", outpaint=Margins(left=64, right=192),
        canvas=MappingProxyType({"crop_to_context": True}),
        prompt="{image} the room continues with a bookshelf and a window.",
        preset=Preset("Outpainting", "Put ACE++ Extend Image between the photo and the canvas: it adds the margins "
                                     "and their mask; crop_to_context keeps the cost to the new area.")),
    Workflow(
        "fft_outpaint", "ACE++ FFT Outpainting",
        "Extends a photo by a chosen margin on each side and fills the new area with the ACE++ FFT model; every "
        "original pixel comes back unchanged.",
        task="editing", model="fft", edit="acepp_scene.png", outpaint=Margins(top=64, bottom=128),
        canvas=MappingProxyType({**_KEEP_PIXELS, "crop_to_context": True}),
        prompt="{image} extend the scene naturally."),
    Workflow(
        "icedit", "ICEdit Instruction Editing",
        "Edits a photo by instruction with ICEdit: the photo on the left, its edited twin generated beside it at "
        "512 px, stitched back at full size through the mask (ICEdit LoRA).",
        task="editing", model="icedit", edit="acepp_scene.png",
        prompt=RECIPES["icedit"].prompt("the headphones are bright red."),
        preset=Preset("ICEdit instruction editing",
                      "Blank-twin canvas at 512 px with the ICEdit LoRA (ACE++ LoRA Loader, vertical icedit). Keep "
                      "the diptych sentence and change the words after 'but'.")),
    Workflow(
        "insert_anything", "Insert Anything (object insertion)",
        "Inserts the object painted on the reference into the masked area of a photo with Insert Anything: 768 px "
        "squares, the object on white, Redux of the reference, no prompt (Insert Anything LoRA).",
        task="editing", model="insert_anything", reference="acepp_logo.png", edit="acepp_scene.png",
        reference_mask=True, prompt="",
        preset=Preset("Insert Anything insertion",
                      "768 px square panels; paint the object on the reference (reference_mask) and the place on the "
                      "photo; Redux of the reference, empty prompt (Insert Anything LoRA, vertical insert_anything).")),
    Workflow(
        "catvton_try_on", "CatVTON-FLUX Virtual Try-On",
        "Dresses the person in the garment with CatVTON-FLUX: equal 576x768 panels, garment left, the person's crop "
        "widened to 3:4 on the right (CatVTON-FLUX LoRA).",
        task="editing", model="catvton", reference="acepp_garment.png", edit="acepp_person.png",
        prompt=RECIPES["catvton"].prompt(),
        preset=Preset("CatVTON-FLUX try-on",
                      "Equal 576x768 panels with the CatVTON-FLUX LoRA (vertical catvton); garment as reference, the "
                      "person with the clothing masked; keep its fixed prompt.")),
)}


def client_index() -> dict:
    """workflows/api/index.json: what the headless client (client/catalog.py) knows of each workflow."""
    return {wid: {"title": w.title, "description": w.description, "ui_file": w.card + ".json",
                  "images": w.images, "params": w.params} for wid, w in WORKFLOWS.items()}


def presets() -> dict:
    """web/presets.json: the task presets of the ACE++ Canvas node, each the recipe of its bundled workflow."""
    entries = []
    for w in WORKFLOWS.values():
        if w.preset is None:
            continue
        settings = w.canvas_settings
        canvas = {name: settings[name] for name, when in PRESET_CANVAS_WIDGETS.items()
                  if when is None or settings[when[0]] in when[1]}
        entries.append({"id": w.id, "label": w.preset.label, "workflow": w.id, "card": w.card, "model": w.model,
                        "repainting_scale": w.repainting, "canvas": canvas, "tip": w.preset.tip})
    return {"about": "Generated by tools/workflows.py build from tools/workflow_specs.py (edit the recipes there). "
                     "ACE++ task presets for the 'ACE++ task preset' menu of the ACE++ Canvas node. Each sets the "
                     "canvas widgets, the repainting_scale of the ACE++ conditioning node fed by that canvas and the "
                     "vertical of the ACE++ LoRA Loader feeding that conditioning, to the recipe of the bundled "
                     "workflow named by 'workflow'. model: the ACE++ LoRA vertical, or fft for the ACE++ FFT model.",
            "presets": entries}


# ---------------------------------------------------------------------------------------------------
# Subgraph blueprints: subgraphs/<name>.json, which current ComfyUI cores serve from every custom-node folder
# (app/subgraph_manager.py: custom_nodes/*/subgraphs/*.json at GET /global_subgraphs) and the frontend lists in
# its node library under "Subgraph Blueprints" (named by the file). Dropped on the canvas, one is one node: a
# subgraph whose inputs and outputs are the record's `inputs` and `outputs`. Each input feeds the inner inputs in
# its `to` list (a socket, or a widget shown on the node, as ComfyUI's own blueprints promote them); the inner
# nodes use the official ACE++ settings, node ids by role as in the workflows.


@dataclass(frozen=True)
class BlueprintInput:
    name: str
    to: tuple  # ((inner node id, input name), ...)
    label: str | None = None


@dataclass(frozen=True)
class Blueprint:
    id: str
    name: str  # the file name, and the name the node library lists
    category: str
    description: str
    search_aliases: tuple
    nodes: Mapping[str, Node]
    inputs: tuple  # BlueprintInput, in the node's order
    outputs: tuple  # ((name, (inner node id, output index)), ...)


def _edit_blueprint() -> Blueprint:
    nodes = {
        PROMPT: N("CLIPTextEncode", "Instruction (prompt)", text=""),
        NEGATIVE: N("CLIPTextEncode", "Negative (unused at cfg 1)", text=""),
        GUIDE: N("FluxGuidance", "FluxGuidance 50 (ACE++)", conditioning=(PROMPT, 0), guidance=GUIDANCE),
        CANVAS: N("ACEPP_CanvasBuilder", "ACE++ Canvas (LCU++)", **CANVAS_DEFAULTS),
        COND: N("ACEPP_FillConditioning", "ACE++ Fill Conditioning", positive=(GUIDE, 0), negative=(NEGATIVE, 0),
                canvas=(CANVAS, 0), canvas_mask=(CANVAS, 1), repainting_scale=1.0, noise_mask=False),
        **_sampling_nodes(),
    }
    return Blueprint(
        id="edit", name="ACE++ Edit (FLUX Fill)", category="ACE++",
        description="The ACE++ edit chain in one node: ACE++ Canvas, ACE++ Fill Conditioning (FluxGuidance 50), "
                    "KSampler (28 steps, cfg 1), VAE Decode and ACE++ Stitch. Connect FLUX.1-Fill-dev with an "
                    "ACE++ LoRA (ACE++ LoRA Loader) to model, the text encoders to clip, the FLUX VAE, the photo "
                    "and its mask, and the reference (try-on, logo paste, face swap) or none (local editing); "
                    "type the instruction. Out comes the photo at full size, unchanged outside the mask.",
        search_aliases=("ACE Plus", "ACE++", "LCU", "in-context", "try-on", "face swap", "logo paste",
                        "local editing", "inpaint"),
        nodes=MappingProxyType(nodes),
        inputs=(
            BlueprintInput("model", ((COND, "model"), (SAMPLER_ID, "model"))),
            BlueprintInput("clip", ((PROMPT, "clip"), (NEGATIVE, "clip"))),
            BlueprintInput("vae", ((COND, "vae"), (DECODE, "vae"))),
            BlueprintInput("edit_image", ((CANVAS, "edit_image"),)),
            BlueprintInput("mask", ((CANVAS, "mask"),)),
            BlueprintInput("reference", ((CANVAS, "reference"),)),
            BlueprintInput("more_references", ((CANVAS, "more_references"),)),
            BlueprintInput("text", ((PROMPT, "text"),), label="prompt"),
            BlueprintInput("repainting_scale", ((COND, "repainting_scale"),)),
            BlueprintInput("crop_to_context", ((CANVAS, "crop_to_context"),)),
            BlueprintInput("seed", ((SAMPLER_ID, "seed"),)),
            BlueprintInput("steps", ((SAMPLER_ID, "steps"),)),
        ),
        outputs=(("image", (STITCH, 0)), ("blend_mask", (STITCH, 1))),
    )


BLUEPRINTS: dict[str, Blueprint] = {b.id: b for b in (_edit_blueprint(),)}
