//! Telemetry: rows counted per table, retention by receive time.

use std::sync::Arc;

use crate::{Store, TelemetryCounts, TelemetryRow};

fn mark(n: i64, received_at: i64) -> TelemetryRow {
    TelemetryRow::Mark {
        process: format!("p-{n}"),
        action: "TRACK".into(),
        context: (n % 2 == 0).then(|| "S1".to_owned()),
        ts: n,
        used_ms: n * 10,
        action_count: n.unsigned_abs(),
        received_at,
    }
}

fn trace(n: i64, received_at: i64) -> TelemetryRow {
    TelemetryRow::Trace {
        process: format!("p-{n}"),
        action: "LOAD".into(),
        context: None,
        kind: if n % 2 == 0 { "start" } else { "stop" },
        ts: n,
        used_ms: (n % 2 == 1).then_some(n),
        action_count: 1,
        received_at,
    }
}

fn process(n: i64, received_at: i64) -> TelemetryRow {
    TelemetryRow::Process {
        kind: ["start", "update", "stop"][n.unsigned_abs() as usize % 3],
        process: format!("p-{}", n / 3),
        name: Some("metro-line".into()),
        group: (n % 3 == 0).then(|| "default".to_owned()),
        status: Some(n),
        info: None,
        steps_todo: Some(10),
        steps_done: Some(n % 10),
        ts: n,
        received_at,
    }
}

fn log(n: i64, received_at: i64) -> TelemetryRow {
    TelemetryRow::Log {
        process: format!("p-{n}"),
        level: "warn".into(),
        message: format!("line {n}"),
        ts: n,
        received_at,
    }
}

/// Rows of every kind, received at `t`: `k` process rows, `2k` marks, `3k` traces, `4k` logs.
fn mixed(k: i64, t: i64) -> Vec<TelemetryRow> {
    let mut rows = Vec::new();
    for n in 0..k {
        rows.push(process(n, t));
        rows.extend([mark(n, t), mark(n + 1, t)]);
        rows.extend((0..3).map(|i| trace(n + i, t)));
        rows.extend((0..4).map(|i| log(n + i, t)));
    }
    rows
}

fn counts(k: u64) -> TelemetryCounts {
    TelemetryCounts {
        process_events: k,
        marks: 2 * k,
        traces: 3 * k,
        logs: 4 * k,
    }
}

pub async fn telemetry_is_counted_per_table<S: Store>(store: &Arc<S>) {
    assert_eq!(store.telemetry_counts().await.unwrap(), counts(0));
    store.append_telemetry(mixed(5, 100)).await.unwrap();
    store.append_telemetry(mixed(2, 200)).await.unwrap();
    assert_eq!(store.telemetry_counts().await.unwrap(), counts(7));
}

pub async fn retention_deletes_exactly_the_older_rows<S: Store>(store: &Arc<S>) {
    assert_eq!(
        store.delete_telemetry_before(1_000).await.unwrap(),
        0,
        "empty store"
    );
    // Received at 10, 20, ..., 100; several appends per time, so tables interleave.
    for t in 1..=10 {
        store
            .append_telemetry(mixed(t % 3 + 1, t * 10))
            .await
            .unwrap();
    }
    let k_before = |cutoff: i64| -> u64 {
        (1..=10i64)
            .filter(|t| t * 10 < cutoff)
            .map(|t| t.unsigned_abs() % 3 + 1)
            .sum()
    };
    let total: u64 = k_before(i64::MAX);
    assert_eq!(store.telemetry_counts().await.unwrap(), counts(total));

    assert_eq!(
        store.delete_telemetry_before(10).await.unwrap(),
        0,
        "nothing older"
    );
    // A cutoff between receive times, then one exactly on a receive time (kept: not before).
    let mut prev = 0;
    for cutoff in [35, 70] {
        let gone: u64 = k_before(cutoff);
        let deleted = store.delete_telemetry_before(cutoff).await.unwrap();
        assert_eq!(deleted, 10 * (gone - prev), "cutoff {cutoff}");
        assert_eq!(
            store.telemetry_counts().await.unwrap(),
            counts(total - gone)
        );
        prev = gone;
    }
    assert_eq!(
        store.delete_telemetry_before(70).await.unwrap(),
        0,
        "idempotent"
    );
    store.delete_telemetry_before(i64::MAX).await.unwrap();
    assert_eq!(store.telemetry_counts().await.unwrap(), counts(0));
    // New rows after a full purge are counted and pruned as before.
    store.append_telemetry(mixed(1, 500)).await.unwrap();
    assert_eq!(store.delete_telemetry_before(500).await.unwrap(), 0);
    assert_eq!(store.delete_telemetry_before(501).await.unwrap(), 10);
}
