//! Random policies and random histories (time passing, acknowledgements, returns to firing,
//! resolutions, escalations by hand) against the invariants of an escalation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

const M: i64 = 60_000;

#[derive(Debug, Clone)]
enum Op {
    Pass(i64),
    Ack,
    Unack,
    End,
    ByHand,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0i64..40).prop_map(|m| Op::Pass(m * M / 2)),
        2 => Just(Op::Ack),
        1 => Just(Op::Unack),
        1 => Just(Op::ByHand),
        1 => Just(Op::End),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop::collection::vec(0i64..12, 1..5),
        0u32..3,
        prop::option::of(1i64..40),
    )
        .prop_map(|(mut waits, repeat, ack)| {
            if repeat > 0 && waits.iter().all(|w| *w == 0) {
                waits[0] = 1;
            }
            Policy {
                name: "p".into(),
                levels: waits
                    .into_iter()
                    .enumerate()
                    .map(|(i, w)| Level {
                        wait_ms: w * M,
                        notify: vec![Target::User(format!("u{i}"))],
                    })
                    .collect(),
                repeat,
                ack_timeout_ms: ack.map(|a| a * M),
            }
        })
}

/// Runs the history; `every_step` advances after each passing of time and keeps the state in
/// RAM, otherwise the state is stored and read back before every step and time passes unseen
/// until the next step.
fn run(p: &Policy, ops: &[Op], every_step: bool) -> (Vec<Page>, Vec<String>) {
    let mut e = Escalation::start(0);
    let mut now = 0;
    let mut all = Vec::new();
    let mut broken = Vec::new();
    let mut out = Vec::new();
    e.advance(p, now, &mut out);
    all.append(&mut out);
    for op in ops {
        if !every_step {
            e = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        }
        let (acked, ended) = (e.acknowledged_at, e.ended);
        match op {
            Op::Pass(d) => {
                now += d;
                if every_step {
                    e.advance(p, now, &mut out);
                }
            }
            Op::Ack => e.acknowledge(p, now, &mut out),
            Op::Unack => e.unacknowledge(p, now, &mut out),
            Op::End => e.end(p, now, &mut out),
            Op::ByHand => {
                let _ = e.escalate(p, now, "x", &mut out);
            }
        }
        for page in &out {
            if ended {
                broken.push(format!("{page:?} after the end"));
            }
            if page.at > now {
                broken.push(format!("{page:?} before its time (now {now})"));
            }
            if let (Some(a), false) = (acked, matches!(page.why, Why::ByHand { .. })) {
                let expiry = p.ack_timeout_ms.map_or(i64::MAX, |t| a + t);
                if page.at > a && page.at < expiry {
                    broken.push(format!("{page:?} while acknowledged since {a}"));
                }
            }
        }
        all.append(&mut out);
    }
    e.advance(p, now, &mut out);
    all.append(&mut out);
    (all, broken)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn pages_follow_the_policy(p in policy(), ops in prop::collection::vec(op(), 0..40)) {
        let (pages, broken) = run(&p, &ops, true);
        prop_assert!(broken.is_empty(), "{broken:?}");
        let mut seen = HashSet::new();
        let mut last: Option<&Page> = None;
        for page in &pages {
            prop_assert!(seen.insert((page.cycle, page.round, page.level)), "paged twice: {page:?}");
            prop_assert!(page.level < p.levels.len() && page.round <= p.repeat, "{page:?}");
            match last {
                // In one round of one cycle, levels page one after the other, none skipped.
                Some(l) if (l.cycle, l.round) == (page.cycle, page.round) => {
                    prop_assert_eq!(page.level, l.level + 1, "{:?} then {:?}", l, page);
                }
                // A new round of the same cycle begins after the last level of the previous one,
                // unless someone escalated by hand.
                Some(l) if l.cycle == page.cycle => {
                    prop_assert_eq!(page.round, l.round + 1);
                    prop_assert_eq!(page.level, 0);
                    prop_assert_eq!(l.level + 1, p.levels.len());
                }
                // A new cycle (an acknowledgement expired) begins at the first level.
                Some(l) => {
                    prop_assert!(page.cycle > l.cycle);
                    prop_assert_eq!((page.round, page.level), (0, 0));
                }
                None => prop_assert_eq!((page.round, page.level), (0, 0)),
            }
            if let Some(l) = last {
                prop_assert!(page.at >= l.at, "pages go back in time: {:?} then {:?}", l, page);
            }
            last = Some(page);
        }
    }

    /// However seldom it is woken, and stored and read back at every step, the same pages go
    /// out at the same times.
    #[test]
    fn waking_seldom_and_restarting_page_the_same(p in policy(), ops in prop::collection::vec(op(), 0..40)) {
        let (often, _) = run(&p, &ops, true);
        let (seldom, broken) = run(&p, &ops, false);
        prop_assert!(broken.is_empty(), "{broken:?}");
        prop_assert_eq!(often, seldom);
    }
}
