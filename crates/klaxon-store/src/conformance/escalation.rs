//! Escalations, pages and SLA breaches: written with the alert changes of their commit, read
//! back at start while they have not ended, and each page or breach (with its outbox rows)
//! written once however often it is written again.

use std::sync::Arc;

use klaxon_engine::lifecycle::State;

use super::{insert, labelled, transition};
use crate::{
    AlertChange, BreachRecord, Claim, EscalationChange, EscalationRecord, NewNotification,
    PageRecord, Store,
};

const T0: i64 = 1_700_000_000_000;

fn record(subject: &str, state: &str, next_due: Option<i64>, ended: bool) -> EscalationRecord {
    EscalationRecord {
        subject: subject.to_owned(),
        policy: "critical".to_owned(),
        state: state.to_owned(),
        next_due,
        started_at: T0,
        ended,
        acknowledged_at: None,
    }
}

fn page(subject: &str, key: &str, level: i64, at: i64) -> AlertChange {
    AlertChange::Escalation(EscalationChange::Page {
        page: PageRecord {
            subject: subject.to_owned(),
            key: key.to_owned(),
            policy: "critical".to_owned(),
            level,
            round: 0,
            cycle: 0,
            targets: vec!["user:bob".to_owned()],
            reason: "nobody acknowledged within 5m".to_owned(),
            actor: None,
            at,
        },
        notifications: vec![NewNotification {
            idempotency_key: format!("escalation:{subject}:{key}:user:bob:0"),
            receiver: "user:bob".to_owned(),
            channel: "webhook".to_owned(),
            channel_index: 0,
            group_key: format!("escalation:{subject}"),
            kind: "escalated".to_owned(),
            payload: "{}".to_owned(),
            alert_ids: vec![1],
            created_at: at,
            limited: false,
            summary: false,
        }],
    })
}

fn put(r: EscalationRecord) -> AlertChange {
    AlertChange::Escalation(EscalationChange::Put(r))
}

async fn due_rows<S: Store>(store: &Arc<S>) -> usize {
    let c = Claim {
        owner: "w".to_owned(),
        now: T0 + 86_400_000,
        until: T0 + 86_400_000 + 60_000,
    };
    store.claim_notifications(c, 100).await.unwrap().len()
}

pub async fn escalation_pages_and_breaches_are_written_once<S: Store>(store: &Arc<S>) {
    let a = labelled(1, "DiskFull", "critical", T0, &[("team", "db")]);
    store
        .apply_alert_changes(vec![
            insert(a),
            put(record(
                "alert:1",
                "{\"level\":0}",
                Some(T0 + 300_000),
                false,
            )),
            page("alert:1", "1.0.0.0", 0, T0),
        ])
        .await
        .unwrap();
    // The same page again (found again after a restart): nothing new, no second outbox row.
    store
        .apply_alert_changes(vec![
            page("alert:1", "1.0.0.0", 0, T0),
            put(record(
                "alert:1",
                "{\"level\":1}",
                Some(T0 + 600_000),
                false,
            )),
        ])
        .await
        .unwrap();
    assert_eq!(due_rows(store).await, 1, "one row for one page");
    let open = store.open_escalations().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, "{\"level\":1}", "the latest state");
    assert_eq!(open[0].next_due, Some(T0 + 600_000));
    let pages = store.escalation_pages(T0, T0 + 1, 10).await.unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].targets, ["user:bob"]);

    // A breach: once.
    let breach = || {
        AlertChange::Escalation(EscalationChange::Breach {
            breach: BreachRecord {
                subject: "alert:1".to_owned(),
                what: "acknowledge".to_owned(),
                severity: "critical".to_owned(),
                team: Some("db".to_owned()),
                target_ms: 300_000,
                at: T0 + 300_000,
            },
            notifications: Vec::new(),
        })
    };
    store.apply_alert_changes(vec![breach()]).await.unwrap();
    store.apply_alert_changes(vec![breach()]).await.unwrap();
    let b = store.sla_breaches(T0, T0 + 86_400_000, 10).await.unwrap();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(
        store.open_sla_breaches().await.unwrap(),
        [("alert:1".to_owned(), "acknowledge".to_owned())]
    );
    let sla = store.sla_alerts(T0, T0 + 1, 10).await.unwrap();
    assert_eq!(sla.len(), 1);
    assert_eq!(sla[0].team.as_deref(), Some("db"));

    // Ended: not loaded at start, still counted.
    store
        .apply_alert_changes(vec![
            transition(
                1,
                State::Active,
                State::Resolved,
                T0 + 700_000,
                "api",
                "fixed",
            ),
            put(EscalationRecord {
                acknowledged_at: Some(T0 + 200_000),
                ..record("alert:1", "{}", None, true)
            }),
        ])
        .await
        .unwrap();
    assert!(store.open_escalations().await.unwrap().is_empty());
    let started = store.escalations_started(T0, T0 + 1, 10).await.unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].acknowledged_at, Some(T0 + 200_000));
}

pub async fn an_escalation_is_written_with_its_alert_change_or_not_at_all<S: Store>(
    store: &Arc<S>,
) {
    // The transition fails (no alert 7): the page and its row go with it.
    let r = store
        .apply_alert_changes(vec![
            transition(7, State::Active, State::Acknowledged, T0, "api", "mine"),
            put(record("alert:7", "{}", None, false)),
            page("alert:7", "1.0.0.0", 0, T0),
        ])
        .await;
    assert!(r.is_err());
    assert!(store.open_escalations().await.unwrap().is_empty());
    assert!(store
        .escalation_pages(T0, T0 + 1, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(due_rows(store).await, 0);
}
