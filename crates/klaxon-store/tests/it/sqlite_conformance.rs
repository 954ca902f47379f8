//! The store conformance suite against SQLite, a fresh database file per test.

use klaxon_store::sqlite::SqliteStore;

use crate::harness;

async fn make() -> SqliteStore {
    SqliteStore::open(&harness::temp_db("conformance")).expect("open a fresh sqlite store")
}

klaxon_store::store_conformance_tests!(make, teardown = harness::close_and_remove);
