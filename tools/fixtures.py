"""Tiny random-weight models that ComfyUI 0.3.75's stock loaders accept, for tests and the CPU demo.

    python tools/fixtures.py [--out DIR] [--force] [--quiet]

DIR defaults to ``$ACEPP_CACHE/fixtures/models`` (outside git). The layout is a ComfyUI ``models``
folder with the real file names, so the bundled workflows run unchanged except that ``DualCLIPLoader``
(T5-XXL cannot be shrunk through the stock loader) becomes ``CLIPLoader(clip_l.safetensors,
type="stable_diffusion")``:

    diffusion_models/flux1-fill-dev.safetensors   FLUX.1-Fill shape, img_in 384 inputs -> ComfyUI FluxInpaint
    diffusion_models/ace_plus_fft.safetensors     same weights, img_in 448 inputs       -> ComfyUI Flux
    text_encoders/clip_l.safetensors              CLIP-L (12 layers, 768 wide): cond [1,77,768], pooled [1,768]
    vae/ae.safetensors                            TAEF1-shaped single file: 16 latent channels, /8
    loras/comfyui_portrait_lora64.safetensors     kohya layout, rank 64 (alpha = rank)
    loras/comfyui_subject_lora16.safetensors      kohya layout, rank 16
    loras/comfyui_local_lora16.safetensors        kohya layout, rank 16
    loras/acepp_unmappable_lora.safetensors       the good keys (rank 4) plus keys the tiny model lacks
    loras/icedit_normal_lora.safetensors          ICEdit's target set, diffusers/PEFT keys, x_embedder 384 inputs
    loras/insert_anything_lora.safetensors        the same target set (Insert Anything), another rank
    loras/catvton_flux_lora.safetensors           every Linear of the transformer (CatVTON-Flux), x_embedder 384
    loras/icedit_normal_lora_kohya.safetensors    the ICEdit file converted to kohya keys (q/k/v merged)
    loras/ic_lora_film_storyboard.safetensors     IC-LoRA: a FLUX.1-dev LoRA without x_embedder (maps onto Fill)
    loras/flux_dev_img_in_lora.safetensors        a FLUX.1-dev LoRA whose x_embedder takes 64 inputs (wrong base)
    diffusion_models/<fill or fft>-fp8_e4m3fn / -fp8_scaled / -fp8_quantized.safetensors, and
    unet/<fill or fft>-Q8_0 / -Q4_K_S.gguf        the same weights in each form of MODEL_FORMS (below)
    unet/flux1-dev-Q4_K_S.gguf, unet/flux1-fill-dev-truncated.gguf     a GGUF of the wrong family, a cut one

Model forms: the fp8 files store every matrix in e4m3fn; the scaled ones keep a float32 scale per matrix, once with
ComfyUI's older `scaled_fp8` marker tensor and once with per-layer formats in the `_quantization_metadata` header
entry (both read by ComfyUI 0.3.75 and v0.28.2). The GGUF files are written with the `gguf` package as ComfyUI-GGUF's
convert tool lays them out (architecture "flux", vectors in F32): Q8_0 quantised from the bf16 weights, and Q4_K
as random blocks (the package dequantises K-quants but cannot make them), Q8_0 where a row is no multiple of 256.
FLUX's widths (3072, 12288, 15360) are multiples of both block sizes (32, 256); img_in (384, 448) of Q8_0's.

FLUX: ComfyUI hard-codes 24 heads and rotary axes [16, 56, 56], so the hidden size must be 3072; depth
is counted from the keys (1 double + 1 single block here), the context width comes from ``txt_in``
(768, CLIP-L's hidden states), the pooled width from ``vector_in`` (768, CLIP-L's pooled output), and
``guidance_in`` must be present or a 384-input model is detected as FluxSchnell. Everything is bf16,
drawn from N(0, 0.02) with one seeded generator per tensor name (so the Fill and FFT files share every
weight except ``img_in``); RMSNorm scales are ones.

VAE: ComfyUI's ``VAE(sd=...)`` recognises a TAESD state dict by its ``taesd_decoder.1.weight`` key and
reads the latent channel count from it, so one file with ``taesd_encoder.*``/``taesd_decoder.*`` keys
plus ``vae_scale``/``vae_shift`` (exactly the dict ``VAELoader`` assembles for "taef1") loads from
``vae/ae.safetensors``: 16 channels, three stride-2 stages (/8), 2.5 M parameters instead of the FLUX
AE's 84 M, so it is used.

LoRAs: keys ``lora_unet_<module>.lora_down.weight`` [rank, in], ``.lora_up.weight`` [out, rank] and
``.alpha`` (= rank) for the 13 modules in :func:`lora_modules` (10 per double block, 3 per single
block, never ``img_in``). Through ``comfy.lora.model_lora_keys_unet`` + ``comfy.lora.load_lora`` every
key of the three good LoRAs maps (13 patches, 0 keys left over), on the Fill and the FFT model alike.
The unmappable LoRA maps the same 13 modules and leaves exactly ``UNMAPPABLE_KEY_COUNT`` = 9 keys
(the 3 tensors of each of the 3 modules in ``UNMAPPABLE_MODULES``) unloaded; ComfyUI reports each one
as a ``lora key not loaded: <key>`` warning. :func:`expected_unmapped_keys` gives the exact set.

Family LoRAs (:data:`FAMILY_LORA_FILES`): the LoRAs of the FLUX.1-Fill in-context family (ICEdit, Insert Anything,
CatVTON-Flux) as their trainers save them, diffusers/PEFT keys ``transformer.<module>.lora_A.weight`` [rank, in]
and ``.lora_B.weight`` [out, rank] without alphas, with their real module names and shapes on the tiny model's
depth (:func:`family_lora_modules`); one of them converted to kohya keys the way sd-scripts does (q, k, v and
proj_mlp merged: downs stacked, ups block-diagonal, alpha = the merged rank); and two FLUX.1-dev LoRAs: an IC-LoRA
(no x_embedder, so its keys cannot tell it from a Fill LoRA) and one whose x_embedder takes 64 inputs. Every key of
every family file maps onto the tiny Fill model (the 64-input x_embedder by name: its shape fails only when
ComfyUI patches the weight).

Idempotent: a stamp (hash of this file's source) in DIR makes a second run return in milliseconds;
concurrent runs serialise on a lock file. Deterministic: the same source gives byte-identical files.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

SEED = 20250405
STD = 0.02
HIDDEN = 3072  # forced: 24 heads x (16 + 56 + 56) rotary dims in ComfyUI's FLUX detection
HEAD_DIM = 128
MLP = 4 * HIDDEN
DOUBLE_BLOCKS = 1
SINGLE_BLOCKS = 1
CONTEXT_DIM = 768  # CLIP-L hidden states
VEC_DIM = 768  # CLIP-L pooled output
FILL_IN = 384  # (16 noise + 16 image + 64 mask) x 2x2 patch
FFT_IN = 448  # (16 noise + 16 context + 16 change + 64 mask) x 2x2 patch
LATENT_CHANNELS = 16
GAIN_RGB = 8.0  # gain of the TAESD decoder's last conv

FILL_MODEL = "flux1-fill-dev.safetensors"
FFT_MODEL = "ace_plus_fft.safetensors"
CLIP_L = "clip_l.safetensors"
VAE = "ae.safetensors"
GOOD_LORAS = {
    "comfyui_portrait_lora64.safetensors": 64,
    "comfyui_subject_lora16.safetensors": 16,
    "comfyui_local_lora16.safetensors": 16,
}
UNMAPPABLE_LORA = "acepp_unmappable_lora.safetensors"
UNMAPPABLE_RANK = 4
# Modules the tiny model lacks: a double block past its depth, a single block past its depth, a made-up layer.
UNMAPPABLE_MODULES = (
    "lora_unet_double_blocks_7_img_attn_qkv",
    "lora_unet_single_blocks_5_linear1",
    "lora_unet_double_blocks_0_img_attn_frobnicator",
)
LORA_KEYS_PER_MODULE = 3  # lora_down.weight, lora_up.weight, alpha
UNMAPPABLE_KEY_COUNT = len(UNMAPPABLE_MODULES) * LORA_KEYS_PER_MODULE  # 9


@dataclass(frozen=True)
class FamilyLora:
    """A fixture LoRA of the FLUX-Fill in-context family, or a FLUX.1-dev one that looks like it."""

    targets: str  # which modules, see family_lora_modules: "edit", "blocks" or "every_linear"
    rank: int
    img_in: int | None  # in-features of x_embedder's lora_A; None: x_embedder not trained
    made_for: str = "FLUX.1-Fill-dev"
    kohya: bool = False  # kohya keys, converted from the PEFT file of the same targets, rank and img_in


ICEDIT_LORA = "icedit_normal_lora.safetensors"
INSERT_ANYTHING_LORA = "insert_anything_lora.safetensors"
CATVTON_LORA = "catvton_flux_lora.safetensors"
ICEDIT_KOHYA_LORA = "icedit_normal_lora_kohya.safetensors"
IC_LORA = "ic_lora_film_storyboard.safetensors"
DEV_IMG_IN_LORA = "flux_dev_img_in_lora.safetensors"
FAMILY_LORA_FILES = {
    ICEDIT_LORA: FamilyLora("edit", 8, FILL_IN),  # real: rank 32
    INSERT_ANYTHING_LORA: FamilyLora("edit", 4, FILL_IN),  # real: rank 256
    CATVTON_LORA: FamilyLora("every_linear", 8, FILL_IN),  # real: rank 128 (size arithmetic)
    ICEDIT_KOHYA_LORA: FamilyLora("edit", 8, FILL_IN, kohya=True),  # = ICEDIT_LORA's tensors, kohya keys
    IC_LORA: FamilyLora("blocks", 4, None, made_for="FLUX.1-dev"),  # real: rank 16
    DEV_IMG_IN_LORA: FamilyLora("blocks", 4, 64, made_for="FLUX.1-dev"),
}

# ---------------------------------------------------------------- model forms
# The Fill and FFT fixtures again in each form users run on 8-16 GB GPUs (see ModelForm), plus two bad files.
FP8_DTYPES = ("fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2")  # the stock loaders' fp8 weight_dtype choices
GGUF_FOLDER = "unet"  # ComfyUI-GGUF lists .gguf files of models/unet and models/diffusion_models
WRONG_FAMILY_GGUF = "flux1-dev-Q4_K_S.gguf"  # FLUX.1-dev (64 inputs, no fill channels)
TRUNCATED_GGUF = "flux1-fill-dev-truncated.gguf"  # the Q8_0 Fill file cut at a third
QK_K = 256  # values per K-quant block
Q4_K_BLOCK_BYTES = 144  # fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of 4-bit values


@dataclass(frozen=True)
class ModelForm:
    """One way a FLUX Fill-family model is stored: which file of each family, and which loader reads it."""

    key: str
    what: str
    suffix: str
    extension: str = "safetensors"
    loader: str = "stock"  # "stock": UNETLoader / ACE++ FFT Loader; "gguf": ComfyUI-GGUF's UnetLoaderGGUF

    @property
    def folder(self) -> str:
        return GGUF_FOLDER if self.loader == "gguf" else "diffusion_models"

    def file(self, family: str) -> str:
        """The form's file name for family "fill" or "fft"."""
        stem = Path({"fill": FILL_MODEL, "fft": FFT_MODEL}[family]).stem
        return f"{stem}-{self.suffix}.{self.extension}"

    def loader_node(self, family: str) -> tuple[str, dict]:
        """(node class, inputs) a user loads this form's file of `family` with."""
        if self.loader == "gguf":
            return "UnetLoaderGGUF", {"unet_name": self.file(family)}
        return stock_loader_node(family, self.file(family), "default")


def stock_loader_node(family: str, unet_name: str, weight_dtype: str) -> tuple[str, dict]:
    """(node class, inputs) of the loader the bundled workflows use for `family`: Load Diffusion Model for Fill,
    ACE++ FFT Loader for FFT (both take a weight_dtype)."""
    return ("UNETLoader" if family == "fill" else "ACEPP_FFTLoader",
            {"unet_name": unet_name, "weight_dtype": weight_dtype})


MODEL_FORMS = {form.key: form for form in (
    ModelForm("fp8", "fp8 (e4m3fn) weights, one dtype for every layer", "fp8_e4m3fn"),
    ModelForm("fp8_scaled", "scaled fp8: e4m3fn weights with a float32 scale per layer (the `scaled_fp8` "
                            "marker tensor)", "fp8_scaled"),
    ModelForm("quantized", "quantised safetensors: per-layer formats in the `_quantization_metadata` header "
                           "entry (what comfy-kitchen writes)", "fp8_quantized"),
    ModelForm("gguf_q8_0", "GGUF Q8_0", "Q8_0", "gguf", "gguf"),
    ModelForm("gguf_q4_k", "GGUF Q4_K_S (Q4_K blocks, Q8_0 where a row is no multiple of 256)", "Q4_K_S", "gguf",
              "gguf"),
)}

STAMP_NAME = ".acepp-fixtures.json"
LOCK_NAME = ".acepp-fixtures.lock"


def default_out_dir() -> Path:
    """``$ACEPP_CACHE/fixtures/models`` (``~/.cache/aceplusplus/...`` when ACEPP_CACHE is unset)."""
    from aceplusplus.tools.pack import cache_dir  # the standard library only, as this module at import

    return cache_dir() / "fixtures" / "models"


# ---------------------------------------------------------------- shapes
# A spec maps tensor name -> (shape, init) with init "normal" (N(0, std)), ("conv", gain) (LeCun-normal x
# gain), "ones", "zeros" or a float constant.

def _linear(spec: dict, name: str, out_f: int, in_f: int, bias: bool = True) -> None:
    spec[f"{name}.weight"] = ((out_f, in_f), "normal")
    if bias:
        spec[f"{name}.bias"] = ((out_f,), "normal")


def flux_spec(in_channels: int, *, double_blocks: int = DOUBLE_BLOCKS, single_blocks: int = SINGLE_BLOCKS) -> dict:
    """Every tensor of a FLUX.1-dev-style transformer (ComfyUI key names, no prefix); the depth defaults to the
    tiny fixture's (FLUX.1 itself: 19 double + 38 single blocks, as tools/gpu_check.py builds it)."""
    s: dict = {}
    _linear(s, "img_in", HIDDEN, in_channels)
    for emb, width in (("time_in", 256), ("vector_in", VEC_DIM), ("guidance_in", 256)):
        _linear(s, f"{emb}.in_layer", HIDDEN, width)
        _linear(s, f"{emb}.out_layer", HIDDEN, HIDDEN)
    _linear(s, "txt_in", HIDDEN, CONTEXT_DIM)
    for i in range(double_blocks):
        for stream in ("img", "txt"):
            p = f"double_blocks.{i}.{stream}"
            _linear(s, f"{p}_mod.lin", 6 * HIDDEN, HIDDEN)
            _linear(s, f"{p}_attn.qkv", 3 * HIDDEN, HIDDEN)
            s[f"{p}_attn.norm.query_norm.scale"] = ((HEAD_DIM,), "ones")
            s[f"{p}_attn.norm.key_norm.scale"] = ((HEAD_DIM,), "ones")
            _linear(s, f"{p}_attn.proj", HIDDEN, HIDDEN)
            _linear(s, f"{p}_mlp.0", MLP, HIDDEN)
            _linear(s, f"{p}_mlp.2", HIDDEN, MLP)
    for i in range(single_blocks):
        p = f"single_blocks.{i}"
        _linear(s, f"{p}.linear1", 3 * HIDDEN + MLP, HIDDEN)
        _linear(s, f"{p}.linear2", HIDDEN, HIDDEN + MLP)
        s[f"{p}.norm.query_norm.scale"] = ((HEAD_DIM,), "ones")
        s[f"{p}.norm.key_norm.scale"] = ((HEAD_DIM,), "ones")
        _linear(s, f"{p}.modulation.lin", 3 * HIDDEN, HIDDEN)
    _linear(s, "final_layer.linear", 4 * LATENT_CHANNELS, HIDDEN)
    _linear(s, "final_layer.adaLN_modulation.1", 2 * HIDDEN, HIDDEN)
    return s


def clip_l_spec() -> dict:
    """ComfyUI's CLIP-L text model (comfy/sd1_clip_config.json: 12 layers, 768 wide, 3072 MLP)."""
    s: dict = {}
    w, layers, inner = 768, 12, 3072
    s["text_model.embeddings.token_embedding.weight"] = ((49408, w), "normal")
    s["text_model.embeddings.position_embedding.weight"] = ((77, w), "normal")
    for i in range(layers):
        p = f"text_model.encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            _linear(s, f"{p}.self_attn.{proj}", w, w)
        for ln in ("layer_norm1", "layer_norm2"):
            s[f"{p}.{ln}.weight"] = ((w,), "ones")
            s[f"{p}.{ln}.bias"] = ((w,), "zeros")
        _linear(s, f"{p}.mlp.fc1", inner, w)
        _linear(s, f"{p}.mlp.fc2", w, inner)
    s["text_model.final_layer_norm.weight"] = ((w,), "ones")
    s["text_model.final_layer_norm.bias"] = ((w,), "zeros")
    s["text_projection.weight"] = ((w, w), "normal")
    return s


def _conv(spec: dict, name: str, n_out: int, n_in: int, k: int = 3, bias: bool = True,
          gain: float = 1.0, bias_value: float = 0.0) -> None:
    spec[f"{name}.weight"] = ((n_out, n_in, k, k), ("conv", gain))
    if bias:
        spec[f"{name}.bias"] = ((n_out,), bias_value)


def _tae_block(spec: dict, name: str) -> None:
    for j in (0, 2, 4):  # conv, ReLU, conv, ReLU, conv; 64 -> 64 so the skip is an Identity
        _conv(spec, f"{name}.conv.{j}", 64, 64)


def taef1_spec() -> dict:
    """comfy/taesd/taesd.py Encoder/Decoder with 16 latent channels, as one VAELoader-style dict."""
    s: dict = {}
    enc = "taesd_encoder"
    _conv(s, f"{enc}.0", 64, 3)
    _tae_block(s, f"{enc}.1")
    idx = 2
    for _ in range(3):
        _conv(s, f"{enc}.{idx}", 64, 64, bias=False)  # stride 2
        for b in range(3):
            _tae_block(s, f"{enc}.{idx + 1 + b}")
        idx += 4
    _conv(s, f"{enc}.{idx}", LATENT_CHANNELS, 64)  # 14
    dec = "taesd_decoder"
    _conv(s, f"{dec}.1", 64, LATENT_CHANNELS)  # 0 Clamp, 2 ReLU
    idx = 3
    for _ in range(3):
        for b in range(3):
            _tae_block(s, f"{dec}.{idx + b}")
        _conv(s, f"{dec}.{idx + 4}", 64, 64, bias=False)  # after the Upsample at idx + 3
        idx += 5
    _tae_block(s, f"{dec}.{idx}")  # 18
    # 19: TAESD decodes to [0, 1] before ComfyUI maps it to [-1, 1]; bias 0.5 and a larger gain give
    # mid-grey images with visible variation instead of near-black ones.
    _conv(s, f"{dec}.{idx + 1}", 3, 64, gain=GAIN_RGB, bias_value=0.5)
    s["vae_scale"] = ((), 0.3611)  # the values VAELoader uses for taef1
    s["vae_shift"] = ((), 0.1159)
    return s


def lora_modules(*, double_blocks: int = DOUBLE_BLOCKS, single_blocks: int = SINGLE_BLOCKS) -> list[str]:
    """The kohya module names an ACE++ LoRA covers (img_in never): 10 per double block and 3 per single block,
    13 on the tiny model."""
    mods = []
    for i in range(double_blocks):
        for m in ("img_attn_qkv", "img_attn_proj", "txt_attn_qkv", "txt_attn_proj", "img_mlp_0",
                  "img_mlp_2", "txt_mlp_0", "txt_mlp_2", "img_mod_lin", "txt_mod_lin"):
            mods.append(f"lora_unet_double_blocks_{i}_{m}")
    for i in range(single_blocks):
        for m in ("linear1", "linear2", "modulation_lin"):
            mods.append(f"lora_unet_single_blocks_{i}_{m}")
    return mods


def _module_shape(module: str) -> tuple[int, int]:
    """(out, in) of the Linear a kohya module name points at (made-up names get a plausible shape)."""
    tail = module.split("_blocks_", 1)[1].split("_", 1)[1]
    shapes = {
        "img_attn_qkv": (3 * HIDDEN, HIDDEN), "txt_attn_qkv": (3 * HIDDEN, HIDDEN),
        "img_attn_proj": (HIDDEN, HIDDEN), "txt_attn_proj": (HIDDEN, HIDDEN),
        "img_mlp_0": (MLP, HIDDEN), "txt_mlp_0": (MLP, HIDDEN),
        "img_mlp_2": (HIDDEN, MLP), "txt_mlp_2": (HIDDEN, MLP),
        "img_mod_lin": (6 * HIDDEN, HIDDEN), "txt_mod_lin": (6 * HIDDEN, HIDDEN),
        "linear1": (3 * HIDDEN + MLP, HIDDEN), "linear2": (HIDDEN, HIDDEN + MLP),
        "modulation_lin": (3 * HIDDEN, HIDDEN),
    }
    return shapes.get(tail, (HIDDEN, HIDDEN))


def lora_spec(rank: int, modules: list[str]) -> dict:
    s: dict = {}
    for m in modules:
        out_f, in_f = _module_shape(m)
        s[f"{m}.lora_down.weight"] = ((rank, in_f), "normal")
        s[f"{m}.lora_up.weight"] = ((out_f, rank), "normal")
        s[f"{m}.alpha"] = ((), float(rank))
    return s


def expected_unmapped_keys(lora_file: str) -> frozenset[str]:
    """Keys of a fixture LoRA that ComfyUI cannot map onto the tiny model ('lora key not loaded')."""
    if lora_file in GOOD_LORAS or lora_file in FAMILY_LORA_FILES:
        return frozenset()
    if lora_file == UNMAPPABLE_LORA:
        return frozenset(k for m in UNMAPPABLE_MODULES
                         for k in (f"{m}.lora_down.weight", f"{m}.lora_up.weight", f"{m}.alpha"))
    raise KeyError(f"not a fixture LoRA: {lora_file}")


# diffusers module names of FLUX (block-relative for the blocks) -> (out, in) on the tiny model.
DOUBLE_LINEARS = {
    "norm1.linear": (6 * HIDDEN, HIDDEN), "norm1_context.linear": (6 * HIDDEN, HIDDEN),
    "attn.to_q": (HIDDEN, HIDDEN), "attn.to_k": (HIDDEN, HIDDEN), "attn.to_v": (HIDDEN, HIDDEN),
    "attn.to_out.0": (HIDDEN, HIDDEN),
    "attn.add_q_proj": (HIDDEN, HIDDEN), "attn.add_k_proj": (HIDDEN, HIDDEN), "attn.add_v_proj": (HIDDEN, HIDDEN),
    "attn.to_add_out": (HIDDEN, HIDDEN),
    "ff.net.0.proj": (MLP, HIDDEN), "ff.net.2": (HIDDEN, MLP),
    "ff_context.net.0.proj": (MLP, HIDDEN), "ff_context.net.2": (HIDDEN, MLP),
}
SINGLE_LINEARS = {
    "norm.linear": (3 * HIDDEN, HIDDEN),
    "attn.to_q": (HIDDEN, HIDDEN), "attn.to_k": (HIDDEN, HIDDEN), "attn.to_v": (HIDDEN, HIDDEN),
    "proj_mlp": (MLP, HIDDEN), "proj_out": (HIDDEN, HIDDEN + MLP),
}
GLOBAL_LINEARS = {  # besides x_embedder, whose in-features are the LoRA's own (FamilyLora.img_in)
    "context_embedder": (HIDDEN, CONTEXT_DIM),
    "time_text_embed.timestep_embedder.linear_1": (HIDDEN, 256),
    "time_text_embed.timestep_embedder.linear_2": (HIDDEN, HIDDEN),
    "time_text_embed.guidance_embedder.linear_1": (HIDDEN, 256),
    "time_text_embed.guidance_embedder.linear_2": (HIDDEN, HIDDEN),
    "time_text_embed.text_embedder.linear_1": (HIDDEN, VEC_DIM),
    "time_text_embed.text_embedder.linear_2": (HIDDEN, HIDDEN),
    "norm_out.linear": (2 * HIDDEN, HIDDEN),
    "proj_out": (4 * LATENT_CHANNELS, HIDDEN),
}
# ICEdit's (and Insert Anything's) PEFT target regex: no context stream in the double blocks.
EDIT_DOUBLE = ("norm1.linear", "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "ff.net.2")


def family_lora_modules(lora: FamilyLora, *, double_blocks: int = DOUBLE_BLOCKS,
                        single_blocks: int = SINGLE_BLOCKS) -> dict[str, tuple[int, int]]:
    """diffusers module name (no ``transformer.`` prefix) -> (out, in) of every Linear `lora` trains: "edit"
    ICEdit's regex (6 per double block, 6 per single block), "blocks" every Linear of the blocks (IC-LoRA's 14 + 6),
    "every_linear" every Linear of the transformer (CatVTON); x_embedder first when lora.img_in is set."""
    mods: dict[str, tuple[int, int]] = {}
    if lora.img_in is not None:
        mods["x_embedder"] = (HIDDEN, lora.img_in)
    if lora.targets == "every_linear":
        mods.update(GLOBAL_LINEARS)
    double = EDIT_DOUBLE if lora.targets == "edit" else tuple(DOUBLE_LINEARS)
    for i in range(double_blocks):
        mods.update({f"transformer_blocks.{i}.{m}": DOUBLE_LINEARS[m] for m in double})
    for i in range(single_blocks):
        mods.update({f"single_transformer_blocks.{i}.{m}": shape for m, shape in SINGLE_LINEARS.items()})
    return mods


def family_lora_spec(lora: FamilyLora) -> dict:
    """The PEFT tensors of `lora` (kohya files are converted from these, see _kohya_from_peft)."""
    s: dict = {}
    for module, (out_f, in_f) in family_lora_modules(lora).items():
        s[f"transformer.{module}.lora_A.weight"] = ((lora.rank, in_f), "normal")
        s[f"transformer.{module}.lora_B.weight"] = ((out_f, lora.rank), "normal")
    return s


# kohya module (after lora_unet_) <- the diffusers modules merged into it, in ComfyUI's slice order.
KOHYA_DOUBLE = {
    "img_attn_qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn_qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
    "img_attn_proj": ("attn.to_out.0",), "txt_attn_proj": ("attn.to_add_out",),
    "img_mod_lin": ("norm1.linear",), "txt_mod_lin": ("norm1_context.linear",),
    "img_mlp_0": ("ff.net.0.proj",), "img_mlp_2": ("ff.net.2",),
    "txt_mlp_0": ("ff_context.net.0.proj",), "txt_mlp_2": ("ff_context.net.2",),
}
KOHYA_SINGLE = {
    "linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"),
    "linear2": ("proj_out",), "modulation_lin": ("norm.linear",),
}


def _kohya_from_peft(peft: dict) -> dict:
    """A PEFT FLUX LoRA's tensors under kohya keys, as sd-scripts converts one: the parts of a merged layer stack
    their downs and put their ups on a block diagonal, so the merged LoRA adds exactly what the parts add;
    alpha = the merged rank (scale 1, as a PEFT file without alphas). Only the modules family fixtures use."""
    import torch

    groups = [("img_in", ("x_embedder",))]  # (kohya module, the diffusers modules merged into it)
    for prefix, kohya, table, blocks in (("transformer_blocks", "double_blocks", KOHYA_DOUBLE, DOUBLE_BLOCKS),
                                         ("single_transformer_blocks", "single_blocks", KOHYA_SINGLE, SINGLE_BLOCKS)):
        for i in range(blocks):
            groups += [(f"{kohya}_{i}_{name}", tuple(f"{prefix}.{i}.{p}" for p in parts))
                       for name, parts in table.items()]
    out, used = {}, set()
    for kohya, parts in groups:
        keys = [(f"transformer.{p}.lora_A.weight", f"transformer.{p}.lora_B.weight") for p in parts]
        present = [all(k in peft for k in pair) for pair in keys]
        if not any(present):
            continue
        if not all(present):
            raise ValueError(f"kohya {kohya} needs all of {parts}")
        downs = [peft[a] for a, _ in keys]
        ups = [peft[b] for _, b in keys]
        rank = sum(d.shape[0] for d in downs)
        out[f"lora_unet_{kohya}.lora_down.weight"] = torch.cat(downs, 0)
        out[f"lora_unet_{kohya}.lora_up.weight"] = torch.block_diag(*ups)
        out[f"lora_unet_{kohya}.alpha"] = torch.tensor(float(rank), dtype=downs[0].dtype)
        used.update(k for pair in keys for k in pair)
    if used != set(peft):
        raise ValueError(f"no kohya name for {sorted(set(peft) - used)}")
    return out


# ---------------------------------------------------------------- tensors

# torch and safetensors are imported lazily: the up-to-date check must not pay for importing torch.

def _generator(family: str, name: str):
    import torch

    return torch.Generator().manual_seed((SEED * 1_000_003 + zlib.crc32(f"{family}/{name}".encode())) % (2 ** 63))


def _materialise(spec: dict, family: str, dtype, std: float = STD) -> dict:
    import torch

    out = {}
    for name, (shape, init) in spec.items():
        if init == "normal":
            t = torch.empty(shape, dtype=dtype).normal_(0.0, std, generator=_generator(family, name))
        elif isinstance(init, tuple) and init[0] == "conv":  # LeCun-normal x gain: TAESD activations stay O(1)
            fan_in = shape[1] * shape[2] * shape[3]
            t = torch.empty(shape, dtype=dtype).normal_(0.0, init[1] * fan_in ** -0.5,
                                                        generator=_generator(family, name))
        elif init == "ones":
            t = torch.ones(shape, dtype=dtype)
        elif init == "zeros":
            t = torch.zeros(shape, dtype=dtype)
        else:
            t = torch.full(shape, float(init), dtype=dtype)
        out[name] = t
    return out


def _save(tensors: dict, path: Path, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file(tensors, str(tmp), metadata={"acepp_fixture": "random weights, for tests only", **(metadata or {})})
    os.replace(tmp, path)


def _build(out: Path, log) -> dict:
    import torch

    sizes: dict[str, int] = {}

    def record(rel: str) -> None:
        sizes[rel] = (out / rel).stat().st_size
        log(f"  {rel}: {sizes[rel] / 2**20:.1f} MiB")

    def put(rel: str, tensors: dict, metadata: dict | None = None) -> None:
        _save(tensors, out / rel, metadata)
        record(rel)

    def put_forms(family: str, flux: dict) -> None:
        """The model forms of one family (MODEL_FORMS), each from the same bf16 weights."""
        for key, tensors in _fp8_forms(flux).items():
            put(f"diffusion_models/{MODEL_FORMS[key].file(family)}", tensors,
                _quantization_metadata(tensors) if key == "quantized" else None)
        for key, quant in (("gguf_q8_0", "Q8_0"), ("gguf_q4_k", "Q4_K")):
            rel = f"{GGUF_FOLDER}/{MODEL_FORMS[key].file(family)}"
            _save_gguf(flux, out / rel, quant, family)
            record(rel)

    flux = _materialise(flux_spec(FILL_IN), "flux", torch.bfloat16)
    put(f"diffusion_models/{FILL_MODEL}", flux)
    put_forms("fill", flux)
    whole = (out / GGUF_FOLDER / MODEL_FORMS["gguf_q8_0"].file("fill")).read_bytes()
    (out / GGUF_FOLDER / TRUNCATED_GGUF).write_bytes(whole[:len(whole) // 3])
    record(f"{GGUF_FOLDER}/{TRUNCATED_GGUF}")
    del whole
    dev = dict(flux, **_materialise({"img_in.weight": ((HIDDEN, 64), "normal")}, "flux-dev", torch.bfloat16))
    _save_gguf(dev, out / GGUF_FOLDER / WRONG_FAMILY_GGUF, "Q4_K", "dev")
    record(f"{GGUF_FOLDER}/{WRONG_FAMILY_GGUF}")
    del dev
    flux.update(_materialise({"img_in.weight": ((HIDDEN, FFT_IN), "normal")}, "flux-fft", torch.bfloat16))
    put(f"diffusion_models/{FFT_MODEL}", flux)
    put_forms("fft", flux)
    del flux
    put(f"text_encoders/{CLIP_L}", _materialise(clip_l_spec(), "clip_l", torch.bfloat16))
    put(f"vae/{VAE}", _materialise(taef1_spec(), "taef1", torch.float32))
    for name, rank in GOOD_LORAS.items():
        put(f"loras/{name}", _materialise(lora_spec(rank, lora_modules()), name, torch.bfloat16))
    bad = lora_spec(UNMAPPABLE_RANK, lora_modules() + list(UNMAPPABLE_MODULES))
    put(f"loras/{UNMAPPABLE_LORA}", _materialise(bad, UNMAPPABLE_LORA, torch.bfloat16))
    for name, lora in FAMILY_LORA_FILES.items():
        # the kohya file holds its PEFT twin's very tensors (same seeds: drawn under the PEFT file's name)
        twin = next(n for n, other in FAMILY_LORA_FILES.items()
                    if not other.kohya and (other.targets, other.rank, other.img_in) == (lora.targets, lora.rank,
                                                                                           lora.img_in))
        tensors = _materialise(family_lora_spec(lora), twin, torch.bfloat16)
        put(f"loras/{name}", _kohya_from_peft(tensors) if lora.kohya else tensors)
    return sizes


def _fp8_forms(flux: dict) -> dict[str, dict]:
    """form key -> the tensors of that safetensors form of `flux` (ComfyUI key names). Matrices are stored in
    e4m3fn; the scaled forms keep a float32 scale per matrix, one as the older `scaled_fp8` marker layout and one
    as per-layer `comfy_quant` formats, whose names go into the file's metadata (see _save)."""
    import torch

    plain, scaled, quantized = {}, {"scaled_fp8": torch.empty(0, dtype=torch.float8_e4m3fn)}, {}
    for name, t in flux.items():
        if t.ndim == 2:
            layer = name.removesuffix(".weight")
            scale = (t.float().abs().amax() / 448.0).reshape(())  # 448: the largest e4m3fn value
            stored = (t.float() / scale).to(torch.float8_e4m3fn)
            plain[name] = t.to(torch.float8_e4m3fn)
            scaled[name], scaled[f"{layer}.scale_weight"] = stored, scale
            quantized[name], quantized[f"{layer}.weight_scale"] = stored, scale
        else:
            plain[name] = scaled[name] = quantized[name] = t
    return {"fp8": plain, "fp8_scaled": scaled, "quantized": quantized}


def _quantization_metadata(tensors: dict) -> dict:
    layers = {name.removesuffix(".weight_scale"): {"format": "float8_e4m3fn"}
              for name in tensors if name.endswith(".weight_scale")}
    return {"_quantization_metadata": json.dumps({"format_version": "1.0", "layers": layers})}


def _random_q4_k(rows: int, columns: int, family: str, name: str):
    """Random Q4_K blocks for a [rows, columns] matrix: the gguf package dequantises K-quants but cannot make
    them, and random weights need no quantiser. Scales are drawn in 0..63 and values in 0..15 as real blocks
    hold; d and dmin make the weights zero-mean with a spread like the other fixtures'."""
    import numpy as np

    rng = np.random.default_rng(zlib.crc32(f"q4_k/{family}/{name}".encode()))
    blocks = rng.integers(0, 256, size=(rows * columns // QK_K, Q4_K_BLOCK_BYTES), dtype=np.uint8)
    d = np.float16(STD / 120.0)  # mean scale 31.5 x value spread ~4.6 ~ 145
    blocks[:, 0:2] = np.frombuffer(d.tobytes(), dtype=np.uint8)
    blocks[:, 2:4] = np.frombuffer(np.float16(d * 7.5).tobytes(), dtype=np.uint8)  # 7.5: the values' mean
    return blocks.reshape(rows, columns // QK_K * Q4_K_BLOCK_BYTES)


def _save_gguf(flux: dict, path: Path, quant: str, family: str) -> None:
    """`flux` as a GGUF of architecture "flux", the way ComfyUI-GGUF's convert tool lays one out: vectors in F32,
    matrices in `quant` ("Q8_0" or "Q4_K"; Q8_0 where a row is no multiple of a K-quant block)."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    writer = gguf.GGUFWriter(str(tmp), arch="flux")
    for name, t in flux.items():
        if t.ndim < 2:
            writer.add_tensor(name, t.float().numpy())
        elif quant == "Q4_K" and t.shape[-1] % QK_K == 0:
            writer.add_tensor(name, _random_q4_k(*t.shape, family, name), raw_dtype=gguf.GGMLQuantizationType.Q4_K)
        else:
            data = gguf.quants.quantize(t.float().numpy(), gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, np.ascontiguousarray(data), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, path)


def _source_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _stamp_ok(out: Path, want: str) -> bool:
    try:
        stamp = json.loads((out / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    if stamp.get("source") != want:
        return False
    files = stamp.get("files") or {}
    return bool(files) and all((out / rel).is_file() and (out / rel).stat().st_size == size
                               for rel, size in files.items())


def ensure_fixtures(out_dir: str | os.PathLike | None = None, *, force: bool = False, quiet: bool = True) -> Path:
    """Build the fixture models into out_dir (default :func:`default_out_dir`) unless already current; return it."""
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    out = out.expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = (lambda msg: None) if quiet else (lambda msg: print(msg, flush=True))
    want = _source_hash()
    with open(out / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and _stamp_ok(out, want):
            return out
        (out / STAMP_NAME).unlink(missing_ok=True)
        log(f"[ACE++ fixtures] building tiny random-weight models in {out}")
        start = time.perf_counter()
        sizes = _build(out, log)
        elapsed = time.perf_counter() - start
        (out / STAMP_NAME).write_text(json.dumps({"source": want, "files": sizes, "build_seconds": round(elapsed, 1)},
                                                 indent=1))
        log(f"[ACE++ fixtures] built {len(sizes)} files, {sum(sizes.values()) / 2**30:.2f} GiB, in {elapsed:.1f} s")
    return out


def fixture_files(out_dir: str | os.PathLike) -> dict[str, int]:
    """relative path -> size in bytes, as recorded by the last build in out_dir."""
    return json.loads((Path(out_dir) / STAMP_NAME).read_text())["files"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None, help="models folder to fill (default: $ACEPP_CACHE/fixtures/models)")
    ap.add_argument("--force", action="store_true", help="rebuild even when the stamp is current")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    start = time.perf_counter()
    out = ensure_fixtures(a.out, force=a.force, quiet=a.quiet)
    if not a.quiet:
        total = sum(fixture_files(out).values())
        print(f"[ACE++ fixtures] ready in {out} ({total / 2**30:.2f} GiB, {time.perf_counter() - start:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
