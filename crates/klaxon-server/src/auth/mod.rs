//! Authorization: what an endpoint needs (`Need`), which roles allow it, and `Auth`, which
//! finds the caller of a request from its bearer token or, without one, its dashboard session.
//! Tokens themselves live in `token`, sessions in `session`. Owns no HTTP routing.

pub(crate) mod session;
pub(crate) mod token;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::http::HeaderMap;
use klaxon_store::{Role, Store};

use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use session::Sessions;
pub(crate) use token::Caller;
use token::{constant_time_eq, hash_token};

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
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
pub(crate) fn allows(role: Role, need: Need) -> bool {
    match need {
        Need::Ingest => matches!(role, Role::Ingest | Role::Admin),
        Need::Read => matches!(role, Role::Viewer | Role::Responder | Role::Admin),
        Need::Respond => matches!(role, Role::Responder | Role::Admin),
        Need::Admin => role == Role::Admin,
    }
}

/// Checks bearer tokens against the store, with a cache of known hashes, and dashboard
/// sessions (a request without a bearer token may carry a session cookie).
pub(crate) struct Auth<S> {
    store: S,
    known: RwLock<HashMap<String, Caller>>,
    /// Dashboard sessions; the cookie stands for the token the session was opened with.
    pub sessions: Arc<Sessions>,
}

impl<S: Store + Clone> Auth<S> {
    pub(crate) fn new(store: S) -> Auth<S> {
        Auth {
            store,
            known: RwLock::new(HashMap::new()),
            sessions: Arc::new(Sessions::default()),
        }
    }

    /// Dashboard sessions last `session_hours` and are kept in `<data_dir>/sessions.json`
    /// (hashes of their ids), so a restart keeps browsers signed in.
    pub(crate) fn with_dashboard(
        self,
        config: &crate::config::Dashboard,
        data_dir: &Path,
    ) -> Auth<S> {
        let ms = i64::try_from(config.session_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
        self.sessions.set_ttl_ms(ms);
        self.sessions
            .keep_in(data_dir.join("sessions.json"), wall_ms());
        self
    }

    /// The role of the request's bearer token, if it allows `need`.
    pub(crate) async fn check(&self, headers: &HeaderMap, need: Need) -> ApiResult<Role> {
        self.caller(headers, need).await.map(|c| c.role)
    }

    /// The caller behind the request's bearer token (or, without one, its dashboard session
    /// cookie), if its role allows `need`. Cross-site checks of cookie requests are made before
    /// any handler runs (`dashboard::guard`).
    pub(crate) async fn caller(&self, headers: &HeaderMap, need: Need) -> ApiResult<Caller> {
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
            None => match self.sessions.of_request(headers, wall_ms()) {
                Some(s) => s.caller,
                None if session::cookie(headers).is_some() => {
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
    pub(crate) async fn of_token(&self, token: &str) -> ApiResult<Caller> {
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
}
