//! Criterion benchmark of threshold evaluation: cost per sample with 10,000 series and 1,000
//! rules (BENCHMARKS.md). Samples arrive round-robin, one per series per second of engine
//! time; windows are full (five minutes of warm-up) before measuring.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use klaxon_engine::threshold::workload::{rule_set, samples, time, value, Workload};
use klaxon_engine::threshold::{ThresholdEngine, ThresholdEvent};

const BASE: i64 = 1_700_000_000_000;

fn run(c: &mut Criterion, name: &str, w: Workload) {
    let mut engine = ThresholdEngine::new();
    let mut out: Vec<ThresholdEvent> = Vec::with_capacity(1 << 16);
    engine.activate("default", "bench", None, &rule_set(&w), &mut out);
    let mut sample = samples(&w);
    let mut tick = 0i64;
    let mut second = |engine: &mut ThresholdEngine, out: &mut Vec<ThresholdEvent>| {
        for (k, m) in sample.iter_mut().enumerate() {
            let t = time(&w, BASE, tick, k);
            m.value = value(k, tick);
            engine.process(t, Some(t), m, out);
        }
        tick += 1;
        out.clear();
    };
    // Warm up: every window full (the longest is 5 minutes), every buffer at its size.
    for _ in 0..330 {
        second(&mut engine, &mut out);
    }
    let warm = engine.stats();
    let mut g = c.benchmark_group("threshold");
    g.throughput(Throughput::Elements(w.series() as u64));
    g.sample_size(20);
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            || (),
            |_| second(&mut engine, &mut out),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    let st = engine.stats();
    let events = st.events - warm.events;
    let samples = st.samples - warm.samples;
    assert_eq!(
        events > 0,
        w.firing,
        "workload {name} must change alert states only when asked to"
    );
    eprintln!(
        "{name}: {} series, {} rules, {} pairs, {} points held, {} events in {} measured samples \
         ({:.2} per 1,000), {} deadline evaluations",
        st.series,
        st.rules,
        st.pairs,
        st.points,
        events,
        samples,
        events as f64 * 1_000.0 / samples.max(1) as f64,
        st.timers_fired - warm.timers_fired,
    );
}

fn quiet(c: &mut Criterion) {
    run(c, "10k_series_1000_rules_quiet", Workload::QUIET);
}

fn churn(c: &mut Criterion) {
    run(c, "10k_series_1000_rules_churn", Workload::CHURN);
}

criterion_group!(benches, quiet, churn);
criterion_main!(benches);
