//! Criterion benchmark of the correlator (docs/correlation.md): alerts per second through
//! `Correlator::observe` on one core with about 10,000 open incidents. 5,000 services run in
//! four clusters (20,000 instances); at any time 10,000 of them are failing, each receiving an
//! alert about every 100 s of stream time, and the failing set slides on, so incidents open,
//! resolve and close all the time. Each service calls two quiet backends of its own, so every
//! alert also looks up its topology neighbours. Labels are Kubernetes-style; annotation texts
//! carry per-firing numbers and ids. Each alert resolves a minute after it fires; both events
//! are inside the measured time.
//!
//! The time measured is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so the
//! figure is the cost on one core even on a machine whose cores are shared with other work.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use klaxon_engine::correlate::{
    parse_topology, CorrelationConfig, Correlator, Decision, Event, Firing, Topology,
};

const SERVICES: usize = 5_000;
const BACKENDS: usize = 2 * SERVICES;
const CLUSTERS: usize = 4;
const INSTANCES: usize = SERVICES * CLUSTERS;
const FAILING: usize = 10_000;
/// Label sets per instance (one per alert name).
const VARIANTS: usize = 6;
const POOL: usize = INSTANCES * VARIANTS;
const NAMES: [&str; VARIANTS] = [
    "HighErrorRate",
    "HighLatency",
    "KubePodCrashLooping",
    "TargetDown",
    "SLOBurnRateHigh",
    "KubePodNotReady",
];

/// A pronounceable name per service (`kamiro`, `tesuvane`), so texts tell services apart as
/// real service names do (numbers are per-firing noise to the tokenizer).
fn name(s: usize) -> String {
    const SYL: [&str; 16] = [
        "ka", "mi", "ro", "te", "su", "va", "ne", "lo", "pi", "da", "go", "ze", "bu", "fi", "ha",
        "jo",
    ];
    let mut n = String::new();
    let mut x = s + 16 * 16;
    while x > 0 {
        n.push_str(SYL[x % 16]);
        x /= 16;
    }
    n
}

fn topology() -> Topology {
    let mut doc = String::from(r#"{"services": ["#);
    for b in 0..BACKENDS {
        let _ = write!(
            doc,
            r#"{{"name": "backend-{}", "deployments": [{{"cluster": "c-0"}}, {{"cluster": "c-1"}}, {{"cluster": "c-2"}}, {{"cluster": "c-3"}}]}},"#,
            name(b)
        );
    }
    for s in 0..SERVICES {
        let _ = write!(
            doc,
            r#"{}{{"name": "{}", "namespace": "ns-{}", "depends_on": ["backend-{}", "backend-{}"], "deployments": ["#,
            if s == 0 { "" } else { "," },
            name(s),
            name(s),
            name(2 * s),
            name(2 * s + 1),
        );
        for c in 0..CLUSTERS {
            let _ = write!(
                doc,
                r#"{}{{"cluster": "c-{c}", "hosts": ["node-{c}-{}"]}}"#,
                if c == 0 { "" } else { "," },
                name(s),
            );
        }
        doc.push_str("]}");
    }
    doc.push_str("]}");
    parse_topology(&doc).expect("valid topology")
}

struct Alert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// Pool entry `j`: instance `j % INSTANCES` (service in cluster), alert name `j / INSTANCES`.
fn alert(j: usize) -> Alert {
    let inst = j % INSTANCES;
    let (s, c) = (inst % SERVICES, inst / SERVICES);
    let alertname = NAMES[j / INSTANCES];
    let svc = name(s);
    let labels: BTreeMap<String, String> = [
        ("alertname", alertname.to_owned()),
        ("service", svc.clone()),
        ("cluster", format!("c-{c}")),
        ("namespace", format!("ns-{svc}")),
        ("host", format!("node-{c}-{svc}")),
        (
            "instance",
            format!("10.{}.{}.{}:8080", c, (j >> 8) & 255, j & 255),
        ),
        ("pod", format!("{svc}-{:x}", j % 5)),
        ("severity", ["critical", "warning"][j % 2].to_owned()),
        ("env", "prod".to_owned()),
        ("team", format!("team-{}", s % 40)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let annotations = [
        ("summary", format!("{alertname} on {svc}")),
        (
            "description",
            format!(
                "{svc} in c-{c} reports {}.{}% errors over 5m (request {:08x}-{:04x})",
                j % 97,
                j % 10,
                j.wrapping_mul(2_654_435_761) as u32,
                j % 65_536
            ),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Alert {
        labels,
        annotations,
    }
}

/// Stream time between two alerts.
const SPACING_MS: i64 = 10;

/// The correlator's settings here: defaults, but a resolved incident closes after a minute
/// (not ten), so the open incidents are the failing instances' and few more; and a label set
/// comes round at most twice in a 10-minute noise window, so none looks flapping.
fn config() -> CorrelationConfig {
    CorrelationConfig {
        reopen_ms: 60_000,
        noise_window_ms: 10 * 60_000,
        ..CorrelationConfig::default()
    }
}

const START: i64 = 1_800_000_000_000;

/// Nanoseconds this thread has run on a CPU.
#[allow(unsafe_code)] // One libc call with a valid out-pointer; nothing else is unsafe here.
fn cpu_ns() -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    (rc == 0).then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

struct Stream {
    correlator: Correlator,
    next: u64,
    /// (when, alert) resolutions to come, in time order.
    resolves: VecDeque<(i64, u64)>,
    out: Vec<Decision>,
}

impl Stream {
    /// One alert (and the resolutions due by its start).
    fn step(&mut self, pool: &[Alert]) {
        let i = self.next as usize;
        let now = START + i as i64 * SPACING_MS;
        while let Some(&(at, alert)) = self.resolves.front() {
            if at > now {
                break;
            }
            self.resolves.pop_front();
            self.correlator
                .observe(&Event::Resolved { alert, at }, &mut self.out);
        }
        // The failing instances are a window of 10,000 that slides one instance every 10
        // alerts; within it, alerts go to instances in a scattered order.
        let window = i / 10;
        let inst = (window + (i.wrapping_mul(7_919)) % FAILING) % INSTANCES;
        let a = &pool[inst + INSTANCES * ((i / FAILING) % VARIANTS)];
        let firing = Firing {
            alert: i as u64,
            labels: &a.labels,
            annotations: &a.annotations,
            starts_at: now,
            ends_at: None,
        };
        self.correlator
            .observe(&Event::Firing(firing), &mut self.out);
        self.out.clear();
        self.resolves.push_back((now + 60_000, i as u64));
        self.next += 1;
    }
}

fn bench(c: &mut Criterion) {
    let topology = topology();
    let pool: Vec<Alert> = (0..POOL).map(alert).collect();
    let mut stream = Stream {
        correlator: Correlator::new(config(), Some(topology)).expect("valid config"),
        next: 0,
        resolves: VecDeque::new(),
        out: Vec::with_capacity(16),
    };
    // Warm up into the steady state (the failing window has moved on by 30,000 instances).
    for _ in 0..300_000 {
        stream.step(&pool);
    }
    let open = stream.correlator.stats().open_incidents;
    assert!(
        (9_000..=12_000).contains(&open),
        "{:?}",
        stream.correlator.stats()
    );
    let mut group = c.benchmark_group("correlate");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("observe_10k_open_incidents", |b| {
        b.iter_custom(|iters| {
            let (cpu, wall) = (cpu_ns(), Instant::now());
            for _ in 0..iters {
                stream.step(&pool);
            }
            match (cpu, cpu_ns()) {
                (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
                _ => wall.elapsed(),
            }
        });
    });
    group.finish();
    let stats = stream.correlator.stats();
    assert!(
        (9_000..=12_000).contains(&stats.open_incidents),
        "{stats:?}"
    );
    eprintln!("after the run: {stats:?}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
