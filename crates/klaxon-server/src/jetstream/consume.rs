//! The consuming side, run by the node that runs the engine (`Server::start` starts it when
//! `[cluster] nats` is set): it rebuilds the engine's state by replaying the stream up to the
//! durable consumer's acknowledged position with the engine's outputs discarded, then feeds the
//! engine every later batch in stream order, each at the time it was accepted, and acknowledges
//! a batch only once the alerts the engine emitted up to it are committed and its telemetry is
//! durable.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream;
use futures_util::StreamExt;
use klaxon_engine::Body;
use klaxon_store::Store;
use tokio::sync::{mpsc, oneshot, watch};

use super::codec::{self, SignalBatch};
use super::publish::Publisher;
use crate::pipeline::driver::{Batch, Input};
use crate::state::AppState;

/// The durable consumer of the engine.
const DURABLE: &str = "klaxon-engine";

/// Batches fed to the engine and not yet acknowledged, at most.
const IN_FLIGHT: usize = 512;

/// How long JetStream waits for an acknowledgement before it delivers a batch again (the
/// consumer skips what it has fed already, so this only bounds how long a lost delivery waits).
const ACK_WAIT: Duration = Duration::from_secs(60);

/// The tasks of the consumer.
pub(crate) struct Consumer {
    /// Feeds the engine; ends at shutdown, before the engine's input closes.
    pub feeder: tokio::task::JoinHandle<()>,
    /// Acknowledges what was committed; ends once every fed batch is committed or abandoned.
    pub acker: tokio::task::JoinHandle<()>,
}

/// A batch fed to the engine, waiting for what it produced to be committed.
struct Fed {
    msg: async_nats::jetstream::Message,
    seq: u64,
    committed: oneshot::Receiver<()>,
    durable: oneshot::Receiver<()>,
}

/// Starts the consumer. The engine must have been told `Input::Replaying(true)` before any
/// other batch, so that it holds them (and its timers) until the state is rebuilt.
pub(crate) fn start<S: Store + Clone>(
    st: AppState<S>,
    publisher: Arc<Publisher>,
    shutdown: watch::Receiver<bool>,
) -> Consumer {
    let (fed_tx, fed_rx) = mpsc::channel(IN_FLIGHT);
    let (acked_tx, acked_rx) = watch::channel(0u64);
    let acker = tokio::spawn(ack(fed_rx, acked_tx, Arc::clone(&st.metrics)));
    let feeder = tokio::spawn(feed_forever(st, publisher, shutdown, fed_tx, acked_rx));
    Consumer { feeder, acker }
}

async fn feed_forever<S: Store + Clone>(
    st: AppState<S>,
    publisher: Arc<Publisher>,
    mut shutdown: watch::Receiver<bool>,
    fed_tx: mpsc::Sender<Fed>,
    acked: watch::Receiver<u64>,
) {
    // The last sequence the engine has taken; `None` until the state is rebuilt.
    let mut fed: Option<u64> = None;
    // While rebuilding, the last sequence replayed (a rebuild cut short by an error goes on
    // after it, never feeding a batch twice); then the position the rebuild ended at: what was
    // fed after it is acknowledged by the acker.
    let mut base = 0u64;
    let mut replayed = 0u64;
    let mut backoff = Duration::from_millis(200);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let mut run = Run {
            st: &st,
            publisher: &publisher,
            fed: &mut fed,
            base: &mut base,
            replayed: &mut replayed,
            fed_tx: &fed_tx,
            acked: acked.clone(),
        };
        match run.session(&mut shutdown).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, stream = %publisher.settings().stream, "consuming the signal stream failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(5));
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    if fed.is_none() {
        // Never rebuilt: let the engine take what it holds, so the drain commits it.
        let _ = st.send(Input::Replaying(false));
    }
}

struct Run<'a, S> {
    st: &'a AppState<S>,
    publisher: &'a Publisher,
    fed: &'a mut Option<u64>,
    base: &'a mut u64,
    /// Batches replayed by the rebuild, over every attempt.
    replayed: &'a mut u64,
    fed_tx: &'a mpsc::Sender<Fed>,
    acked: watch::Receiver<u64>,
}

impl<S: Store + Clone> Run<'_, S> {
    /// One connection's worth of consuming: rebuild (the first time), then live until
    /// shutdown (`Ok`) or an error.
    async fn session(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<(), String> {
        let mut stream = self.publisher.stream().await?;
        let state = stream
            .info()
            .await
            .map_err(|e| e.to_string())?
            .state
            .clone();
        let start = match *self.fed {
            Some(fed) => {
                // Reconnected: everything fed so far must be committed and acknowledged before
                // the consumer is made anew from the next sequence.
                let base = *self.base;
                let mut acked = self.acked.clone();
                tokio::select! {
                    _ = acked.wait_for(|a| fed <= base || *a >= fed) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                fed
            }
            None => {
                let floor = match stream.consumer_info(DURABLE).await {
                    Ok(info) => position(&info),
                    Err(e)
                        if e.kind()
                            == async_nats::jetstream::context::ConsumerInfoErrorKind::NotFound =>
                    {
                        0
                    }
                    Err(e) => return Err(format!("consumer {DURABLE}: {e}")),
                };
                self.rebuild(&stream, &state, floor, shutdown).await?;
                *self.fed = Some(floor);
                *self.base = floor;
                floor
            }
        };
        if *shutdown.borrow() {
            return Ok(());
        }
        // A gap after this is a loss; before it, the rebuild has counted it.
        let first_live = start.max(state.first_sequence.saturating_sub(1));
        // Made anew at the position: batches delivered to an earlier process and never
        // acknowledged come at once, instead of after their acknowledgement wait.
        match stream.delete_consumer(DURABLE).await {
            Ok(_) => {}
            Err(e) if e.to_string().contains("not found") => {}
            Err(e) => return Err(format!("deleting consumer {DURABLE}: {e}")),
        }
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(DURABLE.to_owned()),
                description: Some("klaxon's engine: acknowledged once committed".to_owned()),
                deliver_policy: if start == 0 {
                    DeliverPolicy::All
                } else {
                    DeliverPolicy::ByStartSequence {
                        start_sequence: start + 1,
                    }
                },
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: IN_FLIGHT as i64,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("consumer {DURABLE}: {e}"))?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(256)
            .messages()
            .await
            .map_err(|e| format!("consumer {DURABLE}: {e}"))?;
        loop {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = shutdown.changed() => return Ok(()),
            };
            let msg = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(format!("consumer {DURABLE}: {e}")),
                None => return Err(format!("consumer {DURABLE}: the message stream ended")),
            };
            let seq = msg.info().map_err(|e| e.to_string())?.stream_sequence;
            if self.fed.is_some_and(|f| seq <= f) {
                // Delivered again while its first delivery waits for its commit.
                continue;
            }
            if let Some(f) = *self.fed {
                if seq > f + 1 && f >= first_live {
                    // The stream's limits dropped batches the engine had not taken yet.
                    let gap = seq - f - 1;
                    self.st.metrics.stream.lost.fetch_add(gap, Relaxed);
                    tracing::error!(
                        from = f + 1,
                        to = seq - 1,
                        "batches of the signal stream were dropped by its limits before the engine took them: the engine falls behind by more than the stream's window"
                    );
                }
            }
            let (committed, durable) = match codec::decode(msg.headers.as_ref(), &msg.payload) {
                Ok(batch) => match feed(self.st, batch, false).await {
                    Some(waits) => waits,
                    None => return Ok(()),
                },
                Err(e) => {
                    self.st.metrics.stream.undecodable.fetch_add(1, Relaxed);
                    tracing::warn!(seq, error = %e, "a message of the signal stream is not a batch of signals; skipped");
                    done_now()
                }
            };
            *self.fed = Some(seq);
            self.st.metrics.stream.applied.fetch_add(1, Relaxed);
            let fed = Fed {
                msg,
                seq,
                committed,
                durable,
            };
            if self.fed_tx.send(fed).await.is_err() {
                return Ok(());
            }
        }
    }

    /// Replays the stream from its first batch through `floor` into the engine with its
    /// outputs discarded, then lets the engine go live; logs and counts what it did.
    async fn rebuild(
        &mut self,
        stream: &stream::Stream,
        state: &stream::State,
        floor: u64,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), String> {
        let began = Instant::now();
        let first = state.first_sequence;
        let from = first.max(*self.base + 1);
        // With batches dropped before the window: the runs the window shows without their start.
        let mut orphans = (first > 1).then(Orphans::default);
        if state.messages > 0 && floor >= from {
            let replay = stream
                .create_consumer(pull::OrderedConfig {
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: from,
                    },
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("replay consumer: {e}"))?;
            let mut messages = replay
                .messages()
                .await
                .map_err(|e| format!("replay consumer: {e}"))?;
            while let Some(m) = messages.next().await {
                if *shutdown.borrow() {
                    return Ok(());
                }
                let m = m.map_err(|e| format!("replaying: {e}"))?;
                let info = m.info().map_err(|e| e.to_string())?;
                let (seq, pending) = (info.stream_sequence, info.pending);
                if seq > floor {
                    break;
                }
                match codec::decode(m.headers.as_ref(), &m.payload) {
                    Ok(batch) => {
                        if let Some(o) = &mut orphans {
                            o.see(&batch.signals);
                        }
                        if feed(self.st, batch, true).await.is_none() {
                            return Ok(());
                        }
                        *self.replayed += 1;
                    }
                    Err(e) => {
                        self.st.metrics.stream.undecodable.fetch_add(1, Relaxed);
                        tracing::warn!(seq, error = %e, "a message of the signal stream is not a batch of signals; not replayed");
                    }
                }
                *self.base = seq;
                if seq >= floor || pending == 0 {
                    break;
                }
            }
        }
        // What the window no longer holds: batches before its first were dropped by the
        // stream's limits (age, bytes); those up to `floor` had been applied (their alerts are
        // committed) but the state they built (open runs, marks, baselines folded since the
        // last save) is not in the replay; those after `floor` were never applied.
        let dropped = first.saturating_sub(1);
        let lost_unapplied = first.saturating_sub(floor + 1);
        let truncated = dropped > 0;
        let before_window = orphans.as_ref().map_or(0, |o| o.orphans.len());
        let replayed = *self.replayed;
        let m = &self.st.metrics.stream;
        m.replayed.store(replayed, Relaxed);
        m.runs_before_window.store(before_window as u64, Relaxed);
        m.replay_truncated.store(u64::from(truncated), Relaxed);
        m.lost.store(lost_unapplied, Relaxed);
        if truncated {
            tracing::warn!(
                replayed,
                first_sequence = first,
                dropped_before_window = dropped,
                never_applied = lost_unapplied,
                runs_begun_before_window = before_window,
                "engine state rebuilt from the signal stream, whose window starts after its beginning: state built by the {dropped} dropped batches (runs opened, marks and traces begun) is lost"
            );
        } else {
            tracing::info!(
                replayed,
                through = floor,
                ms = began.elapsed().as_millis() as u64,
                "engine state rebuilt from the signal stream"
            );
        }
        self.st
            .send(Input::Replaying(false))
            .map_err(|e| e.message)?;
        Ok(())
    }
}

/// The stream sequence up to which everything is committed: the ack floor, or, while a
/// consumer made anew has acknowledged nothing yet, the sequence before the one it was made
/// to start at (JetStream reports an ack floor of 0 then).
fn position(info: &async_nats::jetstream::consumer::Info) -> u64 {
    if info.ack_floor.consumer_sequence > 0 {
        return info.ack_floor.stream_sequence;
    }
    match info.config.deliver_policy {
        DeliverPolicy::ByStartSequence { start_sequence } => start_sequence.saturating_sub(1),
        _ => 0,
    }
}

/// The runs a replay shows signals of but not their start (counted up to a bound): when
/// batches were dropped before the window, these are the runs whose state is incomplete.
#[derive(Default)]
struct Orphans {
    started: HashSet<String>,
    orphans: HashSet<String>,
}

impl Orphans {
    /// Runs remembered at most, each set: beyond, the count says "at least".
    const MAX: usize = 100_000;

    fn see(&mut self, signals: &[klaxon_engine::Signal]) {
        for s in signals {
            match s.body {
                Body::Metric(_) => {}
                Body::ProcessStart(_) => {
                    if self.started.len() < Self::MAX {
                        self.started.insert(s.process.clone());
                    }
                }
                _ => {
                    if self.orphans.len() < Self::MAX && !self.started.contains(&s.process) {
                        self.orphans.insert(s.process.clone());
                    }
                }
            }
        }
    }
}

/// Receivers already answered: for a message that carried nothing to evaluate.
fn done_now() -> (oneshot::Receiver<()>, oneshot::Receiver<()>) {
    let (a, ra) = oneshot::channel();
    let (b, rb) = oneshot::channel();
    let _ = a.send(());
    let _ = b.send(());
    (ra, rb)
}

/// Hands a batch to the engine at the time it was accepted, waiting for room in its queue;
/// returns what to wait for before acknowledging it (for a replayed batch, nothing), or
/// `None` once the engine has stopped.
async fn feed<S: Store + Clone>(
    st: &AppState<S>,
    batch: SignalBatch,
    replay: bool,
) -> Option<(oneshot::Receiver<()>, oneshot::Receiver<()>)> {
    let n = batch.signals.len();
    if n == 0 {
        return Some(done_now());
    }
    let bytes = n * std::mem::size_of::<klaxon_engine::Signal>();
    let room_n = u32::try_from(n.min(st.config.ingest.queue_signals)).unwrap_or(u32::MAX);
    let permit = loop {
        if let Some(p) = st.room_within(room_n, bytes, Duration::from_secs(1)).await {
            break p;
        }
        if *st.shutdown.borrow() && st.engine.lock().map_or(true, |g| g.is_none()) {
            return None;
        }
    };
    let (depth, held) = (
        i64::try_from(n).unwrap_or(0),
        i64::try_from(permit.bytes()).unwrap_or(0),
    );
    st.metrics.queue_depth.fetch_add(depth, Relaxed);
    st.metrics.queue_bytes.fetch_add(held, Relaxed);
    let (committed_tx, committed) = oneshot::channel();
    let (durable_tx, durable) = oneshot::channel();
    let input = Input::Batch(Batch {
        signals: batch.signals,
        received_at: batch.accepted_ms,
        accepted: Instant::now(),
        durable: (!replay).then_some(durable_tx),
        permit,
        in_time: batch.in_time,
        at: Some(batch.accepted_ms),
        replay,
        committed: (!replay).then_some(committed_tx),
    });
    if st.send(input).is_err() {
        st.metrics.queue_depth.fetch_sub(depth, Relaxed);
        st.metrics.queue_bytes.fetch_sub(held, Relaxed);
        return None;
    }
    Some((committed, durable))
}

/// Acknowledges fed batches in order, each once its alerts are committed and its telemetry
/// durable; a batch whose pipeline stopped first is left unacknowledged (it is applied again
/// after a restart).
async fn ack(
    mut rx: mpsc::Receiver<Fed>,
    acked: watch::Sender<u64>,
    metrics: Arc<crate::metrics::Metrics>,
) {
    while let Some(f) = rx.recv().await {
        let committed = f.committed.await.is_ok() && f.durable.await.is_ok();
        if !committed {
            continue;
        }
        if let Err(e) = f.msg.ack().await {
            tracing::warn!(seq = f.seq, error = %e, "acknowledging a batch of the signal stream failed; it is applied again after a restart");
        }
        metrics.stream.acked.store(f.seq, Relaxed);
        acked.send_replace(f.seq);
    }
}
