#!/usr/bin/env bash
# Sets everything up (venv, ComfyUI, tiny fixtures; all cached per machine) and runs the whole test suite.
# Extra arguments go to pytest (e.g. `bash tools/test.sh tests/lcu -k stitch`).
#
# The suite tests what users get: tools/pack.py builds the Comfy Registry archive of this checkout with
# the real `comfy node pack` (honouring .comfyignore) and installs it the way ComfyUI-Manager does into
# a scratch ComfyUI/custom_nodes/aceplusplus-lcu. The ComfyUI tests load the pack from there
# (ACEPP_PACK_DIR), and tests/test_shipping.py inspects the archive itself (ACEPP_ARCHIVE).
# Both are deleted when the run ends.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/runtime.sh"
cd "$ACEPP_ROOT"
"$ACEPP_PYTHON" tools/fixtures.py

acepp_work="$(mktemp -d "${TMPDIR:-/tmp}/acepp-pack.XXXXXX")"
trap 'rm -rf "$acepp_work"' EXIT
"$ACEPP_PYTHON" tools/pack.py prepare "$acepp_work"
export ACEPP_ARCHIVE="$acepp_work/node.zip"
export ACEPP_PACK_DIR="$acepp_work/ComfyUI/custom_nodes/aceplusplus-lcu"

if [ -f tools/browser_setup.sh ]; then
  bash tools/browser_setup.sh
fi
"$ACEPP_PYTHON" -m pytest "$@"
