//! The SQL of escalation policies: reads and the policy writes of [`PeopleChange`] (inside the
//! caller's write transaction, called by `people::apply`). A policy's definition is stored
//! whole; the users, teams and schedules it names are kept beside it so that each must exist
//! and none is deleted while named. Policies declared in the configuration file are refused to
//! every change but a new declaration. Must not begin or commit anything.
//!
//! [`PeopleChange`]: crate::PeopleChange

use tokio_postgres::{GenericClient, Row, Transaction};

use super::origin::{editable, origin_at};
use super::row::{collect, exec, get, one};
use crate::{Origin, PolicyRecord, Result, StoreError};

const COLUMNS: &str = "name, definition, origin, created_at, updated_at";

fn head(r: &Row) -> Result<PolicyRecord> {
    Ok(PolicyRecord {
        name: get(r, 0)?,
        definition: get(r, 1)?,
        names: Vec::new(),
        origin: origin_at(r, 2)?,
        created_at: get(r, 3)?,
        updated_at: get(r, 4)?,
    })
}

async fn fill<C: GenericClient + Sync>(c: &C, p: &mut PolicyRecord) -> Result<()> {
    p.names = collect(
        c,
        "SELECT kind || ':' || name FROM escalation_policy_names WHERE policy = $1 \
         ORDER BY kind, name",
        &[&p.name],
        |r| get(r, 0),
    )
    .await?;
    Ok(())
}

pub(crate) async fn get_policy<C: GenericClient + Sync>(
    c: &C,
    name: &str,
) -> Result<Option<PolicyRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM escalation_policies WHERE name = $1");
    let Some(mut p) = one(c, &sql, &[&name], head).await? else {
        return Ok(None);
    };
    fill(c, &mut p).await?;
    Ok(Some(p))
}

pub(crate) async fn list_policies<C: GenericClient + Sync>(c: &C) -> Result<Vec<PolicyRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM escalation_policies ORDER BY name");
    let mut all = collect(c, &sql, &[], head).await?;
    for p in &mut all {
        fill(c, p).await?;
    }
    Ok(all)
}

async fn origin_of(tx: &Transaction<'_>, name: &str) -> Result<Option<Origin>> {
    one(
        tx,
        "SELECT origin FROM escalation_policies WHERE name = $1",
        &[&name],
        |r| origin_at(r, 0),
    )
    .await
}

/// `user:alice` → (`user`, `alice`), checking the kind and that it exists.
async fn named<'a>(
    tx: &Transaction<'_>,
    policy: &str,
    target: &'a str,
) -> Result<(&'a str, &'a str)> {
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
    let sql = format!("SELECT 1 FROM {table} WHERE name = $1");
    if one(tx, &sql, &[&name], |_| Ok(())).await?.is_none() {
        return Err(StoreError::Conflict(format!(
            "policy {policy:?}: no {kind} named {name:?}"
        )));
    }
    Ok((kind, name))
}

/// Writes a policy (inserting it or replacing its definition and names), checking every name
/// exists.
async fn write(tx: &Transaction<'_>, p: &PolicyRecord, origin: Origin) -> Result<()> {
    let mut names = Vec::with_capacity(p.names.len());
    for t in &p.names {
        names.push(named(tx, &p.name, t).await?);
    }
    exec(
        tx,
        "INSERT INTO escalation_policies (name, definition, origin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
         definition = excluded.definition, origin = excluded.origin, \
         updated_at = excluded.updated_at",
        &[
            &p.name,
            &p.definition,
            &origin.as_str(),
            &p.created_at,
            &p.updated_at,
        ],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM escalation_policy_names WHERE policy = $1",
        &[&p.name],
    )
    .await?;
    for (kind, name) in names {
        exec(
            tx,
            "INSERT INTO escalation_policy_names (policy, kind, name) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&p.name, &kind, &name],
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn create(tx: &Transaction<'_>, p: &PolicyRecord) -> Result<()> {
    if origin_of(tx, &p.name).await?.is_some() {
        return Err(StoreError::AlreadyExists(format!(
            "escalation policy {:?}",
            p.name
        )));
    }
    write(tx, p, p.origin).await
}

pub(crate) async fn update(tx: &Transaction<'_>, p: &PolicyRecord) -> Result<()> {
    editable("escalation policy", origin_of(tx, &p.name).await?, &p.name)?;
    write(tx, p, Origin::Api).await
}

pub(crate) async fn delete(tx: &Transaction<'_>, name: &str) -> Result<()> {
    editable("escalation policy", origin_of(tx, name).await?, name)?;
    exec(
        tx,
        "DELETE FROM escalation_policies WHERE name = $1",
        &[&name],
    )
    .await
    .map(drop)
}

/// Makes `policies` the declared ones: those declared before become API policies first.
pub(crate) async fn declare(tx: &Transaction<'_>, policies: &[PolicyRecord]) -> Result<()> {
    exec(
        tx,
        "UPDATE escalation_policies SET origin = 'api' WHERE origin = 'config'",
        &[],
    )
    .await?;
    for p in policies {
        write(tx, p, Origin::Config).await?;
    }
    Ok(())
}

/// Conflict when an escalation policy names this user, team or schedule (`kind`), naming at
/// most five of them.
pub(crate) async fn refuse_named(tx: &Transaction<'_>, kind: &str, name: &str) -> Result<()> {
    let policies: Vec<String> = collect(
        tx,
        "SELECT policy FROM escalation_policy_names WHERE kind = $1 AND name = $2 \
         ORDER BY policy LIMIT 5",
        &[&kind, &name],
        |r| get(r, 0),
    )
    .await?;
    if policies.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "{kind} {name:?} is named by escalation policy {}; take it out of the policy first",
        policies.join(", ")
    )))
}
