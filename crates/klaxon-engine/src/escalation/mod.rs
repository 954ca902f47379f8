//! Escalation policies, pure: ordered levels (after a wait, page these targets), repeated
//! `repeat` more times while nobody acknowledges, stopped by an acknowledgement, re-triggered
//! when an acknowledgement outlives `ack_timeout` without resolution. `config.rs` holds the
//! declared form and its compilation (every problem at once, with policy and level);
//! `state.rs` the state of one escalation and what it pages when. No I/O, no clock: `now` is
//! an argument of every call, and the state is plain data the caller stores and reads back.

mod config;
mod state;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use config::{
    compile, LevelConfig, PolicyConfig, PolicyError, MAX_LEVELS, MAX_NAME, MAX_POLICIES,
    MAX_REPEAT, MAX_TARGETS, MAX_WAIT_MS,
};
pub use state::{EscalateRefusal, Escalation, Page, Why};

use std::fmt;

/// Whom a level pages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `user:NAME`: each of the user's contacts.
    User(String),
    /// `team:NAME`: each member.
    Team(String),
    /// `schedule:NAME`: whoever is on call when the level pages.
    Schedule(String),
    /// `receiver:NAME`: a notification receiver.
    Receiver(String),
}

impl Target {
    /// `user:alice`, `team:db`, `schedule:db-primary`, `receiver:ops-webhook`.
    pub fn parse(text: &str) -> Result<Target, String> {
        let Some((kind, name)) = text.split_once(':') else {
            return Err(format!(
                "{text:?} is not a target; write user:NAME, team:NAME, schedule:NAME or receiver:NAME"
            ));
        };
        if name.trim().is_empty() {
            return Err(format!("{text:?} names no {kind}"));
        }
        let name = name.to_owned();
        match kind {
            "user" => Ok(Target::User(name)),
            "team" => Ok(Target::Team(name)),
            "schedule" => Ok(Target::Schedule(name)),
            "receiver" => Ok(Target::Receiver(name)),
            _ => Err(format!(
                "{text:?}: unknown kind {kind:?}; write user:NAME, team:NAME, schedule:NAME or receiver:NAME"
            )),
        }
    }

    /// `user`, `team`, `schedule`, `receiver`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::User(_) => "user",
            Target::Team(_) => "team",
            Target::Schedule(_) => "schedule",
            Target::Receiver(_) => "receiver",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Target::User(n) | Target::Team(n) | Target::Schedule(n) | Target::Receiver(n) => n,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.name())
    }
}

/// One level: after `wait_ms` (from the start, or from the previous level), page `notify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub wait_ms: i64,
    pub notify: Vec<Target>,
}

/// A compiled policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    /// At least one.
    pub levels: Vec<Level>,
    /// Runs of the levels after the first, while nobody acknowledges.
    pub repeat: u32,
    /// An acknowledgement older than this without resolution re-triggers from the first level.
    pub ack_timeout_ms: Option<i64>,
}

impl Policy {
    /// How long a repeat waits after the last level before it pages the first level again: the
    /// first level's wait, or, when that is 0, the longest wait of the policy (compilation
    /// refuses a repeating policy whose waits are all 0).
    pub fn repeat_wait_ms(&self) -> i64 {
        match self.levels.first() {
            Some(l) if l.wait_ms > 0 => l.wait_ms,
            _ => self.levels.iter().map(|l| l.wait_ms).max().unwrap_or(0),
        }
    }
}

/// A duration as people write it: `5m`, `1h30m`, `0s`.
pub fn human(ms: i64) -> String {
    if ms <= 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if rest > 0 {
        out.push_str(&format!("{rest}ms"));
    }
    out
}
