//! What the notification pipeline shows of the lifecycle's decision on why an alert is quiet:
//! the dispatcher's side of noise control. The lifecycle is the one owner of inhibition and
//! flap state ([`klaxon_engine::lifecycle::Mute`], carried on every published change); this
//! keeps the latest decision per alert and applies it, deciding nothing. Silences and
//! maintenance windows already moved their alerts to `suppressed` (which notifies nobody);
//! alerts inhibited by a rule that applies everywhere (firing news), and flapping alerts
//! (firing and resolved news), are shown to the grouper as muted ([`AlertView::muted`]) until
//! that ends (then their news goes out as usual); route-scoped inhibition drops an alert from
//! the firing news of that route only; rate limits hold what exceeds them and fold it into one
//! summary.
//!
//! The order, for every alert: inhibition, time windows and silences (suppressed), grouping
//! (and its deduplication: a group tells each alert's news once), flapping (held), route-scoped
//! inhibition, rate limit.

use std::collections::HashMap;
use std::sync::Arc;

use klaxon_engine::lifecycle::{Held, Inhibited, Mute, News};
use klaxon_notify::{AlertView, Kind, Muted};

/// The lifecycle's latest decision for every alert something mutes, and who hears notices.
pub(crate) struct Muting {
    /// Receivers of notices (`[silence_notice]`).
    pub notice_to: Vec<String>,
    mutes: HashMap<i64, Arc<Mute>>,
}

impl Muting {
    pub(crate) fn new(notice_to: Vec<String>) -> Muting {
        Muting {
            notice_to,
            mutes: HashMap::new(),
        }
    }

    /// Starts over from the lifecycle's answer of every muted alert.
    pub(crate) fn reset(&mut self, muted: impl IntoIterator<Item = (i64, Arc<Mute>)>) {
        self.mutes.clear();
        self.mutes.extend(muted);
    }

    /// Records the decision a change carries; returns whether it differs from the one before.
    pub(crate) fn record(&mut self, id: i64, mute: Option<&Arc<Mute>>) -> bool {
        match mute {
            Some(m) => self
                .mutes
                .insert(id, Arc::clone(m))
                .is_none_or(|old| old != *m),
            None => self.mutes.remove(&id).is_some(),
        }
    }

    pub(crate) fn of(&self, id: i64) -> Option<&Mute> {
        self.mutes.get(&id).map(|m| &**m)
    }

    /// Whether a flapping alert's firing and resolved news are held.
    pub(crate) fn flapping(&self, id: i64) -> bool {
        self.of(id).is_some_and(|m| m.flapping_until.is_some())
    }

    /// The inhibition scoped to `route` (a receiver) that drops the alert from its firing news.
    pub(crate) fn inhibited_on(&self, id: i64, route: &str) -> Option<&Inhibited> {
        self.of(id).and_then(|m| m.inhibited_on(route))
    }

    /// The view the grouper sees: muted while the lifecycle's decision holds the news the
    /// alert's state calls for.
    pub(crate) fn presented(&self, v: &Arc<AlertView>) -> Arc<AlertView> {
        let news = match v.wanted() {
            Some(Kind::Firing) => News::Firing,
            Some(Kind::Acknowledged) => News::Acknowledged,
            Some(Kind::Resolved) => News::Resolved,
            _ => return Arc::clone(v),
        };
        let held = self.of(v.id).and_then(|m| m.holds(news));
        match held {
            Some(h) => {
                let mut m = v.as_ref().clone();
                m.muted = Some(match h {
                    Held::Flapping => Muted::Flapping,
                    Held::Inhibited => Muted::Inhibited,
                });
                Arc::new(m)
            }
            None => Arc::clone(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_engine::lifecycle::State;

    fn view(state: State) -> Arc<AlertView> {
        Arc::new(AlertView {
            id: 1,
            fingerprint: String::new(),
            name: "X".into(),
            state,
            muted: None,
            severity: "high".into(),
            summary: String::new(),
            labels: Default::default(),
            annotations: Default::default(),
            starts_at: 0,
            ends_at: None,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_by: None,
            generator_url: None,
            occurrences: 1,
            updated_at: 0,
            receivers: Vec::new(),
            incident: None,
        })
    }

    fn inhibited(route: Option<&str>) -> Inhibited {
        Inhibited {
            rule: Arc::from("r"),
            route: route.map(Arc::from),
            source: 2,
        }
    }

    /// The grouper sees what the lifecycle's decision holds of the news the state calls for:
    /// inhibition everywhere holds firing news, flapping holds firing and resolved news, a
    /// route's inhibition holds nothing here (it leaves that route only), and a change that
    /// carries no decision frees the alert.
    #[test]
    fn the_lifecycles_decision_is_what_grouping_sees() {
        let everywhere = Arc::new(Mute {
            inhibited: Some(inhibited(None)),
            ..Mute::default()
        });
        let flapping = Arc::new(Mute {
            flapping_until: Some(10),
            ..Mute::default()
        });
        let on_route = Arc::new(Mute {
            routes: vec![inhibited(Some("pager"))],
            ..Mute::default()
        });
        let cases = [
            (&everywhere, State::Active, Some(Muted::Inhibited)),
            (&everywhere, State::Acknowledged, None),
            (&everywhere, State::Resolved, None),
            (&flapping, State::Active, Some(Muted::Flapping)),
            (&flapping, State::Resolved, Some(Muted::Flapping)),
            (&flapping, State::Acknowledged, None),
            (&on_route, State::Active, None),
        ];
        for (mute, state, shown) in cases {
            let mut m = Muting::new(Vec::new());
            assert!(m.record(1, Some(mute)), "a new decision");
            assert!(!m.record(1, Some(mute)), "the same decision again");
            assert_eq!(m.presented(&view(state)).muted, shown, "{mute:?} {state}");
            assert!(m.record(1, None), "freed");
            assert_eq!(m.presented(&view(state)).muted, None);
        }
        let mut m = Muting::new(Vec::new());
        m.reset([(1, on_route)]);
        assert!(m.inhibited_on(1, "pager").is_some());
        assert!(m.inhibited_on(1, "chat").is_none());
        assert!(!m.flapping(1));
    }
}
