"""What users get: the Comfy Registry archive (tools/pack.py), installed as ComfyUI-Manager installs it.

* the archive holds every file the pack needs at run time and nothing of the development tree;
* ComfyUI in this suite loads the copy installed from the archive, not the checkout;
* node_list.json (what ComfyUI-Manager reads beside the code) names exactly the registered nodes.

ComfyUI-Manager's own scanner on the archive and on a git clone, and its own installer, are in
tests/test_manager.py.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from aceplusplus.tools import pack
from harness import REPO_ROOT, pack_dir

# Folders whose every git-visible file ships, and single files that ship.
SHIPPED_DIRS = ("client/", "lcu/", "nodes/", "subgraphs/", "web/", "workflows/")
SHIPPED_FILES = ("__init__.py", "node_list.json", "pyproject.toml", "requirements.txt", "LICENSE", "README.md")
DEV_ONLY = ("tests/", "tools/", ".ci/", ".git/", ".github/")


def _archive_names(archive: Path) -> set[str]:
    with zipfile.ZipFile(archive) as zf:
        return {info.filename for info in zf.infolist() if not info.is_dir()}


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


# ----------------------------------------------------------------------------------------- the archive
def test_archive_holds_every_runtime_file_and_no_development_file(pack_archive):
    names = _archive_names(pack_archive)
    visible = pack.git_visible_files()
    needed = [n for n in visible if n.startswith(SHIPPED_DIRS) or n in SHIPPED_FILES]
    assert set(SHIPPED_FILES) <= set(visible), "a root file of the pack is missing from the checkout"
    for folder in ("workflows/api/", "nodes/", "lcu/", "web/", "subgraphs/"):
        assert any(n.startswith(folder) for n in needed), f"no file under {folder}"
    assert any(n.startswith("workflows/") and n.endswith(".jpg") for n in needed)
    missing = sorted(set(needed) - names)
    assert not missing, f"the Registry archive lacks files the pack needs (check .comfyignore): {missing}"
    leaked = sorted(n for n in names if n.startswith(DEV_ONLY) or n == ".git" or "__pycache__" in n
                    or n.endswith(".pyc"))
    assert not leaked, f"development files in the Registry archive (add them to .comfyignore): {leaked}"
    assert "pytest.ini" not in names


def test_suite_runs_against_the_installed_archive(pack_archive, comfy):
    if not os.environ.get("ACEPP_PACK_DIR"):
        pytest.skip("ACEPP_PACK_DIR is unset: run the suite with `bash tools/test.sh` to test the installed archive")
    installed = pack_dir()
    assert installed.name != REPO_ROOT.name and installed.resolve() != REPO_ROOT.resolve()
    on_disk = {p.relative_to(installed).as_posix() for p in installed.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert on_disk == _archive_names(pack_archive)
    module = comfy.pack_module()
    assert module is not None and Path(module.__file__).resolve().parent == installed.resolve()
    assert comfy.pack_node_ids() == sorted(json.loads((installed / "node_list.json").read_text()))


# ------------------------------------------------------------------------------------------- node_list.json
def test_node_list_matches_the_registered_nodes_and_their_descriptions(comfy):
    listed = json.loads((REPO_ROOT / "node_list.json").read_text())
    assert sorted(listed) == comfy.pack_declared_node_ids() == comfy.pack_node_ids()
    for node_id, text in listed.items():
        schema = comfy.node_class(node_id).GET_SCHEMA()
        assert text == _first_sentence(schema.description), \
            f"node_list.json[{node_id!r}] must be the first sentence of the node's description"
