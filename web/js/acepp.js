// ACE++ for ComfyUI, frontend part. Two things, both through window.comfyAPI and node-level hooks only (no
// LiteGraph canvas internals, so the classic and the Vue node renderer behave the same):
//
// 1. The loaders' reports (LoRA coverage, FFT dtype warnings) shown on the node itself, so a half-applied
//    LoRA is visible without reading the server log.
// 2. "Load ACE++ sample inputs": a button on the ACE++ Canvas node and a command (Extensions > ACE++ in the
//    menu bar, and the command palette). The bundled workflows name sample images (acepp_face.png, ...) in
//    their LoadImage nodes; on click, each one the graph uses is fetched from this pack's own web folder
//    (web/samples, drawn by tools/samples.py), uploaded through ComfyUI's POST /upload/image (overwrite: a
//    second click changes nothing) and selected in the LoadImage node, whose preview then loads. Nothing
//    is written anywhere until the user clicks.
//
// Neither extra widget changes what is saved or queued: both are appended after the node's own widgets
// (the positional widgets_values of saved workflows keep their meaning), `serialize = false` keeps them
// out of widgets_values and `options.serialize = false` out of the API prompt (graphToPrompt).
const { app } = window.comfyAPI.app;
const { api } = window.comfyAPI.api;
const { ComfyWidgets } = window.comfyAPI.widgets;

// ------------------------------------------------------------------------------------------ node reports
const REPORTING_NODES = new Set(["ACEPP_LoraLoader", "ACEPP_FFTLoader"]);
const REPORT_WIDGET = "acepp_report";

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
    if (widget.inputEl) {
      widget.inputEl.readOnly = true;
      widget.inputEl.style.opacity = 0.85;
    }
  }
  widget.value = text;
  if (widget.inputEl) widget.inputEl.style.color = /WARNING| match no layer /.test(text) ? "#f5a623" : "";
  node.setDirtyCanvas?.(true, true);
}

// ------------------------------------------------------------------------------------------ sample inputs
export const SAMPLE_NAMES = Object.freeze([
  "acepp_face.png",
  "acepp_logo.png",
  "acepp_garment.png",
  "acepp_scene.png",
  "acepp_person.png",
  "acepp_portrait.png",
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
  widget.value = value;
  widget.callback?.(value); // LoadImage's own callback: sets the node output, the preview loads
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
        if (text) showReport(this, text);
      };
    }
    if (nodeData.name === SAMPLE_HOST_NODE) {
      const onNodeCreated = nodeType.prototype.onNodeCreated;
      nodeType.prototype.onNodeCreated = function () {
        const result = onNodeCreated?.apply(this, arguments);
        addSamplesButton(this);
        return result;
      };
    }
  },
});
