//! Criterion benchmark of the lifecycle core (BENCHMARKS.md): with 10,000 open Alertmanager
//! alerts, the cost per alert of a request that resends every one of them unchanged (taken as
//! quiet, counted in RAM), of the flush that writes them folded, and of a firing that changes
//! an alert's summary (written at once).

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use klaxon_engine::lifecycle::{
    Effects, Input, Labelled, Lifecycle, NoiseConfig, Resend, Settings, Source,
};

const ALERTS: usize = 10_000;

fn alert(i: usize, summary: &str, now: i64) -> Labelled {
    let labels: BTreeMap<String, String> = [
        ("alertname", format!("Alert{}", i % 500)),
        ("instance", format!("host-{}:9100", i % 2_000)),
        ("job", format!("job-{}", i % 50)),
        ("severity", "warning".to_owned()),
        ("series", i.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Labelled::of_labels(
        Source::Alertmanager,
        labels,
        [("summary".to_owned(), summary.to_owned())].into(),
        ("warning", summary),
        now,
    )
}

fn bench(c: &mut Criterion) {
    let mut now = 1_800_000_000_000i64;
    // Nothing resolves while the benchmark runs (it moves time forward).
    let settings = Settings {
        resolve_timeout_ms: 1 << 50,
        ..Settings::default()
    };
    let mut lc = Lifecycle::new(settings, NoiseConfig::default(), 1);
    let mut fx = Effects::new();
    let alerts: Vec<Labelled> = (0..ALERTS)
        .map(|i| alert(i, "disk almost full", now))
        .collect();
    let changed: Vec<Labelled> = (0..ALERTS).map(|i| alert(i, "disk full", now)).collect();
    for a in &alerts {
        lc.apply(now, Input::Labelled(a), &mut fx);
    }
    fx.clear();
    let keys = lc.content_keys();
    let resends: Vec<Resend> = alerts
        .iter()
        .map(|a| Resend {
            fingerprint: a.fingerprint,
            content: keys.key_of(&a.severity, &a.summary, &a.annotations),
            ends_at: a.ends_at,
        })
        .collect();
    let mut g = c.benchmark_group("lifecycle");
    g.throughput(Throughput::Elements(ALERTS as u64));
    g.bench_function("quiet_resends_of_10k_open_alerts", |b| {
        b.iter(|| {
            now += 1;
            let taken = lc.apply(now, Input::Resends(&resends), &mut fx);
            assert_eq!(lc.stats().alerts, ALERTS);
            taken
        })
    });
    g.bench_function("quiet_labelled_firings_then_their_flush", |b| {
        b.iter(|| {
            now += 2_000;
            for a in &alerts {
                lc.apply(now, Input::Labelled(a), &mut fx);
            }
            lc.advance(now + 1_001, &mut fx);
            let n = fx.writes.len();
            assert_eq!(n, ALERTS, "every alert flushed");
            fx.clear();
            n
        })
    });
    let mut flip = false;
    g.bench_function("changing_firings_written_at_once", |b| {
        b.iter(|| {
            now += 1;
            flip = !flip;
            for a in if flip { &changed } else { &alerts } {
                lc.apply(now, Input::Labelled(a), &mut fx);
            }
            let n = fx.writes.len();
            assert_eq!(n, ALERTS, "every firing written");
            fx.clear();
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
