//! The server's own metrics: counters, gauges and fixed-bucket histograms, registered once,
//! updated with relaxed atomics (no lock, no allocation per event), rendered in the Prometheus
//! text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Bucket bounds in seconds, shared by every histogram.
const BOUNDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.8,
    2.5, 5.0,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        self.observe_n(d, 1);
    }

    /// Records `n` observations of the same duration (a batch).
    pub fn observe_n(&self, d: Duration, n: u64) {
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
    pub fn totals(&self) -> (u64, f64) {
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
pub struct Metrics {
    pub signals_accepted: AtomicU64,
    pub signals_rejected: AtomicU64,
    pub ingest_throttled: AtomicU64,
    pub queue_depth: AtomicI64,
    pub alerts_fired: AtomicU64,
    pub alerts_throttled: AtomicU64,
    pub trace_stops_ignored: AtomicU64,
    pub timers_fired: AtomicU64,
    pub telemetry_rows: AtomicU64,
    pub telemetry_buffered: AtomicI64,
    pub store_errors: AtomicU64,
    pub open_processes: AtomicU64,
    /// Per signal, evaluation in the engine.
    pub engine_latency: Histogram,
    pub store_commit: Histogram,
    /// Signal accepted → telemetry row committed.
    pub telemetry_lag: Histogram,
    /// Signal accepted → alert committed and published.
    pub alert_publish_latency: Histogram,
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(8192);
        let counters: [(&str, &str, &AtomicU64); 8] = [
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
                "klaxon_alerts_fired_total",
                "alerts emitted by rules",
                &self.alerts_fired,
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
        let _ = writeln!(s, "# HELP klaxon_store_errors_total failed store calls\n# TYPE klaxon_store_errors_total counter\nklaxon_store_errors_total {}", self.store_errors.load(Relaxed));
        let gauges: [(&str, &str, i64); 3] = [
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
        if let Some(rss) = resident_memory_bytes() {
            let _ = writeln!(s, "# HELP process_resident_memory_bytes resident memory size\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}");
        }
        s
    }
}

/// Resident set size from /proc (Linux); `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
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
