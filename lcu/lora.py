"""How completely a LoRA file lands on a model: which of its tensors map onto no layer, which targeted weights the
model lacks.

ComfyUI applies whatever part of a LoRA matches and logs the rest, so a LoRA made for another base model comes
out silently half-applied. The coverage is worked out here from names alone (the LoRA's tensor keys and the
model's key map, LoRA module prefix -> model weight, as comfy.lora.model_lora_keys_unet builds it), so it is
tested without ComfyUI; the node passes in what ComfyUI's patcher reported it could not apply.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Iterable, Mapping

SHOWN_KEYS = 5  # unmatched names a summary lists


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
