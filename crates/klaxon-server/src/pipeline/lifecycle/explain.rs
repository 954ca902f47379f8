//! The JSON of `GET /alerts/{id}`'s `noise` answer, from the lifecycle's
//! [`Explanation`]: `live` (what the lifecycle holds now, ahead of the store by at most the
//! quiet flush), `suppressed`, `inhibited`, `flapping`. Formatting only.

use klaxon_engine::lifecycle::{Explanation, Suppressed};
use klaxon_engine::timestamp::format_ts;
use serde_json::{json, Value};

pub(super) fn json(e: &Explanation) -> Value {
    let suppressed = match &e.suppressed {
        Some(Suppressed::Silence {
            id,
            until,
            comment,
            created_by,
            matchers,
        }) => json!({"kind": "silence", "id": id, "until": until.map(format_ts),
                     "comment": comment, "created_by": created_by,
                     // A silence that is gone has no matchers to show.
                     "matchers": comment.as_ref().map(|_| matchers)}),
        Some(Suppressed::Maintenance { window, until }) => {
            json!({"kind": "maintenance", "window": window, "until": until.map(format_ts)})
        }
        Some(Suppressed::Manual { until }) => {
            json!({"kind": "manual", "until": until.map(format_ts)})
        }
        None => Value::Null,
    };
    let inhibited: Vec<Value> = e
        .inhibited
        .iter()
        .map(|i| json!({"rule": &*i.rule, "route": i.route.as_deref(), "source_alert": i.source}))
        .collect();
    let f = &e.flapping;
    json!({
        "live": {"occurrences": e.occurrences, "last_seen": format_ts(e.last_seen),
                 "ends_at": e.ends_at.map(format_ts), "state": e.state},
        "suppressed": suppressed,
        "inhibited": inhibited,
        "flapping": {
            "flapping": f.flapping,
            "changes": f.changes,
            "limit": f.limit,
            "window_seconds": f.window_ms.map(|ms| ms / 1000),
            "stable_at": f.stable_at.map(format_ts),
        },
    })
}
