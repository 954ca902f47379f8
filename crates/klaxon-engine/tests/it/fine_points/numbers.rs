//! Numbers in rule values: decimal seconds, percentages and milliseconds compared exactly.

use super::*;

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
