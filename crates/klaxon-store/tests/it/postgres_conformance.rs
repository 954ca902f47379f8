//! The store conformance suite against PostgreSQL: a fresh schema per test (created here,
//! dropped in teardown), so the tests run in parallel on one database. The server is
//! `KLAXON_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`); without one
//! reachable each test prints why and passes, unless `KLAXON_REQUIRE_PEERS` is set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use klaxon_store::postgres::PostgresStore;
use tokio_postgres::NoTls;

/// The database the tests use.
pub(crate) fn url() -> String {
    std::env::var("KLAXON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// An administrative connection (no schema), or why there is none.
async fn admin() -> Result<tokio_postgres::Client, String> {
    let url = url();
    let connecting = tokio_postgres::connect(&url, NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| format!("connecting to {url} timed out"))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// True (skip) when no PostgreSQL answers; fails instead when peers are required.
pub(crate) async fn skip() -> bool {
    match admin().await {
        Ok(_) => false,
        Err(why) => {
            assert!(
                std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
                "KLAXON_REQUIRE_PEERS is set but {why}"
            );
            eprintln!("skipped: {why} (set KLAXON_TEST_POSTGRES_URL)");
            true
        }
    }
}

/// A fresh store in a new schema of its own.
pub(crate) async fn make() -> PostgresStore {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!("klaxon_test_{}_{n}_{nanos}", std::process::id());
    let client = admin().await.expect("connect to postgresql");
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create the test schema");
    PostgresStore::connect(&url(), Some(&schema))
        .await
        .expect("open a fresh postgresql store")
}

/// Closes the store and drops its schema.
pub(crate) async fn drop_schema(store: PostgresStore) {
    let schema = store
        .schema()
        .expect("test stores have a schema")
        .to_owned();
    store.close();
    drop(store);
    let client = admin().await.expect("connect to postgresql");
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop the test schema");
}

klaxon_store::store_conformance_tests!(make, teardown = drop_schema, skip = skip);
