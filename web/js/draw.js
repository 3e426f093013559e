// ACE++ for ComfyUI, frontend, the layout preview's last step: a plan drawn. The canvas the node will build
// (reference panels, the target panel, the mask on it) and, for edits, the photo with the mask's box and the
// crop-to-context box, as SVG; below them the canvas size, tokens / budget, the target's pixels per original
// pixel, warnings, and the last preset's note. The parts carry data-acepp marks (web/names.json) for the tests.
import { NAMES } from "./shared.js";

const SVG = "http://www.w3.org/2000/svg";
const MARK = NAMES.marks;

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
                                  "data-acepp": MARK.canvas_diagram });
  svg.style.cssText = "width:100%;max-height:120px;display:block;background:#222";
  const font = Math.max(10, Math.round(height / 9));
  const stroke = Math.max(1, width / 300);
  result.references.forEach((ref, i) => {
    const p = ref.panel, c = ref.content;
    svgElement("rect", { x: p.x, y: p.y, width: p.w, height: p.h, fill: "#3b3b3b", stroke: "#111",
                         "stroke-width": stroke }, svg);
    svgElement("rect", { x: c.x, y: c.y, width: c.w, height: c.h, fill: "#3f6fa8", "data-acepp": MARK.reference },
      svg);
    label(svg, p.x + font / 3, font / 3, ref.twin ? "source" : `ref ${i + 1}`, font);
  });
  const t = result.target.panel;
  svgElement("rect", { x: t.x, y: t.y, width: t.w, height: t.h, fill: result.target.new_image ? "#808080" : "#4d7a4d",
                       stroke: "#111", "stroke-width": stroke, "data-acepp": MARK.target }, svg);
  const m = result.target.mask_on_canvas;
  if (m) svgElement("rect", { x: m.x, y: m.y, width: m.w, height: m.h, fill: "rgba(230,40,40,0.55)",
                              "data-acepp": MARK.mask_on_canvas }, svg);
  label(svg, t.x + font / 3, font / 3, "target", font);
  return svg;
}

function drawPhoto(result) {
  const { width, height, region, mask_box: box } = result.target;
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMid meet",
                                  "data-acepp": MARK.photo_diagram });
  svg.style.cssText = "width:100%;max-height:80px;display:block;margin-top:4px";
  const stroke = Math.max(1, Math.max(width, height) / 150);
  svgElement("rect", { x: 0, y: 0, width, height, fill: "#2f3b2f", stroke: "#888", "stroke-width": stroke }, svg);
  if (box) svgElement("rect", { x: box.x, y: box.y, width: box.w, height: box.h, fill: "rgba(230,40,40,0.55)",
                                "data-acepp": MARK.mask_box }, svg);
  if (result.target.cropped) {
    svgElement("rect", { x: region.x, y: region.y, width: region.w, height: region.h, fill: "none",
                         stroke: "#f5c542", "stroke-width": stroke, "stroke-dasharray": `${stroke * 3} ${stroke * 2}`,
                         "data-acepp": MARK.crop_box }, svg);
  }
  return svg;
}

function line(parent, text, color) {
  const div = document.createElement("div");
  div.textContent = text;
  if (color) div.style.color = color;
  parent.appendChild(div);
  return div;
}

function describe(text, result) {
  const { canvas, target } = result;
  line(text, `Canvas ${times(canvas.width, canvas.height)} · ${result.tokens} / ${result.token_budget} tokens`);
  const per = target.new_image ? "output" : "original";
  line(text, `Target ${times(target.panel.w, target.panel.h)} · ${result.px_per_px.toFixed(2)} px per ${per} px · ` +
    `${Math.round(result.target_share * 100)} % of the tokens`);
  if (target.cropped) {
    const r = target.region;
    line(text, `Crop ${times(r.w, r.h)} at (${r.x}, ${r.y}) of the ${times(target.width, target.height)} photo`);
  } else if (!target.new_image) {
    line(text, `Whole photo ${times(target.width, target.height)}`);
  }
  result.references.forEach((ref, i) => {
    const to = ref.cropped_to;
    const crop = to ? ` (centre-cropped to ${times(to.width, to.height)})` : "";
    const what = ref.twin ? "Source (blank twin: the target beside it is generated whole)" : `Reference ${i + 1}`;
    line(text, `${what}: ${times(ref.width, ref.height)}${crop} → ${times(ref.content.w, ref.content.h)}`);
  });
  if (result.panel_sizing !== "token_budget") line(text, `Panels: ${result.panel_sizing.replace("_", " ")}`);
  if (result.request.mask === "unknown") line(text, "Mask: unknown until run (not from a Load Image node)");
  for (const warning of result.warnings) line(text, `⚠ ${warning}`, "#f5a623");
}

/** Draws a plan (null: still asked for) and a note (the last preset's, or a run's [ACE++] warning; null or "" for
 * none) into the preview's element. */
export function draw(root, result, note) {
  root.replaceChildren();
  const text = document.createElement("div");
  text.style.cssText = "font:12px/1.35 sans-serif;margin-top:4px;white-space:normal;overflow-wrap:anywhere";
  if (!result) {
    line(text, "Layout: working it out…");
  } else if (result.status === "ok") {
    root.appendChild(drawCanvas(result));
    if (!result.target.new_image) root.appendChild(drawPhoto(result));
    describe(text, result);
  } else if (result.status === "error") {
    line(text, `cannot plan: ${result.error}`, "#ff6b6b");
  } else {
    // unknown_input (a size only the run knows), unknown (the mask's place), at_run (several regions)
    line(text, result.status === "at_run" ? `Layout known at run: ${result.message}`
      : `Layout unknown until run: ${result.message}`);
  }
  if (note) line(text, note, note.startsWith("[ACE++]") ? "#f5a623" : "#7bd88f");
  root.appendChild(text);
}
