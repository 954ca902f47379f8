//! What people's objects share in SQL: the `origin` column (`api` or `config`) and the rule
//! that objects declared in the configuration file refuse every change but a new declaration.
//! A leaf: users, teams and schedules all use it.

use rusqlite::types::Type;
use rusqlite::Row;

use crate::{Origin, Result, StoreError};

pub(super) fn bad_column(i: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, Type::Text, what.into())
}

pub(super) fn origin_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Origin> {
    let s: String = row.get(i)?;
    Origin::parse(&s).ok_or_else(|| bad_column(i, format!("unknown origin {s:?}")))
}

/// NotFound for none, Conflict for an object declared in the configuration file.
pub(super) fn editable(kind: &str, origin: Option<Origin>, name: &str) -> Result<()> {
    match origin {
        None => Err(StoreError::NotFound(format!("no {kind} named {name:?}"))),
        Some(Origin::Config) => Err(StoreError::Conflict(format!(
            "{kind} {name:?} is declared in the configuration file; change it there"
        ))),
        Some(Origin::Api) => Ok(()),
    }
}
