//! The threshold engine: no allocation per sample of a known series in the steady state
//! (windows full, nothing changing state), and bytes held per series and per (rule, series) pair.

use std::sync::atomic::Ordering::Relaxed;

use klaxon_engine::threshold::workload::{rule_set, samples, time, value, Workload};
use klaxon_engine::threshold::{ThresholdEngine, ThresholdEvent};
use klaxon_engine::Metric;

use crate::{ALLOCS, LIVE, SERIAL};

const BASE: i64 = 1_700_000_000_000;

/// A smaller copy of the benchmark's workload: 10 metrics × 30 hosts, 100 rules.
const SMALL: Workload = Workload {
    metrics: 10,
    hosts: 30,
    rules_per_metric: 10,
    firing: false,
};

fn seconds(
    e: &mut ThresholdEngine,
    w: &Workload,
    sample: &mut [Metric],
    ticks: std::ops::Range<i64>,
    out: &mut Vec<ThresholdEvent>,
) -> u64 {
    let mut n = 0;
    for tick in ticks {
        for (k, m) in sample.iter_mut().enumerate() {
            let t = time(w, BASE, tick, k);
            m.value = value(k, tick);
            e.process(t, Some(t), m, out);
            n += 1;
        }
    }
    n
}

#[test]
fn steady_state_allocates_nothing_per_sample() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let w = SMALL;
    let mut e = ThresholdEngine::new();
    let mut out = Vec::with_capacity(1024);
    e.activate("default", "alloc", None, &rule_set(&w), &mut out);
    let mut sample = samples(&w);
    // Windows are at most 5 minutes and the values a 10-minute wave: after two waves every
    // buffer (rings, sorted windows, min/max deques, the deadline heap) has reached its size.
    seconds(&mut e, &w, &mut sample, 0..1_200, &mut out);
    let before = ALLOCS.load(Relaxed);
    let n = seconds(&mut e, &w, &mut sample, 1_200..1_800, &mut out);
    let allocs = ALLOCS.load(Relaxed) - before;
    let st = e.stats();
    println!(
        "threshold steady state: {n} samples over {} series and {} pairs, {allocs} heap allocations",
        st.series, st.pairs
    );
    assert!(
        out.is_empty(),
        "the quiet workload must not change any state"
    );
    assert_eq!(st.samples_evaluated, st.samples, "every sample is taken");
    assert_eq!(
        allocs, 0,
        "{allocs} allocations in {n} steady-state samples"
    );
}

#[test]
fn memory_per_series_and_per_pair() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let w = SMALL;
    let mut e = ThresholdEngine::new();
    let mut out = Vec::with_capacity(1024);
    e.activate("default", "alloc", None, &rule_set(&w), &mut out);
    let mut sample = samples(&w);
    let before = LIVE.load(Relaxed);
    // One sample per series: the series, its pairs and index entries, no window contents yet.
    seconds(&mut e, &w, &mut sample, 0..1, &mut out);
    let empty = LIVE.load(Relaxed) - before;
    // Five minutes at one sample per second: the windows full.
    seconds(&mut e, &w, &mut sample, 1..330, &mut out);
    let full = LIVE.load(Relaxed) - before;
    let st = e.stats();
    let per_series = empty as f64 / st.series as f64;
    let per_point = (full - empty) as f64 / st.points as f64;
    println!(
        "threshold memory: {per_series:.0} bytes per series with its {:.1} pairs before samples \
         accumulate; {:.0} bytes per series with full windows ({} points held, {per_point:.1} \
         bytes per point held, window state included)",
        st.pairs as f64 / st.series as f64,
        full as f64 / st.series as f64,
        st.points,
    );
    assert!(per_series < 4_096.0, "{per_series:.0} bytes per series");
}
