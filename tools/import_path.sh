# Sourced by tools/runtime.sh and tools/gpu_check.sh: puts the pack on the import path as the package
# `aceplusplus`, the name of its custom_nodes folder, the way ComfyUI holds it. Tests and tools import
# aceplusplus.lcu, aceplusplus.nodes.catalog, aceplusplus.tools.fixtures; the only entry added to the path is a
# folder holding one link named aceplusplus (one folder per checkout, in the cache). The repository root itself
# is never on the path: its nodes/ would shadow ComfyUI's nodes module (tools/test.sh runs pytest with -P, so
# the working folder is not added either).
acepp_checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
acepp_import_root="${ACEPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aceplusplus}/import/$(printf %s "$acepp_checkout" | sha256sum | cut -c1-12)"
mkdir -p "$acepp_import_root"
ln -sfn "$acepp_checkout" "$acepp_import_root/aceplusplus"
export PYTHONPATH="$acepp_import_root${PYTHONPATH:+:$PYTHONPATH}"
unset acepp_checkout acepp_import_root
