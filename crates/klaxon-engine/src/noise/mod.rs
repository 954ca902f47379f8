//! Noise control, pure: silences, maintenance windows, inhibition rules and flap detection,
//! each answering "does this mute that alert, and why" from label sets and a `now` the caller
//! passes. Matching is indexed by one equality matcher per entry (`index.rs`), so an alert is
//! compared only with the entries that can match it, not with every silence and rule.
//!
//! No I/O and no clock: a maintenance window's time zone is a value the caller loads.

mod flap;
mod index;
mod inhibit;
mod interval;
mod silence;
mod window;

pub use flap::{FlapSettings, Flaps};
pub use index::LabelIndex;
pub use inhibit::{InhibitRule, Inhibition, Inhibitor};
pub use interval::{any_contains, IntervalSpec, TimeInterval, TimeRangeSpec};
pub use silence::{MatcherSpec, Silence, SilenceState, Silences};
pub use window::{MaintenanceWindow, Schedule, Windows};

/// Labels as the noise controls see them.
pub type LabelSet = std::collections::BTreeMap<String, String>;
