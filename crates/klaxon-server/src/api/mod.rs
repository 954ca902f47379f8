//! The HTTP API: shared state and the router. Only this module tree knows HTTP and wire shapes.

pub mod alertmanager;
pub mod alerts;
pub mod ingest;
pub mod manage;
pub mod monitoring;
pub mod notifications;
pub mod openapi;
pub mod rulesets;
pub mod silences;
pub mod streams;

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;
use klaxon_store::Store;
use tokio::sync::{broadcast, watch, Semaphore};

use crate::auth::Auth;
use crate::config::Config;
use crate::driver::Input;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::publish::Published;

/// Everything handlers share.
pub struct Shared<S> {
    pub config: Config,
    pub store: S,
    pub auth: Auth<S>,
    /// The engine's input; `None` once shutdown has begun.
    pub engine: Mutex<Option<std::sync::mpsc::Sender<Input>>>,
    /// Room in the engine queue, in signals.
    pub permits: Arc<Semaphore>,
    pub metrics: Arc<Metrics>,
    pub stream: broadcast::Sender<Arc<Published>>,
    /// Every committed lifecycle change.
    pub changes: broadcast::Sender<Arc<crate::lifecycle::Change>>,
    /// The replay buffer of lifecycle changes (`/alerts/stream`).
    pub hub: Arc<crate::hub::Hub>,
    /// The lifecycle manager's commands (actions on alerts, labelled alerts).
    pub lifecycle: Mutex<Option<tokio::sync::mpsc::UnboundedSender<crate::lifecycle::Command>>>,
    pub shutdown: watch::Receiver<bool>,
    /// Wall-clock ms of the engine thread's last loop.
    pub engine_heartbeat: Arc<AtomicI64>,
    /// Receivers and the WebSocket feed of notifications.
    pub notify: Arc<crate::notify::Hub>,
}

/// Handler state: a cheap handle on [`Shared`].
pub struct AppState<S> {
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
    pub fn send(&self, input: Input) -> ApiResult<()> {
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
    /// Sends a command to the lifecycle manager.
    pub fn command(&self, c: crate::lifecycle::Command) -> ApiResult<()> {
        let guard = self
            .lifecycle
            .lock()
            .map_err(|_| ApiError::unavailable("lifecycle lock poisoned"))?;
        match guard.as_ref() {
            Some(tx) => tx
                .send(c)
                .map_err(|_| ApiError::unavailable("the lifecycle manager has stopped")),
            None => Err(ApiError::unavailable("shutting down")),
        }
    }
}

/// One endpoint: how it is documented and the handler that serves it. The router and the
/// OpenAPI document are both built from [`endpoints`], so they cannot drift apart.
pub struct Endpoint<S> {
    pub method: &'static str,
    pub path: &'static str,
    /// The role a token needs (`none` for health and the document itself).
    pub role: &'static str,
    pub summary: &'static str,
    pub handler: MethodRouter<AppState<S>>,
}

fn ep<S>(
    method: &'static str,
    path: &'static str,
    role: &'static str,
    summary: &'static str,
    handler: MethodRouter<AppState<S>>,
) -> Endpoint<S> {
    Endpoint {
        method,
        path,
        role,
        summary,
        handler,
    }
}

/// Every endpoint of the API.
pub fn endpoints<S: Store + Clone>() -> Vec<Endpoint<S>> {
    let mut all = vec![
        ep(
            "POST",
            "/v1/signals",
            "ingest",
            "Send signals: one JSON object, a JSON array, or NDJSON (streamed)",
            post(ingest::signals::<S>),
        ),
        ep(
            "POST",
            "/v1/processes",
            "ingest",
            "Start a process run; its id is generated when not given",
            post(ingest::process_start::<S>),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/update",
            "ingest",
            "Update a process run",
            post(ingest::process_update::<S>),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/stop",
            "ingest",
            "Stop a process run",
            post(ingest::process_stop::<S>),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/marks",
            "ingest",
            "A mark of the process",
            post(ingest::mark::<S>),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/traces/start",
            "ingest",
            "Start a trace",
            post(ingest::trace_start::<S>),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/traces/stop",
            "ingest",
            "Stop a trace",
            post(ingest::trace_stop::<S>),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/logs",
            "ingest",
            "A log line of the process",
            post(ingest::log::<S>),
        ),
        ep(
            "POST",
            "/v1/rulesets",
            "admin",
            "Store a new rule-set version (422 with every validation error)",
            post(rulesets::event::create::<S>),
        ),
        ep(
            "GET",
            "/v1/rulesets",
            "viewer",
            "Every rule-set version and the active one per group",
            get(rulesets::event::list::<S>),
        ),
        ep(
            "POST",
            "/v1/rulesets/check",
            "viewer",
            "Validate a rule set without storing it",
            post(rulesets::event::check::<S>),
        ),
        ep(
            "GET",
            "/v1/rulesets/{name}/{version}",
            "viewer",
            "One rule-set version with its document",
            get(rulesets::event::get_one::<S>),
        ),
        ep(
            "POST",
            "/v1/rulesets/{name}/{version}/activate",
            "admin",
            "Activate a stored version in its group",
            post(rulesets::event::activate::<S>),
        ),
        ep(
            "POST",
            "/v1/threshold-rules",
            "admin",
            "Store a new threshold rule-set version (422 with every validation error)",
            post(rulesets::threshold::create::<S>),
        ),
        ep(
            "GET",
            "/v1/threshold-rules",
            "viewer",
            "Every threshold rule-set version and the active one per group",
            get(rulesets::threshold::list::<S>),
        ),
        ep(
            "POST",
            "/v1/threshold-rules/check",
            "viewer",
            "Validate threshold rules without storing them",
            post(rulesets::threshold::check::<S>),
        ),
        ep(
            "GET",
            "/v1/threshold-rules/{name}/{version}",
            "viewer",
            "One threshold rule-set version with its document",
            get(rulesets::threshold::get_one::<S>),
        ),
        ep(
            "POST",
            "/v1/threshold-rules/{name}/{version}/activate",
            "admin",
            "Activate a stored threshold rule-set version in its group",
            post(rulesets::threshold::activate::<S>),
        ),
        ep(
            "GET",
            "/v1/alerts",
            "viewer",
            "Committed alerts, newest first",
            get(alerts::list::<S>),
        ),
        ep(
            "GET",
            "/v1/alerts/stream",
            "viewer",
            "New alerts as server-sent events, resumable by alert id",
            get(alerts::stream::<S>),
        ),
        ep(
            "GET",
            "/v1/alerts/{id}",
            "viewer",
            "One alert",
            get(alerts::get_one::<S>),
        ),
        ep(
            "POST",
            "/alerts/create",
            "responder",
            "Create an alert by hand (deduplicated by its labels)",
            post(manage::create::<S>),
        ),
        ep(
            "GET",
            "/alerts/stream",
            "viewer",
            "Every committed lifecycle change as server-sent events",
            get(streams::alerts::<S>),
        ),
        ep(
            "GET",
            "/incidents/stream",
            "viewer",
            "Incident changes as server-sent events",
            get(streams::incidents::<S>),
        ),
        ep(
            "GET",
            "/metrics/stream",
            "viewer",
            "The server's figures every second as server-sent events",
            get(streams::metrics::<S>),
        ),
        ep(
            "GET",
            "/alerts/history",
            "viewer",
            "Alert history with filters and cursor pagination",
            get(manage::history::<S>),
        ),
        ep(
            "GET",
            "/alerts/open",
            "viewer",
            "Every open alert in one compact answer (fields and rows)",
            get(manage::open::<S>),
        ),
        ep(
            "GET",
            "/alerts/summary",
            "viewer",
            "Counts by state and severity",
            get(manage::summary::<S>),
        ),
        ep(
            "GET",
            "/alerts/metrics/performance",
            "viewer",
            "Mean time to acknowledge and to resolve",
            get(manage::performance::<S>),
        ),
        ep(
            "GET",
            "/alerts/metrics/delivery",
            "viewer",
            "Notification delivery per channel: sent, failed, retrying, dead, latency p50/p99",
            get(notifications::delivery::<S>),
        ),
        ep(
            "GET",
            "/notifications/ws",
            "viewer",
            "WebSocket: notifications of WebSocket receivers, with filters and resume",
            get(notifications::ws::<S>),
        ),
        ep(
            "GET",
            "/alerts/trends/analysis",
            "viewer",
            "Alert counts per time bucket by severity and rule",
            get(manage::trends::<S>),
        ),
        ep(
            "POST",
            "/alerts/bulk/acknowledge",
            "responder",
            "Acknowledge many alerts; a result per alert",
            post(manage::bulk_acknowledge::<S>),
        ),
        ep(
            "POST",
            "/alerts/bulk/resolve",
            "responder",
            "Resolve many alerts; a result per alert",
            post(manage::bulk_resolve::<S>),
        ),
        ep(
            "GET",
            "/alerts/{id}",
            "viewer",
            "One alert with its events, occurrences and notes",
            get(manage::detail::<S>),
        ),
        ep(
            "POST",
            "/alerts/{id}/acknowledge",
            "responder",
            "Acknowledge an alert (409 from an illegal state)",
            post(manage::acknowledge::<S>),
        ),
        ep(
            "POST",
            "/alerts/{id}/resolve",
            "responder",
            "Resolve an alert",
            post(manage::resolve::<S>),
        ),
        ep(
            "POST",
            "/alerts/{id}/suppress",
            "responder",
            "Suppress an alert for a duration",
            post(manage::suppress::<S>),
        ),
        ep(
            "POST",
            "/alerts/{id}/unsuppress",
            "responder",
            "Lift a suppression",
            post(manage::unsuppress::<S>),
        ),
        ep(
            "POST",
            "/alerts/{id}/close",
            "responder",
            "Close a resolved alert",
            post(manage::close::<S>),
        ),
        ep(
            "POST",
            "/alerts/{id}/notes",
            "responder",
            "Add a note",
            post(manage::note::<S>),
        ),
        ep(
            "POST",
            "/alerts/{id}/assign",
            "responder",
            "Set or clear the assignee",
            post(manage::assign::<S>),
        ),
        ep(
            "GET",
            "/monitoring/health",
            "none",
            "Liveness and readiness",
            get(monitoring::health::<S>),
        ),
        ep(
            "GET",
            "/monitoring/prometheus",
            "viewer",
            "The server's metrics in the Prometheus text format",
            get(monitoring::prometheus::<S>),
        ),
        ep(
            "POST",
            "/api/v2/alerts",
            "ingest",
            "Alertmanager API v2: receive alerts (Prometheus, Grafana, vmalert)",
            post(alertmanager::post_alerts::<S>),
        ),
        ep(
            "GET",
            "/api/v2/alerts",
            "viewer",
            "Alertmanager API v2: open alerts with Alertmanager's filters",
            get(alertmanager::get_alerts::<S>),
        ),
        ep(
            "POST",
            "/api/v2/silences",
            "responder",
            "Create a silence, or change one (Alertmanager API v2)",
            post(silences::post::<S>),
        ),
        ep(
            "GET",
            "/api/v2/silences",
            "viewer",
            "Silences, with Alertmanager's `filter` (Alertmanager API v2)",
            get(silences::list::<S>),
        ),
        ep(
            "GET",
            "/api/v2/silence/{id}",
            "viewer",
            "One silence (Alertmanager API v2)",
            get(silences::get_one::<S>),
        ),
        ep(
            "DELETE",
            "/api/v2/silence/{id}",
            "responder",
            "Expire a silence (Alertmanager API v2)",
            delete(silences::delete::<S>),
        ),
        ep(
            "GET",
            "/api/v2/status",
            "viewer",
            "Alertmanager API v2: status of this single, ready node",
            alertmanager::status_route::<S>(),
        ),
        ep(
            "GET",
            "/api/v2/receivers",
            "viewer",
            "Alertmanager API v2: the receivers alerts go to",
            get(alertmanager::receivers::<S>),
        ),
        ep(
            "GET",
            "/openapi.json",
            "none",
            "This document",
            get(openapi::serve::<S>),
        ),
    ];
    all.extend(crate::dashboard::endpoints::<S>());
    all
}

/// The router with every endpoint of [`endpoints`].
pub fn router<S: Store + Clone>(state: AppState<S>) -> Router {
    let body_limit = state.config.ingest.max_body_bytes;
    let mut by_path: Vec<(&'static str, MethodRouter<AppState<S>>)> = Vec::new();
    for e in endpoints::<S>() {
        match by_path.iter_mut().find(|(p, _)| *p == e.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(e.handler),
            None => by_path.push((e.path, e.handler)),
        }
    }
    let mut r = Router::new();
    for (path, m) in by_path {
        r = r.route(path, m);
    }
    let sessions = std::sync::Arc::clone(&state.auth.sessions);
    r.fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            crate::dashboard::guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
