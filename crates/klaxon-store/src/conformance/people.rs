//! Users, teams, schedules and the audit log: names are unique, updates keep `created_at`,
//! teams keep their members' order and name only users, schedules name only users and their
//! overrides never overlap, a user in a team, on a schedule or owning a token in force is not
//! deleted, declared objects refuse every change but a new declaration, a failed change writes
//! no audit row, and the audit log filters and pages newest first.

use std::sync::Arc;

use crate::{
    AuditEntry, AuditQuery, Contact, NewToken, Origin, OverrideRecord, PeopleChange, Role,
    ScheduleRecord, Store, StoreError, TeamRecord, UserRecord,
};

fn user(name: &str, at: i64) -> UserRecord {
    UserRecord {
        name: name.to_owned(),
        display_name: Some(format!("{name} display")),
        email: Some(format!("{name}@example.com")),
        time_zone: "Europe/Berlin".to_owned(),
        contacts: vec![
            Contact::Email {
                to: format!("{name}@example.com"),
            },
            Contact::Slack {
                target: "#ops".to_owned(),
            },
            Contact::Webhook {
                url: "https://hooks.example.com/x".to_owned(),
            },
            Contact::Pagerduty {
                routing_key: "r0ut1ng".to_owned(),
            },
        ],
        origin: Origin::Api,
        created_at: at,
        updated_at: at,
    }
}

fn team(name: &str, members: &[&str], at: i64) -> TeamRecord {
    TeamRecord {
        name: name.to_owned(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        origin: Origin::Api,
        created_at: at,
        updated_at: at,
    }
}

fn audit(at: i64, actor: &str, action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.to_owned(),
        role: "admin".to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: None,
    }
}

async fn change<S: Store>(store: &Arc<S>, c: PeopleChange) -> Result<(), StoreError> {
    store.change_people(c, vec![]).await
}

pub async fn users_round_trip_are_unique_and_keep_created_at<S: Store>(store: &Arc<S>) {
    change(store, PeopleChange::CreateUser(user("bob", 10)))
        .await
        .unwrap();
    change(store, PeopleChange::CreateUser(user("alice", 11)))
        .await
        .unwrap();
    let again = change(store, PeopleChange::CreateUser(user("bob", 12))).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    assert_eq!(store.get_user("bob").await.unwrap(), Some(user("bob", 10)));
    assert_eq!(store.get_user("carol").await.unwrap(), None);
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    let changed = UserRecord {
        time_zone: "America/New_York".to_owned(),
        contacts: vec![],
        display_name: None,
        ..user("bob", 99)
    };
    change(store, PeopleChange::UpdateUser(changed.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.get_user("bob").await.unwrap(),
        Some(UserRecord {
            created_at: 10,
            ..changed
        })
    );
    let missing = change(store, PeopleChange::UpdateUser(user("carol", 1))).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn teams_keep_member_order_and_name_only_users<S: Store>(store: &Arc<S>) {
    for n in ["alice", "bob", "carol"] {
        change(store, PeopleChange::CreateUser(user(n, 1)))
            .await
            .unwrap();
    }
    change(
        store,
        PeopleChange::CreateTeam(team("db", &["carol", "alice"], 5)),
    )
    .await
    .unwrap();
    assert_eq!(
        store.get_team("db").await.unwrap(),
        Some(team("db", &["carol", "alice"], 5))
    );
    let ghost = change(
        store,
        PeopleChange::CreateTeam(team("web", &["alice", "zed"], 5)),
    )
    .await;
    assert!(
        matches!(&ghost, Err(StoreError::Conflict(m)) if m.contains("zed")),
        "{ghost:?}"
    );
    assert_eq!(store.get_team("web").await.unwrap(), None, "rolled back");
    let twice = change(store, PeopleChange::CreateTeam(team("db", &[], 6))).await;
    assert!(
        matches!(twice, Err(StoreError::AlreadyExists(_))),
        "{twice:?}"
    );

    change(store, PeopleChange::UpdateTeam(team("db", &["bob"], 9)))
        .await
        .unwrap();
    let db = store.get_team("db").await.unwrap().unwrap();
    assert_eq!(
        (db.members, db.created_at, db.updated_at),
        (vec!["bob".to_owned()], 5, 9)
    );

    let member = change(store, PeopleChange::DeleteUser("bob".to_owned())).await;
    assert!(
        matches!(&member, Err(StoreError::Conflict(m)) if m.contains("db")),
        "{member:?}"
    );
    change(store, PeopleChange::DeleteTeam("db".to_owned()))
        .await
        .unwrap();
    assert_eq!(store.list_teams().await.unwrap(), []);
    change(store, PeopleChange::DeleteUser("bob".to_owned()))
        .await
        .unwrap();
    assert_eq!(store.get_user("bob").await.unwrap(), None);
    let gone = change(store, PeopleChange::DeleteTeam("db".to_owned())).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
}

pub async fn a_user_owning_a_token_in_force_is_not_deleted<S: Store>(store: &Arc<S>) {
    change(store, PeopleChange::CreateUser(user("alice", 1)))
        .await
        .unwrap();
    store
        .insert_token("root", Role::Admin, "hash-root", 1)
        .await
        .unwrap();
    let t = store
        .create_token(NewToken {
            name: "alice-cli".to_owned(),
            role: Role::Responder,
            hash: "hash-a".to_owned(),
            created_at: 2,
            created_by: None,
            expires_at: None,
            user: Some("alice".to_owned()),
        })
        .await
        .unwrap();
    let refused = change(store, PeopleChange::DeleteUser("alice".to_owned())).await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("token")),
        "{refused:?}"
    );
    store.revoke_token(t.id, 3).await.unwrap();
    change(store, PeopleChange::DeleteUser("alice".to_owned()))
        .await
        .unwrap();
}

pub async fn declared_people_are_read_only_until_declared_again<S: Store>(store: &Arc<S>) {
    change(store, PeopleChange::CreateUser(user("bob", 1)))
        .await
        .unwrap();
    change(
        store,
        PeopleChange::Declare {
            users: vec![user("alice", 5), user("bob", 5)],
            teams: vec![team("db", &["alice", "bob"], 5)],
            schedules: vec![],
        },
    )
    .await
    .unwrap();
    let bob = store.get_user("bob").await.unwrap().unwrap();
    assert_eq!((bob.origin, bob.created_at), (Origin::Config, 1));
    assert_eq!(
        store.get_team("db").await.unwrap().unwrap().origin,
        Origin::Config
    );
    for c in [
        PeopleChange::UpdateUser(user("alice", 6)),
        PeopleChange::DeleteUser("alice".to_owned()),
        PeopleChange::UpdateTeam(team("db", &[], 6)),
        PeopleChange::DeleteTeam("db".to_owned()),
    ] {
        let r = change(store, c.clone()).await;
        assert!(
            matches!(&r, Err(StoreError::Conflict(m)) if m.contains("configuration file")),
            "{c:?}: {r:?}"
        );
    }
    let declared_twice = change(store, PeopleChange::CreateUser(user("alice", 6))).await;
    assert!(matches!(declared_twice, Err(StoreError::AlreadyExists(_))));

    // Left out of the next declaration: kept, and editable again.
    change(
        store,
        PeopleChange::Declare {
            users: vec![user("alice", 7)],
            teams: vec![],
            schedules: vec![],
        },
    )
    .await
    .unwrap();
    assert_eq!(
        store.get_user("bob").await.unwrap().unwrap().origin,
        Origin::Api
    );
    change(store, PeopleChange::DeleteTeam("db".to_owned()))
        .await
        .unwrap();
    let bad = change(
        store,
        PeopleChange::Declare {
            users: vec![],
            teams: vec![team("web", &["nobody"], 8)],
            schedules: vec![],
        },
    )
    .await;
    assert!(matches!(bad, Err(StoreError::Conflict(_))), "{bad:?}");
    assert_eq!(
        store.get_user("alice").await.unwrap().unwrap().origin,
        Origin::Config,
        "a failed declaration changes nothing"
    );
}

pub async fn audit_rows_commit_with_their_change_and_page_newest_first<S: Store>(store: &Arc<S>) {
    store
        .change_people(
            PeopleChange::CreateUser(user("alice", 1)),
            vec![audit(100, "root", "user.create", "user:alice")],
        )
        .await
        .unwrap();
    let failed = store
        .change_people(
            PeopleChange::CreateUser(user("alice", 2)),
            vec![audit(101, "root", "user.create", "user:alice")],
        )
        .await;
    assert!(failed.is_err());
    store
        .append_audit(vec![
            audit(200, "alice", "alert.acknowledge", "alert:1"),
            audit(300, "alice", "alert.resolve", "alert:1"),
            audit(400, "bob", "alert.acknowledge", "alert:2"),
        ])
        .await
        .unwrap();
    let all = |q: AuditQuery| async move {
        store
            .audit_log(q)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.entry.at, r.id))
            .collect::<Vec<_>>()
    };
    let every = all(AuditQuery {
        limit: 10,
        ..AuditQuery::default()
    })
    .await;
    let times: Vec<i64> = every.iter().map(|r| r.0).collect();
    assert_eq!(times, [400, 300, 200, 100], "the failed change left no row");

    let by = |actor: Option<&str>, action: Option<&str>, since, until| AuditQuery {
        actor: actor.map(str::to_owned),
        action: action.map(str::to_owned),
        since,
        until,
        before_id: None,
        limit: 10,
    };
    let times = |v: Vec<(i64, i64)>| v.into_iter().map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(
        times(all(by(Some("alice"), None, None, None)).await),
        [300, 200]
    );
    assert_eq!(
        times(all(by(None, Some("alert.acknowledge"), None, None)).await),
        [400, 200]
    );
    assert_eq!(
        times(all(by(Some("alice"), Some("alert.acknowledge"), None, None)).await),
        [200]
    );
    assert_eq!(
        times(all(by(None, None, Some(200), Some(400))).await),
        [300, 200]
    );

    let first = all(AuditQuery {
        limit: 3,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(times(first.clone()), [400, 300, 200]);
    let rest = all(AuditQuery {
        limit: 3,
        before_id: Some(first[2].1),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(times(rest), [100]);
}

fn schedule(name: &str, users: &[&str], at: i64) -> ScheduleRecord {
    ScheduleRecord {
        name: name.to_owned(),
        definition: format!(r#"{{"time_zone":"UTC","users":{users:?}}}"#),
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        overrides: Vec::new(),
        origin: Origin::Api,
        created_at: at,
        updated_at: at,
    }
}

fn cover(user: &str, start: i64, end: i64) -> OverrideRecord {
    OverrideRecord {
        id: 0,
        user: user.to_owned(),
        start,
        end,
        created_by: "root".to_owned(),
        created_at: 1,
    }
}

pub async fn schedules_name_only_users_and_their_overrides_never_overlap<S: Store>(store: &Arc<S>) {
    for u in ["alice", "bob"] {
        change(store, PeopleChange::CreateUser(user(u, 1)))
            .await
            .unwrap();
    }
    let missing = change(
        store,
        PeopleChange::CreateSchedule(schedule("db", &["alice", "nobody"], 2)),
    )
    .await;
    assert!(
        matches!(&missing, Err(StoreError::Conflict(m)) if m.contains("nobody")),
        "{missing:?}"
    );
    change(
        store,
        PeopleChange::CreateSchedule(schedule("db", &["alice"], 2)),
    )
    .await
    .unwrap();
    let twice = change(store, PeopleChange::CreateSchedule(schedule("db", &[], 3))).await;
    assert!(
        matches!(twice, Err(StoreError::AlreadyExists(_))),
        "{twice:?}"
    );

    let add = |o: OverrideRecord| PeopleChange::AddOverride {
        schedule: "db".to_owned(),
        over: o,
    };
    change(store, add(cover("bob", 100, 200))).await.unwrap();
    change(store, add(cover("alice", 200, 300)))
        .await
        .expect("touching overrides do not overlap");
    let clash = change(store, add(cover("alice", 150, 250))).await;
    assert!(
        matches!(&clash, Err(StoreError::Conflict(m)) if m.contains("overlaps")),
        "{clash:?}"
    );
    let nobody = change(store, add(cover("nobody", 400, 500))).await;
    assert!(matches!(nobody, Err(StoreError::Conflict(_))), "{nobody:?}");

    // Replacing the definition keeps the overrides and `created_at`.
    change(
        store,
        PeopleChange::UpdateSchedule(schedule("db", &["bob"], 9)),
    )
    .await
    .unwrap();
    let db = store.get_schedule("db").await.unwrap().unwrap();
    assert_eq!(
        (db.users.clone(), db.created_at, db.updated_at),
        (vec!["bob".to_owned()], 2, 9)
    );
    let spans: Vec<(&str, i64, i64)> = (db.overrides.iter())
        .map(|o| (o.user.as_str(), o.start, o.end))
        .collect();
    assert_eq!(spans, [("bob", 100, 200), ("alice", 200, 300)]);

    // A user named by a schedule or an override is not deleted.
    for u in ["alice", "bob"] {
        let r = change(store, PeopleChange::DeleteUser(u.to_owned())).await;
        assert!(
            matches!(&r, Err(StoreError::Conflict(m)) if m.contains("schedule")),
            "{u}: {r:?}"
        );
    }
    let first = db.overrides[0].id;
    change(
        store,
        PeopleChange::DeleteOverride {
            schedule: "db".to_owned(),
            id: first,
        },
    )
    .await
    .unwrap();
    let again = change(
        store,
        PeopleChange::DeleteOverride {
            schedule: "db".to_owned(),
            id: first,
        },
    )
    .await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");

    // Declared: read-only but for overrides, until declared no more.
    change(
        store,
        PeopleChange::Declare {
            users: vec![],
            teams: vec![],
            schedules: vec![schedule("db", &["alice"], 10)],
        },
    )
    .await
    .unwrap();
    change(store, add(cover("bob", 1000, 2000)))
        .await
        .expect("someone covers a shift of a declared schedule");
    let db = store.get_schedule("db").await.unwrap().unwrap();
    assert_eq!((db.origin, db.overrides.len()), (Origin::Config, 2));
    for c in [
        PeopleChange::UpdateSchedule(schedule("db", &[], 11)),
        PeopleChange::DeleteSchedule("db".to_owned()),
    ] {
        let r = change(store, c.clone()).await;
        assert!(
            matches!(&r, Err(StoreError::Conflict(m)) if m.contains("configuration file")),
            "{c:?}: {r:?}"
        );
    }
    change(
        store,
        PeopleChange::Declare {
            users: vec![],
            teams: vec![],
            schedules: vec![],
        },
    )
    .await
    .unwrap();
    change(store, PeopleChange::DeleteSchedule("db".to_owned()))
        .await
        .unwrap();
    assert!(store.list_schedules().await.unwrap().is_empty());
    change(store, PeopleChange::DeleteUser("alice".to_owned()))
        .await
        .expect("deleting a schedule deletes its overrides, so alice is free to go");
}
