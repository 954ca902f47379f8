//! The alert history: any mix of filters, newest first, a page at a time, at a million alerts.
//!
//! A page is "the first `limit` alerts, by id descending, that pass every filter". SQLite's own
//! planner does not know that open alerts are rare and closed ones common, and cannot stop early
//! once it has to sort, so this module picks the plan itself, from cheap, bounded estimates:
//!
//! - *scan*: walk all alerts newest first and test every filter; good when matches are common;
//! - *driver*: walk one filter's index newest first (state and severity, name, source, one
//!   label, the text's trigrams) and test the others on each alert it yields; or, for a time
//!   range or several states, read every alert of that index range and sort them.
//!
//! Estimates: state, severity and source counts are exact (`alert_counts`); name and labels
//! are counted among the newest [`WINDOW`] ids, or everywhere when rare (up to [`CAP`]); a time
//! range becomes an exact id range (`alert_blocks`) and is counted up to [`CAP`]. Free text is
//! never counted (walking trigram lists costs as much as the search): with text, plans are
//! judged by the most they can read, and the trigram walk by a fixed cost. Filters are assumed
//! independent; the plan expected to read the fewest alerts wins; a filter that matches nothing
//! ends the query at once. Every value is bound as a parameter; user input never becomes SQL.
//! Reader-side only: never writes.

use std::fmt::Write as _;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::derived::BLOCK_BITS;
use super::error::map;
use super::read::{collect_for, max_alert_id};
use super::row::{self, ALERT_COLUMNS};
use crate::{HistoryQuery, Result, StoredAlert};

/// The most alerts one page holds.
pub(crate) const MAX_PAGE: usize = 1_000;
/// Global counts stop here (about 1 ms of index walking).
const CAP: u64 = 10_000;
/// Name and label estimates count matches among this many newest ids.
const WINDOW: i64 = 20_000;
/// What walking the trigram index is taken to cost, in alerts read: a few milliseconds at a
/// million alerts whatever the text, since the walk stops after a page of matches.
const TEXT_COST: f64 = 4_000.0;
/// The most trigrams of a search text the index is asked for (they narrow; the text check on
/// each candidate decides).
const MAX_TRIGRAMS: usize = 6;
/// A trigram's density is probed among this many newest ids.
const PROBE: i64 = 2_000;
/// Trigrams in more than this share of the probed alerts are left out of the index query:
/// walking their lists costs much and narrows little (`hos` of `host-1234` is in every alert).
const DENSE: f64 = 0.25;

/// What walks the alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Driver {
    Scan,
    StateSeverity,
    Name,
    Source,
    Label(usize),
    Text,
    Time,
}

/// One filter's estimate.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    driver: Driver,
    /// The share of the alerts in the id range that pass this filter.
    share: f64,
    /// Matching alerts in the id range, when known (none: many).
    count: Option<f64>,
    /// Whether its index yields alerts newest first (one equality), so a walk can stop early.
    ordered: bool,
}

/// The chosen plan, with what it expects to read (for `explain`).
#[derive(Debug)]
struct Plan {
    driver: Driver,
    ids: Ids,
    cost: f64,
    /// The FTS5 query of the text's selective trigrams (for the text driver).
    fts: Option<String>,
}

/// The ids a page may come from: `[lo, hi)`, from the cursor and the time range.
#[derive(Debug, Clone, Copy, Default)]
struct Ids {
    lo: Option<i64>,
    hi: Option<i64>,
}

pub(crate) fn alert_history(conn: &Connection, q: &HistoryQuery) -> Result<Vec<StoredAlert>> {
    let limit = q.limit.min(MAX_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let Some(plan) = choose(conn, q, limit)? else {
        return Ok(Vec::new());
    };
    let (sql, args) = build(q, &plan, limit);
    collect_for(conn, &sql, params_from_iter(args), row::alert)
}

/// The plan `alert_history` would run and SQLite's EXPLAIN QUERY PLAN of it, one line each.
pub(crate) fn explain(conn: &Connection, q: &HistoryQuery) -> Result<String> {
    let limit = q.limit.clamp(1, MAX_PAGE);
    let Some(plan) = choose(conn, q, limit)? else {
        return Ok("empty: a filter matches no alert".to_owned());
    };
    let (sql, args) = build(q, &plan, limit);
    let lines = collect_for(
        conn,
        &format!("EXPLAIN QUERY PLAN {sql}"),
        params_from_iter(args),
        |r| r.get::<_, String>(3),
    )?;
    let mut out = format!(
        "{:?} in ids {:?} (expects ~{:.0} alerts read)",
        plan.driver, plan.ids, plan.cost
    );
    if let (Driver::Text, Some(fts)) = (plan.driver, &plan.fts) {
        let _ = write!(out, " with {fts}");
    }
    for line in lines {
        let _ = write!(out, "\n  {line}");
    }
    Ok(out)
}

/// The search text, or none for no (or an empty) text filter.
fn text(q: &HistoryQuery) -> Option<&str> {
    q.text.as_deref().filter(|t| !t.is_empty())
}

/// Picks the cheapest plan; none when some filter matches nothing.
fn choose(conn: &Connection, q: &HistoryQuery, limit: usize) -> Result<Option<Plan>> {
    let counts = collect_for(
        conn,
        "SELECT state, severity, source, n FROM alert_counts WHERE n > 0",
        [],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u64>(3)?,
            ))
        },
    )?;
    let in_states = |s: &str| q.states.is_empty() || q.states.iter().any(|x| x.as_str() == s);
    let in_severities = |s: &str| q.severities.is_empty() || q.severities.iter().any(|x| x == s);
    let in_source = |s: &str| q.source.is_none_or(|x| x.as_str() == s);
    let (mut total, mut state_severity, mut source, mut joint) = (0, 0, 0, 0);
    for (st, sev, src, n) in &counts {
        total += n;
        let ss = in_states(st) && in_severities(sev);
        state_severity += if ss { *n } else { 0 };
        source += if in_source(src) { *n } else { 0 };
        joint += if ss && in_source(src) { *n } else { 0 };
    }
    let by_counts = !q.states.is_empty() || !q.severities.is_empty() || q.source.is_some();
    if total == 0 || (by_counts && joint == 0) {
        return Ok(None);
    }
    let Some(ids) = id_range(conn, q)? else {
        return Ok(None);
    };
    let total = total as f64;
    let newest = max_alert_id(conn)?;
    // Alerts the id range may hold (ids are dense enough for this to be an estimate).
    let span = ids.hi.unwrap_or(newest + 1) - ids.lo.unwrap_or(0);
    let universe = (span.max(1) as f64).min(total);
    // Counts over all alerts, scaled to the id range.
    let scaled = |n: u64| n as f64 * universe / total;

    let mut estimates = Vec::new();
    if !q.states.is_empty() {
        estimates.push(Estimate {
            driver: Driver::StateSeverity,
            share: state_severity as f64 / total,
            count: Some(state_severity as f64),
            ordered: q.states.len() == 1 && q.severities.len() == 1,
        });
    }
    if q.source.is_some() {
        estimates.push(Estimate {
            driver: Driver::Source,
            share: source as f64 / total,
            count: Some(scaled(source)),
            ordered: true,
        });
    }
    let window = newest - WINDOW;
    let window_size = (WINDOW as f64).min(total);
    if let Some(name) = &q.name {
        let v = Value::Text(name.clone());
        let recent = count(
            conn,
            "SELECT count(*) FROM alerts INDEXED BY alerts_name WHERE name = ?1 AND id > ?2",
            vec![v.clone(), Value::Integer(window)],
        )?;
        let everywhere = || {
            count(
                conn,
                "SELECT count(*) FROM (SELECT 1 FROM alerts INDEXED BY alerts_name \
                 WHERE name = ?1 LIMIT ?2)",
                vec![v.clone(), Value::Integer(CAP as i64)],
            )
        };
        estimates.push(sampled(
            Driver::Name,
            recent,
            window_size,
            everywhere,
            total,
            scaled,
        )?);
    }
    for (i, (label, value)) in q.labels.iter().enumerate() {
        let (l, v) = (Value::Text(label.clone()), Value::Text(value.clone()));
        let recent = count(
            conn,
            "SELECT count(*) FROM alert_labels WHERE label = ?1 AND value = ?2 AND alert_id > ?3",
            vec![l.clone(), v.clone(), Value::Integer(window)],
        )?;
        let everywhere = || {
            count(
                conn,
                "SELECT count(*) FROM (SELECT 1 FROM alert_labels \
                 WHERE label = ?1 AND value = ?2 LIMIT ?3)",
                vec![l.clone(), v.clone(), Value::Integer(CAP as i64)],
            )
        };
        estimates.push(sampled(
            Driver::Label(i),
            recent,
            window_size,
            everywhere,
            total,
            scaled,
        )?);
    }
    if q.from.is_some() || q.to.is_some() {
        let n = count(
            conn,
            "SELECT count(*) FROM (SELECT 1 FROM alerts INDEXED BY alerts_first_seen \
             WHERE first_seen >= ?1 AND first_seen < ?2 LIMIT ?3)",
            vec![
                Value::Integer(q.from.unwrap_or(i64::MIN)),
                Value::Integer(q.to.unwrap_or(i64::MAX)),
                Value::Integer(CAP as i64),
            ],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let n = n as f64;
        estimates.push(Estimate {
            driver: Driver::Time,
            share: if n < CAP as f64 {
                (n / universe).min(1.0)
            } else {
                1.0
            },
            count: (n < CAP as f64).then_some(n),
            ordered: false,
        });
    }
    if estimates.iter().any(|e| e.count == Some(0.0)) {
        return Ok(None);
    }

    // The share of the id range that passes every filter (state, severity and source together,
    // exactly; the rest as if independent). Text is left out: it is never estimated.
    let joint_share = if by_counts { joint as f64 / total } else { 1.0 };
    let own = |e: &Estimate| match e.driver {
        Driver::StateSeverity | Driver::Source => 1.0,
        _ => e.share,
    };
    let all = (joint_share * estimates.iter().map(own).product::<f64>()).max(f64::MIN_POSITIVE);
    let limit = limit as f64;
    let fts = match text(q).map(trigrams) {
        Some(all) if !all.is_empty() => Some(fts_match(&selective(conn, all, newest)?)),
        _ => None,
    };
    let with_text = fts.is_some();
    let mut best = Plan {
        driver: Driver::Scan,
        ids,
        cost: if with_text {
            universe
        } else {
            (limit / all).min(universe)
        },
        fts: fts.clone(),
    };
    if with_text {
        best = Plan {
            driver: Driver::Text,
            ids,
            cost: TEXT_COST,
            fts: fts.clone(),
        }
        .min(best);
    }
    for e in &estimates {
        // Alerts this driver reads: with text (whose share is unknown) the most it can read;
        // without, until a page of alerts passes the other filters.
        let rest = all / e.share.max(f64::MIN_POSITIVE);
        let walk = match (e.ordered, e.count, with_text) {
            (true, Some(n), false) => (limit / rest).min(n),
            (true, None, false) => limit / rest,
            (_, Some(n), _) => n,
            (_, None, _) => f64::INFINITY,
        };
        // An index walk costs a lookup of the alert besides the index step.
        best = Plan {
            driver: e.driver,
            ids,
            cost: 2.0 * walk,
            fts: fts.clone(),
        }
        .min(best);
    }
    Ok(Some(best))
}

impl Plan {
    fn min(self, other: Plan) -> Plan {
        if self.cost < other.cost {
            self
        } else {
            other
        }
    }
}

/// The trigrams worth asking the index for: those in at most [`DENSE`] of the newest alerts,
/// or the least dense one when all are (any subset finds every match; the text check on each
/// candidate removes the rest).
fn selective(conn: &Connection, trigrams: Vec<String>, newest: i64) -> Result<Vec<String>> {
    let probed = newest.clamp(1, PROBE) as f64;
    let mut densities = Vec::with_capacity(trigrams.len());
    for t in trigrams {
        let n = count(
            conn,
            "SELECT count(*) FROM alerts_fts WHERE alerts_fts MATCH ?1 AND rowid > ?2",
            vec![
                Value::Text(fts_match(std::slice::from_ref(&t))),
                Value::Integer(newest - PROBE),
            ],
        )?;
        densities.push((n as f64 / probed, t));
    }
    densities.sort_by(|a, b| a.0.total_cmp(&b.0));
    let keep = densities.iter().filter(|(d, _)| *d <= DENSE).count().max(1);
    Ok(densities.into_iter().take(keep).map(|(_, t)| t).collect())
}

/// An estimate from `recent` matches among the newest ids; when those are few, from a count
/// over all alerts (cheap then, unless the filter matched often in the past: it stops at CAP).
fn sampled(
    driver: Driver,
    recent: u64,
    window: f64,
    everywhere: impl FnOnce() -> Result<u64>,
    total: f64,
    scaled: impl Fn(u64) -> f64,
) -> Result<Estimate> {
    const ENOUGH: u64 = 20;
    if recent >= ENOUGH {
        return Ok(Estimate {
            driver,
            share: recent as f64 / window,
            count: None,
            ordered: true,
        });
    }
    let n = everywhere()?;
    let exact = n < CAP;
    Ok(Estimate {
        driver,
        share: if exact {
            n as f64 / total
        } else {
            ENOUGH as f64 / window
        },
        count: exact.then(|| scaled(n)),
        ordered: true,
    })
}

/// The ids whose blocks may hold alerts first seen in the time range, within the cursor; none
/// when no alert can match.
fn id_range(conn: &Connection, q: &HistoryQuery) -> Result<Option<Ids>> {
    let mut ids = Ids {
        lo: None,
        hi: q.before_id,
    };
    if let Some(to) = q.to {
        let Some(block) = block(
            conn,
            "SELECT max(block) FROM alert_blocks WHERE min_first_seen < ?1",
            to,
        )?
        else {
            return Ok(None);
        };
        // Every id from the next block on was first seen at or after `to`.
        if let Some(end) = block
            .checked_add(1)
            .and_then(|b| b.checked_mul(1 << BLOCK_BITS))
        {
            ids.hi = Some(ids.hi.map_or(end, |h| h.min(end)));
        }
    }
    if let Some(from) = q.from {
        let Some(block) = block(
            conn,
            "SELECT min(block) FROM alert_blocks WHERE max_first_seen >= ?1",
            from,
        )?
        else {
            return Ok(None);
        };
        ids.lo = Some(block << BLOCK_BITS);
    }
    if let (Some(lo), Some(hi)) = (ids.lo, ids.hi) {
        if lo >= hi {
            return Ok(None);
        }
    }
    Ok(Some(ids))
}

fn block(conn: &Connection, sql: &str, at: i64) -> Result<Option<i64>> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.query_row([at], |r| r.get(0)))
        .map_err(map)
}

fn count(conn: &Connection, sql: &str, args: Vec<Value>) -> Result<u64> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.query_row(params_from_iter(args), |r| r.get(0)))
        .map_err(map)
}

/// SQL text and its parameters, built together so every `?` has its value.
struct Sql {
    text: String,
    args: Vec<Value>,
}

impl Sql {
    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends `?` bound to `v`.
    fn arg(&mut self, v: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.args.push(v.into());
        self
    }

    fn list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(v.to_owned());
        }
        self.push(")")
    }
}

/// The page's SELECT for `driver`. Filters the driver's index already applies are applied
/// again on the alert, which costs nothing and keeps every plan obviously right.
fn build(q: &HistoryQuery, plan: &Plan, limit: usize) -> (String, Vec<Value>) {
    let driver = plan.driver;
    let mut sql = Sql {
        text: format!("SELECT {ALERT_COLUMNS} FROM "),
        args: Vec::new(),
    };
    let id = match driver {
        Driver::Scan => {
            sql.push("alerts AS a NOT INDEXED WHERE 1 = 1");
            "a.id"
        }
        Driver::StateSeverity => {
            sql.push("alerts AS a INDEXED BY alerts_state_severity WHERE 1 = 1");
            "a.id"
        }
        Driver::Name => {
            sql.push("alerts AS a INDEXED BY alerts_name WHERE 1 = 1");
            "a.id"
        }
        Driver::Source => {
            sql.push("alerts AS a INDEXED BY alerts_source WHERE 1 = 1");
            "a.id"
        }
        Driver::Time => {
            sql.push("alerts AS a INDEXED BY alerts_first_seen WHERE 1 = 1");
            "a.id"
        }
        Driver::Label(i) => {
            let (label, value) = &q.labels[i];
            sql.push(
                "alert_labels AS l CROSS JOIN alerts AS a ON a.id = l.alert_id WHERE l.label = ",
            )
            .arg(label.clone())
            .push(" AND l.value = ")
            .arg(value.clone());
            "l.alert_id"
        }
        Driver::Text => {
            let m = plan.fts.clone().unwrap_or_default();
            sql.push("alerts_fts CROSS JOIN alerts AS a ON a.id = alerts_fts.rowid WHERE alerts_fts MATCH ")
                .arg(m);
            "alerts_fts.rowid"
        }
    };
    if let Some(lo) = plan.ids.lo {
        sql.push(" AND ").push(id).push(" >= ").arg(lo);
    }
    if let Some(hi) = plan.ids.hi {
        sql.push(" AND ").push(id).push(" < ").arg(hi);
    }
    if !q.states.is_empty() {
        sql.push(" AND a.state IN ")
            .list(q.states.iter().map(|s| s.as_str()));
    }
    if !q.severities.is_empty() {
        sql.push(" AND a.severity IN ")
            .list(q.severities.iter().map(String::as_str));
    }
    if let Some(name) = &q.name {
        sql.push(" AND a.name = ").arg(name.clone());
    }
    if let Some(source) = q.source {
        sql.push(" AND a.source = ").arg(source.as_str().to_owned());
    }
    // Tied to the driver's own id column, not to `a.id`: with a label driver the other
    // labels are then tested on the index entry, before the alert's row is read at all.
    for (i, (label, value)) in q.labels.iter().enumerate() {
        if driver != Driver::Label(i) {
            sql.push(" AND EXISTS (SELECT 1 FROM alert_labels AS x WHERE x.label = ")
                .arg(label.clone())
                .push(" AND x.value = ")
                .arg(value.clone())
                .push(" AND x.alert_id = ")
                .push(id)
                .push(")");
        }
    }
    if let Some(from) = q.from {
        sql.push(" AND a.first_seen >= ").arg(from);
    }
    if let Some(to) = q.to {
        sql.push(" AND a.first_seen < ").arg(to);
    }
    if let Some(t) = text(q) {
        // The exact test: a case-insensitive (ASCII) substring of the name, the message or a
        // label value. The trigram index only narrows the candidates.
        let pattern = like_pattern(t);
        sql.push(" AND (a.name LIKE ")
            .arg(pattern.clone())
            .push(" ESCAPE '\\' OR a.message LIKE ")
            .arg(pattern.clone())
            .push(" ESCAPE '\\' OR EXISTS (SELECT 1 FROM json_each(a.labels) AS j WHERE j.value LIKE ")
            .arg(pattern)
            .push(" ESCAPE '\\'))");
    }
    sql.push(" ORDER BY ")
        .push(id)
        .push(" DESC LIMIT ")
        .arg(i64::try_from(limit).expect("a page holds at most 1,000 alerts"));
    (sql.text, sql.args)
}

/// `%text%` with LIKE's wildcards and the escape character escaped.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Trigrams that cover `text`: back to back from the start, plus the last one, at most
/// [`MAX_TRIGRAMS`] of them spread over it; none for a text under three characters. Fewer,
/// non-overlapping trigrams walk fewer lists of the index; the text check on each candidate
/// makes the result exact.
fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let Some(last) = chars.len().checked_sub(3) else {
        return Vec::new();
    };
    let mut starts: Vec<usize> = (0..=last).step_by(3).collect();
    if starts.last() != Some(&last) {
        starts.push(last);
    }
    if starts.len() > MAX_TRIGRAMS {
        let n = starts.len();
        starts = (0..MAX_TRIGRAMS)
            .map(|k| starts[k * (n - 1) / (MAX_TRIGRAMS - 1)])
            .collect();
    }
    starts
        .into_iter()
        .map(|s| chars[s..s + 3].iter().collect())
        .collect()
}

/// An FTS5 query for alerts holding every one of `trigrams`. Each is a quoted string, so no
/// character of the text is FTS5 syntax.
fn fts_match(trigrams: &[String]) -> String {
    let mut q = String::new();
    for t in trigrams {
        if !q.is_empty() {
            q.push_str(" AND ");
        }
        q.push('"');
        q.push_str(&t.replace('"', "\"\""));
        q.push('"');
    }
    q
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;
    use crate::conformance::{history_dataset, history_expected, insert};
    use crate::sqlite::{change, schema};
    use crate::Source;
    use klaxon_engine::lifecycle::State;

    const T0: i64 = 1_700_000_000_000;

    /// A migrated database file of its own, removed on drop.
    struct Db {
        conn: Connection,
        path: std::path::PathBuf,
    }

    impl Drop for Db {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(std::path::PathBuf::from(p));
            }
        }
    }

    /// The conformance dataset with ids spread over many id blocks (and first_seen still not
    /// in id order), stored.
    fn filled(tag: &str) -> (Db, Vec<StoredAlert>) {
        let path = std::env::temp_dir().join(format!(
            "klaxon-store-history-{tag}-{}.db",
            std::process::id()
        ));
        let conn = schema::open_writer(&path, schema::Db::Main).unwrap();
        let db = Db { conn, path };
        let mut all = history_dataset();
        for a in &mut all {
            a.id *= 3_001;
        }
        let changes: Vec<_> = all.iter().cloned().map(insert).collect();
        change::apply(&db.conn, &changes).unwrap();
        (db, all)
    }

    fn drivers(q: &HistoryQuery) -> Vec<Driver> {
        let mut d = vec![Driver::Scan];
        if !q.states.is_empty() {
            d.push(Driver::StateSeverity);
        }
        if q.name.is_some() {
            d.push(Driver::Name);
        }
        if q.source.is_some() {
            d.push(Driver::Source);
        }
        d.extend((0..q.labels.len()).map(Driver::Label));
        if text(q).is_some_and(|t| !trigrams(t).is_empty()) {
            d.push(Driver::Text);
        }
        if q.from.is_some() || q.to.is_some() {
            d.push(Driver::Time);
        }
        d
    }

    fn run(conn: &Connection, q: &HistoryQuery, plan: &Plan) -> Vec<i64> {
        let (sql, args) = build(q, plan, q.limit.min(MAX_PAGE));
        collect_for(conn, &sql, params_from_iter(args), |r| r.get(0)).unwrap()
    }

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_plan_returns_exactly_what_the_filters_select() {
        let (db, all) = filled("plans");
        let states = [
            vec![],
            vec![State::Active],
            vec![State::Active, State::Closed],
        ];
        let severities = [owned(&[]), owned(&["high"]), owned(&["low", "info"])];
        let labels: [Vec<(String, String)>; 4] = [
            vec![],
            vec![("env".into(), "dev".into())],
            vec![("env".into(), "dev".into()), ("team".into(), "b".into())],
            vec![("we\"ird'key".into(), "x\"y'z".into())],
        ];
        let texts = [
            None,
            Some("disk"),
            Some("_"),
            Some("ck"),
            Some("nïcode"),
            Some("x\"y'"),
        ];
        let times = [
            (None, None),
            (Some(T0 + 10_000), Some(T0 + 40_000)),
            (Some(T0 + 50_000), None),
            (None, Some(T0 + 3_000)),
        ];
        let mut checked = 0;
        for st in &states {
            for sev in &severities {
                for (name, source) in [(None, None), (Some("DiskFull"), Some(Source::Threshold))] {
                    for l in &labels {
                        for t in texts {
                            for (from, to) in times {
                                for (before_id, limit) in [(None, 1_000), (Some(30 * 3_001), 3)] {
                                    let q = HistoryQuery {
                                        before_id,
                                        states: st.clone(),
                                        severities: sev.clone(),
                                        name: name.map(Into::into),
                                        source,
                                        labels: l.clone(),
                                        text: t.map(Into::into),
                                        from,
                                        to,
                                        limit,
                                    };
                                    let expected = history_expected(&all, &q);
                                    let got = alert_history(&db.conn, &q).unwrap();
                                    let got: Vec<i64> = got.iter().map(|a| a.id).collect();
                                    assert_eq!(got, expected, "chosen plan, {q:?}");
                                    let Some(ids) = id_range(&db.conn, &q).unwrap() else {
                                        assert!(expected.is_empty(), "{q:?}");
                                        continue;
                                    };
                                    // Every trigram: the index query of any subset is a superset.
                                    let fts = text(&q).map(|t| fts_match(&trigrams(t)));
                                    for driver in drivers(&q) {
                                        let plan = Plan {
                                            driver,
                                            ids,
                                            cost: 0.0,
                                            fts: fts.clone(),
                                        };
                                        let got = run(&db.conn, &q, &plan);
                                        assert_eq!(got, expected, "{driver:?}, {q:?}");
                                        checked += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked} plans checked");
    }

    #[test]
    fn time_ranges_become_exact_id_ranges() {
        let (db, all) = filled("blocks");
        let block = 1_i64 << BLOCK_BITS;
        for (from, to) in [
            (T0 + 10_000, T0 + 12_000),
            (T0, T0 + 1),
            (T0 + 59_000, T0 + 60_000),
        ] {
            let q = HistoryQuery {
                from: Some(from),
                to: Some(to),
                limit: 1_000,
                ..HistoryQuery::default()
            };
            let ids = id_range(&db.conn, &q).unwrap().unwrap();
            let (lo, hi) = (ids.lo.unwrap(), ids.hi.unwrap());
            assert_eq!((lo % block, hi % block), (0, 0), "whole blocks");
            for a in &all {
                if a.first_seen >= from && a.first_seen < to {
                    assert!(
                        a.id >= lo && a.id < hi,
                        "alert {} of the range is inside",
                        a.id
                    );
                }
            }
        }
        let after_all = HistoryQuery {
            from: Some(T0 + 60_000),
            limit: 10,
            ..HistoryQuery::default()
        };
        assert!(id_range(&db.conn, &after_all).unwrap().is_none());
        let before_all = HistoryQuery {
            to: Some(T0),
            limit: 10,
            ..HistoryQuery::default()
        };
        assert!(id_range(&db.conn, &before_all).unwrap().is_none());
    }

    /// The shape SQLite runs for each driver: its index, and no sort when it walks in order.
    #[test]
    fn each_driver_runs_on_its_index() {
        let (db, _) = filled("explain");
        let q = HistoryQuery {
            states: vec![State::Active],
            severities: owned(&["high"]),
            name: Some("DiskFull".into()),
            source: Some(Source::Threshold),
            labels: vec![("env".into(), "dev".into()), ("team".into(), "a".into())],
            text: Some("disk".into()),
            before_id: Some(50 * 3_001),
            limit: 50,
            ..HistoryQuery::default()
        };
        let timed = HistoryQuery {
            from: Some(T0 + 10_000),
            to: Some(T0 + 20_000),
            ..q.clone()
        };
        for (driver, query, expect, sorts) in [
            (
                Driver::Scan,
                &q,
                "SEARCH a USING INTEGER PRIMARY KEY (rowid<?)",
                false,
            ),
            (
                Driver::Scan,
                &timed,
                "SEARCH a USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
                false,
            ),
            (
                Driver::StateSeverity,
                &q,
                "SEARCH a USING INDEX alerts_state_severity (state=? AND severity=? AND rowid<?)",
                false,
            ),
            (
                Driver::Name,
                &q,
                "SEARCH a USING INDEX alerts_name (name=? AND rowid<?)",
                false,
            ),
            (
                Driver::Source,
                &q,
                "SEARCH a USING INDEX alerts_source (source=? AND rowid<?)",
                false,
            ),
            (
                Driver::Label(1),
                &q,
                "SEARCH l USING PRIMARY KEY (label=? AND value=? AND alert_id<?)",
                false,
            ),
            (
                Driver::Text,
                &q,
                "SCAN alerts_fts VIRTUAL TABLE INDEX",
                false,
            ),
            (
                Driver::Time,
                &timed,
                "SEARCH a USING INDEX alerts_first_seen (first_seen>? AND first_seen<?)",
                true,
            ),
        ] {
            let ids = id_range(&db.conn, query).unwrap().unwrap();
            let fts = text(query).map(|t| fts_match(&trigrams(t)));
            let (sql, args) = build(
                query,
                &Plan {
                    driver,
                    ids,
                    cost: 0.0,
                    fts,
                },
                50,
            );
            let plan = collect_for(
                &db.conn,
                &format!("EXPLAIN QUERY PLAN {sql}"),
                params_from_iter(args),
                |r| r.get::<_, String>(3),
            )
            .unwrap()
            .join("\n");
            assert!(plan.contains(expect), "{driver:?}: {plan}");
            assert_eq!(plan.contains("TEMP B-TREE"), sorts, "{driver:?}: {plan}");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(like_pattern("plain"), "%plain%");
    }

    #[test]
    fn fts_queries_quote_trigrams_and_spread_them() {
        let q = |t: &str| fts_match(&trigrams(t));
        assert!(trigrams("ab").is_empty());
        assert_eq!(q("abc"), "\"abc\"");
        assert_eq!(q("a\"bcd"), "\"a\"\"b\" AND \"bcd\"");
        assert_eq!(q("host-1234"), "\"hos\" AND \"t-1\" AND \"234\"");
        assert_eq!(q("abcdefg"), "\"abc\" AND \"def\" AND \"efg\"");
        assert_eq!(trigrams(&"x".repeat(100)).len(), MAX_TRIGRAMS);
        // Unicode counts characters, not bytes.
        assert!(trigrams("é€").is_empty());
        assert_eq!(q("é€ü"), "\"é€ü\"");
    }
}
