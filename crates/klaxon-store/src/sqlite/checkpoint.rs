//! The checkpointer: a thread with its own connection that copies the write-ahead log back into
//! the database file (`PRAGMA wal_checkpoint(PASSIVE)`) a few times a second. The writer's own
//! automatic checkpoint is off, so no commit ever pays for a checkpoint (and its fsync of the
//! database file): commit latency stays that of one fsync of the log. Writes nothing else.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the log is checkpointed.
const EVERY: Duration = Duration::from_millis(250);

/// A running checkpointer; stops (after one last checkpoint) when [`Checkpointer::stop`] is
/// called or it is dropped.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`, which `open_writer` has created.
    pub(crate) fn spawn(path: &Path) -> std::io::Result<Checkpointer> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(std::io::Error::other)?;
        conn.busy_timeout(Duration::from_millis(100))
            .map_err(std::io::Error::other)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("klaxon-store-checkpoint".to_owned())
            .spawn(move || run(&conn, &flag))?;
        Ok(Checkpointer {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and returns its handle to join.
    pub(crate) fn stop(&mut self) -> Option<JoinHandle<()>> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take()
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn run(conn: &Connection, stop: &AtomicBool) {
    let step = Duration::from_millis(10);
    loop {
        let mut waited = Duration::ZERO;
        while waited < EVERY && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(step);
            waited += step;
        }
        // PASSIVE never waits for readers or the writer: it copies what it can.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "sqlite: checkpoint failed; retrying");
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
    }
}
