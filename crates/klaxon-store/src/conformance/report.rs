//! Reports: the summary as alerts come and change, response times and trends on data whose
//! answers are worked out by hand.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_engine::lifecycle::State;
use klaxon_engine::Severity;

use super::{alert, insert, labelled, new, transition};
use crate::{AlertChange, Occurrence, Store, StoreError, TrendBucket, TrendQuery};

fn counts<K: Copy, T: Ord + From<K>>(pairs: &[(K, u64)]) -> BTreeMap<T, u64> {
    pairs.iter().map(|&(k, n)| (T::from(k), n)).collect()
}

pub async fn summary_counts_every_state_and_open_severities<S: Store>(store: &Arc<S>) {
    let empty = store.alert_summary().await.unwrap();
    assert_eq!(empty.total, 0);
    let zeros = [
        (State::Pending, 0),
        (State::Active, 0),
        (State::Acknowledged, 0),
        (State::Suppressed, 0),
        (State::Resolved, 0),
        (State::Closed, 0),
    ];
    assert_eq!(empty.by_state, counts(&zeros), "every state, zero included");
    assert!(empty.open_by_severity.is_empty());

    let alerts = [
        (1, State::Pending, "high"),
        (2, State::Active, "high"),
        (3, State::Active, "high"),
        (4, State::Acknowledged, "critical"),
        (5, State::Suppressed, "low"),
        (6, State::Resolved, "high"),
        (7, State::Closed, "low"),
        (8, State::Closed, "low"),
        (9, State::Closed, "info"),
    ];
    let changes = alerts
        .iter()
        .map(|&(id, state, severity)| {
            let mut a = labelled(id, "A", severity, 1_000, &[]);
            a.state = state.to_owned();
            insert(a)
        })
        .collect();
    store.apply_alert_changes(changes).await.unwrap();
    let s = store.alert_summary().await.unwrap();
    assert_eq!(s.total, 9);
    let by_state = [
        (State::Pending, 1),
        (State::Active, 2),
        (State::Acknowledged, 1),
        (State::Suppressed, 1),
        (State::Resolved, 1),
        (State::Closed, 3),
    ];
    assert_eq!(s.by_state, counts(&by_state));
    assert_eq!(
        s.open_by_severity,
        counts(&[("high", 3), ("critical", 1), ("low", 1)])
    );

    // Transitions move counts; an occurrence may change the severity; engine alerts count.
    let occur = AlertChange::Occur {
        id: 3,
        at: 2_000,
        occurrences: 2,
        summary: "worse".into(),
        severity: "critical".into(),
        annotations: BTreeMap::new(),
        ends_at: None,
        occurrence: Occurrence {
            at: 2_000,
            value: None,
            message: "worse".into(),
        },
        log: true,
    };
    store
        .apply_alert_changes(vec![
            transition(
                2,
                State::Active,
                State::Resolved,
                2_000,
                "lifecycle",
                "cleared",
            ),
            occur,
            transition(
                6,
                State::Resolved,
                State::Closed,
                2_000,
                "lifecycle",
                "closed",
            ),
        ])
        .await
        .unwrap();
    store
        .insert_alerts(vec![new(alert("R", "p", Severity::Medium, 1), 3_000)])
        .await
        .unwrap();
    let s = store.alert_summary().await.unwrap();
    assert_eq!(s.total, 10);
    let by_state = [
        (State::Pending, 1),
        (State::Active, 2),
        (State::Acknowledged, 1),
        (State::Suppressed, 1),
        (State::Resolved, 1),
        (State::Closed, 4),
    ];
    assert_eq!(s.by_state, counts(&by_state));
    assert_eq!(
        s.open_by_severity,
        counts(&[("high", 1), ("critical", 2), ("low", 1), ("medium", 1)])
    );
}

pub async fn performance_means_over_first_seen_range<S: Store>(store: &Arc<S>) {
    let empty = store.alert_performance(0, i64::MAX).await.unwrap();
    assert_eq!(
        (empty.alerts, empty.mtta_ms, empty.mttr_ms),
        (0, None, None)
    );

    // In [1000, 2000): A acknowledged after 600 and resolved after 2000 (then closed, which
    // keeps its resolution); B resolved after 300 without acknowledgement; C untouched; F
    // resolved and reopened (so not resolved). D starts at the end (excluded), E before.
    let mut changes: Vec<AlertChange> = [
        (1, 1_000),
        (2, 1_500),
        (3, 1_999),
        (4, 2_000),
        (5, 999),
        (6, 1_200),
    ]
    .into_iter()
    .map(|(id, first_seen)| insert(labelled(id, "P", "high", first_seen, &[])))
    .collect();
    changes.extend([
        transition(
            1,
            State::Active,
            State::Acknowledged,
            1_600,
            "alice",
            "mine",
        ),
        transition(
            1,
            State::Acknowledged,
            State::Resolved,
            3_000,
            "alice",
            "fixed",
        ),
        transition(
            1,
            State::Resolved,
            State::Closed,
            9_000,
            "lifecycle",
            "closed",
        ),
        transition(
            2,
            State::Active,
            State::Resolved,
            1_800,
            "lifecycle",
            "cleared",
        ),
        transition(4, State::Active, State::Acknowledged, 2_100, "bob", "mine"),
        transition(5, State::Active, State::Acknowledged, 1_000, "bob", "mine"),
        transition(
            5,
            State::Acknowledged,
            State::Resolved,
            1_005,
            "bob",
            "fixed",
        ),
        transition(
            6,
            State::Active,
            State::Resolved,
            1_300,
            "lifecycle",
            "cleared",
        ),
        transition(
            6,
            State::Resolved,
            State::Active,
            1_400,
            "lifecycle",
            "fired again",
        ),
    ]);
    store.apply_alert_changes(changes).await.unwrap();
    let p = store.alert_performance(1_000, 2_000).await.unwrap();
    assert_eq!((p.alerts, p.acknowledged, p.resolved), (4, 1, 2));
    assert_eq!(p.mtta_ms, Some(600.0));
    assert_eq!(p.mttr_ms, Some(1_150.0));

    let none = store.alert_performance(1_600, 1_999).await.unwrap();
    assert_eq!((none.alerts, none.acknowledged, none.resolved), (0, 0, 0));
    assert_eq!((none.mtta_ms, none.mttr_ms), (None, None));
    let unacknowledged = store.alert_performance(1_200, 1_600).await.unwrap();
    assert_eq!((unacknowledged.alerts, unacknowledged.mtta_ms), (2, None));
    assert_eq!(unacknowledged.mttr_ms, Some(300.0));
}

pub async fn trends_count_per_bucket_severity_and_name<S: Store>(store: &Arc<S>) {
    let alerts = [
        (1, -1, "high", "X"),
        (2, 0, "high", "X"),
        (3, 999, "high", "X"),
        (4, 1_000, "high", "X"),
        (5, 1_500, "low", "Y"),
        (6, 1_700, "high", "Y"),
        (7, 2_500, "high", "X"),
        (8, 3_000, "high", "X"),
        (9, -2_500, "low", "X"),
    ];
    let changes = alerts
        .iter()
        .map(|&(id, first_seen, severity, name)| {
            insert(labelled(id, name, severity, first_seen, &[]))
        })
        .collect();
    store.apply_alert_changes(changes).await.unwrap();
    let bucket = |start: i64, severity: &str, name: &str, count: u64| TrendBucket {
        start,
        severity: severity.to_owned(),
        name: name.to_owned(),
        count,
    };
    let q = |from: i64, to: i64, bucket_ms: i64| TrendQuery {
        from,
        to,
        bucket_ms,
    };
    let got = store.alert_trends(q(0, 3_000, 1_000)).await.unwrap();
    assert_eq!(
        got,
        [
            bucket(0, "high", "X", 2),
            bucket(1_000, "high", "X", 1),
            bucket(1_000, "high", "Y", 1),
            bucket(1_000, "low", "Y", 1),
            bucket(2_000, "high", "X", 1),
        ]
    );
    // Buckets start at multiples of the width, before 1970 too.
    let got = store.alert_trends(q(-3_000, 0, 1_000)).await.unwrap();
    assert_eq!(
        got,
        [
            bucket(-3_000, "low", "X", 1),
            bucket(-1_000, "high", "X", 1)
        ]
    );
    let got = store
        .alert_trends(q(-10_000, 10_000, 10_000))
        .await
        .unwrap();
    let total: u64 = got.iter().map(|b| b.count).sum();
    assert_eq!(total, 9);
    assert!(store
        .alert_trends(q(5_000, 6_000, 100))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .alert_trends(q(3_000, 0, 100))
        .await
        .unwrap()
        .is_empty());
    for bad in [q(0, 1_000, 0), q(0, 1_000, -5), q(0, i64::MAX, 1)] {
        let err = store.alert_trends(bad.clone()).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
}
