//! The HTTP/1.1 client the remote commands share: the `--url`/`--token` flags, one keep-alive
//! client on hyper-util's legacy client, and the server's JSON error body.
//! Knows no command and retries nothing; callers decide what a status means.

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Legacy;
use hyper_util::rt::TokioExecutor;

/// Where the server listens unless `--url` or `KLAXON_URL` says otherwise.
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:7731";

/// How long a plain request (not a stream) may take, answer included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The server a command talks to.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Target {
    /// The klaxon server's base URL.
    #[arg(long, env = "KLAXON_URL", default_value = DEFAULT_URL)]
    pub(crate) url: String,
    /// An API token, sent as `Authorization: Bearer TOKEN`.
    #[arg(long, env = "KLAXON_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

/// A keep-alive HTTP/1.1 client bound to one server and token. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Client {
    base: String,
    auth: Option<HeaderValue>,
    http: Legacy<HttpConnector, Full<Bytes>>,
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The server's error body, `{"error": {"code", "message", "details"}}`, or what stands in for
/// it when the body is something else.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) details: serde_json::Value,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl Client {
    /// A client for `target`; only `http://` URLs are supported.
    pub(crate) fn new(target: &Target) -> anyhow::Result<Client> {
        let base = target.url.trim_end_matches('/').to_owned();
        let uri: Uri = base
            .parse()
            .with_context(|| format!("invalid server url `{}`", target.url))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            anyhow::bail!(
                "invalid server url `{}`: expected http://HOST:PORT",
                target.url
            );
        }
        let auth = match target.token.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                    .context("the token contains characters not allowed in a header")?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let http = Legacy::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(Client { base, auth, http })
    }

    /// The absolute URI of `path_and_query` (which starts with `/`).
    pub(crate) fn uri(&self, path_and_query: &str) -> anyhow::Result<Uri> {
        let s = format!("{}{path_and_query}", self.base);
        s.parse()
            .with_context(|| format!("invalid request url `{s}`"))
    }

    /// A request to `uri` with the bearer token set.
    pub(crate) fn request(&self, method: Method, uri: Uri) -> hyper::http::request::Builder {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(auth) = &self.auth {
            b = b.header(header::AUTHORIZATION, auth.clone());
        }
        b
    }

    /// Sends a request and returns the answer's head with its body still streaming.
    /// A failure to reach the server names the URL.
    pub(crate) async fn execute(
        &self,
        req: Request<Full<Bytes>>,
    ) -> anyhow::Result<Response<Incoming>> {
        self.http.request(req).await.map_err(|e| {
            let what = if e.is_connect() {
                "cannot connect to the klaxon server at"
            } else {
                "request failed to"
            };
            anyhow::Error::new(e).context(format!("{what} {}", self.base))
        })
    }

    /// Sends `body` (with `content_type`, if any) and reads the whole answer, within 30 s.
    pub(crate) async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let mut b = self.request(method.clone(), self.uri(path_and_query)?);
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let req = b.body(Full::new(body)).context("building the request")?;
        let fut = async {
            let resp = self.execute(req).await?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .with_context(|| format!("reading the answer of {}", self.base))?
                .to_bytes();
            Ok::<_, anyhow::Error>(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(CALL_TIMEOUT, fut).await.map_err(|_| {
            anyhow::anyhow!(
                "{method} {path_and_query} on {} timed out after {} s",
                self.base,
                CALL_TIMEOUT.as_secs()
            )
        })?
    }

    /// GET `path_and_query`.
    pub(crate) async fn get(&self, path_and_query: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path_and_query, None, Bytes::new())
            .await
    }

    /// POST a JSON body to `path_and_query`.
    pub(crate) async fn post_json(
        &self,
        path_and_query: &str,
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Reply> {
        self.call(
            Method::POST,
            path_and_query,
            Some("application/json"),
            body.into(),
        )
        .await
    }
}

impl Reply {
    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body as JSON of type `T`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "unexpected answer ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }

    /// The error this answer carries; a body that is not the JSON error shape becomes the
    /// message.
    pub(crate) fn error(&self) -> ApiError {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let err = parsed.as_ref().and_then(|v| v.get("error"));
        let text = |key: &str| {
            err.and_then(|e| e.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let fallback = || {
            let body = String::from_utf8_lossy(&self.body).trim().to_owned();
            if body.is_empty() {
                self.status
                    .canonical_reason()
                    .unwrap_or("no reason given")
                    .to_ascii_lowercase()
            } else {
                body.chars().take(500).collect()
            }
        };
        ApiError {
            status: self.status,
            code: text("code").unwrap_or_else(|| format!("http_{}", self.status.as_u16())),
            message: text("message").unwrap_or_else(fallback),
            details: err
                .and_then(|e| e.get("details"))
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        }
    }

    /// The `Retry-After` of the answer, in whole seconds (HTTP dates are not supported).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        let secs: u64 = self
            .headers
            .get(header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(Duration::from_secs(secs))
    }
}

/// Percent-encodes `s` for a path segment or a query value: everything but the unreserved
/// characters of RFC 3986.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string (`?k=v&...`) of the pairs whose value is present; empty when none is.
pub(crate) fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(&encode(v));
        }
    }
    out
}

/// A single-threaded runtime for a command that makes a few calls.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(encode("METRO Rules/2?&"), "METRO%20Rules%2F2%3F%26");
        assert_eq!(encode("a-b.c_d~"), "a-b.c_d~");
        assert_eq!(encode("ü"), "%C3%BC");
    }

    #[test]
    fn query_skips_absent_values() {
        assert_eq!(query(&[("a", None), ("b", Some("x y"))]), "?b=x%20y");
        assert_eq!(query(&[("a", None)]), "");
        assert_eq!(
            query(&[("group", Some("g")), ("author", Some("me"))]),
            "?group=g&author=me"
        );
    }

    #[test]
    fn error_body_falls_back_to_the_text() {
        let r = Reply {
            status: StatusCode::NOT_FOUND,
            headers: HeaderMap::new(),
            body: Bytes::from_static(
                br#"{"error":{"code":"not_found","message":"no such version"}}"#,
            ),
        };
        let e = r.error();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("not_found", "no such version")
        );
        let r = Reply {
            status: StatusCode::BAD_GATEWAY,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        assert_eq!(r.error().message, "bad gateway");
    }
}
