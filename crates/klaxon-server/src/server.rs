//! A started server: `Server::start` wires the pipeline (engine thread, lifecycle manager,
//! publish hub, notification dispatcher and workers, telemetry writer, collector) and loads
//! what survives a restart; `Server::serve` serves HTTP; `Server::drain` shuts down in order.

use std::future::Future;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use klaxon_engine::lifecycle::State;
use klaxon_store::Store;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch, Semaphore};

use crate::auth::session;
use crate::auth::token::ensure_admin;
use crate::auth::Auth;
use crate::budget::ByteBudget;
use crate::clock::wall_ms;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::driver::{self, Input, Outputs};
use crate::pipeline::lifecycle::{self, LifecycleSettings};
use crate::pipeline::notify::{self, NotifyHandle};
use crate::pipeline::{collector, probe, publish, telemetry};
use crate::state::{AppState, Shared};

/// A started server: the engine thread and the background tasks run, the HTTP side not yet.
pub struct Server<S> {
    state: AppState<S>,
    engine_thread: std::thread::JoinHandle<()>,
    publisher: std::thread::JoinHandle<()>,
    writer: Option<tokio::task::JoinHandle<()>>,
    saver: tokio::task::JoinHandle<()>,
    retention: Option<tokio::task::JoinHandle<()>>,
    /// Deletes expired dashboard sessions.
    sweeper: tokio::task::JoinHandle<()>,
    /// Pings a store whose writes fail until one commits.
    probe: tokio::task::JoinHandle<()>,
    hub_task: tokio::task::JoinHandle<()>,
    collector: Option<tokio::task::JoinHandle<()>>,
    shutdown_tx: watch::Sender<bool>,
    /// Releases OTLP spans that waited their time for a root span (all of them at shutdown).
    otlp_release: tokio::task::JoinHandle<()>,
    notifications: Option<NotifyTasks>,
    rows_budget: Option<Arc<ByteBudget>>,
    /// With `[cluster] nats`: the consumer of the signal stream, which feeds the engine.
    stream: Option<crate::jetstream::consume::Consumer>,
}

/// The notification tasks.
struct NotifyTasks {
    /// Questions to the dispatcher about an alert (`GET /alerts/{id}`).
    queries: tokio::sync::mpsc::UnboundedSender<notify::dispatch::Query>,
    dispatcher: tokio::task::JoinHandle<()>,
    workers: notify::deliver::Workers,
    stop: watch::Sender<bool>,
    stop_workers: watch::Sender<bool>,
    retention: Option<tokio::task::JoinHandle<()>>,
}

impl<S: Store + Clone> Server<S> {
    /// Ensures an admin token, starts the engine thread with the persisted baselines and the
    /// active rule sets, and the publisher, telemetry, baseline and retention tasks.
    pub async fn start(config: Config, store: S) -> anyhow::Result<Server<S>> {
        let admin = config.admin_token.as_ref().map(|s| s.0.as_str());
        store
            .change_people(config.declared_people(wall_ms()), Vec::new())
            .await
            .context("declaring the users, teams and schedules of the configuration file")?;
        store
            .change_people(
                klaxon_store::PeopleChange::DeclarePolicies(crate::escalation::declared(
                    &config,
                    wall_ms(),
                )),
                Vec::new(),
            )
            .await
            .context("declaring the escalation policies of the configuration file")?;
        {
            // A route may name a policy made through the API.
            let made: std::collections::HashSet<String> = (store.list_policies().await?)
                .into_iter()
                .map(|p| p.name)
                .collect();
            let unknown = config.unknown_route_policies(&|n| made.contains(n));
            if !unknown.is_empty() {
                anyhow::bail!("configuration: {}", unknown.join("; "));
            }
        }
        let oncall = Arc::new(crate::oncall::OnCall::default());
        oncall
            .reload(&store)
            .await
            .context("loading the on-call schedules")?;
        if let Some(path) = ensure_admin(&store, admin, &config.data_dir, wall_ms()).await? {
            tracing::warn!(
                file = %path.display(),
                "no admin token configured: generated one and wrote it to {} (mode 0600)",
                path.display()
            );
        }
        let metrics = Arc::new(Metrics::default());
        let heartbeat = Arc::new(AtomicI64::new(wall_ms()));
        let (engine_tx, engine_rx) = std::sync::mpsc::channel::<Input>();
        let (fired_tx, fired_rx) = mpsc::channel(FIRED_BATCHES);
        let (api_tx, api_rx) = mpsc::channel(config.lifecycle.queue_commands);
        let (base_tx, mut base_rx) = mpsc::unbounded_channel();
        let (rows_tx, rows_rx) = if config.telemetry.enabled {
            let (tx, rx) = mpsc::channel(64.max(config.telemetry.buffer_rows / CHUNK_ROWS));
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let rows_budget = Arc::new(ByteBudget::new(config.telemetry.buffer_bytes));
        let outputs = Outputs {
            fired: fired_tx,
            rows: rows_tx,
            rows_budget: Arc::clone(&rows_budget),
            baselines: base_tx,
            baseline_every: Duration::from_secs(config.engine.baseline_save_seconds.max(1)),
            metrics: Arc::clone(&metrics),
            heartbeat: Arc::clone(&heartbeat),
        };
        let engine_thread = std::thread::Builder::new()
            .name("klaxon-engine".into())
            .spawn(move || driver::run(engine_rx, outputs))
            .context("starting the engine thread")?;

        // Warm-up survives a restart; the active sets are in effect before the first signal.
        engine_tx
            .send(Input::Restore(store.load_baselines().await?))
            .ok();
        let mut loaded = Vec::new();
        let mut rule_auto = std::collections::HashMap::new();
        for rec in store.active_rule_sets().await? {
            match crate::api::rulesets::validate(rec.kind, &rec.json) {
                Ok(doc) => {
                    if let crate::api::rulesets::Doc::Event(parsed) = &doc {
                        for r in &parsed.set.rules {
                            if let Some(ms) = r.auto_resolve_ms {
                                rule_auto.insert((rec.group.clone(), r.id.clone()), ms as i64);
                            }
                        }
                    }
                    let (done, wait) = tokio::sync::oneshot::channel();
                    engine_tx
                        .send(crate::api::rulesets::activation(&rec, doc, done))
                        .ok();
                    let _ = wait.await;
                    loaded.push(format!(
                        "{} {}/{} v{}",
                        rec.kind.as_str(),
                        rec.group,
                        rec.name,
                        rec.version
                    ));
                }
                Err(e) => tracing::error!(
                    kind = rec.kind.as_str(), group = %rec.group, name = %rec.name,
                    version = rec.version, error = %e.message,
                    "stored active rule set no longer parses; not loaded"
                ),
            }
        }
        if !loaded.is_empty() {
            tracing::info!(sets = %loaded.join(", "), "active rule sets loaded");
        }
        let (firing, stale_pending) = threshold_alerts_before(&store).await?;
        if !firing.is_empty() {
            engine_tx.send(Input::RestoreFiring(firing)).ok();
        }
        // With the signal stream, the engine's state is rebuilt from it before anything else
        // is evaluated and before any timer fires (the consumer ends the replay).
        let signal_stream = match crate::jetstream::StreamSettings::of(&config.cluster) {
            Some((url, settings)) => {
                engine_tx.send(Input::Replaying(true)).ok();
                let p = crate::jetstream::Publisher::connect(&url, settings)
                    .await
                    .with_context(|| format!("cluster.nats: {url}"))?;
                Some(Arc::new(p))
            }
            None => None,
        };

        let (changes_tx, changes_rx) = broadcast::channel(16_384);
        let hub = publish::Hub::new(wall_ms(), HUB_CAPACITY);
        let hub_task = tokio::spawn(Arc::clone(&hub).run(changes_rx));
        let lc = &config.lifecycle;
        let settings = LifecycleSettings {
            reopen_window_ms: secs_ms(lc.reopen_window_seconds),
            close_after_ms: secs_ms(lc.close_after_seconds),
            rule_auto_resolve_ms: (lc.rule_auto_resolve_seconds > 0)
                .then(|| secs_ms(lc.rule_auto_resolve_seconds)),
            resolve_timeout_ms: secs_ms(lc.resolve_timeout_seconds),
        };
        // Compiled once, for the lifecycle: the one owner of muting.
        let controls = config
            .noise()
            .map_err(|e| anyhow::anyhow!("configuration: {}", e.join("; ")))?;
        let correlator = config
            .correlator()
            .map_err(|e| anyhow::anyhow!("configuration: {}", e.join("; ")))?;
        let notifier = Arc::new(
            config
                .notifier()
                .map_err(|e| anyhow::anyhow!(e.join("; ")))?,
        );
        let mut escalations = config
            .escalations()
            .map_err(|e| anyhow::anyhow!("configuration: {}", e.join("; ")))?;
        // The pager follows the stored policies (declared and made through the API), and the
        // users they page get their receivers.
        let paging = crate::escalation::Paging::default();
        let catalog = paging
            .refresh(&store, &config, &notifier, &oncall)
            .await
            .context("loading the escalation policies")?
            .catalog;
        escalations.policies = catalog.policies;
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let (incidents_tx, incidents_rx) = tokio::sync::watch::channel(0u64);
        let manager = lifecycle::Manager::load(
            store.clone(),
            settings,
            lifecycle::Outputs {
                changes: changes_tx.clone(),
                metrics: Arc::clone(&metrics),
                incidents: incidents_tx,
                outbox: Arc::clone(&outbox_wake),
            },
            &rule_auto,
            controls,
            correlator,
            lifecycle::Paging {
                escalations,
                notifier: Arc::clone(&notifier),
                teams: catalog.teams,
                oncall: Arc::clone(&oncall),
            },
        )
        .await
        .context("loading the open alerts")?;
        let content_keys = manager.content_keys();
        let (pushed, _) = broadcast::channel(4096);
        let mut policy_errors = Vec::new();
        let policy = Arc::new(config.notify.outbound(&mut policy_errors));
        if !policy_errors.is_empty() {
            anyhow::bail!("configuration: {}", policy_errors.join("; "));
        }
        if let Ok(own) = config.listen.parse() {
            policy.add_own(own);
        }
        let channel_health = Arc::new(notify::health::Health::new(&notifier));
        let external_url = config.external_url();
        let notifications = if notifier.enabled() {
            Some(
                start_notifications(
                    &config,
                    store.clone(),
                    Arc::clone(&notifier),
                    pushed.clone(),
                    external_url.clone(),
                    Arc::clone(&metrics),
                    (Arc::clone(&policy), Arc::clone(&channel_health)),
                    changes_tx.subscribe(),
                    api_tx.downgrade(),
                    outbox_wake,
                )
                .await?,
            )
        } else {
            None
        };
        // Its own thread and runtime: a busy ingest (NDJSON parsing on the runtime's workers)
        // never delays a commit or a publish.
        let publisher = std::thread::Builder::new()
            .name("klaxon-lifecycle".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(manager.run(fired_rx, api_rx)),
                    Err(e) => tracing::error!(error = %e, "cannot start the lifecycle runtime"),
                }
            })
            .context("starting the lifecycle thread")?;
        // Pending threshold alerts do not survive a restart in the engine (their `for` starts
        // over from new samples), so their open alerts end here instead of waiting forever.
        for id in stale_pending {
            let (reply, _) = tokio::sync::oneshot::channel();
            let _ = api_tx
                .send(lifecycle::Command::Act {
                    id,
                    act: lifecycle::Act::Resolve,
                    actor: "system".to_owned(),
                    reason: "restart: a pending threshold alert starts over from new samples"
                        .to_owned(),
                    reply,
                })
                .await;
        }
        let writer = rows_rx.map(|rx| {
            let flush = Duration::from_millis(config.telemetry.flush_interval_ms);
            tokio::spawn(telemetry::run(
                store.clone(),
                rx,
                flush,
                Arc::clone(&metrics),
                Arc::clone(&rows_budget),
            ))
        });
        let saver = {
            let store = store.clone();
            tokio::spawn(async move {
                while let Some(b) = base_rx.recv().await {
                    if let Err(e) = store.save_baselines(b).await {
                        tracing::warn!(error = %e, "saving baselines failed");
                    }
                }
            })
        };
        let retention =
            (config.telemetry.enabled && config.telemetry.retention_hours > 0).then(|| {
                let keep = Duration::from_secs(config.telemetry.retention_hours * 3600);
                tokio::spawn(telemetry::retention(store.clone(), keep))
            });
        let session_ms = config.dashboard.session_hours.saturating_mul(3_600_000);
        let auth = Auth::new(store.clone(), i64::try_from(session_ms).unwrap_or(i64::MAX));
        auth.import_legacy_sessions(&config.data_dir, wall_ms())
            .await;
        let sweeper = tokio::spawn(session::sweep(store.clone()));
        let probe = tokio::spawn(probe::run(store.clone()));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(config.ingest.queue_signals));
        let queue_bytes = Arc::new(Semaphore::new(config.ingest.queue_bytes));
        let otlp_rates = Mutex::new(crate::otlp::Rates::new(config.otlp.max_rate_series));
        let otlp_hold = Mutex::new(crate::otlp::Hold::new(
            config.otlp.hold_signals,
            i64::try_from(config.otlp.hold_seconds * 1000).unwrap_or(i64::MAX),
        ));
        let shared = Arc::new(Shared {
            otlp_rates,
            otlp_hold,
            auth,
            config,
            store,
            engine: Mutex::new(Some(engine_tx)),
            permits,
            queue_bytes,
            metrics,
            hub,
            incidents: incidents_rx,
            lifecycle: Mutex::new(Some(api_tx)),
            content_keys,
            shutdown: shutdown_rx,
            engine_heartbeat: heartbeat,
            notify: Arc::new(NotifyHandle {
                notifier,
                health: channel_health,
                policy,
                pushed,
                external_url,
                queries: notifications.as_ref().map(|n| n.queries.clone()),
            }),
            oncall,
            paging,
            publisher: signal_stream,
        });
        let state = AppState { inner: shared };
        let telemetry_on = state.config.telemetry.enabled;
        let collector = state.config.collector.enabled.then(|| {
            let c = &state.config.collector;
            tokio::spawn(collector::run(
                state.clone(),
                c.host.clone().unwrap_or_else(collector::host_name),
                state.config.data_dir.clone(),
                Duration::from_secs(c.interval_seconds),
                state.shutdown.clone(),
            ))
        });
        let otlp_release = tokio::spawn(crate::api::otlp::release_held(
            state.clone(),
            state.shutdown.clone(),
        ));
        let stream = state
            .publisher
            .clone()
            .map(|p| crate::jetstream::consume::start(state.clone(), p, state.shutdown.clone()));
        Ok(Server {
            state,
            collector,
            otlp_release,
            engine_thread,
            publisher,
            writer,
            saver,
            retention,
            sweeper,
            probe,
            hub_task,
            shutdown_tx,
            notifications,
            rows_budget: telemetry_on.then_some(rows_budget),
            stream,
        })
    }

    /// Room in the ingest queue, in signals: a test that holds it all sees ingest answer 429.
    pub fn ingest_permits(&self) -> Arc<Semaphore> {
        Arc::clone(&self.state.permits)
    }

    /// The telemetry buffer's byte budget: a test that takes it all holds the engine back as
    /// a disk that stopped writing would; not API.
    #[doc(hidden)]
    pub fn telemetry_budget(&self) -> Option<Arc<ByteBudget>> {
        self.rows_budget.clone()
    }

    /// Begins the shutdown `serve` begins when its future completes: streams end, background
    /// tasks stop taking work; [`Server::drain`] then waits for them.
    pub(crate) fn shutdown_sender(&self) -> watch::Sender<bool> {
        self.shutdown_tx.clone()
    }

    /// Tells the notification policy that `addr` is this server's own address (notifications
    /// must not call klaxon itself), as `serve` does for its listener.
    pub(crate) fn own_address(&self, addr: std::net::SocketAddr) {
        self.state.notify.policy.add_own(addr);
    }

    /// The router `serve` serves, for tests that call it in process (no socket); not API.
    #[doc(hidden)]
    pub fn router(&self) -> axum::Router {
        crate::app::router(self.state.clone())
    }

    /// Serves HTTP (HTTPS with `[tls]`) on `listener` until `shutdown` completes, then drains:
    /// in-flight requests finish, the engine takes no more input and finishes its queue, every
    /// alert and telemetry row is committed, baselines are saved.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = crate::app::router(self.state.clone());
        let addr = listener
            .local_addr()
            .context("reading the listening address")?;
        let tls = match self.state.config.tls.as_ref().map(crate::tls::Tls::load) {
            None => None,
            Some(Ok(t)) => Some(Arc::new(t)),
            Some(Err(e)) => {
                self.drain().await;
                return Err(e.context("[tls]"));
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("listening on {scheme}://{addr}");
        // Notifications must not call klaxon itself.
        self.state.notify.policy.add_own(addr);
        let tx = self.shutdown_tx.clone();
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        if let Some(t) = &tls {
            t.watch(self.shutdown_tx.subscribe());
        }
        let limits = crate::listen::Limits::of(&self.state.config.server);
        let metrics = Arc::clone(&self.state.metrics);
        let shutdown = self.shutdown_tx.subscribe();
        crate::listen::serve(listener, app, limits, tls, metrics, shutdown).await;
        self.drain().await;
        Ok(())
    }

    /// Stops taking input and waits until everything accepted is committed.
    pub async fn drain(self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(c) = self.collector {
            let _ = c.await;
        }
        // Spans still waiting for their root go to the engine before its input closes.
        let _ = self.otlp_release.await;
        // The consumer feeds nothing more; what it fed is acknowledged once committed, below.
        let acker = match self.stream {
            Some(c) => {
                let _ = c.feeder.await;
                Some(c.acker)
            }
            None => None,
        };
        if let Ok(mut g) = self.state.engine.lock() {
            g.take();
        }
        if let Ok(mut g) = self.state.lifecycle.lock() {
            g.take();
        }
        let thread = self.engine_thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        let publisher = self.publisher;
        let _ = tokio::task::spawn_blocking(move || publisher.join()).await;
        if let Some(a) = acker {
            // Everything fed is committed (or the pipeline stopped): acknowledged, then sent.
            let _ = tokio::time::timeout(Duration::from_secs(10), a).await;
            if let Some(p) = &self.state.publisher {
                p.flush().await;
            }
        }
        if let Some(w) = self.writer {
            let _ = w.await;
        }
        let _ = self.saver.await;
        if let Some(r) = self.retention {
            r.abort();
        }
        self.sweeper.abort();
        self.probe.abort();
        self.hub_task.abort();
        if let Some(n) = self.notifications {
            // The manager has committed everything: let the dispatcher write what is due,
            // then the workers finish what is in flight.
            let _ = n.stop.send(true);
            let _ = n.dispatcher.await;
            let _ = n.stop_workers.send(true);
            n.workers.join().await;
            if let Some(r) = n.retention {
                r.abort();
            }
        }
        tracing::info!("stopped cleanly: every accepted signal and alert is committed");
    }
}

/// The open alerts of threshold rules: those that were firing (to re-seed the engine, so they
/// resolve when their condition is found false) and the ids of pending ones.
async fn threshold_alerts_before<S: Store>(
    store: &S,
) -> anyhow::Result<(Vec<driver::FiringBefore>, Vec<i64>)> {
    let (mut firing, mut pending) = (Vec::new(), Vec::new());
    for a in store.load_open_alerts().await? {
        if a.source != klaxon_store::Source::Threshold {
            continue;
        }
        if a.state == State::Pending {
            pending.push(a.id);
            continue;
        }
        let full = store.get_alert(a.id).await?;
        let mut labels = full.labels;
        labels.remove("alertname");
        firing.push(driver::FiringBefore {
            group: full.group,
            rule_id: full.rule_id,
            labels,
            since: full.first_seen,
        });
    }
    Ok((firing, pending))
}

/// Releases this node's old claims, starts the workers and the dispatcher.
#[allow(clippy::too_many_arguments)]
async fn start_notifications<S: Store + Clone>(
    config: &Config,
    store: S,
    notifier: Arc<klaxon_notify::Notifier>,
    pushed: broadcast::Sender<Arc<klaxon_notify::channel::Pushed>>,
    external_url: String,
    metrics: Arc<Metrics>,
    outbound: (
        Arc<klaxon_notify::outbound::Policy>,
        Arc<notify::health::Health>,
    ),
    changes: broadcast::Receiver<Arc<lifecycle::Change>>,
    lifecycle: mpsc::WeakSender<lifecycle::Command>,
    outbox_wake: Arc<tokio::sync::Notify>,
) -> anyhow::Result<NotifyTasks> {
    let n = &config.notify;
    let released = store
        .release_notification_claims(&n.node, wall_ms())
        .await
        .context("releasing notification claims")?;
    if released > 0 {
        tracing::info!(
            released,
            "notifications claimed before the restart are due again"
        );
    }
    let (stop, stop_rx) = watch::channel(false);
    let (stop_workers, workers_rx) = watch::channel(false);
    let settings = notify::deliver::DeliverySettings {
        workers: n.workers,
        backoff: klaxon_notify::Backoff {
            initial: n.retry_initial.as_std(),
            max: n.retry_max.as_std(),
        },
        max_age_ms: n.max_age.0,
        lease_ms: n.lease.0,
        owner: n.node.clone(),
        external_url,
        per_host_connections: n.per_host_connections,
        wake: outbox_wake,
    };
    let (workers, handle) = notify::deliver::start(
        store.clone(),
        Arc::clone(&notifier),
        pushed,
        settings,
        metrics,
        outbound,
        workers_rx,
        Duration::from_secs(5),
    )
    .map_err(|e| anyhow::anyhow!("starting the notification workers: {e}"))?;
    let (queries_tx, queries) = tokio::sync::mpsc::unbounded_channel();
    let dispatcher = notify::dispatch::Dispatcher::new(
        store.clone(),
        notifier,
        handle,
        (n.node.clone(), n.lease.0),
        notify::mute::Muting::new(config.silence_notice.receivers.clone()),
        queries,
        lifecycle,
    );
    let dispatcher = tokio::spawn(dispatcher.run(changes, stop_rx));
    let retention = (n.retention_hours > 0).then(|| {
        let keep = i64::try_from(n.retention_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                match store.delete_notifications_before(wall_ms() - keep).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "notification retention"),
                    Err(e) => tracing::warn!(error = %e, "notification retention failed"),
                }
            }
        })
    });
    Ok(NotifyTasks {
        queries: queries_tx,
        dispatcher,
        workers,
        stop,
        stop_workers,
        retention,
    })
}

fn secs_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Typical rows per engine batch, to size the telemetry channel in rows.
const CHUNK_ROWS: usize = 4096;

/// Engine batches with alerts that may wait for the lifecycle manager before the engine waits.
const FIRED_BATCHES: usize = 64;

/// Lifecycle changes kept for `Last-Event-ID` resume of `/alerts/stream`.
const HUB_CAPACITY: usize = 65_536;
