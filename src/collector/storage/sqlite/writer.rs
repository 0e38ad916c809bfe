//! Database access from async code without blocking the runtime: all writes
//! go to one dedicated writer thread that commits whatever has queued up in
//! one transaction, and reads run on tokio's blocking pool with pooled
//! read-only connections.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::store;
use crate::collector::Error;
use crate::collector::storage::compact::Options;
use crate::collector::storage::error::StoreError;
use crate::collector::storage::report::{Outcome, Submission};

/// The most reports committed in one transaction. Larger batches amortise
/// the commit further but make the first report in a batch wait longer.
const MAX_BATCH: usize = 512;

/// Reports waiting for the writer before senders wait for room.
const QUEUE: usize = 4096;

enum Job {
    Insert(Box<Submission>, oneshot::Sender<rusqlite::Result<Outcome>>),
    Prune(i64, oneshot::Sender<rusqlite::Result<usize>>),
    PruneRaw(i64, oneshot::Sender<rusqlite::Result<usize>>),
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// SQLite refused it.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The writer has stopped (shutting down).
    #[error("the database writer has stopped")]
    Stopped,
}

/// A cloneable handle that queues writes for the writer thread.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Stores one report once its batch has committed.
    pub async fn insert(&self, s: Submission) -> Result<Outcome, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Job::Insert(Box::new(s), tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        Ok(rx.await.map_err(|_| WriteError::Stopped)??)
    }

    /// Deletes what is older than `cutoff_ms`; returns the reports deleted.
    pub async fn prune(&self, cutoff_ms: i64) -> Result<usize, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Job::Prune(cutoff_ms, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        Ok(rx.await.map_err(|_| WriteError::Stopped)??)
    }

    /// Deletes raw documents received before `cutoff_ms` (see
    /// [`store::prune_raw`]); returns how many.
    pub async fn prune_raw(&self, cutoff_ms: i64) -> Result<usize, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Job::PruneRaw(cutoff_ms, tx))
            .await
            .map_err(|_| WriteError::Stopped)?;
        Ok(rx.await.map_err(|_| WriteError::Stopped)??)
    }
}

/// The writer thread. It runs until every [`WriterHandle`] is dropped, then
/// commits what is queued, checkpoints the WAL and ends.
pub struct Writer {
    join: JoinHandle<()>,
    path: PathBuf,
}

impl Writer {
    /// Opens the database (creating and migrating it) and starts the thread
    /// with the default [`Options`].
    pub fn start(path: &Path) -> Result<(Writer, WriterHandle), Error> {
        Writer::start_with(path, Options::default())
    }

    /// As [`Writer::start`], storing as `opts` say.
    pub fn start_with(path: &Path, opts: Options) -> Result<(Writer, WriterHandle), Error> {
        let conn = store::open_writer(path).map_err(|source| Error::Db {
            path: path.to_owned(),
            source,
        })?;
        // Before listening: a collector that cannot store would answer 500
        // to every agent while looking healthy.
        store::check_writable(&conn).map_err(|source| Error::NotWritable {
            path: path.to_owned(),
            source,
        })?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let join = std::thread::Builder::new()
            .name("collector-db-writer".into())
            .spawn(move || run(conn, rx, opts))
            .map_err(Error::Spawn)?;
        Ok((
            Writer {
                join,
                path: path.to_owned(),
            },
            WriterHandle { tx },
        ))
    }

    /// Waits for the thread to drain its queue and end (drop every handle first).
    pub fn join(self) -> Result<(), Error> {
        self.join.join().map_err(|_| Error::WriterGone {
            db: self.path.display().to_string(),
        })
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, opts: Options) {
    let mut batch: Vec<Submission> = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        // Take what has queued up so far (without waiting) into one batch.
        while let Some(job) = next.take() {
            match job {
                Job::Insert(s, reply) => {
                    batch.push(*s);
                    replies.push(reply);
                }
                Job::PruneRaw(cutoff, reply) => {
                    flush(&mut conn, &mut batch, &mut replies, opts);
                    let _ = reply.send(store::prune_raw(&mut conn, cutoff));
                }
                Job::Prune(cutoff, reply) => {
                    flush(&mut conn, &mut batch, &mut replies, opts);
                    let r = store::prune(&mut conn, cutoff);
                    if let Ok(n) = &r
                        && *n > 0
                    {
                        tracing::info!(deleted = n, "pruned old reports");
                    }
                    let _ = reply.send(r);
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        flush(&mut conn, &mut batch, &mut replies, opts);
    }
    // Fold the WAL into the main file so a stopped collector leaves one file.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
}

fn flush(
    conn: &mut Connection,
    batch: &mut Vec<Submission>,
    replies: &mut Vec<oneshot::Sender<rusqlite::Result<Outcome>>>,
    opts: Options,
) {
    if batch.is_empty() {
        return;
    }
    let results = store::insert_batch_with(conn, batch, opts);
    tracing::debug!(n = batch.len(), "committed batch");
    for (reply, r) in replies.drain(..).zip(results) {
        if let Err(e) = &r {
            tracing::error!(error = %e, "storing a report failed");
        }
        // The requester may have gone (client hung up); the report is stored anyway.
        let _ = reply.send(r);
    }
    batch.clear();
}

/// Read-only connections, reused across requests.
pub struct Readers {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
}

impl Readers {
    /// A pool over the database at `path` (created by the writer).
    pub fn new(path: &Path) -> Arc<Readers> {
        Arc::new(Readers {
            path: path.to_owned(),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a read connection on the blocking pool.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> rusqlite::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = match this.pool.lock().map(|mut p| p.pop()) {
                Ok(Some(c)) => c,
                _ => store::open_reader(&this.path)?,
            };
            let r = f(&conn);
            if let Ok(mut p) = this.pool.lock()
                && p.len() < 8
            {
                p.push(conn);
            }
            r
        })
        .await
        .unwrap_or_else(|e| {
            Err(rusqlite::Error::ToSqlConversionFailure(Box::new(
                std::io::Error::other(e.to_string()),
            )))
        })
    }
}

impl From<WriteError> for StoreError {
    fn from(e: WriteError) -> StoreError {
        match e {
            WriteError::Db(e) => StoreError::Sqlite(e),
            WriteError::Stopped => StoreError::Stopped,
        }
    }
}
