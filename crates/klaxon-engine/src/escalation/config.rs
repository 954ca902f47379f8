//! The declared form of an escalation policy (`[[escalation_policies]]`) and its compilation
//! into a [`Policy`]: every problem at once, each with its policy and level. Whether the users,
//! teams, schedules and receivers a level names exist is the caller's knowledge: it answers
//! through `exists`.

use std::fmt;

use serde::Deserialize;

use super::{Level, Policy, Target};
use crate::duration;

/// Policies in one configuration.
pub const MAX_POLICIES: usize = 256;
/// Levels of one policy.
pub const MAX_LEVELS: usize = 20;
/// Targets of one level.
pub const MAX_TARGETS: usize = 32;
/// `repeat` at most.
pub const MAX_REPEAT: u32 = 20;
/// A wait or an acknowledgement timeout: at most a week.
pub const MAX_WAIT_MS: i64 = 7 * 86_400_000;
/// A policy's name, in bytes.
pub const MAX_NAME: usize = 128;

/// `[[escalation_policies]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    /// Runs of the levels after the first while nobody acknowledges (default 0).
    #[serde(default)]
    pub repeat: u32,
    /// An acknowledgement that lasts this long without resolution re-triggers (default: never).
    #[serde(default)]
    pub ack_timeout: Option<String>,
    pub levels: Vec<LevelConfig>,
}

/// `[[escalation_policies.levels]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelConfig {
    /// After the alert fires (first level) or after the previous level.
    #[serde(default = "zero")]
    pub wait: String,
    /// `user:NAME`, `team:NAME`, `schedule:NAME`, `receiver:NAME`.
    pub notify: Vec<String>,
}

fn zero() -> String {
    "0s".to_owned()
}

/// One problem in a policy, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub policy: String,
    /// The level's 0-based index, for problems inside a level.
    pub level: Option<usize>,
    /// `wait`, `notify[1]`, `ack_timeout`, `repeat`, `levels`, `name`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {:?}: ", self.policy)?;
        if let Some(i) = self.level {
            write!(f, "levels[{i}].")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn wait(text: &str) -> Result<i64, String> {
    let ms = duration::parse_ms(text, None).map_err(|e| e.to_string())?;
    if ms > MAX_WAIT_MS {
        return Err(format!("{text:?} is longer than the limit of 1w"));
    }
    Ok(ms)
}

/// Compiles one policy. `exists` answers `Err(reason)` for a target that names nothing
/// (an unknown user, a schedule that is not available, ...).
pub fn compile(
    c: &PolicyConfig,
    exists: &dyn Fn(&Target) -> Result<(), String>,
) -> Result<Policy, Vec<PolicyError>> {
    let mut errors = Vec::new();
    let mut push = |level: Option<usize>, field: String, message: String| {
        errors.push(PolicyError {
            policy: c.name.clone(),
            level,
            field,
            message,
        });
    };
    if c.name.trim().is_empty() {
        push(None, "name".into(), "must not be empty".into());
    } else if c.name.len() > MAX_NAME {
        push(
            None,
            "name".into(),
            format!("{} bytes, over the limit of {MAX_NAME}", c.name.len()),
        );
    }
    if c.repeat > MAX_REPEAT {
        push(
            None,
            "repeat".into(),
            format!("{} is over the limit of {MAX_REPEAT}", c.repeat),
        );
    }
    let ack_timeout_ms = match c.ack_timeout.as_deref().map(wait) {
        Some(Ok(0)) => {
            push(None, "ack_timeout".into(), "must be more than 0".into());
            None
        }
        Some(Ok(ms)) => Some(ms),
        Some(Err(m)) => {
            push(None, "ack_timeout".into(), m);
            None
        }
        None => None,
    };
    if c.levels.is_empty() {
        push(
            None,
            "levels".into(),
            "a policy needs at least one level".into(),
        );
    }
    if c.levels.len() > MAX_LEVELS {
        push(
            None,
            "levels".into(),
            format!("{} levels, over the limit of {MAX_LEVELS}", c.levels.len()),
        );
    }
    let mut levels = Vec::new();
    for (i, l) in c.levels.iter().enumerate().take(MAX_LEVELS) {
        let wait_ms = wait(&l.wait)
            .map_err(|m| push(Some(i), "wait".into(), m))
            .ok();
        if l.notify.is_empty() {
            push(Some(i), "notify".into(), "names nobody".into());
        }
        if l.notify.len() > MAX_TARGETS {
            push(
                Some(i),
                "notify".into(),
                format!(
                    "{} targets, over the limit of {MAX_TARGETS}",
                    l.notify.len()
                ),
            );
        }
        let mut notify: Vec<Target> = Vec::new();
        for (j, t) in l.notify.iter().enumerate().take(MAX_TARGETS) {
            match Target::parse(t).and_then(|t| exists(&t).map(|()| t)) {
                Ok(t) if notify.contains(&t) => push(
                    Some(i),
                    format!("notify[{j}]"),
                    format!("{t} is named twice"),
                ),
                Ok(t) => notify.push(t),
                Err(m) => push(Some(i), format!("notify[{j}]"), m),
            }
        }
        if let Some(wait_ms) = wait_ms {
            levels.push(Level { wait_ms, notify });
        }
    }
    if c.repeat > 0 && levels.len() == c.levels.len() && levels.iter().all(|l| l.wait_ms == 0) {
        push(
            None,
            "repeat".into(),
            "every level waits 0s, so each repeat would page at once; give a level a wait".into(),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Policy {
        name: c.name.clone(),
        levels,
        repeat: c.repeat,
        ack_timeout_ms,
    })
}
