//! klaxon-server: the HTTP server around the engine. Ingest, the engine driver, write-then-
//! signal publishing, buffered telemetry, rule sets, alerts and monitoring APIs.
//!
//! Only this crate knows HTTP and wire shapes; SQL stays in `klaxon-store`, rule semantics in
//! `klaxon-engine`.

mod api;
mod app;
mod auth;
mod budget;
mod clock;
mod cluster;
pub mod config;
mod dashboard;
mod error;
mod escalation;
mod extract;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gate;
pub mod jetstream;
mod limits;
mod listen;
mod metrics;
mod oncall;
mod openapi;
mod otlp;
mod people;
mod pipeline;
mod server;
mod state;
mod tls;
mod wire;

pub use auth::token::hash_token;
#[doc(hidden)]
pub use budget::ByteBudget;
pub use clock::wall_ms;
pub use server::Server;

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;
use klaxon_store::postgres::PostgresStore;
use klaxon_store::sqlite::SqliteStore;
use klaxon_store::Store;
use tokio::net::TcpListener;

use crate::config::{Config, Flags};

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
    listen::raise_descriptor_limit();
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

/// Runs the server on `listener` with the configured store (PostgreSQL when `[store] url` is
/// set, else SQLite in the data directory) until `shutdown` completes, then shuts down
/// gracefully: in-flight requests finish, the engine drains its queue, every alert and
/// telemetry row is committed, baselines are saved. The data directory holds the generated
/// admin token either way.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    if let Some(url) = config.store.url.clone() {
        let limits = klaxon_store::postgres::Limits {
            lock_timeout: std::time::Duration::from_secs(config.store.lock_timeout_seconds),
            statement_timeout: std::time::Duration::from_secs(
                config.store.statement_timeout_seconds,
            ),
        };
        let store = PostgresStore::connect_with(&url.0, None, limits)
            .await
            .context("opening the postgresql store ([store] url)")?;
        let result = if config.cluster.is_node() {
            cluster::run(config, store.clone(), listener, shutdown).await
        } else {
            run_with(config, store.clone(), listener, shutdown).await
        };
        store.close();
        return result;
    }
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
