"""The bundled workflows as the client sees them: each API twin (workflows/api/<id>.json) with its named
inputs from workflows/api/index.json. Both files are written by the project's workflow builder."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .errors import EXIT_WORKFLOW, ClientError

PACK_ROOT = Path(__file__).resolve().parent.parent
API_DIR = PACK_ROOT / "workflows" / "api"
INDEX = API_DIR / "index.json"
# The outpainting workflows' margins (ACE++ Extend Image, lcu/outpaint.py SIDES; the client imports nothing of the
# pack's torch code), in px.
MARGINS = ("left", "top", "right", "bottom")
PARAM_FLAGS = {"prompt": "--prompt TEXT", "seed": "--seed N (repeat for a batch)", "steps": "--steps N",
               "lora_strength": "--lora-strength X", "width": "--width W", "height": "--height H",
               **{side: f"--{side} PX" for side in MARGINS}}


@dataclass(frozen=True)
class ImageInput:
    """A named image input: uploaded into ``node``'s ``input`` (a LoadImage), or, for ``mask``, folded into
    the alpha channel of the image input named by ``into`` before upload."""
    name: str
    help: str
    node: str = ""
    input: str = ""
    into: str = ""

    @property
    def required(self) -> bool:
        return not self.into


@dataclass(frozen=True)
class Workflow:
    id: str
    title: str
    description: str
    ui_file: str  # the UI workflow's file name in workflows/ (what the template browser shows)
    images: Mapping[str, ImageInput]
    params: Mapping[str, tuple[str, str]]  # parameter -> (node id, input name)
    api_json: str  # the API twin as text: graph() hands out a fresh copy each time

    def graph(self) -> dict:
        return json.loads(self.api_json)

    def describe(self) -> str:
        lines = [f"{self.id}: {self.title}  (in ComfyUI: {self.ui_file})", f"    {self.description}"]
        for image in self.images.values():
            lines.append(f"    --input {image.name}=FILE   ({'required' if image.required else 'optional'}) {image.help}")
        lines.append("    parameters: " + ", ".join(PARAM_FLAGS[p] for p in self.params))
        return "\n".join(lines)


def _index() -> dict:
    try:
        return json.loads(INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ClientError(EXIT_WORKFLOW, f"cannot read the workflow index {INDEX} ({e}); reinstall the pack")


def workflow_ids() -> list[str]:
    return list(_index())


def load(workflow_id: str) -> Workflow:
    index = _index()
    entry = index.get(workflow_id)
    if entry is None:
        raise ClientError(EXIT_WORKFLOW, f"unknown workflow '{workflow_id}'; bundled: {', '.join(index)}")
    path = API_DIR / f"{workflow_id}.json"
    try:
        api_json = json.dumps(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:
        raise ClientError(EXIT_WORKFLOW, f"cannot read the API twin {path} ({e}); reinstall the pack")
    images = {name: ImageInput(name=name, **info) for name, info in entry["images"].items()}
    params = {name: (str(target[0]), str(target[1])) for name, target in entry["params"].items()}
    return Workflow(id=workflow_id, title=entry["title"], description=entry["description"], ui_file=entry["ui_file"],
                    images=MappingProxyType(images), params=MappingProxyType(params), api_json=api_json)


def load_all() -> list[Workflow]:
    return [load(wid) for wid in workflow_ids()]
