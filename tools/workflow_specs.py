"""The bundled ACE++ workflows as compact, reviewable Python data (the single source of workflows/*.json).

Each spec is API-like: node id -> class_type + named inputs, where a link is a tuple
``(source_node_id, output_index)`` and anything else is a widget value. Per node there may also be a
``title`` and a ``models`` list (ComfyUI ``properties.models`` entries, so the frontend offers the
download of a missing file). ``tools/workflows.py`` turns a spec into the UI file (positions, links
table, Note), the thumbnail and, through its UI->API converter, the API twin used headless.

Per workflow the spec also says which *named inputs* the headless client (``client/``, reading
``workflows/api/index.json`` written from ``client_index()``) accepts and where they go: ``images`` (an uploaded image -> a LoadImage ``image`` widget; ``mask`` is
composited as the alpha of the edit image before upload) and ``params`` (prompt, seed, steps, ...).

Model download URLs come from ``nodes/catalog.py`` (MODEL_FILES, ACE_LORAS), which has no ComfyUI import,
and the canvas node's region defaults from ``lcu/regions.py`` (pure torch), so this module imports without
ComfyUI.

Node ids are the same for the same role in every workflow (13 is always the KSampler), so
``--set 13.steps=4`` means the same thing everywhere.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_catalog():
    """nodes/catalog.py loaded by path: it imports nothing from ComfyUI, but the nodes package does."""
    spec = importlib.util.spec_from_file_location("acepp_model_catalog", ROOT / "nodes" / "catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_regions():
    """lcu/regions.py (pure torch, no ComfyUI), loaded by path with its package under a private name: the
    repository root stays off sys.path (its nodes/ would shadow ComfyUI's nodes module)."""
    name = "acepp_spec_lcu"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "lcu" / "__init__.py",
                                                      submodule_search_locations=[str(ROOT / "lcu")])
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.regions")


_CATALOG = _load_catalog()
MODEL_FILES = {k: f.properties_entry() for k, f in _CATALOG.MODEL_FILES.items()}
ACE_LORAS = {k: f.properties_entry() for k, f in _CATALOG.ACE_LORAS.items()}
_REGIONS = _load_regions()


def model(key: str) -> dict:
    return dict(MODEL_FILES[key])


# ---------------------------------------------------------------------------------------------------
# Official ACE++ settings (ACE_PLUS_FACTS §1) and the sample input files (tools/samples.py draws them).

STEPS, CFG, SAMPLER, SCHEDULER, DENOISE, GUIDANCE, LORA_STRENGTH = 28, 1.0, "euler", "normal", 1.0, 50.0, 1.0
SEED = 20250421
TOKEN_BUDGET, KEEP_PIXELS_RATE, CONTEXT_MARGIN = 4096, 0.8, 128

# Stable node ids by role.
UNET, LORA, CLIP, VAE, PROMPT, NEGATIVE, GUIDE = "1", "2", "3", "4", "5", "6", "7"
REF_IMAGE, EDIT_IMAGE, CONTROL, CANVAS, COND, SAMPLER_ID, DECODE, STITCH, SAVE = (
    "8", "9", "10", "11", "12", "13", "14", "15", "16")
CLIP_VISION, VISION_ENCODE, STYLE_MODEL, STYLE_APPLY = "17", "18", "19", "20"


def N(class_type: str, title: str | None = None, models: list | None = None, **inputs) -> dict:
    node = {"class_type": class_type, "inputs": inputs}
    if title:
        node["title"] = title
    if models:
        node["models"] = models
    return node


def _workflow(wid: str, title: str, description: str, *, prompt: str, loader: str, vertical: str | None = None,
              reference: str | None = None, edit: str | None = None, repainting: float = 1.0,
              control: str | None = None, redux: bool = False, canvas: dict | None = None,
              task: str = "") -> dict:
    """One bundled workflow. loader: 'lora' (FLUX.1-Fill + ACE++ LoRA) or 'fft' (the ACE++ FFT model)."""
    nodes: dict[str, dict] = {}
    if loader == "lora":
        nodes[UNET] = N("UNETLoader", "Load FLUX.1-Fill-dev", [model("fill")],
                        unet_name=MODEL_FILES["fill"]["name"], weight_dtype="default")
        nodes[LORA] = N("ACEPP_LoraLoader", f"ACE++ {vertical.replace('_', ' ')} LoRA", [dict(ACE_LORAS[vertical])],
                        model=(UNET, 0), vertical=vertical, lora_name="(released file for the vertical)",
                        strength=LORA_STRENGTH, on_mismatch="error")
        sampling_model = (LORA, 0)
    else:
        nodes[UNET] = N("ACEPP_FFTLoader", "Load the ACE++ FFT model", [model("fft")],
                        unet_name=MODEL_FILES["fft"]["name"], weight_dtype="bf16")
        sampling_model = (UNET, 0)
    nodes[CLIP] = N("DualCLIPLoader", "Load text encoders (CLIP-L + T5-XXL)", [model("clip_l"), model("t5xxl")],
                    clip_name1=MODEL_FILES["clip_l"]["name"], clip_name2=MODEL_FILES["t5xxl"]["name"],
                    type="flux", device="default")
    nodes[VAE] = N("VAELoader", "Load the FLUX VAE", [model("vae")], vae_name=MODEL_FILES["vae"]["name"])
    nodes[PROMPT] = N("CLIPTextEncode", "Instruction (prompt)", text=prompt, clip=(CLIP, 0))
    nodes[NEGATIVE] = N("CLIPTextEncode", "Negative (unused at cfg 1)", text="", clip=(CLIP, 0))
    nodes[GUIDE] = N("FluxGuidance", "FluxGuidance 50 (ACE++)", conditioning=(PROMPT, 0), guidance=GUIDANCE)
    positive = (GUIDE, 0)

    canvas_inputs: dict = {}
    if reference:
        nodes[REF_IMAGE] = N("LoadImage", "Reference image", image=reference)
        canvas_inputs["reference"] = (REF_IMAGE, 0)
    if edit:
        nodes[EDIT_IMAGE] = N("LoadImage", "Edit image (paint the mask: right-click > Open in MaskEditor)",
                              image=edit)
        if control:
            nodes[CONTROL] = N("ACEPP_ControlMap", f"ACE++ Control Map ({control})", image=(EDIT_IMAGE, 0),
                               mask=(EDIT_IMAGE, 1), kind=control, mosaic_cell=16, canny_low=0.1, canny_high=0.2)
            canvas_inputs["edit_image"] = (CONTROL, 0)
        else:
            canvas_inputs["edit_image"] = (EDIT_IMAGE, 0)
        canvas_inputs["mask"] = (EDIT_IMAGE, 1)
    settings = {"width": 1024, "height": 1024, "token_budget": TOKEN_BUDGET, "reference_sizing": "resize",
                "keep_pixels_rate": KEEP_PIXELS_RATE, "crop_to_context": False, "context_margin": CONTEXT_MARGIN,
                "reference_share": 1.0, "resampling": "antialiased", "regions": _REGIONS.DEFAULT_REGION_MODE,
                "merge_distance": _REGIONS.DEFAULT_MERGE_DISTANCE,
                "min_region_area": _REGIONS.DEFAULT_MIN_REGION_AREA, "max_regions": _REGIONS.DEFAULT_MAX_REGIONS}
    settings.update(canvas or {})
    regions = settings["regions"] != _REGIONS.DEFAULT_REGION_MODE
    nodes[CANVAS] = N("ACEPP_CanvasBuilder", "ACE++ Canvas (LCU++)", **canvas_inputs, **settings)

    if redux:
        nodes[CLIP_VISION] = N("CLIPVisionLoader", "Load SigCLIP vision", [model("sigclip")],
                               clip_name=MODEL_FILES["sigclip"]["name"])
        nodes[VISION_ENCODE] = N("CLIPVisionEncode", "Encode the reference", clip_vision=(CLIP_VISION, 0),
                                 image=(REF_IMAGE, 0), crop="center")
        nodes[STYLE_MODEL] = N("StyleModelLoader", "Load FLUX.1 Redux", [model("redux")],
                               style_model_name=MODEL_FILES["redux"]["name"])
        nodes[STYLE_APPLY] = N("StyleModelApply", "Redux: add the reference to the prompt", conditioning=positive,
                               style_model=(STYLE_MODEL, 0), clip_vision_output=(VISION_ENCODE, 0), strength=1.0,
                               strength_type="multiply")
        positive = (STYLE_APPLY, 0)

    cond_class = "ACEPP_FillConditioning" if loader == "lora" else "ACEPP_FFTConditioning"
    nodes[COND] = N(cond_class, "ACE++ Fill Conditioning" if loader == "lora" else "ACE++ FFT Conditioning",
                    model=sampling_model, positive=positive, negative=(NEGATIVE, 0), vae=(VAE, 0),
                    canvas=(CANVAS, 0), canvas_mask=(CANVAS, 1), repainting_scale=repainting, noise_mask=False)
    nodes[SAMPLER_ID] = N("KSampler", "KSampler (ACE++: 28 steps, cfg 1, euler/normal)", model=sampling_model,
                          seed=SEED, steps=STEPS, cfg=CFG, sampler_name=SAMPLER, scheduler=SCHEDULER,
                          positive=(COND, 0), negative=(COND, 1), latent_image=(COND, 2), denoise=DENOISE)
    nodes[DECODE] = N("VAEDecode", samples=(SAMPLER_ID, 0), vae=(VAE, 0))
    nodes[STITCH] = N("ACEPP_Stitch", "ACE++ Stitch Result (full size)", image=(DECODE, 0), layout=(CANVAS, 2),
                      grow=0, feather=0, color_match=False)
    nodes[SAVE] = N("SaveImage", images=(STITCH, 0), filename_prefix=f"ACE++/{wid}")

    images = {}
    if reference:
        images["reference"] = {"node": REF_IMAGE, "input": "image",
                               "help": "the reference image (" + {"acepp_face.png": "a face photo",
                                                                  "acepp_logo.png": "a logo or object",
                                                                  "acepp_garment.png": "a garment"}[reference] + ")"}
    if edit and regions:
        images["edit_image"] = {"node": EDIT_IMAGE, "input": "image",
                                "help": "the image to edit (an RGBA file's transparent areas are the mask: each "
                                        "separate area is one region)"}
        images["mask"] = {"into": "edit_image", "help": "grayscale mask, white = generate, several separate areas "
                                                        "(one region each), same size as edit_image (becomes the "
                                                        "edit image's alpha before upload)"}
    elif edit:
        images["edit_image"] = {"node": EDIT_IMAGE, "input": "image",
                                "help": "the image to edit (an RGBA file's transparent area is the mask)"}
        images["mask"] = {"into": "edit_image", "help": "grayscale mask, white = generate, same size as edit_image "
                                                        "(becomes the edit image's alpha before upload)"}
    params = {"prompt": [PROMPT, "text"], "seed": [SAMPLER_ID, "seed"], "steps": [SAMPLER_ID, "steps"]}
    if loader == "lora":
        params["lora_strength"] = [LORA, "strength"]
    if not edit:
        params["width"] = [CANVAS, "width"]
        params["height"] = [CANVAS, "height"]

    spec = {
        "id": wid, "title": title, "description": description, "task": task, "prompt": prompt,
        "model": "fft" if loader == "fft" else vertical, "redux": redux, "control": control,
        "reference": reference, "edit": edit, "repainting": repainting, "regions": settings["regions"],
        "nodes": nodes, "images": images, "params": params, "output": SAVE,
        # The template browser titles a pack's workflow by its file name: the file is named by the title.
        "card": title,
    }
    spec["note"] = _note(spec)
    return spec


def _note(spec: dict) -> str:
    """The Note shown in the workflow: what to load, where the model files go, what to type."""
    files: list[dict] = []
    for node in spec["nodes"].values():
        for entry in node.get("models", []):
            if entry not in files:
                files.append(entry)
    lines = [spec["title"], "", spec["description"], "",
             "MODEL FILES (put each in ComfyUI/models/<folder>, then press R):"]
    for entry in files:
        gated = " (gated: accept the licence on Hugging Face first)" if "black-forest-labs" in entry["url"] else ""
        lines.append(f"- models/{entry['directory']}/{entry['name']}{gated}")
        lines.append(f"  {entry['url']}")
    lines += ["", "INPUTS (to try it at once: click 'Load ACE++ sample inputs' on the ACE++ Canvas node; it uploads "
                  "the small sample images this workflow names):"]
    if spec["reference"]:
        lines.append(f"- 'Reference image': load {spec['images']['reference']['help'].split('(')[1].rstrip(')')} "
                     f"(sample: {spec['reference']}).")
    if spec["edit"]:
        lines.append(f"- 'Edit image': load the photo to edit (sample: {spec['edit']}), then right-click > Open in "
                     "MaskEditor and paint where ACE++ should generate (an RGBA file's transparent area works too).")
    if not spec["edit"]:
        lines.append("- 'ACE++ Canvas': width and height are the size of the new image.")
    if spec["regions"] != _REGIONS.DEFAULT_REGION_MODE:
        canvas = spec["nodes"][CANVAS]["inputs"]
        lines += ["", f"REGIONS (the 'ACE++ Canvas' node, regions = {spec['regions']}):",
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
    lines += ["", "PROMPT (the 'Instruction (prompt)' node):", re.sub(r"([{}|])", r"\\\1", spec["prompt"])]
    if "{image}" in spec["prompt"]:
        lines.append("{image} means the edit image. Keep it written as \\{image\\}: the backslashes stop ComfyUI's "
                     "dynamic prompts from turning {image} into plain 'image' when you queue.")
    lines += ["", f"Official ACE++ settings: {STEPS} steps, cfg {CFG:g}, {SAMPLER}/{SCHEDULER}, denoise {DENOISE:g}, "
                  f"FluxGuidance {GUIDANCE:g}"
              + (f", LoRA strength {LORA_STRENGTH:g}" if spec["model"] != "fft" else "")
              + f", repainting_scale {spec['repainting']:g}. The result is saved under output/ACE++/{spec['id']}."]
    lines += ["", f"Headless (ComfyUI's HTTP API), with the Python that runs ComfyUI: python ComfyUI/custom_nodes/"
              f"<this pack's folder>/client run {spec['id']} "
              + " ".join(f"--input {name}=FILE" for name in spec["images"]) + " --prompt \"...\" --out DIR"]
    return "\n".join(lines)


def client_index() -> dict:
    """workflows/api/index.json: what the headless client (client/catalog.py) knows of each workflow."""
    return {wid: {"title": spec["title"], "description": spec["description"], "ui_file": spec["card"] + ".json",
                  "images": spec["images"], "params": spec["params"]} for wid, spec in WORKFLOWS.items()}


WORKFLOWS: dict[str, dict] = {}


def _add(spec: dict) -> None:
    WORKFLOWS[spec["id"]] = spec


_add(_workflow(
    "portrait_generation", "ACE++ Portrait Generation",
    "Generates a new image of the person in the reference photo (portrait LoRA, 1024x1024).",
    task="generation", loader="lora", vertical="portrait", reference="acepp_face.png",
    prompt="Maintain the facial features, A girl is wearing a neat police uniform and sporting a badge. She is "
           "smiling with a friendly and confident demeanor. The background is blurred, featuring a cafe scene."))
_add(_workflow(
    "subject_generation", "ACE++ Subject Generation",
    "Generates a new image featuring the subject or logo of the reference (subject LoRA, 1024x1024).",
    task="generation", loader="lora", vertical="subject", reference="acepp_logo.png",
    prompt="Display the logo in a minimalist style printed in white on a matte black ceramic coffee mug, alongside "
           "a steaming cup of coffee on a cozy cafe table."))
_add(_workflow(
    "subject_editing", "ACE++ Subject Editing (logo paste, object insert)",
    "Puts the reference subject or logo into the masked area of a photo (subject LoRA).",
    task="editing", loader="lora", vertical="subject", reference="acepp_logo.png", edit="acepp_scene.png",
    repainting=1.0, prompt="The logo is printed on the headphones."))
_add(_workflow(
    "multi_region_editing", "ACE++ Multi-Region Editing (logo on several objects)",
    "Puts the reference logo into every separately masked area of one photo in one run: each area is its own "
    "full-resolution crop, all sampled as one batch and stitched back into the photo (subject LoRA).",
    task="editing", loader="lora", vertical="subject", reference="acepp_logo.png", edit="acepp_scene_regions.png",
    repainting=1.0, canvas={"crop_to_context": True, "regions": "connected_components"},
    prompt="The logo is printed on the mug."))
_add(_workflow(
    "try_on", "ACE++ Virtual Try-On",
    "Dresses the person of the edit image in the reference garment inside the mask (subject LoRA).",
    task="editing", loader="lora", vertical="subject", reference="acepp_garment.png", edit="acepp_person.png",
    repainting=1.0, prompt="The woman is wearing the garment from the reference image."))
_add(_workflow(
    "face_swap", "ACE++ Face Swap",
    "Replaces the masked face of the edit image with the reference face (portrait LoRA).",
    task="editing", loader="lora", vertical="portrait", reference="acepp_face.png", edit="acepp_portrait.png",
    repainting=1.0,
    prompt="Maintain the facial features. The person in {image} has the face of the reference."))
_add(_workflow(
    "local_editing", "ACE++ Local Editing",
    "Repaints the masked area of a photo following the instruction; only a crop around the mask is "
    "generated (local-editing LoRA, repainting 0.5).",
    task="editing", loader="lora", vertical="local_editing", edit="acepp_scene.png", repainting=0.5,
    canvas={"crop_to_context": True}, prompt="{image} a pair of bright red headphones on the table."))
_add(_workflow(
    "local_editing_control", "ACE++ Controllable Local Editing (recolor)",
    "Turns the masked area into a gray control map and regenerates it in colour following the instruction "
    "(local-editing LoRA, repainting 0).",
    task="editing", loader="lora", vertical="local_editing", edit="acepp_scene.png", control="gray",
    repainting=0.0, prompt="{image} a vintage photo of a street with warm colors."))
_add(_workflow(
    "fft_editing", "ACE++ FFT Instruction Editing",
    "Edits the masked area of a photo following the instruction with the ACE++ FFT model (repainting 0).",
    task="editing", loader="fft", edit="acepp_scene.png", repainting=0.0,
    canvas={"reference_sizing": "keep_pixels", "keep_pixels_rate": KEEP_PIXELS_RATE},
    prompt="{image} change the color of the headphones to blue."))
_add(_workflow(
    "fft_reference_generation", "ACE++ FFT Reference Generation",
    "Generates a new 1024x1024 image featuring the reference with the ACE++ FFT model (keep_pixels 0.8).",
    task="generation", loader="fft", reference="acepp_logo.png", repainting=0.0,
    canvas={"reference_sizing": "keep_pixels", "keep_pixels_rate": KEEP_PIXELS_RATE},
    prompt="The logo is printed on a white t-shirt worn by a man in a park."))
_add(_workflow(
    "portrait_generation_redux", "ACE++ Portrait Generation + Redux",
    "Portrait generation with FLUX.1 Redux adding the reference's look to the prompt (portrait LoRA).",
    task="generation", loader="lora", vertical="portrait", reference="acepp_face.png", redux=True,
    prompt=WORKFLOWS["portrait_generation"]["prompt"]))
_add(_workflow(
    "subject_generation_redux", "ACE++ Subject Generation + Redux",
    "Subject generation with FLUX.1 Redux adding the reference's look to the prompt (subject LoRA).",
    task="generation", loader="lora", vertical="subject", reference="acepp_logo.png", redux=True,
    prompt=WORKFLOWS["subject_generation"]["prompt"]))


def is_link(value) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def spec_to_api(spec: dict) -> dict:
    """The API-format graph a spec stands for (what the UI file must convert to)."""
    out = {}
    for nid, node in spec["nodes"].items():
        inputs = {k: ([v[0], v[1]] if is_link(v) else v) for k, v in node["inputs"].items()}
        out[nid] = {"inputs": inputs, "class_type": node["class_type"],
                    "_meta": {"title": node.get("title", node["class_type"])}}
    return out


# ---------------------------------------------------------------------------------------------------
# Subgraph blueprints: subgraphs/<name>.json, which current ComfyUI cores serve from every custom-node folder
# (app/subgraph_manager.py: custom_nodes/*/subgraphs/*.json at GET /global_subgraphs) and the frontend lists in
# its node library under "Subgraph Blueprints" (named by the file). Dropped on the canvas, one is one node: a
# subgraph whose inputs and outputs are the spec's `inputs` and `outputs`. Each input feeds the inner inputs in
# its `to` list (a socket, or a widget shown on the node, as ComfyUI's own blueprints promote them); the inner
# nodes use the official ACE++ settings, node ids by role as in the workflows.

def _edit_blueprint() -> dict:
    nodes = {
        PROMPT: N("CLIPTextEncode", "Instruction (prompt)", text=""),
        NEGATIVE: N("CLIPTextEncode", "Negative (unused at cfg 1)", text=""),
        GUIDE: N("FluxGuidance", "FluxGuidance 50 (ACE++)", conditioning=(PROMPT, 0), guidance=GUIDANCE),
        CANVAS: N("ACEPP_CanvasBuilder", "ACE++ Canvas (LCU++)", width=1024, height=1024, token_budget=TOKEN_BUDGET,
                  reference_sizing="resize", keep_pixels_rate=KEEP_PIXELS_RATE, crop_to_context=False,
                  context_margin=CONTEXT_MARGIN, reference_share=1.0, resampling="antialiased",
                  regions=_REGIONS.DEFAULT_REGION_MODE, merge_distance=_REGIONS.DEFAULT_MERGE_DISTANCE,
                  min_region_area=_REGIONS.DEFAULT_MIN_REGION_AREA, max_regions=_REGIONS.DEFAULT_MAX_REGIONS),
        COND: N("ACEPP_FillConditioning", "ACE++ Fill Conditioning", positive=(GUIDE, 0), negative=(NEGATIVE, 0),
                canvas=(CANVAS, 0), canvas_mask=(CANVAS, 1), repainting_scale=1.0, noise_mask=False),
        SAMPLER_ID: N("KSampler", "KSampler (ACE++: 28 steps, cfg 1, euler/normal)", seed=SEED, steps=STEPS,
                      cfg=CFG, sampler_name=SAMPLER, scheduler=SCHEDULER, positive=(COND, 0), negative=(COND, 1),
                      latent_image=(COND, 2), denoise=DENOISE),
        DECODE: N("VAEDecode", samples=(SAMPLER_ID, 0)),
        STITCH: N("ACEPP_Stitch", "ACE++ Stitch Result (full size)", image=(DECODE, 0), layout=(CANVAS, 2), grow=0,
                  feather=0, color_match=False),
    }
    inputs = [
        {"name": "model", "to": [(COND, "model"), (SAMPLER_ID, "model")]},
        {"name": "clip", "to": [(PROMPT, "clip"), (NEGATIVE, "clip")]},
        {"name": "vae", "to": [(COND, "vae"), (DECODE, "vae")]},
        {"name": "edit_image", "to": [(CANVAS, "edit_image")]},
        {"name": "mask", "to": [(CANVAS, "mask")]},
        {"name": "reference", "to": [(CANVAS, "reference")]},
        {"name": "more_references", "to": [(CANVAS, "more_references")]},
        {"name": "text", "label": "prompt", "to": [(PROMPT, "text")]},
        {"name": "repainting_scale", "to": [(COND, "repainting_scale")]},
        {"name": "crop_to_context", "to": [(CANVAS, "crop_to_context")]},
        {"name": "seed", "to": [(SAMPLER_ID, "seed")]},
        {"name": "steps", "to": [(SAMPLER_ID, "steps")]},
    ]
    return {
        "id": "edit", "name": "ACE++ Edit (FLUX Fill)", "category": "ACE++",
        "description": "The ACE++ edit chain in one node: ACE++ Canvas, ACE++ Fill Conditioning (FluxGuidance 50), "
                       "KSampler (28 steps, cfg 1), VAE Decode and ACE++ Stitch. Connect FLUX.1-Fill-dev with an "
                       "ACE++ LoRA (ACE++ LoRA Loader) to model, the text encoders to clip, the FLUX VAE, the photo "
                       "and its mask, and the reference (try-on, logo paste, face swap) or none (local editing); "
                       "type the instruction. Out comes the photo at full size, unchanged outside the mask.",
        "search_aliases": ["ACE Plus", "ACE++", "LCU", "in-context", "try-on", "face swap", "logo paste",
                           "local editing", "inpaint"],
        "nodes": nodes, "inputs": inputs,
        "outputs": [{"name": "image", "from": (STITCH, 0)}, {"name": "blend_mask", "from": (STITCH, 1)}],
    }


BLUEPRINTS: dict[str, dict] = {spec["id"]: spec for spec in (_edit_blueprint(),)}

