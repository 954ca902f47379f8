//! Timer rules: when their deadlines fall, the order in which due timers fire, and what their alerts carry.

use super::*;

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
// Late batches in time order (`Engine::process_in_time`): a batch of signals that arrives a
// minute after they happened fires the alerts the same signals fired live, no more and no less.

#[test]
fn a_late_batch_in_time_order_fires_what_the_live_signals_fired() {
    let set = rules([
        rule("OPEN", "TRACE_START", "q", "MAX_OPEN_MS", "1000"),
        rule("RT", "PROCESS_START", "job", "RUNTIME_EXCEEDED", "3000"),
        followed("F", "A", "B|500"),
        rule("SLOW", "TRACE_STOP", "q", "MAX_DURATION_MS", "100"),
    ]);
    let batch = [
        start("P", T0, "job", pf()),
        ts_("P", T0 + 100, "q", "quick"),
        mark("P", T0 + 200, "A", ""),
        te("P", T0 + 350, "q", "quick"),
        mark("P", T0 + 800, "B", ""),
        ts_("P", T0 + 1_000, "q", "stuck"),
        te("P", T0 + 3_000, "q", "stuck"),
        stop("P", T0 + 5_000, pf()),
    ];
    let mut live = ids(&check(&set, &batch, Some(T0 + 60_000)))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    live.sort();
    assert_eq!(live, ["F", "OPEN", "RT", "SLOW", "SLOW"], "live");

    let mut engine = engine(&set);
    let mut out = Vec::new();
    engine.advance(T0 + 60_000, &mut out);
    for s in &batch {
        engine.process_in_time(s, &mut out);
    }
    engine.advance(T0 + 60_000, &mut out);
    let mut late: Vec<String> = ids(&out).into_iter().map(str::to_owned).collect();
    late.sort();
    assert_eq!(late, live, "a minute late, in time order");
    let open: Vec<_> = out.iter().filter(|a| &*a.rule_id == "OPEN").collect();
    assert_eq!(
        open[0].context.as_deref(),
        Some("stuck"),
        "not the quick query"
    );

    // The same batch through `process` fires every timer whose deadline had passed when it
    // arrived, before the signals that would have stopped it.
    let mut engine = super::engine(&set);
    let mut out = Vec::new();
    for s in &batch {
        engine.process(T0 + 60_000, s, &mut out);
    }
    assert_eq!(
        count(&out, "OPEN"),
        2,
        "both queries, as a minute-late batch"
    );
}
