//! Time intervals with Alertmanager's meaning (its `timeinterval` package): times of day,
//! weekdays, days of the month (negative ones count from the month's end), months and years, in
//! a time zone. An interval contains an instant when every field it sets holds for that
//! instant's local time; a field left out holds always, a field set to an empty list never
//! (as in Alertmanager). Routes name lists of them as `mute_time_intervals` and
//! `active_time_intervals`.
//!
//! Parsing checks what Alertmanager checks, with its messages' sense. The time zone is a
//! value the caller loads ([`jiff::tz::TimeZone`]); this module reads no clock and no file.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;

/// One entry of a `time_intervals` list as written (Alertmanager's keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    pub times: Option<Vec<TimeRangeSpec>>,
    pub weekdays: Option<Vec<String>>,
    pub days_of_month: Option<Vec<String>>,
    pub months: Option<Vec<String>>,
    pub years: Option<Vec<String>>,
    /// An IANA zone name, `UTC` or `Local`; UTC when left out.
    pub location: Option<String>,
}

/// `start_time` and `end_time`, `HH:MM`, end exclusive, `24:00` the end of the day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeSpec {
    pub start_time: String,
    pub end_time: String,
}

/// A compiled time interval.
#[derive(Debug, Clone)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`.
    times: Option<Vec<(u32, u32)>>,
    /// Sunday = 0 … Saturday = 6, inclusive.
    weekdays: Option<Vec<(u8, u8)>>,
    /// 1 … 31, or -1 (the last day) … -31, inclusive.
    days_of_month: Option<Vec<(i32, i32)>>,
    /// January = 1 … December = 12, inclusive.
    months: Option<Vec<(u8, u8)>>,
    years: Option<Vec<(i32, i32)>>,
    tz: TimeZone,
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `a:b` or `a` (lowercased) as an inclusive range of what `member` reads.
fn range(s: &str, member: impl Fn(&str) -> Option<i32>) -> Result<(i32, i32), String> {
    let s = s.to_ascii_lowercase();
    let parts: Vec<&str> = s.split(':').collect();
    let read = |p: &str| member(p).ok_or_else(|| format!("`{p}` is not valid here"));
    match parts.as_slice() {
        [one] => {
            let v = read(one)?;
            Ok((v, v))
        }
        [a, b] => Ok((read(a)?, read(b)?)),
        _ => Err(format!("`{s}`: a range is `start:end`")),
    }
}

/// `HH:MM` as minutes of the day (`24:00` is 1440), as Alertmanager reads it.
fn minute_of_day(s: &str) -> Result<u32, String> {
    let bytes = s.as_bytes();
    let ok = s == "24:00"
        || (bytes.len() == 5
            && bytes[2] == b':'
            && matches!(
                (bytes[0], bytes[1]),
                (b'0' | b'1', b'0'..=b'9') | (b'2', b'0'..=b'3')
            )
            && matches!(bytes[3], b'0'..=b'5')
            && bytes[4].is_ascii_digit());
    if !ok {
        return Err(format!(
            "`{s}` is not a time of day (HH:MM, 00:00 to 24:00)"
        ));
    }
    let h: u32 = s[..2].parse().map_err(|_| format!("`{s}`: bad hour"))?;
    let m: u32 = s[3..].parse().map_err(|_| format!("`{s}`: bad minute"))?;
    Ok(h * 60 + m)
}

fn list<T>(
    values: &Option<Vec<String>>,
    key: &str,
    errors: &mut Vec<String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<Vec<T>> {
    values.as_ref().map(|vs| {
        vs.iter()
            .enumerate()
            .filter_map(|(i, v)| {
                parse(v)
                    .map_err(|e| errors.push(format!("{key}[{i}]: {e}")))
                    .ok()
            })
            .collect()
    })
}

impl TimeInterval {
    /// Compiles `spec`, with `load_tz` to read `location`; every error, each naming its key.
    pub fn compile(
        spec: &IntervalSpec,
        load_tz: impl Fn(&str) -> Result<TimeZone, String>,
    ) -> Result<TimeInterval, Vec<String>> {
        let mut errors = Vec::new();
        let times = spec.times.as_ref().map(|ts| {
            ts.iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    let r = minute_of_day(&t.start_time).and_then(|a| {
                        let b = minute_of_day(&t.end_time)?;
                        if a >= b {
                            return Err(
                                "start time cannot be equal or greater than end time".to_owned()
                            );
                        }
                        Ok((a, b))
                    });
                    r.map_err(|e| errors.push(format!("times[{i}]: {e}"))).ok()
                })
                .collect()
        });
        let weekdays = list(&spec.weekdays, "weekdays", &mut errors, |s| {
            let (a, b) = range(s, |p| {
                WEEKDAYS
                    .iter()
                    .position(|d| *d == p)
                    .and_then(|i| i32::try_from(i).ok())
            })?;
            if a > b {
                return Err(format!("`{s}`: start day cannot be after end day"));
            }
            Ok((u8::try_from(a).unwrap_or(0), u8::try_from(b).unwrap_or(6)))
        });
        let days_of_month = list(&spec.days_of_month, "days_of_month", &mut errors, |s| {
            let (a, b) = range(s, |p| p.parse().ok())?;
            for d in [a, b] {
                if d == 0 || !(-31..=31).contains(&d) {
                    return Err(format!("{d} is not a valid day of the month"));
                }
            }
            if a < 0 && b > 0 {
                return Err(format!(
                    "`{s}`: end day must be negative if start day is negative"
                ));
            }
            // As Alertmanager: reject what is wrong in every month (28 days at least).
            let check = |d: i32| if d < 0 { 28 + d } else { d };
            if check(a) > check(b) {
                return Err(format!("`{s}`: end day {b} is always before start day {a}"));
            }
            Ok((a, b))
        });
        let months = list(&spec.months, "months", &mut errors, |s| {
            let (a, b) = range(s, |p| {
                MONTHS
                    .iter()
                    .position(|m| *m == p)
                    .and_then(|i| i32::try_from(i + 1).ok())
                    .or_else(|| p.parse().ok())
            })?;
            for m in [a, b] {
                if !(1..=12).contains(&m) {
                    return Err(format!("{m} is not a valid month"));
                }
            }
            if a > b {
                return Err(format!("`{s}`: end month is before start month"));
            }
            Ok((u8::try_from(a).unwrap_or(1), u8::try_from(b).unwrap_or(12)))
        });
        let years = list(&spec.years, "years", &mut errors, |s| {
            let (a, b) = range(s, |p| p.parse().ok())?;
            if a > b {
                return Err(format!("`{s}`: end year {b} is before start year {a}"));
            }
            Ok((a, b))
        });
        let tz = match &spec.location {
            None => TimeZone::UTC,
            Some(name) => load_tz(name).unwrap_or_else(|e| {
                errors.push(format!("location: {e}"));
                TimeZone::UTC
            }),
        };
        if errors.is_empty() {
            Ok(TimeInterval {
                times,
                weekdays,
                days_of_month,
                months,
                years,
                tz,
            })
        } else {
            Err(errors)
        }
    }

    /// Whether the interval contains `now` (epoch ms), as Alertmanager's `ContainsTime`.
    pub fn contains(&self, now: i64) -> bool {
        let Ok(ts) = Timestamp::from_millisecond(now) else {
            return false;
        };
        let local = ts.to_zoned(self.tz.clone());
        let held = |ranges: &Option<Vec<(i32, i32)>>, v: i32| {
            ranges
                .as_ref()
                .is_none_or(|rs| rs.iter().any(|&(a, b)| a <= v && v <= b))
        };
        let minute =
            u32::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        if let Some(ts) = &self.times {
            if !ts.iter().any(|&(a, b)| a <= minute && minute < b) {
                return false;
            }
        }
        if let Some(ds) = &self.days_of_month {
            let len = i32::from(local.date().days_in_month());
            let day = i32::from(local.day());
            let inside = ds.iter().any(|&(a, b)| {
                let begin = if a < 0 { len + a + 1 } else { a };
                let end = if b < 0 { len + b + 1 } else { b };
                // A start past this month's end holds on no day of it; an end past it is
                // the month's last day.
                begin <= len && begin.clamp(-len, len) <= day && day <= end.clamp(-len, len)
            });
            if !inside {
                return false;
            }
        }
        let widen = |r: &Option<Vec<(u8, u8)>>| {
            r.as_ref().map(|v| {
                v.iter()
                    .map(|&(a, b)| (i32::from(a), i32::from(b)))
                    .collect::<Vec<_>>()
            })
        };
        let weekday = i32::from(local.weekday().to_sunday_zero_offset());
        held(&widen(&self.months), i32::from(local.month()))
            && held(&widen(&self.weekdays), weekday)
            && held(&self.years, i32::from(local.year()))
    }
}

/// Whether any of `intervals` contains `now`.
pub fn any_contains(intervals: &[TimeInterval], now: i64) -> bool {
    intervals.iter().any(|i| i.contains(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> Result<TimeZone, String> {
        if name == "UTC" {
            return Ok(TimeZone::UTC);
        }
        TimeZone::get(name).map_err(|e| e.to_string())
    }

    fn interval(yaml_like: IntervalSpec) -> TimeInterval {
        TimeInterval::compile(&yaml_like, tz).expect("compiles")
    }

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| (*s).to_owned()).collect())
    }

    /// Epoch ms of a UTC civil time.
    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>()
            .expect("a timestamp")
            .as_millisecond()
    }

    #[test]
    fn times_are_half_open_minutes_of_the_day() {
        let i = interval(IntervalSpec {
            times: Some(vec![
                TimeRangeSpec {
                    start_time: "09:00".into(),
                    end_time: "17:30".into(),
                },
                TimeRangeSpec {
                    start_time: "22:00".into(),
                    end_time: "24:00".into(),
                },
            ]),
            ..IntervalSpec::default()
        });
        assert!(!i.contains(at("2024-03-04T08:59:59Z")));
        assert!(i.contains(at("2024-03-04T09:00:00Z")));
        assert!(i.contains(at("2024-03-04T17:29:59Z")));
        assert!(!i.contains(at("2024-03-04T17:30:00Z")));
        assert!(i.contains(at("2024-03-04T23:59:59Z")));
        assert!(!i.contains(at("2024-03-05T00:00:00Z")));
        for (a, b) in [
            ("10:00", "09:00"),
            ("10:00", "10:00"),
            ("25:00", "26:00"),
            ("9:00", "10:00"),
            ("10:60", "11:00"),
        ] {
            let spec = IntervalSpec {
                times: Some(vec![TimeRangeSpec {
                    start_time: a.into(),
                    end_time: b.into(),
                }]),
                ..IntervalSpec::default()
            };
            assert!(TimeInterval::compile(&spec, tz).is_err(), "{a}-{b}");
        }
    }

    #[test]
    fn weekdays_are_named_ranges_from_sunday() {
        let i = interval(IntervalSpec {
            weekdays: strings(&["Monday:wednesday", "saturday"]),
            ..IntervalSpec::default()
        });
        // 2024-03-03 is a Sunday.
        let days: Vec<bool> = (3..=9)
            .map(|d| i.contains(at(&format!("2024-03-{d:02}T12:00:00Z"))))
            .collect();
        assert_eq!(days, [false, true, true, true, false, false, true]);
        for bad in ["friday:monday", "funday", "monday:tuesday:friday"] {
            let spec = IntervalSpec {
                weekdays: strings(&[bad]),
                ..IntervalSpec::default()
            };
            assert!(TimeInterval::compile(&spec, tz).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_of_month_count_back_from_the_end_when_negative() {
        let last_two = interval(IntervalSpec {
            days_of_month: strings(&["-2:-1"]),
            ..IntervalSpec::default()
        });
        assert!(last_two.contains(at("2024-02-28T00:00:00Z")));
        assert!(last_two.contains(at("2024-02-29T00:00:00Z")));
        assert!(!last_two.contains(at("2024-02-27T23:59:59Z")));
        assert!(last_two.contains(at("2023-04-29T00:00:00Z")));
        assert!(!last_two.contains(at("2023-04-28T00:00:00Z")));
        // A range that starts past a short month's end holds on none of its days; one that
        // ends past it runs to the month's last day.
        let late = interval(IntervalSpec {
            days_of_month: strings(&["30:31"]),
            ..IntervalSpec::default()
        });
        assert!(!late.contains(at("2023-02-28T00:00:00Z")));
        assert!(late.contains(at("2023-04-30T00:00:00Z")));
        let tail = interval(IntervalSpec {
            days_of_month: strings(&["25:31"]),
            ..IntervalSpec::default()
        });
        assert!(tail.contains(at("2023-02-28T00:00:00Z")));
        assert!(!tail.contains(at("2023-03-01T00:00:00Z")));
        for bad in ["0", "32", "-3:2", "10:5", "-1:-5"] {
            let spec = IntervalSpec {
                days_of_month: strings(&[bad]),
                ..IntervalSpec::default()
            };
            assert!(TimeInterval::compile(&spec, tz).is_err(), "{bad}");
        }
    }

    #[test]
    fn months_by_name_or_number() {
        let i = interval(IntervalSpec {
            months: strings(&["december", "1:2", "May:june"]),
            ..IntervalSpec::default()
        });
        let months: Vec<bool> = (1..=12)
            .map(|m| i.contains(at(&format!("2024-{m:02}-15T12:00:00Z"))))
            .collect();
        assert_eq!(
            months,
            [true, true, false, false, true, true, false, false, false, false, false, true]
        );
        for bad in ["march:january", "13", "smarch"] {
            let spec = IntervalSpec {
                months: strings(&[bad]),
                ..IntervalSpec::default()
            };
            assert!(TimeInterval::compile(&spec, tz).is_err(), "{bad}");
        }
    }

    #[test]
    fn years_are_inclusive_ranges() {
        let i = interval(IntervalSpec {
            years: strings(&["2020:2022", "2025"]),
            ..IntervalSpec::default()
        });
        let years: Vec<bool> = (2019..=2026)
            .map(|y| i.contains(at(&format!("{y}-06-01T00:00:00Z"))))
            .collect();
        assert_eq!(years, [false, true, true, true, false, false, true, false]);
        let spec = IntervalSpec {
            years: strings(&["2030:2020"]),
            ..IntervalSpec::default()
        };
        assert!(TimeInterval::compile(&spec, tz).is_err());
    }

    #[test]
    fn every_field_is_read_in_the_location() {
        // 22:00 to 24:00 on weekdays in Berlin: 21:00 UTC in winter, 20:00 UTC in summer, and
        // Friday night 23:30 in Berlin is Friday 22:30 UTC, but Saturday 00:30 Berlin is not.
        let i = interval(IntervalSpec {
            times: Some(vec![TimeRangeSpec {
                start_time: "22:00".into(),
                end_time: "24:00".into(),
            }]),
            weekdays: strings(&["monday:friday"]),
            location: Some("Europe/Berlin".into()),
            ..IntervalSpec::default()
        });
        assert!(i.contains(at("2024-01-15T21:00:00Z")));
        assert!(!i.contains(at("2024-01-15T20:59:00Z")));
        assert!(i.contains(at("2024-07-15T20:00:00Z")));
        assert!(!i.contains(at("2024-07-15T22:00:00Z")));
        assert!(i.contains(at("2024-01-19T22:30:00Z")));
        assert!(!i.contains(at("2024-01-19T23:30:00Z")));
        let spec = IntervalSpec {
            location: Some("Mars/Olympus".into()),
            ..IntervalSpec::default()
        };
        assert!(TimeInterval::compile(&spec, tz).is_err());
    }

    #[test]
    fn a_field_left_out_always_holds_and_an_empty_one_never() {
        let always = interval(IntervalSpec::default());
        assert!(always.contains(at("2024-01-01T00:00:00Z")));
        let never = interval(IntervalSpec {
            weekdays: Some(Vec::new()),
            ..IntervalSpec::default()
        });
        assert!(!never.contains(at("2024-01-01T00:00:00Z")));
        assert!(any_contains(&[never.clone(), always], 0));
        assert!(!any_contains(&[never], 0));
    }
}
