//! The one deadline set of the engine: a min-heap of timer entries, validated lazily when due.
//! Owns no process state; entries name the run and rule they belong to.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// A `FOLLOWED_BY_WITHIN_MS` expectation of `pending` id.
    Followed { pending: u64 },
    /// A `MAX_OPEN_MS` watch of the trace started as `trace_seq` on `key`.
    MaxOpen {
        rule_uid: u32,
        key: u64,
        trace_seq: u32,
    },
    /// A `SILENCE_SECONDS` watch.
    Silence { rule_uid: u32 },
    /// A `RUNTIME_EXCEEDED` watch.
    Runtime { rule_uid: u32 },
}

/// One entry: the run it belongs to (slab slot and run number) and its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timer {
    pub deadline: i64,
    /// Arming order, for ties.
    pub seq: u64,
    pub slot: u32,
    pub run: u64,
    pub kind: TimerKind,
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest deadline (then arming) is on top.
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The deadline set. Stale entries (of ended runs, satisfied expectations, closed traces) are
/// dropped when they come due; a silence entry whose deadline moved is pushed again.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Timer>,
    seq: u64,
}

impl Timers {
    /// Arms a timer; returns its arming order.
    pub(crate) fn arm(&mut self, deadline: i64, slot: u32, run: u64, kind: TimerKind) -> u64 {
        let seq = self.next_seq();
        self.arm_at(deadline, seq, slot, run, kind);
        seq
    }

    /// Arms a timer that keeps an arming order taken earlier with [`Timers::next_seq`].
    pub(crate) fn arm_at(&mut self, deadline: i64, seq: u64, slot: u32, run: u64, kind: TimerKind) {
        self.heap.push(Timer {
            deadline,
            seq,
            slot,
            run,
            kind,
        });
    }

    /// Takes the next arming order without arming anything.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The earliest deadline, a lower bound of the next firing.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.heap.peek().map(|t| t.deadline)
    }

    /// Removes and returns the earliest entry if engine time `now` is strictly past it.
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<Timer> {
        if self.heap.peek().is_some_and(|t| t.deadline < now) {
            self.heap.pop()
        } else {
            None
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries `keep` accepts, possibly rewriting their rule ids.
    pub(crate) fn retain_map(&mut self, mut keep: impl FnMut(&mut Timer) -> bool) {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        v.retain_mut(|t| keep(t));
        self.heap = BinaryHeap::from(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_in_deadline_then_arming_order_and_strictly_past() {
        let mut t = Timers::default();
        t.arm(20, 0, 1, TimerKind::Silence { rule_uid: 1 });
        t.arm(10, 0, 1, TimerKind::Silence { rule_uid: 2 });
        t.arm(10, 0, 1, TimerKind::Silence { rule_uid: 3 });
        assert_eq!(t.next_deadline(), Some(10));
        assert!(
            t.pop_due(10).is_none(),
            "equal to the deadline is not past it"
        );
        assert_eq!(
            t.pop_due(11).map(|x| x.kind),
            Some(TimerKind::Silence { rule_uid: 2 })
        );
        assert_eq!(
            t.pop_due(11).map(|x| x.kind),
            Some(TimerKind::Silence { rule_uid: 3 })
        );
        assert!(t.pop_due(11).is_none());
        assert_eq!(t.pop_due(21).map(|x| x.deadline), Some(20));
    }
}
