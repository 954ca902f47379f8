//! The HTTP(S) client the webhook, Slack and PagerDuty channels share: hyper with rustls
//! (ring, the webpki roots), keep-alive pools per host, a deadline on the whole exchange, and
//! bounded reads of the answer. Turns transport failures into [`DeliveryOutcome`]s; the channels judge
//! the answers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::retry::DeliveryOutcome;

/// At most this much of an answer's body is read (for error messages and body checks).
const MAX_ANSWER: usize = 64 << 10;

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
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// A client for `http` and `https` URLs.
    pub fn new() -> Result<HttpClient, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("tls setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(https);
        Ok(HttpClient { inner })
    }

    /// POSTs `body` with `headers`; the whole exchange must finish within `timeout`.
    /// Err is the classified failure: a timeout or a connection error is retried, a URL that
    /// cannot be used is not.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, DeliveryOutcome> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| DeliveryOutcome::failed(format!("invalid url: {e}")))?;
        let mut req = Request::post(uri);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| DeliveryOutcome::failed(format!("invalid request: {e}")))?;
        let exchange = async {
            let resp = self.inner.request(req).await.map_err(|e| {
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
            let retry_after = resp
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = match Limited::new(resp.into_body(), MAX_ANSWER).collect().await {
                Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                // The status is what counts; an unreadable or long body only loses the detail.
                Err(_) => String::new(),
            };
            Ok(Answer {
                status,
                retry_after,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryOutcome::retry(format!(
                "timed out after {} ms",
                timeout.as_millis()
            ))),
        }
    }
}
