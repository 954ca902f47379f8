//! Criterion benchmark of on-call schedules: the shifts of 500 schedules over a year (what a "who
//! is on call" overview or a year of iCalendar feeds costs), and who is on call now in each.
//!
//! The 500 schedules cycle through eight zones (with and without daylight saving time, one with
//! half-hour changes) and mix what real ones hold: every schedule has a weekly rotation of four
//! to seven people handing off on Monday 09:00; one in two adds a daily business-hours layer
//! restricted to weekdays 09:00–18:00; one in three adds a 12-hour layer restricted to nights
//! 22:00–06:00; each has twelve overrides (a day or two of cover, one a month).
//!
//! Run: `cargo bench -p klaxon-engine --bench oncall`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use klaxon_engine::oncall::{
    compile, LayerConfig, OverrideConfig, RestrictionConfig, Schedule, ScheduleConfig,
};

const SCHEDULES: usize = 500;
const ZONES: [&str; 8] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",
    "UTC",
];

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn window(days: Option<&[&str]>, from: &str, to: &str) -> RestrictionConfig {
    RestrictionConfig {
        days: days.map(|d| d.iter().map(|s| (*s).to_owned()).collect()),
        from: from.into(),
        to: to.into(),
    }
}

fn config(i: usize) -> ScheduleConfig {
    let mut layers = vec![LayerConfig {
        users: names(&format!("s{i}-week"), 4 + i % 4),
        shift: "1w".into(),
        handoff: "2025-12-29T09:00:00".into(),
        restrict: Vec::new(),
    }];
    if i % 2 == 0 {
        let weekdays: &[&str] = &["mon", "tue", "wed", "thu", "fri"];
        layers.push(LayerConfig {
            users: names(&format!("s{i}-day"), 3),
            shift: "1d".into(),
            handoff: "2025-12-29T09:00:00".into(),
            restrict: vec![window(Some(weekdays), "09:00", "18:00")],
        });
    }
    if i % 3 == 0 {
        layers.push(LayerConfig {
            users: names(&format!("s{i}-night"), 2),
            shift: "12h".into(),
            handoff: "2025-12-29T22:00:00".into(),
            restrict: vec![window(None, "22:00", "06:00")],
        });
    }
    let overrides = (1..=12)
        .map(|month| OverrideConfig {
            user: format!("s{i}-cover"),
            start: format!("2026-{month:02}-{:02}T08:00:00Z", 1 + (i + month) % 20),
            end: format!(
                "2026-{month:02}-{:02}T20:00:00Z",
                2 + (i + month) % 20 + i % 2
            ),
        })
        .collect();
    ScheduleConfig {
        name: format!("schedule-{i}"),
        time_zone: ZONES[i % ZONES.len()].into(),
        layers,
        overrides,
    }
}

fn ms(s: &str) -> i64 {
    s.parse::<Timestamp>()
        .expect("a valid instant")
        .as_millisecond()
}

fn bench(c: &mut Criterion) {
    let schedules: Vec<Schedule> = (0..SCHEDULES)
        .map(|i| {
            let cfg = config(i);
            let tz = TimeZone::get(&cfg.time_zone).expect("the zone is in the system tzdb");
            compile(&cfg, tz).expect("the bench schedules are valid")
        })
        .collect();
    let (from, until) = (ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z"));
    let total: usize = schedules.iter().map(|s| s.shifts(from, until).len()).sum();
    eprintln!("{SCHEDULES} schedules, {total} shifts in a year");

    let mut g = c.benchmark_group("oncall");
    g.throughput(Throughput::Elements(SCHEDULES as u64));
    g.bench_function("shifts_500_schedules_365_days", |b| {
        b.iter(|| {
            schedules
                .iter()
                .map(|s| s.shifts(from, until).len())
                .sum::<usize>()
        })
    });
    let now = ms("2026-07-15T12:34:56Z");
    g.bench_function("on_call_now_500_schedules", |b| {
        b.iter(|| {
            schedules
                .iter()
                .filter(|s| s.on_call_at(std::hint::black_box(now)).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
