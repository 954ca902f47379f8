// Small DOM helpers: elements built from data (text only, never markup), formatting of times,
// durations and numbers, badges, toasts, and the empty and error states every page shares.

const SVG_NS = "http://www.w3.org/2000/svg";

function put(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" && "value" in el) el.value = v;
    else if (k === "checked" || k === "disabled" || k === "hidden" || k === "selected") el[k] = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An HTML element: h("a", {href, class}, "text", child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  put(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const nf = new Intl.NumberFormat();
export const num = (n) => (n === null || n === undefined ? "–" : nf.format(n));

/** Epoch ms or RFC 3339 → ms. */
export const ms = (t) => (typeof t === "number" ? t : t ? Date.parse(t) : NaN);

export function time(t) {
  const v = ms(t);
  if (!Number.isFinite(v)) return "–";
  const d = new Date(v);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function fullTime(t) {
  const v = ms(t);
  return Number.isFinite(v) ? new Date(v).toLocaleString() : "–";
}

/** Seconds → "2 h 5 min". */
export function dur(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

export function ago(t) {
  const v = ms(t);
  if (!Number.isFinite(v)) return "–";
  const d = (Date.now() - v) / 1000;
  if (d < 5) return "just now";
  if (d < 0) return "in " + dur(-d);
  return dur(d) + " ago";
}

export const SEVERITIES = ["critical", "high", "medium", "low", "info"];
export const OPEN_STATES = ["pending", "active", "acknowledged", "suppressed"];
export const STATES = [...OPEN_STATES, "resolved", "closed"];

/**
 * The name an alert goes by: a threshold rule's display name (`name` in the rule, carried as
 * the `rule_name` annotation) rather than its id; every other alert's own name.
 */
export function title(a) {
  return (a.source === "threshold" && a.annotations?.rule_name) || a.name;
}

export function sevBadge(sev) {
  return h("span", { class: `badge sev-${SEVERITIES.includes(sev) ? sev : "info"}` }, sev || "?");
}

export function stateBadge(state) {
  return h("span", { class: `badge state state-${state}` }, state || "?");
}

/** A short message in the corner; `kind` is "ok" or "error". */
export function toast(message, kind = "ok") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const t = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(t);
  while (box.children.length > 4) box.firstChild.remove();
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

export function empty(title, text, ...actions) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), text ? h("p", {}, text) : null, ...actions);
}

export function failure(err, retry) {
  const msg = err?.message || String(err);
  return h(
    "div",
    { class: "failure", role: "alert" },
    h("p", { class: "empty-title" }, err?.status ? `The server answered ${err.status}` : "Something went wrong"),
    h("p", {}, msg),
    retry ? h("button", { onclick: retry }, "Try again") : null,
  );
}

export function loading(text = "Loading…") {
  return h("div", { class: "loading", role: "status" }, text);
}

/** Calls `fn` at most once per `wait` ms, and once more after the last call. */
export function throttle(fn, wait) {
  let last = 0;
  let timer = 0;
  return (...args) => {
    const now = Date.now();
    clearTimeout(timer);
    if (now - last >= wait) {
      last = now;
      fn(...args);
    } else {
      timer = setTimeout(() => {
        last = Date.now();
        fn(...args);
      }, wait - (now - last));
    }
  };
}

export function debounce(fn, wait) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

/**
 * Names the cells of a table that stacks its cells at phone width (`plain stack`, where the
 * header row is hidden) after their column, so "1" reads "Count 1": the columns named in
 * `columns`, or every column with a header.
 */
export function labelCells(table, columns) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const tr of table.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((td, i) => {
      if (names[i] && (!columns || columns.includes(names[i]))) td.dataset.label = names[i];
    });
  }
  return table;
}

/**
 * A note form: a text box and its button. `submit(text)` resolves to true when the note was
 * taken; the box is emptied then (and keeps the text when it was refused).
 */
export function noteForm(placeholder, submit) {
  const box = h("textarea", { rows: 2, "aria-label": "Note", placeholder });
  const button = h("button", { type: "submit" }, "Add note");
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const text = box.value.trim();
        if (text && (await submit(text))) box.value = "";
      },
    },
    h("div", { class: "grow" }, box),
    button,
  );
  return { form, box, button };
}

/** A labelled card of the overview. */
export function card(label, value, { cls = "", note = "", href = "" } = {}) {
  const inner = [h("span", { class: "card-label" }, label), h("span", { class: "card-value" }, value), note ? h("span", { class: "card-note" }, note) : null];
  return href ? h("a", { class: `card ${cls}`, href }, inner) : h("div", { class: `card ${cls}` }, inner);
}

/** A modal dialog with a form; resolves to the form's values, or null when cancelled. */
export function ask(title, fields, submitLabel = "OK") {
  return new Promise((resolve) => {
    const form = h("form", { method: "dialog", class: "dialog-form" }, h("h2", {}, title));
    for (const f of fields) {
      const id = `dlg-${f.name}`;
      let input;
      if (f.type === "select") {
        input = h("select", { id, name: f.name }, f.options.map(([v, l]) => h("option", { value: v, selected: v === f.value }, l)));
      } else if (f.type === "textarea") {
        input = h("textarea", { id, name: f.name, rows: 4, required: f.required }, f.value || "");
      } else {
        input = h("input", { id, name: f.name, type: f.type || "text", value: f.value || "", required: f.required, placeholder: f.placeholder || "" });
      }
      form.append(h("label", { for: id }, f.label), input);
      if (f.hint) form.append(h("p", { class: "hint" }, f.hint));
    }
    const dlg = h("dialog", { class: "dialog" }, form);
    form.append(
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => dlg.close("cancel") }, "Cancel"),
        h("button", { type: "submit", value: "ok" }, submitLabel),
      ),
    );
    dlg.addEventListener("close", () => {
      const ok = dlg.returnValue === "ok";
      const values = ok ? Object.fromEntries(new FormData(form).entries()) : null;
      dlg.remove();
      resolve(values);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/**
 * The channels whose latest attempt failed, as /alerts/metrics/delivery and /monitoring/health
 * list them; `compact` (for a narrow panel) keeps the name, the failures in a row and the error.
 */
export function failingChannels(list, { compact = false } = {}) {
  if (!list.length) return h("p", { class: "hint" }, "Every channel delivered on its latest attempt.");
  const name = (c) => `${c.receiver}/${c.channel}#${c.index}`;
  const when = (t, none) => (t ? fullTime(t) : none);
  const columns = compact ? ["Channel", "In a row", "Last error"] : ["Receiver", "Channel", "Failures in a row", "Last failure", "Last success", "Last error"];
  const cells = (c) =>
    compact
      ? [h("td", { title: `last failure ${when(c.last_failure, "–")}, last success ${when(c.last_success, "never")}` }, name(c)), h("td", { class: "num" }, num(c.consecutive_failures)), h("td", {}, c.last_error ?? "")]
      : [h("td", {}, c.receiver), h("td", {}, `${c.channel} #${c.index}`), h("td", { class: "num" }, num(c.consecutive_failures)), h("td", {}, when(c.last_failure, "–")), h("td", {}, when(c.last_success, "never")), h("td", {}, c.last_error ?? "")];
  return h(
    "div",
    { role: "alert" },
    h("p", {}, h("strong", {}, `${list.length} failing channel${list.length === 1 ? "" : "s"}`)),
    h(
      "table",
      { class: "plain" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, list.map((c) => h("tr", {}, ...cells(c)))),
    ),
  );
}
