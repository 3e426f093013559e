"""Builds every generated file of the pack from tools/workflow_specs.py and the node schemas, and checks them:

    workflows/<title>.json, .jpg   the bundled UI workflows and their thumbnails (tools/workflow_ui.py,
                                   tools/workflow_thumbnails.py)
    workflows/api/<id>.json        their API twins, written straight from the spec (the headless client's graphs)
    workflows/api/index.json       the client's named inputs
    subgraphs/<name>.json          the subgraph blueprint(s)
    web/presets.json               the ACE++ Canvas node's task presets (the workflows' recipes)
    web/docs/<NodeId>.md           the input table of each help page, between its markers (tools/help_tables.py)

    python -m aceplusplus.tools.workflows build [--server URL]   write them
    python -m aceplusplus.tools.workflows check [--server URL]   build into a temporary folder, compare the bytes
                                                                  with the repository; exit 1 listing every drift

Node schemas come from a running ComfyUI's GET /object_info: --server, or by default this project's own ComfyUI
(tools/runtime.sh; ACEPP_CORE, 0.3.75 by default, the oldest core the pack supports: newer frontends fill in
what newer cores add when they load a file) started on a free port with this pack linked in, and stopped after.
That the UI files mean what their API twins say is checked by the real frontends (tests/test_web_library.py).
"""
from __future__ import annotations

import argparse
import difflib
import json
import sys
import tempfile
from pathlib import Path

from aceplusplus.tools.help_tables import with_input_table
from aceplusplus.tools.workflow_specs import BLUEPRINTS, WORKFLOWS, api_prompt, client_index, presets
from aceplusplus.tools.workflow_thumbnails import thumbnail_jpeg
from aceplusplus.tools.workflow_ui import blueprint_ui, display_name, workflow_ui

ROOT = Path(__file__).resolve().parent.parent
DOCS = "web/docs"
# The folders whose files are all generated (globs): a file there that the specs no longer make is stale.
GENERATED = ("workflows/*.json", "workflows/*.jpg", "workflows/api/*.json", "subgraphs/*.json")


def dump(data) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def pack_node_ids(object_info: dict) -> list[str]:
    return sorted(k for k in object_info if k.startswith("ACEPP_"))


def render(object_info: dict, prose: Path = ROOT) -> dict[str, bytes]:
    """Every generated file: repository-relative path -> bytes. The help pages' prose is read from `prose`."""
    missing = sorted({n.class_type for w in WORKFLOWS.values() for n in w.nodes.values()} - set(object_info))
    if missing or not pack_node_ids(object_info):
        raise ValueError(f"[ACE++] the server does not know node type(s) {', '.join(missing) or 'ACEPP_*'}: is the "
                         "pack loaded? (see the server log for IMPORT FAILED)")
    files: dict[str, bytes] = {}
    for w in WORKFLOWS.values():
        files[f"workflows/{w.card}.json"] = dump(workflow_ui(w, object_info))
        files[f"workflows/{w.card}.jpg"] = thumbnail_jpeg(w)
        files[f"workflows/api/{w.id}.json"] = dump(api_prompt(w.nodes, lambda ct: display_name(object_info, ct)))
    files["workflows/api/index.json"] = dump(client_index())
    for b in BLUEPRINTS.values():
        files[f"subgraphs/{b.name}.json"] = dump(blueprint_ui(b, object_info))
    files["web/presets.json"] = dump(presets())
    for node_id in pack_node_ids(object_info):
        page = prose / DOCS / f"{node_id}.md"
        if not page.is_file():
            raise ValueError(f"[ACE++] {node_id} has no help page: write {DOCS}/{node_id}.md (see the others)")
        files[f"{DOCS}/{node_id}.md"] = with_input_table(page.read_text("utf-8"), node_id,
                                                         object_info[node_id]).encode("utf-8")
    return files


def stale(files: dict[str, bytes], root: Path) -> list[str]:
    """Files under root's generated folders that the specs do not make."""
    return sorted(p.relative_to(root).as_posix() for pattern in GENERATED for p in root.glob(pattern)
                  if p.relative_to(root).as_posix() not in files)


def build(object_info: dict, out: Path = ROOT, prose: Path = ROOT, log=print) -> list[str]:
    """Write every generated file under `out` and remove the stale ones; the paths written."""
    files = render(object_info, prose)
    for rel in stale(files, out):
        (out / rel).unlink()
        log(f"removed {rel} (no spec makes it)")
    written = []
    for rel, data in files.items():
        path = out / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(rel)
        log(f"wrote {rel}")
    return written


def _text_diff(expected: bytes, found: bytes, rel: str) -> list[str]:
    try:
        lines = difflib.unified_diff(found.decode("utf-8").splitlines(), expected.decode("utf-8").splitlines(),
                                     f"{rel} (repository)", f"{rel} (built)", n=1, lineterm="")
    except UnicodeDecodeError:
        return []
    return ["    " + line for line in list(lines)[2:14]]


def check(object_info: dict, root: Path = ROOT) -> list[str]:
    """Build into a temporary folder and compare every file's bytes with `root`: each drift, one line (+ a diff)."""
    drifts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="acepp-build-") as tmp:
        build(object_info, Path(tmp), prose=root, log=lambda msg: None)
        built = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()}
    for rel, data in sorted(built.items()):
        path = root / rel
        if not path.is_file():
            drifts.append(f"{rel}: missing")
        elif path.read_bytes() != data:
            drifts.append(f"{rel}: differs from what the specs build")
            drifts += _text_diff(data, path.read_bytes(), rel)
    drifts += [f"{rel}: stale (no spec in tools/workflow_specs.py makes it)" for rel in stale(built, root)]
    return drifts


# ---------------------------------------------------------------------------------------------------
# CLI


def fetch_object_info(server: str | None) -> dict:
    """GET /object_info of `server`, or of this project's own ComfyUI started for it."""
    from aceplusplus.client.errors import EXIT_SERVER, ClientError
    from aceplusplus.client.session import BlockingSession
    from aceplusplus.tools.comfy_process import EmbeddedComfy

    if server:
        with BlockingSession(server) as session:
            return session.object_info()
    with EmbeddedComfy() as embedded:
        with BlockingSession(embedded.url) as session:
            object_info = session.object_info()
        if not pack_node_ids(object_info):
            raise ClientError(EXIT_SERVER, "the ACE++ pack failed to import in the embedded ComfyUI:\n"
                              + (embedded.pack_import_error() or embedded.log_tail()))
        return object_info


def main(argv=None) -> int:
    from aceplusplus.client.errors import ClientError

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "check"))
    parser.add_argument("--server", help="a running ComfyUI with this pack, e.g. http://127.0.0.1:8188 (default: "
                                         "start this project's own)")
    args = parser.parse_args(argv)
    try:
        object_info = fetch_object_info(args.server)
        if args.command == "build":
            written = build(object_info)
            print(f"{len(written)} file(s) written" if written else "every generated file was up to date")
            return 0
        drifts = check(object_info)
    except (ClientError, ValueError, OSError) as e:
        print(f"[ACE++ workflows] error: {e}", file=sys.stderr)
        return 2
    if drifts:
        print(f"{len(drifts)} line(s) of drift:", file=sys.stderr)
        for line in drifts:
            print("  " + line, file=sys.stderr)
        print("Edit tools/workflow_specs.py (or the node schemas), then run: python -m aceplusplus.tools.workflows "
              "build", file=sys.stderr)
        return 1
    print(f"{len(WORKFLOWS)} workflows (UI files, API twins, thumbnails, index), {len(BLUEPRINTS)} blueprint(s), "
          "the presets and the help pages' input tables are in sync.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
