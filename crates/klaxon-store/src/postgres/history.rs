//! The alert history: a page is "the first `limit` alerts, by id descending, that pass every
//! filter". One statement; PostgreSQL's planner chooses between the primary key, the label
//! index (GIN over `labels`) and the `first_seen` index. Free text is a case-insensitive
//! substring test (`ILIKE`) on each candidate, not indexed. Never writes.

use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

use super::row::{self, collect, Param, ALERT_COLUMNS};
use crate::{HistoryQuery, Result, StoredAlert};

/// The most alerts one page holds.
pub(crate) const MAX_PAGE: usize = 1_000;

pub(crate) async fn alert_history<C: GenericClient + Sync>(
    c: &C,
    q: &HistoryQuery,
) -> Result<Vec<StoredAlert>> {
    let limit = q.limit.min(MAX_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts AS a WHERE true");
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut arg = |sql: &mut String, before: &str, v: Box<dyn ToSql + Sync + Send>, after: &str| {
        args.push(v);
        sql.push_str(&format!("{before}${}{after}", args.len()));
    };
    if let Some(b) = q.before_id {
        arg(&mut sql, " AND a.id < ", Box::new(b), "");
    }
    if !q.states.is_empty() {
        let states: Vec<String> = q.states.iter().map(|s| s.as_str().to_owned()).collect();
        arg(&mut sql, " AND a.state = ANY(", Box::new(states), ")");
    }
    if !q.severities.is_empty() {
        arg(
            &mut sql,
            " AND a.severity = ANY(",
            Box::new(q.severities.clone()),
            ")",
        );
    }
    if let Some(name) = &q.name {
        arg(&mut sql, " AND a.name = ", Box::new(name.clone()), "");
    }
    if let Some(source) = q.source {
        arg(
            &mut sql,
            " AND a.source = ",
            Box::new(source.as_str().to_owned()),
            "",
        );
    }
    // Containment of each (label, value) pair in the alert's labels: the GIN index.
    for (k, v) in &q.labels {
        let mut pair = serde_json::Map::new();
        pair.insert(k.clone(), serde_json::Value::String(v.clone()));
        let pair = serde_json::Value::Object(pair).to_string();
        arg(
            &mut sql,
            " AND a.labels @> ",
            Box::new(pair),
            "::text::jsonb",
        );
    }
    if let Some(from) = q.from {
        arg(&mut sql, " AND a.first_seen >= ", Box::new(from), "");
    }
    if let Some(to) = q.to {
        arg(&mut sql, " AND a.first_seen < ", Box::new(to), "");
    }
    if let Some(t) = q.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = like_pattern(t);
        args.push(Box::new(pattern));
        let n = args.len();
        sql.push_str(&format!(
            " AND (a.name ILIKE ${n} OR a.message ILIKE ${n} OR EXISTS \
             (SELECT 1 FROM jsonb_each_text(a.labels) AS j WHERE j.value ILIKE ${n}))"
        ));
    }
    args.push(Box::new(row::limit(limit)));
    sql.push_str(&format!(" ORDER BY a.id DESC LIMIT ${}", args.len()));
    let params: Vec<Param<'_>> = args.iter().map(|a| &**a as Param<'_>).collect();
    collect(c, &sql, &params, row::alert).await
}

/// `%text%` with LIKE's wildcards and its escape character (`\`) escaped.
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
