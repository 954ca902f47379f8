// One incident: its priority, state and owner; its alerts grouped by service, each with the
// evidence that put it there in words; its timeline; and the actions on it (acknowledge,
// resolve, merge into another, split chosen alerts off, move chosen alerts to another incident,
// a note). Follows /incidents/stream while open.

import { get, post } from "./api.js";
import { h, num, fullTime, ago, sevBadge, stateBadge, toast, failure, loading, ask, throttle, title, noteForm, SEVERITIES } from "./ui.js";
import { Live } from "./live.js";
import { incidentBadge, ACTIVE } from "./page-incidents.js";

/** The labels that name where an alert happened, in the order they are looked for. */
const SERVICE_LABELS = ["service", "job", "app", "component", "process_name", "host", "instance"];

function serviceOf(alert) {
  const labels = alert?.labels || {};
  for (const k of SERVICE_LABELS) if (labels[k]) return `${k} ${labels[k]}`;
  return "no service label";
}

const pct = (x) => `${Math.round(x * 100)}%`;

/** Why an alert is in the incident, in words. */
export function evidenceWords(link, nameOf) {
  if (!link) return "Opened the incident, or was put here by hand.";
  const e = link.evidence || {};
  const parts = [];
  if (e.topology) parts.push(e.topology);
  if (e.labels) parts.push(`labels ${pct(e.labels)} alike`);
  if (e.text) parts.push(`texts ${pct(e.text)} alike`);
  if (e.mention) parts.push("its text names the other's component");
  if (e.history) parts.push(`seen together in past incidents (${pct(e.history)})`);
  if (e.repeat) parts.push("the same alert firing again");
  if (typeof e.time === "number") parts.push(`fired close in time (${pct(e.time)})`);
  const level = String(link.level || "").replace("_", " ");
  return `Linked to ${nameOf(link.to)} with ${level} confidence (${link.confidence}): ${parts.join("; ")}.`;
}

function entryWords(e) {
  const d = e.detail || {};
  switch (e.kind) {
    case "opened":
      return `opened by alert ${d.alert}${d.title ? ` (${d.title})` : ""}`;
    case "created":
      return `made by hand${d.title ? `: ${d.title}` : ""}${d.alerts ? ` with alerts ${d.alerts.join(", ")}` : ""}`;
    case "joined":
      return d.by === "hand" ? `alert ${d.alert} put here by hand` : `alert ${d.alert} joined (linked to ${d.to}, ${String(d.level || "").replace("_", " ")} confidence)`;
    case "left":
      return `alert ${d.alert} left (${d.reason || "moved"})`;
    case "state":
      return `${d.from} → ${d.to}${d.reason ? ` (${d.reason})` : ""}`;
    case "note":
      return "note";
    case "merged":
      return d.into ? `merged into incident ${d.into}` : `incident ${d.from} merged in (alerts ${(d.alerts || []).join(", ")})`;
    case "split":
      return `alerts ${(d.alerts || []).join(", ")} split off into incident ${d.into}`;
    case "moved":
      return `alerts ${(d.alerts || []).join(", ")} moved to incident ${d.to}`;
    case "priority":
      return `priority ${d.from} → ${d.to}${d.by_hand ? " (set by hand)" : " (follows its alerts again)"}`;
    default:
      return e.kind;
  }
}

export function render(main, app, { parts }) {
  const id = Number(parts[1]);
  const root = h("div", {}, loading());
  main.append(h("p", {}, h("a", { href: "#/incidents" }, "← Incidents")), root);
  let inc = null;
  const chosen = new Set();

  async function load() {
    try {
      inc = await get(`/incidents/${id}`);
    } catch (e) {
      root.replaceChildren(e.status === 404 ? h("div", { class: "empty" }, h("p", { class: "empty-title" }, `There is no incident ${parts[1]}`)) : failure(e, load));
      return;
    }
    for (const a of [...chosen]) if (!inc.members.some((m) => m.alert_id === a)) chosen.delete(a);
    draw();
  }

  async function act(path, body, done) {
    try {
      const res = await post(`/incidents/${id}/${path}`, body);
      toast(done(res));
      chosen.clear();
      return res;
    } catch (e) {
      toast(`${path} refused: ${e.message}`, "error");
      return null;
    } finally {
      load();
    }
  }

  /** Other incidents one may merge or move into: the ones being worked on. */
  async function others() {
    try {
      const l = await get(`/incidents?state=${ACTIVE.join(",")},resolved&limit=200`);
      return l.incidents.filter((i) => i.id !== id);
    } catch {
      return [];
    }
  }

  async function pickIncident(heading, submit) {
    const list = await others();
    if (!list.length) {
      toast("There is no other incident to choose.", "error");
      return null;
    }
    const v = await ask(heading, [{ name: "to", label: "Incident", type: "select", options: list.map((i) => [String(i.id), `#${i.id} ${i.title} (${i.state}, ${i.alerts} alerts)`]), value: String(list[0].id) }], submit);
    return v ? Number(v.to) : null;
  }

  async function merge() {
    const into = await pickIncident(`Merge incident ${id} into`, "Merge");
    if (into === null) return;
    const res = await act("merge", { into }, () => `Incident ${id} merged into ${into}`);
    if (res) location.hash = `#/incidents/${into}`;
  }

  async function priority() {
    const v = await ask("Priority", [
      {
        name: "priority",
        label: "Priority",
        type: "select",
        options: [["auto", "Follow its open alerts"], ...SEVERITIES.map((s) => [s, s])],
        value: inc.priority_by ? inc.priority : "auto",
        hint: "Set by hand, it stays whatever its alerts do.",
      },
    ], "Set");
    if (!v) return;
    const p = v.priority === "auto" ? null : v.priority;
    await act("priority", { priority: p }, (r) => `Incident ${id}: priority ${r.priority}${r.priority_by ? " (by hand)" : ""}`);
  }

  async function split() {
    const v = await ask(`Split ${chosen.size} alert${chosen.size === 1 ? "" : "s"} off`, [{ name: "title", label: "Title of the new incident", placeholder: "default: the first alert's name" }], "Split");
    if (!v) return;
    const body = { alerts: [...chosen], ...(v.title.trim() ? { title: v.title.trim() } : {}) };
    await act("split", body, (r) => `Split off into incident ${r.id}: ${body.alerts.length} alert${body.alerts.length === 1 ? "" : "s"}`);
  }

  async function move() {
    const to = await pickIncident(`Move ${chosen.size} alert${chosen.size === 1 ? "" : "s"} to`, "Move");
    if (to === null) return;
    await act("move", { alerts: [...chosen], to }, () => `Moved to incident ${to}`);
  }

  // The note form is made once: a page redrawn by live news keeps what is being typed.
  const note = noteForm("What is known, what is being done", async (text) => !!(await act("notes", { text }, () => "Note added")));
  const buttons = h("div", { class: "actions" });
  const hint = h("p", { class: "hint" });
  const actionsPanel = h("section", { class: "panel", "aria-label": "Actions" }, buttons, hint, note.form);

  function actions() {
    const may = app.may("respond");
    const s = inc.state;
    const open = s !== "closed";
    const btn = (label, onclick, enabled, cls = "") => h("button", { class: cls, onclick, disabled: !may || !enabled, title: may ? "" : `Your role (${app.session.role}) may only read` }, label);
    const n = chosen.size;
    buttons.replaceChildren(
      btn("Acknowledge", () => act("acknowledge", undefined, (r) => `Incident ${id}: ${r.state}, owned by ${r.owner}`), s === "open" || s === "reopened"),
      btn("Resolve", () => act("resolve", undefined, (r) => `Incident ${id}: ${r.state}`), open && s !== "resolved"),
      btn("Priority…", priority, open, "secondary"),
      btn("Merge into…", merge, open, "secondary"),
      btn(n ? `Split ${n} off…` : "Split chosen off…", split, open && n > 0 && n < inc.members.length, "secondary"),
      btn(n ? `Move ${n} to…` : "Move chosen to…", move, open && n > 0, "secondary"),
    );
    hint.textContent = may ? "Choose alerts below to split them off or move them." : `Signed in as ${app.session.role}: you can read, not act.`;
    note.box.disabled = !may || !open;
    note.button.disabled = !may || !open;
    return actionsPanel;
  }

  function members() {
    const names = new Map(inc.members.map((m) => [m.alert_id, m.alert ? title(m.alert) : `alert ${m.alert_id}`]));
    const nameOf = (a) => (names.has(a) ? `${names.get(a)} (alert ${a})` : `alert ${a}`);
    const groups = new Map();
    for (const m of inc.members) {
      const k = serviceOf(m.alert);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(m);
    }
    if (!groups.size) return h("p", { class: "hint" }, "No alerts: they left or were merged elsewhere.");
    const may = app.may("respond") && inc.state !== "closed";
    return [...groups.entries()].map(([service, list]) =>
      h(
        "div",
        { class: "service-group", "data-service": service },
        h("h3", {}, service, h("span", { class: "count" }, `${list.length} alert${list.length === 1 ? "" : "s"}`)),
        list.map((m) => {
          const a = m.alert;
          const box = h("input", { type: "checkbox", "aria-label": `Choose alert ${m.alert_id}`, checked: chosen.has(m.alert_id), disabled: !may });
          box.addEventListener("change", () => {
            if (box.checked) chosen.add(m.alert_id);
            else chosen.delete(m.alert_id);
            draw();
          });
          return h(
            "div",
            { class: "member-row", "data-alert": String(m.alert_id) },
            box,
            a ? sevBadge(a.severity) : null,
            h(
              "div",
              { class: "grow" },
              h("a", { href: `#/alerts/${m.alert_id}` }, a ? title(a) : `alert ${m.alert_id}`),
              a?.message && a.message !== a.name ? h("span", { class: "hint" }, ` ${a.message}`) : null,
              h("div", { class: "evidence" }, evidenceWords(m.link, nameOf)),
            ),
            a ? stateBadge(a.state) : null,
          );
        }),
      ),
    );
  }

  function timeline() {
    const list = inc.timeline || [];
    if (!list.length) return h("p", { class: "hint" }, "No entries.");
    return h(
      "ol",
      { class: "timeline" },
      list.map((e) => h("li", {}, h("div", { class: "when" }, fullTime(e.at)), h("div", {}, h("strong", {}, entryWords(e)), ` by ${e.actor}`), e.kind === "note" ? h("div", {}, e.detail?.text || "") : null)),
    );
  }

  // The head and the body are drawn again on news; the actions panel between them stays.
  const headBox = h("div");
  const bodyBox = h("div");

  function draw() {
    const i = inc;
    if (root.firstChild !== headBox) root.replaceChildren(headBox, actionsPanel, bodyBox);
    headBox.replaceChildren(
      h("div", { class: "detail-head" }, sevBadge(i.priority), h("h1", {}, `#${i.id} ${i.title}`), incidentBadge(i.state)),
      h(
        "p",
        { class: "hint" },
        `Opened ${ago(i.opened_at)} (${fullTime(i.opened_at)}) · ${num(i.members.length)} alert${i.members.length === 1 ? "" : "s"} · owner ${i.owner || "nobody yet"}`,
        i.priority_by ? ` · priority set by ${i.priority_by}` : "",
        i.level ? ` · held together with ${i.level.replace("_", " ")} confidence` : "",
        i.resolved_at ? ` · resolved ${fullTime(i.resolved_at)}` : "",
      ),
    );
    actions();
    bodyBox.replaceChildren(h("div", { class: "two" }, h("section", { class: "panel", "aria-label": "Alerts" }, h("h2", {}, "Alerts by service"), members()), h("section", { class: "panel" }, h("h2", {}, "Timeline"), timeline())));
    root.dataset.state = i.state;
  }

  const reload = throttle(load, 300);
  const live = new Live("/incidents/stream", {
    incident(e) {
      if (e?.incident_id === id || e?.detail?.into === id || e?.detail?.to === id) reload();
    },
  }).start();
  const onChange = (ev) => {
    const c = ev.detail;
    const a = c.id ?? c.alert?.id;
    if (inc?.members?.some((m) => m.alert_id === a)) reload();
  };
  app.bus.addEventListener("change", onChange);
  app.bus.addEventListener("resync", reload);
  load();
  return () => {
    live.stop();
    app.bus.removeEventListener("change", onChange);
    app.bus.removeEventListener("resync", reload);
  };
}
