//! Baselines: upsert by key, load everything back.

use std::sync::Arc;

use klaxon_engine::BaselineRecord;

use crate::Store;

fn baseline(rule: &str, context: Option<&str>, n: u32, avg: f64) -> BaselineRecord {
    BaselineRecord {
        group: "default".into(),
        rule_id: rule.into(),
        scope: "metro".into(),
        action: "TRACK".into(),
        context: context.map(Into::into),
        n,
        avg,
    }
}

fn sorted(mut b: Vec<BaselineRecord>) -> Vec<BaselineRecord> {
    b.sort_by(|x, y| (&x.rule_id, &x.context).cmp(&(&y.rule_id, &y.context)));
    b
}

pub async fn baselines_upsert_and_load<S: Store>(store: &Arc<S>) {
    assert!(store.load_baselines().await.unwrap().is_empty());
    let first = vec![
        baseline("R1", None, 3, 12.5),
        baseline("R1", Some("S1"), 10, 0.1),
        baseline("R2", None, u32::MAX, -4.0),
    ];
    store.save_baselines(first.clone()).await.unwrap();
    assert_eq!(
        sorted(store.load_baselines().await.unwrap()),
        sorted(first.clone())
    );

    let second = vec![
        baseline("R1", None, 4, 13.0),
        baseline("R3", Some("S2"), 1, 1.0),
    ];
    store.save_baselines(second).await.unwrap();
    let expected = vec![
        baseline("R1", None, 4, 13.0),
        first[1].clone(),
        first[2].clone(),
        baseline("R3", Some("S2"), 1, 1.0),
    ];
    assert_eq!(
        sorted(store.load_baselines().await.unwrap()),
        sorted(expected)
    );
}
