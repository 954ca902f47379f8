//! The alert history: every filter alone and combined, labels with awkward names, free text,
//! and cursor paging, each compared with a plain filter over the alerts the test inserted.

use std::sync::Arc;

use klaxon_engine::lifecycle::State;

use super::{insert, labelled};
use crate::{HistoryQuery, Source, Store, StoredAlert};

const T0: i64 = 1_700_000_000_000;
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];
const NAMES: [&str; 4] = ["DiskFull", "HighCPU", "Latency_p99", "Ünïcode Check"];
const SOURCES: [Source; 4] = [
    Source::Alertmanager,
    Source::Threshold,
    Source::Api,
    Source::Rule,
];
const MESSAGES: [&str; 5] = [
    "CPU 100% on host",
    "Disk almost full",
    "latency under_score",
    "Grüße ünïcode",
    "nothing to see",
];

/// 60 alerts with every filterable attribute varied independently; first_seen is a permutation
/// of the ids, so time order is not id order.
pub fn history_dataset() -> Vec<StoredAlert> {
    (1..=60_i64)
        .map(|i| {
            let u = usize::try_from(i).unwrap();
            let mut labels = vec![
                ("env", if i % 3 == 0 { "prod" } else { "dev" }),
                ("team", ["a", "b", "c"][u % 7 % 3]),
            ];
            if i % 5 == 0 {
                labels.push(("a.b", "1"));
            }
            if i % 4 == 1 {
                labels.push(("we\"ird'key", "x\"y'z"));
            }
            if i % 6 == 2 {
                labels.push(("$.path", "v"));
            }
            if i % 8 == 0 {
                labels.push(("instance", "host_A%1"));
            }
            let first_seen = T0 + (i * 37 % 60) * 1_000;
            let mut a = labelled(i, NAMES[u % 4], SEVERITIES[u % 5], first_seen, &labels);
            a.state = State::ALL[u % 6];
            a.source = SOURCES[u / 3 % 4];
            a.message = MESSAGES[u / 2 % 5].to_owned();
            a
        })
        .collect()
}

/// Inserts the dataset in an order that is not id order, a few alerts per request.
async fn fill<S: Store>(store: &Arc<S>) -> Vec<StoredAlert> {
    let all = history_dataset();
    let mut shuffled = all.clone();
    shuffled.sort_by_key(|a| (a.id * 23) % 61);
    for chunk in shuffled.chunks(7) {
        store
            .apply_alert_changes(chunk.iter().cloned().map(insert).collect())
            .await
            .unwrap();
    }
    all
}

fn contains_ascii_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// What the history must return: a plain filter, newest first, after the cursor, a page.
pub fn history_expected(all: &[StoredAlert], q: &HistoryQuery) -> Vec<i64> {
    let mut ids: Vec<i64> = all
        .iter()
        .filter(|a| {
            let text = q.text.as_deref().filter(|t| !t.is_empty());
            q.before_id.is_none_or(|b| a.id < b)
                && (q.states.is_empty() || q.states.contains(&a.state))
                && (q.severities.is_empty() || q.severities.contains(&a.severity))
                && q.name.as_ref().is_none_or(|n| &a.name == n)
                && q.source.is_none_or(|s| a.source == s)
                && q.labels.iter().all(|(k, v)| a.labels.get(k) == Some(v))
                && text.is_none_or(|t| {
                    contains_ascii_ci(&a.name, t)
                        || contains_ascii_ci(&a.message, t)
                        || a.labels.values().any(|v| contains_ascii_ci(v, t))
                })
                && q.from.is_none_or(|f| a.first_seen >= f)
                && q.to.is_none_or(|t| a.first_seen < t)
        })
        .map(|a| a.id)
        .collect();
    ids.sort_unstable_by(|x, y| y.cmp(x));
    ids.truncate(q.limit.min(1_000));
    ids
}

async fn check<S: Store>(store: &Arc<S>, all: &[StoredAlert], q: HistoryQuery) -> Vec<i64> {
    let got = store.alert_history(q.clone()).await.unwrap();
    let ids: Vec<i64> = got.iter().map(|a| a.id).collect();
    assert_eq!(ids, history_expected(all, &q), "{q:?}");
    for a in &got {
        let original = all.iter().find(|x| x.id == a.id).unwrap();
        assert_eq!(a, original, "history returns whole alerts");
    }
    ids
}

fn q() -> HistoryQuery {
    HistoryQuery {
        limit: 1_000,
        ..HistoryQuery::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn labels(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub async fn history_filters_alone_and_combined<S: Store>(store: &Arc<S>) {
    let all = fill(store).await;
    let every = check(store, &all, q()).await;
    assert_eq!(every.len(), 60);
    let queries = [
        HistoryQuery {
            states: vec![State::Active],
            ..q()
        },
        HistoryQuery {
            states: vec![State::Active, State::Acknowledged],
            ..q()
        },
        HistoryQuery {
            severities: strings(&["high"]),
            ..q()
        },
        HistoryQuery {
            severities: strings(&["critical", "low"]),
            ..q()
        },
        HistoryQuery {
            name: Some("DiskFull".into()),
            ..q()
        },
        HistoryQuery {
            source: Some(Source::Threshold),
            ..q()
        },
        HistoryQuery {
            labels: labels(&[("env", "prod")]),
            ..q()
        },
        HistoryQuery {
            labels: labels(&[("env", "prod"), ("team", "a")]),
            ..q()
        },
        HistoryQuery {
            text: Some("disk".into()),
            ..q()
        },
        HistoryQuery {
            from: Some(T0 + 20_000),
            ..q()
        },
        HistoryQuery {
            to: Some(T0 + 20_000),
            ..q()
        },
        HistoryQuery {
            from: Some(T0 + 10_000),
            to: Some(T0 + 15_000),
            ..q()
        },
        HistoryQuery {
            states: vec![State::Active],
            severities: strings(&["high"]),
            ..q()
        },
        HistoryQuery {
            states: vec![State::Active, State::Resolved],
            severities: strings(&["high", "critical"]),
            labels: labels(&[("env", "dev")]),
            ..q()
        },
        HistoryQuery {
            name: Some("HighCPU".into()),
            source: Some(Source::Threshold),
            from: Some(T0 + 5_000),
            ..q()
        },
        HistoryQuery {
            states: vec![State::Closed, State::Pending, State::Active],
            text: Some("CPU".into()),
            labels: labels(&[("team", "b")]),
            ..q()
        },
        HistoryQuery {
            states: vec![State::Acknowledged, State::Closed],
            severities: strings(&["medium", "info"]),
            name: Some("Latency_p99".into()),
            source: Some(Source::Alertmanager),
            labels: labels(&[("env", "dev")]),
            text: Some("late".into()),
            from: Some(T0),
            to: Some(T0 + 60_000),
            ..q()
        },
        HistoryQuery {
            states: vec![State::Active],
            limit: 3,
            ..q()
        },
        HistoryQuery {
            labels: labels(&[("env", "dev")]),
            before_id: Some(30),
            limit: 4,
            ..q()
        },
        HistoryQuery {
            text: Some("full".into()),
            before_id: Some(40),
            limit: 2,
            ..q()
        },
    ];
    for query in queries {
        let ids = check(store, &all, query.clone()).await;
        assert!(!ids.is_empty(), "the dataset has matches for {query:?}");
    }
    // Filters that match nothing, alone and with others.
    let empty = [
        HistoryQuery {
            name: Some("NoSuchAlert".into()),
            ..q()
        },
        HistoryQuery {
            severities: strings(&["catastrophic"]),
            ..q()
        },
        HistoryQuery {
            labels: labels(&[("env", "qa")]),
            ..q()
        },
        HistoryQuery {
            labels: labels(&[("nosuchlabel", "prod")]),
            ..q()
        },
        HistoryQuery {
            text: Some("zzz".into()),
            ..q()
        },
        HistoryQuery {
            from: Some(T0 + 60_000),
            ..q()
        },
        HistoryQuery {
            name: Some("DiskFull".into()),
            source: Some(Source::Threshold),
            states: vec![State::Pending],
            severities: strings(&["info"]),
            ..q()
        },
        HistoryQuery {
            before_id: Some(1),
            ..q()
        },
    ];
    for query in empty {
        assert!(check(store, &all, query).await.is_empty());
    }
    let none = store
        .alert_history(HistoryQuery { limit: 0, ..q() })
        .await
        .unwrap();
    assert!(none.is_empty(), "limit 0 lists nothing");
}

pub async fn history_labels_match_any_name_exactly<S: Store>(store: &Arc<S>) {
    let all = fill(store).await;
    for pairs in [
        vec![("a.b", "1")],
        vec![("we\"ird'key", "x\"y'z")],
        vec![("$.path", "v")],
        vec![("instance", "host_A%1")],
        vec![("alertname", "Ünïcode Check")],
        vec![("a.b", "1"), ("we\"ird'key", "x\"y'z")],
    ] {
        let ids = check(
            store,
            &all,
            HistoryQuery {
                labels: labels(&pairs),
                ..q()
            },
        )
        .await;
        assert!(!ids.is_empty(), "{pairs:?}");
    }
    for pairs in [
        vec![("a", "1")],
        vec![("a.b", "%")],
        vec![("instance", "host_a%1")],
        vec![("we\"ird'key", "x")],
        vec![("$", "v")],
    ] {
        let ids = check(
            store,
            &all,
            HistoryQuery {
                labels: labels(&pairs),
                ..q()
            },
        )
        .await;
        assert!(ids.is_empty(), "exact names and values only: {pairs:?}");
    }
}

pub async fn history_text_is_a_case_insensitive_substring<S: Store>(store: &Arc<S>) {
    let all = fill(store).await;
    // In names, messages and label values; ASCII letters in any case; `%` and `_` literally.
    for (text, some) in [
        ("DISK", true),
        ("diskfull", true),
        ("100%", true),
        ("%", true),
        ("_", true),
        ("u_d", false),
        ("100_", false),
        ("A%1", true),
        ("x\"y'z", true),
        ("nïcode", true),
        ("ck", true),
        ("e", true),
        ("PROD", true),
        ("env", false),
        ("we\"ird", false),
        ("zzz", false),
        ("\"", true),
        ("*", false),
        ("NEAR", false),
        ("a OR b", false),
    ] {
        let ids = check(
            store,
            &all,
            HistoryQuery {
                text: Some(text.into()),
                ..q()
            },
        )
        .await;
        assert_eq!(!ids.is_empty(), some, "{text:?} -> {ids:?}");
    }
    let everything = check(
        store,
        &all,
        HistoryQuery {
            text: Some(String::new()),
            ..q()
        },
    )
    .await;
    assert_eq!(everything.len(), 60, "an empty text filters nothing");
}

pub async fn history_pages_have_no_duplicates_or_gaps<S: Store>(store: &Arc<S>) {
    let all = fill(store).await;
    for (filter, page) in [
        (q(), 9),
        (
            HistoryQuery {
                states: vec![
                    State::Active,
                    State::Acknowledged,
                    State::Resolved,
                    State::Closed,
                ],
                ..q()
            },
            7,
        ),
        (
            HistoryQuery {
                labels: labels(&[("env", "dev")]),
                ..q()
            },
            5,
        ),
        (
            HistoryQuery {
                text: Some("e".into()),
                severities: strings(&["high", "low"]),
                ..q()
            },
            4,
        ),
    ] {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let query = HistoryQuery {
                before_id: before,
                limit: page,
                ..filter.clone()
            };
            let ids = check(store, &all, query).await;
            assert!(ids.len() <= page);
            let Some(&last) = ids.last() else { break };
            seen.extend(ids);
            before = Some(last);
        }
        let whole = history_expected(&all, &filter);
        assert_eq!(seen, whole, "pages of {page} of {filter:?}");
    }
}
