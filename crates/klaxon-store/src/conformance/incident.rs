//! Incidents: rows, members (one incident per alert, moved by a later write), timelines, the
//! atomicity of a commit that writes alerts and incidents together, and the reads.

use std::sync::Arc;

use serde_json::json;

use super::{insert, labelled};
use crate::{
    AlertChange, IncidentChange, IncidentQuery, IncidentRecord, IncidentState, Store, StoreError,
};

const T0: i64 = 1_700_000_000_000;

fn record(id: i64, state: IncidentState, priority: &str, owner: Option<&str>) -> IncidentRecord {
    IncidentRecord {
        id,
        title: format!("incident {id}"),
        priority: priority.to_owned(),
        state,
        owner: owner.map(str::to_owned),
        opened_at: T0 + id,
        updated_at: T0 + id,
        resolved_at: None,
        confidence: None,
        priority_by: None,
    }
}

fn put(r: IncidentRecord) -> AlertChange {
    AlertChange::Incident(IncidentChange::Put(r))
}

fn member(alert_id: i64, incident: Option<i64>, link: Option<serde_json::Value>) -> AlertChange {
    AlertChange::Incident(IncidentChange::Member {
        alert_id,
        incident_id: incident,
        at: T0 + alert_id,
        link,
    })
}

fn note(incident_id: i64, kind: &str, detail: serde_json::Value) -> AlertChange {
    AlertChange::Incident(IncidentChange::Timeline {
        incident_id,
        at: T0,
        actor: "alice".to_owned(),
        kind: kind.to_owned(),
        detail,
    })
}

pub async fn incidents_keep_members_links_and_timelines<S: Store>(store: &Arc<S>) {
    assert_eq!(store.max_incident_id().await.unwrap(), 0);
    let link = json!({"to": 1, "confidence": 0.9, "evidence": {"topology": "same pod"}});
    store
        .apply_alert_changes(vec![
            insert(labelled(1, "DbDown", "critical", T0, &[("service", "db")])),
            insert(labelled(
                2,
                "ApiErrors",
                "high",
                T0 + 1,
                &[("service", "api")],
            )),
            put(record(7, IncidentState::Open, "critical", None)),
            member(1, Some(7), None),
            member(2, Some(7), Some(link.clone())),
            note(7, "opened", json!({"alert": 1})),
            note(7, "joined", json!({"alert": 2})),
        ])
        .await
        .unwrap();
    assert_eq!(store.max_incident_id().await.unwrap(), 7);
    let d = store.incident_detail(7, 100).await.unwrap();
    assert_eq!(d.incident, record(7, IncidentState::Open, "critical", None));
    let members: Vec<(i64, Option<serde_json::Value>)> = d
        .members
        .iter()
        .map(|m| (m.alert_id, m.link.clone()))
        .collect();
    assert_eq!(members, vec![(1, None), (2, Some(link))]);
    let kinds: Vec<&str> = d.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "joined"]);
    assert_eq!(d.timeline[0].actor, "alice");
    // The newest entries when fewer are asked for.
    let d = store.incident_detail(7, 1).await.unwrap();
    assert_eq!(d.timeline.len(), 1);
    assert_eq!(d.timeline[0].kind, "joined");

    // A later write moves an alert; an alert is in one incident at most.
    let mut moved = record(8, IncidentState::Open, "high", None);
    moved.title = "split".to_owned();
    store
        .apply_alert_changes(vec![put(moved), member(2, Some(8), None)])
        .await
        .unwrap();
    assert_eq!(
        store
            .incident_of_alert(2)
            .await
            .unwrap()
            .unwrap()
            .incident_id,
        8
    );
    assert_eq!(store.incident_detail(7, 10).await.unwrap().members.len(), 1);
    assert_eq!(
        store.incident_sizes(vec![8, 7, 99]).await.unwrap(),
        [(7, 1), (8, 1)],
        "sizes by incident; one with no alerts is left out"
    );
    assert_eq!(store.incident_sizes(Vec::new()).await.unwrap(), []);
    store
        .apply_alert_changes(vec![member(2, None, None)])
        .await
        .unwrap();
    assert_eq!(store.incident_of_alert(2).await.unwrap(), None);

    // The state changes in place.
    let mut resolved = record(7, IncidentState::Resolved, "critical", Some("bob"));
    resolved.resolved_at = Some(T0 + 100);
    resolved.updated_at = T0 + 100;
    resolved.priority_by = Some("bob".to_owned());
    store
        .apply_alert_changes(vec![put(resolved.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.incident_detail(7, 0).await.unwrap().incident,
        resolved
    );

    let all = store.incident_timeline(0, 100).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(store.latest_timeline_id().await.unwrap(), all[1].id);
    assert!(store
        .incident_timeline(all[1].id, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.incident_timeline(all[0].id, 100).await.unwrap(),
        all[1..]
    );
}

pub async fn an_incident_is_written_with_its_alerts_or_not_at_all<S: Store>(store: &Arc<S>) {
    // The membership names an alert that does not exist: nothing of the request is kept.
    let err = store
        .apply_alert_changes(vec![
            insert(labelled(1, "DbDown", "critical", T0, &[])),
            put(record(1, IncidentState::Open, "critical", None)),
            member(1, Some(1), None),
            member(99, Some(1), None),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(matches!(
        store.incident_detail(1, 10).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_alert(1).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.max_incident_id().await.unwrap(), 0);
}

pub async fn incidents_list_by_filters_and_cursor<S: Store>(store: &Arc<S>) {
    use IncidentState::*;
    let rows = [
        (1, Open, "high", None),
        (2, Investigating, "critical", Some("alice")),
        (3, Resolved, "high", Some("alice")),
        (4, Closed, "low", None),
        (5, Reopened, "critical", None),
    ];
    let mut changes: Vec<AlertChange> = rows
        .iter()
        .map(|&(id, s, p, o)| put(record(id, s, p, o)))
        .collect();
    changes.push(insert(labelled(1, "X", "high", T0, &[])));
    changes.push(member(1, Some(5), None));
    store.apply_alert_changes(changes).await.unwrap();
    let ids = |v: Vec<IncidentRecord>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let q = |f: fn(&mut IncidentQuery)| {
        let mut q = IncidentQuery {
            limit: 100,
            ..IncidentQuery::default()
        };
        f(&mut q);
        q
    };
    assert_eq!(
        ids(store.list_incidents(q(|_| {})).await.unwrap()),
        [5, 4, 3, 2, 1]
    );
    let by_state = q(|q| q.states = vec![Open, Reopened]);
    assert_eq!(ids(store.list_incidents(by_state).await.unwrap()), [5, 1]);
    let by_priority = q(|q| q.priority = Some("high".into()));
    assert_eq!(
        ids(store.list_incidents(by_priority).await.unwrap()),
        [3, 1]
    );
    let by_owner = q(|q| {
        q.owner = Some("alice".into());
        q.states = vec![Investigating];
    });
    assert_eq!(ids(store.list_incidents(by_owner).await.unwrap()), [2]);
    let page = q(|q| {
        q.before_id = Some(4);
        q.limit = 2;
    });
    assert_eq!(ids(store.list_incidents(page).await.unwrap()), [3, 2]);

    let open = store.load_open_incidents().await.unwrap();
    let open_ids: Vec<i64> = open.iter().map(|(i, _)| i.id).collect();
    assert_eq!(open_ids, [1, 2, 3, 5]);
    assert_eq!(open[3].1.len(), 1);
    assert_eq!(open[3].1[0].alert_id, 1);
}
