//! The delivery workers: claim due outbox rows, send each on its channel (at most `workers` at
//! once over all channels, and at most `per_host_connections`, or the receiver's
//! `max_connections`, at once to one host), and record every outcome. Three tasks: the claimer
//! (wakes when something may have become due, or at the earliest due time), the sender
//! (bounded concurrency), and the recorder (outcomes batched into one store write). A slow
//! receiver holds only its own deliveries: a row waiting for its host takes no worker; rows of
//! one stream go out in order because the store only lets the oldest unfinished row of a
//! stream be claimed. Every outcome updates the channel's health ([`super::health`]), which
//! also decides when a failure is logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use klaxon_notify::channel::{Pushed, SendContext};
use klaxon_notify::http::HttpClient;
use klaxon_notify::retry::{next_after_failure, Next};
use klaxon_notify::{Backoff, DeliveryOutcome, Notification, Notifier};
use klaxon_store::outbox::status;
use klaxon_store::{Claim, Delivery, OutboxRow, Store};
use tokio::sync::{broadcast, mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;

use super::health::{After, Health};
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
    /// Deliveries at once to one host, unless the receiver sets its own limit.
    pub per_host_connections: usize,
    /// Woken by whoever writes outbox rows the claimer does not hear of otherwise (the
    /// lifecycle manager's pages and SLA breaches).
    pub wake: Arc<tokio::sync::Notify>,
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
    /// What each channel has been doing.
    health: Arc<Health>,
    /// Deliveries in flight, over every channel.
    slots: Arc<Semaphore>,
    /// Per channel (receiver, index), the limit of its host, shared by every channel that
    /// sends there.
    hosts: HashMap<(String, i64), Arc<Semaphore>>,
}

/// One semaphore per destination host, sized by the smallest limit among the receivers that
/// send there; each channel points at its host's.
fn host_limits(notifier: &Notifier, default: usize) -> HashMap<(String, i64), Arc<Semaphore>> {
    let mut limit: HashMap<String, usize> = HashMap::new();
    let mut of_channel = Vec::new();
    for r in notifier.receivers.values() {
        let cap = r.max_connections.unwrap_or(default).max(1);
        for c in &r.channels {
            if let Some(dest) = c.destination() {
                let l = limit.entry(dest.clone()).or_insert(cap);
                *l = (*l).min(cap);
                of_channel.push((
                    (r.name.clone(), i64::try_from(c.index).unwrap_or(i64::MAX)),
                    dest,
                ));
            }
        }
    }
    let semaphores: HashMap<String, Arc<Semaphore>> = limit
        .into_iter()
        .map(|(dest, n)| (dest, Arc::new(Semaphore::new(n))))
        .collect();
    of_channel
        .into_iter()
        .filter_map(|(k, dest)| semaphores.get(&dest).map(|s| (k, Arc::clone(s))))
        .collect()
}

/// Starts the workers; the handle takes rows claimed elsewhere. `stop` ends the claimer at
/// once and the sender after its in-flight sends (at most `grace`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn start<S: Store + Clone>(
    store: S,
    notifier: Arc<Notifier>,
    pushed: broadcast::Sender<Arc<Pushed>>,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    (policy, health): (Arc<klaxon_notify::outbound::Policy>, Arc<Health>),
    stop: watch::Receiver<bool>,
    grace: Duration,
) -> Result<(Workers, Handle), String> {
    let http = HttpClient::new(policy)?;
    let hosts = host_limits(&notifier, settings.per_host_connections);
    let slots = Arc::new(Semaphore::new(settings.workers.max(1)));
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
        health,
        slots,
        hosts,
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
            () = sh.settings.wake.notified() => {}
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
    // Every row becomes a task at once; it waits for its host's turn, then for a worker. The
    // claimer bounds how many rows are claimed and not recorded, so the waiting is bounded too.
    let mut inflight: JoinSet<Option<Delivery>> = JoinSet::new();
    loop {
        tokio::select! {
            r = work.recv() => match r {
                Some(row) => {
                    let sh = Arc::clone(&sh);
                    let stop = stop.clone();
                    inflight.spawn(async move { when_allowed(&sh, row, &stop).await });
                }
                None => break,
            },
            Some(r) = inflight.join_next(), if !inflight.is_empty() => {
                if let Ok(Some(d)) = r {
                    let _ = done.send(d);
                }
            }
            _ = stop.changed() => if *stop.borrow() { break },
        }
    }
    // Shutting down: let what is in flight finish (within the grace), then stop; rows still
    // waiting for their turn are not sent, and what was not recorded is released at the next
    // start.
    let _ = tokio::time::timeout(grace, async {
        while let Some(r) = inflight.join_next().await {
            if let Ok(Some(d)) = r {
                let _ = done.send(d);
            }
        }
    })
    .await;
}

/// Delivers `row` once its host and a worker are free; nothing when shutdown came first.
async fn when_allowed<S: Store + Clone>(
    sh: &Shared<S>,
    row: OutboxRow,
    stop: &watch::Receiver<bool>,
) -> Option<Delivery> {
    let host = sh
        .hosts
        .get(&(row.receiver.clone(), row.channel_index))
        .cloned();
    let _host = match host {
        Some(h) => Some(h.acquire_owned().await.ok()?),
        None => None,
    };
    let _worker = Arc::clone(&sh.slots).acquire_owned().await.ok()?;
    if *stop.borrow() {
        return None;
    }
    Some(deliver(sh, row).await)
}

/// An error as it is recorded and shown: control characters made spaces, at most 500
/// characters (answers of receivers are cut shorter where they are read).
fn clean(error: String) -> String {
    const MAX: usize = 500;
    if error.len() <= MAX && !error.chars().any(char::is_control) {
        return error;
    }
    let mut out: String = error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if error.chars().count() > MAX {
        out.pop();
        out.push('…');
    }
    out
}

/// Counts a failed attempt in the channel's health and logs it when a line is due.
fn note_failure<S>(sh: &Shared<S>, row: &OutboxRow, now: i64, error: &str, after: After) {
    sh.metrics
        .delivery
        .of(&row.channel)
        .failed_attempts
        .fetch_add(1, Relaxed);
    let due = sh.health.failed(
        (&row.receiver, row.channel_index, &row.channel),
        now,
        error,
        after,
    );
    if let Some(l) = due {
        tracing::warn!(
            receiver = %row.receiver,
            channel = %row.channel,
            index = row.channel_index,
            consecutive_failures = l.consecutive,
            unlogged_failures = l.unlogged,
            retrying = after == After::Retrying,
            %error,
            "notification delivery failed"
        );
    }
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
                    crate::error::exit_if_fenced(&e);
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
    let mut held = false;
    let (st, next, error, code) = match outcome {
        DeliveryOutcome::Sent { status: code } => {
            stats.delivered(now - row.created_at);
            let recovered =
                sh.health
                    .succeeded(&row.receiver, row.channel_index, &row.channel, now);
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
            let error = clean(error);
            stats.failed.fetch_add(1, Relaxed);
            note_failure(sh, &row, now, &error, After::GivenUp);
            (status::FAILED, None, Some(error), code)
        }
        DeliveryOutcome::Retry {
            error,
            status: code,
            after,
        } => {
            let error = clean(error);
            held = after.is_some();
            // The channel delivered something after this attempt began: the failure is from
            // before the receiver came back (the backlog was made due already), so try again now.
            let stale = !held
                && sh
                    .health
                    .last_success(&row.receiver, row.channel_index)
                    .is_some_and(|ok| ok >= started);
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
                    note_failure(
                        sh,
                        &row,
                        now,
                        &error,
                        if stale { After::Stale } else { After::Retrying },
                    );
                    (status::RETRYING, Some(at), Some(error), code)
                }
                Next::Dead => {
                    stats.dead.fetch_add(1, Relaxed);
                    note_failure(
                        sh,
                        &row,
                        now,
                        &error,
                        if stale { After::Stale } else { After::GivenUp },
                    );
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
    let holder = sh.notifier.holder(&row.receiver);
    let Some(channel) = holder
        .as_deref()
        .and_then(|n| n.receiver(&row.receiver))
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
        templates: &holder.as_deref().unwrap_or(&*sh.notifier).templates,
        external_url: &sh.settings.external_url,
        websocket: &sh.pushed,
        id: row.id,
        idempotency_key: &row.idempotency_key,
        now_ms: wall_ms(),
    };
    channel.send(&cx, &n).await
}
