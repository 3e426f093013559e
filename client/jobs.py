"""Jobs: one prompt each, built once from the command line or input-set files, frozen from then on.

A job knows nothing of servers: the scheduler uploads its images to whichever server runs it and only then
fills the LoadImage inputs (``Job.prompt``). Its ``name`` names its output files, so a rerun of the same batch
can tell which jobs are done (--skip-existing)."""
from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .catalog import MARGINS, Workflow
from .errors import EXIT_INPUT, ClientError
from .graph import apply_set, use_gguf_model
from .images import prepare_images

PARAMETERS = ("prompt", "seed", "steps", "lora_strength", "width", "height")


# Invisible format characters that reorder or hide text: a name holding one can show as another name.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_NAME_BYTES = 200  # a job name plus "_NN.png" stays under the 255-byte limit of common file systems


def plain_name(text: str) -> bool:
    """A single file-name component that stays where it is put: no separators, no '.'/'..', no control,
    line-break, surrogate or direction-changing characters, no surrounding blanks. Letters of any script,
    inner spaces, emoji sequences (zero-width joiners) and the Persian zero-width non-joiner are fine."""
    if not isinstance(text, str) or not text or text in (".", "..") or text != text.strip():
        return False
    if "/" in text or "\\" in text:
        return False
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Zl", "Zp") or ch in BIDI_CONTROLS:
            return False
    return True


@dataclass(frozen=True)
class Upload:
    """One image to upload for a job and the LoadImage input that takes the uploaded name."""
    role: str
    node: str
    input: str
    data: bytes


@dataclass(frozen=True)
class Job:
    name: str  # the stem of its output files; unique within a batch
    workflow: str
    graph_json: str  # the API graph with every parameter and --set applied; image inputs still unset
    uploads: tuple[Upload, ...]

    def prompt(self, uploaded: Mapping[str, str]) -> dict:
        """The graph to queue, given the server-side name of each upload (by role)."""
        graph = json.loads(self.graph_json)
        for upload in self.uploads:
            graph[upload.node]["inputs"][upload.input] = uploaded[upload.role]
        return graph


@dataclass(frozen=True)
class InputSet:
    """One set of inputs: image files and parameter values, plus the label that goes into job names."""
    label: str
    files: Mapping[str, Path]
    values: Mapping[str, object]


def read_input_set(path: Path, workflow: Workflow) -> InputSet:
    """An --input-set JSON file: {"reference": "a.png", "prompt": "...", "seed": 3, ...}; paths relative to it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ClientError(EXIT_INPUT, f"--input-set {path}: {e.__class__.__name__}: {e}"
                          + ("; save it as UTF-8" if isinstance(e, UnicodeDecodeError) else ""))
    files, values = {}, {}
    for key, value in data.items():
        if key in workflow.images:
            if not isinstance(value, str) or not value.strip():
                raise ClientError(EXIT_INPUT, f"--input-set {path}: \"{key}\" must be an image file name "
                                  f"(a string, relative to the file), not {json.dumps(value)[:80]}")
            files[key] = (path.parent / value).expanduser()
        elif key in PARAMETERS:
            values[key] = check_value(key, value, f"--input-set {path}")
        else:
            raise ClientError(EXIT_INPUT, f"--input-set {path.stem}: workflow '{workflow.id}' has no input '{key}'")
    return InputSet(label=path.stem, files=files, values=values)


KINDS = {"prompt": (str, "a string"), "seed": (int, "an integer"), "steps": (int, "an integer"),
         "width": (int, "an integer"), "height": (int, "an integer"), "lora_strength": ((int, float), "a number"),
         **{side: (int, "an integer") for side in MARGINS}}


def check_value(key: str, value, where: str):
    """A parameter from an input-set file has the type its widget takes (JSON allows anything)."""
    kind, words = KINDS[key]
    finite = not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, kind) or not finite:
        raise ClientError(EXIT_INPUT, f"{where}: {key} {json.dumps(value)[:80]} is not {words}")
    return value


def build_jobs(workflow: Workflow, *, files: Mapping[str, Path], values: Mapping[str, object],
               seeds: list[int] | None, sets: list[InputSet], overrides: Mapping[str, str],
               gguf: str | None = None) -> list[Job]:
    """Every job of a run: one per input set (or one without sets) and per seed. ``files`` and ``values`` are
    the command line's and apply to every set unless the set gives its own; ``gguf`` loads the model from that
    GGUF file (graph.use_gguf_model) before ``overrides`` apply."""
    jobs: list[Job] = []
    for one in sets or [InputSet(label="", files={}, values={})]:
        set_files = {**files, **one.files}
        set_values = {k: v for k, v in values.items() if v is not None}
        set_values.update(one.values)
        set_seeds = [set_values.pop("seed")] if "seed" in set_values else (seeds or [None])
        for key, value in set_values.items():
            if isinstance(value, str) and any(unicodedata.category(ch) == "Cs" for ch in value):
                raise ClientError(EXIT_INPUT, f"{one.label or 'command line'}: the {key} is not valid UTF-8 text "
                                  f"({value.encode('utf-8', 'backslashreplace').decode()[:80]!r}); write it in UTF-8")
            if key not in workflow.params:
                raise ClientError(EXIT_INPUT, f"workflow '{workflow.id}' takes no {key.replace('_', '-')} "
                                  f"(parameters: {', '.join(workflow.params)})")
        images = prepare_images(workflow, set_files)
        uploads = tuple(Upload(role, workflow.images[role].node, workflow.images[role].input, data)
                        for role, data in images.items())
        for seed in set_seeds:
            graph = workflow.graph()
            for key, value in {**set_values, **({} if seed is None else {"seed": seed})}.items():
                if key == "seed" and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ClientError(EXIT_INPUT, f"{one.label or 'command line'}: seed {value!r} is not an integer")
                node, name = workflow.params[key]
                graph[node]["inputs"][name] = value
            if gguf:
                use_gguf_model(graph, gguf)
            apply_set(graph, overrides)
            seed_node, seed_input = workflow.params["seed"]
            name = "_".join(p for p in (workflow.id, one.label, f"seed{graph[seed_node]['inputs'][seed_input]}") if p)
            if not plain_name(name):
                raise ClientError(EXIT_INPUT, f"job name {name!r} is not a plain file name: rename the input-set file")
            if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
                raise ClientError(EXIT_INPUT, f"job name {name[:60]!r}... is longer than {MAX_NAME_BYTES} bytes, too "
                                  "long for a file name: give the input-set file a shorter name")
            jobs.append(Job(name=name, workflow=workflow.id, graph_json=json.dumps(graph), uploads=uploads))
    seen: set[str] = set()
    for job in jobs:
        if job.name in seen:
            raise ClientError(EXIT_INPUT, f"two jobs would both be named {job.name} (the same seed twice?): "
                              "give each job its own seed or input-set file")
        seen.add(job.name)
    return jobs
