"""How completely a LoRA file lands on a model: which of its tensors map onto no layer, which targeted weights the
model lacks.

ComfyUI applies whatever part of a LoRA matches and logs the rest, so a LoRA made for another base model comes
out silently half-applied. The coverage is worked out here from names alone (the LoRA's tensor keys and the
model's key map, LoRA module prefix -> model weight, as comfy.lora.model_lora_keys_unet builds it), so it is
tested without ComfyUI; the node passes in what ComfyUI's patcher reported it could not apply. A LoRA whose
input layer is another base's maps by name all the same (ComfyUI fails on its shape only when sampling):
:func:`lora_base_model` reads the base from that layer's shape.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Iterable, Mapping, Sequence

SHOWN_KEYS = 5  # unmatched names a summary lists

FILL_BASE = "FLUX.1-Fill-dev"
# In-features of a FLUX transformer's input embedding (img_in, diffusers' x_embedder): latent channels x 2x2 patch.
BASE_BY_IMG_IN = {
    64: "FLUX.1-dev or FLUX.1-schnell",  # 16 noise channels
    128: "FLUX.1-Canny-dev or FLUX.1-Depth-dev",  # + 16 control-image channels
    384: FILL_BASE,  # + 16 image + 64 mask channels
    448: "the ACE++ FFT model",  # + 16 context + 16 change + 64 mask channels
}
# The down (A) matrix of the input embedding in each key style: diffusers/PEFT (transformer.x_embedder.lora_A...),
# ComfyUI/BFL (diffusion_model.img_in..., img_in...), kohya (lora_unet_img_in.lora_down...), OneTrainer
# (lora_transformer_x_embedder...), LyCORIS (lycoris_x_embedder...). Not controlnet_x_embedder.
IMG_IN_DOWN = re.compile(r"(?:^|\.|lora_unet_|lora_transformer_|lycoris_)(?:x_embedder|img_in)"
                         r"\.(?:lora_A|lora_down)(?:\.default)?\.weight$")


def lora_module_of(key: str, key_map: Mapping[str, object]) -> str | None:
    """The LoRA module a tensor key belongs to: its longest dotted prefix that the model's key map knows."""
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in key_map:
            return prefix
    return None


@dataclass(frozen=True)
class LoraCoverage:
    total_keys: int
    unmapped_keys: tuple[str, ...]  # tensors of the file that match no layer of the model
    unpatched: tuple[str, ...]  # model weights the LoRA targets that the model does not have

    @property
    def complete(self) -> bool:
        return not self.unmapped_keys and not self.unpatched

    def summary(self, name: str) -> str:
        """One line for the node's report: all applied, or how much is not and why."""
        if self.complete:
            return f"{name}: all {self.total_keys} LoRA tensors applied."
        shown = ", ".join((self.unmapped_keys + self.unpatched)[:SHOWN_KEYS])
        missing = f" and {len(self.unpatched)} target weights are missing" if self.unpatched else ""
        return (f"{name}: {len(self.unmapped_keys)} of {self.total_keys} LoRA tensors match no layer of this model"
                f"{missing} (e.g. {shown}). The LoRA is for another base model: ACE++ LoRAs need FLUX.1-Fill-dev.")


def lora_coverage(lora_keys: Iterable[str], key_map: Mapping[str, object],
                  unpatched: Collection = ()) -> LoraCoverage:
    """The coverage of a LoRA with tensors `lora_keys` on a model with `key_map`; `unpatched` are the target
    weights the model's patcher could not apply (names, or ComfyUI's (name, ...) tuples), sorted into the record."""
    keys = list(lora_keys)
    unmapped = tuple(sorted(k for k in keys if lora_module_of(k, key_map) is None))
    return LoraCoverage(total_keys=len(keys), unmapped_keys=unmapped, unpatched=tuple(sorted(map(str, unpatched))))


def lora_base_model(shapes: Mapping[str, Sequence[int]]) -> str | None:
    """The base model a LoRA was trained on, as its input-embedding part tells it; `shapes` maps each tensor key to
    its shape. The down matrix of img_in / x_embedder is [rank, in-features], and the in-features are the base's:
    64 FLUX.1-dev or schnell, 384 FLUX.1-Fill-dev (:data:`FILL_BASE`, the ACE++ LoRAs' base), 448 the ACE++ FFT
    model (:data:`BASE_BY_IMG_IN`; another width is named by its count).

    None when the LoRA does not train the input embedding: most LoRAs, FLUX.1-dev ones such as the IC-LoRAs
    included, touch only the transformer blocks, whose shapes FLUX.1-dev and FLUX.1-Fill-dev share, so the keys
    cannot tell a FLUX.1-dev LoRA from a Fill one (ComfyUI applies it in full to the Fill model)."""
    for key, shape in shapes.items():
        if IMG_IN_DOWN.search(key) and len(shape) == 2:
            in_features = int(shape[1])
            return BASE_BY_IMG_IN.get(in_features, f"a FLUX model with {in_features} input features")
    return None
