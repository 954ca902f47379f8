//! HTTPS: the certificate chain and key from PEM files (`[tls]`), reloaded when the files
//! change (their modification times are checked every `reload_interval`; a new pair that does
//! not load keeps the old one and logs an error), and optional client certificates signed by a
//! configured CA, which stand for ingest callers. Builds the acceptor; serving is `listen`'s.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use sha2::Digest;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Tls as TlsConfig;
use crate::gate::ClientCert;

/// The TLS side of the listener.
pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    certs: Arc<Reloading>,
    every: Duration,
}

impl Tls {
    /// Loads the certificate, key and client CA; any of them that does not load is an error.
    pub(crate) fn load(config: &TlsConfig) -> anyhow::Result<Tls> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = Arc::new(Reloading::load(&config.cert, &config.key, &provider)?);
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?;
        let builder = match &config.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in read_certs(ca)? {
                    roots
                        .add(cert)
                        .with_context(|| format!("tls.client_ca {}", ca.display()))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        // Tokens still work over TLS: a certificate is one more way in.
                        .allow_unauthenticated()
                        .build()
                        .with_context(|| format!("tls.client_ca {}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut server = builder.with_cert_resolver(Arc::clone(&certs) as _);
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            certs,
            every: config.reload_interval.as_std(),
        })
    }

    /// Checks the files every `reload_interval` until `shutdown`.
    pub(crate) fn watch(&self, mut shutdown: watch::Receiver<bool>) {
        let certs = Arc::clone(&self.certs);
        let every = self.every;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                let c = Arc::clone(&certs);
                let _ = tokio::task::spawn_blocking(move || c.reload_if_changed()).await;
            }
        });
    }
}

/// The client certificate of a TLS connection, if it sent one (the verifier has checked it).
pub(crate) fn client_cert(conn: &rustls::ServerConnection) -> Option<ClientCert> {
    let leaf = conn.peer_certificates()?.first()?;
    let digest = sha2::Sha256::digest(leaf.as_ref());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Some(ClientCert { fingerprint: hex })
}

/// The served certificate and key, swapped when the files change.
#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last read.
    seen: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl Reloading {
    fn load(cert: &Path, key: &Path, provider: &Arc<CryptoProvider>) -> anyhow::Result<Reloading> {
        let seen = (modified(cert), modified(key));
        let current = certified(cert, key, provider)?;
        Ok(Reloading {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider: Arc::clone(provider),
            current: RwLock::new(Arc::new(current)),
            seen: Mutex::new(seen),
        })
    }

    fn reload_if_changed(&self) {
        let now = (modified(&self.cert), modified(&self.key));
        {
            let Ok(mut seen) = self.seen.lock() else {
                return;
            };
            if *seen == now {
                return;
            }
            // Tried once per change: a bad file is not read again until it changes again.
            *seen = now;
        }
        match certified(&self.cert, &self.key, &self.provider) {
            Ok(k) => {
                if let Ok(mut c) = self.current.write() {
                    *c = Arc::new(k);
                }
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::error!(
                cert = %self.cert.display(), error = %format!("{e:#}"),
                "the changed TLS certificate or key does not load; still serving the previous one"
            ),
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not PEM certificates", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{}: no certificate", path.display());
    Ok(certs)
}

/// The chain and key of the files, checked to belong together.
fn certified(cert: &Path, key: &Path, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain = read_certs(cert)?;
    let pem = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .with_context(|| format!("{}: not a PEM private key", key.display()))?;
    CertifiedKey::from_der(chain, der, provider).with_context(|| {
        format!(
            "{} and {}: not a certificate and its key",
            cert.display(),
            key.display()
        )
    })
}
