//! The outbound policy: which addresses notifications may connect to. A receiver's URL or
//! smarthost is a name; what counts is the address a connection is actually made to, so the
//! name is resolved once, every address is checked, and the connection goes to a checked
//! address (a DNS answer that changes between a check and a connect cannot slip past).
//!
//! Denied unless an `allow_networks` entry covers the address: the `deny_networks` (by default
//! link-local addresses, where cloud metadata services answer, the cloud metadata addresses
//! outside them, and "this host" `0.0.0.0/8`), and klaxon's own listening address and port
//! (a notification must not call klaxon's API with a receiver's headers). Loopback and private
//! networks are allowed: people run receivers next to klaxon.
//!
//! Host names that spell an IPv4 address the old way (`0x7f000001`, `2130706433`,
//! `0177.0.0.1`, `127.1`) are read as that address, as the C library would, and an IPv4
//! address mapped into IPv6 (`::ffff:169.254.169.254`) is checked as the IPv4 address.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The networks denied by default.
pub const DEFAULT_DENY: [&str; 6] = [
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "0.0.0.0/8",
    "::/128",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection the policy refused; never retried (the address will not change its mind).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// An address block, `169.254.0.0/16` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let base: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an address or a network (a.b.c.d/n, x::y/n)"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("`{s}`: the prefix length must be 0 to {max}")),
            },
        };
        Ok(Network {
            base: canonical(base),
            prefix: if base.is_ipv6() && canonical(base).is_ipv4() {
                prefix.saturating_sub(96)
            } else {
                prefix
            },
        })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, canonical(ip)) {
            (IpAddr::V4(b), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(b) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(b), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(b) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address mapped into IPv6 is that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address a host name spells, read the way the C library's resolver reads it: IPv6 in
/// brackets or not, and IPv4 in one to four parts, each decimal, octal (leading `0`) or hex
/// (`0x`), the last filling the remaining bytes. `None` for a name to look up.
pub fn parse_ip(host: &str) -> Option<IpAddr> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or(p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() {
            return None;
        }
        nums.push(u32::from_str_radix(digits, radix).ok()?);
    }
    let (last, init) = nums.split_last()?;
    if init.iter().any(|n| *n > 255) {
        return None;
    }
    let rest = 8 * (4 - u32::try_from(init.len()).ok()?);
    if rest < 32 && *last >= 1 << rest {
        return None;
    }
    let high = init
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, n)| acc | (n << (24 - 8 * i)));
    Some(IpAddr::V4(Ipv4Addr::from(high | last)))
}

/// Whether `ip` is an address of this machine (binding to it works only then; no packet
/// leaves).
fn is_local(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// Where notifications may connect.
#[derive(Debug)]
pub struct Policy {
    deny: Vec<Network>,
    allow: Vec<Network>,
    /// klaxon's own listening addresses.
    own: RwLock<Vec<SocketAddr>>,
    /// Whether HTTP redirects are followed (each hop checked again).
    pub follow_redirects: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(
            DEFAULT_DENY.iter().filter_map(|n| n.parse().ok()).collect(),
            Vec::new(),
            false,
        )
    }
}

impl Policy {
    pub fn new(deny: Vec<Network>, allow: Vec<Network>, follow_redirects: bool) -> Policy {
        Policy {
            deny,
            allow,
            own: RwLock::new(Vec::new()),
            follow_redirects,
        }
    }

    /// Parses networks; every error, each with the key and position.
    pub fn networks(list: &[String], key: &str, errors: &mut Vec<String>) -> Vec<Network> {
        list.iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.parse()
                    .map_err(|e| errors.push(format!("{key}[{i}]: {e}")))
                    .ok()
            })
            .collect()
    }

    /// Records klaxon's own listening address (once the listener is bound).
    pub fn add_own(&self, addr: SocketAddr) {
        let mut own = self.own.write().unwrap_or_else(|e| e.into_inner());
        if !own.contains(&addr) {
            own.push(addr);
        }
    }

    /// Whether a connection to `addr` is allowed, and why not.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Denied> {
        let ip = canonical(addr.ip());
        if self.allow.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        if let Some(n) = self.deny.iter().find(|n| n.contains(ip)) {
            return Err(Denied(format!(
                "{ip} is in {n}, which [notify] deny_networks refuses"
            )));
        }
        let own = self.own.read().unwrap_or_else(|e| e.into_inner());
        let to_self = own.iter().any(|o| {
            let o_ip = canonical(o.ip());
            o.port() == addr.port()
                && (ip == o_ip
                    || ip.is_unspecified()
                    || (o_ip.is_unspecified() && (ip.is_loopback() || is_local(ip))))
        });
        if to_self {
            return Err(Denied(format!(
                "{} is klaxon's own listening address ([notify] allow_networks may allow it)",
                SocketAddr::new(ip, addr.port())
            )));
        }
        Ok(())
    }

    /// The addresses `host` may be reached at on `port`: resolved once, each checked. Err is
    /// a [`Denied`] when every address is refused, or a lookup failure.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, BoxError> {
        let found: Vec<SocketAddr> = match parse_ip(host) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("resolving {host}: {e}"))?
                .collect(),
        };
        let mut refused = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.check(*a) {
                Ok(()) => true,
                Err(d) => {
                    refused.get_or_insert(d);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (false, _) => Ok(allowed),
            (true, Some(Denied(why))) => Err(Box::new(Denied(format!(
                "refused by the outbound policy: {host}: {why}"
            )))),
            (true, None) => Err(format!("resolving {host}: no address").into()),
        }
    }
}

/// The denial in an error's chain, if the policy refused the connection.
pub fn denial<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Denied> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(d) = err.downcast_ref::<Denied>() {
            return Some(d);
        }
        cur = err.source();
    }
    None
}

/// The HTTP client's connector: resolves with the policy and connects to a checked address.
#[derive(Debug, Clone)]
pub struct Connector {
    pub policy: Arc<Policy>,
    pub connect_timeout: Duration,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let policy = Arc::clone(&self.policy);
        let timeout = self.connect_timeout;
        Box::pin(async move {
            let host = uri.host().ok_or("the URL has no host")?;
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                });
            let mut last = String::from("no address");
            for addr in policy.resolve(host, port).await? {
                match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => {
                        s.set_nodelay(true)?;
                        return Ok(TokioIo::new(s));
                    }
                    Ok(Err(e)) => last = format!("{addr}: {e}"),
                    Err(_) => last = format!("{addr}: no connection within {timeout:?}"),
                }
            }
            Err(last.into())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;

    #[test]
    fn odd_spellings_are_read_as_the_address_they_spell() {
        for (host, want) in [
            ("0x7f000001", Some("127.0.0.1")),
            ("2130706433", Some("127.0.0.1")),
            ("0177.0.0.1", Some("127.0.0.1")),
            ("127.1", Some("127.0.0.1")),
            ("0xa9.0xfe.0xa9.0xfe", Some("169.254.169.254")),
            ("169.254.43518", Some("169.254.169.254")),
            ("[::ffff:169.254.169.254]", Some("::ffff:169.254.169.254")),
            ("::1", Some("::1")),
            ("example.com", None),
            ("1.2.3.example", None),
            ("256.1.1.1", None),
            ("1.2.3.4.5", None),
            ("0x", None),
            ("4294967296", None),
        ] {
            assert_eq!(
                parse_ip(host).map(|i| i.to_string()).as_deref(),
                want,
                "{host}"
            );
        }
    }

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_policy_refuses_metadata_and_link_local_and_allows_loopback() {
        let p = Policy::default();
        for denied in [
            "169.254.169.254:80",
            "[::ffff:169.254.169.254]:80",
            "[fe80::1]:80",
            "[fd00:ec2::254]:80",
            "100.100.100.200:80",
            "0.0.0.0:80",
        ] {
            assert!(p.check(at(denied)).is_err(), "{denied}");
        }
        for allowed in ["127.0.0.1:80", "[::1]:80", "10.1.2.3:443", "192.168.1.1:25"] {
            assert!(p.check(at(allowed)).is_ok(), "{allowed}");
        }
        let e = p.check(at("169.254.169.254:80")).unwrap_err();
        assert_eq!(
            e.0,
            "169.254.169.254 is in 169.254.0.0/16, which [notify] deny_networks refuses"
        );
    }

    #[test]
    fn klaxons_own_port_is_refused_unless_allowed() {
        let p = Policy::default();
        p.add_own(at("127.0.0.1:7777"));
        assert!(p.check(at("127.0.0.1:7777")).is_err());
        assert!(p.check(at("[::ffff:127.0.0.1]:7777")).is_err());
        assert!(p.check(at("127.0.0.1:7778")).is_ok());
        let any = Policy::default();
        any.add_own(at("0.0.0.0:7777"));
        assert!(any.check(at("127.0.0.2:7777")).is_err(), "any loopback");
        let allowed = Policy::new(Vec::new(), vec!["127.0.0.0/8".parse().unwrap()], false);
        allowed.add_own(at("127.0.0.1:7777"));
        assert!(allowed.check(at("127.0.0.1:7777")).is_ok());
    }

    #[test]
    fn allow_networks_punch_holes_and_bad_networks_are_named() {
        let mut errors = Vec::new();
        let deny = Policy::networks(
            &["10.0.0.0/8".into(), "10.0.0.0/33".into(), "nope".into()],
            "notify.deny_networks",
            &mut errors,
        );
        let allow = Policy::networks(
            &["10.9.0.0/16".into()],
            "notify.allow_networks",
            &mut errors,
        );
        assert_eq!(
            errors,
            [
                "notify.deny_networks[1]: `10.0.0.0/33`: the prefix length must be 0 to 32",
                "notify.deny_networks[2]: `nope` is not an address or a network (a.b.c.d/n, x::y/n)",
            ]
        );
        let p = Policy::new(deny, allow, false);
        assert!(p.check(at("10.1.0.1:80")).is_err());
        assert!(p.check(at("10.9.0.1:80")).is_ok());
    }

    #[tokio::test]
    async fn names_are_resolved_then_checked() {
        let p = Policy::default();
        let e = p.resolve("0xa9fea9fe", 80).await.unwrap_err();
        let d = denial(e.as_ref()).expect("a denial");
        assert!(d.0.contains("169.254.169.254 is in 169.254.0.0/16"), "{d}");
        let local = p.resolve("localhost", 80).await.unwrap();
        assert!(local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
        let strict = Policy::new(
            vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()],
            Vec::new(),
            false,
        );
        let e = strict.resolve("localhost", 80).await.unwrap_err();
        assert!(
            denial(e.as_ref()).is_some_and(|d| d
                .0
                .starts_with("refused by the outbound policy: localhost: ")),
            "{e}"
        );
    }
}
