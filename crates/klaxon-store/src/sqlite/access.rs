//! The SQL of tokens and dashboard sessions: reads (on reader connections) and writes (on the
//! writer, inside its savepoints). Opening a session touches only the rows of its own token
//! (index `sessions_by_token`), so its cost does not grow with the sessions of other tokens;
//! `explain_open_session` shows SQLite's plan of it. Must not begin or commit anything.

use std::fmt::Write as _;

use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::map;
use crate::{
    NewSession, NewToken, Result, Role, SessionRecord, StoreError, TokenRecord, TokenState,
};

/// Columns of `tokens` (as `t`) in the order [`token_at`] reads them.
const TOKEN_COLUMNS: &str = "t.id, t.name, t.role, t.hash, t.created_at, t.created_by, \
     t.expires_at, t.revoked_at, t.last_used_at, t.user_name";

/// Ends the token's expired sessions and all but its newest `?3`.
const END_OLD_SESSIONS: &str = "DELETE FROM sessions WHERE token_id = ?1 AND (expires_at <= ?2 \
     OR key IN (SELECT key FROM sessions WHERE token_id = ?1 AND expires_at > ?2 \
     ORDER BY created_at DESC, key DESC LIMIT -1 OFFSET ?3))";

/// Stores a session of a token that is not revoked.
const INSERT_SESSION: &str = "INSERT INTO sessions (key, token_id, csrf, created_at, expires_at) \
     SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS \
     (SELECT 1 FROM tokens WHERE id = ?2 AND revoked_at IS NULL)";

/// Reads a token from the row's columns `i..i + 10`.
fn token_at(row: &Row<'_>, i: usize) -> rusqlite::Result<TokenRecord> {
    let role: String = row.get(i + 2)?;
    Ok(TokenRecord {
        id: row.get(i)?,
        name: row.get(i + 1)?,
        role: Role::parse(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                i + 2,
                Type::Text,
                format!("unknown role {role:?}").into(),
            )
        })?,
        hash: row.get(i + 3)?,
        created_at: row.get(i + 4)?,
        created_by: row.get(i + 5)?,
        expires_at: row.get(i + 6)?,
        revoked_at: row.get(i + 7)?,
        last_used_at: row.get(i + 8)?,
        user: row.get(i + 9)?,
    })
}

fn token_where(
    conn: &Connection,
    filter: &str,
    arg: &dyn rusqlite::ToSql,
) -> Result<Option<TokenRecord>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens t WHERE {filter}");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row([arg], |r| token_at(r, 0)).optional())
        .map_err(map)
}

pub(crate) fn find_token(conn: &Connection, hash: &str) -> Result<Option<TokenRecord>> {
    token_where(conn, "t.hash = ?1", &hash)
}

pub(crate) fn list_tokens(conn: &Connection) -> Result<Vec<TokenRecord>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens t ORDER BY t.id");
    let mut st = conn.prepare_cached(&sql).map_err(map)?;
    let rows = st.query_map([], |r| token_at(r, 0)).map_err(map)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map)
}

pub(crate) fn create_token(conn: &Connection, t: NewToken) -> Result<TokenRecord> {
    conn.prepare_cached(
        "INSERT INTO tokens (name, role, hash, created_at, created_by, expires_at, user_name) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            t.name,
            t.role.as_str(),
            t.hash,
            t.created_at,
            t.created_by,
            t.expires_at,
            t.user
        ])
    })
    .map_err(|e| match map(e) {
        StoreError::AlreadyExists(m) if m.contains("tokens.hash") => {
            StoreError::AlreadyExists("a token with this hash".to_owned())
        }
        StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("token {:?}", t.name)),
        other => other,
    })?;
    Ok(TokenRecord {
        id: conn.last_insert_rowid(),
        name: t.name,
        role: t.role,
        hash: t.hash,
        created_at: t.created_at,
        created_by: t.created_by,
        expires_at: t.expires_at,
        revoked_at: None,
        last_used_at: None,
        user: t.user,
    })
}

pub(crate) fn revoke_token(conn: &Connection, id: i64, at: i64) -> Result<TokenRecord> {
    let Some(mut token) = token_where(conn, "t.id = ?1", &id)? else {
        return Err(StoreError::NotFound(format!("no token with id {id}")));
    };
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    if token.role == Role::Admin && token.state(at) == TokenState::Active {
        let others: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > ?2) AND id != ?1",
            )
            .and_then(|mut st| st.query_row(params![id, at], |r| r.get(0)))
            .map_err(map)?;
        if others == 0 {
            return Err(StoreError::Conflict(format!(
                "token {:?} is the last admin token in force; create another admin token first",
                token.name
            )));
        }
    }
    conn.prepare_cached("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1")
        .and_then(|mut st| st.execute(params![id, at]))
        .map_err(map)?;
    conn.prepare_cached("DELETE FROM sessions WHERE token_id = ?1")
        .and_then(|mut st| st.execute([id]))
        .map_err(map)?;
    token.revoked_at = Some(at);
    Ok(token)
}

pub(crate) fn record_token_use(conn: &Connection, id: i64, at: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tokens SET last_used_at = ?2 \
         WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
    )
    .and_then(|mut st| st.execute(params![id, at]))
    .map(drop)
    .map_err(map)
}

pub(crate) fn open_session(conn: &Connection, s: &NewSession, per_token: usize) -> Result<u64> {
    let keep_before = i64::try_from(per_token.saturating_sub(1)).unwrap_or(i64::MAX);
    let ended = conn
        .prepare_cached(END_OLD_SESSIONS)
        .and_then(|mut st| st.execute(params![s.token_id, s.created_at, keep_before]))
        .map_err(map)?;
    let inserted = conn
        .prepare_cached(INSERT_SESSION)
        .and_then(|mut st| {
            st.execute(params![
                s.key,
                s.token_id,
                s.csrf,
                s.created_at,
                s.expires_at
            ])
        })
        .map_err(map)?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "token {} is revoked or does not exist",
            s.token_id
        )));
    }
    Ok(ended as u64)
}

pub(crate) fn find_session(conn: &Connection, key: &str) -> Result<Option<SessionRecord>> {
    let sql = format!(
        "SELECT s.key, s.csrf, s.created_at, s.expires_at, {TOKEN_COLUMNS} \
         FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.key = ?1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_row([key], |r| {
                Ok(SessionRecord {
                    key: r.get(0)?,
                    csrf: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    token: token_at(r, 4)?,
                })
            })
            .optional()
        })
        .map_err(map)
}

pub(crate) fn close_session(conn: &Connection, key: &str) -> Result<bool> {
    conn.prepare_cached("DELETE FROM sessions WHERE key = ?1")
        .and_then(|mut st| st.execute([key]))
        .map(|n| n > 0)
        .map_err(map)
}

pub(crate) fn delete_expired_sessions(conn: &Connection, now: i64) -> Result<u64> {
    conn.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")
        .and_then(|mut st| st.execute([now]))
        .map(|n| n as u64)
        .map_err(map)
}

/// SQLite's plan of the statements that open a session, one line each.
pub(crate) fn explain_open_session(conn: &Connection) -> Result<String> {
    let mut out = String::new();
    for (what, sql, args) in [
        ("end old sessions", END_OLD_SESSIONS, params![1, 0, 19]),
        ("insert", INSERT_SESSION, params!["k", 1, "c", 0, 1]),
    ] {
        let _ = write!(out, "{what}:");
        let mut st = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .map_err(map)?;
        let lines = st
            .query_map(args, |r| r.get::<_, String>(3))
            .map_err(map)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(map)?;
        for line in lines {
            let _ = write!(out, "\n  {line}");
        }
        out.push('\n');
    }
    Ok(out)
}
