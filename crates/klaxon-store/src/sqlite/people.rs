//! The SQL of users, teams and the audit log: reads (on reader connections) and
//! [`apply`], one [`PeopleChange`] with its audit rows (on the writer, inside its savepoint).
//! Objects declared in the configuration file are refused here to every change but
//! `Declare`, so no caller can forget the check. Must not begin or commit anything.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::map;
use super::origin::{bad_column, editable, origin_at};
use super::{policy, schedule};
use crate::{
    AuditEntry, AuditQuery, AuditRecord, Contact, Origin, PeopleChange, Result, StoreError,
    TeamRecord, UserRecord,
};

const USER_COLUMNS: &str =
    "name, display_name, email, time_zone, contacts, origin, created_at, updated_at";

fn user_at(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let contacts: String = row.get(4)?;
    Ok(UserRecord {
        name: row.get(0)?,
        display_name: row.get(1)?,
        email: row.get(2)?,
        time_zone: row.get(3)?,
        contacts: serde_json::from_str::<Vec<Contact>>(&contacts)
            .map_err(|e| bad_column(4, format!("contacts: {e}")))?,
        origin: origin_at(row, 5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

fn contacts_json(u: &UserRecord) -> Result<String> {
    serde_json::to_string(&u.contacts).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(crate) fn get_user(conn: &Connection, name: &str) -> Result<Option<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row([name], user_at).optional())
        .map_err(map)
}

pub(crate) fn list_users(conn: &Connection) -> Result<Vec<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
    let mut st = conn.prepare_cached(&sql).map_err(map)?;
    let rows = st.query_map([], user_at).map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}

fn members(conn: &Connection, team: &str) -> Result<Vec<String>> {
    let mut st = conn
        .prepare_cached("SELECT user_name FROM team_members WHERE team = ?1 ORDER BY position")
        .map_err(map)?;
    let rows = st.query_map([team], |r| r.get(0)).map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}

fn team_head(row: &Row<'_>) -> rusqlite::Result<TeamRecord> {
    Ok(TeamRecord {
        name: row.get(0)?,
        members: Vec::new(),
        origin: origin_at(row, 1)?,
        created_at: row.get(2)?,
        updated_at: row.get(3)?,
    })
}

pub(crate) fn get_team(conn: &Connection, name: &str) -> Result<Option<TeamRecord>> {
    let team = conn
        .prepare_cached("SELECT name, origin, created_at, updated_at FROM teams WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], team_head).optional())
        .map_err(map)?;
    let Some(mut team) = team else {
        return Ok(None);
    };
    team.members = members(conn, name)?;
    Ok(Some(team))
}

pub(crate) fn list_teams(conn: &Connection) -> Result<Vec<TeamRecord>> {
    let mut st = conn
        .prepare_cached("SELECT name, origin, created_at, updated_at FROM teams ORDER BY name")
        .map_err(map)?;
    let mut teams = st
        .query_map([], team_head)
        .map_err(map)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(map)?;
    for t in &mut teams {
        t.members = members(conn, &t.name)?;
    }
    Ok(teams)
}

/// Applies one change and appends its audit rows.
pub(crate) fn apply(conn: &Connection, change: &PeopleChange, audit: &[AuditEntry]) -> Result<()> {
    match change {
        PeopleChange::CreateUser(u) => insert_user(conn, u)?,
        PeopleChange::UpdateUser(u) => {
            editable("user", get_user(conn, &u.name)?.map(|o| o.origin), &u.name)?;
            write_user(conn, u, Origin::Api)?;
        }
        PeopleChange::DeleteUser(name) => delete_user(conn, name)?,
        PeopleChange::CreateTeam(t) => {
            if get_team(conn, &t.name)?.is_some() {
                return Err(StoreError::AlreadyExists(format!("team {:?}", t.name)));
            }
            write_team(conn, t, t.origin)?;
        }
        PeopleChange::UpdateTeam(t) => {
            editable("team", get_team(conn, &t.name)?.map(|o| o.origin), &t.name)?;
            write_team(conn, t, Origin::Api)?;
        }
        PeopleChange::DeleteTeam(name) => {
            editable("team", get_team(conn, name)?.map(|o| o.origin), name)?;
            policy::refuse_named(conn, "team", name)?;
            conn.prepare_cached("DELETE FROM teams WHERE name = ?1")
                .and_then(|mut st| st.execute([name]))
                .map_err(map)?;
        }
        PeopleChange::CreateSchedule(s) => schedule::create(conn, s)?,
        PeopleChange::UpdateSchedule(s) => schedule::update(conn, s)?,
        PeopleChange::DeleteSchedule(name) => {
            policy::refuse_named(conn, "schedule", name)?;
            schedule::delete(conn, name)?;
        }
        PeopleChange::AddOverride { schedule: s, over } => schedule::add_override(conn, s, over)?,
        PeopleChange::DeleteOverride { schedule: s, id } => {
            schedule::delete_override(conn, s, *id)?;
        }
        PeopleChange::CreatePolicy(p) => policy::create(conn, p)?,
        PeopleChange::UpdatePolicy(p) => policy::update(conn, p)?,
        PeopleChange::DeletePolicy(name) => policy::delete(conn, name)?,
        PeopleChange::DeclarePolicies(ps) => policy::declare(conn, ps)?,
        PeopleChange::Declare {
            users,
            teams,
            schedules,
        } => {
            declare(conn, users, teams)?;
            schedule::declare(conn, schedules)?;
        }
    }
    append_audit(conn, audit)
}

fn insert_user(conn: &Connection, u: &UserRecord) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO users (name, display_name, email, time_zone, contacts, origin, created_at, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut st| {
        st.execute(params![
            u.name,
            u.display_name,
            u.email,
            u.time_zone,
            contacts_json(u).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
            u.origin.as_str(),
            u.created_at,
            u.updated_at
        ])
    })
    .map_err(|e| match map(e) {
        StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("user {:?}", u.name)),
        other => other,
    })
    .map(drop)
}

/// Replaces the user of that name (which exists), keeping its `created_at`.
fn write_user(conn: &Connection, u: &UserRecord, origin: Origin) -> Result<()> {
    conn.prepare_cached(
        "UPDATE users SET display_name = ?2, email = ?3, time_zone = ?4, contacts = ?5, \
         origin = ?6, updated_at = ?7 WHERE name = ?1",
    )
    .and_then(|mut st| {
        st.execute(params![
            u.name,
            u.display_name,
            u.email,
            u.time_zone,
            contacts_json(u).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
            origin.as_str(),
            u.updated_at
        ])
    })
    .map_err(map)
    .map(drop)
}

fn delete_user(conn: &Connection, name: &str) -> Result<()> {
    editable("user", get_user(conn, name)?.map(|o| o.origin), name)?;
    let teams: Vec<String> = conn
        .prepare_cached(
            "SELECT DISTINCT team FROM team_members WHERE user_name = ?1 ORDER BY team LIMIT 5",
        )
        .and_then(|mut st| {
            st.query_map([name], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(map)?;
    if !teams.is_empty() {
        return Err(StoreError::Conflict(format!(
            "user {name:?} is a member of team {}; remove it from its teams first",
            teams.join(", ")
        )));
    }
    let schedules = schedule::naming(conn, name)?;
    if !schedules.is_empty() {
        return Err(StoreError::Conflict(format!(
            "user {name:?} is on schedule {}; take it off the schedule first",
            schedules.join(", ")
        )));
    }
    policy::refuse_named(conn, "user", name)?;
    let tokens: i64 = conn
        .prepare_cached("SELECT count(*) FROM tokens WHERE user_name = ?1 AND revoked_at IS NULL")
        .and_then(|mut st| st.query_row([name], |r| r.get(0)))
        .map_err(map)?;
    if tokens > 0 {
        return Err(StoreError::Conflict(format!(
            "user {name:?} owns {tokens} token(s) that are not revoked; revoke them first"
        )));
    }
    conn.prepare_cached("DELETE FROM users WHERE name = ?1")
        .and_then(|mut st| st.execute([name]))
        .map_err(map)
        .map(drop)
}

/// Writes a team (inserting it or replacing its members), checking every member exists.
fn write_team(conn: &Connection, t: &TeamRecord, origin: Origin) -> Result<()> {
    for m in &t.members {
        if get_user(conn, m)?.is_none() {
            return Err(StoreError::Conflict(format!(
                "team {:?}: no user named {m:?}",
                t.name
            )));
        }
    }
    conn.prepare_cached(
        "INSERT INTO teams (name, origin, created_at, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO UPDATE SET origin = excluded.origin, \
         updated_at = excluded.updated_at",
    )
    .and_then(|mut st| st.execute(params![t.name, origin.as_str(), t.created_at, t.updated_at]))
    .map_err(map)?;
    conn.prepare_cached("DELETE FROM team_members WHERE team = ?1")
        .and_then(|mut st| st.execute([&t.name]))
        .map_err(map)?;
    let mut st = conn
        .prepare_cached("INSERT INTO team_members (team, position, user_name) VALUES (?1, ?2, ?3)")
        .map_err(map)?;
    for (i, m) in t.members.iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        st.execute(params![t.name, i, m]).map_err(map)?;
    }
    Ok(())
}

fn declare(conn: &Connection, users: &[UserRecord], teams: &[TeamRecord]) -> Result<()> {
    for table in ["users", "teams"] {
        conn.execute(
            &format!("UPDATE {table} SET origin = 'api' WHERE origin = 'config'"),
            [],
        )
        .map_err(map)?;
    }
    for u in users {
        if get_user(conn, &u.name)?.is_some() {
            write_user(conn, u, Origin::Config)?;
        } else {
            insert_user(
                conn,
                &UserRecord {
                    origin: Origin::Config,
                    ..u.clone()
                },
            )?;
        }
    }
    for t in teams {
        write_team(conn, t, Origin::Config)?;
    }
    Ok(())
}

pub(crate) fn append_audit(conn: &Connection, rows: &[AuditEntry]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut st = conn
        .prepare_cached(
            "INSERT INTO audit (at, actor, role, action, target, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(map)?;
    for a in rows {
        st.execute(params![a.at, a.actor, a.role, a.action, a.target, a.detail])
            .map_err(map)?;
    }
    Ok(())
}

pub(crate) fn audit_log(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let limit = i64::try_from(q.limit.min(AuditQuery::MAX_LIMIT)).unwrap_or(0);
    let mut st = conn
        .prepare_cached(
            "SELECT id, at, actor, role, action, target, detail FROM audit \
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) \
             AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4) \
             AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6",
        )
        .map_err(map)?;
    let rows = st
        .query_map(
            params![q.actor, q.action, q.since, q.until, q.before_id, limit],
            |r| {
                Ok(AuditRecord {
                    id: r.get(0)?,
                    entry: AuditEntry {
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        role: r.get(3)?,
                        action: r.get(4)?,
                        target: r.get(5)?,
                        detail: r.get(6)?,
                    },
                })
            },
        )
        .map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}
