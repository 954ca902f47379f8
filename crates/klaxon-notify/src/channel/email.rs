//! The e-mail channel: SMTP with no TLS, STARTTLS (required, not opportunistic) or TLS from
//! the first byte, optional authentication, and a multipart/alternative message with a text
//! and an HTML part (the HTML template escapes everything it inserts). The subject carries the
//! kind; `Message-ID` carries the idempotency key, `X-Klaxon-Kind` the kind. SMTP 4xx replies,
//! timeouts and connection failures are retried, 5xx replies are not.
//!
//! The smarthost is resolved and checked by the outbound policy before each send, and the
//! transport connects to the checked address itself (TLS still verifies the smarthost's
//! name), so the SMTP client never resolves the name again.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use super::SendContext;
use crate::duration::Millis;
use crate::notification::Notification;
use crate::retry::DeliveryOutcome;
use crate::secret::Secret;
use crate::template::{self, defaults, Escape, TemplateId, Templates};

/// `[smtp]`: defaults for every e-mail channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpDefaults {
    pub smarthost: Option<String>,
    pub from: Option<String>,
    pub tls: Option<String>,
    /// A PEM file of certificate authorities to trust besides the public ones.
    pub ca_file: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub hello: Option<String>,
}

/// `[[receivers.email_configs]]`; unset server settings come from `[smtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub to: Vec<String>,
    pub from: Option<String>,
    /// `host:port`.
    pub smarthost: Option<String>,
    /// `starttls` (default), `tls` or `none`.
    pub tls: Option<String>,
    /// A PEM file of certificate authorities to trust besides the public ones (a relay with
    /// a private CA).
    pub ca_file: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The name klaxon gives in EHLO.
    pub hello: Option<String>,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub send_resolved: Option<bool>,
    pub send_acknowledged: Option<bool>,
    pub timeout: Option<Millis>,
}

super::common_settings!(EmailConfig);

/// How many certificates a PEM text holds (keys and other blocks are not counted).
fn certificates_in(pem: &[u8]) -> usize {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .filter(Result::is_ok)
        .count()
}

/// A compiled e-mail channel.
pub struct Email {
    host: String,
    port: u16,
    timeout: Duration,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: Option<ClientId>,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: TemplateId,
    html: TemplateId,
    text: TemplateId,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl Email {
    pub fn compile(
        c: &EmailConfig,
        smtp: &SmtpDefaults,
        timeout: Duration,
        key: &str,
        t: &mut Templates,
        errors: &mut Vec<String>,
    ) -> Option<Email> {
        let before = errors.len();
        let from = c.from.clone().or_else(|| smtp.from.clone());
        let from = match from.as_deref().map(str::parse::<Mailbox>) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                errors.push(format!("{key}.from: not an address: {e}"));
                None
            }
            None => {
                errors.push(format!("{key}.from: needed (here or in [smtp])"));
                None
            }
        };
        let mut to = Vec::new();
        for (i, addr) in c.to.iter().enumerate() {
            match addr.parse::<Mailbox>() {
                Ok(m) => to.push(m),
                Err(e) => errors.push(format!("{key}.to[{i}]: not an address: {e}")),
            }
        }
        if c.to.is_empty() {
            errors.push(format!("{key}.to: at least one address"));
        }
        let host = c.smarthost.clone().or_else(|| smtp.smarthost.clone());
        let (host, port) = match host.as_deref().and_then(|h| h.rsplit_once(':')) {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {
                (h.to_owned(), p.parse::<u16>().unwrap_or(25))
            }
            _ => {
                errors.push(format!(
                    "{key}.smarthost: needed as host:port (here or in [smtp])"
                ));
                (String::new(), 0)
            }
        };
        let tls = c
            .tls
            .clone()
            .or_else(|| smtp.tls.clone())
            .unwrap_or_else(|| "starttls".to_owned());
        let ca = c.ca_file.as_ref().or(smtp.ca_file.as_ref());
        let ca = match ca.map(|path| (path, std::fs::read(path))) {
            None => None,
            Some((path, Err(e))) => {
                errors.push(format!("{key}.ca_file: cannot read {path}: {e}"));
                None
            }
            Some((path, Ok(pem))) => match Certificate::from_pem(&pem) {
                Ok(cert) if certificates_in(&pem) > 0 => Some(cert),
                _ => {
                    errors.push(format!("{key}.ca_file: {path} holds no PEM certificate"));
                    None
                }
            },
        };
        let params = || match &ca {
            Some(cert) => TlsParameters::builder(host.clone())
                .add_root_certificate(cert.clone())
                .build_rustls(),
            None => TlsParameters::new(host.clone()),
        };
        let tls = match tls.as_str() {
            "none" => Some(Tls::None),
            "starttls" => params()
                .map(Tls::Required)
                .map_err(|e| errors.push(format!("{key}.tls: {e}")))
                .ok(),
            "tls" => params()
                .map(Tls::Wrapper)
                .map_err(|e| errors.push(format!("{key}.tls: {e}")))
                .ok(),
            other => {
                errors.push(format!(
                    "{key}.tls: `{other}` is not one of starttls, tls, none"
                ));
                None
            }
        };
        let user = c.username.clone().or_else(|| smtp.username.clone());
        let pass = c.password.clone().or_else(|| smtp.password.clone());
        let credentials = match (user, pass) {
            (Some(u), Some(p)) => Some(Credentials::new(u, p.0)),
            (None, None) => None,
            _ => {
                errors.push(format!("{key}.username: username and password go together"));
                None
            }
        };
        let hello = c
            .hello
            .clone()
            .or_else(|| smtp.hello.clone())
            .map(ClientId::Domain);
        let subject = t.add(
            &format!("{key}.subject"),
            c.subject.as_deref().unwrap_or(defaults::TITLE),
            Escape::Text,
        );
        let html = t.add(
            &format!("{key}.html"),
            c.html.as_deref().unwrap_or(defaults::EMAIL_HTML),
            Escape::Html,
        );
        let text = t.add(
            &format!("{key}.text"),
            c.text.as_deref().unwrap_or(defaults::EMAIL_TEXT),
            Escape::Text,
        );
        let (subject, html, text) = match (subject, html, text) {
            (Ok(s), Ok(h), Ok(x)) => (s, h, x),
            (s, h, x) => {
                errors.extend([s.err(), h.err(), x.err()].into_iter().flatten());
                return None;
            }
        };
        if errors.len() > before {
            return None;
        }
        Some(Email {
            host,
            port,
            timeout,
            tls: tls?,
            credentials,
            hello,
            from: from?,
            to,
            subject,
            html,
            text,
        })
    }

    /// The message of a notification.
    pub fn message(
        &self,
        templates: &Templates,
        n: &Notification,
        external_url: &str,
        key: &str,
    ) -> Result<Message, String> {
        let ctx = template::value(&template::context(n, external_url));
        let subject = templates.render(&self.subject, &ctx)?;
        let html = templates.render(&self.html, &ctx)?;
        let text = templates.render(&self.text, &ctx)?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(subject.lines().next().unwrap_or("").trim().to_owned())
            .message_id(Some(format!("<{key}@klaxon>")));
        for t in &self.to {
            b = b.to(t.clone());
        }
        let mut m = b
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| format!("building the message: {e}"))?;
        let name =
            HeaderName::new_from_ascii("X-Klaxon-Kind".to_owned()).map_err(|e| e.to_string())?;
        m.headers_mut()
            .insert_raw(HeaderValue::new(name, n.kind.as_str().to_owned()));
        Ok(m)
    }

    /// `host:port` of the smarthost, lower case.
    pub(crate) fn smarthost(&self) -> String {
        format!("{}:{}", self.host.to_ascii_lowercase(), self.port)
    }

    /// A transport to the smarthost at `ip` (no pool: one connection per message).
    fn transport(&self, ip: std::net::IpAddr) -> AsyncSmtpTransport<Tokio1Executor> {
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ip.to_string())
            .port(self.port)
            .timeout(Some(self.timeout))
            .tls(self.tls.clone());
        if let Some(c) = &self.credentials {
            b = b.credentials(c.clone());
        }
        if let Some(h) = &self.hello {
            b = b.hello_name(h.clone());
        }
        b.build()
    }

    pub(crate) async fn send(&self, cx: &SendContext<'_>, n: &Notification) -> DeliveryOutcome {
        let m = match self.message(cx.templates, n, cx.external_url, cx.idempotency_key) {
            Ok(m) => m,
            Err(e) => return DeliveryOutcome::failed(e),
        };
        let addrs = match cx.http.policy().resolve(&self.host, self.port).await {
            Ok(a) => a,
            Err(e) => {
                return match crate::outbound::denial(e.as_ref()) {
                    Some(d) => DeliveryOutcome::failed(format!("smtp: {d}")),
                    None => DeliveryOutcome::retry(format!("smtp: {e}")),
                }
            }
        };
        let Some(addr) = addrs.first() else {
            return DeliveryOutcome::retry(format!("smtp: resolving {}: no address", self.host));
        };
        match self.transport(addr.ip()).send(m).await {
            Ok(_) => DeliveryOutcome::Sent { status: Some(250) },
            Err(e) => {
                let status = e.status().map(u16::from);
                let error = format!("smtp: {e}");
                if e.is_permanent() {
                    DeliveryOutcome::Failed { error, status }
                } else {
                    DeliveryOutcome::Retry {
                        error,
                        status,
                        after: None,
                    }
                }
            }
        }
    }
}
