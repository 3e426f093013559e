#!/usr/bin/env bash
# The two halves of the GPU check (tools/gpu_check.py; docs/BENCHMARKS.md, "GPU check"):
#
#   bash tools/gpu_check.sh --prepare [DIR]   HERE, with the package registries: fills DIR (default .gpu_check in
#                                             the repository root, kept out of git by .git/info/exclude) with
#                                             ComfyUI v0.28.2's tarball and, as wheels for the GPU machine's
#                                             Python 3.12 (manylinux x86-64), the packages its image lacks, at the
#                                             versions of tools/runtime-0.28.2.lock. Name DIR in the run's carry.
#   bash tools/gpu_check.sh [DIR] [ARGS...]   ON THE GPU MACHINE: installs DIR/wheels into a scratch folder on
#                                             PYTHONPATH, then runs tools/gpu_check.py with DIR's tarball under
#                                             python3, the report going to $OUT (else out/gpu_check); ARGS go to
#                                             tools/gpu_check.py (--tiny, --tokens, --steps, --max-seconds, ...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tarball_name="comfyui-0.28.2.tar.gz"
# What the GPU machine's image (python3 with torch, torchvision, torchaudio, transformers, aiohttp, numpy,
# Pillow, safetensors, scipy, einops, ...) lacks of what ComfyUI v0.28.2 and the pack import. Not PyAV (35 MB,
# too large to carry with the rest): tools/gpu_check.py puts an import-only stand-in in its place.
wheels=(comfy-aimdo comfy-kitchen sqlalchemy pydantic pydantic-core annotated-types typing-inspection
        typing-extensions torchsde trampoline kornia kornia-rs)

if [ "${1:-}" = "--prepare" ]; then
  dir="$(realpath -m "${2:-$root/.gpu_check}")"
  shared="${ACEPP_SHARED:-$root/../shared}"
  lock="$root/tools/runtime-0.28.2.lock"
  if [ ! -f "$shared/comfyui/$tarball_name" ]; then
    echo "[gpu_check] no $shared/comfyui/$tarball_name (set ACEPP_SHARED)" >&2
    exit 1
  fi
  [ -f "$lock" ] || { echo "[gpu_check] no $lock: the wheel versions come from it" >&2; exit 1; }
  case "$dir" in
    "$root"/*)
      exclude="$(git -C "$root" rev-parse --git-path info/exclude)"
      case "$exclude" in /*) ;; *) exclude="$root/$exclude" ;; esac
      entry="/${dir#"$root"/}/"
      grep -qxF "$entry" "$exclude" 2>/dev/null || echo "$entry" >> "$exclude"
      ;;
  esac
  rm -rf "$dir/wheels"
  mkdir -p "$dir/wheels"
  install -m 0644 "$shared/comfyui/$tarball_name" "$dir/$tarball_name"
  pins=()
  for name in "${wheels[@]}"; do
    pin="$(awk -F'==' -v want="$name" '!/^[[:space:]]*#/ && NF == 2 {
      n = tolower($1); gsub(/[_.]/, "-", n); if (n == want) { print want "==" $2; exit } }' "$lock")"
    [ -n "$pin" ] || { echo "[gpu_check] $name is not in $lock" >&2; exit 1; }
    pins+=("$pin")
  done
  echo "[gpu_check] downloading ${pins[*]}"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64 \
    -d "$dir/wheels" "${pins[@]}" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  echo "[gpu_check] $dir: $(du -sh "$dir" | cut -f1) ($(ls "$dir/wheels" | wc -l) wheels + $tarball_name)"
  case "$dir" in
    "$root"/*) echo "[gpu_check] name \"${dir#"$root"/}\" in the run's carry (with the working tree, under 64 MiB)" ;;
    *) echo "[gpu_check] $dir is outside the repository: carry takes folders inside it" ;;
  esac
  exit 0
fi

dir="$root/.gpu_check"
if [ -n "${1:-}" ] && [ -d "$1" ]; then
  dir="$(realpath "$1")"
  shift
fi
python="${ACEPP_GPU_PYTHON:-python3}"
if compgen -G "$dir/wheels/*.whl" > /dev/null; then
  site="${TMPDIR:-/tmp}/acepp-gpu-check-site"
  "$python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$site" "$dir"/wheels/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
source "$root/tools/import_path.sh"
comfy="$dir/$tarball_name"
[ -f "$comfy" ] || comfy="${ACEPP_COMFY_ROOT:-}"
export PYTHONUNBUFFERED=1
exec "$python" "$root/tools/gpu_check.py" --comfyui "$comfy" --python "$python" --out "${OUT:-$root/out/gpu_check}" "$@"
