//! Alert text as evidence: alert names, summaries and descriptions cut into words with the
//! per-firing noise removed (numbers, ids, hashes, addresses, UUIDs), and the whole names
//! (`pg-orders`, `ip-10-1-0-227`) a text mentions. Owns tokenising and hashing; no weighting
//! (rarity is counted by the caller).

use std::hash::BuildHasher;

/// Hashes a string to a stable 64-bit key (the same on every run of the same build).
pub(crate) fn key(tag: u8, s: &str) -> u64 {
    HASHER.hash_one((tag, s))
}

/// Hashes two strings to a stable 64-bit key.
pub(crate) fn key2(tag: u8, a: &str, b: &str) -> u64 {
    HASHER.hash_one((tag, a, b))
}

/// Hashes any hashable value to a stable 64-bit key.
pub(crate) fn hash_of<T: std::hash::Hash + ?Sized>(t: &T) -> u64 {
    HASHER.hash_one(t)
}

const HASHER: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x6b6c_6178_6f6e);

/// Key tags: one per kind of key, so a word and a label value never share a key.
pub(crate) mod tag {
    pub(crate) const WORD: u8 = 1;
    pub(crate) const NAME: u8 = 2;
    pub(crate) const LABEL: u8 = 3;
}

/// What one alert's text contributes: its words and the names it mentions.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tokens {
    /// Word keys, sorted and deduplicated.
    pub words: Vec<u64>,
    /// Keys of whole names (lowercase, digits kept), sorted and deduplicated.
    pub names: Vec<u64>,
}

/// At most this many names are kept per alert (the first ones in the text).
const MAX_NAMES: usize = 12;
/// At most this many words are kept per alert.
const MAX_WORDS: usize = 48;

/// Words that say nothing about what failed.
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "has", "have",
    "in", "is", "it", "its", "no", "not", "of", "on", "or", "than", "that", "the", "this", "to",
    "was", "were", "will", "with",
];

/// Tokenises `parts` into `out` (cleared first), reusing `scratch`.
pub(crate) fn tokenize<'a>(
    parts: impl IntoIterator<Item = &'a str>,
    out: &mut Tokens,
    scratch: &mut String,
) {
    out.words.clear();
    out.names.clear();
    for text in parts {
        for compound in text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_')) {
            let compound = compound.trim_matches(|c| c == '-' || c == '_');
            if compound.is_empty() {
                continue;
            }
            if out.names.len() < MAX_NAMES
                && compound.len() >= 3
                && compound.contains(|c: char| c.is_alphabetic())
                && !looks_random(compound)
            {
                lower(compound, scratch);
                out.names.push(key(tag::NAME, scratch));
            }
            for part in compound.split(['-', '_']) {
                words(part, out, scratch);
            }
        }
    }
    out.words.sort_unstable();
    out.words.dedup();
    out.words.truncate(MAX_WORDS);
    out.names.sort_unstable();
    out.names.dedup();
}

/// Splits one part at camel-case boundaries (`KubePodCrashLooping`, `HTTPServerDown`) and keeps
/// the words that are not noise.
fn words(part: &str, out: &mut Tokens, scratch: &mut String) {
    let mut start = 0;
    let mut prev: Option<char> = None;
    let mut it = part.char_indices().peekable();
    while let Some((i, cur)) = it.next() {
        if let Some(p) = prev {
            let next_lower = it.peek().is_some_and(|&(_, c)| c.is_lowercase());
            if (p.is_lowercase() && cur.is_uppercase())
                || (p.is_uppercase() && cur.is_uppercase() && next_lower)
            {
                word(&part[start..i], out, scratch);
                start = i;
            }
        }
        prev = Some(cur);
    }
    word(&part[start..], out, scratch);
}

/// Writes `s` lowercased into `scratch`.
fn lower(s: &str, scratch: &mut String) {
    scratch.clear();
    if s.is_ascii() {
        scratch.push_str(s);
        scratch.make_ascii_lowercase();
    } else {
        scratch.extend(s.chars().flat_map(char::to_lowercase));
    }
}

fn word(w: &str, out: &mut Tokens, scratch: &mut String) {
    if w.len() < 2
        || w.chars().nth(1).is_none()
        || w.bytes().any(|b| b.is_ascii_digit())
        || looks_random(w)
    {
        return;
    }
    lower(w, scratch);
    if STOP.binary_search(&scratch.as_str()).is_ok() {
        return;
    }
    out.words.push(key(tag::WORD, scratch));
}

/// Per-firing noise: a hex hash or id (`3f9a1c0e`, a UUID part), or a run of letters with no
/// vowel long enough to be a generated suffix (`xkzqp`).
fn looks_random(w: &str) -> bool {
    let n = w.len();
    let hex = w.bytes().all(|b| b.is_ascii_hexdigit());
    let digits = w.bytes().filter(u8::is_ascii_digit).count();
    if hex && n >= 6 && (digits > 0 || n >= 8) {
        return true;
    }
    // A long token mostly of digits mixed with letters (`a1b2c3d4`, `7d9f8b6c4`).
    if n >= 6 && digits * 3 >= n && w.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return !w.contains('-');
    }
    let vowels = w
        .bytes()
        .filter(|b| {
            matches!(
                b.to_ascii_lowercase(),
                b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
            )
        })
        .count();
    n >= 5 && vowels == 0 && w.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Tokens {
        let mut t = Tokens::default();
        tokenize([s], &mut t, &mut String::new());
        t
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut sorted = STOP.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP);
    }

    #[test]
    fn per_firing_noise_is_removed() {
        let cases = [
            // (a, b): two firings of one alert, different only in per-firing noise.
            (
                "Error rate 12.5% on orders-api (request 3f9a1c0e-8b2d-4e6f-9a1b-2c3d4e5f6a7b)",
                "Error rate 97.1% on orders-api (request 0c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f)",
            ),
            (
                "pod orders-api-7d9f8b6c4-x2k4p restarted 5 times from 10.1.0.227",
                "pod orders-api-5c6b7a8d9-q8w7e restarted 11 times from 10.1.3.12",
            ),
            (
                "commit deadbeefcafe failed, trace a1b2c3d4e5",
                "commit 0123456789ab failed, trace ffe1d2c3",
            ),
        ];
        for (a, b) in cases {
            assert_eq!(toks(a).words, toks(b).words, "{a} / {b}");
            assert!(!toks(a).words.is_empty());
        }
    }

    #[test]
    fn camel_case_and_separators_split_into_the_same_words() {
        assert_eq!(
            toks("KubePodCrashLooping").words,
            toks("kube_pod_crash looping").words
        );
        assert_eq!(toks("HTTPServerDown").words, toks("http server down").words);
        assert_ne!(toks("HighErrorRate").words, toks("HighLatency").words);
    }

    #[test]
    fn whole_names_are_kept_for_mentions() {
        let t = toks("calls to pg-orders failing; node ip-10-1-0-227 is fine");
        assert!(t.names.contains(&key(tag::NAME, "pg-orders")));
        assert!(t.names.contains(&key(tag::NAME, "ip-10-1-0-227")));
        assert!(!t.names.contains(&key(tag::NAME, "orders")));
    }
}
