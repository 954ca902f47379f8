//! iCalendar (RFC 5545) feeds of on-call shifts, per schedule or per user: one event per stretch
//! of a user on call, times in UTC, a UID that stays the same for the same shift from one request
//! to the next. Produces text only; the caller serves it as `text/calendar` and passes the
//! DTSTAMP, since nothing here reads a clock.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::schedule::Shift;

/// RFC 5545 lines are at most 75 octets, CRLF excluded; longer ones fold.
const LINE_OCTETS: usize = 75;

/// A VCALENDAR being written.
#[derive(Debug, Clone)]
pub struct Calendar {
    out: String,
    stamp: String,
}

/// `20261207T090000Z`: the UTC date-time form, to the second.
fn utc(ms: i64) -> String {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    let dt = TimeZone::UTC.to_datetime(ts);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// TEXT value escaping: backslash, semicolon, comma and line breaks; other control characters
/// are not allowed in TEXT and are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | ';' | ',' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// FNV-1a, 64 bits: fixed forever, so UIDs survive upgrades.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        let sep: &[u8] = if i == 0 { b"" } else { b"\0" };
        for &b in sep.iter().chain(part.as_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Calendar {
    /// Starts a calendar called `name`; `dtstamp_ms` is when it is produced.
    pub fn new(name: &str, dtstamp_ms: i64) -> Calendar {
        let mut c = Calendar {
            out: String::new(),
            stamp: utc(dtstamp_ms),
        };
        for line in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//klaxon//on-call//EN",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
        ] {
            c.line(line);
        }
        c.line(&format!("X-WR-CALNAME:{}", escape(name)));
        c
    }

    /// Writes one content line, folded so that no line exceeds 75 octets (a fold never splits
    /// a UTF-8 character).
    fn line(&mut self, content: &str) {
        let mut width = 0;
        for c in content.chars() {
            let n = c.len_utf8();
            if width + n > LINE_OCTETS {
                self.out.push_str("\r\n ");
                width = 1;
            }
            self.out.push(c);
            width += n;
        }
        self.out.push_str("\r\n");
    }

    /// Adds the shifts of schedule `schedule` (only `user`'s when given), one event per stretch
    /// of a user on call: shifts of one user that touch, from any layer or override, make one
    /// event. The UID depends on the schedule, the user and the start, so the same shift keeps
    /// its UID while its end may move (a range that cuts it, an override added later).
    pub fn add(&mut self, schedule: &str, shifts: &[Shift<'_>], user: Option<&str>) {
        let mut stretches: Vec<(&str, i64, i64)> = Vec::new();
        for s in shifts.iter().filter(|s| user.is_none_or(|u| s.user == u)) {
            match stretches.last_mut() {
                Some(last) if last.0 == s.user && last.2 == s.start_ms => last.2 = s.end_ms,
                _ => stretches.push((s.user, s.start_ms, s.end_ms)),
            }
        }
        for (who, start, end) in stretches {
            self.line("BEGIN:VEVENT");
            self.line(&format!(
                "UID:{:016x}-{start}@klaxon",
                fnv(&[schedule, who])
            ));
            let stamp = format!("DTSTAMP:{}", self.stamp);
            self.line(&stamp);
            self.line(&format!("DTSTART:{}", utc(start)));
            self.line(&format!("DTEND:{}", utc(end)));
            self.line(&format!(
                "SUMMARY:{}",
                escape(&format!("On call: {who} ({schedule})"))
            ));
            self.line("TRANSP:TRANSPARENT");
            self.line("END:VEVENT");
        }
    }

    pub fn finish(mut self) -> String {
        self.line("END:VCALENDAR");
        self.out
    }
}

/// The feed of one schedule's `shifts`: everyone's, or `filter_user`'s only. `dtstamp_ms` is
/// when the feed is produced (the caller's clock).
pub fn ical(
    schedule_name: &str,
    shifts: &[Shift<'_>],
    filter_user: Option<&str>,
    dtstamp_ms: i64,
) -> String {
    let name = match filter_user {
        Some(user) => format!("On call: {user} ({schedule_name})"),
        None => format!("On call: {schedule_name}"),
    };
    let mut calendar = Calendar::new(&name, dtstamp_ms);
    calendar.add(schedule_name, shifts, filter_user);
    calendar.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::oncall::Source;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn shift<'a>(user: &'a str, start: &str, end: &str, source: Source) -> Shift<'a> {
        Shift {
            user,
            start_ms: at(start),
            end_ms: at(end),
            source,
        }
    }

    fn shifts() -> Vec<Shift<'static>> {
        [
            ("alice", "2026-12-07T08", "2026-12-08T08", Source::Layer(0)),
            ("alice", "2026-12-08T08", "2026-12-08T12", Source::Layer(1)),
            ("bob", "2026-12-08T12", "2026-12-09T08", Source::Override(0)),
            ("alice", "2026-12-09T08", "2026-12-10T08", Source::Layer(0)),
        ]
        .into_iter()
        .map(|(user, a, b, src)| shift(user, &format!("{a}:00:00Z"), &format!("{b}:00:00Z"), src))
        .collect()
    }

    #[test]
    fn a_user_feed_has_one_event_per_stretch_on_call() {
        let text = ical(
            "db-primary",
            &shifts(),
            Some("alice"),
            at("2026-12-01T00:00:00Z"),
        );
        let want = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//klaxon//on-call//EN",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:On call: alice (db-primary)",
            "BEGIN:VEVENT",
            // Pinned: a feed's UIDs must not change from one version to the next.
            "UID:dccd048bc2ab6e44-1796630400000@klaxon",
            "DTSTAMP:20261201T000000Z",
            "DTSTART:20261207T080000Z",
            "DTEND:20261208T120000Z",
            "SUMMARY:On call: alice (db-primary)",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:dccd048bc2ab6e44-1796803200000@klaxon",
            "DTSTAMP:20261201T000000Z",
            "DTSTART:20261209T080000Z",
            "DTEND:20261210T080000Z",
            "SUMMARY:On call: alice (db-primary)",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
        .join("\r\n");
        assert_eq!(text, want);
    }

    #[test]
    fn a_schedule_feed_has_everyone_and_the_same_shift_keeps_its_uid() {
        let all = ical("db-primary", &shifts(), None, 0);
        assert_eq!(all.matches("BEGIN:VEVENT").count(), 3);
        assert!(all.contains("SUMMARY:On call: bob (db-primary)"));
        assert!(all.contains("X-WR-CALNAME:On call: db-primary\r\n"));
        // Cut at another range end: the last event ends earlier, its UID does not change.
        let mut cut = shifts();
        cut[3].end_ms = at("2026-12-09T20:00:00Z");
        let uids = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with("UID:"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(uids(&all), uids(&ical("db-primary", &cut, None, 0)));
        // Another schedule, another UID for the same user and start.
        assert_ne!(uids(&all), uids(&ical("db-replica", &shifts(), None, 0)));
    }

    #[test]
    fn text_is_escaped_and_long_lines_fold_at_75_octets() {
        let user = "Zoë; the \"night, owl\"\\on call\nnext line ".repeat(4);
        let s = [shift(
            &user,
            "2026-12-07T08:00:00Z",
            "2026-12-08T08:00:00Z",
            Source::Layer(0),
        )];
        let text = ical("ops", &s, None, 0);
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        for line in text.split_terminator("\r\n") {
            assert!(line.len() <= LINE_OCTETS, "{} octets: {line:?}", line.len());
            assert!(!line.contains(['\r', '\n']));
        }
        // Unfolding gives back the escaped text.
        let unfolded = text.replace("\r\n ", "");
        let summary = unfolded
            .split("\r\n")
            .find(|l| l.starts_with("SUMMARY:"))
            .unwrap();
        let escaped = "Zoë\\; the \"night\\, owl\"\\\\on call\\nnext line ".repeat(4);
        assert_eq!(summary, format!("SUMMARY:On call: {escaped} (ops)"));
        assert!(text.contains("\r\n "), "the summary folds");
    }
}
