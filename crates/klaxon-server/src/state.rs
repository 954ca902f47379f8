//! What every handler shares: `Shared` (configuration, store, authorization, the engine's and
//! the lifecycle manager's inputs, the publish hub, metrics) behind the cheap handle `AppState`,
//! and `Endpoint`, the row of the endpoint table the API and the dashboard each contribute to.
//! Knows no routes itself.

use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::MethodRouter;
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{Store, WriteFailure};
use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::auth::{Auth, Need};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::oncall::OnCall;
use crate::openapi::doc::Doc;
use crate::pipeline::driver::{Input, Room};
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
    /// Room in the engine queue, in bytes (`[ingest] queue_bytes`).
    pub queue_bytes: Arc<Semaphore>,
    pub metrics: Arc<Metrics>,
    /// The numbered replay buffer of committed changes, which every alert stream reads.
    pub hub: Arc<Hub>,
    /// Moves on every commit that wrote incidents (the incident stream reads the timeline).
    pub incidents: watch::Receiver<u64>,
    /// The lifecycle manager's commands (actions on alerts, labelled alerts).
    pub lifecycle: Mutex<Option<mpsc::Sender<Command>>>,
    /// The lifecycle's keys of what a firing says: request tasks key resends with them.
    pub content_keys: klaxon_engine::lifecycle::ContentKeys,
    pub shutdown: watch::Receiver<bool>,
    /// Wall-clock ms of the engine thread's last loop.
    pub engine_heartbeat: Arc<AtomicI64>,
    /// Receivers and the WebSocket feed of notifications.
    pub notify: Arc<NotifyHandle>,
    /// The compiled on-call schedules: `oncall.on_call(schedule, at_ms)` says who is on call.
    pub oncall: Arc<OnCall>,
    /// The receivers of users the escalation policies page, made while the server runs.
    pub paging: crate::escalation::Paging,
    /// The last point of each OTLP cumulative sum, to send its rate.
    pub otlp_rates: Mutex<crate::otlp::Rates>,
    /// OTLP spans waiting for their trace's root span.
    pub otlp_hold: Mutex<crate::otlp::Hold>,
    /// With `[cluster] nats`: ingest publishes accepted batches to the signal stream, which
    /// the consumer feeds to the engine, instead of sending them to the engine itself.
    pub publisher: Option<Arc<crate::jetstream::Publisher>>,
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

impl<S> Shared<S> {
    /// Room in the engine queue for `n` signals taking about `bytes`, if there is some now.
    pub(crate) fn try_room(&self, n: u32, bytes: usize) -> Option<Room> {
        let bytes = self.bytes_permits(bytes);
        let signals = Arc::clone(&self.permits).try_acquire_many_owned(n).ok()?;
        let bytes = Arc::clone(&self.queue_bytes)
            .try_acquire_many_owned(bytes)
            .ok()?;
        Some(Room {
            _signals: signals,
            bytes,
        })
    }

    /// As [`Shared::try_room`], waiting up to `wait` for it.
    pub(crate) async fn room_within(&self, n: u32, bytes: usize, wait: Duration) -> Option<Room> {
        let bytes = self.bytes_permits(bytes);
        let take = async {
            let signals = Arc::clone(&self.permits).acquire_many_owned(n).await.ok()?;
            let bytes = Arc::clone(&self.queue_bytes)
                .acquire_many_owned(bytes)
                .await
                .ok()?;
            Some(Room {
                _signals: signals,
                bytes,
            })
        };
        tokio::time::timeout(wait, take).await.ok().flatten()
    }

    /// Bytes as permits of the byte semaphore: at most the whole budget, so an outsized chunk
    /// waits for an empty queue rather than forever.
    fn bytes_permits(&self, bytes: usize) -> u32 {
        let cap = self.config.ingest.queue_bytes.min(u32::MAX as usize);
        u32::try_from(bytes.clamp(1, cap)).unwrap_or(u32::MAX)
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

impl<S: Store> Shared<S> {
    /// 503 with Retry-After while the store cannot write (a full disk): work that would have
    /// to be written is refused before it is accepted, instead of piling up in memory.
    pub(crate) fn store_refusal(&self) -> Option<ApiError> {
        let f = self.store.write_failure()?;
        Some(store_unavailable(
            &f,
            "nothing was accepted",
            self.config.ingest.retry_after_seconds,
        ))
    }

    /// Waits for the answer to a command that waits for a commit, at most
    /// `[store] commit_wait_seconds`; then 503: the command stays queued and is committed as
    /// soon as the store can write, but the request does not hang on it.
    pub(crate) async fn committed<T>(&self, answer: oneshot::Receiver<T>) -> ApiResult<T> {
        let wait = Duration::from_secs(self.config.store.commit_wait_seconds);
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ApiError::unavailable("the lifecycle manager stopped")),
            Err(_) => {
                Err(self.not_committed(wait, "it is queued and committed once the store can write"))
            }
        }
    }

    /// The 503 of a request whose commit did not come within `wait`.
    pub(crate) fn not_committed(&self, wait: Duration, what: &str) -> ApiError {
        let retry = self.config.ingest.retry_after_seconds;
        match self.store.write_failure() {
            Some(f) => store_unavailable(
                &f,
                &format!("not committed within {} s; {what}", wait.as_secs()),
                retry,
            ),
            None => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not_committed",
                    format!(
                        "the store did not commit within {} s; {what}",
                        wait.as_secs()
                    ),
                );
                e.retry_after = Some(retry);
                e
            }
        }
    }

    /// After a change to users, teams, schedules or escalation policies: makes the receivers
    /// of the users the policies now page and hands the policies to the pager, which follows
    /// them from then on; returns once the pager has them. A failure is logged: the change is
    /// stored, and the next change or a restart hands it over.
    pub(crate) async fn repage(&self) {
        if let Err(e) = self.try_repage().await {
            tracing::warn!(error = %e.message, "the pager could not take the changed escalation policies yet");
        }
    }

    async fn try_repage(&self) -> ApiResult<()> {
        let r = self
            .paging
            .refresh(
                &self.store,
                &self.config,
                &self.notify.notifier,
                &self.oncall,
            )
            .await?;
        let (reply, answer) = oneshot::channel();
        self.command(Command::Paging {
            catalog: Box::new(r.catalog),
            reply,
        })?;
        self.committed(answer).await
    }

    /// Sends a command to the lifecycle manager; a full queue answers 429 with Retry-After.
    pub(crate) fn command(&self, c: Command) -> ApiResult<()> {
        self.commands(vec![c])
    }

    /// Sends commands to the lifecycle manager, all or none: when the queue has no room for
    /// every one, none is sent and the answer is 429 with Retry-After (never a wait, never a
    /// silent drop); while the store cannot write, a command that writes is refused with 503.
    pub(crate) fn commands(&self, cs: Vec<Command>) -> ApiResult<()> {
        if cs.iter().any(Command::writes) {
            if let Some(e) = self.store_refusal() {
                return Err(e);
            }
        }
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

/// 503 with Retry-After for a store whose writes fail: what failed and since when, for the
/// operator who reads it (the same facts `GET /monitoring/health` shows).
pub(crate) fn store_unavailable(f: &WriteFailure, what: &str, retry_after: u64) -> ApiError {
    let since = format_ts(f.since);
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        format!(
            "the store cannot write since {since} ({}); {what}; retry later",
            f.error
        ),
    )
    .with_details(json!({"since": since, "error": f.error, "database": f.database}));
    e.retry_after = Some(retry_after);
    e
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
