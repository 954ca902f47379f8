//! Lifecycle changes: inserts with given ids, occurrences, transitions and the columns they
//! stamp, notes, assignees, the audit trail, atomic requests, and the open-alert index.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_engine::lifecycle::State;
use klaxon_engine::Severity;

use super::{alert, insert, labelled, new, transition};
use crate::{AlertChange, Occurrence, Source, Store, StoreError};

const T0: i64 = 1_700_000_000_000;

/// (actor, from, to, reason, at) of each event, oldest first.
type Trail = Vec<(String, Option<State>, State, String, i64)>;

async fn trail<S: Store>(store: &Arc<S>, id: i64) -> Trail {
    let detail = store.alert_detail(id, 0).await.unwrap();
    assert!(detail.events.iter().all(|e| e.alert_id == id));
    assert!(
        detail.events.windows(2).all(|w| w[0].id < w[1].id),
        "events oldest first"
    );
    detail
        .events
        .into_iter()
        .map(|e| (e.actor, e.from, e.to, e.reason, e.at))
        .collect()
}

fn step(actor: &str, from: Option<State>, to: State, reason: &str, at: i64) -> Trail {
    vec![(actor.to_owned(), from, to, reason.to_owned(), at)]
}

pub async fn insert_alerts_fills_the_lifecycle_columns<S: Store>(store: &Arc<S>) {
    let with_context = alert("R-7", "p-1", Severity::High, 2);
    let mut without = alert("R-8", "p-2", Severity::Low, 3);
    without.context = None;
    let stored = store
        .insert_alerts(vec![new(with_context.clone(), 50), new(without, 60)])
        .await
        .unwrap();
    let a = &stored[0];
    assert_eq!(a.source, Source::Rule);
    assert_eq!(a.name, "R-7");
    let expected: BTreeMap<String, String> = [
        ("alertname", "R-7"),
        ("rule_set", "rails"),
        ("group", "default"),
        ("process_name", "metro-line"),
        ("scope", "metro"),
        ("action", "TRACK"),
        ("context", "S2"),
        ("handler", "pager"),
        ("severity", "high"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(a.labels, expected);
    assert!(
        !stored[1].labels.contains_key("context"),
        "no context label without a context"
    );
    assert!(a.annotations.is_empty());
    assert_eq!(
        (a.first_seen, a.last_seen),
        (with_context.engine_ts, with_context.engine_ts)
    );
    assert_eq!((a.occurrences, a.updated_at), (1, 50));
    assert_eq!(
        (a.acknowledged_at, a.resolved_at, a.closed_at),
        (None, None, None)
    );
    assert_eq!((a.assignee.as_deref(), a.ends_at), (None, None));

    let detail = store.alert_detail(a.id, 10).await.unwrap();
    assert_eq!(
        &detail.alert, a,
        "read back equals what insert_alerts returned"
    );
    let first = Occurrence {
        at: with_context.signal_ts,
        value: with_context.value,
        message: with_context.message.clone(),
    };
    assert_eq!(detail.occurrences, [first]);
    assert!(detail.notes.is_empty());
    assert_eq!(
        trail(store, a.id).await,
        step("engine", None, State::Active, "created", 50)
    );
}

pub async fn an_inserted_alert_reads_back_with_every_field<S: Store>(store: &Arc<S>) {
    let mut a = labelled(41, "Everything", "critical", T0, &[("instance", "db-1")]);
    a.state = State::Acknowledged;
    a.source = Source::Threshold;
    a.annotations
        .insert("runbook".into(), "https://example.org/rb".into());
    a.last_seen = T0 + 5;
    a.occurrences = 3;
    a.acknowledged_at = Some(T0 + 2);
    a.acknowledged_by = Some("alice".into());
    a.resolved_at = Some(T0 + 3);
    a.resolved_by = Some("bob".into());
    a.closed_at = Some(T0 + 4);
    a.suppressed_until = Some(T0 + 6);
    a.assignee = Some("carol".into());
    a.ends_at = Some(T0 + 7);
    a.generator_url = Some("http://prometheus/graph?g0.expr=up".into());
    a.updated_at = T0 + 8;
    a.value = Some(97.5);
    a.limit = Some(90.0);
    a.created_at = T0 + 9;
    store
        .apply_alert_changes(vec![insert(a.clone())])
        .await
        .unwrap();
    assert_eq!(store.get_alert(41).await.unwrap(), a);
    let detail = store.alert_detail(41, 10).await.unwrap();
    assert_eq!(detail.alert, a);
    assert_eq!(
        trail(store, 41).await,
        step("api", None, State::Acknowledged, "created", T0 + 9),
        "the created event goes from none to the alert's state, at its created_at"
    );
    let first = Occurrence {
        at: T0,
        value: Some(97.5),
        message: "Everything fired".into(),
    };
    assert_eq!(detail.occurrences, [first]);
}

pub async fn a_deduplicated_alert_lives_its_whole_life<S: Store>(store: &Arc<S>) {
    let id = 7;
    let a = labelled(id, "DiskFull", "high", T0, &[("instance", "db-1")]);
    store
        .apply_alert_changes(vec![insert(a.clone())])
        .await
        .unwrap();
    let mut expected_trail = step("api", None, State::Active, "created", T0);

    // Three more firings: counted, latest values kept, no event.
    for k in 1..=3_i64 {
        let at = T0 + k * 1_000;
        let annotations = BTreeMap::from([("summary".to_owned(), format!("disk at {}%", 90 + k))]);
        let change = AlertChange::Occur {
            id,
            at,
            occurrences: 1 + k as u64,
            summary: format!("disk at {}%", 90 + k),
            severity: if k == 3 { "critical" } else { "high" }.to_owned(),
            annotations,
            ends_at: Some(at + 300_000),
            occurrence: Occurrence {
                at,
                value: Some(90.0 + k as f64),
                message: format!("disk at {}%", 90 + k),
            },
            log: true,
        };
        store.apply_alert_changes(vec![change]).await.unwrap();
    }
    let detail = store.alert_detail(id, 2).await.unwrap();
    let s = &detail.alert;
    assert_eq!(
        (s.occurrences, s.first_seen, s.last_seen),
        (4, T0, T0 + 3_000)
    );
    assert_eq!(
        (s.message.as_str(), s.severity.as_str()),
        ("disk at 93%", "critical")
    );
    assert_eq!(s.annotations["summary"], "disk at 93%");
    assert_eq!(
        (s.ends_at, s.value, s.updated_at),
        (Some(T0 + 303_000), Some(93.0), T0 + 3_000)
    );
    assert_eq!(
        (s.state, s.labels.clone()),
        (State::Active, a.labels.clone())
    );
    let newest: Vec<_> = detail.occurrences.iter().map(|o| (o.at, o.value)).collect();
    assert_eq!(
        newest,
        [(T0 + 3_000, Some(93.0)), (T0 + 2_000, Some(92.0))],
        "newest first, at most 2"
    );
    let all = store.alert_detail(id, 100).await.unwrap().occurrences;
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].at, T0, "the insert's occurrence is the oldest");
    assert_eq!(
        trail(store, id).await,
        expected_trail,
        "occurrences write no event"
    );

    // Acknowledge, resolve, reopen, resolve, close.
    let steps = [
        (
            State::Active,
            State::Acknowledged,
            T0 + 10_000,
            "alice",
            "on it",
        ),
        (
            State::Acknowledged,
            State::Resolved,
            T0 + 20_000,
            "bob",
            "fixed",
        ),
        (
            State::Resolved,
            State::Active,
            T0 + 30_000,
            "lifecycle",
            "fired again",
        ),
        (
            State::Active,
            State::Resolved,
            T0 + 40_000,
            "lifecycle",
            "condition cleared",
        ),
        (
            State::Resolved,
            State::Closed,
            T0 + 50_000,
            "lifecycle",
            "closed after 1h",
        ),
    ];
    for (n, (from, to, at, actor, reason)) in steps.into_iter().enumerate() {
        store
            .apply_alert_changes(vec![transition(id, from, to, at, actor, reason)])
            .await
            .unwrap();
        expected_trail.extend(step(actor, Some(from), to, reason, at));
        let s = store.get_alert(id).await.unwrap();
        assert_eq!((s.state, s.updated_at), (to, at), "step {n}");
        // Acknowledgement stays once given.
        assert_eq!(s.acknowledged_at, Some(T0 + 10_000), "step {n}");
        assert_eq!(s.acknowledged_by.as_deref(), Some("alice"), "step {n}");
        let resolved = match n {
            0 | 2 => (None, None),
            1 => (Some(T0 + 20_000), Some("bob")),
            _ => (Some(T0 + 40_000), Some("lifecycle")),
        };
        assert_eq!(
            (s.resolved_at, s.resolved_by.as_deref()),
            resolved,
            "step {n}"
        );
        let closed = (n == 4).then_some(T0 + 50_000);
        assert_eq!(s.closed_at, closed, "step {n}");
        assert_eq!(s.occurrences, 4, "transitions keep the count");
    }
    assert_eq!(trail(store, id).await, expected_trail);
    let summary = store.alert_summary().await.unwrap();
    assert_eq!((summary.total, summary.by_state[&State::Closed]), (1, 1));
}

pub async fn suppression_sets_and_clears_its_end<S: Store>(store: &Arc<S>) {
    let a = labelled(3, "Noisy", "low", T0, &[]);
    let suppress = AlertChange::Transition {
        id: 3,
        from: State::Active,
        to: State::Suppressed,
        at: T0 + 1,
        actor: "silence:42".into(),
        reason: "silenced".into(),
        until: Some(T0 + 3_600_000),
        by: Some("silence:42".into()),
    };
    store
        .apply_alert_changes(vec![insert(a), suppress])
        .await
        .unwrap();
    let s = store.get_alert(3).await.unwrap();
    assert_eq!(
        (s.state, s.suppressed_until, s.suppressed_by.as_deref()),
        (State::Suppressed, Some(T0 + 3_600_000), Some("silence:42"))
    );
    assert_eq!(
        store.alert_summary().await.unwrap().open_by_severity["low"],
        1
    );
    store
        .apply_alert_changes(vec![transition(
            3,
            State::Suppressed,
            State::Active,
            T0 + 2,
            "silence:42",
            "expired",
        )])
        .await
        .unwrap();
    let s = store.get_alert(3).await.unwrap();
    assert_eq!(
        (s.state, s.suppressed_until, s.suppressed_by),
        (State::Active, None, None)
    );
    let mut expected = step("api", None, State::Active, "created", T0);
    expected.extend(step(
        "silence:42",
        Some(State::Active),
        State::Suppressed,
        "silenced",
        T0 + 1,
    ));
    expected.extend(step(
        "silence:42",
        Some(State::Suppressed),
        State::Active,
        "expired",
        T0 + 2,
    ));
    assert_eq!(trail(store, 3).await, expected);
}

pub async fn notes_and_assignee_are_kept_with_their_events<S: Store>(store: &Arc<S>) {
    let id = 11;
    store
        .apply_alert_changes(vec![insert(labelled(id, "Slow", "medium", T0, &[]))])
        .await
        .unwrap();
    let note = |at: i64, author: &str, text: &str| AlertChange::Note {
        id,
        at,
        author: author.into(),
        text: text.into(),
        state: State::Active,
    };
    let assign = |at: i64, actor: &str, who: Option<&str>| AlertChange::Assign {
        id,
        at,
        actor: actor.into(),
        assignee: who.map(Into::into),
        state: State::Active,
    };
    store
        .apply_alert_changes(vec![
            note(T0 + 1, "alice", "looking"),
            assign(T0 + 2, "alice", Some("bob")),
        ])
        .await
        .unwrap();
    let s = store.get_alert(id).await.unwrap();
    assert_eq!((s.assignee.as_deref(), s.updated_at), (Some("bob"), T0 + 2));
    store
        .apply_alert_changes(vec![
            note(T0 + 3, "bob", "it was the disk"),
            assign(T0 + 4, "bob", None),
        ])
        .await
        .unwrap();
    let detail = store.alert_detail(id, 10).await.unwrap();
    assert_eq!(
        (detail.alert.assignee, detail.alert.updated_at),
        (None, T0 + 4)
    );
    let notes: Vec<_> = detail
        .notes
        .iter()
        .map(|n| (n.alert_id, n.at, n.author.as_str(), n.text.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            (id, T0 + 1, "alice", "looking"),
            (id, T0 + 3, "bob", "it was the disk")
        ]
    );
    assert!(detail.notes[0].id < detail.notes[1].id);
    let mut expected = step("api", None, State::Active, "created", T0);
    expected.extend(step(
        "alice",
        Some(State::Active),
        State::Active,
        "note",
        T0 + 1,
    ));
    expected.extend(step(
        "alice",
        Some(State::Active),
        State::Active,
        "assigned to bob",
        T0 + 2,
    ));
    expected.extend(step(
        "bob",
        Some(State::Active),
        State::Active,
        "note",
        T0 + 3,
    ));
    expected.extend(step(
        "bob",
        Some(State::Active),
        State::Active,
        "unassigned",
        T0 + 4,
    ));
    assert_eq!(trail(store, id).await, expected);
}

pub async fn a_change_on_a_missing_alert_rolls_back_the_whole_request<S: Store>(store: &Arc<S>) {
    store
        .apply_alert_changes(vec![insert(labelled(5, "Kept", "high", T0, &[]))])
        .await
        .unwrap();
    let before = store.alert_detail(5, 10).await.unwrap();
    let occur = |id: i64| AlertChange::Occur {
        id,
        at: T0 + 1,
        occurrences: 2,
        summary: "again".into(),
        severity: "critical".into(),
        annotations: BTreeMap::new(),
        ends_at: None,
        occurrence: Occurrence {
            at: T0 + 1,
            value: None,
            message: "again".into(),
        },
        log: true,
    };
    let missing: [AlertChange; 4] = [
        occur(999),
        transition(
            999,
            State::Active,
            State::Acknowledged,
            T0 + 2,
            "alice",
            "mine",
        ),
        AlertChange::Note {
            id: 999,
            at: T0 + 3,
            author: "alice".into(),
            text: "hello".into(),
            state: State::Active,
        },
        AlertChange::Assign {
            id: 999,
            at: T0 + 4,
            actor: "alice".into(),
            assignee: Some("bob".into()),
            state: State::Active,
        },
    ];
    for bad in missing {
        // Good changes first, on an existing and on a new alert; the bad one last.
        let request = vec![
            insert(labelled(6, "New", "low", T0, &[])),
            occur(5),
            transition(
                5,
                State::Active,
                State::Acknowledged,
                T0 + 2,
                "alice",
                "mine",
            ),
            AlertChange::Note {
                id: 5,
                at: T0 + 3,
                author: "alice".into(),
                text: "noted".into(),
                state: State::Acknowledged,
            },
            bad.clone(),
        ];
        let err = store.apply_alert_changes(request).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{bad:?}: {err:?}");
        assert_eq!(store.alert_detail(5, 10).await.unwrap(), before, "{bad:?}");
        let new = store.alert_detail(6, 10).await.unwrap_err();
        assert!(matches!(new, StoreError::NotFound(_)), "{bad:?}: {new:?}");
    }
    assert_eq!(
        store.max_alert_id().await.unwrap(),
        5,
        "the rolled-back id is not used"
    );
    let summary = store.alert_summary().await.unwrap();
    assert_eq!((summary.total, summary.by_state[&State::Active]), (1, 1));
    assert_eq!(
        summary.open_by_severity,
        BTreeMap::from([("high".to_owned(), 1)])
    );
}

pub async fn a_transition_from_another_state_conflicts<S: Store>(store: &Arc<S>) {
    store
        .apply_alert_changes(vec![insert(labelled(8, "X", "high", T0, &[]))])
        .await
        .unwrap();
    let err = store
        .apply_alert_changes(vec![transition(
            8,
            State::Resolved,
            State::Closed,
            T0 + 1,
            "lifecycle",
            "close",
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("active")),
        "{err:?}"
    );
    let s = store.get_alert(8).await.unwrap();
    assert_eq!((s.state, s.closed_at), (State::Active, None));
    assert_eq!(trail(store, 8).await.len(), 1);
}

pub async fn given_ids_are_kept_and_max_alert_id_follows_them<S: Store>(store: &Arc<S>) {
    assert_eq!(store.max_alert_id().await.unwrap(), 0);
    store
        .apply_alert_changes(vec![insert(labelled(100, "A", "low", T0, &[]))])
        .await
        .unwrap();
    assert_eq!(store.max_alert_id().await.unwrap(), 100);
    // Ids the store chooses never collide with given ones.
    let chosen = store
        .insert_alerts(vec![new(alert("R", "p", Severity::Low, 1), 1)])
        .await
        .unwrap();
    assert_eq!(chosen[0].id, 101);
    assert_eq!(store.max_alert_id().await.unwrap(), 101);
    // A lower free id is fine and does not lower the maximum.
    store
        .apply_alert_changes(vec![insert(labelled(50, "B", "low", T0, &[]))])
        .await
        .unwrap();
    assert_eq!(store.get_alert(50).await.unwrap().name, "B");
    assert_eq!(store.max_alert_id().await.unwrap(), 101);
    // A taken id fails its whole request.
    let err = store
        .apply_alert_changes(vec![
            insert(labelled(200, "C", "low", T0, &[])),
            insert(labelled(100, "again", "low", T0, &[])),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(store.get_alert(100).await.unwrap().name, "A");
    assert!(matches!(
        store.get_alert(200).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.max_alert_id().await.unwrap(), 101);
}

pub async fn open_alerts_are_every_alert_but_closed_ones<S: Store>(store: &Arc<S>) {
    // A closed alert first, then one in each state.
    let states: Vec<State> = [State::Closed].into_iter().chain(State::ALL).collect();
    let mut changes = Vec::new();
    for (i, state) in states.iter().enumerate() {
        let id = 10 + i as i64;
        let mut a = labelled(
            id,
            &format!("A{i}"),
            "high",
            T0 + id,
            &[("n", &i.to_string())],
        );
        a.state = *state;
        a.source = if i % 2 == 0 {
            Source::Threshold
        } else {
            Source::Alertmanager
        };
        a.occurrences = id as u64;
        a.last_seen = T0 + 2 * id;
        a.resolved_at = (*state == State::Resolved).then_some(T0 + 3 * id);
        a.suppressed_until = (*state == State::Suppressed).then_some(T0 + 4 * id);
        a.ends_at = Some(T0 + 5 * id);
        changes.push(insert(a));
    }
    store.apply_alert_changes(changes).await.unwrap();
    let open = store.load_open_alerts().await.unwrap();
    let got: Vec<_> = open.iter().map(|a| (a.id, a.state)).collect();
    assert_eq!(
        got,
        [
            (11, State::Pending),
            (12, State::Active),
            (13, State::Acknowledged),
            (14, State::Suppressed),
            (15, State::Resolved)
        ]
    );
    for a in &open {
        let full = store.get_alert(a.id).await.unwrap();
        assert_eq!(a.fingerprint, full.fingerprint);
        assert_eq!((a.source, a.severity.as_str()), (full.source, "high"));
        assert_eq!(a.labels, full.labels);
        assert_eq!(
            (a.occurrences, a.first_seen, a.last_seen),
            (a.id as u64, T0 + a.id, T0 + 2 * a.id)
        );
        assert_eq!(
            (a.resolved_at, a.suppressed_until),
            (full.resolved_at, full.suppressed_until)
        );
        assert_eq!(a.ends_at, Some(T0 + 5 * a.id));
    }
}

pub async fn silences_round_trip_and_update_in_place<S: Store>(store: &Arc<S>) {
    use klaxon_engine::noise::{MatcherSpec, Silence};
    let s = Silence {
        id: "b-1".into(),
        matchers: vec![
            MatcherSpec {
                name: "alertname".into(),
                value: "Disk".into(),
                is_regex: false,
                is_equal: true,
            },
            MatcherSpec {
                name: "host".into(),
                value: "web-(1|2)".into(),
                is_regex: true,
                is_equal: false,
            },
        ],
        starts_at: T0,
        ends_at: T0 + 3_600_000,
        created_by: "ops".into(),
        comment: "disk swap".into(),
        updated_at: T0,
    };
    let other = Silence {
        id: "a-2".into(),
        ..s.clone()
    };
    store
        .apply_alert_changes(vec![
            AlertChange::Silence(s.clone()),
            AlertChange::Silence(other.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(store.silences().await.unwrap(), [other.clone(), s.clone()]);
    let expired = Silence {
        ends_at: T0 + 5,
        updated_at: T0 + 5,
        ..s.clone()
    };
    store
        .apply_alert_changes(vec![AlertChange::Silence(expired.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.silences().await.unwrap(),
        [other, expired],
        "the same id replaces the row"
    );
}
