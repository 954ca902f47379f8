//! The fine points of `event-rules.md` section 7, one or more tests each (`fpNN_...`), plus a few
//! section 1/3 details (trace stops without a trace, marks vs traces, evaluation order).

mod common;

use common::*;
use klaxon_engine::event::parse_rule_set;
use klaxon_engine::wire::parse_signal;
use klaxon_engine::{fingerprint, Severity, Trigger};

fn followed(id: &str, on: &str, value: &str) -> R {
    rule(id, "MARK_EVENT", on, "FOLLOWED_BY_WITHIN_MS", value)
}

// ---------------------------------------------------------------------------------------------
// 1. Timer deadlines

#[test]
fn fp01_followed_by_deadline_is_trigger_time_plus_limit() {
    let mut run = Run::new(&rules([followed("F", "A", "B|1000")]));
    run.send(&mark("P", T0, "A", ""));
    assert_eq!(run.engine.next_deadline(), Some(T0 + 1000));
}

#[test]
fn fp01_max_open_deadline_is_trace_start_plus_limit() {
    let mut run = Run::new(&rules([rule(
        "O",
        "TRACE_START",
        "T",
        "MAX_OPEN_MS",
        "700",
    )]));
    run.send(&mark("P", T0, "X", ""));
    run.send(&ts_("P", T0 + 50, "T", ""));
    assert_eq!(run.engine.next_deadline(), Some(T0 + 750));
}

#[test]
fn fp01_silence_deadline_follows_the_newest_signal_of_the_process() {
    let mut run = Run::new(&rules([rule(
        "S",
        "PROCESS_START",
        "job",
        "SILENCE_SECONDS",
        "2",
    )]));
    run.send(&start("P", T0, "job", pf()));
    run.send(&mark("P", T0 + 1500, "X", ""));
    run.send(&mark("Q", T0 + 2500, "X", "")); // another process moves engine time only
    assert!(
        run.advance(T0 + 3500).is_empty(),
        "deadline is T0+3500, not T0+2000"
    );
    let a = run.advance(T0 + 3501);
    assert_eq!(ids(&a), ["S"]);
    assert_eq!(a[0].signal_ts, T0 + 3500);
}

#[test]
fn fp01_runtime_deadline_is_process_start_plus_limit() {
    let mut run = Run::new(&rules([rule(
        "RT",
        "PROCESS_START",
        "job",
        "RUNTIME_EXCEEDED",
        "500",
    )]));
    run.send(&start("P", T0, "job", pf()));
    run.send(&mark("P", T0 + 300, "X", ""));
    assert!(run.advance(T0 + 500).is_empty());
    let a = run.advance(T0 + 501);
    assert_eq!(ids(&a), ["RT"]);
    assert_eq!((a[0].signal_ts, a[0].value), (T0 + 500, Some(501.0)));
}

#[test]
fn fp01_timer_fires_before_the_signal_that_moves_time_past_it() {
    let set = rules([
        followed("F", "A", "B|1000"),
        rule("ON_B", "MARK_EVENT", "B", "ON_EVENT", ""),
    ]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", ""));
    let a = run.send(&mark("P", T0 + 1001, "B", ""));
    assert_eq!(
        ids(&a),
        ["F", "ON_B"],
        "the due timer first, then the signal's own rules"
    );
    assert_eq!(a[0].engine_ts, T0 + 1001);
}

#[test]
fn fp01_back_dated_signal_arming_a_late_timer_fires_right_after_it() {
    let set = rules([
        followed("F", "A", "B|1000"),
        rule("ON_A", "MARK_EVENT", "A", "ON_EVENT", ""),
    ]);
    let mut run = Run::new(&set);
    run.send(&mark("Q", T0 + 5000, "X", ""));
    let a = run.send(&mark("P", T0, "A", "")); // back-dated: its deadline T0+1000 already passed
    assert_eq!(ids(&a), ["ON_A", "F"]);
    assert_eq!((a[1].signal_ts, a[1].engine_ts), (T0 + 1000, T0 + 5000));
    assert_eq!(run.engine.next_deadline(), None);
}

#[test]
fn fp01_back_dated_start_arming_late_process_timers_fires_them_right_after_it() {
    let set = rules([
        rule("ON", "PROCESS_START", "job", "ON_START", ""),
        rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "1"),
        rule("RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "500"),
    ]);
    let mut run = Run::new(&set);
    run.send(&mark("Q", T0 + 10_000, "X", ""));
    let a = run.send(&start("P", T0, "job", pf()));
    assert_eq!(
        ids(&a),
        ["ON", "RT", "SIL"],
        "the start's own rules, then the late timers in deadline order"
    );
    assert_eq!((a[1].signal_ts, a[2].signal_ts), (T0 + 500, T0 + 1000));
    assert!(a.iter().all(|a| a.engine_ts == T0 + 10_000));
}

#[test]
fn fp01_until_fires_what_is_due() {
    let set = rules([followed("F", "A", "B|1000")]);
    assert_eq!(check(&set, &[mark("P", T0, "A", "")], None).len(), 0);
    assert_eq!(
        check(&set, &[mark("P", T0, "A", "")], Some(T0 + 1000)).len(),
        0
    );
    assert_eq!(
        count(
            &check(&set, &[mark("P", T0, "A", "")], Some(T0 + 1001)),
            "F"
        ),
        1
    );
}

#[test]
fn fp01_due_timers_fire_in_deadline_order() {
    let set = rules([
        followed("F3000", "A", "X|3000"),
        rule("OPEN", "TRACE_START", "T", "MAX_OPEN_MS", "500"),
        followed("F1000", "B", "X|1000"),
    ]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", "")); // T0+3000
    run.send(&mark("P", T0 + 1, "B", "")); // T0+1001
    run.send(&ts_("P", T0 + 2, "T", "")); // T0+502
    let a = run.advance(T0 + 10_000);
    assert_eq!(ids(&a), ["OPEN", "F1000", "F3000"]);
    let deadlines: Vec<i64> = a.iter().map(|a| a.signal_ts).collect();
    assert_eq!(deadlines, [T0 + 502, T0 + 1001, T0 + 3000]);
}

#[test]
fn fp01_tied_timers_fire_in_arming_order() {
    // Document order is FIRST, SECOND; arming order is SECOND (P2), then FIRST (P1).
    let set = rules([
        followed("FIRST", "A", "X|1000"),
        followed("SECOND", "B", "X|1001"),
    ]);
    let mut run = Run::new(&set);
    run.send(&mark("P2", T0, "B", "")); // deadline T0+1001
    run.send(&mark("P1", T0 + 1, "A", "")); // deadline T0+1001
    let a = run.advance(T0 + 2000);
    assert_eq!(ids(&a), ["SECOND", "FIRST"]);
    assert_eq!((a[0].signal_ts, a[1].signal_ts), (T0 + 1001, T0 + 1001));
}

#[test]
fn fp01_tied_timers_fire_in_arming_order_when_a_silence_deadline_moved() {
    // The silence deadline is armed by the newest signal of the process (T0+1000), the
    // FOLLOWED_BY expectation later (T0+2000); both are due at T0+6000.
    let set = rules([
        rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "5"),
        followed("F", "A", "X|4000"),
    ]);
    let mut run = Run::new(&set);
    run.send(&start("P1", T0, "job", pf()));
    run.send(&mark("P1", T0 + 1000, "Z", ""));
    run.send(&mark("P2", T0 + 2000, "A", ""));
    let a = run.advance(T0 + 7000);
    assert_eq!(
        a.iter().map(|a| a.signal_ts).collect::<Vec<_>>(),
        [T0 + 6000, T0 + 6000]
    );
    assert_eq!(ids(&a), ["SIL", "F"], "ties fire in arming order");
}

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

// ---------------------------------------------------------------------------------------------
// 3. Timer alerts

#[test]
fn fp03_followed_by_alert_carries_deadline_firing_time_and_the_triggers_data() {
    let set = rules([followed("F", "A", "B|1000")]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", "C1"));
    run.send(&mark("P", T0 + 10, "B", ""));
    run.send(&mark("P", T0 + 20, "A", "C1")); // arms; 2nd mark of A/C1
    let a = run.advance(T0 + 5000);
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!((a.signal_ts, a.engine_ts), (T0 + 1020, T0 + 5000));
    assert_eq!(
        (&*a.action, a.context.as_deref(), a.action_count),
        ("A", Some("C1"), 2)
    );
    assert_eq!(
        (a.trigger, &*a.operator),
        (Trigger::MarkEvent, "FOLLOWED_BY_WITHIN_MS")
    );
    assert_eq!((a.value, a.limit), (None, Some(1000.0)));
    assert_eq!(a.message, "A/C1 was not followed by B within 1000 ms");
}

#[test]
fn fp03_max_open_alert_carries_the_traces_data() {
    let set = rules([rule("O", "TRACE_START", "T", "MAX_OPEN_MS", "1000")]);
    let mut run = Run::new(&set);
    run.send_all(&[
        ts_("P", T0, "T", "C9"),
        te("P", T0 + 1, "T", "C9"),
        ts_("P", T0 + 2, "T", "C9"),
        te("P", T0 + 3, "T", "C9"),
        ts_("P", T0 + 4, "T", "C9"),
    ]);
    let a = run.advance(T0 + 3000);
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!((a.signal_ts, a.engine_ts), (T0 + 1004, T0 + 3000));
    assert_eq!(
        (&*a.action, a.context.as_deref(), a.action_count),
        ("T", Some("C9"), 2)
    );
    assert_eq!(
        (a.trigger, a.value, a.limit),
        (Trigger::TraceStart, Some(2996.0), Some(1000.0))
    );
}

#[test]
fn fp03_process_timer_alerts_carry_process_name_and_steps_done() {
    let set = rules([
        rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "5"),
        rule("RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "5000"),
    ]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf().todo(9)));
    run.send(&update("P", T0 + 10, pf().step(1)));
    run.send(&update("P", T0 + 20, pf().step(1)));
    let a = run.advance(T0 + 6000);
    assert_eq!(ids(&a), ["RT", "SIL"]);
    for a in &a {
        assert_eq!(
            (&*a.action, a.context.as_deref(), a.action_count),
            ("job", None, 2),
            "{}",
            a.rule_id
        );
        assert_eq!(a.engine_ts, T0 + 6000);
        assert_eq!((&*a.process, &*a.process_name), ("P", "job"));
    }
    assert_eq!((a[0].signal_ts, a[1].signal_ts), (T0 + 5000, T0 + 5020));
}

// ---------------------------------------------------------------------------------------------
// 4. FOLLOWED_BY_WITHIN_MS

#[test]
fn fp04_a_awaiting_a_works_as_a_heartbeat() {
    let set = rules([followed("HB", "A", "A|1000")]);
    let mut run = Run::new(&set);
    for i in 0..5 {
        assert!(run.send(&mark("P", T0 + i * 900, "A", "")).is_empty());
    }
    assert!(run.advance(T0 + 4600).is_empty());
    let a = run.advance(T0 + 4601);
    assert_eq!(ids(&a), ["HB"]);
    assert_eq!((a[0].signal_ts, a[0].action_count), (T0 + 4600, 5));
}

#[test]
fn fp04_a_signal_never_satisfies_the_expectation_it_arms() {
    let set = rules([followed("HB", "A", "A|1000")]);
    assert_eq!(
        count(
            &check(&set, &[mark("P", T0, "A", "")], Some(T0 + 1001)),
            "HB"
        ),
        1
    );
}

#[test]
fn fp04_heartbeat_missing_beat_fires_before_the_late_beat() {
    let set = rules([followed("HB", "A", "A|1000")]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", ""));
    let a = run.send(&mark("P", T0 + 1100, "A", ""));
    assert_eq!(ids(&a), ["HB"]);
    assert_eq!(a[0].signal_ts, T0 + 1000);
    assert_eq!(
        run.engine.next_deadline(),
        Some(T0 + 2100),
        "the late beat arms the next one"
    );
}

#[test]
fn fp04_second_trigger_while_pending_does_not_move_the_deadline() {
    let set = rules([followed("F", "A", "B|1000")]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", ""));
    run.send(&mark("P", T0 + 500, "A", ""));
    assert_eq!(ids(&run.advance(T0 + 1001)), ["F"]);
    let a = &run.alerts[0];
    assert_eq!(
        (a.signal_ts, a.action_count),
        (T0 + 1000, 1),
        "the first trigger's data"
    );
    assert!(
        run.advance(T0 + 10_000).is_empty(),
        "one pending expectation, one alert"
    );
}

#[test]
fn fp04_pending_per_trigger_key() {
    let set = rules([followed("F", "A", "B|1000")]);
    let a = check(
        &set,
        &[mark("P", T0, "A", "C1"), mark("P", T0 + 1, "A", "C2")],
        Some(T0 + 2000),
    );
    let ctx: Vec<Option<&str>> = a.iter().map(|a| a.context.as_deref()).collect();
    assert_eq!(ctx, [Some("C1"), Some("C2")]);
}

#[test]
fn fp04_pending_per_rule() {
    let set = rules([followed("F1", "A", "B|1000"), followed("F2", "A", "C|1000")]);
    let sigs = [mark("P", T0, "A", ""), mark("P", T0 + 10, "B", "")];
    assert_eq!(ids(&check(&set, &sigs, Some(T0 + 2000))), ["F2"]);
}

#[test]
fn fp04_pending_per_process_run() {
    let set = rules([followed("F", "A", "B|1000")]);
    let sigs = [mark("P1", T0, "A", ""), mark("P2", T0 + 10, "B", "")];
    let a = check(&set, &sigs, Some(T0 + 2000));
    assert_eq!(ids(&a), ["F"], "a B of another process does not satisfy it");
    assert_eq!(&*a[0].process, "P1");
}

#[test]
fn fp04_awaited_signals_are_marks_trace_starts_and_accepted_trace_stops() {
    let set = rules([followed("F", "A", "B|1000")]);
    let until = Some(T0 + 5000);
    let by_mark = [mark("P", T0, "A", ""), mark("P", T0 + 1, "B", "")];
    assert_eq!(check(&set, &by_mark, until).len(), 0);
    let by_start = [mark("P", T0, "A", ""), ts_("P", T0 + 1, "B", "")];
    assert_eq!(check(&set, &by_start, until).len(), 0);
    let by_stop = [
        ts_("P", T0 - 10, "B", ""),
        mark("P", T0, "A", ""),
        te("P", T0 + 1, "B", ""),
    ];
    assert_eq!(check(&set, &by_stop, until).len(), 0);
    let ignored_stop = [mark("P", T0, "A", ""), te("P", T0 + 1, "B", "")];
    assert_eq!(
        count(&check(&set, &ignored_stop, until), "F"),
        1,
        "an ignored trace stop is no signal"
    );
    let log_or_process = [
        mark("P", T0, "A", ""),
        log("P", T0 + 1, Level::Info, "B"),
        update("P", T0 + 2, pf().info("B")),
    ];
    assert_eq!(count(&check(&set, &log_or_process, until), "F"), 1);
}

#[test]
fn fp04_awaited_signals_count_in_arrival_order() {
    let set = rules([followed("F", "A", "B|1000")]);
    // B arrives after A but is stamped earlier: it still satisfies the expectation.
    let back_dated = [mark("P", T0 + 500, "A", ""), mark("P", T0 + 100, "B", "")];
    assert_eq!(check(&set, &back_dated, Some(T0 + 5000)).len(), 0);
    // B arrives before A (stamped later): it cannot satisfy what A arms afterwards.
    let before = [mark("P", T0 + 600, "B", ""), mark("P", T0 + 500, "A", "")];
    let a = check(&set, &before, Some(T0 + 5000));
    assert_eq!(ids(&a), ["F"]);
    assert_eq!(a[0].signal_ts, T0 + 1500);
}

#[test]
fn fp04_awaited_context() {
    let any = rules([followed("F", "A", "B|1000")]);
    let until = Some(T0 + 5000);
    assert_eq!(
        check(
            &any,
            &[mark("P", T0, "A", ""), mark("P", T0 + 1, "B", "C7")],
            until
        )
        .len(),
        0
    );
    let c1 = rules([followed("F", "A", "B|C1|1000")]);
    assert_eq!(
        count(
            &check(
                &c1,
                &[mark("P", T0, "A", ""), mark("P", T0 + 1, "B", "C2")],
                until
            ),
            "F"
        ),
        1
    );
    assert_eq!(
        count(
            &check(
                &c1,
                &[mark("P", T0, "A", ""), mark("P", T0 + 1, "B", "")],
                until
            ),
            "F"
        ),
        1
    );
    assert_eq!(
        check(
            &c1,
            &[mark("P", T0, "A", ""), mark("P", T0 + 1, "B", "C1")],
            until
        )
        .len(),
        0
    );
}

#[test]
fn fp04_followed_by_on_process_start_and_trace_triggers() {
    let set = rules([
        rule(
            "FS",
            "PROCESS_START",
            "job",
            "FOLLOWED_BY_WITHIN_MS",
            "READY|1000",
        ),
        rule("FTS", "TRACE_START", "T", "FOLLOWED_BY_WITHIN_MS", "X|1000"),
        rule("FTE", "TRACE_STOP", "T", "FOLLOWED_BY_WITHIN_MS", "Y|1000"),
    ]);
    let sigs = [
        start("P", T0, "job", pf()),
        ts_("P", T0 + 1, "T", ""),
        te("P", T0 + 2, "T", ""),
    ];
    let a = check(&set, &sigs, Some(T0 + 5000));
    assert_eq!(ids(&a), ["FS", "FTS", "FTE"]);
    assert_eq!(
        (&*a[0].action, a[0].context.as_deref(), a[0].trigger),
        ("job", None, Trigger::ProcessStart)
    );
    assert_eq!((a[2].action_count, a[2].signal_ts), (1, T0 + 1002));
    let ok = [
        start("P", T0, "job", pf()),
        ts_("P", T0 + 1, "T", ""),
        mark("P", T0 + 2, "READY", ""),
        te("P", T0 + 3, "T", ""),
        mark("P", T0 + 4, "X", ""),
        ts_("P", T0 + 5, "Y", ""),
    ];
    assert_eq!(check(&set, &ok, Some(T0 + 5000)).len(), 0);
}

#[test]
fn fp04_process_stop_cancels_pending_expectations() {
    let set = rules([followed("F", "A", "B|1000")]);
    let sigs = [mark("P", T0, "A", ""), stop("P", T0 + 10, pf())];
    assert_eq!(check(&set, &sigs, Some(T0 + 5000)).len(), 0);
}

// ---------------------------------------------------------------------------------------------
// 5. Once

#[test]
fn fp05_runtime_exceeded_fires_once_per_run_by_signal_or_timer() {
    let set = rules([rule(
        "RT",
        "PROCESS_UPDATE",
        "job",
        "RUNTIME_EXCEEDED",
        "500",
    )]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    for i in 1..10 {
        run.send(&update("P", T0 + i * 200, pf()));
    }
    run.advance(T0 + 10_000);
    assert_eq!(count(&run.alerts, "RT"), 1);
}

#[test]
fn fp05_runtime_exceeded_once_even_when_the_throttle_drops_it() {
    let set =
        rules([rule("RT", "PROCESS_UPDATE", "job", "RUNTIME_EXCEEDED", "500").throttle(60.0)]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    assert_eq!(ids(&run.advance(T0 + 501)), ["RT"]);
    run.send(&stop("P", T0 + 600, pf()));
    // Second run: its firing falls in the window of the first one and is dropped...
    run.send(&start("P", T0 + 1000, "job", pf()));
    assert!(run.advance(T0 + 1501).is_empty());
    // ...and it does not fire again once the window is over.
    assert!(run.send(&update("P", T0 + 70_000, pf())).is_empty());
    assert!(run.advance(T0 + 200_000).is_empty());
    assert_eq!(run.engine.stats().throttled, 1);
}

#[test]
fn fp05_max_open_fires_once_per_trace() {
    let set = rules([rule("O", "TRACE_START", "T", "MAX_OPEN_MS", "1000")]);
    let mut run = Run::new(&set);
    run.send(&ts_("P", T0, "T", ""));
    assert_eq!(run.advance(T0 + 1001).len(), 1);
    assert!(run.advance(T0 + 100_000).is_empty());
}

#[test]
fn fp05_second_trace_start_restarts_the_trace_and_rearms_max_open() {
    let set = rules([rule("O", "TRACE_START", "T", "MAX_OPEN_MS", "1000")]);
    let mut run = Run::new(&set);
    run.send(&ts_("P", T0, "T", ""));
    run.send(&ts_("P", T0 + 600, "T", ""));
    assert!(
        run.advance(T0 + 1001).is_empty(),
        "the first trace was restarted"
    );
    let a = run.advance(T0 + 1601);
    assert_eq!(ids(&a), ["O"]);
    assert_eq!(a[0].signal_ts, T0 + 1600);
    assert!(run.advance(T0 + 100_000).is_empty());
    // A stop then measures from the restart.
    let (o, _) = run.send_o(&te("P", T0 + 100_000, "T", ""));
    assert_eq!(o.used_ms, Some(100_000 - 600));
}

#[test]
fn fp05_max_open_of_a_stopped_trace_does_not_fire() {
    let set = rules([rule("O", "TRACE_START", "T", "MAX_OPEN_MS", "1000")]);
    let sigs = [
        ts_("P", T0, "T", ""),
        te("P", T0 + 999, "T", ""),
        mark("P", T0 + 5000, "X", ""),
    ];
    assert_eq!(check(&set, &sigs, Some(T0 + 10_000)).len(), 0);
}

#[test]
fn fp05_max_open_of_a_trace_restarted_after_its_stop_measures_the_new_trace() {
    let set = rules([rule("O", "TRACE_START", "T", "MAX_OPEN_MS", "1000")]);
    let mut run = Run::new(&set);
    run.send_all(&[
        ts_("P", T0, "T", ""),
        te("P", T0 + 100, "T", ""),
        ts_("P", T0 + 200, "T", ""),
    ]);
    assert!(
        run.advance(T0 + 1100).is_empty(),
        "the first trace was stopped"
    );
    let a = run.advance(T0 + 1201);
    assert_eq!(ids(&a), ["O"]);
    assert_eq!((a[0].signal_ts, a[0].action_count), (T0 + 1200, 1));
}

#[test]
fn fp05_silence_fires_once_per_silence_and_is_rearmed_by_a_later_signal_logs_included() {
    let set = rules([rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "5")]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    assert_eq!(
        ids(&run.advance(T0 + 20_000)),
        ["SIL"],
        "once, however long the silence"
    );
    assert!(run.advance(T0 + 60_000).is_empty());
    run.send(&log("P", T0 + 60_000, Level::Debug, "still here"));
    assert!(run.advance(T0 + 65_000).is_empty());
    let a = run.advance(T0 + 65_001);
    assert_eq!(ids(&a), ["SIL"]);
    assert_eq!(a[0].signal_ts, T0 + 65_000);
}

#[test]
fn fp05_silence_once_even_when_the_throttle_drops_it() {
    let set = rules([rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "1").throttle(3600.0)]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    assert_eq!(run.advance(T0 + 1001).len(), 1);
    run.send(&mark("P", T0 + 2000, "X", ""));
    assert!(run.advance(T0 + 3001).is_empty(), "dropped by the throttle");
    assert!(
        run.advance(T0 + 3_601_000).is_empty(),
        "and not fired again after the window"
    );
    assert_eq!(run.engine.stats().throttled, 1);
}

#[test]
fn fp05_silence_only_for_explicit_starts() {
    let set = rules([rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "5")]);
    let implicit = [mark("P", T0, "X", "").name("job")];
    assert_eq!(check(&set, &implicit, Some(T0 + 60_000)).len(), 0);
    let explicit = [start("P", T0, "job", pf())];
    assert_eq!(check(&set, &explicit, Some(T0 + 60_000)).len(), 1);
}

#[test]
fn fp05_process_stop_cancels_silence_and_runtime() {
    let set = rules([
        rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "5"),
        rule("RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "5000"),
    ]);
    let sigs = [start("P", T0, "job", pf()), stop("P", T0 + 100, pf())];
    assert_eq!(check(&set, &sigs, Some(T0 + 60_000)).len(), 0);
}

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

// ---------------------------------------------------------------------------------------------
// 11. Throttle

#[test]
fn fp11_throttle_fires_exactly_at_the_windows_end() {
    let set = rules([rule("ON", "MARK_EVENT", "A", "ON_EVENT", "").throttle(2.0)]);
    let sigs = [
        mark("P", T0, "A", ""),
        mark("P", T0 + 1999, "A", ""),
        mark("P", T0 + 2000, "A", ""),
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(
        a.iter().map(|a| a.signal_ts).collect::<Vec<_>>(),
        [T0, T0 + 2000]
    );
}

#[test]
fn fp11_dropped_firings_do_not_extend_the_window() {
    let set = rules([rule("ON", "MARK_EVENT", "A", "ON_EVENT", "").throttle(2.0)]);
    let sigs = [
        mark("P", T0, "A", ""),
        mark("P", T0 + 1500, "A", ""),
        mark("P", T0 + 2100, "A", ""),
        mark("P", T0 + 3000, "A", ""),
        mark("P", T0 + 4100, "A", ""),
    ];
    let mut run = Run::new(&set);
    run.send_all(&sigs);
    let times: Vec<i64> = run.alerts.iter().map(|a| a.signal_ts).collect();
    assert_eq!(times, [T0, T0 + 2100, T0 + 4100]);
    assert_eq!(run.engine.stats().throttled, 2);
}

#[test]
fn fp11_throttle_is_per_fingerprint_and_in_engine_time() {
    let set = rules([rule("ON", "MARK_EVENT", "A", "ON_EVENT", "").throttle(2.0)]);
    let sigs = [
        mark("P", T0, "A", "C1"),
        mark("P", T0 + 1, "A", "C2"),
        mark("Q", T0 + 3000, "X", ""),  // engine time moves to T0+3000
        mark("P", T0 + 100, "A", "C1"), // back-dated, but engine time is past the window
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(a.len(), 3);
    assert_eq!(a[2].engine_ts, T0 + 3000);
}

#[test]
fn fp11_timer_alerts_are_throttled_too() {
    let set = rules([followed("F", "A", "B|100").throttle(10.0)]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", ""));
    assert_eq!(
        run.send(&mark("P", T0 + 1000, "A", "")).len(),
        1,
        "fired at engine time T0+1000"
    );
    assert!(
        run.advance(T0 + 1200).is_empty(),
        "the second expectation fails inside the window"
    );
    run.send(&mark("P", T0 + 20_000, "A", ""));
    run.advance(T0 + 30_000);
    assert_eq!(
        run.alerts.iter().map(|a| a.signal_ts).collect::<Vec<_>>(),
        [T0 + 100, T0 + 20_100]
    );
    assert_eq!(run.engine.stats().throttled, 1);
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

// ---------------------------------------------------------------------------------------------
// 13. Numbers

#[test]
fn fp13_decimal_seconds_compare_exactly() {
    let gap = rules([rule("GAP", "MARK_EVENT", "A", "MAX_GAP_SECONDS", "1.3")]);
    let at = [mark("P", T0, "A", ""), mark("P", T0 + 1300, "A", "")];
    assert_eq!(
        check(&gap, &at, None).len(),
        0,
        "MAX_GAP_SECONDS 1.3 vs a 1300 ms gap"
    );
    let over = [mark("P", T0, "A", ""), mark("P", T0 + 1301, "A", "")];
    assert_eq!(check(&gap, &over, None).len(), 1);

    let odd = rules([rule("GAP", "MARK_EVENT", "A", "MAX_GAP_SECONDS", "4.35")]);
    assert_eq!(
        check(
            &odd,
            &[mark("P", T0, "A", ""), mark("P", T0 + 4350, "A", "")],
            None
        )
        .len(),
        0
    );

    let within = rules([rule(
        "W",
        "MARK_EVENT",
        "B",
        "PRECEDED_BY_WITHIN_SECS",
        "A|1.3",
    )]);
    assert_eq!(
        check(
            &within,
            &[mark("P", T0, "A", ""), mark("P", T0 + 1300, "B", "")],
            None
        )
        .len(),
        0
    );
    assert_eq!(
        check(
            &within,
            &[mark("P", T0, "A", ""), mark("P", T0 + 1301, "B", "")],
            None
        )
        .len(),
        1
    );

    let silence = rules([rule("S", "PROCESS_START", "job", "SILENCE_SECONDS", "1.3")]);
    assert_eq!(
        check(&silence, &[start("P", T0, "job", pf())], Some(T0 + 1300)).len(),
        0
    );
    assert_eq!(
        check(&silence, &[start("P", T0, "job", pf())], Some(T0 + 1301)).len(),
        1
    );
}

#[test]
fn fp13_percent_thresholds_compare_exactly() {
    // 57/100 as a float ratio is 56.99999999999999 %; done*100 < v*todo is exact.
    let set = rules([rule(
        "RATE",
        "PROCESS_STOP",
        "job",
        "SUCCESS_RATE_LOW",
        "57",
    )]);
    let sigs = [
        start("P", T0, "job", pf().todo(100)),
        stop("P", T0 + 1, pf().done(57)),
    ];
    assert_eq!(check(&set, &sigs, None).len(), 0);
    let frac = rules([rule(
        "RATE",
        "PROCESS_STOP",
        "job",
        "SUCCESS_RATE_LOW",
        "33.4",
    )]);
    let sigs = [
        start("P", T0, "job", pf().todo(3)),
        stop("P", T0 + 1, pf().done(1)),
    ];
    assert_eq!(check(&frac, &sigs, None).len(), 1, "decimals are allowed");
}

#[test]
fn fp13_decimal_ms_limits() {
    let dur = rules([rule("DUR", "TRACE_STOP", "T", "MAX_DURATION_MS", "100.5")]);
    assert_eq!(
        check(
            &dur,
            &[ts_("P", T0, "T", ""), te("P", T0 + 100, "T", "")],
            None
        )
        .len(),
        0
    );
    assert_eq!(
        check(
            &dur,
            &[ts_("P", T0, "T", ""), te("P", T0 + 101, "T", "")],
            None
        )
        .len(),
        1
    );

    let f = rules([followed("F", "A", "B|100.5")]);
    let sigs = [mark("P", T0, "A", ""), mark("P", T0 + 100, "B", "")];
    assert_eq!(check(&f, &sigs, Some(T0 + 10_000)).len(), 0);
    let mut run = Run::new(&f);
    run.send(&mark("P", T0, "A", ""));
    assert!(run.advance(T0 + 100).is_empty());
    let a = run.advance(T0 + 101);
    assert_eq!(ids(&a), ["F"], "T0+101 is past the deadline T0+100.5");
}

#[test]
fn fp13_negative_durations_are_kept() {
    let set = rules([rule("DUR", "TRACE_STOP", "T", "MAX_DURATION_MS", "0")]);
    let mut run = Run::new(&set);
    run.send(&ts_("P", T0 + 1000, "T", ""));
    let (o, a) = run.send_o(&te("P", T0 + 900, "T", ""));
    assert_eq!((o.ignored, o.used_ms), (false, Some(-100)));
    assert!(a.is_empty());
    run.send(&mark("P", T0 + 1000, "M", ""));
    let (o, _) = run.send_o(&mark("P", T0 + 500, "M", ""));
    assert_eq!(
        o.used_ms,
        Some(-500),
        "a back-dated mark has a negative gap"
    );
}

// ---------------------------------------------------------------------------------------------
// 14. Severity

#[test]
fn fp14_severity_is_lower_case_and_defaults_to_medium() {
    let set = rules([
        rule("DEF", "MARK_EVENT", "A", "ON_EVENT", ""),
        rule("WARN", "MARK_EVENT", "A", "ON_EVENT", "").severity("WARN"),
        rule("ERR", "MARK_EVENT", "A", "ON_EVENT", "").severity("error"),
        rule("CRIT", "MARK_EVENT", "A", "ON_EVENT", "").severity("Critical"),
        rule("WNG", "MARK_EVENT", "A", "ON_EVENT", "").severity("warning"),
    ]);
    let a = check(&set, &[mark("P", T0, "A", "")], None);
    let sev: Vec<Severity> = a.iter().map(|a| a.severity).collect();
    assert_eq!(
        sev,
        [
            Severity::Medium,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
            Severity::Medium
        ]
    );
    let json: Vec<String> = a
        .iter()
        .map(|a| {
            serde_json::to_value(a).expect("serializes")["severity"]
                .as_str()
                .expect("a string")
                .to_owned()
        })
        .collect();
    assert_eq!(json, ["medium", "medium", "high", "critical", "medium"]);
}

#[test]
fn fp14_unknown_severity_is_rejected_with_the_accepted_list() {
    let doc = rules([rule("R", "MARK_EVENT", "A", "ON_EVENT", "").severity("fatal")]);
    let errors = parse_rule_set(&doc).expect_err("fatal is no severity");
    let e = errors
        .iter()
        .find(|e| e.field == "alert.severity")
        .expect("an alert.severity error");
    for level in ["critical", "high", "medium", "low", "info"] {
        assert!(e.message.contains(level), "{}", e.message);
    }
}

#[test]
fn fp14_log_levels_in_values_must_be_one_of_five_any_case() {
    for ok in ["ERROR", "warn", "Monitor", "info", "DEBUG"] {
        let doc = rules([rule("R", "LOGGING", "", "SEVERITY", ok)]);
        assert!(parse_rule_set(&doc).is_ok(), "{ok}");
        let doc = rules([rule("R", "LOGGING", "", "LOG_CONTAINS", &format!("{ok}|x"))]);
        assert!(parse_rule_set(&doc).is_ok(), "{ok}|x");
    }
    for bad in ["FATAL", "WARNING", "ERR"] {
        let doc = rules([rule("R", "LOGGING", "", "SEVERITY", bad)]);
        assert!(parse_rule_set(&doc).is_err(), "{bad}");
    }
    let set = rules([rule("W", "LOGGING", "", "SEVERITY", "warn")]);
    assert_eq!(
        check(&set, &[log("P", T0, Level::Warn, "x")], None).len(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// 15. Validation details

fn error_fields(doc: &str) -> Vec<String> {
    match parse_rule_set(doc) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.field).collect(),
    }
}

fn rejects(r: R, field: &str) {
    let doc = rules([r.clone()]);
    let fields = error_fields(&doc);
    assert!(
        fields.iter().any(|f| f == field),
        "expected an error on {field} for {}: got {fields:?}",
        r.0
    );
}

fn accepts(r: R) {
    let doc = rules([r.clone()]);
    if let Err(e) = parse_rule_set(&doc) {
        panic!("{} must be accepted: {e:#?}", r.0);
    }
}

#[test]
fn fp15_empty_context_is_an_error() {
    rejects(
        rule("R", "MARK_EVENT", "A", "ON_EVENT", "").ctx(""),
        "context",
    );
}

#[test]
fn fp15_on_values_are_ignored_every_other_operator_needs_a_value() {
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", ""));
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", "anything|||"));
    let mut empty = rule("R", "MARK_EVENT", "A", "ON_EVENT", "");
    empty.0["condition"]["value"] = serde_json::json!("");
    accepts(empty);
    rejects(
        rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", ""),
        "condition.value",
    );
    let mut blank = rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", "");
    blank.0["condition"]["value"] = serde_json::json!("");
    rejects(blank, "condition.value");
    rejects(rule("R", "LOGGING", "", "SEVERITY", ""), "condition.value");
    rejects(
        rule("R", "PROCESS_UPDATE", "job", "INFO_CONTAINS", ""),
        "condition.value",
    );
}

#[test]
fn fp15_part_counts() {
    accepts(rule("R", "MARK_EVENT", "A", "PRECEDED_BY", "X"));
    accepts(rule("R", "MARK_EVENT", "A", "PRECEDED_BY", "X|C"));
    rejects(
        rule("R", "MARK_EVENT", "A", "PRECEDED_BY", "X|C|D"),
        "condition.value",
    );
    for op in [
        "PRECEDED_BY_WITHIN_MS",
        "PRECEDED_BY_WITHIN_SECS",
        "FOLLOWED_BY_WITHIN_MS",
    ] {
        accepts(rule("R", "MARK_EVENT", "A", op, "X|5"));
        accepts(rule("R", "MARK_EVENT", "A", op, "X|C|5"));
        rejects(rule("R", "MARK_EVENT", "A", op, "X"), "condition.value");
        rejects(
            rule("R", "MARK_EVENT", "A", op, "X|C|D|5"),
            "condition.value",
        );
        rejects(rule("R", "MARK_EVENT", "A", op, "X|C"), "condition.value");
    }
    accepts(rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50"));
    accepts(rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50|3"));
    accepts(rule(
        "R",
        "MARK_EVENT",
        "A",
        "AVG_DEVIATION_PCT",
        "50|3|0.5",
    ));
    rejects(
        rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50|3|0.5|1"),
        "condition.value",
    );
}

#[test]
fn fp15_avg_deviation_ranges() {
    accepts(rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "0|0|1"));
    for bad in [
        "-5",
        "50|2.5",
        "50|-1",
        "50|3|0",
        "50|3|1.5",
        "50|3|-0.1",
        "x",
        "50|x",
    ] {
        rejects(
            rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", bad),
            "condition.value",
        );
    }
}

#[test]
fn fp15_numbers_never_inf_or_nan() {
    for bad in ["inf", "NaN", "-inf", "infinity", "1e999", "0x10", "12abc"] {
        rejects(
            rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", bad),
            "condition.value",
        );
    }
    accepts(rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", "12.5"));
    let mut numeric = rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", "");
    numeric.0["condition"]["value"] = serde_json::json!(250);
    accepts(numeric);
}

#[test]
fn fp15_info_contains_is_a_plain_substring() {
    let set = rules([rule(
        "I",
        "PROCESS_UPDATE",
        "job",
        "INFO_CONTAINS",
        "ka%tt*",
    )]);
    let sigs = [
        start("P", T0, "job", pf()),
        update("P", T0 + 1, pf().info("kaputt")),
        update("P", T0 + 2, pf().info("kapott")),
        update("P", T0 + 3, pf().info("Teil KA%TT* weg")),
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(a.iter().map(|a| a.signal_ts - T0).collect::<Vec<_>>(), [3]);
}

#[test]
fn fp15_throttle_is_a_number_at_least_zero() {
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(0.0));
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(1.5));
    rejects(
        rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(-1.0),
        "alert.throttle_seconds",
    );
    let mut both = rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(1.0);
    both.0["alert"]["throttle"] = serde_json::json!(2);
    let fields = error_fields(&rules([both]));
    assert!(
        fields.iter().any(|f| f.starts_with("alert.throttle")),
        "{fields:?}"
    );
    let mut synonym = rule("R", "MARK_EVENT", "A", "ON_EVENT", "");
    synonym.0["alert"]["throttle"] = serde_json::json!(2);
    let set = rules([synonym]);
    let sigs = [
        mark("P", T0, "A", ""),
        mark("P", T0 + 1999, "A", ""),
        mark("P", T0 + 2000, "A", ""),
    ];
    assert_eq!(
        check(&set, &sigs, None).len(),
        2,
        "alert.throttle is a synonym"
    );
}

#[test]
fn fp15_process_or_logging_rule_with_context_is_accepted_with_a_warning_and_never_evaluated() {
    let doc = rules([
        rule("PS", "PROCESS_START", "job", "ON_START", "").ctx("C1"),
        rule("LG", "LOGGING", "", "SEVERITY", "ERROR").ctx("C1"),
    ]);
    let parsed = parse_rule_set(&doc).expect("accepted");
    let warned: Vec<(Option<&str>, &str)> = parsed
        .warnings
        .iter()
        .map(|w| (w.rule.as_deref(), w.field.as_str()))
        .collect();
    assert!(warned.contains(&(Some("PS"), "context")), "{warned:?}");
    assert!(warned.contains(&(Some("LG"), "context")), "{warned:?}");
    let sigs = [
        start("P", T0, "job", pf()),
        log("P", T0 + 1, Level::Error, "x"),
    ];
    assert_eq!(check(&doc, &sigs, None).len(), 0);
}

#[test]
fn fp15_keywords_case_insensitive_and_underscore_keys_ignored() {
    let mut r = rule("R", "mark_event", "A", "on_event", "");
    r.0["_comment"] = serde_json::json!("ignored");
    r.0["condition"]["_note"] = serde_json::json!({"any": "thing"});
    let doc = serde_json::json!({
        "_comment": "top",
        "header": {"rule_set": "s", "_x": 1},
        "rules": [r.0],
    })
    .to_string();
    let set = parse(&doc);
    assert_eq!(set.rules[0].trigger, Trigger::MarkEvent);
    assert_eq!(set.rules[0].operator, "ON_EVENT");
}

#[test]
fn fp15_every_error_is_reported_at_once() {
    let doc = rules([
        rule("A1", "MARK_EVENT", "A", "MAX_DURATION_MS", "x"),
        rule("A2", "TRACE_STOP", "A", "PRECEDED_BY", "X"),
        rule("A3", "MARK_EVENT", "A", "ON_EVENT", "").with("alert", serde_json::json!({})),
    ]);
    let errors = parse_rule_set(&doc).expect_err("three bad rules");
    let mut blamed: Vec<&str> = errors.iter().filter_map(|e| e.rule.as_deref()).collect();
    blamed.dedup();
    assert_eq!(blamed, ["A1", "A2", "A3"]);
}

#[test]
fn fp15_json_syntax_error_reports_line_and_column() {
    let errors = parse_rule_set("{\n  \"rules\": [\n    {,\n  ]\n}").expect_err("not JSON");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, Some(3));
    assert!(errors[0].column.is_some());
}

// ---------------------------------------------------------------------------------------------
// 16. Signals (engine side; the wire side is in `wire_signals`)

#[test]
fn fp16_missing_ts_takes_engine_time() {
    let set = rules([rule("DUR", "MARK_EVENT", "A", "MAX_DURATION_MS", "100")]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", ""));
    run.send(&mark("Q", T0 + 500, "X", ""));
    let (o, a) = run.send_o(&mark("P", 0, "A", "").untimed());
    assert_eq!(o.ts, T0 + 500);
    assert_eq!(o.used_ms, Some(500));
    assert_eq!(ids(&a), ["DUR"]);
    assert_eq!(a[0].signal_ts, T0 + 500);
}

#[test]
fn fp16_rule_set_version_is_null_when_the_header_has_none() {
    let doc = serde_json::json!({
        "rules": [rule("R", "MARK_EVENT", "A", "ON_EVENT", "").0],
    })
    .to_string();
    let a = check(&doc, &[mark("P", T0, "A", "")], None);
    let v = serde_json::to_value(&a[0]).expect("serializes");
    assert_eq!(v["rule_set_version"], serde_json::Value::Null);
    assert_eq!(v["rule_set"], "test");
    let with = check(
        &rules([rule("R", "MARK_EVENT", "A", "ON_EVENT", "")]),
        &[mark("P", T0, "A", "")],
        None,
    );
    assert_eq!(
        serde_json::to_value(&with[0]).expect("serializes")["rule_set_version"],
        1
    );
}

#[test]
fn fp16_wire_context_empty_is_none_and_numeric_ids_become_strings() {
    let s = parse_signal(r#"{"kind":"mark","process":42,"action":"A","context":"","ts":5}"#)
        .expect("valid");
    assert_eq!(s, mark("42", 5, "A", ""));
    assert_eq!(
        s.body,
        Body::Mark(Monitor {
            action: "A".to_owned(),
            context: None
        })
    );
    let named =
        parse_signal(r#"{"kind":"mark","process":"42","action":"A","ts":5}"#).expect("valid");
    assert_eq!(named, s, "\"process\": 42 and \"42\" are the same process");
}

#[test]
fn fp16_wire_missing_ts_is_none_and_takes_engine_time() {
    let set = rules([rule("ON", "MARK_EVENT", "A", "ON_EVENT", "")]);
    let mut run = Run::new(&set);
    run.send(&mark("Q", T0 + 250, "X", ""));
    let s = parse_signal(r#"{"kind":"mark","process":"P","action":"A"}"#).expect("valid");
    assert_eq!(s.ts, None);
    let (o, a) = run.send_o(&s);
    assert_eq!((o.ts, a[0].signal_ts), (T0 + 250, T0 + 250));
}

#[test]
fn fp16_wire_log_level_is_one_of_five_in_any_case() {
    for (text, level) in [
        ("error", Level::Error),
        ("Warn", Level::Warn),
        ("MONITOR", Level::Monitor),
        ("info", Level::Info),
        ("dEbUg", Level::Debug),
    ] {
        let line = format!(r#"{{"kind":"log","process":"P","level":"{text}","message":"m"}}"#);
        let s = parse_signal(&line).expect("valid level");
        assert_eq!(
            s.body,
            Body::Log(Log {
                level,
                message: "m".to_owned()
            }),
            "{text}"
        );
    }
    for bad in ["WARNING", "FATAL", "ERR", ""] {
        let line = format!(r#"{{"kind":"log","process":"P","level":"{bad}","message":"m"}}"#);
        let e = parse_signal(&line).expect_err("not a level");
        assert_eq!(e.field.as_deref(), Some("level"), "{bad}: {e}");
    }
}

#[test]
fn fp16_wire_unknown_key_rejects_the_line_attrs_hold_free_data() {
    let e = parse_signal(r#"{"kind":"mark","process":"P","action":"A","contxt":"C1"}"#)
        .expect_err("typo");
    assert_eq!(e.field.as_deref(), Some("contxt"));
    let s = parse_signal(
        r#"{"kind":"mark","process":"P","action":"A","attrs":{"contxt":"C1","n":[1,2]}}"#,
    )
    .expect("attrs are free");
    let attrs = s.attrs.as_ref().expect("kept");
    assert_eq!(attrs["contxt"], "C1");
}

#[test]
fn fp16_rejected_line_does_not_move_engine_time() {
    // The replay loop: parse each line, evaluate only what parsed.
    let set = rules([rule("DUR", "MARK_EVENT", "A", "MAX_DURATION_MS", "100")]);
    let lines = [
        format!(r#"{{"kind":"mark","process":"P","action":"A","ts":{T0}}}"#),
        format!(
            r#"{{"kind":"mark","process":"P","action":"A","ts":{},"colour":"red"}}"#,
            T0 + 50_000
        ),
        r#"{"kind":"mark","process":"P","action":"A"}"#.to_owned(),
    ];
    let mut run = Run::new(&set);
    let mut rejected = 0;
    for line in &lines {
        match parse_signal(line) {
            Ok(s) => {
                run.send(&s);
            }
            Err(_) => rejected += 1,
        }
    }
    assert_eq!(rejected, 1);
    assert_eq!(
        run.engine.now(),
        T0,
        "the rejected line's ts never reached the engine"
    );
    assert!(
        run.alerts.is_empty(),
        "the untimed mark is at T0, a 0 ms gap"
    );
}

// ---------------------------------------------------------------------------------------------
// Section 1 and 3 details

#[test]
fn trace_stop_without_open_trace_is_ignored_and_keeps_the_predecessor() {
    let set = rules([
        rule("PRE", "MARK_EVENT", "B", "PRECEDED_BY", "A"),
        rule("STOP", "TRACE_STOP", "X", "ON_STOP", ""),
    ]);
    let mut run = Run::new(&set);
    run.send(&mark("P", T0, "A", ""));
    let (o, a) = run.send_o(&te("P", T0 + 1, "X", ""));
    assert!(o.ignored);
    assert!(a.is_empty(), "no rules run");
    assert!(
        run.send(&mark("P", T0 + 2, "B", "")).is_empty(),
        "predecessor is still A"
    );
    assert_eq!(run.engine.stats().ignored_trace_stops, 1);
    let (o, _) = run.send_o(&te("NEVER_SEEN", T0 + 3, "X", ""));
    assert!(o.ignored);
    assert!(
        !run.engine.is_open("NEVER_SEEN"),
        "an ignored stop opens no run"
    );
}

#[test]
fn marks_and_traces_of_one_key_keep_separate_state() {
    let set = rules([
        rule("MOCC", "MARK_EVENT", "A", "MAX_OCCURRENCE", "1"),
        rule("TGAP", "TRACE_START", "A", "MAX_GAP_SECONDS", "1"),
        rule("TSTOP", "TRACE_STOP", "A", "ON_STOP", ""),
    ]);
    let mut run = Run::new(&set);
    let (o, _) = run.send_o(&mark("P", T0, "A", ""));
    assert_eq!(o.action_count, 1);
    let (o, a) = run.send_o(&ts_("P", T0 + 5000, "A", ""));
    assert_eq!(
        o.action_count, 0,
        "no completed trace; marks are not traces"
    );
    assert!(a.is_empty(), "no previous trace stop, so no gap");
    let (o, a) = run.send_o(&te("P", T0 + 5100, "A", ""));
    assert_eq!(
        (o.used_ms, o.action_count),
        (Some(100), 1),
        "measured from the trace start, not the mark"
    );
    assert_eq!(ids(&a), ["TSTOP"]);
    let (o, a) = run.send_o(&mark("P", T0 + 6000, "A", ""));
    assert_eq!(
        (o.used_ms, o.action_count),
        (Some(6000), 2),
        "gap since the previous mark"
    );
    assert_eq!(ids(&a), ["MOCC"]);
    // A trace stop for a key only marked so far is ignored.
    let (o, _) = run.send_o(&te("P", T0 + 6001, "A", ""));
    assert!(o.ignored);
}

#[test]
fn missing_context_is_its_own_key() {
    let set = rules([rule("OCC", "MARK_EVENT", "A", "MAX_OCCURRENCE", "1")]);
    let sigs = [
        mark("P", T0, "A", ""),
        mark("P", T0 + 1, "A", "C1"),
        mark("P", T0 + 2, "a", ""),
    ];
    assert_eq!(
        check(&set, &sigs, None).len(),
        0,
        "exact, case-sensitive keys"
    );
    let sigs = [
        mark("P", T0, "A", ""),
        mark("P", T0 + 1, "A", "C1"),
        mark("P", T0 + 2, "A", ""),
    ];
    assert_eq!(check(&set, &sigs, None).len(), 1);
}

#[test]
fn predecessor_is_set_by_trace_start_and_stop_not_by_logs_or_process_signals() {
    let set = rules([rule("PRE", "MARK_EVENT", "B", "PRECEDED_BY", "T")]);
    let sigs = [
        ts_("P", T0, "T", ""),
        log("P", T0 + 1, Level::Info, "x"),
        update("P", T0 + 2, pf().status(1)),
        mark("P", T0 + 3, "B", ""),
        mark("P", T0 + 4, "X", ""),
        te("P", T0 + 5, "T", ""),
        mark("P", T0 + 6, "B", ""),
    ];
    assert_eq!(check(&set, &sigs, None).len(), 0);
}

#[test]
fn preceded_by_fires_without_predecessor() {
    let set = rules([rule("PRE", "MARK_EVENT", "B", "PRECEDED_BY", "A")]);
    let a = check(&set, &[mark("P", T0, "B", "")], None);
    assert_eq!(ids(&a), ["PRE"]);
    assert_eq!(a[0].message, "B had no predecessor, expected A");
}

#[test]
fn logging_rule_action_must_equal_the_process_name() {
    let set = rules([rule("L", "LOGGING", "job", "SEVERITY", "ERROR")]);
    let sigs = [
        log("P", T0, Level::Error, "x").name("job"),
        log("Q", T0 + 1, Level::Error, "x").name("other"),
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(a.iter().map(|a| &*a.process).collect::<Vec<_>>(), ["P"]);
}
