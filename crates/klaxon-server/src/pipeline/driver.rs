//! The engine driver: one thread owns the engine, feeds it batches with wall-clock time, wakes
//! for timers at `next_deadline()`, and hands alerts to the publisher and telemetry rows to the
//! telemetry writer. Owns no HTTP and no SQL.

use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_engine::threshold::{ThresholdEngine, ThresholdEvent, ThresholdRuleSet};
use klaxon_engine::{Alert, BaselineRecord, Body, Engine, Labels, Outcome, RuleSet, Signal};
use klaxon_store::TelemetryRow;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use crate::budget::ByteBudget;
use crate::clock::wall_ms;
use crate::metrics::Metrics;

/// Signals accepted by one ingest request (or one chunk of a streamed one).
pub(crate) struct Batch {
    pub signals: Vec<Signal>,
    /// Server time the request was received (epoch ms), stored with each telemetry row.
    pub received_at: i64,
    pub accepted: Instant,
    /// Answered once the batch's telemetry is durable (`?wait=durable`).
    pub durable: Option<oneshot::Sender<()>>,
    /// Queue room held until the engine has evaluated the batch.
    pub permit: Room,
    /// The signals are sorted by time and may come late (OTLP): evaluated with
    /// `Engine::process_in_time`, timers firing between them at the signals' own times.
    pub in_time: bool,
    /// The engine's time for the batch (the time a stream batch was accepted); `None`: the
    /// wall clock.
    pub at: Option<i64>,
    /// Replayed to rebuild the engine's state: what it emits (alerts, threshold events,
    /// telemetry rows) was committed before and is discarded.
    pub replay: bool,
    /// Answered once the alerts the engine emitted up to and including this batch are
    /// committed (a barrier through the lifecycle manager).
    pub committed: Option<oneshot::Sender<()>>,
}

/// Room in the engine queue, in signals and in bytes, given back when the batch is evaluated.
pub(crate) struct Room {
    /// Held for its drop: the signals' places in the queue.
    pub _signals: OwnedSemaphorePermit,
    pub bytes: OwnedSemaphorePermit,
}

impl Room {
    /// The bytes it holds.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.num_permits()
    }
}

/// What the engine thread is asked to do.
pub(crate) enum Input {
    Batch(Batch),
    /// Activate a rule set in a group, in order with the signals around it.
    Activate {
        group: String,
        name: String,
        version: i64,
        set: Box<RuleSet>,
        done: oneshot::Sender<()>,
    },
    /// Activate a threshold rule set in a group, in order with the samples around it.
    ActivateThreshold {
        group: String,
        name: String,
        version: i64,
        set: Box<ThresholdRuleSet>,
        done: oneshot::Sender<()>,
    },
    /// Restore persisted baselines (at start, before any signal).
    Restore(Vec<BaselineRecord>),
    /// Threshold alerts that were firing before a restart (at start, after activation), so
    /// that they resolve when their condition is found false.
    RestoreFiring(Vec<FiringBefore>),
    /// `true`: the state is being rebuilt from the signal stream: only replayed batches are
    /// evaluated, others wait, and no timer fires by the wall clock. `false`: live again; the
    /// batches that waited are evaluated, then timers due by the wall clock fire.
    Replaying(bool),
}

/// A threshold alert firing before a restart: its rule, its series and since when.
pub(crate) struct FiringBefore {
    pub group: String,
    pub rule_id: String,
    pub labels: Labels,
    pub since: i64,
}

/// Alerts the engines emitted, with the time their signal was accepted.
pub(crate) struct Fired {
    pub alerts: Vec<Alert>,
    /// State changes of threshold alerts, in the order they happened.
    pub threshold: Vec<ThresholdEvent>,
    pub accepted: Instant,
    /// When the engine handed them over (before waiting for room in the channel).
    pub handed: Instant,
    /// Answered once these alerts, and all handed over before them, are committed.
    pub committed: Option<oneshot::Sender<()>>,
}

/// Telemetry rows of one batch, on their way to the disk.
pub(crate) struct Rows {
    pub rows: Vec<TelemetryRow>,
    /// What the rows take of the buffer's byte budget, given back once they are written.
    pub bytes: usize,
    pub accepted: Instant,
    pub durable: Option<oneshot::Sender<()>>,
}

/// Where the engine thread sends its results.
pub(crate) struct Outputs {
    /// The lifecycle manager.
    /// The lifecycle manager (bounded: when it falls behind, the engine waits).
    pub fired: mpsc::Sender<Fired>,
    /// `None` when telemetry is off.
    pub rows: Option<mpsc::Sender<Rows>>,
    /// The telemetry buffer's bytes (`[telemetry] buffer_bytes`): the engine waits for room.
    pub rows_budget: Arc<ByteBudget>,
    pub baselines: mpsc::UnboundedSender<Vec<BaselineRecord>>,
    pub baseline_every: Duration,
    pub metrics: Arc<Metrics>,
    /// Wall-clock ms of the last loop, for readiness.
    pub heartbeat: Arc<AtomicI64>,
}

/// Runs the engine until the input channel closes; then saves baselines and returns.
pub(crate) fn run(rx: Receiver<Input>, out: Outputs) {
    let mut engine = Engine::new();
    let mut thresholds = ThresholdEngine::new();
    let mut alerts: Vec<Alert> = Vec::with_capacity(1024);
    let mut events: Vec<ThresholdEvent> = Vec::new();
    let mut last_save = Instant::now();
    let mut replaying = false;
    // Batches that came while the state was being rebuilt (bounded by the ingest queue).
    let mut waiting: Vec<Batch> = Vec::new();
    loop {
        out.heartbeat.store(wall_ms(), Relaxed);
        let deadline = match (engine.next_deadline(), thresholds.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = match deadline {
            // Strictly past the deadline: one millisecond after it.
            Some(d) => {
                Duration::from_millis(u64::try_from(d.saturating_add(1) - wall_ms()).unwrap_or(0))
            }
            None => Duration::from_millis(500),
        }
        .min(Duration::from_millis(500));
        match rx.recv_timeout(timeout) {
            Ok(Input::Batch(b)) if replaying && !b.replay => waiting.push(b),
            Ok(Input::Batch(b)) => {
                let mut engines = Engines {
                    events: &mut engine,
                    thresholds: &mut thresholds,
                };
                evaluate(&mut engines, b, &mut alerts, &mut events, &out);
            }
            Ok(Input::Replaying(on)) => {
                replaying = on;
                if !on {
                    let mut engines = Engines {
                        events: &mut engine,
                        thresholds: &mut thresholds,
                    };
                    for b in waiting.drain(..) {
                        evaluate(&mut engines, b, &mut alerts, &mut events, &out);
                    }
                }
            }
            Ok(Input::ActivateThreshold {
                group,
                name,
                version,
                set,
                done,
            }) => {
                thresholds.activate(&group, &name, Some(version.into()), &set, &mut events);
                let _ = done.send(());
            }
            Ok(Input::RestoreFiring(firing)) => {
                let now = wall_ms();
                for f in &firing {
                    thresholds.restore_firing(now, &f.group, &f.rule_id, &f.labels, f.since);
                }
            }
            Ok(Input::Activate {
                group,
                name,
                version,
                set,
                done,
            }) => {
                engine.activate(&group, &name, Some(version.into()), &set);
                let _ = done.send(());
            }
            Ok(Input::Restore(records)) => {
                for r in &records {
                    engine.restore_baseline(r);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let mut engines = Engines {
                    events: &mut engine,
                    thresholds: &mut thresholds,
                };
                for b in waiting.drain(..) {
                    evaluate(&mut engines, b, &mut alerts, &mut events, &out);
                }
                break;
            }
        }
        if !replaying {
            let now = wall_ms();
            engine.advance(now, &mut alerts);
            thresholds.advance(now, &mut events);
            hand_over(&out, &mut alerts, &mut events, Instant::now(), None);
        }
        let ts = thresholds.stats();
        out.metrics
            .samples_evaluated
            .store(ts.samples_evaluated, Relaxed);
        out.metrics.samples_dropped.store(
            ts.samples_no_rule + ts.samples_out_of_order + ts.samples_series_limit,
            Relaxed,
        );
        out.metrics.threshold_events.store(ts.events, Relaxed);
        out.metrics
            .threshold_series
            .store(ts.series as u64, Relaxed);
        out.metrics
            .threshold_firing
            .store(ts.firing as u64, Relaxed);
        let st = engine.stats();
        out.metrics
            .open_processes
            .store(st.open_processes as u64, Relaxed);
        out.metrics.alerts_throttled.store(st.throttled, Relaxed);
        out.metrics
            .trace_stops_ignored
            .store(st.ignored_trace_stops, Relaxed);
        out.metrics.timers_fired.store(st.timers_fired, Relaxed);
        if last_save.elapsed() >= out.baseline_every {
            last_save = Instant::now();
            let _ = out.baselines.send(engine.baselines());
        }
    }
    let _ = out.baselines.send(engine.baselines());
}

/// The two engines the thread owns.
struct Engines<'a> {
    events: &'a mut Engine,
    thresholds: &'a mut ThresholdEngine,
}

fn evaluate(
    engines: &mut Engines<'_>,
    b: Batch,
    alerts: &mut Vec<Alert>,
    events: &mut Vec<ThresholdEvent>,
    out: &Outputs,
) {
    let started = Instant::now();
    let now = b.at.unwrap_or_else(wall_ms);
    let n = b.signals.len();
    out.metrics
        .engine_queue_wait
        .observe_n(started.saturating_duration_since(b.accepted), n as u64);
    let keep_rows = out.rows.is_some() && !b.replay;
    let mut rows = Vec::with_capacity(if keep_rows { n } else { 0 });
    if b.in_time {
        engines.events.advance(now, alerts);
    }
    for s in &b.signals {
        if let Body::Metric(m) = &s.body {
            engines.thresholds.process(now, s.ts, m, events);
            continue;
        }
        let outcome = if b.in_time {
            engines.events.process_in_time(s, alerts)
        } else {
            engines.events.process(now, s, alerts)
        };
        if keep_rows && !outcome.ignored {
            rows.extend(row(s, &outcome, b.received_at));
        }
    }
    if b.in_time {
        engines.events.advance(now, alerts);
    }
    out.metrics
        .queue_bytes
        .fetch_sub(i64::try_from(b.permit.bytes()).unwrap_or(0), Relaxed);
    drop(b.permit);
    out.metrics
        .queue_depth
        .fetch_sub(i64::try_from(n).unwrap_or(0), Relaxed);
    if n > 0 {
        out.metrics.engine_latency.observe_n(
            started.elapsed() / u32::try_from(n).unwrap_or(u32::MAX),
            n as u64,
        );
    }
    if b.replay {
        // Committed when the batch was first evaluated.
        alerts.clear();
        events.clear();
        return;
    }
    hand_over(out, alerts, events, b.accepted, b.committed);
    match &out.rows {
        Some(tx) => {
            let bytes = rows.iter().map(row_bytes).sum();
            // Blocks when the disk falls behind (the buffer is full in bytes or in rows): the
            // engine stops taking batches, the queue fills, and ingest answers 429.
            out.rows_budget.take_blocking(bytes);
            out.metrics
                .telemetry_buffered
                .fetch_add(i64::try_from(rows.len()).unwrap_or(0), Relaxed);
            out.metrics
                .telemetry_buffered_bytes
                .fetch_add(i64::try_from(bytes).unwrap_or(0), Relaxed);
            let _ = tx.blocking_send(Rows {
                rows,
                bytes,
                accepted: b.accepted,
                durable: b.durable,
            });
        }
        None => {
            if let Some(d) = b.durable {
                let _ = d.send(());
            }
        }
    }
}

/// Hands what the engines emitted to the lifecycle manager; waits while its channel is full.
/// With `committed`, hands over even nothing, so that it is answered after the commit.
fn hand_over(
    out: &Outputs,
    alerts: &mut Vec<Alert>,
    events: &mut Vec<ThresholdEvent>,
    accepted: Instant,
    committed: Option<oneshot::Sender<()>>,
) {
    if !alerts.is_empty() || !events.is_empty() || committed.is_some() {
        let _ = out.fired.blocking_send(Fired {
            alerts: std::mem::take(alerts),
            threshold: std::mem::take(events),
            accepted,
            handed: Instant::now(),
            committed,
        });
    }
}

/// What a row takes in memory: the row and the text it owns.
fn row_bytes(r: &TelemetryRow) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    std::mem::size_of::<TelemetryRow>()
        + match r {
            TelemetryRow::Process {
                process,
                name,
                group,
                info,
                ..
            } => process.len() + text(name) + text(group) + text(info),
            TelemetryRow::Mark {
                process,
                action,
                context,
                ..
            }
            | TelemetryRow::Trace {
                process,
                action,
                context,
                ..
            } => process.len() + action.len() + text(context),
            TelemetryRow::Log {
                process,
                level,
                message,
                ..
            } => process.len() + level.len() + message.len(),
        }
}

/// The telemetry row of a signal; `None` for a metric sample (samples are not stored: the
/// threshold engine keeps the windows its rules need in memory).
fn row(s: &Signal, o: &Outcome, received_at: i64) -> Option<TelemetryRow> {
    let process = s.process.clone();
    let ts = o.ts;
    Some(match &s.body {
        Body::ProcessStart(f) | Body::ProcessUpdate(f) | Body::ProcessStop(f) => {
            TelemetryRow::Process {
                kind: match s.body {
                    Body::ProcessStart(_) => "start",
                    Body::ProcessUpdate(_) => "update",
                    _ => "stop",
                },
                process,
                name: s.name.clone(),
                group: s.group.clone(),
                status: f.status,
                info: f.info.clone(),
                steps_todo: f.steps_todo,
                steps_done: f.steps_done.or(f.step_done),
                ts,
                received_at,
            }
        }
        Body::Mark(m) => TelemetryRow::Mark {
            process,
            action: m.action.clone(),
            context: m.context.clone(),
            ts,
            used_ms: o.used_ms.unwrap_or(0),
            action_count: o.action_count,
            received_at,
        },
        Body::TraceStart(m) | Body::TraceStop(m) => TelemetryRow::Trace {
            process,
            action: m.action.clone(),
            context: m.context.clone(),
            kind: if matches!(s.body, Body::TraceStart(_)) {
                "start"
            } else {
                "stop"
            },
            ts,
            used_ms: o.used_ms,
            action_count: o.action_count,
            received_at,
        },
        Body::Log(l) => TelemetryRow::Log {
            process,
            level: l.level.as_str().to_owned(),
            message: l.message.clone(),
            ts,
            received_at,
        },
        Body::Metric(_) => return None,
    })
}
