//! The records of people: users (`UserRecord`, their `Contact`s), teams (`TeamRecord`), the
//! writes that change them (`PeopleChange`), and the audit log (`AuditEntry`, `AuditQuery`,
//! `AuditRecord`). Validation of names, time zones and sizes belongs to the caller; the store
//! keeps names unique, team members existing, and objects declared in the configuration file
//! out of reach of every write but [`PeopleChange::Declare`].

use serde::{Deserialize, Serialize};

/// One way to reach a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Contact {
    /// An e-mail address.
    Email { to: String },
    /// A Slack user (`@name` or a member id) or channel (`#name`).
    Slack { target: String },
    /// A URL that receives the notification as JSON.
    Webhook { url: String },
    /// A PagerDuty Events v2 routing key.
    Pagerduty { routing_key: String },
}

/// Where a user or team was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Through the API or the CLI: changed and deleted the same way.
    Api,
    /// Declared in the configuration file: read-only everywhere else.
    Config,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Api => "api",
            Origin::Config => "config",
        }
    }

    pub fn parse(s: &str) -> Option<Origin> {
        match s {
            "api" => Some(Origin::Api),
            "config" => Some(Origin::Config),
            _ => None,
        }
    }
}

/// A user; the name is its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    pub name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// An IANA time zone name (`Europe/Berlin`), checked by the caller.
    pub time_zone: String,
    pub contacts: Vec<Contact>,
    pub origin: Origin,
    /// Epoch ms; kept by an update.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// A team: a name and its members, users by name, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamRecord {
    pub name: String,
    pub members: Vec<String>,
    pub origin: Origin,
    /// Epoch ms; kept by an update.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// A write to users and teams, applied in one commit with its audit rows.
#[derive(Debug, Clone, PartialEq)]
pub enum PeopleChange {
    /// AlreadyExists if the name is taken.
    CreateUser(UserRecord),
    /// Replaces the user of that name (its `created_at` and origin are kept). NotFound if
    /// there is none; Conflict if it is declared in the configuration file.
    UpdateUser(UserRecord),
    /// NotFound if there is none; Conflict if it is declared in the configuration file, is a
    /// member of a team, or owns a token in force.
    DeleteUser(String),
    /// AlreadyExists if the name is taken; Conflict if a member is not a user.
    CreateTeam(TeamRecord),
    /// As [`PeopleChange::UpdateUser`]; Conflict if a member is not a user.
    UpdateTeam(TeamRecord),
    /// NotFound if there is none; Conflict if it is declared in the configuration file.
    DeleteTeam(String),
    /// Makes these the objects declared in the configuration file: each replaces whatever
    /// had its name (made through the API or declared before; `created_at` is kept), and
    /// objects declared before but left out now become API objects (nothing is deleted).
    /// Conflict if a declared team names a user that does not exist.
    Declare {
        users: Vec<UserRecord>,
        teams: Vec<TeamRecord>,
    },
}

/// An action a person took, to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Epoch ms.
    pub at: i64,
    /// The user name of the caller's token, or the token's name for a service token.
    pub actor: String,
    /// The caller's role (`viewer`, `responder`, `admin`, ...).
    pub role: String,
    /// What was done, e.g. `alert.acknowledge`, `user.create`.
    pub action: String,
    /// What it was done to, e.g. `alert:42`, `user:alice`.
    pub target: String,
    /// Free text: a reason, a note's first line, the changed fields.
    pub detail: Option<String>,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Filters and a cursor over the audit log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Epoch ms, inclusive.
    pub since: Option<i64>,
    /// Epoch ms, exclusive.
    pub until: Option<i64>,
    /// Only rows with an id below this one (the cursor).
    pub before_id: Option<i64>,
    /// At most this many rows (the backend caps it at [`AuditQuery::MAX_LIMIT`]).
    pub limit: usize,
}

impl AuditQuery {
    /// The most rows one page may hold.
    pub const MAX_LIMIT: usize = 1000;
}
