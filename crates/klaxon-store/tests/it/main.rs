//! The store's integration tests, one binary: the conformance suite against SQLite
//! (`sqlite_conformance`) and PostgreSQL (`postgres_conformance`), and what only SQLite does
//! (`sqlite`); temporary database files in `harness`.

mod harness;

mod postgres_conformance;
mod sqlite;
mod sqlite_conformance;
