"""ComfyUI-Manager's own code on this pack (tools/manager.py): no re-implementation, no mock.

* Manager's node scanner (``scanner.py``, SCANNER_VERSION 2.0.13, from ../shared) maps exactly the 8 node IDs of
  node_list.json, nothing else, both from a git clone of the checkout and from the unpacked Registry archive; a
  decoy folder shows that the same scan does report junk where there is some.
* Manager's command-line installer (``cm-cli`` of the ``comfyui-manager`` package, in its own cached venv) installs
  the pack from a git URL, and the Registry archive goes in through Manager's own Registry-install steps; each into
  a scratch ComfyUI base. ComfyUI (``main.py --quick-test-for-ci``, the harness's quick test) then imports it with
  success and registers its 8 node IDs, and ``cm-cli save-snapshot`` reports each install as Manager tracks it.

The git URL is ``file://localhost/<tmp>/aceplusplus.git``: a bare repository with one commit holding the
checkout's git-visible files (what tools/pack.py packs, so uncommitted files are tested too). Nothing here reaches
the network: Manager's venv is built from PyPI on first use (tools/manager.py), and the scan and installs are local.
"""
from __future__ import annotations

import json
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aceplusplus.tools import manager
from harness import REPO_ROOT, BaseLayout, import_report
from harness.server import quick_test

@pytest.fixture(scope="module")
def node_ids() -> list[str]:
    ids = sorted(json.loads((REPO_ROOT / "node_list.json").read_text()))
    assert len(ids) == 9 and all(i.startswith("ACEPP_") for i in ids), ids
    return ids


@pytest.fixture(scope="module")
def pack_repo(tmp_path_factory) -> Path:
    """A bare repository of the checkout's git-visible files, named as the pack's folder will be."""
    return manager.make_repo(tmp_path_factory.mktemp("git_server") / "aceplusplus.git")


def _call(fn, *args):
    """A Manager tool's failure (with its command and output) as a test failure."""
    try:
        return fn(*args)
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)


# ------------------------------------------------------------------------------------------------ the scanner
def _decoy(folder: Path) -> Path:
    """A folder with one classic registration, one V3 class whose ``node_id`` is passed through a helper (not to a
    ``Schema(...)`` call), and a node_list.json. The sources are put together here at run time, so that this test
    file itself holds nothing the scanner's patterns match."""
    mapping, base = "NODE_CLASS" + "_MAPPINGS", "io.Comfy" + "Node"
    folder.mkdir()
    (folder / "decoy.py").write_text(
        f"{mapping} = {{'ACEPP_DecoyClassic': object}}\n\n"
        f"class DecoyHelperNode({base}):\n"
        "    @classmethod\n"
        "    def define_schema(cls):\n"
        "        return make_schema(node_id='ACEPP_DecoyV3')\n")
    (folder / "node_list.json").write_text(json.dumps({"ACEPP_DecoyListed": "listed only"}))
    return folder


@pytest.fixture(scope="module")
def scans(pack_repo, pack_archive, tmp_path_factory) -> dict:
    """Manager's scanner on a git clone, the unpacked archive and the decoy (one scanner process)."""
    where = tmp_path_factory.mktemp("scan")
    folders = {"clone": where / "comfyui-aceplusplus", "archive": where / "aceplusplus-lcu",
               "decoy": _decoy(where / "decoy")}
    subprocess.run(["git", "clone", "-q", str(pack_repo), str(folders["clone"])], check=True, capture_output=True)
    with zipfile.ZipFile(pack_archive) as zf:
        zf.extractall(folders["archive"])
    report = _call(manager.scan, list(folders.values()))
    assert report["scanner_version"] == "2.0.13"
    return {kind: report["folders"][str(path)] for kind, path in folders.items()}


def _junk_message(found: list[str], expected: list[str]) -> str:
    junk, missing = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
    return (f"ComfyUI-Manager's scanner maps junk IDs {junk} and misses {missing}. Manager offers this pack for "
            "every ID it maps. A class name among the junk is a V3 node whose define_schema has no call named "
            "Schema (or x.Schema) with node_id=\"...\" as a string literal (the scanner's V3 rule; otherwise it "
            "takes the class name); other junk comes from text matching its NODE_CLASS_MAPPINGS / @register_node "
            "patterns in some .py file (build such text at run time, as tests/test_manager.py does)")


@pytest.mark.needs_shared
@pytest.mark.parametrize("kind", ["clone", "archive"])
def test_manager_scanner_maps_exactly_the_pack_nodes(scans, node_ids, kind):
    """``code``: the .py rules alone (so node_list.json is not needed for any ID); ``map``: the entry Manager
    publishes (extension-node-map.json), which adds node_list.json's keys."""
    for part in ("code", "map"):
        assert scans[kind][part] == node_ids, f"{kind}, {part}: " + _junk_message(scans[kind][part], node_ids)


@pytest.mark.needs_shared
def test_the_scanner_reports_junk_where_there_is_some(scans):
    """The control that gives the test above its teeth, and the V3 rule it names: a helper call hides node_id."""
    assert scans["decoy"]["code"] == ["ACEPP_DecoyClassic", "DecoyHelperNode"]
    assert scans["decoy"]["map"] == ["ACEPP_DecoyClassic", "ACEPP_DecoyListed", "DecoyHelperNode"]


# ------------------------------------------------------------------------------------------------ the installer
@pytest.fixture(scope="module")
def installed(pack_repo, pack_archive, tmp_path_factory) -> dict:
    """Both installs, each into its own scratch ComfyUI base, then ComfyUI's quick test on both bases at once."""
    where = tmp_path_factory.mktemp("manager_installs")
    url = manager.file_url(pack_repo)
    runs = {"git": {"base": where / "git", "url": url}, "archive": {"base": where / "archive"}}
    runs["git"]["folder"] = _call(manager.install_git, url, runs["git"]["base"])
    runs["archive"]["folder"] = _call(manager.install_archive, pack_archive, runs["archive"]["base"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {kind: pool.submit(quick_test, BaseLayout(run["base"]), where / f"quick_test_{kind}.log")
                   for kind, run in runs.items()}
        for kind, future in futures.items():
            runs[kind]["quick_test"] = future.result()
    return runs


def test_cm_cli_installs_the_pack_from_a_git_url(installed, pack_repo):
    """A clone of the served repository in custom_nodes/<repository name>, which Manager tracks by URL and commit."""
    run = installed["git"]
    folder = run["folder"]
    assert folder.parent == run["base"] / "custom_nodes" and folder.name == "aceplusplus"
    origin = subprocess.run(["git", "-C", str(folder), "remote", "get-url", "origin"], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert origin == run["url"]
    tracked = subprocess.run(["git", "-C", str(folder), "ls-files"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    served = subprocess.run(["git", "-C", str(pack_repo), "ls-tree", "-r", "--name-only", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert sorted(tracked) == sorted(served) and {"__init__.py", "node_list.json", "requirements.txt"} <= set(tracked)
    assert all((folder / name).is_file() for name in tracked)
    head = subprocess.run(["git", "-C", str(pack_repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    snap = _call(manager.snapshot, run["base"])
    assert snap["git_custom_nodes"] == {run["url"]: {"hash": head, "disabled": False}}, snap
    assert snap["cnr_custom_nodes"] == {} and snap["file_custom_nodes"] == [], snap


def test_the_registry_archive_installs_as_manager_installs_it(installed, pack_archive):
    """Folder = the Registry ID, the archive's files, and the .tracking file by which Manager knows a Registry
    install: its snapshot lists the pack under cnr_custom_nodes at the pyproject version."""
    import tomllib

    run = installed["archive"]
    folder = run["folder"]
    assert folder.parent == run["base"] / "custom_nodes" and folder.name == "aceplusplus-lcu"
    with zipfile.ZipFile(pack_archive) as zf:
        listed = zf.namelist()
        files = {info.filename for info in zf.infolist() if not info.is_dir()}
        version = tomllib.loads(zf.read("pyproject.toml").decode("utf-8"))["project"]["version"]
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert on_disk == files | {".tracking"}
    assert (folder / ".tracking").read_text().split("\n") == listed
    snap = _call(manager.snapshot, run["base"])
    assert snap["cnr_custom_nodes"] == {"aceplusplus-lcu": version}, snap
    assert snap["git_custom_nodes"] == {} and snap["file_custom_nodes"] == [], snap


@pytest.mark.parametrize("kind", ["git", "archive"])
def test_the_installed_pack_loads_in_comfyui(installed, node_ids, kind):
    run = installed[kind]
    result, folder = run["quick_test"], run["folder"]
    log_tail = result.log[-4000:]
    assert result.returncode == 0, f"ComfyUI --quick-test-for-ci exited {result.returncode}:\n{log_tail}"
    imports = import_report(result.log)["custom_nodes"]
    assert imports.get(str(folder)) is True, f"import line of {folder}: {imports}\n{log_tail}"
    module = f"custom_nodes.{folder.name}"
    registered = sorted(k for k, v in result.registered.items() if v == module)
    assert registered == node_ids, f"node IDs registered from {module}: {registered}\n{log_tail}"
