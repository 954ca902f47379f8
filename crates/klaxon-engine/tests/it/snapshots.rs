//! Snapshots of the alert JSON lines of a few representative scenarios (`tests/it/snapshots/`).
//! Regenerate with `INSTA_UPDATE=always cargo test -p klaxon-engine --test it snapshots` and
//! review the diff by eye.

use crate::common::*;

/// The metro example's SEQ-003 rule, written as the example writes it (string value, WARN
/// severity).
const SEQ_003: &str = r#"{
  "header": { "rule_set": "METRO_LINE_4", "rule_set_version": 3, "description": "metro example" },
  "rules": [
    {
      "id": "SEQ-003",
      "_comment": "Mehr als 25 Sekunden dauert die Fahrt nicht. Irgendetwas hat den Zug aufgehalten.",
      "trigger_type": "TRACE_STOP",
      "action": "TRACK_SECTION",
      "context": "SECTION_400_001",
      "condition": { "operator": "MAX_DURATION_MS", "value": "25000" },
      "alert": { "handler": "MAIL_LOG", "severity": "WARN", "throttle_seconds": 0 }
    }
  ]
}"#;

#[test]
fn snapshot_seq_003_max_duration() {
    let sigs = [
        start("TRAIN_4711", T0, "METRO_LINE_4", pf()),
        ts_("TRAIN_4711", T0 + 1000, "TRACK_SECTION", "SECTION_400_001"),
        te(
            "TRAIN_4711",
            T0 + 21_000,
            "TRACK_SECTION",
            "SECTION_400_001",
        ),
        ts_(
            "TRAIN_4711",
            T0 + 22_000,
            "TRACK_SECTION",
            "SECTION_400_001",
        ),
        te(
            "TRAIN_4711",
            T0 + 52_000,
            "TRACK_SECTION",
            "SECTION_400_001",
        ),
    ];
    let a = check(SEQ_003, &sigs, None);
    assert_eq!(
        a[0].message,
        "TRACK_SECTION/SECTION_400_001 took 30000 ms, limit 25000 ms"
    );
    insta::assert_snapshot!(lines(&a));
}

#[test]
fn snapshot_preceded_by() {
    let set = rules([
        rule("PRE", "MARK_EVENT", "RG_B", "PRECEDED_BY", "RG_A|C1").severity("high"),
        rule(
            "PREW",
            "PROCESS_UPDATE",
            "job",
            "PRECEDED_BY_WITHIN_SECS",
            "RG_A|1",
        ),
    ]);
    let sigs = [
        start("P1", T0, "job", pf()),
        mark("P1", T0 + 1, "RG_B", ""),
        mark("P1", T0 + 2, "RG_A", "C2"),
        mark("P1", T0 + 3, "RG_B", ""),
        mark("P1", T0 + 4, "RG_A", "C1"),
        mark("P1", T0 + 5, "RG_B", ""),
        update("P1", T0 + 6, pf().step(1)),
        mark("P1", T0 + 7, "RG_A", ""),
        update("P1", T0 + 1307, pf().step(1)),
    ];
    insta::assert_snapshot!(lines(&check(&set, &sigs, None)));
}

#[test]
fn snapshot_followed_by_timer() {
    let set = rules([
        rule(
            "FOL",
            "MARK_EVENT",
            "DOOR_OPEN",
            "FOLLOWED_BY_WITHIN_MS",
            "DOOR_CLOSED|5000",
        )
        .severity("critical"),
        rule("OPEN", "TRACE_START", "STOP", "MAX_OPEN_MS", "60000"),
        rule(
            "SIL",
            "PROCESS_START",
            "METRO_LINE_4",
            "SILENCE_SECONDS",
            "30",
        ),
    ]);
    let sigs = [
        start("TRAIN_4711", T0, "METRO_LINE_4", pf().todo(12)),
        ts_("TRAIN_4711", T0 + 1000, "STOP", "HBF"),
        mark("TRAIN_4711", T0 + 2000, "DOOR_OPEN", "CAR_2"),
        mark("TRAIN_4711", T0 + 3000, "DOOR_CLOSED", ""),
        mark("TRAIN_4711", T0 + 4000, "DOOR_OPEN", "CAR_3"),
    ];
    insta::assert_snapshot!(lines(&check(&set, &sigs, Some(T0 + 90_000))));
}

#[test]
fn snapshot_avg_deviation() {
    let set = rules([rule(
        "AVG",
        "TRACE_STOP",
        "RG_V",
        "AVG_DEVIATION_PCT",
        "50|3|0.5",
    )]);
    let mut s = Seq::new("P1");
    for ms in [100, 100, 100, 100, 110, 400] {
        s = s.trace("RG_V", ms).wait(1);
    }
    insta::assert_snapshot!(lines(&s.run(&set, None)));
}

#[test]
fn snapshot_process_and_log_rules() {
    let set = rules([
        rule("RATE", "PROCESS_STOP", "etl", "SUCCESS_RATE_LOW", "80").severity("low"),
        rule("RT", "PROCESS_UPDATE", "etl", "RUNTIME_EXCEEDED", "500"),
        rule("ERR", "LOGGING", "etl", "LOG_CONTAINS", "ERROR|disk"),
    ]);
    let sigs = [
        start("run-7", T0, "etl", pf().todo(3)).scope("#NONE"),
        update("run-7", T0 + 100, pf().step(1)),
        log("run-7", T0 + 200, Level::Error, "Disk full on /var"),
        update("run-7", T0 + 700, pf().info("slow")),
        stop("run-7", T0 + 800, pf().done(2)),
    ];
    insta::assert_snapshot!(lines(&check(&set, &sigs, None)));
}
