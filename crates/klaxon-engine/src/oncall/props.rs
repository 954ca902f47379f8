//! Random schedules (layers, shift lengths, hand-offs near clock changes, restrictions,
//! overrides, zones from a list) against a brute-force reference that decides, minute by minute,
//! who is on call using jiff's own civil arithmetic and nothing from the code under test.

#![allow(clippy::unwrap_used)]

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Span, Timestamp};
use proptest::prelude::*;

use super::*;

const MINUTE: i64 = 60_000;

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "America/St_Johns",
    "UTC",
];
const NAMES: [&str; 5] = ["ann", "bo", "cy", "dee", "eve"];
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone)]
enum Len {
    Days(i64),
    Minutes(i64),
}

/// A local time of day.
#[derive(Debug, Clone, Copy)]
enum Local {
    /// Minutes after midnight.
    At(i64),
    /// Minutes from the wall-clock time at which the range's clock change happens, so that gaps
    /// and folds are hit often.
    NearChange(i64),
    /// The same as the window's start (a window of 24 hours).
    Same,
}

#[derive(Debug, Clone)]
struct Window {
    /// Monday = bit 0; `None`: every day.
    days: Option<u8>,
    from: Local,
    to: Local,
}

#[derive(Debug, Clone)]
struct GenLayer {
    users: Vec<usize>,
    len: Len,
    /// Days from the local date of the clock change to the first hand-off's date.
    handoff_day: i64,
    handoff_time: Local,
    windows: Vec<Window>,
}

#[derive(Debug, Clone)]
struct Case {
    zone: usize,
    /// The range holds this clock change of the year (or a random instant of it).
    transition: Option<usize>,
    year: i16,
    /// Minutes the range starts before that instant.
    shift: i64,
    minutes: i64,
    layers: Vec<GenLayer>,
    /// (minutes after the previous one ended, minutes long, user)
    overrides: Vec<(i64, i64, usize)>,
}

/// A local time of day, often near the time the clocks change.
fn local_time() -> impl Strategy<Value = Local> {
    prop_oneof![
        1 => (0i64..1440).prop_map(Local::At),
        3 => (-60i64..=60).prop_map(Local::NearChange),
    ]
}

fn layer() -> impl Strategy<Value = GenLayer> {
    let len = prop_oneof![
        2 => Just(Len::Days(1)),
        1 => Just(Len::Days(7)),
        2 => (1i64..=14).prop_map(Len::Days),
        2 => (15i64..=3000).prop_map(Len::Minutes),
        1 => Just(Len::Minutes(720)),
    ];
    // Often on the day of the clock change, or whole weeks before it.
    let handoff_day = prop_oneof![2 => -30i64..=2, 1 => Just(0), 1 => Just(-7), 1 => Just(-14)];
    let window = (
        prop::option::of(1u8..=127),
        local_time(),
        prop_oneof![4 => local_time(), 1 => Just(Local::Same)],
    )
        .prop_map(|(days, from, to)| Window { days, from, to });
    let windows = prop_oneof![Just(Vec::new()), prop::collection::vec(window, 1..=2)];
    (
        prop::collection::vec(0usize..NAMES.len(), 1..=4),
        len,
        handoff_day,
        local_time(),
        windows,
    )
        .prop_map(
            |(users, len, handoff_day, handoff_time, windows)| GenLayer {
                users,
                len,
                handoff_day,
                handoff_time,
                windows,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..ZONES.len(),
        prop_oneof![3 => (0usize..4).prop_map(Some), 1 => Just(None)],
        2020i16..2036,
        0i64..1440,
        60i64..=(3 * 1440),
        prop::collection::vec(layer(), 1..=3),
        prop::collection::vec((0i64..2000, 1i64..1500, 0usize..NAMES.len()), 0..=3),
    )
        .prop_map(
            |(zone, transition, year, shift, minutes, layers, overrides)| Case {
                zone,
                transition,
                year,
                shift,
                minutes,
                layers,
                overrides,
            },
        )
}

fn ms(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

/// The reference's own resolution of a local date-time: the instant it happens at; in a gap the
/// first minute whose local time is not before it, found by stepping; in a fold the earlier.
fn resolve(tz: &TimeZone, dt: DateTime) -> i64 {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => ms(offset.to_timestamp(dt).unwrap()),
        AmbiguousOffset::Fold { before, .. } => ms(before.to_timestamp(dt).unwrap()),
        AmbiguousOffset::Gap { after, .. } => {
            let mut t = ms(after.to_timestamp(dt).unwrap());
            while tz.to_datetime(ts(t)) < dt {
                t += MINUTE;
            }
            t
        }
    }
}

fn at_minute(date: Date, minute: i64) -> DateTime {
    let m = i8::try_from(minute % 60).unwrap();
    date.at(i8::try_from(minute / 60).unwrap(), m, 0, 0)
}

/// What the reference knows of one layer: every hand-off up to the range's end and every
/// restriction window around the range, as instants.
struct RefLayer {
    users: Vec<usize>,
    handoffs: Vec<i64>,
    windows: Option<Vec<(i64, i64)>>,
}

struct Reference {
    layers: Vec<RefLayer>,
    overrides: Vec<(i64, i64, usize)>,
}

impl Reference {
    fn who(&self, t: i64) -> Option<(usize, Source)> {
        if let Some(i) = self.overrides.iter().position(|o| o.0 <= t && t < o.1) {
            return Some((self.overrides[i].2, Source::Override(i)));
        }
        for (i, l) in self.layers.iter().enumerate().rev() {
            let started = l.handoffs.partition_point(|&h| h <= t);
            if started == 0 {
                continue;
            }
            let inside = (l.windows.as_ref()).is_none_or(|w| w.iter().any(|w| w.0 <= t && t < w.1));
            if inside {
                return Some((l.users[(started - 1) % l.users.len()], Source::Layer(i)));
            }
        }
        None
    }
}

struct Built {
    config: ScheduleConfig,
    reference: Reference,
    from: i64,
    until: i64,
}

fn build(c: &Case) -> Built {
    let tz = TimeZone::get(ZONES[c.zone]).unwrap();
    let year_start = ms(tz
        .to_zoned(Date::new(c.year, 1, 1).unwrap().at(12, 0, 0, 0))
        .unwrap()
        .timestamp());
    let change = c
        .transition
        .and_then(|i| tz.following(ts(year_start)).nth(i))
        .map_or(year_start + c.shift * 20 * MINUTE, |tr| ms(tr.timestamp()));
    let change = change - change.rem_euclid(MINUTE);
    let from = change - c.shift * MINUTE;
    let until = from + c.minutes * MINUTE;
    let first_date = tz.to_datetime(ts(from)).date();
    let last_date = tz.to_datetime(ts(until)).date();
    // The wall-clock time just before the change (24:00 for a change at midnight).
    let before = tz.to_datetime(ts(change - MINUTE));
    let change_date = before.date();
    let change_minute = i64::from(before.hour()) * 60 + i64::from(before.minute()) + 1;
    let minute = |l: Local, same: i64| match l {
        Local::At(m) => m,
        Local::NearChange(d) => (change_minute + d).rem_euclid(1440),
        Local::Same => same,
    };

    let mut layers = Vec::new();
    let mut ref_layers = Vec::new();
    for l in &c.layers {
        let handoff = at_minute(
            change_date
                .checked_add(Span::new().days(l.handoff_day))
                .unwrap(),
            minute(l.handoff_time, 0),
        );
        let windows: Vec<(Option<u8>, i64, i64)> = (l.windows.iter())
            .map(|w| {
                let from = minute(w.from, 0);
                (w.days, from, minute(w.to, from))
            })
            .collect();
        let mut handoffs = Vec::new();
        for k in 0.. {
            let h = match l.len {
                Len::Days(d) => resolve(&tz, handoff.checked_add(Span::new().days(k * d)).unwrap()),
                Len::Minutes(m) => resolve(&tz, handoff) + k * m * MINUTE,
            };
            if h > until {
                break;
            }
            handoffs.push(h);
        }
        let ref_windows = (!windows.is_empty()).then(|| {
            let mut out = Vec::new();
            let mut d = first_date.checked_sub(Span::new().days(2)).unwrap();
            while d <= last_date.checked_add(Span::new().days(1)).unwrap() {
                let weekday = d.weekday().to_monday_zero_offset();
                for &(days, from, to) in &windows {
                    if days.is_some_and(|bits| bits & (1 << weekday) == 0) {
                        continue;
                    }
                    let end_date = if to <= from { d.tomorrow().unwrap() } else { d };
                    out.push((
                        resolve(&tz, at_minute(d, from)),
                        resolve(&tz, at_minute(end_date, to)),
                    ));
                }
                d = d.tomorrow().unwrap();
            }
            out
        });
        ref_layers.push(RefLayer {
            users: l.users.clone(),
            handoffs,
            windows: ref_windows,
        });
        let hhmm = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
        layers.push(LayerConfig {
            users: l.users.iter().map(|&u| NAMES[u].to_owned()).collect(),
            shift: match l.len {
                Len::Days(d) => format!("{d}d"),
                Len::Minutes(m) => format!("{}h{}m", m / 60, m % 60),
            },
            handoff: handoff.to_string(),
            restrict: (windows.iter())
                .map(|&(days, from, to)| RestrictionConfig {
                    days: days.map(|bits| {
                        (0..7)
                            .filter(|i| bits & (1 << i) != 0)
                            .map(|i| DAY_NAMES[i].to_owned())
                            .collect()
                    }),
                    from: hhmm(from),
                    to: hhmm(to),
                })
                .collect(),
        });
    }

    let mut overrides = Vec::new();
    let mut ref_overrides = Vec::new();
    let mut cursor = from - 500 * MINUTE;
    for &(gap, len, user) in &c.overrides {
        let (start, end) = (cursor + gap * MINUTE, cursor + (gap + len) * MINUTE);
        cursor = end;
        ref_overrides.push((start, end, user));
        overrides.push(OverrideConfig {
            user: NAMES[user].to_owned(),
            start: ts(start).to_string(),
            end: ts(end).to_string(),
        });
    }
    Built {
        config: ScheduleConfig {
            name: "random".into(),
            time_zone: ZONES[c.zone].into(),
            layers,
            overrides,
        },
        reference: Reference {
            layers: ref_layers,
            overrides: ref_overrides,
        },
        from,
        until,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every minute of a random range: `on_call_at` and `shifts` say what the reference says.
    #[test]
    fn schedules_agree_with_a_minute_by_minute_reference(c in case()) {
        let b = build(&c);
        let tz = TimeZone::get(&b.config.time_zone).unwrap();
        let schedule = compile(&b.config, tz).unwrap();
        // The reference, run-length encoded into (start, end, user, source).
        let mut want: Vec<(i64, i64, &str, Source)> = Vec::new();
        let mut t = b.from;
        while t < b.until {
            let expected = b.reference.who(t).map(|(u, src)| (NAMES[u], src));
            let got = schedule.on_call_at(t);
            prop_assert_eq!(got, expected.map(|e| e.0), "at {}", ts(t));
            if let Some((user, source)) = expected {
                match want.last_mut() {
                    Some(last) if last.1 == t && last.2 == user && last.3 == source => {
                        last.1 = t + MINUTE;
                    }
                    _ => want.push((t, t + MINUTE, user, source)),
                }
            }
            t += MINUTE;
        }
        let got: Vec<(i64, i64, &str, Source)> = schedule
            .shifts(b.from, b.until)
            .iter()
            .map(|s| (s.start_ms, s.end_ms, s.user, s.source))
            .collect();
        prop_assert_eq!(got, want);
        // A range cut at any minute gives the same shifts, cut there.
        let mid = b.from + (b.until - b.from) / 2 / MINUTE * MINUTE;
        let mut halves = schedule.shifts(b.from, mid);
        halves.extend(schedule.shifts(mid, b.until));
        let joined: usize = halves
            .windows(2)
            .filter(|w| w[0].end_ms == mid && w[1].start_ms == mid
                && (w[0].user, w[0].source) == (w[1].user, w[1].source))
            .count();
        prop_assert_eq!(halves.len() - joined, schedule.shifts(b.from, b.until).len());
    }
}
