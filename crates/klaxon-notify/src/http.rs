//! The HTTP(S) client the webhook, Slack and PagerDuty channels share: hyper with rustls
//! (ring, the webpki roots), keep-alive pools per host, a deadline on the whole exchange, and
//! bounded reads of the answer. Connections go through the outbound policy's connector
//! ([`crate::outbound`]): a refused address is a failure that is not retried. Redirects are not
//! followed unless the policy says so; then each hop is checked again like the first.
//! Turns transport failures into [`DeliveryOutcome`]s; the channels judge the answers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::outbound::{self, Connector, Policy};
use crate::retry::{excerpt, DeliveryOutcome};

/// At most this much of an answer's body is read (for error messages and body checks).
const MAX_ANSWER: usize = 64 << 10;

/// Redirects followed at most, when the policy follows them at all.
const MAX_REDIRECTS: usize = 5;

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

/// A shared client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<Connector>, Full<Bytes>>,
    policy: Arc<Policy>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// A client for `http` and `https` URLs that connects where `policy` allows.
    pub fn new(policy: Arc<Policy>) -> Result<HttpClient, String> {
        let connector = Connector {
            policy: Arc::clone(&policy),
            connect_timeout: Duration::from_secs(10),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("tls setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(https);
        Ok(HttpClient { inner, policy })
    }

    /// The outbound policy the client connects by.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// POSTs `body` with `headers`; the whole exchange, redirects included, must finish
    /// within `timeout`. Err is the classified failure: a timeout or a connection error is
    /// retried; a URL that cannot be used, an address the policy refuses and a redirect not
    /// followed are not.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, DeliveryOutcome> {
        let mut uri: hyper::Uri = url
            .parse()
            .map_err(|e| DeliveryOutcome::failed(format!("invalid url: {e}")))?;
        let exchange = async {
            let mut hops = 0;
            loop {
                let a = self.once(&uri, headers, body.clone()).await?;
                let Some(location) = a.location.filter(|_| (300..400).contains(&a.status)) else {
                    return Ok(a.answer);
                };
                if !self.policy.follow_redirects {
                    return Err(DeliveryOutcome::Failed {
                        error: format!(
                            "HTTP {}: redirect to {} not followed ([notify] follow_redirects = false)",
                            a.status,
                            excerpt(&location, 120)
                        ),
                        status: Some(a.status),
                    });
                }
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(DeliveryOutcome::failed(format!(
                        "more than {MAX_REDIRECTS} redirects"
                    )));
                }
                uri = resolve_location(&uri, &location).ok_or_else(|| {
                    DeliveryOutcome::failed(format!(
                        "HTTP {}: unusable redirect to {}",
                        a.status,
                        excerpt(&location, 120)
                    ))
                })?;
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryOutcome::retry(format!(
                "timed out after {} ms",
                timeout.as_millis()
            ))),
        }
    }

    async fn once(
        &self,
        uri: &hyper::Uri,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Hop, DeliveryOutcome> {
        let mut req = Request::post(uri.clone());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| DeliveryOutcome::failed(format!("invalid request: {e}")))?;
        let resp = self.inner.request(req).await.map_err(|e| {
            if let Some(d) = outbound::denial(&e) {
                return DeliveryOutcome::failed(d.0.clone());
            }
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            DeliveryOutcome::retry(format!("connection: {msg}"))
        })?;
        let status = resp.status().as_u16();
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(hyper::header::RETRY_AFTER);
        let location = header(hyper::header::LOCATION);
        let body = match Limited::new(resp.into_body(), MAX_ANSWER).collect().await {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            // The status is what counts; an unreadable or long body only loses the detail.
            Err(_) => String::new(),
        };
        Ok(Hop {
            answer: Answer {
                status,
                retry_after,
                body,
            },
            status,
            location,
        })
    }
}

/// One request's answer and where it redirects to.
struct Hop {
    answer: Answer,
    status: u16,
    location: Option<String>,
}

/// A redirect's target: absolute, or a path on the same origin.
fn resolve_location(base: &hyper::Uri, location: &str) -> Option<hyper::Uri> {
    let target: hyper::Uri = location.parse().ok()?;
    if target.scheme().is_some() {
        return matches!(target.scheme_str(), Some("http" | "https")).then_some(target);
    }
    let path = target.path_and_query()?.as_str();
    if !path.starts_with('/') {
        return None;
    }
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(path.parse().ok()?);
    hyper::Uri::from_parts(parts).ok()
}
