//! The listener against real sockets: heads that arrive too slowly and idle kept-alive
//! connections are closed, event streams are not, connections beyond the per-address and total
//! caps are answered 503 while others are still served, and shutdown drains them all. Timeouts
//! are configured short (hundreds of milliseconds); every wait is bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use klaxon_notify::duration::Millis;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{data_dir, http, serve, ADMIN};

/// A connection from `from` (any address of 127.0.0.0/8 is this machine's).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(from)), 0))
        .expect("bind a loopback address");
    socket.connect(to).await.expect("connect")
}

/// Reads until the server closes the connection (or 5 s pass): what it sent, and when.
async fn until_closed(s: &mut TcpStream) -> (Vec<u8>, Option<Instant>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let t = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok();
    (out, t)
}

/// The value of a metric of `/monitoring/prometheus`.
async fn metric(addr: SocketAddr, name: &str) -> i64 {
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(
        format!("GET /monitoring/prometheus HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("write");
    let (got, _) = until_closed(&mut c).await;
    let text = String::from_utf8_lossy(&got).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

const HEALTH: &str = "GET /monitoring/health HTTP/1.1\r\nHost: test\r\n\r\n";
const HEALTH_CLOSE: &str =
    "GET /monitoring/health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";

/// Reads one whole response with a body of `Content-Length`.
async fn one_response(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a whole response");
            out.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&out).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("a response within 5 s")
}

/// Half a request head is cut off `header_read_timeout` after its first byte, and so is a
/// connection that sends nothing, or one that trickles its head a byte at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_are_cut_off() {
    let dir = data_dir("listen-slowloris");
    let s = serve(&dir, |c| {
        c.server.header_read_timeout = Millis(400);
        c.server.idle_timeout = Millis(60_000);
    })
    .await;
    let t0 = Instant::now();
    let mut half = TcpStream::connect(s.addr()).await.expect("connect");
    half.write_all(b"GET /monitoring/health HTTP/1.1\r\nHost: te")
        .await
        .expect("write");
    let mut silent = TcpStream::connect(s.addr()).await.expect("connect");
    let mut trickle = TcpStream::connect(s.addr()).await.expect("connect");
    let dripping = tokio::spawn(async move {
        for b in b"GET /monitoring/health HTTP/1.1\r\nHost: test\r\nX-Slow: yes\r\n\r\n" {
            if trickle.write_all(&[*b]).await.is_err() {
                return (Instant::now(), true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The whole head took ~3 s: the server must have closed the connection long before.
        let (got, closed) = until_closed(&mut trickle).await;
        (closed.unwrap_or_else(Instant::now), got.is_empty())
    });
    for (name, conn) in [("half a head", &mut half), ("nothing", &mut silent)] {
        let (got, closed) = until_closed(conn).await;
        let closed = closed.unwrap_or_else(|| panic!("{name}: still open after 5 s"));
        let after = closed - t0;
        assert!(
            after >= Duration::from_millis(350) && after < Duration::from_secs(3),
            "{name}: closed after {after:?}"
        );
        assert!(
            !String::from_utf8_lossy(&got).contains(" 200 "),
            "{name}: answered"
        );
    }
    let (closed, unanswered) = dripping.await.expect("trickle");
    assert!(unanswered, "a head trickled over 3 s was answered");
    assert!(
        closed - t0 < Duration::from_secs(3),
        "trickle closed after {:?}",
        closed - t0
    );
    assert_eq!(
        metric(s.addr(), "klaxon_connections_timed_out_total").await,
        3
    );
    s.stop().await;
}

/// A kept-alive connection serves further requests, and is closed once it has had no request in
/// flight for `idle_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_kept_alive_connections_are_closed() {
    let dir = data_dir("listen-idle");
    let s = serve(&dir, |c| {
        c.server.header_read_timeout = Millis(30_000);
        c.server.idle_timeout = Millis(500);
    })
    .await;
    let mut conn = TcpStream::connect(s.addr()).await.expect("connect");
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        conn.write_all(HEALTH.as_bytes()).await.expect("write");
        let r = one_response(&mut conn).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    // The server's idle deadline started when it sent the answer, a moment before this.
    let idle_from = Instant::now();
    let (_, closed) = until_closed(&mut conn).await;
    let after = closed.expect("closed within 5 s") - idle_from;
    assert!(
        after >= Duration::from_millis(400) && after < Duration::from_secs(3),
        "closed after {after:?} idle"
    );
    s.stop().await;
}

/// An event stream is a request in flight: it outlives the idle timeout many times over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_not_cut_by_the_idle_timeout() {
    let dir = data_dir("listen-sse");
    let s = serve(&dir, |c| {
        c.server.header_read_timeout = Millis(300);
        c.server.idle_timeout = Millis(300);
    })
    .await;
    let mut conn = TcpStream::connect(s.addr()).await.expect("connect");
    conn.write_all(
        format!(
            "GET /metrics/stream HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let t0 = Instant::now();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while seen.matches("event: metrics").count() < 4 {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("an event within 5 s")
            .expect("read");
        assert!(
            n > 0,
            "the stream was closed after {:?}: {seen}",
            t0.elapsed()
        );
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(t0.elapsed() > Duration::from_secs(2), "{:?}", t0.elapsed());
    drop(conn);
    s.stop().await;
}

/// Beyond `max_connections_per_ip`, a connection from that address is answered 503 (JSON) and
/// closed, while other addresses are served; a place freed is taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_cap_refuses_beyond_it() {
    let dir = data_dir("listen-per-ip");
    let s = serve(&dir, |c| {
        c.server.max_connections_per_ip = 3;
        c.server.header_read_timeout = Millis(30_000);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = connect_from([127, 0, 0, 2], s.addr()).await;
        c.write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("half a head");
        held.push(c);
    }
    let mut extra = connect_from([127, 0, 0, 2], s.addr()).await;
    let (got, closed) = until_closed(&mut extra).await;
    assert!(closed.is_some(), "the fourth connection was kept open");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    let body: serde_json::Value =
        serde_json::from_str(text.split_once("\r\n\r\n").map_or("", |x| x.1)).expect("JSON");
    assert_eq!(body["error"]["code"], "too_many_connections");

    // Another address is served while that one is full.
    let (status, _, _) = http(s.addr(), "GET", "/monitoring/health", None, "", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(s.addr(), "klaxon_connections_refused_total").await,
        1
    );
    // The three held, and the one asking (once the health connection is gone).
    let t0 = Instant::now();
    while metric(s.addr(), "klaxon_connections_open").await != 4 {
        assert!(t0.elapsed() < Duration::from_secs(3), "open connections");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A freed place is taken again (the server notices the close on its next read).
    drop(held.pop());
    let t0 = Instant::now();
    loop {
        let mut c = connect_from([127, 0, 0, 2], s.addr()).await;
        c.write_all(HEALTH_CLOSE.as_bytes()).await.expect("write");
        let (got, _) = until_closed(&mut c).await;
        if String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the place was not freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop().await;
}

/// Beyond `max_connections` in all, new connections are answered 503 and closed at once instead
/// of piling up; when connections end, new ones are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_cap_refuses_beyond_it() {
    let dir = data_dir("listen-total");
    let s = serve(&dir, |c| {
        c.server.max_connections = 5;
        c.server.max_connections_per_ip = 5;
        c.server.header_read_timeout = Millis(1_000);
    })
    .await;
    let mut held = Vec::new();
    for i in 0..5u8 {
        let mut c = connect_from([127, 0, 1, 1 + i], s.addr()).await;
        c.write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("half a head");
        held.push(c);
    }
    // Many more are refused, each at once, none kept open.
    let t0 = Instant::now();
    for i in 0..50u8 {
        let mut c = connect_from([127, 0, 2, 1 + i], s.addr()).await;
        let (got, closed) = until_closed(&mut c).await;
        assert!(
            closed.is_some(),
            "a connection beyond the cap was kept open"
        );
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 503"));
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // The held ones time out (slow heads); then health answers again.
    let t0 = Instant::now();
    loop {
        let mut c = TcpStream::connect(s.addr()).await.expect("connect");
        c.write_all(HEALTH_CLOSE.as_bytes()).await.expect("write");
        let (got, _) = until_closed(&mut c).await;
        if String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    s.stop().await;
}

/// Shutdown with an idle kept-alive connection, a half-sent head and an open event stream open
/// still completes promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_open_connections() {
    let dir = data_dir("listen-shutdown");
    let s = serve(&dir, |_| {}).await;
    let mut idle = TcpStream::connect(s.addr()).await.expect("connect");
    idle.write_all(HEALTH.as_bytes()).await.expect("write");
    assert!(one_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    let mut half = TcpStream::connect(s.addr()).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
    let mut stream = TcpStream::connect(s.addr()).await.expect("connect");
    stream
        .write_all(
            format!("GET /alerts/stream HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("stream head");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    tokio::time::timeout(Duration::from_secs(5), s.stop())
        .await
        .expect("shutdown within 5 s");
    for (name, c) in [("idle", &mut idle), ("stream", &mut stream)] {
        let (_, closed) = until_closed(c).await;
        assert!(closed.is_some(), "{name}: still open after shutdown");
    }
}
