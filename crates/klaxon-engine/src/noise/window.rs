//! Maintenance windows: named, one-off (a time range) or recurring (weekdays and a time of day
//! in a named time zone, daylight saving time included), with label matchers. While a window is
//! open, the alerts it matches are muted, and so are the alerts of threshold rules that name it
//! in `suppression_rules`.
//!
//! The time zone is a value ([`jiff::tz::TimeZone`]) the caller loads; this module only
//! computes with it.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::LabelSet;
use crate::matcher::Matcher;

/// When a window is open.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// From `start` until `end` (epoch ms, end exclusive).
    Once { start: i64, end: i64 },
    /// Every listed weekday from `start` until `end` local time. An `end` not after `start`
    /// runs past midnight into the next day (22:00–06:00); the weekday is the one it starts on.
    Weekly {
        /// Monday = 0 … Sunday = 6.
        days: [bool; 7],
        start: Time,
        end: Time,
        tz: TimeZone,
    },
}

/// A named maintenance window.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    pub name: String,
    /// Alerts these match are muted while the window is open; empty: only the alerts of rules
    /// that name the window.
    pub matchers: Vec<Matcher>,
    pub schedule: Schedule,
}

fn ms(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

/// The instant a local date and time happen in `tz` (in a gap, the instant after it; in a
/// fold, the first one).
fn instant(tz: &TimeZone, date: Date, t: Time) -> Option<i64> {
    tz.to_ambiguous_zoned(date.to_datetime(t))
        .compatible()
        .ok()
        .map(|z| ms(z.timestamp()))
}

impl MaintenanceWindow {
    /// The occurrences of a weekly window that start on `date` (local), as (start, end) ms.
    fn occurrence(
        date: Date,
        days: &[bool; 7],
        start: Time,
        end: Time,
        tz: &TimeZone,
    ) -> Option<(i64, i64)> {
        let wd = usize::try_from(date.weekday().to_monday_zero_offset()).ok()?;
        if !days[wd] {
            return None;
        }
        let from = instant(tz, date, start)?;
        let end_date = if end <= start {
            date.tomorrow().ok()?
        } else {
            date
        };
        let to = instant(tz, end_date, end)?;
        Some((from, to))
    }

    /// Whether the window is open at `now` (epoch ms).
    pub fn is_open(&self, now: i64) -> bool {
        match &self.schedule {
            Schedule::Once { start, end } => (*start..*end).contains(&now),
            Schedule::Weekly {
                days,
                start,
                end,
                tz,
            } => {
                let Ok(ts) = Timestamp::from_millisecond(now) else {
                    return false;
                };
                let today = ts.to_zoned(tz.clone()).date();
                // An overnight occurrence of yesterday may still run.
                [today.yesterday().ok(), Some(today)]
                    .into_iter()
                    .flatten()
                    .filter_map(|d| Self::occurrence(d, days, *start, *end, tz))
                    .any(|(from, to)| (from..to).contains(&now))
            }
        }
    }

    /// The next instant after `now` at which the window opens or closes.
    pub fn next_change(&self, now: i64) -> Option<i64> {
        match &self.schedule {
            Schedule::Once { start, end } => [*start, *end].into_iter().filter(|&t| t > now).min(),
            Schedule::Weekly {
                days,
                start,
                end,
                tz,
            } => {
                let ts = Timestamp::from_millisecond(now).ok()?;
                let mut d = ts.to_zoned(tz.clone()).date().yesterday().ok()?;
                let mut best: Option<i64> = None;
                // Eight days ahead always holds the next occurrence of any weekday.
                for _ in 0..9 {
                    if let Some((from, to)) = Self::occurrence(d, days, *start, *end, tz) {
                        for t in [from, to] {
                            if t > now && best.is_none_or(|b| t < b) {
                                best = Some(t);
                            }
                        }
                    }
                    d = d.tomorrow().ok()?;
                }
                best
            }
        }
    }

    /// Whether the window's matchers cover `labels` (a window without matchers covers none).
    pub fn covers(&self, labels: &LabelSet) -> bool {
        !self.matchers.is_empty() && self.matchers.iter().all(|m| m.matches(labels))
    }
}

/// Every configured window.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<MaintenanceWindow>,
}

impl Windows {
    pub fn new(windows: Vec<MaintenanceWindow>) -> Windows {
        Windows { windows }
    }

    pub fn iter(&self) -> impl Iterator<Item = &MaintenanceWindow> {
        self.windows.iter()
    }

    pub fn get(&self, name: &str) -> Option<&MaintenanceWindow> {
        self.windows.iter().find(|w| w.name == name)
    }

    /// The open window that mutes an alert with `labels` whose rule names the windows `named`
    /// (`suppression_rules`), at `now`.
    pub fn muting(
        &self,
        labels: &LabelSet,
        named: &[&str],
        now: i64,
    ) -> Option<&MaintenanceWindow> {
        self.windows
            .iter()
            .find(|w| (named.contains(&w.name.as_str()) || w.covers(labels)) && w.is_open(now))
    }

    /// The next instant after `now` at which any window opens or closes.
    pub fn next_change(&self, now: i64) -> Option<i64> {
        self.windows.iter().filter_map(|w| w.next_change(now)).min()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::matcher::parse_filter;
    use jiff::civil::{date, time};

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn weekly(days: &[usize], start: Time, end: Time, tz: TimeZone) -> MaintenanceWindow {
        let mut d = [false; 7];
        for &i in days {
            d[i] = true;
        }
        MaintenanceWindow {
            name: "w".into(),
            matchers: parse_filter(r#"{env="prod"}"#).unwrap(),
            schedule: Schedule::Weekly {
                days: d,
                start,
                end,
                tz,
            },
        }
    }

    #[test]
    fn a_weekly_window_is_open_only_on_its_days_and_hours() {
        // Saturdays 02:00–04:00 at UTC+2.
        let tz = TimeZone::fixed(jiff::tz::offset(2));
        let w = weekly(&[5], time(2, 0, 0, 0), time(4, 0, 0, 0), tz);
        // 2026-12-05 is a Saturday; 02:00 local = 00:00 UTC.
        assert_eq!(date(2026, 12, 5).weekday(), jiff::civil::Weekday::Saturday);
        assert!(!w.is_open(at("2026-12-04T23:59:59Z")));
        assert!(w.is_open(at("2026-12-05T00:00:00Z")));
        assert!(w.is_open(at("2026-12-05T01:59:59Z")));
        assert!(!w.is_open(at("2026-12-05T02:00:00Z")), "end exclusive");
        assert!(!w.is_open(at("2026-12-06T00:30:00Z")), "Sunday");
        assert_eq!(
            w.next_change(at("2026-12-03T12:00:00Z")),
            Some(at("2026-12-05T00:00:00Z"))
        );
        assert_eq!(
            w.next_change(at("2026-12-05T00:00:00Z")),
            Some(at("2026-12-05T02:00:00Z"))
        );
        assert_eq!(
            w.next_change(at("2026-12-05T02:00:00Z")),
            Some(at("2026-12-12T00:00:00Z"))
        );
    }

    #[test]
    fn an_overnight_window_runs_into_the_next_day() {
        // Fridays 22:00 – 06:00 UTC.
        let w = weekly(&[4], time(22, 0, 0, 0), time(6, 0, 0, 0), TimeZone::UTC);
        assert!(w.is_open(at("2026-12-04T23:00:00Z")));
        assert!(w.is_open(at("2026-12-05T05:59:00Z")), "Saturday morning");
        assert!(!w.is_open(at("2026-12-05T06:00:00Z")));
        assert!(!w.is_open(at("2026-12-05T23:00:00Z")), "Saturday night");
    }

    #[test]
    fn windows_mute_what_they_match_or_what_names_them() {
        let open = MaintenanceWindow {
            name: "maintenance_mode".into(),
            matchers: Vec::new(),
            schedule: Schedule::Once { start: 0, end: 100 },
        };
        let prod = MaintenanceWindow {
            name: "prod".into(),
            ..weekly(
                &[0, 1, 2, 3, 4, 5, 6],
                time(0, 0, 0, 0),
                time(0, 0, 0, 0),
                TimeZone::UTC,
            )
        };
        let all = Windows::new(vec![open, prod]);
        let dev: LabelSet = [("env".to_owned(), "dev".to_owned())].into();
        let prod_labels: LabelSet = [("env".to_owned(), "prod".to_owned())].into();
        assert_eq!(
            all.muting(&dev, &["maintenance_mode"], 50)
                .map(|w| w.name.as_str()),
            Some("maintenance_mode")
        );
        assert!(
            all.muting(&dev, &["maintenance_mode"], 100).is_none(),
            "over"
        );
        assert!(
            all.muting(&dev, &[], 50).is_none(),
            "a window without matchers"
        );
        assert_eq!(
            all.muting(&prod_labels, &[], 50).map(|w| w.name.as_str()),
            Some("prod"),
            "00:00–00:00 is open all day, every day"
        );
    }
}
