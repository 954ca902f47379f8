//! The server side of noise control: compiles `[[maintenance]]`, `[[inhibit]]` and
//! `[flapping]` from the config into the engine's pure types (loading time zones, which is the
//! I/O the engine must not do), and makes silence ids. Every error names its key.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use klaxon_engine::matcher::{parse_filter, Matcher};
use klaxon_engine::noise::{
    FlapSettings, InhibitRule, Inhibitor, MaintenanceWindow, Schedule, Windows,
};
use klaxon_engine::timestamp::parse_ts_str;

use crate::config::{Config, MaintenanceConfig};

/// The compiled noise controls of a config.
pub struct Compiled {
    pub windows: Windows,
    pub inhibitor: Inhibitor,
    pub flapping: FlapSettings,
    /// How long before a silence ends its notice is due (`None`: no notices).
    pub notice_before_ms: Option<i64>,
}

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
pub fn compile(config: &Config) -> Result<Compiled, Vec<String>> {
    let mut errors = Vec::new();
    let mut windows = Vec::new();
    for (i, w) in config.maintenance.iter().enumerate() {
        if config.maintenance[..i].iter().any(|o| o.name == w.name) {
            errors.push(format!(
                "maintenance[{i}].name: `{}` is used by an earlier window",
                w.name
            ));
        }
        windows.extend(window(i, w, &mut errors));
    }
    let mut rules = Vec::new();
    for (i, r) in config.inhibit.iter().enumerate() {
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
    let sn = &config.silence_notice;
    for (i, r) in sn.receivers.iter().enumerate() {
        if !config.receivers.iter().any(|x| &x.name == r) {
            errors.push(format!(
                "silence_notice.receivers[{i}]: `{r}` is not a receiver of [[receivers]]"
            ));
        }
    }
    if !sn.receivers.is_empty() && sn.before_minutes == 0 {
        errors.push("silence_notice.before_minutes: must be at least 1".to_owned());
    }
    if config.flapping.changes > 0 && config.flapping.window_minutes == 0 {
        errors.push("flapping.window_minutes: must be at least 1 (or changes = 0)".to_owned());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Compiled {
        windows: Windows::new(windows),
        inhibitor: Inhibitor::new(rules),
        flapping: FlapSettings {
            changes: config.flapping.changes,
            window_ms: i64::try_from(config.flapping.window_minutes)
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

/// A random silence id in the UUID v4 form Alertmanager's clients expect.
pub fn silence_id() -> anyhow::Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness for a silence id: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Whether `s` has the form of a UUID (Alertmanager refuses other silence ids with 422).
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let errors = compile(&c).err().expect("errors");
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
        let compiled = compile(&c).expect("valid");
        let w = compiled.windows.get("weekend").expect("window");
        // Saturday 2026-12-05 23:00 in Berlin (UTC+1) is 22:00 UTC.
        let at = parse_ts_str("2026-12-05T22:30:00Z").expect("time");
        assert!(w.is_open(at));
        assert!(!w.is_open(parse_ts_str("2026-12-05T20:00:00Z").expect("time")));
    }

    #[test]
    fn silence_ids_are_uuids() {
        let id = silence_id().expect("id");
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(!is_uuid("nope"));
    }
}
