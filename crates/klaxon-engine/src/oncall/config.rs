//! The declared form of a schedule (what a config file or an API request holds) and its
//! compilation into a [`Schedule`], reporting every problem at once with its place. The time zone
//! arrives loaded: this module never looks a zone up.

use std::fmt;

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::layer::{Layer, Restriction};
use super::length::{parse_length, Length, DAY_MS};
use super::schedule::{Override, Schedule};

/// A schedule as declared: `[[schedules]]` in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: String,
    /// IANA time zone name; hand-offs and restrictions are in its local time.
    pub time_zone: String,
    /// Rotation layers; a later layer overrides earlier ones where it has someone on call.
    pub layers: Vec<LayerConfig>,
    /// Someone covers: these beat every layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<OverrideConfig>,
}

/// One rotation: `[[schedules.layers]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// User names in rotation order (a name may appear more than once).
    pub users: Vec<String>,
    /// Shift length: `"1w"`, `"1d"` (calendar days) or `"12h"` (elapsed hours).
    pub shift: String,
    /// The first hand-off, a local date-time of the schedule's zone (`"2026-12-07T09:00:00"`).
    pub handoff: String,
    /// When set, the layer has someone on call only inside these windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrict: Vec<RestrictionConfig>,
}

/// A weekly window in the schedule's local time: `{ days = ["mon"], from = "09:00", to = "18:00" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionConfig {
    /// Weekdays the window starts on (`mon`, `tues`, `friday`: three letters or more); absent:
    /// every day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<String>>,
    /// `HH:MM` or `HH:MM:SS`.
    pub from: String,
    /// `HH:MM` or `HH:MM:SS`; not after `from`: the window runs past midnight (equal: 24 hours).
    pub to: String,
}

/// Someone covers from `start` to `end`, RFC 3339 instants with an offset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    pub user: String,
    pub start: String,
    pub end: String,
}

/// One problem in a schedule, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScheduleError {
    pub schedule: String,
    /// The layer's 0-based index, for problems inside a layer.
    pub layer: Option<usize>,
    /// Dotted path inside the layer (`shift`, `restrict[0].from`) or the schedule
    /// (`overrides[1].end`, `layers`).
    pub field: String,
    /// Lower-case reason, saying what is accepted.
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "schedule {:?}: ", self.schedule)?;
        if let Some(i) = self.layer {
            write!(f, "layers[{i}].")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl ScheduleConfig {
    /// Every user name the schedule refers to, with its place (`layer`, `field`), in declaration
    /// order: for the caller to check against the declared users.
    pub fn user_references(&self) -> Vec<(Option<usize>, String, &str)> {
        let layers = self.layers.iter().enumerate().flat_map(|(l, layer)| {
            (layer.users.iter().enumerate()).map(move |(i, u)| (Some(l), format!("users[{i}]"), u))
        });
        let overrides = (self.overrides.iter().enumerate())
            .map(|(i, o)| (None, format!("overrides[{i}].user"), o.user.as_str()));
        layers
            .map(|(l, f, u)| (l, f, u.as_str()))
            .chain(overrides)
            .collect()
    }
}

/// Collects errors with their place while a schedule compiles.
struct Errors<'c> {
    schedule: &'c str,
    list: Vec<ScheduleError>,
}

impl Errors<'_> {
    fn push(&mut self, layer: Option<usize>, field: impl Into<String>, message: String) {
        self.list.push(ScheduleError {
            schedule: self.schedule.to_owned(),
            layer,
            field: field.into(),
            message,
        });
    }

    /// `Some(v)` on success, else records the error and gives `None`.
    fn check<T>(
        &mut self,
        layer: Option<usize>,
        field: impl Into<String>,
        r: Result<T, String>,
    ) -> Option<T> {
        r.map_err(|m| self.push(layer, field, m)).ok()
    }
}

/// Accepted dates for hand-offs and overrides: the years 1900 to 2999.
fn in_years(dt: DateTime) -> Result<DateTime, String> {
    if (1900..=2999).contains(&dt.year()) {
        Ok(dt)
    } else {
        Err(format!("{dt} is outside the years 1900 to 2999"))
    }
}

fn parse_handoff(text: &str) -> Result<DateTime, String> {
    if text.parse::<Timestamp>().is_ok() || text.contains('[') {
        return Err(format!(
            "{text:?} names an offset or zone; a hand-off is a local date-time of the schedule's \
             time zone, such as \"2026-12-07T09:00:00\""
        ));
    }
    let dt = text.parse::<DateTime>().map_err(|e| {
        format!("{text:?} is not a local date-time such as \"2026-12-07T09:00:00\": {e}")
    })?;
    if dt.subsec_nanosecond() != 0 {
        return Err(format!("{text:?}: a hand-off is to the whole second"));
    }
    in_years(dt)
}

fn parse_time(text: &str) -> Result<i64, String> {
    let t = text
        .parse::<Time>()
        .ok()
        .filter(|t| t.subsec_nanosecond() == 0)
        .ok_or_else(|| {
            let hint = if text.starts_with("24") {
                "; to end at midnight write \"00:00\""
            } else {
                ""
            };
            format!("{text:?} is not a time of day HH:MM or HH:MM:SS (00:00 to 23:59:59){hint}")
        })?;
    Ok(i64::from(t.hour()) * 3_600_000
        + i64::from(t.minute()) * 60_000
        + i64::from(t.second()) * 1000)
}

/// A weekday name (`mon`, `tues`, `wednesday`: three letters or more) as a bit, Monday = bit 0.
fn parse_day(text: &str) -> Result<u8, String> {
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let t = text.trim().to_ascii_lowercase();
    NAMES
        .iter()
        .position(|n| t.len() >= 3 && n.starts_with(t.as_str()))
        .map(|i| 1 << i)
        .ok_or_else(|| format!("{text:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)"))
}

fn parse_instant(text: &str) -> Result<i64, String> {
    let ts = text.parse::<Timestamp>().map_err(|e| {
        format!(
            "{text:?} is not an RFC 3339 instant with an offset, such as \
             \"2026-12-24T18:00:00+01:00\": {e}"
        )
    })?;
    in_years(ts.to_zoned(TimeZone::UTC).datetime())?;
    Ok(ts.as_millisecond())
}

/// The index of `name` in `users`, added if new.
fn intern(users: &mut Vec<String>, name: &str) -> u32 {
    let i = users.iter().position(|u| u == name).unwrap_or_else(|| {
        users.push(name.to_owned());
        users.len() - 1
    });
    u32::try_from(i).expect("a schedule holds far fewer than 2^32 users")
}

fn compile_restriction(
    errors: &mut Errors<'_>,
    layer: usize,
    j: usize,
    r: &RestrictionConfig,
) -> Option<Restriction> {
    let place = |field: &str| format!("restrict[{j}].{field}");
    let days = match &r.days {
        None => Some(0x7f),
        Some(names) if names.is_empty() => {
            errors.push(
                Some(layer),
                place("days"),
                "an empty list of days never applies; leave `days` out for every day".into(),
            );
            None
        }
        Some(names) => {
            let bits: Vec<Option<u8>> = (names.iter().enumerate())
                .map(|(k, d)| errors.check(Some(layer), place(&format!("days[{k}]")), parse_day(d)))
                .collect();
            bits.into_iter().try_fold(0u8, |acc, bit| Some(acc | bit?))
        }
    };
    let from = errors.check(Some(layer), place("from"), parse_time(&r.from));
    let to = errors.check(Some(layer), place("to"), parse_time(&r.to));
    Some(Restriction {
        days: days?,
        from: from?,
        to: to?,
    })
}

fn compile_layer(
    errors: &mut Errors<'_>,
    tz: &TimeZone,
    users: &mut Vec<String>,
    i: usize,
    l: &LayerConfig,
) -> Option<Layer> {
    let at = Some(i);
    if l.users.is_empty() {
        errors.push(at, "users", "a layer needs at least one user".into());
    }
    for (k, u) in l.users.iter().enumerate() {
        if u.trim().is_empty() {
            errors.push(at, format!("users[{k}]"), "a user name is empty".into());
        }
    }
    let length = errors.check(at, "shift", parse_length(&l.shift));
    let handoff = errors.check(at, "handoff", parse_handoff(&l.handoff));
    let restrictions: Option<Vec<Restriction>> = (l.restrict.iter().enumerate())
        .map(|(j, r)| compile_restriction(errors, i, j, r))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let (length, handoff, restrictions) = (length?, handoff?, restrictions?);
    if l.users.is_empty() || l.users.iter().any(|u| u.trim().is_empty()) {
        return None;
    }
    let handoff_local = TimeZone::UTC
        .to_timestamp(handoff)
        .expect("years 1900 to 2999 are within jiff's range")
        .as_millisecond();
    let first_handoff = Clock::new(tz, handoff_local - 2 * DAY_MS, handoff_local + 2 * DAY_MS)
        .instant(handoff_local);
    Some(Layer {
        users: l.users.iter().map(|u| intern(users, u)).collect(),
        length,
        handoff_local,
        first_handoff,
        restrictions,
    })
}

fn compile_overrides(
    errors: &mut Errors<'_>,
    users: &mut Vec<String>,
    list: &[OverrideConfig],
) -> Vec<Override> {
    let mut valid = Vec::new();
    for (index, o) in list.iter().enumerate() {
        let place = |field: &str| format!("overrides[{index}].{field}");
        if o.user.trim().is_empty() {
            errors.push(None, place("user"), "a user name is empty".into());
        }
        let start = errors.check(None, place("start"), parse_instant(&o.start));
        let end = errors.check(None, place("end"), parse_instant(&o.end));
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        if end <= start {
            errors.push(
                None,
                place("end"),
                format!("{} is not after the start {}", o.end, o.start),
            );
            continue;
        }
        if !o.user.trim().is_empty() {
            let user = intern(users, &o.user);
            valid.push(Override {
                user,
                start,
                end,
                index,
            });
        }
    }
    valid.sort_by_key(|o| (o.start, o.index));
    for pair in valid.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.start < a.end {
            let (first, second) = if a.index < b.index { (a, b) } else { (b, a) };
            errors.push(
                None,
                format!("overrides[{}]", second.index),
                format!(
                    "overlaps overrides[{}] ({} to {}); one person covers at a time",
                    first.index, list[first.index].start, list[first.index].end
                ),
            );
        }
    }
    valid
}

/// Compiles a declared schedule with its time zone, loaded by the caller for
/// `config.time_zone`. `Err` holds every problem found.
pub fn compile(config: &ScheduleConfig, tz: TimeZone) -> Result<Schedule, Vec<ScheduleError>> {
    let mut errors = Errors {
        schedule: &config.name,
        list: Vec::new(),
    };
    if config.name.trim().is_empty() {
        errors.push(None, "name", "a schedule needs a name".into());
    }
    if config.layers.is_empty() {
        errors.push(None, "layers", "a schedule needs at least one layer".into());
    }
    let mut users = Vec::new();
    let layers: Vec<Option<Layer>> = (config.layers.iter().enumerate())
        .map(|(i, l)| compile_layer(&mut errors, &tz, &mut users, i, l))
        .collect();
    let overrides = compile_overrides(&mut errors, &mut users, &config.overrides);
    if !errors.list.is_empty() {
        return Err(errors.list);
    }
    let layers: Vec<Layer> = layers.into_iter().flatten().collect();
    // How far before a range a hand-off that still matters can lie: the longest calendar shift.
    let reach_ms = (layers.iter())
        .map(|l| match l.length {
            Length::Days(d) => d * DAY_MS,
            Length::Fixed(_) => 0,
        })
        .max()
        .unwrap_or(0)
        + 2 * DAY_MS;
    Ok(Schedule {
        name: config.name.clone(),
        time_zone_name: config.time_zone.clone(),
        tz,
        users,
        layers,
        overrides,
        reach_ms,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::oncall::tests::layer;

    fn places(config: &ScheduleConfig) -> Vec<(Option<usize>, String)> {
        let errors = compile(config, TimeZone::UTC).unwrap_err();
        errors.into_iter().map(|e| (e.layer, e.field)).collect()
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_place() {
        let restricted = LayerConfig {
            restrict: vec![
                RestrictionConfig {
                    days: Some(vec!["mon".into(), "funday".into()]),
                    from: "9:00".into(),
                    to: "24:00".into(),
                },
                RestrictionConfig {
                    days: Some(Vec::new()),
                    from: "09:00".into(),
                    to: "18:00".into(),
                },
            ],
            ..layer(&["carol"], "1d", "2026-12-07T09:00:00")
        };
        let config = ScheduleConfig {
            name: "db-primary".into(),
            time_zone: "Europe/Berlin".into(),
            layers: vec![
                layer(&[], "0d", "2026-12-07T09:00:00Z"),
                layer(&["alice", ""], "1d12h", "2026-13-07T09:00:00"),
                restricted,
                layer(&["bob"], "1w", "1850-01-01T00:00:00"),
            ],
            overrides: vec![
                OverrideConfig {
                    user: "bob".into(),
                    start: "2026-12-24T18:00:00+01:00".into(),
                    end: "2026-12-24T10:00:00+01:00".into(),
                },
                OverrideConfig {
                    user: "alice".into(),
                    start: "2026-12-25T00:00:00Z".into(),
                    end: "2026-12-27T00:00:00Z".into(),
                },
                OverrideConfig {
                    user: "bob".into(),
                    start: "2026-12-26T00:00:00Z".into(),
                    end: "2026-12-28T00:00:00Z".into(),
                },
                OverrideConfig {
                    user: "".into(),
                    start: "2026-12-29T00:00:00".into(),
                    end: "2026-12-30T00:00:00Z".into(),
                },
            ],
        };
        let want: Vec<(Option<usize>, String)> = [
            (Some(0), "users"),
            (Some(0), "shift"),
            (Some(0), "handoff"),
            (Some(1), "users[1]"),
            (Some(1), "shift"),
            (Some(1), "handoff"),
            (Some(2), "restrict[0].days[1]"),
            (Some(2), "restrict[0].from"),
            (Some(2), "restrict[0].to"),
            (Some(2), "restrict[1].days"),
            (Some(3), "handoff"),
            (None, "overrides[0].end"),
            (None, "overrides[3].user"),
            (None, "overrides[3].start"),
            (None, "overrides[2]"),
        ]
        .into_iter()
        .map(|(l, f)| (l, f.to_owned()))
        .collect();
        assert_eq!(places(&config), want);
        let errors = compile(&config, TimeZone::UTC).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(text[0].starts_with("schedule \"db-primary\": layers[0].users: "));
        assert!(text[2].contains("names an offset"), "{}", text[2]);
        assert!(text[8].contains("write \"00:00\""), "{}", text[8]);
        assert!(text[14].contains("overlaps overrides[1]"), "{}", text[14]);
    }

    #[test]
    fn a_schedule_needs_a_name_and_a_layer() {
        let config = ScheduleConfig {
            name: " ".into(),
            time_zone: "UTC".into(),
            layers: Vec::new(),
            overrides: Vec::new(),
        };
        let want = vec![(None, "name".to_owned()), (None, "layers".to_owned())];
        assert_eq!(places(&config), want);
    }

    #[test]
    fn touching_overrides_are_fine_and_users_are_listed_with_their_place() {
        let o = |user: &str, start: &str, end: &str| OverrideConfig {
            user: user.into(),
            start: start.into(),
            end: end.into(),
        };
        let config = ScheduleConfig {
            name: "s".into(),
            time_zone: "UTC".into(),
            layers: vec![layer(&["alice", "bob"], "1d", "2026-12-07")],
            overrides: vec![
                o("carol", "2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z"),
                o("alice", "2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z"),
            ],
        };
        let schedule = compile(&config, TimeZone::UTC).unwrap();
        assert_eq!(
            schedule.users().collect::<Vec<_>>(),
            ["alice", "bob", "carol"]
        );
        let refs: Vec<(Option<usize>, String, &str)> = config.user_references();
        let want = [
            (Some(0), "users[0]", "alice"),
            (Some(0), "users[1]", "bob"),
            (None, "overrides[0].user", "carol"),
            (None, "overrides[1].user", "alice"),
        ];
        assert_eq!(refs.len(), want.len());
        for ((l, f, u), (wl, wf, wu)) in refs.iter().zip(want) {
            assert_eq!((l, f.as_str(), *u), (&wl, wf, wu));
        }
    }
}
