"""What ComfyUI-Manager, the Comfy Registry and a newcomer reading the README rely on."""
import json
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACK_CODE = [ROOT / "__init__.py", *sorted((ROOT / "nodes").glob("*.py")), *sorted((ROOT / "lcu").glob("*.py"))]


def test_pyproject_has_the_registry_fields():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, comfy = meta["project"], meta["tool"]["comfy"]
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", project["name"]) and "comfyui" not in project["name"].lower()
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert project["description"] and project["requires-python"]
    assert (ROOT / project["license"]["file"]).read_text().startswith(" " * 20 + "GNU GENERAL PUBLIC LICENSE")
    assert project["urls"]["Repository"].startswith("https://")
    assert {"PublisherId", "DisplayName", "Icon", "requires-comfyui"} <= set(comfy)
    requirements = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip()]
    assert sorted(project["dependencies"]) == sorted(requirements)
    assert not any(re.match(r"torch|torchvision|torchaudio", dep) for dep in requirements)


def test_published_archive_leaves_tests_out():
    assert "tests/" in (ROOT / ".comfyignore").read_text().split()


def test_node_ids_are_literals_the_manager_scanner_finds(comfy):
    source = "\n".join(p.read_text() for p in PACK_CODE)
    literal = set(re.findall(r'node_id="(ACEPP_\w+)"', source))
    assert set(comfy.pack_declared_node_ids()) == literal and all(i.startswith("ACEPP_") for i in literal)


def test_no_eval_exec_or_runtime_install_in_the_pack():
    for path in PACK_CODE:
        text = path.read_text()
        assert not re.search(r"\b(eval|exec)\(|pip install|subprocess", text), path


def test_readme_documents_every_node_and_input(comfy):
    readme = (ROOT / "README.md").read_text()
    for node_id in comfy.pack_declared_node_ids():
        section = readme.split(f"(`{node_id}`)", 1)
        assert len(section) == 2, f"README has no section for {node_id}"
        body = section[1].split("\n### ", 1)[0]
        inputs = comfy.node_class(node_id).INPUT_TYPES()
        for name in [*inputs.get("required", {}), *inputs.get("optional", {})]:
            assert f"`{name}`" in body, f"README section of {node_id} does not document input `{name}`"


def test_readme_lists_every_bundled_workflow():
    """Each UI file (named by its card title) and its headless id appear in the README's workflow table."""
    readme = (ROOT / "README.md").read_text()
    index = json.loads((ROOT / "workflows" / "api" / "index.json").read_text())
    assert sorted(entry["ui_file"] for entry in index.values()) == sorted(p.name for p in (ROOT / "workflows").glob("*.json"))
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    for wid, entry in index.items():
        assert any(f"`{wid}`" in row and f"*{entry['ui_file'].removesuffix('.json')}*" in row for row in rows), wid


def test_nothing_heavy_or_generated_is_tracked():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split("\0")[:-1]
    assert files, "not a git checkout"
    for name in files:
        assert (ROOT / name).stat().st_size <= 1024 * 1024, name
        assert not name.endswith((".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")), name


def test_frontend_extension_is_served(live_server):
    import urllib.request
    with urllib.request.urlopen(f"{live_server.base_url}/extensions/aceplusplus/js/acepp.js", timeout=30) as resp:
        script = resp.read().decode()
    assert resp.status == 200 and "window.comfyAPI" in script and 'registerExtension' in script
    assert "ACEPP_LoraLoader" in script and "ACEPP_FFTLoader" in script
