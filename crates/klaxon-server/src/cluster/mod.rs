//! A node of a cluster (`[cluster]`, docs/cluster.md): several nodes on one PostgreSQL
//! database, one leader. Every node serves HTTP from its start; it campaigns for the leadership
//! (`klaxon_store::postgres::cluster`: a session advisory lock, an epoch that fences the
//! writes) and records its heartbeat. The leader runs the whole server ([`Server::start`]
//! restores everything from the store, as at any start) and serves the full application; a
//! follower answers `/monitoring/health` itself and forwards every other request to the leader
//! (`forward.rs`). A leader that loses its leadership exits the process (crash-only: its
//! supervisor restarts it as a follower); meanwhile the fencing refuses its writes.
//!
//! The follower's router is [`follower_router`]: a route a follower answers itself (ingest that
//! any node publishes, say) is added there, before the forwarding fallback.

mod forward;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use klaxon_store::postgres::cluster::{ClusterNode, ClusterView};
use klaxon_store::postgres::PostgresStore;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service;

use crate::config::{Cluster, Config};
use crate::metrics::Metrics;
use crate::server::Server;

use self::forward::Forwarder;

/// What a node knows of the cluster: its own name and role, and the last view it read.
pub(crate) struct Node {
    settings: Cluster,
    leading: std::sync::atomic::AtomicBool,
    view: Mutex<Seen>,
    forwarder: Forwarder,
}

impl Node {
    fn leading(&self) -> bool {
        self.leading.load(std::sync::atomic::Ordering::Acquire)
    }

    fn role(&self) -> &'static str {
        if self.leading() {
            "leader"
        } else {
            "follower"
        }
    }

    /// The leader's URL to forward to, when another node leads; else why there is none.
    fn leader(&self) -> Result<String, &'static str> {
        if self.leading() {
            return Err("this node has just won the leadership and is starting");
        }
        let v = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        match &v.last {
            Some((view, _)) => match &view.leader {
                Some(l) if l.node == self.settings.node => {
                    Err("this node has just won the leadership and is starting")
                }
                Some(l) => Ok(l.advertise.clone()),
                None => Err("no node leads the cluster now; an election is under way"),
            },
            None => Err("this node has not read the cluster's state yet"),
        }
    }

    /// The `cluster` part of the health answer.
    fn json(&self) -> Value {
        let v = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        let (view, read) = match &v.last {
            Some((view, at)) => (Some(view), Some(at.elapsed().as_millis())),
            None => (None, None),
        };
        json!({
            "node": self.settings.node,
            "advertise": self.settings.advertise,
            "role": self.role(),
            "epoch": view.map(|v| v.epoch),
            "leader": view.and_then(|v| v.leader.as_ref()).map(|l| json!({
                "node": l.node,
                "advertise": l.advertise,
                "epoch": l.epoch,
                "since": klaxon_engine::timestamp::format_ts(l.since),
            })),
            "members": view.map_or_else(Vec::new, |v| v.nodes.iter().map(|n| json!({
                "node": n.node,
                "advertise": n.advertise,
                "role": member_role(v, n, self.settings.lease.0),
                "heartbeat_age_ms": n.heartbeat_age_ms,
                "started_at": klaxon_engine::timestamp::format_ts(n.started_at),
            })).collect()),
            "view_age_ms": read,
            "view_error": v.error,
        })
    }
}

/// The last view of the cluster read, and when; the error of the last read or heartbeat.
#[derive(Default)]
struct Seen {
    last: Option<(ClusterView, Instant)>,
    error: Option<String>,
}

/// A member's role: `gone` when its last heartbeat is older than the lease (it died, or cannot
/// reach the database), else `leader` for the node holding the lock and `follower` for the
/// others (a node's own word lags by up to a heartbeat).
fn member_role(view: &ClusterView, n: &ClusterNode, lease_ms: i64) -> &'static str {
    if n.heartbeat_age_ms > lease_ms {
        "gone"
    } else if view.leader.as_ref().is_some_and(|l| l.node == n.node) {
        "leader"
    } else {
        "follower"
    }
}

/// Runs a cluster node on `listener` until `shutdown` completes (or, as leader, until it loses
/// the leadership: then the process exits).
pub(crate) async fn run(
    config: Config,
    store: PostgresStore,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = Some(config.cluster.clone())
        .filter(|c| c.is_node())
        .context("[cluster] node is not configured")?;
    let max_body = crate::app::endpoints::<PostgresStore>()
        .iter()
        .map(|e| e.body.bytes(&config))
        .max()
        .unwrap_or(64 << 10);
    let (stop_tx, stop) = watch::channel(false);
    let node = Arc::new(Node {
        forwarder: Forwarder::new(&settings, max_body, stop.clone()),
        settings: settings.clone(),
        leading: false.into(),
        view: Mutex::new(Seen::default()),
    });
    store
        .cluster_heartbeat(&settings.node, &settings.advertise, "follower", true)
        .await
        .context("recording this node in the cluster's table of nodes")?;
    let every = settings.heartbeat.as_std();
    let beats = tokio::spawn(heartbeats(Arc::clone(&node), store.clone(), stop.clone()));

    // Every request goes to the router of the moment: the follower's, then the leader's.
    let current = Arc::new(RwLock::new(follower_router(Arc::clone(&node))));
    let app = Router::new().fallback({
        let current = Arc::clone(&current);
        let node = Arc::clone(&node);
        move |req: Request| dispatch(Arc::clone(&current), Arc::clone(&node), req)
    });
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!(node = %settings.node, advertise = %settings.advertise, "listening on http://{addr} as a cluster node");
    let limits = crate::listen::Limits::of(&config.server);
    let serving = tokio::spawn(crate::listen::serve(
        listener,
        app,
        limits,
        None,
        Arc::new(Metrics::default()),
        stop.clone(),
    ));
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    // Campaign until this node wins or stops.
    let mut stopping = stop.clone();
    let mut failing = false;
    let mut candidate =
        store.candidate(&settings.node, &settings.advertise, settings.lease.as_std());
    let mut leadership = loop {
        if *stopping.borrow() {
            break None;
        }
        match candidate.try_lead().await {
            Ok(Some(l)) => break Some(l),
            Ok(None) => failing = false,
            // Once per run of failures, not every heartbeat.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "campaigning for the cluster's leadership failed; retrying every heartbeat");
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopping.wait_for(|s| *s) => {}
        }
    };
    let mut server = None;
    if let Some(lead) = &mut leadership {
        node.leading
            .store(true, std::sync::atomic::Ordering::Release);
        if let Err(e) = store
            .cluster_heartbeat(&settings.node, &settings.advertise, "leader", false)
            .await
        {
            tracing::warn!(error = %e, "recording this node's heartbeat failed");
        }
        tracing::info!(node = %settings.node, epoch = lead.epoch(), "leading the cluster: starting the pipeline");
        // The leadership may be lost while the pipeline starts.
        let started = tokio::select! {
            s = Server::start(config.clone(), store.clone()) => s,
            why = lead.hold(every) => lost(&why),
        };
        let started = started.context("starting the pipeline as the cluster's leader")?;
        started.own_address(addr);
        // The node's stop is the server's: its streams end, so the listener can finish.
        let server_stop = started.shutdown_sender();
        let mut stopped = stop.clone();
        tokio::spawn(async move {
            let _ = stopped.wait_for(|s| *s).await;
            let _ = server_stop.send(true);
        });
        *current.write().unwrap_or_else(PoisonError::into_inner) = started.router();
        server = Some(started);
        tracing::info!(node = %settings.node, epoch = lead.epoch(), "serving as the cluster's leader");
        tokio::select! {
            why = lead.hold(every) => lost(&why),
            _ = stopping.wait_for(|s| *s) => {}
        }
    }
    let _ = serving.await;
    if let Some(s) = server {
        s.drain().await;
    }
    beats.abort();
    if let Err(e) = store.cluster_leave(&settings.node).await {
        tracing::warn!(error = %e, "removing this node from the cluster's table of nodes failed");
    }
    // Dropping the leadership ends its session: another node may lead at once.
    drop(leadership);
    Ok(())
}

/// The leadership is lost: the process exits (crash-only; restarted, the node follows).
fn lost(why: &str) -> ! {
    tracing::error!(
        reason = %why,
        "lost the cluster's leadership: exiting so that a supervisor restarts this node as a follower"
    );
    std::process::exit(1)
}

/// Records this node's heartbeat and reads the cluster's view, every heartbeat.
async fn heartbeats(node: Arc<Node>, store: PostgresStore, mut stop: watch::Receiver<bool>) {
    let s = &node.settings;
    loop {
        let beat = store
            .cluster_heartbeat(&s.node, &s.advertise, node.role(), false)
            .await;
        let read = store.cluster_view().await;
        {
            let mut v = node.view.lock().unwrap_or_else(PoisonError::into_inner);
            match (beat, read) {
                (Ok(()), Ok(view)) => {
                    *v = Seen {
                        last: Some((view, Instant::now())),
                        error: None,
                    }
                }
                (Err(e), Ok(view)) => {
                    *v = Seen {
                        last: Some((view, Instant::now())),
                        error: Some(e.to_string()),
                    }
                }
                (_, Err(e)) => {
                    if v.error.is_none() {
                        tracing::warn!(error = %e, "reading the cluster's state failed");
                    }
                    v.error = Some(e.to_string());
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(s.heartbeat.as_std()) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Serves `req` with the router of the moment; the leader's health answer gains the cluster.
async fn dispatch(current: Arc<RwLock<Router>>, node: Arc<Node>, req: Request) -> Response {
    let mut router = current
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let health = node.leading() && req.method() == Method::GET && req.uri().path() == HEALTH;
    let resp = match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if !health {
        return resp;
    }
    // The leader's own health answer, with the `cluster` part.
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = http_body_util::Limited::new(body, 1 << 20).collect().await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let bytes = bytes.to_bytes();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut m)) => {
            m.insert("cluster".to_owned(), node.json());
            (parts.status, Json(Value::Object(m))).into_response()
        }
        _ => Response::from_parts(parts, Body::from(bytes)),
    }
}

const HEALTH: &str = "/monitoring/health";

/// The router of a follower: the routes it answers itself, and the forwarding of every other
/// request to the leader. A route a follower can answer without the leader goes here.
pub(crate) fn follower_router(node: Arc<Node>) -> Router {
    Router::new()
        .route(HEALTH, get(follower_health))
        .fallback(forward_to_leader)
        .with_state(node)
}

/// `GET /monitoring/health` on a follower: live; ready while it knows a leader to forward to
/// (not while it has won and starts the pipeline: its role says `leader` already).
async fn follower_health(State(node): State<Arc<Node>>) -> Response {
    let (ready, store_error) = {
        let v = node.view.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = v
            .last
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() < node.settings.lease.as_std());
        (
            !node.leading()
                && fresh
                && v.last
                    .as_ref()
                    .is_some_and(|(view, _)| view.leader.is_some()),
            v.error.clone(),
        )
    };
    let body = json!({
        "status": if ready { "ok" } else { "degraded" },
        "live": true,
        "ready": ready,
        "store": if store_error.is_none() { "ok" } else { "unavailable" },
        "store_error": store_error.map(|e| json!({"since": null, "error": e})),
        "cluster": node.json(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Every other request on a follower: forwarded to the leader.
async fn forward_to_leader(State(node): State<Arc<Node>>, req: Request) -> Response {
    match node.leader() {
        Ok(url) => node.forwarder.forward(&url, req).await,
        Err(why) => forward::unavailable(why),
    }
}
