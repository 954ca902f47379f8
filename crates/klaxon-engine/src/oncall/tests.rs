//! Schedules across daylight-saving changes in several zones, restrictions, layers, overrides and
//! the declared TOML form. Zones come from the system tzdb (`/usr/share/zoneinfo`).

#![allow(clippy::unwrap_used)]

use jiff::civil::{DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::*;

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| panic!("{name} from the system tzdb: {e}"))
}

fn at(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_millisecond()
}

/// The local date-time `t` shows in `tz`.
fn local(tz: &TimeZone, t: i64) -> DateTime {
    tz.to_datetime(Timestamp::from_millisecond(t).unwrap())
}

pub(super) fn layer(users: &[&str], shift: &str, handoff: &str) -> LayerConfig {
    LayerConfig {
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        shift: shift.into(),
        handoff: handoff.into(),
        restrict: Vec::new(),
    }
}

fn restricted(mut l: LayerConfig, days: Option<&[&str]>, from: &str, to: &str) -> LayerConfig {
    l.restrict.push(RestrictionConfig {
        days: days.map(|d| d.iter().map(|s| (*s).to_owned()).collect()),
        from: from.into(),
        to: to.into(),
    });
    l
}

fn cover(user: &str, start: &str, end: &str) -> OverrideConfig {
    OverrideConfig {
        user: user.into(),
        start: start.into(),
        end: end.into(),
    }
}

fn schedule(tz: &str, layers: Vec<LayerConfig>, overrides: Vec<OverrideConfig>) -> Schedule {
    let config = ScheduleConfig {
        name: "s".into(),
        time_zone: tz.into(),
        layers,
        overrides,
    };
    compile(&config, zone(tz)).unwrap()
}

/// Checks that `shifts` are sorted, disjoint, inside `[from, until)` and maximal; returns the
/// time nobody is on call.
fn gaps(shifts: &[Shift<'_>], from: i64, until: i64) -> i64 {
    let mut cursor = from;
    let mut gap = 0;
    for (i, s) in shifts.iter().enumerate() {
        assert!(s.start_ms < s.end_ms, "empty shift {s:?}");
        assert!(
            s.start_ms >= cursor,
            "shift {i} overlaps the one before: {s:?}"
        );
        if i > 0 && s.start_ms == cursor {
            let p = &shifts[i - 1];
            assert!(
                (p.user, p.source) != (s.user, s.source),
                "shifts {} and {i} continue each other: {p:?} {s:?}",
                i - 1
            );
        }
        gap += s.start_ms - cursor;
        cursor = s.end_ms;
    }
    assert!(cursor <= until, "the last shift ends after the range");
    gap + (until - cursor)
}

/// Shift lengths of the shifts that are not cut by the range, in minutes.
fn inner_lengths(shifts: &[Shift<'_>]) -> Vec<i64> {
    let n = shifts.len();
    shifts[1..n - 1]
        .iter()
        .map(|s| (s.end_ms - s.start_ms) / MINUTE)
        .collect()
}

#[test]
fn daily_handoffs_stay_at_local_time_across_daylight_saving_changes() {
    // (zone, lengths in minutes a year of daily shifts holds, with how many of each)
    let cases: &[(&str, &[(i64, usize)])] = &[
        ("Europe/Berlin", &[(1380, 1), (1500, 1)]),
        ("America/New_York", &[(1380, 1), (1500, 1)]),
        ("Australia/Sydney", &[(1380, 1), (1500, 1)]),
        ("Asia/Kolkata", &[]),
        ("Australia/Lord_Howe", &[(1410, 1), (1470, 1)]),
        ("Pacific/Chatham", &[(1380, 1), (1500, 1)]),
        ("America/Santiago", &[(1380, 1), (1500, 1)]),
    ];
    let (from, until) = (at("2026-01-10T00:00:00Z"), at("2027-01-10T00:00:00Z"));
    for &(name, odd) in cases {
        let tz = zone(name);
        let s = schedule(
            name,
            vec![layer(&["ann", "bo"], "1d", "2026-01-05T09:00:00")],
            Vec::new(),
        );
        let shifts = s.shifts(from, until);
        assert_eq!(
            gaps(&shifts, from, until),
            0,
            "{name}: someone is always on call"
        );
        assert_eq!(shifts.first().unwrap().start_ms, from, "{name}");
        assert_eq!(shifts.last().unwrap().end_ms, until, "{name}");
        for w in shifts.windows(2) {
            assert_eq!(w[0].end_ms, w[1].start_ms, "{name}: no gap, no overlap");
            assert_ne!(w[0].user, w[1].user, "{name}: the rotation alternates");
            let handoff = local(&tz, w[1].start_ms);
            assert_eq!(
                (handoff.hour(), handoff.minute(), handoff.second()),
                (9, 0, 0),
                "{name}: hand-off at {handoff}"
            );
        }
        let lengths = inner_lengths(&shifts);
        for &(minutes, count) in odd {
            let n = lengths.iter().filter(|&&l| l == minutes).count();
            assert_eq!(n, count, "{name}: shifts of {minutes} minutes");
        }
        let regular = lengths.len() - odd.iter().map(|(_, c)| c).sum::<usize>();
        assert_eq!(
            lengths.iter().filter(|&&l| l == 1440).count(),
            regular,
            "{name}: every other shift lasts 24 hours"
        );
    }
}

#[test]
fn a_handoff_in_a_gap_happens_when_the_gap_ends_and_in_a_fold_the_first_time() {
    let cases = [
        // Berlin skips 02:00–03:00 on 2026-03-29 and repeats it on 2026-10-25.
        (
            "Europe/Berlin",
            "02:30:00",
            "2026-03-28",
            [
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:30:00Z",
            ],
        ),
        (
            "Europe/Berlin",
            "02:30:00",
            "2026-10-24",
            [
                "2026-10-24T00:30:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:30:00Z",
            ],
        ),
        // New York skips 02:00–03:00 on 2026-03-08 and repeats 01:00–02:00 on 2026-11-01.
        (
            "America/New_York",
            "02:30:00",
            "2026-03-07",
            [
                "2026-03-07T07:30:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-09T06:30:00Z",
            ],
        ),
        (
            "America/New_York",
            "01:30:00",
            "2026-10-31",
            [
                "2026-10-31T05:30:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-02T06:30:00Z",
            ],
        ),
        // Lord Howe moves by half an hour: 02:00 becomes 02:30 on 2026-10-04.
        (
            "Australia/Lord_Howe",
            "02:15:00",
            "2026-10-03",
            [
                "2026-10-02T15:45:00Z",
                "2026-10-03T15:30:00Z",
                "2026-10-04T15:15:00Z",
            ],
        ),
    ];
    for (name, time, first, want) in cases {
        let s = schedule(
            name,
            vec![layer(
                &["ann", "bo", "cy"],
                "1d",
                &format!("{first}T{time}"),
            )],
            Vec::new(),
        );
        let want: Vec<i64> = want.iter().map(|w| at(w)).collect();
        let shifts = s.shifts(want[0], want[2] + HOUR);
        let starts: Vec<i64> = shifts.iter().map(|s| s.start_ms).collect();
        assert_eq!(starts, want, "{name} {first}");
        assert_eq!(
            shifts.iter().map(|s| s.user).collect::<Vec<_>>(),
            ["ann", "bo", "cy"]
        );
        assert_eq!(s.on_call_at(want[1] - 1), Some("ann"), "{name}");
        assert_eq!(s.on_call_at(want[1]), Some("bo"), "{name}");
    }
}

#[test]
fn hour_lengths_are_elapsed_time_and_their_local_time_moves() {
    let tz = zone("Europe/Berlin");
    let s = schedule(
        "Europe/Berlin",
        vec![layer(&["ann", "bo"], "12h", "2026-03-27T09:00:00")],
        Vec::new(),
    );
    let (from, until) = (at("2026-03-27T08:00:00Z"), at("2026-03-31T08:00:00Z"));
    let shifts = s.shifts(from, until);
    assert_eq!(shifts.len(), 8);
    assert!(shifts.iter().all(|s| s.end_ms - s.start_ms == 12 * HOUR));
    assert_eq!(
        local(&tz, shifts[3].start_ms).hour(),
        21,
        "before the change"
    );
    assert_eq!(local(&tz, shifts[4].start_ms).hour(), 10, "after it");
}

#[test]
fn weekly_handoffs_keep_their_weekday_and_time() {
    for name in ["America/New_York", "Australia/Sydney", "Europe/Berlin"] {
        let tz = zone(name);
        let s = schedule(
            name,
            vec![layer(&["ann", "bo", "cy"], "1w", "2025-12-29T09:00:00")],
            Vec::new(),
        );
        let (from, until) = (at("2026-01-05T00:00:00Z"), at("2027-01-05T00:00:00Z"));
        let shifts = s.shifts(from, until);
        assert_eq!(gaps(&shifts, from, until), 0);
        for s in &shifts[1..] {
            let t = local(&tz, s.start_ms);
            assert_eq!((t.weekday(), t.hour(), t.minute()), (Weekday::Monday, 9, 0));
        }
        let mut lengths = inner_lengths(&shifts);
        lengths.sort_unstable();
        lengths.dedup();
        assert_eq!(lengths, [167 * 60, 168 * 60, 169 * 60], "{name}");
    }
}

#[test]
fn restrictions_hide_the_rotation_outside_their_windows() {
    let tz = zone("Europe/Berlin");
    let weekdays: &[&str] = &["mon", "tue", "wed", "thu", "fri"];
    let hours = restricted(
        layer(&["ann", "bo", "cy"], "1d", "2026-11-30T00:00:00"),
        Some(weekdays),
        "09:00",
        "18:00",
    );
    let s = schedule("Europe/Berlin", vec![hours], Vec::new());
    // Monday 2026-11-30 to Monday 2026-12-07, local midnights (UTC+1).
    let (from, until) = (at("2026-11-29T23:00:00Z"), at("2026-12-06T23:00:00Z"));
    let shifts = s.shifts(from, until);
    let got: Vec<(String, &str)> = shifts
        .iter()
        .map(|s| {
            let (a, b) = (local(&tz, s.start_ms), local(&tz, s.end_ms));
            (
                format!("{:?} {}–{}", a.weekday(), a.time(), b.time()),
                s.user,
            )
        })
        .collect();
    // The rotation runs on under the restriction: Thursday is ann's day again.
    let want = [
        ("Monday 09:00:00–18:00:00", "ann"),
        ("Tuesday 09:00:00–18:00:00", "bo"),
        ("Wednesday 09:00:00–18:00:00", "cy"),
        ("Thursday 09:00:00–18:00:00", "ann"),
        ("Friday 09:00:00–18:00:00", "bo"),
    ];
    let want: Vec<(String, &str)> = want.iter().map(|(w, u)| ((*w).to_owned(), *u)).collect();
    assert_eq!(got, want);
    assert_eq!(gaps(&shifts, from, until), 7 * 24 * HOUR - 5 * 9 * HOUR);
    assert_eq!(
        s.on_call_at(at("2026-12-01T07:59:59Z")),
        None,
        "Tuesday 08:59:59"
    );
    assert_eq!(s.on_call_at(at("2026-12-01T08:00:00Z")), Some("bo"));
    assert_eq!(s.on_call_at(at("2026-12-01T16:59:59Z")), Some("bo"));
    assert_eq!(
        s.on_call_at(at("2026-12-01T17:00:00Z")),
        None,
        "end exclusive"
    );
    assert_eq!(s.on_call_at(at("2026-12-05T12:00:00Z")), None, "Saturday");
}

#[test]
fn an_overnight_window_runs_past_midnight_and_across_a_clock_change() {
    let tz = zone("Europe/Berlin");
    let nights = restricted(
        layer(&["ann"], "1w", "2026-03-02T00:00:00"),
        Some(&["sat"]),
        "22:00",
        "06:00",
    );
    let s = schedule("Europe/Berlin", vec![nights], Vec::new());
    let shifts = s.shifts(at("2026-03-20T00:00:00Z"), at("2026-04-06T00:00:00Z"));
    let spans: Vec<(String, i64)> = shifts
        .iter()
        .map(|s| {
            let start = local(&tz, s.start_ms);
            (start.to_string(), (s.end_ms - s.start_ms) / HOUR)
        })
        .collect();
    let want = [
        ("2026-03-21T22:00:00", 8),
        // Saturday night into the spring-forward Sunday: 22:00 to 06:00 is 7 hours.
        ("2026-03-28T22:00:00", 7),
        ("2026-04-04T22:00:00", 8),
    ];
    let want: Vec<(String, i64)> = want.iter().map(|(t, h)| ((*t).to_owned(), *h)).collect();
    assert_eq!(spans, want);
    // A window from a time to the same time lasts all day; two windows that touch are one.
    let always = restricted(
        layer(&["ann"], "1d", "2026-03-02T00:00:00"),
        None,
        "09:00",
        "09:00",
    );
    let s = schedule("Europe/Berlin", vec![always], Vec::new());
    let (from, until) = (at("2026-03-10T00:00:00Z"), at("2026-04-10T00:00:00Z"));
    assert_eq!(s.shifts(from, until).len(), 1);
}

#[test]
fn later_layers_hide_earlier_ones_and_overrides_hide_all() {
    let tz = zone("America/New_York");
    let base = layer(&["ann", "bo"], "1w", "2026-11-30T00:00:00");
    let office = restricted(
        layer(&["cy"], "1d", "2026-11-30T00:00:00"),
        Some(&["mon", "tue", "wed", "thu", "fri"]),
        "09:00",
        "17:00",
    );
    let s = schedule(
        "America/New_York",
        vec![base, office],
        vec![
            // Dee covers Tuesday 12:00 to Wednesday 12:00 local (UTC-5).
            cover("dee", "2026-12-01T17:00:00Z", "2026-12-02T17:00:00Z"),
            // Ann covers an hour of cy's office time right after.
            cover("ann", "2026-12-02T17:00:00Z", "2026-12-02T18:00:00Z"),
        ],
    );
    let (from, until) = (at("2026-11-30T05:00:00Z"), at("2026-12-03T05:00:00Z"));
    let got: Vec<String> = s
        .shifts(from, until)
        .iter()
        .map(|s| {
            let (a, b) = (local(&tz, s.start_ms), local(&tz, s.end_ms));
            format!("{a} {b} {} {:?}", s.user, s.source)
        })
        .collect();
    let want = [
        "2026-11-30T00:00:00 2026-11-30T09:00:00 ann Layer(0)",
        "2026-11-30T09:00:00 2026-11-30T17:00:00 cy Layer(1)",
        "2026-11-30T17:00:00 2026-12-01T09:00:00 ann Layer(0)",
        "2026-12-01T09:00:00 2026-12-01T12:00:00 cy Layer(1)",
        "2026-12-01T12:00:00 2026-12-02T12:00:00 dee Override(0)",
        "2026-12-02T12:00:00 2026-12-02T13:00:00 ann Override(1)",
        "2026-12-02T13:00:00 2026-12-02T17:00:00 cy Layer(1)",
        "2026-12-02T17:00:00 2026-12-03T00:00:00 ann Layer(0)",
    ];
    assert_eq!(got, want);
}

#[test]
fn nobody_is_on_call_before_the_first_handoff_unless_someone_covers() {
    let s = schedule(
        "UTC",
        vec![layer(&["ann", "bo"], "1d", "2026-12-07T09:00:00")],
        vec![cover("cy", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")],
    );
    assert_eq!(s.on_call_at(at("2026-12-07T08:59:59.999Z")), None);
    assert_eq!(s.on_call_at(at("2026-12-07T09:00:00Z")), Some("ann"));
    assert_eq!(s.on_call_at(at("2026-12-01T12:00:00Z")), Some("cy"));
    let (from, until) = (at("2026-11-30T00:00:00Z"), at("2026-12-08T00:00:00Z"));
    let shifts = s.shifts(from, until);
    assert_eq!(shifts.len(), 2);
    assert_eq!(
        gaps(&shifts, from, until),
        8 * 24 * HOUR - 24 * HOUR - 15 * HOUR
    );
    assert!(
        s.shifts(until, from).is_empty(),
        "an inverted range is empty"
    );
    assert_eq!(s.on_call_at(i64::MAX), None, "out of the supported years");
    assert_eq!(s.on_call_at(i64::MIN), None);
}

#[test]
fn years_after_the_first_handoff_the_rotation_still_counts_days() {
    let s = schedule(
        "Europe/Berlin",
        vec![layer(&["ann", "bo", "cy"], "1d", "2026-01-01T09:00:00")],
        Vec::new(),
    );
    let days = jiff::civil::date(2026, 1, 1)
        .until(jiff::civil::date(2036, 6, 15))
        .unwrap()
        .get_days();
    let user = |k: i32| ["ann", "bo", "cy"][usize::try_from(k.rem_euclid(3)).unwrap()];
    // 2036-06-15 12:00 CEST: that day's shift; 08:00: the day before's.
    assert_eq!(s.on_call_at(at("2036-06-15T10:00:00Z")), Some(user(days)));
    assert_eq!(
        s.on_call_at(at("2036-06-15T06:00:00Z")),
        Some(user(days - 1))
    );
}

#[test]
fn the_declared_toml_form_compiles() {
    let text = r#"
        name = "db-primary"
        time_zone = "Europe/Berlin"
        [[layers]]
        users = ["alice", "bob"]            # in rotation order
        shift = "1w"                        # shift length
        handoff = "2026-12-07T09:00:00"     # first hand-off, local time of the schedule
        [[layers]]
        users = ["carol"]
        shift = "1d"
        handoff = "2026-12-07T09:00:00"
        restrict = [{ days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "18:00" }]
        [[overrides]]
        user = "dave"
        start = "2026-12-24T18:00:00+01:00"
        end = "2026-12-27T09:00:00+01:00"
    "#;
    let config: ScheduleConfig = toml::from_str(text).unwrap();
    let s = compile(&config, zone(&config.time_zone)).unwrap();
    assert_eq!(s.on_call_at(at("2026-12-08T12:00:00Z")), Some("carol"));
    assert_eq!(s.on_call_at(at("2026-12-08T20:00:00Z")), Some("alice"));
    assert_eq!(s.on_call_at(at("2026-12-15T20:00:00Z")), Some("bob"));
    assert_eq!(s.on_call_at(at("2026-12-25T12:00:00Z")), Some("dave"));
    let typo = text.replace("shift = \"1d\"", "shift = \"1d\"\nhandof = \"x\"");
    let err = toml::from_str::<ScheduleConfig>(&typo).unwrap_err();
    assert!(err.to_string().contains("unknown field `handof`"), "{err}");
}
