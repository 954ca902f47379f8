//! Alerts: round trip, ids, listing, the audit trail, and writes under contention.

use std::sync::Arc;

use klaxon_engine::lifecycle::State;
use klaxon_engine::Severity;

use super::{alert, ids, new, query};
use crate::{AlertEvent, AlertQuery, Role, Store, StoreError};

pub async fn alert_round_trip_keeps_every_field<S: Store>(store: &Arc<S>) {
    let mut bare = alert("R-1", "p-1", Severity::Low, 1);
    bare.rule_set_version = None;
    bare.context = None;
    bare.value = None;
    bare.limit = None;
    let mut full = alert("R-2", "p-2", Severity::Critical, 2);
    full.context = Some("S2".into());
    full.value = Some(-1234.5678);
    full.limit = Some(0.25);
    full.action_count = u64::from(u32::MAX) + 7;
    let mut float_version = alert("R-3", "p-3", Severity::Info, 3);
    float_version.rule_set_version = serde_json::Number::from_f64(2.5);
    let sources = [bare, full, float_version];
    let stored = store
        .insert_alerts(sources.iter().cloned().map(|a| new(a, 42)).collect())
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    for (s, a) in stored.iter().zip(&sources) {
        assert_eq!(s.fingerprint, a.fingerprint_hex());
        assert_eq!(s.state, State::Active);
        assert_eq!(s.group, &*a.group);
        assert_eq!(s.rule_set, &*a.rule_set);
        assert_eq!(s.rule_set_version, a.rule_set_version);
        assert_eq!(s.rule_id, &*a.rule_id);
        assert_eq!(s.trigger, a.trigger.as_str());
        assert_eq!(s.operator, &*a.operator);
        assert_eq!(s.severity, a.severity.as_str());
        assert_eq!(s.handler, &*a.handler);
        assert_eq!(s.process, &*a.process);
        assert_eq!(s.process_name, &*a.process_name);
        assert_eq!(s.scope, &*a.scope);
        assert_eq!(s.action, &*a.action);
        assert_eq!(s.context.as_deref(), a.context.as_deref());
        assert_eq!(s.action_count, a.action_count);
        assert_eq!(s.value, a.value);
        assert_eq!(s.limit, a.limit);
        assert_eq!(s.signal_ts, a.signal_ts);
        assert_eq!(s.engine_ts, a.engine_ts);
        assert_eq!(s.message, a.message);
        assert_eq!(s.created_at, 42);
        assert_eq!(
            &store.get_alert(s.id).await.unwrap(),
            s,
            "read back differs"
        );
    }
    assert_eq!(stored[0].rule_set_version, None);
    assert_eq!(stored[0].context, None);
    let version = stored[2].rule_set_version.as_ref().unwrap();
    assert_eq!(version.as_f64(), Some(2.5));
    assert!(stored[1].rule_set_version.as_ref().unwrap().is_i64());
}

pub async fn alert_ids_ascend_in_insert_order<S: Store>(store: &Arc<S>) {
    let mut all = Vec::new();
    for batch in 0..3 {
        let alerts = (0..4)
            .map(|i| new(alert("R", "p", Severity::High, batch * 4 + i), 1))
            .collect();
        let stored = store.insert_alerts(alerts).await.unwrap();
        let messages: Vec<_> = stored.iter().map(|a| a.message.clone()).collect();
        let expected: Vec<_> = (0..4)
            .map(|i| format!("alert number {}", batch * 4 + i))
            .collect();
        assert_eq!(messages, expected, "returned in the given order");
        all.extend(ids(&stored));
    }
    assert!(all.windows(2).all(|w| w[0] < w[1]), "ids ascend: {all:?}");
}

pub async fn missing_alert_is_not_found<S: Store>(store: &Arc<S>) {
    let err = store.get_alert(12345).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn list_alerts_pages_and_filters<S: Store>(store: &Arc<S>) {
    let alerts = (0..10)
        .map(|i| {
            let rule = if i % 2 == 0 { "EVEN" } else { "ODD" };
            let process = if i < 5 { "first" } else { "second" };
            let severity = if i % 3 == 0 {
                Severity::Critical
            } else {
                Severity::Low
            };
            new(alert(rule, process, severity, i), i)
        })
        .collect();
    let all = ids(&store.insert_alerts(alerts).await.unwrap());
    let list = |q: AlertQuery| async move { ids(&store.list_alerts(q).await.unwrap()) };
    let rev = |v: &[i64]| v.iter().rev().copied().collect::<Vec<_>>();

    // Neither bound: newest first.
    assert_eq!(list(query(100)).await, rev(&all));
    assert_eq!(list(query(3)).await, rev(&all[7..]));
    // Ascending after an id, for followers.
    let after = AlertQuery {
        after_id: Some(all[3]),
        ..query(4)
    };
    assert_eq!(list(after).await, all[4..8]);
    let after_last = AlertQuery {
        after_id: Some(all[9]),
        ..query(10)
    };
    assert!(list(after_last).await.is_empty());
    // Descending before an id, for paging back.
    let before = AlertQuery {
        before_id: Some(all[5]),
        ..query(3)
    };
    assert_eq!(list(before).await, [all[4], all[3], all[2]]);
    // after_id wins over before_id.
    let both = AlertQuery {
        after_id: Some(all[7]),
        before_id: Some(all[1]),
        ..query(10)
    };
    assert_eq!(list(both).await, all[8..]);
    // Filters, alone and together.
    let even = AlertQuery {
        rule_id: Some("EVEN".into()),
        ..query(100)
    };
    assert_eq!(
        list(even).await,
        rev(&[all[0], all[2], all[4], all[6], all[8]])
    );
    let second = AlertQuery {
        process: Some("second".into()),
        ..query(100)
    };
    assert_eq!(list(second).await, rev(&all[5..]));
    let critical = AlertQuery {
        severity: Some("critical".into()),
        ..query(100)
    };
    assert_eq!(list(critical).await, [all[9], all[6], all[3], all[0]]);
    let combined = AlertQuery {
        after_id: Some(all[0]),
        rule_id: Some("EVEN".into()),
        process: Some("first".into()),
        ..query(100)
    };
    assert_eq!(list(combined).await, [all[2], all[4]]);
    let nothing = AlertQuery {
        rule_id: Some("NONE".into()),
        ..query(100)
    };
    assert!(list(nothing).await.is_empty());
    assert!(list(query(0)).await.is_empty(), "limit 0 lists nothing");
}

pub async fn list_alerts_caps_the_limit<S: Store>(store: &Arc<S>) {
    let alerts = (0..10_050)
        .map(|i| new(alert("R", "p", Severity::Low, i), i))
        .collect();
    store.insert_alerts(alerts).await.unwrap();
    let listed = store.list_alerts(query(usize::MAX)).await.unwrap();
    assert_eq!(listed.len(), 10_000);
}

pub async fn every_alert_gets_a_created_event<S: Store>(store: &Arc<S>) {
    let stored = store
        .insert_alerts(vec![
            new(alert("R", "p", Severity::Low, 1), 1_000),
            new(alert("R", "p", Severity::Low, 2), 2_000),
        ])
        .await
        .unwrap();
    for a in &stored {
        let events = store.alert_detail(a.id, 10).await.unwrap().events;
        assert_eq!(events.len(), 1);
        let expected = AlertEvent {
            id: events[0].id,
            alert_id: a.id,
            at: a.created_at,
            actor: "engine".into(),
            from: None,
            to: State::Active,
            reason: "created".into(),
        };
        assert_eq!(events, [expected]);
    }
}

pub async fn concurrent_inserts_all_succeed_with_distinct_ids<S: Store>(store: &Arc<S>) {
    let tasks: Vec<_> = (0..200)
        .map(|t| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let alerts = (0..=t % 3)
                    .map(|i| new(alert("R", &format!("task-{t}"), Severity::Low, i), t))
                    .collect();
                store.insert_alerts(alerts).await
            })
        })
        .collect();
    let mut all = Vec::new();
    for (t, task) in tasks.into_iter().enumerate() {
        let stored = task.await.unwrap().unwrap();
        assert_eq!(stored.len(), t % 3 + 1);
        assert!(stored.iter().all(|a| a.process == format!("task-{t}")));
        all.extend(ids(&stored));
    }
    let expected: usize = (0..200).map(|t| t % 3 + 1).sum();
    assert_eq!(all.len(), expected);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), expected, "ids are distinct");
    assert_eq!(
        store.list_alerts(query(10_000)).await.unwrap().len(),
        expected
    );
}

pub async fn a_failing_write_fails_only_itself<S: Store>(store: &Arc<S>) {
    // Many writes at once share batches; the duplicate tokens among them must fail alone.
    let tokens: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .insert_token("shared", Role::Viewer, &format!("h-{i}"), i)
                    .await
            })
        })
        .collect();
    let alerts: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .insert_alerts(vec![new(alert("R", "p", Severity::Low, i), i)])
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tokens {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one token named `shared`");
    for task in alerts {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    assert_eq!(store.list_alerts(query(100)).await.unwrap().len(), 50);
}
