//! The alert reads at a million alerts: fills a SQLite store with realistic alerts (30 days,
//! mostly closed or resolved, a few thousand open, skewed names, severities, sources and
//! labels) through `apply_alert_changes`, then prints p50/p99/max latency of the summary and of
//! first pages of the history under each filter, with the plan each history query runs.
//!
//! `cargo bench -p klaxon-store --bench history`
//!
//! Environment: `KLAXON_BENCH_DIR` (default: the system temp directory; use the disk the server
//! will use), `KLAXON_BENCH_ALERTS` (default 1,000,000), `KLAXON_BENCH_RUNS` (default 200),
//! `KLAXON_BENCH_KEEP=1` keeps the database and reuses it on the next run (skipping the fill).
#![allow(clippy::unwrap_used)] // bench

#[path = "../tests/it/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use harness::remove_db;
use klaxon_engine::lifecycle::State;
use klaxon_store::conformance::{insert, labelled};
use klaxon_store::sqlite::SqliteStore;
use klaxon_store::{AlertChange, HistoryQuery, Source, Store, StoredAlert, TrendQuery};

const DAY: i64 = 86_400_000;
/// The end of the 30 days the alerts span (epoch ms).
const END: i64 = 1_767_225_600_000;
const START: i64 = END - 30 * DAY;
/// Inserts per `apply_alert_changes` call while filling.
const BATCH: usize = 10_000;

const BASES: [&str; 40] = [
    "HighCPUUsage",
    "DiskFull",
    "DiskIOSaturated",
    "MemoryPressure",
    "OOMKilled",
    "PodCrashLooping",
    "NodeNotReady",
    "HighLatency",
    "ErrorRateHigh",
    "Http5xx",
    "CertificateExpiring",
    "TargetDown",
    "ReplicationLag",
    "QueueBacklog",
    "SlowQueries",
    "ConnectionPoolExhausted",
    "GCPauseLong",
    "ThreadStarvation",
    "NetworkErrors",
    "PacketLoss",
    "DNSFailures",
    "BackupFailed",
    "CronMissed",
    "JobFailed",
    "DeadlockDetected",
    "CacheHitRateLow",
    "SwapUsageHigh",
    "InodeExhaustion",
    "ClockSkew",
    "LeaderElection",
    "KafkaConsumerLag",
    "RedisEvictions",
    "APIThrottled",
    "LoginFailures",
    "PaymentTimeouts",
    "EmailBounces",
    "ThermalThrottle",
    "FanFailure",
    "PowerSupply",
    "RaidDegraded",
];
const JOBS: usize = 25;
const TEAMS: [&str; 12] = [
    "payments", "search", "checkout", "identity", "platform", "storage", "network", "data",
    "mobile", "web", "infra", "security",
];
const REGIONS: [&str; 6] = [
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-south-1",
    "sa-east-1",
];
const HOSTS: u64 = 2_000;

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Exponential with this mean.
    fn exp(&mut self, mean: f64) -> i64 {
        (-mean * (1.0 - self.unit()).ln()) as i64
    }

    /// One of `weights.len()` choices with these weights (summing to 1).
    fn pick(&mut self, weights: &[f64]) -> usize {
        let mut u = self.unit();
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len() - 1
    }
}

/// Alert `id` of `n`, first seen in order over the 30 days.
fn make(rng: &mut Rng, id: i64, n: i64) -> StoredAlert {
    let step = (END - START) / n;
    let first_seen = START + (id - 1) * step + rng.below(step.max(1) as u64) as i64;
    // 400 names, the first ones far more common.
    let name_idx = (400.0 * rng.unit().powi(2)) as usize;
    let base = BASES[name_idx % BASES.len()];
    let name = format!("{base}{}", name_idx / BASES.len());
    let severity =
        ["critical", "high", "medium", "low", "info"][rng.pick(&[0.05, 0.2, 0.3, 0.3, 0.15])];
    let source = [
        Source::Alertmanager,
        Source::Rule,
        Source::Threshold,
        Source::Api,
    ][rng.pick(&[0.55, 0.3, 0.12, 0.03])];
    let host = format!("host-{:04}", rng.below(HOSTS));
    let job = format!("job-{}", rng.below(JOBS as u64));
    let env = ["prod", "staging", "dev"][rng.pick(&[0.6, 0.25, 0.15])];
    let team = TEAMS[rng.below(TEAMS.len() as u64) as usize];
    let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
    let value = (rng.unit() * 100.0 * 10.0).round() / 10.0;
    let labels: Vec<(&str, &str)> = match source {
        Source::Rule => vec![
            ("rule_set", "rails"),
            ("group", "default"),
            ("process_name", &job),
            ("scope", &host),
            ("action", "TRACK"),
            ("handler", "pager"),
            ("severity", severity),
        ],
        _ => vec![
            ("instance", &host),
            ("job", &job),
            ("env", env),
            ("team", team),
            ("region", region),
            ("severity", severity),
        ],
    };
    let mut a = labelled(id, &name, severity, first_seen, &labels);
    a.source = source;
    a.fingerprint = format!("{:016x}", rng.next());
    a.message = format!("{base} on {host}: {value} above the limit");
    a.annotations.insert("summary".into(), a.message.clone());
    a.annotations.insert(
        "runbook_url".into(),
        format!("https://runbooks.example.org/{base}"),
    );
    a.value = Some(value);
    a.generator_url = Some(format!("http://prometheus:9090/graph?g0.expr={base}"));
    if source == Source::Rule {
        a.rule_id = name.clone();
        a.rule_set = "rails".into();
        a.group = "default".into();
        a.process_name = job.clone();
        a.scope = host.clone();
        a.action = "TRACK".into();
        a.handler = "pager".into();
        a.trigger = "trace_stop".into();
        a.operator = "MAX_DURATION_MS".into();
    }
    a.occurrences = 1 + rng.exp(2.0) as u64;
    a.last_seen = first_seen + rng.exp(600_000.0);
    // The last two days hold most open alerts; older ones are closed but for a few stale ones.
    let recent = first_seen > END - 2 * DAY;
    let open = rng.unit() < if recent { 0.04 } else { 0.000_5 };
    if open {
        a.state = [
            State::Pending,
            State::Active,
            State::Acknowledged,
            State::Suppressed,
        ][rng.pick(&[0.15, 0.5, 0.25, 0.1])];
        if a.state == State::Acknowledged {
            a.acknowledged_at = Some(first_seen + rng.exp(300_000.0));
            a.acknowledged_by = Some("oncall".into());
        }
        if a.state == State::Suppressed {
            a.suppressed_until = Some(END + DAY);
        }
    } else {
        if rng.unit() < 0.6 {
            a.acknowledged_at = Some(first_seen + rng.exp(300_000.0));
            a.acknowledged_by = Some("oncall".into());
        }
        let resolved_at = a.acknowledged_at.unwrap_or(first_seen) + rng.exp(2_700_000.0);
        a.resolved_at = Some(resolved_at);
        a.resolved_by = Some("lifecycle".into());
        let resolved = rng.unit() < if recent { 0.3 } else { 0.01 };
        a.state = if resolved {
            State::Resolved
        } else {
            State::Closed
        };
        if !resolved {
            a.closed_at = Some(resolved_at + 3_600_000);
        }
    }
    a.updated_at = a.closed_at.or(a.resolved_at).unwrap_or(a.last_seen);
    a.created_at = first_seen;
    a
}

fn db_path() -> PathBuf {
    let dir = std::env::var_os("KLAXON_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let keep = std::env::var_os("KLAXON_BENCH_KEEP").is_some();
    let name = if keep {
        "klaxon-store-history-bench.db".to_owned()
    } else {
        format!("klaxon-store-history-bench-{}.db", std::process::id())
    };
    dir.join(name)
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

async fn fill(store: &SqliteStore, n: i64) {
    let mut rng = Rng(42);
    let start = Instant::now();
    let mut batch: Vec<AlertChange> = Vec::with_capacity(BATCH);
    for id in 1..=n {
        batch.push(insert(make(&mut rng, id, n)));
        if batch.len() == BATCH || id == n {
            store
                .apply_alert_changes(std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "filled {n} alerts in {secs:.1} s ({:.0} alerts/s, {BATCH} per apply_alert_changes)",
        n as f64 / secs
    );
}

/// p50, p99 and max of `runs` calls of `f` (the i-th call gets i).
async fn measure<F, Fut, T>(what: &str, runs: usize, mut f: F) -> T
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for i in 0..runs {
        let start = Instant::now();
        let out = f(i).await;
        times.push(start.elapsed());
        last = Some(out);
    }
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<58} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(*times.last().unwrap())
    );
    last.unwrap()
}

/// A named history query; the i-th run gets `make(i)`.
type Case = (&'static str, Box<dyn Fn(usize) -> HistoryQuery>);

fn page() -> HistoryQuery {
    HistoryQuery {
        limit: 50,
        ..HistoryQuery::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = i64::try_from(env_number("KLAXON_BENCH_ALERTS", 1_000_000)).unwrap();
    let runs = env_number("KLAXON_BENCH_RUNS", 200);
    let keep = std::env::var_os("KLAXON_BENCH_KEEP").is_some();
    let path = db_path();
    println!("database: {}", path.display());
    rt.block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        let have = store.max_alert_id().await.unwrap();
        if have != n {
            store.close().await.unwrap();
            drop(store);
            remove_db(&path);
            let store = SqliteStore::open(&path).unwrap();
            fill(&store, n).await;
            store.close().await.unwrap();
        } else {
            println!("reusing {have} alerts");
            store.close().await.unwrap();
        }
    });
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| {
            let mut p = path.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(PathBuf::from(p)).ok().map(|m| m.len())
        })
        .sum();
    println!("database size: {:.0} MB", size as f64 / 1e6);

    rt.block_on(async {
        // Reopened, as a restarted server would read it (the page cache of the OS stays warm).
        let store = SqliteStore::open(&path).unwrap();
        let s = measure("summary", runs, |_| store.alert_summary())
            .await
            .unwrap();
        println!(
            "  {} alerts: {:?}; open by severity {:?}",
            s.total, s.by_state, s.open_by_severity
        );

        let hosts: Vec<String> = (0..runs)
            .map(|i| format!("host-{:04}", (i * 7919) % HOSTS as usize))
            .collect();
        let active_high = HistoryQuery {
            states: vec![State::Active],
            severities: strings(&["high"]),
            ..page()
        };
        let cases: Vec<Case> = vec![
            ("history: no filter", Box::new(|_| page())),
            (
                "history: state=active & severity=high",
                Box::new(move |_| active_high.clone()),
            ),
            (
                "history: open states (4) & severity=critical",
                Box::new(|_| HistoryQuery {
                    states: vec![
                        State::Pending,
                        State::Active,
                        State::Acknowledged,
                        State::Suppressed,
                    ],
                    severities: strings(&["critical"]),
                    ..page()
                }),
            ),
            (
                "history: state=closed",
                Box::new(|_| HistoryQuery {
                    states: vec![State::Closed],
                    ..page()
                }),
            ),
            (
                "history: label instance=host-NNNN (0.05 %, varies)",
                Box::new({
                    let hosts = hosts.clone();
                    move |i| HistoryQuery {
                        labels: vec![("instance".into(), hosts[i].clone())],
                        ..page()
                    }
                }),
            ),
            (
                "history: label env=prod (33 %)",
                Box::new(|_| HistoryQuery {
                    labels: vec![("env".into(), "prod".into())],
                    ..page()
                }),
            ),
            (
                "history: label team=payments & state=active",
                Box::new(|_| HistoryQuery {
                    labels: vec![("team".into(), "payments".into())],
                    states: vec![State::Active],
                    ..page()
                }),
            ),
            (
                "history: labels env=staging & region=sa-east-1 & job=job-7",
                Box::new(|_| HistoryQuery {
                    labels: vec![
                        ("env".into(), "staging".into()),
                        ("region".into(), "sa-east-1".into()),
                        ("job".into(), "job-7".into()),
                    ],
                    ..page()
                }),
            ),
            (
                "history: text \"host-NNNN\" (rare, varies)",
                Box::new({
                    let hosts = hosts.clone();
                    move |i| HistoryQuery {
                        text: Some(hosts[i].clone()),
                        ..page()
                    }
                }),
            ),
            (
                "history: text \"diskfull\" (common)",
                Box::new(|_| HistoryQuery {
                    text: Some("diskfull".into()),
                    ..page()
                }),
            ),
            (
                "history: text \"RaidDegraded9\" (rarest name, 0.02 %)",
                Box::new(|_| HistoryQuery {
                    text: Some("RaidDegraded9".into()),
                    ..page()
                }),
            ),
            (
                "history: text \"no such words\" (no match)",
                Box::new(|_| HistoryQuery {
                    text: Some("no such words".into()),
                    ..page()
                }),
            ),
            (
                "history: text \"cpu\" & state=active",
                Box::new(|_| HistoryQuery {
                    text: Some("cpu".into()),
                    states: vec![State::Active],
                    ..page()
                }),
            ),
            (
                "history: text \"host-NNNN\" & state=resolved",
                Box::new({
                    let hosts = hosts.clone();
                    move |i| HistoryQuery {
                        text: Some(hosts[i].clone()),
                        states: vec![State::Resolved],
                        ..page()
                    }
                }),
            ),
            (
                "history: text \"payments\" & label env=prod & severity=high",
                Box::new(|_| HistoryQuery {
                    text: Some("payments".into()),
                    labels: vec![("env".into(), "prod".into())],
                    severities: strings(&["high"]),
                    ..page()
                }),
            ),
            (
                "history: text \"io\" (2 chars, no index)",
                Box::new(|_| HistoryQuery {
                    text: Some("io".into()),
                    ..page()
                }),
            ),
            (
                "history: name=HighCPUUsage0 & severity=critical",
                Box::new(|_| HistoryQuery {
                    name: Some("HighCPUUsage0".into()),
                    severities: strings(&["critical"]),
                    ..page()
                }),
            ),
            (
                "history: source=api & severity=high",
                Box::new(|_| HistoryQuery {
                    source: Some(Source::Api),
                    severities: strings(&["high"]),
                    ..page()
                }),
            ),
            (
                "history: first_seen in one hour 10 days ago",
                Box::new(|_| HistoryQuery {
                    from: Some(END - 10 * DAY),
                    to: Some(END - 10 * DAY + 3_600_000),
                    ..page()
                }),
            ),
            (
                "history: first_seen in 20 days up to 10 days ago",
                Box::new(|_| HistoryQuery {
                    from: Some(START),
                    to: Some(END - 10 * DAY),
                    ..page()
                }),
            ),
        ];
        for (what, make) in &cases {
            let plan = store.explain_history(make(0)).await.unwrap();
            let got = measure(what, runs, |i| store.alert_history(make(i)))
                .await
                .unwrap();
            println!(
                "  {} alerts; plan {}",
                got.len(),
                plan.replace('\n', "\n  ")
            );
        }
        // A later page: 20 pages down state=active & severity=high, via the cursor.
        let mut q = HistoryQuery {
            states: vec![State::Active],
            severities: strings(&["high"]),
            ..page()
        };
        for _ in 0..20 {
            let got = store.alert_history(q.clone()).await.unwrap();
            q.before_id = got.last().map(|a| a.id);
        }
        measure(
            "history: state=active & severity=high, page 21",
            runs,
            |_| store.alert_history(q.clone()),
        )
        .await
        .unwrap();

        let few = runs.min(20);
        measure("detail of one alert (50 occurrences)", runs, |i| {
            store.alert_detail(1 + (i as i64 * 4_999) % n, 50)
        })
        .await
        .unwrap();
        let p = measure("performance, last 24 h", few, |_| {
            store.alert_performance(END - DAY, END)
        })
        .await
        .unwrap();
        println!("  {p:?}");
        let p = measure("performance, 30 days", few, |_| {
            store.alert_performance(START, END)
        })
        .await
        .unwrap();
        println!("  {p:?}");
        let t = measure("trends, last 24 h by hour", few, |_| {
            store.alert_trends(TrendQuery {
                from: END - DAY,
                to: END,
                bucket_ms: 3_600_000,
            })
        })
        .await
        .unwrap();
        println!("  {} buckets", t.len());
        let t = measure("trends, 30 days by day", few, |_| {
            store.alert_trends(TrendQuery {
                from: START,
                to: END,
                bucket_ms: DAY,
            })
        })
        .await
        .unwrap();
        println!("  {} buckets", t.len());
        let open = measure("load_open_alerts", few, |_| store.load_open_alerts())
            .await
            .unwrap();
        println!("  {} open alerts", open.len());
        store.close().await.unwrap();
    });
    if !keep {
        remove_db(&path);
    }
}
