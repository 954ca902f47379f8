//! SQLite-only behaviour: durability across close, reopen and a crash, migrations, shutdown,
//! and the per-process state table.
#![allow(clippy::unwrap_used)] // tests

use std::path::Path;
use std::sync::Arc;

use klaxon_engine::lifecycle::State;
use klaxon_engine::Severity;
use klaxon_store::conformance::alert;
use klaxon_store::conformance::{insert, labelled};
use klaxon_store::sqlite::SqliteStore;
use klaxon_store::{
    AlertQuery, HistoryQuery, NewAlert, NewRuleSet, Occurrence, Role, RuleKind, Store, StoreError,
    StoredAlert, TelemetryRow,
};
use rusqlite::{Connection, OpenFlags};

use crate::harness;

fn new_alert(n: i64) -> NewAlert {
    NewAlert {
        alert: alert("R", "p", Severity::High, n),
        created_at: n,
    }
}

fn all(limit: usize) -> AlertQuery {
    AlertQuery {
        limit,
        ..AlertQuery::default()
    }
}

/// A plain connection of our own, not the store's, as another process would open it.
fn raw(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn stored_ids(path: &Path) -> Vec<i64> {
    let conn = raw(path);
    let mut st = conn.prepare("SELECT id FROM alerts ORDER BY id").unwrap();
    let ids = st.query_map([], |r| r.get(0)).unwrap();
    ids.collect::<rusqlite::Result<_>>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_close_and_reopen() {
    let path = harness::temp_db("reopen");
    let store = SqliteStore::open(&path).unwrap();
    let alerts = store
        .insert_alerts(vec![new_alert(1), new_alert(2)])
        .await
        .unwrap();
    let rows = vec![TelemetryRow::Log {
        process: "p".into(),
        level: "info".into(),
        message: "hello".into(),
        ts: 1,
        received_at: 2,
    }];
    store.append_telemetry(rows).await.unwrap();
    let rs = NewRuleSet {
        kind: RuleKind::Event,
        group: "g".into(),
        name: "n".into(),
        version: None,
        json: "{}".into(),
        author: None,
        created_at: 3,
    };
    store.insert_rule_set(rs).await.unwrap();
    let active = store
        .activate_rule_set(RuleKind::Event, "g", "n", 1)
        .await
        .unwrap();
    let token = store
        .insert_token("t", Role::Responder, "h", 4)
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    let listed: Vec<StoredAlert> = store.list_alerts(all(10)).await.unwrap();
    assert_eq!(listed, alerts.into_iter().rev().collect::<Vec<_>>());
    assert_eq!(store.telemetry_counts().await.unwrap().logs, 1);
    assert_eq!(store.active_rule_sets().await.unwrap(), [active]);
    assert_eq!(store.find_token("h").await.unwrap(), Some(token));
    // Ids keep ascending after a reopen.
    let next = store.insert_alerts(vec![new_alert(3)]).await.unwrap();
    assert!(next[0].id > listed[0].id);
    harness::close_and_remove(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_request_leaves_nothing_behind_and_its_batch_commits() {
    let path = harness::temp_db("savepoint");
    let store = SqliteStore::open(&path).unwrap();
    // The second alert cannot be stored (SQLite integers are i64), after the first one was
    // written: the request's savepoint must take the first one back, and only that.
    let mut too_big = new_alert(2);
    too_big.alert.action_count = u64::MAX;
    let good: Vec<_> = (10..60)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_alerts(vec![new_alert(n)]).await })
        })
        .collect();
    let bad = store.insert_alerts(vec![new_alert(1), too_big]).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    let mut acknowledged = Vec::new();
    for task in good {
        acknowledged.push(task.await.unwrap().unwrap()[0].id);
    }
    acknowledged.sort_unstable();
    assert_eq!(stored_ids(&path), acknowledged);
    let events: i64 = raw(&path)
        .query_row("SELECT count(*) FROM alert_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(events, 50, "no event of the failed request");
    harness::close_and_remove(store).await;
}

#[tokio::test]
async fn migrations_are_idempotent_on_reopen() {
    let path = harness::temp_db("migrate");
    let schema = |path: &Path| {
        let conn = raw(path);
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        let mut st = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name")
            .unwrap();
        let objects = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        (version, objects)
    };
    let store = SqliteStore::open(&path).unwrap();
    store.insert_alerts(vec![new_alert(1)]).await.unwrap();
    store.close().await.unwrap();
    drop(store);
    let first = schema(&path);
    assert_eq!(first.0, SqliteStore::SCHEMA_VERSION);
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.list_alerts(all(10)).await.unwrap().len(),
            1,
            "data kept"
        );
        store.close().await.unwrap();
        drop(store);
        assert_eq!(schema(&path), first, "reopening changes no schema object");
    }
    harness::remove_db(&path);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let path = harness::temp_db("newer");
    let store = SqliteStore::open(&path).unwrap();
    store.close().await.unwrap();
    drop(store);
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SqliteStore::SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("newer")),
        "{err:?}"
    );
    harness::remove_db(&path);
}

#[tokio::test]
async fn open_sets_wal_mode_and_foreign_keys_hold() {
    let path = harness::temp_db("pragmas");
    let store = SqliteStore::open(&path).unwrap();
    let conn = raw(&path);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // The audit trail cannot point at an alert that does not exist.
    let writer = Connection::open(&path).unwrap();
    writer.pragma_update(None, "foreign_keys", "ON").unwrap();
    let orphan = writer.execute(
        "INSERT INTO alert_events (alert_id, ts, actor, to_state) VALUES (999, 1, 'x', 'active')",
        [],
    );
    assert!(orphan.is_err(), "foreign key enforced");
    drop(writer);
    harness::close_and_remove(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_visible_to_another_connection_when_insert_returns() {
    let path = harness::temp_db("durable");
    let store = SqliteStore::open(&path).unwrap();
    for n in 0..20 {
        let stored = store.insert_alerts(vec![new_alert(n)]).await.unwrap();
        // Right after the call returns, a fresh connection of our own sees the row.
        assert_eq!(stored_ids(&path).last(), Some(&stored[0].id));
    }
    harness::close_and_remove(store).await;
}

/// Environment variable naming the database the crash child writes to.
const CHILD_DB: &str = "KLAXON_STORE_CRASH_CHILD_DB";

/// In the child: insert, then die at once (no close, no destructors). In the parent: run the
/// child and check that what it was told is stored survived the crash.
#[test]
fn an_acknowledged_insert_survives_a_crash() {
    if let Ok(path) = std::env::var(CHILD_DB) {
        let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
        let stored = rt.block_on(async {
            let store = SqliteStore::open(Path::new(&path)).unwrap();
            store
                .insert_alerts(vec![new_alert(1), new_alert(2)])
                .await
                .unwrap()
        });
        println!("stored {} {}", stored[0].id, stored[1].id);
        std::process::abort();
    }
    let path = harness::temp_db("crash");
    // This test's name in the test binary: its module path without the crate's name.
    let name = concat!(module_path!(), "::an_acknowledged_insert_survives_a_crash");
    let name = name.split_once("::").map_or(name, |(_, n)| n);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(CHILD_DB, &path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("stored 1 2"), "child output: {stdout}");
    assert_eq!(stored_ids(&path), [1, 2]);
    harness::remove_db(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_commits_everything_queued_and_refuses_later_calls() {
    let path = harness::temp_db("close");
    let store = SqliteStore::open(&path).unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_alerts(vec![new_alert(n)]).await })
        })
        .collect();
    tokio::task::yield_now().await;
    store.close().await.unwrap();
    let mut acknowledged = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(stored) => acknowledged.push(stored[0].id),
            Err(StoreError::Unavailable(_)) => {} // sent after the close: never stored
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    acknowledged.sort_unstable();
    assert_eq!(
        stored_ids(&path),
        acknowledged,
        "every acknowledged write, nothing else"
    );

    let late = store.insert_alerts(vec![new_alert(1)]).await;
    assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
    let read = store.get_alert(1).await;
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
    store.close().await.unwrap(); // again: nothing to do
    drop(store);
    harness::remove_db(&path);
}

#[test]
fn dropping_the_last_clone_still_commits_what_is_queued() {
    let path = harness::temp_db("drop");
    let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let clone = store.clone();
    rt.block_on(async {
        // Poll the insert once, so it is queued, then give up waiting for it.
        let insert = clone.insert_alerts(vec![new_alert(7)]);
        tokio::select! {
            biased;
            _ = insert => {}
            () = std::future::ready(()) => {}
        }
    });
    drop(clone);
    drop(store); // outside the runtime: waits for the writer to finish
    drop(rt);
    assert_eq!(stored_ids(&path), [1]);
    harness::remove_db(&path);
}

#[tokio::test]
async fn process_rows_keep_the_current_state_of_each_run() {
    let path = harness::temp_db("processes");
    let store = SqliteStore::open(&path).unwrap();
    let row = |kind, ts, name: Option<&str>, status, steps_done| TelemetryRow::Process {
        kind,
        process: "run-1".into(),
        name: name.map(Into::into),
        group: Some("default".into()),
        status,
        info: None,
        steps_todo: Some(10),
        steps_done,
        ts,
        received_at: ts,
    };
    store
        .append_telemetry(vec![
            row("start", 100, Some("nightly"), None, Some(0)),
            row("update", 200, None, Some(1), Some(4)),
        ])
        .await
        .unwrap();
    let state = |path: &Path| {
        raw(&SqliteStore::telemetry_path(path))
            .query_row(
                "SELECT name, status, steps_done, started_at, stopped_at, last_ts \
                 FROM processes WHERE process = 'run-1'",
                [],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                },
            )
            .unwrap()
    };
    let running = (
        Some("nightly".to_owned()),
        Some(1),
        Some(4),
        Some(100),
        None,
        200,
    );
    assert_eq!(state(&path), running);
    store
        .append_telemetry(vec![row("stop", 300, None, Some(0), Some(10))])
        .await
        .unwrap();
    let stopped = (
        Some("nightly".to_owned()),
        Some(0),
        Some(10),
        Some(100),
        Some(300),
        300,
    );
    assert_eq!(state(&path), stopped);
    assert_eq!(store.telemetry_counts().await.unwrap().process_events, 3);
    harness::close_and_remove(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_one_store() {
    let path = harness::temp_db("clones");
    let store = SqliteStore::open(&path).unwrap();
    let other = store.clone();
    let a = store.insert_alerts(vec![new_alert(1)]).await.unwrap();
    let shared = Arc::new(other);
    assert_eq!(shared.get_alert(a[0].id).await.unwrap(), a[0]);
    drop(shared);
    harness::close_and_remove(store).await;
}

/// Writes alerts into a version-1 database exactly as the version-1 `insert_alerts` did.
fn v1_database(path: &Path, alerts: &[NewAlert]) {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(include_str!("../../src/sqlite/migrations/0001_init.sql"))
        .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    for NewAlert {
        alert: a,
        created_at,
    } in alerts
    {
        conn.execute(
            "INSERT INTO alerts (fingerprint, state, \"group\", rule_set, rule_set_version, \
             rule_id, \"trigger\", operator, severity, handler, process, process_name, scope, \
             \"action\", context, action_count, value, \"limit\", signal_ts, engine_ts, message, \
             created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20, ?21, ?22)",
            rusqlite::params![
                a.fingerprint_hex(),
                "active",
                &*a.group,
                &*a.rule_set,
                a.rule_set_version.as_ref().map(ToString::to_string),
                &*a.rule_id,
                a.trigger.as_str(),
                &*a.operator,
                a.severity.as_str(),
                &*a.handler,
                &*a.process,
                &*a.process_name,
                &*a.scope,
                &*a.action,
                a.context.as_deref(),
                a.action_count,
                a.value,
                a.limit,
                a.signal_ts,
                a.engine_ts,
                a.message,
                created_at,
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO alert_events (alert_id, ts, actor, from_state, to_state, reason) \
             VALUES (?1, ?2, 'engine', NULL, 'active', 'created')",
            rusqlite::params![conn.last_insert_rowid(), created_at],
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_2_upgrades_alerts_of_version_1() {
    let mut without_context = alert("R-2", "p-2", Severity::Low, 3);
    without_context.context = None;
    let old = vec![
        NewAlert {
            alert: alert("R-1", "p-1", Severity::High, 2),
            created_at: 500,
        },
        NewAlert {
            alert: without_context,
            created_at: 600,
        },
    ];
    let path = harness::temp_db("v1");
    v1_database(&path, &old);

    let store = SqliteStore::open(&path).unwrap();
    let version: i64 = raw(&path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteStore::SCHEMA_VERSION);
    // What this build's insert_alerts stores for the same engine alerts, in a fresh store.
    let fresh_path = harness::temp_db("v2");
    let fresh = SqliteStore::open(&fresh_path).unwrap();
    let now = fresh.insert_alerts(old.clone()).await.unwrap();
    for (id, expected) in (1..).zip(&now) {
        let migrated = store.get_alert(id).await.unwrap();
        assert_eq!(
            &migrated, expected,
            "alert {id} reads as if stored by this build"
        );
        let detail = store.alert_detail(id, 10).await.unwrap();
        let first = Occurrence {
            at: expected.signal_ts,
            value: expected.value,
            message: expected.message.clone(),
        };
        assert_eq!(detail.occurrences, [first]);
        assert_eq!(
            detail.events,
            fresh.alert_detail(id, 10).await.unwrap().events
        );
    }
    assert!(!now[1].labels.contains_key("context"));

    // The derived tables know the old alerts: summary, label filter, text, time range, index.
    let summary = store.alert_summary().await.unwrap();
    assert_eq!((summary.total, summary.by_state[&State::Active]), (2, 2));
    assert_eq!(summary.open_by_severity.len(), 2);
    let history = |q: HistoryQuery| {
        let store = store.clone();
        async move {
            let page = store
                .alert_history(HistoryQuery { limit: 10, ..q })
                .await
                .unwrap();
            page.into_iter().map(|a| a.id).collect::<Vec<_>>()
        }
    };
    let by_label = HistoryQuery {
        labels: vec![("alertname".into(), "R-1".into())],
        ..HistoryQuery::default()
    };
    assert_eq!(history(by_label).await, [1]);
    let by_text = HistoryQuery {
        text: Some("METRO-LINE".into()),
        ..HistoryQuery::default()
    };
    assert_eq!(history(by_text).await, [2, 1]);
    let by_time = HistoryQuery {
        from: Some(now[1].first_seen),
        to: Some(now[1].first_seen + 1),
        ..HistoryQuery::default()
    };
    assert_eq!(history(by_time).await, [2]);
    let open: Vec<i64> = store
        .load_open_alerts()
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(open, [1, 2]);

    // Life goes on: ids continue after the old ones, and the lifecycle works on old alerts.
    assert_eq!(store.max_alert_id().await.unwrap(), 2);
    let next = store.insert_alerts(vec![new_alert(9)]).await.unwrap();
    assert_eq!(next[0].id, 3);
    store
        .apply_alert_changes(vec![
            insert(labelled(10, "New", "high", 1_000, &[])),
            klaxon_store::conformance::transition(
                1,
                State::Active,
                State::Acknowledged,
                2_000,
                "alice",
                "mine",
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.get_alert(1).await.unwrap().acknowledged_by.as_deref(),
        Some("alice")
    );
    assert_eq!(store.alert_summary().await.unwrap().total, 4);
    harness::close_and_remove(store).await;
    harness::close_and_remove(fresh).await;
}

/// The database keeps alert states as their lowercase names, in the alert, its audit trail and
/// the counts; a row whose state names no state reads as an error, never as some state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_are_stored_as_their_names() {
    use klaxon_store::conformance::transition;
    let path = harness::temp_db("states");
    let store = SqliteStore::open(&path).unwrap();
    let moves = [
        (State::Active, State::Suppressed),
        (State::Suppressed, State::Resolved),
    ];
    let mut changes = vec![insert(labelled(1, "X", "high", 1_000, &[]))];
    for (at, (from, to)) in (2_000..).zip(moves) {
        changes.push(transition(1, from, to, at, "lifecycle", "moved"));
    }
    store.apply_alert_changes(changes).await.unwrap();
    {
        let conn = raw(&path);
        let state: String = conn
            .query_row("SELECT state FROM alerts WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, "resolved");
        let mut st = conn
            .prepare("SELECT from_state, to_state FROM alert_events WHERE alert_id = 1 ORDER BY id")
            .unwrap();
        let events: Vec<(Option<String>, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            events,
            [
                (None, "active".to_owned()),
                (Some("active".to_owned()), "suppressed".to_owned()),
                (Some("suppressed".to_owned()), "resolved".to_owned())
            ]
        );
        let mut st = conn
            .prepare("SELECT state, n FROM alert_counts WHERE n > 0")
            .unwrap();
        let counts: Vec<(String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(counts, [("resolved".to_owned(), 1)]);
    }

    Connection::open(&path)
        .unwrap()
        .execute("UPDATE alerts SET state = 'exploded' WHERE id = 1", [])
        .unwrap();
    let err = store.get_alert(1).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("exploded")),
        "{err:?}"
    );
    harness::close_and_remove(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_7_keeps_the_tokens_of_version_6() {
    let path = harness::temp_db("v6");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        for sql in [
            include_str!("../../src/sqlite/migrations/0001_init.sql"),
            include_str!("../../src/sqlite/migrations/0002_lifecycle.sql"),
            include_str!("../../src/sqlite/migrations/0003_rule_kinds.sql"),
            include_str!("../../src/sqlite/migrations/0004_telemetry_apart.sql"),
            include_str!("../../src/sqlite/migrations/0005_silences.sql"),
            include_str!("../../src/sqlite/migrations/0006_notifications.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        conn.execute(
            "INSERT INTO tokens (name, role, hash, created_at) VALUES ('boot', 'admin', 'hb', 7)",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let t = store.find_token("hb").await.unwrap().unwrap();
    assert_eq!(
        (
            t.name.as_str(),
            t.role,
            t.created_at,
            t.created_by,
            t.expires_at
        ),
        ("boot", Role::Admin, 7, None, None)
    );
    assert_eq!((t.revoked_at, t.last_used_at, t.user), (None, None, None));
    let same = store.insert_token("boot", Role::Viewer, "other", 8).await;
    assert!(
        matches!(same, Err(StoreError::AlreadyExists(_))),
        "{same:?}"
    );
    harness::close_and_remove(store).await;
}

/// Opening a dashboard session reads only its own token's rows: SQLite searches the
/// per-token index and never scans the sessions table, so a sign-in costs the same with ten
/// sessions or a million.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_session_never_scans_the_sessions_table() {
    let path = harness::temp_db("session-plan");
    let store = SqliteStore::open(&path).unwrap();
    let plan = store.explain_open_session().await.unwrap();
    assert!(plan.contains("sessions_by_token"), "{plan}");
    for line in plan.lines().map(str::trim) {
        let scan = line.starts_with("SCAN") && line != "SCAN CONSTANT ROW";
        assert!(!scan, "a table scan in:\n{plan}");
    }
    harness::close_and_remove(store).await;
}

/// A store whose commits fail (the disk-full fault) says so, since when and why, keeps
/// nothing of the failed writes, still reads, and says nothing once a write commits again.
#[tokio::test]
async fn failing_writes_are_reported_until_one_commits_again() {
    let path = harness::temp_db("write-failure");
    let store = SqliteStore::open(&path).unwrap();
    store.insert_alerts(vec![new_alert(1)]).await.unwrap();
    assert_eq!(store.write_failure(), None);

    store.fail_writes(true);
    let err = store.insert_alerts(vec![new_alert(2)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let f = store.write_failure().expect("the failure is reported");
    assert!(f.error.contains("full"), "{f:?}");
    assert_eq!(f.database, "main");
    assert!(store.ping().await.is_err());
    assert_eq!(
        store.write_failure().unwrap().since,
        f.since,
        "the run of failures began once"
    );
    assert_eq!(
        store.list_alerts(all(10)).await.unwrap().len(),
        1,
        "reads go on; nothing half-written"
    );

    store.fail_writes(false);
    store.ping().await.unwrap();
    assert_eq!(store.write_failure(), None);
    store.insert_alerts(vec![new_alert(3)]).await.unwrap();
    harness::close_and_remove(store).await;
}
