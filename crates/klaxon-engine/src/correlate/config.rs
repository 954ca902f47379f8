//! `CorrelationConfig`: the `[correlation]` table: thresholds, windows, evidence weights, the
//! incident lifetime and the resolve policy. Owns defaults and validation; no I/O (the topology
//! path is read by the caller).

use serde::Deserialize;

/// When an incident counts as resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResolvePolicy {
    /// When its first alert resolves.
    First,
    /// When its last open alert resolves.
    #[default]
    Last,
    /// Never by its alerts: only the idle window and the lifetime cap close it.
    Never,
}

/// Correlation settings. Every key is optional; the defaults are the documented values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelationConfig {
    /// Whether the server correlates alerts into incidents (the offline command always
    /// does). Default true.
    pub enabled: bool,
    /// Path of the topology document (read by the caller; the offline command's `--topology`
    /// wins over it). Default: none.
    pub topology: Option<String>,
    /// A link joins an incident when its confidence is at least this. Default 0.5.
    pub join_threshold: f64,
    /// A new alert that links to two open incidents this strongly (and at least as strongly as
    /// `join_threshold`) merges them: the alert that arrived late joins what fired apart.
    /// Default 0.6.
    pub merge_threshold: f64,
    /// Weight of topology evidence in the fusion. Default 1.0.
    pub weight_topology: f64,
    /// Weight of shared rare labels. Default 0.7.
    pub weight_labels: f64,
    /// Weight of text similarity and mentions. Default 0.6.
    pub weight_text: f64,
    /// Weight of learned co-occurrence. Default 0.5.
    pub weight_history: f64,
    /// Time scale of start-time closeness: the time weight halves its excess over the floor
    /// every `time_scale_ms * ln 2`. Default 10 min.
    pub time_scale_ms: i64,
    /// The time weight of alerts far apart in time (evidence is multiplied by a value between
    /// this and 1). Default 0.2.
    pub time_floor: f64,
    /// Evidence other than topology counts this much between alerts of two different clusters
    /// that the topology does not join. Default 0.35.
    pub other_cluster_factor: f64,
    /// An incident that has taken no alert for this long stops taking alerts. Default 30 min.
    pub idle_ms: i64,
    /// An incident stops taking alerts this long after it opened, however busy. Default 3 h.
    pub max_lifetime_ms: i64,
    /// A resolved incident takes alerts (and reopens) for this long. Default 10 min.
    pub reopen_ms: i64,
    /// When an incident resolves. Default `last`.
    pub resolve: ResolvePolicy,
    /// Window over which label and token rarity is counted. Default 6 h.
    pub rarity_window_ms: i64,
    /// Window of firings of one label set looked at to recognise noise. Default 12 h.
    pub noise_window_ms: i64,
    /// A label set that fired this many times within the noise window, each time on its own (no
    /// link to another label set), is flapping. Default 4.
    pub flap_min_firings: usize,
    /// A label set that fired this many times at a regular interval is periodic. Default 4.
    pub periodic_min_firings: usize,
    /// Intervals within this share of their median are regular. Default 0.1.
    pub periodic_tolerance: f64,
    /// Co-occurrence smoothing: a pair seen `n` times scores `n / (n + history_smoothing)`.
    /// Default 2.
    pub history_smoothing: f64,
    /// Most alert-kind pairs remembered. Default 100,000.
    pub history_max_kinds: usize,
    /// Label names that are not identity (never evidence). Default `alertname`, `severity`,
    /// `priority`.
    pub ignore_labels: Vec<String>,
    /// Annotation names whose text is compared. Default: every annotation whose name does not
    /// end in `url`.
    pub text_annotations: Option<Vec<String>>,
    /// Most earlier alerts scored per alert. Default 64.
    pub max_candidates: usize,
    /// Most recent alerts taken from one index entry. Default 8.
    pub per_key_candidates: usize,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            enabled: true,
            topology: None,
            join_threshold: 0.5,
            merge_threshold: 0.6,
            weight_topology: 1.0,
            weight_labels: 0.7,
            weight_text: 0.6,
            weight_history: 0.5,
            time_scale_ms: 10 * MINUTE,
            time_floor: 0.2,
            other_cluster_factor: 0.35,
            idle_ms: 30 * MINUTE,
            max_lifetime_ms: 3 * HOUR,
            reopen_ms: 10 * MINUTE,
            resolve: ResolvePolicy::Last,
            rarity_window_ms: 6 * HOUR,
            noise_window_ms: 12 * HOUR,
            flap_min_firings: 4,
            periodic_min_firings: 4,
            periodic_tolerance: 0.1,
            history_smoothing: 2.0,
            history_max_kinds: 100_000,
            ignore_labels: ["alertname", "severity", "priority"]
                .map(str::to_owned)
                .to_vec(),
            text_annotations: None,
            max_candidates: 64,
            per_key_candidates: 8,
        }
    }
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

impl CorrelationConfig {
    /// Every out-of-range value, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let unit = [
            ("join_threshold", self.join_threshold),
            ("merge_threshold", self.merge_threshold),
            ("weight_topology", self.weight_topology),
            ("weight_labels", self.weight_labels),
            ("weight_text", self.weight_text),
            ("weight_history", self.weight_history),
            ("time_floor", self.time_floor),
            ("other_cluster_factor", self.other_cluster_factor),
            ("periodic_tolerance", self.periodic_tolerance),
        ];
        for (key, v) in unit {
            if !(0.0..=1.0).contains(&v) {
                errors.push(format!(
                    "correlation.{key}: must be between 0 and 1, got {v}"
                ));
            }
        }
        if self.join_threshold <= 0.0 {
            errors.push(
                "correlation.join_threshold: must be above 0 (time alone never groups)".into(),
            );
        }
        let positive = [
            ("time_scale_ms", self.time_scale_ms),
            ("idle_ms", self.idle_ms),
            ("max_lifetime_ms", self.max_lifetime_ms),
            ("rarity_window_ms", self.rarity_window_ms),
            ("noise_window_ms", self.noise_window_ms),
        ];
        for (key, v) in positive {
            if v <= 0 {
                errors.push(format!("correlation.{key}: must be above 0, got {v}"));
            }
        }
        if self.reopen_ms < 0 {
            errors.push(format!(
                "correlation.reopen_ms: must not be negative, got {}",
                self.reopen_ms
            ));
        }
        let counts = [
            ("flap_min_firings", self.flap_min_firings, 2),
            ("periodic_min_firings", self.periodic_min_firings, 3),
            ("max_candidates", self.max_candidates, 1),
            ("per_key_candidates", self.per_key_candidates, 1),
            ("history_max_kinds", self.history_max_kinds, 1),
        ];
        for (key, v, min) in counts {
            if v < min {
                errors.push(format!(
                    "correlation.{key}: must be at least {min}, got {v}"
                ));
            }
        }
        if self.history_smoothing.is_nan() || self.history_smoothing <= 0.0 {
            errors.push(format!(
                "correlation.history_smoothing: must be above 0, got {}",
                self.history_smoothing
            ));
        }
        errors
    }
}
