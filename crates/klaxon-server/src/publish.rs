//! What streams carry of a committed alert. The lifecycle manager publishes only after the
//! store has committed (write-then-signal).

use klaxon_store::StoredAlert;

/// A committed alert as streams see it: its id and its JSON, rendered once.
#[derive(Debug)]
pub struct Published {
    pub id: i64,
    pub json: String,
}

impl Published {
    pub fn new(a: &StoredAlert) -> Published {
        Published {
            id: a.id,
            json: crate::api::alerts::to_json(a).to_string(),
        }
    }
}
