//! One-line human explanations of alerts (an alert's `message`). Pure string building, run only
//! when an alert is emitted, never on the path of a signal that fires nothing.

use crate::event::rule::{Condition, Unit};
use crate::number::push_num;
use crate::signal::Trigger;

/// What the message needs to know about one firing.
pub(crate) struct Facts<'a> {
    pub trigger: Trigger,
    pub process_id: &'a str,
    pub process_name: &'a str,
    pub action: &'a str,
    pub context: Option<&'a str>,
    pub value: Option<f64>,
    pub limit: Option<f64>,
    /// The baseline for AVG_DEVIATION_PCT.
    pub baseline: Option<f64>,
    /// The predecessor (action, context) for PRECEDED_BY*; `None` when there was none.
    pub pred: Option<(&'a str, Option<&'a str>)>,
    /// The log level and message for LOGGING rules.
    pub log: Option<(&'a str, &'a str)>,
}

fn key(s: &mut String, action: &str, context: Option<&str>) {
    s.push_str(action);
    if let Some(c) = context {
        s.push('/');
        s.push_str(c);
    }
}

fn opt(s: &mut String, v: Option<f64>) {
    push_num(s, v.unwrap_or(f64::NAN));
}

/// Builds the explanation of a firing of `cond` with operator name `op`.
pub(crate) fn explain(op: &str, cond: &Condition, f: &Facts<'_>) -> String {
    let mut s = String::with_capacity(96);
    let process = |s: &mut String| {
        s.push_str("process ");
        s.push_str(f.process_name);
        if f.process_name != f.process_id {
            s.push_str(" (");
            s.push_str(f.process_id);
            s.push(')');
        }
    };
    match cond {
        Condition::Always => {
            if f.trigger.is_monitor() {
                key(&mut s, f.action, f.context);
            } else {
                process(&mut s);
            }
            s.push_str(": ");
            s.push_str(f.trigger.as_str());
            s.push_str(" (");
            s.push_str(op);
            s.push(')');
        }
        Condition::MaxDurationMs { .. } => {
            key(&mut s, f.action, f.context);
            s.push_str(" took ");
            opt(&mut s, f.value);
            s.push_str(" ms, limit ");
            opt(&mut s, f.limit);
            s.push_str(" ms");
        }
        Condition::MaxOccurrence { .. } => {
            if f.trigger.is_monitor() {
                key(&mut s, f.action, f.context);
                s.push_str(" occurred ");
                opt(&mut s, f.value);
                s.push_str(" times, limit ");
            } else {
                process(&mut s);
                s.push_str(" has ");
                opt(&mut s, f.value);
                s.push_str(" steps done, limit ");
            }
            opt(&mut s, f.limit);
        }
        Condition::MaxGapSeconds { .. } => {
            key(&mut s, f.action, f.context);
            s.push_str(" came ");
            opt(&mut s, f.value);
            s.push_str(if f.trigger == Trigger::MarkEvent {
                " s after the previous mark, limit "
            } else {
                " s after the previous trace stop, limit "
            });
            opt(&mut s, f.limit);
            s.push_str(" s");
        }
        Condition::AvgDeviationPct { pct, .. } => {
            key(&mut s, f.action, f.context);
            s.push_str(" took ");
            opt(&mut s, f.value);
            s.push_str(" ms, more than ");
            push_num(&mut s, *pct);
            s.push_str("% above the baseline of ");
            push_num(
                &mut s,
                (f.baseline.unwrap_or(f64::NAN) * 1000.0).round() / 1000.0,
            );
            s.push_str(" ms (limit ");
            push_num(
                &mut s,
                (f.limit.unwrap_or(f64::NAN) * 1000.0).round() / 1000.0,
            );
            s.push_str(" ms)");
        }
        Condition::PrecededBy { expect } | Condition::PrecededByWithin { expect, .. } => {
            if f.trigger.is_monitor() {
                key(&mut s, f.action, f.context);
            } else {
                process(&mut s);
                s.push(' ');
                s.push_str(f.trigger.as_str());
            }
            match f.pred {
                None => {
                    s.push_str(" had no predecessor, expected ");
                    key(&mut s, &expect.action, expect.context.as_deref());
                }
                Some((a, c)) => {
                    let matched = a == expect.action
                        && (expect.context.is_none() || expect.context.as_deref() == c);
                    if matched {
                        s.push_str(" came ");
                        opt(&mut s, f.value);
                        let unit = match cond {
                            Condition::PrecededByWithin {
                                unit: Unit::Secs, ..
                            } => " s",
                            _ => " ms",
                        };
                        s.push_str(unit);
                        s.push_str(" after ");
                        key(&mut s, a, c);
                        s.push_str(", limit ");
                        opt(&mut s, f.limit);
                        s.push_str(unit);
                    } else {
                        s.push_str(" was preceded by ");
                        key(&mut s, a, c);
                        s.push_str(", expected ");
                        key(&mut s, &expect.action, expect.context.as_deref());
                    }
                }
            }
        }
        Condition::RuntimeExceeded { .. } => {
            process(&mut s);
            s.push_str(" has been running for ");
            opt(&mut s, f.value);
            s.push_str(" ms, limit ");
            opt(&mut s, f.limit);
            s.push_str(" ms");
        }
        Condition::MaxRuntimeExceeded { .. } => {
            process(&mut s);
            s.push_str(" ran for ");
            opt(&mut s, f.value);
            s.push_str(" ms, limit ");
            opt(&mut s, f.limit);
            s.push_str(" ms");
        }
        Condition::StepsLeftHigh { .. } => {
            process(&mut s);
            s.push_str(" has ");
            opt(&mut s, f.value);
            s.push_str(" steps left, limit ");
            opt(&mut s, f.limit);
        }
        Condition::SuccessRateLow { .. } => {
            process(&mut s);
            s.push_str(" success rate ");
            push_num(
                &mut s,
                (f.value.unwrap_or(f64::NAN) * 100.0).round() / 100.0,
            );
            s.push_str("%, below ");
            opt(&mut s, f.limit);
            s.push('%');
        }
        Condition::StatusEquals { .. } => {
            process(&mut s);
            s.push_str(" status is ");
            opt(&mut s, f.value);
        }
        Condition::InfoContains { needle } => {
            process(&mut s);
            s.push_str(" info contains \"");
            s.push_str(needle);
            s.push('"');
        }
        Condition::Severity { .. } | Condition::LogContains { .. } => {
            let (level, message) = f.log.unwrap_or(("", ""));
            s.push_str(level);
            s.push_str(" log of ");
            process(&mut s);
            s.push_str(": ");
            s.push_str(message);
        }
        Condition::FollowedByWithinMs { expect, .. } => {
            key(&mut s, f.action, f.context);
            s.push_str(" was not followed by ");
            key(&mut s, &expect.action, expect.context.as_deref());
            s.push_str(" within ");
            opt(&mut s, f.limit);
            s.push_str(" ms");
        }
        Condition::MaxOpenMs { .. } => {
            s.push_str("trace ");
            key(&mut s, f.action, f.context);
            s.push_str(" still open after ");
            opt(&mut s, f.value);
            s.push_str(" ms, limit ");
            opt(&mut s, f.limit);
            s.push_str(" ms");
        }
        Condition::SilenceSeconds { .. } => {
            process(&mut s);
            s.push_str(" silent for ");
            opt(&mut s, f.value);
            s.push_str(" s, limit ");
            opt(&mut s, f.limit);
            s.push_str(" s");
        }
    }
    s
}
