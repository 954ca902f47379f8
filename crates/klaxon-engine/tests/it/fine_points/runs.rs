//! Process runs and what belongs to them: implicit starts, restarts, `action_count`, the first mark, and sticky process fields.

use super::*;

// ---------------------------------------------------------------------------------------------
// 6. Process runs

#[test]
fn fp06_implicit_start_evaluates_no_process_start_rule_timers_included() {
    let set = rules([
        rule("ON", "PROCESS_START", "job", "ON_START", ""),
        rule("RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "500"),
        rule(
            "FS",
            "PROCESS_START",
            "job",
            "FOLLOWED_BY_WITHIN_MS",
            "READY|500",
        ),
        rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "1"),
    ]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "X", "").name("job"));
    assert!(run.engine.is_open("P"));
    assert_eq!(run.engine.next_deadline(), None);
    run.advance(T0 + 60_000);
    assert!(run.alerts.is_empty());
}

#[test]
fn fp06_implicit_start_takes_the_time_of_the_first_signal() {
    let set = rules([rule(
        "MRT",
        "PROCESS_STOP",
        "job",
        "MAX_RUNTIME_EXCEEDED",
        "500",
    )]);
    let at = [mark("job", T0, "X", ""), stop("job", T0 + 500, pf())];
    assert_eq!(check(&set, &at, None).len(), 0);
    let over = [mark("job", T0, "X", ""), stop("job", T0 + 501, pf())];
    let a = check(&set, &over, None);
    assert_eq!(ids(&a), ["MRT"]);
    assert_eq!(a[0].value, Some(501.0));
}

#[test]
fn fp06_implicit_start_arms_runtime_exceeded_of_process_update() {
    // Only PROCESS_START rules are skipped for an implicit start; a PROCESS_UPDATE
    // RUNTIME_EXCEEDED rule is armed at the (implicit) start and fires by timer.
    let set = rules([rule(
        "RT",
        "PROCESS_UPDATE",
        "job",
        "RUNTIME_EXCEEDED",
        "500",
    )]);
    let mut run = Run::new(&set);
    run.send(&update("job", T0, pf()));
    let a = run.advance(T0 + 501);
    assert_eq!(
        ids(&a),
        ["RT"],
        "RUNTIME_EXCEEDED fires by timer, without a further update"
    );
    assert_eq!(a[0].signal_ts, T0 + 500);
}

#[test]
fn fp06_start_of_an_open_id_ends_the_run_silently() {
    let set = rules([
        rule("STOP", "PROCESS_STOP", "job", "ON_STOP", ""),
        rule("RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "500"),
        rule(
            "FS",
            "PROCESS_START",
            "job",
            "FOLLOWED_BY_WITHIN_MS",
            "READY|1000",
        ),
        followed("FA", "A", "B|400"),
    ]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    run.send(&mark("P", T0 + 1, "A", ""));
    assert!(
        run.send(&start("P", T0 + 300, "job", pf())).is_empty(),
        "no PROCESS_STOP rule"
    );
    assert!(
        run.advance(T0 + 799).is_empty(),
        "timers of the first run are cancelled"
    );
    let a = run.advance(T0 + 2000);
    assert_eq!(ids(&a), ["RT", "FS"]);
    assert_eq!((a[0].signal_ts, a[1].signal_ts), (T0 + 800, T0 + 1300));
}

#[test]
fn fp06_counts_predecessor_and_open_traces_belong_to_the_run() {
    let set = rules([
        rule("OCC", "MARK_EVENT", "A", "MAX_OCCURRENCE", "1"),
        rule("PRE", "MARK_EVENT", "B", "PRECEDED_BY", "A"),
        rule("GAP", "MARK_EVENT", "A", "MAX_GAP_SECONDS", "1"),
    ]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    run.send(&mark("P", T0 + 1, "A", ""));
    run.send(&ts_("P", T0 + 2, "T", ""));
    run.send(&start("P", T0 + 3, "job", pf()));
    let (o, a) = run.send_o(&te("P", T0 + 4, "T", ""));
    assert!(o.ignored, "the open trace belonged to the ended run");
    assert!(a.is_empty());
    assert_eq!(
        ids(&run.send(&mark("P", T0 + 5000, "B", ""))),
        ["PRE"],
        "no predecessor in the new run"
    );
    let (o, a) = run.send_o(&mark("P", T0 + 10_000, "A", ""));
    assert_eq!((o.action_count, o.used_ms), (1, Some(0)));
    assert!(a.is_empty(), "count and gap start over");
}

#[test]
fn fp06_signal_for_a_stopped_id_opens_a_new_run() {
    let set = rules([
        rule("OCC", "MARK_EVENT", "A", "MAX_OCCURRENCE", "1"),
        rule("ON", "PROCESS_START", "job", "ON_START", ""),
    ]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    run.send(&mark("P", T0 + 1, "A", ""));
    run.send(&stop("P", T0 + 2, pf()));
    assert!(!run.engine.is_open("P"));
    let (o, a) = run.send_o(&mark("P", T0 + 3, "A", ""));
    assert!(run.engine.is_open("P"));
    assert_eq!(o.action_count, 1);
    assert!(
        a.is_empty(),
        "a fresh run, implicitly opened: no ON_START, no second occurrence"
    );
    assert_eq!(ids(&run.alerts), ["ON"]);
}

// ---------------------------------------------------------------------------------------------
// 7. action_count

#[test]
fn fp07_action_count_per_kind() {
    let set = rules([
        rule("M", "MARK_EVENT", "A", "ON_EVENT", ""),
        rule("S", "TRACE_START", "T", "ON_START", ""),
        rule("E", "TRACE_STOP", "T", "ON_STOP", ""),
        rule("U", "PROCESS_UPDATE", "job", "ON_UPDATE", ""),
        rule("L", "LOGGING", "", "SEVERITY", "INFO"),
    ]);
    let sigs = [
        mark("P", T0, "A", ""),
        ts_("P", T0 + 1, "T", ""),
        te("P", T0 + 2, "T", ""),
        mark("P", T0 + 3, "A", ""),
        ts_("P", T0 + 4, "T", ""),
        te("P", T0 + 5, "T", ""),
        ts_("P", T0 + 6, "T", ""),
        update("P", T0 + 7, pf()),
        log("P", T0 + 8, Level::Info, "x"),
        update("P", T0 + 9, pf().step(1)),
        update("P", T0 + 10, pf().done(5)),
        log("P", T0 + 11, Level::Info, "y"),
    ]
    .map(|s| s.name("job"));
    let a = check(&set, &sigs, None);
    let got: Vec<(&str, u64)> = a.iter().map(|a| (&*a.rule_id, a.action_count)).collect();
    assert_eq!(
        got,
        [
            ("M", 1),
            ("S", 0),
            ("E", 1),
            ("M", 2),
            ("S", 1),
            ("E", 2),
            ("S", 2),
            ("U", 0),
            ("L", 0),
            ("U", 1),
            ("U", 5),
            ("L", 5)
        ]
    );
    for a in a.iter().filter(|a| matches!(&*a.rule_id, "U" | "L")) {
        assert_eq!((&*a.action, a.context.as_deref()), ("job", None));
    }
}

// ---------------------------------------------------------------------------------------------
// 8. The first mark has no gap

#[test]
fn fp08_max_gap_cannot_fire_on_the_first_mark() {
    let set = rules([rule("GAP", "MARK_EVENT", "A", "MAX_GAP_SECONDS", "0")]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    assert!(run.send(&mark("P", T0 + 100_000, "A", "")).is_empty());
    assert_eq!(ids(&run.send(&mark("P", T0 + 100_001, "A", ""))), ["GAP"]);
}

#[test]
fn fp08_max_duration_sees_zero_on_the_first_mark() {
    let set = rules([rule("DUR", "MARK_EVENT", "A", "MAX_DURATION_MS", "0")]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    let (o, a) = run.send_o(&mark("P", T0 + 100_000, "A", ""));
    assert_eq!(o.used_ms, Some(0));
    assert!(a.is_empty());
    assert_eq!(ids(&run.send(&mark("P", T0 + 100_001, "A", ""))), ["DUR"]);
}

#[test]
fn fp08_first_mark_is_not_a_measurement_for_avg_deviation() {
    // Warm-up 2: the gaps 100 and 100 form the baseline; the first mark adds no 0 to it.
    let set = rules([rule("AVG", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "10|2")]);
    let sigs = [
        mark("P", T0, "A", ""),
        mark("P", T0 + 100, "A", ""),
        mark("P", T0 + 200, "A", ""),
        mark("P", T0 + 500, "A", ""),
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(ids(&a), ["AVG"]);
    assert_eq!(
        (a[0].action_count, a[0].value, a[0].limit),
        (4, Some(300.0), Some(110.00000000000001))
    );
}

// ---------------------------------------------------------------------------------------------
// 12. Sticky process fields

#[test]
fn fp12_process_fields_are_sticky() {
    let set = rules([
        rule("ST", "PROCESS_UPDATE", "job", "STATUS_EQUALS", "3"),
        rule("INFO", "PROCESS_UPDATE", "job", "INFO_CONTAINS", "kaputt"),
    ]);
    let sigs = [
        start("P", T0, "job", pf()),
        update("P", T0 + 1, pf().status(3)),
        update("P", T0 + 2, pf().info("kaputt")),
        update("P", T0 + 3, pf()),
        update("P", T0 + 4, pf().status(4).info("gut")),
        update("P", T0 + 5, pf()),
    ];
    let a = check(&set, &sigs, None);
    let got: Vec<(&str, i64)> = a.iter().map(|a| (&*a.rule_id, a.signal_ts - T0)).collect();
    assert_eq!(
        got,
        [("ST", 1), ("ST", 2), ("INFO", 2), ("ST", 3), ("INFO", 3)]
    );
}

#[test]
fn fp12_step_done_adds_after_steps_done() {
    let set = rules([rule("OCC", "PROCESS_UPDATE", "job", "MAX_OCCURRENCE", "5")]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    let (o, a) = run.send_o(&update("P", T0 + 1, pf().done(5).step(1)));
    assert_eq!(o.action_count, 6);
    assert_eq!(ids(&a), ["OCC"]);
    let (o, _) = run.send_o(&update("P", T0 + 2, pf().step(3)));
    assert_eq!(o.action_count, 9, "an integer n adds n");
    let (o, _) = run.send_o(&update("P", T0 + 3, pf().done(2)));
    assert_eq!(o.action_count, 2);
}

#[test]
fn fp12_status_or_info_never_given_matches_nothing() {
    let set = rules([
        rule("ST", "PROCESS_UPDATE", "job", "STATUS_EQUALS", "0"),
        rule("INFO", "PROCESS_UPDATE", "job", "INFO_CONTAINS", "a"),
        rule("LEFT", "PROCESS_UPDATE", "job", "STEPS_LEFT_HIGH", "0"),
        rule("RATE", "PROCESS_UPDATE", "job", "SUCCESS_RATE_LOW", "100"),
    ]);
    let sigs = [
        start("P", T0, "job", pf()),
        update("P", T0 + 1, pf().done(1)),
    ];
    assert_eq!(
        check(&set, &sigs, None).len(),
        0,
        "no status, no info, no steps_todo"
    );
    let given = [
        start("P", T0, "job", pf()),
        update("P", T0 + 1, pf().status(0).info("A").todo(3)),
    ];
    assert_eq!(
        ids(&check(&set, &given, None)),
        ["ST", "INFO", "LEFT", "RATE"]
    );
}

#[test]
fn fp12_process_stop_sees_the_final_values() {
    let set = rules([rule("ST", "PROCESS_STOP", "job", "STATUS_EQUALS", "9")]);
    let sigs = [
        start("P", T0, "job", pf().status(1)),
        stop("P", T0 + 1, pf().status(9)),
    ];
    assert_eq!(ids(&check(&set, &sigs, None)), ["ST"]);
}
