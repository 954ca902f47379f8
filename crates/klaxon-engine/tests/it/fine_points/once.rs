//! Rules that fire once: per run, per trace, per silence, whatever the throttle drops.

use super::*;

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
