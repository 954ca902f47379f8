//! The store conformance suite against SQLite, a fresh database file per test.

mod common;

use klaxon_store::sqlite::SqliteStore;

async fn make() -> SqliteStore {
    SqliteStore::open(&common::temp_db("conformance")).expect("open a fresh sqlite store")
}

klaxon_store::store_conformance_tests!(make, teardown = common::close_and_remove);
