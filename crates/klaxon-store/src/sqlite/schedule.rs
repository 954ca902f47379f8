//! The SQL of on-call schedules: reads (on reader connections) and the schedule writes of
//! [`PeopleChange`] (on the writer, inside its savepoint, called by `people::apply`). A
//! schedule's definition is stored whole; the users it names are kept beside it so that each
//! must exist and none is deleted while named. Schedules declared in the configuration file are
//! refused to every change but `Declare` and their overrides (someone covers a shift of a
//! declared rotation). Must not begin or commit anything.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::map;
use super::origin::{editable, origin_at};
use crate::{Origin, OverrideRecord, Result, ScheduleRecord, StoreError};

fn head(row: &Row<'_>) -> rusqlite::Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        name: row.get(0)?,
        definition: row.get(1)?,
        users: Vec::new(),
        overrides: Vec::new(),
        origin: origin_at(row, 2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

fn fill(conn: &Connection, s: &mut ScheduleRecord) -> Result<()> {
    let mut st = conn
        .prepare_cached(
            "SELECT user_name FROM schedule_users WHERE schedule = ?1 ORDER BY user_name",
        )
        .map_err(map)?;
    s.users = st
        .query_map([&s.name], |r| r.get(0))
        .map_err(map)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(map)?;
    let mut st = conn
        .prepare_cached(
            "SELECT id, user_name, start_ms, end_ms, created_by, created_at \
             FROM schedule_overrides WHERE schedule = ?1 ORDER BY start_ms",
        )
        .map_err(map)?;
    s.overrides = st
        .query_map([&s.name], |r| {
            Ok(OverrideRecord {
                id: r.get(0)?,
                user: r.get(1)?,
                start: r.get(2)?,
                end: r.get(3)?,
                created_by: r.get(4)?,
                created_at: r.get(5)?,
            })
        })
        .map_err(map)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(map)?;
    Ok(())
}

pub(crate) fn get_schedule(conn: &Connection, name: &str) -> Result<Option<ScheduleRecord>> {
    let s = conn
        .prepare_cached(
            "SELECT name, definition, origin, created_at, updated_at FROM schedules \
             WHERE name = ?1",
        )
        .and_then(|mut st| st.query_row([name], head).optional())
        .map_err(map)?;
    let Some(mut s) = s else {
        return Ok(None);
    };
    fill(conn, &mut s)?;
    Ok(Some(s))
}

pub(crate) fn list_schedules(conn: &Connection) -> Result<Vec<ScheduleRecord>> {
    let mut st = conn
        .prepare_cached(
            "SELECT name, definition, origin, created_at, updated_at FROM schedules \
             ORDER BY name",
        )
        .map_err(map)?;
    let mut all = st
        .query_map([], head)
        .map_err(map)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(map)?;
    for s in &mut all {
        fill(conn, s)?;
    }
    Ok(all)
}

fn origin_of(conn: &Connection, name: &str) -> Result<Option<Origin>> {
    conn.prepare_cached("SELECT origin FROM schedules WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], |r| origin_at(r, 0)).optional())
        .map_err(map)
}

fn user_exists(conn: &Connection, schedule: &str, user: &str) -> Result<()> {
    let known = conn
        .prepare_cached("SELECT 1 FROM users WHERE name = ?1")
        .and_then(|mut st| st.exists([user]))
        .map_err(map)?;
    if !known {
        return Err(StoreError::Conflict(format!(
            "schedule {schedule:?}: no user named {user:?}"
        )));
    }
    Ok(())
}

/// Writes a schedule (inserting it or replacing its definition and users), checking every
/// user exists; its overrides are left as they are.
fn write(conn: &Connection, s: &ScheduleRecord, origin: Origin) -> Result<()> {
    for u in &s.users {
        user_exists(conn, &s.name, u)?;
    }
    conn.prepare_cached(
        "INSERT INTO schedules (name, definition, origin, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET \
         definition = excluded.definition, origin = excluded.origin, \
         updated_at = excluded.updated_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.name,
            s.definition,
            origin.as_str(),
            s.created_at,
            s.updated_at
        ])
    })
    .map_err(map)?;
    conn.prepare_cached("DELETE FROM schedule_users WHERE schedule = ?1")
        .and_then(|mut st| st.execute([&s.name]))
        .map_err(map)?;
    let mut st = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO schedule_users (schedule, user_name) VALUES (?1, ?2)",
        )
        .map_err(map)?;
    for u in &s.users {
        st.execute(params![s.name, u]).map_err(map)?;
    }
    Ok(())
}

pub(crate) fn create(conn: &Connection, s: &ScheduleRecord) -> Result<()> {
    if origin_of(conn, &s.name)?.is_some() {
        return Err(StoreError::AlreadyExists(format!("schedule {:?}", s.name)));
    }
    write(conn, s, s.origin)
}

pub(crate) fn update(conn: &Connection, s: &ScheduleRecord) -> Result<()> {
    editable("schedule", origin_of(conn, &s.name)?, &s.name)?;
    write(conn, s, Origin::Api)
}

pub(crate) fn delete(conn: &Connection, name: &str) -> Result<()> {
    editable("schedule", origin_of(conn, name)?, name)?;
    conn.prepare_cached("DELETE FROM schedules WHERE name = ?1")
        .and_then(|mut st| st.execute([name]))
        .map_err(map)
        .map(drop)
}

pub(crate) fn add_override(conn: &Connection, schedule: &str, o: &OverrideRecord) -> Result<()> {
    if origin_of(conn, schedule)?.is_none() {
        return Err(StoreError::NotFound(format!(
            "no schedule named {schedule:?}"
        )));
    }
    user_exists(conn, schedule, &o.user)?;
    let clash: Option<(i64, String, i64, i64)> = conn
        .prepare_cached(
            "SELECT id, user_name, start_ms, end_ms FROM schedule_overrides \
             WHERE schedule = ?1 AND start_ms < ?3 AND end_ms > ?2 ORDER BY start_ms LIMIT 1",
        )
        .and_then(|mut st| {
            st.query_row(params![schedule, o.start, o.end], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(map)?;
    if let Some((id, user, start, end)) = clash {
        return Err(StoreError::Conflict(format!(
            "schedule {schedule:?}: overlaps override {id} ({user} from {} to {}); one person \
             covers at a time",
            klaxon_engine::timestamp::format_ts(start),
            klaxon_engine::timestamp::format_ts(end)
        )));
    }
    conn.prepare_cached(
        "INSERT INTO schedule_overrides (schedule, user_name, start_ms, end_ms, created_by, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            schedule,
            o.user,
            o.start,
            o.end,
            o.created_by,
            o.created_at
        ])
    })
    .map_err(map)
    .map(drop)
}

pub(crate) fn delete_override(conn: &Connection, schedule: &str, id: i64) -> Result<()> {
    let n = conn
        .prepare_cached("DELETE FROM schedule_overrides WHERE schedule = ?1 AND id = ?2")
        .and_then(|mut st| st.execute(params![schedule, id]))
        .map_err(map)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!(
            "schedule {schedule:?} has no override {id}"
        )));
    }
    Ok(())
}

/// Makes `schedules` the declared ones: those declared before become API schedules first.
pub(crate) fn declare(conn: &Connection, schedules: &[ScheduleRecord]) -> Result<()> {
    conn.execute(
        "UPDATE schedules SET origin = 'api' WHERE origin = 'config'",
        [],
    )
    .map_err(map)?;
    for s in schedules {
        write(conn, s, Origin::Config)?;
    }
    Ok(())
}

/// The schedules that name `user`, in their definition or an override (at most five).
pub(crate) fn naming(conn: &Connection, user: &str) -> Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT schedule FROM schedule_users WHERE user_name = ?1 UNION \
         SELECT schedule FROM schedule_overrides WHERE user_name = ?1 ORDER BY 1 LIMIT 5",
    )
    .and_then(|mut st| {
        st.query_map([user], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()
    })
    .map_err(map)
}
