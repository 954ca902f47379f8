//! Why an alert is quiet, decided in one place: [`Mute`] (suppressed by a silence or a
//! maintenance window, inhibited everywhere or along a route, flapping), and [`Muting`], the
//! state behind it: silences, windows, inhibition rules with their firing sources and the
//! targets waiting on them, flap counts. Readers (the notification dispatcher) take the
//! decision from published changes and keep no copy of this state.

use std::collections::HashSet;
use std::sync::Arc;

use super::record::{Labels, Suppressor};
use super::FastMap;
use crate::noise::{FlapSettings, Flaps, InhibitRule, Inhibitor, Silence, Silences, Windows};

/// The noise controls a lifecycle is built with.
#[derive(Debug, Clone)]
pub struct NoiseConfig {
    pub windows: Windows,
    pub inhibit: Vec<InhibitRule>,
    pub flapping: FlapSettings,
    /// How long before its end a silence that holds alerts is announced (`None`: never).
    pub notice_before_ms: Option<i64>,
}

impl Default for NoiseConfig {
    /// No windows, no inhibition, flap detection off, no notices.
    fn default() -> NoiseConfig {
        NoiseConfig {
            windows: Windows::default(),
            inhibit: Vec::new(),
            flapping: FlapSettings {
                changes: 0,
                window_ms: 0,
            },
            notice_before_ms: None,
        }
    }
}

/// Why an alert is quiet, in the documented order: inhibition everywhere, suppression
/// (windows and silences: the alert's state is `suppressed`), flapping, inhibition along a
/// route. An alert with none of these has no `Mute` at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mute {
    /// Inhibited by a rule that applies everywhere: its firing news is held.
    pub inhibited: Option<Inhibited>,
    /// Suppressed (the state says so): what holds it and until when.
    pub suppressed: Option<Suppression>,
    /// Flapping: its firing and resolved news are held until it is stable, at this instant
    /// if nothing else changes.
    pub flapping_until: Option<i64>,
    /// Inhibited by rules scoped to a route: its firing news leaves that route only.
    pub routes: Vec<Inhibited>,
}

/// What suppresses an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// `None`: suppressed by hand before silences did that (kept until `until`).
    pub by: Option<Suppressor>,
    pub until: Option<i64>,
}

/// An inhibition: the rule (by name), its route when scoped, and the firing source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inhibited {
    pub rule: Arc<str>,
    pub route: Option<Arc<str>>,
    pub source: i64,
}

/// The news a notification would tell of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    Firing,
    Acknowledged,
    Resolved,
}

/// How a held alert is shown to grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Flapping,
    Inhibited,
}

impl Held {
    pub fn as_str(self) -> &'static str {
        match self {
            Held::Flapping => "flapping",
            Held::Inhibited => "inhibited",
        }
    }
}

impl Mute {
    /// Whether `news` of the alert is held, and as what: flapping holds firing and resolved
    /// news, inhibition everywhere holds firing news. (Suppression is the alert's state.)
    pub fn holds(&self, news: News) -> Option<Held> {
        match news {
            News::Firing | News::Resolved if self.flapping_until.is_some() => Some(Held::Flapping),
            News::Firing if self.inhibited.is_some() => Some(Held::Inhibited),
            _ => None,
        }
    }

    /// The inhibition scoped to `route` that drops the alert from that route's firing news.
    pub fn inhibited_on(&self, route: &str) -> Option<&Inhibited> {
        self.routes
            .iter()
            .find(|i| i.route.as_deref() == Some(route))
    }

    pub fn is_empty(&self) -> bool {
        *self == Mute::default()
    }
}

/// Silences, windows, inhibition and flapping, as the lifecycle keeps them.
pub(crate) struct Muting {
    pub(crate) silences: Silences,
    pub(crate) windows: Windows,
    pub(crate) flaps: Flaps,
    pub(crate) notice_before: Option<i64>,
    /// (silence, end) already announced.
    pub(crate) noticed: HashSet<(String, i64)>,
    inhibitor: Inhibitor,
    names: Vec<Arc<str>>,
    routes: Vec<Option<Arc<str>>>,
    /// The distinct routes of scoped rules, sorted.
    scoped: Vec<Arc<str>>,
    /// (rule, key of the `equal` values) → open alerts the rule's targets match: who to look
    /// at again when the rule's sources under that key change.
    targets: FastMap<(u32, u64), Vec<i64>>,
    /// (rule, key) whose sources changed, gathered by the last `firing` call.
    changed: Vec<(u32, u64)>,
}

fn rule_no(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Muting {
    pub(crate) fn new(cfg: NoiseConfig, seed: u64) -> Muting {
        let names = cfg
            .inhibit
            .iter()
            .map(|r| Arc::from(r.name.as_str()))
            .collect();
        let routes: Vec<Option<Arc<str>>> = cfg
            .inhibit
            .iter()
            .map(|r| r.route.as_deref().map(Arc::from))
            .collect();
        let mut scoped: Vec<Arc<str>> = routes.iter().flatten().cloned().collect();
        scoped.sort();
        scoped.dedup();
        Muting {
            silences: Silences::default(),
            windows: cfg.windows,
            flaps: Flaps::new(cfg.flapping),
            notice_before: cfg.notice_before_ms,
            noticed: HashSet::new(),
            inhibitor: Inhibitor::new(cfg.inhibit),
            names,
            routes,
            scoped,
            targets: super::fast_map(seed),
            changed: Vec::new(),
        }
    }

    /// Loads stored silences; returns those no longer valid, with why.
    pub(crate) fn load(
        &mut self,
        silences: impl IntoIterator<Item = Silence>,
    ) -> Vec<(String, String)> {
        let mut refused = Vec::new();
        for s in silences {
            let id = s.id.clone();
            if let Err(e) = self.silences.upsert(s) {
                refused.push((id, e));
            }
        }
        refused
    }

    /// Files an open alert under the inhibition rules whose targets it matches.
    pub(crate) fn watch(&mut self, id: i64, labels: &Labels) {
        let targets = &mut self.targets;
        self.inhibitor.target_keys(labels, |i, k| {
            targets.entry((rule_no(i), k)).or_default().push(id);
        });
    }

    /// Forgets an alert that closed.
    pub(crate) fn forget(&mut self, id: i64, labels: &Labels) {
        let targets = &mut self.targets;
        self.inhibitor.target_keys(labels, |i, k| {
            let key = (rule_no(i), k);
            if let Some(ids) = targets.get_mut(&key) {
                ids.retain(|&x| x != id);
                if ids.is_empty() {
                    targets.remove(&key);
                }
            }
        });
        self.flaps.forget(id);
    }

    /// Records that an alert started (or stopped) firing, as an inhibition source. Then
    /// [`Muting::affected`] lists the alerts whose inhibition may have changed.
    pub(crate) fn firing(&mut self, id: i64, labels: &Labels, firing: bool) {
        self.changed.clear();
        let changed = &mut self.changed;
        let note = |i: usize, k: u64| changed.push((rule_no(i), k));
        if firing {
            self.inhibitor.fire_noting(id, labels, note);
        } else {
            self.inhibitor.stop_noting(id, labels, note);
        }
    }

    /// Appends to `out` the alerts filed under the rules and keys the last `firing` changed.
    pub(crate) fn affected(&self, out: &mut Vec<i64>) {
        for key in &self.changed {
            if let Some(ids) = self.targets.get(key) {
                out.extend_from_slice(ids);
            }
        }
    }

    /// The inhibition of alert `id` by rules everywhere, then along each scoped route.
    pub(crate) fn inhibition(
        &self,
        id: i64,
        labels: &Labels,
    ) -> (Option<Inhibited>, Vec<Inhibited>) {
        let named = |(i, source): (usize, i64)| Inhibited {
            rule: Arc::clone(&self.names[i]),
            route: self.routes[i].clone(),
            source,
        };
        let everywhere = self
            .inhibitor
            .find(id, labels, |r| r.route.is_none())
            .map(named);
        let routes = self
            .scoped
            .iter()
            .filter_map(|route| {
                self.inhibitor
                    .find(id, labels, |r| r.route.as_deref() == Some(&**route))
                    .map(named)
            })
            .collect();
        (everywhere, routes)
    }

    /// The whole decision for one alert.
    pub(crate) fn mute(
        &self,
        id: i64,
        labels: &Labels,
        suppressed: Option<Suppression>,
        now: i64,
    ) -> Mute {
        let (inhibited, routes) = if self.inhibitor.rules().is_empty() {
            (None, Vec::new())
        } else {
            self.inhibition(id, labels)
        };
        Mute {
            inhibited,
            suppressed,
            flapping_until: self.flaps.stable_at(id, now),
            routes,
        }
    }
}
