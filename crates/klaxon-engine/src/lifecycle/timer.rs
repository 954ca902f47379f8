//! The lifecycle's one deadline set: a min-heap of (deadline, arming order, what), validated
//! lazily when due (the alert it names may have moved on; then the entry is dropped or armed
//! again at its new deadline). Knows nothing of alerts.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// A resolved alert closes.
    Close(i64),
    /// A suppression by hand runs out.
    Unsuppress(i64),
    /// An alert resolves for want of firings (or its `endsAt` passed).
    AutoResolve(i64),
    /// A flapping alert may be stable.
    Stable(i64),
    /// A silence starts or ends, a window opens or closes, a notice is due: every open alert
    /// is looked at again.
    Noise,
    /// Quiet occurrences are written.
    Flush,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timer {
    pub(crate) at: i64,
    seq: u64,
    pub(crate) due: Due,
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        // A max-heap: reversed, so the earliest deadline (then the earliest armed) is on top.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Timer>,
    seq: u64,
}

impl Timers {
    pub(crate) fn arm(&mut self, at: i64, due: Due) {
        self.seq += 1;
        self.heap.push(Timer {
            at,
            seq: self.seq,
            due,
        });
    }

    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.heap.peek().map(|t| t.at)
    }

    /// The earliest entry, if `now` is strictly past it.
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<Timer> {
        if self.heap.peek().is_some_and(|t| t.at < now) {
            self.heap.pop()
        } else {
            None
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_strictly_past_in_deadline_then_arming_order() {
        let mut t = Timers::default();
        t.arm(20, Due::Flush);
        t.arm(10, Due::Close(1));
        t.arm(10, Due::Close(2));
        assert_eq!(t.next_deadline(), Some(10));
        assert!(t.pop_due(10).is_none(), "at the deadline is not past it");
        assert_eq!(t.pop_due(11).map(|x| x.due), Some(Due::Close(1)));
        assert_eq!(t.pop_due(11).map(|x| x.due), Some(Due::Close(2)));
        assert!(t.pop_due(11).is_none());
        assert_eq!(t.pop_due(21).map(|x| x.due), Some(Due::Flush));
        assert_eq!(t.len(), 0);
    }
}
