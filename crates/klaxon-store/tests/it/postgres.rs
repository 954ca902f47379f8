//! What only PostgreSQL does: several nodes share one database. Nodes starting at once migrate
//! it once, and two nodes claiming the outbox at once never get the same row. And how a store
//! whose database fails says so, a stalled lock holder makes writes fail in bounded time, and a
//! connection the server ends is replaced. Each test has a
//! fresh schema; without a reachable PostgreSQL it prints why and passes (see
//! `postgres_conformance`).
#![allow(clippy::unwrap_used)] // tests

use std::collections::BTreeSet;

use std::time::{Duration, Instant};

use klaxon_store::postgres::{Limits, PostgresStore};
use klaxon_store::{Claim, NewNotification, Role, Store, StoreError};

use crate::postgres_conformance::{drop_schema, make, skip, url};

/// Another node on the schema of `store`.
async fn node(store: &PostgresStore) -> PostgresStore {
    PostgresStore::connect(&url(), store.schema())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_migrate_once() {
    if skip().await {
        return;
    }
    let first = make().await;
    let schema = first.schema().unwrap().to_owned();
    // A fresh schema of the same database, opened by eight nodes at once.
    let fresh = format!("{schema}_fresh");
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {fresh}"))
        .await
        .unwrap();
    let opening = (0..8).map(|_| {
        let url = url();
        let fresh = fresh.clone();
        tokio::spawn(async move { PostgresStore::connect(&url, Some(&fresh)).await })
    });
    let mut nodes = Vec::new();
    for o in opening {
        nodes.push(o.await.unwrap().expect("every node opens the store"));
    }
    let version: i64 = client
        .query_one(&format!("SELECT version FROM {fresh}.schema_version"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, PostgresStore::SCHEMA_VERSION);
    let meta: i64 = client
        .query_one(&format!("SELECT count(*) FROM {fresh}.meta"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(meta, 1, "the first migration ran once");
    for n in &nodes {
        n.ping().await.unwrap();
    }
    drop(nodes);
    client
        .batch_execute(&format!("DROP SCHEMA {fresh} CASCADE"))
        .await
        .unwrap();
    drop_schema(first).await;
}

fn notification(i: i64) -> NewNotification {
    NewNotification {
        idempotency_key: format!("key-{i}"),
        receiver: "ops".to_owned(),
        channel: "webhook".to_owned(),
        channel_index: 0,
        // One stream per row: every row is claimable at once.
        group_key: format!("group-{i}"),
        kind: "firing".to_owned(),
        payload: format!("payload {i}"),
        alert_ids: Vec::new(),
        created_at: 1_000,
        limited: false,
        summary: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_never_claim_the_same_notification() {
    if skip().await {
        return;
    }
    let a = make().await;
    let b = node(&a).await;
    let rows: Vec<_> = (0..200).map(notification).collect();
    a.enqueue_notifications(rows, None).await.unwrap();
    let claimant = |store: PostgresStore, owner: &'static str| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let claim = Claim {
                    owner: owner.to_owned(),
                    now: 2_000,
                    until: 60_000,
                };
                let batch = store.claim_notifications(claim, 7).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|r| r.id));
            }
        })
    };
    let (ta, tb) = (claimant(a.clone(), "node-a"), claimant(b.clone(), "node-b"));
    let (got_a, got_b) = (ta.await.unwrap(), tb.await.unwrap());
    let all: BTreeSet<i64> = got_a.iter().chain(&got_b).copied().collect();
    assert_eq!(got_a.len() + got_b.len(), 200, "a row was claimed twice");
    assert_eq!(all.len(), 200, "every row was claimed");
    assert!(!got_a.is_empty() && !got_b.is_empty(), "both nodes claimed");
    drop(b);
    drop_schema(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_failures_are_reported_until_a_write_commits_again() {
    if skip().await {
        return;
    }
    let store = make().await;
    let schema = store.schema().unwrap().to_owned();
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    store.ping().await.unwrap();
    assert_eq!(store.write_failure(), None);
    // The store's tables vanish from its search path, as when the database is not the one it
    // migrated: every write fails for the database's sake.
    client
        .batch_execute(&format!("ALTER SCHEMA {schema} RENAME TO {schema}_away"))
        .await
        .unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let first = store.write_failure().expect("a failing write is reported");
    assert_eq!(first.database, "postgresql");
    let err = store
        .insert_token("t", Role::Admin, "h", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let later = store.write_failure().unwrap();
    assert_eq!(
        later.since, first.since,
        "one run of failures, since its first"
    );
    client
        .batch_execute(&format!("ALTER SCHEMA {schema}_away RENAME TO {schema}"))
        .await
        .unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.write_failure(), None, "a commit ends the run");
    // A write refused for its own content is not a failure of the database.
    store.insert_token("t", Role::Admin, "h", 1).await.unwrap();
    let err = store
        .insert_token("t", Role::Admin, "h", 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(store.write_failure(), None);
    drop_schema(store).await;
}

/// An administrative connection of the test.
async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// `url()` with an application name, by which the test finds the store's connections.
fn named(app: &str) -> String {
    let sep = if url().contains('?') { '&' } else { '?' };
    format!("{}{sep}application_name={app}", url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_the_server_ends_is_replaced() {
    if skip().await {
        return;
    }
    let first = make().await;
    let app = format!("klaxon_{}", first.schema().unwrap());
    let store = PostgresStore::connect(&named(&app), first.schema())
        .await
        .unwrap();
    // Several connections in the pool, all idle.
    let (a, b, c, d) = tokio::join!(store.ping(), store.ping(), store.ping(), store.ping());
    for r in [a, b, c, d] {
        r.unwrap();
    }
    store
        .insert_token("before", Role::Admin, "h1", 1)
        .await
        .unwrap();
    let db = admin().await;
    let ended = db
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    assert!(!ended.is_empty(), "the store has connections to end");
    // Gone on the server's side.
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let left = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap();
        if left.get::<_, i64>(0) == 0 {
            break;
        }
        assert!(Instant::now() < give_up, "the connections never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The next calls run on new connections: nothing of the store is lost.
    for i in 0..8 {
        store
            .ping()
            .await
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
    }
    store
        .insert_token("after", Role::Admin, "h2", 2)
        .await
        .unwrap();
    let names: BTreeSet<String> = store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(
        names.contains("before") && names.contains("after"),
        "{names:?}"
    );
    assert_eq!(store.write_failure(), None);
    drop(store);
    drop_schema(first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_lock_holder_fails_writes_in_bounded_time() {
    if skip().await {
        return;
    }
    let first = make().await;
    let schema = first.schema().unwrap().to_owned();
    let limits = Limits {
        lock_timeout: Duration::from_millis(300),
        statement_timeout: Duration::from_secs(5),
    };
    let store = PostgresStore::connect_with(&url(), Some(&schema), limits)
        .await
        .unwrap();
    // Another session takes the store's write lock and sits on it.
    let mut db = admin().await;
    let holder = db.transaction().await.unwrap();
    holder
        .execute(
            "SELECT pg_advisory_xact_lock(1802270721, hashtext($1))",
            &[&schema],
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    let err = store
        .insert_token("t", Role::Admin, "h", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "the write waited {:?} for the lock",
        t0.elapsed()
    );
    assert!(
        store.write_failure().is_some(),
        "a write that cannot commit is reported"
    );
    let read = store.list_tokens().await.map(drop);
    assert!(read.is_ok(), "reads take no lock: {read:?}");
    holder.rollback().await.unwrap();
    store.insert_token("t", Role::Admin, "h", 1).await.unwrap();
    assert_eq!(store.write_failure(), None);
    drop(store);
    drop_schema(first).await;
}
