//! Throttling of alerts (per fingerprint, in engine time) and their severities.

use super::*;

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
