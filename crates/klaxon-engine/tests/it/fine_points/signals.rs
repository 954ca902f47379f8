//! Signals as the engine sees them (missing times, the wire form) and the per-key state of marks, traces and predecessors.

use super::*;

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
// Details of signals and of a run's monitor signals

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
