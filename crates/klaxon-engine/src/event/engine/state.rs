//! Per-process-run state: sticky process fields, monitor keys, predecessor, pending
//! expectations and once-flags. Owns no rules and no timers.

use std::sync::Arc;

use crate::event::ewma::Ewma;
use crate::event::intern::Sym;
use crate::signal::ProcessFields;
use crate::Map;

/// The last monitor signal of a run (its start, updates and stop).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Predecessor {
    pub action: Sym,
    pub context: Sym,
    pub ts: i64,
}

/// Mark and trace state of one (action, context) key; marks and traces never share fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyState {
    pub mark_count: u64,
    /// Time of the previous mark; meaningful when `mark_count > 0`.
    pub mark_last: i64,
    pub trace_done: u64,
    /// Start of the open trace, [`CLOSED`] when none is open.
    pub trace_start: i64,
    /// Stop of the last completed trace, [`CLOSED`] when none completed.
    pub trace_last_stop: i64,
    /// Incremented at every trace start, so a timer can tell its trace from a restarted one.
    pub trace_seq: u32,
}

/// Sentinel for "no time".
pub(crate) const CLOSED: i64 = i64::MIN;

impl Default for KeyState {
    fn default() -> Self {
        KeyState {
            mark_count: 0,
            mark_last: 0,
            trace_done: 0,
            trace_start: CLOSED,
            trace_last_stop: CLOSED,
            trace_seq: 0,
        }
    }
}

/// A pending `FOLLOWED_BY_WITHIN_MS` expectation: a timer that fires unless the expected signal
/// comes in time (docs/rules.md).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    /// Unique id, matched by the timer entry.
    pub id: u64,
    pub rule_uid: u32,
    /// The key of the trigger (with the rule, the pending identity).
    pub trigger_key: u64,
    /// What satisfies it: this action, and this context unless `NONE` with `any_context`.
    pub await_action: Sym,
    pub await_context: Sym,
    pub any_context: bool,
    pub deadline: i64,
    /// The first trigger's data, carried by the alert.
    pub action: Sym,
    pub context: Sym,
    pub action_count: u64,
}

/// Silence watch of one `SILENCE_SECONDS` rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SilenceWatch {
    pub rule_uid: u32,
    /// A timer entry is in the deadline set for this watch.
    pub armed: bool,
    /// Arming order of the newest signal that moved the deadline, so a moved deadline keeps
    /// its place among timers due at the same time.
    pub seq: u64,
}

/// Where a run's baselines and fingerprints live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Shared(Sym),
    Local,
}

/// One run of a process.
#[derive(Debug)]
pub(crate) struct Proc {
    pub run: u64,
    pub id: Arc<str>,
    pub name: Sym,
    pub name_str: Arc<str>,
    /// `NONE`: evaluated by every active group.
    pub group: Sym,
    pub scope: Scope,
    pub scope_str: Arc<str>,
    pub explicit: bool,
    pub start_ts: i64,
    /// Newest signal time of the run.
    pub last_ts: i64,
    pub status: Option<i64>,
    pub info: Option<String>,
    pub steps_todo: Option<i64>,
    pub steps_done: Option<i64>,
    pub pred: Option<Predecessor>,
    pub keys: Map<u64, KeyState>,
    pub pending: Vec<Pending>,
    /// RUNTIME_EXCEEDED rules that fired (or were throttled) in this run.
    pub runtime_fired: Vec<u32>,
    pub silences: Vec<SilenceWatch>,
    /// Baselines of `#NONE`-scoped runs, keyed by (group, rule id, key).
    pub local_baselines: Map<(Sym, Sym, u64), Ewma>,
}

impl Proc {
    /// Merges process fields: sticky values, `step_done` applied after `steps_done`.
    pub(crate) fn merge(&mut self, f: &ProcessFields) {
        if let Some(s) = f.status {
            self.status = Some(s);
        }
        if let Some(i) = &f.info {
            match &mut self.info {
                Some(cur) => {
                    cur.clear();
                    cur.push_str(i);
                }
                None => self.info = Some(i.clone()),
            }
        }
        if let Some(t) = f.steps_todo {
            self.steps_todo = Some(t);
        }
        if let Some(d) = f.steps_done {
            self.steps_done = Some(d);
        }
        if let Some(n) = f.step_done {
            self.steps_done = Some(self.steps_done.unwrap_or(0).saturating_add(n));
        }
    }

    /// Records a signal at `ts`; true when it is the run's newest.
    pub(crate) fn touch(&mut self, ts: i64) -> bool {
        let moved = ts > self.last_ts;
        self.last_ts = self.last_ts.max(ts);
        moved
    }

    pub(crate) fn steps_done_count(&self) -> u64 {
        u64::try_from(self.steps_done.unwrap_or(0)).unwrap_or(0)
    }
}
