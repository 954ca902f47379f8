//! The SQL of on-call schedules: reads and the schedule writes of [`crate::PeopleChange`]
//! (inside the caller's write transaction, called by `people::apply`). A schedule's definition
//! is stored whole; the users it names are kept beside it so that each must exist and none is
//! deleted while named. Schedules declared in the configuration file are refused to every
//! change but `Declare` and their overrides. Must not begin or commit anything.

use tokio_postgres::{GenericClient, Row, Transaction};

use super::origin::{editable, origin_at};
use super::row::{collect, exec, get, one};
use crate::{Origin, OverrideRecord, Result, ScheduleRecord, StoreError};

fn head(r: &Row) -> Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        name: get(r, 0)?,
        definition: get(r, 1)?,
        users: Vec::new(),
        overrides: Vec::new(),
        origin: origin_at(r, 2)?,
        created_at: get(r, 3)?,
        updated_at: get(r, 4)?,
    })
}

async fn fill<C: GenericClient + Sync>(c: &C, s: &mut ScheduleRecord) -> Result<()> {
    s.users = collect(
        c,
        "SELECT user_name FROM schedule_users WHERE schedule = $1 ORDER BY user_name",
        &[&s.name],
        |r| get(r, 0),
    )
    .await?;
    s.overrides = collect(
        c,
        "SELECT id, user_name, start_ms, end_ms, created_by, created_at \
         FROM schedule_overrides WHERE schedule = $1 ORDER BY start_ms",
        &[&s.name],
        |r| {
            Ok(OverrideRecord {
                id: get(r, 0)?,
                user: get(r, 1)?,
                start: get(r, 2)?,
                end: get(r, 3)?,
                created_by: get(r, 4)?,
                created_at: get(r, 5)?,
            })
        },
    )
    .await?;
    Ok(())
}

pub(crate) async fn get_schedule<C: GenericClient + Sync>(
    c: &C,
    name: &str,
) -> Result<Option<ScheduleRecord>> {
    let s = one(
        c,
        "SELECT name, definition, origin, created_at, updated_at FROM schedules \
         WHERE name = $1",
        &[&name],
        head,
    )
    .await?;
    let Some(mut s) = s else {
        return Ok(None);
    };
    fill(c, &mut s).await?;
    Ok(Some(s))
}

pub(crate) async fn list_schedules<C: GenericClient + Sync>(c: &C) -> Result<Vec<ScheduleRecord>> {
    let mut all = collect(
        c,
        "SELECT name, definition, origin, created_at, updated_at FROM schedules ORDER BY name",
        &[],
        head,
    )
    .await?;
    for s in &mut all {
        fill(c, s).await?;
    }
    Ok(all)
}

async fn origin_of(tx: &Transaction<'_>, name: &str) -> Result<Option<Origin>> {
    one(
        tx,
        "SELECT origin FROM schedules WHERE name = $1",
        &[&name],
        |r| origin_at(r, 0),
    )
    .await
}

async fn user_exists(tx: &Transaction<'_>, schedule: &str, user: &str) -> Result<()> {
    let known = tx
        .query_opt("SELECT 1 FROM users WHERE name = $1", &[&user])
        .await
        .map_err(super::error::map)?;
    if known.is_none() {
        return Err(StoreError::Conflict(format!(
            "schedule {schedule:?}: no user named {user:?}"
        )));
    }
    Ok(())
}

/// Writes a schedule (inserting it or replacing its definition and users), checking every
/// user exists; its overrides are left as they are.
async fn write(tx: &Transaction<'_>, s: &ScheduleRecord, origin: Origin) -> Result<()> {
    for u in &s.users {
        user_exists(tx, &s.name, u).await?;
    }
    exec(
        tx,
        "INSERT INTO schedules (name, definition, origin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
         definition = excluded.definition, origin = excluded.origin, \
         updated_at = excluded.updated_at",
        &[
            &s.name,
            &s.definition,
            &origin.as_str(),
            &s.created_at,
            &s.updated_at,
        ],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM schedule_users WHERE schedule = $1",
        &[&s.name],
    )
    .await?;
    exec(
        tx,
        "INSERT INTO schedule_users (schedule, user_name) \
         SELECT $1, u FROM unnest($2::text[]) AS u ON CONFLICT DO NOTHING",
        &[&s.name, &s.users],
    )
    .await?;
    Ok(())
}

pub(crate) async fn create(tx: &Transaction<'_>, s: &ScheduleRecord) -> Result<()> {
    if origin_of(tx, &s.name).await?.is_some() {
        return Err(StoreError::AlreadyExists(format!("schedule {:?}", s.name)));
    }
    write(tx, s, s.origin).await
}

pub(crate) async fn update(tx: &Transaction<'_>, s: &ScheduleRecord) -> Result<()> {
    editable("schedule", origin_of(tx, &s.name).await?, &s.name)?;
    write(tx, s, Origin::Api).await
}

pub(crate) async fn delete(tx: &Transaction<'_>, name: &str) -> Result<()> {
    editable("schedule", origin_of(tx, name).await?, name)?;
    exec(tx, "DELETE FROM schedules WHERE name = $1", &[&name])
        .await
        .map(drop)
}

pub(crate) async fn add_override(
    tx: &Transaction<'_>,
    schedule: &str,
    o: &OverrideRecord,
) -> Result<()> {
    if origin_of(tx, schedule).await?.is_none() {
        return Err(StoreError::NotFound(format!(
            "no schedule named {schedule:?}"
        )));
    }
    user_exists(tx, schedule, &o.user).await?;
    let clash = one(
        tx,
        "SELECT id, user_name, start_ms, end_ms FROM schedule_overrides \
         WHERE schedule = $1 AND start_ms < $3 AND end_ms > $2 ORDER BY start_ms LIMIT 1",
        &[&schedule, &o.start, &o.end],
        |r| {
            Ok((
                get::<i64>(r, 0)?,
                get::<String>(r, 1)?,
                get::<i64>(r, 2)?,
                get::<i64>(r, 3)?,
            ))
        },
    )
    .await?;
    if let Some((id, user, start, end)) = clash {
        return Err(StoreError::Conflict(format!(
            "schedule {schedule:?}: overlaps override {id} ({user} from {} to {}); one person \
             covers at a time",
            klaxon_engine::timestamp::format_ts(start),
            klaxon_engine::timestamp::format_ts(end)
        )));
    }
    exec(
        tx,
        "INSERT INTO schedule_overrides (schedule, user_name, start_ms, end_ms, created_by, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &schedule,
            &o.user,
            &o.start,
            &o.end,
            &o.created_by,
            &o.created_at,
        ],
    )
    .await
    .map(drop)
}

pub(crate) async fn delete_override(tx: &Transaction<'_>, schedule: &str, id: i64) -> Result<()> {
    let n = exec(
        tx,
        "DELETE FROM schedule_overrides WHERE schedule = $1 AND id = $2",
        &[&schedule, &id],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!(
            "schedule {schedule:?} has no override {id}"
        )));
    }
    Ok(())
}

/// Makes `schedules` the declared ones: those declared before become API schedules first.
pub(crate) async fn declare(tx: &Transaction<'_>, schedules: &[ScheduleRecord]) -> Result<()> {
    exec(
        tx,
        "UPDATE schedules SET origin = 'api' WHERE origin = 'config'",
        &[],
    )
    .await?;
    for s in schedules {
        write(tx, s, Origin::Config).await?;
    }
    Ok(())
}

/// The schedules that name `user`, in their definition or an override (at most five).
pub(crate) async fn naming(tx: &Transaction<'_>, user: &str) -> Result<Vec<String>> {
    collect(
        tx,
        "SELECT schedule FROM schedule_users WHERE user_name = $1 UNION \
         SELECT schedule FROM schedule_overrides WHERE user_name = $1 ORDER BY 1 LIMIT 5",
        &[&user],
        |r| get(r, 0),
    )
    .await
}
