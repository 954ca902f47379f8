//! A byte budget a thread can wait on: what the telemetry buffer holds between the engine and
//! the disk, counted in bytes so that a flood of large rows cannot grow it past its bound. The
//! engine thread waits for room (never an async task); the telemetry writer gives room back
//! once rows are written. A leaf: knows no pipeline type.

use std::sync::{Condvar, Mutex, PoisonError};

/// Bytes in use against a limit.
#[derive(Debug)]
pub struct ByteBudget {
    limit: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> ByteBudget {
        ByteBudget {
            limit: limit.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// The bound, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes in use now.
    pub fn used(&self) -> usize {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `n` bytes, waiting while they do not fit. More than the whole limit is taken when
    /// nothing else is in use, so an outsized batch waits for an empty buffer instead of
    /// forever. Blocking: for threads, never for async tasks.
    pub fn take_blocking(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used > 0 && used.saturating_add(n) > self.limit {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used = used.saturating_add(n);
    }

    /// Takes `n` bytes if they fit now.
    pub fn try_take(&self, n: usize) -> bool {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        if *used > 0 && used.saturating_add(n) > self.limit {
            return false;
        }
        *used = used.saturating_add(n);
        true
    }

    /// Gives back `n` bytes taken before.
    pub fn give_back(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn takes_what_fits_waits_for_the_rest_and_lets_an_outsized_take_through_alone() {
        let b = Arc::new(ByteBudget::new(100));
        assert!(b.try_take(60));
        assert!(!b.try_take(50), "over the limit");
        assert!(b.try_take(40));
        let waiter = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.take_blocking(30))
        };
        b.give_back(60);
        waiter
            .join()
            .expect("the waiter gets room once bytes are given back");
        assert_eq!(b.used(), 70);
        b.give_back(70);
        assert!(b.try_take(500), "alone, an outsized take passes");
        assert!(!b.try_take(1));
    }
}
