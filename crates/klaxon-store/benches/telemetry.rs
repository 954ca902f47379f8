//! Telemetry and alert write throughput of the SQLite store, printed (not asserted).
//!
//! `cargo bench -p klaxon-store --bench telemetry`
//!
//! The database goes to the system temp directory unless `KLAXON_BENCH_DIR` names another
//! one; use a directory on the disk the server will use, since every commit is fsynced.
#![allow(clippy::unwrap_used)] // bench

#[path = "../tests/it/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use harness::remove_db;
use klaxon_engine::Severity;
use klaxon_store::conformance::alert;
use klaxon_store::sqlite::SqliteStore;
use klaxon_store::{NewAlert, Store, TelemetryRow};

/// Rows per `append_telemetry` call, as the server's ingest batches them.
const BATCH: usize = 10_000;
/// Batches per scenario (1,000,000 rows).
const BATCHES: usize = 100;

/// One batch of mixed rows, received at `t`: 40 % marks, 40 % traces (half starts, half stops),
/// 15 % logs, 5 % process rows, over 1,000 process runs and 100 keys.
fn batch(first: usize, t: i64) -> Vec<TelemetryRow> {
    (first..first + BATCH)
        .map(|i| {
            let n = i64::try_from(i).unwrap();
            let process = format!("run-{:06}", i % 1_000);
            let action = format!("ACTION_{:02}", i % 100);
            match i % 20 {
                0..=7 => TelemetryRow::Mark {
                    process,
                    action,
                    context: (i % 5 != 0).then(|| format!("ctx-{}", i % 10)),
                    ts: n,
                    used_ms: n % 997,
                    action_count: (i / 100) as u64,
                    received_at: t,
                },
                8..=15 => TelemetryRow::Trace {
                    process,
                    action,
                    context: Some(format!("ctx-{}", i % 10)),
                    kind: if i % 2 == 0 { "start" } else { "stop" },
                    ts: n,
                    used_ms: (i % 2 == 1).then_some(n % 1_009),
                    action_count: (i / 100) as u64,
                    received_at: t,
                },
                16..=18 => TelemetryRow::Log {
                    process,
                    level: "info".to_owned(),
                    message: format!("step {i} finished without complaint"),
                    ts: n,
                    received_at: t,
                },
                _ => TelemetryRow::Process {
                    kind: "update",
                    process,
                    name: Some("nightly-import".to_owned()),
                    group: None,
                    status: Some(0),
                    info: None,
                    steps_todo: Some(100),
                    steps_done: Some(n % 100),
                    ts: n,
                    received_at: t,
                },
            }
        })
        .collect()
}

fn batches() -> Vec<Vec<TelemetryRow>> {
    (0..BATCHES)
        .map(|b| batch(b * BATCH, i64::try_from(b).unwrap()))
        .collect()
}

fn db_path() -> PathBuf {
    let dir = std::env::var_os("KLAXON_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    dir.join(format!("klaxon-store-bench-{}.db", std::process::id()))
}

fn report(what: &str, n: usize, unit: &str, secs: f64) {
    println!(
        "{what:<58} {:>10.0} {unit}/s  ({n} {unit} in {:.3} s)",
        n as f64 / secs,
        secs
    );
}

fn main() {
    // Two worker threads, like the two-core target; the writer thread is extra.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let path = db_path();
    remove_db(&path);
    println!("database: {}", path.display());
    rt.block_on(async {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        // Warm-up: statements prepared, file grown.
        store.append_telemetry(batch(0, 0)).await.unwrap();

        let work = batches();
        let start = Instant::now();
        for rows in work {
            store.append_telemetry(rows).await.unwrap();
        }
        report(
            "telemetry, one caller, 10,000-row batches",
            BATCH * BATCHES,
            "rows",
            start.elapsed().as_secs_f64(),
        );

        let work = batches();
        let start = Instant::now();
        let tasks: Vec<_> = work
            .into_iter()
            .map(|rows| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.append_telemetry(rows).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        report(
            "telemetry, 100 concurrent 10,000-row batches",
            BATCH * BATCHES,
            "rows",
            start.elapsed().as_secs_f64(),
        );

        let start = Instant::now();
        let tasks: Vec<_> = (0..200)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in 0..50 {
                        let a = alert("R", &format!("run-{t}"), Severity::Low, i);
                        store
                            .insert_alerts(vec![NewAlert {
                                alert: a,
                                created_at: i,
                            }])
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        report(
            "alerts, 200 tasks each inserting one at a time (group commit)",
            200 * 50,
            "alerts",
            start.elapsed().as_secs_f64(),
        );

        let start = Instant::now();
        for _ in 0..200 {
            store.ping().await.unwrap();
        }
        report(
            "ping, one caller (one commit and fsync each)",
            200,
            "commits",
            start.elapsed().as_secs_f64(),
        );

        let start = Instant::now();
        let deleted = store.delete_telemetry_before(i64::MAX).await.unwrap();
        report(
            "retention, deleting every row",
            usize::try_from(deleted).unwrap(),
            "rows",
            start.elapsed().as_secs_f64(),
        );
        store.close().await.unwrap();
    });
    remove_db(&path);
}
