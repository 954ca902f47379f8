//! HTTPS served by klaxon itself, with certificates a private CA made in the test (by the
//! `openssl` command, as the e-mail tests make theirs): a client that trusts the CA is served
//! (with Strict-Transport-Security and a Secure session cookie), plain HTTP to the port is not,
//! a certificate replaced on disk is served to the next client (a broken replacement is not),
//! and a client certificate signed by the configured CA sends signals without a token.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_notify::duration::Millis;
use klaxon_server::config::Tls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{data_dir, serve, ADMIN};

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `None` (after saying why) without the `openssl` command, unless peers are required.
fn have_openssl() -> bool {
    let ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("KLAXON_REQUIRE_PEERS").is_err(),
            "KLAXON_REQUIRE_PEERS is set but there is no openssl command"
        );
        println!("skipped: no openssl command to make certificates");
    }
    ok
}

/// A CA named `name`: `name.pem`, `name.key`.
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
}

/// A certificate `out.pem` with key `out.key`, signed by CA `by`, with `serial` and `ext`.
fn leaf(dir: &Path, by: &str, out: &str, serial: u32, ext: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{out}.key"),
            "-out",
            &format!("{out}.csr"),
            "-subj",
            &format!("/CN={out}"),
        ],
    );
    std::fs::write(dir.join(format!("{out}.ext")), ext).expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{out}.csr"),
            "-CA",
            &format!("{by}.pem"),
            "-CAkey",
            &format!("{by}.key"),
            "-set_serial",
            &serial.to_string(),
            "-days",
            "2",
            "-out",
            &format!("{out}.pem"),
            "-extfile",
            &format!("{out}.ext"),
        ],
    );
}

const SERVER_EXT: &str = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
const CLIENT_EXT: &str = "extendedKeyUsage=clientAuth\n";

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("pem")
        .collect::<Result<_, _>>()
        .expect("certs")
}

/// A TLS client trusting `ca`, presenting `client` (cert, key) if given.
fn connector(ca: &Path, client: Option<(&Path, &Path)>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca) {
        roots.add(c).expect("root");
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let config = match client {
        None => b.with_no_client_auth(),
        Some((cert, key)) => b
            .with_client_auth_cert(certs(cert), PrivateKeyDer::from_pem_file(key).expect("key"))
            .expect("client cert"),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One request over a fresh TLS connection: the status line and headers, the body, and the
/// certificate the server presented.
async fn https(
    addr: std::net::SocketAddr,
    tls: &tokio_rustls::TlsConnector,
    request: &str,
) -> std::io::Result<(String, String, Vec<u8>)> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let mut s = tls.connect(name, tcp).await?;
    let presented = s
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .unwrap_or_default();
    s.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    // A server that closes without close_notify is an error to rustls; what came is enough.
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.to_owned(), body.to_owned(), presented))
}

fn get(path: &str, token: Option<&str>) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n")
}

fn post(path: &str, token: Option<&str>, body: &str) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn der(path: &Path) -> Vec<u8> {
    certs(path)[0].as_ref().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_reloaded_certificates_and_client_certificates_for_ingest() {
    if !have_openssl() {
        return;
    }
    let dir = data_dir("https");
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).expect("pki dir");
    ca(&pki, "ca");
    ca(&pki, "clients");
    leaf(&pki, "ca", "server", 1, SERVER_EXT);
    leaf(&pki, "clients", "sender", 7, CLIENT_EXT);
    leaf(&pki, "ca", "stranger", 8, CLIENT_EXT);
    let (cert, key) = (pki.join("served.pem"), pki.join("served.key"));
    std::fs::copy(pki.join("server.pem"), &cert).expect("copy");
    std::fs::copy(pki.join("server.key"), &key).expect("copy");
    let s = serve(&dir, |c| {
        c.tls = Some(Tls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: Some(pki.join("clients.pem")),
            reload_interval: Millis(100),
        });
    })
    .await;
    let trusting = connector(&pki.join("ca.pem"), None);

    // Trusted: served, with HSTS.
    let (head, body, presented) = https(s.addr(), &trusting, &get("/monitoring/health", None))
        .await
        .expect("https");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "{head}"
    );
    assert_eq!(presented, der(&pki.join("server.pem")));

    // Not trusted: the handshake fails.
    let untrusting = connector(&pki.join("clients.pem"), None);
    assert!(
        https(s.addr(), &untrusting, &get("/monitoring/health", None))
            .await
            .is_err()
    );

    // Plain HTTP to the TLS port is not answered in HTTP.
    let mut plain = TcpStream::connect(s.addr()).await.expect("connect");
    plain
        .write_all(get("/monitoring/health", None).as_bytes())
        .await
        .expect("write");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut raw)).await;
    assert!(
        !raw.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );

    // The session cookie is Secure over TLS.
    let (head, _, _) = https(
        s.addr(),
        &trusting,
        &post("/ui/signin", None, &format!("{{\"token\": \"{ADMIN}\"}}")),
    )
    .await
    .expect("sign in");
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(cookie.contains("; Secure"), "{cookie}");

    // A client certificate of the configured CA sends signals without a token, and only that.
    let sender = connector(
        &pki.join("ca.pem"),
        Some((&pki.join("sender.pem"), &pki.join("sender.key"))),
    );
    let signal = r#"{"kind":"mark","process":"tls-1","action":"A"}"#;
    let (head, body, _) = https(s.addr(), &sender, &post("/v1/signals", None, signal))
        .await
        .expect("ingest");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    assert!(body.contains("\"accepted\":1"), "{body}");
    let (head, _, _) = https(s.addr(), &sender, &get("/v1/alerts", None))
        .await
        .expect("read");
    assert!(
        head.starts_with("HTTP/1.1 401"),
        "a certificate is not a reader: {head}"
    );
    let (head, _, _) = https(s.addr(), &trusting, &post("/v1/signals", None, signal))
        .await
        .expect("no cert");
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // A certificate of another CA is refused in the handshake.
    let stranger = connector(
        &pki.join("ca.pem"),
        Some((&pki.join("stranger.pem"), &pki.join("stranger.key"))),
    );
    let refused = https(s.addr(), &stranger, &post("/v1/signals", None, signal)).await;
    assert!(
        refused
            .as_ref()
            .map_or(true, |(h, _, _)| !h.starts_with("HTTP/1.1 200")),
        "{refused:?}"
    );

    // The certificate is replaced on disk: a fresh client (no session to resume) sees the new
    // one.
    leaf(&pki, "ca", "renewed", 2, SERVER_EXT);
    std::fs::copy(pki.join("renewed.key"), &key).expect("new key");
    std::fs::copy(pki.join("renewed.pem"), &cert).expect("new cert");
    let renewed = der(&pki.join("renewed.pem"));
    let t0 = Instant::now();
    loop {
        let fresh = connector(&pki.join("ca.pem"), None);
        let (head, _, presented) = https(s.addr(), &fresh, &get("/monitoring/health", None))
            .await
            .expect("https during the change");
        if presented == renewed {
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A broken replacement is not served: the last good certificate stays.
    std::fs::write(&cert, "not a certificate").expect("break");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(500) {
        let fresh = connector(&pki.join("ca.pem"), None);
        let (head, _, presented) = https(s.addr(), &fresh, &get("/monitoring/health", None))
            .await
            .expect("still served");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(presented, renewed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.stop().await;
}

/// A certificate that does not load stops the start with an error naming `[tls]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_certificate_is_an_error_at_start() {
    let dir = data_dir("https-bad");
    let cert = dir.join("cert.pem");
    std::fs::write(&cert, "nothing").expect("write");
    let mut config = klaxon_server::config::Config {
        data_dir: dir.to_path_buf(),
        admin_token: Some(klaxon_server::config::Secret(ADMIN.to_owned())),
        ..Default::default()
    };
    config.tls = Some(Tls {
        cert: cert.clone(),
        key: cert,
        client_ca: None,
        reload_interval: Millis(1000),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        klaxon_server::run(config, listener, std::future::pending()),
    )
    .await
    .expect("returns")
    .expect_err("a bad certificate");
    assert!(format!("{err:#}").contains("[tls]"), "{err:#}");
}
