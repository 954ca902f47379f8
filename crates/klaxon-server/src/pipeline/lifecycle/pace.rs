//! When the lifecycle manager writes what time alone brings (escalation levels coming due, SLA
//! targets passing). Those writes go in commits of their own, never in front of alert
//! changes: one runs only when no alert work waits in the manager's channels, or once due
//! work has been held back [`MAX_HOLD`] by alert work that kept coming (so a steady stream of
//! alerts cannot starve pages). After each one the writer is left to alert changes at least
//! as long as that commit took ([`MAX_REST`] at most): time-driven commits keep the one
//! writer busy half the time at most, and an alert change arriving during one waits for one
//! small commit at most.

use std::time::{Duration, Instant};

/// Due work held back by alert work at most this long before it is committed all the same.
pub(crate) const MAX_HOLD: Duration = Duration::from_millis(250);
/// The longest rest after a time-driven commit (a slow disk does not stop pages for long).
pub(crate) const MAX_REST: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub(crate) struct Pacer {
    /// No time-driven commit before this: the rest after the last one.
    rest_until: Option<Instant>,
    /// Since when due work has waited for alert work to go first.
    held: Option<Instant>,
}

impl Pacer {
    /// When the next time-driven commit may start, when it must wait for the writer's rest.
    pub(crate) fn rest_until(&self, now: Instant) -> Option<Instant> {
        self.rest_until.filter(|&t| t > now)
    }

    /// Whether due work may be committed now: not while the writer rests; at once when no
    /// alert work waits; else once alert work has held it back for [`MAX_HOLD`].
    pub(crate) fn may(&mut self, now: Instant, alerts_waiting: bool) -> bool {
        if self.rest_until(now).is_some() {
            return false;
        }
        if !alerts_waiting {
            return true;
        }
        let since = *self.held.get_or_insert(now);
        now.saturating_duration_since(since) >= MAX_HOLD
    }

    /// Nothing is due: nothing is held back.
    pub(crate) fn idle(&mut self) {
        self.held = None;
    }

    /// A time-driven commit ran from `began` to `ended`.
    pub(crate) fn done(&mut self, began: Instant, ended: Instant) {
        self.held = None;
        let took = ended.saturating_duration_since(began).min(MAX_REST);
        self.rest_until = Some(ended + took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn due_work_goes_at_once_when_no_alert_work_waits_and_the_writer_rests_after_it() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        assert!(p.may(t0, false));
        p.done(t0, t0 + 4 * MS);
        // Rests as long as the commit took.
        assert_eq!(p.rest_until(t0 + 5 * MS), Some(t0 + 8 * MS));
        assert!(!p.may(t0 + 7 * MS, false));
        assert!(p.may(t0 + 8 * MS, false));
        // A slow commit rests MAX_REST at most.
        p.done(t0, t0 + 10_000 * MS);
        assert_eq!(
            p.rest_until(t0 + 10_000 * MS),
            Some(t0 + 10_000 * MS + MAX_REST)
        );
    }

    #[test]
    fn alert_work_holds_due_work_back_for_max_hold_at_most() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // Alert work waits every time it is asked: due work goes after MAX_HOLD all the same.
        let mut t = t0;
        while !p.may(t, true) {
            t += MS;
            assert!(t - t0 <= MAX_HOLD, "held back past MAX_HOLD");
        }
        assert_eq!(t - t0, MAX_HOLD);
        p.done(t, t + MS);
        // Held anew from the next ask after the rest.
        let t1 = t + 2 * MS;
        assert!(!p.may(t1, true));
        assert!(!p.may(t1 + MAX_HOLD - MS, true));
        assert!(p.may(t1 + MAX_HOLD, true));
        // Nothing due in between: the hold starts over.
        p.done(t1, t1);
        p.idle();
        assert!(!p.may(t1 + 10 * MAX_HOLD, true));
    }
}
