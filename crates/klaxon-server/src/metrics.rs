//! The server's own metrics: counters, gauges and fixed-bucket histograms, registered once,
//! updated with relaxed atomics (no lock, no allocation per event), rendered in the Prometheus
//! text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use klaxon_engine::lifecycle::Source;

/// Bucket bounds in seconds, shared by every histogram.
const BOUNDS: [f64; 22] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.05,
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 1.8, 2.5, 5.0,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BOUNDS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    pub(crate) fn observe(&self, d: Duration) {
        self.observe_n(d, 1);
    }

    /// Records `n` observations of the same duration (a batch).
    pub(crate) fn observe_n(&self, d: Duration, n: u64) {
        let s = d.as_secs_f64();
        if let Some(i) = BOUNDS.iter().position(|&b| s <= b) {
            self.buckets[i].fetch_add(n, Relaxed);
        }
        self.count.fetch_add(n, Relaxed);
        self.sum_us.fetch_add(
            u64::try_from(d.as_micros())
                .unwrap_or(u64::MAX)
                .saturating_mul(n),
            Relaxed,
        );
    }

    /// Observations so far and their sum in seconds.
    pub(crate) fn totals(&self) -> (u64, f64) {
        (
            self.count.load(Relaxed),
            self.sum_us.load(Relaxed) as f64 / 1e6,
        )
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (b, c) in BOUNDS.iter().zip(&self.buckets) {
            cum += c.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Every metric of the server.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub signals_accepted: AtomicU64,
    pub signals_rejected: AtomicU64,
    pub ingest_throttled: AtomicU64,
    /// Ingest requests refused with 503 because the store could not write.
    pub ingest_refused: AtomicU64,
    /// Requests answered 429 because the lifecycle manager's queue was full.
    pub lifecycle_throttled: AtomicU64,
    pub queue_depth: AtomicI64,
    /// Firings the lifecycle manager took, by source (`Source::ALL` order): every emission of
    /// an event rule, every firing of a threshold rule, every firing alert an Alertmanager
    /// client or the API sent (resends included).
    pub alerts_fired: [AtomicU64; 4],
    pub alerts_throttled: AtomicU64,
    pub trace_stops_ignored: AtomicU64,
    pub timers_fired: AtomicU64,
    pub telemetry_rows: AtomicU64,
    pub telemetry_buffered: AtomicI64,
    /// What the telemetry buffer's rows take, in bytes.
    pub telemetry_buffered_bytes: AtomicI64,
    /// What the engine queue's signals take, in bytes (estimated from their JSON).
    pub queue_bytes: AtomicI64,
    pub store_errors: AtomicU64,
    pub open_processes: AtomicU64,
    /// Metric samples the threshold engine took, and those it dropped (out of order, no rule,
    /// series limit).
    pub samples_evaluated: AtomicU64,
    /// Firings that changed nothing but counts, written within a second instead of at once.
    pub quiet_occurrences: AtomicU64,
    pub samples_dropped: AtomicU64,
    pub threshold_events: AtomicU64,
    /// Series and firing (rule, series) pairs the threshold engine tracks.
    pub threshold_series: AtomicU64,
    pub threshold_firing: AtomicU64,
    /// Per signal, evaluation in the engine.
    pub engine_latency: Histogram,
    pub store_commit: Histogram,
    /// One commit of the lifecycle manager (alert changes only).
    pub alert_commit: Histogram,
    /// One commit of what time alone brings to the pager (escalation levels that came due,
    /// SLA targets that passed), apart from alert changes.
    pub escalation_commit: Histogram,
    /// Signal accepted → telemetry row committed.
    pub telemetry_lag: Histogram,
    /// Signal accepted → alert committed and published.
    pub alert_publish_latency: Histogram,
    /// The parts of it, per signal or firing: accepted → the engine takes its batch; the
    /// engine hands alerts over → the lifecycle manager takes them (waiting for room in the
    /// channel included); the manager takes a firing → its commit begins. With
    /// `alert_commit` they add up to the publish latency.
    pub engine_queue_wait: Histogram,
    pub alert_handoff: Histogram,
    pub alert_in_lifecycle: Histogram,
    /// Notification deliveries per channel.
    pub delivery: Delivery,
    /// Client connections open, refused by a cap, and closed by a deadline (a head too slow,
    /// or idle too long).
    pub connections_open: AtomicI64,
    pub connections_refused: AtomicU64,
    pub connections_timed_out: AtomicU64,
    /// Signals through NATS JetStream (`[cluster] nats`).
    pub stream: StreamMetrics,
}

/// The signal stream's figures (`[cluster] nats`): publishing, consuming, the last rebuild.
#[derive(Debug, Default)]
pub(crate) struct StreamMetrics {
    /// Batches JetStream acknowledged.
    pub published: AtomicU64,
    /// Batches not acknowledged (NATS unreachable, timeout, refused): answered 503.
    pub publish_failures: AtomicU64,
    /// Batches the consumer fed to the engine live.
    pub applied: AtomicU64,
    /// Messages of the stream that were not batches of signals, skipped.
    pub undecodable: AtomicU64,
    /// The last sequence acknowledged after its commit.
    pub acked: AtomicU64,
    /// Batches replayed by the last rebuild of the engine's state.
    pub replayed: AtomicU64,
    /// 1 when the last rebuild found the stream's window starting after its first batch
    /// (state built by dropped batches is lost).
    pub replay_truncated: AtomicU64,
    /// Batches dropped by the stream's limits before the engine applied them.
    pub lost: AtomicU64,
    /// Runs the last rebuild saw signals of but not their start, when the window was
    /// truncated: their state from before the window is lost.
    pub runs_before_window: AtomicU64,
}

impl StreamMetrics {
    fn render(&self, s: &mut String) {
        let rows: [(&str, &str, &str, &AtomicU64); 9] = [
            ("klaxon_stream_published_total", "counter", "batches of signals JetStream acknowledged", &self.published),
            ("klaxon_stream_publish_failures_total", "counter", "batches JetStream did not acknowledge (answered 503)", &self.publish_failures),
            ("klaxon_stream_applied_total", "counter", "batches of the signal stream fed to the engine", &self.applied),
            ("klaxon_stream_undecodable_total", "counter", "messages of the signal stream that were not batches of signals", &self.undecodable),
            ("klaxon_stream_acked_sequence", "gauge", "the last stream sequence acknowledged once committed", &self.acked),
            ("klaxon_stream_replayed_batches", "gauge", "batches replayed by the last rebuild of the engine's state", &self.replayed),
            ("klaxon_stream_replay_truncated", "gauge", "1 when the stream's window began after its first batch at the last rebuild: state older than the window is lost", &self.replay_truncated),
            ("klaxon_stream_runs_before_window", "gauge", "runs with signals in a truncated window but no start in it, at the last rebuild (at most 100000): their earlier state is lost", &self.runs_before_window),
            ("klaxon_stream_lost_batches", "gauge", "batches the stream's limits dropped before the engine applied them (found by the last rebuild, and since)", &self.lost),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Relaxed)
            );
        }
    }
}

impl Metrics {
    /// Counts `n` firings from `source`.
    pub(crate) fn fired(&self, source: Source, n: u64) {
        if let Some(i) = Source::ALL.iter().position(|s| *s == source) {
            self.alerts_fired[i].fetch_add(n, Relaxed);
        }
    }

    /// Firings of every source.
    pub(crate) fn fired_total(&self) -> u64 {
        self.alerts_fired.iter().map(|v| v.load(Relaxed)).sum()
    }
}

/// The channels, in the order of [`Delivery::channels`].
pub(crate) const CHANNELS: [&str; 5] = ["webhook", "slack", "email", "pagerduty", "websocket"];

/// Latencies kept per channel for the percentiles.
const LATENCY_WINDOW: usize = 10_000;

/// Delivery counters of one channel since the server started, and the latencies (made →
/// delivered, ms) of its latest deliveries.
#[derive(Debug, Default)]
pub(crate) struct ChannelStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    /// Attempts that failed and were scheduled again.
    pub retried: AtomicU64,
    /// Attempts that failed, whatever came next (retry, failure, dead letter).
    pub failed_attempts: AtomicU64,
    pub dead: AtomicU64,
    latencies: std::sync::Mutex<std::collections::VecDeque<u32>>,
}

impl ChannelStats {
    /// Records a delivery that took `ms` from the notification being made.
    pub(crate) fn delivered(&self, ms: i64) {
        self.sent.fetch_add(1, Relaxed);
        let ms = u32::try_from(ms.max(0)).unwrap_or(u32::MAX);
        let mut l = self
            .latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if l.len() == LATENCY_WINDOW {
            l.pop_front();
        }
        l.push_back(ms);
    }

    /// (p50, p99, samples) of the latest deliveries, in ms.
    pub(crate) fn percentiles(&self) -> (Option<u32>, Option<u32>, usize) {
        let mut v: Vec<u32> = self
            .latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        if v.is_empty() {
            return (None, None, 0);
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
        (Some(at(0.5)), Some(at(0.99)), v.len())
    }
}

/// Delivery counters of every channel.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    pub channels: [ChannelStats; 5],
}

impl Delivery {
    /// The stats of a channel by name (`webhook`, ...); unknown names share the webhook's.
    pub(crate) fn of(&self, channel: &str) -> &ChannelStats {
        let i = CHANNELS.iter().position(|c| *c == channel).unwrap_or(0);
        &self.channels[i]
    }

    /// Prometheus text of the counters and latency quantiles.
    pub(crate) fn render(&self, s: &mut String) {
        type Counter = fn(&ChannelStats) -> &AtomicU64;
        let families: [(&str, &str, Counter); 4] = [
            (
                "klaxon_notifications_sent_total",
                "notifications a receiver accepted",
                |c| &c.sent,
            ),
            (
                "klaxon_notifications_failed_total",
                "notifications that failed without retry",
                |c| &c.failed,
            ),
            (
                "klaxon_notification_retries_total",
                "delivery attempts that failed and were scheduled again",
                |c| &c.retried,
            ),
            (
                "klaxon_notifications_dead_total",
                "notifications dead-lettered after their maximum age",
                |c| &c.dead,
            ),
        ];
        for (name, help, f) in families {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            for (c, st) in CHANNELS.iter().zip(&self.channels) {
                let _ = writeln!(s, "{name}{{channel=\"{c}\"}} {}", f(st).load(Relaxed));
            }
        }
        let name = "klaxon_notification_latency_seconds";
        let _ = writeln!(s, "# HELP {name} notification made to delivered, over the latest 10000 deliveries\n# TYPE {name} summary");
        for (c, st) in CHANNELS.iter().zip(&self.channels) {
            let (p50, p99, n) = st.percentiles();
            for (q, v) in [("0.5", p50), ("0.99", p99)] {
                if let Some(v) = v {
                    let _ = writeln!(
                        s,
                        "{name}{{channel=\"{c}\",quantile=\"{q}\"}} {}",
                        f64::from(v) / 1000.0
                    );
                }
            }
            let _ = writeln!(s, "{name}_count{{channel=\"{c}\"}} {n}");
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut s = String::with_capacity(8192);
        let counters: [(&str, &str, &AtomicU64); 15] = [
            (
                "klaxon_connections_refused_total",
                "client connections answered 503 and closed: over max_connections or max_connections_per_ip",
                &self.connections_refused,
            ),
            (
                "klaxon_connections_timed_out_total",
                "client connections closed because a request head was too slow or they were idle too long",
                &self.connections_timed_out,
            ),
            (
                "klaxon_quiet_occurrences_total",
                "firings that changed nothing but counts (written within a second, folded)",
                &self.quiet_occurrences,
            ),
            (
                "klaxon_samples_evaluated_total",
                "metric samples evaluated by threshold rules",
                &self.samples_evaluated,
            ),
            (
                "klaxon_samples_dropped_total",
                "metric samples not kept: no rule names the metric, out of order, or over the series limit",
                &self.samples_dropped,
            ),
            (
                "klaxon_threshold_events_total",
                "state changes of threshold alerts (pending, firing, resolved, cancelled)",
                &self.threshold_events,
            ),
            (
                "klaxon_signals_accepted_total",
                "signals accepted by ingest",
                &self.signals_accepted,
            ),
            (
                "klaxon_signals_rejected_total",
                "signal lines rejected as invalid",
                &self.signals_rejected,
            ),
            (
                "klaxon_ingest_throttled_total",
                "ingest requests answered 429 because the queue was full",
                &self.ingest_throttled,
            ),
            (
                "klaxon_ingest_refused_total",
                "ingest requests answered 503 because the store could not write",
                &self.ingest_refused,
            ),
            (
                "klaxon_lifecycle_throttled_total",
                "alert requests answered 429 because the lifecycle manager's queue was full",
                &self.lifecycle_throttled,
            ),
            (
                "klaxon_alerts_throttled_total",
                "rule firings dropped by throttling",
                &self.alerts_throttled,
            ),
            (
                "klaxon_trace_stops_ignored_total",
                "trace stops with no open trace",
                &self.trace_stops_ignored,
            ),
            (
                "klaxon_timers_fired_total",
                "timer rules that fired",
                &self.timers_fired,
            ),
            (
                "klaxon_telemetry_rows_total",
                "telemetry rows committed",
                &self.telemetry_rows,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        let name = "klaxon_alerts_fired_total";
        let _ = writeln!(
            s,
            "# HELP {name} firings taken by the alert lifecycle, by source (rule, threshold, alertmanager, api)\n# TYPE {name} counter"
        );
        for (source, v) in Source::ALL.iter().zip(&self.alerts_fired) {
            let _ = writeln!(
                s,
                "{name}{{source=\"{}\"}} {}",
                source.as_str(),
                v.load(Relaxed)
            );
        }
        let _ = writeln!(s, "# HELP klaxon_store_errors_total failed store calls\n# TYPE klaxon_store_errors_total counter\nklaxon_store_errors_total {}", self.store_errors.load(Relaxed));
        let gauges: [(&str, &str, i64); 8] = [
            (
                "klaxon_engine_queue_bytes",
                "bytes of the signals accepted and not yet evaluated (estimated from their JSON)",
                self.queue_bytes.load(Relaxed),
            ),
            (
                "klaxon_telemetry_buffered_bytes",
                "bytes of the telemetry rows waiting for the disk",
                self.telemetry_buffered_bytes.load(Relaxed),
            ),
            (
                "klaxon_connections_open",
                "client connections open",
                self.connections_open.load(Relaxed),
            ),
            (
                "klaxon_threshold_series",
                "metric series tracked by threshold rules",
                i64::try_from(self.threshold_series.load(Relaxed)).unwrap_or(i64::MAX),
            ),
            (
                "klaxon_threshold_firing",
                "threshold (rule, series) pairs firing",
                i64::try_from(self.threshold_firing.load(Relaxed)).unwrap_or(i64::MAX),
            ),
            (
                "klaxon_engine_queue_depth",
                "signals accepted and not yet evaluated",
                self.queue_depth.load(Relaxed),
            ),
            (
                "klaxon_telemetry_buffered_rows",
                "telemetry rows waiting for the disk",
                self.telemetry_buffered.load(Relaxed),
            ),
            (
                "klaxon_open_processes",
                "open process runs in the engine",
                i64::try_from(self.open_processes.load(Relaxed)).unwrap_or(i64::MAX),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        self.stream.render(&mut s);
        self.engine_latency.render(
            &mut s,
            "klaxon_engine_latency_seconds",
            "evaluation time per signal",
        );
        self.store_commit.render(
            &mut s,
            "klaxon_store_commit_seconds",
            "time of a durable store write",
        );
        self.alert_commit.render(
            &mut s,
            "klaxon_alert_commit_seconds",
            "time of one durable commit of alert changes",
        );
        self.escalation_commit.render(
            &mut s,
            "klaxon_escalation_commit_seconds",
            "time of one durable commit of escalation levels come due and SLA breaches",
        );
        self.telemetry_lag.render(
            &mut s,
            "klaxon_telemetry_lag_seconds",
            "signal accepted to telemetry row committed",
        );
        self.alert_publish_latency.render(
            &mut s,
            "klaxon_alert_publish_latency_seconds",
            "signal accepted to alert committed and published",
        );
        self.engine_queue_wait.render(
            &mut s,
            "klaxon_engine_queue_wait_seconds",
            "signal accepted to the engine taking its batch",
        );
        self.alert_handoff.render(
            &mut s,
            "klaxon_alert_handoff_seconds",
            "alerts handed over by the engine to taken by the lifecycle manager",
        );
        self.alert_in_lifecycle.render(
            &mut s,
            "klaxon_alert_lifecycle_seconds",
            "a firing taken by the lifecycle manager to its commit beginning",
        );
        self.delivery.render(&mut s);
        if let Some(rss) = resident_memory_bytes() {
            let _ = writeln!(s, "# HELP process_resident_memory_bytes resident memory size\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}");
        }
        s
    }
}

/// Resident set size from /proc (Linux); `None` elsewhere.
pub(crate) fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe_n(Duration::from_millis(3), 2);
        let mut s = String::new();
        h.render(&mut s, "x", "help");
        assert!(s.contains("x_bucket{le=\"0.0005\"} 1"), "{s}");
        assert!(s.contains("x_bucket{le=\"0.005\"} 3"), "{s}");
        assert!(s.contains("x_bucket{le=\"+Inf\"} 3"), "{s}");
        assert!(s.contains("x_count 3"), "{s}");
    }
}
