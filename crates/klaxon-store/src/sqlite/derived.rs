//! The tables derived from `alerts`, kept exact in the same transaction as every write of an
//! alert: `alert_counts` (alerts per state, severity and source), `alert_labels` (one row per
//! label), `alert_blocks` (the first_seen range of each block of ids) and `alerts_fts`
//! (trigrams of the searchable text). Every write that inserts an alert or changes its state,
//! severity, source, name, message or labels must call this module (first_seen never changes);
//! no other code writes these tables (migration 0002 filled them once). Nothing deletes alerts;
//! a retention that does must remove their rows here too (a block's range may stay wider).
//!
//! Plain single-row statements only: a statement that needs a statement journal (a trigger,
//! an upsert) opens a savepoint, and FTS5 flushes its pending index at every savepoint.

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use rusqlite::{params, Connection};

use super::error::map;
use crate::{Result, StoredAlert};

/// The key of `alert_counts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CountKey<'a> {
    pub state: State,
    pub severity: &'a str,
    pub source: &'a str,
}

/// Records a new alert (just inserted as `id`) in every derived table.
pub(crate) fn added(conn: &Connection, id: i64, a: &StoredAlert) -> Result<()> {
    let key = CountKey {
        state: a.state,
        severity: &a.severity,
        source: a.source.as_str(),
    };
    count(conn, key, 1)?;
    let mut label = conn
        .prepare_cached("INSERT INTO alert_labels (label, value, alert_id) VALUES (?1, ?2, ?3)")
        .map_err(map)?;
    for (k, v) in &a.labels {
        label.execute(params![k, v, id]).map_err(map)?;
    }
    widen_block(conn, id, a.first_seen)?;
    index_text(conn, id, &a.name, &a.message, &a.labels)
}

/// Ids per row of `alert_blocks`, as a shift (4096).
pub(crate) const BLOCK_BITS: u32 = 12;

/// Makes the first_seen range of the alert's block include `first_seen`.
fn widen_block(conn: &Connection, id: i64, first_seen: i64) -> Result<()> {
    let block = id >> BLOCK_BITS;
    let changed = conn
        .prepare_cached(
            "UPDATE alert_blocks SET min_first_seen = min(min_first_seen, ?2), \
             max_first_seen = max(max_first_seen, ?2) WHERE block = ?1",
        )
        .and_then(|mut st| st.execute(params![block, first_seen]))
        .map_err(map)?;
    if changed == 0 {
        conn.prepare_cached(
            "INSERT INTO alert_blocks (block, min_first_seen, max_first_seen) VALUES (?1, ?2, ?2)",
        )
        .and_then(|mut st| st.execute(params![block, first_seen]))
        .map_err(map)?;
    }
    Ok(())
}

/// Moves an alert from one count to another (no-op when the key did not change).
pub(crate) fn moved(conn: &Connection, from: CountKey<'_>, to: CountKey<'_>) -> Result<()> {
    if from != to {
        count(conn, from, -1)?;
        count(conn, to, 1)?;
    }
    Ok(())
}

/// Replaces the searchable text of an alert whose name, message or labels changed.
pub(crate) fn reindexed(
    conn: &Connection,
    id: i64,
    name: &str,
    message: &str,
    labels: &BTreeMap<String, String>,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM alerts_fts WHERE rowid = ?1")
        .and_then(|mut st| st.execute([id]))
        .map_err(map)?;
    index_text(conn, id, name, message, labels)
}

fn index_text(
    conn: &Connection,
    id: i64,
    name: &str,
    message: &str,
    labels: &BTreeMap<String, String>,
) -> Result<()> {
    conn.prepare_cached("INSERT INTO alerts_fts (rowid, text) VALUES (?1, ?2)")
        .and_then(|mut st| st.execute(params![id, search_text(name, message, labels)]))
        .map(drop)
        .map_err(map)
}

/// What free-text search looks in: the name, the message and every label value, one a line
/// (a search text holding a newline may match across two of them; the exact check on each
/// candidate rules that out). Migration 0002 built the same lines for older alerts (label
/// values perhaps in another order, which search does not see).
fn search_text(name: &str, message: &str, labels: &BTreeMap<String, String>) -> String {
    let mut text = String::with_capacity(name.len() + message.len() + 16 * labels.len());
    text.push_str(name);
    text.push('\n');
    text.push_str(message);
    text.push('\n');
    for (i, v) in labels.values().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(v);
    }
    text
}

/// Adds `delta` to one count, creating its row on first use (two plain statements rather than
/// an upsert, see the module comment).
fn count(conn: &Connection, key: CountKey<'_>, delta: i64) -> Result<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE alert_counts SET n = n + ?4 WHERE state = ?1 AND severity = ?2 AND source = ?3",
        )
        .and_then(|mut st| st.execute(params![key.state.as_str(), key.severity, key.source, delta]))
        .map_err(map)?;
    if changed == 0 {
        conn.prepare_cached(
            "INSERT INTO alert_counts (state, severity, source, n) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut st| st.execute(params![key.state.as_str(), key.severity, key.source, delta]))
        .map_err(map)?;
    }
    Ok(())
}
