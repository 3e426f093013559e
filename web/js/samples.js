// ACE++ for ComfyUI, frontend: "Load ACE++ sample inputs", a button on the ACE++ Canvas node and a command
// (Extensions > ACE++ in the menu bar, and the command palette). The bundled workflows name sample images
// (acepp_face.png, ...) in their LoadImage nodes; on click, each one the graph uses is fetched from this pack's
// own web folder (web/samples, drawn by tools/samples.py), uploaded through ComfyUI's POST /upload/image
// (overwrite: a second click changes nothing) and selected in the LoadImage node, whose preview then loads.
// Nothing is written anywhere until the user clicks.
import { api, NAMES, allNodes, displayOnly, notify, setWidgetValue, typeOf, widgetOf } from "./shared.js";

export const SAMPLES_LABEL = NAMES.widgets.samples_button;
// Relative to this file (see shared.js: the pack's folder name is never spelled out).
const SAMPLES_BASE = new URL("../samples/", import.meta.url);

/** The LoadImage nodes whose image widget names one of the samples, as [node, widget, name]. */
function sampleSlots(graph) {
  const slots = [];
  for (const node of allNodes(graph)) {
    if (typeOf(node) !== "LoadImage") continue;
    const widget = widgetOf(node, "image");
    const name = typeof widget?.value === "string" ? widget.value.replace(/ \[input\]$/, "") : null;
    if (name && NAMES.samples.includes(name)) slots.push([node, widget, name]);
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
  // What the frontend's own image upload does: LoadImage's callback sets the node output and the preview
  // loads; the node hook makes newer frontends (1.58) drop the widget from their missing-media list (while it
  // is listed, the Vue dropdown hides the name, "Select image...", and marks the widget invalid).
  setWidgetValue(node, widget, value);
}

/** Uploads the samples the graph's LoadImage nodes name and selects them; returns their names. */
export async function loadSampleInputs(graph) {
  const slots = sampleSlots(graph);
  if (!slots.length) {
    notify("info", "ACE++ sample inputs", `No LoadImage node here names a sample (${NAMES.samples.join(", ")}).`);
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

/** The button on the canvas node; `load` is what the command runs too. */
export function addSamplesButton(node, load) {
  if (widgetOf(node, SAMPLES_LABEL)) return;
  const button = node.addWidget("button", SAMPLES_LABEL, null, () => { load(); });
  button.label = SAMPLES_LABEL;
  button.tooltip = "Uploads the pack's sample images (drawn by the project) into ComfyUI's input folder and " +
    "selects them in this workflow's Load Image nodes that name them.";
  displayOnly(button);
}
