//! Notification templates: a template compiled with the sandbox's size checks and rendered
//! against a fixed alert under the server's fuel and output limits. The first byte picks the
//! escaping (text, HTML, JSON, Slack).
#![no_main]

use std::cell::RefCell;
use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use klaxon_notify::template::{context, value, Escape, Templates, DEFAULT_MAX_BYTES};
use klaxon_notify::{AlertView, Kind, Notification};
use libfuzzer_sys::fuzz_target;

fn notification() -> Notification {
    let labels: BTreeMap<String, String> = [
        ("alertname", "DiskFull"),
        ("instance", "db-1:9100"),
        ("severity", "critical"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let alert = AlertView {
        id: 42,
        fingerprint: format!("{:016x}", 42),
        name: "DiskFull".to_owned(),
        state: State::Active,
        muted: None,
        severity: "critical".to_owned(),
        summary: "disk <b>full</b> & \"96%\"".to_owned(),
        labels: labels.clone(),
        annotations: [(
            "runbook".to_owned(),
            "https://runbooks.example/disk".to_owned(),
        )]
        .into_iter()
        .collect(),
        starts_at: 1_700_000_000_000,
        ends_at: None,
        acknowledged_at: None,
        acknowledged_by: Some("ana".to_owned()),
        resolved_by: None,
        generator_url: None,
        occurrences: 3,
        updated_at: 1_700_000_000_000,
        receivers: Vec::new(),
        incident: None,
    };
    Notification {
        kind: Kind::Firing,
        receiver: "ops".to_owned(),
        group_key: "{}:{alertname=\"DiskFull\"}".to_owned(),
        group_labels: labels,
        alerts: vec![alert],
        at: 1_700_000_001_000,
        folded: 0,
        notice: None,
        escalation: None,
    }
}

thread_local! {
    static TEMPLATES: RefCell<Templates> = RefCell::new({
        let mut t = Templates::new();
        t.set_max_bytes(DEFAULT_MAX_BYTES);
        t
    });
    static CONTEXT: minijinja::Value = value(&context(&notification(), "https://klaxon.example"));
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, source)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(source) else {
        return;
    };
    let escape = [Escape::Text, Escape::Html, Escape::Json, Escape::Slack][usize::from(k % 4)];
    TEMPLATES.with_borrow_mut(|t| {
        let Ok(id) = t.add("fuzz", source, escape) else {
            return;
        };
        CONTEXT.with(|ctx| {
            if let Ok(out) = t.render(&id, ctx) {
                assert!(out.len() <= DEFAULT_MAX_BYTES);
            }
        });
    });
});
