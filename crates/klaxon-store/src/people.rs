//! The records of people: users (`UserRecord`, their `Contact`s), teams (`TeamRecord`), on-call
//! schedules (`ScheduleRecord`, their `OverrideRecord`s), escalation policies
//! (`PolicyRecord`), the writes that change them
//! (`PeopleChange`), and the audit log (`AuditEntry`, `AuditQuery`, `AuditRecord`). Validation of names, time zones and sizes belongs to the caller; the store
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

/// An on-call schedule; the name is its id. The store keeps its definition whole and knows
/// nothing of rotations: compiling it is the caller's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRecord {
    pub name: String,
    /// The schedule as declared (time zone, layers, overrides declared with it), a JSON object
    /// written and read whole, checked by the caller.
    pub definition: String,
    /// Every user the definition names: each must exist, and none can be deleted while named.
    pub users: Vec<String>,
    /// Overrides added one by one (someone covers a shift), by start. Ignored by the writes of
    /// a schedule: they change through [`PeopleChange::AddOverride`] and
    /// [`PeopleChange::DeleteOverride`] only, and stay when the schedule is replaced.
    pub overrides: Vec<OverrideRecord>,
    pub origin: Origin,
    /// Epoch ms; kept by an update.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// Someone covers a schedule from `start` to `end` (epoch ms, end exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideRecord {
    /// Chosen by the store; ignored when adding.
    pub id: i64,
    pub user: String,
    pub start: i64,
    pub end: i64,
    /// Who added it (the audit actor).
    pub created_by: String,
    /// Epoch ms.
    pub created_at: i64,
}

/// An escalation policy; the name is its id. The store keeps its definition whole and knows
/// nothing of levels: compiling it is the caller's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRecord {
    pub name: String,
    /// The policy as declared (`repeat`, `ack_timeout`, `levels`), a JSON object written and
    /// read whole, checked by the caller.
    pub definition: String,
    /// Every user, team and schedule its levels name, as `user:NAME`, `team:NAME`,
    /// `schedule:NAME` (receivers are the configuration's, not the store's): each must exist,
    /// and none can be deleted while named.
    pub names: Vec<String>,
    pub origin: Origin,
    /// Epoch ms; kept by an update.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// A write to users, teams, schedules and escalation policies, applied in one commit with its
/// audit rows.
#[derive(Debug, Clone, PartialEq)]
pub enum PeopleChange {
    /// AlreadyExists if the name is taken.
    CreateUser(UserRecord),
    /// Replaces the user of that name (its `created_at` and origin are kept). NotFound if
    /// there is none; Conflict if it is declared in the configuration file.
    UpdateUser(UserRecord),
    /// NotFound if there is none; Conflict if it is declared in the configuration file, is a
    /// member of a team, is named by a schedule, an override or an escalation policy, or owns
    /// a token in force.
    DeleteUser(String),
    /// AlreadyExists if the name is taken; Conflict if a member is not a user.
    CreateTeam(TeamRecord),
    /// As [`PeopleChange::UpdateUser`]; Conflict if a member is not a user.
    UpdateTeam(TeamRecord),
    /// NotFound if there is none; Conflict if it is declared in the configuration file or an
    /// escalation policy names it.
    DeleteTeam(String),
    /// AlreadyExists if the name is taken; Conflict if a user it names does not exist.
    CreateSchedule(ScheduleRecord),
    /// Replaces the definition (overrides, `created_at` and origin are kept). NotFound if there
    /// is none; Conflict if it is declared in the configuration file or names a user that does
    /// not exist.
    UpdateSchedule(ScheduleRecord),
    /// Deletes a schedule with its overrides. NotFound if there is none; Conflict if it is
    /// declared in the configuration file or an escalation policy names it.
    DeleteSchedule(String),
    /// Adds an override to a schedule, declared in the configuration file or not (its `id` is
    /// chosen here). NotFound if there is no such schedule; Conflict if the user does not
    /// exist or it overlaps another added override of the schedule.
    AddOverride {
        schedule: String,
        over: OverrideRecord,
    },
    /// NotFound if the schedule has no override with this id.
    DeleteOverride { schedule: String, id: i64 },
    /// AlreadyExists if the name is taken; Conflict if a user, team or schedule it names does
    /// not exist.
    CreatePolicy(PolicyRecord),
    /// Replaces the definition (`created_at` and origin are kept). NotFound if there is none;
    /// Conflict if it is declared in the configuration file or names what does not exist.
    UpdatePolicy(PolicyRecord),
    /// NotFound if there is none; Conflict if it is declared in the configuration file.
    DeletePolicy(String),
    /// Makes these the policies declared in the configuration file, as [`PeopleChange::Declare`]
    /// does for people (after it: a declared policy names declared people).
    DeclarePolicies(Vec<PolicyRecord>),
    /// Makes these the objects declared in the configuration file: each replaces whatever
    /// had its name (made through the API or declared before; `created_at` is kept), and
    /// objects declared before but left out now become API objects (nothing is deleted).
    /// Conflict if a declared team or schedule names a user that does not exist.
    Declare {
        users: Vec<UserRecord>,
        teams: Vec<TeamRecord>,
        schedules: Vec<ScheduleRecord>,
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
