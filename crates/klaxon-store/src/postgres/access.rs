//! The SQL of tokens and dashboard sessions, reads and writes. Writes run inside the caller's
//! write transaction; nothing here begins or commits one.

use tokio_postgres::{GenericClient, Row, Transaction};

use super::error::decoding;
use super::row::{collect, exec, get, one, Param};
use crate::{
    NewSession, NewToken, Result, Role, SessionRecord, StoreError, TokenRecord, TokenState,
};

const TOKEN_COLUMNS: &str = "t.id, t.name, t.role, t.hash, t.created_at, t.created_by, \
     t.expires_at, t.revoked_at, t.last_used_at, t.user_name";

fn token_at(r: &Row, i: usize) -> Result<TokenRecord> {
    let role: &str = get(r, i + 2)?;
    Ok(TokenRecord {
        id: get(r, i)?,
        name: get(r, i + 1)?,
        role: Role::parse(role).ok_or_else(|| decoding("a role", format!("{role:?}")))?,
        hash: get(r, i + 3)?,
        created_at: get(r, i + 4)?,
        created_by: get(r, i + 5)?,
        expires_at: get(r, i + 6)?,
        revoked_at: get(r, i + 7)?,
        last_used_at: get(r, i + 8)?,
        user: get(r, i + 9)?,
    })
}

async fn token_where<C: GenericClient + Sync>(
    c: &C,
    filter: &str,
    arg: Param<'_>,
) -> Result<Option<TokenRecord>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens t WHERE {filter}");
    one(c, &sql, &[arg], |r| token_at(r, 0)).await
}

pub(crate) async fn find_token<C: GenericClient + Sync>(
    c: &C,
    hash: &str,
) -> Result<Option<TokenRecord>> {
    token_where(c, "t.hash = $1", &hash).await
}

pub(crate) async fn list_tokens<C: GenericClient + Sync>(c: &C) -> Result<Vec<TokenRecord>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens t ORDER BY t.id");
    collect(c, &sql, &[], |r| token_at(r, 0)).await
}

pub(crate) async fn create_token(tx: &Transaction<'_>, t: NewToken) -> Result<TokenRecord> {
    let row = tx
        .query_one(
            "INSERT INTO tokens (name, role, hash, created_at, created_by, expires_at, user_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &t.name,
                &t.role.as_str(),
                &t.hash,
                &t.created_at,
                &t.created_by,
                &t.expires_at,
                &t.user,
            ],
        )
        .await
        .map_err(|e| match super::error::map(e) {
            StoreError::AlreadyExists(m) if m.contains("tokens_hash_key") => {
                StoreError::AlreadyExists("a token with this hash".to_owned())
            }
            StoreError::AlreadyExists(_) => {
                StoreError::AlreadyExists(format!("token {:?}", t.name))
            }
            other => other,
        })?;
    Ok(TokenRecord {
        id: get(&row, 0)?,
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

pub(crate) async fn revoke_token(tx: &Transaction<'_>, id: i64, at: i64) -> Result<TokenRecord> {
    let Some(mut token) = token_where(tx, "t.id = $1", &id).await? else {
        return Err(StoreError::NotFound(format!("no token with id {id}")));
    };
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    if token.role == Role::Admin && token.state(at) == TokenState::Active {
        let r = tx
            .query_one(
                "SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $2) AND id <> $1",
                &[&id, &at],
            )
            .await
            .map_err(super::error::map)?;
        let others: i64 = get(&r, 0)?;
        if others == 0 {
            return Err(StoreError::Conflict(format!(
                "token {:?} is the last admin token in force; create another admin token first",
                token.name
            )));
        }
    }
    exec(
        tx,
        "UPDATE tokens SET revoked_at = $2 WHERE id = $1",
        &[&id, &at],
    )
    .await?;
    exec(tx, "DELETE FROM sessions WHERE token_id = $1", &[&id]).await?;
    token.revoked_at = Some(at);
    Ok(token)
}

pub(crate) async fn record_token_use(tx: &Transaction<'_>, id: i64, at: i64) -> Result<()> {
    exec(
        tx,
        "UPDATE tokens SET last_used_at = $2 \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        &[&id, &at],
    )
    .await
    .map(drop)
}

pub(crate) async fn open_session(
    tx: &Transaction<'_>,
    s: &NewSession,
    per_token: usize,
) -> Result<u64> {
    let keep_before = i64::try_from(per_token.saturating_sub(1)).unwrap_or(i64::MAX);
    let ended = exec(
        tx,
        "DELETE FROM sessions WHERE token_id = $1 AND (expires_at <= $2 \
         OR key IN (SELECT key FROM sessions WHERE token_id = $1 AND expires_at > $2 \
         ORDER BY created_at DESC, key DESC OFFSET $3))",
        &[&s.token_id, &s.created_at, &keep_before],
    )
    .await?;
    let inserted = exec(
        tx,
        "INSERT INTO sessions (key, token_id, csrf, created_at, expires_at) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
         (SELECT 1 FROM tokens WHERE id = $2 AND revoked_at IS NULL)",
        &[&s.key, &s.token_id, &s.csrf, &s.created_at, &s.expires_at],
    )
    .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "token {} is revoked or does not exist",
            s.token_id
        )));
    }
    Ok(ended)
}

pub(crate) async fn find_session<C: GenericClient + Sync>(
    c: &C,
    key: &str,
) -> Result<Option<SessionRecord>> {
    let sql = format!(
        "SELECT s.key, s.csrf, s.created_at, s.expires_at, {TOKEN_COLUMNS} \
         FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.key = $1"
    );
    one(c, &sql, &[&key], |r| {
        Ok(SessionRecord {
            key: get(r, 0)?,
            csrf: get(r, 1)?,
            created_at: get(r, 2)?,
            expires_at: get(r, 3)?,
            token: token_at(r, 4)?,
        })
    })
    .await
}

pub(crate) async fn close_session(tx: &Transaction<'_>, key: &str) -> Result<bool> {
    Ok(exec(tx, "DELETE FROM sessions WHERE key = $1", &[&key]).await? > 0)
}

pub(crate) async fn delete_expired_sessions(tx: &Transaction<'_>, now: i64) -> Result<u64> {
    exec(tx, "DELETE FROM sessions WHERE expires_at <= $1", &[&now]).await
}
