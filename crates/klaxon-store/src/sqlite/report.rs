//! Reports over all alerts: the summary (from `alert_counts`, which sqlite/derived.rs keeps, so
//! it costs the same at a million alerts as at ten), response times and trends (ranges of the
//! covering `first_seen` index, never the alerts themselves). Reader-side only: never writes.

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use rusqlite::{params, Connection};

use super::error::map;
use super::read::collect_for;
use super::row;
use crate::{Performance, Result, StoreError, Summary, TrendBucket, TrendQuery};

/// The most buckets one trends query may ask for.
pub(crate) const MAX_BUCKETS: i64 = 100_000;

pub(crate) fn alert_summary(conn: &Connection) -> Result<Summary> {
    let counts = collect_for(
        conn,
        "SELECT state, severity, sum(n) FROM alert_counts GROUP BY state, severity",
        [],
        |r| Ok((row::state(r, 0)?, r.get::<_, String>(1)?, r.get(2)?)),
    )?;
    let mut summary = Summary {
        by_state: State::ALL.iter().map(|s| (*s, 0)).collect(),
        ..Summary::default()
    };
    for (state, severity, n) in counts {
        let n: u64 = n;
        if n == 0 {
            continue;
        }
        summary.total += n;
        *summary.by_state.entry(state).or_default() += n;
        if state.is_open() {
            *summary.open_by_severity.entry(severity).or_default() += n;
        }
    }
    Ok(summary)
}

pub(crate) fn alert_performance(conn: &Connection, from: i64, to: i64) -> Result<Performance> {
    conn.prepare_cached(
        "SELECT count(*), count(acknowledged_at), count(resolved_at), \
                avg(acknowledged_at - first_seen), avg(resolved_at - first_seen) \
         FROM alerts INDEXED BY alerts_first_seen WHERE first_seen >= ?1 AND first_seen < ?2",
    )
    .and_then(|mut st| {
        st.query_row(params![from, to], |r| {
            Ok(Performance {
                alerts: r.get(0)?,
                acknowledged: r.get(1)?,
                resolved: r.get(2)?,
                mtta_ms: r.get(3)?,
                mttr_ms: r.get(4)?,
            })
        })
    })
    .map_err(map)
}

/// Counts per bucket, severity and name, ordered by bucket start, then severity, then name.
/// Invalid for a bucket width below 1 ms or a range of more than [`MAX_BUCKETS`] buckets.
pub(crate) fn alert_trends(conn: &Connection, q: &TrendQuery) -> Result<Vec<TrendBucket>> {
    // Beyond 2^62 the floor below could overflow; no one asks for buckets of 146 million years.
    if q.bucket_ms < 1 || q.bucket_ms > 1 << 62 {
        return Err(StoreError::Invalid(format!(
            "bucket width {} ms is out of range",
            q.bucket_ms
        )));
    }
    if q.from >= q.to {
        return Ok(Vec::new());
    }
    let buckets = (i128::from(q.to) - i128::from(q.from)) / i128::from(q.bucket_ms);
    if buckets > i128::from(MAX_BUCKETS) {
        return Err(StoreError::Invalid(format!(
            "{buckets} buckets asked for, at most {MAX_BUCKETS}"
        )));
    }
    // Alerts come in first_seen order from the covering index, so buckets come in order too:
    // each is counted in a small map and flushed when the next begins (no sort of the range).
    let mut st = conn
        .prepare_cached(
            "SELECT first_seen, severity, name FROM alerts INDEXED BY alerts_first_seen \
             WHERE first_seen >= ?1 AND first_seen < ?2 ORDER BY first_seen",
        )
        .map_err(map)?;
    let mut rows = st.query(params![q.from, q.to]).map_err(map)?;
    let mut out = Vec::new();
    let mut bucket: Option<i64> = None;
    // severity → name → count; looked up by borrowed strings, allocated once per bucket.
    let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    while let Some(r) = rows.next().map_err(map)? {
        let first_seen: i64 = r.get(0).map_err(map)?;
        // Rounded down to a multiple of the width (also before 1970).
        let start = first_seen - first_seen.rem_euclid(q.bucket_ms);
        if bucket != Some(start) {
            flush(&mut out, bucket, &mut counts);
            bucket = Some(start);
        }
        let severity = r.get_ref(1).map_err(map)?.as_str().map_err(conversion)?;
        let name = r.get_ref(2).map_err(map)?.as_str().map_err(conversion)?;
        let names = match counts.get_mut(severity) {
            Some(names) => names,
            None => counts.entry(severity.to_owned()).or_default(),
        };
        match names.get_mut(name) {
            Some(c) => *c += 1,
            None => {
                names.insert(name.to_owned(), 1);
            }
        }
    }
    flush(&mut out, bucket, &mut counts);
    Ok(out)
}

fn flush(
    out: &mut Vec<TrendBucket>,
    bucket: Option<i64>,
    counts: &mut BTreeMap<String, BTreeMap<String, u64>>,
) {
    let Some(start) = bucket else { return };
    for (severity, names) in std::mem::take(counts) {
        for (name, count) in names {
            out.push(TrendBucket {
                start,
                severity: severity.clone(),
                name,
                count,
            });
        }
    }
}

fn conversion(e: rusqlite::types::FromSqlError) -> StoreError {
    StoreError::Unavailable(format!("a stored alert column has the wrong type: {e}"))
}
