// Overview: cards (open alerts by severity, acknowledged, suppressed, MTTA, MTTR, alert rate)
// and the live feed of changes. Figures are read once and then follow the stream. The feed
// opens with what happened to the newest alerts (read from the history: each one's creation,
// acknowledgement, resolution and closing) and then follows the stream; it keeps the newest
// 100 entries, so the page's memory does not grow with time.

import { get } from "./api.js";
import { h, clear, card, num, dur, sevBadge, time, ms, empty, failure, throttle, title, SEVERITIES } from "./ui.js";
import { sparkline } from "./chart.js";

const FEED_MAX = 100;
/** The newest alerts whose story opens the feed. */
const FEED_HISTORY = 40;
const RATE_MINUTES = 60;

export function render(main, app) {
  const cards = h("div", { class: "cards", "aria-live": "off" });
  const feed = h("ol", { class: "feed", "aria-label": "Live feed", "aria-live": "off" });
  const filters = { created: true, transition: true, note: true, assigned: true, occurrence: false };
  const filterChips = h(
    "div",
    { class: "chips", role: "group", "aria-label": "Feed shows" },
    Object.entries({ created: "New", transition: "State changes", occurrence: "Repeats", note: "Notes", assigned: "Assignments" }).map(([k, label]) =>
      h(
        "button",
        {
          class: "chip",
          "aria-pressed": String(filters[k]),
          onclick: (ev) => {
            filters[k] = !filters[k];
            ev.currentTarget.setAttribute("aria-pressed", String(filters[k]));
          },
        },
        label,
      ),
    ),
  );
  const feedEmpty = empty("Nothing has happened yet", "New alerts and every acknowledgement, resolution and note appear here as they happen.");
  main.append(
    h("h1", {}, "Overview"),
    cards,
    h("section", { class: "panel", "aria-labelledby": "feed-h" }, h("div", { class: "row" }, h("h2", { id: "feed-h", class: "grow" }, "Live feed"), filterChips), feedEmpty, feed),
  );

  let summary = null;
  let perf = null;
  // Alerts created per minute, the last RATE_MINUTES minutes (index 0 = oldest).
  let rate = new Array(RATE_MINUTES).fill(0);
  let rateMinute = Math.floor(Date.now() / 60000);
  let error = null;

  function shiftRate() {
    const now = Math.floor(Date.now() / 60000);
    const steps = Math.min(now - rateMinute, RATE_MINUTES);
    for (let i = 0; i < steps; i++) {
      rate.shift();
      rate.push(0);
    }
    rateMinute = now;
  }

  function draw() {
    clear(cards);
    if (error) {
      cards.append(failure(error, load));
      return;
    }
    if (!summary) {
      cards.append(h("div", { class: "loading" }, "Loading…"));
      return;
    }
    const sev = summary.open_by_severity || {};
    for (const s of SEVERITIES) {
      cards.append(card(s[0].toUpperCase() + s.slice(1), num(sev[s] || 0), { cls: `sev-${s}`, note: "open", href: `#/alerts?severity=${s}` }));
    }
    const st = summary.by_state || {};
    cards.append(card("Active", num(st.active || 0), { note: "not yet acknowledged", href: "#/alerts?state=active" }));
    cards.append(card("Acknowledged", num(st.acknowledged || 0), { href: "#/alerts?state=acknowledged" }));
    cards.append(card("Suppressed", num(st.suppressed || 0), { href: "#/alerts?state=suppressed" }));
    cards.append(card("MTTA", perf ? dur(perf.mtta_seconds) : "…", { note: perf ? `last 24 h, ${num(perf.acknowledged)} acknowledged` : "" }));
    cards.append(card("MTTR", perf ? dur(perf.mttr_seconds) : "…", { note: perf ? `last 24 h, ${num(perf.resolved)} resolved` : "" }));
    shiftRate();
    const last10 = rate.slice(-10).reduce((a, b) => a + b, 0) / 10;
    const c = card("Alert rate", `${last10 < 10 ? last10.toFixed(1) : num(Math.round(last10))}/min`, { note: `new alerts, last 10 min; line: ${RATE_MINUTES} min` });
    c.append(sparkline(rate, { label: `new alerts per minute over the last ${RATE_MINUTES} minutes` }));
    c.dataset.card = "rate";
    cards.append(c);
  }

  async function loadSummary() {
    try {
      summary = await get("/alerts/summary");
      error = null;
    } catch (e) {
      error = e;
    }
    draw();
  }

  async function loadPerf() {
    try {
      perf = await get("/alerts/metrics/performance");
    } catch {
      perf = null;
    }
    draw();
  }

  async function loadRate() {
    const to = Date.now();
    const from = (Math.floor(to / 60000) - RATE_MINUTES + 1) * 60000;
    try {
      const t = await get(`/alerts/trends/analysis?bucket=1m&from=${new Date(from).toISOString()}&to=${new Date(to + 1).toISOString()}`);
      const fresh = new Array(RATE_MINUTES).fill(0);
      for (const b of t.buckets) {
        const i = Math.floor((Date.parse(b.start) - from) / 60000);
        if (i >= 0 && i < RATE_MINUTES) fresh[i] = b.total;
      }
      rate = fresh;
      rateMinute = Math.floor(to / 60000);
    } catch {
      /* the sparkline starts empty and fills from the stream */
    }
    draw();
  }

  /** The changes an alert of the history went through, as the stream would have told them. */
  function story(a) {
    const out = [{ kind: "created", alert: a, at: ms(a.created_at ?? a.first_seen) }];
    let from = "active";
    const step = (to, at, actor) => {
      if (!at) return;
      out.push({ kind: "transition", id: a.id, alert: a, from, to, actor, at: ms(at) });
      from = to;
    };
    step("acknowledged", a.acknowledged_at, a.acknowledged_by);
    step("resolved", a.resolved_at, a.resolved_by);
    step("closed", a.closed_at, null);
    return out;
  }

  async function loadFeed() {
    let res;
    try {
      res = await get(`/alerts/history?limit=${FEED_HISTORY}`);
    } catch {
      return; /* the feed starts with what the stream brings */
    }
    const earlier = res.alerts.flatMap(story).filter((c) => filters[c.kind]);
    earlier.sort((x, y) => y.at - x.at);
    for (const a of res.alerts) app.names.set(a.id, title(a), a.severity);
    // Each in its place among what the stream brought meanwhile, newest first.
    for (const c of earlier.slice(0, FEED_MAX)) {
      if (shown.has(key(c))) continue;
      const after = [...feed.children].find((li) => Number(li.dataset.at) < c.at);
      feed.insertBefore(entry(c), after ?? null);
    }
    trim();
  }

  function load() {
    error = null;
    loadSummary();
    loadPerf();
    loadRate();
    loadFeed();
  }

  const refreshSummary = throttle(loadSummary, 1000);
  const refreshPerf = throttle(loadPerf, 10000);

  // Feed entries wait in a bounded queue and are drawn together, at most ten times a second.
  let queue = [];
  let timer = 0;
  function enqueue(c) {
    queue.push(c);
    if (queue.length > FEED_MAX) queue = queue.slice(-FEED_MAX);
    if (!timer) timer = setTimeout(flush, 100);
  }

  // The changes the feed shows now, so that one read from the history and the same change
  // from the stream appear once.
  const shown = new Set();
  const atOf = (c) => c.at ?? (c.alert ? Date.parse(c.alert.created_at) : Date.now());
  const key = (c) => `${c.kind}:${c.id ?? c.alert?.id}:${c.to ?? ""}:${atOf(c)}`;

  function describe(c) {
    const known = app.names.get(c.id ?? c.alert?.id);
    const id = c.id ?? c.alert?.id;
    const name = (c.alert && title(c.alert)) ?? known?.name ?? `alert ${id}`;
    const severity = c.alert?.severity ?? known?.severity;
    const link = h("a", { href: `#/alerts/${id}` }, name);
    switch (c.kind) {
      case "created":
        return [severity, ["New ", link, c.alert.message && c.alert.message !== c.alert.name ? `: ${c.alert.message}` : ""]];
      case "transition":
        return [severity, [link, ` ${c.from} → ${c.to}`, c.actor && c.actor !== "system" ? ` by ${c.actor}` : "", c.reason ? ` (${c.reason})` : ""]];
      case "occurrence":
        return [severity, [link, ` fired again (${num(c.occurrences)} times)`]];
      case "note":
        return [severity, [link, ` note by ${c.author}: ${c.text}`]];
      case "assigned":
        return [severity, [link, c.assignee ? ` assigned to ${c.assignee} by ${c.actor}` : ` unassigned by ${c.actor}`]];
      default:
        return [severity, [link, ` ${c.kind}`]];
    }
  }

  function entry(c) {
    const [severity, what] = describe(c);
    const k = key(c);
    shown.add(k);
    const at = atOf(c);
    return h("li", { dataset: { kind: c.kind, id: String(c.id ?? c.alert?.id), key: k, at: String(ms(at)) } }, h("time", {}, time(at)), severity ? sevBadge(severity) : h("span"), h("span", { class: "what" }, what));
  }

  function trim() {
    while (feed.children.length > FEED_MAX) {
      shown.delete(feed.lastChild.dataset.key);
      feed.lastChild.remove();
    }
    feedEmpty.hidden = feed.children.length > 0;
  }

  function flush() {
    timer = 0;
    const items = queue;
    queue = [];
    const frag = document.createDocumentFragment();
    for (let i = items.length - 1; i >= 0; i--) {
      if (!shown.has(key(items[i]))) frag.append(entry(items[i]));
    }
    feed.prepend(frag);
    trim();
  }

  function onChange(ev) {
    const c = ev.detail;
    if (c.kind === "created") {
      shiftRate();
      rate[RATE_MINUTES - 1]++;
    }
    if (filters[c.kind]) enqueue(c);
    if (c.kind === "created" || c.kind === "transition") refreshSummary();
    if (c.kind === "transition") refreshPerf();
    if (c.kind === "created") refreshSummary();
  }

  const onResync = () => load();
  app.bus.addEventListener("change", onChange);
  app.bus.addEventListener("resync", onResync);
  const minuteTimer = setInterval(draw, 60000);
  load();
  return () => {
    app.bus.removeEventListener("change", onChange);
    app.bus.removeEventListener("resync", onResync);
    clearInterval(minuteTimer);
    clearTimeout(timer);
  };
}
