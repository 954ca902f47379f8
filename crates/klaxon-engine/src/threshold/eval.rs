//! Evaluation of the pairs of one series at one instant: window expiry, the aggregate, the
//! pending → firing → resolved state machine, the events it emits, and the next instant at
//! which time alone may change a result. Free functions over explicit state, so the borrow of
//! the active rules never conflicts with the series being updated.

use std::fmt::Write as _;
use std::sync::Arc;

use super::event::{ThresholdEvent, ThresholdEventKind};
use super::rule::{Aggregation, Operator, ThresholdRule};
use super::series::{Pair, Series, State};
use super::window::Ring;
use crate::signal::Labels;

/// An active rule with the metadata its events carry.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub group: Arc<str>,
    pub set_name: Arc<str>,
    pub version: Option<serde_json::Number>,
    pub rule: ThresholdRule,
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub description: Option<Arc<str>>,
    pub metric: Arc<str>,
    pub channels: Arc<[String]>,
    pub escalation: Option<Arc<str>>,
    pub suppression: Arc<[String]>,
}

impl Compiled {
    pub(crate) fn new(
        group: &Arc<str>,
        set_name: &Arc<str>,
        version: Option<&serde_json::Number>,
        rule: &ThresholdRule,
    ) -> Compiled {
        Compiled {
            group: Arc::clone(group),
            set_name: Arc::clone(set_name),
            version: version.cloned(),
            rule: rule.clone(),
            id: Arc::from(rule.id.as_str()),
            name: Arc::from(rule.name.as_str()),
            description: rule.description.as_deref().map(Arc::from),
            metric: Arc::from(rule.metric.as_str()),
            channels: Arc::from(rule.notification_channels.as_slice()),
            escalation: rule.escalation_policy.as_deref().map(Arc::from),
            suppression: Arc::from(rule.suppression_rules.as_slice()),
        }
    }
}

/// Drops the points that left every window at `t` and trims the ring to what windows hold.
pub(crate) fn expire(rules: &[Compiled], s: &mut Series, t: i64) {
    let mut keep_from = s.ring.end();
    for p in &mut s.pairs {
        let w = rules[p.rule as usize].rule.window_ms;
        p.window.expire(&s.ring, t.saturating_sub(w));
        keep_from = keep_from.min(p.window.start);
    }
    while s.ring.base < keep_from {
        s.ring.points.pop_front();
        s.ring.base += 1;
    }
}

/// Evaluates every pair of `s` at `t` (windows already expired to `t`), appending the state
/// changes to `out`; returns the earliest later instant at which time alone may change a result.
pub(crate) fn evaluate(
    rules: &[Compiled],
    s: &mut Series,
    t: i64,
    out: &mut Vec<ThresholdEvent>,
) -> Option<i64> {
    let Series {
        pairs,
        ring,
        metric,
        labels,
        ..
    } = s;
    let mut wake: Option<i64> = None;
    for p in pairs.iter_mut() {
        let c = &rules[p.rule as usize];
        let r = &c.rule;
        let value = p.window.value(r.aggregation, ring);
        p.value = value;
        let cond = value.is_some_and(|v| r.operator.holds(v, r.threshold));
        let emit = match (p.state, cond) {
            (State::Inactive, true) => {
                p.since = t;
                if r.for_ms == 0 {
                    p.state = State::Firing;
                    Some(ThresholdEventKind::Firing)
                } else {
                    p.state = State::Pending;
                    Some(ThresholdEventKind::Pending)
                }
            }
            (State::Pending, true) if t > p.since.saturating_add(r.for_ms) => {
                p.state = State::Firing;
                Some(ThresholdEventKind::Firing)
            }
            (State::Pending, false) => {
                p.state = State::Inactive;
                Some(ThresholdEventKind::Cancelled)
            }
            (State::Firing, true) => {
                p.clear_since = None;
                None
            }
            (State::Firing, false) => {
                let cleared = *p.clear_since.get_or_insert(t);
                if r.resolve_after_ms == 0 || t > cleared.saturating_add(r.resolve_after_ms) {
                    p.state = State::Inactive;
                    p.clear_since = None;
                    // Without auto-resolve, people resolve the alert; the pair just re-arms.
                    r.auto_resolve.then_some(ThresholdEventKind::Resolved)
                } else {
                    None
                }
            }
            (State::Inactive, false) | (State::Pending, true) => None,
        };
        if let Some(kind) = emit {
            out.push(event(c, metric, labels, p, kind, t, None));
        }
        if let Some(d) = next_change(p, r, ring, cond) {
            wake = Some(wake.map_or(d, |w| w.min(d)));
        }
    }
    wake.map(|w| w.max(t.saturating_add(1)))
}

/// The instant at which time alone may next change this pair: the first millisecond strictly
/// past its `for` or `resolve_after`, or a sample leaving its window (at `ts + window`) in a
/// way that can change the result.
fn next_change(p: &Pair, r: &ThresholdRule, ring: &Ring, cond: bool) -> Option<i64> {
    let mut d = match (p.state, p.clear_since) {
        (State::Pending, _) => Some(p.since.saturating_add(r.for_ms).saturating_add(1)),
        (State::Firing, Some(cleared)) => {
            Some(cleared.saturating_add(r.resolve_after_ms).saturating_add(1))
        }
        _ => None,
    };
    let n = p.window.len(ring);
    if n > 0 {
        let expiry = |seq: u64| ring.at(seq).ts.saturating_add(r.window_ms);
        let leaves = match r.aggregation {
            // Only the newest sample leaving changes `last`: the window is then empty.
            Aggregation::Last => cond.then(|| expiry(ring.end() - 1)),
            Aggregation::Count => {
                count_flip(n, r.operator, r.threshold).map(|k| expiry(p.window.start + k - 1))
            }
            _ => Some(expiry(p.window.start)),
        };
        if let Some(l) = leaves {
            d = Some(d.map_or(l, |d| d.min(l)));
        }
    }
    d
}

/// For a window of `n` samples: how many must leave before `count op threshold` changes.
fn count_flip(n: u64, op: Operator, threshold: f64) -> Option<u64> {
    let holds = |m: u64| op.holds(m as f64, threshold);
    let now = holds(n);
    // The largest count below n whose result differs from now's.
    let m = match (op, now) {
        (Operator::GreaterThan, true) | (Operator::LessEqual, false) => threshold.floor(),
        (Operator::GreaterEqual, true) | (Operator::LessThan, false) => threshold.ceil() - 1.0,
        (Operator::Equal, true) | (Operator::NotEqual, false) => n as f64 - 1.0,
        (Operator::Equal, false) | (Operator::NotEqual, true) if threshold.fract() == 0.0 => {
            threshold
        }
        _ => return None,
    };
    if m < 0.0 || m >= n as f64 {
        return None;
    }
    let m = m as u64;
    (holds(m) != now).then(|| n - m)
}

/// The event of a pair's change; `why` replaces the explanation (rule removed).
pub(crate) fn event(
    c: &Compiled,
    metric: &str,
    labels: &[(Box<str>, Box<str>)],
    p: &Pair,
    kind: ThresholdEventKind,
    at: i64,
    why: Option<&str>,
) -> ThresholdEvent {
    let r = &c.rule;
    ThresholdEvent {
        kind,
        group: Arc::clone(&c.group),
        rule_set: Arc::clone(&c.set_name),
        rule_set_version: c.version.clone(),
        rule_id: Arc::clone(&c.id),
        rule_name: Arc::clone(&c.name),
        description: c.description.clone(),
        metric: Arc::clone(&c.metric),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Labels>(),
        aggregation: r.aggregation,
        window_ms: r.window_ms,
        value: p.value,
        threshold: r.threshold,
        operator: r.operator,
        severity: r.severity,
        fingerprint: p.fingerprint,
        since: p.since,
        at,
        message: message(r, metric, labels, p.value, kind, why),
        notification_channels: Arc::clone(&c.channels),
        escalation_policy: c.escalation.clone(),
        suppression_rules: Arc::clone(&c.suppression),
    }
}

/// `system.cpu.usage{host="web-1"} avg over 5m is 93.2, above 90 for 1m`.
fn message(
    r: &ThresholdRule,
    metric: &str,
    labels: &[(Box<str>, Box<str>)],
    value: Option<f64>,
    kind: ThresholdEventKind,
    why: Option<&str>,
) -> String {
    let mut m = String::with_capacity(96);
    m.push_str(metric);
    if !labels.is_empty() {
        m.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                m.push_str(", ");
            }
            let _ = write!(m, "{k}={v:?}");
        }
        m.push('}');
    }
    if r.aggregation != Aggregation::Last {
        let _ = write!(m, " {} over {}", r.aggregation, fmt_duration(r.window_ms));
    }
    match value {
        Some(v) => {
            m.push_str(" is ");
            push_value(&mut m, v);
            if r.aggregation == Aggregation::Rate {
                m.push_str("/s");
            }
        }
        None => {
            let _ = write!(m, " has no data in the last {}", fmt_duration(r.window_ms));
        }
    }
    m.push_str(match kind {
        ThresholdEventKind::Pending | ThresholdEventKind::Firing => ", ",
        ThresholdEventKind::Resolved | ThresholdEventKind::Cancelled => ", no longer ",
    });
    m.push_str(r.operator.words());
    m.push(' ');
    push_value(&mut m, r.threshold);
    match kind {
        ThresholdEventKind::Pending => {
            let _ = write!(m, "; fires if this holds for {}", fmt_duration(r.for_ms));
        }
        ThresholdEventKind::Firing if r.for_ms > 0 => {
            let _ = write!(m, " for {}", fmt_duration(r.for_ms));
        }
        _ => {}
    }
    if let Some(why) = why {
        m.push_str("; ");
        m.push_str(why);
    }
    m
}

/// A value for people: whole numbers without decimals, others to about four significant
/// digits (at least three decimals), trailing zeros removed.
pub(crate) fn push_value(s: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(s, "{}", v as i64);
        return;
    }
    let magnitude = v.abs().log10().floor();
    let decimals = if magnitude >= 0.0 {
        3
    } else {
        (3.0 - magnitude).min(17.0) as usize
    };
    let text = format!("{v:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    s.push_str(if text == "-0" { "0" } else { text });
}

/// `1h30m`, `5m`, `250ms`, `0s`.
pub fn fmt_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut s = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if rest >= size {
            let _ = write!(s, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_values_for_people() {
        assert_eq!(fmt_duration(90_000), "1m30s");
        assert_eq!(fmt_duration(5_400_000), "1h30m");
        assert_eq!(fmt_duration(250), "250ms");
        assert_eq!(fmt_duration(86_401_500), "1d1s500ms");
        let v = |x: f64| {
            let mut s = String::new();
            push_value(&mut s, x);
            s
        };
        assert_eq!(v(90.0), "90");
        assert_eq!(v(93.2), "93.2");
        assert_eq!(v(93.199_999_999_999_99), "93.2");
        assert_eq!(v(2.0 / 3.0), "0.6667");
        assert_eq!(v(0.001_234_5), "0.001234");
        assert_eq!(v(-12.345_67), "-12.346");
        assert_eq!(v(1e20), "100000000000000000000");
    }

    #[test]
    fn count_flip_is_exact() {
        use Operator::*;
        // Brute force: the smallest k with a different result, for small n and thresholds.
        for op in Operator::ALL {
            for n in 0..8u64 {
                for t10 in -15..95 {
                    let t = f64::from(t10) / 10.0;
                    let now = op.holds(n as f64, t);
                    let brute = (1..=n).find(|&k| op.holds((n - k) as f64, t) != now);
                    assert_eq!(count_flip(n, op, t), brute, "{op} n={n} t={t}");
                }
            }
        }
        let _ = (GreaterThan, Equal);
    }
}
