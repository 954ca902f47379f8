//! Every limit is strict: a value equal to its limit, or a timer at its deadline, never fires.

use super::*;

// ---------------------------------------------------------------------------------------------
// 2. Every limit is strict

#[test]
fn fp02_timers_do_not_fire_at_their_deadline_only_1ms_later() {
    let set = rules([
        followed("F", "A", "B|1000"),
        rule("OPEN", "TRACE_START", "T", "MAX_OPEN_MS", "1000"),
        rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "1"),
        rule("RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "1000"),
    ]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    run.send(&mark("P", T0, "A", ""));
    run.send(&ts_("P", T0, "T", ""));
    assert!(run.advance(T0 + 1000).is_empty());
    assert_eq!(run.engine.now(), T0 + 1000);
    let a = run.advance(T0 + 1001);
    let mut got = ids(&a);
    got.sort_unstable();
    assert_eq!(got, ["F", "OPEN", "RT", "SIL"]);
}

#[test]
fn fp02_awaited_signal_exactly_at_the_deadline_satisfies_it() {
    let set = rules([followed("F", "A", "B|1000")]);
    let sigs = [mark("P", T0, "A", ""), mark("P", T0 + 1000, "B", "")];
    assert_eq!(check(&set, &sigs, Some(T0 + 10_000)).len(), 0);
    let late = [mark("P", T0, "A", ""), mark("P", T0 + 1001, "B", "")];
    assert_eq!(count(&check(&set, &late, Some(T0 + 10_000)), "F"), 1);
}

#[test]
fn fp02_values_equal_to_their_limit_never_fire() {
    let set = rules([
        rule("DUR", "TRACE_STOP", "T", "MAX_DURATION_MS", "100"),
        rule("OCC", "MARK_EVENT", "M", "MAX_OCCURRENCE", "2"),
        rule("GAP", "MARK_EVENT", "G", "MAX_GAP_SECONDS", "0.1"),
        rule(
            "WITHIN",
            "MARK_EVENT",
            "W",
            "PRECEDED_BY_WITHIN_MS",
            "G|100",
        ),
    ]);
    // Each at its limit, then 1 more.
    let at_limit = [
        ts_("P", T0, "T", ""),
        te("P", T0 + 100, "T", ""),
        mark("P", T0 + 200, "M", ""),
        mark("P", T0 + 201, "M", ""),
        mark("P", T0 + 300, "G", ""),
        mark("P", T0 + 400, "G", ""),
        mark("P", T0 + 500, "W", ""),
    ];
    assert_eq!(check(&set, &at_limit, None).len(), 0);
    let over = [
        ts_("P", T0, "T", ""),
        te("P", T0 + 101, "T", ""),
        mark("P", T0 + 200, "M", ""),
        mark("P", T0 + 201, "M", ""),
        mark("P", T0 + 202, "M", ""),
        mark("P", T0 + 300, "G", ""),
        mark("P", T0 + 401, "G", ""),
        mark("P", T0 + 502, "W", ""),
    ];
    assert_eq!(
        ids(&check(&set, &over, None)),
        ["DUR", "OCC", "GAP", "WITHIN"]
    );
}

#[test]
fn fp02_process_limits_are_strict() {
    let set = rules([
        rule("LEFT", "PROCESS_STOP", "job", "STEPS_LEFT_HIGH", "2"),
        rule("RATE", "PROCESS_STOP", "job", "SUCCESS_RATE_LOW", "80"),
        rule("RT", "PROCESS_UPDATE", "job", "RUNTIME_EXCEEDED", "500"),
        rule("MRT", "PROCESS_STOP", "job", "MAX_RUNTIME_EXCEEDED", "500"),
        rule("OCC", "PROCESS_STOP", "job", "MAX_OCCURRENCE", "8"),
    ]);
    let at_limit = [
        start("P", T0, "job", pf().todo(10)),
        update("P", T0 + 500, pf()),
        stop("P", T0 + 500, pf().done(8)),
    ];
    assert_eq!(check(&set, &at_limit, Some(T0 + 500)).len(), 0);
    let over = [
        start("P", T0, "job", pf().todo(10)),
        update("P", T0 + 500, pf()),
        stop("P", T0 + 501, pf().done(9).todo(12)),
    ];
    // RT fires by timer before the stop (the stop moves engine time past its deadline).
    assert_eq!(
        ids(&check(&set, &over, None)),
        ["RT", "LEFT", "RATE", "MRT", "OCC"]
    );
}

#[test]
fn fp02_avg_deviation_equal_to_limit_does_not_fire() {
    let set = rules([rule("AVG", "TRACE_STOP", "T", "AVG_DEVIATION_PCT", "50|1")]);
    let trace = |t: i64, ms: i64| [ts_("P", t, "T", ""), te("P", t + ms, "T", "")];
    let at_limit: Vec<Signal> = [trace(T0, 100), trace(T0 + 1000, 150)].concat();
    assert_eq!(check(&set, &at_limit, None).len(), 0);
    let over: Vec<Signal> = [trace(T0, 100), trace(T0 + 1000, 151)].concat();
    assert_eq!(count(&check(&set, &over, None), "AVG"), 1);
}
