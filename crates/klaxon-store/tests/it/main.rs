//! The store's integration tests, one binary: the conformance suite against SQLite
//! (`sqlite_conformance`) and PostgreSQL (`postgres_conformance`), what only SQLite does
//! (`sqlite`) and what only PostgreSQL does (`postgres`: nodes sharing a database; `cluster`:
//! their leader election and fencing); temporary
//! database files in `harness`.

mod harness;

mod cluster;
mod postgres;
mod postgres_conformance;
mod sqlite;
mod sqlite_conformance;
