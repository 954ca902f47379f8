//! The SQL of users, teams and the audit log: reads and [`apply`], one [`PeopleChange`] with
//! its audit rows (inside the caller's write transaction). Objects declared in the
//! configuration file are refused here to every change but `Declare`, so no caller can forget
//! the check. Must not begin or commit anything.

use tokio_postgres::{GenericClient, Row, Transaction};

use super::error::decoding;
use super::origin::{editable, origin_at};
use super::row::{collect, exec, get, one};
use super::{policy, schedule};
use crate::{
    AuditEntry, AuditQuery, AuditRecord, Contact, Origin, PeopleChange, Result, StoreError,
    TeamRecord, UserRecord,
};

const USER_COLUMNS: &str =
    "name, display_name, email, time_zone, contacts, origin, created_at, updated_at";

fn user_at(r: &Row) -> Result<UserRecord> {
    let contacts: &str = get(r, 4)?;
    Ok(UserRecord {
        name: get(r, 0)?,
        display_name: get(r, 1)?,
        email: get(r, 2)?,
        time_zone: get(r, 3)?,
        contacts: serde_json::from_str::<Vec<Contact>>(contacts)
            .map_err(|e| decoding("contacts", e))?,
        origin: origin_at(r, 5)?,
        created_at: get(r, 6)?,
        updated_at: get(r, 7)?,
    })
}

fn contacts_json(u: &UserRecord) -> Result<String> {
    serde_json::to_string(&u.contacts).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(crate) async fn get_user<C: GenericClient + Sync>(
    c: &C,
    name: &str,
) -> Result<Option<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
    one(c, &sql, &[&name], user_at).await
}

pub(crate) async fn list_users<C: GenericClient + Sync>(c: &C) -> Result<Vec<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
    collect(c, &sql, &[], user_at).await
}

async fn members<C: GenericClient + Sync>(c: &C, team: &str) -> Result<Vec<String>> {
    collect(
        c,
        "SELECT user_name FROM team_members WHERE team = $1 ORDER BY position",
        &[&team],
        |r| get(r, 0),
    )
    .await
}

fn team_head(r: &Row) -> Result<TeamRecord> {
    Ok(TeamRecord {
        name: get(r, 0)?,
        members: Vec::new(),
        origin: origin_at(r, 1)?,
        created_at: get(r, 2)?,
        updated_at: get(r, 3)?,
    })
}

pub(crate) async fn get_team<C: GenericClient + Sync>(
    c: &C,
    name: &str,
) -> Result<Option<TeamRecord>> {
    let team = one(
        c,
        "SELECT name, origin, created_at, updated_at FROM teams WHERE name = $1",
        &[&name],
        team_head,
    )
    .await?;
    let Some(mut team) = team else {
        return Ok(None);
    };
    team.members = members(c, name).await?;
    Ok(Some(team))
}

pub(crate) async fn list_teams<C: GenericClient + Sync>(c: &C) -> Result<Vec<TeamRecord>> {
    let mut teams = collect(
        c,
        "SELECT name, origin, created_at, updated_at FROM teams ORDER BY name",
        &[],
        team_head,
    )
    .await?;
    for t in &mut teams {
        t.members = members(c, &t.name).await?;
    }
    Ok(teams)
}

/// Applies one change and appends its audit rows.
pub(crate) async fn apply(
    tx: &Transaction<'_>,
    change: &PeopleChange,
    audit: &[AuditEntry],
) -> Result<()> {
    match change {
        PeopleChange::CreateUser(u) => insert_user(tx, u).await?,
        PeopleChange::UpdateUser(u) => {
            let origin = get_user(tx, &u.name).await?.map(|o| o.origin);
            editable("user", origin, &u.name)?;
            write_user(tx, u, Origin::Api).await?;
        }
        PeopleChange::DeleteUser(name) => delete_user(tx, name).await?,
        PeopleChange::CreateTeam(t) => {
            if get_team(tx, &t.name).await?.is_some() {
                return Err(StoreError::AlreadyExists(format!("team {:?}", t.name)));
            }
            write_team(tx, t, t.origin).await?;
        }
        PeopleChange::UpdateTeam(t) => {
            let origin = get_team(tx, &t.name).await?.map(|o| o.origin);
            editable("team", origin, &t.name)?;
            write_team(tx, t, Origin::Api).await?;
        }
        PeopleChange::DeleteTeam(name) => {
            let origin = get_team(tx, name).await?.map(|o| o.origin);
            editable("team", origin, name)?;
            policy::refuse_named(tx, "team", name).await?;
            exec(tx, "DELETE FROM teams WHERE name = $1", &[name]).await?;
        }
        PeopleChange::CreateSchedule(s) => schedule::create(tx, s).await?,
        PeopleChange::UpdateSchedule(s) => schedule::update(tx, s).await?,
        PeopleChange::DeleteSchedule(name) => {
            policy::refuse_named(tx, "schedule", name).await?;
            schedule::delete(tx, name).await?;
        }
        PeopleChange::AddOverride { schedule: s, over } => {
            schedule::add_override(tx, s, over).await?;
        }
        PeopleChange::DeleteOverride { schedule: s, id } => {
            schedule::delete_override(tx, s, *id).await?;
        }
        PeopleChange::CreatePolicy(p) => policy::create(tx, p).await?,
        PeopleChange::UpdatePolicy(p) => policy::update(tx, p).await?,
        PeopleChange::DeletePolicy(name) => policy::delete(tx, name).await?,
        PeopleChange::DeclarePolicies(ps) => policy::declare(tx, ps).await?,
        PeopleChange::Declare {
            users,
            teams,
            schedules,
        } => {
            declare(tx, users, teams).await?;
            schedule::declare(tx, schedules).await?;
        }
    }
    append_audit(tx, audit).await
}

async fn insert_user(tx: &Transaction<'_>, u: &UserRecord) -> Result<()> {
    let contacts = contacts_json(u)?;
    exec(
        tx,
        "INSERT INTO users (name, display_name, email, time_zone, contacts, origin, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &u.name,
            &u.display_name,
            &u.email,
            &u.time_zone,
            &contacts,
            &u.origin.as_str(),
            &u.created_at,
            &u.updated_at,
        ],
    )
    .await
    .map_err(|e| match e {
        StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("user {:?}", u.name)),
        other => other,
    })
    .map(drop)
}

/// Replaces the user of that name (which exists), keeping its `created_at`.
async fn write_user(tx: &Transaction<'_>, u: &UserRecord, origin: Origin) -> Result<()> {
    let contacts = contacts_json(u)?;
    exec(
        tx,
        "UPDATE users SET display_name = $2, email = $3, time_zone = $4, contacts = $5, \
         origin = $6, updated_at = $7 WHERE name = $1",
        &[
            &u.name,
            &u.display_name,
            &u.email,
            &u.time_zone,
            &contacts,
            &origin.as_str(),
            &u.updated_at,
        ],
    )
    .await
    .map(drop)
}

async fn delete_user(tx: &Transaction<'_>, name: &str) -> Result<()> {
    let origin = get_user(tx, name).await?.map(|o| o.origin);
    editable("user", origin, name)?;
    let teams: Vec<String> = collect(
        tx,
        "SELECT DISTINCT team FROM team_members WHERE user_name = $1 ORDER BY team LIMIT 5",
        &[&name],
        |r| get(r, 0),
    )
    .await?;
    if !teams.is_empty() {
        return Err(StoreError::Conflict(format!(
            "user {name:?} is a member of team {}; remove it from its teams first",
            teams.join(", ")
        )));
    }
    let schedules = schedule::naming(tx, name).await?;
    if !schedules.is_empty() {
        return Err(StoreError::Conflict(format!(
            "user {name:?} is on schedule {}; take it off the schedule first",
            schedules.join(", ")
        )));
    }
    policy::refuse_named(tx, "user", name).await?;
    let r = tx
        .query_one(
            "SELECT count(*) FROM tokens WHERE user_name = $1 AND revoked_at IS NULL",
            &[&name],
        )
        .await
        .map_err(super::error::map)?;
    let tokens: i64 = get(&r, 0)?;
    if tokens > 0 {
        return Err(StoreError::Conflict(format!(
            "user {name:?} owns {tokens} token(s) that are not revoked; revoke them first"
        )));
    }
    exec(tx, "DELETE FROM users WHERE name = $1", &[&name])
        .await
        .map(drop)
}

/// Writes a team (inserting it or replacing its members), checking every member exists.
async fn write_team(tx: &Transaction<'_>, t: &TeamRecord, origin: Origin) -> Result<()> {
    for m in &t.members {
        if get_user(tx, m).await?.is_none() {
            return Err(StoreError::Conflict(format!(
                "team {:?}: no user named {m:?}",
                t.name
            )));
        }
    }
    exec(
        tx,
        "INSERT INTO teams (name, origin, created_at, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET origin = excluded.origin, \
         updated_at = excluded.updated_at",
        &[&t.name, &origin.as_str(), &t.created_at, &t.updated_at],
    )
    .await?;
    exec(tx, "DELETE FROM team_members WHERE team = $1", &[&t.name]).await?;
    exec(
        tx,
        "INSERT INTO team_members (team, position, user_name) \
         SELECT $1, p - 1, u FROM unnest($2::text[]) WITH ORDINALITY AS m (u, p)",
        &[&t.name, &t.members],
    )
    .await?;
    Ok(())
}

async fn declare(tx: &Transaction<'_>, users: &[UserRecord], teams: &[TeamRecord]) -> Result<()> {
    for table in ["users", "teams"] {
        exec(
            tx,
            &format!("UPDATE {table} SET origin = 'api' WHERE origin = 'config'"),
            &[],
        )
        .await?;
    }
    for u in users {
        if get_user(tx, &u.name).await?.is_some() {
            write_user(tx, u, Origin::Config).await?;
        } else {
            insert_user(
                tx,
                &UserRecord {
                    origin: Origin::Config,
                    ..u.clone()
                },
            )
            .await?;
        }
    }
    for t in teams {
        write_team(tx, t, Origin::Config).await?;
    }
    Ok(())
}

pub(crate) async fn append_audit(tx: &Transaction<'_>, rows: &[AuditEntry]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let st = tx
        .prepare(
            "INSERT INTO audit (at, actor, role, \"action\", target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(super::error::map)?;
    for a in rows {
        tx.execute(
            &st,
            &[&a.at, &a.actor, &a.role, &a.action, &a.target, &a.detail],
        )
        .await
        .map_err(super::error::map)?;
    }
    Ok(())
}

pub(crate) async fn audit_log<C: GenericClient + Sync>(
    c: &C,
    q: &AuditQuery,
) -> Result<Vec<AuditRecord>> {
    let limit = i64::try_from(q.limit.min(AuditQuery::MAX_LIMIT)).unwrap_or(0);
    collect(
        c,
        "SELECT id, at, actor, role, \"action\", target, detail FROM audit \
         WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR \"action\" = $2) \
         AND ($3::int8 IS NULL OR at >= $3) AND ($4::int8 IS NULL OR at < $4) \
         AND ($5::int8 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
        &[
            &q.actor,
            &q.action,
            &q.since,
            &q.until,
            &q.before_id,
            &limit,
        ],
        |r| {
            Ok(AuditRecord {
                id: get(r, 0)?,
                entry: AuditEntry {
                    at: get(r, 1)?,
                    actor: get(r, 2)?,
                    role: get(r, 3)?,
                    action: get(r, 4)?,
                    target: get(r, 5)?,
                    detail: get(r, 6)?,
                },
            })
        },
    )
    .await
}
