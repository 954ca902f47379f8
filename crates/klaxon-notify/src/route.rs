//! The routing tree, as Alertmanager's: a root route that takes every alert, child routes that
//! take the alerts their label matchers (`=`, `!=`, `=~`, `!~`) accept, depth first, the first
//! matching child winning unless it says `continue`. Children inherit the receiver and the
//! grouping settings of their parent. Alerts whose rule names receivers directly also go to
//! those receivers (see [`crate::Notifier::targets`]). A route may hold its notifications
//! during named time intervals (`mute_time_intervals`) or send them only during others
//! (`active_time_intervals`), as Alertmanager's routes do; neither is inherited. Pure: no I/O,
//! no clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_engine::matcher::{self, Matcher};
use klaxon_engine::noise::TimeInterval;
use serde::Deserialize;

use crate::duration::Millis;
use crate::notification::AlertView;

/// A route as written in the configuration (`[route]`, `[[route.routes]]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Receiver name; the root route must have one, children inherit it.
    pub receiver: Option<String>,
    /// Label matchers, each like `severity="critical"` or `team=~"db|infra"`; all must hold.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Labels that make a group; `["..."]` groups by every label (one alert per group).
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<Millis>,
    pub group_interval: Option<Millis>,
    pub repeat_interval: Option<Millis>,
    /// The escalation policy the route's alerts follow; children inherit it.
    #[serde(default)]
    pub escalation_policy: Option<String>,
    /// Keep looking at the following siblings after this route matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Names of `[[time_intervals]]` during which the route's notifications are held (not
    /// inherited by child routes, as in Alertmanager).
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Names of `[[time_intervals]]` outside which the route's notifications are held (not
    /// inherited).
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// The compiled time intervals a routing tree may name, by name.
pub type TimeIntervals = BTreeMap<String, Arc<[TimeInterval]>>;

/// When a route's notifications are held: during any interval of `mute`, and outside every
/// interval of `active` (when it names some). Compared by the names it was made of.
#[derive(Debug, Clone, Default)]
pub struct TimeMute {
    mute: Vec<(Arc<str>, Arc<[TimeInterval]>)>,
    active: Vec<(Arc<str>, Arc<[TimeInterval]>)>,
}

impl PartialEq for TimeMute {
    fn eq(&self, other: &Self) -> bool {
        let names = |v: &[(Arc<str>, Arc<[TimeInterval]>)]| {
            v.iter().map(|(n, _)| Arc::clone(n)).collect::<Vec<_>>()
        };
        names(&self.mute) == names(&other.mute) && names(&self.active) == names(&other.active)
    }
}

impl Eq for TimeMute {}

impl TimeMute {
    /// Held during any interval of `mute`, and outside every interval of `active` when it
    /// names some; each list as (name, intervals).
    pub fn new(
        mute: Vec<(Arc<str>, Arc<[TimeInterval]>)>,
        active: Vec<(Arc<str>, Arc<[TimeInterval]>)>,
    ) -> TimeMute {
        TimeMute { mute, active }
    }

    /// Whether it holds nothing, ever.
    pub fn is_empty(&self) -> bool {
        self.mute.is_empty() && self.active.is_empty()
    }

    /// Why notifications are held at `now` (epoch ms): the mute interval that contains it, or
    /// `active` when no active interval does; `None` when they go out.
    pub fn muted_at(&self, now: i64) -> Option<String> {
        if let Some((name, _)) = self
            .mute
            .iter()
            .find(|(_, i)| klaxon_engine::noise::any_contains(i, now))
        {
            return Some(name.to_string());
        }
        let active = self.active.is_empty()
            || self
                .active
                .iter()
                .any(|(_, i)| klaxon_engine::noise::any_contains(i, now));
        (!active).then(|| "outside the active time intervals".to_owned())
    }
}

/// The name in `group_by` that stands for the incident an alert is in, not for a label.
pub const INCIDENT: &str = "incident";

/// How alerts are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// Every label: each alert is its own group.
    All,
    /// These labels (none: one group for the whole route).
    Labels(Vec<String>),
}

impl GroupBy {
    /// Whether it groups by the incident an alert is in (the name `incident` in `group_by`).
    pub fn by_incident(&self) -> bool {
        matches!(self, GroupBy::Labels(names) if names.iter().any(|n| n == INCIDENT))
    }

    /// The group's label values for `labels` (missing labels are left out).
    pub fn group_labels(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        match self {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }
}

/// When a group's notifications go out, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From a new group's first alert to its first notification.
    pub group_wait: i64,
    /// From one notification of a group to the next that tells something new.
    pub group_interval: i64,
    /// From one firing notification to its repetition when nothing changed.
    pub repeat_interval: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            group_wait: 30_000,
            group_interval: 300_000,
            repeat_interval: 4 * 3_600_000,
        }
    }
}

/// Where one alert goes: a receiver, with the route's grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Identifies the route (`{}`, `{}/{team="db"}`, `direct`).
    pub route: Arc<str>,
    pub receiver: Arc<str>,
    pub group_by: Arc<GroupBy>,
    pub timing: Timing,
    /// The escalation policy of the route (its own or inherited), if any.
    pub escalation_policy: Option<Arc<str>>,
    /// The route's own mute and active time intervals.
    pub time_mute: TimeMute,
}

impl Target {
    /// The group key of `labels` on this target, as in Alertmanager:
    /// `<route id>:{label="value", ...}`.
    pub fn group_key(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> (String, BTreeMap<String, String>) {
        self.key_of(self.group_by.group_labels(labels))
    }

    /// The group key of an alert on this target. A target that groups by `incident` puts the
    /// alert's incident id under that name (in place of any label so named); an alert in no
    /// incident there is grouped by all its labels, alone as a rule, never with strangers.
    pub fn group_key_of(&self, alert: &AlertView) -> (String, BTreeMap<String, String>) {
        if !self.group_by.by_incident() {
            return self.group_key(&alert.labels);
        }
        match alert.incident {
            Some(id) => {
                let mut g = self.group_by.group_labels(&alert.labels);
                g.insert(INCIDENT.to_owned(), id.to_string());
                self.key_of(g)
            }
            None => self.key_of(GroupBy::All.group_labels(&alert.labels)),
        }
    }

    fn key_of(&self, g: BTreeMap<String, String>) -> (String, BTreeMap<String, String>) {
        let mut key = String::with_capacity(64);
        key.push_str(&self.route);
        if self.route.starts_with("direct") {
            key.push('/');
            key.push_str(&self.receiver);
        }
        key.push_str(":{");
        for (i, (k, v)) in g.iter().enumerate() {
            if i > 0 {
                key.push_str(", ");
            }
            key.push_str(k);
            key.push_str("=\"");
            for c in v.chars() {
                match c {
                    '"' => key.push_str("\\\""),
                    '\\' => key.push_str("\\\\"),
                    '\n' => key.push_str("\\n"),
                    c => key.push(c),
                }
            }
            key.push('"');
        }
        key.push('}');
        (key, g)
    }
}

/// A compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    pub target: Target,
    matchers: Vec<Matcher>,
    continue_matching: bool,
    routes: Vec<Route>,
}

impl Route {
    /// Compiles the root route; `receivers` are the configured names. Every error is returned,
    /// each naming its key (`route.routes[1].matchers[0]: ...`).
    pub fn compile(config: &RouteConfig, receivers: &[&str]) -> Result<Route, Vec<String>> {
        Route::compile_with(config, receivers, &TimeIntervals::new())
    }

    /// [`Route::compile`], with the time intervals routes may name.
    pub fn compile_with(
        config: &RouteConfig,
        receivers: &[&str],
        intervals: &TimeIntervals,
    ) -> Result<Route, Vec<String>> {
        let mut errors = Vec::new();
        if !config.matchers.is_empty() {
            errors.push(
                "route.matchers: the root route takes every alert; it has no matchers".to_owned(),
            );
        }
        if config.receiver.is_none() {
            errors.push("route.receiver: the root route needs a receiver".to_owned());
        }
        let root = Inherited {
            receiver: String::new(),
            escalation_policy: None,
            group_by: GroupBy::Labels(Vec::new()),
            timing: Timing::default(),
        };
        for key in ["mute_time_intervals", "active_time_intervals"] {
            let named = if key == "mute_time_intervals" {
                &config.mute_time_intervals
            } else {
                &config.active_time_intervals
            };
            if !named.is_empty() {
                errors.push(format!(
                    "route.{key}: the root route takes every alert; it has no time intervals"
                ));
            }
        }
        let names = Names {
            receivers,
            intervals,
        };
        let route = compile(config, &root, "route", "{}".to_owned(), &names, &mut errors);
        if errors.is_empty() {
            Ok(route)
        } else {
            Err(errors)
        }
    }

    /// The targets of an alert with these labels, in tree order.
    pub fn targets(&self, labels: &BTreeMap<String, String>) -> Vec<&Target> {
        let mut out = Vec::new();
        self.walk(labels, &mut out);
        out
    }

    fn walk<'a>(&'a self, labels: &BTreeMap<String, String>, out: &mut Vec<&'a Target>) -> bool {
        if !self.matchers.iter().all(|m| m.matches(labels)) {
            return false;
        }
        let before = out.len();
        for child in &self.routes {
            if child.walk(labels, out) && !child.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(&self.target);
        }
        true
    }

    /// The escalation policy of an alert with these labels: that of the first route (in tree
    /// order) that takes it and has one.
    pub fn escalation_policy(&self, labels: &BTreeMap<String, String>) -> Option<Arc<str>> {
        self.targets(labels)
            .into_iter()
            .find_map(|t| t.escalation_policy.clone())
    }

    /// Every escalation policy the tree names, with the key that names it.
    pub fn escalation_policies(c: &RouteConfig) -> Vec<(String, String)> {
        fn walk(c: &RouteConfig, at: &str, out: &mut Vec<(String, String)>) {
            if let Some(p) = &c.escalation_policy {
                out.push((format!("{at}.escalation_policy"), p.clone()));
            }
            for (i, child) in c.routes.iter().enumerate() {
                walk(child, &format!("{at}.routes[{i}]"), out);
            }
        }
        let mut out = Vec::new();
        walk(c, "route", &mut out);
        out
    }

    /// Every receiver the tree can choose.
    pub fn receivers(&self) -> Vec<&str> {
        let mut v = vec![&*self.target.receiver];
        for r in &self.routes {
            v.extend(r.receivers());
        }
        v
    }
}

struct Inherited {
    receiver: String,
    escalation_policy: Option<Arc<str>>,
    group_by: GroupBy,
    timing: Timing,
}

/// What a route may name.
struct Names<'a> {
    receivers: &'a [&'a str],
    intervals: &'a TimeIntervals,
}

fn compile(
    c: &RouteConfig,
    parent: &Inherited,
    at: &str,
    id: String,
    names: &Names<'_>,
    errors: &mut Vec<String>,
) -> Route {
    let receivers = names.receivers;
    let receiver = c
        .receiver
        .clone()
        .unwrap_or_else(|| parent.receiver.clone());
    if let Some(r) = &c.receiver {
        if !receivers.contains(&r.as_str()) {
            errors.push(format!("{at}.receiver: no receiver is named `{r}`"));
        }
    }
    let group_by = match &c.group_by {
        None => parent.group_by.clone(),
        Some(v) if v.iter().any(|l| l == "...") => {
            if v.len() > 1 {
                errors.push(format!(
                    "{at}.group_by: `...` groups by every label and stands alone"
                ));
            }
            GroupBy::All
        }
        Some(v) => GroupBy::Labels(v.clone()),
    };
    let timing = Timing {
        group_wait: c.group_wait.map_or(parent.timing.group_wait, |m| m.0),
        group_interval: c
            .group_interval
            .map_or(parent.timing.group_interval, |m| m.0),
        repeat_interval: c
            .repeat_interval
            .map_or(parent.timing.repeat_interval, |m| m.0),
    };
    if timing.repeat_interval <= 0 {
        errors.push(format!("{at}.repeat_interval: must be more than 0"));
    }
    let mut matchers = Vec::new();
    for (i, m) in c.matchers.iter().enumerate() {
        match matcher::parse_filter(m) {
            Ok(ms) => matchers.extend(ms),
            Err(e) => errors.push(format!("{at}.matchers[{i}]: {e}")),
        }
    }
    let escalation_policy = match &c.escalation_policy {
        Some(p) => Some(Arc::from(p.as_str())),
        None => parent.escalation_policy.clone(),
    };
    let here = Inherited {
        receiver: receiver.clone(),
        escalation_policy: escalation_policy.clone(),
        group_by: group_by.clone(),
        timing,
    };
    let mut routes = Vec::new();
    for (i, child) in c.routes.iter().enumerate() {
        let mut child_id = format!("{id}/{{{}}}", child.matchers.join(","));
        if c.routes[..i].iter().any(|s| s.matchers == child.matchers) {
            child_id.push_str(&format!("/{i}"));
        }
        routes.push(compile(
            child,
            &here,
            &format!("{at}.routes[{i}]"),
            child_id,
            names,
            errors,
        ));
    }
    let mut lookup = |key: &str, list: &[String]| -> Vec<(Arc<str>, Arc<[TimeInterval]>)> {
        list.iter()
            .enumerate()
            .filter_map(|(i, n)| match names.intervals.get(n) {
                Some(iv) => Some((Arc::from(n.as_str()), Arc::clone(iv))),
                None => {
                    errors.push(format!("{at}.{key}[{i}]: no time interval is named `{n}`"));
                    None
                }
            })
            .collect()
    };
    let time_mute = TimeMute {
        mute: lookup("mute_time_intervals", &c.mute_time_intervals),
        active: lookup("active_time_intervals", &c.active_time_intervals),
    };
    Route {
        target: Target {
            route: Arc::from(id),
            receiver: Arc::from(receiver),
            group_by: Arc::new(group_by),
            timing,
            escalation_policy,
            time_mute,
        },
        matchers,
        continue_matching: c.continue_matching,
        routes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tree() -> Route {
        let c: RouteConfig = toml::from_str(
            r#"
            receiver = "default"
            group_by = ["alertname"]
            [[routes]]
            matchers = ['severity="critical"']
            receiver = "pager"
            continue = true
            group_wait = "0s"
            [[routes]]
            matchers = ['team=~"db|infra"']
            receiver = "db"
              [[routes.routes]]
              matchers = ['env!="prod"']
              receiver = "db-dev"
            [[routes]]
            matchers = ['severity="critical"', 'team!~"web.*"']
            receiver = "ops"
            "#,
        )
        .expect("valid route");
        Route::compile(&c, &["default", "pager", "db", "db-dev", "ops"]).expect("compiles")
    }

    fn receivers(r: &Route, l: &[(&str, &str)]) -> Vec<String> {
        r.targets(&labels(l))
            .iter()
            .map(|t| t.receiver.to_string())
            .collect()
    }

    #[test]
    fn child_routes_inherit_the_escalation_policy_unless_they_name_their_own() {
        let c: RouteConfig = toml::from_str(
            r#"
            receiver = "default"
            [[routes]]
            matchers = ['team="db"']
            escalation_policy = "db-critical"
              [[routes.routes]]
              matchers = ['env="prod"']
              receiver = "db"
              [[routes.routes]]
              matchers = ['env="dev"']
              escalation_policy = "quiet"
            [[routes]]
            matchers = ['team="web"']
            "#,
        )
        .expect("valid route");
        let r = Route::compile(&c, &["default", "db"]).expect("compiles");
        let policy = |l: &[(&str, &str)]| r.escalation_policy(&labels(l)).map(|p| p.to_string());
        assert_eq!(
            policy(&[("team", "db"), ("env", "prod")]).as_deref(),
            Some("db-critical")
        );
        assert_eq!(
            policy(&[("team", "db"), ("env", "dev")]).as_deref(),
            Some("quiet")
        );
        assert_eq!(policy(&[("team", "db")]).as_deref(), Some("db-critical"));
        assert_eq!(policy(&[("team", "web")]), None);
        assert_eq!(
            Route::escalation_policies(&c),
            [
                (
                    "route.routes[0].escalation_policy".to_owned(),
                    "db-critical".to_owned()
                ),
                (
                    "route.routes[0].routes[1].escalation_policy".to_owned(),
                    "quiet".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn first_match_wins_unless_continue() {
        let r = tree();
        assert_eq!(receivers(&r, &[("severity", "low")]), ["default"]);
        assert_eq!(
            receivers(&r, &[("severity", "critical"), ("team", "web")]),
            ["pager"]
        );
        assert_eq!(
            receivers(
                &r,
                &[("severity", "critical"), ("team", "db"), ("env", "prod")]
            ),
            ["pager", "db"]
        );
        assert_eq!(
            receivers(&r, &[("team", "infra"), ("env", "dev")]),
            ["db-dev"]
        );
        assert_eq!(receivers(&r, &[("severity", "critical")]), ["pager", "ops"]);
    }

    #[test]
    fn children_inherit_and_override_grouping() {
        let r = tree();
        let t = r.targets(&labels(&[("severity", "critical"), ("alertname", "X")]));
        assert_eq!(t[0].timing.group_wait, 0);
        assert_eq!(
            t[1].timing.group_wait, 30_000,
            "ops inherits the root's wait"
        );
        let (key, g) = t[0].group_key(&labels(&[("severity", "critical"), ("alertname", "X")]));
        assert_eq!(key, "{}/{severity=\"critical\"}:{alertname=\"X\"}");
        assert_eq!(g, labels(&[("alertname", "X")]));
    }

    #[test]
    fn errors_name_their_keys() {
        let c: RouteConfig = toml::from_str(
            r#"
            receiver = "nobody"
            [[routes]]
            matchers = ['severity=~"(unclosed"']
            group_by = ["...", "x"]
            "#,
        )
        .expect("parses");
        let errs = Route::compile(&c, &["default"]).expect_err("invalid");
        assert!(
            errs.iter()
                .any(|e| e.starts_with("route.receiver: no receiver is named `nobody`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("route.routes[0].matchers[0]:")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("route.routes[0].group_by:")),
            "{errs:?}"
        );
    }
}
