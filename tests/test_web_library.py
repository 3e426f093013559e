"""The pack in the frontend's node library, in headless Chromium against the real frontend of a live server (fixture
`frontend_server`: the frontend the core pins, and the newest one; on ComfyUI v0.28.2 those are 1.45.21 and 1.58.1):

* every bundled workflow loads with no missing node (each node's type is one the frontend registered), and queues
  (graphToPrompt) as exactly its API twin (workflows/api/<id>.json, written straight from the spec): the check that
  the generator laid out every UI file's widgets and links the way the frontend reads them;
* the pack's subgraph blueprint (subgraphs/, served by the core at GET /global_subgraphs) is listed in the node
  library (searched for in its own search box), and a click on it, then on the canvas, drops it as one node: a
  subgraph node of the blueprint's inputs, outputs and promoted widgets, whose inner nodes are all registered
  types, and which the frontend queues as exactly the record's inner graph (tools/workflow_specs.py).

Subgraph blueprints from custom nodes are listed and dropped by every frontend the suite runs (1.32.9 on
ComfyUI 0.3.75, 1.45.21, 1.58.1: their subgraph store reads /global_subgraphs, which both cores serve). What
differs is said where it matters: the library's search box ("Search..." in 1.45.21, "Search Nodes..." in 1.58.1),
and 1.32.9 naming a promoted widget "<inner node id>: <widget>".
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from aceplusplus.tools.workflow_specs import BLUEPRINTS, WORKFLOWS as SPECS, api_prompt
from aceplusplus.tools.workflow_ui import is_widget, ordered_inputs
from harness.browser import VUE_NODES, get_json

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / "workflows").glob("*.json"))
SPEC = BLUEPRINTS["edit"]
NAME = SPEC.name
EMPTY = {"last_node_id": 0, "last_link_id": 0, "nodes": [], "links": [], "groups": [], "config": {}, "extra": {},
         "version": 0.4}

# Every node of the open graph (subgraphs' inner nodes too) whose type the frontend does not know. (A node whose model
# file or image is missing is marked has_errors by newer frontends: that is not a missing node.)
MISSING_NODES = """
    const types = window.LiteGraph.registered_node_types;
    const bad = [], seen = new Set();
    const visit = (graph, where) => {
      if (!graph || seen.has(graph)) return;
      seen.add(graph);
      for (const node of graph.nodes ?? graph._nodes ?? []) {
        const known = node.type in types || !!node.subgraph || node.isSubgraphNode?.();
        if (!known) bad.push(`${where}${node.id} ${node.type}`);
        if (node.subgraph) visit(node.subgraph, `${where}${node.id}:`);
      }
    };
    visit(app.graph, '');
    return bad;
"""


def test_bundled_workflows_load_with_no_missing_node(frontend):
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    for path in WORKFLOWS:
        workflow = json.loads(path.read_text("utf-8"))
        fe.load(workflow)
        types = sorted({n["type"] for n in workflow["nodes"]})
        loaded = sorted({n["type"] for n in fe.saved_workflow()["nodes"]})
        assert loaded == types, f"{fe.name} {fe.version}: {path.name} loaded as {loaded}"
        assert fe.js(MISSING_NODES) == [], f"{fe.name} {fe.version}: {path.name}"
    assert not fe.extension_errors(), fe.extension_errors()
    # The check sees a node no pack provides (then a good workflow again: the page restores the last one it showed).
    broken = json.loads(json.dumps(workflow))
    broken["nodes"][0]["type"] = "ACEPP_NoSuchNode"
    fe.load(broken)
    assert fe.js(MISSING_NODES) == [f"{broken['nodes'][0]['id']} ACEPP_NoSuchNode"], fe.name
    fe.page.keyboard.press("Escape")  # the frontend's missing-nodes dialog
    fe.load(workflow)


def runnable(prompt: dict) -> dict:
    """What ComfyUI runs of a prompt: each node's class_type and inputs (`_meta` is the title, for display)."""
    return {nid: {"class_type": node["class_type"], "inputs": node["inputs"]} for nid, node in prompt.items()}


def test_every_bundled_workflow_queues_as_its_api_twin(frontend):
    """Each UI file, loaded into the real frontend, queues (graphToPrompt, as the Run button) exactly as its API twin
    says: every node, class and input, links included. This is the one check of the generator's UI layout (widget
    order, control_after_generate and upload slots, links, the escaped {image} of dynamic prompts)."""
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    for spec in SPECS.values():
        fe.load(json.loads((REPO / "workflows" / f"{spec.card}.json").read_text("utf-8")))
        queued = runnable(fe.prompt())
        twin = runnable(json.loads((REPO / "workflows" / "api" / f"{spec.id}.json").read_text("utf-8")))
        assert queued == twin, f"{fe.name} {fe.version}: {spec.card}.json queues as\n{json.dumps(queued, indent=1)}"
    assert not fe.extension_errors(), fe.extension_errors()


def test_blueprint_is_in_the_node_library_and_drops_as_one_node(frontend, frontend_server):
    fe = frontend
    fe.set_setting(VUE_NODES, False)
    fe.load(EMPTY)
    search = fe.page.get_by_placeholder(re.compile(r"^Search")).filter(visible=True)
    if not search.count():
        fe.page.keyboard.press("n")  # the node library (sidebar), as its button's label says: "Node Library (n)"
    search.first.fill("ACE++ Edit")
    item = fe.page.get_by_text(NAME, exact=True)
    item.wait_for(timeout=15_000)
    item.click()  # picks the node up ...
    fe.page.mouse.move(900, 450)
    fe.page.mouse.click(900, 450)  # ... and puts it down on the canvas
    fe.page.wait_for_function("() => window.comfyAPI.app.app.graph.nodes.length === 1", timeout=15_000)

    node = fe.js("""const n = app.graph.nodes[0];
        return {id: String(n.id), title: n.title, subgraph: !!n.subgraph, inputs: n.inputs.map((i) => i.name),
                outputs: n.outputs.map((o) => o.name), widgets: (n.widgets ?? []).map((w) => [w.name, w.value]),
                inner: n.subgraph?.nodes.map((m) => m.type) ?? []};""")
    where = f"{fe.name} {fe.version}"
    assert node["subgraph"] and node["title"] == NAME, (where, node)
    assert node["inputs"] == [i.name for i in SPEC.inputs], (where, node)
    assert node["outputs"] == [name for name, _ in SPEC.outputs], (where, node)
    object_info = get_json(frontend_server.server.base_url, "/object_info")

    def widget_of(nid: str, name: str) -> bool:
        specs = {n: spec for n, spec, _ in ordered_inputs(object_info[SPEC.nodes[nid].class_type])}
        return is_widget(specs[name])

    promoted = [[i.name, SPEC.nodes[i.to[0][0]].inputs[i.to[0][1]]] for i in SPEC.inputs if widget_of(*i.to[0])]
    # The prompt, repainting_scale, crop, seed, steps (1.32.9 names them "<inner node id>: <widget>").
    assert [[re.sub(r"^[0-9]+: ", "", name), value] for name, value in node["widgets"]] == promoted, (where, node)
    assert sorted(node["inner"]) == sorted(n.class_type for n in SPEC.nodes.values()), (where, node)
    assert fe.js(MISSING_NODES) == [], where

    # Queued with nothing connected, it is the record's inner graph at the official settings ("<node id>:<inner id>"),
    # the inputs fed from outside left out.
    prompt = fe.prompt()
    expected = api_prompt(SPEC.nodes, lambda class_type: class_type, prefix=node["id"] + ":")
    assert runnable(prompt) == runnable(expected), (where, prompt)
    inner = {k.split(":", 1)[1]: v for k, v in prompt.items()}
    assert inner["13"]["inputs"]["steps"] == 28 and inner["7"]["inputs"]["guidance"] == 50, inner
    assert not fe.extension_errors(), fe.extension_errors()
    show_a_bundled_workflow(fe)


def show_a_bundled_workflow(fe) -> None:
    """The page restores the last graph it showed: leave an ordinary one for the next page of this profile."""
    fe.load(json.loads(WORKFLOWS[0].read_text("utf-8")))


def test_the_node_library_finds_the_nodes_by_their_search_aliases(frontend, frontend_server):
    """Where the core sends search aliases (nodes/schema.py: ComfyUI 0.28.2), the library's search finds the pack's
    nodes by words that are in none of their names."""
    fe = frontend
    info = get_json(frontend_server.server.base_url, "/object_info/ACEPP_CanvasBuilder")["ACEPP_CanvasBuilder"]
    aliases = info.get("search_aliases") or []
    if not aliases:  # ComfyUI 0.3.x: nothing to find them by but their names
        assert "search_aliases" not in info or info["search_aliases"] in (None, []), info
        return
    fe.set_setting(VUE_NODES, False)
    fe.load(EMPTY)
    search = fe.page.get_by_placeholder(re.compile(r"^Search")).filter(visible=True)
    if not search.count():
        fe.page.keyboard.press("n")
    for word in ("try-on", "ACE Plus", "in-context"):
        assert word in aliases and word.lower() not in info["display_name"].lower()
        search.first.fill(word)
        fe.page.get_by_text(info["display_name"], exact=True).filter(visible=True).first.wait_for(timeout=15_000)
    show_a_bundled_workflow(fe)
