//! The retry policy: what a delivery outcome means, and when to try again. Pure: the clock and
//! the random numbers are arguments.
//!
//! Retried: timeouts, connection errors, HTTP 408, 429 and 5xx, SMTP 4xx replies. Failed at
//! once: every other 4xx, SMTP 5xx replies, a 2xx whose body says it failed, a payload that
//! cannot be built. Retries wait a capped exponential backoff with full jitter
//! (uniform in `[0, min(max, initial·2^(attempt-1))]`), and at least what a Retry-After asks.
//! A notification older than its maximum age is dead-lettered instead of retried.

use std::time::Duration;

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver took it.
    Sent { status: Option<u16> },
    /// A failure that may pass; `after` is what the receiver asked for (Retry-After).
    Retry {
        error: String,
        status: Option<u16>,
        after: Option<Duration>,
    },
    /// A failure that trying again will not cure.
    Failed { error: String, status: Option<u16> },
}

impl DeliveryOutcome {
    pub fn retry(error: impl Into<String>) -> DeliveryOutcome {
        DeliveryOutcome::Retry {
            error: error.into(),
            status: None,
            after: None,
        }
    }

    pub fn failed(error: impl Into<String>) -> DeliveryOutcome {
        DeliveryOutcome::Failed {
            error: error.into(),
            status: None,
        }
    }
}

/// Classifies an HTTP answer. `retry_after` is the header's value, `body` a prefix of the body
/// (for the error message), `now_ms` the wall clock (for an HTTP-date Retry-After).
pub fn classify_http(
    status: u16,
    retry_after: Option<&str>,
    body: &str,
    now_ms: i64,
) -> DeliveryOutcome {
    let snippet = excerpt(body, EXCERPT);
    let error = if snippet.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {snippet}")
    };
    match status {
        200..=299 => DeliveryOutcome::Sent {
            status: Some(status),
        },
        408 | 429 | 500..=599 => DeliveryOutcome::Retry {
            error,
            status: Some(status),
            after: retry_after.and_then(|v| parse_retry_after(v, now_ms)),
        },
        _ => DeliveryOutcome::Failed {
            error,
            status: Some(status),
        },
    }
}

/// Characters of a receiver's answer kept in an error.
pub const EXCERPT: usize = 200;

/// What a receiver said, made fit to show: HTML tags (and the contents of `script` and
/// `style`) removed, control characters and runs of white space made one space, cut to `max`
/// characters (ending with `…` when cut). A receiver's answer is shown to every viewer of the
/// alert; it must not carry markup, terminal escapes or pages of text.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    let mut rest = text;
    let push = |c: char, out: &mut String, count: &mut usize, space: &mut bool| {
        if c.is_whitespace() || c.is_control() {
            *space = !out.is_empty();
        } else {
            if *space {
                out.push(' ');
                *count += 1;
                *space = false;
            }
            out.push(c);
            *count += 1;
        }
    };
    while let Some(c) = rest.chars().next() {
        if count > max {
            break;
        }
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let tag = rest[1..end].trim_start_matches('/').to_ascii_lowercase();
                let name: String = tag
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                let mut after = &rest[end + 1..];
                if !rest[1..].starts_with('/') && (name == "script" || name == "style") {
                    let close = format!("</{name}");
                    after = after
                        .to_ascii_lowercase()
                        .find(&close)
                        .and_then(|i| after[i..].find('>').map(|j| &after[i + j + 1..]))
                        .unwrap_or("");
                }
                if !name.is_empty() || tag.starts_with('!') {
                    space = !out.is_empty();
                    rest = after;
                    continue;
                }
            }
        }
        push(c, &mut out, &mut count, &mut space);
        rest = &rest[c.len_utf8()..];
    }
    if count > max {
        let mut cut: String = out.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        return cut;
    }
    out
}

/// A Retry-After value: delay-seconds or an HTTP-date (IMF-fixdate).
pub fn parse_retry_after(v: &str, now_ms: i64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(v)?;
    Some(Duration::from_millis(
        u64::try_from(at - now_ms).unwrap_or(0),
    ))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → epoch ms.
fn parse_http_date(v: &str) -> Option<i64> {
    let rest = v.split_once(", ")?.1;
    let mut p = rest.split(' ');
    let day: i64 = p.next()?.parse().ok()?;
    let month = match p.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = p.next()?.parse().ok()?;
    let mut hms = p.next()?.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if p.next()? != "GMT" {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + h * 3600 + m * 60 + s) * 1000)
}

/// Capped exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The ceiling of the wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.initial
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The wait before the next attempt: uniform in `[0, ceiling]` drawn from `random`, and at
    /// least `retry_after` when the receiver asked for it.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, random: u64) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(random % ceiling.saturating_add(1));
        match retry_after {
            Some(after) => jittered.max(after),
            None => jittered,
        }
    }
}

/// What happens to a notification after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (epoch ms).
    RetryAt(i64),
    /// Too old: dead-letter it.
    Dead,
}

/// The next step after a retriable failure of attempt `attempt` at `now` of a notification
/// made at `created_at` that may live `max_age_ms`.
pub fn next_after_failure(
    backoff: &Backoff,
    attempt: u32,
    retry_after: Option<Duration>,
    random: u64,
    now: i64,
    created_at: i64,
    max_age_ms: i64,
) -> Next {
    let wait =
        i64::try_from(backoff.delay(attempt, retry_after, random).as_millis()).unwrap_or(i64::MAX);
    let at = now.saturating_add(wait);
    if at > created_at.saturating_add(max_age_ms) {
        Next::Dead
    } else {
        Next::RetryAt(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert!(matches!(
            classify_http(200, None, "", 0),
            DeliveryOutcome::Sent { .. }
        ));
        assert!(matches!(
            classify_http(204, None, "", 0),
            DeliveryOutcome::Sent { .. }
        ));
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify_http(s, None, "", 0), DeliveryOutcome::Retry { .. }),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 410, 413, 422] {
            assert!(
                matches!(
                    classify_http(s, None, "", 0),
                    DeliveryOutcome::Failed { .. }
                ),
                "{s}"
            );
        }
        let DeliveryOutcome::Retry { after, error, .. } =
            classify_http(429, Some("7"), "slow down", 0)
        else {
            panic!("429 retries");
        };
        assert_eq!(after, Some(Duration::from_secs(7)));
        assert_eq!(error, "HTTP 429: slow down");
    }

    #[test]
    fn answers_are_shown_as_short_plain_excerpts() {
        let page = format!(
            "<!doctype html><html><head><style>body {{ color: red }}</style>\
             <script>alert(1)</script></head><body><h1>Internal\tServer Error</h1>\
             <p>\u{1b}[31mboom\u{7}</p>{}</body></html>",
            "<div>filler</div>".repeat(600)
        );
        assert!(page.len() > 10_000);
        let e = excerpt(&page, 200);
        assert!(
            e.starts_with("Internal Server Error [31mboom filler filler"),
            "{e}"
        );
        assert!(e.chars().count() <= 200 && e.ends_with('…'), "{e}");
        assert!(!e.contains('<') && !e.chars().any(char::is_control), "{e}");
        assert_eq!(excerpt("a < b and c > d", 200), "a < b and c > d");
        assert_eq!(excerpt("  ok\r\n", 200), "ok");
        let DeliveryOutcome::Retry { error, .. } = classify_http(500, None, &page, 0) else {
            panic!("500 retries");
        };
        assert!(
            error.starts_with("HTTP 500: Internal Server Error") && error.chars().count() <= 210,
            "{error}"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        // 1994-11-06T08:49:37Z = 784111777 s.
        let at = 784_111_777_000;
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 5_000),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 5_000),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn backoff_is_capped_jittered_and_honours_retry_after() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(400));
        assert_eq!(b.ceiling(10), Duration::from_secs(1));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
        for r in [0u64, 1, 77, 12_345, u64::MAX] {
            assert!(b.delay(4, None, r) <= Duration::from_millis(800));
        }
        let spread: std::collections::BTreeSet<_> =
            (0..50u64).map(|r| b.delay(10, None, r * 7919)).collect();
        assert!(spread.len() > 10, "full jitter spreads the waits");
        assert_eq!(
            b.delay(1, Some(Duration::from_secs(30)), 5),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn too_old_is_dead() {
        let b = Backoff::default();
        assert_eq!(
            next_after_failure(&b, 1, None, 0, 1_000, 0, 10_000),
            Next::RetryAt(1_000)
        );
        assert_eq!(
            next_after_failure(&b, 1, Some(Duration::from_secs(60)), 0, 1_000, 0, 10_000),
            Next::Dead
        );
    }
}
