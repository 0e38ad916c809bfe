//! PostgreSQL storage, for several collectors sharing one database.
//!
//! - Writes: a few writer tasks each take whatever reports have queued up
//!   and commit them in one transaction (PostgreSQL's commit is durable:
//!   `synchronous_commit` as the server has it). A batch first takes the
//!   advisory locks of its hosts, in key order, so instances never
//!   interleave on one host's row and never deadlock on each other.
//! - Duplicates across instances: the report id is the primary key.
//! - Migrations and pruning: under advisory locks, so they run once at a
//!   time whatever the number of instances.
//! - A connection problem is [`StoreError::Unavailable`] (503): agents keep
//!   their spool, and the pool reconnects by itself when the server is back.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::error::SqlState;

pub mod tls;

use crate::collector::Error;
use crate::collector::limits::MAX_CONFLICT_MACHINES;
use crate::collector::storage::compact::{self, Options};
use crate::collector::storage::drift::{self, Change};
use crate::collector::storage::error::StoreError;
use crate::collector::storage::fleet::{
    self, ClusterCounts, Dialect, FleetCounts, FleetCursor, FleetPage, FleetQuery, HostWeekRow,
    SortValue, WeekSums,
};
use crate::collector::storage::health::DriftKey;
use crate::collector::storage::host::{DriftEvent, HostData, HostRow, HostView, Point};
use crate::collector::storage::machines;
use crate::collector::storage::report::{Cursor, Outcome, PageBuilder, ReportPage, Submission};

/// The schema version this collector writes; a larger one is refused.
/// Version 1 kept every body in `reports`; version 2 keeps them compact;
/// version 3 keeps each machine under a host name apart.
pub const SCHEMA_VERSION: i32 = 3;
/// Advisory lock keys ("tunekee" + a number): migrations, pruning.
const MIGRATE_LOCK: i64 = 0x7475_6e65_6b65_6501;
const PRUNE_LOCK: i64 = 0x7475_6e65_6b65_6502;
/// Held (session-level) by the one collector that sends the webhook's alerts.
const ALERT_LOCK: i64 = 0x7475_6e65_6b65_6503;
/// Writer tasks, each with its own connection.
const WRITERS: usize = 4;
/// Connections in the pool: writers plus readers.
const POOL_SIZE: usize = 16;
/// Most reports in one transaction.
const MAX_BATCH: usize = 256;
/// Reports waiting for a writer before senders wait for room.
const QUEUE: usize = 4096;
/// Bound on connecting, waiting for a connection, and on one batch or read:
/// past it the database counts as unavailable (503), never a hung request.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Version 1 of the schema: the same tables as SQLite's. Host names and ids
/// compare bytewise (`COLLATE "C"`), as in SQLite, so listings and cursors
/// order the same on both backends.
const SCHEMA_V1: &str = r#"
CREATE TABLE reports (
    id               TEXT COLLATE "C" PRIMARY KEY,
    hostname         TEXT COLLATE "C" NOT NULL,
    time             BIGINT NOT NULL,
    received_at      BIGINT NOT NULL,
    drift            BIGINT NOT NULL,
    gc_ms_per_second DOUBLE PRECISION,
    pause_p99_ms     DOUBLE PRECISION,
    full_gcs         BIGINT NOT NULL,
    body             TEXT NOT NULL
);
CREATE INDEX reports_host_time ON reports (hostname, time);
CREATE INDEX reports_host_received ON reports (hostname, received_at);
CREATE INDEX reports_received ON reports (received_at);
CREATE INDEX reports_full_gcs_received ON reports (received_at) WHERE full_gcs > 0;
CREATE TABLE hosts (
    hostname         TEXT COLLATE "C" PRIMARY KEY,
    last_id          TEXT NOT NULL,
    last_time        BIGINT NOT NULL,
    last_time_text   TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    profile          TEXT NOT NULL,
    findings         BIGINT NOT NULL,
    drift            BIGINT NOT NULL,
    gc_drift         BIGINT NOT NULL,
    jvms             BIGINT NOT NULL,
    has_gc           BOOLEAN NOT NULL,
    gc_ms_per_second DOUBLE PRECISION,
    pause_p99_ms     DOUBLE PRECISION,
    drifting         TEXT NOT NULL,
    seen_at          BIGINT NOT NULL,
    skew_ms          BIGINT NOT NULL
);
CREATE TABLE drift_events (
    seq         BIGSERIAL PRIMARY KEY,
    hostname    TEXT COLLATE "C" NOT NULL,
    time        BIGINT NOT NULL,
    check_name  TEXT NOT NULL,
    key         TEXT NOT NULL,
    state       TEXT NOT NULL,
    expected    TEXT NOT NULL,
    actual      TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX drift_events_host_time ON drift_events (hostname, time);
CREATE INDEX drift_events_received ON drift_events (received_at);
"#;

/// Version 2: reports kept compact (see [`super::compact`]): a row of
/// figures per report keyed by its id (16 bytes for a UUID), host names as
/// small integers, whole documents (deflated) only for each host's latest,
/// each change of findings and, under `--keep-raw-days`, every report.
/// Column order puts 8-byte columns first: no padding between them. Full
/// GCs and drift are NULL for none (most reports): a NULL takes no room in
/// the row, a zero eight bytes.
const SCHEMA_V2: &str = r#"
CREATE TABLE host_ids (
    id       INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hostname TEXT COLLATE "C" NOT NULL UNIQUE
);
CREATE TABLE samples (
    received_at      BIGINT NOT NULL,
    skew_ms          BIGINT NOT NULL,
    gc_ms_per_second DOUBLE PRECISION,
    pause_p99_ms     DOUBLE PRECISION,
    full_gcs         BIGINT CHECK (full_gcs > 0),
    drift            BIGINT CHECK (drift > 0),
    host             INTEGER NOT NULL,
    id               BYTEA PRIMARY KEY
);
CREATE INDEX samples_host_received ON samples (host, received_at);
CREATE INDEX samples_full_gcs_received ON samples (received_at) WHERE full_gcs > 0;
CREATE TABLE docs (
    time        BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    host        INTEGER NOT NULL,
    is_change   BOOLEAN NOT NULL,
    id          TEXT COLLATE "C" PRIMARY KEY,
    body        BYTEA NOT NULL
);
-- A deflated document (a few KB) stays in its row: no TOAST chunks and
-- TOAST index per document.
ALTER TABLE docs ALTER COLUMN body SET STORAGE MAIN;
CREATE INDEX docs_host_time ON docs (host, time, id);
-- Pruning raw documents (--keep-raw-days) goes by receipt.
CREATE INDEX docs_raw_received ON docs (received_at) WHERE NOT is_change;
"#;

/// Version 3: each machine that reported under a host name, with its
/// latest report's effective time and drifting keys (its next report is
/// compared with them, see [`super::machines`]); the machine of the report
/// a host shows, the last turn of two machines and their ids; the machine
/// of each drift event.
const SCHEMA_V3: &str = r#"
CREATE TABLE IF NOT EXISTS machines (
    last_time BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    hostname  TEXT COLLATE "C" NOT NULL,
    machine   TEXT COLLATE "C" NOT NULL,
    drifting  TEXT NOT NULL,
    PRIMARY KEY (hostname, machine)
);
ALTER TABLE hosts ADD COLUMN IF NOT EXISTS machine_id TEXT COLLATE "C";
ALTER TABLE hosts ADD COLUMN IF NOT EXISTS conflict_at BIGINT;
ALTER TABLE hosts ADD COLUMN IF NOT EXISTS conflict_machines TEXT;
ALTER TABLE drift_events ADD COLUMN IF NOT EXISTS machine_id TEXT;
"#;

/// A PostgreSQL database to connect to: the parsed URL with the password
/// set, and the URL as messages show it (password masked).
#[derive(Clone)]
pub struct PgTarget {
    /// Connection settings, password included.
    pub config: tokio_postgres::Config,
    /// The URL for messages, without any password.
    pub shown: String,
    /// TLS as the URL's `sslmode` and `sslrootcert` ask.
    pub tls: tls::MakeRustls,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the config: it holds the password.
        write!(f, "PgTarget({})", self.shown)
    }
}

/// The URL with any password replaced by `***` (in the user part and in a
/// `password=` parameter), for messages.
pub fn mask(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out = format!("{base}{}", masked.join("&"));
    }
    out
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Parses `--db postgres://...` and sets the password (from the
/// environment or a file; a password in the URL itself is refused, since
/// the command line is visible to every user of the machine).
pub fn target(url: &str, password: Option<&str>) -> Result<PgTarget, Error> {
    let shown = mask(url);
    let bad = |reason: String| Error::BadOption {
        option: "--db",
        value: shown.clone(),
        reason,
    };
    let (rest, tls) = tls::split_url(url).map_err(&bad)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| bad(format!("not a PostgreSQL URL: {e}")))?;
    if config.get_password().is_some() {
        return Err(bad(
            "holds a password: the command line is visible to every user; give it in \
             TUNEKEEPER_DB_PASSWORD or --db-password-file"
                .into(),
        ));
    }
    config.ssl_mode(tls.mode.driver_mode());
    let tls = tls::connector(&tls).map_err(|e| bad(e.to_string()))?;
    if config.get_user().is_none() {
        return Err(bad(
            "no user name (postgres://USER@HOST:PORT/DATABASE)".into()
        ));
    }
    if let Some(p) = password {
        config.password(p);
    }
    config.connect_timeout(TIMEOUT);
    config.application_name("tunekeeper-collector");
    Ok(PgTarget { config, shown, tls })
}

/// The error and every cause, in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        next = c.source();
    }
    s
}

/// Sorts a driver error: the connection (retry later) or the statement.
fn classify(e: &tokio_postgres::Error) -> StoreError {
    let transient = match e.code() {
        None => true,
        Some(code) => {
            let c = code.code();
            // 08: connection exception, 57: operator intervention (shutdown),
            // 53: insufficient resources, 40: deadlock/serialization (retry).
            c.starts_with("08")
                || c.starts_with("57")
                || c.starts_with("53")
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
        }
    };
    // 22: data exception (a NUL in text, a value out of range), 23: a
    // constraint, 54: a program limit (a row or index entry too large):
    // the statement's data, which would be refused again.
    let refused = e
        .code()
        .is_some_and(|c| ["22", "23", "54"].iter().any(|p| c.code().starts_with(p)));
    if transient || e.is_closed() {
        StoreError::Unavailable(chain(e))
    } else if refused {
        StoreError::Refused(chain(e))
    } else {
        StoreError::Postgres(chain(e))
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => classify(&e),
        other => StoreError::Unavailable(chain(&other)),
    }
}

enum Job {
    Insert(
        Box<Submission>,
        oneshot::Sender<Result<Outcome, StoreError>>,
    ),
}

/// The PostgreSQL backend (held by every [`super::Storage`] handle).
pub struct Pg {
    pool: Pool,
    tx: mpsc::Sender<Job>,
    opts: Options,
}

/// The writer tasks, awaited at shutdown once every handle is gone.
pub struct Writers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    /// Waits for the writers to commit what is queued and end.
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl Pg {
    /// Connects (failing at once, naming the database, if it cannot),
    /// migrates under an advisory lock and starts the writers, with the
    /// default [`Options`].
    pub async fn open(target: &PgTarget) -> Result<(Arc<Pg>, Writers), Error> {
        Pg::open_with(target, Options::default()).await
    }

    /// As [`Pg::open`], storing as `opts` say.
    pub async fn open_with(target: &PgTarget, opts: Options) -> Result<(Arc<Pg>, Writers), Error> {
        let failed = |what: &'static str, reason: String| Error::Postgres {
            db: target.shown.clone(),
            what,
            reason,
        };
        let manager = Manager::from_config(
            target.config.clone(),
            target.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .build()
            .map_err(|e| failed("setting up the connection pool", chain(&e)))?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| failed("connecting", pool_error(e).to_string()))?;
        migrate(&mut client).await.map_err(|e| match e {
            Migration::Newer(found) => Error::NewerSchema {
                db: target.shown.clone(),
                found: i64::from(found),
                known: i64::from(SCHEMA_VERSION),
            },
            Migration::Db(e) => failed("creating or migrating the schema", chain(&e)),
        })?;
        drop(client);
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let tasks = (0..WRITERS)
            .map(|_| tokio::spawn(write_loop(pool.clone(), Arc::clone(&rx), opts)))
            .collect();
        Ok((Arc::new(Pg { pool, tx, opts }), Writers { tasks }))
    }

    /// Stores one report once its batch has committed.
    pub async fn insert(&self, s: Submission) -> Result<Outcome, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Job::Insert(Box::new(s), tx))
            .await
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Stores `batch` in one transaction now, in order (what a writer does
    /// with what has queued up); one outcome per submission.
    pub async fn insert_batch(&self, batch: &[Submission]) -> Vec<Result<Outcome, StoreError>> {
        store_batch(&self.pool, batch, self.opts).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Deletes what was received before `cutoff_ms`, if no other instance
    /// is pruning now (it does the same work). Returns the reports deleted.
    pub async fn prune(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(|e| classify(&e))?;
        let got: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PRUNE_LOCK])
            .await
            .map_err(|e| classify(&e))?
            .get(0);
        if !got {
            tracing::info!("another collector is pruning; skipped");
            return Ok(0);
        }
        // Host by host, so each delete walks the (host, received_at) index
        // instead of reading every row of every host.
        let hosts: Vec<i32> = tx
            .query("SELECT id FROM host_ids", &[])
            .await
            .map_err(|e| classify(&e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let st = tx
            .prepare("DELETE FROM samples WHERE host = $1 AND received_at < $2")
            .await
            .map_err(|e| classify(&e))?;
        let mut n = 0;
        for h in &hosts {
            n += tx
                .execute(&st, &[h, &cutoff_ms])
                .await
                .map_err(|e| classify(&e))?;
        }
        for sql in [
            "DELETE FROM docs WHERE received_at < $1",
            "DELETE FROM drift_events WHERE received_at < $1",
            "DELETE FROM hosts WHERE seen_at < $1",
            "DELETE FROM machines WHERE last_seen < $1",
            // A host id is forgotten once nothing refers to it.
            "DELETE FROM host_ids i WHERE $1::BIGINT IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.hostname = i.hostname)
               AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.host = i.id)
               AND NOT EXISTS (SELECT 1 FROM docs d WHERE d.host = i.id)",
        ] {
            tx.execute(sql, &[&cutoff_ms])
                .await
                .map_err(|e| classify(&e))?;
        }
        tx.commit().await.map_err(|e| classify(&e))?;
        tracing::info!(deleted = n, "pruned old reports");
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Deletes documents kept only as raw ones (neither a host's latest nor
    /// a change) received before `cutoff_ms`; returns how many.
    pub async fn prune_raw(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let c = self.client().await?;
        let n = read(c.execute(
            "DELETE FROM docs WHERE NOT is_change AND received_at < $1
               AND id NOT IN (SELECT last_id FROM hosts)",
            &[&cutoff_ms],
        ))
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Every host, by host name.
    pub async fn hosts(&self, now_ms: i64) -> Result<Vec<HostView>, StoreError> {
        let c = self.client().await?;
        read(hosts(&c, now_ms, None)).await
    }

    /// One page of the fleet (see [`super::fleet`]).
    pub async fn fleet_page(
        &self,
        now_ms: i64,
        q: &FleetQuery,
    ) -> Result<FleetPage<HostView>, StoreError> {
        let c = self.client().await?;
        read(fleet_page(&c, now_ms, q)).await
    }

    /// What the host page shows.
    pub async fn host_data(
        &self,
        hostname: &str,
        now_ms: i64,
        since_ms: i64,
    ) -> Result<HostData, StoreError> {
        let c = self.client().await?;
        read(async {
            let view = hosts(&c, now_ms, Some(hostname)).await?.into_iter().next();
            let latest = c
                .query_opt(
                    "SELECT id, body FROM docs WHERE id = (SELECT last_id FROM hosts WHERE hostname = $1)",
                    &[&hostname],
                )
                .await?
                .map(|r| (r.get::<_, String>(0), r.get::<_, Vec<u8>>(1)));
            let series = c
                .query(
                    "SELECT received_at + LEAST(skew_ms, 0) AS t, gc_ms_per_second, pause_p99_ms,
                            COALESCE(full_gcs, 0), COALESCE(drift, 0)
                     FROM samples WHERE host = (SELECT id FROM host_ids WHERE hostname = $1)
                       AND received_at >= $2 AND received_at + LEAST(skew_ms, 0) >= $2
                     ORDER BY t, received_at, id",
                    &[&hostname, &since_ms],
                )
                .await?
                .iter()
                .map(|r| Point {
                    time_ms: r.get(0),
                    gc_ms_per_second: r.get(1),
                    pause_p99_ms: r.get(2),
                    full_gcs: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
                    drift: u32::try_from(r.get::<_, i64>(4)).unwrap_or(u32::MAX),
                })
                .collect();
            let events = c
                .query(
                    "SELECT time, check_name, key, state, expected, actual, machine_id
                     FROM drift_events WHERE hostname = $1 ORDER BY time, seq",
                    &[&hostname],
                )
                .await?
                .iter()
                .map(|r| {
                    DriftEvent::from_columns(
                        r.get(0),
                        r.get(1),
                        r.get(2),
                        r.get(3),
                        r.get(4),
                        r.get(5),
                        r.get(6),
                    )
                })
                .collect();
            Ok((view, latest, series, events))
        })
        .await
        .and_then(|(view, latest, series, events)| {
            Ok(HostData {
                view,
                latest: latest.map(|(id, p)| unpacked(&id, &p)).transpose()?,
                series,
                events,
            })
        })
    }

    /// A page of a host's reports, newest first.
    pub async fn report_page(
        &self,
        hostname: &str,
        limit: u32,
        after: Option<Cursor>,
        budget: usize,
    ) -> Result<ReportPage, StoreError> {
        let c = self.client().await?;
        let (t, id) = match &after {
            Some(c) => (Some(c.time_ms), Some(c.id.as_str())),
            None => (None, None),
        };
        let rows = read(c.query(
            "SELECT id, time, size FROM docs
             WHERE host = (SELECT id FROM host_ids WHERE hostname = $1)
               AND ($2::BIGINT IS NULL OR time < $2 OR (time = $2 AND id < $3))
             ORDER BY time DESC, id DESC LIMIT $4",
            &[&hostname, &t, &id, &(i64::from(limit) + 1)],
        ))
        .await?;
        let mut page = PageBuilder::new(limit, budget);
        for r in rows {
            let len = usize::try_from(r.get::<_, i64>(2)).unwrap_or(usize::MAX);
            if !page.push(r.get(0), r.get(1), len) {
                break;
            }
        }
        Ok(page.finish())
    }

    /// Each cluster's counts of hosts in each state (as
    /// [`super::sqlite::store::cluster_counts`]).
    pub async fn cluster_counts(&self, now_ms: i64) -> Result<Vec<ClusterCounts>, StoreError> {
        let c = self.client().await?;
        let rows = read(c.query(&fleet::cluster_counts_sql(Dialect::Postgres), &[&now_ms])).await?;
        let n = |r: &tokio_postgres::Row, i: usize| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0);
        Ok(rows
            .iter()
            .map(|r| ClusterCounts {
                cluster: r.get(0),
                counts: FleetCounts {
                    hosts: n(r, 1),
                    problems: n(r, 2),
                    drifting: n(r, 3),
                    unhealthy: n(r, 4),
                    stale: n(r, 5),
                    skewed: n(r, 6),
                    waived_hosts: n(r, 7),
                    waived: n(r, 8),
                    gc_unknown: n(r, 9),
                    healthy: n(r, 10),
                },
            })
            .collect())
    }

    /// Each host's sums of this week and last week (as
    /// [`super::sqlite::store::host_weeks`]).
    pub async fn host_weeks(&self, now_ms: i64) -> Result<Vec<HostWeekRow>, StoreError> {
        let c = self.client().await?;
        let (since, split) = fleet::week_bounds(now_ms);
        let rows = read(c.query(
            "SELECT i.hostname, h.cluster, r.received_at + LEAST(r.skew_ms, 0) > $2 AS this_week,
                    COUNT(*)::BIGINT, COALESCE(SUM(r.gc_ms_per_second), 0),
                    COUNT(r.gc_ms_per_second)::BIGINT,
                    MAX(r.gc_ms_per_second), MAX(r.pause_p99_ms),
                    COALESCE(SUM(r.full_gcs::FLOAT8), 0), COUNT(*) FILTER (WHERE r.drift > 0)
             FROM samples r JOIN host_ids i ON i.id = r.host JOIN hosts h ON h.hostname = i.hostname
             WHERE r.received_at >= $1 AND r.received_at + LEAST(r.skew_ms, 0) >= $1
             GROUP BY i.hostname, h.cluster, this_week",
            &[&since, &split],
        ))
        .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(rows
            .iter()
            .map(|r| HostWeekRow {
                hostname: r.get(0),
                cluster: r.get(1),
                this_week: r.get(2),
                sums: WeekSums {
                    reports: n(r.get(3)),
                    rate_sum: r.get(4),
                    rate_reports: n(r.get(5)),
                    worst_rate: r.get(6),
                    worst_p99: r.get(7),
                    full_gcs: fleet::count(r.get(8)),
                    drifting_reports: n(r.get(9)),
                },
            })
            .collect())
    }

    /// The latest document of each host in `cluster` (`None`: hosts
    /// without one), as (host name, document), by host name.
    pub async fn cluster_latest(
        &self,
        cluster: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let c = self.client().await?;
        let rows = read(c.query(
            "SELECT h.hostname, d.id, d.body FROM hosts h JOIN docs d ON d.id = h.last_id
             WHERE h.cluster IS NOT DISTINCT FROM $1 ORDER BY h.hostname",
            &[&cluster],
        ))
        .await?;
        rows.iter()
            .map(|r| Ok((r.get(0), unpacked(r.get(1), r.get(2))?)))
            .collect()
    }

    /// One stored document by id.
    pub async fn report_body(&self, id: &str) -> Result<Option<String>, StoreError> {
        let c = self.client().await?;
        let row = read(c.query_opt("SELECT body FROM docs WHERE id = $1", &[&id])).await?;
        row.map(|r| unpacked(id, r.get(0))).transpose()
    }

    /// `pg_database_size` of the database in use.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let row = read(c.query_one("SELECT pg_database_size(current_database())", &[])).await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}

/// The webhook's leader among the collectors on one database: the holder
/// of a session-level advisory lock on a connection it keeps out of the
/// pool. When that instance stops or loses its connection, the server
/// releases the lock and the next instance to ask takes it. Every
/// instance evaluates (so a new leader knows what already fires); only
/// the leader sends, so a receiver gets each change once.
pub struct Leader {
    pg: Arc<Pg>,
    held: Option<deadpool_postgres::Object>,
}

impl Leader {
    /// Not leading yet; [`Leader::check`] takes the lead when free.
    pub fn new(pg: Arc<Pg>) -> Leader {
        Leader { pg, held: None }
    }

    /// True while this instance holds the alert lock (taking it if free).
    pub async fn check(&mut self) -> bool {
        if let Some(c) = &self.held {
            if read(c.query_one("SELECT 1", &[])).await.is_ok() {
                return true;
            }
            tracing::warn!("alert leadership lost with its connection");
            self.release();
        }
        let Ok(c) = self.pg.client().await else {
            return false;
        };
        match read(c.query_one("SELECT pg_try_advisory_lock($1)", &[&ALERT_LOCK])).await {
            Ok(row) if row.get::<_, bool>(0) => {
                tracing::info!("this collector sends the webhook's alerts");
                self.held = Some(c);
                true
            }
            _ => false,
        }
    }

    /// Closes the held connection (never returned to the pool with the
    /// lock still on it): the server releases the lock.
    fn release(&mut self) {
        if let Some(c) = self.held.take() {
            drop(deadpool_postgres::Object::take(c));
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.release();
    }
}

/// A stored document inflated; damage is an error naming the report.
fn unpacked(id: &str, packed: &[u8]) -> Result<String, StoreError> {
    compact::unpack(id, packed).map_err(|e| StoreError::Postgres(e.to_string()))
}

/// Runs a read within [`TIMEOUT`], sorting its error.
async fn read<T>(
    f: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| classify(&e)),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {TIMEOUT:?}"
        ))),
    }
}

async fn hosts(
    c: &deadpool_postgres::Object,
    now_ms: i64,
    only: Option<&str>,
) -> Result<Vec<HostView>, tokio_postgres::Error> {
    let mut full: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    // Summed here, saturating, as on SQLite.
    for r in c
        .query(
            "SELECT h.hostname, s.full_gcs FROM samples s JOIN host_ids h ON h.id = s.host
             WHERE s.full_gcs > 0 AND s.received_at > $1 AND s.received_at <= $2
               AND ($3::TEXT IS NULL OR h.hostname = $3)",
            &[&(now_ms - 86_400_000), &now_ms, &only],
        )
        .await?
    {
        let sum = full.entry(r.get(0)).or_default();
        *sum = sum.saturating_add(u64::try_from(r.get::<_, i64>(1)).unwrap_or(0));
    }
    let sql = format!(
        "SELECT {} FROM hosts WHERE ($1::TEXT IS NULL OR hostname = $1) ORDER BY hostname",
        fleet::HOST_COLUMNS
    );
    let rows = c.query(&sql, &[&only]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut h = host_row(r).view(now_ms);
            h.gc.full_gcs_24h = full.get(&h.hostname).copied().unwrap_or(0);
            h
        })
        .collect())
}

async fn fleet_page(
    c: &deadpool_postgres::Object,
    now_ms: i64,
    q: &FleetQuery,
) -> Result<FleetPage<HostView>, tokio_postgres::Error> {
    let text = fleet::text_param(q);
    let (cname, without) = fleet::cluster_params(q);
    let role = fleet::role_param(q);
    let row = c
        .query_one(
            &fleet::counts_sql(q.state, Dialect::Postgres),
            &[&now_ms, &text, &cname, &without, &role],
        )
        .await?;
    let n = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    let counts = FleetCounts {
        hosts: n(0),
        problems: n(1),
        drifting: n(2),
        unhealthy: n(3),
        stale: n(4),
        skewed: n(5),
        waived_hosts: n(7),
        waived: n(8),
        gc_unknown: n(9),
        healthy: n(10),
    };
    let matching = n(6);
    let limit = i64::from(q.limit) + 1;
    let read = |backwards: bool, cursor: Option<FleetCursor>| {
        let text = text.clone();
        let cname = cname.clone();
        let role = role.clone();
        async move {
            let sql = fleet::page_sql(q, backwards, Dialect::Postgres);
            let host = cursor.as_ref().map(|c| c.hostname.clone());
            let (num, txt) = match cursor.map(|c| c.value) {
                Some(SortValue::Num(v)) => (Some(v), None),
                Some(SortValue::Text(t)) => (None, Some(t)),
                None => (None, None),
            };
            let value: &(dyn tokio_postgres::types::ToSql + Sync) =
                if q.sort.is_text() { &txt } else { &num };
            let rows = c
                .query(
                    &sql,
                    &[
                        &now_ms, &text, value, &host, &limit, &cname, &without, &role,
                    ],
                )
                .await?;
            Ok::<_, tokio_postgres::Error>(
                rows.iter()
                    .map(|r| {
                        let key = if q.sort.is_text() {
                            SortValue::Text(r.get(fleet::SORT_KEY_COLUMN))
                        } else {
                            SortValue::Num(r.get(fleet::SORT_KEY_COLUMN))
                        };
                        (host_row(r).view(now_ms), key)
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    let cursor_of = |(h, k): &(HostView, SortValue)| FleetCursor {
        value: k.clone(),
        hostname: h.hostname.clone(),
    };
    let (mut rows, next, prev) = match &q.before {
        Some(b) => {
            let rows = read(true, Some(b.clone())).await?;
            if rows.len() > q.limit as usize {
                fleet::assemble(q, true, rows, cursor_of)
            } else {
                // Fewer than a page before it: that is the first page.
                let first = FleetQuery {
                    before: None,
                    after: None,
                    ..q.clone()
                };
                fleet::assemble(&first, false, read(false, None).await?, cursor_of)
            }
        }
        None => fleet::assemble(q, false, read(false, q.after.clone()).await?, cursor_of),
    };
    let names: Vec<&str> = rows.iter().map(|(h, _)| h.hostname.as_str()).collect();
    let mut full: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for r in c
        .query(
            "SELECT h.hostname, s.full_gcs FROM samples s JOIN host_ids h ON h.id = s.host
             WHERE s.full_gcs > 0 AND s.received_at > $1 AND s.received_at <= $2
               AND h.hostname = ANY($3::TEXT[])",
            &[&(now_ms - 86_400_000), &now_ms, &names],
        )
        .await?
    {
        let sum = full.entry(r.get(0)).or_default();
        *sum = sum.saturating_add(u64::try_from(r.get::<_, i64>(1)).unwrap_or(0));
    }
    for (h, _) in &mut rows {
        h.gc.full_gcs_24h = full.get(&h.hostname).copied().unwrap_or(0);
    }
    Ok(FleetPage {
        hosts: rows.into_iter().map(|(h, _)| h).collect(),
        counts,
        matching,
        next,
        prev,
    })
}

/// A `hosts` row read in the order of [`fleet::HOST_COLUMNS`].
fn host_row(r: &tokio_postgres::Row) -> HostRow {
    let u = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    HostRow {
        hostname: r.get(0),
        profile: r.get(1),
        last_id: r.get(2),
        last_time_text: r.get(3),
        last_time_ms: r.get(4),
        interval_seconds: r.get(5),
        drift: u(r.get(6)),
        findings: u(r.get(7)),
        jvms: u(r.get(8)),
        has_gc: r.get(9),
        gc_drift: u(r.get(10)),
        gc_ms_per_second: r.get(11),
        pause_p99_ms: r.get(12),
        drifting: r.get(13),
        shown_received_ms: r.get(14),
        last_received_ms: r.get(15),
        skew_ms: r.get(16),
        cluster: r.get(17),
        waived: u(r.get(18)),
        machine_id: r.get(19),
        conflict_at: r.get(20),
        conflict_machines: r.get(21),
        detail: r.get(22),
    }
}

enum Migration {
    Newer(i32),
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Migration {
    fn from(e: tokio_postgres::Error) -> Migration {
        Migration::Db(e)
    }
}

/// Creates or upgrades the schema, one instance at a time.
async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), Migration> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS tunekeeper_schema (version INTEGER NOT NULL)")
        .await?;
    let version: Option<i32> = tx
        .query_one("SELECT max(version) FROM tunekeeper_schema", &[])
        .await?
        .get(0);
    let mut version = match version {
        Some(v) if v > SCHEMA_VERSION => return Err(Migration::Newer(v)),
        Some(v) => v,
        None => {
            // A new database takes the path an old one does.
            tx.batch_execute(SCHEMA_V1).await?;
            tx.execute("INSERT INTO tunekeeper_schema (version) VALUES (1)", &[])
                .await?;
            tracing::info!(version = 1, "created the PostgreSQL schema");
            1
        }
    };
    if version < 2 {
        migrate_v2(&tx).await?;
        tx.execute("INSERT INTO tunekeeper_schema (version) VALUES (2)", &[])
            .await?;
        version = 2;
        tracing::info!(version, "migrated the PostgreSQL schema (compact reports)");
    }
    if version < 3 {
        tx.batch_execute(SCHEMA_V3).await?;
        tx.execute("INSERT INTO tunekeeper_schema (version) VALUES (3)", &[])
            .await?;
        version = 3;
        tracing::info!(
            version,
            "migrated the PostgreSQL schema (machines under one host name)"
        );
    }
    debug_assert_eq!(version, SCHEMA_VERSION);
    // Added within version 1, on every start (idempotent): the cluster of
    // the report shown, NULL if none.
    tx.batch_execute(r#"ALTER TABLE hosts ADD COLUMN IF NOT EXISTS cluster TEXT COLLATE "C""#)
        .await?;
    // Likewise: waived findings of the report shown (NULL before, read as 0).
    tx.batch_execute("ALTER TABLE hosts ADD COLUMN IF NOT EXISTS waived BIGINT")
        .await?;
    // Likewise: the host's roles, JVMs by role and why GC figures are
    // missing (JSON, `health::HostDetail`), and each role name between
    // newlines for the fleet's role filter; NULL before.
    tx.batch_execute(
        "ALTER TABLE hosts ADD COLUMN IF NOT EXISTS detail TEXT;
         ALTER TABLE hosts ADD COLUMN IF NOT EXISTS role_names TEXT",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Version 1 to 2 (in the migration's transaction): every report becomes a
/// row of figures; the documents of each host's first report, of each
/// report a drift event came from and of each host's latest are kept,
/// deflated; `reports` is dropped.
async fn migrate_v2(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute(SCHEMA_V2).await?;
    tx.batch_execute(
        r#"INSERT INTO host_ids (hostname)
             SELECT hostname FROM hosts UNION SELECT hostname FROM reports ORDER BY 1;
           INSERT INTO samples (received_at, skew_ms, gc_ms_per_second, pause_p99_ms, full_gcs,
                                drift, host, id)
             SELECT r.received_at, r.time - r.received_at, r.gc_ms_per_second, r.pause_p99_ms,
                    NULLIF(r.full_gcs, 0), NULLIF(r.drift, 0), h.id,
                    CASE WHEN r.id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         THEN decode(replace(r.id, '-', ''), 'hex')
                         WHEN octet_length(r.id) = 16 THEN convert_to(r.id, 'UTF8') || '\xff'::BYTEA
                         ELSE convert_to(r.id, 'UTF8') END
             FROM reports r JOIN host_ids h ON h.hostname = r.hostname"#,
    )
    .await?;
    let rows = tx
        .query(
            "SELECT r.id, h.id, r.time, r.received_at, r.body,
                    r.received_at = (SELECT MIN(received_at) FROM reports f WHERE f.hostname = r.hostname)
                    OR EXISTS (SELECT 1 FROM drift_events e
                               WHERE e.hostname = r.hostname AND e.time = LEAST(r.time, r.received_at)
                                 AND e.received_at = r.received_at)
             FROM reports r JOIN host_ids h ON h.hostname = r.hostname
             LEFT JOIN hosts l ON l.last_id = r.id
             WHERE l.last_id IS NOT NULL
                OR r.received_at = (SELECT MIN(received_at) FROM reports f WHERE f.hostname = r.hostname)
                OR EXISTS (SELECT 1 FROM drift_events e
                           WHERE e.hostname = r.hostname AND e.time = LEAST(r.time, r.received_at)
                             AND e.received_at = r.received_at)",
            &[],
        )
        .await?;
    let st = tx
        .prepare(
            "INSERT INTO docs (id, host, time, received_at, is_change, size, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    for r in rows {
        let id: &str = r.get(0);
        let body: &str = r.get(4);
        let host: i32 = r.get(1);
        let (time, received): (i64, i64) = (r.get(2), r.get(3));
        let change: bool = r.get(5);
        let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
        tx.execute(
            &st,
            &[
                &id,
                &host,
                &time,
                &received,
                &change,
                &size,
                &compact::pack(body),
            ],
        )
        .await?;
    }
    tx.batch_execute("DROP TABLE reports").await?;
    Ok(())
}

/// One writer: takes what has queued (up to [`MAX_BATCH`]) and commits it.
async fn write_loop(pool: Pool, rx: Arc<Mutex<mpsc::Receiver<Job>>>, opts: Options) {
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
        }
        let (subs, replies): (Vec<Submission>, Vec<_>) =
            batch.into_iter().map(|Job::Insert(s, r)| (*s, r)).unzip();
        let results = store_batch(&pool, &subs, opts).await;
        for (reply, r) in replies.into_iter().zip(results) {
            if let Err(e) = &r {
                tracing::warn!(error = %e, "storing a report failed");
            }
            let _ = reply.send(r);
        }
    }
}

/// Commits a batch; if it fails as a whole for a reason of one report's
/// own, each report is retried alone so one bad apple fails alone.
async fn store_batch(
    pool: &Pool,
    batch: &[Submission],
    opts: Options,
) -> Vec<Result<Outcome, StoreError>> {
    let all = with_timeout(insert_batch(pool, batch, opts)).await;
    match all {
        Ok(out) => out.into_iter().map(Ok).collect(),
        Err(e) if batch.len() == 1 || matches!(e, StoreError::Unavailable(_)) => {
            batch.iter().map(|_| Err(same(&e))).collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, n = batch.len(), "batch insert failed; retrying one by one");
            let mut out = Vec::with_capacity(batch.len());
            for s in batch {
                out.push(
                    with_timeout(insert_batch(pool, std::slice::from_ref(s), opts))
                        .await
                        .map(|mut v| v.remove(0)),
                );
            }
            out
        }
    }
}

fn same(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Stopped => StoreError::Stopped,
        StoreError::Refused(m) => StoreError::Refused(m.clone()),
        other => StoreError::Postgres(other.to_string()),
    }
}

async fn with_timeout<T>(f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(TIMEOUT, f).await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(format!(
            "no answer within {TIMEOUT:?}"
        )))
    })
}

/// A host's row as the batch leaves it: read once after the locks,
/// changed in memory report by report, written once.
struct HostState {
    /// Whether the row exists in the database.
    exists: bool,
    /// Whether the batch changed it.
    dirty: bool,
    last_id: String,
    last_time: i64,
    last_time_text: String,
    received_at: i64,
    interval_seconds: i64,
    profile: String,
    findings: i64,
    drift: i64,
    gc_drift: i64,
    jvms: i64,
    has_gc: bool,
    gc_ms_per_second: Option<f64>,
    pause_p99_ms: Option<f64>,
    drifting: Vec<DriftKey>,
    seen_at: i64,
    skew_ms: i64,
    cluster: Option<String>,
    waived: i64,
    /// The machine key of the report shown (`None`: stored before version 3).
    machine_id: Option<String>,
    conflict_at: Option<i64>,
    conflict_machines: Option<String>,
    detail: Option<String>,
    role_names: Option<String>,
}

/// A machine's row as the batch leaves it (see [`super::machines`]).
struct MachineState {
    last_time: i64,
    last_seen: i64,
    drifting: Vec<DriftKey>,
    dirty: bool,
}

/// Machines by (host name, machine key).
type MachineMap = std::collections::HashMap<(String, String), MachineState>;

/// One drift event to insert.
struct Event {
    hostname: String,
    time: i64,
    check: String,
    key: String,
    state: Change,
    expected: String,
    actual: Option<String>,
    received_at: i64,
    machine_id: Option<String>,
}

/// Stores a batch in one transaction with a fixed number of round trips
/// (locks, reports, owners of ids already taken, hosts read, events, hosts
/// written, commit), whatever its size: the same rules as SQLite's
/// `insert_one`, applied in memory in arrival order.
async fn insert_batch(
    pool: &Pool,
    batch: &[Submission],
    opts: Options,
) -> Result<Vec<Outcome>, StoreError> {
    let mut c = pool.get().await.map_err(pool_error)?;
    let tx = c.transaction().await.map_err(|e| classify(&e))?;
    let out = apply_batch(&tx, batch, opts)
        .await
        .map_err(|e| classify(&e))?;
    tx.commit().await.map_err(|e| classify(&e))?;
    Ok(out)
}

async fn apply_batch(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[Submission],
    opts: Options,
) -> Result<Vec<Outcome>, tokio_postgres::Error> {
    // One host's row is read and written by one transaction at a time,
    // whichever instance holds it; keys locked in order: no deadlock.
    let mut hosts: Vec<&str> = batch.iter().map(|s| s.hostname.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let st = tx
        .prepare_cached(
            "SELECT pg_advisory_xact_lock(k) FROM
               (SELECT DISTINCT hashtextextended(h, 0) AS k FROM unnest($1::TEXT[]) AS h ORDER BY k) AS s",
        )
        .await?;
    tx.execute(&st, &[&hosts]).await?;

    // Host ids (made on first use; the hosts are locked, so no other
    // writer makes the same one meanwhile). Only names without one are
    // inserted: an insert that conflicts still draws a number, and drawing
    // one per batch would run through the ids in days at fleet rates.
    let st = tx
        .prepare_cached(
            "INSERT INTO host_ids (hostname)
             SELECT h FROM unnest($1::TEXT[]) AS h
             WHERE NOT EXISTS (SELECT 1 FROM host_ids i WHERE i.hostname = h)
             ON CONFLICT (hostname) DO NOTHING",
        )
        .await?;
    tx.execute(&st, &[&hosts]).await?;
    let st = tx
        .prepare_cached("SELECT hostname, id FROM host_ids WHERE hostname = ANY($1::TEXT[])")
        .await?;
    let host_ids: std::collections::HashMap<String, i32> = tx
        .query(&st, &[&hosts])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let host_of = |s: &Submission| host_ids.get(&s.hostname).copied().unwrap_or(0);

    // Reports: one statement; the ids it returns are the ones stored.
    let keys: Vec<Vec<u8>> = batch.iter().map(|s| compact::id_key(&s.id)).collect();
    let host: Vec<i32> = batch.iter().map(host_of).collect();
    let skew: Vec<i64> = batch
        .iter()
        .map(|s| s.time_ms.saturating_sub(s.received_ms))
        .collect();
    let received: Vec<i64> = batch.iter().map(|s| s.received_ms).collect();
    let drift: Vec<i64> = batch.iter().map(|s| i64::from(s.derived.drift)).collect();
    let gcms: Vec<Option<f64>> = batch.iter().map(|s| s.derived.gc_ms_per_second).collect();
    let p99: Vec<Option<f64>> = batch.iter().map(|s| s.derived.pause_p99_ms).collect();
    let full: Vec<i64> = batch
        .iter()
        .map(|s| i64::try_from(s.derived.full_gcs).unwrap_or(i64::MAX))
        .collect();
    let st = tx
        .prepare_cached(
            "INSERT INTO samples
             (received_at, skew_ms, gc_ms_per_second, pause_p99_ms, full_gcs, drift, host, id)
             SELECT r, s, g, p, NULLIF(f, 0), NULLIF(d, 0), h, i
             FROM unnest($1::BIGINT[], $2::BIGINT[], $3::FLOAT8[], $4::FLOAT8[],
                         $5::BIGINT[], $6::BIGINT[], $7::INT4[], $8::BYTEA[])
                  AS u(r, s, g, p, f, d, h, i)
             ON CONFLICT (id) DO NOTHING RETURNING id",
        )
        .await?;
    let mut inserted: std::collections::HashSet<Vec<u8>> = tx
        .query(
            &st,
            &[&received, &skew, &gcms, &p99, &full, &drift, &host, &keys],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Which report of the batch is the stored one: the first with its id
    // (unnest keeps the order, ON CONFLICT skips the later ones).
    let stored: Vec<bool> = keys.iter().map(|k| inserted.remove(k)).collect();
    let taken: Vec<&[u8]> = keys
        .iter()
        .zip(&stored)
        .filter(|(_, st)| !**st)
        .map(|(k, _)| k.as_slice())
        .collect();
    let mut owners: std::collections::HashMap<Vec<u8>, i32> = std::collections::HashMap::new();
    if !taken.is_empty() {
        let st = tx
            .prepare_cached("SELECT id, host FROM samples WHERE id = ANY($1::BYTEA[])")
            .await?;
        for r in tx.query(&st, &[&taken]).await? {
            owners.insert(r.get(0), r.get(1));
        }
    }

    // The hosts as they are now (locked: no other writer changes them).
    let st = tx
        .prepare_cached(
            "SELECT hostname, last_id, last_time, last_time_text, received_at, interval_seconds,
                    profile, findings, drift, gc_drift, jvms, has_gc, gc_ms_per_second,
                    pause_p99_ms, drifting, seen_at, skew_ms, cluster, COALESCE(waived, 0),
                    machine_id, conflict_at, conflict_machines, detail, role_names
             FROM hosts WHERE hostname = ANY($1::TEXT[])",
        )
        .await?;
    let mut state: std::collections::HashMap<String, HostState> = tx
        .query(&st, &[&hosts])
        .await?
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                HostState {
                    exists: true,
                    dirty: false,
                    last_id: r.get(1),
                    last_time: r.get(2),
                    last_time_text: r.get(3),
                    received_at: r.get(4),
                    interval_seconds: r.get(5),
                    profile: r.get(6),
                    findings: r.get(7),
                    drift: r.get(8),
                    gc_drift: r.get(9),
                    jvms: r.get(10),
                    has_gc: r.get(11),
                    gc_ms_per_second: r.get(12),
                    pause_p99_ms: r.get(13),
                    drifting: serde_json::from_str(r.get::<_, &str>(14)).unwrap_or_default(),
                    seen_at: r.get(15),
                    skew_ms: r.get(16),
                    cluster: r.get(17),
                    waived: r.get(18),
                    machine_id: r.get(19),
                    conflict_at: r.get(20),
                    conflict_machines: r.get(21),
                    detail: r.get(22),
                    role_names: r.get(23),
                },
            )
        })
        .collect();

    // The batch's machines as they are now (their hosts are locked).
    let pairs: Vec<(&str, &str)> = batch
        .iter()
        .map(|s| {
            (
                s.hostname.as_str(),
                machines::key(s.derived.machine_id.as_deref()),
            )
        })
        .collect();
    let (mnames, mkeys): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    let st = tx
        .prepare_cached(
            "SELECT m.hostname, m.machine, m.last_time, m.last_seen, m.drifting
             FROM machines m JOIN (SELECT DISTINCT h, k FROM unnest($1::TEXT[], $2::TEXT[]) AS u(h, k)) u
               ON m.hostname = u.h AND m.machine = u.k",
        )
        .await?;
    let mut machine_rows: MachineMap = tx
        .query(&st, &[&mnames, &mkeys])
        .await?
        .iter()
        .map(|r| {
            (
                (r.get::<_, String>(0), r.get::<_, String>(1)),
                MachineState {
                    last_time: r.get(2),
                    last_seen: r.get(3),
                    drifting: serde_json::from_str(r.get::<_, &str>(4)).unwrap_or_default(),
                    dirty: false,
                },
            )
        })
        .collect();

    let mut out = Vec::with_capacity(batch.len());
    let mut events: Vec<Event> = Vec::new();
    let mut docs = Docs::default();
    // Hosts where two machines took turns: (the time, the window's start).
    let mut turns: std::collections::HashMap<String, (i64, i64)> = std::collections::HashMap::new();
    for (index, ((s, is_stored), key)) in batch.iter().zip(stored).zip(&keys).enumerate() {
        if !is_stored {
            let same_host = owners.get(key).is_none_or(|h| *h == host_of(s));
            out.push(if same_host {
                Outcome::Duplicate
            } else {
                Outcome::Conflict
            });
            continue;
        }
        out.push(Outcome::Stored);
        let mut w = Writes {
            state: &mut state,
            machines: &mut machine_rows,
            events: &mut events,
            docs: &mut docs,
            turns: &mut turns,
        };
        apply_one(&mut w, batch, index, opts);
    }

    let dirty: Vec<(&(String, String), &MachineState)> =
        machine_rows.iter().filter(|(_, m)| m.dirty).collect();
    if !dirty.is_empty() {
        let st = tx
            .prepare_cached(
                "INSERT INTO machines (hostname, machine, last_time, last_seen, drifting)
                 SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[])
                 ON CONFLICT (hostname, machine) DO UPDATE SET
                     last_time = excluded.last_time, drifting = excluded.drifting,
                     last_seen = GREATEST(machines.last_seen, excluded.last_seen)",
            )
            .await?;
        let names: Vec<&str> = dirty.iter().map(|(k, _)| k.0.as_str()).collect();
        let keys: Vec<&str> = dirty.iter().map(|(k, _)| k.1.as_str()).collect();
        let last_time: Vec<i64> = dirty.iter().map(|(_, m)| m.last_time).collect();
        let last_seen: Vec<i64> = dirty.iter().map(|(_, m)| m.last_seen).collect();
        let drifting: Vec<String> = dirty
            .iter()
            .map(|(_, m)| serde_json::to_string(&m.drifting).unwrap_or_else(|_| "[]".into()))
            .collect();
        tx.execute(&st, &[&names, &keys, &last_time, &last_seen, &drifting])
            .await?;
    }
    // Two machines took turns (rare): which reported within the window.
    for (host, (at, since)) in &turns {
        let st = tx
            .prepare_cached(
                "SELECT machine FROM machines WHERE hostname = $1 AND last_seen >= $2
                 ORDER BY last_seen DESC, machine LIMIT $3",
            )
            .await?;
        let ids: Vec<String> = tx
            .query(&st, &[host, since, &(MAX_CONFLICT_MACHINES as i64)])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(h) = state.get_mut(host) {
            h.conflict_at = Some(*at);
            h.conflict_machines = Some(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()));
            h.dirty = true;
        }
    }

    if !docs.put.is_empty() {
        let st = tx
            .prepare_cached(
                "INSERT INTO docs (time, received_at, size, host, is_change, id, body)
                 SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::INT4[],
                                      $5::BOOL[], $6::TEXT[], $7::BYTEA[])
                 ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        let put: Vec<(&Submission, bool)> = docs.put.iter().map(|&(i, c)| (&batch[i], c)).collect();
        let time: Vec<i64> = put.iter().map(|(s, _)| s.time_ms).collect();
        let rec: Vec<i64> = put.iter().map(|(s, _)| s.received_ms).collect();
        let size: Vec<i64> = put
            .iter()
            .map(|(s, _)| i64::try_from(s.body.len()).unwrap_or(i64::MAX))
            .collect();
        let host: Vec<i32> = put.iter().map(|(s, _)| host_of(s)).collect();
        let change: Vec<bool> = put.iter().map(|(_, c)| *c).collect();
        let ids: Vec<&str> = put.iter().map(|(s, _)| s.id.as_str()).collect();
        let bodies: Vec<&[u8]> = put.iter().map(|(s, _)| &s.packed[..]).collect();
        tx.execute(&st, &[&time, &rec, &size, &host, &change, &ids, &bodies])
            .await?;
    }
    if !docs.drop.is_empty() {
        let st = tx
            .prepare_cached("DELETE FROM docs WHERE id = ANY($1::TEXT[]) AND NOT is_change")
            .await?;
        tx.execute(&st, &[&docs.drop]).await?;
    }

    if !events.is_empty() {
        let st = tx
            .prepare_cached(
                "INSERT INTO drift_events
                     (hostname, time, check_name, key, state, expected, actual, received_at,
                      machine_id)
                 SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                                      $6::TEXT[], $7::TEXT[], $8::BIGINT[], $9::TEXT[])",
            )
            .await?;
        let col = |f: fn(&Event) -> &str| events.iter().map(f).collect::<Vec<&str>>();
        let hostnames = col(|e| &e.hostname);
        let checks = col(|e| &e.check);
        let keys = col(|e| &e.key);
        let states = col(|e| e.state.as_str());
        let expected = col(|e| &e.expected);
        let times: Vec<i64> = events.iter().map(|e| e.time).collect();
        let actual: Vec<Option<&str>> = events.iter().map(|e| e.actual.as_deref()).collect();
        let received: Vec<i64> = events.iter().map(|e| e.received_at).collect();
        let machine: Vec<Option<&str>> = events.iter().map(|e| e.machine_id.as_deref()).collect();
        tx.execute(
            &st,
            &[
                &hostnames, &times, &checks, &keys, &states, &expected, &actual, &received,
                &machine,
            ],
        )
        .await?;
    }

    let dirty: Vec<(&String, &HostState)> = state.iter().filter(|(_, h)| h.dirty).collect();
    if !dirty.is_empty() {
        let st = tx
            .prepare_cached(
                "INSERT INTO hosts (hostname, last_id, last_time, last_time_text, received_at,
                     interval_seconds, profile, findings, drift, gc_drift, jvms, has_gc,
                     gc_ms_per_second, pause_p99_ms, drifting, seen_at, skew_ms, cluster, waived,
                     machine_id, conflict_at, conflict_machines, detail, role_names)
                 SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[],
                     $5::BIGINT[], $6::BIGINT[], $7::TEXT[], $8::BIGINT[], $9::BIGINT[],
                     $10::BIGINT[], $11::BIGINT[], $12::BOOL[], $13::FLOAT8[], $14::FLOAT8[],
                     $15::TEXT[], $16::BIGINT[], $17::BIGINT[], $18::TEXT[], $19::BIGINT[],
                     $20::TEXT[], $21::BIGINT[], $22::TEXT[], $23::TEXT[], $24::TEXT[])
                 ON CONFLICT (hostname) DO UPDATE SET
                     last_id = excluded.last_id, last_time = excluded.last_time,
                     last_time_text = excluded.last_time_text, received_at = excluded.received_at,
                     interval_seconds = excluded.interval_seconds, profile = excluded.profile,
                     findings = excluded.findings, drift = excluded.drift,
                     gc_drift = excluded.gc_drift, jvms = excluded.jvms, has_gc = excluded.has_gc,
                     gc_ms_per_second = excluded.gc_ms_per_second,
                     pause_p99_ms = excluded.pause_p99_ms, drifting = excluded.drifting,
                     seen_at = GREATEST(hosts.seen_at, excluded.seen_at),
                     skew_ms = excluded.skew_ms, cluster = excluded.cluster,
                     waived = excluded.waived, machine_id = excluded.machine_id,
                     conflict_at = excluded.conflict_at,
                     conflict_machines = excluded.conflict_machines, detail = excluded.detail,
                     role_names = excluded.role_names",
            )
            .await?;
        let names: Vec<&str> = dirty.iter().map(|(n, _)| n.as_str()).collect();
        let last_id: Vec<&str> = dirty.iter().map(|(_, h)| h.last_id.as_str()).collect();
        let last_time: Vec<i64> = dirty.iter().map(|(_, h)| h.last_time).collect();
        let text: Vec<&str> = dirty
            .iter()
            .map(|(_, h)| h.last_time_text.as_str())
            .collect();
        let rec: Vec<i64> = dirty.iter().map(|(_, h)| h.received_at).collect();
        let interval: Vec<i64> = dirty.iter().map(|(_, h)| h.interval_seconds).collect();
        let profile: Vec<&str> = dirty.iter().map(|(_, h)| h.profile.as_str()).collect();
        let findings: Vec<i64> = dirty.iter().map(|(_, h)| h.findings).collect();
        let drift: Vec<i64> = dirty.iter().map(|(_, h)| h.drift).collect();
        let gc_drift: Vec<i64> = dirty.iter().map(|(_, h)| h.gc_drift).collect();
        let jvms: Vec<i64> = dirty.iter().map(|(_, h)| h.jvms).collect();
        let has_gc: Vec<bool> = dirty.iter().map(|(_, h)| h.has_gc).collect();
        let gcms: Vec<Option<f64>> = dirty.iter().map(|(_, h)| h.gc_ms_per_second).collect();
        let p99: Vec<Option<f64>> = dirty.iter().map(|(_, h)| h.pause_p99_ms).collect();
        let drifting: Vec<String> = dirty
            .iter()
            .map(|(_, h)| serde_json::to_string(&h.drifting).unwrap_or_else(|_| "[]".into()))
            .collect();
        let seen: Vec<i64> = dirty.iter().map(|(_, h)| h.seen_at).collect();
        let skew: Vec<i64> = dirty.iter().map(|(_, h)| h.skew_ms).collect();
        let cluster: Vec<Option<&str>> = dirty.iter().map(|(_, h)| h.cluster.as_deref()).collect();
        let waived: Vec<i64> = dirty.iter().map(|(_, h)| h.waived).collect();
        let machine: Vec<Option<&str>> =
            dirty.iter().map(|(_, h)| h.machine_id.as_deref()).collect();
        let conflict_at: Vec<Option<i64>> = dirty.iter().map(|(_, h)| h.conflict_at).collect();
        let conflict_machines: Vec<Option<&str>> = dirty
            .iter()
            .map(|(_, h)| h.conflict_machines.as_deref())
            .collect();
        let detail: Vec<Option<&str>> = dirty.iter().map(|(_, h)| h.detail.as_deref()).collect();
        let role_names: Vec<Option<&str>> =
            dirty.iter().map(|(_, h)| h.role_names.as_deref()).collect();
        tx.execute(
            &st,
            &[
                &names,
                &last_id,
                &last_time,
                &text,
                &rec,
                &interval,
                &profile,
                &findings,
                &drift,
                &gc_drift,
                &jvms,
                &has_gc,
                &gcms,
                &p99,
                &drifting,
                &seen,
                &skew,
                &cluster,
                &waived,
                &machine,
                &conflict_at,
                &conflict_machines,
                &detail,
                &role_names,
            ],
        )
        .await?;
    }
    Ok(out)
}

/// The documents a batch writes and deletes.
#[derive(Default)]
struct Docs {
    /// Reports of the batch (index) to keep whole, and whether each is a change.
    put: Vec<(usize, bool)>,
    /// Ids of earlier latest documents to delete unless they mark a change.
    drop: Vec<String>,
}

impl Docs {
    fn put(&mut self, batch_index: usize, change: bool) {
        self.put.push((batch_index, change));
    }
}

/// What a batch changes, in memory, before it is written.
struct Writes<'a> {
    state: &'a mut std::collections::HashMap<String, HostState>,
    machines: &'a mut MachineMap,
    events: &'a mut Vec<Event>,
    docs: &'a mut Docs,
    turns: &'a mut std::collections::HashMap<String, (i64, i64)>,
}

/// What storing `s` does to its host's row, its machine's row, the drift
/// events and the documents kept: SQLite's rules (`store::insert_one`)
/// in memory, decided by the same [`machines::plan`].
fn apply_one(w: &mut Writes<'_>, batch: &[Submission], index: usize, opts: Options) {
    let s = &batch[index];
    let d = &s.derived;
    let skew = s.time_ms.saturating_sub(s.received_ms);
    let mkey = (
        s.hostname.clone(),
        machines::key(d.machine_id.as_deref()).to_owned(),
    );
    let (host_late, machine_late, prev, turn) = {
        let host = w.state.get(&s.hostname).map(|h| machines::HostBefore {
            machine: h.machine_id.as_deref(),
            seen_ms: h.seen_at,
            shown_ms: h.last_time.min(h.received_at),
            drifting: &h.drifting,
        });
        let own = w.machines.get(&mkey).map(|m| machines::MachineBefore {
            last_ms: m.last_time,
            drifting: &m.drifting,
        });
        let p = machines::plan(host, own, s);
        (
            p.host_late,
            p.machine_late,
            p.prev.map(<[DriftKey]>::to_vec),
            p.turn,
        )
    };
    if !machine_late {
        let m = w.machines.entry(mkey).or_insert(MachineState {
            last_time: s.effective_ms(),
            last_seen: s.received_ms,
            drifting: Vec::new(),
            dirty: true,
        });
        m.last_time = s.effective_ms();
        m.last_seen = m.last_seen.max(s.received_ms);
        m.drifting = d.drifting.clone();
        m.dirty = true;
    } else if let Some(m) = w.machines.get_mut(&mkey) {
        m.last_seen = m.last_seen.max(s.received_ms);
        m.dirty = true;
    }
    let change = !machine_late && compact::findings_changed(prev.as_deref(), &d.drifting);
    if !machine_late {
        for (k, change) in drift::changes(prev.as_deref().unwrap_or_default(), d) {
            w.events.push(Event {
                hostname: s.hostname.clone(),
                time: s.effective_ms(),
                check: k.check.clone(),
                key: k.key.clone(),
                state: change,
                expected: k.expected.clone(),
                actual: drift::stored_actual(k, change, d),
                received_at: s.received_ms,
                machine_id: d.machine_id.clone(),
            });
        }
    }
    if turn {
        let since = s
            .received_ms
            .saturating_sub(machines::window_ms(machines::interval(s)));
        w.turns.insert(s.hostname.clone(), (s.received_ms, since));
    }
    let prev_id = match w.state.get_mut(&s.hostname) {
        Some(h) => {
            // Whatever it shows, the host delivered now.
            h.seen_at = h.seen_at.max(s.received_ms);
            h.skew_ms = skew;
            h.dirty = true;
            if host_late {
                // Its document if a change for its machine (or raw ones
                // are kept); the host row's summary stays.
                if change || opts.keep_raw() {
                    w.docs.put(index, change);
                }
                return;
            }
            Some(h.last_id.clone())
        }
        None => None,
    };
    if !opts.keep_raw()
        && let Some(prev) = prev_id
    {
        // The previous latest document goes unless it marks a change: one
        // of this batch is simply not written.
        match w.docs.put.iter().position(|(i, _)| batch[*i].id == prev) {
            Some(p) if !w.docs.put[p].1 => {
                w.docs.put.remove(p);
            }
            Some(_) => {}
            None => w.docs.drop.push(prev),
        }
    }
    w.docs.put(index, change);
    let before = w.state.get(&s.hostname);
    let seen = before.map_or(s.received_ms, |h| h.seen_at.max(s.received_ms));
    let exists = before.is_some_and(|h| h.exists);
    let (conflict_at, conflict_machines) = before.map_or((None, None), |h| {
        (h.conflict_at, h.conflict_machines.clone())
    });
    w.state.insert(
        s.hostname.clone(),
        HostState {
            exists,
            dirty: true,
            last_id: s.id.clone(),
            last_time: s.time_ms,
            last_time_text: s.time_text.clone(),
            received_at: s.received_ms,
            interval_seconds: machines::interval(s),
            profile: s.profile.clone(),
            findings: i64::from(d.findings),
            drift: i64::from(d.drift),
            gc_drift: i64::from(d.gc_drift),
            jvms: i64::from(d.jvms),
            has_gc: d.has_gc,
            gc_ms_per_second: d.gc_ms_per_second,
            pause_p99_ms: d.pause_p99_ms,
            drifting: d.drifting.clone(),
            seen_at: seen,
            skew_ms: skew,
            cluster: d.cluster.clone(),
            waived: i64::from(d.waived),
            machine_id: Some(machines::key(d.machine_id.as_deref()).to_owned()),
            conflict_at,
            conflict_machines,
            detail: Some(d.detail.to_column()),
            role_names: d.detail.role_names(),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_refused_on_the_command_line() {
        assert_eq!(
            mask("postgres://tk:s3cret@db:5432/tk?sslmode=disable"),
            "postgres://tk:***@db:5432/tk?sslmode=disable"
        );
        assert_eq!(
            mask("postgres://tk@db/tk?password=s3cret&x=1"),
            "postgres://tk@db/tk?password=***&x=1"
        );
        assert_eq!(mask("postgres://tk@db/tk"), "postgres://tk@db/tk");
        let e = target("postgres://tk:s3cret@db/tk", None).unwrap_err();
        let text = e.to_string();
        assert!(
            !text.contains("s3cret") && text.contains("TUNEKEEPER_DB_PASSWORD"),
            "{text}"
        );
        let e = target("postgres://tk@db/tk?sslmode=verify-full", None).unwrap_err();
        assert!(e.to_string().contains("sslrootcert"), "{e}");
        assert!(target("postgres://tk@db/tk?sslmode=require", None).is_ok());
        let e = target("postgres://tk@db:notaport/tk", None).unwrap_err();
        assert!(e.to_string().contains("not a PostgreSQL URL"), "{e}");
        assert!(target("postgres://tk@127.0.0.1:5432/tk", Some("pw")).is_ok());
    }
}
