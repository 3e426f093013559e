#!/usr/bin/env bash
# Sets everything up (venv, ComfyUI, tiny fixtures; all cached per machine) and runs the demo:
# the portrait-generation workflow end to end, result + contact sheet under out/demo.
# `bash tools/demo.sh --models /path/to/ComfyUI/models` uses your real model files instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/runtime.sh"
cd "$ACEPP_ROOT"
exec "$ACEPP_PYTHON" tools/demo.py "$@"
