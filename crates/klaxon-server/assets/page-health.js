// Health: readiness, store, engine and the notification channels that fail from
// /monitoring/health, and the server's figures live
// from /metrics/stream (one event a second): queue depth, signal and alert rates, telemetry
// buffer and lag, alert publish latency, memory. The last five minutes are kept, no more.

import { get } from "./api.js";
import { h, clear, num, card, failure, failingChannels } from "./ui.js";
import { Live } from "./live.js";
import { sparkline } from "./chart.js";

const KEEP = 300;

export function render(main, app) {
  const healthBox = h("div", { class: "cards" });
  const liveBox = h("div", { class: "cards" });
  const state = h("p", { class: "hint", role: "status" }, "Connecting to /metrics/stream…");
  const channelBox = h("div", {});
  main.append(
    h("div", { class: "row" }, h("h1", { class: "grow" }, "Health"), h("button", { class: "secondary", onclick: loadHealth }, "Check now")),
    healthBox,
    channelBox,
    h("h2", {}, "Live"),
    state,
    liveBox,
  );

  async function loadHealth() {
    let v;
    try {
      v = await get("/monitoring/health");
    } catch (e) {
      // 503 carries the same body: not ready.
      if (e.status === 503) v = null;
      else {
        healthBox.replaceChildren(failure(e, loadHealth));
        return;
      }
    }
    if (!v) {
      const res = await fetch("/monitoring/health").catch(() => null);
      v = res ? await res.json().catch(() => null) : null;
    }
    if (!v) return healthBox.replaceChildren(failure(new Error("no answer from /monitoring/health"), loadHealth));
    clear(healthBox).append(
      card("Status", v.ready ? "Ready" : "Not ready", { cls: v.ready ? "ok" : "bad", note: v.status }),
      card("Store", v.store === "ok" ? "OK" : "Error", { cls: v.store === "ok" ? "ok" : "bad", note: v.store === "ok" ? "writable" : v.store }),
      card("Engine", v.engine === "ok" ? "OK" : "Stalled", { cls: v.engine === "ok" ? "ok" : "bad" }),
      delivery(v.channels ?? []),
    );
    channelBox.replaceChildren(failingChannels((v.channels ?? []).filter((c) => c.state === "failing")));
  }

  function delivery(channels) {
    if (!channels.length) return card("Delivery", "–", { note: "no notification channel is configured" });
    const failing = channels.filter((c) => c.state === "failing");
    if (!failing.length) return card("Delivery", "OK", { cls: "ok", note: `${num(channels.length)} channel${channels.length === 1 ? "" : "s"}, none failing` });
    return card("Delivery", `${num(failing.length)} failing`, { cls: "bad", note: failing.map((c) => `${c.receiver}/${c.channel}#${c.index}`).join(", ") });
  }

  const series = { signals: [], queue: [], alerts: [], buffered: [], lag: [], publish: [], memory: [] };
  let prev = null;
  let storeErrors = null;
  const push = (k, v) => {
    series[k].push(v);
    if (series[k].length > KEEP) series[k].shift();
  };
  const meanOver = (cur, old) => {
    if (!cur || !old) return null;
    const n = cur.count - old.count;
    return n > 0 ? ((cur.sum_seconds - old.sum_seconds) / n) * 1000 : null;
  };

  function onMetrics(m) {
    if (prev) {
      const dt = Math.max((Date.parse(m.at) - Date.parse(prev.at)) / 1000, 0.001);
      push("signals", (m.signals_accepted - prev.signals_accepted) / dt);
      push("alerts", (m.alerts_fired - prev.alerts_fired) / dt);
      const lag = meanOver(m.telemetry_lag, prev.telemetry_lag);
      const pub = meanOver(m.alert_publish_latency, prev.alert_publish_latency);
      push("lag", lag ?? (series.lag.length ? series.lag[series.lag.length - 1] : 0));
      push("publish", pub ?? (series.publish.length ? series.publish[series.publish.length - 1] : 0));
    }
    push("queue", m.queue_depth);
    push("buffered", m.telemetry_buffered);
    push("memory", (m.resident_memory_bytes || 0) / 1048576);
    if (storeErrors !== null && m.store_errors > storeErrors) loadHealth();
    storeErrors = m.store_errors;
    prev = m;
    const last = (k) => series[k][series[k].length - 1];
    const tile = (label, value, k, note) => {
      const c = card(label, value, { note });
      c.append(sparkline(series[k], { label: `${label}, last ${series[k].length} seconds` }));
      return c;
    };
    clear(liveBox).append(
      tile("Engine queue", num(m.queue_depth), "queue", "signals waiting"),
      tile("Signals", `${num(Math.round(last("signals") || 0))}/s`, "signals", `${num(m.signals_accepted)} accepted, ${num(m.signals_rejected)} rejected, ${num(m.ingest_throttled)} throttled`),
      tile("Alerts fired", `${num(Math.round(last("alerts") || 0))}/s`, "alerts", `${num(m.alerts_fired)} since start`),
      tile("Telemetry buffer", num(m.telemetry_buffered), "buffered", "rows not yet written"),
      tile("Telemetry lag", last("lag") === undefined ? "–" : `${(last("lag") || 0).toFixed(1)} ms`, "lag", "accepted → written, mean of the last second"),
      tile("Alert publish", last("publish") === undefined ? "–" : `${(last("publish") || 0).toFixed(1)} ms`, "publish", "accepted → committed and streamed"),
      tile("Memory", `${num(Math.round(last("memory")))} MiB`, "memory", `resident; store errors ${num(m.store_errors ?? 0)}`),
    );
  }

  const live = new Live("/metrics/stream", { metrics: onMetrics, reopened: loadHealth }, (s) => {
    state.textContent = s === "live" ? "Live: one update a second." : s === "connecting" ? "Connecting…" : "Disconnected from /metrics/stream; reconnecting…";
    if (s === "live") loadHealth();
  }).start();
  loadHealth();
  return () => live.stop();
}
