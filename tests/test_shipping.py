"""What users get: the Comfy Registry archive (tools/pack.py), installed as ComfyUI-Manager installs it.

* the archive holds every file the pack needs at run time and nothing of the development tree;
* ComfyUI in this suite loads the copy installed from the archive, not the checkout;
* ComfyUI-Manager's static scan of the archive finds exactly the pack's node IDs (node_list.json, V3 rule).
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from harness import REPO_ROOT, pack_dir

# Folders whose every git-visible file ships, and single files that ship.
SHIPPED_DIRS = ("client/", "lcu/", "nodes/", "web/", "workflows/")
SHIPPED_FILES = ("__init__.py", "node_list.json", "pyproject.toml", "requirements.txt", "LICENSE", "README.md")
DEV_ONLY = ("tests/", "tools/", ".ci/", ".git/", ".github/")


def _pack_tools():
    spec = importlib.util.spec_from_file_location("acepp_tools_pack", REPO_ROOT / "tools" / "pack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _archive_names(archive: Path) -> set[str]:
    with zipfile.ZipFile(archive) as zf:
        return {info.filename for info in zf.infolist() if not info.is_dir()}


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


# ----------------------------------------------------------------------------------------- the archive
def test_archive_holds_every_runtime_file_and_no_development_file(pack_archive):
    names = _archive_names(pack_archive)
    visible = _pack_tools().git_visible_files()
    needed = [n for n in visible if n.startswith(SHIPPED_DIRS) or n in SHIPPED_FILES]
    assert set(SHIPPED_FILES) <= set(visible), "a root file of the pack is missing from the checkout"
    for folder in ("workflows/api/", "nodes/", "lcu/", "web/"):
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


# ------------------------------------------------------- ComfyUI-Manager's static scan (scanner.py rules)
# Re-implemented from reading ComfyUI-Manager's scanner.py (ltdrdata/ComfyUI-Manager 2025 and the Comfy-Org
# repository's SCANNER_VERSION 2.0.13): per .py file outside dot-folders and __pycache__, the classic
# NODE_CLASS_MAPPINGS rules (AST and regex), @register_node, the V3 rule; plus the root node_list.json.
_MAPPING_NAMES = ("NODE_CLASS_MAPPINGS", "NODE_CONFIG")
_DICT_LITERAL = re.compile(r"_CLASS_MAPPINGS\s*(?::\s*\w+\s*)?=\s*(?:\\\s*)?{([^}]*)}", re.M | re.S)
_UPDATE_CALL = re.compile(r"_CLASS_MAPPINGS\.update\s*\(\s*{([^}]*)}\s*\)", re.S)
_LINE_PATTERNS = [re.compile(p, re.M) for p in (
    r'^[^=]*_CLASS_MAPPINGS\["(.*?)"\]',
    r"^[^=]*_CLASS_MAPPINGS\['(.*?)'\]",
    r'@register_node\("(.+)",\s*\".+"\)',
    r'"(\w+)"\s*:\s*{"class":\s*\w+\s*',
)]
_QUOTED_KEYS = (re.compile(r'"([^"]*)"\s*:\s*([^,\n]*)'), re.compile(r"'([^']*)'\s*:\s*([^,\n]*)"))


def _parse(code: str):
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _classic_ast(tree) -> set[str]:
    found: set[str] = set()
    if tree is None:
        return found
    for node in tree.body:  # module-level dict literals
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if names & {*_MAPPING_NAMES, "NODE_DISPLAY_NAME_MAPPINGS"} and isinstance(node.value, ast.Dict):
                for key in node.value.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        found.add(key.value.strip())
                    elif isinstance(key, ast.Attribute) and isinstance(key.value, ast.Name):
                        found.add(key.value.id)  # FreeChat.NAME -> FreeChat
    lists: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id in _MAPPING_NAMES and isinstance(target.slice, ast.Constant)
                        and isinstance(target.slice.value, str)):
                    found.add(target.slice.value)  # NODE_CLASS_MAPPINGS["X"] = X
                if isinstance(target, ast.Name) and isinstance(node.value, ast.List):
                    lists[target.id] = {e.id for e in node.value.elts if isinstance(e, ast.Name)}
    for node in ast.walk(tree):  # NODE_CLASS_MAPPINGS = {c.__name__: c for c in [A, B] / a_list}
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.DictComp)
                and any(isinstance(t, ast.Name) and t.id in _MAPPING_NAMES for t in node.targets)
                and isinstance(node.value.key, ast.Attribute) and node.value.key.attr == "__name__"):
            for gen in node.value.generators:
                if isinstance(gen.iter, ast.List):
                    found |= {e.id for e in gen.iter.elts if isinstance(e, ast.Name)}
                elif isinstance(gen.iter, ast.Name):
                    found |= lists.get(gen.iter.id, set())
    return found


def _classic_regex(code: str) -> set[str]:
    found: set[str] = set()
    for match in _DICT_LITERAL.finditer(code):
        line_start = code.rfind("\n", 0, match.start()) + 1
        if re.match(r"\s*#", code[line_start:match.start()]):
            continue
        body = "\n".join(line for line in match.group(1).split("\n") if not re.match(r"\s*#", line))
        for pattern in _QUOTED_KEYS:
            found |= {key.strip() for key, _ in pattern.findall(body)}
    uncommented = re.sub(r"^#.*?$", "", code, flags=re.M)
    update = _UPDATE_CALL.search(uncommented)
    if update:
        for pattern in _QUOTED_KEYS:
            found |= {key.strip() for key, _ in pattern.findall(update.group(1))}
    for pattern in _LINE_PATTERNS:
        found |= {key.strip() for key in pattern.findall(uncommented)}
    return found


def _v3(tree) -> set[str]:
    """Classes whose direct base is ComfyNode / x.ComfyNode: the string-literal node_id= of a Schema(...) call
    inside define_schema, else the class name."""
    found: set[str] = set()
    if tree is None:
        return found
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef) or not any(
                (isinstance(b, ast.Name) and b.id == "ComfyNode") or (isinstance(b, ast.Attribute) and b.attr == "ComfyNode")
                for b in cls.bases):
            continue
        node_id = None
        for item in cls.body:
            if isinstance(item, ast.FunctionDef) and item.name == "define_schema":
                for call in ast.walk(item):
                    func = getattr(call, "func", None)
                    if isinstance(call, ast.Call) and ((isinstance(func, ast.Name) and func.id == "Schema") or (
                            isinstance(func, ast.Attribute) and func.attr == "Schema")):
                        for kw in call.keywords:
                            if kw.arg == "node_id" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                                node_id = node_id or kw.value.value
        found.add(node_id or cls.name)
    return found


def manager_scan(files: dict[str, str]) -> dict[str, set[str]]:
    """Node IDs Manager's static scan finds in a pack given as {relative path: text}, by rule."""
    found = {"classic": set(), "v3": set(), "node_list.json": set()}
    for name, code in files.items():
        parts = name.split("/")
        if not name.endswith(".py") or "__pycache__" in parts or any(p.startswith(".") for p in parts[:-1]):
            continue
        tree = _parse(re.sub(r"\\[^\"']", "", code))
        found["classic"] |= _classic_ast(tree) | _classic_regex(code)
        found["v3"] |= _v3(_parse(code))
    if "node_list.json" in files:
        found["node_list.json"] = {k.strip() for k in json.loads(files["node_list.json"])}
    return found


# A decoy the scan must see when it is given this file: proof that shipping tests/ would advertise junk IDs.
_DECOY = """
NODE_CLASS_MAPPINGS["ACEPP_DecoyNotANode"] = object
"""


def test_manager_finds_exactly_the_pack_nodes_in_the_archive(pack_archive):
    with zipfile.ZipFile(pack_archive) as zf:
        files = {n: zf.read(n).decode("utf-8", "replace") for n in zf.namelist()
                 if n.endswith(".py") or n == "node_list.json"}
    found = manager_scan(files)
    expected = set(json.loads((REPO_ROOT / "node_list.json").read_text()))
    assert len(expected) == 8 and all(i.startswith("ACEPP_") for i in expected)
    # node_list.json serves every Manager version; the V3 rule the newer ones; the classic rules find nothing.
    assert found["node_list.json"] == expected
    assert found["v3"] == expected
    assert found["classic"] == set(), f"stray classic-rule matches in the archive: {sorted(found['classic'])}"
    assert set().union(*found.values()) == expected


def test_the_scan_rules_are_not_blind():
    """The re-implemented rules do find what Manager would find (so the test above has teeth)."""
    this_file = Path(__file__).read_text()
    assert "ACEPP_DecoyNotANode" in manager_scan({"tests/test_shipping.py": this_file})["classic"]
    sample = '''
from comfy_api.latest import io
class A(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="X_A", inputs=[])
class B(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id=PREFIX + "B")
class C(Helper):
    pass
NODE_CLASS_MAPPINGS = {"X_Classic": Classic, Other.NAME: Other}
@register_node("X_Reg", "Registered")
class D: pass
'''
    found = manager_scan({"pkg/x.py": sample, ".hidden/y.py": "NODE_CLASS_MAPPINGS = {'Hidden': H}"})
    assert found["v3"] == {"X_A", "B"}
    assert found["classic"] == {"X_Classic", "Other", "X_Reg"}
