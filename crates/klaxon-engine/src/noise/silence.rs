//! Silences as Alertmanager defines them: label matchers and a time range. A silence is
//! pending before `starts_at`, active from `starts_at` until `ends_at` (exclusive), expired
//! after. [`Silences`] keeps them indexed and answers which active silence mutes a label set.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::index::LabelIndex;
use super::LabelSet;
use crate::matcher::{Matcher, Op, Regex};

/// One matcher as Alertmanager writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatcherSpec {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    /// `false` negates (`!=`, `!~`); Alertmanager's default is `true`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl MatcherSpec {
    pub fn compile(&self) -> Result<Matcher, String> {
        if self.name.trim().is_empty() {
            return Err("matcher name must not be empty".to_owned());
        }
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => Op::Eq(self.value.clone()),
            (false, false) => Op::Ne(self.value.clone()),
            (true, eq) => {
                let re =
                    Regex::new(&self.value).map_err(|e| format!("matcher {}: {e}", self.name))?;
                if eq {
                    Op::Re(re)
                } else {
                    Op::NotRe(re)
                }
            }
        };
        Ok(Matcher {
            name: self.name.clone(),
            op,
        })
    }

    /// `name="value"`, `name!~"value"`, …
    pub fn display(&self) -> String {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (true, false) => "!~",
        };
        format!("{}{op}{}", self.name, crate::matcher::quote(&self.value))
    }
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<MatcherSpec>,
    /// Epoch ms.
    pub starts_at: i64,
    /// Epoch ms; the silence is expired from this instant on.
    pub ends_at: i64,
    pub created_by: String,
    pub comment: String,
    /// Epoch ms of the last change.
    pub updated_at: i64,
}

/// Where a silence stands at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    pub fn state(&self, now: i64) -> SilenceState {
        if now >= self.ends_at {
            SilenceState::Expired
        } else if now < self.starts_at {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Compiles the matchers, checking what Alertmanager checks: at least one matcher, a time
    /// range that ends after it starts, and at least one matcher that does not match the empty
    /// string (a silence must not mute every alert by accident).
    pub fn validate(&self) -> Result<Vec<Matcher>, String> {
        if self.matchers.is_empty() {
            return Err("matchers: at least one matcher is required".to_owned());
        }
        if self.ends_at <= self.starts_at {
            return Err("endsAt: the silence must end after it starts".to_owned());
        }
        let compiled = self
            .matchers
            .iter()
            .map(MatcherSpec::compile)
            .collect::<Result<Vec<_>, _>>()?;
        let empty = LabelSet::new();
        if compiled.iter().all(|m| m.matches(&empty)) {
            return Err(
                "matchers: at least one matcher must not match the empty string".to_owned(),
            );
        }
        Ok(compiled)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    silence: Silence,
    matchers: Vec<Matcher>,
    /// The matcher the index files it under, which its candidates always satisfy.
    indexed: Option<usize>,
}

/// Every known silence, indexed.
#[derive(Debug, Default, Clone)]
pub struct Silences {
    /// Slots (a freed one is reused); the index files slot numbers.
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    index: LabelIndex<u32>,
}

impl Silences {
    /// Adds or replaces a silence (by id). Invalid silences are refused with the reason.
    pub fn upsert(&mut self, s: Silence) -> Result<(), String> {
        let matchers = s.validate()?;
        self.remove(&s.id);
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).map_err(|_| "too many silences".to_owned())?
            }
        };
        let indexed = self.index.insert(slot, &matchers);
        self.by_id.insert(s.id.clone(), slot);
        self.slots[slot as usize] = Some(Entry {
            silence: s,
            matchers,
            indexed,
        });
        Ok(())
    }

    pub fn remove(&mut self, id: &str) -> Option<Silence> {
        let slot = self.by_id.remove(id)?;
        let e = self.slots.get_mut(slot as usize)?.take()?;
        self.index.remove(&slot, &e.matchers);
        self.free.push(slot);
        Some(e.silence)
    }

    fn entry(&self, id: &str) -> Option<&Entry> {
        let slot = *self.by_id.get(id)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.entry(id).map(|e| &e.silence)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.slots.iter().flatten().map(|e| &e.silence)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The active silence that mutes `labels` at `now`; of several, the one that ends last
    /// (ties: the smallest id), so the mute lasts as long as any silence holds it.
    pub fn muting(&self, labels: &LabelSet, now: i64) -> Option<&Silence> {
        let mut best: Option<&Silence> = None;
        self.index.candidates(labels, |&slot| {
            let Some(e) = self.slots.get(slot as usize).and_then(Option::as_ref) else {
                return;
            };
            let s = &e.silence;
            if s.state(now) != SilenceState::Active
                || !e
                    .matchers
                    .iter()
                    .enumerate()
                    .all(|(i, m)| Some(i) == e.indexed || m.matches(labels))
            {
                return;
            }
            let better = best.is_none_or(|b| {
                (s.ends_at, std::cmp::Reverse(&s.id)) > (b.ends_at, std::cmp::Reverse(&b.id))
            });
            if better {
                best = Some(s);
            }
        });
        best
    }

    /// Whether the silence's matchers match `labels` (whatever its state).
    pub fn matches(&self, id: &str, labels: &LabelSet) -> bool {
        self.entry(id)
            .is_some_and(|e| e.matchers.iter().all(|m| m.matches(labels)))
    }

    /// The next instant after `now` at which a silence starts or ends.
    pub fn next_change(&self, now: i64) -> Option<i64> {
        self.slots
            .iter()
            .flatten()
            .flat_map(|e| [e.silence.starts_at, e.silence.ends_at])
            .filter(|&t| t > now)
            .min()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(name: &str, value: &str, is_regex: bool, is_equal: bool) -> MatcherSpec {
        MatcherSpec {
            name: name.into(),
            value: value.into(),
            is_regex,
            is_equal,
        }
    }

    fn silence(id: &str, matchers: Vec<MatcherSpec>, starts: i64, ends: i64) -> Silence {
        Silence {
            id: id.into(),
            matchers,
            starts_at: starts,
            ends_at: ends,
            created_by: "me".into(),
            comment: "c".into(),
            updated_at: 0,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn states_follow_the_time_range_with_the_end_exclusive() {
        let s = silence("a", vec![m("x", "1", false, true)], 10, 20);
        assert_eq!(s.state(9), SilenceState::Pending);
        assert_eq!(s.state(10), SilenceState::Active);
        assert_eq!(s.state(19), SilenceState::Active);
        assert_eq!(s.state(20), SilenceState::Expired);
    }

    #[test]
    fn invalid_silences_say_why() {
        let mut all = Silences::default();
        let e = all.upsert(silence("a", vec![], 0, 10)).unwrap_err();
        assert!(e.contains("at least one matcher"), "{e}");
        let e = all
            .upsert(silence("a", vec![m("x", "1", false, true)], 10, 10))
            .unwrap_err();
        assert!(e.contains("end after it starts"), "{e}");
        let e = all
            .upsert(silence("a", vec![m("x", "", false, true)], 0, 10))
            .unwrap_err();
        assert!(e.contains("empty string"), "{e}");
        let e = all
            .upsert(silence("a", vec![m("x", "a{2", true, true)], 0, 10))
            .unwrap_err();
        assert!(
            e.contains("matcher x: regex `a{2`: unclosed counted repetition at character 2"),
            "{e}"
        );
        assert!(all.is_empty());
    }

    #[test]
    fn silences_take_the_regular_expressions_alertmanager_takes() {
        let mut all = Silences::default();
        let matchers = vec![
            m("severity", "(?i)warn(ing)?", true, true),
            m("instance", "10\\.0\\.0\\.\\d{1,3}:9100", true, true),
            m("env", "staging|dev", true, false),
        ];
        all.upsert(silence("a", matchers, 0, 100)).unwrap();
        for (severity, instance, env, muted) in [
            ("WARNING", "10.0.0.7:9100", "prod", true),
            ("Warn", "10.0.0.255:9100", "prod", true),
            // Anchored: a value that only contains a match is not matched.
            ("warnings", "10.0.0.7:9100", "prod", false),
            ("warn", "10.0.0.1000:9100", "prod", false),
            ("warn", "10.0.0.7:9100", "dev", false),
        ] {
            let alert = labels(&[("severity", severity), ("instance", instance), ("env", env)]);
            let what = format!("{severity} {instance} {env}");
            assert_eq!(all.muting(&alert, 5).is_some(), muted, "{what}");
        }
    }

    #[test]
    fn the_active_silence_that_ends_last_mutes() {
        let mut all = Silences::default();
        all.upsert(silence(
            "short",
            vec![m("alertname", "Disk", false, true)],
            0,
            100,
        ))
        .unwrap();
        all.upsert(silence(
            "long",
            vec![
                m("alertname", "Disk", false, true),
                m("host", "web-(1|2)", true, true),
            ],
            0,
            500,
        ))
        .unwrap();
        all.upsert(silence(
            "later",
            vec![m("alertname", "Disk", false, true)],
            200,
            900,
        ))
        .unwrap();
        all.upsert(silence(
            "not-db",
            vec![m("host", "db", false, false), m("team", "ops", false, true)],
            0,
            50,
        ))
        .unwrap();
        let web1 = labels(&[("alertname", "Disk"), ("host", "web-1")]);
        let web3 = labels(&[("alertname", "Disk"), ("host", "web-3")]);
        assert_eq!(all.muting(&web1, 10).map(|s| s.id.as_str()), Some("long"));
        assert_eq!(all.muting(&web3, 10).map(|s| s.id.as_str()), Some("short"));
        assert_eq!(all.muting(&web3, 150).map(|s| s.id.as_str()), None);
        assert_eq!(all.muting(&web3, 200).map(|s| s.id.as_str()), Some("later"));
        let ops = labels(&[("team", "ops"), ("host", "web-9")]);
        assert_eq!(all.muting(&ops, 10).map(|s| s.id.as_str()), Some("not-db"));
        let ops_db = labels(&[("team", "ops"), ("host", "db")]);
        assert!(all.muting(&ops_db, 10).is_none());
        assert_eq!(all.next_change(10), Some(50));
        assert_eq!(all.next_change(500), Some(900));
        all.remove("long");
        assert_eq!(all.muting(&web1, 10).map(|s| s.id.as_str()), Some("short"));
    }
}
