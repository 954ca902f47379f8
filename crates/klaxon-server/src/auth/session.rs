//! Dashboard sessions, kept in the store: a random session id (the cookie) stands for the token
//! the session was opened with, with a CSRF token and an expiry. Only the hash of a session id
//! is stored, so the database holds no usable cookie. A token keeps at most
//! [`PER_TOKEN`] sessions (its oldest make room); revoking the token ends them. Expired
//! sessions are deleted every [`SWEEP_EVERY`]. Sessions of the older file
//! `<data_dir>/sessions.json` are carried over once at start and the file removed.
//! Owns no HTTP routing.

use std::path::Path;
use std::time::Duration;

use klaxon_store::{NewSession, Store, TokenState};
use serde_json::Value;

use super::token::{constant_time_eq, hash_token, Caller};
use super::Auth;
use crate::error::{ApiError, ApiResult};

pub(crate) use super::credential::COOKIE;

/// The header that carries the session's CSRF token on every mutating request.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Sessions one token keeps at most; a sign-in beyond this ends that token's oldest session.
pub(crate) const PER_TOKEN: usize = 20;

/// How often expired sessions are deleted.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// The file sessions were kept in before they moved into the database.
pub(crate) const LEGACY_FILE: &str = "sessions.json";

/// One signed-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub caller: Caller,
    /// Sent by the page in [`CSRF_HEADER`]; never in a cookie.
    pub csrf: String,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms; the session ends then, whatever happens meanwhile.
    pub expires_at: i64,
}

/// A new session as handed to the browser: the cookie value and the session.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub id: String,
    pub session: Session,
}

impl Session {
    /// Whether `given` is this session's CSRF token (constant time).
    pub(crate) fn csrf_matches(&self, given: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), given.trim().as_bytes())
    }
}

impl<S: Store + Clone> Auth<S> {
    /// Opens a session for the holder of `token` at `now` (epoch ms); it ends after the
    /// session lifetime or when the token expires, whichever comes first.
    pub(crate) async fn open_session(&self, token: &str, now: i64) -> ApiResult<Opened> {
        let (caller, token_expires) = self.resolve(token, now).await?;
        let id = random_hex()?;
        let expires_at = now
            .saturating_add(self.session_ttl_ms)
            .min(token_expires.unwrap_or(i64::MAX));
        let session = Session {
            caller,
            csrf: random_hex()?,
            created_at: now,
            expires_at,
        };
        let ended = self
            .store
            .open_session(
                NewSession {
                    key: hash_token(&id),
                    token_id: session.caller.token_id,
                    csrf: session.csrf.clone(),
                    created_at: now,
                    expires_at,
                },
                PER_TOKEN,
            )
            .await?;
        if ended > 0 {
            tracing::debug!(name = %session.caller.name, ended, "older dashboard sessions of the token ended");
        }
        Ok(Opened { id, session })
    }

    /// The live session of a cookie value at `now`: none when it ended, expired, or its token
    /// is no longer in force.
    pub(crate) async fn live_session(&self, id: &str, now: i64) -> ApiResult<Option<Session>> {
        let Some(rec) = self.store.find_session(&hash_token(id)).await? else {
            return Ok(None);
        };
        if rec.expires_at <= now || rec.token.state(now) != TokenState::Active {
            return Ok(None);
        }
        self.used(rec.token.id, rec.token.last_used_at, now);
        Ok(Some(Session {
            caller: Caller::of(&rec.token),
            csrf: rec.csrf,
            created_at: rec.created_at,
            expires_at: rec.expires_at,
        }))
    }

    /// The live session of a cookie value, or 401.
    pub(crate) async fn session(&self, id: &str, now: i64) -> ApiResult<Session> {
        self.live_session(id, now)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the dashboard session has ended; sign in again"))
    }

    /// Ends the session of a cookie value; true if there was one.
    pub(crate) async fn close_session(&self, id: &str) -> ApiResult<bool> {
        Ok(self.store.close_session(&hash_token(id)).await?)
    }

    /// Carries the sessions of the older `<data_dir>/sessions.json` into the store, once:
    /// each live one whose token (by name) is still in force, then removes the file. A file
    /// that cannot be read is removed too (browsers sign in again); when the store refuses,
    /// the file stays for the next start.
    pub(crate) async fn import_legacy_sessions(&self, data_dir: &Path, now: i64) {
        let path = data_dir.join(LEGACY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "older dashboard sessions not read; browsers sign in again");
                remove(&path);
                return;
            }
        };
        match self.import(&text, now).await {
            Ok((kept, dropped)) => {
                tracing::info!(
                    file = %path.display(), kept, dropped,
                    "dashboard sessions moved from the older file into the database; file removed"
                );
                remove(&path);
            }
            Err(e) => tracing::warn!(
                file = %path.display(), error = %e.message,
                "older dashboard sessions not moved into the database; trying again at the next start"
            ),
        }
    }

    /// Stores the live sessions of a `sessions.json` text; (kept, dropped).
    async fn import(&self, text: &str, now: i64) -> ApiResult<(usize, usize)> {
        let items = match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            _ => return Ok((0, 0)),
        };
        let tokens = self.store.list_tokens().await?;
        let mut sessions = Vec::new();
        for v in &items {
            let (Some(key), Some(name), Some(csrf), Some(created_at), Some(expires_at)) = (
                v["key"].as_str(),
                v["name"].as_str(),
                v["csrf"].as_str(),
                v["created_at"].as_i64(),
                v["expires_at"].as_i64(),
            ) else {
                continue;
            };
            let token = tokens
                .iter()
                .find(|t| t.name == name && t.state(now) == TokenState::Active);
            if let (Some(t), true) = (token, expires_at > now) {
                sessions.push(NewSession {
                    key: key.to_owned(),
                    token_id: t.id,
                    csrf: csrf.to_owned(),
                    created_at,
                    expires_at,
                });
            }
        }
        let kept = sessions.len();
        // Sent together, so the store commits them in few transactions.
        let stored = futures_util::future::join_all(
            sessions
                .into_iter()
                .map(|s| self.store.open_session(s, PER_TOKEN)),
        )
        .await;
        for r in stored {
            match r {
                Ok(_) | Err(klaxon_store::StoreError::AlreadyExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok((kept, items.len() - kept))
    }
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(file = %path.display(), error = %e, "cannot remove the older sessions file");
    }
}

/// Deletes expired sessions every [`SWEEP_EVERY`], until the task is aborted.
pub(crate) async fn sweep<S: Store>(store: S) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        match store.delete_expired_sessions(crate::clock::wall_ms()).await {
            Ok(n) if n > 0 => tracing::debug!(sessions = n, "expired dashboard sessions deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deleting expired dashboard sessions failed"),
        }
    }
}

/// 256 random bits as 64 hex digits.
fn random_hex() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_store::Role;

    #[test]
    fn csrf_tokens_compare_exactly() {
        let s = Session {
            caller: Caller {
                role: Role::Responder,
                name: "r".into(),
                token_id: 1,
                user: None,
            },
            csrf: "tok".into(),
            created_at: 0,
            expires_at: 1,
        };
        assert!(s.csrf_matches("tok") && s.csrf_matches(" tok "));
        assert!(!s.csrf_matches("tok2") && !s.csrf_matches(""));
        let (a, b) = (
            random_hex().unwrap_or_default(),
            random_hex().unwrap_or_default(),
        );
        assert!(a.len() == 64 && a != b);
    }
}
