// ACE++ for ComfyUI: shows the loaders' reports (LoRA coverage, FFT dtype warnings) on the node itself,
// so a half-applied LoRA is visible without reading the server log. Uses only window.comfyAPI and the
// node-level extension hooks (no LiteGraph canvas internals).
const { app } = window.comfyAPI.app;
const { ComfyWidgets } = window.comfyAPI.widgets;

const REPORTING_NODES = new Set(["ACEPP_LoraLoader", "ACEPP_FFTLoader"]);
const WIDGET = "acepp_report";

function showReport(node, text) {
  let widget = node.widgets?.find((w) => w.name === WIDGET);
  if (!widget) {
    widget = ComfyWidgets.STRING(node, WIDGET, ["STRING", { multiline: true }], app).widget;
    widget.inputEl.readOnly = true;
    widget.inputEl.style.opacity = 0.85;
    widget.serialize = false; // a display, never an input of the prompt
  }
  widget.value = text;
  widget.inputEl.style.color = /WARNING| match no layer /.test(text) ? "#f5a623" : "";
  node.setDirtyCanvas?.(true, true);
}

app.registerExtension({
  name: "ACEPP.NodeReports",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!REPORTING_NODES.has(nodeData.name)) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = (message?.text ?? []).join("\n");
      if (text) showReport(this, text);
    };
  },
});
