//! klaxon-server: the HTTP server around the engine. Ingest, the engine driver, write-then-
//! signal publishing, buffered telemetry, rule sets, alerts and monitoring APIs.
//!
//! Only this crate knows HTTP and wire shapes; SQL stays in `klaxon-store`, rule semantics in
//! `klaxon-engine`.

pub mod api;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod driver;
pub mod error;
pub mod hub;
pub mod lifecycle;
pub mod metrics;
pub mod publish;
pub mod telemetry;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use klaxon_store::sqlite::SqliteStore;
use klaxon_store::Store;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch, Semaphore};

use crate::api::{AppState, Shared};
use crate::auth::Auth;
use crate::config::{Config, Flags};
use crate::driver::{wall_ms, Input, Outputs};
use crate::metrics::Metrics;

/// Flags of `klaxon serve`; they override the config file and the environment.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// The TOML config file.
    #[arg(long, env = "KLAXON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7731; port 0 picks a free one).
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory (default ./klaxon-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// An admin token to accept (at least 16 characters); also KLAXON_ADMIN_TOKEN.
    #[arg(long)]
    pub admin_token: Option<String>,
}

/// Runs the server until SIGTERM or ctrl-c.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_init();
    let env: Vec<(String, String)> = std::env::vars().collect();
    let flags = Flags {
        listen: args.listen,
        data_dir: args.data_dir,
        admin_token: args.admin_token,
    };
    let config =
        config::load(args.config.as_deref(), &env, &flags).map_err(|e| anyhow::anyhow!(e))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        run(config, listener, shutdown_signal()).await
    })
}

fn tracing_init() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests, flushing alerts and telemetry");
}

/// Runs the server on `listener` with the SQLite store until `shutdown` completes, then shuts
/// down gracefully: in-flight requests finish, the engine drains its queue, every alert and
/// telemetry row is committed, baselines are saved.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let db = config.database_path();
    let store = SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let result = run_with(config, store.clone(), listener, shutdown).await;
    let closed = store.close().await;
    result?;
    closed.context("closing the store")
}

/// As [`run`], on any store.
pub async fn run_with<S: Store + Clone>(
    config: Config,
    store: S,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Server::start(config, store)
        .await?
        .serve(listener, shutdown)
        .await
}

/// A started server: the engine thread and the background tasks run, the HTTP side not yet.
pub struct Server<S> {
    /// The handlers' state (tests reach the queue and metrics through it).
    pub state: AppState<S>,
    engine_thread: std::thread::JoinHandle<()>,
    publisher: tokio::task::JoinHandle<()>,
    writer: Option<tokio::task::JoinHandle<()>>,
    saver: tokio::task::JoinHandle<()>,
    retention: Option<tokio::task::JoinHandle<()>>,
    hub_task: tokio::task::JoinHandle<()>,
    shutdown_tx: watch::Sender<bool>,
}

impl<S: Store + Clone> Server<S> {
    /// Ensures an admin token, starts the engine thread with the persisted baselines and the
    /// active rule sets, and the publisher, telemetry, baseline and retention tasks.
    pub async fn start(config: Config, store: S) -> anyhow::Result<Server<S>> {
        let admin = config.admin_token.as_ref().map(|s| s.0.as_str());
        if let Some(path) = auth::ensure_admin(&store, admin, &config.data_dir, wall_ms()).await? {
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
        let (api_tx, api_rx) = mpsc::unbounded_channel();
        let (base_tx, mut base_rx) = mpsc::unbounded_channel();
        let (rows_tx, rows_rx) = if config.telemetry.enabled {
            let (tx, rx) = mpsc::channel(64.max(config.telemetry.buffer_rows / CHUNK_ROWS));
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let outputs = Outputs {
            fired: fired_tx,
            rows: rows_tx,
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
            match klaxon_engine::parse::parse_rule_set(&rec.json) {
                Ok(parsed) => {
                    for r in &parsed.set.rules {
                        if let Some(ms) = r.auto_resolve_ms {
                            rule_auto.insert((rec.group.clone(), r.id.clone()), ms as i64);
                        }
                    }
                    let (done, wait) = tokio::sync::oneshot::channel();
                    let input = Input::Activate {
                        group: rec.group.clone(),
                        name: rec.name.clone(),
                        version: rec.version,
                        set: Box::new(parsed.set),
                        done,
                    };
                    engine_tx.send(input).ok();
                    let _ = wait.await;
                    loaded.push(format!("{}/{} v{}", rec.group, rec.name, rec.version));
                }
                Err(errors) => tracing::error!(
                    group = %rec.group, name = %rec.name, version = rec.version, errors = errors.len(),
                    "stored active rule set no longer parses; not loaded"
                ),
            }
        }
        if !loaded.is_empty() {
            tracing::info!(sets = %loaded.join(", "), "active rule sets loaded");
        }

        let (stream_tx, _) = broadcast::channel(16_384);
        let (changes_tx, changes_rx) = broadcast::channel(16_384);
        let hub = hub::Hub::new(wall_ms(), HUB_CAPACITY);
        let hub_task = tokio::spawn(Arc::clone(&hub).run(changes_rx));
        let lc = &config.lifecycle;
        let settings = lifecycle::Settings {
            reopen_window_ms: secs_ms(lc.reopen_window_seconds),
            close_after_ms: secs_ms(lc.close_after_seconds),
            rule_auto_resolve_ms: (lc.rule_auto_resolve_seconds > 0)
                .then(|| secs_ms(lc.rule_auto_resolve_seconds)),
            resolve_timeout_ms: secs_ms(lc.resolve_timeout_seconds),
        };
        let manager = lifecycle::Manager::load(
            store.clone(),
            settings,
            lifecycle::Outputs {
                created: stream_tx.clone(),
                changes: changes_tx.clone(),
                metrics: Arc::clone(&metrics),
            },
            &rule_auto,
        )
        .await
        .context("loading the open alerts")?;
        let publisher = tokio::spawn(manager.run(fired_rx, api_rx));
        let writer = rows_rx.map(|rx| {
            let flush = Duration::from_millis(config.telemetry.flush_interval_ms);
            tokio::spawn(telemetry::run(
                store.clone(),
                rx,
                flush,
                Arc::clone(&metrics),
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
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(config.ingest.queue_signals));
        let shared = Arc::new(Shared {
            auth: Auth::new(store.clone()).with_dashboard(&config.dashboard, &config.data_dir),
            config,
            store,
            engine: Mutex::new(Some(engine_tx)),
            permits,
            metrics,
            stream: stream_tx,
            changes: changes_tx,
            hub,
            lifecycle: Mutex::new(Some(api_tx)),
            shutdown: shutdown_rx,
            engine_heartbeat: heartbeat,
        });
        Ok(Server {
            state: AppState { inner: shared },
            engine_thread,
            publisher,
            writer,
            saver,
            retention,
            hub_task,
            shutdown_tx,
        })
    }

    /// Serves HTTP on `listener` until `shutdown` completes, then drains: in-flight requests
    /// finish, the engine takes no more input and finishes its queue, every alert and telemetry
    /// row is committed, baselines are saved.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = api::router(self.state.clone());
        let addr = listener
            .local_addr()
            .context("reading the listening address")?;
        tracing::info!("listening on http://{addr}");
        let tx = self.shutdown_tx.clone();
        let graceful = async move {
            shutdown.await;
            let _ = tx.send(true);
        };
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(graceful)
            .await
            .context("serving HTTP");
        self.drain().await;
        served
    }

    /// Stops taking input and waits until everything accepted is committed.
    pub async fn drain(self) {
        let _ = self.shutdown_tx.send(true);
        if let Ok(mut g) = self.state.engine.lock() {
            g.take();
        }
        if let Ok(mut g) = self.state.lifecycle.lock() {
            g.take();
        }
        let thread = self.engine_thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        let _ = self.publisher.await;
        if let Some(w) = self.writer {
            let _ = w.await;
        }
        let _ = self.saver.await;
        if let Some(r) = self.retention {
            r.abort();
        }
        self.hub_task.abort();
        tracing::info!("stopped cleanly: every accepted signal and alert is committed");
    }
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
