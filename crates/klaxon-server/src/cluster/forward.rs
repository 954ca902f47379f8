//! A follower's forwarding of a request to the leader: method, path, query, headers (the
//! Authorization header and cookies included) and body streamed to the leader's `advertise`
//! URL; its answer streamed back (so server-sent event streams work through a follower). Bounded:
//! requests in flight at once, the body's size, the time to connect and the time to the
//! answer's head. No leader, or one that cannot be reached: 503 with Retry-After.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http_body_util::Limited;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{watch, Semaphore};

use crate::config::Cluster;
use crate::error::ApiError;

/// Marks a forwarded request, so that a node never forwards one again (two nodes that each
/// believe the other leads answer 503 instead of passing it back and forth).
pub(crate) const FORWARDED_BY: HeaderName = HeaderName::from_static("x-klaxon-forwarded-by");

/// Headers of one connection only (RFC 9110 §7.6.1), never passed on.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Forwards requests to the leader.
pub(crate) struct Forwarder {
    client: Client<HttpConnector, Body>,
    header_timeout: Duration,
    slots: Arc<Semaphore>,
    max_body: usize,
    node: HeaderValue,
    /// Turns true when the node stops.
    stop: watch::Receiver<bool>,
}

impl Forwarder {
    /// A forwarder with `[cluster]`'s bounds; `max_body` is the largest body any endpoint takes.
    pub(crate) fn new(c: &Cluster, max_body: usize, stop: watch::Receiver<bool>) -> Forwarder {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(c.forward_connect_timeout.as_std()));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(32)
            .build(connector);
        Forwarder {
            client,
            header_timeout: c.forward_header_timeout.as_std(),
            slots: Arc::new(Semaphore::new(c.forward_max_in_flight)),
            max_body,
            node: HeaderValue::from_str(&c.node).unwrap_or(HeaderValue::from_static("-")),
            stop,
        }
    }

    /// `req` forwarded to the leader at `leader` (its `advertise` URL), or why not.
    pub(crate) async fn forward(&self, leader: &str, req: Request) -> Response {
        if req.headers().contains_key(&FORWARDED_BY) {
            return unavailable("the request was forwarded by another node that takes this one for the leader; the cluster is electing a leader");
        }
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            return unavailable("this node forwards as many requests to the leader as it may");
        };
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let target = format!("{}{path}", leader.trim_end_matches('/'));
        let Ok(uri) = target.parse::<Uri>() else {
            return unavailable("the leader's advertised URL is not a valid URL");
        };
        parts.uri = uri;
        strip(&mut parts.headers);
        parts.headers.insert(FORWARDED_BY, self.node.clone());
        let body = Body::new(Limited::new(body, self.max_body));
        let sent = self.client.request(Request::from_parts(parts, body));
        let resp = match tokio::time::timeout(self.header_timeout, sent).await {
            Err(_) => {
                return ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "leader_timeout",
                    format!(
                        "the leader did not answer within {:?}; the request may have been done",
                        self.header_timeout
                    ),
                )
                .into_response()
            }
            Ok(Err(e)) if too_large(&e) => {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the body exceeds {} bytes", self.max_body),
                )
                .into_response()
            }
            Ok(Err(e)) => {
                tracing::warn!(leader, error = %e, "forwarding to the leader failed");
                return unavailable("the leader cannot be reached");
            }
            Ok(Ok(r)) => r,
        };
        let (mut parts, body) = resp.into_parts();
        strip(&mut parts.headers);
        // The permit lives as long as the answer's body: a stream holds its slot. The body ends
        // when the node stops, so that a stream does not hold up its shutdown.
        let mut stop = self.stop.clone();
        let ended = async move {
            let _slot = permit;
            let _ = stop.wait_for(|s| *s).await;
        };
        let frames = http_body_util::BodyStream::new(body).take_until(ended);
        Response::from_parts(parts, Body::new(http_body_util::StreamBody::new(frames)))
    }
}

/// Drops the hop-by-hop headers of `h`, and those its Connection header names.
fn strip(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in HOP_BY_HOP.iter().chain(&named) {
        h.remove(n);
    }
}

/// Whether `e` is the body's size limit.
fn too_large(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// 503 with Retry-After: 1, saying why.
pub(crate) fn unavailable(why: &str) -> Response {
    let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_leader", why);
    e.retry_after = Some(1);
    e.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        h.insert(header::COOKIE, HeaderValue::from_static("klaxon_session=s"));
        strip(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "cookie"]);
    }

    #[tokio::test]
    async fn a_request_already_forwarded_is_not_forwarded_again() {
        let c = Cluster {
            node: "b".to_owned(),
            ..Cluster::default()
        };
        let (_tx, stop) = watch::channel(false);
        let f = Forwarder::new(&c, 1 << 20, stop);
        let req = Request::builder()
            .uri("/alerts")
            .header(FORWARDED_BY, "a")
            .body(Body::empty())
            .expect("request");
        // The leader's address is never reached: nothing listens on port 9.
        let resp = f.forward("http://127.0.0.1:9", req).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        // Without the mark, the unreachable leader gives the same answer, after trying.
        let req = Request::builder()
            .uri("/alerts")
            .body(Body::empty())
            .expect("request");
        let resp = f.forward("http://127.0.0.1:9", req).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
