//! Criterion benchmarks of the engine: figures (a) and (b) of BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use klaxon_engine::event::workload::{rule_set, signals, starts, Workload};
use klaxon_engine::{Alert, Engine};

fn run(c: &mut Criterion, name: &str, w: Workload) {
    let mut engine = Engine::new();
    engine.activate("default", "bench", None, &rule_set(&w));
    let mut out: Vec<Alert> = Vec::with_capacity(1024);
    let mut now = 1_000_000i64;
    for s in starts(&w, now) {
        engine.process(now, &s, &mut out);
    }
    let mut sigs = signals(&w);
    // Warm up: every key, baseline and map exists before measuring.
    for _ in 0..3 {
        for s in sigs.iter_mut() {
            now += 1;
            s.ts = Some(now);
            engine.process(now, s, &mut out);
        }
        out.clear();
    }
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(sigs.len() as u64));
    g.sample_size(20);
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            || (),
            |_| {
                for s in sigs.iter_mut() {
                    now += 1;
                    s.ts = Some(now);
                    engine.process(now, s, &mut out);
                }
                out.clear();
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    let st = engine.stats();
    let expected = w.fire_one_in > 0;
    assert_eq!(
        st.alerts > 0,
        expected,
        "workload {name} must fire only when asked to"
    );
    eprintln!(
        "{name}: {} signals, {} alerts, {} open processes, {} keys",
        st.signals, st.alerts, st.open_processes, st.tracked_keys
    );
}

fn quiet(c: &mut Criterion) {
    run(c, "a_1000_rules_no_firing", Workload::QUIET);
}

fn one_percent(c: &mut Criterion) {
    run(c, "b_1000_rules_1pct_firing", Workload::ONE_PERCENT);
}

criterion_group!(benches, quiet, one_percent);
criterion_main!(benches);
