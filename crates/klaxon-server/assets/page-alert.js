// One alert: its state and actions (acknowledge, resolve, suppress for a duration, lift a
// suppression, close, assign, note), labels and annotations, occurrences, the timeline of
// events and notes, notifications, and why it is suppressed. Follows the stream while open.

import { get, post } from "./api.js";
import { h, clear, num, time, fullTime, ago, dur, sevBadge, stateBadge, toast, failure, loading, ask, throttle, ms, title, labelCells, noteForm } from "./ui.js";
import { compile, matches, show } from "./matcher.js";
import { sparkline } from "./chart.js";
import { evidenceWords } from "./page-incident.js";

const DURATIONS = [["15m", "15 minutes"], ["1h", "1 hour"], ["4h", "4 hours"], ["8h", "8 hours"], ["1d", "1 day"], ["7d", "7 days"]];

export function render(main, app, { parts }) {
  const id = Number(parts[1]);
  const root = h("div", {}, loading());
  main.append(h("p", {}, h("a", { href: "#/alerts" }, "← Alerts")), root);
  let alert = null;
  let silences = null;

  async function load() {
    try {
      alert = await get(`/alerts/${id}`);
    } catch (e) {
      root.replaceChildren(e.status === 404 ? h("div", { class: "empty" }, h("p", { class: "empty-title" }, `There is no alert ${parts[1]}`)) : failure(e, load));
      return;
    }
    if (alert.state === "suppressed" && silences === null) {
      try {
        const list = await get("/api/v2/silences");
        silences = Array.isArray(list) ? list : [];
      } catch {
        silences = [];
      }
    }
    draw();
  }

  async function act(kind, body) {
    try {
      const res = await post(`/alerts/${id}/${kind}`, body);
      toast(res?.to ? `${title(alert)}: ${res.from} → ${res.to}` : `${title(alert)}: done`);
    } catch (e) {
      toast(`${kind} refused: ${e.message}`, "error");
    }
    load();
  }

  async function suppress() {
    const v = await ask("Suppress for", [
      { name: "duration", label: "Duration", type: "select", options: [...DURATIONS, ["custom", "Other…"]], value: "1h" },
      { name: "custom", label: "Other duration", placeholder: "e.g. 90m, 2h30m, 3d", hint: "Used when Other… is chosen." },
      { name: "reason", label: "Reason", placeholder: "maintenance of web-1" },
    ], "Suppress");
    if (!v) return;
    const duration = v.duration === "custom" ? v.custom.trim() : v.duration;
    if (!duration) return toast("Give a duration.", "error");
    act("suppress", { duration, ...(v.reason ? { reason: v.reason } : {}) });
  }

  async function assign() {
    const v = await ask("Assign", [{ name: "assignee", label: "Assignee", value: alert.assignee || app.session.name, hint: "Empty unassigns." }], "Assign");
    if (!v) return;
    try {
      await post(`/alerts/${id}/assign`, { assignee: v.assignee.trim() || null });
      toast(v.assignee.trim() ? `Assigned to ${v.assignee.trim()}` : "Unassigned");
    } catch (e) {
      toast(`Assign refused: ${e.message}`, "error");
    }
    load();
  }

  function silenceLink() {
    const labels = Object.entries(alert.labels || {});
    const p = new URLSearchParams();
    for (const [k, v] of labels.length ? labels : [["alertname", alert.name]]) p.append("m", `${k}=${v}`);
    p.set("comment", `silenced from alert ${alert.id} (${title(alert)})`);
    return `#/silences/new?${p}`;
  }

  function actions() {
    const may = app.may("respond");
    const s = alert.state;
    const btn = (label, onclick, enabled, cls = "") => h("button", { class: cls, onclick, disabled: !may || !enabled, title: may ? "" : `Your role (${app.session.role}) may only read` }, label);
    const note = noteForm("Add a note for whoever looks next", async (text) => {
      let taken = false;
      try {
        await post(`/alerts/${id}/notes`, { text });
        toast("Note added");
        taken = true;
      } catch (e) {
        toast(`Note refused: ${e.message}`, "error");
      }
      load();
      return taken;
    });
    note.box.disabled = !may;
    note.button.disabled = !may;
    return h(
      "section",
      { class: "panel", "aria-label": "Actions" },
      h(
        "div",
        { class: "actions" },
        btn("Acknowledge", () => act("acknowledge"), s === "active"),
        btn("Resolve", () => act("resolve"), ["active", "acknowledged", "suppressed", "pending"].includes(s)),
        btn("Suppress…", suppress, s === "active" || s === "acknowledged"),
        btn("Lift suppression", () => act("unsuppress"), s === "suppressed"),
        btn("Close", () => act("close"), s === "resolved", "secondary"),
        btn("Assign…", assign, s !== "closed", "secondary"),
        h("a", { class: "button secondary", href: silenceLink() }, "Silence similar…"),
      ),
      may ? null : h("p", { class: "hint" }, `Signed in as ${app.session.role}: you can read, not act.`),
      note.form,
    );
  }

  function why() {
    if (alert.state !== "suppressed") return null;
    const ev = [...(alert.events || [])].reverse().find((e) => e.to === "suppressed");
    const parts = [];
    if (ev) parts.push(h("p", {}, `Suppressed by ${ev.actor} at ${fullTime(ev.at)}${ev.reason ? `: ${ev.reason}` : ""}.`));
    if (alert.suppressed_until) parts.push(h("p", {}, `Until ${fullTime(alert.suppressed_until)} (${dur((ms(alert.suppressed_until) - Date.now()) / 1000)} from now), then it is active again unless resolved.`));
    const hits = (silences || []).filter((si) => si.status?.state === "active").filter((si) => {
      try {
        return matches(compile(si.matchers || []), alert.labels || {});
      } catch {
        return false;
      }
    });
    for (const si of hits) {
      parts.push(h("p", {}, `Matches silence `, h("a", { href: `#/silences?id=${si.id}` }, si.id.slice(0, 8)), ` by ${si.createdBy}: ${si.comment} (${(si.matchers || []).map(show).join(", ")}), until ${fullTime(si.endsAt)}.`));
    }
    if (!parts.length) parts.push(h("p", {}, "Suppressed; the reason was not recorded."));
    return h("section", { class: "why", "aria-label": "Why it is suppressed" }, h("h2", {}, "Why it is suppressed"), parts);
  }

  function kv(obj) {
    const entries = Object.entries(obj || {});
    if (!entries.length) return h("p", { class: "hint" }, "None.");
    return h("dl", { class: "kv" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, v)]));
  }

  function timeline() {
    const items = [
      ...(alert.events || []).map((e) => ({ at: ms(e.at), text: e.from ? `${e.from} → ${e.to}` : `created as ${e.to}`, who: e.actor, detail: e.reason })),
      ...(alert.notes || []).map((n) => ({ at: ms(n.at), text: "note", who: n.author, detail: n.text })),
    ].sort((a, b) => a.at - b.at);
    if (!items.length) return h("p", { class: "hint" }, "No events.");
    return h(
      "ol",
      { class: "timeline" },
      items.map((i) => h("li", {}, h("div", { class: "when" }, fullTime(i.at)), h("div", {}, h("strong", {}, i.text), ` by ${i.who}`), i.detail ? h("div", {}, i.detail) : null)),
    );
  }

  function occurrences() {
    const list = alert.recent_occurrences || [];
    if (!list.length) return h("p", { class: "hint" }, "No occurrences recorded.");
    const values = list.map((o) => o.value).filter((v) => typeof v === "number");
    return h(
      "div",
      {},
      values.length > 1 ? sparkline([...values].reverse(), { label: "values of the recent occurrences" }) : null,
      h(
        "table",
        { class: "plain" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "At"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, "Message"))),
        h("tbody", {}, list.slice(0, 50).map((o) => h("tr", {}, h("td", {}, fullTime(o.at)), h("td", { class: "num" }, o.value ?? "–"), h("td", {}, o.message || "")))),
      ),
      list.length > 50 ? h("p", { class: "hint" }, `The newest 50 of ${num(list.length)} shown.`) : null,
    );
  }

  function notifications() {
    const list = alert.notifications || [];
    if (!list.length) return h("p", { class: "hint" }, "No notification has been recorded for this alert.");
    // Six columns do not fit a phone: there each notification is a block of named values.
    return labelCells(
      h(
        "table",
        { class: "plain stack" },
        h("thead", {}, h("tr", {}, ["Made", "To", "Kind", "Status", "Tries", "Last error"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          // The API sends receiver, channel, kind, status, attempts, created_at, finished_at,
          // last_error and last_code (the HTTP or SMTP code of the last answer).
          list.map((n) =>
            h(
              "tr",
              {},
              h("td", { title: `made ${fullTime(n.created_at)}${n.finished_at ? `, finished ${fullTime(n.finished_at)}` : ""}` }, time(n.created_at)),
              h("td", {}, `${n.receiver ?? "–"} · ${n.channel ?? "–"}`),
              h("td", {}, n.kind ?? "–"),
              h("td", {}, n.status ?? "–"),
              h("td", { class: "num" }, String(n.attempts ?? 0)),
              h("td", {}, n.last_error ? `${n.last_code ? `${n.last_code}: ` : ""}${n.last_error}` : ""),
            ),
          ),
        ),
      ),
    );
  }

  function draw() {
    const a = alert;
    app.names.set(a.id, title(a), a.severity);
    root.replaceChildren(
      h("div", { class: "detail-head" }, sevBadge(a.severity), h("h1", {}, title(a)), stateBadge(a.state)),
      a.message && a.message !== a.name ? h("p", {}, a.message) : h("span"),
      a.incident
        ? h(
            "p",
            { class: "incident-of" },
            "In incident ",
            h("a", { href: `#/incidents/${a.incident.id}` }, `#${a.incident.id} ${a.incident.title}`),
            ` (${a.incident.state}). `,
            h("span", { class: "evidence" }, evidenceWords(a.incident.link, (x) => `alert ${x}`)),
          )
        : h("span"),
      actions(),
      why() || h("span"),
      h(
        "div",
        { class: "two" },
        h(
          "section",
          { class: "panel" },
          h("h2", {}, "Details"),
          h(
            "dl",
            { class: "kv" },
            [
              ["Id", a.id],
              ["Source", a.source],
              ["Fingerprint", a.fingerprint],
              ["First seen", `${fullTime(a.first_seen)} (${ago(a.first_seen)})`],
              ["Last seen", `${fullTime(a.last_seen)} (${ago(a.last_seen)})`],
              ["Occurrences", num(a.occurrences)],
              ["Assignee", a.assignee || "–"],
              ["Acknowledged", a.acknowledged_at ? `${fullTime(a.acknowledged_at)} by ${a.acknowledged_by}` : "–"],
              ["Resolved", a.resolved_at ? `${fullTime(a.resolved_at)} by ${a.resolved_by}` : "–"],
              a.source === "rule" || a.source === "threshold" ? ["Rule", `${a.rule_set} v${a.rule_set_version ?? "?"} / ${a.rule_id} (${a.operator})`] : null,
              a.value !== null && a.value !== undefined ? ["Value", `${a.value}${a.limit !== null && a.limit !== undefined ? ` (limit ${a.limit})` : ""}`] : null,
              a.generator_url ? ["Source link", a.generator_url] : null,
            ]
              .filter(Boolean)
              .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
          ),
        ),
        h("section", { class: "panel" }, h("h2", {}, "Labels"), kv(a.labels), h("h3", {}, "Annotations"), kv(a.annotations)),
      ),
      h("div", { class: "two" }, h("section", { class: "panel" }, h("h2", {}, "Timeline"), timeline()), h("section", { class: "panel" }, h("h2", {}, "Notifications"), notifications())),
      h("section", { class: "panel" }, h("h2", {}, "Occurrences"), occurrences()),
    );
    root.dataset.state = a.state;
  }

  const reload = throttle(load, 500);
  const onChange = (ev) => {
    const c = ev.detail;
    if ((c.id ?? c.alert?.id) === id) reload();
  };
  app.bus.addEventListener("change", onChange);
  app.bus.addEventListener("resync", reload);
  load();
  return () => {
    app.bus.removeEventListener("change", onChange);
    app.bus.removeEventListener("resync", reload);
  };
}
