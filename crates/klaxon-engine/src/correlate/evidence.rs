//! Evidence between a new alert and an earlier one, and its fusion into one confidence:
//! topology (the relation of their places), labels (shared identity labels weighted by rarity),
//! text (similarity of rarity-weighted words, and names one text mentions), history (learned
//! co-occurrence of their kinds) and time (closeness of their starts, a weight only). Owns the
//! arithmetic; the caller finds the candidates.

use serde::Serialize;

use super::config::CorrelationConfig;
use super::topology::Relation;

/// The five confidence levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    VeryLow,
    Low,
    Medium,
    High,
    VeryHigh,
}

impl Level {
    /// The level of a confidence: below 0.2, 0.4, 0.6 and 0.8, then very high.
    pub fn of(confidence: f64) -> Level {
        match confidence {
            c if c < 0.2 => Level::VeryLow,
            c if c < 0.4 => Level::Low,
            c if c < 0.6 => Level::Medium,
            c if c < 0.8 => Level::High,
            _ => Level::VeryHigh,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::VeryLow => "very_low",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::VeryHigh => "very_high",
        }
    }
}

/// Why a link was made: each kind of evidence and how strong it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The topology relation and its explanation (`orders-api@prod-euw1 calls pg-orders@...`).
    pub topology: Option<(Relation, String)>,
    /// Shared identity labels, weighted by rarity, in [0, 1].
    pub labels: f64,
    /// Text similarity (or a mention), in [0, 1].
    pub text: f64,
    /// Whether one alert's text names the other's service, host or pod.
    pub mention: bool,
    /// Learned co-occurrence of the two kinds, in [0, 1].
    pub history: f64,
    /// The time weight, in [time_floor, 1].
    pub time: f64,
    /// The same label set fired again.
    pub repeat: bool,
}

/// The scores of one candidate pair, before any text is built.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Scores {
    pub relation: Option<Relation>,
    /// The relation's strength.
    pub topology: f64,
    pub labels: f64,
    pub text: f64,
    pub mention: bool,
    pub history: f64,
    pub time: f64,
    pub confidence: f64,
}

/// A label of an alert as evidence: name key, name=value key, rarity of the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LabelKey {
    pub name: u64,
    pub pair: u64,
    pub rarity: f32,
}

/// Similarity of two label lists (sorted by name): the rarity of the values they share over
/// the rarity of the names both carry, plus a prior, so one shared common label says little.
pub(crate) fn label_similarity(a: &[LabelKey], b: &[LabelKey]) -> f64 {
    const PRIOR: f64 = 0.3;
    let (mut i, mut j) = (0, 0);
    let (mut shared, mut compared) = (0.0f64, 0.0f64);
    while i < a.len() && j < b.len() {
        match a[i].name.cmp(&b[j].name) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let (ra, rb) = (f64::from(a[i].rarity), f64::from(b[j].rarity));
                compared += ra.max(rb);
                if a[i].pair == b[j].pair {
                    shared += ra.min(rb);
                }
                i += 1;
                j += 1;
            }
        }
    }
    if shared == 0.0 {
        0.0
    } else {
        shared / (compared + PRIOR)
    }
}

/// Cosine similarity of two weighted word sets (sorted by word), given their norms, with a
/// prior added to the norms' product so that texts made only of common words (which every
/// alert of a template shares) score low even when they are identical.
pub(crate) fn word_similarity(a: &[(u64, f32)], na: f32, b: &[(u64, f32)], nb: f32) -> f64 {
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    let (mut i, mut j) = (0, 0);
    let mut dot = 0.0f32;
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    f64::from(dot / (na * nb + TEXT_PRIOR)).clamp(0.0, 1.0)
}

/// Added to the product of the norms of two texts (a norm is at most the square root of the
/// number of words, each weighing at most 1).
const TEXT_PRIOR: f32 = 0.5;
/// Texts this similar or less say nothing; above, the score rises linearly to 1.
const TEXT_FLOOR: f64 = 0.3;
/// The text score of a mention of the other alert's component.
const MENTION: f64 = 0.8;

/// The text score from a cosine similarity and whether either text names the other's place.
pub(crate) fn text_score(cosine: f64, mention: bool) -> f64 {
    let s = ((cosine - TEXT_FLOOR) / (1.0 - TEXT_FLOOR)).max(0.0);
    if mention {
        s.max(MENTION)
    } else {
        s
    }
}

/// The co-occurrence score of two kinds seen together in `n` incidents.
pub(crate) fn history_score(n: u32, smoothing: f64) -> f64 {
    let n = f64::from(n);
    n / (n + smoothing)
}

/// The time weight of a new alert starting at `start` against an earlier one that started at
/// `other_start` and ended at `other_end` (if it did): closeness of the starts, and a gap after
/// the earlier alert ended counts double.
pub(crate) fn time_weight(
    c: &CorrelationConfig,
    start: i64,
    other_start: i64,
    other_end: Option<i64>,
) -> f64 {
    let mut dt = (start - other_start).unsigned_abs() as f64;
    if let Some(end) = other_end.filter(|&e| e < start) {
        dt += 2.0 * (start - end) as f64;
    }
    let closeness = (-dt / c.time_scale_ms as f64).exp();
    c.time_floor + (1.0 - c.time_floor) * closeness
}

/// Fuses the evidence into one confidence in [0, 1]:
/// `time × (1 − Π_k (1 − w_k · s_k))` over topology, labels, text and history, where evidence
/// other than topology between two clusters the topology does not join closely (a relation
/// scoring below one half, or none) counts `other_cluster_factor` as much. With no evidence the
/// confidence is 0 whatever the time.
pub(crate) fn fuse(c: &CorrelationConfig, s: &mut Scores, other_cluster: bool) {
    let close = s.topology >= 0.5;
    let damp = if other_cluster && !close {
        c.other_cluster_factor
    } else {
        1.0
    };
    let miss = (1.0 - c.weight_topology * s.topology)
        * (1.0 - c.weight_labels * s.labels * damp)
        * (1.0 - c.weight_text * s.text * damp)
        * (1.0 - c.weight_history * s.history * damp);
    s.confidence = ((1.0 - miss) * s.time).clamp(0.0, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lk(name: u64, value: u64, rarity: f32) -> LabelKey {
        LabelKey {
            name,
            pair: name * 1000 + value,
            rarity,
        }
    }

    #[test]
    fn levels_cut_at_fifths() {
        let cases = [
            (0.0, Level::VeryLow),
            (0.19, Level::VeryLow),
            (0.2, Level::Low),
            (0.5, Level::Medium),
            (0.6, Level::High),
            (0.8, Level::VeryHigh),
            (1.0, Level::VeryHigh),
        ];
        for (c, want) in cases {
            assert_eq!(Level::of(c), want, "{c}");
        }
    }

    #[test]
    fn a_shared_common_label_says_little_and_a_rare_one_much() {
        // Label 1 is env (everyone is prod), label 2 is service, label 3 team.
        let a = [lk(1, 1, 0.01), lk(2, 1, 0.6), lk(3, 1, 0.3)];
        let same_service = [lk(1, 1, 0.01), lk(2, 1, 0.6), lk(3, 1, 0.3)];
        let same_env_only = [lk(1, 1, 0.01), lk(2, 2, 0.6), lk(3, 2, 0.3)];
        let same_team = [lk(1, 1, 0.01), lk(2, 2, 0.6), lk(3, 1, 0.3)];
        let s = |b: &[LabelKey]| label_similarity(&a, b);
        assert!(s(&same_service) > 0.6, "{}", s(&same_service));
        assert!(s(&same_env_only) < 0.01, "{}", s(&same_env_only));
        assert!(s(&same_team) > s(&same_env_only) && s(&same_team) < 0.3);
    }

    #[test]
    fn time_alone_never_links() {
        let c = CorrelationConfig::default();
        let mut s = Scores {
            time: time_weight(&c, 1000, 1000, None),
            ..Scores::default()
        };
        fuse(&c, &mut s, false);
        assert_eq!(s.confidence, 0.0);
        s.relation = Some(Relation::SameInstance);
        s.topology = Relation::SameInstance.score();
        fuse(&c, &mut s, false);
        assert!((s.confidence - 0.9).abs() < 1e-9);
    }

    #[test]
    fn time_weighs_between_floor_and_one_and_gaps_count_double() {
        let c = CorrelationConfig::default();
        let w = |start, other, end| time_weight(&c, start, other, end);
        assert!((w(0, 0, None) - 1.0).abs() < 1e-9);
        assert!(w(600_000, 0, None) > w(600_000, 0, Some(100_000)));
        assert!(w(100 * 3_600_000, 0, None) >= c.time_floor);
    }

    #[test]
    fn other_clusters_weaken_all_but_topology() {
        let c = CorrelationConfig::default();
        let mut near = Scores {
            labels: 0.5,
            text: 0.8,
            time: 1.0,
            ..Scores::default()
        };
        let mut far = near;
        fuse(&c, &mut near, false);
        fuse(&c, &mut far, true);
        assert!(far.confidence < near.confidence * 0.5);
        assert!(near.confidence >= c.join_threshold);
        assert!(far.confidence < c.join_threshold);
    }
}
