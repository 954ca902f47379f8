//! Channel health: for every channel of every receiver, when it last delivered, when it last
//! failed, how many attempts failed in a row and since the server started, and what the last
//! error was. The delivery workers write it; `/monitoring/health`, `/monitoring/prometheus`
//! and the delivery statistics read it. It also decides when a failure is logged: at most one
//! line per channel a minute, saying how many failures went unlogged since the last line, so
//! a channel that fails on every attempt is visible without flooding the log.
//! Time is an argument; nothing here is durable (the outbox is the durable record).

use std::collections::BTreeMap;
use std::sync::Mutex;

use klaxon_notify::Notifier;

/// A failing channel is logged at most once per this many ms.
pub(crate) const LOG_EVERY_MS: i64 = 60_000;

/// What one channel has been doing since the server started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelState {
    pub receiver: String,
    /// The channel's position among the receiver's channels.
    pub index: i64,
    /// `webhook`, `email`, ...
    pub kind: String,
    pub last_success: Option<i64>,
    pub last_failure: Option<i64>,
    /// Attempts that failed since the last success.
    pub consecutive_failures: u64,
    /// Attempts that failed since the server started, retried ones included.
    pub failed_attempts: u64,
    pub last_error: Option<String>,
    /// When a failure was last logged, and failures not logged since.
    logged_at: Option<i64>,
    unlogged: u64,
    /// A retriable failure since the last success: the backlog waits out its backoff.
    backing_off: bool,
}

impl ChannelState {
    fn new(receiver: &str, index: i64, kind: &str) -> ChannelState {
        ChannelState {
            receiver: receiver.to_owned(),
            index,
            kind: kind.to_owned(),
            last_success: None,
            last_failure: None,
            consecutive_failures: 0,
            failed_attempts: 0,
            last_error: None,
            logged_at: None,
            unlogged: 0,
            backing_off: false,
        }
    }

    /// Whether its latest attempt failed.
    pub(crate) fn failing(&self) -> bool {
        self.consecutive_failures > 0
    }

    /// `receiver/kind#index`, how health and logs name it.
    pub(crate) fn name(&self) -> String {
        format!("{}/{}#{}", self.receiver, self.kind, self.index)
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Tried again after a backoff.
    Retrying,
    /// Not tried again (failed for good, or dead-lettered).
    GivenUp,
    /// The channel delivered something after this attempt began, so the failure says nothing
    /// about the channel now: it counts, but does not make the channel failing.
    Stale,
}

/// A failure to log now, with the failures not logged before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogNow {
    pub unlogged: u64,
    pub consecutive: u64,
}

/// The health of every channel.
#[derive(Debug, Default)]
pub(crate) struct Health {
    channels: Mutex<BTreeMap<(String, i64), ChannelState>>,
}

impl Health {
    /// Every configured channel, none tried yet.
    pub(crate) fn new(notifier: &Notifier) -> Health {
        let mut channels = BTreeMap::new();
        for r in notifier.receivers.values() {
            for c in &r.channels {
                let index = i64::try_from(c.index).unwrap_or(i64::MAX);
                channels.insert(
                    (r.name.clone(), index),
                    ChannelState::new(&r.name, index, c.kind()),
                );
            }
        }
        Health {
            channels: Mutex::new(channels),
        }
    }

    fn with<T>(
        &self,
        receiver: &str,
        index: i64,
        kind: &str,
        f: impl FnOnce(&mut ChannelState) -> T,
    ) -> T {
        let mut map = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = map
            .entry((receiver.to_owned(), index))
            .or_insert_with(|| ChannelState::new(receiver, index, kind));
        f(s)
    }

    /// A delivery at `now`. True when the channel had been backing off: its backlog may go now.
    pub(crate) fn succeeded(&self, receiver: &str, index: i64, kind: &str, now: i64) -> bool {
        self.with(receiver, index, kind, |s| {
            s.last_success = Some(now);
            s.consecutive_failures = 0;
            s.unlogged = 0;
            s.logged_at = None;
            std::mem::take(&mut s.backing_off)
        })
    }

    /// A failed attempt at `now`, and what follows it. Returns what to log, when a line is due.
    pub(crate) fn failed(
        &self,
        (receiver, index, kind): (&str, i64, &str),
        now: i64,
        error: &str,
        after: After,
    ) -> Option<LogNow> {
        self.with(receiver, index, kind, |s| {
            s.failed_attempts += 1;
            s.last_failure = Some(now);
            s.last_error = Some(error.to_owned());
            if after == After::Stale {
                return None;
            }
            s.consecutive_failures += 1;
            s.backing_off |= after == After::Retrying;
            match s.logged_at {
                Some(at) if now - at < LOG_EVERY_MS => {
                    s.unlogged += 1;
                    None
                }
                _ => {
                    s.logged_at = Some(now);
                    Some(LogNow {
                        unlogged: std::mem::take(&mut s.unlogged),
                        consecutive: s.consecutive_failures,
                    })
                }
            }
        })
    }

    /// When the channel last delivered.
    pub(crate) fn last_success(&self, receiver: &str, index: i64) -> Option<i64> {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(receiver.to_owned(), index))
            .and_then(|s| s.last_success)
    }

    /// Every channel, by receiver and position.
    pub(crate) fn snapshot(&self) -> Vec<ChannelState> {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_channel_is_logged_once_a_minute_with_the_count_of_the_rest() {
        let h = Health::default();
        let fail = |now| h.failed(("mail", 0, "email"), now, "smtp: refused", After::Retrying);
        // (time, what is logged)
        let script = [
            (0, Some((0, 1))),
            (1_000, None),
            (30_000, None),
            (59_999, None),
            (60_000, Some((3, 5))),
            (61_000, None),
            (200_000, Some((1, 7))),
        ];
        for (now, want) in script {
            assert_eq!(
                fail(now).map(|l| (l.unlogged, l.consecutive)),
                want,
                "at {now}"
            );
        }
        let s = &h.snapshot()[0];
        assert_eq!(
            (s.failed_attempts, s.consecutive_failures, s.failing()),
            (7, 7, true)
        );
        assert_eq!(s.last_failure, Some(200_000));
        assert_eq!(s.name(), "mail/email#0");
        // A delivery ends the streak, says the backlog may go, and the next failure logs at once.
        assert!(h.succeeded("mail", 0, "email", 210_000));
        assert!(!h.succeeded("mail", 0, "email", 211_000));
        let s = &h.snapshot()[0];
        assert_eq!(
            (s.consecutive_failures, s.failed_attempts, s.failing()),
            (0, 7, false)
        );
        assert_eq!(fail(212_000).map(|l| l.unlogged), Some(0));
        // A stale failure counts but leaves the channel as it is.
        assert!(h.succeeded("mail", 0, "email", 213_000));
        assert_eq!(
            h.failed(("mail", 0, "email"), 214_000, "old", After::Stale),
            None
        );
        let s = &h.snapshot()[0];
        assert_eq!((s.failing(), s.failed_attempts), (false, 9));
    }

    #[test]
    fn channels_are_kept_apart() {
        let h = Health::default();
        assert!(h
            .failed(("a", 0, "webhook"), 0, "x", After::Retrying)
            .is_some());
        assert!(h
            .failed(("a", 1, "email"), 0, "x", After::Retrying)
            .is_some());
        assert!(h
            .failed(("b", 0, "webhook"), 0, "x", After::GivenUp)
            .is_some());
        assert!(
            !h.succeeded("b", 0, "webhook", 1),
            "a permanent failure holds no backlog"
        );
        let failing: Vec<String> = h
            .snapshot()
            .iter()
            .filter(|s| s.failing())
            .map(ChannelState::name)
            .collect();
        assert_eq!(failing, ["a/webhook#0", "a/email#1"]);
    }
}
