//! Escalation policies: they round-trip with the names they hold, names are unique, each user,
//! team and schedule a policy names exists and is not deleted while named, declared policies
//! refuse every change but a new declaration, and a change commits with its audit row or not
//! at all.

use std::sync::Arc;

use crate::{
    AuditEntry, AuditQuery, Origin, PeopleChange, PolicyRecord, ScheduleRecord, Store, StoreError,
    TeamRecord, UserRecord,
};

fn user(name: &str) -> UserRecord {
    UserRecord {
        name: name.to_owned(),
        display_name: None,
        email: None,
        time_zone: "UTC".to_owned(),
        contacts: vec![],
        origin: Origin::Api,
        created_at: 1,
        updated_at: 1,
    }
}

fn policy(name: &str, names: &[&str], at: i64) -> PolicyRecord {
    PolicyRecord {
        name: name.to_owned(),
        definition: format!(r#"{{"levels":[{{"notify":{names:?}}}]}}"#),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        origin: Origin::Api,
        created_at: at,
        updated_at: at,
    }
}

fn audit(at: i64, action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at,
        actor: "root".to_owned(),
        role: "admin".to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: None,
    }
}

async fn change<S: Store>(store: &Arc<S>, c: PeopleChange) -> Result<(), StoreError> {
    store.change_people(c, vec![]).await
}

async fn people<S: Store>(store: &Arc<S>) {
    for n in ["alice", "bob", "dora"] {
        change(store, PeopleChange::CreateUser(user(n)))
            .await
            .unwrap();
    }
    let team = TeamRecord {
        name: "db".to_owned(),
        members: vec!["alice".to_owned()],
        origin: Origin::Api,
        created_at: 1,
        updated_at: 1,
    };
    change(store, PeopleChange::CreateTeam(team)).await.unwrap();
    let schedule = ScheduleRecord {
        name: "primary".to_owned(),
        definition: r#"{"time_zone":"UTC"}"#.to_owned(),
        users: vec!["bob".to_owned()],
        overrides: vec![],
        origin: Origin::Api,
        created_at: 1,
        updated_at: 1,
    };
    change(store, PeopleChange::CreateSchedule(schedule))
        .await
        .unwrap();
}

pub async fn policies_round_trip_are_unique_and_keep_what_they_name<S: Store>(store: &Arc<S>) {
    people(store).await;
    let p = policy(
        "critical",
        &["schedule:primary", "team:db", "user:dora"],
        10,
    );
    change(store, PeopleChange::CreatePolicy(p.clone()))
        .await
        .unwrap();
    assert_eq!(store.get_policy("critical").await.unwrap(), Some(p.clone()));
    assert_eq!(store.get_policy("other").await.unwrap(), None);
    let again = change(
        store,
        PeopleChange::CreatePolicy(policy("critical", &[], 11)),
    )
    .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    change(store, PeopleChange::CreatePolicy(policy("a-low", &[], 12)))
        .await
        .unwrap();
    let names: Vec<String> = (store.list_policies().await.unwrap().into_iter())
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["a-low", "critical"]);

    // Each name must exist.
    let unknown = change(
        store,
        PeopleChange::CreatePolicy(policy("x", &["user:carol"], 13)),
    )
    .await;
    assert!(
        matches!(&unknown, Err(StoreError::Conflict(m)) if m.contains("carol")),
        "{unknown:?}"
    );
    assert_eq!(store.get_policy("x").await.unwrap(), None);

    // What a policy names is not deleted while named.
    for (c, what) in [
        (PeopleChange::DeleteUser("dora".to_owned()), "user \"dora\""),
        (PeopleChange::DeleteTeam("db".to_owned()), "team \"db\""),
        (
            PeopleChange::DeleteSchedule("primary".to_owned()),
            "schedule \"primary\"",
        ),
    ] {
        let r = change(store, c.clone()).await;
        assert!(
            matches!(&r, Err(StoreError::Conflict(m)) if m.contains(what) && m.contains("critical")),
            "{c:?}: {r:?}"
        );
    }

    // An update replaces the definition and the names, and keeps `created_at`.
    let changed = policy("critical", &["user:bob"], 20);
    change(store, PeopleChange::UpdatePolicy(changed.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.get_policy("critical").await.unwrap(),
        Some(PolicyRecord {
            created_at: 10,
            ..changed
        })
    );
    change(store, PeopleChange::DeleteTeam("db".to_owned()))
        .await
        .unwrap();
    change(store, PeopleChange::DeleteUser("dora".to_owned()))
        .await
        .unwrap();
    let missing = change(store, PeopleChange::UpdatePolicy(policy("nope", &[], 1))).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    change(store, PeopleChange::DeletePolicy("critical".to_owned()))
        .await
        .unwrap();
    assert_eq!(store.get_policy("critical").await.unwrap(), None);
    change(store, PeopleChange::DeleteUser("bob".to_owned()))
        .await
        .unwrap_err(); // still on the schedule
    change(store, PeopleChange::DeleteSchedule("primary".to_owned()))
        .await
        .unwrap();
    let gone = change(store, PeopleChange::DeletePolicy("critical".to_owned())).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
}

pub async fn declared_policies_are_read_only_until_declared_again<S: Store>(store: &Arc<S>) {
    people(store).await;
    change(
        store,
        PeopleChange::CreatePolicy(policy("critical", &[], 1)),
    )
    .await
    .unwrap();
    change(
        store,
        PeopleChange::DeclarePolicies(vec![
            policy("critical", &["user:alice"], 5),
            policy("low", &[], 5),
        ]),
    )
    .await
    .unwrap();
    let p = store.get_policy("critical").await.unwrap().unwrap();
    assert_eq!((p.origin, p.created_at), (Origin::Config, 1));
    assert_eq!(p.names, ["user:alice"]);
    for c in [
        PeopleChange::UpdatePolicy(policy("critical", &[], 6)),
        PeopleChange::DeletePolicy("critical".to_owned()),
    ] {
        let r = change(store, c.clone()).await;
        assert!(
            matches!(&r, Err(StoreError::Conflict(m)) if m.contains("configuration file")),
            "{c:?}: {r:?}"
        );
    }
    let twice = change(store, PeopleChange::CreatePolicy(policy("low", &[], 6))).await;
    assert!(
        matches!(twice, Err(StoreError::AlreadyExists(_))),
        "{twice:?}"
    );

    // Left out of the next declaration: kept, and editable again.
    change(
        store,
        PeopleChange::DeclarePolicies(vec![policy("low", &[], 7)]),
    )
    .await
    .unwrap();
    assert_eq!(
        store.get_policy("critical").await.unwrap().unwrap().origin,
        Origin::Api
    );
    change(store, PeopleChange::DeletePolicy("critical".to_owned()))
        .await
        .unwrap();
    let bad = change(
        store,
        PeopleChange::DeclarePolicies(vec![policy("web", &["team:web"], 8)]),
    )
    .await;
    assert!(matches!(bad, Err(StoreError::Conflict(_))), "{bad:?}");
    assert_eq!(
        store.get_policy("low").await.unwrap().unwrap().origin,
        Origin::Config,
        "a failed declaration changes nothing"
    );
}

pub async fn a_policy_change_commits_with_its_audit_row_or_not_at_all<S: Store>(store: &Arc<S>) {
    people(store).await;
    store
        .change_people(
            PeopleChange::CreatePolicy(policy("critical", &["user:alice"], 1)),
            vec![audit(
                1,
                "escalation_policy.create",
                "escalation_policy:critical",
            )],
        )
        .await
        .unwrap();
    let failed = store
        .change_people(
            PeopleChange::CreatePolicy(policy("critical", &[], 2)),
            vec![audit(
                2,
                "escalation_policy.create",
                "escalation_policy:critical",
            )],
        )
        .await;
    assert!(matches!(failed, Err(StoreError::AlreadyExists(_))));
    let rows = store
        .audit_log(AuditQuery {
            action: Some("escalation_policy.create".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].entry.at, rows[0].entry.target.as_str()),
        (1, "escalation_policy:critical")
    );
}
