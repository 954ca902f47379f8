//! The SQL of incidents: the writes of [`IncidentChange`] (inside the caller's write
//! transaction, with the alert changes of the same commit) and the reads of incidents, members
//! and timelines. Begins, commits and rolls back nothing.

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row, Transaction};

use super::error::decoding;
use super::row::{collect, exec, get, one, Param};
use crate::incident::{
    IncidentChange, IncidentDetail, IncidentQuery, IncidentRecord, IncidentState, Member,
    TimelineEntry,
};
use crate::{Result, StoreError};

/// The most incidents one list returns, and timeline entries one read returns.
const MAX_LIST: usize = 1_000;

const INCIDENT_COLUMNS: &str =
    "id, title, priority, state, owner, opened_at, updated_at, resolved_at, confidence, \
     priority_by";

pub(crate) async fn apply(tx: &Transaction<'_>, change: &IncidentChange) -> Result<()> {
    match change {
        IncidentChange::Put(i) => exec(
            tx,
            "INSERT INTO incidents (id, title, priority, state, owner, opened_at, \
             updated_at, resolved_at, confidence, priority_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
             priority = excluded.priority, state = excluded.state, owner = excluded.owner, \
             opened_at = excluded.opened_at, updated_at = excluded.updated_at, \
             resolved_at = excluded.resolved_at, confidence = excluded.confidence, \
             priority_by = excluded.priority_by",
            &[
                &i.id,
                &i.title,
                &i.priority,
                &i.state.as_str(),
                &i.owner,
                &i.opened_at,
                &i.updated_at,
                &i.resolved_at,
                &i.confidence,
                &i.priority_by,
            ],
        )
        .await
        .map(drop),
        IncidentChange::Member {
            alert_id,
            incident_id: Some(incident),
            at,
            link,
        } => {
            let link = link.as_ref().map(serde_json::Value::to_string);
            exec(
                tx,
                "INSERT INTO incident_members (alert_id, incident_id, joined_at, link) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (alert_id) DO UPDATE SET \
                 incident_id = excluded.incident_id, joined_at = excluded.joined_at, \
                 link = excluded.link",
                &[alert_id, incident, at, &link],
            )
            .await
            .map(drop)
            .map_err(|e| not_found_on_fk(e, *alert_id, *incident))
        }
        IncidentChange::Member {
            alert_id,
            incident_id: None,
            ..
        } => exec(
            tx,
            "DELETE FROM incident_members WHERE alert_id = $1",
            &[alert_id],
        )
        .await
        .map(drop),
        IncidentChange::Timeline {
            incident_id,
            at,
            actor,
            kind,
            detail,
        } => exec(
            tx,
            "INSERT INTO incident_timeline (incident_id, at, actor, kind, detail) \
             VALUES ($1, $2, $3, $4, $5)",
            &[incident_id, at, actor, kind, &detail.to_string()],
        )
        .await
        .map(drop)
        .map_err(|e| not_found_on_fk(e, 0, *incident_id)),
    }
}

/// A foreign key that fails (a Conflict from `error::map`) names what does not exist.
fn not_found_on_fk(e: StoreError, alert: i64, incident: i64) -> StoreError {
    match e {
        StoreError::Conflict(m) if m.contains("fkey") => {
            StoreError::NotFound(format!("incident {incident} or alert {alert}"))
        }
        other => other,
    }
}

fn incident(r: &Row) -> Result<IncidentRecord> {
    let state: &str = get(r, 3)?;
    Ok(IncidentRecord {
        id: get(r, 0)?,
        title: get(r, 1)?,
        priority: get(r, 2)?,
        state: IncidentState::parse(state)
            .ok_or_else(|| decoding("an incident state", format!("{state:?}")))?,
        owner: get(r, 4)?,
        opened_at: get(r, 5)?,
        updated_at: get(r, 6)?,
        resolved_at: get(r, 7)?,
        confidence: get(r, 8)?,
        priority_by: get(r, 9)?,
    })
}

fn json(s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| decoding("a JSON column", e))
}

fn member(r: &Row) -> Result<Member> {
    Ok(Member {
        alert_id: get(r, 0)?,
        incident_id: get(r, 1)?,
        joined_at: get(r, 2)?,
        link: get::<Option<&str>>(r, 3)?.map(json).transpose()?,
    })
}

fn entry(r: &Row) -> Result<TimelineEntry> {
    Ok(TimelineEntry {
        id: get(r, 0)?,
        incident_id: get(r, 1)?,
        at: get(r, 2)?,
        actor: get(r, 3)?,
        kind: get(r, 4)?,
        detail: json(get(r, 5)?)?,
    })
}

async fn scalar<C: GenericClient + Sync>(c: &C, sql: &str) -> Result<i64> {
    let r = c.query_one(sql, &[]).await.map_err(super::error::map)?;
    get(&r, 0)
}

pub(crate) async fn max_incident_id<C: GenericClient + Sync>(c: &C) -> Result<i64> {
    scalar(c, "SELECT coalesce(max(id), 0)::int8 FROM incidents").await
}

pub(crate) async fn latest_timeline_id<C: GenericClient + Sync>(c: &C) -> Result<i64> {
    scalar(
        c,
        "SELECT coalesce(max(id), 0)::int8 FROM incident_timeline",
    )
    .await
}

async fn members_of<C: GenericClient + Sync>(c: &C, id: i64) -> Result<Vec<Member>> {
    collect(
        c,
        "SELECT alert_id, incident_id, joined_at, link FROM incident_members \
         WHERE incident_id = $1 ORDER BY alert_id",
        &[&id],
        member,
    )
    .await
}

pub(crate) async fn load_open<C: GenericClient + Sync>(
    c: &C,
) -> Result<Vec<(IncidentRecord, Vec<Member>)>> {
    let open = collect(
        c,
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state <> 'closed' ORDER BY id"),
        &[],
        incident,
    )
    .await?;
    let mut out = Vec::with_capacity(open.len());
    for i in open {
        let m = members_of(c, i.id).await?;
        out.push((i, m));
    }
    Ok(out)
}

pub(crate) async fn sizes<C: GenericClient + Sync>(c: &C, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    let ids = &ids[..ids.len().min(MAX_LIST)];
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = ids.to_vec();
    collect(
        c,
        "SELECT incident_id, count(*) FROM incident_members WHERE incident_id = ANY($1) \
         GROUP BY incident_id ORDER BY incident_id",
        &[&ids],
        |r| Ok((get(r, 0)?, get(r, 1)?)),
    )
    .await
}

pub(crate) async fn list<C: GenericClient + Sync>(
    c: &C,
    q: &IncidentQuery,
) -> Result<Vec<IncidentRecord>> {
    let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE true");
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    if let Some(b) = q.before_id {
        args.push(Box::new(b));
        sql.push_str(&format!(" AND id < ${}", args.len()));
    }
    if !q.states.is_empty() {
        let states: Vec<String> = q.states.iter().map(|s| s.as_str().to_owned()).collect();
        args.push(Box::new(states));
        sql.push_str(&format!(" AND state = ANY(${})", args.len()));
    }
    if let Some(p) = &q.priority {
        args.push(Box::new(p.clone()));
        sql.push_str(&format!(" AND priority = ${}", args.len()));
    }
    if let Some(o) = &q.owner {
        args.push(Box::new(o.clone()));
        sql.push_str(&format!(" AND owner = ${}", args.len()));
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        q.limit.clamp(1, MAX_LIST)
    ));
    let params: Vec<Param<'_>> = args.iter().map(|a| &**a as Param<'_>).collect();
    collect(c, &sql, &params, incident).await
}

pub(crate) async fn detail<C: GenericClient + Sync>(
    c: &C,
    id: i64,
    timeline: usize,
) -> Result<IncidentDetail> {
    let incident = one(
        c,
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"),
        &[&id],
        incident,
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    let members = members_of(c, id).await?;
    let limit = i64::try_from(timeline.min(MAX_LIST)).unwrap_or(0);
    let mut timeline = collect(
        c,
        "SELECT id, incident_id, at, actor, kind, detail FROM incident_timeline \
         WHERE incident_id = $1 ORDER BY id DESC LIMIT $2",
        &[&id, &limit],
        entry,
    )
    .await?;
    timeline.reverse();
    Ok(IncidentDetail {
        incident,
        members,
        timeline,
    })
}

pub(crate) async fn of_alert<C: GenericClient + Sync>(
    c: &C,
    alert_id: i64,
) -> Result<Option<Member>> {
    one(
        c,
        "SELECT alert_id, incident_id, joined_at, link FROM incident_members WHERE alert_id = $1",
        &[&alert_id],
        member,
    )
    .await
}

pub(crate) async fn timeline_after<C: GenericClient + Sync>(
    c: &C,
    after_id: i64,
    limit: usize,
) -> Result<Vec<TimelineEntry>> {
    let limit = i64::try_from(limit.clamp(1, MAX_LIST)).unwrap_or(1);
    collect(
        c,
        "SELECT id, incident_id, at, actor, kind, detail FROM incident_timeline \
         WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after_id, &limit],
        entry,
    )
    .await
}
