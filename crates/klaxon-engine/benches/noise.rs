//! Criterion benchmark of noise control per alert (BENCHMARKS.md): with 10,000 active silences
//! and 1,000 inhibition rules (1,000 firing sources), the cost of asking, for one alert, which
//! silence mutes it, which maintenance window does, and whether it is inhibited.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use klaxon_engine::matcher::parse_filter;
use klaxon_engine::noise::{
    InhibitRule, Inhibitor, MaintenanceWindow, MatcherSpec, Schedule, Silence, Silences, Windows,
};

const SILENCES: usize = 10_000;
const RULES: usize = 1_000;
const ALERTS: usize = 10_000;

fn labels(i: usize) -> BTreeMap<String, String> {
    [
        ("alertname", format!("Alert{}", i % 500)),
        ("instance", format!("host-{}:9100", i % 2_000)),
        ("job", format!("job-{}", i % 50)),
        (
            "severity",
            ["critical", "warning", "info"][i % 3].to_owned(),
        ),
        ("team", format!("team-{}", i % 20)),
        ("env", ["prod", "staging"][i % 2].to_owned()),
        ("region", format!("region-{}", i % 8)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn spec(name: &str, value: &str, is_regex: bool) -> MatcherSpec {
    MatcherSpec {
        name: name.into(),
        value: value.into(),
        is_regex,
        is_equal: true,
    }
}

fn bench(c: &mut Criterion) {
    let now = 1_800_000_000_000;
    let mut silences = Silences::default();
    for i in 0..SILENCES {
        // Most silences name an alert and narrow it by instance with a regex; one in fifty
        // has no equality matcher at all, so every alert must check it.
        let matchers = if i % 50 == 0 {
            vec![spec("instance", &format!("host-{}:.*", i % 2_000), true)]
        } else {
            vec![
                spec("alertname", &format!("Alert{}", i % 500), false),
                spec(
                    "instance",
                    &format!("host-{}:[0-9]+", (i * 7) % 2_000),
                    true,
                ),
            ]
        };
        silences
            .upsert(Silence {
                id: format!("s{i:05}"),
                matchers,
                starts_at: now - 1_000,
                ends_at: now + 3_600_000,
                created_by: "bench".into(),
                comment: String::new(),
                updated_at: now,
            })
            .expect("valid silence");
    }
    let rules = (0..RULES)
        .map(|i| InhibitRule {
            name: format!("r{i}"),
            source: parse_filter(&format!(
                "{{alertname=\"Alert{}\",severity=\"critical\"}}",
                i % 500
            ))
            .expect("source"),
            target: parse_filter(&format!(
                "{{team=\"team-{}\",severity=~\"warning|info\"}}",
                i % 20
            ))
            .expect("target"),
            equal: vec!["region".into()],
            route: None,
        })
        .collect();
    let mut inhibitor = Inhibitor::new(rules);
    for i in (0..ALERTS).step_by(10) {
        inhibitor.fire(i as i64, &labels(i));
    }
    let windows = Windows::new(
        (0..20)
            .map(|i| MaintenanceWindow {
                name: format!("w{i}"),
                matchers: parse_filter(&format!("{{job=\"job-{i}\",env=\"staging\"}}"))
                    .expect("window"),
                schedule: Schedule::Once {
                    start: now - 10,
                    end: now + 10,
                },
            })
            .collect(),
    );
    let alerts: Vec<BTreeMap<String, String>> = (0..ALERTS).map(labels).collect();
    let (mut silenced, mut inhibited, mut windowed) = (0usize, 0usize, 0usize);
    for (i, l) in alerts.iter().enumerate() {
        silenced += usize::from(silences.muting(l, now).is_some());
        inhibited += usize::from(inhibitor.inhibited(i as i64, l, None).is_some());
        windowed += usize::from(windows.muting(l, &[], now).is_some());
    }
    eprintln!(
        "noise: {SILENCES} silences, {RULES} inhibition rules, 20 windows; of {ALERTS} alerts \
         {silenced} silenced, {inhibited} inhibited, {windowed} in a window"
    );
    let mut g = c.benchmark_group("noise");
    g.throughput(Throughput::Elements(ALERTS as u64));
    g.bench_function("10k_silences_1k_inhibit_rules_per_alert", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (i, l) in alerts.iter().enumerate() {
                n += usize::from(silences.muting(l, now).is_some());
                n += usize::from(inhibitor.inhibited(i as i64, l, None).is_some());
                n += usize::from(windows.muting(l, &[], now).is_some());
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
