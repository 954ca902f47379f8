//! What request tasks need to hand alerts to the lifecycle: the fingerprint of a label set as
//! the lifecycle keys it, and the form of silence ids Alertmanager's clients expect. Pure; no
//! state.

use std::collections::BTreeMap;

pub(crate) use klaxon_engine::lifecycle::key::label_key;
pub(crate) use klaxon_engine::lifecycle::Labelled;

/// The fingerprint of a label set, as [`klaxon_engine::lifecycle::Labelled::fingerprint`]
/// holds it ([`label_key`] of its pairs).
pub(crate) fn label_fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    label_key(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Whether `s` has the form of a UUID (Alertmanager refuses other silence ids with 422).
pub(crate) fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_fingerprint_ignores_insertion_order_and_separates_pairs() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        let a = map(&[("a", "1"), ("b", "2")]);
        let b = map(&[("b", "2"), ("a", "1")]);
        let c = map(&[("a", "1b"), ("", "2")]);
        assert_eq!(label_fingerprint(&a), label_fingerprint(&b));
        assert_ne!(label_fingerprint(&a), label_fingerprint(&c));
    }

    #[test]
    fn uuids_are_told_from_other_ids() {
        assert!(is_uuid("0b5f0a4e-59c3-4d2a-9a41-0d8f3a1c2b7e"));
        assert!(!is_uuid("nope"));
        assert!(!is_uuid("0b5f0a4e-59c3-4d2a-9a41-0d8f3a1c2b7"));
    }
}
