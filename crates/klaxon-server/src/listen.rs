//! The listener: accepts connections (plain, or TLS when configured), caps them in total and
//! per IP address (beyond a cap a connection is answered 503 and closed at once, never queued),
//! and serves each with HTTP/1.1 under two deadlines: a request's head must arrive within
//! `header_read_timeout` of its first byte (of the connection's start, for the first request;
//! the TLS handshake too), and a kept-alive connection with no request in flight is closed after
//! `idle_timeout`. A request is in flight until its response is sent whole, so streams (server-
//! sent events) are never cut; a WebSocket leaves these deadlines once upgraded. On shutdown,
//! accepting stops, each connection finishes the request in flight and closes, and `serve`
//! returns when every one has.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

use crate::config::Connections;
use crate::gate::ClientCert;
use crate::metrics::Metrics;
use crate::tls::{client_cert, Tls};

/// Descriptors kept for everything but client connections: the store's files, outgoing
/// notification connections, the log.
const RESERVED_DESCRIPTORS: usize = 128;

/// How long shutdown waits for a connection without a request in flight (a head begun, or the
/// last answer still being flushed).
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// The caps and deadlines in force.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header: Duration,
    pub idle: Duration,
    pub total: usize,
    pub per_ip: usize,
}

impl Limits {
    /// The configured limits, the total lowered to what the descriptor limit leaves room for.
    pub(crate) fn of(c: &Connections) -> Limits {
        let mut total = c.max_connections;
        if let Some(room) = descriptors().map(|n| n.saturating_sub(RESERVED_DESCRIPTORS)) {
            if room < total {
                tracing::warn!(
                    configured = total,
                    allowed = room.max(1),
                    "server.max_connections lowered to what the open-file limit allows"
                );
                total = room.max(1);
            }
        }
        Limits {
            header: c.header_read_timeout.as_std(),
            idle: c.idle_timeout.as_std(),
            total,
            per_ip: c.max_connections_per_ip.min(total),
        }
    }
}

/// The process's limit of open descriptors (the soft limit), if it has one.
fn descriptors() -> Option<usize> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .and_then(|n| usize::try_from(n).ok())
}

/// Raises the process's soft limit of open descriptors to its hard limit, so the connection
/// cap, not the descriptor limit, decides how many clients are served.
pub(crate) fn raise_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    if let (Some(cur), Some(max)) = (l.current, l.maximum) {
        if max > cur {
            l.current = Some(max);
            if let Err(e) = setrlimit(Resource::Nofile, l) {
                tracing::warn!(error = %e, "cannot raise the open-file limit");
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` turns true, then waits for every connection.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<Tls>>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let caps = Arc::new(Caps {
        total: Arc::new(Semaphore::new(limits.total)),
        per_ip: Mutex::new(HashMap::new()),
        max_per_ip: limits.per_ip,
        metrics,
    });
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait_for(|s| *s) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors or a connection reset before it was taken: keep serving
                // the connections there are, and try again shortly.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match Caps::take(&caps, peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                caps.metrics.connections_refused.fetch_add(1, Relaxed);
                if tls.is_none() {
                    // Best effort and never waited for: the answer fits the socket's buffer.
                    let _ = stream.try_write(&refusal.answer());
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        conns.spawn(connection(
            stream,
            peer,
            app.clone(),
            limits,
            tls.clone(),
            shutdown.clone(),
            slot,
        ));
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// The connection caps: one permit per connection, and a count per IP address.
struct Caps {
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
    metrics: Arc<Metrics>,
}

/// A connection's place under the caps, given back when the connection's I/O is dropped.
struct Slot {
    caps: Arc<Caps>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Total,
    PerIp,
}

impl Refusal {
    /// A whole 503 answer in the API's error shape, written before the connection is closed.
    fn answer(self) -> Vec<u8> {
        let message = match self {
            Refusal::Total => "the server has all the connections it takes",
            Refusal::PerIp => "too many connections from this address",
        };
        let body = serde_json::json!({
            "error": {"code": "too_many_connections", "message": message, "details": null}
        })
        .to_string();
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

impl Caps {
    fn take(caps: &Arc<Caps>, ip: IpAddr) -> Result<Slot, Refusal> {
        {
            let Ok(mut m) = caps.per_ip.lock() else {
                return Err(Refusal::Total);
            };
            let n = m.entry(ip).or_insert(0);
            if *n >= caps.max_per_ip {
                return Err(Refusal::PerIp);
            }
            *n += 1;
        }
        match Arc::clone(&caps.total).try_acquire_owned() {
            Ok(permit) => {
                caps.metrics.connections_open.fetch_add(1, Relaxed);
                Ok(Slot {
                    caps: Arc::clone(caps),
                    ip,
                    _permit: permit,
                })
            }
            Err(_) => {
                Caps::release(caps, ip);
                Err(Refusal::Total)
            }
        }
    }

    fn release(caps: &Caps, ip: IpAddr) {
        if let Ok(mut m) = caps.per_ip.lock() {
            if let Some(n) = m.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&ip);
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.caps.metrics.connections_open.fetch_sub(1, Relaxed);
        Caps::release(&self.caps, self.ip);
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    tls: Option<Arc<Tls>>,
    shutdown: watch::Receiver<bool>,
    slot: Slot,
) {
    let clock = Arc::new(Clock::new(limits));
    match tls {
        None => {
            let io = Watched {
                io: stream,
                clock: Arc::clone(&clock),
                slot,
            };
            drive(io, None, app, clock, shutdown).await;
        }
        Some(tls) => {
            let handshake = tokio::time::timeout(limits.header, tls.acceptor.accept(stream)).await;
            let stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    slot.caps
                        .metrics
                        .connections_timed_out
                        .fetch_add(1, Relaxed);
                    return;
                }
            };
            let cert = client_cert(stream.get_ref().1);
            let io = Watched {
                io: stream,
                clock: Arc::clone(&clock),
                slot,
            };
            drive(io, cert, app, clock, shutdown).await;
        }
    }
}

/// Serves one connection's requests until it closes, a deadline passes, or shutdown drains it.
async fn drive<I>(
    io: Watched<I>,
    cert: Option<ClientCert>,
    app: Router,
    clock: Arc<Clock>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let metrics = Arc::clone(&io.slot.caps.metrics);
    let timed_out = &metrics.connections_timed_out;
    let svc = {
        let clock = Arc::clone(&clock);
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let mut app = app.clone();
            let busy = Busy::begin(&clock);
            if let Some(c) = &cert {
                req.extensions_mut().insert(c.clone());
            }
            async move {
                let resp = app.call(req.map(Body::new)).await?;
                // In flight until the response body is sent whole (or dropped).
                Ok::<_, Infallible>(resp.map(|b| {
                    Body::new(b.map_frame(move |f| {
                        let _ = &busy;
                        f
                    }))
                }))
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // The clock below keeps the head's deadline; hyper's own would also end idle ones.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = clock.deadline();
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = clock.changed.notified() => {}
            () = sleep_until(deadline), if deadline.is_some() => {
                if clock.expired() {
                    if !draining {
                        timed_out.fetch_add(1, Relaxed);
                    }
                    return; // dropping the connection closes it
                }
            }
            _ = shutdown.wait_for(|s| *s), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
                // Hyper closes an idle connection itself but waits for a head it has begun to
                // read; without a request in flight, a connection gets a short grace at most.
                clock.drain(DRAIN_GRACE);
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A connection's deadline: the head's while one is awaited, the idle one between requests,
/// none while a request is in flight.
struct Clock {
    limits: Limits,
    state: Mutex<Phase>,
    changed: Notify,
}

#[derive(Debug, Clone, Copy)]
struct Phase {
    in_flight: usize,
    /// Bytes of a head have arrived (or the connection is new): the head's deadline runs.
    reading_head: bool,
    deadline: Option<Instant>,
}

impl Clock {
    fn new(limits: Limits) -> Clock {
        Clock {
            limits,
            state: Mutex::new(Phase {
                in_flight: 0,
                reading_head: true,
                deadline: Some(Instant::now() + limits.header),
            }),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Phase, &Limits) -> bool) {
        if let Ok(mut p) = self.state.lock() {
            if f(&mut p, &self.limits) {
                self.changed.notify_one();
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.state.lock().ok().and_then(|p| p.deadline)
    }

    fn expired(&self) -> bool {
        self.deadline().is_some_and(|d| d <= Instant::now())
    }

    /// Shutdown: without a request in flight, the deadline is at most `grace` away.
    fn drain(&self, grace: Duration) {
        self.update(|p, _| {
            if p.in_flight > 0 {
                return false;
            }
            let by = Instant::now() + grace;
            p.deadline = Some(p.deadline.map_or(by, |d| d.min(by)));
            true
        });
    }

    /// Bytes arrived.
    fn read(&self) {
        self.update(|p, l| {
            if p.in_flight > 0 || p.reading_head {
                return false;
            }
            p.reading_head = true;
            p.deadline = Some(Instant::now() + l.header);
            true
        });
    }
}

/// A request in flight; its end starts the idle deadline.
struct Busy(Arc<Clock>);

impl Busy {
    fn begin(clock: &Arc<Clock>) -> Busy {
        clock.update(|p, _| {
            p.in_flight += 1;
            p.reading_head = false;
            p.deadline = None;
            true
        });
        Busy(Arc::clone(clock))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.update(|p, l| {
            p.in_flight = p.in_flight.saturating_sub(1);
            if p.in_flight > 0 {
                return false;
            }
            p.deadline = Some(Instant::now() + l.idle);
            true
        });
    }
}

/// A connection's I/O: tells the clock when bytes arrive, and holds the connection's place
/// under the caps for as long as the I/O lives (a WebSocket's too).
struct Watched<I> {
    io: I,
    clock: Arc<Clock>,
    slot: Slot,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.read();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
