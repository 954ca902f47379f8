//! `FOLLOWED_BY_WITHIN_MS`: what arms an expectation, what satisfies it, and what cancels it.

use super::*;

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
