// Charts drawn as SVG by hand: stacked bars over time, lines, horizontal bars and sparklines.
// Each chart scales to its container (viewBox), carries a text description for screen readers,
// and a <title> on every mark for its exact value.

import { s, h, num } from "./ui.js";

/** Drawing width: narrower on a phone, so the axis text stays readable when scaled. */
let W = 640;
function width() {
  W = window.innerWidth < 760 ? 380 : 640;
  return W;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(t, spanMs) {
  const d = new Date(t);
  return spanMs > 2 * 86400000
    ? d.toLocaleDateString([], { month: "short", day: "numeric" })
    : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function frame(height, label) {
  width();
  return s("svg", { class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": label });
}

function yAxis(svg, max, top, bottom, left, fmt = num) {
  for (const f of [0, 0.5, 1]) {
    const y = bottom - (bottom - top) * f;
    svg.append(s("line", { class: "axis", x1: left, x2: W - 4, y1: y, y2: y }));
    svg.append(s("text", { x: left - 6, y: y + 4, "text-anchor": "end", text: fmt(max * f) }));
  }
}

/**
 * Stacked bars: `rows` = [{t: ms, values: {key: n}}], `keys` in stacking order.
 * @returns {SVGElement}
 */
export function stackedBars(rows, keys, { height = 220, label = "chart", cls = (k) => `fill-${k}` } = {}) {
  const top = 10, bottom = height - 22, left = 44;
  const totals = rows.map((r) => keys.reduce((a, k) => a + (r.values[k] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const svg = frame(height, label);
  yAxis(svg, max, top, bottom, left);
  const n = Math.max(rows.length, 1);
  const bw = (W - left - 8) / n;
  const span = rows.length > 1 ? rows[rows.length - 1].t - rows[0].t : 0;
  rows.forEach((r, i) => {
    let y = bottom;
    const x = left + i * bw + bw * 0.1;
    for (const k of keys) {
      const v = r.values[k] || 0;
      if (!v) continue;
      const hgt = ((bottom - top) * v) / max;
      y -= hgt;
      svg.append(s("rect", { class: cls(k), x, y, width: Math.max(bw * 0.8, 1), height: hgt }, s("title", { text: `${timeLabel(r.t, span)}: ${num(v)} ${k}` })));
    }
  });
  const every = Math.max(1, Math.ceil(rows.length / 6));
  rows.forEach((r, i) => {
    if (i % every === 0) svg.append(s("text", { x: left + i * bw + bw / 2, y: height - 6, "text-anchor": "middle", text: timeLabel(r.t, span) }));
  });
  return svg;
}

/**
 * Lines: `series` = [{name, cls, points: [[t, v|null], ...]}]; gaps where v is null. `max`
 * fixes the top of the scale (a percentage: 100); else it fits the values.
 */
export function lines(series, { height = 220, label = "chart", fmt = num, max: top_ = null } = {}) {
  const top = 10, bottom = height - 22, left = 52;
  const all = series.flatMap((se) => se.points.filter((p) => p[1] !== null && p[1] !== undefined));
  const max = top_ ?? niceMax(Math.max(0, ...all.map((p) => p[1])));
  const ts = series.flatMap((se) => se.points.map((p) => p[0]));
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  const span = Math.max(t1 - t0, 1);
  const svg = frame(height, label);
  yAxis(svg, max, top, bottom, left, fmt);
  const x = (t) => left + ((W - left - 8) * (t - t0)) / span;
  const y = (v) => bottom - ((bottom - top) * v) / max;
  for (const se of series) {
    let d = "";
    let pen = false;
    for (const [t, v] of se.points) {
      if (v === null || v === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    svg.append(s("path", { d, class: se.cls, fill: "none", "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
    for (const [t, v] of se.points) {
      if (v === null || v === undefined) continue;
      svg.append(s("circle", { cx: x(t), cy: y(v), r: 2.5, class: se.cls.replace("stroke-", "fill-") }, s("title", { text: `${se.name} ${timeLabel(t, span)}: ${fmt(v)}` })));
    }
  }
  if (Number.isFinite(t0)) {
    for (const f of [0, 0.5, 1]) {
      svg.append(s("text", { x: x(t0 + span * f), y: height - 6, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle", text: timeLabel(t0 + span * f, span) }));
    }
  }
  return svg;
}

/** Horizontal bars as HTML+SVG rows: `items` = [{label, value, href?}]. */
export function hbars(items, { fmt = num, cls = "fill-accent" } = {}) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return h(
    "ol",
    { class: "hbars" },
    items.map((it) =>
      h(
        "li",
        { class: "hbar" },
        h("span", { class: "hbar-label" }, it.href ? h("a", { href: it.href }, it.label) : it.label),
        s("svg", { class: "chart hbar-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" }, s("rect", { class: cls, x: 0, y: 0, height: 10, width: Math.max((100 * it.value) / max, 0.5) })),
        h("span", { class: "num" }, fmt(it.value)),
      ),
    ),
  );
}

/** A small line of the last values. */
export function sparkline(values, { height = 36, cls = "stroke-accent", label = "trend" } = {}) {
  const svg = s("svg", { class: "chart spark", viewBox: `0 0 100 ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": label });
  if (values.length < 2) return svg;
  const max = Math.max(1, ...values);
  const step = 100 / (values.length - 1);
  const d = values.map((v, i) => `${i ? "L" : "M"}${(i * step).toFixed(2)},${(height - 2 - ((height - 4) * v) / max).toFixed(2)}`).join("");
  svg.append(s("path", { d, class: cls, fill: "none", "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
  return svg;
}

/** A legend: [[cls-suffix, label], ...]. */
export function legend(items) {
  return h("div", { class: "legend" }, items.map(([k, l]) => h("span", { class: `sw-${k}` }, l)));
}
