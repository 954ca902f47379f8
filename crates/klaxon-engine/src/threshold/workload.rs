//! Synthetic threshold workloads for the benchmark and the allocation test: `metrics × hosts`
//! series sampled round-robin once per second of engine time, and a mix of rules over them.
//! Not part of the API (hidden from the docs); deterministic, no I/O.

use super::rule::{Aggregation, LabelMatcher, MatchOp, Operator, ThresholdRule, ThresholdRuleSet};
use crate::severity::Severity;
use crate::signal::{Labels, Metric};

/// The shape of a workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub metrics: usize,
    pub hosts: usize,
    /// Rules per metric (10 gives the mix described in BENCHMARKS.md).
    pub rules_per_metric: usize,
    /// Whether thresholds sit inside the values' range (alerts change state) or outside it.
    pub firing: bool,
}

impl Workload {
    /// 100 metrics × 100 hosts = 10,000 series, 1,000 rules, no alert ever holds.
    pub const QUIET: Workload = Workload {
        metrics: 100,
        hosts: 100,
        rules_per_metric: 10,
        firing: false,
    };
    /// The same, with thresholds inside the values' range.
    pub const CHURN: Workload = Workload {
        firing: true,
        ..Workload::QUIET
    };

    pub fn series(&self) -> usize {
        self.metrics * self.hosts
    }
}

/// Rule `j` of metric `i`: aggregations, operators, windows of 1–5 minutes, `for` of 0–1 minute,
/// and matchers that select every host (6 of 10), a quarter of them by `dc` (2 of 10), about a
/// ninth by a pattern (1 of 10) or one host (1 of 10).
pub fn rule_set(w: &Workload) -> ThresholdRuleSet {
    use Aggregation::*;
    use Operator::*;
    let aggs = [Avg, Max, Min, Last, Sum, Count, Rate, P95, Avg, Last];
    let mut rules = Vec::new();
    for i in 0..w.metrics {
        for j in 0..w.rules_per_metric {
            let agg = aggs[j % aggs.len()];
            let window_ms = 60_000 * (1 + (j % 5) as i64);
            let up = (i + j) % 2 == 0;
            let operator = match (j % 3, up) {
                (0, true) => GreaterThan,
                (0, false) => LessThan,
                (1, true) => GreaterEqual,
                (1, false) => LessEqual,
                (_, true) => GreaterThan,
                (_, false) => LessEqual,
            };
            // Values run from 0 to 100; counts to window/1 s; rates a few per second.
            let (inside, outside) = match agg {
                Count => (window_ms as f64 / 1_000.0 - 0.5, 1e9),
                Sum => (50.0 * window_ms as f64 / 1_000.0, 1e12),
                Rate => (0.5, 1e9),
                _ => (if up { 93.0 } else { 7.0 }, 1e9),
            };
            let threshold = match (w.firing, up) {
                (true, _) => inside,
                (false, true) => outside,
                (false, false) => -outside,
            };
            let matchers = match j {
                6 | 7 => vec![label("dc", MatchOp::Equal, &format!("dc-{}", (i + j) % 4))],
                8 => vec![label("host", MatchOp::Matches, "h-1.*")],
                9 => vec![label("host", MatchOp::Equal, &format!("h-{}", i % w.hosts))],
                _ => Vec::new(),
            };
            rules.push(ThresholdRule {
                id: format!("r{i}_{j}"),
                name: format!("rule {j} of metric {i}"),
                description: None,
                metric: metric_name(i),
                matchers,
                threshold,
                operator,
                aggregation: agg,
                window_ms,
                for_ms: 30_000 * (j % 3) as i64,
                severity: Severity::High,
                auto_resolve: true,
                resolve_after_ms: 0,
                enabled: true,
                notification_channels: vec!["websocket".into()],
                escalation_policy: None,
                suppression_rules: Vec::new(),
            });
        }
    }
    ThresholdRuleSet {
        name: Some("bench".into()),
        version: None,
        description: None,
        rules,
    }
}

fn label(name: &str, op: MatchOp, value: &str) -> LabelMatcher {
    LabelMatcher::new(name, op, value).expect("the workload's patterns are valid")
}

fn metric_name(i: usize) -> String {
    format!("system.metric_{i:03}.usage")
}

/// One sample per series, in round-robin order (all hosts of metric 0, then of metric 1, …).
pub fn samples(w: &Workload) -> Vec<Metric> {
    let mut out = Vec::with_capacity(w.series());
    for i in 0..w.metrics {
        for h in 0..w.hosts {
            out.push(Metric {
                name: metric_name(i),
                labels: Labels::from([
                    ("host".to_owned(), format!("h-{h}")),
                    ("dc".to_owned(), format!("dc-{}", h % 4)),
                    ("env".to_owned(), "prod".to_owned()),
                ]),
                value: 0.0,
            });
        }
    }
    out
}

/// The value of series `s` at second `tick`: a slow wave between 0 and 100 plus noise.
pub fn value(s: usize, tick: i64) -> f64 {
    let phase = (s as i64 * 37 + tick) % 600;
    let wave = if phase < 300 { phase } else { 600 - phase } as f64 / 3.0;
    let mut x = (s as u64) << 32 ^ tick as u64;
    x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    wave + (x % 1_000) as f64 / 1_000.0
}

/// The engine time of sample `k` of second `tick`: every series once per second, evenly spread.
pub fn time(w: &Workload, base: i64, tick: i64, k: usize) -> i64 {
    base + tick * 1_000 + (k * 1_000 / w.series()) as i64
}
