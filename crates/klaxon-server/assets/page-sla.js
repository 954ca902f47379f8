// SLA and escalation over a chosen period: compliance with the acknowledge and resolve targets
// (overall, per period as a chart, by severity and by team), the breaches told, and how
// escalations went (pages by reason, by policy and level, time to acknowledge).

import { get, qs } from "./api.js";
import { h, clear, num, dur, empty, failure, loading, fullTime, sevBadge, labelCells, card } from "./ui.js";
import { lines, hbars, legend } from "./chart.js";

const PERIODS = [
  { id: "24h", label: "24 hours", ms: 24 * 3600e3, period: "2h" },
  { id: "7d", label: "7 days", ms: 7 * 86400e3, period: "1d" },
  { id: "30d", label: "30 days", ms: 30 * 86400e3, period: "3d" },
];
let chosen = "7d";

const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)} %`);

function panel(title, ...body) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...body);
}

function complianceTable(rows, key, label) {
  if (!rows.length) return h("p", { class: "hint" }, "No alert with an SLA target.");
  const t = h(
    "table",
    { class: "plain stack" },
    h("thead", {}, h("tr", {}, [label, "Alerts", "Acknowledged in time", "Resolved in time", "Breaches"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          { "data-key": r[key] },
          h("td", {}, key === "severity" ? sevBadge(r[key]) : r[key]),
          h("td", { class: "num" }, num(r.alerts)),
          h("td", { class: "num" }, pct(r.acknowledge.compliance)),
          h("td", { class: "num" }, pct(r.resolve.compliance)),
          h("td", { class: "num" }, num(r.acknowledge.breached + r.resolve.breached)),
        ),
      ),
    ),
  );
  return labelCells(t);
}

function slaPanels(d) {
  const o = d.overall;
  const cards = h(
    "div",
    { class: "cards" },
    card("Acknowledged in time", pct(o.acknowledge.compliance), { cls: o.acknowledge.breached ? "bad" : "", note: `${num(o.acknowledge.met)} met, ${num(o.acknowledge.breached)} breached, ${num(o.acknowledge.within_target)} still within` }),
    card("Resolved in time", pct(o.resolve.compliance), { cls: o.resolve.breached ? "bad" : "", note: `${num(o.resolve.met)} met, ${num(o.resolve.breached)} breached, ${num(o.resolve.within_target)} still within` }),
    card("Alerts with a target", num(o.alerts)),
    card("Breaches told", num(d.breaches.told)),
  );
  const points = (what) => d.periods.map((p) => [Date.parse(p.start), p[what].compliance === null ? null : p[what].compliance * 100]);
  const chart = d.periods.some((p) => p.acknowledge.compliance !== null || p.resolve.compliance !== null)
    ? h(
        "div",
        {},
        legend([["accent", "acknowledged in time"], ["ok", "resolved in time"]]),
        lines(
          [
            { name: "acknowledged in time", cls: "stroke-accent", points: points("acknowledge") },
            { name: "resolved in time", cls: "stroke-ok", points: points("resolve") },
          ],
          { label: "compliance per period, in percent", fmt: (v) => `${v.toFixed(0)} %`, max: 100 },
        ),
      )
    : empty("Nothing was judged against a target in this period");
  const breaches = d.breaches.newest.length
    ? labelCells(
        h(
          "table",
          { class: "plain stack" },
          h("thead", {}, h("tr", {}, ["At", "Alert", "Target", "Severity", "Team"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            d.breaches.newest.map((b) =>
              h(
                "tr",
                {},
                h("td", {}, fullTime(b.at)),
                h("td", {}, b.alert ? h("a", { href: `#/alerts/${b.alert}` }, `alert ${b.alert}`) : "–"),
                h("td", {}, `${b.what} within ${dur(b.target_ms / 1000)}`),
                h("td", {}, sevBadge(b.severity)),
                h("td", {}, b.team || "–"),
              ),
            ),
          ),
        ),
      )
    : h("p", { class: "hint" }, "No breach in this period.");
  return [
    cards,
    h("div", { class: "charts" }, panel("Compliance per period", chart), panel("By severity", complianceTable(d.by_severity, "severity", "Severity"))),
    h("div", { class: "charts" }, panel("By team", complianceTable(d.by_team, "team", "Team")), panel("Breaches", breaches)),
  ];
}

function escalationPanel(e) {
  if (!e.escalations && !e.pages) return panel("Escalations", empty("No escalation in this period", "Alerts under an escalation policy show here."));
  const reasons = Object.entries(e.by_reason || {}).map(([label, value]) => ({ label: label.replaceAll("_", " "), value }));
  const policies = labelCells(
    h(
      "table",
      { class: "plain stack" },
      h("thead", {}, h("tr", {}, ["Policy", "Escalations", "Acknowledged", "Mean time to acknowledge", "Pages per level"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        e.by_policy.map((p) =>
          h(
            "tr",
            { "data-policy": p.policy },
            h("td", {}, p.policy),
            h("td", { class: "num" }, num(p.escalations)),
            h("td", { class: "num" }, num(p.acknowledged)),
            h("td", {}, p.mean_time_to_acknowledge_ms === null ? "–" : dur(p.mean_time_to_acknowledge_ms / 1000)),
            h("td", {}, p.levels.map((l) => `level ${l.level}: ${num(l.pages)}`).join(", ") || "–"),
          ),
        ),
      ),
    ),
  );
  return panel(
    "Escalations",
    h(
      "div",
      { class: "cards" },
      card("Escalations", num(e.escalations)),
      card("Acknowledged", num(e.acknowledged)),
      card("Mean time to acknowledge", e.mean_time_to_acknowledge_ms === null ? "–" : dur(e.mean_time_to_acknowledge_ms / 1000)),
      card("Pages", num(e.pages)),
    ),
    h("h3", {}, "Pages by reason"),
    reasons.length ? hbars(reasons) : h("p", { class: "hint" }, "None."),
    h("h3", {}, "By policy"),
    policies,
  );
}

export function render(main, app) {
  const select = h("select", { "aria-label": "Period" }, PERIODS.map((p) => h("option", { value: p.id, selected: p.id === chosen }, `Last ${p.label}`)));
  const root = h("div", {}, loading());
  main.append(h("div", { class: "row" }, h("h1", { class: "grow" }, "SLA and escalation"), select), root);
  select.addEventListener("change", () => {
    chosen = select.value;
    load();
  });

  async function load() {
    const p = PERIODS.find((x) => x.id === chosen);
    const until = Date.now();
    const range = { since: new Date(until - p.ms).toISOString(), until: new Date(until).toISOString() };
    let sla, esc;
    try {
      [sla, esc] = await Promise.all([get(`/alerts/sla/dashboard${qs({ ...range, period: p.period })}`), get(`/alerts/metrics/escalation${qs(range)}`)]);
    } catch (e) {
      clear(root).append(failure(e, load));
      return;
    }
    clear(root).append(
      ...slaPanels(sla),
      escalationPanel(esc),
      sla.truncated || esc.truncated ? h("p", { class: "hint" }, "Only the newest 100,000 alerts of the period are counted.") : null,
    );
    root.dataset.loaded = String(Date.now());
  }

  load();
  const onChange = () => reload();
  let timer = 0;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(load, 2000);
  };
  app.bus.addEventListener("change", onChange);
  return () => {
    clearTimeout(timer);
    app.bus.removeEventListener("change", onChange);
  };
}
