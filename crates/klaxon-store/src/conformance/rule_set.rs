//! Rule sets: versions per (kind, group, name), exclusive activation per kind and group,
//! NotFound.

use std::sync::Arc;

use crate::{NewRuleSet, RuleKind, RuleSetRecord, Store, StoreError};

const E: RuleKind = RuleKind::Event;
const T: RuleKind = RuleKind::Threshold;

fn rule_set(group: &str, name: &str, json: &str) -> NewRuleSet {
    NewRuleSet {
        kind: E,
        group: group.into(),
        name: name.into(),
        version: None,
        json: json.into(),
        author: (name != "anonymous").then(|| "ops".to_owned()),
        created_at: 7,
    }
}

fn keys(sets: &[RuleSetRecord]) -> Vec<(String, String, i64, bool)> {
    sets.iter()
        .map(|r| (r.group.clone(), r.name.clone(), r.version, r.active))
        .collect()
}

fn key(g: &str, n: &str, v: i64, active: bool) -> (String, String, i64, bool) {
    (g.into(), n.into(), v, active)
}

pub async fn rule_set_versions_increment_per_group_and_name<S: Store>(store: &Arc<S>) {
    let json = r#"{ "rules": [ ] , "odd  spacing": true }"#;
    let mut versions = Vec::new();
    for (g, n) in [
        ("g2", "a"),
        ("g1", "b"),
        ("g1", "a"),
        ("g1", "a"),
        ("g1", "anonymous"),
    ] {
        versions.push(
            store
                .insert_rule_set(rule_set(g, n, json))
                .await
                .unwrap()
                .version,
        );
    }
    assert_eq!(versions, [1, 1, 1, 2, 1]);
    let listed = store.list_rule_sets().await.unwrap();
    assert_eq!(
        keys(&listed),
        [
            key("g1", "a", 1, false),
            key("g1", "a", 2, false),
            key("g1", "anonymous", 1, false),
            key("g1", "b", 1, false),
            key("g2", "a", 1, false),
        ]
    );
    let got = store.get_rule_set(E, "g1", "a", 2).await.unwrap();
    assert_eq!(got.json, json, "the document is kept exactly as submitted");
    assert_eq!(got.author.as_deref(), Some("ops"));
    assert_eq!(got.created_at, 7);
    let anonymous = store.get_rule_set(E, "g1", "anonymous", 1).await.unwrap();
    assert_eq!(anonymous.author, None);
    assert!(store.active_rule_sets().await.unwrap().is_empty());
}

pub async fn a_rule_set_is_stored_under_the_version_it_gives<S: Store>(store: &Arc<S>) {
    let at = |v: i64| NewRuleSet {
        version: Some(v),
        ..rule_set("g1", "a", "{}")
    };
    assert_eq!(store.insert_rule_set(at(2)).await.unwrap().version, 2);
    assert_eq!(
        store
            .insert_rule_set(rule_set("g1", "a", "{}"))
            .await
            .unwrap()
            .version,
        3,
        "without a version: the highest plus one"
    );
    assert!(matches!(
        store.insert_rule_set(at(2)).await,
        Err(crate::StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store.insert_rule_set(at(1)).await.unwrap().version,
        1,
        "a gap can be filled"
    );
    let other = NewRuleSet { kind: T, ..at(2) };
    assert_eq!(
        store.insert_rule_set(other).await.unwrap().version,
        2,
        "per kind"
    );
}

pub async fn activation_is_exclusive_per_group<S: Store>(store: &Arc<S>) {
    for (g, n) in [("g1", "a"), ("g1", "a"), ("g1", "b"), ("g2", "a")] {
        store.insert_rule_set(rule_set(g, n, "{}")).await.unwrap();
    }
    let active = store.activate_rule_set(E, "g1", "a", 2).await.unwrap();
    assert!(active.active);
    assert_eq!((active.version, active.json.as_str()), (2, "{}"));
    let listed = keys(&store.active_rule_sets().await.unwrap());
    assert_eq!(listed, [key("g1", "a", 2, true)]);

    store.activate_rule_set(E, "g1", "b", 1).await.unwrap();
    store.activate_rule_set(E, "g2", "a", 1).await.unwrap();
    let listed = keys(&store.active_rule_sets().await.unwrap());
    assert_eq!(listed, [key("g1", "b", 1, true), key("g2", "a", 1, true)]);

    store.activate_rule_set(E, "g1", "a", 1).await.unwrap();
    store.activate_rule_set(E, "g1", "a", 1).await.unwrap(); // again: stays the one active
    let all = keys(&store.list_rule_sets().await.unwrap());
    assert_eq!(
        all,
        [
            key("g1", "a", 1, true),
            key("g1", "a", 2, false),
            key("g1", "b", 1, false),
            key("g2", "a", 1, true),
        ]
    );
}

pub async fn missing_rule_set_version_is_not_found<S: Store>(store: &Arc<S>) {
    store
        .insert_rule_set(rule_set("g1", "a", "{}"))
        .await
        .unwrap();
    store.activate_rule_set(E, "g1", "a", 1).await.unwrap();
    let err = store.activate_rule_set(E, "g1", "a", 9).await.unwrap_err();
    let StoreError::NotFound(msg) = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    for part in ["g1", "a", "9"] {
        assert!(msg.contains(part), "{msg:?} names {part}");
    }
    assert!(matches!(
        store.activate_rule_set(E, "nope", "a", 1).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_rule_set(E, "g1", "b", 1).await,
        Err(StoreError::NotFound(_))
    ));
    let active = keys(&store.active_rule_sets().await.unwrap());
    assert_eq!(
        active,
        [key("g1", "a", 1, true)],
        "a failed activation changes nothing"
    );
}

pub async fn threshold_rule_sets_are_versioned_and_activated_apart<S: Store>(store: &Arc<S>) {
    let threshold = |name: &str| NewRuleSet {
        kind: T,
        ..rule_set("g1", name, "[]")
    };
    store
        .insert_rule_set(rule_set("g1", "a", "{}"))
        .await
        .unwrap();
    let t1 = store.insert_rule_set(threshold("a")).await.unwrap();
    let t2 = store.insert_rule_set(threshold("a")).await.unwrap();
    assert_eq!(
        (t1.kind, t1.version, t2.version),
        (T, 1, 2),
        "a threshold set of the same group and name counts its own versions"
    );
    store.activate_rule_set(E, "g1", "a", 1).await.unwrap();
    store.activate_rule_set(T, "g1", "a", 2).await.unwrap();
    let active: Vec<(RuleKind, i64)> = store
        .active_rule_sets()
        .await
        .unwrap()
        .iter()
        .map(|r| (r.kind, r.version))
        .collect();
    assert_eq!(
        active,
        [(E, 1), (T, 2)],
        "one active set per kind and group, and activating one kind leaves the other"
    );
    assert_eq!(
        store.get_rule_set(T, "g1", "a", 2).await.unwrap().json,
        "[]"
    );
    let err = store.get_rule_set(E, "g1", "a", 2).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = store.activate_rule_set(T, "g1", "a", 3).await.unwrap_err();
    let StoreError::NotFound(msg) = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert!(msg.contains("threshold"), "{msg:?} says which kind");
}
