//! A trace stop with no open trace of its key: no rules, no trace state, yet a signal of its
//! process (it opens the run and re-arms silence).

use super::*;

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
    assert_eq!(o.used_ms, None, "no duration measured");
    assert!(a.is_empty(), "no rules run");
    assert!(
        run.send(&mark("P", T0 + 2, "B", "")).is_empty(),
        "predecessor is still A"
    );
    assert_eq!(run.engine.stats().ignored_trace_stops, 1);
}

#[test]
fn trace_stop_without_open_trace_rearms_silence() {
    let set = rules([rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "5")]);
    let mut run = Run::new(&set);
    run.send(&start("P", T0, "job", pf()));
    let (o, a) = run.send_o(&te("P", T0 + 3000, "X", ""));
    assert!(o.ignored, "no trace of X is open");
    assert!(a.is_empty());
    assert!(
        run.advance(T0 + 5001).is_empty(),
        "the process spoke at T0+3000, so it is not silent past T0+5000"
    );
    assert!(run.advance(T0 + 8000).is_empty());
    let a = run.advance(T0 + 8001);
    assert_eq!(ids(&a), ["SIL"]);
    assert_eq!(a[0].signal_ts, T0 + 8000, "deadline from the trace stop");
}

#[test]
fn trace_stop_for_an_unknown_process_opens_it_with_the_signal_name() {
    let set = rules([
        rule("UPD", "PROCESS_UPDATE", "job", "ON_UPDATE", ""),
        rule("SIL", "PROCESS_START", "job", "SILENCE_SECONDS", "1"),
    ]);
    let mut run = Run::new(&set);
    let (o, a) = run.send_o(&te("NEW", T0, "X", "").name("job"));
    assert!(o.ignored);
    assert!(a.is_empty());
    assert!(run.engine.is_open("NEW"), "the stop opened a run");
    assert_eq!(run.engine.stats().open_processes, 1);
    let a = run.send(&update("NEW", T0 + 10, pf()));
    assert_eq!(ids(&a), ["UPD"], "the run is named `job`, not by its id");
    assert_eq!((&*a[0].process, &*a[0].process_name), ("NEW", "job"));
    assert!(
        run.advance(T0 + 60_000).is_empty(),
        "an implicit open arms no PROCESS_START timer"
    );
}

#[test]
fn trace_stop_for_an_unknown_process_without_name_is_named_by_its_id() {
    let set = rules([rule("UPD", "PROCESS_UPDATE", "NEW", "ON_UPDATE", "")]);
    let mut run = Run::new(&set);
    run.send(&te("NEW", T0, "X", ""));
    assert!(run.engine.is_open("NEW"));
    assert_eq!(ids(&run.send(&update("NEW", T0 + 1, pf()))), ["UPD"]);
}
