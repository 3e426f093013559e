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


def test_readme_is_a_users_page_that_links_every_help_page(comfy):
    """The README stays short and sends readers to each node's help page (the one place inputs are documented:
    tests/test_help_pages.py holds those tables equal to the schemas)."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for node_id in comfy.pack_declared_node_ids():
        assert f"](web/docs/{node_id}.md)" in readme, f"README does not link the help page of {node_id}"


def test_relative_links_of_the_docs_resolve():
    for doc in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "ARCHITECTURE.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if not re.match(r"[a-z]+://", target):
                assert (doc.parent / target).exists(), f"{doc.name} links {target}, which does not exist"


def test_readme_lists_every_bundled_workflow():
    """Each UI file (named by its card title) and its headless id appear in the README's workflow table."""
    readme = (ROOT / "README.md").read_text()
    index = json.loads((ROOT / "workflows" / "api" / "index.json").read_text())
    assert sorted(entry["ui_file"] for entry in index.values()) == sorted(p.name for p in (ROOT / "workflows").glob("*.json"))
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    for wid, entry in index.items():
        assert any(row.startswith(f"| `{wid}` | {entry['ui_file'].removesuffix('.json')} |") for row in rows), wid


def test_nothing_heavy_or_generated_is_tracked():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split("\0")[:-1]
    assert files, "not a git checkout"
    for name in files:
        assert (ROOT / name).stat().st_size <= 1024 * 1024, name
        assert not name.endswith((".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")), name


def test_frontend_extension_is_served(live_server):
    def served(name: str) -> str:
        status, body = live_server.session.request("GET", f"/extensions/aceplusplus/{name}")
        assert status == 200, name
        return body.decode()

    assert "registerExtension" in served("js/acepp.js")
    assert "window.comfyAPI" in served("js/shared.js")  # its one way to ComfyUI
    nodes = json.loads(served("names.json"))["nodes"]  # read by shared.js
    assert (nodes["lora_loader"], nodes["fft_loader"]) == ("ACEPP_LoraLoader", "ACEPP_FFTLoader")
