//! Access tokens: generation, hashing (SHA-256, only hashes are stored), constant-time
//! comparison, roles, and the first-start admin token. Owns no HTTP routing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::http::HeaderMap;
use klaxon_store::{Role, Store, StoreError};
use sha2::{Digest, Sha256};

use crate::dashboard::session::Sessions;
use crate::error::{ApiError, ApiResult};

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Sending signals: `ingest` or `admin`.
    Ingest,
    /// Reading: `viewer`, `responder` or `admin`.
    Read,
    /// Acting on alerts: `responder` or `admin`.
    Respond,
    /// Rule sets, tokens, configuration: `admin`.
    Admin,
}

/// Whether a token of `role` may do what `need` asks.
pub fn allows(role: Role, need: Need) -> bool {
    match need {
        Need::Ingest => matches!(role, Role::Ingest | Role::Admin),
        Need::Read => matches!(role, Role::Viewer | Role::Responder | Role::Admin),
        Need::Respond => matches!(role, Role::Responder | Role::Admin),
        Need::Admin => role == Role::Admin,
    }
}

/// Hex SHA-256 of a token.
pub fn hash_token(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token: `kx_` and 64 hex digits (256 bits).
pub fn generate_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    let mut s = String::from("kx_");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// Who called: the token's role and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// The token's name, recorded as the actor of what the caller does.
    pub name: String,
}

/// Checks bearer tokens against the store, with a cache of known hashes, and dashboard
/// sessions (a request without a bearer token may carry a session cookie).
pub struct Auth<S> {
    store: S,
    known: RwLock<HashMap<String, Caller>>,
    /// Dashboard sessions; the cookie stands for the token the session was opened with.
    pub sessions: Arc<Sessions>,
}

impl<S: Store + Clone> Auth<S> {
    pub fn new(store: S) -> Auth<S> {
        Auth {
            store,
            known: RwLock::new(HashMap::new()),
            sessions: Arc::new(Sessions::default()),
        }
    }

    /// Dashboard sessions last `session_hours` and are kept in `<data_dir>/sessions.json`
    /// (hashes of their ids), so a restart keeps browsers signed in.
    pub fn with_dashboard(self, config: &crate::config::Dashboard, data_dir: &Path) -> Auth<S> {
        let ms = i64::try_from(config.session_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
        self.sessions.set_ttl_ms(ms);
        self.sessions
            .keep_in(data_dir.join("sessions.json"), crate::driver::wall_ms());
        self
    }

    /// The role of the request's bearer token, if it allows `need`.
    pub async fn check(&self, headers: &HeaderMap, need: Need) -> ApiResult<Role> {
        self.caller(headers, need).await.map(|c| c.role)
    }

    /// The caller behind the request's bearer token (or, without one, its dashboard session
    /// cookie), if its role allows `need`. Cross-site checks of cookie requests are made before
    /// any handler runs (`dashboard::guard`).
    pub async fn caller(&self, headers: &HeaderMap, need: Need) -> ApiResult<Caller> {
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let caller = match bearer {
            Some(token) => self.of_token(token).await?,
            None => match self.sessions.of_request(headers, crate::driver::wall_ms()) {
                Some(s) => s.caller,
                None if crate::dashboard::session::cookie(headers).is_some() => {
                    return Err(ApiError::unauthorized(
                        "the dashboard session has ended; sign in again",
                    ))
                }
                None => {
                    return Err(ApiError::unauthorized(
                        "missing bearer token (Authorization: Bearer <token>)",
                    ))
                }
            },
        };
        permit(caller, need)
    }

    /// The caller a token stands for, whatever its role.
    pub async fn of_token(&self, token: &str) -> ApiResult<Caller> {
        let hash = hash_token(token);
        let cached = self.known.read().ok().and_then(|k| k.get(&hash).cloned());
        match cached {
            Some(c) => Ok(c),
            None => {
                let rec = self.store.find_token(&hash).await?;
                let Some(rec) =
                    rec.filter(|r| constant_time_eq(r.hash.as_bytes(), hash.as_bytes()))
                else {
                    return Err(ApiError::unauthorized("unknown token"));
                };
                let caller = Caller {
                    role: rec.role,
                    name: rec.name,
                };
                if let Ok(mut k) = self.known.write() {
                    k.insert(hash, caller.clone());
                }
                Ok(caller)
            }
        }
    }
}

/// The caller, if its role allows `need`.
fn permit(caller: Caller, need: Need) -> ApiResult<Caller> {
    if allows(caller.role, need) {
        Ok(caller)
    } else {
        Err(ApiError::forbidden(format!(
            "a token with role {} may not do this",
            caller.role.as_str()
        )))
    }
}

/// Makes sure an admin token exists: the configured one (stored hashed), else on the very first
/// start a generated one written to `<data_dir>/admin.token` with mode 0600. Returns the file
/// written, if any.
pub async fn ensure_admin<S: Store>(
    store: &S,
    configured: Option<&str>,
    data_dir: &Path,
    now: i64,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(token) = configured {
        let hash = hash_token(token);
        if store.find_token(&hash).await?.is_none() {
            let name = format!("config-admin-{}", &hash[..12]);
            match store.insert_token(&name, Role::Admin, &hash, now).await {
                Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(None);
    }
    if store
        .list_tokens()
        .await?
        .iter()
        .any(|t| t.role == Role::Admin)
    {
        return Ok(None);
    }
    let token = generate_token()?;
    let path = data_dir.join("admin.token");
    write_private(&path, &format!("{token}\n"))?;
    store
        .insert_token("bootstrap-admin", Role::Admin, &hash_token(&token), now)
        .await?;
    Ok(Some(path))
}

pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    f.sync_all()
        .map_err(|e| anyhow::anyhow!("syncing {}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_should() {
        assert!(allows(Role::Ingest, Need::Ingest));
        assert!(!allows(Role::Ingest, Need::Read));
        assert!(!allows(Role::Viewer, Need::Ingest));
        assert!(allows(Role::Viewer, Need::Read));
        assert!(!allows(Role::Viewer, Need::Respond));
        assert!(allows(Role::Responder, Need::Respond));
        assert!(!allows(Role::Responder, Need::Admin));
        assert!(allows(Role::Admin, Need::Admin) && allows(Role::Admin, Need::Ingest));
    }

    #[test]
    fn hashes_and_compares() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let t = generate_token().expect("randomness");
        assert!(t.starts_with("kx_") && t.len() == 67);
        assert_ne!(t, generate_token().expect("randomness"));
    }
}
