// ACE++ for ComfyUI, frontend: the task presets of the ACE++ Canvas node, a display-only menu (shared.js:
// displayOnly). A preset (web/presets.json, the recipes of the bundled workflows) sets the canvas widgets, the
// repainting_scale of the ACE++ conditioning node fed by this canvas and the vertical of the ACE++ LoRA Loader
// feeding that conditioning, and says what it changed.
import { NAMES, displayOnly, markWorkflowChanged, notify, origin, setWidgetValue, title, typeOf, widgetOf }
  from "./shared.js";

const PRESET_WIDGET = NAMES.widgets.preset_menu;
const PRESET_PROMPT = NAMES.preset_prompt;
const PRESETS_URL = new URL("../presets.json", import.meta.url);
const { fill_conditioning: FILL, fft_conditioning: FFT, lora_loader: LORA } = NAMES.nodes;

let presetsPromise = null;
let presetList = null; // the presets once loaded (asked for as soon as this module loads, before any graph)

function loadPresets() {
  if (!presetsPromise) {
    presetsPromise = fetch(PRESETS_URL, { cache: "no-cache" }).then((response) => {
      if (!response.ok) throw new Error(`presets.json answered HTTP ${response.status}`);
      return response.json();
    }).then((data) => {
      presetList = data.presets;
      return presetList;
    }).catch((err) => {
      presetsPromise = null; // asked again by the next canvas node
      throw err;
    });
  }
  return presetsPromise;
}
loadPresets().catch(() => {}); // reported when a canvas node asks for them

function show(value) {
  return typeof value === "number" ? String(Number(value.toFixed(4))) : String(value);
}

function setWidget(node, name, value, changes) {
  const widget = widgetOf(node, name);
  if (!widget) return false;
  if (widget.value === value) return true;
  const before = setWidgetValue(node, widget, value);
  changes.push(`${title(node)}: ${name} ${show(before)} → ${show(value)}`);
  return true;
}

function conditioningOf(canvas) {
  return (canvas.graph?.nodes ?? []).filter((n) => [FILL, FFT].includes(typeOf(n))
    && ["canvas", "canvas_mask"].some((name) => origin(n, name)?.[0] === canvas));
}

function loraChain(conditioning) {
  const loras = [];
  let link = origin(conditioning, "model");
  while (link && typeOf(link[0]) === LORA && !loras.includes(link[0])) {
    loras.push(link[0]);
    link = origin(link[0], "model");
  }
  return { loras, base: link?.[0] ?? null };
}

/** Applies the preset with this id or label to a canvas node's part of the graph and tells the user; returns what
 * it did, and the note for under the node's preview. */
async function applyPreset(canvas, idOrLabel) {
  const preset = (await loadPresets()).find((p) => p.id === idOrLabel || p.label === idOrLabel);
  if (!preset) throw new Error(`no ACE++ task preset named ${idOrLabel}`);
  const changes = [];
  const notes = [];
  for (const [name, value] of Object.entries(preset.canvas)) {
    if (!setWidget(canvas, name, value, changes)) notes.push(`${title(canvas)} has no ${name} widget`);
  }
  const fft = preset.model === "fft";
  const wanted = fft ? FFT : FILL;
  const wantedName = fft ? "ACE++ FFT Conditioning" : "ACE++ Fill Conditioning";
  const conditionings = conditioningOf(canvas);
  if (!conditionings.length) {
    notes.push(`no ACE++ conditioning node takes this canvas: set its repainting_scale to ${preset.repainting_scale}` +
      (fft ? "" : ` and use the ${preset.model} LoRA`) + " yourself");
  }
  for (const conditioning of conditionings) {
    if (typeOf(conditioning) !== wanted) {
      notes.push(`${preset.label} needs ${wantedName}${fft ? " and the ACE++ FFT model" : " and an ACE++ LoRA"}, ` +
        `this canvas feeds ${title(conditioning)}: open the "${preset.card}" workflow, or swap the nodes`);
      continue;
    }
    setWidget(conditioning, "repainting_scale", preset.repainting_scale, changes);
    if (fft) continue;
    const { loras, base } = loraChain(conditioning);
    // The loaders of a released ACE++ LoRA; one of the user's own files (vertical "file") is left as it is.
    const ace = loras.filter((l) => widgetOf(l, "vertical")?.value !== "file");
    if (!loras.length) {
      notes.push(`no ACE++ LoRA Loader feeds ${title(conditioning)}` +
        (base ? ` (its model comes from ${title(base)})` : "") + `: add one with vertical ${preset.model}`);
    } else if (!ace.length) {
      notes.push(`${title(loras[0])} loads a LoRA file of your own: set its vertical to ${preset.model} for the ` +
        "released ACE++ LoRA of this task");
    }
    for (const lora of ace) setWidget(lora, "vertical", preset.model, changes);
  }
  const summary = changes.length ? `set ${changes.join("; ")}` : "everything was already set";
  const detail = [summary, ...notes.map((n) => `note: ${n}`), preset.tip ? `tip: ${preset.tip}` : ""]
    .filter(Boolean).join(". ").replace(/\.\./g, ".");
  markWorkflowChanged();
  notify(notes.length ? "warn" : "success", `ACE++ preset: ${preset.label}`, detail);
  const note = `Preset ${preset.label}: ${summary}` + (notes.length ? ` (${notes.join("; ")})` : "");
  return { preset: preset.id, changes, notes, note };
}

/** The preset menu on a canvas node (once per node); `showNote(note)` says under the preview what a pick did. */
export function addPresetMenu(node, showNote) {
  if (widgetOf(node, PRESET_WIDGET)) return;
  const menu = node.addWidget("combo", PRESET_WIDGET, PRESET_PROMPT, (value) => {
    if (!value || value === PRESET_PROMPT) return;
    applyPreset(node, value).then(({ note }) => showNote(note))
      .catch((err) => notify("error", "ACE++ task preset failed", String(err?.message ?? err)))
      .finally(() => { menu.value = PRESET_PROMPT; node.setDirtyCanvas?.(true, true); });
  }, { values: [PRESET_PROMPT] });
  menu.tooltip = "Sets this canvas, the ACE++ conditioning it feeds and the ACE++ LoRA Loader before that to " +
    "the recipe of a task (the bundled workflows' settings), and says what it changed.";
  displayOnly(menu);
  const labels = menu.options.values; // filled in place: a renderer may hold on to this very array
  const fill = (presets) => {
    if (labels.length === 1) labels.push(...presets.map((p) => p.label));
  };
  if (presetList) fill(presetList);
  else loadPresets().then(fill).catch((err) => console.warn("[ACE++] the task presets could not be loaded:", err));
}
