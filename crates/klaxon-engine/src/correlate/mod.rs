//! Alert correlation, pure: turns a stream of alert firings and resolutions into incidents
//! (each alert joins the incident it links to most strongly, or opens one) and recurring groups
//! (flapping or periodic label sets), every link explained by its evidence. No I/O, no clock:
//! time is the alerts' own; deterministic (same events, same decisions). Memory is bounded by
//! the open incidents plus the windows of rarity, noise and history.
//!
//! `Correlator::observe(&event, &mut decisions)` is the whole interface; alert ids are opaque
//! numbers the caller gives.

mod config;
mod evidence;
mod history;
mod incident;
mod index;
mod noise;
mod rarity;
mod state;
mod text;
mod topology;

use std::collections::BTreeMap;

pub use config::{CorrelationConfig, ResolvePolicy};
pub use evidence::{Evidence, Level};
pub use noise::NoiseKind;
pub use state::IncidentState;
pub use topology::{parse_topology, Relation, Topology, TopologyError};

use evidence::{LabelKey, Scores};
use history::History;
use incident::{Incidents, Resolution};
use index::{Handle, Index};
use noise::{Partners, Past, Recurrence};
use rarity::Rarity;
use text::{key, key2, tag, Tokens};
use topology::Place;

/// An alert id, given by the caller (a stored alert's id, a line's key): opaque here.
pub type AlertId = u64;

/// An alert that fired: its id, labels, annotations and times (epoch ms).
#[derive(Debug, Clone, Copy)]
pub struct Firing<'a> {
    pub alert: AlertId,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub starts_at: i64,
    /// Set when the alert is already known to have ended.
    pub ends_at: Option<i64>,
}

/// What the correlator observes.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Firing(Firing<'a>),
    Resolved { alert: AlertId, at: i64 },
}

/// A link from a joining alert to an alert already in the incident, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub alert: AlertId,
    pub to: AlertId,
    pub confidence: f64,
    pub level: Level,
    pub evidence: Evidence,
}

impl Link {
    /// The link and its evidence as JSON, alert ids written by `id`: the one shape of
    /// `klaxon correlate`'s output and of the server's incident API. Strengths are rounded to
    /// three decimals; evidence that played no part is left out.
    pub fn json(&self, id: impl Fn(AlertId) -> serde_json::Value) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let e = &self.evidence;
        let mut ev = Map::new();
        if let Some((_, why)) = &e.topology {
            ev.insert("topology".into(), Value::String(why.clone()));
        }
        for (name, v) in [
            ("labels", e.labels),
            ("text", e.text),
            ("history", e.history),
        ] {
            if v > 0.0 {
                ev.insert(name.into(), json!(round3(v)));
            }
        }
        if e.mention {
            ev.insert("mention".into(), Value::Bool(true));
        }
        if e.repeat {
            ev.insert("repeat".into(), Value::Bool(true));
        }
        ev.insert("time".into(), json!(round3(e.time)));
        json!({
            "alert": id(self.alert),
            "to": id(self.to),
            "confidence": round3(self.confidence),
            "level": self.level.as_str(),
            "evidence": ev,
        })
    }
}

/// Why an event changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// A firing of an alert id already seen.
    Duplicate,
    /// A resolution of an alert not held (never seen, or its incident closed).
    Unknown,
}

/// What the correlator decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The alert linked to nothing strongly enough and opened incident `incident`.
    Opened {
        incident: u64,
        alert: AlertId,
        title: String,
    },
    /// The alert joined `incident` through `link` (reopening it if it had resolved).
    Joined {
        incident: u64,
        reopened: bool,
        link: Link,
    },
    /// The alert is a firing of a noisy label set and belongs to recurring group `group`;
    /// `moved_from` names the incident it leaves, for an earlier firing moved there once the
    /// label set was recognised.
    Recurring {
        group: u64,
        alert: AlertId,
        kind: NoiseKind,
        moved_from: Option<u64>,
    },
    /// The alert joining `into` (through `link.alert`) also linked to incident `from` this
    /// strongly: `from`'s alerts move into `into` and `from` is gone.
    Merged { from: u64, into: u64, link: Link },
    /// The incident resolved (under the resolve policy).
    Resolved { incident: u64, at: i64 },
    /// The incident takes no more alerts (idle, lifetime cap, resolved past the reopen
    /// window, or emptied by moves); the correlator forgot it.
    Closed { incident: u64 },
    /// The label set of a recurring group stayed quiet for the noise window.
    RecurringEnded { group: u64 },
    /// Nothing to do.
    Ignored { alert: AlertId, why: Ignored },
}

/// What the correlator holds, for memory checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub open_incidents: usize,
    pub alerts: usize,
    pub label_sets: usize,
    pub index_keys: usize,
    pub rarity_keys: usize,
    pub history_kinds: usize,
}

/// An alert of an open incident.
#[derive(Debug)]
struct Rec {
    id: AlertId,
    fp: u64,
    kind: u64,
    start: i64,
    end: Option<i64>,
    place: Place,
    /// Name keys of its service, host and pod (what another text may mention).
    own_names: [Option<u64>; 3],
    labels: Vec<LabelKey>,
    words: Vec<(u64, f32)>,
    norm: f32,
    names: Vec<u64>,
    incident: u64,
    partners: Partners,
    /// How many index keys it is filed under.
    filed: u32,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    rec: Option<Rec>,
    /// The last query that took this slot as a candidate.
    seen: u32,
}

/// The features of the alert being placed.
#[derive(Debug, Default)]
struct Features {
    fp: u64,
    kind: u64,
    place: Place,
    own_names: [Option<u64>; 3],
    labels: Vec<LabelKey>,
    words: Vec<(u64, f32)>,
    norm: f32,
    names: Vec<u64>,
}

/// Key tags of the index beyond those of text.
mod itag {
    pub(super) const UPSTREAM_OF: u8 = 10;
    pub(super) const MENTIONED: u8 = 11;
    pub(super) const KIND: u8 = 12;
    pub(super) const NAMESPACE: u8 = 13;
    pub(super) const FP: u8 = 14;
}

/// Forgotten alerts' index entries beyond the live ones that trigger a sweep.
const SWEEP_SLACK: usize = 1 << 16;
/// Most incidents one alert merges.
const MAX_MERGES: usize = 2;
/// Only incidents this small merge into another: fragments that fired apart before the alert
/// joining them arrived, not two outages that happen to touch.
const MERGE_MAX_MEMBERS: usize = 3;
/// Words filed per alert, and looked up per new alert (the rarest ones).
const FILED_WORDS: usize = 6;
const QUERIED_WORDS: usize = 4;
const QUERIED_LABELS: usize = 6;
/// Label values rarer than this are filed and looked up.
const LABEL_RARITY: f32 = 0.3;
const WORD_RARITY: f32 = 0.45;

/// The correlator. One owner, no locks.
#[derive(Debug)]
pub struct Correlator {
    config: CorrelationConfig,
    topology: Option<Topology>,
    /// Label name keys of `ignore_labels`.
    ignored: Vec<u64>,
    /// Label name keys of the labels that place an alert (their values are filed as places).
    placing: [u64; 8],
    now: i64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_id: std::collections::HashMap<AlertId, Handle, foldhash::fast::FixedState>,
    index: Index,
    incidents: Incidents,
    recurrence: Recurrence,
    rarity: Rarity,
    history: History,
    query: u32,
    /// Index entries of held alerts, and of forgotten ones not yet swept.
    filed_live: usize,
    filed_stale: usize,
    // Scratch, reused across alerts.
    tokens: Tokens,
    scratch: String,
    keys: Vec<u64>,
    candidates: Vec<Handle>,
    /// The best link per incident of the alert being placed.
    per_incident: Vec<(u64, Handle, Scores)>,
    ended: Vec<u64>,
}

impl Correlator {
    /// A correlator with `config` (checked: every error at once) and an optional topology.
    pub fn new(config: CorrelationConfig, topology: Option<Topology>) -> Result<Self, Vec<String>> {
        let errors = config.validate();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Correlator {
            ignored: config
                .ignore_labels
                .iter()
                .map(|n| key(tag::LABEL, n))
                .collect(),
            placing: [
                "service",
                "cluster",
                "host",
                "node",
                "namespace",
                "pod",
                "upstream",
                "instance",
            ]
            .map(|n| key(tag::LABEL, n)),
            rarity: Rarity::new(config.rarity_window_ms),
            history: History::new(config.history_max_kinds),
            config,
            topology,
            now: i64::MIN,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: Default::default(),
            index: Index::default(),
            incidents: Incidents::default(),
            recurrence: Recurrence::default(),
            query: 0,
            filed_live: 0,
            filed_stale: 0,
            tokens: Tokens::default(),
            scratch: String::new(),
            keys: Vec::new(),
            candidates: Vec::new(),
            per_incident: Vec::new(),
            ended: Vec::new(),
        })
    }

    /// Whether a topology document was given (without one, topology evidence comes from the
    /// labels alone: same pod, instance, host or namespace, and `upstream`).
    pub fn has_topology(&self) -> bool {
        self.topology.is_some()
    }

    /// How many services the topology document declares (0 without one).
    pub fn topology_services(&self) -> usize {
        self.topology.as_ref().map_or(0, |t| t.size().0)
    }

    pub fn config(&self) -> &CorrelationConfig {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        Stats {
            open_incidents: self.incidents.len(),
            alerts: self.by_id.len(),
            label_sets: self.recurrence.len(),
            index_keys: self.index.keys(),
            rarity_keys: self.rarity.keys(),
            history_kinds: self.history.kinds(),
        }
    }

    /// Observes one event at the time it carries; decisions are appended to `out`.
    pub fn observe(&mut self, event: &Event<'_>, out: &mut Vec<Decision>) {
        let at = match event {
            Event::Firing(f) => f.starts_at,
            Event::Resolved { at, .. } => *at,
        };
        self.advance(at, out);
        match event {
            Event::Firing(f) => self.fire(f, out),
            Event::Resolved { alert, at } => self.resolve(*alert, *at, out),
        }
    }

    /// Moves time to `now` (never back): closes incidents whose deadline passed and forgets
    /// what left the windows.
    pub fn advance(&mut self, now: i64, out: &mut Vec<Decision>) {
        if now <= self.now {
            return;
        }
        self.now = now;
        while let Some((id, inc)) = self.incidents.pop_due(&self.config, now) {
            for &h in &inc.members {
                self.forget(h);
            }
            if inc.many_fps {
                self.history.learn(&inc.kinds);
            }
            out.push(Decision::Closed { incident: id });
        }
        let mut ended = std::mem::take(&mut self.ended);
        self.recurrence.advance(&self.config, now, &mut ended);
        out.extend(
            ended
                .drain(..)
                .map(|group| Decision::RecurringEnded { group }),
        );
        self.ended = ended;
        self.rarity.advance(now);
    }

    fn resolve(&mut self, alert: AlertId, at: i64, out: &mut Vec<Decision>) {
        let Some(&h) = self.by_id.get(&alert) else {
            out.push(Decision::Ignored {
                alert,
                why: Ignored::Unknown,
            });
            return;
        };
        let rec = self.rec_mut(h).expect("indexed ids have records");
        if rec.end.is_some() {
            return;
        }
        rec.end = Some(at);
        let incident = rec.incident;
        if self.incidents.resolve(&self.config, incident, at) == Resolution::Resolved {
            out.push(Decision::Resolved { incident, at });
        }
    }

    fn rec(&self, h: Handle) -> Option<&Rec> {
        let s = self.slots.get(h.slot as usize)?;
        (s.generation == h.generation)
            .then_some(s.rec.as_ref())
            .flatten()
    }

    fn rec_mut(&mut self, h: Handle) -> Option<&mut Rec> {
        let s = self.slots.get_mut(h.slot as usize)?;
        (s.generation == h.generation)
            .then_some(s.rec.as_mut())
            .flatten()
    }

    /// Removes an alert's record: from the index, the id map and the table; its label set's
    /// history keeps whether it was partnered.
    fn forget(&mut self, h: Handle) -> Option<Rec> {
        let slot = self.slots.get_mut(h.slot as usize)?;
        if slot.generation != h.generation {
            return None;
        }
        let rec = slot.rec.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(h.slot);
        // Its index entries stay until a sweep; lookups skip them (the slot's generation moved).
        self.filed_live -= rec.filed as usize;
        self.filed_stale += rec.filed as usize;
        if self.filed_stale > self.filed_live + SWEEP_SLACK {
            let slots = &self.slots;
            self.index.sweep(|h| {
                slots
                    .get(h.slot as usize)
                    .is_some_and(|s| s.generation == h.generation && s.rec.is_some())
            });
            self.filed_stale = 0;
        }
        self.by_id.remove(&rec.id);
        if let Some(set) = self.recurrence.get_mut(rec.fp) {
            if let Some(p) = set.firings.iter_mut().rev().find(|p| p.alert == rec.id) {
                p.partners = rec.partners;
                p.incident = Some(rec.incident);
                p.handle = None;
            }
        }
        Some(rec)
    }

    fn features(&mut self, f: &Firing<'_>) -> Features {
        let c = &self.config;
        let place = Place::of(f.labels, self.topology.as_ref());
        let alertname = f.labels.get("alertname").map_or("", String::as_str);
        let kind = key2(itag::KIND, alertname, place.service().unwrap_or(""));
        let fp = text::hash_of(&(itag::FP, f.labels));
        self.rarity.start_doc(f.starts_at);
        let (ignored, rarity) = (&self.ignored, &mut self.rarity);
        let mut labels: Vec<LabelKey> = f
            .labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (key(tag::LABEL, n), n, v))
            .filter(|(name, _, _)| !ignored.contains(name))
            .map(|(name, n, v)| {
                let pair = key2(tag::LABEL, n, v);
                LabelKey {
                    name,
                    pair,
                    rarity: rarity.count(pair) as f32,
                }
            })
            .collect();
        labels.sort_unstable_by_key(|l| l.name);
        let texts = f
            .annotations
            .iter()
            .filter(|(n, _)| match &c.text_annotations {
                Some(names) => names.iter().any(|x| x == *n),
                None => !n
                    .len()
                    .checked_sub(3)
                    .and_then(|at| n.get(at..))
                    .is_some_and(|end| end.eq_ignore_ascii_case("url")),
            });
        text::tokenize(
            std::iter::once(alertname).chain(texts.map(|(_, v)| v.as_str())),
            &mut self.tokens,
            &mut self.scratch,
        );
        let words: Vec<(u64, f32)> = self
            .tokens
            .words
            .iter()
            .map(|&w| (w, self.rarity.count(w) as f32))
            .collect();
        let norm = words.iter().map(|w| w.1 * w.1).sum::<f32>().sqrt();
        let name_key = |s: Option<&str>| s.map(|s| key(tag::NAME, s));
        let own_names = [
            name_key(place.service()),
            name_key(place.host()),
            name_key(place.pod()),
        ];
        Features {
            fp,
            kind,
            place,
            own_names,
            labels,
            words,
            norm,
            names: self.tokens.names.clone(),
        }
    }

    fn fire(&mut self, f: &Firing<'_>, out: &mut Vec<Decision>) {
        if self.by_id.contains_key(&f.alert) {
            out.push(Decision::Ignored {
                alert: f.alert,
                why: Ignored::Duplicate,
            });
            return;
        }
        let feat = self.features(f);
        if self.recurring(f, &feat, out) {
            return;
        }
        let link = self.best_link(f, &feat);
        let merges = self.merges(link.as_ref().map(|l| l.0));
        let h = self.insert(f, feat);
        let rec_kind;
        let rec_fp;
        {
            let rec = self.rec(h).expect("just inserted");
            rec_kind = rec.kind;
            rec_fp = rec.fp;
        }
        let incident = match link {
            Some((to, scores, repeat)) => {
                let incident = self.rec(to).expect("candidates are held").incident;
                let reopened =
                    self.incidents
                        .join(incident, f.starts_at, h, rec_kind, rec_fp, f.ends_at);
                let link = self.explain(h, to, scores, repeat);
                out.push(Decision::Joined {
                    incident,
                    reopened,
                    link,
                });
                for (from, to, scores) in merges {
                    for m in self.incidents.merge(&self.config, from, incident) {
                        if let Some(r) = self.rec_mut(m) {
                            r.incident = incident;
                        }
                    }
                    let link = self.explain(h, to, scores, false);
                    out.push(Decision::Merged {
                        from,
                        into: incident,
                        link,
                    });
                }
                incident
            }
            None => {
                let incident =
                    self.incidents
                        .open(&self.config, f.starts_at, h, rec_kind, rec_fp, f.ends_at);
                out.push(Decision::Opened {
                    incident,
                    alert: f.alert,
                    title: self.title(f, h),
                });
                incident
            }
        };
        self.rec_mut(h).expect("just inserted").incident = incident;
        self.recurrence.record(
            rec_fp,
            Past {
                alert: f.alert,
                start: f.starts_at,
                incident: Some(incident),
                handle: Some(h),
                partners: Partners::default(),
            },
        );
    }

    /// Places a firing of a noisy label set in its recurring group (recognising the label set
    /// as noise first if this firing makes it so, and moving its earlier firings there).
    fn recurring(&mut self, f: &Firing<'_>, feat: &Features, out: &mut Vec<Decision>) -> bool {
        let Some(set) = self.recurrence.get(feat.fp) else {
            return false;
        };
        let (group, kind, earlier) = match set.group {
            Some((g, kind)) => (g, kind, Vec::new()),
            None => {
                let starts: Vec<i64> = set.firings.iter().map(|p| p.start).collect();
                // A firing is on its own unless it linked with a label set that is not itself
                // repeating (two noisy neighbours link to each other every time).
                let alone = set
                    .firings
                    .iter()
                    .filter(|p| {
                        let partners = p
                            .handle
                            .and_then(|h| self.rec(h))
                            .map_or(p.partners, |r| r.partners);
                        let steady = partners.iter().any(|fp| {
                            self.recurrence
                                .get(fp)
                                .is_none_or(|s| s.group.is_none() && s.firings.len() <= 2)
                        });
                        !steady
                    })
                    .count();
                let Some(kind) = noise::recognise(&self.config, &starts, alone, f.starts_at) else {
                    return false;
                };
                let earlier: Vec<Past> = set.firings.iter().copied().collect();
                let g = self.recurrence.start_group(feat.fp, kind);
                (g, kind, earlier)
            }
        };
        for p in earlier {
            let mut moved_from = p.incident;
            if let Some(h) = p.handle {
                if let Some(rec) = self.forget(h) {
                    moved_from = Some(rec.incident);
                    if self
                        .incidents
                        .remove_member(rec.incident, h, rec.end.is_none())
                    {
                        out.push(Decision::Closed {
                            incident: rec.incident,
                        });
                    }
                }
            }
            out.push(Decision::Recurring {
                group,
                alert: p.alert,
                kind,
                moved_from,
            });
        }
        if let Some(set) = self.recurrence.get_mut(feat.fp) {
            for p in &mut set.firings {
                p.handle = None;
                p.incident = None;
            }
        }
        self.recurrence.record(
            feat.fp,
            Past {
                alert: f.alert,
                start: f.starts_at,
                incident: None,
                handle: None,
                partners: Partners::default(),
            },
        );
        out.push(Decision::Recurring {
            group,
            alert: f.alert,
            kind,
            moved_from: None,
        });
        true
    }

    /// The strongest link of the new alert above the threshold; or to its label set's previous
    /// firing, if that sits in an incident of its own label set alone, or ended within the
    /// reopen window (the same alert firing again).
    fn best_link(&mut self, f: &Firing<'_>, feat: &Features) -> Option<(Handle, Scores, bool)> {
        let repeat = self
            .recurrence
            .get(feat.fp)
            .and_then(|s| s.firings.back())
            .and_then(|p| p.handle)
            .filter(|&h| {
                self.rec(h).is_some_and(|r| {
                    let again_soon = r
                        .end
                        .is_none_or(|e| f.starts_at - e <= self.config.reopen_ms);
                    self.incidents
                        .get(r.incident)
                        .is_some_and(|inc| !inc.many_fps || again_soon)
                })
            });
        if let Some(h) = repeat {
            self.per_incident.clear();
            let rec = self.rec(h).expect("checked");
            return Some((h, self.score(f, feat, rec), true));
        }
        self.collect_candidates(feat);
        let mut per_incident = std::mem::take(&mut self.per_incident);
        per_incident.clear();
        for &h in &self.candidates {
            let Some(rec) = self.rec(h) else { continue };
            // Skip the costly comparisons when even perfect labels, text and history could not
            // reach the threshold or beat this incident's best link so far.
            let bound = self.bound(f, feat, rec);
            let best_here = per_incident
                .iter()
                .find(|(i, _, _)| *i == rec.incident)
                .map_or(0.0, |e| e.2.confidence);
            if bound < self.config.join_threshold || bound < best_here {
                continue;
            }
            let s = self.score(f, feat, rec);
            if s.confidence < self.config.join_threshold {
                continue;
            }
            match per_incident.iter_mut().find(|(i, _, _)| *i == rec.incident) {
                Some(entry) => {
                    let b = self.rec(entry.1).expect("held");
                    if self.stronger(&s, rec, &entry.2, b) {
                        *entry = (rec.incident, h, s);
                    }
                }
                None => per_incident.push((rec.incident, h, s)),
            }
        }
        // Strongest first, ties to the later alert, then the smaller incident id.
        per_incident.sort_by(|x, y| {
            let (a, b) = (self.rec(x.1).expect("held"), self.rec(y.1).expect("held"));
            if self.stronger(&x.2, a, &y.2, b) {
                std::cmp::Ordering::Less
            } else if self.stronger(&y.2, b, &x.2, a) {
                std::cmp::Ordering::Greater
            } else {
                x.0.cmp(&y.0)
            }
        });
        let best = per_incident.first().map(|&(_, h, s)| (h, s, false));
        self.per_incident = per_incident;
        best
    }

    /// Whether the link scored `s` to `a` beats the one scored `t` to `b`.
    fn stronger(&self, s: &Scores, a: &Rec, t: &Scores, b: &Rec) -> bool {
        s.confidence > t.confidence
            || (s.confidence == t.confidence && (a.start, a.id) > (b.start, b.id))
    }

    /// The other incidents the alert being placed links to strongly enough to merge them into
    /// the one it joins (through `joined`), with the link to each; none after a repeat.
    fn merges(&mut self, joined: Option<Handle>) -> Vec<(u64, Handle, Scores)> {
        let Some(first) = self.per_incident.first() else {
            return Vec::new();
        };
        if Some(first.1) != joined {
            return Vec::new();
        }
        let mut merges: Vec<(u64, Handle, Scores)> = self.per_incident[1..]
            .iter()
            .filter(|(i, _, s)| {
                s.confidence >= self.config.merge_threshold
                    && self
                        .incidents
                        .get(*i)
                        .is_some_and(|inc| inc.members.len() <= MERGE_MAX_MEMBERS)
            })
            .take(MAX_MERGES)
            .copied()
            .collect();
        merges.sort_by_key(|m| m.0);
        self.per_incident.clear();
        merges
    }

    /// The highest confidence a link to `b` could have: its topology and time as they are,
    /// labels, text and history perfect.
    fn bound(&self, f: &Firing<'_>, a: &Features, b: &Rec) -> f64 {
        let c = &self.config;
        let relation = topology::relate(self.topology.as_ref(), &a.place, &b.place);
        let mut s = Scores {
            relation,
            topology: relation.map_or(0.0, |r| r.score_after(f.starts_at - b.start)),
            labels: 1.0,
            text: 1.0,
            mention: false,
            history: 1.0,
            time: evidence::time_weight(c, f.starts_at, b.start, b.end),
            confidence: 0.0,
        };
        evidence::fuse(c, &mut s, topology::other_cluster(&a.place, &b.place));
        s.confidence
    }

    fn score(&self, f: &Firing<'_>, a: &Features, b: &Rec) -> Scores {
        let c = &self.config;
        let t = self.topology.as_ref();
        let relation = topology::relate(t, &a.place, &b.place);
        let labels = evidence::label_similarity(&a.labels, &b.labels);
        let cosine = evidence::word_similarity(&a.words, a.norm, &b.words, b.norm);
        let mention = mentions(&a.names, &b.own_names, &a.own_names)
            || mentions(&b.names, &a.own_names, &b.own_names);
        let together = if a.kind == b.kind {
            0
        } else {
            self.history.together(a.kind, b.kind)
        };
        let mut s = Scores {
            relation,
            topology: relation.map_or(0.0, |r| r.score_after(f.starts_at - b.start)),
            labels,
            text: evidence::text_score(cosine, mention),
            mention,
            history: evidence::history_score(together, c.history_smoothing),
            time: evidence::time_weight(c, f.starts_at, b.start, b.end),
            confidence: 0.0,
        };
        evidence::fuse(c, &mut s, topology::other_cluster(&a.place, &b.place));
        s
    }

    /// Fills `candidates` with the alerts filed under the new alert's evidence keys.
    fn collect_candidates(&mut self, a: &Features) {
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        let p = &a.place;
        // Place: its own, then the topology's neighbours.
        keys.extend(place_keys(p));
        if let Some(t) = &self.topology {
            topology::neighbour_keys(t, p, &mut keys, 24);
        }
        if let Some(u) = p.upstream() {
            if let Some(cl) = p.cluster() {
                keys.push(key2(tag::NAME, u, cl));
            }
            keys.push(key(tag::NAME, u));
        }
        if let Some(s) = p.service() {
            keys.push(key(itag::UPSTREAM_OF, s));
        }
        // Names its text mentions, and alerts whose text mentions it.
        keys.extend(
            a.names
                .iter()
                .copied()
                .filter(|&n| !a.own_names.contains(&Some(n))),
        );
        keys.extend(
            a.own_names
                .iter()
                .flatten()
                .map(|&n| mixed(itag::MENTIONED, n)),
        );
        // Its rarest label values and words.
        let placing = &self.placing;
        keys.extend(rarest::<QUERIED_LABELS>(
            a.labels
                .iter()
                .filter(|l| !placing.contains(&l.name))
                .map(|l| (l.pair, l.rarity)),
            LABEL_RARITY,
        ));
        keys.extend(rarest::<QUERIED_WORDS>(
            a.words.iter().copied(),
            WORD_RARITY,
        ));
        // Kinds that were together with its kind before.
        keys.extend(
            self.history
                .partners(a.kind)
                .iter()
                .take(4)
                .map(|&(k, _)| mixed(itag::KIND, k)),
        );

        self.query = self.query.wrapping_add(1);
        let q = self.query;
        self.candidates.clear();
        let (max, per_key) = (self.config.max_candidates, self.config.per_key_candidates);
        'keys: for &k in &keys {
            for h in self.index.newest(k, per_key) {
                let slot = &mut self.slots[h.slot as usize];
                if slot.generation != h.generation || slot.seen == q {
                    continue;
                }
                slot.seen = q;
                self.candidates.push(h);
                if self.candidates.len() >= max {
                    break 'keys;
                }
            }
        }
        self.keys = keys;
    }

    fn insert(&mut self, f: &Firing<'_>, feat: Features) -> Handle {
        let mut filed = std::mem::take(&mut self.keys);
        filed.clear();
        filed.extend(place_keys(&feat.place));
        if let Some(s) = feat.place.service() {
            filed.push(key(tag::NAME, s));
        }
        if let Some(u) = feat.place.upstream() {
            filed.push(key(itag::UPSTREAM_OF, u));
        }
        filed.extend(
            feat.names
                .iter()
                .filter(|&&n| !feat.own_names.contains(&Some(n)))
                .map(|&n| mixed(itag::MENTIONED, n)),
        );
        filed.extend(
            feat.labels
                .iter()
                .filter(|l| l.rarity >= LABEL_RARITY && !self.placing.contains(&l.name))
                .map(|l| l.pair),
        );
        filed.extend(rarest::<FILED_WORDS>(
            feat.words.iter().copied(),
            WORD_RARITY,
        ));
        filed.push(mixed(itag::KIND, feat.kind));
        filed.sort_unstable();
        filed.dedup();

        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot::default());
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 held alerts")
            }
        };
        let h = Handle {
            slot,
            generation: self.slots[slot as usize].generation,
        };
        for &k in &filed {
            self.index.insert(k, h);
        }
        let count = filed.len();
        self.keys = filed;
        self.filed_live += count;
        self.slots[slot as usize].rec = Some(Rec {
            id: f.alert,
            fp: feat.fp,
            kind: feat.kind,
            start: f.starts_at,
            end: f.ends_at,
            place: feat.place,
            own_names: feat.own_names,
            labels: feat.labels,
            words: feat.words,
            norm: feat.norm,
            names: feat.names,
            incident: 0,
            partners: Partners::default(),
            filed: count as u32,
        });
        self.by_id.insert(f.alert, h);
        h
    }

    /// The link's evidence in words; each alert remembers the other's label set if it differs.
    fn explain(&mut self, from: Handle, to: Handle, s: Scores, repeat: bool) -> Link {
        let (a, b) = (self.rec(from).expect("held"), self.rec(to).expect("held"));
        let topology = s.relation.map(|r| {
            (
                r,
                topology::describe(self.topology.as_ref(), r, &a.place, &b.place),
            )
        });
        let (alert, target, fa, fb) = (a.id, b.id, a.fp, b.fp);
        if fa != fb {
            self.rec_mut(from).expect("held").partners.add(fb);
            self.rec_mut(to).expect("held").partners.add(fa);
        }
        Link {
            alert,
            to: target,
            confidence: s.confidence,
            level: Level::of(s.confidence),
            evidence: Evidence {
                topology,
                labels: s.labels,
                text: s.text,
                mention: s.mention,
                history: s.history,
                time: s.time,
                repeat,
            },
        }
    }

    fn title(&self, f: &Firing<'_>, h: Handle) -> String {
        let rec = self.rec(h).expect("held");
        let name = f.labels.get("alertname").map_or("alert", String::as_str);
        let p = &rec.place;
        let at = match (p.service(), p.cluster(), p.host(), p.pod()) {
            (Some(s), Some(c), _, _) => format!("{s}@{c}"),
            (Some(s), None, _, _) => s.to_string(),
            (None, _, Some(h), _) => h.to_string(),
            (None, _, None, Some(pod)) => pod.to_string(),
            _ => return name.to_owned(),
        };
        format!("{name} on {at}")
    }

    /// Ids of the open incidents, ascending.
    pub fn open_incidents(&self) -> Vec<u64> {
        self.incidents.ids()
    }

    /// Whether the correlator holds incident `id` (it takes alerts).
    pub fn holds(&self, incident: u64) -> bool {
        self.incidents.get(incident).is_some()
    }

    /// The incident an alert is held in.
    pub fn incident_of(&self, alert: AlertId) -> Option<u64> {
        let h = *self.by_id.get(&alert)?;
        self.rec(h).map(|r| r.incident)
    }

    /// Ids up to `id` are taken elsewhere (incidents stored before a restart, or made by
    /// hand): the incidents the correlator opens get larger ones.
    pub fn reserve_ids_up_to(&mut self, id: u64) {
        self.incidents.taken_up_to(id);
    }

    /// Takes the next incident id for an incident made by hand.
    pub fn reserve_id(&mut self) -> u64 {
        self.incidents.reserve()
    }

    /// Puts an alert into incident `incident` without weighing any evidence (the incident is
    /// opened if the correlator does not hold it): rebuilding the open incidents after a
    /// restart, or a person placing an alert. An alert already held moves out of its
    /// incident first; an incident it leaves empty is forgotten (and returned).
    pub fn place(&mut self, incident: u64, f: &Firing<'_>) -> Option<u64> {
        let mut emptied = None;
        if let Some(&h) = self.by_id.get(&f.alert) {
            if let Some(rec) = self.forget(h) {
                if self
                    .incidents
                    .remove_member(rec.incident, h, rec.end.is_none())
                    && rec.incident != incident
                {
                    emptied = Some(rec.incident);
                }
            }
        }
        let feat = self.features(f);
        let h = self.insert(f, feat);
        let (kind, fp) = {
            let rec = self.rec(h).expect("just inserted");
            (rec.kind, rec.fp)
        };
        if self.incidents.get(incident).is_some() {
            self.incidents
                .join(incident, f.starts_at, h, kind, fp, f.ends_at);
        } else {
            self.incidents
                .open_as(&self.config, incident, f.starts_at, h, kind, fp, f.ends_at);
        }
        self.rec_mut(h).expect("just inserted").incident = incident;
        self.recurrence.record(
            fp,
            Past {
                alert: f.alert,
                start: f.starts_at,
                incident: Some(incident),
                handle: Some(h),
                partners: Partners::default(),
            },
        );
        emptied
    }

    /// Moves every alert of incident `from` into `into` (a person merging two incidents);
    /// false when either is not held or they are the same.
    pub fn merge(&mut self, from: u64, into: u64) -> bool {
        if from == into || !self.holds(from) || !self.holds(into) {
            return false;
        }
        for m in self.incidents.merge(&self.config, from, into) {
            if let Some(r) = self.rec_mut(m) {
                r.incident = into;
            }
        }
        true
    }
}

/// The index keys of a place itself: instance (or service without cluster), host, pod,
/// namespace in cluster.
fn place_keys(p: &Place) -> impl Iterator<Item = u64> + '_ {
    let instance = match (p.service(), p.cluster()) {
        (Some(s), Some(c)) => Some(key2(tag::NAME, s, c)),
        (Some(s), None) => Some(key(tag::NAME, s)),
        _ => None,
    };
    let host = p.host().map(|h| key(tag::NAME, h));
    let pod = p.pod().map(|x| key(tag::NAME, x));
    let ns = p
        .namespace()
        .map(|n| key2(itag::NAMESPACE, n, p.cluster().unwrap_or("")));
    [instance, host, pod, ns].into_iter().flatten()
}

/// Whether `names` (from one text) include one of `other`'s component names that is not also
/// the text's own.
fn mentions(names: &[u64], other: &[Option<u64>; 3], own: &[Option<u64>; 3]) -> bool {
    other
        .iter()
        .flatten()
        .any(|n| !own.contains(&Some(*n)) && names.binary_search(n).is_ok())
}

fn mixed(t: u8, k: u64) -> u64 {
    text::hash_of(&(t, k))
}

/// The keys of the `K` rarest entries at least `min` rare, rarest first (ties by key).
fn rarest<const K: usize>(
    entries: impl Iterator<Item = (u64, f32)>,
    min: f32,
) -> impl Iterator<Item = u64> {
    let mut top = [(0u64, f32::NEG_INFINITY); K];
    let mut n = 0;
    for e in entries.filter(|e| e.1 >= min) {
        let beats = |x: &(u64, f32)| e.1 > x.1 || (e.1 == x.1 && e.0 < x.0);
        if n < K {
            top[n] = e;
            n += 1;
        } else if beats(&top[K - 1]) {
            top[K - 1] = e;
        } else {
            continue;
        }
        let mut i = n - 1;
        while i > 0 && beats(&top[i - 1]) {
            top.swap(i, i - 1);
            i -= 1;
        }
    }
    top.into_iter().take(n).map(|e| e.0)
}

#[cfg(test)]
mod tests;
