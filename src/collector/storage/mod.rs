//! Storage, one room: the cloneable [`Storage`] handle the other rooms
//! hold, over either backend (SQLite, the embedded default, or
//! PostgreSQL); the types it speaks, the same for both; and the backends
//! beneath it, each importing only those types. Handlers never learn which
//! backend is beneath.
//!
//! - [`report`]: what is written ([`report::Submission`]) and how a host's reports are listed
//! - [`host`]: one host as storage answers for it: its view, GC history, drift events
//! - [`fleet`]: the fleet query (filters, sort, keyset pages), counts and weeks per
//!   cluster, and the SQL both SQL backends run
//! - [`error`]: why a storage call did not answer
//! - [`health`]: the figures derived from a report when it is stored
//! - [`drift`]: the drift events two reports of a host make
//! - [`machines`]: two machines under one host name: whose report is compared with whose
//! - [`compact`]: the compact form reports are stored in
//! - [`sqlite`], [`postgres`]: the backends (schema, migrations, queries)

use std::path::PathBuf;
use std::sync::Arc;

pub mod compact;
pub mod drift;
pub mod error;
pub mod fleet;
pub mod health;
pub mod host;
pub mod machines;
pub mod postgres;
pub mod report;
pub mod sqlite;

use crate::collector::Error;
use compact::Options;
use error::StoreError;
use fleet::{ClusterCounts, FleetPage, FleetQuery, HostWeekRow};
use host::{HostData, HostView};
use postgres::{Pg, PgTarget};
use report::{Cursor, Outcome, ReportPage, Submission};
use sqlite::store;
use sqlite::writer::{Readers, Writer, WriterHandle};

/// Where the collector keeps its data.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgTarget>),
}

impl std::fmt::Display for Database {
    /// The database as messages name it (a PostgreSQL password masked).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{}", p.display()),
            Database::Postgres(t) => f.write_str(&t.shown),
        }
    }
}

/// The storage handle every handler holds; cheap to clone.
#[derive(Clone)]
pub enum Storage {
    /// SQLite: one writer thread, pooled read-only connections.
    Sqlite {
        /// Queues writes.
        writer: WriterHandle,
        /// Runs reads.
        readers: Arc<Readers>,
    },
    /// PostgreSQL: pooled connections, batched writers.
    Postgres(Arc<Pg>),
}

/// What must outlive every [`Storage`] handle to finish cleanly: the
/// writer that commits what is queued once the handles are gone.
pub enum Closer {
    /// SQLite's writer thread.
    Sqlite(Writer),
    /// PostgreSQL's writer tasks.
    Postgres(postgres::Writers),
}

impl Closer {
    /// Waits for the writers to commit what is queued and stop (drop every
    /// [`Storage`] handle first).
    pub async fn close(self) -> Result<(), Error> {
        match self {
            Closer::Sqlite(w) => tokio::task::spawn_blocking(move || w.join())
                .await
                .map_err(|_| Error::WriterGone {
                    db: "the SQLite writer".into(),
                })?,
            Closer::Postgres(w) => {
                w.join().await;
                Ok(())
            }
        }
    }
}

/// Opens (creating and migrating) the database and starts its writer,
/// with the default [`Options`].
pub async fn open(db: &Database) -> Result<(Storage, Closer), Error> {
    open_with(db, Options::default()).await
}

/// As [`open`], storing as `opts` say.
pub async fn open_with(db: &Database, opts: Options) -> Result<(Storage, Closer), Error> {
    match db {
        Database::Sqlite(path) => {
            let (writer, handle) = Writer::start_with(path, opts)?;
            Ok((
                Storage::Sqlite {
                    writer: handle,
                    readers: Readers::new(path),
                },
                Closer::Sqlite(writer),
            ))
        }
        Database::Postgres(target) => {
            let (pg, writers) = Pg::open_with(target, opts).await?;
            Ok((Storage::Postgres(pg), Closer::Postgres(writers)))
        }
    }
}

impl Storage {
    /// Stores one report; an answer means committed.
    pub async fn insert(&self, s: Submission) -> Result<Outcome, StoreError> {
        match self {
            Storage::Sqlite { writer, .. } => Ok(writer.insert(s).await?),
            Storage::Postgres(pg) => pg.insert(s).await,
        }
    }

    /// Deletes what was received before `cutoff_ms`; returns the reports deleted.
    pub async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        match self {
            Storage::Sqlite { writer, .. } => Ok(writer.prune(cutoff_ms).await?),
            Storage::Postgres(pg) => pg.prune(cutoff_ms).await,
        }
    }

    /// Deletes documents kept only as raw ones received before `cutoff_ms`
    /// (never a host's latest, never one where the findings changed).
    pub async fn prune_raw(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        match self {
            Storage::Sqlite { writer, .. } => Ok(writer.prune_raw(cutoff_ms).await?),
            Storage::Postgres(pg) => pg.prune_raw(cutoff_ms).await,
        }
    }

    /// Every host, by host name.
    pub async fn hosts(&self, now_ms: i64) -> Result<Vec<HostView>, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => {
                Ok(readers.run(move |c| store::hosts(c, now_ms)).await?)
            }
            Storage::Postgres(pg) => pg.hosts(now_ms).await,
        }
    }

    /// One page of the fleet: the hosts `q` asks for, the whole fleet's
    /// counts of each state, and cursors to the pages around it.
    pub async fn fleet_page(
        &self,
        now_ms: i64,
        q: FleetQuery,
    ) -> Result<FleetPage<HostView>, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => Ok(readers
                .run(move |c| store::fleet_page(c, now_ms, &q))
                .await?),
            Storage::Postgres(pg) => pg.fleet_page(now_ms, &q).await,
        }
    }

    /// What the host page shows of `hostname`, with figures since `since_ms`.
    pub async fn host_data(
        &self,
        hostname: &str,
        now_ms: i64,
        since_ms: i64,
    ) -> Result<HostData, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => {
                let name = hostname.to_owned();
                Ok(readers
                    .run(move |c| {
                        let view = store::host_view(c, now_ms, &name)?;
                        Ok(HostData {
                            view,
                            latest: store::latest_body(c, &name)?,
                            series: store::series(c, &name, since_ms)?,
                            events: store::drift_events(c, &name)?,
                        })
                    })
                    .await?)
            }
            Storage::Postgres(pg) => pg.host_data(hostname, now_ms, since_ms).await,
        }
    }

    /// A page of a host's reports, newest first (see [`store::report_page`]).
    pub async fn report_page(
        &self,
        hostname: &str,
        limit: u32,
        after: Option<Cursor>,
        budget: usize,
    ) -> Result<ReportPage, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => {
                let host = hostname.to_owned();
                Ok(readers
                    .run(move |c| store::report_page(c, &host, limit, after.as_ref(), budget))
                    .await?)
            }
            Storage::Postgres(pg) => pg.report_page(hostname, limit, after, budget).await,
        }
    }

    /// Each cluster's counts of hosts in each state (one GROUP BY).
    pub async fn cluster_counts(&self, now_ms: i64) -> Result<Vec<ClusterCounts>, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => Ok(readers
                .run(move |c| store::cluster_counts(c, now_ms))
                .await?),
            Storage::Postgres(pg) => pg.cluster_counts(now_ms).await,
        }
    }

    /// Each host's sums of this week and last week, with its cluster:
    /// reads every sample of two weeks, so only the trend's background
    /// refresh calls it (the host pages and the clusters read its result).
    pub async fn host_weeks(&self, now_ms: i64) -> Result<Vec<HostWeekRow>, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => {
                Ok(readers.run(move |c| store::host_weeks(c, now_ms)).await?)
            }
            Storage::Postgres(pg) => pg.host_weeks(now_ms).await,
        }
    }

    /// The latest document of each host in `cluster` (`None`: the hosts
    /// without one), as (host name, document), by host name.
    pub async fn cluster_latest(
        &self,
        cluster: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => {
                let cluster = cluster.map(str::to_owned);
                Ok(readers
                    .run(move |c| store::cluster_latest(c, cluster.as_deref()))
                    .await?)
            }
            Storage::Postgres(pg) => pg.cluster_latest(cluster).await,
        }
    }

    /// One stored document by id (`None` if pruned meanwhile).
    pub async fn report_body(&self, id: &str) -> Result<Option<String>, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => {
                let id = id.to_owned();
                Ok(readers.run(move |c| store::report_body(c, &id)).await?)
            }
            Storage::Postgres(pg) => pg.report_body(id).await,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Storage::Sqlite { .. } => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }

    /// The database's size in bytes: SQLite's file plus its write-ahead
    /// log; PostgreSQL's `pg_database_size`.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        match self {
            Storage::Sqlite { readers, .. } => {
                let path = readers.path().to_owned();
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                let main = std::fs::metadata(&path)
                    .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
                // No WAL file (checkpointed and removed) is zero bytes of it.
                let wal = std::fs::metadata(wal).map_or(0, |m| m.len());
                Ok(main.len() + wal)
            }
            Storage::Postgres(pg) => pg.size_bytes().await,
        }
    }

    /// Who sends alerts: on SQLite this collector alone (one per file);
    /// on PostgreSQL whichever instance holds the alert lock.
    pub fn alert_leader(&self) -> Leader {
        match self {
            Storage::Sqlite { .. } => Leader::Alone,
            Storage::Postgres(pg) => {
                Leader::Postgres(Box::new(postgres::Leader::new(Arc::clone(pg))))
            }
        }
    }
}

/// Whether this instance sends the webhook's alerts.
pub enum Leader {
    /// The only collector on its database.
    Alone,
    /// One of possibly several on one PostgreSQL database.
    Postgres(Box<postgres::Leader>),
}

impl Leader {
    /// True while this instance leads (taking the lead if it is free).
    pub async fn check(&mut self) -> bool {
        match self {
            Leader::Alone => true,
            Leader::Postgres(l) => l.check().await,
        }
    }
}
