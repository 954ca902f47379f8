//! The SQL of incidents: the writes of [`IncidentChange`] (run by the writer inside the
//! caller's savepoint, with the alert changes of the same commit) and the reads of incidents,
//! members and timelines (on reader connections). Begins, commits and rolls back nothing.

use rusqlite::types::Type;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::error::map;
use super::row::decode_name;
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

pub(crate) fn apply(conn: &Connection, change: &IncidentChange) -> Result<()> {
    match change {
        IncidentChange::Put(i) => conn
            .prepare_cached(
                "INSERT INTO incidents (id, title, priority, state, owner, opened_at, \
                 updated_at, resolved_at, confidence, priority_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
                 priority = excluded.priority, state = excluded.state, owner = excluded.owner, \
                 opened_at = excluded.opened_at, updated_at = excluded.updated_at, \
                 resolved_at = excluded.resolved_at, confidence = excluded.confidence, \
                 priority_by = excluded.priority_by",
            )
            .and_then(|mut st| {
                st.execute(params![
                    i.id,
                    i.title,
                    i.priority,
                    i.state.as_str(),
                    i.owner,
                    i.opened_at,
                    i.updated_at,
                    i.resolved_at,
                    i.confidence,
                    i.priority_by
                ])
            })
            .map(drop)
            .map_err(map),
        IncidentChange::Member {
            alert_id,
            incident_id: Some(incident),
            at,
            link,
        } => {
            let link = link.as_ref().map(serde_json::Value::to_string);
            conn.prepare_cached(
                "INSERT INTO incident_members (alert_id, incident_id, joined_at, link) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (alert_id) DO UPDATE SET \
                 incident_id = excluded.incident_id, joined_at = excluded.joined_at, \
                 link = excluded.link",
            )
            .and_then(|mut st| st.execute(params![alert_id, incident, at, link]))
            .map(drop)
            .map_err(|e| not_found_on_fk(e, *alert_id, *incident))
        }
        IncidentChange::Member {
            alert_id,
            incident_id: None,
            ..
        } => conn
            .prepare_cached("DELETE FROM incident_members WHERE alert_id = ?1")
            .and_then(|mut st| st.execute([alert_id]))
            .map(drop)
            .map_err(map),
        IncidentChange::Timeline {
            incident_id,
            at,
            actor,
            kind,
            detail,
        } => conn
            .prepare_cached(
                "INSERT INTO incident_timeline (incident_id, at, actor, kind, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| {
                st.execute(params![incident_id, at, actor, kind, detail.to_string()])
            })
            .map(drop)
            .map_err(|e| not_found_on_fk(e, 0, *incident_id)),
    }
}

/// A foreign key that fails names what does not exist.
fn not_found_on_fk(e: rusqlite::Error, alert: i64, incident: i64) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY {
            return StoreError::NotFound(format!("incident {incident} or alert {alert}"));
        }
    }
    map(e)
}

fn incident(r: &Row<'_>) -> rusqlite::Result<IncidentRecord> {
    let state: String = r.get(3)?;
    Ok(IncidentRecord {
        id: r.get(0)?,
        title: r.get(1)?,
        priority: r.get(2)?,
        state: decode_name(3, &state, "incident state", IncidentState::parse)?,
        owner: r.get(4)?,
        opened_at: r.get(5)?,
        updated_at: r.get(6)?,
        resolved_at: r.get(7)?,
        confidence: r.get(8)?,
        priority_by: r.get(9)?,
    })
}

fn json(col: usize, s: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e)))
}

fn member(r: &Row<'_>) -> rusqlite::Result<Member> {
    let link: Option<String> = r.get(3)?;
    Ok(Member {
        alert_id: r.get(0)?,
        incident_id: r.get(1)?,
        joined_at: r.get(2)?,
        link: link.map(|l| json(3, &l)).transpose()?,
    })
}

fn entry(r: &Row<'_>) -> rusqlite::Result<TimelineEntry> {
    let detail: String = r.get(5)?;
    Ok(TimelineEntry {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        at: r.get(2)?,
        actor: r.get(3)?,
        kind: r.get(4)?,
        detail: json(5, &detail)?,
    })
}

pub(crate) fn max_incident_id(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM incidents")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(map)
}

pub(crate) fn latest_timeline_id(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM incident_timeline")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(map)
}

fn members_of(conn: &Connection, id: i64) -> Result<Vec<Member>> {
    conn.prepare_cached(
        "SELECT alert_id, incident_id, joined_at, link FROM incident_members \
         WHERE incident_id = ?1 ORDER BY alert_id",
    )
    .and_then(|mut st| st.query_map([id], member)?.collect())
    .map_err(map)
}

pub(crate) fn load_open(conn: &Connection) -> Result<Vec<(IncidentRecord, Vec<Member>)>> {
    let open: Vec<IncidentRecord> = conn
        .prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state != 'closed' ORDER BY id"
        ))
        .and_then(|mut st| st.query_map([], incident)?.collect())
        .map_err(map)?;
    open.into_iter()
        .map(|i| {
            let m = members_of(conn, i.id)?;
            Ok((i, m))
        })
        .collect()
}

pub(crate) fn sizes(conn: &Connection, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    let ids = &ids[..ids.len().min(MAX_LIST)];
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "SELECT incident_id, count(*) FROM incident_members WHERE incident_id IN ({}) \
         GROUP BY incident_id ORDER BY incident_id",
        marks.join(", ")
    );
    conn.prepare(&sql)
        .and_then(|mut st| {
            st.query_map(params_from_iter(ids.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(map)
}

pub(crate) fn list(conn: &Connection, q: &IncidentQuery) -> Result<Vec<IncidentRecord>> {
    let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(b) = q.before_id {
        args.push(b.into());
        sql.push_str(&format!(" AND id < ?{}", args.len()));
    }
    if !q.states.is_empty() {
        let marks: Vec<String> = q
            .states
            .iter()
            .map(|s| {
                args.push(s.as_str().to_owned().into());
                format!("?{}", args.len())
            })
            .collect();
        sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
    }
    if let Some(p) = &q.priority {
        args.push(p.clone().into());
        sql.push_str(&format!(" AND priority = ?{}", args.len()));
    }
    if let Some(o) = &q.owner {
        args.push(o.clone().into());
        sql.push_str(&format!(" AND owner = ?{}", args.len()));
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        q.limit.clamp(1, MAX_LIST)
    ));
    conn.prepare(&sql)
        .and_then(|mut st| st.query_map(params_from_iter(args), incident)?.collect())
        .map_err(map)
}

pub(crate) fn detail(conn: &Connection, id: i64, timeline: usize) -> Result<IncidentDetail> {
    let incident = conn
        .prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"
        ))
        .and_then(|mut st| st.query_row([id], incident).optional())
        .map_err(map)?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    let members = members_of(conn, id)?;
    let limit = i64::try_from(timeline.min(MAX_LIST)).unwrap_or(0);
    let mut timeline: Vec<TimelineEntry> = conn
        .prepare_cached(
            "SELECT id, incident_id, at, actor, kind, detail FROM incident_timeline \
             WHERE incident_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .and_then(|mut st| st.query_map(params![id, limit], entry)?.collect())
        .map_err(map)?;
    timeline.reverse();
    Ok(IncidentDetail {
        incident,
        members,
        timeline,
    })
}

pub(crate) fn of_alert(conn: &Connection, alert_id: i64) -> Result<Option<Member>> {
    conn.prepare_cached(
        "SELECT alert_id, incident_id, joined_at, link FROM incident_members WHERE alert_id = ?1",
    )
    .and_then(|mut st| st.query_row([alert_id], member).optional())
    .map_err(map)
}

pub(crate) fn timeline_after(
    conn: &Connection,
    after_id: i64,
    limit: usize,
) -> Result<Vec<TimelineEntry>> {
    let limit = i64::try_from(limit.clamp(1, MAX_LIST)).unwrap_or(1);
    conn.prepare_cached(
        "SELECT id, incident_id, at, actor, kind, detail FROM incident_timeline \
         WHERE id > ?1 ORDER BY id LIMIT ?2",
    )
    .and_then(|mut st| st.query_map(params![after_id, limit], entry)?.collect())
    .map_err(map)
}
