//! `[[users]]`, `[[teams]]` and `[[schedules]]`: people and their on-call schedules declared in
//! the configuration file. Each is checked as the API checks it, and every problem is reported
//! at once with its place (`users[1] (bob).time_zone: ...`,
//! `schedules[0] (db).layers[1].shift: ...`). A team's members and the users a schedule names
//! must be users declared in the file.
//! At start the server makes these the declared objects of the store, read-only through the API.

use klaxon_store::{Contact, Origin, TeamRecord, UserRecord};
use serde::Deserialize;

use crate::people::{self, check_team, check_user};

/// `[[users]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// An IANA time zone name; UTC when absent.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// `{ kind = "webhook", url = ... }`, `{ kind = "email", to = ... }`,
    /// `{ kind = "slack", target = ... }`, `{ kind = "pagerduty", routing_key = ... }`.
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// `[[teams]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
    /// SLA targets of the team's alerts (its `team` label), per severity, over `[sla]`.
    #[serde(default)]
    pub sla: Option<super::SlaConfig>,
}

impl UserConfig {
    pub(crate) fn record(&self, now: i64) -> UserRecord {
        UserRecord {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            time_zone: self.time_zone.clone(),
            contacts: self.contacts.clone(),
            origin: Origin::Config,
            created_at: now,
            updated_at: now,
        }
    }
}

impl TeamConfig {
    pub(crate) fn record(&self, now: i64) -> TeamRecord {
        TeamRecord {
            name: self.name.clone(),
            members: self.members.clone(),
            origin: Origin::Config,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Every problem of the declared people, each with its place.
pub(crate) fn validate(users: &[UserConfig], teams: &[TeamConfig], errors: &mut Vec<String>) {
    for (what, n) in [("users", users.len()), ("teams", teams.len())] {
        if n > people::PEOPLE {
            errors.push(format!(
                "{what}: {n} entries, over the limit of {}",
                people::PEOPLE
            ));
            return;
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, u) in users.iter().enumerate() {
        let at = format!("users[{i}] ({})", u.name);
        for p in check_user(&u.record(0)) {
            errors.push(format!("{at}.{p}"));
        }
        if !seen.insert(u.name.as_str()) {
            errors.push(format!("{at}.name: declared twice"));
        }
    }
    let mut teams_seen = std::collections::BTreeSet::new();
    for (i, t) in teams.iter().enumerate() {
        let at = format!("teams[{i}] ({})", t.name);
        for p in check_team(&t.record(0)) {
            errors.push(format!("{at}.{p}"));
        }
        if !teams_seen.insert(t.name.as_str()) {
            errors.push(format!("{at}.name: declared twice"));
        }
        for (j, m) in t.members.iter().enumerate() {
            if !seen.contains(m.as_str()) {
                errors.push(format!(
                    "{at}.members[{j}]: {m:?} is not a user declared under [[users]]"
                ));
            }
        }
    }
}

/// Every problem of the declared schedules, each with its place: the schedule (index and
/// name), the layer and the field.
pub(crate) fn validate_schedules(
    users: &[UserConfig],
    schedules: &[klaxon_engine::oncall::ScheduleConfig],
    errors: &mut Vec<String>,
) {
    if schedules.len() > crate::oncall::SCHEDULES {
        errors.push(format!(
            "schedules: {} entries, over the limit of {}",
            schedules.len(),
            crate::oncall::SCHEDULES
        ));
        return;
    }
    let declared: std::collections::BTreeSet<&str> =
        users.iter().map(|u| u.name.as_str()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in schedules.iter().enumerate() {
        let at = format!("schedules[{i}] ({})", s.name);
        if let Err(problems) = crate::oncall::check(s) {
            errors.extend(problems.iter().map(|p| format!("{at}.{p}")));
        }
        if !seen.insert(s.name.as_str()) {
            errors.push(format!("{at}.name: declared twice"));
        }
        for (layer, field, user) in s.user_references() {
            if !declared.contains(user) {
                let layer = layer.map(|l| format!("layers[{l}].")).unwrap_or_default();
                errors.push(format!(
                    "{at}.{layer}{field}: {user:?} is not a user declared under [[users]]"
                ));
            }
        }
    }
}
