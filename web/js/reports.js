// ACE++ for ComfyUI, frontend: the loaders' reports (LoRA coverage, FFT dtype warnings) shown on the node itself,
// so a half-applied LoRA is visible without reading the server log. The last report is kept in the node's
// properties (saved with the workflow, never part of the queued prompt) and shown again when the workflow loads:
// after a page reload, and after a fully cached run (ComfyUI 0.3.75 sends `executed` for a cached node only when
// it is an output node, so a cached loader's report never comes back from the server).
import { app, ComfyWidgets, NAMES, displayOnly, markWorkflowChanged, widgetOf } from "./shared.js";

export const REPORTING_NODES = new Set([NAMES.nodes.lora_loader, NAMES.nodes.fft_loader]);
const REPORT_WIDGET = NAMES.widgets.report;
const REPORT_PROPERTY = NAMES.report_property;

function showReport(node, text) {
  let widget = widgetOf(node, REPORT_WIDGET);
  if (!widget) {
    widget = displayOnly(ComfyWidgets.STRING(node, REPORT_WIDGET, ["STRING", { multiline: true }], app).widget);
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

function rememberReport(node, text) {
  node.properties = node.properties ?? {};
  if (node.properties[REPORT_PROPERTY] === text) return;
  node.properties[REPORT_PROPERTY] = text;
  markWorkflowChanged(); // saved with the workflow now, so that a reload finds it
}

/** Hooks a loader's node type: its report when it ran, and the saved one when a workflow loads. */
export function addReports(nodeType) {
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
