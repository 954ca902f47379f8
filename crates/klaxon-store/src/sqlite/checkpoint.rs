//! The checkpointer: a thread with its own connection that copies the write-ahead log back into
//! the database file (`PRAGMA wal_checkpoint(PASSIVE)`) a few times a second. The writer's own
//! automatic checkpoint is off, so no commit ever pays for a checkpoint (and its fsync of the
//! database file): commit latency stays that of one fsync of the log. Writes nothing else.
//!
//! A passive checkpoint never restarts the log while some reader still reads from it, and under
//! steady load there is always one (SQLite's "checkpoint starvation"): the log then grows
//! without bound (1.8 GB in the 10-minute receiver outage). So when the log is longer than
//! [`LONG_LOG_FRAMES`], the checkpointer asks for a TRUNCATE checkpoint: it holds writers back
//! while the readers of old snapshots finish (new readers read the database file, which is
//! complete by then), for at most the connection's busy timeout, and cuts the log to nothing.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the log is checkpointed.
const EVERY: Duration = Duration::from_millis(250);

/// A log of more frames than this (of 4 KiB pages: 64 MiB) is cut back with TRUNCATE.
const LONG_LOG_FRAMES: i64 = 16_384;

/// A running checkpointer; stops (after one last checkpoint) when [`Checkpointer::stop`] is
/// called or it is dropped.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`, which `open_writer` has created.
    pub(crate) fn spawn(path: &Path) -> std::io::Result<Checkpointer> {
        Self::spawn_with(path, LONG_LOG_FRAMES)
    }

    /// [`Checkpointer::spawn`] with the log length that calls for a TRUNCATE.
    pub(crate) fn spawn_with(path: &Path, long_log: i64) -> std::io::Result<Checkpointer> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(std::io::Error::other)?;
        conn.busy_timeout(Duration::from_millis(100))
            .map_err(std::io::Error::other)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("klaxon-store-checkpoint".to_owned())
            .spawn(move || run(&conn, &flag, long_log))?;
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

fn run(conn: &Connection, stop: &AtomicBool, long_log: i64) {
    let step = Duration::from_millis(10);
    loop {
        let mut waited = Duration::ZERO;
        while waited < EVERY && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(step);
            waited += step;
        }
        // PASSIVE never waits for readers or the writer: it copies what it can. Its answer is
        // (busy, frames in the log, frames copied).
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(frames) if frames > long_log => {
                // Busy (readers did not finish in time) is an answer, not an error: next time.
                // Writers wait while it runs (tens of milliseconds for a 64 MiB log on a busy
                // machine): logged, so a latency spike can be matched with it.
                let t0 = std::time::Instant::now();
                match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                    Ok(()) => tracing::info!(
                        frames,
                        ms = t0.elapsed().as_millis() as u64,
                        "sqlite: long log cut back (writers waited meanwhile)"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, frames, "sqlite: truncating checkpoint failed");
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sqlite: checkpoint failed; retrying"),
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    /// Writes `mb` MiB in 1 MiB transactions while two readers overlap so that one always
    /// holds a snapshot; returns the largest log file seen.
    fn largest_log(long_log: i64, mb: usize) -> u64 {
        let dir =
            std::env::temp_dir().join(format!("klaxon-ckpt-{}-{long_log}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let w = Connection::open(&path).unwrap();
        w.busy_timeout(Duration::from_secs(5)).unwrap();
        w.pragma_update(None, "journal_mode", "WAL").unwrap();
        w.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        w.pragma_update(None, "journal_size_limit", 1024 * 1024)
            .unwrap();
        w.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let mut ckpt = Checkpointer::spawn_with(&path, long_log).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|i| {
                let (path, done) = (path.clone(), Arc::clone(&done));
                std::thread::spawn(move || {
                    let r = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                        .unwrap();
                    std::thread::sleep(Duration::from_millis(5 * i));
                    while !done.load(Ordering::SeqCst) {
                        r.execute_batch("BEGIN").unwrap();
                        let _: i64 = r
                            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                            .unwrap();
                        std::thread::sleep(Duration::from_millis(10));
                        r.execute_batch("COMMIT").unwrap();
                    }
                })
            })
            .collect();
        let wal = dir.join("db.sqlite-wal");
        let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        let (mut largest, blob) = (0, vec![7u8; 64 * 1024]);
        for _ in 0..mb {
            w.execute_batch("BEGIN").unwrap();
            for _ in 0..16 {
                w.execute("INSERT INTO t (x) VALUES (?1)", [&blob]).unwrap();
            }
            w.execute_batch("COMMIT").unwrap();
            largest = largest.max(size());
            // About 50 MiB/s: several checkpoints' worth of writing in all. A log past 8 MiB
            // waits (up to 5 s) for the checkpointer to cut it, so that a busy machine that
            // runs the checkpointer late does not count against it; one that never cuts it
            // ends the writing there.
            std::thread::sleep(Duration::from_millis(20));
            let t0 = std::time::Instant::now();
            while size() > 8 * 1024 * 1024 && t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if size() > 8 * 1024 * 1024 {
                // Never cut: report the log as it would have grown.
                largest = u64::MAX;
                break;
            }
        }
        done.store(true, Ordering::SeqCst);
        for r in readers {
            r.join().unwrap();
        }
        if let Some(h) = ckpt.stop() {
            h.join().unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
        largest
    }

    #[test]
    fn the_log_stays_bounded_while_readers_always_hold_a_snapshot() {
        // 1 MiB of frames calls for a TRUNCATE; 48 MiB are written.
        let largest = largest_log(256, 48);
        assert!(
            largest < 16 * 1024 * 1024,
            "the log reached {} MiB (u64::MAX: it was not cut within 5 s)",
            largest / 1024 / 1024
        );
    }
}
