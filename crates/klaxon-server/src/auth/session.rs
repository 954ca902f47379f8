//! Dashboard sessions, kept server-side: a random session id (the cookie) maps to the signed-in
//! token's role and name, a CSRF token and an expiry. Only hashes of session ids are kept, so
//! neither the map nor its file (`sessions.json` in the data directory, mode 0600, rewritten
//! at each sign-in and sign-out so a restart keeps browsers signed in) holds a usable cookie.
//! Owns no HTTP routing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use axum::http::{header, HeaderMap};

use klaxon_store::Role;
use serde_json::{json, Value};

use super::token::{constant_time_eq, hash_token, write_private, Caller};

/// The cookie that carries the session id.
pub(crate) const COOKIE: &str = "klaxon_session";

/// The header that carries the session's CSRF token on every mutating request.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Sessions held at most; beyond this the oldest is ended.
const MAX_SESSIONS: usize = 10_000;

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

/// Every live session, keyed by the hash of its id.
pub(crate) struct Sessions {
    /// Session lifetime in ms.
    ttl_ms: AtomicI64,
    map: Mutex<HashMap<String, Session>>,
    /// Where the sessions are kept across restarts, when set.
    file: OnceLock<PathBuf>,
    /// Serializes writes of the file.
    writing: tokio::sync::Mutex<()>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(12 * 3_600_000)
    }
}

impl Sessions {
    pub(crate) fn new(ttl_ms: i64) -> Sessions {
        Sessions {
            ttl_ms: AtomicI64::new(ttl_ms.max(60_000)),
            map: Mutex::new(HashMap::new()),
            file: OnceLock::new(),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// Keeps the sessions in `path`: loads the live ones it holds now, and [`Sessions::save`]
    /// writes it. A file that cannot be read is logged and ignored (browsers sign in again).
    pub(crate) fn keep_in(&self, path: PathBuf, now: i64) {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let n = self.restore(&text, now);
                if n > 0 {
                    tracing::info!(sessions = n, "dashboard sessions restored");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "dashboard sessions not restored")
            }
        }
        let _ = self.file.set(path);
    }

    /// Adds the live sessions of a [`Sessions::snapshot`]; returns how many.
    pub(crate) fn restore(&self, text: &str, now: i64) -> usize {
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) else {
            return 0;
        };
        let Ok(mut map) = self.map.lock() else {
            return 0;
        };
        let mut n = 0;
        for v in items {
            let (Some(key), Some(role), Some(name), Some(csrf), Some(created_at), Some(expires_at)) = (
                v["key"].as_str(),
                v["role"].as_str().and_then(Role::parse),
                v["name"].as_str(),
                v["csrf"].as_str(),
                v["created_at"].as_i64(),
                v["expires_at"].as_i64(),
            ) else {
                continue;
            };
            if expires_at <= now || map.len() >= MAX_SESSIONS {
                continue;
            }
            let caller = Caller {
                role,
                name: name.to_owned(),
            };
            map.insert(
                key.to_owned(),
                Session {
                    caller,
                    csrf: csrf.to_owned(),
                    created_at,
                    expires_at,
                },
            );
            n += 1;
        }
        n
    }

    /// Every live session as JSON (hashed ids only).
    pub(crate) fn snapshot(&self, now: i64) -> String {
        let Ok(map) = self.map.lock() else {
            return "[]".to_owned();
        };
        let items: Vec<Value> = map
            .iter()
            .filter(|(_, s)| s.expires_at > now)
            .map(|(key, s)| {
                json!({"key": key, "role": s.caller.role.as_str(), "name": s.caller.name,
                    "csrf": s.csrf, "created_at": s.created_at, "expires_at": s.expires_at})
            })
            .collect();
        Value::Array(items).to_string()
    }

    /// Writes the file of [`Sessions::keep_in`], off the async threads; a failure is logged
    /// (the sessions stay valid until a restart).
    pub(crate) async fn save(&self, now: i64) {
        let Some(path) = self.file.get().cloned() else {
            return;
        };
        let _one_at_a_time = self.writing.lock().await;
        let text = self.snapshot(now);
        let written = tokio::task::spawn_blocking(move || {
            let tmp = path.with_extension("json.tmp");
            write_private(&tmp, &text)?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| anyhow::anyhow!("renaming {}: {e}", tmp.display()))
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "dashboard sessions not saved"),
            Err(e) => tracing::warn!(error = %e, "dashboard sessions not saved"),
        }
    }

    /// Sets how long new sessions live.
    pub(crate) fn set_ttl_ms(&self, ttl_ms: i64) {
        self.ttl_ms.store(ttl_ms.max(60_000), Relaxed);
    }

    pub(crate) fn ttl_ms(&self) -> i64 {
        self.ttl_ms.load(Relaxed)
    }

    /// Opens a session for `caller` at `now` (epoch ms).
    pub(crate) fn open(&self, caller: Caller, now: i64) -> anyhow::Result<Opened> {
        let id = random_hex()?;
        let session = Session {
            caller,
            csrf: random_hex()?,
            created_at: now,
            expires_at: now.saturating_add(self.ttl_ms()),
        };
        let mut map = self
            .map
            .lock()
            .map_err(|_| anyhow::anyhow!("session lock poisoned"))?;
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.expires_at > now);
        }
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.created_at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(hash_token(&id), session.clone());
        Ok(Opened { id, session })
    }

    /// The live session of a cookie value at `now`; an expired one is removed.
    pub(crate) fn get(&self, id: &str, now: i64) -> Option<Session> {
        let key = hash_token(id);
        let mut map = self.map.lock().ok()?;
        match map.get(&key) {
            Some(s) if s.expires_at > now => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// The live session of the request's cookie.
    pub(crate) fn of_request(&self, headers: &HeaderMap, now: i64) -> Option<Session> {
        cookie(headers).and_then(|id| self.get(&id, now))
    }

    /// Ends the session of a cookie value; true if there was one.
    pub(crate) fn close(&self, id: &str) -> bool {
        self.map
            .lock()
            .map(|mut m| m.remove(&hash_token(id)).is_some())
            .unwrap_or(false)
    }

    /// Live sessions.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Session {
    /// Whether `given` is this session's CSRF token (constant time).
    pub(crate) fn csrf_matches(&self, given: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), given.trim().as_bytes())
    }
}

/// The session cookie's value, if the request carries one.
pub(crate) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// 256 random bits as 64 hex digits.
fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a session: {e}"))?;
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;
    use axum::http::HeaderValue;
    use klaxon_store::Role;

    fn caller() -> Caller {
        Caller {
            role: Role::Responder,
            name: "r".into(),
        }
    }

    #[test]
    fn sessions_expire_and_close() {
        let s = Sessions::new(60_000);
        let o = s.open(caller(), 1_000).unwrap();
        assert_eq!(o.id.len(), 64);
        assert_ne!(o.id, o.session.csrf);
        assert_eq!(s.get(&o.id, 2_000).unwrap().caller, caller());
        assert!(s.get("not-a-session", 2_000).is_none());
        assert!(s.get(&o.id, 61_000).is_none(), "expired at 61 s");
        assert!(s.is_empty(), "an expired session is dropped when met");
        let o = s.open(caller(), 1_000).unwrap();
        assert!(s.close(&o.id));
        assert!(s.get(&o.id, 2_000).is_none());
        assert!(!s.close(&o.id));
    }

    #[test]
    fn the_map_holds_only_hashes_and_stays_bounded() {
        let s = Sessions::new(60_000);
        let o = s.open(caller(), 0).unwrap();
        let map = s.map.lock().unwrap();
        assert!(!map.contains_key(&o.id));
        assert!(map.contains_key(&hash_token(&o.id)));
        drop(map);
        for i in 0..MAX_SESSIONS + 5 {
            s.open(caller(), i as i64).unwrap();
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.get(&o.id, 10).is_none(), "the oldest made room");
    }

    #[test]
    fn sessions_survive_a_snapshot_and_restore() {
        let s = Sessions::new(60_000);
        let live = s.open(caller(), 1_000).unwrap();
        let old = s.open(caller(), 0).unwrap();
        let text = s.snapshot(1_000);
        assert!(!text.contains(&live.id), "no session id in the file");
        let t = Sessions::new(60_000);
        assert_eq!(t.restore(&text, 60_500), 1, "the expired one stays out");
        let back = t.get(&live.id, 60_500).unwrap();
        assert_eq!((back.caller, back.csrf), (caller(), live.session.csrf));
        assert!(t.get(&old.id, 60_500).is_none());
        assert_eq!(t.restore("not json", 0), 0);
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; klaxon_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("x=1"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("klaxon_session=def"),
        );
        assert_eq!(cookie(&h).as_deref(), Some("def"));
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("klaxon_sessionx=1"),
        );
        assert_eq!(cookie(&h), None);
        let s = Session {
            caller: caller(),
            csrf: "tok".into(),
            created_at: 0,
            expires_at: 1,
        };
        assert!(s.csrf_matches("tok") && !s.csrf_matches("tok2") && !s.csrf_matches(""));
    }
}
