//! On-call schedules, pure: rotation layers, restrictions and overrides compiled from their
//! declared form, answering "who is on call at T" and "the shifts from T1 to T2", and writing
//! iCalendar feeds. No I/O and no clock: the time zone is a [`jiff::tz::TimeZone`] the caller
//! loads, and every instant is an argument (epoch milliseconds; ranges are half-open).
//!
//! # Semantics
//!
//! - **Rotation.** A layer's shift `k` runs from hand-off `k` to hand-off `k + 1` and belongs to
//!   `users[k % users.len()]`. Hand-off 0 is the declared `handoff`; before it the layer has
//!   nobody on call.
//! - **Shift lengths.** Weeks and days (`"1w"`, `"2d"`) are calendar days of the schedule's
//!   zone: hand-off `k` is when the local date-time `handoff + k × days` happens, so a daily
//!   09:00 hand-off is at 09:00 local every day and the shift across a daylight-saving change
//!   lasts 23 or 25 hours (23.5 or 24.5 where the change is half an hour). Hours and minutes
//!   (`"12h"`, `"1h30m"`) are elapsed time: hand-off `k` is hand-off 0 plus `k × length`, so its
//!   local time moves with the clock change. A length mixing both is refused.
//! - **Local times that do not exist or happen twice.** A local date-time (a hand-off, a
//!   restriction's start or end) happens at the first instant the wall clock shows it or a later
//!   time: in a spring-forward gap, at the end of the gap (02:30 on the night Berlin skips from
//!   02:00 to 03:00 happens at 03:00 CEST); in a fall-back fold, at its first occurrence. No
//!   hour is lost or doubled: the shifts of a range tile it exactly.
//! - **Restrictions.** A restricted layer has someone on call only inside its windows: on each
//!   listed weekday, from `from` to `to` local time; a `to` not after `from` runs past midnight
//!   (`22:00`–`06:00`; equal: 24 hours), the weekday being the one the window starts on. The
//!   rotation runs on underneath: a restriction hides the shift, it does not pause the
//!   rotation. A window's ends are local times resolved as above, so a repeated hour inside a
//!   window counts once.
//! - **Priority.** Where a later layer has someone on call it hides the earlier ones; an
//!   override hides every layer, also where no layer has anyone. Overrides may not overlap.
//! - **Shifts.** [`Schedule::shifts`] returns, in order, the maximal stretches of one user from
//!   one [`Source`], clipped to the range; time when nobody is on call has no shift. The
//!   iCalendar feed joins touching stretches of one user into one event.
//!
//! Computing walks hand-offs and restriction windows (a few per day) with the zone's offset
//! changes read once per query, never minute by minute.

mod clock;
mod config;
mod ical;
mod layer;
mod length;
mod overlay;
mod schedule;

pub use config::{
    compile, LayerConfig, OverrideConfig, RestrictionConfig, ScheduleConfig, ScheduleError,
};
pub use ical::{ical, Calendar};
pub use overlay::Source;
pub use schedule::{Schedule, Shift};

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
