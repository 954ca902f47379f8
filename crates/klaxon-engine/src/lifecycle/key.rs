//! Identity and content as numbers: fingerprints as `u64`, the keyed hash of what a firing
//! says, and silence ids. Everything keyed derives from a seed the caller passes, so the
//! lifecycle reads no randomness and the same seed replays the same ids.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

/// A fingerprint's 64-bit value: fingerprints are 16 hex digits, and a number hashes and
/// compares faster than its text. (Any other text is hashed, stably.)
pub fn fp_key(fp: &str) -> u64 {
    match u64::from_str_radix(fp, 16) {
        Ok(v) if fp.len() == 16 => v,
        _ => fp.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        }),
    }
}

/// A fingerprint as stored: 16 lower-case hex digits.
pub fn fp_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// The fingerprint of a label set, as a number: FNV-1a over each name and value with its
/// length, in name order (the pairs must come sorted by name, as a `BTreeMap` gives them).
pub fn label_key<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for (k, v) in labels {
        for part in [k.as_bytes(), v.as_bytes()] {
            for b in (part.len() as u64).to_le_bytes().iter().chain(part) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(PRIME);
            }
        }
    }
    h
}

/// What a firing says (severity, summary, annotations) as one number: two firings of an alert
/// that say the same have the same key. Keyed by the lifecycle's seed (unknown to senders, so
/// none can aim at a collision); request tasks get the same keys from
/// [`super::Lifecycle::content_keys`].
#[derive(Debug, Clone, Copy)]
pub struct ContentKeys {
    seed: u64,
}

impl ContentKeys {
    pub fn new(seed: u64) -> ContentKeys {
        ContentKeys { seed }
    }

    pub fn key<'a>(
        &self,
        severity: &str,
        summary: &str,
        annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> u64 {
        let mut h = foldhash::quality::FixedState::with_seed(self.seed).build_hasher();
        let mut part = |s: &str| {
            h.write_usize(s.len());
            h.write(s.as_bytes());
        };
        part(severity);
        part(summary);
        for (k, v) in annotations {
            part(k);
            part(v);
        }
        h.finish()
    }

    /// [`ContentKeys::key`] of a map of annotations.
    pub fn key_of(
        &self,
        severity: &str,
        summary: &str,
        annotations: &BTreeMap<String, String>,
    ) -> u64 {
        self.key(
            severity,
            summary,
            annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }
}

/// SplitMix64: a small, well-mixed sequence from a seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Silence ids: UUIDs of version 4's shape, drawn from the seed and a counter.
#[derive(Debug, Clone)]
pub(crate) struct SilenceIds {
    seed: u64,
    n: u64,
}

impl SilenceIds {
    pub(crate) fn new(seed: u64) -> SilenceIds {
        SilenceIds { seed, n: 0 }
    }

    pub(crate) fn next_id(&mut self) -> String {
        self.n += 1;
        let hi = mix(self.seed ^ mix(self.n));
        let lo = mix(hi ^ self.n.rotate_left(32));
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&hi.to_be_bytes());
        b[8..].copy_from_slice(&lo.to_be_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hex_fingerprint_is_its_number() {
        assert_eq!(fp_key("00000000000000ff"), 255);
        assert_eq!(
            fp_key(&fp_hex(0xdead_beef_0000_0001)),
            0xdead_beef_0000_0001
        );
        assert_ne!(fp_key("ff"), 255, "not 16 digits: hashed");
    }

    #[test]
    fn label_keys_separate_pairs() {
        let a = label_key([("a", "1"), ("b", "2")]);
        let c = label_key([("a", "1b"), ("", "2")]);
        assert_ne!(a, c);
        assert_eq!(a, label_key([("a", "1"), ("b", "2")]));
    }

    #[test]
    fn content_keys_depend_on_every_part_and_the_seed() {
        let k = ContentKeys::new(7);
        let base = k.key("warning", "disk", [("a", "b")]);
        assert_eq!(base, k.key("warning", "disk", [("a", "b")]));
        assert_ne!(base, k.key("critical", "disk", [("a", "b")]));
        assert_ne!(base, k.key("warning", "disk!", [("a", "b")]));
        assert_ne!(base, k.key("warning", "disk", [("a", "c")]));
        assert_ne!(base, k.key("warningdisk", "", [("a", "b")]));
        assert_ne!(
            base,
            ContentKeys::new(8).key("warning", "disk", [("a", "b")])
        );
    }

    #[test]
    fn silence_ids_are_distinct_uuids() {
        let mut ids = SilenceIds::new(1);
        let a = ids.next_id();
        let b = ids.next_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(
            a,
            SilenceIds::new(2).next_id(),
            "another seed, another sequence"
        );
        assert_eq!(a, SilenceIds::new(1).next_id(), "the same seed replays");
    }
}
