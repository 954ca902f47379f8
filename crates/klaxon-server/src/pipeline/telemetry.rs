//! The telemetry writer: rows from the engine are buffered and written in batches, within the
//! flush interval, then `?wait=durable` callers are answered. Also the retention sweep.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_store::{Store, TelemetryRow};
use tokio::sync::{mpsc, oneshot};

use crate::budget::ByteBudget;
use crate::clock::wall_ms;
use crate::metrics::Metrics;
use crate::pipeline::driver::Rows;

/// Rows written in one store call at most.
const MAX_ROWS: usize = 100_000;

/// Writes telemetry until the engine's channel closes and the buffer is empty.
pub(crate) async fn run<S: Store>(
    store: S,
    mut rx: mpsc::Receiver<Rows>,
    flush: Duration,
    metrics: Arc<Metrics>,
    budget: Arc<ByteBudget>,
) {
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + flush;
        let mut rows: Vec<TelemetryRow> = Vec::with_capacity(first.rows.len());
        let mut waiting: Vec<(Instant, usize, Option<oneshot::Sender<()>>)> = Vec::new();
        let mut bytes = 0;
        let mut take = |r: Rows, rows: &mut Vec<TelemetryRow>| {
            waiting.push((r.accepted, r.rows.len(), r.durable));
            bytes += r.bytes;
            rows.extend(r.rows);
        };
        take(first, &mut rows);
        // Gather more until the batch is big or the first rows have waited the flush interval.
        while rows.len() < MAX_ROWS {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => take(r, &mut rows),
                Ok(None) | Err(_) => break,
            }
            if rows.len() >= MAX_ROWS / 10 && rx.is_empty() {
                break;
            }
        }
        let n = rows.len();
        write(&store, rows, &metrics).await;
        metrics
            .telemetry_buffered
            .fetch_sub(i64::try_from(n).unwrap_or(0), Relaxed);
        metrics
            .telemetry_buffered_bytes
            .fetch_sub(i64::try_from(bytes).unwrap_or(0), Relaxed);
        budget.give_back(bytes);
        metrics.telemetry_rows.fetch_add(n as u64, Relaxed);
        for (accepted, count, durable) in waiting {
            metrics
                .telemetry_lag
                .observe_n(accepted.elapsed(), count as u64);
            if let Some(d) = durable {
                let _ = d.send(());
            }
        }
    }
}

/// Writes rows, retrying until the store takes them (the channel behind fills meanwhile, which
/// pushes back on ingest).
async fn write<S: Store>(store: &S, rows: Vec<TelemetryRow>, metrics: &Metrics) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let t0 = Instant::now();
        match store.append_telemetry(rows.clone()).await {
            Ok(()) => {
                metrics.store_commit.observe(t0.elapsed());
                return;
            }
            Err(e) => {
                metrics.store_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, rows = rows.len(), "storing telemetry failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Deletes telemetry older than the retention, hourly (first right away).
pub(crate) async fn retention<S: Store>(store: S, keep: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let cutoff = wall_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        match store.delete_telemetry_before(cutoff).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "telemetry retention deleted old rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "telemetry retention failed"),
        }
    }
}
