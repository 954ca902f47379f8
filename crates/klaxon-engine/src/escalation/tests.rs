#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const M: i64 = 60_000;

fn policy(text: &str) -> Policy {
    let c: PolicyConfig = toml::from_str(text).expect("toml");
    compile(&c, &|_| Ok(())).expect("compiles")
}

fn critical() -> Policy {
    policy(
        r#"
        name = "critical"
        repeat = 1
        ack_timeout = "30m"
        [[levels]]
        wait = "0s"
        notify = ["user:alice"]
        [[levels]]
        wait = "5m"
        notify = ["user:bob", "team:db", "receiver:ops"]
        "#,
    )
}

/// (cycle, round, level, at) of each page.
fn pages(out: &[Page]) -> Vec<(u32, u32, usize, i64)> {
    out.iter()
        .map(|p| (p.cycle, p.round, p.level, p.at))
        .collect()
}

#[test]
fn levels_page_in_order_after_their_waits_and_the_policy_repeats() {
    let p = critical();
    let mut e = Escalation::start(0);
    let mut out = Vec::new();
    assert_eq!(e.advance(&p, 0, &mut out), Some(5 * M));
    assert_eq!(pages(&out), [(0, 0, 0, 0)]);
    assert_eq!(out[0].why.text(), "escalation started");
    out.clear();
    assert_eq!(e.advance(&p, 5 * M - 1, &mut out), Some(5 * M));
    assert!(out.is_empty());
    assert_eq!(e.advance(&p, 5 * M, &mut out), Some(10 * M));
    assert_eq!(pages(&out), [(0, 0, 1, 5 * M)]);
    assert_eq!(out[0].why.text(), "nobody acknowledged within 5m");
    out.clear();
    // The repeat starts over at the first level (its wait is 0, so the policy's longest wait
    // after the last level), then its second.
    assert_eq!(e.advance(&p, 15 * M, &mut out), None);
    assert_eq!(pages(&out), [(0, 1, 0, 10 * M), (0, 1, 1, 15 * M)]);
    assert_eq!(
        out[0].why.text(),
        "nobody acknowledged within 5m of the last level; repeat 1 of the policy"
    );
    out.clear();
    assert_eq!(e.advance(&p, 1000 * M, &mut out), None);
    assert!(out.is_empty(), "nothing after the last round");
}

#[test]
fn an_acknowledgement_stops_it_and_an_expired_one_triggers_the_first_level_again() {
    let p = critical();
    let mut e = Escalation::start(0);
    let mut out = Vec::new();
    e.advance(&p, 0, &mut out);
    e.acknowledge(&p, 2 * M, &mut out);
    assert_eq!(e.next_due(&p), Some(32 * M));
    out.clear();
    assert_eq!(e.advance(&p, 31 * M, &mut out), Some(32 * M));
    assert!(
        out.is_empty(),
        "the second level never pages while acknowledged"
    );
    assert_eq!(e.advance(&p, 32 * M, &mut out), Some(37 * M));
    assert_eq!(pages(&out), [(1, 0, 0, 32 * M)]);
    assert_eq!(
        out[0].why.text(),
        "the acknowledgement expired: not resolved within 30m"
    );
    e.end(&p, 33 * M, &mut out);
    out.clear();
    out.clear();
    assert_eq!(e.advance(&p, 100 * M, &mut out), None);
    assert!(out.is_empty());
}

#[test]
fn without_an_ack_timeout_an_acknowledgement_stops_it_for_good() {
    let p = policy("name = \"p\"\n[[levels]]\nnotify = [\"user:a\"]\n[[levels]]\nwait = \"1m\"\nnotify = [\"user:b\"]\n");
    let mut e = Escalation::start(0);
    let mut out = Vec::new();
    e.acknowledge(&p, 0, &mut out);
    assert_eq!(
        pages(&out),
        [(0, 0, 0, 0)],
        "what was due before it pages first"
    );
    out.clear();
    assert_eq!(e.advance(&p, 10_000 * M, &mut out), None);
    assert!(out.is_empty());
    e.unacknowledge(&p, 20 * M, &mut out);
    assert_eq!(
        e.next_due(&p),
        Some(21 * M),
        "the wait counts from the return"
    );
}

#[test]
fn a_restart_pages_what_came_due_meanwhile_once() {
    let p = critical();
    let mut e = Escalation::start(0);
    let mut out = Vec::new();
    e.advance(&p, 0, &mut out);
    let stored = serde_json::to_string(&e).unwrap();
    // Down from 1m to 7m: the second level came due at 5m.
    let mut back: Escalation = serde_json::from_str(&stored).unwrap();
    out.clear();
    back.advance(&p, 7 * M, &mut out);
    assert_eq!(pages(&out), [(0, 0, 1, 5 * M)]);
}

#[test]
fn escalating_by_hand_pages_the_next_level_now_and_refuses_past_the_last() {
    let p = policy("name = \"p\"\n[[levels]]\nnotify = [\"user:a\"]\n[[levels]]\nwait = \"1h\"\nnotify = [\"user:b\"]\n");
    let mut e = Escalation::start(0);
    let mut out = Vec::new();
    e.advance(&p, 0, &mut out);
    e.acknowledge(&p, M, &mut out);
    out.clear();
    e.escalate(&p, 2 * M, "carol", &mut out).unwrap();
    assert_eq!(pages(&out), [(0, 0, 1, 2 * M)]);
    assert_eq!(out[0].why.text(), "escalated by hand by carol");
    assert_eq!(e.acknowledged_at, None);
    assert_eq!(
        e.escalate(&p, 3 * M, "carol", &mut out),
        Err(EscalateRefusal::Exhausted)
    );
    e.end(&p, 100 * M, &mut out);
    out.clear();
    assert_eq!(
        e.escalate(&p, 3 * M, "carol", &mut out),
        Err(EscalateRefusal::Ended)
    );
}

#[test]
fn a_first_level_that_waits_says_nobody_acknowledged() {
    let p = policy("name = \"p\"\n[[levels]]\nwait = \"2m\"\nnotify = [\"user:a\"]\n");
    let mut e = Escalation::start(0);
    let mut out = Vec::new();
    assert_eq!(e.advance(&p, 0, &mut out), Some(2 * M));
    e.advance(&p, 2 * M, &mut out);
    assert_eq!(out[0].why.text(), "nobody acknowledged within 2m");
}

#[test]
fn compiling_reports_every_problem_with_policy_and_level() {
    let c: PolicyConfig = toml::from_str(
        r#"
        name = "critical"
        repeat = 99
        ack_timeout = "soon"
        [[levels]]
        wait = "5"
        notify = ["user:ghost", "pager:x", "receiver:ops", "receiver:ops"]
        [[levels]]
        notify = []
        "#,
    )
    .unwrap();
    let errors = compile(&c, &|t| match t {
        Target::User(n) => Err(format!("{n:?} is not a declared user")),
        _ => Ok(()),
    })
    .unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "policy \"critical\": repeat: 99 is over the limit of 20",
            "policy \"critical\": ack_timeout: \"soon\" is not a duration like \"30s\", \"5m\", \"1h30m\" or \"250ms\" (units w, d, h, m, s, ms, largest first)",
            "policy \"critical\": levels[0].wait: \"5\" has no unit; write e.g. \"5s\"",
            "policy \"critical\": levels[0].notify[0]: \"ghost\" is not a declared user",
            "policy \"critical\": levels[0].notify[1]: \"pager:x\": unknown kind \"pager\"; write user:NAME, team:NAME, schedule:NAME or receiver:NAME",
            "policy \"critical\": levels[0].notify[3]: receiver:ops is named twice",
            "policy \"critical\": levels[1].notify: names nobody",
        ]
    );
}

#[test]
fn limits_are_refused() {
    let mut c: PolicyConfig =
        toml::from_str("name = \"p\"\n[[levels]]\nnotify = [\"user:a\"]\n").unwrap();
    c.levels = vec![c.levels[0].clone(); MAX_LEVELS + 1];
    let e = compile(&c, &|_| Ok(())).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "policy \"p\": levels: 21 levels, over the limit of 20"
    );
    c.levels.truncate(1);
    c.levels[0].wait = "8d".into();
    c.levels[0].notify = (0..=MAX_TARGETS).map(|i| format!("user:u{i}")).collect();
    let e: Vec<String> = compile(&c, &|_| Ok(()))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        e,
        [
            "policy \"p\": levels[0].wait: \"8d\" is longer than the limit of 1w",
            "policy \"p\": levels[0].notify: 33 targets, over the limit of 32",
        ]
    );
}
