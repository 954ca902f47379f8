//! Alertmanager API v2 reads of alerts: `GET /api/v2/alerts` and `GET /api/v2/alerts/groups`,
//! klaxon's open alerts in Alertmanager's shapes, filtered as Alertmanager filters them.
//! Shapes and filters only: the states come from the store, why an alert is quiet from the
//! lifecycle manager (`Command::Muted`), the receivers and groups from the routing tree of the
//! notification configuration (`klaxon_notify::Notifier::targets`, `Target::group_key`).
//!
//! - States map as: `active` and `acknowledged` → `active`; `suppressed` → `suppressed`,
//!   silenced by the silence's id (or `maintenance:<name>`); an alert an inhibition rule holds
//!   everywhere → `suppressed`, inhibited by the source alert's fingerprint; `pending` →
//!   `unprocessed`. Resolved and closed alerts are not listed, as Alertmanager does not list
//!   ended alerts.
//! - An alert's receivers are those the routing tree (and the receivers its rule names) give
//!   it; an alert that reaches none shows the rule's handler, or `klaxon`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use klaxon_engine::lifecycle::{Mute, State as AlertState};
use klaxon_engine::matcher::{self, Matcher, Op, Regex};
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{HistoryQuery, Source, Store, StoredAlert};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::alertmanager::{bad_request, decode, RECEIVER};
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::pipeline::lifecycle::Command;
use crate::state::AppState;

/// Alerts read from the store per page when listing.
const PAGE: usize = 1000;

/// The query of `GET /api/v2/alerts` and `GET /api/v2/alerts/groups`.
#[derive(Debug)]
pub(crate) struct ListParams {
    active: bool,
    silenced: bool,
    inhibited: bool,
    unprocessed: bool,
    /// Groups only (Alertmanager 0.28+): alerts muted by a time interval. klaxon mutes no alert
    /// that way (its maintenance windows suppress), so `false` leaves out nothing.
    muted: bool,
    filter: Vec<Matcher>,
    receiver: Option<Regex>,
}

pub(crate) fn parse_params(raw: &str) -> Result<ListParams, String> {
    let mut p = ListParams {
        active: true,
        silenced: true,
        inhibited: true,
        unprocessed: true,
        muted: true,
        filter: Vec::new(),
        receiver: None,
    };
    for pair in raw.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        let flag = match k.as_str() {
            "active" => &mut p.active,
            "silenced" => &mut p.silenced,
            "inhibited" => &mut p.inhibited,
            "unprocessed" => &mut p.unprocessed,
            "muted" => &mut p.muted,
            "filter" => {
                p.filter.extend(matcher::parse_filter(&v)?);
                continue;
            }
            "receiver" => {
                p.receiver = Some(Regex::new(&v).map_err(|e| format!("receiver: {e}"))?);
                continue;
            }
            _ => continue,
        };
        // Go's strconv.ParseBool, which Alertmanager's query parsing uses.
        *flag = match v.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => return Err(format!("{k}: `{v}` is not a boolean")),
        };
    }
    Ok(p)
}

/// One listed alert: its `gettableAlert`, and the groups it is in (receiver, group key, group
/// labels).
struct Listed {
    fingerprint: String,
    gettable: Value,
    groups: Vec<(String, String, BTreeMap<String, String>)>,
}

/// Alertmanager's view of one alert's status.
struct AmStatus {
    state: &'static str,
    silenced_by: Vec<String>,
    inhibited_by: Vec<String>,
    /// Time intervals that mute it: none in klaxon (its maintenance windows suppress).
    muted_by: Vec<String>,
}

/// `GET /api/v2/alerts`: klaxon's open alerts as Alertmanager's `gettableAlerts`, sorted by
/// fingerprint, filtered by `active`, `silenced`, `inhibited`, `unprocessed`, `filter` and
/// `receiver` as Alertmanager filters them. Needs a reading token.
pub(crate) async fn get_alerts<S: Store + Clone>(
    State(st): State<AppState<S>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let p = match parse_params(raw.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return Ok(bad_request(e)),
    };
    let mut listed = collect(&st, p, Filter::Alerts).await?;
    listed.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    Ok(Json(Value::Array(
        listed.into_iter().map(|l| l.gettable).collect(),
    ))
    .into_response())
}

/// `GET /api/v2/alerts/groups`: the groups klaxon's routing tree forms of the open alerts,
/// each with its receiver, as Alertmanager's `alertGroups`; the same filters as
/// `GET /api/v2/alerts`, `receiver` matching the group's receiver. Groups are sorted by
/// receiver, then group labels; their alerts by fingerprint.
pub(crate) async fn get_groups<S: Store + Clone>(
    State(st): State<AppState<S>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let p = match parse_params(raw.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return Ok(bad_request(e)),
    };
    let listed = collect(&st, p, Filter::Groups).await?;
    // (receiver, group key) → (labels, alerts by fingerprint)
    type Group = (BTreeMap<String, String>, BTreeMap<String, Value>);
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for l in listed {
        for (receiver, key, labels) in l.groups {
            let g = groups
                .entry((receiver, key))
                .or_insert_with(|| (labels, BTreeMap::new()));
            g.1.insert(l.fingerprint.clone(), l.gettable.clone());
        }
    }
    let out: Vec<Value> = groups
        .into_iter()
        .map(|((receiver, _), (labels, alerts))| {
            json!({
                "labels": labels,
                "receiver": {"name": receiver},
                "alerts": alerts.into_values().collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(Value::Array(out)).into_response())
}

/// Where `receiver` applies: to any of an alert's receivers, or to a group's receiver.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    Alerts,
    Groups,
}

/// The open alerts that pass `p`, shaped.
async fn collect<S: Store + Clone>(
    st: &AppState<S>,
    p: ListParams,
    filter: Filter,
) -> ApiResult<Vec<Listed>> {
    let muted = muted(st).await;
    // Equality matchers on a non-empty value narrow the store's query; every matcher is still
    // checked below.
    let labels: Vec<(String, String)> = p
        .filter
        .iter()
        .filter_map(|m| match &m.op {
            Op::Eq(v) if !v.is_empty() => Some((m.name.clone(), v.clone())),
            _ => None,
        })
        .collect();
    let mut alerts: Vec<StoredAlert> = Vec::new();
    let mut before = None;
    loop {
        let q = HistoryQuery {
            before_id: before,
            states: vec![
                AlertState::Active,
                AlertState::Acknowledged,
                AlertState::Suppressed,
                AlertState::Pending,
            ],
            labels: labels.clone(),
            limit: PAGE,
            ..HistoryQuery::default()
        };
        let page = st.store.alert_history(q).await?;
        let full = page.len() == PAGE;
        before = page.last().map(|a| a.id);
        alerts.extend(page);
        if !full {
            break;
        }
    }
    // The fingerprints of the alerts that inhibit others (usually none); a source the query
    // left out is read.
    let sources: std::collections::HashSet<i64> = muted
        .values()
        .filter_map(|m| m.inhibited.as_ref().map(|i| i.source))
        .collect();
    let mut fingerprints: HashMap<i64, String> = alerts
        .iter()
        .filter(|a| sources.contains(&a.id))
        .map(|a| (a.id, a.fingerprint.clone()))
        .collect();
    let missing: Vec<i64> = sources
        .into_iter()
        .filter(|id| !fingerprints.contains_key(id))
        .collect();
    for id in missing {
        if let Ok(a) = st.store.get_alert(id).await {
            fingerprints.insert(id, a.fingerprint);
        }
    }
    let now = wall_ms();
    let (settings, notifier) = (st.config.lifecycle.clone(), Arc::clone(&st.notify.notifier));
    // Matching (regexes included), routing and shaping is CPU work: off the async workers.
    tokio::task::spawn_blocking(move || {
        alerts
            .iter()
            .filter_map(|a| {
                let labels = alert_labels(a);
                if !p.filter.iter().all(|m| m.matches(&labels)) {
                    return None;
                }
                let status = am_status(a, muted.get(&a.id).map(Arc::as_ref), &fingerprints);
                let keep = match status.state {
                    "active" => p.active,
                    "unprocessed" => p.unprocessed,
                    _ => true,
                } && (p.silenced || status.silenced_by.is_empty())
                    && (p.inhibited || status.inhibited_by.is_empty())
                    && (p.muted || status.muted_by.is_empty());
                if !keep {
                    return None;
                }
                // (receiver, group key, group labels); group keys only for groups.
                let mut groups: Vec<(String, String, BTreeMap<String, String>)> = Vec::new();
                if notifier.enabled() {
                    let routed = crate::pipeline::notify::routing_labels(a);
                    let named = crate::pipeline::notify::named_receivers(a);
                    for t in notifier.targets_of(&routed, &named) {
                        let (key, g) = match filter {
                            Filter::Groups => t.group_key(&routed),
                            Filter::Alerts => (String::new(), BTreeMap::new()),
                        };
                        groups.push((t.receiver.to_string(), key, g));
                    }
                }
                if groups.is_empty() {
                    let r = receiver_of(a).to_owned();
                    let key = match filter {
                        Filter::Groups => format!("{{}}/{r}:{{}}"),
                        Filter::Alerts => String::new(),
                    };
                    groups.push((r, key, BTreeMap::new()));
                }
                let mut receivers: Vec<String> = Vec::new();
                for (r, _, _) in &groups {
                    if !receivers.contains(r) {
                        receivers.push(r.clone());
                    }
                }
                if let Some(re) = &p.receiver {
                    match filter {
                        Filter::Alerts if !receivers.iter().any(|r| re.is_match(r)) => return None,
                        Filter::Groups => {
                            groups.retain(|(r, _, _)| re.is_match(r));
                            if groups.is_empty() {
                                return None;
                            }
                        }
                        Filter::Alerts => {}
                    }
                }
                Some(Listed {
                    fingerprint: a.fingerprint.clone(),
                    gettable: gettable(&settings, a, labels, &receivers, status, now),
                    groups,
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)
}

/// Every alert the lifecycle manager mutes now, by id; none when it cannot answer in time.
async fn muted<S: Store + Clone>(st: &AppState<S>) -> HashMap<i64, Arc<Mute>> {
    let (tx, rx) = oneshot::channel();
    match st.command(Command::Muted { reply: tx }) {
        // Bounded: a manager retrying a commit (a full disk) must not hang a read.
        Ok(()) => st
            .committed(rx)
            .await
            .map(|v| v.into_iter().collect())
            .unwrap_or_default(),
        Err(_) => HashMap::new(),
    }
}

fn am_status(
    a: &StoredAlert,
    mute: Option<&Mute>,
    fingerprints: &HashMap<i64, String>,
) -> AmStatus {
    let inhibited_by: Vec<String> = mute
        .and_then(|m| m.inhibited.as_ref())
        .and_then(|i| fingerprints.get(&i.source).cloned())
        .into_iter()
        .collect();
    match a.state {
        AlertState::Suppressed => AmStatus {
            state: "suppressed",
            silenced_by: match a.suppressed_by.as_deref().and_then(|b| b.split_once(':')) {
                Some(("silence", id)) => vec![id.to_owned()],
                Some((_, w)) => vec![format!("maintenance:{w}")],
                None => vec![format!("klaxon-suppression-{}", a.id)],
            },
            inhibited_by,
            muted_by: Vec::new(),
        },
        AlertState::Pending => AmStatus {
            state: "unprocessed",
            silenced_by: Vec::new(),
            inhibited_by: Vec::new(),
            muted_by: Vec::new(),
        },
        _ => AmStatus {
            state: if inhibited_by.is_empty() {
                "active"
            } else {
                "suppressed"
            },
            silenced_by: Vec::new(),
            inhibited_by,
            muted_by: Vec::new(),
        },
    }
}

/// An alert's labels as Alertmanager shows them: always with `alertname`.
fn alert_labels(a: &StoredAlert) -> BTreeMap<String, String> {
    let mut labels = a.labels.clone();
    labels
        .entry("alertname".to_owned())
        .or_insert_with(|| a.name.clone());
    labels
}

/// Engine alerts go to their rule's handler; every other alert to [`RECEIVER`].
fn receiver_of(a: &StoredAlert) -> &str {
    if a.handler.is_empty() {
        RECEIVER
    } else {
        &a.handler
    }
}

/// One alert as Alertmanager's `gettableAlert`.
fn gettable(
    settings: &crate::config::Lifecycle,
    a: &StoredAlert,
    labels: BTreeMap<String, String>,
    receivers: &[String],
    status: AmStatus,
    now: i64,
) -> Value {
    let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let timeout = secs(settings.resolve_timeout_seconds);
    // When klaxon will resolve it unless it hears more; alerts that only a person resolves look
    // like Alertmanager's alerts without endsAt: valid for another resolve timeout.
    let ends = match a.source {
        Source::Alertmanager => a.ends_at.unwrap_or(a.last_seen.saturating_add(timeout)),
        Source::Rule if settings.rule_auto_resolve_seconds > 0 => a
            .last_seen
            .saturating_add(secs(settings.rule_auto_resolve_seconds)),
        _ => now.saturating_add(timeout),
    };
    let mut annotations = a.annotations.clone();
    if a.source != Source::Alertmanager && !a.message.is_empty() {
        annotations
            .entry("summary".to_owned())
            .or_insert_with(|| a.message.clone());
    }
    let receivers: Vec<Value> = receivers.iter().map(|r| json!({"name": r})).collect();
    let mut v = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": format_ts(a.first_seen),
        "endsAt": format_ts(ends),
        "updatedAt": format_ts(a.updated_at),
        "fingerprint": a.fingerprint,
        "receivers": receivers,
        "status": {
            "state": status.state,
            "silencedBy": status.silenced_by,
            "inhibitedBy": status.inhibited_by,
            "mutedBy": status.muted_by,
        },
    });
    if let Some(u) = a.generator_url.as_deref().filter(|u| !u.is_empty()) {
        v["generatorURL"] = json!(u);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_parse_like_alertmanager() {
        let p = parse_params("active=false&silenced=0&filter=alertname%3D%22a%20b%22&filter=severity%3D~%22crit.*%22&receiver=kl.*&muted=f")
            .expect("valid");
        assert!(!p.active && !p.silenced && p.inhibited && p.unprocessed && !p.muted);
        assert_eq!(p.filter.len(), 2);
        assert!(p.receiver.is_some_and(|r| r.is_match("klaxon")));
        assert!(parse_params("active=maybe").is_err_and(|e| e.contains("not a boolean")));
        assert!(parse_params("muted=maybe").is_err_and(|e| e.contains("not a boolean")));
        assert!(parse_params("filter=%ZZ").is_err());
        assert!(parse_params("filter=alertname%3D~%22a%7B2%22")
            .is_err_and(|e| e.contains("counted repetition")));
    }
}
