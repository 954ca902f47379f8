//! Open incidents: their members, open-alert count, resolution under the resolve policy, and
//! the one deadline set that closes them (idle window, lifetime cap, reopen window after
//! resolution). Owns incident state only; alert records live in the correlator's table.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::config::{CorrelationConfig, ResolvePolicy};
use super::index::Handle;

#[derive(Debug)]
pub(crate) struct Incident {
    pub opened: i64,
    pub last_join: i64,
    pub members: Vec<Handle>,
    /// Members that have not resolved.
    pub open: u32,
    /// When it resolved (under the policy), if it is resolved.
    pub resolved_at: Option<i64>,
    /// Kinds of its members in join order (for learning co-occurrence).
    pub kinds: Vec<u64>,
    /// The first member's label set, and whether any other label set joined.
    pub first_fp: u64,
    pub many_fps: bool,
}

impl Incident {
    /// When it stops taking alerts: at the lifetime cap, and before that once resolved for the
    /// reopen window, or idle (no alert joined, none firing, or the policy never resolves) for
    /// the idle window.
    pub(crate) fn deadline(&self, c: &CorrelationConfig) -> i64 {
        let cap = self.opened.saturating_add(c.max_lifetime_ms);
        let idle = self.last_join.saturating_add(c.idle_ms);
        let d = match (self.resolved_at, c.resolve) {
            (Some(r), _) => r.saturating_add(c.reopen_ms),
            (None, ResolvePolicy::Never) => idle,
            (None, _) if self.open == 0 => idle,
            (None, _) => i64::MAX,
        };
        cap.min(d)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Incidents {
    open: HashMap<u64, Incident, foldhash::fast::FixedState>,
    /// (deadline, incident): at least one entry per open incident, at or before its deadline;
    /// an entry whose incident's deadline moved later is pushed again when it comes due.
    deadlines: BinaryHeap<Reverse<(i64, u64)>>,
    next_id: u64,
}

/// What a resolution did to its incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    Unchanged,
    Resolved,
}

impl Incidents {
    pub(crate) fn open(
        &mut self,
        c: &CorrelationConfig,
        at: i64,
        h: Handle,
        kind: u64,
        fp: u64,
        ends_at: Option<i64>,
    ) -> u64 {
        let id = self.reserve();
        self.open_as(c, id, at, h, kind, fp, ends_at);
        id
    }

    /// The next incident id, taken (so no incident the correlator opens will have it).
    pub(crate) fn reserve(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Ids up to `id` are taken: the next incident opened gets a larger one.
    pub(crate) fn taken_up_to(&mut self, id: u64) {
        self.next_id = self.next_id.max(id);
    }

    /// Opens incident `id` (one not open) with its first member.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open_as(
        &mut self,
        c: &CorrelationConfig,
        id: u64,
        at: i64,
        h: Handle,
        kind: u64,
        fp: u64,
        ends_at: Option<i64>,
    ) {
        self.taken_up_to(id);
        let mut inc = Incident {
            opened: at,
            last_join: at,
            members: vec![h],
            open: 1,
            resolved_at: None,
            kinds: vec![kind],
            first_fp: fp,
            many_fps: false,
        };
        if let Some(end) = ends_at {
            inc.open = 0;
            if c.resolve != ResolvePolicy::Never {
                inc.resolved_at = Some(end);
            }
        }
        self.deadlines.push(Reverse((inc.deadline(c), id)));
        self.open.insert(id, inc);
    }

    /// Adds a member; returns whether that reopened a resolved incident.
    pub(crate) fn join(
        &mut self,
        id: u64,
        at: i64,
        h: Handle,
        kind: u64,
        fp: u64,
        ends_at: Option<i64>,
    ) -> bool {
        let inc = self.open.get_mut(&id).expect("joined incidents are open");
        inc.members.push(h);
        inc.last_join = inc.last_join.max(at);
        if inc.kinds.len() < 64 {
            inc.kinds.push(kind);
        }
        inc.many_fps |= fp != inc.first_fp;
        if let Some(end) = ends_at {
            // Already ended: a resolved incident stays resolved, as of the later end.
            if let Some(r) = &mut inc.resolved_at {
                *r = (*r).max(end);
            }
            return false;
        }
        inc.open += 1;
        let reopened = inc.resolved_at.take().is_some();
        // The deadline only moved later (or lost the reopen bound): the queued entry finds
        // that out when it comes due.
        reopened
    }

    /// Moves every member of `from` into `into`; returns the members moved.
    pub(crate) fn merge(&mut self, c: &CorrelationConfig, from: u64, into: u64) -> Vec<Handle> {
        let Some(f) = self.open.remove(&from) else {
            return Vec::new();
        };
        let inc = self
            .open
            .get_mut(&into)
            .expect("merged into an open incident");
        inc.members.extend_from_slice(&f.members);
        inc.open += f.open;
        inc.opened = inc.opened.min(f.opened);
        inc.last_join = inc.last_join.max(f.last_join);
        inc.many_fps |= f.many_fps || f.first_fp != inc.first_fp;
        for k in f.kinds {
            if inc.kinds.len() < 64 {
                inc.kinds.push(k);
            }
        }
        inc.resolved_at = match (inc.resolved_at, f.resolved_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ if inc.open > 0 => None,
            (a, b) => a.or(b),
        };
        self.deadlines.push(Reverse((inc.deadline(c), into)));
        f.members
    }

    /// One member resolved at `at`.
    pub(crate) fn resolve(&mut self, c: &CorrelationConfig, id: u64, at: i64) -> Resolution {
        let Some(inc) = self.open.get_mut(&id) else {
            return Resolution::Unchanged;
        };
        inc.open = inc.open.saturating_sub(1);
        let resolves = inc.resolved_at.is_none()
            && match c.resolve {
                ResolvePolicy::First => true,
                ResolvePolicy::Last => inc.open == 0,
                ResolvePolicy::Never => false,
            };
        if !resolves {
            return Resolution::Unchanged;
        }
        inc.resolved_at = Some(at);
        self.deadlines.push(Reverse((inc.deadline(c), id)));
        Resolution::Resolved
    }

    /// Removes a member (moved out); returns whether the incident is now empty (and gone).
    pub(crate) fn remove_member(&mut self, id: u64, h: Handle, was_open: bool) -> bool {
        let Some(inc) = self.open.get_mut(&id) else {
            return false;
        };
        inc.members.retain(|&m| m != h);
        if was_open {
            inc.open = inc.open.saturating_sub(1);
        }
        if inc.members.is_empty() {
            self.open.remove(&id);
            return true;
        }
        false
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Incident> {
        self.open.get(&id)
    }

    /// Removes and returns the next incident whose deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, c: &CorrelationConfig, now: i64) -> Option<(u64, Incident)> {
        while let Some(&Reverse((due, id))) = self.deadlines.peek() {
            if due > now {
                return None;
            }
            self.deadlines.pop();
            let Some(inc) = self.open.get(&id) else {
                continue; // closed or emptied already
            };
            let actual = inc.deadline(c);
            if actual > now {
                if actual != due {
                    self.deadlines.push(Reverse((actual, id)));
                }
                continue;
            }
            let inc = self.open.remove(&id).expect("present");
            return Some((id, inc));
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }

    /// Open incidents by id (for the end of a run).
    pub(crate) fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.open.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}
