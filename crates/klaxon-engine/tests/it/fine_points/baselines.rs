//! EWMA baselines (separate per rule, shared per scope) and the scope that fingerprints use.

use super::*;

// ---------------------------------------------------------------------------------------------
// 9. Baselines

fn traces(p: &str, t: i64, durations: &[i64]) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = t;
    for &ms in durations {
        out.push(ts_(p, t, "T", ""));
        out.push(te(p, t + ms, "T", ""));
        t += ms + 10;
    }
    out
}

#[test]
fn fp09_two_rules_with_different_alpha_keep_separate_baselines() {
    let set = rules([
        rule("FAST", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "10|1|1"),
        rule("SLOW", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "10|1|0.1"),
    ]);
    // FAST: baseline 100, then 200 -> fires; 215 vs 200 -> no.
    // SLOW: baseline 100, then 200 -> fires; 215 vs 110 -> fires.
    let a = check(&set, &traces("P", T0, &[100, 200, 215]), None);
    assert_eq!(ids(&a), ["FAST", "SLOW", "SLOW"]);
    assert_eq!(a[2].limit, Some(121.00000000000001));
}

#[test]
fn fp09_two_rules_with_different_warmup_keep_separate_baselines() {
    let set = rules([
        rule("W1", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "10|1"),
        rule("W3", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "10|3"),
    ]);
    assert_eq!(
        ids(&check(&set, &traces("P", T0, &[100, 300]), None)),
        ["W1"]
    );
}

#[test]
fn fp09_warmup_zero_acts_as_one() {
    let set = rules([rule("W0", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "10|0")]);
    assert_eq!(check(&set, &traces("P", T0, &[100]), None).len(), 0);
    let a = check(&set, &traces("P", T0, &[100, 200]), None);
    assert_eq!(ids(&a), ["W0"]);
    assert_eq!(a[0].limit, Some(110.00000000000001));
}

#[test]
fn fp09_baselines_are_shared_by_the_processes_of_one_scope() {
    let set = rules([rule("AVG", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "50|3")]);
    let warm = |p: &str, name: &str, scope: Option<&str>| {
        let s = start(p, T0, name, pf());
        let s = match scope {
            Some(sc) => s.scope(sc),
            None => s,
        };
        let mut v = vec![s];
        v.extend(traces(p, T0 + 1, &[100, 100, 100]));
        v
    };
    let spike = |p: &str, name: &str, scope: Option<&str>| {
        let s = start(p, T0 + 10_000, name, pf());
        let s = match scope {
            Some(sc) => s.scope(sc),
            None => s,
        };
        let mut v = vec![s];
        v.extend(traces(p, T0 + 10_001, &[400]));
        v
    };
    // Same process name: shared.
    let same = [warm("P1", "job", None), spike("P2", "job", None)].concat();
    let a = check(&set, &same, None);
    assert_eq!(ids(&a), ["AVG"]);
    assert_eq!((&*a[0].process, &*a[0].scope), ("P2", "job"));
    // Different names: separate.
    let other = [warm("P1", "job", None), spike("P2", "other", None)].concat();
    assert_eq!(check(&set, &other, None).len(), 0);
    // Different names, one baseline_scope: shared, and the scope is named in the alert.
    let scoped = [
        warm("P1", "jobA", Some("S")),
        spike("P2", "jobB", Some("S")),
    ]
    .concat();
    let a = check(&set, &scoped, None);
    assert_eq!(ids(&a), ["AVG"]);
    assert_eq!(&*a[0].scope, "S");
    // #NONE: local to the run, even for the same name and id.
    let local = [
        warm("P1", "job", Some("#NONE")),
        spike("P2", "job", Some("#NONE")),
    ]
    .concat();
    assert_eq!(check(&set, &local, None).len(), 0);
    let rerun = [
        warm("P1", "job", Some("#NONE")),
        spike("P1", "job", Some("#NONE")),
    ]
    .concat();
    assert_eq!(check(&set, &rerun, None).len(), 0);
}

#[test]
fn fp09_baselines_are_per_action_and_context() {
    let set = rules([rule("AVG", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50|1")]);
    let sigs = [
        mark("P", T0, "A", "C1"),
        mark("P", T0 + 100, "A", "C1"),
        mark("P", T0 + 1000, "A", "C2"),
        mark("P", T0 + 1400, "A", "C2"),
        mark("P", T0 + 2000, "A", ""),
        mark("P", T0 + 2400, "A", ""),
    ];
    assert_eq!(
        check(&set, &sigs, None).len(),
        0,
        "400 ms gaps of C2 and none are not compared with C1's 100"
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Fingerprint scope

#[test]
fn fp10_fingerprint_scope_is_baseline_scope_else_process_name() {
    let set = rules([rule("ON", "MARK_EVENT", "A", "ON_EVENT", "")]);
    let sigs = [
        start("P1", T0, "job", pf()),
        mark("P1", T0 + 1, "A", "C"),
        start("P2", T0 + 2, "job", pf()),
        mark("P2", T0 + 3, "A", "C"),
        start("P3", T0 + 4, "job", pf()).scope("S"),
        mark("P3", T0 + 5, "A", "C"),
    ];
    let a = check(&set, &sigs, None);
    let scopes: Vec<&str> = a.iter().map(|a| &*a.scope).collect();
    assert_eq!(scopes, ["job", "job", "S"]);
    assert_eq!(
        a[0].fingerprint, a[1].fingerprint,
        "one scope, one identity"
    );
    assert_ne!(a[0].fingerprint, a[2].fingerprint);
    assert_eq!(
        a[0].fingerprint,
        fingerprint("default", "ON", "job", "A", Some("C"))
    );
    assert_eq!(
        a[2].fingerprint,
        fingerprint("default", "ON", "S", "A", Some("C"))
    );
}

#[test]
fn fp10_none_scope_makes_the_fingerprint_local_to_the_run() {
    let set = rules([rule("ON", "MARK_EVENT", "A", "ON_EVENT", "").throttle(60.0)]);
    let shared = [
        start("P1", T0, "job", pf()),
        mark("P1", T0 + 1, "A", ""),
        start("P2", T0 + 2, "job", pf()),
        mark("P2", T0 + 3, "A", ""),
    ];
    assert_eq!(
        check(&set, &shared, None).len(),
        1,
        "same fingerprint: throttled"
    );
    let local = [
        start("P1", T0, "job", pf()).scope("#NONE"),
        mark("P1", T0 + 1, "A", ""),
        start("P2", T0 + 2, "job", pf()).scope("#NONE"),
        mark("P2", T0 + 3, "A", ""),
        start("P1", T0 + 4, "job", pf()).scope("#NONE"), // a new run of P1
        mark("P1", T0 + 5, "A", ""),
    ];
    let a = check(&set, &local, None);
    assert_eq!(a.len(), 3, "three runs, three identities");
    assert_ne!(a[0].fingerprint, a[1].fingerprint);
    assert_ne!(a[0].fingerprint, a[2].fingerprint);
    assert_ne!(a[0].scope, a[2].scope);
}

#[test]
fn fp10_none_scope_runs_never_share_a_fingerprint_even_when_started_in_the_same_ms() {
    let set = rules([rule("ON", "MARK_EVENT", "A", "ON_EVENT", "").throttle(60.0)]);
    let sigs = [
        start("P1", T0, "job", pf()).scope("#NONE"),
        mark("P1", T0 + 1, "A", ""),
        start("P1", T0, "job", pf()).scope("#NONE"), // a second run of P1, stamped like the first
        mark("P1", T0 + 2, "A", ""),
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(
        a.len(),
        2,
        "two runs: the second run's alert is not throttled by the first's"
    );
}

#[test]
fn fp10_fingerprint_of_process_and_log_alerts_uses_the_process_name() {
    let set = rules([
        rule("U", "PROCESS_UPDATE", "job", "ON_UPDATE", ""),
        rule("L", "LOGGING", "job", "SEVERITY", "ERROR"),
    ]);
    let sigs = [
        start("P", T0, "job", pf()),
        update("P", T0 + 1, pf()),
        log("P", T0 + 2, Level::Error, "x"),
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(ids(&a), ["U", "L"]);
    assert_eq!(
        a[0].fingerprint,
        fingerprint("default", "U", "job", "job", None)
    );
    assert_eq!(
        a[1].fingerprint,
        fingerprint("default", "L", "job", "job", None)
    );
}
