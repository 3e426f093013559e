// ACE++ for ComfyUI, frontend: the live layout preview and the task presets of the ACE++ Canvas node.
//
// The preview draws the canvas the node will build (reference panels, target panel, the mask on it) and, for
// edits, the photo with the mask's box and the crop-to-context box, with the canvas size, tokens / budget, the
// target's pixels per original pixel and warnings. It follows the node's widgets and what is wired into it,
// checking a few times a second (no hook into LiteGraph's drawing, so the classic and the Vue node renderer
// behave the same). The sizes come from the Load Image nodes upstream (the file's size, and for a mask the
// box of the pixels the node will read as "generate": alpha at most 127, i.e. LoadImage's 1 - alpha >= 0.5);
// anything else is "unknown until run". No sizing rule lives here: the numbers are the answer of the pack's
// route POST /acepp/plan (nodes/routes.py), which runs the canvas node's own Python code (lcu/preview.py).
//
// The presets (web/presets.json, the recipes of the bundled workflows) set the canvas widgets, the
// repainting_scale of the ACE++ conditioning node fed by this canvas and the vertical of the ACE++ LoRA Loader
// feeding that conditioning, and say what they changed.
//
// Both widgets are display-only like the pack's other ones (see acepp.js): appended after the node's own
// widgets, out of the saved widgets_values (`serialize = false`) and out of the prompt (`options.serialize`).
// This module registers nothing itself: acepp.js calls addLayoutPreview from its own canvas-node hook.
const { app } = window.comfyAPI.app;
const { api } = window.comfyAPI.api;

export const PREVIEW_WIDGET = "acepp_layout_preview";
export const PRESET_WIDGET = "ACE++ task preset";
export const PRESET_PROMPT = "(choose a task preset)";
const PLAN_ROUTE = "/acepp/plan";
const PRESETS_URL = new URL("../presets.json", import.meta.url);
const POLL_MS = 300;
const RETRY_MS = 2000; // a Load Image file that was missing is looked for again this often
const CONDITIONING = new Set(["ACEPP_FillConditioning", "ACEPP_FFTConditioning"]);
const SVG = "http://www.w3.org/2000/svg";

const typeOf = (node) => node?.comfyClass ?? node?.type;
const title = (node) => (node ? node.title || typeOf(node) || "a node" : "outside this graph");

function displayOnly(widget) {
  widget.serialize = false;
  widget.options = widget.options ?? {};
  widget.options.serialize = false;
  return widget;
}

function notify(severity, summary, detail) {
  const toast = app.extensionManager?.toast;
  if (toast?.add) toast.add({ severity, summary, detail, life: severity === "error" ? 10000 : 7000 });
  else (severity === "error" ? console.error : console.log)(`[ACE++] ${summary}: ${detail}`);
}

// ------------------------------------------------------------------------------------------ the graph upstream
function inputSlot(node, name) {
  return (node?.inputs ?? []).findIndex((input) => input.name === name);
}

/** [origin node, origin slot] of a node's input, through legacy Reroute nodes; null when not connected. The node
 * is null when the link comes from outside this graph (a subgraph's input). */
function origin(node, name) {
  let slot = typeof name === "number" ? name : inputSlot(node, name);
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

function fileOf(loadImage) {
  const value = loadImage.widgets?.find((w) => w.name === "image")?.value;
  if (typeof value !== "string" || !value) return null;
  const annotated = /^(.*) \[(input|output|temp)\]$/.exec(value);
  const path = annotated ? annotated[1] : value;
  const cut = path.lastIndexOf("/");
  return { filename: path.slice(cut + 1), subfolder: cut >= 0 ? path.slice(0, cut) : "",
           type: annotated ? annotated[2] : "input" };
}

/** Where an IMAGE (or MASK) comes from: {file} of a Load Image node, or {unknown: why}. */
function imageFrom(link, what) {
  if (!link) return null;
  const [node, slot] = link;
  const type = typeOf(node);
  if (type === "LoadImage") {
    const file = fileOf(node);
    return file ? { file, node: node.id } : { unknown: `${what}: no file chosen in ${title(node)}` };
  }
  if (type === "ACEPP_ControlMap" && slot === 0) return imageFrom(origin(node, "image"), what); // same size
  return { unknown: `${what} comes from ${title(node)}` };
}

function referencesFrom(link, into) {
  if (!link) return;
  const [node] = link;
  if (typeOf(node) === "ACEPP_AddReference") {
    referencesFrom(origin(node, "references"), into);
    into.push(imageFrom(origin(node, "image"), `reference ${into.length + 1}`)
      ?? { unknown: `reference ${into.length + 1}: ${title(node)} has no image connected` });
  } else {
    into.push({ unknown: `more_references come from ${title(node)}` });
  }
}

/** What the preview needs to know, all of it plain data (its JSON is compared to see whether anything moved). */
function gather(node, widgetNames) {
  const widgets = {};
  const unknown = [];
  for (const name of widgetNames) {
    const widget = node.widgets?.find((w) => w.name === name);
    if (!widget) continue;
    const fed = origin(node, name); // a widget turned into an input: only a primitive's value is known now
    if (fed && !["PrimitiveNode", "PrimitiveInt", "PrimitiveFloat", "PrimitiveBoolean"].includes(typeOf(fed[0]))) {
      unknown.push(`${name} comes from ${title(fed[0])}`);
    }
    widgets[name] = widget.value;
  }
  const references = [];
  const first = imageFrom(origin(node, "reference"), "reference 1");
  if (first) references.push(first);
  referencesFrom(origin(node, "more_references"), references);
  const edit = imageFrom(origin(node, "edit_image"), "edit_image");
  const maskLink = origin(node, "mask");
  let mask = null;
  if (maskLink) {
    const [from, slot] = maskLink;
    mask = typeOf(from) === "LoadImage" && slot === 1
      ? (fileOf(from) ? { file: fileOf(from), node: from.id } : { unknown: `mask: no file chosen in ${title(from)}` })
      : { unknown: `the mask comes from ${title(from)}` };
  }
  return { widgets, references, edit, mask, unknown };
}

// ------------------------------------------------------------------------------------------ the files' sizes
const infos = new Map(); // /view URL (+ "#box") -> Promise<{width, height, box}>, newest last

function viewURL(file) {
  const query = new URLSearchParams({ filename: file.filename, type: file.type, subfolder: file.subfolder });
  return api.apiURL(`/view?${query}`);
}

/** The box of the pixels LoadImage's mask marks "generate" (1 - alpha >= 0.5, i.e. alpha <= 127); null if none. */
function alphaBox(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const { data, width, height } = context.getImageData(0, 0, bitmap.width, bitmap.height,
    { colorSpace: "srgb" });
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width * 4;
    for (let x = 0; x < width; x++) {
      if (data[row + x * 4 + 3] <= 127) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y1 < 0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

async function readInfo(url, withBox) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const bitmap = await createImageBitmap(await response.blob(),
    { premultiplyAlpha: "none", colorSpaceConversion: "none" });
  try {
    return { width: bitmap.width, height: bitmap.height, box: withBox ? alphaBox(bitmap) : undefined };
  } finally {
    bitmap.close();
  }
}

function imageInfo(file, withBox) {
  const url = viewURL(file);
  const usable = (entry) => entry && !(entry.failedAt && Date.now() - entry.failedAt > RETRY_MS);
  if (!withBox && usable(infos.get(url + "#box"))) return infos.get(url + "#box").promise; // decoded once
  const key = url + (withBox ? "#box" : "");
  let entry = infos.get(key);
  if (!usable(entry)) {
    entry = { filename: file.filename, promise: readInfo(url, withBox) };
    entry.promise.catch(() => { entry.failedAt = Date.now(); });
    infos.delete(key);
    infos.set(key, entry);
    while (infos.size > 24) infos.delete(infos.keys().next().value);
  }
  return entry.promise;
}

/** Drops what is known of a file (a Load Image node changed, or a file was uploaded again). */
export function forgetFile(filename) {
  for (const [key, entry] of [...infos]) if (entry.filename === filename) infos.delete(key);
}

// ------------------------------------------------------------------------------------------ planning
async function plan(known) {
  if (known.unknown.length) return { status: "unknown_input", message: known.unknown.join("; ") };
  const sources = [...known.references, known.edit].filter(Boolean);
  const missing = sources.filter((s) => s.unknown).map((s) => s.unknown);
  if (missing.length) return { status: "unknown_input", message: missing.join("; ") };
  const size = async (source, what) => {
    try {
      const { width, height } = await imageInfo(source.file, false);
      return { width, height };
    } catch (err) {
      throw new Error(`${what}: ${source.file.filename} could not be read from the server (${err.message})`);
    }
  };
  const body = { widgets: known.widgets, references: [], edit_image: null, mask: null }; // nodes/routes.py
  try {
    if (known.mask?.unknown) body.mask = "unknown";
    else if (known.mask) { // first: the edit image is usually the same file, decoded once
      const { width, height, box } = await imageInfo(known.mask.file, true).catch((err) => {
        throw new Error(`mask: ${known.mask.file.filename} could not be read from the server (${err.message})`);
      });
      body.mask = { width, height, box };
    }
    body.references = await Promise.all(known.references.map((r, i) => size(r, `reference ${i + 1}`)));
    if (known.edit) body.edit_image = await size(known.edit, "edit_image");
  } catch (err) {
    return { status: "unknown_input", message: err.message, retry: true };
  }
  let response;
  try {
    response = await api.fetchApi(PLAN_ROUTE, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (err) {
    return { status: "error", error: `the server did not answer (${err.message})`, retry: true, request: body };
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (response.status === 200 && answer) return { ...answer, request: body, unknownMask: !!known.mask?.unknown };
  const error = answer?.error ?? `${PLAN_ROUTE} answered HTTP ${response.status} (is the pack up to date?)`;
  return { status: "error", error, request: body };
}

// ------------------------------------------------------------------------------------------ drawing
function svgElement(tag, attributes, parent) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  parent?.appendChild(element);
  return element;
}

function label(parent, x, y, text, size) {
  const element = svgElement("text", { x, y, fill: "#fff", "font-size": size, "font-family": "sans-serif",
                                        "dominant-baseline": "hanging" }, parent);
  element.textContent = text;
  return element;
}

const times = (w, h) => `${w} × ${h}`;

function drawCanvas(result) {
  const { width, height } = result.canvas;
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMid meet",
                                  "data-acepp": "canvas-diagram" });
  svg.style.cssText = "width:100%;max-height:120px;display:block;background:#222";
  const font = Math.max(10, Math.round(height / 9));
  result.references.forEach((ref, i) => {
    const p = ref.panel, c = ref.content;
    svgElement("rect", { x: p.x, y: p.y, width: p.w, height: p.h, fill: "#3b3b3b", stroke: "#111",
                         "stroke-width": Math.max(1, width / 300) }, svg);
    svgElement("rect", { x: c.x, y: c.y, width: c.w, height: c.h, fill: "#3f6fa8", "data-acepp": "reference" }, svg);
    label(svg, p.x + font / 3, font / 3, `ref ${i + 1}`, font);
  });
  const t = result.target.panel;
  svgElement("rect", { x: t.x, y: t.y, width: t.w, height: t.h, fill: result.target.new_image ? "#808080" : "#4d7a4d",
                       stroke: "#111", "stroke-width": Math.max(1, width / 300), "data-acepp": "target" }, svg);
  const m = result.target.mask_on_canvas;
  if (m) svgElement("rect", { x: m.x, y: m.y, width: m.w, height: m.h, fill: "rgba(230,40,40,0.55)",
                              "data-acepp": "mask-on-canvas" }, svg);
  label(svg, t.x + font / 3, font / 3, "target", font);
  return svg;
}

function drawPhoto(result) {
  const { width, height, region, mask_box: box } = result.target;
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMid meet",
                                  "data-acepp": "photo-diagram" });
  svg.style.cssText = "width:100%;max-height:80px;display:block;margin-top:4px";
  const stroke = Math.max(1, Math.max(width, height) / 150);
  svgElement("rect", { x: 0, y: 0, width, height, fill: "#2f3b2f", stroke: "#888", "stroke-width": stroke }, svg);
  if (box) svgElement("rect", { x: box.x, y: box.y, width: box.w, height: box.h, fill: "rgba(230,40,40,0.55)",
                                "data-acepp": "mask-box" }, svg);
  if (result.target.cropped) {
    svgElement("rect", { x: region.x, y: region.y, width: region.w, height: region.h, fill: "none",
                         stroke: "#f5c542", "stroke-width": stroke, "stroke-dasharray": `${stroke * 3} ${stroke * 2}`,
                         "data-acepp": "crop-box" }, svg);
  }
  return svg;
}

function line(parent, text, kind, color) {
  const div = document.createElement("div");
  div.textContent = text;
  if (kind) div.dataset.acepp = kind;
  if (color) div.style.color = color;
  parent.appendChild(div);
  return div;
}

function render(state) {
  const root = state.element;
  const result = state.result;
  root.replaceChildren();
  const text = document.createElement("div");
  text.style.cssText = "font:12px/1.35 sans-serif;margin-top:4px;white-space:normal;overflow-wrap:anywhere";
  if (!result) {
    line(text, "Layout: working it out…", "status");
  } else if (result.status === "ok") {
    root.appendChild(drawCanvas(result));
    if (!result.target.new_image) root.appendChild(drawPhoto(result));
    const { canvas, target } = result;
    line(text, `Canvas ${times(canvas.width, canvas.height)} · ${result.tokens} / ${result.token_budget} tokens`,
      "canvas");
    const per = target.new_image ? "output" : "original";
    line(text, `Target ${times(target.panel.w, target.panel.h)} · ${result.px_per_px.toFixed(2)} px per ${per} ` +
      `px · ${Math.round(result.target_share * 100)} % of the tokens`, "target");
    if (target.cropped) {
      const r = target.region;
      line(text, `Crop ${times(r.w, r.h)} at (${r.x}, ${r.y}) of the ${times(target.width, target.height)} photo`,
        "crop");
    } else if (!target.new_image) {
      line(text, `Whole photo ${times(target.width, target.height)}`, "crop");
    }
    result.references.forEach((ref, i) => {
      const to = ref.cropped_to;
      const crop = to ? ` (centre-cropped to ${times(to.width, to.height)})` : "";
      const placed = times(ref.content.w, ref.content.h);
      line(text, `Reference ${i + 1}: ${times(ref.width, ref.height)}${crop} → ${placed}`, "reference");
    });
    if (result.unknownMask) line(text, "Mask: unknown until run (not from a Load Image node)", "mask");
    for (const warning of result.warnings) line(text, `⚠ ${warning}`, "warning", "#f5a623");
  } else if (result.status === "error") {
    line(text, `cannot plan: ${result.error}`, "error", "#ff6b6b");
  } else {
    // unknown_input (a size only the run knows), unknown (the mask's place), at_run (several regions)
    line(text, result.status === "at_run" ? `Layout known at run: ${result.message}`
      : `Layout unknown until run: ${result.message}`, "status");
  }
  if (state.preset) line(text, state.preset, "preset", "#7bd88f");
  root.appendChild(text);
}

// ------------------------------------------------------------------------------------------ the widgets
const states = new Map(); // canvas node -> its preview state (while the node is in a graph)

/** Reads the files again and re-plans every preview (after an upload that may have replaced a file). */
export function invalidatePreviews(filenames = []) {
  for (const name of filenames) forgetFile(name);
  for (const state of states.values()) state.signature = null;
}

async function refresh(node, state, known) {
  const ticket = ++state.ticket;
  let result;
  try {
    result = await plan(known);
  } catch (err) {
    result = { status: "error", error: String(err?.message ?? err) };
  }
  if (ticket !== state.ticket) return; // something moved meanwhile: a newer answer is on its way
  state.result = result;
  state.retryAt = result.retry ? Date.now() + RETRY_MS : null;
  state.widget.aceppResult = result; // read by the browser tests
  render(state);
}

function stop(node, state) {
  clearInterval(state.timer);
  if (states.get(node) === state) states.delete(node);
}

function tick(node, state) {
  if (!node.graph) return stop(node, state); // removed from the graph
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
  refresh(node, state, known);
}

/** The preset menu and the layout preview on a canvas node (called once per node by acepp.js). */
export function addLayoutPreview(node, widgetNames) {
  if (states.has(node)) return;
  const presetWidget = node.addWidget("combo", PRESET_WIDGET, PRESET_PROMPT, (value) => {
    if (!value || value === PRESET_PROMPT) return;
    applyPreset(node, value).catch((err) => notify("error", "ACE++ task preset failed", String(err?.message ?? err)))
      .finally(() => { presetWidget.value = PRESET_PROMPT; node.setDirtyCanvas?.(true, true); });
  }, { values: [PRESET_PROMPT] });
  presetWidget.tooltip = "Sets this canvas, the ACE++ conditioning it feeds and the ACE++ LoRA Loader before that to " +
    "the recipe of a task (the bundled workflows' settings), and says what it changed.";
  displayOnly(presetWidget);
  const labels = presetWidget.options.values; // filled in place: a renderer may hold on to this very array
  const fill = (presets) => {
    if (labels.length === 1) labels.push(...presets.map((p) => p.label));
  };
  if (presetList) fill(presetList);
  else loadPresets().then(fill).catch((err) => console.warn("[ACE++] the task presets could not be loaded:", err));

  const element = document.createElement("div");
  element.className = "acepp-layout-preview";
  element.dataset.acepp = "layout-preview";
  element.style.cssText = "width:100%;box-sizing:border-box;padding:4px;color:var(--input-text,#ddd);" +
    "overflow:hidden;pointer-events:none";
  const widget = node.addDOMWidget(PREVIEW_WIDGET, "acepp-preview", element, {
    serialize: false, hideOnZoom: false, getValue: () => undefined, setValue: () => {},
    getMinHeight: () => 260, getMaxHeight: () => 420,
  });
  displayOnly(widget);
  const state = { element, widget, widgetNames, signature: null, ticket: 0, result: null, preset: null };
  states.set(node, state);
  render(state);
  const onRemoved = node.onRemoved;
  node.onRemoved = function () {
    stop(node, state);
    return onRemoved?.apply(this, arguments);
  };
  state.timer = setInterval(() => tick(node, state), POLL_MS);
  if (node.graph) tick(node, state); // (a node being created is added to its graph right after)
}

/** The plan the preview shows now (for tests and other extensions). */
export function currentPlan(node) {
  return states.get(node)?.result ?? null;
}

// ------------------------------------------------------------------------------------------ presets
let presetsPromise = null;
let presetList = null; // the presets once loaded (asked for as soon as this module loads, before any graph)

export function loadPresets() {
  if (!presetsPromise) {
    presetsPromise = fetch(PRESETS_URL, { cache: "no-cache" }).then((response) => {
      if (!response.ok) throw new Error(`presets.json answered HTTP ${response.status}`);
      return response.json();
    }).then((data) => {
      presetList = data.presets;
      return presetList;
    }).catch((err) => {
      presetsPromise = null;
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
  const widget = node.widgets?.find((w) => w.name === name);
  if (!widget) return false;
  const before = widget.value;
  if (before === value) return true;
  widget.value = value;
  widget.callback?.(value, app.canvas, node);
  node.onWidgetChanged?.(name, value, before, widget);
  changes.push(`${title(node)}: ${name} ${show(before)} → ${show(value)}`);
  node.setDirtyCanvas?.(true, true);
  return true;
}

function conditioningOf(canvas) {
  return (canvas.graph?.nodes ?? []).filter((n) => CONDITIONING.has(typeOf(n))
    && ["canvas", "canvas_mask"].some((name) => origin(n, name)?.[0] === canvas));
}

function loraChain(conditioning) {
  const loras = [];
  let link = origin(conditioning, "model");
  while (link && typeOf(link[0]) === "ACEPP_LoraLoader" && !loras.includes(link[0])) {
    loras.push(link[0]);
    link = origin(link[0], "model");
  }
  return { loras, base: link?.[0] ?? null };
}

/** Applies the preset with this id or label to a canvas node's part of the graph; returns what it did. */
export async function applyPreset(canvas, idOrLabel) {
  const preset = (await loadPresets()).find((p) => p.id === idOrLabel || p.label === idOrLabel);
  if (!preset) throw new Error(`no ACE++ task preset named ${idOrLabel}`);
  const changes = [];
  const notes = [];
  for (const [name, value] of Object.entries(preset.canvas)) {
    if (!setWidget(canvas, name, value, changes)) notes.push(`${title(canvas)} has no ${name} widget`);
  }
  const fft = preset.model === "fft";
  const wanted = fft ? "ACEPP_FFTConditioning" : "ACEPP_FillConditioning";
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
    const ace = loras.filter((l) => l.widgets?.find((w) => w.name === "vertical")?.value !== "file");
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
  const state = states.get(canvas);
  if (state) {
    state.preset = `Preset ${preset.label}: ${summary}` + (notes.length ? ` (${notes.join("; ")})` : "");
    render(state);
  }
  try {
    app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
  } catch (err) {
    console.warn("[ACE++] could not mark the workflow changed:", err);
  }
  notify(notes.length ? "warn" : "success", `ACE++ preset: ${preset.label}`, detail);
  return { preset: preset.id, changes, notes };
}
