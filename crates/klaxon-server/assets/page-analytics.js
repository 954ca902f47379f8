// Analytics over a chosen period: alert rate by severity, MTTA and MTTR per slice, the
// noisiest rules, and delivery success per channel (from /alerts/metrics/delivery when the
// server has it; otherwise the page says so).

import { get, qs } from "./api.js";
import { h, clear, num, dur, empty, failure, loading, failingChannels, labelCells, SEVERITIES } from "./ui.js";
import { stackedBars, lines, hbars, legend } from "./chart.js";

const PERIODS = [
  { id: "6h", label: "6 hours", ms: 6 * 3600e3, bucket: "15m", slices: 6 },
  { id: "24h", label: "24 hours", ms: 24 * 3600e3, bucket: "1h", slices: 12 },
  { id: "7d", label: "7 days", ms: 7 * 86400e3, bucket: "6h", slices: 7 },
  { id: "30d", label: "30 days", ms: 30 * 86400e3, bucket: "1d", slices: 10 },
];
let chosen = "24h";

export function render(main) {
  const select = h("select", { "aria-label": "Period" }, PERIODS.map((p) => h("option", { value: p.id, selected: p.id === chosen }, `Last ${p.label}`)));
  const root = h("div");
  main.append(h("div", { class: "row" }, h("h1", { class: "grow" }, "Analytics"), select), root);
  select.addEventListener("change", () => {
    chosen = select.value;
    load();
  });

  function panel(title, ...body) {
    return h("section", { class: "panel" }, h("h2", {}, title), ...body);
  }

  async function load() {
    const p = PERIODS.find((x) => x.id === chosen);
    const to = Date.now();
    const from = to - p.ms;
    const range = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    const rateBox = h("div", {}, loading());
    const perfBox = h("div", {}, loading());
    const noisyBox = h("div", {}, loading());
    const deliveryBox = h("div", {}, loading());
    clear(root).append(
      h("div", { class: "charts" }, panel("Alert rate by severity", rateBox), panel("Time to acknowledge and resolve", perfBox)),
      h("div", { class: "charts" }, panel("Noisiest rules", noisyBox), panel("Delivery success by channel", deliveryBox)),
    );

    get(`/alerts/trends/analysis${qs({ ...range, bucket: p.bucket })}`)
      .then((t) => {
        const rows = fill(t.buckets, from, to, t.bucket_seconds * 1000);
        const total = t.buckets.reduce((a, b) => a + b.total, 0);
        if (!total) {
          rateBox.replaceChildren(empty("No alerts in this period"));
          noisyBox.replaceChildren(empty("No alerts in this period"));
          return;
        }
        rateBox.replaceChildren(
          legend(SEVERITIES.map((s) => [s, s])),
          stackedBars(rows, SEVERITIES, { label: `alerts per ${p.bucket} by severity, ${num(total)} in all` }),
          h("p", { class: "hint" }, `${num(total)} alerts, per ${p.bucket}.`),
        );
        const byRule = new Map();
        for (const b of t.buckets) for (const [r, n] of Object.entries(b.by_rule)) byRule.set(r, (byRule.get(r) || 0) + n);
        const top = [...byRule].sort((a, b) => b[1] - a[1]).slice(0, 10);
        noisyBox.replaceChildren(hbars(top.map(([label, value]) => ({ label, value, href: `#/alerts?tab=history` }))), h("p", { class: "hint" }, `The ${top.length} rules that raised the most alerts.`));
      })
      .catch((e) => {
        rateBox.replaceChildren(failure(e, load));
        noisyBox.replaceChildren(failure(e));
      });

    // MTTA and MTTR per slice of the period, in parallel.
    const step = p.ms / p.slices;
    Promise.all(
      Array.from({ length: p.slices }, (_, i) => {
        const a = from + i * step;
        return get(`/alerts/metrics/performance${qs({ from: new Date(a).toISOString(), to: new Date(a + step).toISOString() })}`).then((r) => ({ t: a + step / 2, ...r }));
      }),
    )
      .then((slices) => {
        if (!slices.some((s) => s.mtta_seconds !== null || s.mttr_seconds !== null)) {
          perfBox.replaceChildren(empty("Nothing was acknowledged or resolved in this period"));
          return;
        }
        const minutes = (v) => (v === null ? null : v / 60);
        perfBox.replaceChildren(
          legend([["accent", "MTTA"], ["ok", "MTTR"]]),
          lines(
            [
              { name: "MTTA", cls: "stroke-accent", points: slices.map((s) => [s.t, minutes(s.mtta_seconds)]) },
              { name: "MTTR", cls: "stroke-ok", points: slices.map((s) => [s.t, minutes(s.mttr_seconds)]) },
            ],
            { label: "mean time to acknowledge and to resolve, in minutes", fmt: (v) => dur(v * 60) },
          ),
        );
      })
      .catch((e) => perfBox.replaceChildren(failure(e, load)));

    get(`/alerts/metrics/delivery${qs(range)}`)
      .then((d) => deliveryBox.replaceChildren(delivery(d)))
      .catch((e) =>
        deliveryBox.replaceChildren(
          e.status === 404 ? empty("No delivery statistics on this server", "GET /alerts/metrics/delivery answered 404: this klaxon does not report notification deliveries yet.") : failure(e, load),
        ),
      );
  }

  load();
  return null;
}

/** Every bucket of the period, empty ones too (the server sends only buckets with alerts). */
function fill(buckets, from, to, step) {
  const have = new Map(buckets.map((b) => [Date.parse(b.start), b.by_severity]));
  const anchor = buckets.length ? Date.parse(buckets[0].start) : Math.floor(from / step) * step;
  let t = anchor - Math.ceil((anchor - from) / step) * step;
  const rows = [];
  for (; t < to && rows.length < 2000; t += step) rows.push({ t, values: have.get(t) || {} });
  return rows;
}

/**
 * Success per channel from /alerts/metrics/delivery: `channels` by name, each with the outbox's
 * rows by status (sent, failed, retrying, dead, pending) and `failed_attempts` (every attempt
 * that failed since the server started, retried ones included); `failing` lists the receivers'
 * channels whose latest attempt failed.
 */
function delivery(d) {
  const n = (v) => (typeof v === "number" ? v : 0);
  const rows = Object.entries(d?.channels ?? {})
    .map(([channel, c]) => {
      const ok = n(c.sent);
      const failedAttempts = n(c.failed_attempts);
      const givenUp = n(c.failed) + n(c.dead);
      const waiting = n(c.retrying) + n(c.pending);
      // Attempts, not notifications: a notification still retrying has already failed.
      const tries = ok + Math.max(failedAttempts, givenUp);
      return { channel, ok, failedAttempts, givenUp, waiting, rate: tries ? ok / tries : null };
    })
    // Channels that never carried a notification say nothing.
    .filter((r) => r.ok + r.failedAttempts + r.givenUp + r.waiting > 0);
  const failing = Array.isArray(d?.failing) ? d.failing : [];
  if (!rows.length && !failing.length) return empty("No notifications were sent in this period");
  return h(
    "div",
    {},
    failingChannels(failing, { compact: true }),
    hbars(rows.map((r) => ({ label: r.channel, value: r.rate === null ? 0 : Math.round(r.rate * 1000) / 10 })), { fmt: (v) => `${v}%`, cls: "fill-accent" }),
    // Six columns do not fit a phone: there each channel is a block of named values.
    labelCells(h(
      "table",
      { class: "plain stack" },
      h("thead", {}, h("tr", {}, ["Channel", "Delivered", "Failed attempts", "Failed or dead", "Waiting", "Success"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        rows.map((r) =>
          h(
            "tr",
            {},
            h("td", {}, r.channel),
            h("td", { class: "num" }, num(r.ok)),
            h("td", { class: "num" }, num(r.failedAttempts)),
            h("td", { class: "num" }, num(r.givenUp)),
            h("td", { class: "num" }, num(r.waiting)),
            h("td", { class: "num" }, r.rate === null ? "–" : `${(r.rate * 100).toFixed(1)}%`),
          ),
        ),
      ),
    )),
    h("p", { class: "hint" }, "Failed attempts count since the server started, retried ones included; failed or dead counts notifications given up on."),
  );
}
