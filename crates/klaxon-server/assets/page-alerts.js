// Alerts: every open alert in one table that stays fast at tens of thousands (filtered and
// sorted in memory, only the visible rows in the DOM), live from the stream, with keyboard
// navigation, selection and bulk acknowledge/resolve; and the searchable history of all
// alerts, read from the server a page at a time.

import { get, post, qs } from "./api.js";
import { h, clear, num, ago, time, sevBadge, stateBadge, toast, empty, failure, debounce, title, labelCells, SEVERITIES, OPEN_STATES, STATES } from "./ui.js";

const STATE_ORDER = Object.fromEntries(OPEN_STATES.map((s, i) => [s, i]));
const COLUMNS = [
  { key: "select", label: "" },
  { key: "sev", label: "Severity" },
  { key: "name", label: "Alert" },
  { key: "state", label: "State" },
  { key: "labels", label: "Labels" },
  { key: "occurrences", label: "Count" },
  { key: "last", label: "Last seen" },
  { key: "assignee", label: "Assignee" },
];
const COMPARE = {
  sev: (a, b) => a.sev - b.sev || b.last - a.last,
  name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : b.last - a.last),
  state: (a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.sev - b.sev,
  occurrences: (a, b) => b.occurrences - a.occurrences,
  last: (a, b) => b.last - a.last,
  assignee: (a, b) => (a.assignee < b.assignee ? -1 : a.assignee > b.assignee ? 1 : a.sev - b.sev),
};

// Filters, sort and selection outlive a visit to another page.
const view = { tab: "open", q: "", sev: new Set(), states: new Set(), source: "", sort: "sev", dir: 1, selected: new Set() };
const hist = { q: "", states: new Set(), severity: "", rule: "", label: "", from: "", to: "" };

export function render(main, app, { params }) {
  if (params.has("severity") || params.has("state")) {
    view.tab = "open";
    view.sev = new Set(params.get("severity") ? params.get("severity").split(",") : []);
    view.states = new Set(params.get("state") ? params.get("state").split(",") : []);
  }
  if (params.has("tab")) view.tab = params.get("tab") === "history" ? "history" : "open";
  const body = h("div");
  const tab = (id, label) =>
    h("button", { role: "tab", id: `tab-${id}`, "aria-selected": String(view.tab === id), "aria-controls": "alerts-body", onclick: () => switchTo(id) }, label);
  const tabs = h("div", { class: "tabs", role: "tablist" }, tab("open", "Open alerts"), tab("history", "History"));
  main.append(h("h1", {}, "Alerts"), tabs, h("div", { id: "alerts-body", role: "tabpanel" }, body));
  let cleanup = null;
  function switchTo(id) {
    view.tab = id;
    for (const b of tabs.children) b.setAttribute("aria-selected", String(b.id === `tab-${id}`));
    cleanup?.();
    clear(body);
    cleanup = id === "open" ? openTable(body, app) : history(body);
  }
  switchTo(view.tab);
  return () => cleanup?.();
}

/**
 * For each alert name with more than one open alert, the label names whose values are not the
 * same on all of them (missing counts as a value): what tells look-alikes apart.
 */
function distinguishing(rows) {
  const byName = new Map();
  for (const r of rows) {
    let g = byName.get(r.alertname);
    if (!g) byName.set(r.alertname, (g = { n: 0, keys: new Map() }));
    g.n++;
    for (const [k, v] of Object.entries(r.labels)) {
      const seen = g.keys.get(k);
      if (!seen) g.keys.set(k, { v, n: 1, same: true });
      else {
        seen.n++;
        if (seen.v !== v) seen.same = false;
      }
    }
  }
  const out = new Map();
  for (const [name, g] of byName) {
    if (g.n < 2) continue;
    out.set(name, new Set([...g.keys].filter(([, s]) => !s.same || s.n < g.n).map(([k]) => k)));
  }
  return out;
}

/** A row's labels as shown: those that tell it from its look-alikes first, the rest after. */
function labelsShown(row, differ) {
  const d = differ.get(row.alertname);
  const shown = Object.entries(row.labels).filter(([k, v]) => k !== "alertname" && !(k === "severity" && v === row.severity));
  if (d) shown.sort(([a], [b]) => d.has(b) - d.has(a));
  return shown.map(([k, v]) => `${k}=${v}`).join("  ");
}

function openTable(root, app) {
  const model = app.model;
  let differ = new Map();
  let differVersion = -1;
  const canAct = app.may("respond");
  let rows = [];
  let active = 0;
  let rowH = 48;

  const search = h("input", { type: "search", placeholder: "Search alerts (press /)", "aria-label": "Search open alerts", value: view.q, "data-search": "" });
  const sevChips = h("div", { class: "chips", role: "group", "aria-label": "Severity" });
  const stateSel = h("select", { "aria-label": "State" }, h("option", { value: "" }, "Every open state"), OPEN_STATES.map((s) => h("option", { value: s, selected: view.states.size === 1 && view.states.has(s) }, s)));
  const sourceSel = h(
    "select",
    { "aria-label": "Source" },
    h("option", { value: "" }, "Every source"),
    ["rule", "threshold", "alertmanager", "api"].map((s) => h("option", { value: s, selected: view.source === s }, s)),
  );
  const count = h("span", { class: "count", role: "status", "aria-live": "polite" });
  const bulkCount = h("span", { class: "grow" });
  const ackBtn = h("button", { disabled: !canAct, onclick: () => bulk("acknowledge") }, "Acknowledge");
  const resBtn = h("button", { disabled: !canAct, onclick: () => bulk("resolve") }, "Resolve");
  const bulkBar = h(
    "div",
    { class: "bulk", role: "region", "aria-label": "Selected alerts", hidden: true },
    bulkCount,
    ackBtn,
    resBtn,
    h("button", { class: "secondary", onclick: () => { view.selected.clear(); paint(); } }, "Clear selection"),
    canAct ? null : h("span", { class: "hint" }, `Your role (${app.session.role}) may only read.`),
  );
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select every alert shown" });
  const head = h(
    "div",
    { class: "grid-head", role: "row" },
    COLUMNS.map((c) => {
      if (c.key === "select") return h("span", { role: "columnheader" }, selectAll);
      if (c.key === "labels") return h("span", { role: "columnheader" }, c.label);
      return h("span", { role: "columnheader", "data-key": c.key }, h("button", { onclick: () => sortBy(c.key) }, c.label));
    }),
  );
  const spacer = h("div", { class: "vspacer" });
  const vlist = h("div", { class: "vlist", tabindex: "0", role: "rowgroup", "aria-label": "Open alerts; arrow keys move, Enter opens, Space selects" }, spacer);
  const grid = h("div", { class: "grid", role: "grid", "aria-label": "Open alerts" }, head, vlist);
  const progressBar = h("div");
  const progress = h("div", { class: "progress", role: "progressbar", "aria-label": "Loading open alerts" }, progressBar);
  const status = h("div");
  root.append(h("div", { class: "toolbar" }, search, stateSel, sourceSel, count), h("div", { class: "toolbar" }, sevChips), bulkBar, progress, status, grid);

  const pool = [];
  function makeRow() {
    const box = h("input", { type: "checkbox", tabindex: "-1" });
    const sev = h("span", { class: "badge" });
    const name = h("strong");
    const inc = h("a", { class: "inc-tag", title: "The incident it is in" });
    inc.addEventListener("click", (ev) => ev.stopPropagation());
    const sub = h("span", { class: "sub" });
    const st = h("span", { class: "badge state" });
    const cells = [
      h("span", { role: "gridcell" }, box),
      h("span", { role: "gridcell" }, sev),
      h("span", { role: "gridcell", class: "cell-name" }, inc, name, sub),
      h("span", { role: "gridcell" }, st),
      h("span", { role: "gridcell", class: "cell-labels" }),
      h("span", { role: "gridcell", class: "num" }),
      h("span", { role: "gridcell" }),
      h("span", { role: "gridcell" }),
    ];
    const el = h("div", { class: "grid-row", role: "row" }, cells);
    const r = { el, box, sev, name, inc, sub, st, cells, index: -1 };
    el.addEventListener("click", (ev) => {
      const row = rows[r.index];
      if (!row) return;
      if (ev.target === box) {
        toggle(row.id, box.checked);
        return;
      }
      location.hash = `#/alerts/${row.id}`;
    });
    vlist.append(el);
    return r;
  }

  function toggle(id, on) {
    if (on) view.selected.add(id);
    else view.selected.delete(id);
    paint();
  }

  function compute() {
    const terms = view.q.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const bySev = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    const out = [];
    for (const r of model.byId.values()) {
      if (view.states.size && !view.states.has(r.state)) continue;
      if (view.source && r.source !== view.source) continue;
      if (terms.length && !terms.every((t) => r.hay.includes(t))) continue;
      bySev[r.severity] = (bySev[r.severity] || 0) + 1;
      if (view.sev.size && !view.sev.has(r.severity)) continue;
      out.push(r);
    }
    if (differVersion !== model.version) {
      differ = distinguishing(model.byId.values());
      differVersion = model.version;
    }
    const cmp = COMPARE[view.sort] || COMPARE.sev;
    out.sort(view.dir === 1 ? cmp : (a, b) => cmp(b, a));
    rows = out;
    for (const id of view.selected) if (!model.byId.has(id)) view.selected.delete(id);
    active = Math.min(active, Math.max(rows.length - 1, 0));
    drawChips(bySev);
    for (const c of head.children) {
      const k = c.dataset.key;
      if (!k) continue;
      if (k === view.sort) c.setAttribute("aria-sort", view.dir === 1 ? "descending" : "ascending");
      else c.removeAttribute("aria-sort");
    }
    count.textContent = `${num(rows.length)} shown of ${num(model.byId.size)} open${model.truncated ? " (the newest 100,000; search History for the rest)" : ""}`;
    grid.setAttribute("aria-rowcount", String(rows.length + 1));
    spacer.style.height = `${rows.length * rowH}px`;
    status.replaceChildren();
    if (model.byId.size === 0) status.append(empty("No open alerts", "When something fires it appears here at once."));
    else if (rows.length === 0) status.append(empty("No open alert matches these filters", "", h("button", { class: "secondary", onclick: resetFilters }, "Clear filters")));
    grid.hidden = rows.length === 0;
  }

  function drawChips(bySev) {
    clear(sevChips);
    for (const s of SEVERITIES) {
      sevChips.append(
        h(
          "button",
          {
            class: "chip",
            "aria-pressed": String(view.sev.has(s)),
            onclick: () => {
              view.sev.has(s) ? view.sev.delete(s) : view.sev.add(s);
              refresh();
            },
          },
          `${s} ${num(bySev[s] || 0)}`,
        ),
      );
    }
  }

  function resetFilters() {
    view.q = "";
    search.value = "";
    view.sev.clear();
    view.states.clear();
    view.source = "";
    stateSel.value = "";
    sourceSel.value = "";
    refresh();
  }

  function paint() {
    const top = vlist.scrollTop;
    const height = vlist.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / rowH) - 4);
    const last = Math.min(rows.length, Math.ceil((top + height) / rowH) + 4);
    const need = last - first;
    while (pool.length < need) pool.push(makeRow());
    for (let i = 0; i < pool.length; i++) {
      const r = pool[i];
      const index = first + i;
      const row = rows[index];
      if (!row || i >= need) {
        r.el.hidden = true;
        r.index = -1;
        continue;
      }
      r.el.hidden = false;
      r.index = index;
      r.el.style.transform = `translateY(${index * rowH}px)`;
      r.el.id = `alert-row-${row.id}`;
      r.el.setAttribute("aria-rowindex", String(index + 2));
      r.el.dataset.id = String(row.id);
      r.el.dataset.state = row.state;
      const selected = view.selected.has(row.id);
      r.el.classList.toggle("selected", selected);
      r.el.classList.toggle("active", index === active);
      r.el.setAttribute("aria-selected", String(selected));
      r.box.checked = selected;
      r.box.setAttribute("aria-label", `Select ${row.name}`);
      r.sev.className = `badge sev-${row.severity}`;
      r.sev.textContent = row.severity;
      r.name.textContent = row.name;
      r.inc.hidden = row.incident === null;
      if (row.incident !== null) {
        r.inc.textContent = `incident ${row.incident}`;
        r.inc.href = `#/incidents/${row.incident}`;
      }
      r.sub.textContent = row.summary !== row.name ? row.summary : "";
      r.st.className = `badge state state-${row.state}`;
      r.st.textContent = row.state;
      r.cells[4].textContent = labelsShown(row, differ);
      r.cells[4].title = row.labelText;
      r.cells[5].textContent = num(row.occurrences);
      r.cells[6].textContent = ago(row.last);
      r.cells[6].title = time(row.last);
      r.cells[7].textContent = row.assignee || "–";
    }
    const n = view.selected.size;
    bulkBar.hidden = n === 0;
    bulkCount.textContent = `${num(n)} selected`;
    selectAll.checked = n > 0 && rows.length > 0 && rows.every((r) => view.selected.has(r.id));
    selectAll.indeterminate = n > 0 && !selectAll.checked;
    const act = rows[active];
    if (act && document.getElementById(`alert-row-${act.id}`)) vlist.setAttribute("aria-activedescendant", `alert-row-${act.id}`);
    else vlist.removeAttribute("aria-activedescendant");
  }

  let frame = 0;
  const schedulePaint = () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; paint(); });
  };

  function refresh() {
    compute();
    paint();
  }

  function sortBy(key) {
    if (view.sort === key) view.dir = -view.dir;
    else {
      view.sort = key;
      view.dir = 1;
    }
    refresh();
  }

  function moveTo(i) {
    if (!rows.length) return;
    active = Math.max(0, Math.min(rows.length - 1, i));
    const y = active * rowH;
    if (y < vlist.scrollTop) vlist.scrollTop = y;
    else if (y + rowH > vlist.scrollTop + vlist.clientHeight) vlist.scrollTop = y + rowH - vlist.clientHeight;
    paint();
  }

  vlist.addEventListener("scroll", schedulePaint, { passive: true });
  vlist.addEventListener("keydown", (ev) => {
    const page = Math.max(1, Math.floor(vlist.clientHeight / rowH) - 1);
    const keys = { ArrowDown: active + 1, ArrowUp: active - 1, PageDown: active + page, PageUp: active - page, Home: 0, End: rows.length - 1, j: active + 1, k: active - 1 };
    if (ev.key in keys) {
      ev.preventDefault();
      moveTo(keys[ev.key]);
    } else if (ev.key === "Enter" && rows[active]) {
      ev.preventDefault();
      location.hash = `#/alerts/${rows[active].id}`;
    } else if ((ev.key === " " || ev.key === "x") && rows[active]) {
      ev.preventDefault();
      const id = rows[active].id;
      toggle(id, !view.selected.has(id));
    }
  });
  selectAll.addEventListener("change", () => {
    if (selectAll.checked) for (const r of rows) view.selected.add(r.id);
    else view.selected.clear();
    paint();
  });
  search.addEventListener("input", debounce(() => { view.q = search.value; refresh(); }, 120));
  stateSel.addEventListener("change", () => { view.states = new Set(stateSel.value ? [stateSel.value] : []); refresh(); });
  sourceSel.addEventListener("change", () => { view.source = sourceSel.value; refresh(); });

  async function bulk(kind) {
    const ids = [...view.selected];
    if (!ids.length) return;
    ackBtn.disabled = resBtn.disabled = true;
    let ok = 0;
    const refused = new Map();
    try {
      for (let i = 0; i < ids.length; i += 1000) {
        const res = await post(`/alerts/bulk/${kind}`, { ids: ids.slice(i, i + 1000) });
        ok += res.succeeded;
        for (const r of res.results) {
          if (!r.ok) {
            const why = r.error?.details?.current_state ? `already ${r.error.details.current_state}` : r.error?.message || "refused";
            refused.set(why, (refused.get(why) || 0) + 1);
          }
        }
      }
      view.selected.clear();
      const verb = kind === "acknowledge" ? "acknowledged" : "resolved";
      const notes = [...refused].map(([why, n]) => `${n} ${why}`).join(", ");
      toast(`${num(ok)} ${verb}${notes ? `; not changed: ${notes}` : ""}`, refused.size && !ok ? "error" : "ok");
    } catch (e) {
      toast(`Bulk ${kind} failed: ${e.message}`, "error");
    } finally {
      ackBtn.disabled = resBtn.disabled = !canAct;
      refresh();
    }
  }

  function measure() {
    const v = parseInt(getComputedStyle(document.documentElement).getPropertyValue("--row"), 10);
    if (v > 0 && v !== rowH) {
      rowH = v;
      for (const r of pool) r.el.style.height = `${rowH}px`;
      refresh();
    }
  }
  const onResize = debounce(() => { measure(); paint(); }, 100);
  window.addEventListener("resize", onResize);
  measure();

  let recomputeTimer = 0;
  const unsubscribe = model.subscribe(() => {
    if (model.status !== "ready") return;
    // Big tables recompute at most four times a second; the visible rows repaint with it.
    if (recomputeTimer) return;
    recomputeTimer = setTimeout(() => { recomputeTimer = 0; refresh(); }, model.byId.size > 2000 ? 250 : 0);
  });
  const agesTimer = setInterval(paint, 30000);

  async function load() {
    status.replaceChildren();
    grid.hidden = true;
    progress.hidden = false;
    let total = 0;
    get("/alerts/summary").then((s) => (total = s.open)).catch(() => {});
    try {
      await model.load((n) => {
        progressBar.style.width = total ? `${Math.min(100, (100 * n) / total)}%` : "30%";
        count.textContent = `Loading open alerts… ${num(n)}${total ? ` of ${num(total)}` : ""}`;
      });
    } catch (e) {
      progress.hidden = true;
      status.replaceChildren(failure(e, load));
      return;
    }
    progress.hidden = true;
    refresh();
    if (!performance.getEntriesByName("klaxon:alerts-interactive").length) {
      performance.mark("klaxon:alerts-interactive", { detail: { rows: model.byId.size } });
    }
    root.dataset.ready = "1";
  }
  const onResync = () => load();
  app.bus.addEventListener("resync", onResync);
  load();
  if (model.status === "ready") vlist.focus({ preventScroll: true });

  return () => {
    unsubscribe();
    app.bus.removeEventListener("resync", onResync);
    window.removeEventListener("resize", onResize);
    clearInterval(agesTimer);
    clearTimeout(recomputeTimer);
    cancelAnimationFrame(frame);
  };
}

function history(root) {
  const q = h("input", { type: "search", name: "q", placeholder: "Text in name, message or label values", value: hist.q, "aria-label": "Search text", "data-search": "" });
  const sev = h("select", { name: "severity", "aria-label": "Severity" }, h("option", { value: "" }, "Any severity"), SEVERITIES.map((s) => h("option", { value: s, selected: hist.severity === s }, s)));
  const rule = h("input", { name: "rule", placeholder: "Alert or rule name", value: hist.rule, "aria-label": "Alert or rule name" });
  const label = h("input", { name: "label", placeholder: "label=value, …", value: hist.label, "aria-label": "Labels" });
  const from = h("input", { type: "datetime-local", name: "from", value: hist.from, "aria-label": "First seen from" });
  const to = h("input", { type: "datetime-local", name: "to", value: hist.to, "aria-label": "First seen before" });
  const stateBoxes = STATES.map((s) => {
    const box = h("input", { type: "checkbox", value: s, checked: hist.states.has(s), id: `hs-${s}` });
    return h("span", { class: "row" }, box, h("label", { for: `hs-${s}`, class: "inline" }, s));
  });
  const results = h("tbody");
  const table = h("table", { class: "plain stack" }, h("thead", {}, h("tr", {}, ["Severity", "Alert", "State", "First seen", "Count", "Resolved"].map((c) => h("th", { scope: "col" }, c)))), results);
  const more = h("button", { class: "secondary", hidden: true }, "Load more");
  const status = h("div");
  const form = h(
    "form",
    { class: "panel", role: "search" },
    h("div", { class: "toolbar" }, q, sev, rule, label),
    h("div", { class: "toolbar" }, h("span", { class: "hint" }, "First seen"), from, h("span", { class: "hint" }, "to"), to),
    h("div", { class: "toolbar", role: "group", "aria-label": "States" }, stateBoxes),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Search"), h("button", { type: "reset", class: "secondary" }, "Clear")),
  );
  root.append(form, status, table, more);
  let cursor = null;
  let params = {};

  async function page(first) {
    more.disabled = true;
    if (first) {
      clear(results);
      status.replaceChildren(h("div", { class: "loading" }, "Searching…"));
    }
    try {
      const res = await get(`/alerts/history${qs({ ...params, cursor: first ? null : cursor, limit: 100 })}`);
      status.replaceChildren();
      for (const a of res.alerts) {
        results.append(
          h(
            "tr",
            {},
            h("td", {}, sevBadge(a.severity)),
            h("td", {}, h("a", { href: `#/alerts/${a.id}` }, title(a)), a.message && a.message !== a.name ? h("div", { class: "hint" }, a.message) : null),
            h("td", {}, stateBadge(a.state)),
            h("td", {}, time(a.first_seen)),
            h("td", { class: "num" }, num(a.occurrences)),
            h("td", {}, a.resolved_at ? time(a.resolved_at) : "–"),
          ),
        );
      }
      labelCells(table, ["First seen", "Count", "Resolved"]);
      cursor = res.next_cursor;
      more.hidden = !cursor;
      table.hidden = results.children.length === 0;
      if (!results.children.length) status.replaceChildren(empty("No alert matches", "Widen the time range or remove a filter."));
    } catch (e) {
      status.replaceChildren(failure(e, () => page(first)));
    } finally {
      more.disabled = false;
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    hist.q = q.value;
    hist.severity = sev.value;
    hist.rule = rule.value.trim();
    hist.label = label.value.trim();
    hist.from = from.value;
    hist.to = to.value;
    hist.states = new Set(stateBoxes.map((b) => b.querySelector("input")).filter((b) => b.checked).map((b) => b.value));
    params = {
      q: hist.q.trim(),
      severity: hist.severity,
      rule: hist.rule,
      label: hist.label.replace(/\s*,\s*/g, ","),
      from: hist.from ? new Date(hist.from).toISOString() : "",
      to: hist.to ? new Date(hist.to).toISOString() : "",
      state: [...hist.states].join(","),
    };
    page(true);
  });
  form.addEventListener("reset", () => {
    Object.assign(hist, { q: "", severity: "", rule: "", label: "", from: "", to: "", states: new Set() });
    params = {};
    setTimeout(() => page(true), 0);
  });
  more.addEventListener("click", () => page(false));
  params = {
    q: hist.q.trim(),
    severity: hist.severity,
    rule: hist.rule,
    label: hist.label,
    from: hist.from ? new Date(hist.from).toISOString() : "",
    to: hist.to ? new Date(hist.to).toISOString() : "",
    state: [...hist.states].join(","),
  };
  page(true);
  return null;
}
