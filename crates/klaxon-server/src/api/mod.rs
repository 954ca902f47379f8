//! The HTTP API: one file per area, and the table of its endpoints (the dashboard adds its
//! own; `app` builds the router and the OpenAPI document from both).

pub(crate) mod alertmanager;
pub(crate) mod alerts;
pub(crate) mod ingest;
pub(crate) mod manage;
pub(crate) mod monitoring;
pub(crate) mod notifications;
pub(crate) mod rulesets;
pub(crate) mod silences;
pub(crate) mod streams;
pub(crate) mod tokens;

use axum::routing::{delete, get, post, MethodRouter};
use klaxon_store::Store;

use crate::state::{AppState, Endpoint};

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

/// Every endpoint of the API (the dashboard's and `/openapi.json` are added by `app`).
pub(crate) fn endpoints<S: Store + Clone>() -> Vec<Endpoint<S>> {
    vec![
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
            "POST",
            "/v1/tokens",
            "admin",
            "Create a token (role, name, expiry, user); 201 with its secret, shown only this once",
            post(tokens::create::<S>),
        ),
        ep(
            "GET",
            "/v1/tokens",
            "admin",
            "Every token with its state and last use; never a secret",
            get(tokens::list::<S>),
        ),
        ep(
            "DELETE",
            "/v1/tokens/{id}",
            "admin",
            "Revoke a token and end its dashboard sessions at once",
            delete(tokens::revoke::<S>),
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
            get(alerts::changes::<S>),
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
            get(alerts::history::<S>),
        ),
        ep(
            "GET",
            "/alerts/open",
            "viewer",
            "Every open alert in one compact answer (fields and rows)",
            get(alerts::open::<S>),
        ),
        ep(
            "GET",
            "/alerts/summary",
            "viewer",
            "Counts by state and severity",
            get(alerts::summary::<S>),
        ),
        ep(
            "GET",
            "/alerts/metrics/performance",
            "viewer",
            "Mean time to acknowledge and to resolve",
            get(alerts::performance::<S>),
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
            get(alerts::trends::<S>),
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
            get(alerts::detail::<S>),
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
    ]
}
