//! The state of one escalation (of an alert or an incident) and what it pages when. Every call
//! takes `now` and the policy; pages due at or before `now` are written into the caller's
//! buffer, each once: a page is named by (`cycle`, `round`, `level`), which never repeats in
//! one escalation. The state is plain data (serde): stored, read back after a restart and
//! advanced, it pages what came due meanwhile, in order, and nothing twice.

use serde::{Deserialize, Serialize};

use super::{human, Policy};

/// One escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// 0 at the start; one more each time an expired acknowledgement re-triggers it.
    pub cycle: u32,
    /// The run of the levels within the cycle (0 to the policy's `repeat`).
    pub round: u32,
    /// Levels of this round paged so far: the next level to page.
    pub next_level: usize,
    /// The time the next level's wait counts from.
    pub since: i64,
    /// Set while acknowledged: nothing pages until the acknowledgement expires.
    pub acknowledged_at: Option<i64>,
    /// Resolved or closed: it pages nothing ever again.
    pub ended: bool,
    /// Why the current cycle began (the first level of its first round says it).
    pub cause: Why,
}

/// Why a level pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Why {
    /// The escalation began (the first level of the first round).
    Started,
    /// Nobody acknowledged within the level's wait.
    NotAcknowledged { wait_ms: i64 },
    /// Every level was paged and nobody acknowledged within `wait_ms` of the last: the policy
    /// runs again.
    Repeated { round: u32, wait_ms: i64 },
    /// An acknowledgement lasted `ack_timeout_ms` without resolution.
    AckExpired { ack_timeout_ms: i64 },
    /// Someone moved it to the next level by hand.
    ByHand { actor: String },
}

impl Why {
    /// One lower-case sentence: "nobody acknowledged within 5m".
    pub fn text(&self) -> String {
        match self {
            Why::Started => "escalation started".to_owned(),
            Why::NotAcknowledged { wait_ms } => {
                format!("nobody acknowledged within {}", human(*wait_ms))
            }
            Why::Repeated { round, wait_ms } => format!(
                "nobody acknowledged within {} of the last level; repeat {round} of the policy",
                human(*wait_ms)
            ),
            Why::AckExpired { ack_timeout_ms } => format!(
                "the acknowledgement expired: not resolved within {}",
                human(*ack_timeout_ms)
            ),
            Why::ByHand { actor } => format!("escalated by hand by {actor}"),
        }
    }
}

/// One level paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub cycle: u32,
    pub round: u32,
    /// 0-based.
    pub level: usize,
    /// When it came due (at or before the `now` it was found at).
    pub at: i64,
    pub why: Why,
}

impl Page {
    /// What names this page within its escalation: the same page found twice (after a restart)
    /// has the same key.
    pub fn key(&self) -> String {
        format!("{}.{}.{}", self.cycle, self.round, self.level)
    }
}

/// Why a level cannot be paged by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscalateRefusal {
    #[error("the escalation has ended")]
    Ended,
    #[error("every level of every round has been paged")]
    Exhausted,
}

impl Escalation {
    /// An escalation that begins at `now`.
    pub fn start(now: i64) -> Escalation {
        Escalation {
            cycle: 0,
            round: 0,
            next_level: 0,
            since: now,
            acknowledged_at: None,
            ended: false,
            cause: Why::Started,
        }
    }

    /// When it next needs to be woken: its next level, or its acknowledgement's expiry.
    pub fn next_due(&self, p: &Policy) -> Option<i64> {
        if self.ended {
            return None;
        }
        if let Some(at) = self.acknowledged_at {
            return p.ack_timeout_ms.map(|t| at.saturating_add(t));
        }
        let (round, level) = self.next_position(p)?;
        let wait = if level == 0 && round > self.round {
            p.repeat_wait_ms()
        } else {
            p.levels[level].wait_ms
        };
        Some(self.since.saturating_add(wait))
    }

    /// The (round, level) paged next, past the last level of a round; `None` when every round
    /// is done.
    fn next_position(&self, p: &Policy) -> Option<(u32, usize)> {
        if self.next_level < p.levels.len() {
            Some((self.round, self.next_level))
        } else if self.round < p.repeat {
            Some((self.round + 1, 0))
        } else {
            None
        }
    }

    fn page(&mut self, p: &Policy, at: i64, why: Option<Why>, out: &mut Vec<Page>) -> bool {
        let Some((round, level)) = self.next_position(p) else {
            return false;
        };
        let why = why.unwrap_or_else(|| {
            if round == 0 && level == 0 {
                self.cause.clone()
            } else if level == 0 {
                Why::Repeated {
                    round,
                    wait_ms: p.repeat_wait_ms(),
                }
            } else {
                Why::NotAcknowledged {
                    wait_ms: p.levels[level].wait_ms,
                }
            }
        });
        // A first level that waits says so rather than "started".
        let why = match why {
            Why::Started if p.levels[0].wait_ms > 0 => Why::NotAcknowledged {
                wait_ms: p.levels[0].wait_ms,
            },
            w => w,
        };
        self.round = round;
        self.next_level = level + 1;
        self.since = at;
        out.push(Page {
            cycle: self.cycle,
            round,
            level,
            at,
            why,
        });
        true
    }

    /// Pages every level due at or before `now`, in order; answers when it next needs to be
    /// woken.
    pub fn advance(&mut self, p: &Policy, now: i64, out: &mut Vec<Page>) -> Option<i64> {
        loop {
            if self.ended || p.levels.is_empty() {
                return None;
            }
            if let Some(acked) = self.acknowledged_at {
                let expiry = acked.saturating_add(p.ack_timeout_ms?);
                if expiry > now {
                    return Some(expiry);
                }
                self.acknowledged_at = None;
                self.cycle += 1;
                self.round = 0;
                self.next_level = 0;
                self.since = expiry;
                self.cause = Why::AckExpired {
                    ack_timeout_ms: p.ack_timeout_ms?,
                };
                // The first level of the new cycle pages at once, whatever its wait.
                self.page(p, expiry, None, out);
                continue;
            }
            let due = self.next_due(p)?;
            if due > now {
                return Some(due);
            }
            self.page(p, due, None, out);
        }
    }

    /// Acknowledged at `now` (what was due before it pages first). A second acknowledgement
    /// keeps the first one's time.
    pub fn acknowledge(&mut self, p: &Policy, now: i64, out: &mut Vec<Page>) {
        self.advance(p, now, out);
        if !self.ended && self.acknowledged_at.is_none() {
            self.acknowledged_at = Some(now);
        }
    }

    /// No longer acknowledged (back to firing): the levels go on from where they stopped, the
    /// next one's wait counting from `now`.
    pub fn unacknowledge(&mut self, p: &Policy, now: i64, out: &mut Vec<Page>) {
        self.advance(p, now, out);
        if !self.ended && self.acknowledged_at.take().is_some() {
            self.since = now;
        }
    }

    /// Resolved or closed at `now` (what was due before it pages first): nothing more pages.
    pub fn end(&mut self, p: &Policy, now: i64, out: &mut Vec<Page>) {
        self.advance(p, now, out);
        self.ended = true;
    }

    /// Pages the next level now, by hand (an acknowledgement is set aside: a person asked for
    /// more help). Refused when it has ended or nothing is left to page.
    pub fn escalate(
        &mut self,
        p: &Policy,
        now: i64,
        actor: &str,
        out: &mut Vec<Page>,
    ) -> Result<(), EscalateRefusal> {
        self.advance(p, now, out);
        if self.ended {
            return Err(EscalateRefusal::Ended);
        }
        if self.next_position(p).is_none() {
            return Err(EscalateRefusal::Exhausted);
        }
        self.acknowledged_at = None;
        let why = Why::ByHand {
            actor: actor.to_owned(),
        };
        self.page(p, now, Some(why), out);
        Ok(())
    }
}
