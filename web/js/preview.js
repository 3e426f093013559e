// ACE++ for ComfyUI, frontend: the live layout preview of the ACE++ Canvas node, a display-only widget (shared.js:
// displayOnly). It follows the node's widgets and what is wired into it by looking a few times a second, one timer
// for every canvas node (no hook into LiteGraph's drawing, so the classic and the Vue node renderer behave the
// same). Each look: gather (gather.js: the graph, then the files' sizes) → plan (plan.js: the pack's route) →
// draw (draw.js), the last two only when what gather found moved.
import { draw } from "./draw.js";
import { forgetFile, gather, measure, RETRY_MS } from "./gather.js";
import { plan } from "./plan.js";
import { NAMES, displayOnly } from "./shared.js";

const PREVIEW_WIDGET = NAMES.widgets.layout_preview;
const POLL_MS = 300;

const states = new Map(); // canvas node -> its preview (while the node is in a graph)
let timer = null;

function forget(node) {
  states.delete(node);
  if (!states.size) {
    clearInterval(timer);
    timer = null;
  }
}

async function refresh(state, known) {
  const ticket = ++state.ticket;
  let result;
  try {
    const measured = await measure(known);
    result = measured.request ? await plan(measured.request) : measured.unknown;
  } catch (err) {
    result = { status: "error", error: String(err?.message ?? err) };
  }
  if (ticket !== state.ticket) return; // something moved meanwhile: a newer answer is on its way
  state.result = result;
  state.retryAt = result.retry ? Date.now() + RETRY_MS : null;
  state.widget.aceppResult = result; // read by the browser tests
  draw(state.element, result, state.note);
}

function look(node, state) {
  let known;
  try {
    known = gather(node, state.widgetNames);
  } catch (err) {
    known = { widgets: {}, references: [], edit: null, mask: null, unknown: [`the graph could not be read (${err})`] };
  }
  const signature = JSON.stringify(known);
  if (signature === state.signature && !(state.retryAt && Date.now() >= state.retryAt)) return;
  state.signature = signature;
  state.retryAt = null;
  refresh(state, known);
}

function lookAll() {
  const now = Date.now();
  for (const [node, state] of [...states]) {
    // Not in a graph: removed, or created but never added (a node is added to its graph right after it is made).
    if (!node.graph) {
      if (now - state.since >= POLL_MS) forget(node);
      continue;
    }
    look(node, state);
  }
}

/** The layout preview on a canvas node (once per node; acepp.js calls it from its canvas-node hook). `widgetNames`:
 * the node definition's widget inputs, what the route takes. */
export function addLayoutPreview(node, widgetNames) {
  if (states.has(node)) return;
  const element = document.createElement("div");
  element.className = "acepp-layout-preview";
  element.dataset.acepp = NAMES.marks.layout_preview;
  element.style.cssText = "width:100%;box-sizing:border-box;padding:4px;color:var(--input-text,#ddd);" +
    "overflow:hidden;pointer-events:none";
  const widget = node.addDOMWidget(PREVIEW_WIDGET, "acepp-preview", element, {
    serialize: false, hideOnZoom: false, getValue: () => undefined, setValue: () => {},
    getMinHeight: () => 260, getMaxHeight: () => 420,
  });
  displayOnly(widget);
  const state = { element, widget, widgetNames, since: Date.now(), signature: null, ticket: 0, result: null,
                  note: null };
  states.set(node, state);
  draw(element, null, null);
  const onRemoved = node.onRemoved;
  node.onRemoved = function () {
    if (states.get(node) === state) forget(node);
    return onRemoved?.apply(this, arguments);
  };
  timer ??= setInterval(lookAll, POLL_MS);
  if (node.graph) look(node, state);
}

/** Shows a note under a canvas node's preview (the last preset's) until the next one. */
export function showNote(node, note) {
  const state = states.get(node);
  if (!state) return;
  state.note = note;
  draw(state.element, state.result, note);
}

/** Reads the files again and re-plans every preview (after an upload that may have replaced a file). */
export function invalidatePreviews(filenames = []) {
  for (const name of filenames) forgetFile(name);
  for (const state of states.values()) state.signature = null;
}
