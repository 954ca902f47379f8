//! The delivery workers: claim due outbox rows, send each on its channel (at most `workers` at
//! once), and record every outcome. Three tasks: the claimer (wakes when something may have
//! become due, or at the earliest due time), the sender (bounded concurrency), and the
//! recorder (outcomes batched into one store write). A slow receiver holds only its own
//! deliveries; rows of one stream go out in order because the store only lets the oldest
//! unfinished row of a stream be claimed.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use klaxon_notify::channel::{Pushed, SendContext};
use klaxon_notify::http::HttpClient;
use klaxon_notify::retry::{next_after_failure, Next};
use klaxon_notify::{Backoff, DeliveryOutcome, Notification, Notifier};
use klaxon_store::outbox::status;
use klaxon_store::{Claim, Delivery, OutboxRow, Store};
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::task::JoinSet;

use crate::clock::wall_ms;
use crate::metrics::Metrics;

/// How the workers behave.
#[derive(Debug, Clone)]
pub(crate) struct DeliverySettings {
    pub workers: usize,
    pub backoff: Backoff,
    pub max_age_ms: i64,
    pub lease_ms: i64,
    pub owner: String,
    pub external_url: String,
}

/// The running workers.
pub(crate) struct Workers {
    pub claimer: tokio::task::JoinHandle<()>,
    pub sender: tokio::task::JoinHandle<()>,
    pub recorder: tokio::task::JoinHandle<()>,
}

impl Workers {
    /// Waits for the tasks to finish after `stop` was set (in-flight sends get `grace`).
    pub(crate) async fn join(self) {
        let _ = self.claimer.await;
        let _ = self.sender.await;
        let _ = self.recorder.await;
    }
}

/// Hands rows claimed elsewhere (by the dispatcher, at enqueue) to the sender.
#[derive(Clone)]
pub(crate) struct Handle {
    tx: mpsc::UnboundedSender<OutboxRow>,
    busy: Arc<AtomicUsize>,
}

impl Handle {
    pub(crate) fn submit(&self, row: OutboxRow) {
        self.busy.fetch_add(1, Relaxed);
        if self.tx.send(row).is_err() {
            self.busy.fetch_sub(1, Relaxed);
        }
    }
}

struct Shared<S> {
    store: S,
    notifier: Arc<Notifier>,
    http: HttpClient,
    pushed: broadcast::Sender<Arc<Pushed>>,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    /// Rows claimed and not yet recorded.
    busy: Arc<AtomicUsize>,
    wake: Notify,
    /// Channels (receiver, index) whose latest attempt failed and may be retried.
    failing: std::sync::Mutex<std::collections::HashSet<(String, i64)>>,
    /// When each channel (receiver, index) last delivered something.
    last_ok: std::sync::Mutex<std::collections::HashMap<(String, i64), i64>>,
}

/// Starts the workers; the handle takes rows claimed elsewhere. `stop` ends the claimer at
/// once and the sender after its in-flight sends (at most `grace`).
pub(crate) fn start<S: Store + Clone>(
    store: S,
    notifier: Arc<Notifier>,
    pushed: broadcast::Sender<Arc<Pushed>>,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    grace: Duration,
) -> Result<(Workers, Handle), String> {
    let http = HttpClient::new()?;
    let (work_tx, work) = mpsc::unbounded_channel();
    let busy = Arc::new(AtomicUsize::new(0));
    let handle = Handle {
        tx: work_tx,
        busy: Arc::clone(&busy),
    };
    let shared = Arc::new(Shared {
        store,
        notifier,
        http,
        pushed,
        settings,
        metrics,
        busy,
        wake: Notify::new(),
        failing: std::sync::Mutex::new(std::collections::HashSet::new()),
        last_ok: std::sync::Mutex::new(std::collections::HashMap::new()),
    });
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let claimer = tokio::spawn(claim_loop(
        Arc::clone(&shared),
        handle.clone(),
        stop.clone(),
    ));
    let sender = tokio::spawn(send_loop(Arc::clone(&shared), work, done_tx, stop, grace));
    let recorder = tokio::spawn(record_loop(shared, done_rx));
    Ok((
        Workers {
            claimer,
            sender,
            recorder,
        },
        handle,
    ))
}

async fn claim_loop<S: Store + Clone>(
    sh: Arc<Shared<S>>,
    work: Handle,
    mut stop: watch::Receiver<bool>,
) {
    // Rows claimed and not yet recorded stay below `cap`; a claim waits until a worker's worth
    // of room is free, so a backlog drains in large claims (one transaction each), not in
    // one claim per finished delivery.
    let cap = sh.settings.workers * 8;
    let min_claim = sh.settings.workers.max(1);
    loop {
        if *stop.borrow() {
            return;
        }
        let busy = sh.busy.load(Relaxed);
        let free = cap.saturating_sub(busy);
        let mut claimed = 0;
        if free >= min_claim || busy == 0 {
            let now = wall_ms();
            let claim = Claim {
                owner: sh.settings.owner.clone(),
                now,
                until: now + sh.settings.lease_ms,
            };
            let r = sh.store.claim_notifications(claim, free).await;
            match r {
                Ok(rows) => {
                    claimed = rows.len();
                    for r in rows {
                        work.submit(r);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming notifications failed"),
            }
        }
        if claimed > 0 && claimed == free {
            continue; // more may be due
        }
        // Sleep until the earliest due row (or a minute), or until an outcome is recorded. A row
        // due now that was not claimed waits behind an earlier row of its stream: the outcome of
        // that row wakes this loop (a second is the fallback).
        let next = sh.store.next_notification_due().await.ok().flatten();
        let now = wall_ms();
        let wait = match next {
            Some(at) if at > now => Duration::from_millis(u64::try_from(at - now).unwrap_or(0))
                .min(Duration::from_secs(60)),
            Some(_) => Duration::from_secs(1),
            None => Duration::from_secs(60),
        };
        tokio::select! {
            () = sh.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn send_loop<S: Store + Clone>(
    sh: Arc<Shared<S>>,
    mut work: mpsc::UnboundedReceiver<OutboxRow>,
    done: mpsc::UnboundedSender<Delivery>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut inflight: JoinSet<Delivery> = JoinSet::new();
    loop {
        let full = inflight.len() >= sh.settings.workers;
        tokio::select! {
            r = work.recv(), if !full => match r {
                Some(row) => {
                    let sh = Arc::clone(&sh);
                    inflight.spawn(async move { deliver(&sh, row).await });
                }
                None => break,
            },
            Some(r) = inflight.join_next(), if !inflight.is_empty() => {
                if let Ok(d) = r {
                    let _ = done.send(d);
                }
            }
            _ = stop.changed() => if *stop.borrow() { break },
        }
    }
    // Shutting down: let what is in flight finish (within the grace), then stop; what was not
    // recorded is released at the next start.
    let _ = tokio::time::timeout(grace, async {
        while let Some(r) = inflight.join_next().await {
            if let Ok(d) = r {
                let _ = done.send(d);
            }
        }
    })
    .await;
}

async fn record_loop<S: Store + Clone>(
    sh: Arc<Shared<S>>,
    mut done: mpsc::UnboundedReceiver<Delivery>,
) {
    let mut batch = Vec::new();
    while let Some(d) = done.recv().await {
        batch.push(d);
        while batch.len() < 4096 {
            match done.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let n = batch.len();
        let mut backoff = Duration::from_millis(50);
        loop {
            match sh.store.record_deliveries(batch.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, outcomes = n, "recording deliveries failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        batch.clear();
        sh.busy.fetch_sub(n, Relaxed);
        sh.wake.notify_one();
    }
}

/// One attempt of one row, and what to record of it.
async fn deliver<S: Store + Clone>(sh: &Shared<S>, row: OutboxRow) -> Delivery {
    let started = wall_ms();
    let outcome = attempt(sh, &row).await;
    let now = wall_ms();
    let stats = sh.metrics.delivery.of(&row.channel);
    let channel = (row.receiver.clone(), row.channel_index);
    let mut held = false;
    let (st, next, error, code) = match outcome {
        DeliveryOutcome::Sent { status: code } => {
            stats.delivered(now - row.created_at);
            sh.last_ok
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(channel.clone(), now);
            let recovered = sh
                .failing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&channel);
            if recovered {
                // The receiver is back: its backlog need not wait out the backoff.
                match sh
                    .store
                    .retry_channel_now(&row.receiver, row.channel_index, now)
                    .await
                {
                    Ok(n) if n > 0 => {
                        tracing::info!(receiver = %row.receiver, channel = %row.channel, due = n, "receiver answers again; its backlog is due now");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "hastening a recovered receiver's backlog failed")
                    }
                }
            }
            (status::SENT, None, None, code)
        }
        DeliveryOutcome::Failed {
            error,
            status: code,
        } => {
            stats.failed.fetch_add(1, Relaxed);
            tracing::warn!(id = row.id, receiver = %row.receiver, channel = %row.channel, %error, "notification failed");
            (status::FAILED, None, Some(error), code)
        }
        DeliveryOutcome::Retry {
            error,
            status: code,
            after,
        } => {
            held = after.is_some();
            // The channel delivered something after this attempt began: the failure is from
            // before the receiver came back (the backlog was made due already), so try again now.
            let stale = !held
                && sh
                    .last_ok
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&channel)
                    .is_some_and(|ok| *ok >= started);
            let next = if stale {
                Next::RetryAt(now)
            } else {
                next_after_failure(
                    &sh.settings.backoff,
                    row.attempts,
                    after,
                    super::random_u64(),
                    now,
                    row.created_at,
                    sh.settings.max_age_ms,
                )
            };
            match next {
                Next::RetryAt(at) => {
                    stats.retried.fetch_add(1, Relaxed);
                    if !stale {
                        sh.failing
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(channel);
                    }

                    (status::RETRYING, Some(at), Some(error), code)
                }
                Next::Dead => {
                    stats.dead.fetch_add(1, Relaxed);
                    tracing::warn!(id = row.id, receiver = %row.receiver, channel = %row.channel, %error, "notification dead-lettered after its maximum age");
                    (status::DEAD, None, Some(error), code)
                }
            }
        }
    };
    Delivery {
        id: row.id,
        owner: sh.settings.owner.clone(),
        status: st,
        at: now,
        next_attempt_at: next,
        error,
        code,
        held,
    }
}

async fn attempt<S: Store + Clone>(sh: &Shared<S>, row: &OutboxRow) -> DeliveryOutcome {
    let Some(channel) = sh
        .notifier
        .receiver(&row.receiver)
        .and_then(|r| {
            r.channels
                .get(usize::try_from(row.channel_index).unwrap_or(usize::MAX))
        })
        .filter(|c| c.kind() == row.channel)
    else {
        return DeliveryOutcome::failed(format!(
            "receiver `{}` has no {} channel #{} in the configuration any more",
            row.receiver, row.channel, row.channel_index
        ));
    };
    let n: Notification = match serde_json::from_str(&row.payload) {
        Ok(n) => n,
        Err(e) => return DeliveryOutcome::failed(format!("stored notification unreadable: {e}")),
    };
    let cx = SendContext {
        http: &sh.http,
        templates: &sh.notifier.templates,
        external_url: &sh.settings.external_url,
        websocket: &sh.pushed,
        id: row.id,
        idempotency_key: &row.idempotency_key,
        now_ms: wall_ms(),
    };
    channel.send(&cx, &n).await
}
