//! The cache of tokens in force, by hash, so that a request does not read the store, and when
//! each token's use was last recorded (at most once a minute). Revoking a token forgets it
//! and moves an epoch on, so a lookup that read the store before the revocation cannot put
//! the token back. Pure: time is an argument; the caller holds the lock.

use std::collections::HashMap;

use super::token::Caller;

/// The use of a token is recorded at most this often.
pub(crate) const USE_EVERY_MS: i64 = 60_000;

/// Tokens in force by hash, and when their use was recorded.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    by_hash: HashMap<String, Entry>,
    /// Token id → epoch ms of the last recorded use.
    used: HashMap<i64, i64>,
    /// Moves on at every revocation.
    epoch: u64,
}

#[derive(Debug)]
struct Entry {
    caller: Caller,
    expires_at: Option<i64>,
}

/// What the cache knows of a hash.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hit {
    /// In force: who it stands for, and when it expires.
    Active(Caller, Option<i64>),
    /// It was in force and has expired since (and is forgotten now).
    Expired,
    /// Not known: ask the store.
    Miss,
}

impl Cache {
    pub(crate) fn get(&mut self, hash: &str, now: i64) -> Hit {
        match self.by_hash.get(hash) {
            None => Hit::Miss,
            Some(e) if e.expires_at.is_some_and(|x| x <= now) => {
                self.by_hash.remove(hash);
                Hit::Expired
            }
            Some(e) => Hit::Active(e.caller.clone(), e.expires_at),
        }
    }

    /// The epoch to give [`Cache::insert`] after reading the store.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Remembers a token in force read from the store when the epoch was `seen`; not when a
    /// revocation happened since (the token read may be the one revoked).
    pub(crate) fn insert(
        &mut self,
        hash: String,
        caller: Caller,
        expires_at: Option<i64>,
        seen: u64,
    ) {
        if seen == self.epoch {
            self.by_hash.insert(hash, Entry { caller, expires_at });
        }
    }

    /// Forgets a revoked token.
    pub(crate) fn forget(&mut self, token_id: i64) {
        self.epoch += 1;
        self.by_hash.retain(|_, e| e.caller.token_id != token_id);
    }

    /// Whether to record a use of the token now: the first time, or when the last recorded
    /// use (here, else `stored`) is a minute old. Says yes at most once a minute per token.
    pub(crate) fn use_due(&mut self, token_id: i64, stored: Option<i64>, now: i64) -> bool {
        let last = self
            .used
            .entry(token_id)
            .or_insert_with(|| stored.unwrap_or(i64::MIN));
        if now.saturating_sub(*last) >= USE_EVERY_MS {
            *last = now;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_store::Role;

    fn caller(id: i64) -> Caller {
        Caller {
            role: Role::Viewer,
            name: format!("t{id}"),
            token_id: id,
            user: None,
        }
    }

    #[test]
    fn a_cached_token_expires_and_a_revoked_one_is_forgotten() {
        let mut c = Cache::default();
        assert_eq!(c.get("h1", 0), Hit::Miss);
        c.insert("h1".into(), caller(1), Some(100), c.epoch());
        c.insert("h2".into(), caller(2), None, c.epoch());
        assert_eq!(c.get("h1", 99), Hit::Active(caller(1), Some(100)));
        assert_eq!(c.get("h1", 100), Hit::Expired);
        assert_eq!(c.get("h1", 101), Hit::Miss, "forgotten once expired");
        c.forget(2);
        assert_eq!(c.get("h2", 0), Hit::Miss);
    }

    #[test]
    fn a_lookup_that_raced_a_revocation_is_not_cached() {
        let mut c = Cache::default();
        let seen = c.epoch();
        // The store said "in force"; meanwhile the token was revoked.
        c.forget(1);
        c.insert("h1".into(), caller(1), None, seen);
        assert_eq!(c.get("h1", 0), Hit::Miss);
    }

    #[test]
    fn use_is_due_at_most_once_a_minute_per_token() {
        let mut c = Cache::default();
        let due: Vec<bool> = [0, 1, 59_999, 60_000, 60_001, 120_000]
            .into_iter()
            .map(|now| c.use_due(1, None, now))
            .collect();
        assert_eq!(due, [true, false, false, true, false, true]);
        assert!(!c.use_due(2, Some(10_000), 30_000), "the stored use counts");
        assert!(c.use_due(2, None, 70_000));
    }
}
