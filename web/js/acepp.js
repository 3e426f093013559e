// ACE++ for ComfyUI, frontend: the extension, registered here; each feature lives in its own module, all of them
// reaching ComfyUI through window.comfyAPI and node-level hooks only (shared.js):
//
// - reports.js: the loaders' reports (LoRA coverage, FFT dtype warnings) on the loader nodes;
// - samples.js: "Load ACE++ sample inputs", a button on the ACE++ Canvas node and a command;
// - presets.js: the task preset menu of the canvas node;
// - preview.js: the canvas node's live layout preview (gather.js → plan.js → draw.js), with the note of the last
//   preset or run warning under it.
//
// Every widget the pack adds is display-only (shared.js: displayOnly): the queued prompt and the saved
// widgets_values stay exactly those of the node's own widgets.
import { addPresetMenu } from "./presets.js";
import { addLayoutPreview, invalidatePreviews, showNote } from "./preview.js";
import { addReports, REPORTING_NODES } from "./reports.js";
import { addSamplesButton, loadSampleInputs, SAMPLES_LABEL } from "./samples.js";
import { app, NAMES } from "./shared.js";

const SAMPLES_COMMAND = NAMES.commands.load_samples;
const WIDGET_TYPES = new Set(["INT", "FLOAT", "BOOLEAN", "STRING", "COMBO"]);

/** The names of a node definition's widget inputs (numbers, booleans, text, choices), in its order. */
function widgetInputs(nodeData) {
  return ["required", "optional"].flatMap((group) => Object.entries(nodeData.input?.[group] ?? {}))
    .filter(([, spec]) => Array.isArray(spec?.[0]) || WIDGET_TYPES.has(spec?.[0]))
    .map(([name]) => name);
}

/** The samples of the open graph, uploaded and selected; the previews then read the files again. */
function loadSamples() {
  return loadSampleInputs(app.graph).then(invalidatePreviews, () => {}); // a failure is already told the user
}

app.registerExtension({
  name: "ACEPP.Extension",
  commands: [{ id: SAMPLES_COMMAND, label: SAMPLES_LABEL, icon: "pi pi-images", function: loadSamples }],
  menuCommands: [{ path: ["Extensions", "ACE++"], commands: [SAMPLES_COMMAND] }],
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (REPORTING_NODES.has(nodeData.name)) addReports(nodeType);
    if (nodeData.name !== NAMES.nodes.canvas) return;
    const widgetNames = widgetInputs(nodeData);
    // A run's warning (a faint mask: everywhere below 0.5 means the whole image) goes under the preview; a run
    // without one clears the note, so a warning never outlives the input that caused it.
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      showNote(this, (message?.text ?? []).join("\n"));
    };
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      // In this order, after the node's own widgets: sample button, preset menu, preview.
      addSamplesButton(this, loadSamples);
      try {
        addPresetMenu(this, (note) => showNote(this, note));
        addLayoutPreview(this, widgetNames);
      } catch (err) {
        console.error("[ACE++] the task presets or the layout preview could not be added:", err);
      }
      return result;
    };
  },
});
