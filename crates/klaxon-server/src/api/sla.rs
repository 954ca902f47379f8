//! SLA compliance and escalation statistics: `GET /alerts/sla/dashboard` (per period, team
//! and severity: how many alerts were acknowledged and resolved within their targets, and the
//! breaches told) and `GET /alerts/metrics/escalation` (escalations started and acknowledged,
//! pages per policy, level and reason). Both read a bounded window of stored rows.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{SlaAlert, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::wall_ms;
use crate::config::Sla;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::openapi::shape::{Schema, Shape};
use crate::state::AppState;

/// The longest window, in ms: 90 days.
const MAX_WINDOW_MS: i64 = 90 * 86_400_000;
/// The default window: the last 7 days.
const DEFAULT_WINDOW_MS: i64 = 7 * 86_400_000;
/// The shortest period.
const MIN_PERIOD_MS: i64 = 3_600_000;
/// Periods in one answer at most.
const MAX_PERIODS: i64 = 366;
/// Rows read at most; beyond, the answer says `truncated`.
pub(crate) const MAX_ROWS: usize = 100_000;
/// Breaches listed at most (the newest).
const MAX_BREACHES: usize = 100;

/// The query of both endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct WindowQuery {
    since: Option<String>,
    until: Option<String>,
    period: Option<String>,
}

impl Schema for WindowQuery {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "since",
                Shape::time().describe("the window's start (default: 7 days before `until`)"),
            )
            .opt(
                "until",
                Shape::time().describe("the window's end (default: now)"),
            )
            .opt(
                "period",
                Shape::string().describe(
                    "the SLA dashboard's period length, e.g. `1d` (at least 1h; default: the \
                     whole window in one period)",
                ),
            )
    }
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// The window [since, until) and the period length of a query.
fn window(q: &WindowQuery, now: i64) -> ApiResult<(i64, i64, i64)> {
    let time = |field: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
        v.as_deref()
            .map(|t| {
                parse_ts_str(t).map_err(|_| bad(format!("{field}: {t:?} is not an RFC 3339 time")))
            })
            .transpose()
    };
    let until = time("until", &q.until)?.unwrap_or(now);
    let since = time("since", &q.since)?.unwrap_or(until - DEFAULT_WINDOW_MS);
    if since >= until {
        return Err(bad("since: must be before until".to_owned()));
    }
    if until - since > MAX_WINDOW_MS {
        return Err(bad(
            "since: the window is longer than the limit of 90 days".to_owned()
        ));
    }
    let period = match q.period.as_deref() {
        None => until - since,
        Some(p) => {
            let ms = klaxon_engine::duration::parse_ms(p, None)
                .map_err(|e| bad(format!("period: {e}")))?;
            if ms < MIN_PERIOD_MS {
                return Err(bad(format!("period: {p:?} is shorter than 1h")));
            }
            if (until - since).saturating_add(ms - 1) / ms > MAX_PERIODS {
                return Err(bad(format!(
                    "period: {p:?} makes more than {MAX_PERIODS} periods of the window"
                )));
            }
            ms
        }
    };
    Ok((since, until, period))
}

/// Met, breached, and still within the target, of one action.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    met: u64,
    breached: u64,
    open: u64,
}

impl Tally {
    /// Counts one alert: `done` when the action happened (ms), `target` its target.
    fn count(&mut self, first_seen: i64, done: Option<i64>, target: i64, now: i64) {
        match done {
            Some(at) if at - first_seen <= target => self.met += 1,
            Some(_) => self.breached += 1,
            None if now - first_seen > target => self.breached += 1,
            None => self.open += 1,
        }
    }

    fn json(self) -> Value {
        let judged = self.met + self.breached;
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let compliance = (judged > 0).then(|| self.met as f64 / judged as f64);
        json!({
            "met": self.met,
            "breached": self.breached,
            "within_target": self.open,
            "compliance": compliance,
        })
    }
}

/// Both actions of a group of alerts.
#[derive(Debug, Default, Clone, Copy)]
struct Group {
    alerts: u64,
    acknowledge: Tally,
    resolve: Tally,
}

impl Group {
    fn add(&mut self, a: &SlaAlert, sla: &Sla, now: i64) {
        let t = sla.target(&a.severity, a.team.as_deref());
        if t.acknowledge.is_none() && t.resolve.is_none() {
            return;
        }
        self.alerts += 1;
        if let Some(ms) = t.acknowledge {
            self.acknowledge
                .count(a.first_seen, a.acknowledged_at, ms, now);
        }
        if let Some(ms) = t.resolve {
            self.resolve.count(a.first_seen, a.resolved_at, ms, now);
        }
    }

    fn json(self) -> Value {
        json!({
            "alerts": self.alerts,
            "acknowledge": self.acknowledge.json(),
            "resolve": self.resolve.json(),
        })
    }
}

fn group_shape() -> Shape {
    let tally = Shape::object()
        .req("met", Shape::count())
        .req("breached", Shape::count())
        .req(
            "within_target",
            Shape::count().describe("not done yet, and its target has not passed"),
        )
        .req(
            "compliance",
            Shape::number()
                .nullable()
                .describe("met / (met + breached); null when nothing was judged"),
        )
        .named("SlaTally");
    Shape::object()
        .req(
            "alerts",
            Shape::count().describe("alerts with a target (first seen in the window)"),
        )
        .req("acknowledge", tally.clone())
        .req("resolve", tally)
}

/// `GET /alerts/sla/dashboard`.
pub(crate) async fn dashboard<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<WindowQuery>,
) -> ApiResult<Json<Value>> {
    let now = wall_ms();
    let (since, until, period) = window(&q, now)?;
    let sla = st.config.escalations().map(|e| e.sla).unwrap_or_default();
    let alerts = st.store.sla_alerts(since, until, MAX_ROWS).await?;
    let truncated = alerts.len() >= MAX_ROWS;
    let mut overall = Group::default();
    let mut by_severity: BTreeMap<String, Group> = BTreeMap::new();
    let mut by_team: BTreeMap<String, Group> = BTreeMap::new();
    let mut periods: BTreeMap<i64, Group> = BTreeMap::new();
    for a in &alerts {
        overall.add(a, &sla, now);
        by_severity
            .entry(a.severity.clone())
            .or_default()
            .add(a, &sla, now);
        if let Some(t) = &a.team {
            by_team.entry(t.clone()).or_default().add(a, &sla, now);
        }
        let p = since + (a.first_seen - since) / period * period;
        periods.entry(p).or_default().add(a, &sla, now);
    }
    let mut breaches = st.store.sla_breaches(since, until, MAX_ROWS).await?;
    let told = breaches.len();
    let newest: Vec<Value> = breaches
        .drain(..)
        .rev()
        .take(MAX_BREACHES)
        .map(|b| {
            json!({
                "alert": b.subject.strip_prefix("alert:").and_then(|i| i.parse::<i64>().ok()),
                "what": b.what,
                "severity": b.severity,
                "team": b.team,
                "target_ms": b.target_ms,
                "at": format_ts(b.at),
            })
        })
        .collect();
    let list = |m: BTreeMap<String, Group>, key: &str| -> Vec<Value> {
        m.into_iter()
            .filter(|(_, g)| g.alerts > 0)
            .map(|(k, g)| {
                let mut v = g.json();
                v[key] = json!(k);
                v
            })
            .collect()
    };
    let mut period_list = Vec::new();
    let mut start = since;
    while start < until {
        let mut v = periods.remove(&start).unwrap_or_default().json();
        v["start"] = json!(format_ts(start));
        v["end"] = json!(format_ts(start.saturating_add(period).min(until)));
        period_list.push(v);
        start = start.saturating_add(period);
    }
    Ok(Json(json!({
        "since": format_ts(since),
        "until": format_ts(until),
        "overall": overall.json(),
        "by_severity": list(by_severity, "severity"),
        "by_team": list(by_team, "team"),
        "periods": period_list,
        "breaches": {"told": told, "newest": newest},
        "truncated": truncated,
    })))
}

pub(crate) fn dashboard_shape() -> Shape {
    let with = |key: &str| group_shape().req(key, Shape::string());
    let breach = Shape::object()
        .req("alert", Shape::integer().nullable())
        .req("what", Shape::string().describe("acknowledge or resolve"))
        .req("severity", Shape::string())
        .req("team", Shape::string().nullable())
        .req("target_ms", Shape::count())
        .req("at", Shape::time().describe("when the target passed"));
    Shape::object()
        .req("since", Shape::time())
        .req("until", Shape::time())
        .req("overall", group_shape())
        .req("by_severity", Shape::array(with("severity")))
        .req(
            "by_team",
            Shape::array(with("team")).describe("by the alerts' `team` label"),
        )
        .req(
            "periods",
            Shape::array(with("start").req("end", Shape::time())),
        )
        .req(
            "breaches",
            Shape::object()
                .req("told", Shape::count())
                .req("newest", Shape::array(breach)),
        )
        .req(
            "truncated",
            Shape::boolean().describe("more alerts than one answer reads: narrow the window"),
        )
}

/// What a page's reason says, as a name.
fn reason_kind(reason: &str) -> &'static str {
    if reason.starts_with("escalation started") {
        "started"
    } else if reason.contains("of the last level; repeat") {
        "repeated"
    } else if reason.starts_with("nobody acknowledged") {
        "not_acknowledged"
    } else if reason.starts_with("the acknowledgement expired") {
        "acknowledgement_expired"
    } else {
        "by_hand"
    }
}

/// `GET /alerts/metrics/escalation`.
pub(crate) async fn escalation<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<WindowQuery>,
) -> ApiResult<Json<Value>> {
    let (since, until, _) = window(&q, wall_ms())?;
    let started = st.store.escalations_started(since, until, MAX_ROWS).await?;
    let pages = st.store.escalation_pages(since, until, MAX_ROWS).await?;
    let truncated = started.len() >= MAX_ROWS || pages.len() >= MAX_ROWS;
    #[derive(Default)]
    struct PolicyStats {
        escalations: u64,
        acknowledged: u64,
        ack_ms: i64,
        pages: u64,
        levels: BTreeMap<i64, u64>,
    }
    let mut policies: BTreeMap<String, PolicyStats> = BTreeMap::new();
    let (mut acknowledged, mut ack_ms) = (0u64, 0i64);
    for e in &started {
        let p = policies.entry(e.policy.clone()).or_default();
        p.escalations += 1;
        if let Some(at) = e.acknowledged_at {
            p.acknowledged += 1;
            p.ack_ms += at - e.started_at;
            acknowledged += 1;
            ack_ms += at - e.started_at;
        }
    }
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for pg in &pages {
        let p = policies.entry(pg.policy.clone()).or_default();
        p.pages += 1;
        *p.levels.entry(pg.level + 1).or_default() += 1;
        *reasons.entry(reason_kind(&pg.reason)).or_default() += 1;
    }
    let mean = |n: u64, total: i64| (n > 0).then(|| total / i64::try_from(n).unwrap_or(1));
    let by_policy: Vec<Value> = policies
        .into_iter()
        .map(|(name, p)| {
            json!({
                "policy": name,
                "escalations": p.escalations,
                "acknowledged": p.acknowledged,
                "mean_time_to_acknowledge_ms": mean(p.acknowledged, p.ack_ms),
                "pages": p.pages,
                "levels": p.levels.into_iter()
                    .map(|(level, pages)| json!({"level": level, "pages": pages}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "since": format_ts(since),
        "until": format_ts(until),
        "escalations": started.len(),
        "acknowledged": acknowledged,
        "mean_time_to_acknowledge_ms": mean(acknowledged, ack_ms),
        "pages": pages.len(),
        "by_reason": reasons,
        "by_policy": by_policy,
        "truncated": truncated,
    })))
}

pub(crate) fn escalation_shape() -> Shape {
    let ms = || {
        Shape::count()
            .nullable()
            .describe("from the start to the first acknowledgement; null without one")
    };
    let policy = Shape::object()
        .req("policy", Shape::string())
        .req("escalations", Shape::count())
        .req("acknowledged", Shape::count())
        .req("mean_time_to_acknowledge_ms", ms())
        .req("pages", Shape::count())
        .req(
            "levels",
            Shape::array(
                Shape::object()
                    .req("level", Shape::count().describe("1-based"))
                    .req("pages", Shape::count()),
            ),
        );
    Shape::object()
        .req("since", Shape::time())
        .req("until", Shape::time())
        .req(
            "escalations",
            Shape::count().describe("escalations started in the window"),
        )
        .req("acknowledged", Shape::count())
        .req("mean_time_to_acknowledge_ms", ms())
        .req(
            "pages",
            Shape::count().describe("levels paged in the window"),
        )
        .req(
            "by_reason",
            Shape::map(Shape::count()).describe(
                "pages by why: started, not_acknowledged, repeated, acknowledgement_expired, \
                 by_hand",
            ),
        )
        .req("by_policy", Shape::array(policy))
        .req(
            "truncated",
            Shape::boolean().describe("more rows than one answer reads: narrow the window"),
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn q(since: Option<&str>, until: Option<&str>, period: Option<&str>) -> WindowQuery {
        WindowQuery {
            since: since.map(str::to_owned),
            until: until.map(str::to_owned),
            period: period.map(str::to_owned),
        }
    }

    #[test]
    fn windows_and_periods_are_bounded() {
        let now = 1_800_000_000_000;
        assert_eq!(
            window(&q(None, None, None), now).unwrap(),
            (now - DEFAULT_WINDOW_MS, now, DEFAULT_WINDOW_MS)
        );
        assert_eq!(
            window(&q(None, None, Some("1d")), now).unwrap().2,
            86_400_000
        );
        let (since, until) = (Some("2026-01-01T00:00:00Z"), Some("2026-03-01T00:00:00Z"));
        for (p, why) in [("59m", "shorter than 1h"), ("1h", "more than 366 periods")] {
            let e = window(&q(since, until, Some(p)), now).unwrap_err();
            assert!(format!("{e:?}").contains(why), "{p}: {e:?}");
        }
        // A period longer than the window is the window, without overflowing.
        assert!(window(&q(since, until, Some("9999999w")), now).is_ok());
    }

    #[test]
    fn a_target_is_met_breached_or_still_open() {
        let mut t = Tally::default();
        t.count(0, Some(5), 10, 100);
        t.count(0, Some(11), 10, 100);
        t.count(0, None, 10, 100);
        t.count(95, None, 10, 100);
        let v = t.json();
        assert_eq!(
            (v["met"].as_u64(), v["breached"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(v["within_target"], 1);
        assert!((v["compliance"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(Tally::default().json()["compliance"], Value::Null);
    }
}
