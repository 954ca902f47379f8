//! The parts of the lifecycle's API a shell and the notification dispatcher read directly:
//! what a mute holds back, the read-only queries, resends of pending alerts, restore.

use std::sync::Arc;

use klaxon_engine::lifecycle::{
    Answer, Effects, Held, Inhibited, Input, Labelled, Labels, Lifecycle, Mute, News, NoiseConfig,
    Resend, Restored, Settings, Source, State,
};
use klaxon_engine::matcher::parse_filter;
use klaxon_engine::noise::{InhibitRule, MatcherSpec, Silence};

use crate::lifecycle::script::T0;

fn labelled(name: &str, pending: bool) -> Labelled {
    let labels = [("alertname".to_owned(), name.to_owned())].into();
    Labelled {
        pending,
        ..Labelled::of_labels(
            Source::Threshold,
            labels,
            Default::default(),
            ("high", "cpu"),
            T0,
        )
    }
}

#[test]
fn a_mute_holds_back_the_news_the_documented_order_says() {
    let inhibited = Inhibited {
        rule: Arc::from("node-down"),
        route: None,
        source: 4,
    };
    let by_inhibition = Mute {
        inhibited: Some(inhibited.clone()),
        ..Mute::default()
    };
    assert_eq!(by_inhibition.holds(News::Firing), Some(Held::Inhibited));
    assert_eq!(
        by_inhibition.holds(News::Resolved),
        None,
        "resolved news goes out"
    );
    assert_eq!(by_inhibition.holds(News::Acknowledged), None);
    let flapping = Mute {
        flapping_until: Some(T0),
        ..by_inhibition
    };
    assert_eq!(
        flapping.holds(News::Firing),
        Some(Held::Flapping),
        "flapping first"
    );
    assert_eq!(flapping.holds(News::Resolved), Some(Held::Flapping));
    assert_eq!(flapping.holds(News::Acknowledged), None);
    let scoped = Mute {
        routes: vec![Inhibited {
            route: Some(Arc::from("pager")),
            ..inhibited
        }],
        ..Mute::default()
    };
    assert_eq!(scoped.holds(News::Firing), None, "scoped: not everywhere");
    assert_eq!(scoped.inhibited_on("pager").map(|i| i.source), Some(4));
    assert!(scoped.inhibited_on("chat").is_none());
    assert!(Mute::default().is_empty());
    assert_eq!(Held::Flapping.as_str(), "flapping");
    assert_eq!(Held::Inhibited.as_str(), "inhibited");
}

#[test]
fn pending_alerts_take_no_resends_until_they_fire() {
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    let mut fx = Effects::new();
    let l = labelled("Cpu", true);
    lc.apply(T0, Input::Labelled(&l), &mut fx);
    let resend = [Resend {
        fingerprint: l.fingerprint,
        content: lc
            .content_keys()
            .key_of(&l.severity, &l.summary, &l.annotations),
        ends_at: None,
    }];
    let ask = |lc: &mut Lifecycle, fx: &mut Effects| lc.apply(T0 + 1, Input::Resends(&resend), fx);
    assert_eq!(ask(&mut lc, &mut fx), Answer::Taken(vec![false]));
    lc.apply(T0 + 2, Input::Labelled(&labelled("Cpu", false)), &mut fx);
    assert_eq!(lc.state_of(1), Some(State::Active));
    assert_eq!(ask(&mut lc, &mut fx), Answer::Taken(vec![true]));
    // The firing that fired it said nothing new either: its occurrence waits for the flush too.
    assert_eq!(lc.stats().quiet_firings, 2);
}

#[test]
fn the_dispatcher_can_rebuild_its_view_of_every_muted_alert() {
    let noise = NoiseConfig {
        inhibit: vec![InhibitRule {
            name: "down".into(),
            source: parse_filter("{alertname=\"Down\"}").expect("matcher"),
            target: parse_filter("{alertname=\"Disk\"}").expect("matcher"),
            equal: Vec::new(),
            route: None,
        }],
        ..NoiseConfig::default()
    };
    let mut lc = Lifecycle::new(Settings::default(), noise, 1);
    let mut fx = Effects::new();
    lc.apply(T0, Input::Labelled(&labelled("Disk", false)), &mut fx);
    lc.apply(T0, Input::Labelled(&labelled("Down", false)), &mut fx);
    let muted: Vec<(i64, i64)> = lc
        .muted()
        .map(|(id, m)| (id, m.inhibited.as_ref().map_or(0, |i| i.source)))
        .collect();
    assert_eq!(muted, [(1, 2)]);
    let one = lc.mute_of(1).and_then(|m| m.inhibited.as_ref());
    assert_eq!(one.map(|i| i.source), Some(2));
    assert!(lc.mute_of(2).is_none());
}

#[test]
fn restore_leaves_out_silences_no_longer_valid_and_keeps_ids_growing() {
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    let bad = Silence {
        id: "s1".into(),
        matchers: vec![MatcherSpec {
            name: "x".into(),
            value: ".*".into(),
            is_regex: true,
            is_equal: true,
        }],
        starts_at: T0,
        ends_at: T0 + 1,
        created_by: "ops".into(),
        comment: "c".into(),
        updated_at: T0,
    };
    let open = Restored {
        id: 7,
        fingerprint: format!("{:016x}", labelled("Disk", false).fingerprint),
        state: State::Active,
        source: Source::Threshold,
        severity: "high".into(),
        labels: labelled("Disk", false).labels,
        annotations: Default::default(),
        message: "cpu".into(),
        occurrences: 3,
        last_seen: T0,
        resolved_at: None,
        suppressed_until: None,
        suppressed_by: None,
        ends_at: None,
        auto_resolve_ms: None,
    };
    let refused = lc.restore(9, [open], [bad]);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, "s1");
    let mut fx = Effects::new();
    // The restored alert takes the firing of its fingerprint; a new one gets an id after 9.
    let a = lc.apply(T0 + 1, Input::Labelled(&labelled("Disk", false)), &mut fx);
    assert_eq!(
        a,
        Answer::Firing {
            id: Some(7),
            quiet: true
        }
    );
    let b = lc.apply(T0 + 1, Input::Labelled(&labelled("Mem", false)), &mut fx);
    assert_eq!(
        b,
        Answer::Firing {
            id: Some(10),
            quiet: false
        }
    );
}

#[test]
fn a_suppression_by_hand_from_before_silences_runs_out_after_a_restart() {
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    let l = labelled("Disk", false);
    let old = Restored {
        id: 1,
        fingerprint: format!("{:016x}", l.fingerprint),
        state: State::Suppressed,
        source: Source::Api,
        severity: "high".into(),
        labels: l.labels,
        annotations: Default::default(),
        message: "cpu".into(),
        occurrences: 1,
        last_seen: T0,
        resolved_at: None,
        suppressed_until: Some(T0 + 60_000),
        suppressed_by: Some("manual".into()),
        ends_at: None,
        auto_resolve_ms: None,
    };
    lc.restore(1, [old], []);
    let mut fx = Effects::new();
    // The first advance looks at every alert; the suppression still holds.
    lc.advance(T0, &mut fx);
    lc.advance(T0 + 60_000, &mut fx);
    assert_eq!(lc.state_of(1), Some(State::Suppressed));
    // Strictly past `until`, as every lifecycle timer.
    lc.advance(T0 + 60_001, &mut fx);
    assert_eq!(lc.state_of(1), Some(State::Active));
    let reasons: Vec<String> = fx
        .writes
        .iter()
        .filter_map(|w| match w {
            klaxon_engine::lifecycle::Write::Transition(t) => {
                Some(format!("{}: {}", t.actor, t.reason))
            }
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["system: suppression expired"]);
}

#[test]
fn a_suppression_without_an_end_arms_no_timer() {
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    let l = labelled("Disk", false);
    let held = Restored {
        id: 1,
        fingerprint: format!("{:016x}", l.fingerprint),
        state: State::Suppressed,
        source: Source::Api,
        severity: "high".into(),
        labels: l.labels,
        annotations: Default::default(),
        message: "cpu".into(),
        occurrences: 1,
        last_seen: T0,
        resolved_at: None,
        suppressed_until: Some(i64::MAX),
        suppressed_by: Some("manual".into()),
        ends_at: None,
        auto_resolve_ms: None,
    };
    lc.restore(1, [held], []);
    let mut fx = Effects::new();
    lc.advance(T0, &mut fx);
    assert_eq!(lc.state_of(1), Some(State::Suppressed));
    assert_eq!(lc.next_deadline(), None, "nothing is ever due");
}

/// The deadline set of a lifecycle fed `n` quiet firings of one Alertmanager alert, one a
/// second, with `ends_at` (epoch ms) or without.
fn timers_after_firings(n: i64, ends_at: Option<i64>) -> usize {
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    let mut fx = Effects::new();
    let labels: Labels = [("alertname".to_owned(), "Disk".to_owned())].into();
    for i in 0..n {
        let at = T0 + i * 1000;
        let l = Labelled {
            ends_at,
            ..Labelled::of_labels(
                Source::Alertmanager,
                labels.clone(),
                Default::default(),
                ("warning", "disk"),
                at,
            )
        };
        lc.apply(at, Input::Labelled(&l), &mut fx);
    }
    assert_eq!(lc.stats().quiet_firings, (n - 1) as u64);
    lc.stats().timers
}

#[test]
fn firings_that_move_the_auto_resolve_deadline_do_not_grow_the_deadline_set() {
    // The first look at every alert, its auto-resolve check, the flush of quiet firings.
    assert_eq!(
        timers_after_firings(1000, None),
        3,
        "a deadline moving later"
    );
    assert_eq!(
        timers_after_firings(1000, Some(T0 + 3_600_000)),
        3,
        "the same end each time"
    );
}

/// A stored alert of the `Disk` firing.
fn stored(id: i64, state: State, resolved_at: Option<i64>) -> Restored {
    let l = labelled("Disk", false);
    Restored {
        id,
        fingerprint: format!("{:016x}", l.fingerprint),
        state,
        source: Source::Threshold,
        severity: "high".into(),
        labels: l.labels,
        annotations: Default::default(),
        message: "cpu".into(),
        occurrences: 1,
        last_seen: T0,
        resolved_at,
        suppressed_until: None,
        suppressed_by: None,
        ends_at: None,
        auto_resolve_ms: None,
    }
}

#[test]
fn after_a_restore_firings_fold_into_the_newest_alert_of_their_fingerprint() {
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    // #1 resolved just now (a firing would reopen it), #2 opened after it: #2 takes firings.
    let older = stored(1, State::Resolved, Some(T0));
    lc.restore(2, [older, stored(2, State::Active, None)], []);
    let mut fx = Effects::new();
    let a = lc.apply(T0 + 1, Input::Labelled(&labelled("Disk", false)), &mut fx);
    assert_eq!(
        a,
        Answer::Firing {
            id: Some(2),
            quiet: true
        }
    );
    assert_eq!(lc.state_of(1), Some(State::Resolved));
}

#[test]
fn a_restore_never_gives_out_an_id_it_holds_even_when_the_largest_id_lags() {
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    lc.restore(0, [stored(7, State::Active, None)], []);
    let mut fx = Effects::new();
    let a = lc.apply(T0 + 1, Input::Labelled(&labelled("Mem", false)), &mut fx);
    assert_eq!(
        a,
        Answer::Firing {
            id: Some(8),
            quiet: false
        }
    );
}

/// The record of the alert the first effect of `fx` inserts.
fn inserted(fx: &Effects) -> &klaxon_engine::lifecycle::AlertRecord {
    match fx.writes.first() {
        Some(klaxon_engine::lifecycle::Write::Insert { alert, .. }) => alert,
        other => panic!("not an insert: {other:?}"),
    }
}

#[test]
fn an_engine_alert_opens_with_every_column_of_its_firing() {
    let alert = klaxon_engine::Alert {
        group: Arc::from("g"),
        rule_set: Arc::from("set"),
        rule_set_version: Some(3.into()),
        rule_id: Arc::from("disk"),
        trigger: klaxon_engine::Trigger::MarkEvent,
        operator: Arc::from("COUNT_GT"),
        severity: klaxon_engine::Severity::High,
        handler: Arc::from("LOG"),
        process: Arc::from("p1"),
        process_name: Arc::from("proc"),
        scope: Arc::from("s"),
        action: Arc::from("a"),
        context: Some(Arc::from("ctx")),
        action_count: 4,
        value: Some(91.5),
        limit: Some(90.0),
        signal_ts: T0 + 3,
        engine_ts: T0 + 5,
        message: "disk fired".into(),
        fingerprint: klaxon_engine::fingerprint("g", "disk", "s", "a", Some("ctx")),
        auto_resolve_ms: None,
    };
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    let mut fx = Effects::new();
    lc.apply(T0 + 7, Input::Fired(&alert), &mut fx);
    let r = inserted(&fx);
    let got = (
        (r.group.as_str(), r.rule_set.as_str(), r.rule_id.as_str()),
        (r.trigger.as_str(), r.operator.as_str(), r.handler.as_str()),
        (
            r.process.as_str(),
            r.process_name.as_str(),
            r.scope.as_str(),
        ),
        (r.action.as_str(), r.context.as_deref()),
    );
    let want = (
        ("g", "set", "disk"),
        (alert.trigger.as_str(), "COUNT_GT", "LOG"),
        ("p1", "proc", "s"),
        ("a", Some("ctx")),
    );
    assert_eq!(got, want);
    assert_eq!(r.rule_set_version, Some(3.into()));
    assert_eq!(
        (r.action_count, r.value, r.limit),
        (4, Some(91.5), Some(90.0))
    );
    assert_eq!((r.signal_ts, r.engine_ts), (T0 + 3, T0 + 5));
    assert_eq!(
        (r.first_seen, r.last_seen),
        (T0 + 5, T0 + 5),
        "seen when the engine saw it"
    );
    let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        labels,
        [
            "action=a",
            "alertname=disk",
            "context=ctx",
            "group=g",
            "handler=LOG",
            "process_name=proc",
            "rule_set=set",
            "scope=s",
            "severity=high",
        ]
    );
}

#[test]
fn a_labelled_alert_was_first_seen_when_it_started() {
    let l = Labelled {
        starts_at: T0 - 60_000,
        ..labelled("Disk", false)
    };
    let mut lc = Lifecycle::new(Settings::default(), NoiseConfig::default(), 1);
    let mut fx = Effects::new();
    lc.apply(T0, Input::Labelled(&l), &mut fx);
    let r = inserted(&fx);
    assert_eq!((r.first_seen, r.last_seen), (T0 - 60_000, T0));
}
