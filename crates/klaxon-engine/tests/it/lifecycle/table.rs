//! The transition table of `docs/alerts.md`, row by row: every person's action from every
//! state, allowed or refused with the state it was refused in (the API's 409 and its
//! `current_state`), and the firings that move an alert (fire, reopen).

use klaxon_engine::lifecycle::State;

use crate::lifecycle::script::run;

/// Script lines that bring alert #1 into a state.
const SETUP: [(&str, &str); 6] = [
    ("pending", "0 th pending host=a"),
    ("active", "0 am alertname=A"),
    ("acknowledged", "0 am alertname=A\n1s ack #1"),
    ("suppressed", "0 am alertname=A\n1s suppress #1 10m"),
    ("resolved", "0 am alertname=A\n1s resolve #1"),
    ("closed", "0 am alertname=A\n1s resolve #1\n2s close #1"),
];

/// A person's actions, as script lines at 3s.
const ACTIONS: [(&str, &str); 5] = [
    ("acknowledge", "3s ack #1"),
    ("resolve", "3s resolve #1"),
    ("suppress", "3s suppress #1 10m"),
    ("unsuppress", "3s unsuppress #1"),
    ("close", "3s close #1"),
];

/// The documented table: from each state, the person's actions allowed and where they lead.
const ALLOWED: [(&str, &[(&str, &str)]); 6] = [
    ("pending", &[("resolve", "resolved")]),
    (
        "active",
        &[
            ("acknowledge", "acknowledged"),
            ("suppress", "suppressed"),
            ("resolve", "resolved"),
        ],
    ),
    (
        "acknowledged",
        &[("suppress", "suppressed"), ("resolve", "resolved")],
    ),
    (
        "suppressed",
        &[("unsuppress", "active"), ("resolve", "resolved")],
    ),
    ("resolved", &[("close", "closed")]),
    ("closed", &[]),
];

/// The answer to the last input of a trace.
fn last_answer(trace: &str) -> &str {
    trace
        .lines()
        .filter_map(|l| l.strip_prefix("  = "))
        .next_back()
        .unwrap_or("")
}

#[test]
fn every_action_from_every_state_is_allowed_or_refused_as_documented() {
    let mut all = String::new();
    for (state, setup) in SETUP {
        let allowed = ALLOWED
            .iter()
            .find(|(s, _)| *s == state)
            .map(|(_, a)| *a)
            .unwrap_or_default();
        for (action, line) in ACTIONS {
            let trace = run(&format!("{setup}\n{line}"));
            let answer = last_answer(&trace);
            match allowed.iter().find(|(a, _)| *a == action) {
                Some((_, to)) => assert_eq!(
                    answer,
                    format!("done #1 {state} -> {to}"),
                    "{action} from {state}:\n{trace}"
                ),
                None => assert!(
                    answer.starts_with(&format!("409 illegal_transition current_state={state}:")),
                    "{action} from {state} must be refused with the state:\n{trace}"
                ),
            }
            all.push_str(&format!("## {action} from {state}\n"));
            all.push_str(trace.split("> 3s ").nth(1).map_or("", |t| t));
        }
    }
    insta::assert_snapshot!(all);
}

#[test]
fn firings_fire_pending_alerts_and_reopen_resolved_ones() {
    insta::assert_snapshot!(run("
        # pending -> active: the condition held for `for`
        0 th pending host=a
        10s th firing host=a
        # resolved -> active: a firing within the reopen window
        11s am alertname=B
        20s resolve #2
        30s am alertname=B
        # closed is final: a firing opens a new alert
        40s resolve #2
        41s close #2
        42s am alertname=B
    "));
}

#[test]
fn state_names_are_read_in_any_case_around_spaces_and_unknown_ones_are_none() {
    for s in State::ALL {
        assert_eq!(State::parse(s.as_str()), Some(s));
        let shouted = format!(" {} ", s.as_str().to_uppercase());
        assert_eq!(State::parse(&shouted), Some(s), "{shouted:?}");
    }
    assert_eq!(State::parse("firing"), None);
    assert_eq!(State::parse(""), None);
}
