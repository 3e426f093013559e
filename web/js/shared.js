// ACE++ for ComfyUI, frontend: what the feature modules share. ComfyUI's objects (reached only through
// window.comfyAPI, never LiteGraph internals, so the classic and the Vue node renderer behave the same), the
// names shared with the browser tests (web/names.json), the user's toasts, display-only widgets, saving the
// open workflow, and reading the graph.
export const { app } = window.comfyAPI.app;
export const { api } = window.comfyAPI.api;
export const { ComfyWidgets } = window.comfyAPI.widgets;

// This file is served at /extensions/<pack folder>/js/shared.js; the folder name differs between a git clone and
// a Registry install, so paths are relative to import.meta.url, never spelled out. The frontend awaits an
// extension module's top-level await before it goes on, so every module sees the names before it registers.
async function loadNames() {
  const response = await fetch(new URL("../names.json", import.meta.url), { cache: "no-cache" });
  if (!response.ok) {
    throw new Error(`[ACE++] web/names.json answered HTTP ${response.status}: reinstall the ACE++ pack`);
  }
  return response.json();
}
export const NAMES = await loadNames();

const TOAST_MS = 7000;
const ERROR_TOAST_MS = 10000; // longer: its text says what to fix

/** A toast in the frontend (in the console on a frontend without toasts). */
export function notify(severity, summary, detail) {
  const toast = app.extensionManager?.toast;
  if (toast?.add) toast.add({ severity, summary, detail, life: severity === "error" ? ERROR_TOAST_MS : TOAST_MS });
  else (severity === "error" ? console.error : console.log)(`[ACE++] ${summary}: ${detail}`);
}

/** Keeps one of the pack's widgets out of what is saved and queued. Each is appended after the node's own
 * widgets (the positional widgets_values of saved workflows keep their meaning); `serialize = false` keeps it
 * out of widgets_values and `options.serialize = false` out of the API prompt (graphToPrompt skips a widget
 * only on the latter). A widget value in the prompt would change ComfyUI's cache key, and the next unchanged
 * Run would execute the whole graph again. */
export function displayOnly(widget) {
  widget.serialize = false;
  widget.options = widget.options ?? {};
  widget.options.serialize = false;
  return widget;
}

/** Has the frontend save the open workflow now: it does so when its change tracker sees a difference, which
 * otherwise happens only at the user's next mouse or key event. */
export function markWorkflowChanged() {
  try {
    app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
  } catch (err) {
    console.warn("[ACE++] could not mark the open workflow changed (it is saved at your next edit):", err);
  }
}

// ------------------------------------------------------------------------------------------ the graph
export const typeOf = (node) => node?.comfyClass ?? node?.type;
export const title = (node) => (node ? node.title || typeOf(node) || "a node" : "outside this graph");
export const widgetOf = (node, name) => node?.widgets?.find((w) => w.name === name);

/** Every node of a graph and of the subgraphs inside it. */
export function* allNodes(graph, seen = new Set()) {
  if (!graph || seen.has(graph)) return;
  seen.add(graph);
  for (const node of graph.nodes ?? graph._nodes ?? []) {
    yield node;
    if (node.subgraph) yield* allNodes(node.subgraph, seen);
  }
}

/** [origin node, origin slot] of a node's input (by name or index), through legacy Reroute nodes; null when not
 * connected. The node is null when the link comes from outside this graph (a subgraph's input). */
export function origin(node, name) {
  let slot = typeof name === "number" ? name : (node?.inputs ?? []).findIndex((input) => input.name === name);
  for (let hops = 0; node && slot >= 0 && hops < 64; hops++) {
    const link = node.inputs?.[slot]?.link != null ? node.getInputLink?.(slot) : null;
    if (!link) return null;
    const from = node.graph?.getNodeById?.(link.origin_id);
    if (!from) return [null, link.origin_slot];
    if (typeOf(from) !== "Reroute") return [from, link.origin_slot];
    [node, slot] = [from, 0];
  }
  return null;
}

/** What the frontend does when a user edits a widget: the value, the widget's callback, then the node's hook
 * (newer frontends listen there, e.g. to drop an image from their missing-media list). Returns the old value. */
export function setWidgetValue(node, widget, value) {
  const before = widget.value;
  widget.value = value;
  widget.callback?.(value, app.canvas, node);
  node.onWidgetChanged?.(widget.name, value, before, widget);
  node.setDirtyCanvas?.(true, true);
  return before;
}
