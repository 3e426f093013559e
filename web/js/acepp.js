// ACE++ for ComfyUI, frontend part. Two things, both through window.comfyAPI and node-level hooks only (no
// LiteGraph canvas internals, so the classic and the Vue node renderer behave the same):
//
// 1. The loaders' reports (LoRA coverage, FFT dtype warnings) shown on the node itself, so a half-applied
//    LoRA is visible without reading the server log. The last report is kept in the node's properties (saved
//    with the workflow, never part of the queued prompt) and shown again when the workflow loads: after a
//    page reload, and after a fully cached run (ComfyUI 0.3.75 sends `executed` for a cached node only when
//    it is an output node, so a cached loader's report never comes back from the server).
// 2. "Load ACE++ sample inputs": a button on the ACE++ Canvas node and a command (Extensions > ACE++ in the
//    menu bar, and the command palette). The bundled workflows name sample images (acepp_face.png, ...) in
//    their LoadImage nodes; on click, each one the graph uses is fetched from this pack's own web folder
//    (web/samples, drawn by tools/samples.py), uploaded through ComfyUI's POST /upload/image (overwrite: a
//    second click changes nothing) and selected in the LoadImage node, whose preview then loads. Nothing
//    is written anywhere until the user clicks.
//
// 3. The live layout preview and the task presets of the ACE++ Canvas node (web/js/preview.js, called from
//    the canvas node's hook below so that the pack's widgets always come in one order: sample button, preset
//    menu, preview).
//
// No extra widget changes what is queued or the saved widget values: each is appended after the
// node's own widgets (the positional widgets_values of saved workflows keep their meaning), `serialize =
// false` keeps them out of widgets_values and `options.serialize = false` out of the API prompt
// (graphToPrompt; the frontend skips a widget only on the latter). A widget value in the prompt would
// change ComfyUI's cache key, and the next unchanged Run would execute the whole graph again.
import { addLayoutPreview, invalidatePreviews } from "./preview.js";

const { app } = window.comfyAPI.app;
const { api } = window.comfyAPI.api;
const { ComfyWidgets } = window.comfyAPI.widgets;

// ------------------------------------------------------------------------------------------ node reports
const REPORTING_NODES = new Set(["ACEPP_LoraLoader", "ACEPP_FFTLoader"]);
const REPORT_WIDGET = "acepp_report";
const REPORT_PROPERTY = "acepp_report"; // node.properties key: the last report, saved with the workflow

function displayOnly(widget) {
  widget.serialize = false; // not in the saved widgets_values
  widget.options = widget.options ?? {};
  widget.options.serialize = false; // not an input of the queued prompt
  return widget;
}

function showReport(node, text) {
  let widget = node.widgets?.find((w) => w.name === REPORT_WIDGET);
  if (!widget) {
    widget = ComfyWidgets.STRING(node, REPORT_WIDGET, ["STRING", { multiline: true }], app).widget;
    displayOnly(widget);
  }
  widget.value = text;
  const element = widget.element ?? widget.inputEl; // inputEl: frontends before `element` existed
  if (element) {
    element.readOnly = true;
    element.style.opacity = 0.85;
    element.style.color = /WARNING| match no layer /.test(text) ? "#f5a623" : "";
  }
  node.setDirtyCanvas?.(true, true);
}

/** Keeps the report in the workflow: the frontend saves the open workflow when its change tracker sees a
 * difference, which otherwise happens only at the user's next mouse or key event. */
function rememberReport(node, text) {
  node.properties = node.properties ?? {};
  if (node.properties[REPORT_PROPERTY] === text) return;
  node.properties[REPORT_PROPERTY] = text;
  try {
    app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
  } catch (err) {
    console.warn("[ACE++] could not save the loader report with the workflow:", err);
  }
}

// ------------------------------------------------------------------------------------------ sample inputs
export const SAMPLE_NAMES = Object.freeze([
  "acepp_face.png",
  "acepp_logo.png",
  "acepp_garment.png",
  "acepp_scene.png",
  "acepp_person.png",
  "acepp_portrait.png",
  "acepp_scene_regions.png",
]);
const SAMPLES_LABEL = "Load ACE++ sample inputs";
const SAMPLES_COMMAND = "ACEPP.LoadSampleInputs";
const SAMPLE_HOST_NODE = "ACEPP_CanvasBuilder";
// This file is served at /extensions/<pack folder>/js/acepp.js; the samples next to it in web/samples.
// The folder name differs between a git clone and a Registry install, so never spell it out.
const SAMPLES_BASE = new URL("../samples/", import.meta.url);

function notify(severity, summary, detail) {
  const toast = app.extensionManager?.toast;
  if (toast?.add) {
    toast.add({ severity, summary, detail, life: severity === "error" ? 10000 : 5000 });
  } else {
    (severity === "error" ? console.error : console.log)(`[ACE++] ${summary}: ${detail}`);
  }
}

function* allNodes(graph, seen = new Set()) {
  if (!graph || seen.has(graph)) return;
  seen.add(graph);
  for (const node of graph.nodes ?? graph._nodes ?? []) {
    yield node;
    if (node.subgraph) yield* allNodes(node.subgraph, seen);
  }
}

/** The LoadImage nodes whose image widget names one of the samples, as [node, widget, name]. */
function sampleSlots(graph) {
  const slots = [];
  for (const node of allNodes(graph)) {
    if ((node.comfyClass ?? node.type) !== "LoadImage") continue;
    const widget = node.widgets?.find((w) => w.name === "image");
    const name = typeof widget?.value === "string" ? widget.value.replace(/ \[input\]$/, "") : null;
    if (name && SAMPLE_NAMES.includes(name)) slots.push([node, widget, name]);
  }
  return slots;
}

async function uploadSample(name) {
  const response = await fetch(new URL(name, SAMPLES_BASE), { cache: "no-cache" }); // never a stale copy
  if (!response.ok) throw new Error(`${name}: the pack's copy answered HTTP ${response.status}`);
  const body = new FormData();
  body.append("image", new File([await response.blob()], name, { type: "image/png" }));
  body.append("type", "input");
  body.append("subfolder", "");
  body.append("overwrite", "true"); // same name, same pixels: a second click is a no-op
  const upload = await api.fetchApi("/upload/image", { method: "POST", body });
  if (upload.status !== 200) throw new Error(`${name}: POST /upload/image answered HTTP ${upload.status}`);
  const info = await upload.json();
  return info.subfolder ? `${info.subfolder}/${info.name}` : info.name;
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

async function selectImage(node, widget, value) {
  const values = widget.options?.values;
  const wasListed = !Array.isArray(values) || values.includes(value);
  if (!wasListed) values.push(value);
  if (!wasListed && widget.value === value) {
    // The workflow already names the file, but it was missing when the graph loaded, and the Vue node
    // renderer only re-matches its dropdown when the value changes. Pass through the same file written
    // as ComfyUI's annotated path ("name [input]", same preview), then back to the plain name.
    widget.callback?.(`${value} [input]`);
    await nextTask();
  }
  const previous = widget.value;
  widget.value = value;
  widget.callback?.(value); // LoadImage's own callback: sets the node output, the preview loads
  // What the frontend's own image upload does next: tell the node its widget changed. Newer frontends
  // (1.58) listen there to drop the widget from their missing-media list; while it is listed, the Vue
  // dropdown hides the name ("Select image...") and marks the widget invalid. Older ones define no hook.
  node.onWidgetChanged?.(widget.name, value, previous, widget);
  node.setDirtyCanvas?.(true, true);
}

export async function loadSampleInputs(graph = app.graph) {
  const slots = sampleSlots(graph);
  if (!slots.length) {
    notify("info", "ACE++ sample inputs", `No LoadImage node here names a sample (${SAMPLE_NAMES.join(", ")}).`);
    return [];
  }
  const names = [...new Set(slots.map(([, , name]) => name))];
  try {
    const uploaded = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await uploadSample(n)])));
    for (const [node, widget, name] of slots) await selectImage(node, widget, uploaded[name]);
  } catch (err) {
    notify("error", "ACE++ sample inputs failed", String(err?.message ?? err));
    throw err;
  }
  invalidatePreviews(names);
  const nodes = slots.length === 1 ? "its Load Image node" : `${slots.length} Load Image nodes`;
  notify("success", "ACE++ sample inputs",
    `Uploaded ${names.join(", ")} to ComfyUI's input folder and selected ${names.length === 1 ? "it" : "them"} ` +
    `in ${nodes}.`);
  return names;
}

function addSamplesButton(node) {
  if (node.widgets?.some((w) => w.name === SAMPLES_LABEL)) return;
  const button = node.addWidget("button", SAMPLES_LABEL, null, () => {
    loadSampleInputs(app.graph).catch(() => {}); // already reported to the user
  });
  button.label = SAMPLES_LABEL;
  button.tooltip = "Uploads the pack's sample images (drawn by the project) into ComfyUI's input folder and " +
    "selects them in this workflow's Load Image nodes that name them.";
  displayOnly(button);
}

// ------------------------------------------------------------------------------------------ registration
const WIDGET_TYPES = new Set(["INT", "FLOAT", "BOOLEAN", "STRING", "COMBO"]);

/** The names of a node definition's widget inputs (numbers, booleans, text, choices), in its order. */
function widgetInputs(nodeData) {
  return ["required", "optional"].flatMap((group) => Object.entries(nodeData.input?.[group] ?? {}))
    .filter(([, spec]) => Array.isArray(spec?.[0]) || WIDGET_TYPES.has(spec?.[0]))
    .map(([name]) => name);
}

app.registerExtension({
  name: "ACEPP.Extension",
  commands: [
    {
      id: SAMPLES_COMMAND,
      label: SAMPLES_LABEL,
      icon: "pi pi-images",
      function: () => loadSampleInputs(app.graph).catch(() => {}),
    },
  ],
  menuCommands: [{ path: ["Extensions", "ACE++"], commands: [SAMPLES_COMMAND] }],
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (REPORTING_NODES.has(nodeData.name)) {
      const onExecuted = nodeType.prototype.onExecuted;
      nodeType.prototype.onExecuted = function (message) {
        onExecuted?.apply(this, arguments);
        const text = (message?.text ?? []).join("\n");
        if (!text) return;
        showReport(this, text);
        rememberReport(this, text);
      };
      // Loading a workflow (a reload restores the open one from the browser's storage): the saved report.
      const onConfigure = nodeType.prototype.onConfigure;
      nodeType.prototype.onConfigure = function (info) {
        const result = onConfigure?.apply(this, arguments);
        const text = this.properties?.[REPORT_PROPERTY];
        if (typeof text === "string" && text) showReport(this, text);
        return result;
      };
    }
    if (nodeData.name === SAMPLE_HOST_NODE) {
      const widgetNames = widgetInputs(nodeData);
      const onNodeCreated = nodeType.prototype.onNodeCreated;
      nodeType.prototype.onNodeCreated = function () {
        const result = onNodeCreated?.apply(this, arguments);
        addSamplesButton(this);
        try {
          addLayoutPreview(this, widgetNames);
        } catch (err) {
          console.error("[ACE++] the layout preview could not be added:", err);
        }
        return result;
      };
    }
  },
});
