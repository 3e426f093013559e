#!/usr/bin/env bash
# Sets everything up (venv, ComfyUI, tiny fixtures; all cached per machine) and runs the whole test suite.
# Extra arguments go to pytest (e.g. `bash tools/test.sh tests/lcu -k stitch`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/runtime.sh"
cd "$ACEPP_ROOT"
"$ACEPP_PYTHON" tools/fixtures.py
exec "$ACEPP_PYTHON" -m pytest "$@"
