"""The model files ACE++ workflows use: name, ComfyUI models folder and download URL.

Plain data with no ComfyUI import, so the node loaders (missing-file errors), the workflow builder
(`properties.models` download entries) and the demo all read this one table.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelFile:
    name: str
    folder: str  # ComfyUI models folder
    url: str

    @property
    def renamed(self) -> bool:
        """Whether the file is saved under another name than the repository's (whose own name, such as
        pytorch_lora_weights.safetensors, is too generic to keep in models/loras)."""
        return not self.url.endswith("/" + self.name)

    @property
    def download_hint(self) -> str:
        """Where to get the file, and the name to save it under when that is not the repository's."""
        return f"{self.url} and save it as {self.name}" if self.renamed else self.url

    def properties_entry(self) -> dict:
        """The `properties.models` entry of a workflow loader node (ComfyUI offers the download)."""
        return {"name": self.name, "url": self.url, "directory": self.folder}


HF_ACE = "https://huggingface.co/ali-vilab/ACE_Plus/resolve/main"


# The released files, by vertical; the bundled workflows and the README name exactly these.
ACE_LORAS = {
    "portrait": ModelFile("comfyui_portrait_lora64.safetensors", "loras", f"{HF_ACE}/portrait/comfyui_portrait_lora64.safetensors"),
    "subject": ModelFile("comfyui_subject_lora16.safetensors", "loras", f"{HF_ACE}/subject/comfyui_subject_lora16.safetensors"),
    "local_editing": ModelFile("comfyui_local_lora16.safetensors", "loras", f"{HF_ACE}/local_editing/comfyui_local_lora16.safetensors"),
}
# The rest of the FLUX-Fill in-context family (nodes/recipes.py): LoRAs for FLUX.1-Fill-dev in the diffusers/PEFT
# key style. Each repository names its file pytorch_lora_weights.safetensors (or a dated name), so each gets a name
# of its own in models/loras; the URL is the repository's file.
FAMILY_LORAS = {
    "icedit": ModelFile("icedit_normal_lora.safetensors", "loras",
                        "https://huggingface.co/RiverZ/normal-lora/resolve/main/pytorch_lora_weights.safetensors"),
    "insert_anything": ModelFile("insert_anything_lora.safetensors", "loras",
                                 "https://huggingface.co/WensongSong/Insert-Anything/resolve/main/"
                                 "20250321-082022_steps5000_pytorch_lora_weights.safetensors"),
    "catvton": ModelFile("catvton_flux_lora.safetensors", "loras",
                         "https://huggingface.co/xiaozaa/catvton-flux-lora-alpha/resolve/main/"
                         "pytorch_lora_weights.safetensors"),
}
# Every LoRA the pack's loader offers by name (its `vertical` choices, before "file").
LORAS = ACE_LORAS | FAMILY_LORAS
MODEL_FILES = {
    "fill": ModelFile("flux1-fill-dev.safetensors", "diffusion_models",
                      "https://huggingface.co/black-forest-labs/FLUX.1-Fill-dev/resolve/main/flux1-fill-dev.safetensors"),
    "fft": ModelFile("ace_plus_fft.safetensors", "diffusion_models", f"{HF_ACE}/ace_plus_fft.safetensors"),
    "clip_l": ModelFile("clip_l.safetensors", "text_encoders",
                        "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors"),
    "t5xxl": ModelFile("t5xxl_fp16.safetensors", "text_encoders",
                       "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors"),
    "vae": ModelFile("ae.safetensors", "vae",
                     "https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/main/ae.safetensors"),
    "redux": ModelFile("flux1-redux-dev.safetensors", "style_models",
                       "https://huggingface.co/black-forest-labs/FLUX.1-Redux-dev/resolve/main/flux1-redux-dev.safetensors"),
    "sigclip": ModelFile("sigclip_vision_patch14_384.safetensors", "clip_vision",
                         "https://huggingface.co/Comfy-Org/sigclip_vision_384/resolve/main/sigclip_vision_patch14_384.safetensors"),
} | {f"lora_{k}": v for k, v in LORAS.items()}
