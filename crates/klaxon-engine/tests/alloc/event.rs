//! The event engine: zero allocations per signal in the steady state of workload (a), and bytes
//! per tracked key and per open process (figure (c) of BENCHMARKS.md).

use std::sync::atomic::Ordering::Relaxed;

use klaxon_engine::event::workload::{rule_set, signals, starts, Workload};
use klaxon_engine::{Alert, Engine};

use crate::{ALLOCS, LIVE, SERIAL};

type Warmed = (Engine, Vec<klaxon_engine::Signal>, i64, Vec<Alert>);

fn warmed(w: Workload) -> Warmed {
    let mut engine = Engine::new();
    engine.activate("default", "bench", None, &rule_set(&w));
    let mut out = Vec::with_capacity(4096);
    let mut now = 1_000_000;
    for s in starts(&w, now) {
        engine.process(now, &s, &mut out);
    }
    let mut sigs = signals(&w);
    for _ in 0..3 {
        for s in sigs.iter_mut() {
            now += 1;
            s.ts = Some(now);
            engine.process(now, s, &mut out);
        }
    }
    out.clear();
    (engine, sigs, now, out)
}

#[test]
fn steady_state_of_workload_a_allocates_nothing_per_signal() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut engine, mut sigs, mut now, mut out) = warmed(Workload::QUIET);
    let before = ALLOCS.load(Relaxed);
    let mut n = 0u64;
    for _ in 0..3 {
        for s in sigs.iter_mut() {
            now += 1;
            s.ts = Some(now);
            engine.process(now, s, &mut out);
            n += 1;
        }
    }
    let allocs = ALLOCS.load(Relaxed) - before;
    println!("workload (a): {n} signals, {allocs} heap allocations");
    assert!(out.is_empty(), "workload (a) must not fire");
    assert_eq!(
        allocs, 0,
        "{allocs} allocations in {n} steady-state signals"
    );
}

#[test]
fn memory_per_tracked_key_and_per_open_process() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let w = Workload::QUIET;
    let mut engine = Engine::new();
    engine.activate("default", "bench", None, &rule_set(&w));
    let mut out = Vec::with_capacity(4096);
    // Intern the vocabulary (actions, contexts, process names) through one throw-away run per
    // name, so that only the state of runs and keys is measured.
    let mut sigs = signals(&w);
    for s in sigs.iter_mut() {
        let real = std::mem::replace(&mut s.process, "warm-up".to_owned());
        s.ts = Some(0);
        engine.process(0, s, &mut out);
        s.process = real;
    }
    let stop = klaxon_engine::Signal::new(
        "warm-up",
        Some(0),
        klaxon_engine::Body::ProcessStop(Default::default()),
    );
    engine.process(0, &stop, &mut out);

    let before_runs = LIVE.load(Relaxed);
    for s in starts(&w, 1) {
        engine.process(1, &s, &mut out);
    }
    let run_bytes = LIVE.load(Relaxed) - before_runs;
    let before_keys = LIVE.load(Relaxed);
    for s in sigs.iter_mut().take(w.processes * w.keys_per_process) {
        s.ts = Some(2);
        engine.process(2, s, &mut out);
    }
    let keys = engine.stats().tracked_keys;
    let key_bytes = LIVE.load(Relaxed) - before_keys;
    let per_key = key_bytes as f64 / keys as f64;
    let per_run = run_bytes as f64 / w.processes as f64;
    println!(
        "memory: {per_key:.0} bytes per tracked key ({keys} keys); {per_run:.0} bytes per open process without keys, {:.0} with its {} keys",
        per_run + key_bytes as f64 / w.processes as f64,
        w.keys_per_process
    );
    assert_eq!(keys, w.processes * w.keys_per_process);
    assert!(per_key <= 200.0, "{per_key:.0} bytes per key, target 200");
}

/// The lifecycle in the steady state of a Prometheus-like sender: every open alert resent in
/// every request, nothing changing. A resend, and the flush that writes the quiet ones, must
/// allocate nothing (the answer of a request is its one `Vec<bool>`).
#[test]
fn quiet_resends_and_their_flush_allocate_nothing_per_resend() {
    use klaxon_engine::lifecycle::{
        Answer, Effects, Input, Labelled, Lifecycle, NoiseConfig, Resend, Settings, Source,
    };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const ALERTS: usize = 2_000;
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 7);
    let mut fx = Effects::new();
    let mut now = 1_700_000_000_000;
    let before = LIVE.load(Relaxed);
    let mut resends = Vec::with_capacity(ALERTS);
    for i in 0..ALERTS {
        let labels: std::collections::BTreeMap<String, String> = [
            ("alertname".to_owned(), format!("Alert{}", i % 50)),
            ("instance".to_owned(), format!("host-{i}:9100")),
        ]
        .into();
        let annotations = [("summary".to_owned(), "disk almost full".to_owned())].into();
        let l = Labelled::of_labels(
            Source::Alertmanager,
            labels,
            annotations,
            ("warning", "disk almost full"),
            now,
        );
        lc.apply(now, Input::Labelled(&l), &mut fx);
        let content = lc
            .content_keys()
            .key_of(&l.severity, &l.summary, &l.annotations);
        resends.push(Resend {
            fingerprint: l.fingerprint,
            content,
            ends_at: None,
        });
    }
    fx.clear();
    let held = LIVE.load(Relaxed) - before;
    let round = |lc: &mut Lifecycle, fx: &mut Effects, now: &mut i64| {
        *now += 1_500;
        let taken = lc.apply(*now, Input::Resends(&resends), fx);
        lc.advance(*now + 1_001, fx);
        fx.clear();
        taken
    };
    for _ in 0..3 {
        round(&mut lc, &mut fx, &mut now);
    }
    let start = ALLOCS.load(Relaxed);
    let rounds = 5;
    for _ in 0..rounds {
        let taken = round(&mut lc, &mut fx, &mut now);
        assert!(matches!(&taken, Answer::Taken(v) if v.len() == ALERTS && v.iter().all(|t| *t)));
    }
    let allocs = ALLOCS.load(Relaxed) - start;
    println!(
        "lifecycle: {} quiet resends and {rounds} flushes, {allocs} heap allocations; {:.0} bytes per held alert",
        rounds * ALERTS,
        held as f64 / ALERTS as f64
    );
    // One answer per request (its Vec<bool>), nothing per resend or per flushed occurrence.
    assert!(
        allocs <= rounds,
        "{allocs} allocations in {rounds} requests of {ALERTS}"
    );
}
