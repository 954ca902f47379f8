//! The notification outbox: claims at enqueue and later, order within a stream, retries and
//! leases, released claims, the notification log, an alert's notifications, counts, retention.

use std::sync::Arc;

use klaxon_engine::lifecycle::State;

use super::{insert, labelled, transition};
use crate::outbox::status;
use crate::{Claim, Delivery, NewNotification, Store};

const T0: i64 = 1_700_000_000_000;

fn note(
    key: &str,
    receiver: &str,
    group: &str,
    kind: &str,
    alerts: &[i64],
    at: i64,
) -> NewNotification {
    NewNotification {
        idempotency_key: key.to_owned(),
        receiver: receiver.to_owned(),
        channel: "webhook".to_owned(),
        channel_index: 0,
        group_key: group.to_owned(),
        kind: kind.to_owned(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        alert_ids: alerts.to_vec(),
        created_at: at,
        limited: false,
        summary: false,
    }
}

fn claim(owner: &str, now: i64) -> Claim {
    Claim {
        owner: owner.to_owned(),
        now,
        until: now + 60_000,
    }
}

fn outcome(id: i64, owner: &str, st: &'static str, at: i64, next: Option<i64>) -> Delivery {
    Delivery {
        id,
        owner: owner.to_owned(),
        status: st,
        at,
        next_attempt_at: next,
        error: (st != status::SENT).then(|| "HTTP 503".to_owned()),
        code: Some(if st == status::SENT { 200 } else { 503 }),
        held: false,
    }
}

fn keys(rows: &[crate::OutboxRow]) -> Vec<&str> {
    rows.iter().map(|r| r.idempotency_key.as_str()).collect()
}

pub async fn outbox_delivers_a_stream_in_order<S: Store>(store: &Arc<S>) {
    let rows = vec![
        note("a1", "ops", "g1", "firing", &[], T0),
        note("a2", "ops", "g1", "resolved", &[], T0),
        note("b1", "ops", "g2", "firing", &[], T0),
    ];
    let claimed = store
        .enqueue_notifications(rows, Some(claim("n1", T0)))
        .await
        .unwrap();
    assert_eq!(
        keys(&claimed),
        ["a1", "b1"],
        "the second row of g1 waits for the first"
    );
    assert!(claimed
        .iter()
        .all(|r| r.status == status::SENDING && r.attempts == 1));
    assert!(store
        .claim_notifications(claim("n1", T0), 10)
        .await
        .unwrap()
        .is_empty());
    store
        .record_deliveries(vec![outcome(
            claimed[0].id,
            "n1",
            status::SENT,
            T0 + 5,
            None,
        )])
        .await
        .unwrap();
    let next = store
        .claim_notifications(claim("n1", T0 + 5), 10)
        .await
        .unwrap();
    assert_eq!(keys(&next), ["a2"]);
    assert_eq!(next[0].kind, "resolved");
    assert_eq!(next[0].payload, "{\"key\":\"a2\"}");
    let after = store
        .notifications_after("webhook", claimed[0].id, 10)
        .await
        .unwrap();
    assert_eq!(keys(&after), ["a2", "b1"]);
    assert!(store
        .notifications_after("email", 0, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn outbox_retries_when_due_and_leases_expire<S: Store>(store: &Arc<S>) {
    let c = store
        .enqueue_notifications(
            vec![note("k", "ops", "g", "firing", &[], T0)],
            Some(claim("n1", T0)),
        )
        .await
        .unwrap();
    let id = c[0].id;
    store
        .record_deliveries(vec![outcome(
            id,
            "n1",
            status::RETRYING,
            T0 + 10,
            Some(T0 + 1_000),
        )])
        .await
        .unwrap();
    assert_eq!(
        store.next_notification_due().await.unwrap(),
        Some(T0 + 1_000)
    );
    assert!(store
        .claim_notifications(claim("n1", T0 + 999), 10)
        .await
        .unwrap()
        .is_empty());
    // The receiver answered again: its backlog is due at once (another receiver's is not).
    assert_eq!(
        store
            .retry_channel_now("elsewhere", 0, T0 + 20)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.retry_channel_now("ops", 0, T0 + 20).await.unwrap(), 1);
    assert_eq!(store.next_notification_due().await.unwrap(), Some(T0 + 20));
    assert!(store
        .claim_notifications(claim("n1", T0 + 19), 10)
        .await
        .unwrap()
        .is_empty());
    let again = store
        .claim_notifications(claim("n1", T0 + 1_000), 10)
        .await
        .unwrap();
    assert_eq!((again[0].id, again[0].attempts), (id, 2));
    // n1 vanishes: after its lease another node takes the row, and n1's late outcome is ignored.
    assert!(store
        .claim_notifications(claim("n2", T0 + 1_000 + 59_999), 10)
        .await
        .unwrap()
        .is_empty());
    let taken = store
        .claim_notifications(claim("n2", T0 + 61_000), 10)
        .await
        .unwrap();
    assert_eq!((taken[0].id, taken[0].attempts), (id, 3));
    store
        .record_deliveries(vec![outcome(id, "n1", status::FAILED, T0 + 61_001, None)])
        .await
        .unwrap();
    store
        .record_deliveries(vec![outcome(id, "n2", status::SENT, T0 + 61_002, None)])
        .await
        .unwrap();
    let t1 = T0 + 100_000;
    // A wait the receiver asked for (Retry-After) is not cut short.
    let c2 = store
        .enqueue_notifications(
            vec![note("held", "ops", "g-held", "firing", &[], t1)],
            Some(claim("n1", t1)),
        )
        .await
        .unwrap();
    let mut held = outcome(c2[0].id, "n1", status::RETRYING, t1 + 10, Some(t1 + 5_000));
    held.held = true;
    store.record_deliveries(vec![held]).await.unwrap();
    assert_eq!(store.retry_channel_now("ops", 0, t1 + 30).await.unwrap(), 0);
    let early = store
        .claim_notifications(claim("n9", t1 + 4_999), 10)
        .await
        .unwrap();
    assert!(early.iter().all(|r| r.id != c2[0].id));
    let late = store
        .claim_notifications(claim("n9", t1 + 5_000), 10)
        .await
        .unwrap();
    assert!(late.iter().any(|r| r.id == c2[0].id));
    store
        .record_deliveries(vec![outcome(
            c2[0].id,
            "n9",
            status::SENT,
            t1 + 5_001,
            None,
        )])
        .await
        .unwrap();
    let recs = store.alert_notifications(0, 10).await.unwrap();
    assert!(recs.is_empty(), "no alert was named");
    let counts = store.delivery_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].channel.as_str(),
            counts[0].status.as_str(),
            counts[0].count
        ),
        ("webhook", "sent", 2)
    );
    assert_eq!(store.next_notification_due().await.unwrap(), None);
}

pub async fn outbox_claims_are_released_and_limited<S: Store>(store: &Arc<S>) {
    let rows: Vec<_> = (0..5)
        .map(|i| note(&format!("k{i}"), "ops", &format!("g{i}"), "firing", &[], T0))
        .collect();
    assert!(
        store
            .enqueue_notifications(rows, None)
            .await
            .unwrap()
            .is_empty(),
        "no claim asked"
    );
    let two = store.claim_notifications(claim("n1", T0), 2).await.unwrap();
    assert_eq!(keys(&two), ["k0", "k1"]);
    assert_eq!(
        store
            .release_notification_claims("n1", T0 + 1)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .release_notification_claims("n1", T0 + 1)
            .await
            .unwrap(),
        0
    );
    let all = store
        .claim_notifications(claim("n1", T0 + 1), 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.iter().filter(|r| r.attempts == 2).count() == 2);
}

pub async fn outbox_log_tells_the_latest_per_group_and_open_alert<S: Store>(store: &Arc<S>) {
    store
        .apply_alert_changes(vec![
            insert(labelled(1, "A", "high", T0, &[])),
            insert(labelled(2, "B", "high", T0, &[])),
        ])
        .await
        .unwrap();
    let rows = vec![
        note("f1", "ops", "g", "firing", &[1, 2], T0 + 1),
        note("f1-slack", "ops", "g", "firing", &[1, 2], T0 + 1),
        note("r1", "ops", "g", "resolved", &[1], T0 + 2),
        note("p1", "pager", "h", "firing", &[2], T0 + 3),
    ];
    store.enqueue_notifications(rows, None).await.unwrap();
    let mut log = store.notification_log().await.unwrap();
    log.sort_by(|a, b| (&a.group_key, a.alert_id).cmp(&(&b.group_key, b.alert_id)));
    let seen: Vec<(&str, i64, &str, i64)> = log
        .iter()
        .map(|n| (n.group_key.as_str(), n.alert_id, n.kind.as_str(), n.at))
        .collect();
    assert_eq!(
        seen,
        [
            ("g", 1, "resolved", T0 + 2),
            ("g", 2, "firing", T0 + 1),
            ("h", 2, "firing", T0 + 3)
        ]
    );
    let of_two = store.alert_notifications(2, 10).await.unwrap();
    assert_eq!(
        of_two
            .iter()
            .map(|r| r.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        ["p1", "f1-slack", "f1"]
    );
    assert_eq!(store.alert_notifications(2, 1).await.unwrap().len(), 1);
    // A closed alert is out of the log; open_alerts has every other alert in full.
    store
        .apply_alert_changes(vec![
            transition(1, State::Active, State::Resolved, T0 + 5, "api", "fixed"),
            transition(
                1,
                State::Resolved,
                State::Closed,
                T0 + 6,
                "system",
                "closed",
            ),
        ])
        .await
        .unwrap();
    assert!(store
        .notification_log()
        .await
        .unwrap()
        .iter()
        .all(|n| n.alert_id == 2));
    let open = store.open_alerts().await.unwrap();
    assert_eq!(open.iter().map(|a| a.id).collect::<Vec<_>>(), [2]);
    assert_eq!(
        open[0].annotations.get("summary").map(String::as_str),
        Some("B fired")
    );
}

pub async fn outbox_rate_limit_holds_count_as_told_until_a_summary_folds_them<S: Store>(
    store: &Arc<S>,
) {
    store
        .apply_alert_changes(vec![
            insert(labelled(1, "A", "high", T0, &[])),
            insert(labelled(2, "B", "high", T0, &[])),
        ])
        .await
        .unwrap();
    let limited = |key: &str, group: &str, kind: &str, alerts: &[i64], at: i64| NewNotification {
        limited: true,
        ..note(key, "chat", group, kind, alerts, at)
    };
    let rows = vec![
        note("passed", "chat", "ga", "firing", &[1], T0),
        limited("held-b", "gb", "firing", &[2], T0 + 1),
        limited("held-a", "ga", "resolved", &[1], T0 + 2),
        limited("other", "gx", "firing", &[1], T0 + 3),
    ];
    let claimed = store
        .enqueue_notifications(rows, Some(claim("n1", T0 + 3)))
        .await
        .unwrap();
    assert_eq!(
        keys(&claimed),
        ["passed"],
        "what a limit holds is never claimed"
    );
    let other = NewNotification {
        receiver: "pager".to_owned(),
        ..limited("pager-held", "gp", "firing", &[2], T0 + 4)
    };
    store
        .enqueue_notifications(vec![other], None)
        .await
        .unwrap();
    assert_eq!(
        keys(&store.limited_notifications().await.unwrap()),
        ["held-b", "held-a", "other", "pager-held"]
    );
    let mut log = store.notification_log().await.unwrap();
    log.sort_by(|a, b| (&a.group_key, a.alert_id).cmp(&(&b.group_key, b.alert_id)));
    let told: Vec<(&str, i64, &str)> = log
        .iter()
        .map(|n| (n.group_key.as_str(), n.alert_id, n.kind.as_str()))
        .collect();
    assert_eq!(
        told,
        [
            ("ga", 1, "resolved"),
            ("gb", 2, "firing"),
            ("gp", 2, "firing"),
            ("gx", 1, "firing")
        ],
        "held counts as told, in its own group"
    );
    // The firing summary of `chat` folds chat's firing holds, nothing of another kind or
    // receiver; the log still tells them in their own groups.
    let summary = NewNotification {
        summary: true,
        ..note(
            "summary",
            "chat",
            "chat:rate-limited",
            "firing",
            &[1, 2],
            T0 + 10,
        )
    };
    store
        .enqueue_notifications(vec![summary], None)
        .await
        .unwrap();
    assert_eq!(
        keys(&store.limited_notifications().await.unwrap()),
        ["held-a", "pager-held"]
    );
    let log = store.notification_log().await.unwrap();
    assert!(log
        .iter()
        .any(|n| (n.group_key.as_str(), n.alert_id, n.kind.as_str()) == ("gb", 2, "firing")));
    let statuses: Vec<(String, String)> = store
        .alert_notifications(2, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.idempotency_key, r.status))
        .collect();
    assert!(
        statuses.contains(&("held-b".to_owned(), status::FOLDED.to_owned())),
        "{statuses:?}"
    );
    let counts = store.delivery_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .all(|c| c.status != status::LIMITED && c.status != status::FOLDED),
        "holds are not deliveries: {counts:?}"
    );
}

pub async fn outbox_retention_keeps_unfinished_rows_and_open_alerts<S: Store>(store: &Arc<S>) {
    store
        .apply_alert_changes(vec![insert(labelled(1, "A", "high", T0, &[]))])
        .await
        .unwrap();
    let rows = vec![
        note("done-free", "ops", "g1", "firing", &[], T0),
        note("done-open", "ops", "g2", "firing", &[1], T0),
        note("waiting", "ops", "g3", "firing", &[], T0),
    ];
    let c = store
        .enqueue_notifications(rows, Some(claim("n1", T0)))
        .await
        .unwrap();
    store
        .record_deliveries(vec![
            outcome(c[0].id, "n1", status::SENT, T0 + 1, None),
            outcome(c[1].id, "n1", status::DEAD, T0 + 1, None),
            outcome(c[2].id, "n1", status::RETRYING, T0 + 1, Some(T0 + 100)),
        ])
        .await
        .unwrap();
    assert_eq!(store.delete_notifications_before(T0 + 2).await.unwrap(), 1);
    let mut counts: Vec<(String, u64)> = store
        .delivery_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.status, c.count))
        .collect();
    counts.sort();
    assert_eq!(counts, [("dead".to_owned(), 1), ("retrying".to_owned(), 1)]);
}
