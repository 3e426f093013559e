#!/usr/bin/env bash
# Sets everything up (venvs, ComfyUI cores, tiny fixtures; all cached per machine) and runs the test suite.
#
#   bash tools/test.sh                      the whole suite on every core this machine can provision:
#                                           with ../shared (ACEPP_SHARED): everything on ComfyUI v0.28.2 (what
#                                           users run), then the ComfyUI tests of OLDEST_CORE_TESTS on 0.3.75
#                                           (the oldest core the pack claims); without it, everything on 0.3.75
#   bash tools/test.sh tests/lcu -k stitch  extra arguments go to pytest, on the newest core provisioned
#   ACEPP_CORE=0.3.75 bash tools/test.sh    everything on one core (0.3.75 or 0.28.2)
#   COMFYUI_DIR=/path/to/ComfyUI bash tools/test.sh   everything on any ComfyUI checkout
#
# Each run tests what users get: tools/pack.py builds the Comfy Registry archive of this checkout with the
# real `comfy node pack` (honouring .comfyignore) and installs it the way ComfyUI-Manager does into a scratch
# ComfyUI/custom_nodes/aceplusplus-lcu. The ComfyUI tests load the pack from there (ACEPP_PACK_DIR), and
# tests/test_shipping.py inspects the archive itself (ACEPP_ARCHIVE). Both are deleted when the run ends.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${ACEPP_SHARED:-$root/../shared}"

# On the oldest core: the in-process node tests, the live workflow, bad-input and client tests, and the
# browser tests on the frontend that core pins (ACEPP_FRONTENDS=pinned).
OLDEST_CORE_TESTS=(tests/nodes tests/test_workflows.py tests/test_bad_inputs.py tests/test_client.py
                   tests/test_live_generation.py tests/test_web_preview.py tests/test_web_reports.py
                   tests/test_web_samples.py tests/test_web_library.py tests/test_model_form_workflows.py)

# run_suite CORE PYTEST_ARGS...: provision CORE and run pytest on it (a subshell: nothing leaks between cores).
run_suite() (
  local core="$1"
  shift
  if [ -n "$core" ]; then export ACEPP_CORE="$core"; fi
  source "$root/tools/runtime.sh"
  set -e  # runtime.sh restores the options it found, read in a subshell where errexit always reads as off
  cd "$root"
  echo "[ACE++ test] ComfyUI $ACEPP_CORE ($ACEPP_COMFY_ROOT): pytest $*"
  "$ACEPP_PYTHON" tools/fixtures.py
  work="$(mktemp -d "${TMPDIR:-/tmp}/acepp-pack.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  "$ACEPP_PYTHON" tools/pack.py prepare "$work"
  export ACEPP_ARCHIVE="$work/node.zip"
  export ACEPP_PACK_DIR="$work/ComfyUI/custom_nodes/aceplusplus-lcu"
  bash tools/browser_setup.sh
  start=$SECONDS
  local status=0
  "$ACEPP_PYTHON" -P -m pytest "$@" || status=$?
  echo "[ACE++ test] ComfyUI $ACEPP_CORE: pytest took $((SECONDS - start)) s (exit status $status)"
  return "$status"
)

if [ -n "${COMFYUI_DIR:-}" ] || [ -n "${ACEPP_CORE:-}" ]; then
  run_suite "" "$@"
elif [ ! -f "$shared/comfyui/comfyui-0.28.2.tar.gz" ]; then
  echo "[ACE++ test] no $shared/comfyui/comfyui-0.28.2.tar.gz: testing on ComfyUI 0.3.75 only"
  run_suite 0.3.75 "$@"
elif [ "$#" -gt 0 ]; then
  run_suite 0.28.2 "$@"
else
  total=$SECONDS
  # Both venvs and Manager's (tests/test_manager.py; a run on one core builds it when first used) are provisioned
  # side by side first: on a fresh machine that is mostly downloading and unpacking, and the locks of runtime.sh
  # and tools/manager.py keep each build single.
  (export ACEPP_CORE=0.28.2; source "$root/tools/runtime.sh") &
  newest=$!
  (export ACEPP_CORE=0.3.75; source "$root/tools/runtime.sh"; "$ACEPP_PYTHON" "$root/tools/manager.py" venv >/dev/null) &
  oldest=$!
  wait "$newest"
  wait "$oldest"
  echo "[ACE++ test] both runtimes ready in $((SECONDS - total)) s"
  # Both cores run whatever the first one gives; the run fails when either does.
  status=0
  run_suite 0.28.2 || status=$?
  ACEPP_FRONTENDS=pinned run_suite 0.3.75 "${OLDEST_CORE_TESTS[@]}" || status=$?
  echo "[ACE++ test] both cores: $((SECONDS - total)) s (exit status $status)"
  exit "$status"
fi
