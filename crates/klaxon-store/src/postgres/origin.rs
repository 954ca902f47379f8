//! What people's objects share in SQL: the `origin` column (`api` or `config`) and the rule
//! that objects declared in the configuration file refuse every change but a new declaration.
//! A leaf: users, teams and schedules all use it.

use tokio_postgres::Row;

use super::error::decoding;
use super::row::get;
use crate::{Origin, Result, StoreError};

pub(super) fn origin_at(r: &Row, i: usize) -> Result<Origin> {
    let s: &str = get(r, i)?;
    Origin::parse(s).ok_or_else(|| decoding("an origin", format!("{s:?}")))
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
