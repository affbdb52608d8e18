// The explorer's only script: the map on a canvas, tree buttons and the members' check-all.
// Text from data is only ever set with textContent, never parsed as HTML.
"use strict";

const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
  "#9c755f", "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];
const NONE = "#c8c8c8";
const LEGEND = 20;

// A point's group at a level: its ancestor there; a category kept at a lower level (an
// orphan, shown at the top of the tree) stands for itself, so only noise has no group.
function groupOf(point, level) {
  if (point.c < 0) return null;
  for (let l = Math.min(level, point.up.length); l > 0; l--) {
    const up = point.up[l - 1];
    if (up !== null && up !== undefined) return up;
  }
  return point.c;
}

function drawLegend(box, payload, ranked, colour, sizes) {
  let legend = box.querySelector(".map-legend");
  if (!legend) {
    legend = document.createElement("ul");
    legend.className = "map-legend";
    box.querySelector(".map-status").before(legend);
  }
  legend.replaceChildren();
  const entry = (fill, name, count) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = fill;
    item.append(swatch, `${name} (${count.toLocaleString()})`);
    legend.append(item);
  };
  for (const g of ranked.slice(0, LEGEND)) {
    entry(colour.get(g), payload.names[String(g)] || `cluster ${g}`, sizes.get(g));
  }
  if (ranked.length > LEGEND) {
    const rest = ranked.slice(LEGEND).reduce((n, g) => n + sizes.get(g), 0);
    const item = document.createElement("li");
    item.textContent = `… ${ranked.length - LEGEND} more groups (${rest.toLocaleString()} points; colours repeat)`;
    legend.append(item);
  }
  if (sizes.has(null)) entry(NONE, "noise (no cluster)", sizes.get(null));
}

function drawMap(box, payload, level) {
  const canvas = box.querySelector("canvas");
  const status = box.querySelector(".map-status");
  const started = performance.now();
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(200, box.clientWidth);
  const height = Math.round(Math.min(600, Math.max(260, width * 0.6)));
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const points = payload.points;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const p of points) {
    if (p.x < minX) minX = p.x;
    if (p.x > maxX) maxX = p.x;
    if (p.y < minY) minY = p.y;
    if (p.y > maxY) maxY = p.y;
  }
  const pad = 14;
  const sx = (width - 2 * pad) / ((maxX - minX) || 1);
  const sy = (height - 2 * pad) / ((maxY - minY) || 1);
  const sizes = new Map();
  for (const p of points) {
    const g = groupOf(p, level);
    sizes.set(g, (sizes.get(g) || 0) + 1);
  }
  const ranked = [...sizes.keys()].filter((g) => g !== null).sort((a, b) => sizes.get(b) - sizes.get(a));
  const colour = new Map(ranked.map((g, i) => [g, PALETTE[i % PALETTE.length]]));
  const radius = points.length > 20000 ? 1.2 : points.length > 5000 ? 1.8 : 2.6;
  const sums = new Map();
  const placed = new Array(points.length);
  ctx.globalAlpha = 0.75;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const x = pad + (p.x - minX) * sx;
    const y = height - pad - (p.y - minY) * sy;
    placed[i] = [x, y];
    const g = groupOf(p, level);
    ctx.fillStyle = g === null ? NONE : colour.get(g);
    ctx.fillRect(x - radius, y - radius, 2 * radius, 2 * radius);
    if (g !== null) {
      const s = sums.get(g) || [0, 0, 0];
      s[0] += x; s[1] += y; s[2] += 1;
      sums.set(g, s);
    }
  }
  ctx.globalAlpha = 1;
  drawLegend(box, payload, ranked, colour, sizes);
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.textAlign = "center";
  const labelled = level > 0 ? ranked : ranked.slice(0, 12);
  for (const g of labelled) {
    const s = sums.get(g);
    const name = payload.names[String(g)];
    if (!s || !name) continue;
    const text = name.length > 40 ? name.slice(0, 39) + "…" : name;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.strokeText(text, s[0] / s[2], s[1] / s[2]);
    ctx.fillStyle = "#222";
    ctx.fillText(text, s[0] / s[2], s[1] / s[2]);
  }
  box.mapState = { payload, placed, level };
  const took = Math.round(performance.now() - started);
  box.dataset.drawnMs = String(took);
  box.dataset.points = String(points.length);
  status.textContent = `${points.length.toLocaleString()} queries drawn (${payload.projection}) in ${took} ms.`;
}

function nearest(box, event) {
  const state = box.mapState;
  if (!state) return -1;
  const rect = box.querySelector("canvas").getBoundingClientRect();
  const x = event.clientX - rect.left, y = event.clientY - rect.top;
  let best = -1, bestD = 64;
  state.placed.forEach(([px, py], i) => {
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  });
  return best;
}

function setUpMap(box) {
  const form = box.parentElement.querySelector(".map-controls");
  const tip = box.querySelector(".tip");
  const status = box.querySelector(".map-status");
  const draw = async () => {
    const fields = new FormData(form);
    const level = Number(fields.get("level") || 0);
    const url = new URL(box.dataset.mapSrc, window.location.href);
    url.searchParams.set("sample", fields.get("sample"));
    url.searchParams.set("projection", fields.get("projection"));
    const key = url.toString();
    status.textContent = "Projecting the queries…";
    try {
      if (box.mapKey !== key) {
        const response = await fetch(key, { credentials: "same-origin" });
        const payload = await response.json();
        if (!response.ok) throw new Error(payload.error || response.statusText);
        box.mapPayload = payload;
        box.mapKey = key;
      }
      drawMap(box, box.mapPayload, level);
    } catch (error) {
      status.textContent = String(error.message || error);
    }
  };
  form.querySelector("[data-draw-map]").addEventListener("click", draw);
  const levelSelect = form.querySelector("select[name=level]");
  if (levelSelect) levelSelect.addEventListener("change", draw);
  box.addEventListener("mousemove", (event) => {
    const i = nearest(box, event);
    if (i < 0) { tip.hidden = true; return; }
    const p = box.mapState.payload.points[i];
    const group = groupOf(p, box.mapState.level);
    const name = box.mapState.payload.names[String(group)] || "";
    tip.textContent = (name ? name + " — " : "") + p.t;
    const rect = box.getBoundingClientRect();
    tip.style.left = Math.min(event.clientX - rect.left + 12, rect.width - 260) + "px";
    tip.style.top = (event.clientY - rect.top + 12) + "px";
    tip.hidden = false;
  });
  box.addEventListener("mouseleave", () => { tip.hidden = true; });
  box.addEventListener("click", (event) => {
    const i = nearest(box, event);
    if (i >= 0) window.location.assign(box.dataset.queryBase + box.mapState.payload.points[i].q);
  });
  draw();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-map-src]").forEach(setUpMap);
  document.querySelectorAll("[data-toggle-tree]").forEach((button) => {
    button.addEventListener("click", () => {
      const open = button.dataset.toggleTree === "open";
      document.querySelectorAll("#tree details").forEach((d) => { d.open = open; });
    });
  });
  document.querySelectorAll("[data-open-node]").forEach((tile) => {
    tile.addEventListener("click", (event) => {
      const node = document.querySelector(`#tree details[data-node="${tile.dataset.openNode}"]`);
      if (!node) return;
      event.preventDefault();
      for (let d = node; d; d = d.parentElement.closest("details")) d.open = true;
      node.scrollIntoView({ block: "start" });
    });
  });
  document.querySelectorAll("[data-check-all]").forEach((box) => {
    box.addEventListener("change", () => {
      box.closest("form").querySelectorAll("input[name=query_ids]").forEach((c) => { c.checked = box.checked; });
    });
  });
});
