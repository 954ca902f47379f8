//! What every handler shares: `Shared` (configuration, store, authorization, the engine's and
//! the lifecycle manager's inputs, the publish hub, metrics) behind the cheap handle `AppState`,
//! and `Endpoint`, the row of the endpoint table the API and the dashboard each contribute to.
//! Knows no routes itself.

use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use axum::routing::MethodRouter;
use klaxon_store::Store;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::auth::{Auth, Need};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::openapi::doc::Doc;
use crate::pipeline::driver::Input;
use crate::pipeline::lifecycle::Command;
use crate::pipeline::notify::NotifyHandle;
use crate::pipeline::publish::Hub;

/// Everything handlers share.
pub(crate) struct Shared<S> {
    pub config: Config,
    pub store: S,
    pub auth: Auth<S>,
    /// The engine's input; `None` once shutdown has begun.
    pub engine: Mutex<Option<std::sync::mpsc::Sender<Input>>>,
    /// Room in the engine queue, in signals.
    pub permits: Arc<Semaphore>,
    pub metrics: Arc<Metrics>,
    /// The numbered replay buffer of committed changes, which every alert stream reads.
    pub hub: Arc<Hub>,
    /// The lifecycle manager's commands (actions on alerts, labelled alerts).
    pub lifecycle: Mutex<Option<mpsc::Sender<Command>>>,
    /// The lifecycle's keys of what a firing says: request tasks key resends with them.
    pub content_keys: klaxon_engine::lifecycle::ContentKeys,
    pub shutdown: watch::Receiver<bool>,
    /// Wall-clock ms of the engine thread's last loop.
    pub engine_heartbeat: Arc<AtomicI64>,
    /// Receivers and the WebSocket feed of notifications.
    pub notify: Arc<NotifyHandle>,
}

/// Handler state: a cheap handle on [`Shared`].
pub(crate) struct AppState<S> {
    pub inner: Arc<Shared<S>>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> std::ops::Deref for AppState<S> {
    type Target = Shared<S>;
    fn deref(&self) -> &Shared<S> {
        &self.inner
    }
}

impl<S: Store + Clone> Shared<S> {
    /// Sends an input to the engine thread.
    pub(crate) fn send(&self, input: Input) -> ApiResult<()> {
        let guard = self
            .engine
            .lock()
            .map_err(|_| ApiError::unavailable("engine input lock poisoned"))?;
        match guard.as_ref() {
            Some(tx) => tx
                .send(input)
                .map_err(|_| ApiError::unavailable("the engine has stopped")),
            None => Err(ApiError::unavailable("shutting down")),
        }
    }
}

impl<S> Shared<S> {
    /// Sends a command to the lifecycle manager; a full queue answers 429 with Retry-After.
    pub(crate) fn command(&self, c: Command) -> ApiResult<()> {
        self.commands(vec![c])
    }

    /// Sends commands to the lifecycle manager, all or none: when the queue has no room for
    /// every one, none is sent and the answer is 429 with Retry-After (never a wait, never a
    /// silent drop).
    pub(crate) fn commands(&self, cs: Vec<Command>) -> ApiResult<()> {
        let guard = self
            .lifecycle
            .lock()
            .map_err(|_| ApiError::unavailable("lifecycle lock poisoned"))?;
        let Some(tx) = guard.as_ref() else {
            return Err(ApiError::unavailable("shutting down"));
        };
        let sent = match tx.try_reserve_many(cs.len()) {
            Ok(permits) => {
                for (permit, c) in permits.zip(cs) {
                    permit.send(c);
                }
                Ok(())
            }
            Err(TrySendError::Full(())) => {
                self.metrics.lifecycle_throttled.fetch_add(1, Relaxed);
                Err(ApiError::overloaded(
                    "the lifecycle manager's queue is full; retry later",
                    self.config.ingest.retry_after_seconds,
                ))
            }
            Err(TrySendError::Closed(())) => {
                Err(ApiError::unavailable("the lifecycle manager has stopped"))
            }
        };
        sent
    }
}

/// Who may call an endpoint, checked from the request's head before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone: health, this document, the dashboard's page, files and sign-in.
    Public,
    /// A bearer token or dashboard session whose role allows the need (or, for ingest over
    /// TLS, a client certificate the configured CA signed).
    Token(Need),
    /// The handler authenticates: a WebSocket may send its token as its first message.
    InBand(Need),
}

impl Access {
    /// The least role that may call, as the OpenAPI document and docs/server.md name it.
    pub(crate) fn role_name(self) -> &'static str {
        match self {
            Access::Public => "none",
            Access::Token(n) | Access::InBand(n) => match n {
                Need::Ingest => "ingest",
                Need::Read => "viewer",
                Need::Respond => "responder",
                Need::Admin => "admin",
            },
        }
    }
}

/// The most an endpoint reads of a request body; beyond it the answer is 413, naming the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLimit {
    /// A fixed number of bytes.
    Bytes(usize),
    /// `[ingest] max_body_bytes`: a batch of signals.
    Batch,
    /// `[ingest] max_line_bytes`: one signal.
    Signal,
}

impl BodyLimit {
    /// Bodies of routes that take none, or a few fields.
    pub(crate) const SMALL: BodyLimit = BodyLimit::Bytes(64 << 10);

    /// The limit in bytes under `config`.
    pub(crate) fn bytes(self, config: &Config) -> usize {
        match self {
            BodyLimit::Bytes(n) => n,
            BodyLimit::Batch => config.ingest.max_body_bytes,
            BodyLimit::Signal => config.ingest.max_line_bytes,
        }
    }
}

/// One endpoint: how it is documented, who may call it, how much body it reads, and the
/// handler that serves it. The router and the OpenAPI document are both built from one table
/// (`app`), so they cannot drift apart.
pub(crate) struct Endpoint<S> {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub body: BodyLimit,
    pub summary: &'static str,
    pub handler: MethodRouter<AppState<S>>,
    /// Parameters, request body and answers with their shapes (see `openapi`).
    pub doc: Doc,
}

impl<S> Endpoint<S> {
    /// The endpoint with its documentation.
    pub(crate) fn doc(mut self, doc: Doc) -> Self {
        self.doc = doc;
        self
    }
}
