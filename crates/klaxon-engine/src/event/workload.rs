//! Workloads for the benchmarks and the allocation tests: a large rule set and a realistic,
//! repeatable stream of marks and traces. Pure data builders; not part of the engine's API.

use crate::event::rule::{Condition, Rule, RuleSet};
use crate::severity::Severity;
use crate::signal::{Body, Monitor, Signal, Trigger};

/// Shape of a benchmark workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub rules: usize,
    pub processes: usize,
    /// Keys (action, context) per process; the first 60 % take marks, the rest traces.
    pub keys_per_process: usize,
    /// One signal in this many fires a rule (0: none fires).
    pub fire_one_in: usize,
}

impl Workload {
    /// Figure (a) of BENCHMARKS.md: 1,000 rules, 1,000 open processes × 10 keys, nothing fires.
    pub const QUIET: Workload = Workload {
        rules: 1000,
        processes: 1000,
        keys_per_process: 10,
        fire_one_in: 0,
    };
    /// Figure (b): the same with 1 % of signals firing.
    pub const ONE_PERCENT: Workload = Workload {
        fire_one_in: 100,
        ..Workload::QUIET
    };
}

const ACTIONS: usize = 100;
const CONTEXTS: usize = 10;

fn action(i: usize) -> String {
    format!("ACTION_{:03}", i % ACTIONS)
}

fn context(i: usize) -> String {
    format!("CTX_{}", i % CONTEXTS)
}

fn rule(
    id: usize,
    trigger: Trigger,
    action: String,
    context: Option<String>,
    op: &str,
    condition: Condition,
) -> Rule {
    Rule {
        id: format!("R{id:04}"),
        trigger,
        action: Some(action),
        context,
        operator: op.to_owned(),
        condition,
        handler: "bench".to_owned(),
        severity: Severity::Medium,
        throttle_ms: 0.0,
        auto_resolve_ms: None,
        metric: None,
    }
}

/// The rule set: every (action, context) pair gets a rule (the last fifth context-free), cycling
/// through the measuring operators with limits no workload signal reaches; plus, when the
/// workload fires, one `ON_EVENT` rule on the `HOT` action.
pub fn rule_set(w: &Workload) -> RuleSet {
    let mut rules = Vec::with_capacity(w.rules + 1);
    for r in 0..w.rules {
        let a = action(r);
        let c = (r < w.rules * 4 / 5).then(|| context(r / ACTIONS));
        let big = 1.0e12;
        let rule = match r % 4 {
            0 => rule(
                r,
                Trigger::MarkEvent,
                a,
                c,
                "MAX_DURATION_MS",
                Condition::MaxDurationMs { limit_ms: big },
            ),
            1 => rule(
                r,
                Trigger::TraceStop,
                a,
                c,
                "MAX_OCCURRENCE",
                Condition::MaxOccurrence { limit: big },
            ),
            2 => rule(
                r,
                Trigger::MarkEvent,
                a,
                c,
                "MAX_GAP_SECONDS",
                Condition::MaxGapSeconds {
                    limit_ms: big,
                    seconds: big / 1000.0,
                },
            ),
            _ => rule(
                r,
                Trigger::TraceStop,
                a,
                c,
                "AVG_DEVIATION_PCT",
                Condition::AvgDeviationPct {
                    pct: 1.0e9,
                    warmup: 3,
                    alpha: 0.1,
                },
            ),
        };
        rules.push(rule);
    }
    if w.fire_one_in > 0 {
        rules.push(rule(
            w.rules,
            Trigger::MarkEvent,
            "HOT".to_owned(),
            None,
            "ON_EVENT",
            Condition::Always,
        ));
    }
    RuleSet {
        name: Some("bench".to_owned()),
        version: None,
        description: None,
        rules,
    }
}

/// Two rounds of signals: every process touches each of its keys once per round; mark keys take
/// a mark, trace keys a trace start in the first round and its stop in the second. Replaying
/// the list over and over (with increasing `ts`) is a steady state.
pub fn signals(w: &Workload) -> Vec<Signal> {
    let marks = w.keys_per_process * 6 / 10;
    let mut out = Vec::with_capacity(2 * w.processes * w.keys_per_process);
    // One process in `fire_one_in / keys_per_process` sends `HOT` instead of its first mark key.
    let hot_every = (w.fire_one_in / w.keys_per_process.max(1)).max(1);
    for round in 0..2 {
        for p in 0..w.processes {
            let process = format!("proc-{p:05}");
            for k in 0..w.keys_per_process {
                let a = action(p + k * 7);
                let c = context(k);
                let body = if w.fire_one_in > 0 && k == 0 && p % hot_every == 0 {
                    Body::Mark(Monitor::new("HOT", None))
                } else if k < marks {
                    Body::Mark(Monitor::new(&a, Some(&c)))
                } else if round == 0 {
                    Body::TraceStart(Monitor::new(&a, Some(&c)))
                } else {
                    Body::TraceStop(Monitor::new(&a, Some(&c)))
                };
                let mut s = Signal::new(process.clone(), Some(0), body);
                s.name = Some(format!("JOB_{}", p % 10));
                out.push(s);
            }
        }
    }
    out
}

/// Starts every process of the workload explicitly at `ts`.
pub fn starts(w: &Workload, ts: i64) -> Vec<Signal> {
    (0..w.processes)
        .map(|p| {
            let mut s = Signal::new(
                format!("proc-{p:05}"),
                Some(ts),
                Body::ProcessStart(Default::default()),
            );
            s.name = Some(format!("JOB_{}", p % 10));
            s
        })
        .collect()
}
