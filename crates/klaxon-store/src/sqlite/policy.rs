//! The SQL of escalation policies: reads (on reader connections) and the policy writes of
//! [`PeopleChange`] (on the writer, inside its savepoint, called by `people::apply`). A
//! policy's definition is stored whole; the users, teams and schedules it names are kept beside
//! it so that each must exist and none is deleted while named. Policies declared in the
//! configuration file are refused to every change but a new declaration. Must not begin or
//! commit anything.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::map;
use super::origin::{editable, origin_at};
use crate::{Origin, PolicyRecord, Result, StoreError};

fn head(row: &Row<'_>) -> rusqlite::Result<PolicyRecord> {
    Ok(PolicyRecord {
        name: row.get(0)?,
        definition: row.get(1)?,
        names: Vec::new(),
        origin: origin_at(row, 2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

fn fill(conn: &Connection, p: &mut PolicyRecord) -> Result<()> {
    let mut st = conn
        .prepare_cached(
            "SELECT kind || ':' || name FROM escalation_policy_names WHERE policy = ?1 \
             ORDER BY kind, name",
        )
        .map_err(map)?;
    p.names = st
        .query_map([&p.name], |r| r.get(0))
        .map_err(map)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(map)?;
    Ok(())
}

pub(crate) fn get_policy(conn: &Connection, name: &str) -> Result<Option<PolicyRecord>> {
    let p = conn
        .prepare_cached(
            "SELECT name, definition, origin, created_at, updated_at FROM escalation_policies \
             WHERE name = ?1",
        )
        .and_then(|mut st| st.query_row([name], head).optional())
        .map_err(map)?;
    let Some(mut p) = p else {
        return Ok(None);
    };
    fill(conn, &mut p)?;
    Ok(Some(p))
}

pub(crate) fn list_policies(conn: &Connection) -> Result<Vec<PolicyRecord>> {
    let mut st = conn
        .prepare_cached(
            "SELECT name, definition, origin, created_at, updated_at FROM escalation_policies \
             ORDER BY name",
        )
        .map_err(map)?;
    let mut all = st
        .query_map([], head)
        .map_err(map)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(map)?;
    for p in &mut all {
        fill(conn, p)?;
    }
    Ok(all)
}

fn origin_of(conn: &Connection, name: &str) -> Result<Option<Origin>> {
    conn.prepare_cached("SELECT origin FROM escalation_policies WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], |r| origin_at(r, 0)).optional())
        .map_err(map)
}

/// `user:alice` → (`user`, `alice`), checking the kind and that it exists.
fn named<'a>(conn: &Connection, policy: &str, target: &'a str) -> Result<(&'a str, &'a str)> {
    let table = |kind: &str| match kind {
        "user" => Some("users"),
        "team" => Some("teams"),
        "schedule" => Some("schedules"),
        _ => None,
    };
    let Some((kind, name, table)) = target
        .split_once(':')
        .and_then(|(k, n)| table(k).map(|t| (k, n, t)))
    else {
        return Err(StoreError::Invalid(format!(
            "policy {policy:?}: {target:?} is not user:NAME, team:NAME or schedule:NAME"
        )));
    };
    let known = conn
        .prepare_cached(&format!("SELECT 1 FROM {table} WHERE name = ?1"))
        .and_then(|mut st| st.exists([name]))
        .map_err(map)?;
    if !known {
        return Err(StoreError::Conflict(format!(
            "policy {policy:?}: no {kind} named {name:?}"
        )));
    }
    Ok((kind, name))
}

/// Writes a policy (inserting it or replacing its definition and names), checking every name
/// exists.
fn write(conn: &Connection, p: &PolicyRecord, origin: Origin) -> Result<()> {
    let mut names = Vec::with_capacity(p.names.len());
    for t in &p.names {
        names.push(named(conn, &p.name, t)?);
    }
    conn.prepare_cached(
        "INSERT INTO escalation_policies (name, definition, origin, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET \
         definition = excluded.definition, origin = excluded.origin, \
         updated_at = excluded.updated_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            p.name,
            p.definition,
            origin.as_str(),
            p.created_at,
            p.updated_at
        ])
    })
    .map_err(map)?;
    conn.prepare_cached("DELETE FROM escalation_policy_names WHERE policy = ?1")
        .and_then(|mut st| st.execute([&p.name]))
        .map_err(map)?;
    let mut st = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO escalation_policy_names (policy, kind, name) \
             VALUES (?1, ?2, ?3)",
        )
        .map_err(map)?;
    for (kind, name) in names {
        st.execute(params![p.name, kind, name]).map_err(map)?;
    }
    Ok(())
}

pub(crate) fn create(conn: &Connection, p: &PolicyRecord) -> Result<()> {
    if origin_of(conn, &p.name)?.is_some() {
        return Err(StoreError::AlreadyExists(format!(
            "escalation policy {:?}",
            p.name
        )));
    }
    write(conn, p, p.origin)
}

pub(crate) fn update(conn: &Connection, p: &PolicyRecord) -> Result<()> {
    editable("escalation policy", origin_of(conn, &p.name)?, &p.name)?;
    write(conn, p, Origin::Api)
}

pub(crate) fn delete(conn: &Connection, name: &str) -> Result<()> {
    editable("escalation policy", origin_of(conn, name)?, name)?;
    conn.prepare_cached("DELETE FROM escalation_policies WHERE name = ?1")
        .and_then(|mut st| st.execute([name]))
        .map_err(map)
        .map(drop)
}

/// Makes `policies` the declared ones: those declared before become API policies first.
pub(crate) fn declare(conn: &Connection, policies: &[PolicyRecord]) -> Result<()> {
    conn.execute(
        "UPDATE escalation_policies SET origin = 'api' WHERE origin = 'config'",
        [],
    )
    .map_err(map)?;
    for p in policies {
        write(conn, p, Origin::Config)?;
    }
    Ok(())
}

/// Conflict when an escalation policy names this user, team or schedule (`kind`), naming at
/// most five of them.
pub(crate) fn refuse_named(conn: &Connection, kind: &str, name: &str) -> Result<()> {
    let policies: Vec<String> = conn
        .prepare_cached(
            "SELECT policy FROM escalation_policy_names WHERE kind = ?1 AND name = ?2 \
             ORDER BY policy LIMIT 5",
        )
        .and_then(|mut st| {
            st.query_map([kind, name], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(map)?;
    if policies.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "{kind} {name:?} is named by escalation policy {}; take it out of the policy first",
        policies.join(", ")
    )))
}
