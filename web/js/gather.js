// ACE++ for ComfyUI, frontend, the layout preview's first step: what the canvas node will get, read from the graph
// (gather: its widgets and where each image input comes from) and from the files of the Load Image nodes upstream
// (measure: each file's size, and for a mask the box of the pixels the node will read as "generate": alpha at
// most 127, i.e. LoadImage's 1 - alpha >= 0.5). Anything else is "unknown until run".
import { api, NAMES, origin, title, typeOf, widgetOf } from "./shared.js";

export const RETRY_MS = 2000; // a Load Image file that was missing is looked for again this often
const PRIMITIVES = ["PrimitiveNode", "PrimitiveInt", "PrimitiveFloat", "PrimitiveBoolean"];

// ------------------------------------------------------------------------------------------ the graph upstream
function fileOf(loadImage) {
  const value = widgetOf(loadImage, "image")?.value;
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
  if (type === NAMES.nodes.control_map && slot === 0) return imageFrom(origin(node, "image"), what); // same size
  return { unknown: `${what} comes from ${title(node)}` };
}

function referencesFrom(link, into) {
  if (!link) return;
  const [node] = link;
  if (typeOf(node) === NAMES.nodes.add_reference) {
    referencesFrom(origin(node, "references"), into);
    into.push(imageFrom(origin(node, "image"), `reference ${into.length + 1}`)
      ?? { unknown: `reference ${into.length + 1}: ${title(node)} has no image connected` });
  } else {
    into.push({ unknown: `more_references come from ${title(node)}` });
  }
}

/** What the canvas node will get, all of it plain data (its JSON is compared to see whether anything moved). */
export function gather(node, widgetNames) {
  const widgets = {};
  const unknown = [];
  for (const name of widgetNames) {
    const widget = widgetOf(node, name);
    if (!widget) continue;
    const fed = origin(node, name); // a widget turned into an input: only a primitive's value is known now
    if (fed && !PRIMITIVES.includes(typeOf(fed[0]))) unknown.push(`${name} comes from ${title(fed[0])}`);
    widgets[name] = widget.value;
  }
  const references = [];
  const first = imageFrom(origin(node, "reference"), "reference 1");
  if (first) references.push(first);
  referencesFrom(origin(node, "more_references"), references);
  const edit = imageFrom(origin(node, "edit_image"), "edit_image");
  return { widgets, references, edit, mask: maskFrom(node, "mask"), referenceMask: maskFrom(node, "reference_mask"),
    unknown };
}

/** Where a MASK input comes from: a Load Image node's file (its alpha), or unknown until the graph runs. */
function maskFrom(node, input) {
  const link = origin(node, input);
  if (!link) return null;
  const [from, slot] = link;
  if (typeOf(from) !== "LoadImage" || slot !== 1) return { unknown: `the ${input} comes from ${title(from)}` };
  return fileOf(from) ? { file: fileOf(from), node: from.id } : { unknown: `${input}: no file chosen in ${title(from)}` };
}

// ------------------------------------------------------------------------------------------ the files' sizes
const infos = new Map(); // /view URL (+ "#box") -> {filename, promise of {width, height, box}, failedAt}, newest last

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

/** Drops what is known of a file (a file was uploaded again under its name). */
export function forgetFile(filename) {
  for (const [key, entry] of [...infos]) if (entry.filename === filename) infos.delete(key);
}

/** The sizes of what gather found, as the request of POST /acepp/plan (nodes/routes.py): {request}; or
 * {unknown: a result of status unknown_input} when a size is known only at run (retry: a file could not be read,
 * look again in RETRY_MS). */
export async function measure(known) {
  const unknown = (message, retry) => ({ unknown: { status: "unknown_input", message, ...(retry && { retry }) } });
  if (known.unknown.length) return unknown(known.unknown.join("; "));
  const missing = [...known.references, known.edit].filter((s) => s?.unknown).map((s) => s.unknown);
  if (missing.length) return unknown(missing.join("; "));
  const read = (source, what, withBox) => imageInfo(source.file, withBox).catch((err) => {
    throw new Error(`${what}: ${source.file.filename} could not be read from the server (${err.message})`);
  });
  const size = async (source, what) => {
    const { width, height } = await read(source, what, false);
    return { width, height };
  };
  const request = { widgets: known.widgets, references: [], edit_image: null, mask: null, reference_mask: null };
  const sketch = async (source, what) => {
    if (source?.unknown) return "unknown";
    if (!source) return null;
    const { width, height, box } = await read(source, what, true);
    return { width, height, box };
  };
  try {
    // Masks first: the image is usually the same file, decoded once.
    request.mask = await sketch(known.mask, "mask");
    request.reference_mask = await sketch(known.referenceMask, "reference_mask");
    request.references = await Promise.all(known.references.map((r, i) => size(r, `reference ${i + 1}`)));
    if (known.edit) request.edit_image = await size(known.edit, "edit_image");
  } catch (err) {
    return unknown(err.message, true);
  }
  return { request };
}
