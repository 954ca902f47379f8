//! Property tests over random signal streams against a fixed rule set that exercises most
//! operators, timers included: determinism, batching, wire key order and fingerprint identity.

use std::collections::HashMap;

use crate::common::*;
use klaxon_engine::fingerprint;
use klaxon_engine::wire::{parse_signal, signal_to_value};
use proptest::prelude::*;

fn rule_set() -> String {
    rules([
        rule("M_ON", "MARK_EVENT", "A", "ON_EVENT", "")
            .ctx("C1")
            .throttle(1.0),
        rule("M_PRE", "MARK_EVENT", "A", "PRECEDED_BY", "B"),
        rule(
            "M_PREW",
            "MARK_EVENT",
            "B",
            "PRECEDED_BY_WITHIN_MS",
            "A|500",
        ),
        rule("M_GAP", "MARK_EVENT", "A", "MAX_GAP_SECONDS", "0.8"),
        rule("M_DUR", "MARK_EVENT", "A", "MAX_DURATION_MS", "600"),
        rule("M_OCC", "MARK_EVENT", "B", "MAX_OCCURRENCE", "3"),
        rule("M_AVG", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50|2|0.5"),
        rule(
            "M_FOL",
            "MARK_EVENT",
            "A",
            "FOLLOWED_BY_WITHIN_MS",
            "B|1000",
        ),
        rule(
            "M_HB",
            "MARK_EVENT",
            "B",
            "FOLLOWED_BY_WITHIN_MS",
            "B|C1|1500",
        )
        .throttle(2.0),
        rule("TS_OPEN", "TRACE_START", "T", "MAX_OPEN_MS", "1200"),
        rule("TS_GAP", "TRACE_START", "T", "MAX_GAP_SECONDS", "1"),
        rule("TS_PRE", "TRACE_START", "T", "PRECEDED_BY", "A"),
        rule("TE_DUR", "TRACE_STOP", "T", "MAX_DURATION_MS", "700"),
        rule("TE_AVG", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "20|1"),
        rule(
            "TE_FOL",
            "TRACE_STOP",
            "T",
            "FOLLOWED_BY_WITHIN_MS",
            "A|800",
        ),
        rule("PS_ON", "PROCESS_START", "job", "ON_START", ""),
        rule("PS_SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "2").throttle(3.0),
        rule("PS_RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "5000"),
        rule(
            "PS_FOL",
            "PROCESS_START",
            "job",
            "FOLLOWED_BY_WITHIN_MS",
            "A|1000",
        ),
        rule("PS_SIL_ETL", "PROCESS_START", "etl", "SILENCE_SECONDS", "1"),
        rule("PU_RT", "PROCESS_UPDATE", "job", "RUNTIME_EXCEEDED", "3000"),
        rule("PU_ST", "PROCESS_UPDATE", "job", "STATUS_EQUALS", "3"),
        rule("PU_OCC", "PROCESS_UPDATE", "job", "MAX_OCCURRENCE", "4"),
        rule("PU_INFO", "PROCESS_UPDATE", "job", "INFO_CONTAINS", "bad"),
        rule("PU_PRE", "PROCESS_UPDATE", "job", "PRECEDED_BY", "A"),
        rule("PE_LEFT", "PROCESS_STOP", "job", "STEPS_LEFT_HIGH", "2"),
        rule("PE_RATE", "PROCESS_STOP", "job", "SUCCESS_RATE_LOW", "50"),
        rule(
            "PE_MRT",
            "PROCESS_STOP",
            "job",
            "MAX_RUNTIME_EXCEEDED",
            "4000",
        ),
        rule("L_ERR", "LOGGING", "", "SEVERITY", "ERROR"),
        rule("L_DISK", "LOGGING", "", "LOG_CONTAINS", "WARN|disk"),
    ])
}

const PROCS: [&str; 3] = ["p1", "p2", "p3"];
const ACTIONS: [&str; 3] = ["A", "B", "T"];
const CTXS: [&str; 3] = ["", "C1", "C2"];
const NAMES: [&str; 2] = ["job", "etl"];
const SCOPES: [Option<&str>; 3] = [None, Some("#NONE"), Some("shared")];
const LEVELS: [Level; 5] = [
    Level::Error,
    Level::Warn,
    Level::Monitor,
    Level::Info,
    Level::Debug,
];
const INFOS: [&str; 3] = ["ok", "bad things", "Very BAD"];
const MSGS: [&str; 3] = ["disk full", "all fine", "Disk slow"];

/// One random step: (kind, process, action index, context, dt ms, back-dated?, untimed?, small int).
type Step = (u8, usize, usize, usize, i64, bool, bool, u8);

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..16,
        0..PROCS.len(),
        0usize..4,
        0..CTXS.len(),
        prop_oneof![3 => 0i64..400, 2 => 400i64..2500, 1 => Just(0i64)],
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.05),
        any::<u8>(),
    )
}

/// Builds a signal stream; signal times grow by `dt`, some are back-dated, a few have no `ts`.
fn build(steps: &[Step]) -> Vec<Signal> {
    let mut t = T0;
    let mut out = Vec::with_capacity(steps.len());
    for &(kind, p, a, c, dt, back, untimed, n) in steps {
        t += dt;
        let ts = if back { t - 700 } else { t };
        let (p, c) = (PROCS[p], CTXS[c]);
        // Marks spread over every action; traces are mostly of T, so some complete.
        let (m, tr) = (ACTIONS[a % 3], if a < 3 { "T" } else { "A" });
        let small = i64::from(n % 8);
        let mut s = match kind {
            0..=4 => mark(p, ts, m, c),
            5 | 6 => ts_(p, ts, tr, c),
            7 | 8 => te(p, ts, tr, c),
            9 => {
                let s = start(p, ts, NAMES[usize::from(n % 2)], pf().todo(small));
                match SCOPES[usize::from(n / 2 % 3)] {
                    Some(scope) => s.scope(scope),
                    None => s,
                }
            }
            10 | 11 => {
                let f = match n % 4 {
                    0 => pf().status(i64::from(n / 4 % 4)),
                    1 => pf().info(INFOS[usize::from(n / 4 % 3)]),
                    2 => pf().step(1),
                    _ => pf().done(small).todo(small + 2),
                };
                update(p, ts, f)
            }
            12 => update(p, ts, pf().step(1)),
            13 => stop(p, ts, pf().done(small)),
            _ => log(
                p,
                ts,
                LEVELS[usize::from(n % 5)],
                MSGS[usize::from(n / 5 % 3)],
            ),
        };
        if untimed {
            s = s.untimed();
        }
        out.push(s);
    }
    out
}

/// Replays like `klaxon replay`: engine time = the largest ts so far; then advances well past
/// every deadline. `batch` > 0 adds `advance(now)` calls at every `batch` signals.
fn replay(set: &str, signals: &[Signal], batch: usize) -> Vec<Alert> {
    let mut run = Run::new(set);
    for (i, s) in signals.iter().enumerate() {
        run.send(s);
        if batch > 0 && (i + 1) % batch == 0 {
            let now = run.engine.now();
            assert!(
                run.advance(now).is_empty(),
                "advance(now) at a batch boundary fired something"
            );
            assert_eq!(run.engine.now(), now);
        }
    }
    let end = run.engine.now().saturating_add(60_000);
    run.advance(end);
    run.alerts
}

/// The JSON text of `s` with its keys in the order given by `seed`.
fn permuted_line(s: &Signal, seed: u64) -> String {
    let serde_json::Value::Object(map) = signal_to_value(s) else {
        unreachable!("a signal is an object")
    };
    let mut pairs: Vec<(String, serde_json::Value)> = map.into_iter().collect();
    let mut x = seed | 1;
    for i in (1..pairs.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = usize::try_from(x % (i as u64 + 1)).expect("small");
        pairs.swap(i, j);
    }
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// (a) The same input twice gives identical alerts (and identical JSON lines).
    #[test]
    fn same_input_same_alerts(steps in prop::collection::vec(step(), 1..120)) {
        let set = rule_set();
        let signals = build(&steps);
        let a = replay(&set, &signals, 0);
        let b = replay(&set, &signals, 0);
        prop_assert_eq!(lines(&a), lines(&b));
        prop_assert_eq!(a, b);
    }

    /// (b) Batch sizes, with `advance(now)` at every batch boundary, change nothing.
    #[test]
    fn batching_changes_nothing(steps in prop::collection::vec(step(), 1..120), batch in 1usize..17) {
        let set = rule_set();
        let signals = build(&steps);
        let straight = replay(&set, &signals, 0);
        prop_assert_eq!(&replay(&set, &signals, batch), &straight);
        prop_assert_eq!(&replay(&set, &signals, 1), &straight);
    }

    /// (c) The key order of a signal line changes neither the parsed signal nor the alerts.
    #[test]
    fn key_order_changes_nothing(
        steps in prop::collection::vec(step(), 1..80),
        seeds in prop::collection::vec(any::<u64>(), 80),
    ) {
        let set = rule_set();
        let signals = build(&steps);
        let mut parsed = Vec::with_capacity(signals.len());
        for (s, seed) in signals.iter().zip(&seeds) {
            let line = permuted_line(s, *seed);
            let p = parse_signal(&line).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
            prop_assert_eq!(&p, s, "line {}", line);
            let canonical = signal_to_value(s).to_string();
            prop_assert_eq!(parse_signal(&canonical).ok(), Some(s.clone()));
            parsed.push(p);
        }
        prop_assert_eq!(replay(&set, &parsed, 0), replay(&set, &signals, 0));
    }

    /// (d) A fingerprint is a function of (group, rule id, scope, action, context) only, and
    /// different identities get different fingerprints.
    #[test]
    fn fingerprint_is_the_identity(steps in prop::collection::vec(step(), 1..120)) {
        let set = rule_set();
        let alerts = replay(&set, &build(&steps), 0);
        let mut seen: HashMap<u64, (String, String, String, String, Option<String>)> = HashMap::new();
        for a in &alerts {
            let expected = fingerprint(&a.group, &a.rule_id, &a.scope, &a.action, a.context.as_deref());
            prop_assert_eq!(a.fingerprint, expected, "{}", a.message);
            prop_assert_eq!(a.fingerprint_hex(), format!("{:016x}", expected));
            let id = (
                a.group.to_string(),
                a.rule_id.to_string(),
                a.scope.to_string(),
                a.action.to_string(),
                a.context.as_deref().map(str::to_owned),
            );
            let first = seen.entry(a.fingerprint).or_insert_with(|| id.clone());
            prop_assert_eq!(&*first, &id);
        }
    }

    /// Timers fire strictly past their deadline, and no alert is stamped after its firing time;
    /// alerts come out in engine-time order.
    #[test]
    fn alert_times_are_consistent(steps in prop::collection::vec(step(), 1..120)) {
        let set = rule_set();
        let alerts = replay(&set, &build(&steps), 0);
        let timer_ops = ["FOLLOWED_BY_WITHIN_MS", "MAX_OPEN_MS", "SILENCE_SECONDS"];
        for a in &alerts {
            prop_assert!(a.signal_ts <= a.engine_ts, "{}: {} > {}", a.rule_id, a.signal_ts, a.engine_ts);
            if timer_ops.contains(&&*a.operator) {
                prop_assert!(a.signal_ts < a.engine_ts, "{} fired at its deadline", a.rule_id);
            }
        }
        for w in alerts.windows(2) {
            prop_assert!(w[0].engine_ts <= w[1].engine_ts);
        }
    }
}
