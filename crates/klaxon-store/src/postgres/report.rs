//! Reports over all alerts: the summary (a count per state and severity), response times and
//! trends (ranges of the `first_seen` index). Never writes.

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use tokio_postgres::GenericClient;

use super::row::{self, collect, get, get_u64};
use crate::{Performance, Result, StoreError, Summary, TrendBucket, TrendQuery};

/// The most buckets one trends query may ask for.
pub(crate) const MAX_BUCKETS: i64 = 100_000;

pub(crate) async fn alert_summary<C: GenericClient + Sync>(c: &C) -> Result<Summary> {
    let counts = collect(
        c,
        "SELECT state, severity, count(*) FROM alerts GROUP BY state, severity",
        &[],
        |r| {
            Ok((
                row::decode_state(get(r, 0)?)?,
                get::<String>(r, 1)?,
                get_u64(r, 2)?,
            ))
        },
    )
    .await?;
    let mut summary = Summary {
        by_state: State::ALL.iter().map(|s| (*s, 0)).collect(),
        ..Summary::default()
    };
    for (state, severity, n) in counts {
        summary.total += n;
        *summary.by_state.entry(state).or_default() += n;
        if state.is_open() {
            *summary.open_by_severity.entry(severity).or_default() += n;
        }
    }
    Ok(summary)
}

pub(crate) async fn alert_performance<C: GenericClient + Sync>(
    c: &C,
    from: i64,
    to: i64,
) -> Result<Performance> {
    let r = c
        .query_one(
            "SELECT count(*), count(acknowledged_at), count(resolved_at), \
                    avg(acknowledged_at - first_seen)::float8, \
                    avg(resolved_at - first_seen)::float8 \
             FROM alerts WHERE first_seen >= $1 AND first_seen < $2",
            &[&from, &to],
        )
        .await
        .map_err(super::error::map)?;
    Ok(Performance {
        alerts: get_u64(&r, 0)?,
        acknowledged: get_u64(&r, 1)?,
        resolved: get_u64(&r, 2)?,
        mtta_ms: get(&r, 3)?,
        mttr_ms: get(&r, 4)?,
    })
}

/// Counts per bucket, severity and name, ordered by bucket start, then severity, then name.
/// Invalid for a bucket width below 1 ms or a range of more than [`MAX_BUCKETS`] buckets.
pub(crate) async fn alert_trends<C: GenericClient + Sync>(
    c: &C,
    q: &TrendQuery,
) -> Result<Vec<TrendBucket>> {
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
    // Rounded down to a multiple of the width (also before 1970); ordered here in Rust, so
    // severities and names sort by bytes as on every backend, whatever the collation.
    let rows = collect(
        c,
        "SELECT first_seen - (((first_seen % $3) + $3) % $3) AS start, severity, name, \
         count(*) FROM alerts WHERE first_seen >= $1 AND first_seen < $2 \
         GROUP BY 1, 2, 3",
        &[&q.from, &q.to, &q.bucket_ms],
        |r| {
            Ok(TrendBucket {
                start: get(r, 0)?,
                severity: get(r, 1)?,
                name: get(r, 2)?,
                count: get_u64(r, 3)?,
            })
        },
    )
    .await?;
    let mut sorted: BTreeMap<(i64, String, String), u64> = BTreeMap::new();
    for b in rows {
        *sorted.entry((b.start, b.severity, b.name)).or_default() += b.count;
    }
    Ok(sorted
        .into_iter()
        .map(|((start, severity, name), count)| TrendBucket {
            start,
            severity,
            name,
            count,
        })
        .collect())
}
