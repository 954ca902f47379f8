//! Temporary database files for the SQLite tests (no tempfile crate): a unique name under the
//! system temp directory, removed with its WAL and shared-memory files.
#![allow(dead_code)] // the test binary and the benches each use part of it

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use klaxon_store::sqlite::SqliteStore;

/// A fresh, unique database path (the file does not exist yet).
pub(crate) fn temp_db(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = std::env::temp_dir().join(format!(
        "klaxon-store-{tag}-{}-{n}-{nanos}.db",
        std::process::id()
    ));
    remove_db(&path);
    path
}

/// Removes a database file, the telemetry database beside it, and their `-wal` and `-shm`
/// companions, if present.
pub(crate) fn remove_db(path: &Path) {
    for file in [path.to_owned(), SqliteStore::telemetry_path(path)] {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = file.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

/// Closes the store (committing everything queued) and deletes its files.
pub(crate) async fn close_and_remove(store: SqliteStore) {
    let path = store.path().to_owned();
    store.close().await.expect("close the store");
    drop(store);
    remove_db(&path);
}
