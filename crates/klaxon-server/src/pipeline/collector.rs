//! The built-in collector: samples the host's own `system.cpu.usage`, `system.memory.usage`
//! and `system.disk.usage` (percent, label `host`) and sends them to the engine like any other
//! metric sample, so threshold rules such as a `high_cpu_usage` rule work out
//! of the box. Reads `/proc` and `statvfs` (Linux); on other systems the metrics it cannot read
//! are left out. Knows no HTTP and no SQL.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use klaxon_engine::{Body, Labels, Metric, Signal};
use klaxon_store::Store;
use tokio::sync::watch;

use crate::clock::wall_ms;
use crate::pipeline::driver::{Batch, Input};

/// What one sample takes in the engine queue, roughly: the signal and its labels.
const SAMPLE_BYTES: usize = std::mem::size_of::<Signal>() + 128;
use crate::state::AppState;

/// CPU time counters of the first line of `/proc/stat`: (busy, total) in jiffies.
pub(crate) fn parse_cpu(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is already in user and nice).
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Percent of CPU time busy between two readings of [`parse_cpu`].
pub(crate) fn cpu_percent(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let busy = after.0.checked_sub(before.0)?;
    let total = after.1.checked_sub(before.1)?;
    (total > 0).then(|| busy as f64 * 100.0 / total as f64)
}

/// Percent of memory in use from `/proc/meminfo`: (MemTotal − MemAvailable) / MemTotal.
pub(crate) fn parse_memory(meminfo: &str) -> Option<f64> {
    let field = |name: &str| -> Option<f64> {
        let line = meminfo.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    let total = field("MemTotal:")?;
    let available = field("MemAvailable:")?;
    (total > 0.0).then(|| (total - available) * 100.0 / total)
}

/// Percent of the file system of `path` in use, as `df` counts it: used / (used + available to
/// unprivileged users).
pub(crate) fn disk_percent(path: &Path) -> Option<f64> {
    let s = rustix::fs::statvfs(path).ok()?;
    let used = s.f_blocks.checked_sub(s.f_bfree)? as f64;
    let usable = used + s.f_bavail as f64;
    (usable > 0.0).then(|| used * 100.0 / usable)
}

/// The machine's host name, for the `host` label.
pub(crate) fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn sample(name: &str, host: &str, value: f64, ts: i64) -> Signal {
    let mut labels = Labels::new();
    labels.insert("host".to_owned(), host.to_owned());
    Signal {
        ts: Some(ts),
        process: String::new(),
        name: None,
        group: None,
        baseline_scope: None,
        body: Body::Metric(Metric {
            name: name.to_owned(),
            labels,
            value,
        }),
        attrs: None,
    }
}

/// Samples every `every` until shutdown. A sample that finds the engine queue full is skipped
/// (and logged once per episode): the collector never pushes ingest into 429.
pub(crate) async fn run<S: Store + Clone>(
    st: AppState<S>,
    host: String,
    disk: PathBuf,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let read_cpu = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| parse_cpu(&s))
    };
    let mut cpu_before = read_cpu();
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    let mut full = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = wall_ms();
        let mut signals = Vec::with_capacity(3);
        let cpu_now = read_cpu();
        if let (Some(b), Some(a)) = (cpu_before, cpu_now) {
            if let Some(p) = cpu_percent(b, a) {
                signals.push(sample("system.cpu.usage", &host, p, now));
            }
        }
        cpu_before = cpu_now;
        if let Some(p) = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| parse_memory(&s))
        {
            signals.push(sample("system.memory.usage", &host, p, now));
        }
        if let Some(p) = disk_percent(&disk) {
            signals.push(sample("system.disk.usage", &host, p, now));
        }
        if signals.is_empty() {
            continue;
        }
        let n = u32::try_from(signals.len()).unwrap_or(u32::MAX);
        let bytes = signals.len() * SAMPLE_BYTES;
        let Some(permit) = st.try_room(n, bytes) else {
            if !full {
                tracing::warn!("engine queue full: skipping host metric samples until it drains");
            }
            full = true;
            continue;
        };
        full = false;
        st.metrics
            .queue_depth
            .fetch_add(i64::from(n), std::sync::atomic::Ordering::Relaxed);
        st.metrics.queue_bytes.fetch_add(
            i64::try_from(permit.bytes()).unwrap_or(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        let batch = Batch {
            signals,
            received_at: now,
            accepted: Instant::now(),
            durable: None,
            permit,
            in_time: false,
            at: None,
            replay: false,
            committed: None,
        };
        if st.send(Input::Batch(batch)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_usage_is_the_busy_share_of_the_time_between_two_readings() {
        let a = parse_cpu("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").expect("cpu line");
        let b = parse_cpu("cpu  150 0 150 750 150 0 0 0 0 0\n").expect("cpu line");
        assert_eq!(a, (200, 1000));
        assert_eq!(cpu_percent(a, b), Some(50.0));
        assert_eq!(cpu_percent(a, a), None, "no time passed");
        assert_eq!(parse_cpu("intr 1 2 3"), None);
    }

    #[test]
    fn memory_usage_counts_what_is_not_available() {
        let m = "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n";
        assert_eq!(parse_memory(m), Some(75.0));
        assert_eq!(parse_memory("MemTotal: 1000 kB\n"), None);
    }

    #[test]
    fn this_host_reports_all_three_metrics() {
        if !Path::new("/proc/stat").exists() {
            println!("skipped: no /proc on this system");
            return;
        }
        let cpu = std::fs::read_to_string("/proc/stat").expect("read /proc/stat");
        assert!(parse_cpu(&cpu).is_some(), "parse /proc/stat");
        let mem = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
        let p = parse_memory(&mem).expect("parse /proc/meminfo");
        assert!((0.0..=100.0).contains(&p), "{p}");
        let d = disk_percent(Path::new("/")).expect("statvfs /");
        assert!((0.0..=100.0).contains(&d), "{d}");
        assert!(!host_name().is_empty());
    }
}
