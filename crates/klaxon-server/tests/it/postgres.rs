//! The server on PostgreSQL (`[store] url`): it starts, takes and serves an alert from the
//! database, and keeps only its admin token in the data directory. The database is
//! `KLAXON_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a fresh
//! schema; without one reachable the test prints why and passes, unless
//! `KLAXON_REQUIRE_PEERS` is set.
#![allow(clippy::unwrap_used)] // tests

use std::time::Duration;

use klaxon_server::config::Config;
use tokio::net::TcpListener;
use tokio_postgres::NoTls;

use crate::harness::{self, http};

fn url() -> String {
    std::env::var("KLAXON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// An administrative connection, or none (with the reason printed) when no PostgreSQL answers.
async fn admin() -> Option<tokio_postgres::Client> {
    let url = url();
    let connecting = tokio_postgres::connect(&url, NoTls);
    let why = match tokio::time::timeout(Duration::from_secs(5), connecting).await {
        Ok(Ok((client, connection))) => {
            tokio::spawn(connection);
            return Some(client);
        }
        Ok(Err(e)) => format!("cannot connect to {url}: {e}"),
        Err(_) => format!("connecting to {url} timed out"),
    };
    assert!(
        std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
        "KLAXON_REQUIRE_PEERS is set but {why}"
    );
    eprintln!("skipped: {why} (set KLAXON_TEST_POSTGRES_URL)");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_alerts_in_postgresql() {
    let Some(db) = admin().await else { return };
    let schema = format!("klaxon_server_test_{}", std::process::id());
    db.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .await
    .unwrap();
    let dir = harness::data_dir("postgres");
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    let sep = if url().contains('?') { '&' } else { '?' };
    config.store.url = Some(klaxon_server::config::Secret(format!(
        "{}{sep}options=-c%20search_path%3D{schema}",
        url()
    )));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(klaxon_server::run(config, listener, async move {
        let _ = stopped.await;
    }));
    // No admin token configured: the server generates one into the data directory.
    let token_file = dir.join("admin.token");
    let token = harness::poll("the admin token file", Duration::from_secs(30), || {
        std::fs::read_to_string(&token_file).ok()
    })
    .await;
    let token = token.trim();

    let body = r#"{"name":"DiskFull","labels":{"host":"db-1"},"severity":"critical","summary":"disk full on db-1"}"#;
    let (s, _, created) = http(
        addr,
        "POST",
        "/alerts/create",
        Some(token),
        "application/json",
        body,
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (s, _, read) = http(
        addr,
        "GET",
        &format!("/alerts/{id}"),
        Some(token),
        "application/json",
        "",
    )
    .await;
    assert_eq!(s, 200, "{read}");
    assert_eq!(
        (read["name"].as_str(), read["events"][0]["reason"].as_str()),
        (Some("DiskFull"), Some("fired")),
        "{read}"
    );

    // The alert is a row of the database, and the data directory has no SQLite file.
    let row = db
        .query_one(
            &format!("SELECT name, state FROM {schema}.alerts WHERE id = $1"),
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("DiskFull".to_owned(), "active".to_owned())
    );
    assert!(!dir.join("klaxon.sqlite").exists());

    stop.send(()).unwrap();
    done.await.unwrap().unwrap();
    db.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
