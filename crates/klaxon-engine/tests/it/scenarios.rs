//! The 24 acceptance scenarios of the rule language (`scenario_NN_...`). Each sub-case uses a
//! fresh engine and process; signals are 1 ms apart unless a `wait` stands for `+Ns`.

use crate::common::*;
use klaxon_engine::event::parse_rule_set;
use klaxon_engine::Trigger;

fn p() -> Seq {
    Seq::new("P1")
}

#[test]
fn scenario_01_preceded_by() {
    let set = rules([rule("R1", "MARK_EVENT", "RG_B", "PRECEDED_BY", "RG_A")]);
    assert_eq!(p().e("RG_A", "C1").e("RG_B", "").run(&set, None).len(), 0);
    assert_eq!(
        p().e("RG_A", "")
            .log(Level::Info, "x")
            .e("RG_B", "")
            .run(&set, None)
            .len(),
        0
    );
    let a = p().e("RG_X", "").e("RG_B", "").run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!((&*a[0].action, a[0].signal_ts), ("RG_B", T0 + 1));
}

#[test]
fn scenario_02_preceded_by_context() {
    let set = rules([rule("R1", "MARK_EVENT", "RG_B2", "PRECEDED_BY", "RG_A|C1")]);
    assert_eq!(p().e("RG_A", "C1").e("RG_B2", "").run(&set, None).len(), 0);
    assert_eq!(
        count(&p().e("RG_A", "C2").e("RG_B2", "").run(&set, None), "R1"),
        1
    );
}

#[test]
fn scenario_03_preceded_by_within_secs() {
    let set = rules([rule(
        "R1",
        "MARK_EVENT",
        "RG_D",
        "PRECEDED_BY_WITHIN_SECS",
        "RG_C|1",
    )]);
    assert_eq!(p().e("RG_C", "").e("RG_D", "").run(&set, None).len(), 0);
    let late = p().e("RG_C", "").wait(1300).e("RG_D", "").run(&set, None);
    assert_eq!(count(&late, "R1"), 1);
    assert_eq!((late[0].value, late[0].limit), (Some(1.3), Some(1.0)));
    assert_eq!(
        count(&p().e("RG_X", "").e("RG_D", "").run(&set, None), "R1"),
        1
    );
}

#[test]
fn scenario_04_preceded_by_on_trace_start() {
    let set = rules([rule("R1", "TRACE_START", "RG_T", "PRECEDED_BY", "RG_A")]);
    assert_eq!(
        p().e("RG_A", "")
            .ts("RG_T", "")
            .te("RG_T", "")
            .run(&set, None)
            .len(),
        0
    );
    let a = p()
        .e("RG_X", "")
        .ts("RG_T", "")
        .te("RG_T", "")
        .run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(a[0].trigger, Trigger::TraceStart);
}

#[test]
fn scenario_05_preceded_by_within_secs_on_process_update() {
    let set = rules([rule(
        "R1",
        "PROCESS_UPDATE",
        "P1",
        "PRECEDED_BY_WITHIN_SECS",
        "RG_A|1",
    )]);
    assert_eq!(p().e("RG_A", "").update(pf()).run(&set, None).len(), 0);
    let a = p().e("RG_A", "").wait(1300).update(pf()).run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!((&*a[0].action, a[0].context.as_deref()), ("P1", None));
}

#[test]
fn scenario_06_max_gap_seconds_mark() {
    let set = rules([rule("R1", "MARK_EVENT", "RG_G", "MAX_GAP_SECONDS", "0.8")]);
    let a = p()
        .e("RG_G", "")
        .e("RG_G", "")
        .wait(1200)
        .e("RG_G", "")
        .run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(
        (a[0].action_count, a[0].value, a[0].limit),
        (3, Some(1.2), Some(0.8))
    );
}

#[test]
fn scenario_07_max_gap_seconds_trace_start() {
    let set = rules([rule("R1", "TRACE_START", "RG_G", "MAX_GAP_SECONDS", "0.8")]);
    let s = p()
        .trace("RG_G", 1)
        .wait(1)
        .trace("RG_G", 1)
        .wait(1200)
        .trace("RG_G", 1);
    let a = s.run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    // On the third start: two traces completed, 1.2 s after the second stop.
    assert_eq!((a[0].action_count, a[0].value), (2, Some(1.2)));
}

#[test]
fn scenario_08_max_duration_ms_trace() {
    let set = rules([rule("R1", "TRACE_STOP", "RG_T", "MAX_DURATION_MS", "100")]);
    let a = p()
        .trace("RG_T", 10)
        .wait(1)
        .trace("RG_T", 250)
        .run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(
        (a[0].value, a[0].limit, a[0].action_count),
        (Some(250.0), Some(100.0), 2)
    );
}

#[test]
fn scenario_09_max_duration_ms_mark() {
    let set = rules([rule("R1", "MARK_EVENT", "RG_M", "MAX_DURATION_MS", "500")]);
    let a = p()
        .e("RG_M", "")
        .e("RG_M", "")
        .wait(700)
        .e("RG_M", "")
        .run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!((a[0].value, a[0].action_count), (Some(700.0), 3));
}

#[test]
fn scenario_10_max_occurrence_mark() {
    let set = rules([rule("R1", "MARK_EVENT", "RG_O", "MAX_OCCURRENCE", "3")]);
    let mut s = p();
    for _ in 0..5 {
        s = s.e("RG_O", "");
    }
    let a = s.run(&set, None);
    assert_eq!(count(&a, "R1"), 2);
    let counts: Vec<u64> = a.iter().map(|a| a.action_count).collect();
    assert_eq!(counts, [4, 5], "the 4th and 5th mark");
    assert_eq!((a[0].signal_ts, a[1].signal_ts), (T0 + 3, T0 + 4));
}

#[test]
fn scenario_11_avg_deviation_pct() {
    let set = rules([rule(
        "R1",
        "TRACE_STOP",
        "RG_V",
        "AVG_DEVIATION_PCT",
        "50|3|0.5",
    )]);
    let mut s = p();
    for ms in [100, 100, 100, 100, 110, 400] {
        s = s.trace("RG_V", ms).wait(1);
    }
    let a = s.run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(
        (a[0].value, a[0].limit, a[0].action_count),
        (Some(400.0), Some(157.5), 6)
    );
}

#[test]
fn scenario_12_avg_deviation_pct_baseline_below_1ms() {
    let set = rules([rule(
        "R1",
        "TRACE_STOP",
        "RG_V",
        "AVG_DEVIATION_PCT",
        "100|3|0.1",
    )]);
    let mut s = p();
    for ms in [1, 0, 0, 1] {
        s = s.trace("RG_V", ms).wait(1);
    }
    assert_eq!(s.run(&set, None).len(), 0);
}

#[test]
fn scenario_13_process_rules() {
    let on_start = rules([rule("R1", "PROCESS_START", "P1", "ON_START", "")]);
    assert_eq!(
        count(&p().start(pf()).stop(pf()).run(&on_start, None), "R1"),
        1
    );

    let status = rules([rule("R1", "PROCESS_UPDATE", "P1", "STATUS_EQUALS", "3")]);
    let a = p()
        .start(pf())
        .update(pf().status(2))
        .update(pf().status(3))
        .run(&status, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(a[0].signal_ts, T0 + 2);

    let info = rules([rule(
        "R1",
        "PROCESS_UPDATE",
        "P1",
        "INFO_CONTAINS",
        "kaputt",
    )]);
    let s = p()
        .start(pf())
        .update(pf().info("alles gut"))
        .update(pf().info("Teil KAPUTT"));
    let a = s.run(&info, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(a[0].signal_ts, T0 + 2);
}

#[test]
fn scenario_14_steps() {
    let set = rules([
        rule("OCC", "PROCESS_UPDATE", "P1", "MAX_OCCURRENCE", "3"),
        rule("LEFT", "PROCESS_STOP", "P1", "STEPS_LEFT_HIGH", "2"),
        rule("RATE", "PROCESS_STOP", "P1", "SUCCESS_RATE_LOW", "80"),
    ]);
    let mut s = p().start(pf().todo(10));
    for _ in 0..5 {
        s = s.update(pf().step(1));
    }
    let a = s.stop(pf().done(7)).run(&set, None);
    assert_eq!(
        (count(&a, "OCC"), count(&a, "LEFT"), count(&a, "RATE")),
        (2, 1, 1)
    );
    let occ: Vec<u64> = a
        .iter()
        .filter(|a| &*a.rule_id == "OCC")
        .map(|a| a.action_count)
        .collect();
    assert_eq!(occ, [4, 5]);
}

#[test]
fn scenario_15_runtime() {
    let set = rules([
        rule("RT", "PROCESS_UPDATE", "P1", "RUNTIME_EXCEEDED", "500"),
        rule("MRT", "PROCESS_STOP", "P1", "MAX_RUNTIME_EXCEEDED", "500"),
    ]);
    let a = p()
        .update(pf())
        .wait(700)
        .update(pf())
        .stop(pf())
        .run(&set, None);
    assert_eq!((count(&a, "RT"), count(&a, "MRT")), (1, 1));
    let mrt = a.iter().find(|a| &*a.rule_id == "MRT").expect("MRT fired");
    assert_eq!(mrt.value, Some(701.0));
}

#[test]
fn scenario_16_severity() {
    let set = rules([
        rule("ERR", "LOGGING", "", "SEVERITY", "ERROR"),
        rule("WRN", "LOGGING", "", "SEVERITY", "WARN"),
    ]);
    let mut s = p();
    for i in 0..10 {
        s = s.log(Level::Info, &format!("info {i}"));
    }
    let a = s
        .log(Level::Warn, "warn")
        .log(Level::Error, "error")
        .run(&set, None);
    assert_eq!((count(&a, "ERR"), count(&a, "WRN")), (1, 1));
    assert_eq!(ids(&a), ["WRN", "ERR"]);
}

#[test]
fn scenario_17_log_contains() {
    let set = rules([
        rule("TXT", "LOGGING", "", "LOG_CONTAINS", "RG_LC_TEXT"),
        rule("LVL", "LOGGING", "", "LOG_CONTAINS", "ERROR|RG_LC_LVL"),
    ]);
    let a = p()
        .log(Level::Info, "Start Rg_Lc_Text gemischt")
        .log(Level::Error, "Fehler rg_lc_TEXT")
        .log(Level::Info, "ohne Suchtext")
        .log(Level::Info, "info rg_lc_lvl")
        .log(Level::Error, "Fehler RG_LC_LVL")
        .run(&set, None);
    assert_eq!((count(&a, "TXT"), count(&a, "LVL")), (2, 1));
    let lvl = a.iter().find(|a| &*a.rule_id == "LVL").expect("LVL fired");
    assert_eq!(lvl.signal_ts, T0 + 4);
}

#[test]
fn scenario_18_context_and_context_free_rules() {
    let set = rules([
        rule("CTX", "MARK_EVENT", "RG_K", "ON_EVENT", "").ctx("C1"),
        rule("ALL", "MARK_EVENT", "RG_K", "ON_EVENT", ""),
    ]);
    let a = p().e("RG_K", "C1").e("RG_K", "C2").run(&set, None);
    assert_eq!((count(&a, "CTX"), count(&a, "ALL")), (1, 2));
    assert_eq!(
        ids(&a),
        ["CTX", "ALL", "ALL"],
        "context rules first, then context-free ones"
    );
}

#[test]
fn scenario_19_on_stop_trace_after_mark_of_same_action() {
    let set = rules([rule("R1", "TRACE_STOP", "RG_TF", "ON_STOP", "")]);
    let a = p()
        .e("RG_TF", "")
        .ts("RG_TF", "")
        .te("RG_TF", "")
        .run(&set, None);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(a[0].action_count, 1);
}

#[test]
fn scenario_20_throttle() {
    let set = rules([rule("R1", "MARK_EVENT", "RG_TH", "ON_EVENT", "").throttle(2.0)]);
    let a = p()
        .e("RG_TH", "")
        .e("RG_TH", "")
        .e("RG_TH", "")
        .wait(2500)
        .e("RG_TH", "")
        .run(&set, None);
    assert_eq!(count(&a, "R1"), 2);
    assert_eq!((a[0].action_count, a[1].action_count), (1, 4));
}

/// One valid rule plus one invalid rule: the whole document must be rejected.
fn bad_set(bad: R) -> String {
    rules([rule("GOOD", "MARK_EVENT", "A", "ON_EVENT", ""), bad])
}

/// (description, document, the field the error must name).
fn rejected_sets() -> Vec<(&'static str, String, &'static str)> {
    let no_handler =
        rule("BAD", "MARK_EVENT", "A", "ON_EVENT", "").with("alert", serde_json::json!({}));
    vec![
        ("rule without handler", bad_set(no_handler), "alert.handler"),
        (
            "unknown operator",
            bad_set(rule(
                "BAD",
                "MARK_EVENT",
                "A",
                "PRECEDED_BY_WITHIN_MINUTES",
                "X|1",
            )),
            "condition.operator",
        ),
        (
            "MAX_GAP_SECONDS on TRACE_STOP",
            bad_set(rule("BAD", "TRACE_STOP", "A", "MAX_GAP_SECONDS", "1")),
            "condition.operator",
        ),
        (
            "empty action",
            bad_set(
                rule("BAD", "MARK_EVENT", "A", "ON_EVENT", "")
                    .with("action", serde_json::json!("")),
            ),
            "action",
        ),
        (
            "value |C1",
            bad_set(rule("BAD", "MARK_EVENT", "A", "PRECEDED_BY", "|C1")),
            "condition.value",
        ),
        (
            "value 20||0.3",
            bad_set(rule(
                "BAD",
                "TRACE_STOP",
                "A",
                "AVG_DEVIATION_PCT",
                "20||0.3",
            )),
            "condition.value",
        ),
        (
            "value |5",
            bad_set(rule(
                "BAD",
                "MARK_EVENT",
                "A",
                "PRECEDED_BY_WITHIN_MS",
                "|5",
            )),
            "condition.value",
        ),
        (
            "value |5 (FOLLOWED_BY)",
            bad_set(rule(
                "BAD",
                "MARK_EVENT",
                "A",
                "FOLLOWED_BY_WITHIN_MS",
                "|5",
            )),
            "condition.value",
        ),
        (
            "key contxt",
            bad_set(
                rule("BAD", "MARK_EVENT", "A", "ON_EVENT", "")
                    .with("contxt", serde_json::json!("C1")),
            ),
            "contxt",
        ),
        (
            "context given as an object",
            bad_set(
                rule("BAD", "MARK_EVENT", "A", "ON_EVENT", "")
                    .with("context", serde_json::json!({"c": 1})),
            ),
            "context",
        ),
        (
            "PRECEDED_BY on TRACE_STOP",
            bad_set(rule("BAD", "TRACE_STOP", "A", "PRECEDED_BY", "X")),
            "condition.operator",
        ),
        (
            "LOG_CONTAINS ERROR|",
            bad_set(rule("BAD", "LOGGING", "", "LOG_CONTAINS", "ERROR|")),
            "condition.value",
        ),
    ]
}

#[test]
fn scenario_21_rejected_sets() {
    for (what, doc, field) in rejected_sets() {
        let errors = match parse_rule_set(&doc) {
            Ok(_) => panic!("{what}: accepted, but must be rejected whole"),
            Err(errors) => errors,
        };
        assert!(
            errors.iter().any(|e| e.field == field
                && e.rule.as_deref() == Some("BAD")
                && e.index == Some(1)),
            "{what}: no error on rule BAD (#1) naming field {field}: {errors:#?}"
        );
        assert!(
            errors.iter().all(|e| e.rule.as_deref() != Some("GOOD")),
            "{what}: the valid rule must not be blamed: {errors:#?}"
        );
    }
    // "Activating a version that does not exist" is a store/server concern (versions live in
    // the store, not in the engine); it is tested in the server crate, not here.
}

#[test]
fn scenario_21_previous_set_stays_active_after_a_failed_parse() {
    // The caller's activation path: parse first, activate only what parsed.
    fn try_activate(e: &mut Engine, text: &str) -> bool {
        match parse_rule_set(text) {
            Ok(p) => {
                e.activate("default", "test", p.set.version.clone(), &p.set);
                true
            }
            Err(_) => false,
        }
    }
    let v1 = rules([rule("V1", "MARK_EVENT", "A", "ON_EVENT", "")]);
    let mut run = Run::new(&v1);
    let mut t = T0;
    assert_eq!(ids(&run.send(&mark("P1", t, "A", ""))), ["V1"]);
    for (what, doc, _) in rejected_sets() {
        assert!(
            !try_activate(&mut run.engine, &doc),
            "{what}: must not activate"
        );
        t += 1;
        assert_eq!(
            ids(&run.send(&mark("P1", t, "A", ""))),
            ["V1"],
            "{what}: V1 must stay active"
        );
    }
    let active: Vec<(String, String)> = run
        .engine
        .active()
        .map(|(g, n, _)| (g.to_owned(), n.to_owned()))
        .collect();
    assert_eq!(active, [("default".to_owned(), "test".to_owned())]);
    // A valid set does replace it, so the check above can fail.
    let v2 = rules([rule("V2", "MARK_EVENT", "A", "ON_EVENT", "")]);
    assert!(try_activate(&mut run.engine, &v2));
    assert_eq!(ids(&run.send(&mark("P1", t + 1, "A", ""))), ["V2"]);
}

#[test]
fn scenario_22_followed_by_within_ms() {
    let set = rules([rule(
        "R1",
        "MARK_EVENT",
        "A",
        "FOLLOWED_BY_WITHIN_MS",
        "B|1000",
    )]);
    let ok = p().e("A", "").wait(500).e("B", "");
    assert_eq!(ok.run(&set, Some(T0 + 5000)).len(), 0);

    let mut run = Run::new(&set);
    assert!(run.send(&mark("P1", T0, "A", "")).is_empty());
    assert!(
        run.advance(T0 + 1000).is_empty(),
        "not yet past the deadline"
    );
    let a = run.advance(T0 + 2000);
    assert_eq!(
        count(&a, "R1"),
        1,
        "emitted when the deadline passes, without a further signal"
    );
    assert_eq!((a[0].signal_ts, a[0].engine_ts), (T0 + 1000, T0 + 2000));
    assert_eq!((&*a[0].action, a[0].action_count), ("A", 1));
}

#[test]
fn scenario_23_max_open_ms() {
    let set = rules([rule("R1", "TRACE_START", "T", "MAX_OPEN_MS", "1000")]);
    let mut run = Run::new(&set);
    run.send(&ts_("P1", T0, "T", ""));
    let a = run.advance(T0 + 2000);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!(
        (a[0].signal_ts, a[0].engine_ts, a[0].value),
        (T0 + 1000, T0 + 2000, Some(2000.0))
    );

    assert_eq!(
        p().ts("T", "")
            .wait(500)
            .te("T", "")
            .run(&set, Some(T0 + 5000))
            .len(),
        0
    );
}

#[test]
fn scenario_24_silence() {
    let set = rules([rule("R1", "PROCESS_START", "P1", "SILENCE_SECONDS", "5")]);
    let mut run = Run::new(&set);
    run.send(&start("P1", T0, "P1", pf()));
    for i in 1..=10 {
        assert!(run.send(&mark("P1", T0 + i * 1000, "TICK", "")).is_empty());
    }
    assert!(
        run.advance(T0 + 15_000).is_empty(),
        "5 s after the last signal is not past it"
    );
    let a = run.advance(T0 + 16_000);
    assert_eq!(count(&a, "R1"), 1);
    assert_eq!((a[0].signal_ts, a[0].engine_ts), (T0 + 15_000, T0 + 16_000));
    assert_eq!(run.alerts.len(), 1);
}
