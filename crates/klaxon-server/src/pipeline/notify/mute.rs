//! What the notification pipeline mutes before grouping, and what it holds after: the
//! dispatcher's side of noise control. Silences and maintenance windows already moved their
//! alerts to `suppressed` (which notifies nobody); here, alerts inhibited by a rule that applies
//! everywhere, and flapping alerts, are shown to the grouper as muted ([`AlertView::muted`])
//! until that ends (then their news goes out as usual); route-scoped inhibition drops an alert from the notifications
//! of that route only; rate limits hold what exceeds them and fold it into one summary.
//!
//! The order, for every alert: inhibition, time windows and silences (suppressed), grouping
//! (and its deduplication: a group tells each alert's news once), flapping (held), route-scoped
//! inhibition, rate limit.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use klaxon_engine::lifecycle::State;
use klaxon_engine::noise::{FlapSettings, Flaps, Inhibitor};
use klaxon_notify::{AlertView, Kind, Muted};

/// Inhibition sources, flap counts, and what each alert is shown as.
pub(crate) struct Muting {
    pub inhibitor: Inhibitor,
    /// Receivers of notices (`[silence_notice]`).
    pub notice_to: Vec<String>,
    flaps: Flaps,
    /// The real state and labels of every open alert seen.
    known: HashMap<i64, (State, Arc<BTreeMap<String, String>>)>,
    /// Flapping alerts and when they may be stable.
    stable: BinaryHeap<Reverse<(i64, i64)>>,
}

impl Muting {
    pub(crate) fn new(
        inhibitor: Inhibitor,
        flapping: FlapSettings,
        notice_to: Vec<String>,
    ) -> Muting {
        Muting {
            inhibitor,
            notice_to,
            flaps: Flaps::new(flapping),
            known: HashMap::new(),
            stable: BinaryHeap::new(),
        }
    }

    /// Forgets every alert (a rebuild follows); flap counts are kept.
    pub(crate) fn reset(&mut self) {
        let rules: Vec<_> = self.inhibitor.rules().to_vec();
        self.inhibitor = Inhibitor::new(rules);
        self.known.clear();
    }

    /// Records an alert's real state. Returns whether the firing alerts changed (inhibition of
    /// others may have).
    pub(crate) fn observe(
        &mut self,
        id: i64,
        labels: &Arc<BTreeMap<String, String>>,
        state: State,
        now: i64,
        replaying: bool,
    ) -> bool {
        let prev = self.known.insert(id, (state, Arc::clone(labels)));
        let was = prev.as_ref().is_some_and(|(s, _)| s.is_firing());
        let is = state.is_firing();
        if !replaying && prev.is_some() && was != is && self.flaps.record(id, now) {
            if let Some(at) = self.flaps.stable_at(id, now) {
                self.stable.push(Reverse((at, id)));
            }
        }
        if state == State::Closed {
            self.known.remove(&id);
            self.flaps.forget(id);
        }
        match (was, is) {
            (false, true) => {
                self.inhibitor.fire(id, labels);
                true
            }
            (true, false) => {
                self.inhibitor.stop(id, labels);
                true
            }
            _ => false,
        }
    }

    /// The labels of an alert seen before.
    pub(crate) fn labels(&self, id: i64) -> Option<Arc<BTreeMap<String, String>>> {
        self.known.get(&id).map(|(_, l)| Arc::clone(l))
    }

    pub(crate) fn flapping(&self, id: i64, now: i64) -> bool {
        self.flaps.status(id, now).0
    }

    /// The view the grouper sees: muted while inhibited everywhere (firing only) or flapping.
    pub(crate) fn presented(&self, v: &Arc<AlertView>, now: i64) -> Arc<AlertView> {
        let wanted = v.wanted();
        let muted =
            if matches!(wanted, Some(Kind::Firing | Kind::Resolved)) && self.flapping(v.id, now) {
                Some(Muted::Flapping)
            } else if wanted == Some(Kind::Firing)
                && self.inhibitor.inhibited(v.id, &v.labels, None).is_some()
            {
                Some(Muted::Inhibited)
            } else {
                None
            };
        match muted {
            Some(why) => {
                let mut m = v.as_ref().clone();
                m.muted = Some(why);
                Arc::new(m)
            }
            None => Arc::clone(v),
        }
    }

    /// The flapping alerts that may have become stable by `now`.
    pub(crate) fn due(&mut self, now: i64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, id))) = self.stable.peek() {
            if at > now {
                break;
            }
            self.stable.pop();
            match self.flaps.stable_at(id, now) {
                Some(later) if later > now => self.stable.push(Reverse((later, id))),
                _ => out.push(id),
            }
        }
        out
    }

    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.stable.peek().map(|Reverse((at, _))| *at)
    }
}
