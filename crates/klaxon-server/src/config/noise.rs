//! The noise controls of the configuration: `[[maintenance]]`, `[[inhibit]]`, `[flapping]` and
//! `[silence_notice]`, and their compilation into the engine's pure types (loading time zones,
//! which is the I/O the engine must not do) as the lifecycle's `NoiseConfig`. Every error
//! names its key.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use klaxon_engine::matcher::{parse_filter, Matcher};
use klaxon_engine::noise::{FlapSettings, InhibitRule, MaintenanceWindow, Schedule, Windows};
use klaxon_engine::timestamp::parse_ts_str;
use klaxon_notify::ReceiverConfig;
use serde::Deserialize;

/// A maintenance window: one-off (`start`, `end`) or recurring (`weekdays`, `from`, `to`,
/// `time_zone`), muting the alerts its `matchers` match and those of threshold rules that name
/// it in `suppression_rules`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    pub name: String,
    /// Alertmanager matchers: `env="staging"`, `host=~"db-.*"`.
    pub matchers: Vec<String>,
    /// One-off: RFC 3339 or epoch ms.
    pub start: Option<toml::Value>,
    pub end: Option<toml::Value>,
    /// Recurring: `mon` … `sun` (or full names).
    pub weekdays: Vec<String>,
    /// Local time of day, `HH:MM`; `to` not after `from` runs past midnight.
    pub from: Option<String>,
    pub to: Option<String>,
    /// An IANA time zone (`Europe/Berlin`); UTC when absent.
    pub time_zone: Option<String>,
}

/// An inhibition rule, as in Alertmanager, optionally scoped to one route (receiver).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitConfig {
    pub name: Option<String>,
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    pub equal: Vec<String>,
    /// Only for notifications to this receiver.
    pub route: Option<String>,
}

/// A notice `before_minutes` before an active silence that holds alerts ends, to these
/// receivers. Off while `receivers` is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SilenceNotice {
    pub before_minutes: u64,
    pub receivers: Vec<String>,
}

impl Default for SilenceNotice {
    fn default() -> Self {
        SilenceNotice {
            before_minutes: 15,
            receivers: Vec::new(),
        }
    }
}

/// Flap detection: more than `changes` changes between firing and not firing within
/// `window_minutes` holds an alert's notifications until it is stable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flapping {
    /// 0 turns detection off.
    pub changes: usize,
    pub window_minutes: u64,
}

impl Default for Flapping {
    fn default() -> Self {
        Flapping {
            changes: 6,
            window_minutes: 30,
        }
    }
}

/// The compiled noise controls of a config: the lifecycle core's own configuration, so what
/// the configuration says is what the one owner of muting decides with.
pub(crate) use klaxon_engine::lifecycle::NoiseConfig as NoiseControls;

fn matchers(key: &str, list: &[String], errors: &mut Vec<String>) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        match parse_filter(m) {
            Ok(ms) => out.extend(ms),
            Err(e) => errors.push(format!("{key}[{i}]: {e}")),
        }
    }
    out
}

fn time_of_day(key: &str, v: Option<&str>, errors: &mut Vec<String>) -> Option<Time> {
    let Some(v) = v else {
        errors.push(format!("{key}: required for a recurring window (HH:MM)"));
        return None;
    };
    let parsed = v
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<i8>().ok()?, m.parse::<i8>().ok()?)))
        .and_then(|(h, m)| Time::new(h, m, 0, 0).ok());
    if parsed.is_none() {
        errors.push(format!("{key}: `{v}` is not a time of day like 02:30"));
    }
    parsed
}

fn instant(key: &str, v: &toml::Value, errors: &mut Vec<String>) -> Option<i64> {
    let parsed = match v {
        toml::Value::Integer(i) => Some(*i),
        toml::Value::String(s) => parse_ts_str(s).ok(),
        toml::Value::Datetime(d) => parse_ts_str(&d.to_string()).ok(),
        _ => None,
    };
    if parsed.is_none() {
        errors.push(format!(
            "{key}: {v:?} is not a time (RFC 3339 or epoch milliseconds)"
        ));
    }
    parsed
}

fn weekday(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    days.iter().position(|d| s.len() >= 3 && d.starts_with(&s))
}

fn window(i: usize, w: &MaintenanceConfig, errors: &mut Vec<String>) -> Option<MaintenanceWindow> {
    let key = format!("maintenance[{i}]");
    let before = errors.len();
    if w.name.trim().is_empty() {
        errors.push(format!("{key}.name: required"));
    }
    let matchers = matchers(&format!("{key}.matchers"), &w.matchers, errors);
    let one_off = w.start.is_some() || w.end.is_some();
    let recurring = !w.weekdays.is_empty() || w.from.is_some() || w.to.is_some();
    let schedule = match (one_off, recurring) {
        (true, true) => {
            errors.push(format!(
                "{key}: either start/end (one-off) or weekdays/from/to (recurring), not both"
            ));
            None
        }
        (false, false) => {
            errors.push(format!(
                "{key}: needs start and end (one-off) or weekdays, from and to (recurring)"
            ));
            None
        }
        (true, false) => {
            let mut at = |field: &str, v: Option<&toml::Value>| match v {
                Some(v) => instant(&format!("{key}.{field}"), v, errors),
                None => {
                    errors.push(format!("{key}.{field}: required"));
                    None
                }
            };
            let start = at("start", w.start.as_ref());
            let end = at("end", w.end.as_ref());
            match (start, end) {
                (Some(start), Some(end)) if end > start => Some(Schedule::Once { start, end }),
                (Some(_), Some(_)) => {
                    errors.push(format!("{key}.end: must be after start"));
                    None
                }
                _ => None,
            }
        }
        (false, true) => {
            let mut days = [false; 7];
            if w.weekdays.is_empty() {
                errors.push(format!(
                    "{key}.weekdays: at least one day, e.g. [\"sat\", \"sun\"]"
                ));
            }
            for (j, d) in w.weekdays.iter().enumerate() {
                match weekday(d) {
                    Some(n) => days[n] = true,
                    None => errors.push(format!(
                        "{key}.weekdays[{j}]: `{d}` is not a weekday (mon … sun)"
                    )),
                }
            }
            let start = time_of_day(&format!("{key}.from"), w.from.as_deref(), errors);
            let end = time_of_day(&format!("{key}.to"), w.to.as_deref(), errors);
            let tz = match w.time_zone.as_deref() {
                None => Some(TimeZone::UTC),
                Some(name) => match TimeZone::get(name) {
                    Ok(tz) => Some(tz),
                    Err(e) => {
                        errors.push(format!(
                            "{key}.time_zone: `{name}` is not a known time zone ({e})"
                        ));
                        None
                    }
                },
            };
            match (start, end, tz) {
                (Some(start), Some(end), Some(tz)) => Some(Schedule::Weekly {
                    days,
                    start,
                    end,
                    tz,
                }),
                _ => None,
            }
        }
    };
    (errors.len() == before).then(|| MaintenanceWindow {
        name: w.name.clone(),
        matchers,
        schedule: schedule.expect("no error means the schedule was built"),
    })
}

/// Compiles the noise controls of `config`, or every error.
pub(super) fn compile(
    maintenance: &[MaintenanceConfig],
    inhibit: &[InhibitConfig],
    flapping: &Flapping,
    notice: &SilenceNotice,
    receivers: &[ReceiverConfig],
) -> Result<NoiseControls, Vec<String>> {
    let mut errors = Vec::new();
    let mut windows = Vec::new();
    for (i, w) in maintenance.iter().enumerate() {
        if maintenance[..i].iter().any(|o| o.name == w.name) {
            errors.push(format!(
                "maintenance[{i}].name: `{}` is used by an earlier window",
                w.name
            ));
        }
        windows.extend(window(i, w, &mut errors));
    }
    let mut rules = Vec::new();
    for (i, r) in inhibit.iter().enumerate() {
        let key = format!("inhibit[{i}]");
        let source = matchers(
            &format!("{key}.source_matchers"),
            &r.source_matchers,
            &mut errors,
        );
        let target = matchers(
            &format!("{key}.target_matchers"),
            &r.target_matchers,
            &mut errors,
        );
        if r.source_matchers.is_empty() {
            errors.push(format!("{key}.source_matchers: at least one matcher"));
        }
        if r.target_matchers.is_empty() {
            errors.push(format!("{key}.target_matchers: at least one matcher"));
        }
        rules.push(InhibitRule {
            name: r.name.clone().unwrap_or_else(|| key.clone()),
            source,
            target,
            equal: r.equal.clone(),
            route: r.route.clone().filter(|s| !s.trim().is_empty()),
        });
    }
    let sn = notice;
    for (i, r) in sn.receivers.iter().enumerate() {
        if !receivers.iter().any(|x| &x.name == r) {
            errors.push(format!(
                "silence_notice.receivers[{i}]: `{r}` is not a receiver of [[receivers]]"
            ));
        }
    }
    if !sn.receivers.is_empty() && sn.before_minutes == 0 {
        errors.push("silence_notice.before_minutes: must be at least 1".to_owned());
    }
    if flapping.changes > 0 && flapping.window_minutes == 0 {
        errors.push("flapping.window_minutes: must be at least 1 (or changes = 0)".to_owned());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(NoiseControls {
        windows: Windows::new(windows),
        inhibit: rules,
        flapping: FlapSettings {
            changes: flapping.changes,
            window_ms: i64::try_from(flapping.window_minutes)
                .unwrap_or(i64::MAX / 60_000)
                .saturating_mul(60_000),
        },
        notice_before_ms: (!sn.receivers.is_empty()).then(|| {
            i64::try_from(sn.before_minutes)
                .unwrap_or(i64::MAX / 60_000)
                .saturating_mul(60_000)
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(toml_text: &str) -> Config {
        toml::from_str(toml_text).expect("config parses")
    }

    #[test]
    fn every_error_names_its_key() {
        let c = config(
            r#"
[[maintenance]]
name = "nightly"
weekdays = ["sat", "funday"]
from = "25:00"
to = "04:00"
time_zone = "Europe/Berlim"

[[maintenance]]
name = "nightly"
start = "2026-12-05T02:00:00Z"
end = "2026-12-05T01:00:00Z"

[[inhibit]]
source_matchers = ['alertname="NodeDown"']
target_matchers = ['severity=~"a{2"']
"#,
        );
        let errors = c.noise().expect_err("errors");
        for part in [
            "maintenance[0].weekdays[1]",
            "maintenance[0].from",
            "maintenance[0].time_zone",
            "maintenance[1].name",
            "maintenance[1].end",
            "inhibit[0].target_matchers[0]",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(part)),
                "an error names {part}: {errors:?}"
            );
        }
    }

    #[test]
    fn a_recurring_window_in_a_named_zone_compiles() {
        let c = config(
            r#"
[[maintenance]]
name = "weekend"
matchers = ['env="staging"']
weekdays = ["saturday", "sun"]
from = "22:00"
to = "06:00"
time_zone = "Europe/Berlin"
"#,
        );
        let compiled = c.noise().expect("valid");
        let w = compiled.windows.get("weekend").expect("window");
        // Saturday 2026-12-05 23:00 in Berlin (UTC+1) is 22:00 UTC.
        let at = parse_ts_str("2026-12-05T22:30:00Z").expect("time");
        assert!(w.is_open(at));
        assert!(!w.is_open(parse_ts_str("2026-12-05T20:00:00Z").expect("time")));
    }
}
