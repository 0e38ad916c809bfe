//! SQLite storage. One writer connection (owned by the writer thread) and
//! short-lived reader connections; WAL mode lets readers run beside the
//! writer. Every value reaches SQL through bound parameters only: host names
//! and documents are untrusted and stored verbatim.

use std::path::Path;

use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::collector::limits::MAX_CONFLICT_MACHINES;
use crate::collector::storage::compact::{self, Options};
use crate::collector::storage::fleet::{
    self, ClusterCounts, Dialect, FleetCounts, FleetCursor, FleetPage, FleetQuery, HostWeekRow,
    SortValue, WeekSums,
};
use crate::collector::storage::health::DriftKey;
use crate::collector::storage::host::{DriftEvent, HostRow, HostView, Point};
use crate::collector::storage::report::{Cursor, Outcome, PageBuilder, ReportPage, Submission};
use crate::collector::storage::{drift, machines};

/// The schema, idempotent so every start can run it (version 2: reports
/// kept compact, see [`crate::collector::storage::compact`]).
const SCHEMA: &str = "
-- Small integer ids for host names: a report's row repeats the id, not the name.
CREATE TABLE IF NOT EXISTS host_ids (
    id       INTEGER PRIMARY KEY,
    hostname TEXT NOT NULL UNIQUE
);
-- One row per report: the figures the charts and the API draw. The report
-- id (16 bytes for a UUID, see compact::id_key) is unique for as long as
-- the row is kept: it answers duplicates (200) and conflicts (409).
CREATE TABLE IF NOT EXISTS samples (
    host             INTEGER NOT NULL,   -- host_ids.id
    received_at      INTEGER NOT NULL,   -- when the collector stored it, Unix ms
    id               BLOB NOT NULL,
    skew_ms          INTEGER NOT NULL,   -- the report's own time minus received_at
    drift            INTEGER NOT NULL,
    gc_ms_per_second REAL,
    pause_p99_ms     REAL,
    full_gcs         INTEGER NOT NULL,
    PRIMARY KEY (host, received_at, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS samples_id ON samples (id);
-- Full GCs are rare: a partial index makes 'full GCs in the last 24 h' cheap.
CREATE INDEX IF NOT EXISTS samples_full_gcs_received ON samples (received_at) WHERE full_gcs > 0;
-- Whole documents (deflated): each host's latest, each report whose
-- drifting findings changed, and every report under --keep-raw-days.
CREATE TABLE IF NOT EXISTS docs (
    host        INTEGER NOT NULL,
    time        INTEGER NOT NULL,        -- the report's own time, Unix ms
    id          TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    is_change   INTEGER NOT NULL,        -- 1: the findings changed with it
    size        INTEGER NOT NULL,        -- bytes of the document as received
    body        BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS docs_host_time ON docs (host, time, id);
CREATE UNIQUE INDEX IF NOT EXISTS docs_id ON docs (id);
-- Pruning raw documents (--keep-raw-days) goes by receipt.
CREATE INDEX IF NOT EXISTS docs_raw_received ON docs (received_at) WHERE is_change = 0;
CREATE TABLE IF NOT EXISTS hosts (
    hostname         TEXT PRIMARY KEY,
    last_id          TEXT NOT NULL,
    last_time        INTEGER NOT NULL,
    last_time_text   TEXT NOT NULL,
    received_at      INTEGER NOT NULL,   -- receipt of the report shown (last_id)
    interval_seconds INTEGER NOT NULL,
    profile          TEXT NOT NULL,
    findings         INTEGER NOT NULL,
    drift            INTEGER NOT NULL,
    gc_drift         INTEGER NOT NULL,
    jvms             INTEGER NOT NULL,
    has_gc           INTEGER NOT NULL,
    gc_ms_per_second REAL,
    pause_p99_ms     REAL,
    drifting         TEXT NOT NULL       -- JSON array of DriftKey
);
-- Each machine that reported under a host name (schema version 3): its
-- latest report's effective time and drifting keys, which its next report
-- is compared with (see storage::machines).
CREATE TABLE IF NOT EXISTS machines (
    hostname  TEXT NOT NULL,
    machine   TEXT NOT NULL,             -- machine id, '' for reports without one
    last_time INTEGER NOT NULL,          -- effective time of its latest report, Unix ms
    last_seen INTEGER NOT NULL,          -- receipt of its last report
    drifting  TEXT NOT NULL,             -- JSON array of DriftKey
    PRIMARY KEY (hostname, machine)
) WITHOUT ROWID;
-- When each key started drifting and when it came back, per host.
CREATE TABLE IF NOT EXISTS drift_events (
    hostname TEXT NOT NULL,
    time     INTEGER NOT NULL,
    check_name TEXT NOT NULL,
    key      TEXT NOT NULL,
    state    TEXT NOT NULL,              -- 'drift', 'ok', 'stopped' or 'waived'
    expected TEXT NOT NULL,
    actual   TEXT                        -- 'drift': the value; 'waived': the justification
);
CREATE INDEX IF NOT EXISTS drift_events_host_time ON drift_events (hostname, time);
";

/// The schema version this collector writes (`PRAGMA user_version`);
/// a database with a larger one is refused at start. Version 1 kept every
/// report's body in `reports`; version 2 keeps them compact; version 3
/// keeps each machine under a host name apart (`machines`, the machine
/// columns of `hosts` and `drift_events`).
pub const SCHEMA_VERSION: i64 = 3;

/// Columns added after the first release: `(table, column, declaration)`.
/// Added to an older database at start; NULL in rows stored before.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // When the host last delivered anything (retention of the host row).
    ("hosts", "seen_at", "INTEGER"),
    // Report time minus receipt of the report received last, ms.
    ("hosts", "skew_ms", "INTEGER"),
    // Receipt of the report an event came from (retention of events).
    ("drift_events", "received_at", "INTEGER"),
    // The cluster of the report shown (`report.cluster.name`), NULL if none.
    ("hosts", "cluster", "TEXT"),
    // Findings a waiver in force covers in the report shown (NULL: stored
    // before waivers were counted, read as 0).
    ("hosts", "waived", "INTEGER"),
    // Version 3: the machine of the report shown ('' none said; NULL
    // stored before), the last turn of two machines and their ids.
    ("hosts", "machine_id", "TEXT"),
    ("hosts", "conflict_at", "INTEGER"),
    ("hosts", "conflict_machines", "TEXT"),
    // The machine whose report made the event (NULL: none said, or before).
    ("drift_events", "machine_id", "TEXT"),
    // The host's roles, JVMs by role and why GC figures are missing (JSON,
    // `health::HostDetail`); NULL before.
    ("hosts", "detail", "TEXT"),
    // Each role name between newlines, for the fleet's role filter; NULL
    // without roles.
    ("hosts", "role_names", "TEXT"),
];

/// Opens (creating if needed) the database for writing and migrates it.
pub fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    // WAL: readers never block the writer. FULL: every commit is fsynced
    // before the writer answers, so a 202 survives a power loss; the writer
    // commits whatever has queued up in one transaction (group commit), so
    // the fsync is paid once per batch, not once per report.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // A database a newer collector migrated: this one would misread it.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "schema version {version} is newer than this collector knows ({SCHEMA_VERSION}): \
                 run the collector release that made it, or a newer one"
            )),
        ));
    }
    conn.execute_batch(SCHEMA)?;
    for (table, column, decl) in ADDED_COLUMNS {
        let present: bool = conn
            .prepare(&format!(
                "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
            ))?
            .exists([column])?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    // Version 1 and before: every body in `reports`; made compact once.
    let v1: bool = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'reports'")?
        .exists([])?;
    if v1 {
        migrate_reports(&mut conn)?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    if v1 {
        // Give the space of the bodies back to the file system.
        conn.execute_batch("VACUUM")?;
    }
    Ok(conn)
}

/// Proves the database can be written: SQLite opens a file it may not
/// write read-only without a word, and every insert would then fail. A
/// real write (committed, so the WAL and the main file are both touched by
/// the checkpoint) is the only proof that covers file modes, read-only
/// mounts and immutable files alike.
pub fn check_writable(conn: &Connection) -> rusqlite::Result<()> {
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            Some("the file is read-only (opened without write access)".into()),
        ));
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS write_check (at INTEGER NOT NULL);
         BEGIN IMMEDIATE;
         DELETE FROM write_check;
         INSERT INTO write_check (at) VALUES (unixepoch());
         COMMIT;
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
}

/// Opens a read-only connection (the writer must have created the file).
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Stores submissions in one transaction with the default [`Options`]
/// (see [`insert_batch_with`]).
pub fn insert_batch(conn: &mut Connection, batch: &[Submission]) -> Vec<rusqlite::Result<Outcome>> {
    insert_batch_with(conn, batch, Options::default())
}

/// Stores submissions in one transaction (one commit for many reports is
/// what makes ingest fast). If the batch fails as a whole, each submission
/// is retried in its own transaction so one bad apple fails alone.
pub fn insert_batch_with(
    conn: &mut Connection,
    batch: &[Submission],
    opts: Options,
) -> Vec<rusqlite::Result<Outcome>> {
    let all = (|| {
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(batch.len());
        for s in batch {
            out.push(insert_one(&tx, s, opts)?);
        }
        tx.commit()?;
        Ok::<_, rusqlite::Error>(out)
    })();
    match all {
        Ok(out) => out.into_iter().map(Ok).collect(),
        Err(e) if batch.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, n = batch.len(), "batch insert failed; retrying one by one");
            batch
                .iter()
                .map(|s| {
                    let tx = conn.transaction()?;
                    let o = insert_one(&tx, s, opts)?;
                    tx.commit()?;
                    Ok(o)
                })
                .collect()
        }
    }
}

/// The integer id of a host name, made on first use.
fn host_id(tx: &rusqlite::Transaction<'_>, hostname: &str) -> rusqlite::Result<i64> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT id FROM host_ids WHERE hostname = ?1")?
        .query_row([hostname], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    tx.prepare_cached("INSERT INTO host_ids (hostname) VALUES (?1)")?
        .execute([hostname])?;
    Ok(tx.last_insert_rowid())
}

/// Stores a document (deflated); an id stored already is left as it is.
fn put_doc(
    tx: &rusqlite::Transaction<'_>,
    host: i64,
    s: &Submission,
    change: bool,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO docs (host, time, id, received_at, is_change, size, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        host,
        s.time_ms,
        s.id,
        s.received_ms,
        change,
        i64::try_from(s.body.len()).unwrap_or(i64::MAX),
        &s.packed[..],
    ])?;
    Ok(())
}

fn insert_one(
    tx: &rusqlite::Transaction<'_>,
    s: &Submission,
    opts: Options,
) -> rusqlite::Result<Outcome> {
    let d = &s.derived;
    let host = host_id(tx, &s.hostname)?;
    let key = compact::id_key(&s.id);
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO samples
             (host, received_at, id, skew_ms, drift, gc_ms_per_second, pause_p99_ms, full_gcs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            host,
            s.received_ms,
            key,
            s.time_ms.saturating_sub(s.received_ms),
            d.drift,
            d.gc_ms_per_second,
            d.pause_p99_ms,
            i64::try_from(d.full_gcs).unwrap_or(i64::MAX),
        ])?;
    if n == 0 {
        let owner: i64 = tx
            .prepare_cached("SELECT host FROM samples WHERE id = ?1")?
            .query_row([&key], |r| r.get(0))?;
        return Ok(if owner == host {
            Outcome::Duplicate
        } else {
            Outcome::Conflict
        });
    }
    // The host row as it was, before this delivery is noted.
    type Prev = (
        i64,
        String,
        String,
        Option<String>,
        i64,
        Option<i64>,
        Option<String>,
    );
    let prev: Option<Prev> = tx
        .prepare_cached(
            "SELECT MIN(last_time, received_at), drifting, last_id, machine_id,
                    COALESCE(seen_at, received_at), conflict_at, conflict_machines
             FROM hosts WHERE hostname = ?1",
        )?
        .query_row([&s.hostname], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()?;
    // Whatever it shows, the host delivered now: that keeps it from being
    // pruned, and its clock's offset is the one of what arrived last.
    tx.prepare_cached(
        "UPDATE hosts SET seen_at = MAX(COALESCE(seen_at, received_at), ?2), skew_ms = ?3
         WHERE hostname = ?1",
    )?
    .execute(params![
        s.hostname,
        s.received_ms,
        s.time_ms.saturating_sub(s.received_ms)
    ])?;
    let machine = machines::key(d.machine_id.as_deref());
    let own: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT last_time, drifting FROM machines WHERE hostname = ?1 AND machine = ?2",
        )?
        .query_row(params![s.hostname, machine], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let host_drifting: Vec<DriftKey> = prev
        .as_ref()
        .map(|p| serde_json::from_str(&p.1).unwrap_or_default())
        .unwrap_or_default();
    let own_drifting: Vec<DriftKey> = own
        .as_ref()
        .map(|o| serde_json::from_str(&o.1).unwrap_or_default())
        .unwrap_or_default();
    // The rules both backends store by (a report older than the one shown
    // does not roll the host back; each machine is compared with itself).
    let plan = machines::plan(
        prev.as_ref().map(|p| machines::HostBefore {
            machine: p.3.as_deref(),
            seen_ms: p.4,
            shown_ms: p.0,
            drifting: &host_drifting,
        }),
        own.as_ref().map(|o| machines::MachineBefore {
            last_ms: o.0,
            drifting: &own_drifting,
        }),
        s,
    );
    put_machine(tx, s, machine, !plan.machine_late)?;
    let change = !plan.machine_late && compact::findings_changed(plan.prev, &d.drifting);
    if !plan.machine_late {
        record_transitions(tx, s, plan.prev.unwrap_or_default())?;
    }
    let conflict = match (&plan.turn, &prev) {
        (true, _) => Some((s.received_ms, conflict_machines(tx, s)?)),
        (false, Some(p)) => p.5.map(|at| (at, p.6.clone().unwrap_or_default())),
        (false, None) => None,
    };
    if plan.host_late {
        // Its figures are kept; its document if it is a change for its
        // machine (or raw ones are kept); the host row stays.
        if change || opts.keep_raw() {
            put_doc(tx, host, s, change)?;
        }
        if plan.turn {
            tx.prepare_cached(
                "UPDATE hosts SET conflict_at = ?2, conflict_machines = ?3 WHERE hostname = ?1",
            )?
            .execute(params![
                s.hostname,
                conflict.as_ref().map(|c| c.0),
                conflict.as_ref().map(|c| c.1.as_str())
            ])?;
        }
        return Ok(Outcome::Stored);
    }
    put_doc(tx, host, s, change)?;
    if !opts.keep_raw()
        && let Some(p) = &prev
    {
        // The previous latest document, unless it marks a change.
        tx.prepare_cached("DELETE FROM docs WHERE id = ?1 AND is_change = 0")?
            .execute([&p.2])?;
    }
    let drifting = serde_json::to_string(&d.drifting).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT INTO hosts (hostname, last_id, last_time, last_time_text, received_at,
             interval_seconds, profile, findings, drift, gc_drift, jvms, has_gc,
             gc_ms_per_second, pause_p99_ms, drifting, seen_at, skew_ms, cluster, waived,
             machine_id, conflict_at, conflict_machines, detail, role_names)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?5, ?16, ?17,
                 ?18, ?19, ?20, ?21, ?22, ?23)
         ON CONFLICT (hostname) DO UPDATE SET
             last_id = excluded.last_id, last_time = excluded.last_time,
             last_time_text = excluded.last_time_text, received_at = excluded.received_at,
             interval_seconds = excluded.interval_seconds, profile = excluded.profile,
             findings = excluded.findings, drift = excluded.drift, gc_drift = excluded.gc_drift,
             jvms = excluded.jvms, has_gc = excluded.has_gc,
             gc_ms_per_second = excluded.gc_ms_per_second, pause_p99_ms = excluded.pause_p99_ms,
             drifting = excluded.drifting,
             seen_at = MAX(COALESCE(hosts.seen_at, hosts.received_at), excluded.seen_at),
             skew_ms = excluded.skew_ms, cluster = excluded.cluster,
             waived = excluded.waived, machine_id = excluded.machine_id,
             conflict_at = excluded.conflict_at, conflict_machines = excluded.conflict_machines,
             detail = excluded.detail, role_names = excluded.role_names",
    )?
    .execute(params![
        s.hostname,
        s.id,
        s.time_ms,
        s.time_text,
        s.received_ms,
        i64::try_from(s.interval_seconds).unwrap_or(i64::MAX),
        s.profile,
        d.findings,
        d.drift,
        d.gc_drift,
        d.jvms,
        d.has_gc,
        d.gc_ms_per_second,
        d.pause_p99_ms,
        drifting,
        s.time_ms.saturating_sub(s.received_ms),
        d.cluster,
        d.waived,
        machine,
        conflict.as_ref().map(|c| c.0),
        conflict.as_ref().map(|c| c.1.as_str()),
        d.detail.to_column(),
        d.detail.role_names(),
    ])?;
    Ok(Outcome::Stored)
}

/// Notes that `machine` delivered `s`: always its last receipt; its
/// effective time and drifting keys when `latest` (not older than its
/// latest report).
fn put_machine(
    tx: &rusqlite::Transaction<'_>,
    s: &Submission,
    machine: &str,
    latest: bool,
) -> rusqlite::Result<()> {
    if latest {
        let drifting = serde_json::to_string(&s.derived.drifting).unwrap_or_else(|_| "[]".into());
        tx.prepare_cached(
            "INSERT INTO machines (hostname, machine, last_time, last_seen, drifting)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (hostname, machine) DO UPDATE SET
                 last_time = excluded.last_time, drifting = excluded.drifting,
                 last_seen = MAX(machines.last_seen, excluded.last_seen)",
        )?
        .execute(params![
            s.hostname,
            machine,
            s.effective_ms(),
            s.received_ms,
            drifting
        ])?;
    } else {
        tx.prepare_cached(
            "UPDATE machines SET last_seen = MAX(last_seen, ?3) WHERE hostname = ?1 AND machine = ?2",
        )?
        .execute(params![s.hostname, machine, s.received_ms])?;
    }
    Ok(())
}

/// The machines that reported under `s`'s host name within the conflict
/// window before it, latest first, bounded: a JSON array.
fn conflict_machines(tx: &rusqlite::Transaction<'_>, s: &Submission) -> rusqlite::Result<String> {
    let since = s
        .received_ms
        .saturating_sub(machines::window_ms(machines::interval(s)));
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT machine FROM machines WHERE hostname = ?1 AND last_seen >= ?2
             ORDER BY last_seen DESC, machine LIMIT ?3",
        )?
        .query_map(
            params![s.hostname, since, MAX_CONFLICT_MACHINES as i64],
            |r| r.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
}

/// Writes the drift events of `s` against the host's previous drifting
/// keys (see [`super::drift::changes`]).
fn record_transitions(
    tx: &rusqlite::Transaction<'_>,
    s: &Submission,
    prev: &[DriftKey],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO drift_events
             (hostname, time, check_name, key, state, expected, actual, received_at, machine_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let (at, received) = (s.effective_ms(), s.received_ms);
    for (k, change) in drift::changes(prev, &s.derived) {
        let actual = drift::stored_actual(k, change, &s.derived);
        stmt.execute(params![
            s.hostname,
            at,
            k.check,
            k.key,
            change.as_str(),
            k.expected,
            actual,
            received,
            s.derived.machine_id
        ])?;
    }
    Ok(())
}

/// Turns a version-1 database (every body in `reports`) into version 2, in
/// one transaction: every report becomes a row of figures; the documents of
/// each host's first report, of each report a drift event came from and of
/// each host's latest report are kept (deflated); the bodies are dropped.
fn migrate_reports(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "INSERT OR IGNORE INTO host_ids (hostname) SELECT hostname FROM hosts;
         INSERT OR IGNORE INTO host_ids (hostname) SELECT DISTINCT hostname FROM reports;",
    )?;
    let mut copied = 0usize;
    {
        let mut read = tx.prepare(
            "SELECT h.id, r.received_at, r.id, r.time, r.drift, r.gc_ms_per_second,
                    r.pause_p99_ms, r.full_gcs
             FROM reports r JOIN host_ids h ON h.hostname = r.hostname",
        )?;
        let mut write = tx.prepare(
            "INSERT OR IGNORE INTO samples
             (host, received_at, id, skew_ms, drift, gc_ms_per_second, pause_p99_ms, full_gcs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let received: i64 = r.get(1)?;
            let time: i64 = r.get(3)?;
            copied += write.execute(params![
                r.get::<_, i64>(0)?,
                received,
                compact::id_key(&r.get::<_, String>(2)?),
                time.saturating_sub(received),
                r.get::<_, i64>(4)?,
                r.get::<_, Option<f64>>(5)?,
                r.get::<_, Option<f64>>(6)?,
                r.get::<_, i64>(7)?,
            ])?;
        }
    }
    {
        // A change: the host's first report, or one a drift event came
        // from (same host, effective time and, when recorded, receipt).
        let mut read = tx.prepare(
            "SELECT h.id, r.time, r.id, r.received_at, r.body,
                    r.received_at = (SELECT MIN(received_at) FROM reports f WHERE f.hostname = r.hostname)
                    OR EXISTS (SELECT 1 FROM drift_events e
                               WHERE e.hostname = r.hostname AND e.time = MIN(r.time, r.received_at)
                                 AND COALESCE(e.received_at, r.received_at) = r.received_at)
             FROM reports r JOIN host_ids h ON h.hostname = r.hostname",
        )?;
        let latest: std::collections::HashSet<String> = tx
            .prepare("SELECT last_id FROM hosts")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut write = tx.prepare(
            "INSERT OR IGNORE INTO docs (host, time, id, received_at, is_change, size, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(2)?;
            let change: bool = r.get(5)?;
            if !change && !latest.contains(&id) {
                continue;
            }
            let body: String = r.get(4)?;
            write.execute(params![
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                id,
                r.get::<_, i64>(3)?,
                change,
                i64::try_from(body.len()).unwrap_or(i64::MAX),
                compact::pack(&body),
            ])?;
        }
    }
    tx.execute_batch("DROP TABLE reports")?;
    tx.commit()?;
    tracing::info!(
        reports = copied,
        "migrated the database to schema version 2 (compact reports)"
    );
    Ok(())
}

/// Deletes reports and drift events received before `cutoff_ms` and hosts
/// that delivered nothing since. Retention counts from receipt, never from
/// a report's own time: a report dated last week (a slow clock, a replayed
/// spool) was acknowledged now and is kept for the whole period. Returns the
/// number of reports deleted. Works host by host so each delete walks the
/// (host, received_at) key.
pub fn prune(conn: &mut Connection, cutoff_ms: i64) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let hosts: Vec<(i64, String)> = tx
        .prepare("SELECT id, hostname FROM host_ids")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut deleted = 0;
    for (id, h) in &hosts {
        deleted += tx
            .prepare_cached("DELETE FROM samples WHERE host = ?1 AND received_at < ?2")?
            .execute(params![id, cutoff_ms])?;
        tx.prepare_cached("DELETE FROM docs WHERE host = ?1 AND received_at < ?2")?
            .execute(params![id, cutoff_ms])?;
        // Events stored before receipt was recorded fall back to their time.
        tx.prepare_cached(
            "DELETE FROM drift_events WHERE hostname = ?1 AND COALESCE(received_at, time) < ?2",
        )?
        .execute(params![h, cutoff_ms])?;
    }
    tx.execute(
        "DELETE FROM hosts WHERE COALESCE(seen_at, received_at) < ?1",
        [cutoff_ms],
    )?;
    tx.execute("DELETE FROM machines WHERE last_seen < ?1", [cutoff_ms])?;
    // A host id is forgotten once nothing refers to it.
    tx.execute_batch(
        "DELETE FROM host_ids WHERE hostname NOT IN (SELECT hostname FROM hosts)
           AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.host = host_ids.id)
           AND NOT EXISTS (SELECT 1 FROM docs d WHERE d.host = host_ids.id)",
    )?;
    tx.commit()?;
    Ok(deleted)
}

/// Deletes documents kept only as raw ones (neither a host's latest nor a
/// change) received before `cutoff_ms`; returns how many.
pub fn prune_raw(conn: &mut Connection, cutoff_ms: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM docs WHERE is_change = 0 AND received_at < ?1
           AND id NOT IN (SELECT last_id FROM hosts)",
        [cutoff_ms],
    )
}

/// Every host, by host name.
pub fn hosts(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<HostView>> {
    let mut full: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    // Summed here, saturating: SQLite's SUM fails ("integer overflow") past
    // i64::MAX, and one such row would break every read for a day.
    let mut stmt = conn.prepare_cached(
        "SELECT h.hostname, s.full_gcs FROM samples s JOIN host_ids h ON h.id = s.host
         WHERE s.full_gcs > 0 AND s.received_at > ?1 AND s.received_at <= ?2",
    )?;
    let rows = stmt.query_map(params![now_ms - 86_400_000, now_ms], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (h, n) = row?;
        let sum = full.entry(h).or_default();
        *sum = sum.saturating_add(u64::try_from(n).unwrap_or(0));
    }
    let sql = format!(
        "SELECT {} FROM hosts ORDER BY hostname",
        fleet::HOST_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], |r| Ok(host_row(r)?.view(now_ms)))?;
    let mut out = Vec::new();
    for row in rows {
        let mut h = row?;
        h.gc.full_gcs_24h = full.get(&h.hostname).copied().unwrap_or(0);
        out.push(h);
    }
    Ok(out)
}

/// Full GCs of the last 24 hours before `now_ms` of the hosts named, summed
/// saturating (as in [`hosts`]).
fn full_gcs_of(
    conn: &Connection,
    now_ms: i64,
    names: &[&str],
) -> rusqlite::Result<std::collections::HashMap<String, u64>> {
    let mut full = std::collections::HashMap::new();
    let names = serde_json::to_string(names).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(
        "SELECT h.hostname, s.full_gcs FROM samples s JOIN host_ids h ON h.id = s.host
         WHERE s.full_gcs > 0 AND s.received_at > ?1 AND s.received_at <= ?2
           AND h.hostname IN (SELECT value FROM json_each(?3))",
    )?;
    let rows = stmt.query_map(params![now_ms - 86_400_000, now_ms, names], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (h, n) = row?;
        let sum: &mut u64 = full.entry(h).or_default();
        *sum = sum.saturating_add(u64::try_from(n).unwrap_or(0));
    }
    Ok(full)
}

/// One page of the fleet (see [`crate::collector::storage::fleet`]): only the rows shown are
/// read into views.
pub fn fleet_page(
    conn: &Connection,
    now_ms: i64,
    q: &FleetQuery,
) -> rusqlite::Result<FleetPage<HostView>> {
    let text = fleet::text_param(q);
    let (cname, without) = fleet::cluster_params(q);
    let role = fleet::role_param(q);
    let counts_sql = fleet::counts_sql(q.state, Dialect::Sqlite);
    let (counts, matching) = conn.prepare_cached(&counts_sql)?.query_row(
        params![now_ms, text, cname, without, role],
        |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
            Ok((
                FleetCounts {
                    hosts: n(0)?,
                    problems: n(1)?,
                    drifting: n(2)?,
                    unhealthy: n(3)?,
                    stale: n(4)?,
                    skewed: n(5)?,
                    waived_hosts: n(7)?,
                    waived: n(8)?,
                    gc_unknown: n(9)?,
                    healthy: n(10)?,
                },
                n(6)?,
            ))
        },
    )?;
    let read = |backwards: bool, cursor: Option<&FleetCursor>| {
        let (value, host): (Option<rusqlite::types::Value>, Option<&str>) = match cursor {
            None => (None, None),
            Some(c) => (
                Some(match &c.value {
                    SortValue::Num(v) => rusqlite::types::Value::Real(*v),
                    SortValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
                }),
                Some(c.hostname.as_str()),
            ),
        };
        let sql = fleet::page_sql(q, backwards, Dialect::Sqlite);
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                now_ms,
                text,
                value,
                host,
                i64::from(q.limit) + 1,
                cname,
                without,
                role
            ],
            |r| {
                let key = if q.sort.is_text() {
                    SortValue::Text(r.get(fleet::SORT_KEY_COLUMN)?)
                } else {
                    SortValue::Num(r.get(fleet::SORT_KEY_COLUMN)?)
                };
                Ok((host_row(r)?.view(now_ms), key))
            },
        )?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    };
    let cursor_of = |(h, k): &(HostView, SortValue)| FleetCursor {
        value: k.clone(),
        hostname: h.hostname.clone(),
    };
    let (mut rows, next, prev) = match &q.before {
        Some(c) => {
            let rows = read(true, Some(c))?;
            if rows.len() > q.limit as usize {
                fleet::assemble(q, true, rows, cursor_of)
            } else {
                // Fewer than a page before it: that is the first page.
                let first = FleetQuery {
                    before: None,
                    after: None,
                    ..q.clone()
                };
                fleet::assemble(&first, false, read(false, None)?, cursor_of)
            }
        }
        None => fleet::assemble(q, false, read(false, q.after.as_ref())?, cursor_of),
    };
    let names: Vec<&str> = rows.iter().map(|(h, _)| h.hostname.as_str()).collect();
    let full = full_gcs_of(conn, now_ms, &names)?;
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

/// One host's view (`None` if it never reported or was pruned): one row,
/// not the whole fleet's.
pub fn host_view(
    conn: &Connection,
    now_ms: i64,
    hostname: &str,
) -> rusqlite::Result<Option<HostView>> {
    let sql = format!(
        "SELECT {} FROM hosts WHERE hostname = ?1",
        fleet::HOST_COLUMNS
    );
    let Some(row) = conn
        .prepare_cached(&sql)?
        .query_row([hostname], host_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut h = row.view(now_ms);
    h.gc.full_gcs_24h = full_gcs_of(conn, now_ms, &[hostname])?
        .get(hostname)
        .copied()
        .unwrap_or(0);
    Ok(Some(h))
}

/// A `hosts` row read in the order of [`fleet::HOST_COLUMNS`].
fn host_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HostRow> {
    Ok(HostRow {
        hostname: r.get(0)?,
        profile: r.get(1)?,
        last_id: r.get(2)?,
        last_time_text: r.get(3)?,
        last_time_ms: r.get(4)?,
        interval_seconds: r.get(5)?,
        drift: r.get(6)?,
        findings: r.get(7)?,
        jvms: r.get(8)?,
        has_gc: r.get(9)?,
        gc_drift: r.get(10)?,
        gc_ms_per_second: r.get(11)?,
        pause_p99_ms: r.get(12)?,
        drifting: r.get(13)?,
        shown_received_ms: r.get(14)?,
        last_received_ms: r.get(15)?,
        skew_ms: r.get(16)?,
        cluster: r.get(17)?,
        waived: r.get(18)?,
        machine_id: r.get(19)?,
        conflict_at: r.get(20)?,
        conflict_machines: r.get(21)?,
        detail: r.get(22)?,
    })
}

/// One host's stored documents, newest first (by report time, then id).
pub fn report_bodies(
    conn: &Connection,
    hostname: &str,
    limit: u32,
) -> rusqlite::Result<Vec<String>> {
    let page = report_page(conn, hostname, limit, None, usize::MAX)?;
    let mut out = Vec::with_capacity(page.ids.len());
    for id in &page.ids {
        if let Some(b) = report_body(conn, id)? {
            out.push(b);
        }
    }
    Ok(out)
}

/// Chooses a page of a host's reports, newest first, after `after`: at most
/// `limit` documents and at most `budget` bytes of them (always at least
/// one, so a listing can never stall on a document larger than the budget).
/// Only ids and sizes are read here; the documents are read one by one as
/// they are sent, so a listing holds one document in memory, not a page.
pub fn report_page(
    conn: &Connection,
    hostname: &str,
    limit: u32,
    after: Option<&Cursor>,
    budget: usize,
) -> rusqlite::Result<ReportPage> {
    let (t, id) = match after {
        Some(c) => (Some(c.time_ms), Some(c.id.as_str())),
        None => (None, None),
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, time, size FROM docs
         WHERE host = (SELECT id FROM host_ids WHERE hostname = ?1)
           AND (?2 IS NULL OR time < ?2 OR (time = ?2 AND id < ?3))
         ORDER BY time DESC, id DESC LIMIT ?4",
    )?;
    let mut rows = stmt.query(params![hostname, t, id, i64::from(limit) + 1])?;
    let mut page = PageBuilder::new(limit, budget);
    while let Some(r) = rows.next()? {
        let len = usize::try_from(r.get::<_, i64>(2)?).unwrap_or(usize::MAX);
        if !page.push(r.get(0)?, r.get(1)?, len) {
            break;
        }
    }
    Ok(page.finish())
}

/// One stored document by id (`None` if pruned meanwhile, or if only its
/// figures were kept).
pub fn report_body(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    let packed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT body FROM docs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    packed.map(|p| unpacked(id, &p)).transpose()
}

/// A stored document inflated; damage is a read error naming the report.
fn unpacked(id: &str, packed: &[u8]) -> rusqlite::Result<String> {
    compact::unpack(id, packed)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Blob, Box::new(e)))
}

/// A host's figures from `since_ms` on, oldest first. A report's time counts
/// no later than its receipt (a clock ahead would draw it in the future).
pub fn series(conn: &Connection, hostname: &str, since_ms: i64) -> rusqlite::Result<Vec<Point>> {
    conn.prepare_cached(
        "SELECT received_at + MIN(skew_ms, 0) AS t, gc_ms_per_second, pause_p99_ms, full_gcs, drift
         FROM samples WHERE host = (SELECT id FROM host_ids WHERE hostname = ?1)
           AND received_at >= ?2 AND received_at + MIN(skew_ms, 0) >= ?2
         ORDER BY t, received_at, id",
    )?
    .query_map(params![hostname, since_ms], |r| {
        Ok(Point {
            time_ms: r.get(0)?,
            gc_ms_per_second: r.get(1)?,
            pause_p99_ms: r.get(2)?,
            full_gcs: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            drift: r.get(4)?,
        })
    })?
    .collect()
}

/// A host's drift events, oldest first.
pub fn drift_events(conn: &Connection, hostname: &str) -> rusqlite::Result<Vec<DriftEvent>> {
    conn.prepare_cached(
        "SELECT time, check_name, key, state, expected, actual, machine_id FROM drift_events
         WHERE hostname = ?1 ORDER BY time, rowid",
    )?
    .query_map([hostname], |r| {
        Ok(DriftEvent::from_columns(
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            &r.get::<_, String>(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?
    .collect()
}

/// The latest stored document of a host, if any.
pub fn latest_body(conn: &Connection, hostname: &str) -> rusqlite::Result<Option<String>> {
    let row: Option<(String, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, body FROM docs WHERE id = (SELECT last_id FROM hosts WHERE hostname = ?1)",
        )?
        .query_row([hostname], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(id, p)| unpacked(&id, &p)).transpose()
}

/// Each cluster's counts of hosts in each state (one GROUP BY over
/// `hosts`, see [`fleet::cluster_counts_sql`]), in no particular order.
pub fn cluster_counts(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<ClusterCounts>> {
    conn.prepare_cached(&fleet::cluster_counts_sql(Dialect::Sqlite))?
        .query_map([now_ms], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
            Ok(ClusterCounts {
                cluster: r.get(0)?,
                counts: FleetCounts {
                    hosts: n(1)?,
                    problems: n(2)?,
                    drifting: n(3)?,
                    unhealthy: n(4)?,
                    stale: n(5)?,
                    skewed: n(6)?,
                    waived_hosts: n(7)?,
                    waived: n(8)?,
                    gc_unknown: n(9)?,
                    healthy: n(10)?,
                },
            })
        })?
        .collect()
}

/// Each host's sums of this week and last week (see
/// [`crate::collector::storage::fleet::week_bounds`] for the windows), from
/// its stored samples, with its cluster now: the one source of the host
/// page's weeks and of the clusters' trend.
pub fn host_weeks(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<HostWeekRow>> {
    let (since, split) = fleet::week_bounds(now_ms);
    // TOTAL, not SUM: a float sum cannot fail on overflow (see `hosts`).
    conn.prepare_cached(
        "SELECT i.hostname, h.cluster, r.received_at + MIN(r.skew_ms, 0) > ?2 AS this_week,
                COUNT(*), TOTAL(r.gc_ms_per_second), COUNT(r.gc_ms_per_second),
                MAX(r.gc_ms_per_second), MAX(r.pause_p99_ms), TOTAL(r.full_gcs), SUM(r.drift > 0)
         FROM samples r JOIN host_ids i ON i.id = r.host JOIN hosts h ON h.hostname = i.hostname
         WHERE r.received_at >= ?1 AND r.received_at + MIN(r.skew_ms, 0) >= ?1
         GROUP BY i.hostname, h.cluster, this_week",
    )?
    .query_map(params![since, split], |r| {
        let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
        Ok(HostWeekRow {
            hostname: r.get(0)?,
            cluster: r.get(1)?,
            this_week: r.get(2)?,
            sums: WeekSums {
                reports: n(3)?,
                rate_sum: r.get(4)?,
                rate_reports: n(5)?,
                worst_rate: r.get(6)?,
                worst_p99: r.get(7)?,
                full_gcs: fleet::count(r.get::<_, f64>(8)?),
                drifting_reports: n(9)?,
            },
        })
    })?
    .collect()
}

/// The latest stored document of each host in `cluster` (`None`: the hosts
/// without one), as (host name, document), by host name.
pub fn cluster_latest(
    conn: &Connection,
    cluster: Option<&str>,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT h.hostname, d.id, d.body FROM hosts h JOIN docs d ON d.id = h.last_id
         WHERE h.cluster IS ?1 ORDER BY h.hostname",
    )?;
    let rows = stmt.query_map([cluster], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (host, id, packed) = row?;
        out.push((host, unpacked(&id, &packed)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::storage::health::Derived;

    fn sub(host: &str, id: &str, time_ms: i64, drifting: &[&str]) -> Submission {
        let derived = Derived {
            drift: drifting.len() as u32,
            drifting: drifting
                .iter()
                .map(|k| DriftKey {
                    check: "sysctl".into(),
                    key: (*k).into(),
                    expected: "1".into(),
                    actual: Some("60".into()),
                    roles: Vec::new(),
                })
                .collect(),
            ..Derived::default()
        };
        let body = format!(r#"{{"id":"{id}"}}"#);
        Submission {
            packed: compact::pack(&body),
            id: id.into(),
            hostname: host.into(),
            time_ms,
            time_text: String::new(),
            received_ms: time_ms,
            interval_seconds: 60,
            profile: "p".into(),
            derived,
            body,
        }
    }

    #[test]
    fn sums_of_stored_counts_never_fail_a_read() {
        // Ingest refuses counts this large; storage must not depend on it.
        let dir = tempfile::tempdir().unwrap();
        let mut w = open_writer(&dir.path().join("db")).unwrap();
        let now = 1_000_000;
        let big = |id: &str| {
            let mut s = sub("h", id, now, &[]);
            s.derived.full_gcs = u64::MAX;
            s
        };
        for r in insert_batch(&mut w, &[big("a"), big("b"), big("c")]) {
            assert_eq!(r.unwrap(), Outcome::Stored);
        }
        let r = open_reader(&dir.path().join("db")).unwrap();
        let hosts = hosts(&r, now).unwrap();
        assert_eq!(hosts[0].gc.full_gcs_24h, u64::MAX, "saturated");
    }

    #[test]
    fn batches_dedup_follow_latest_and_record_drift_transitions() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = open_writer(&dir.path().join("db")).unwrap();
        let out = insert_batch(
            &mut w,
            &[
                sub("h", "a", 1_000, &[]),
                sub("h", "b", 2_000, &["vm.swappiness"]),
                sub("h", "b", 2_000, &["vm.swappiness"]),
                sub("h", "c", 3_000, &["vm.max_map_count"]),
                // Late: older than c, must not move the host back nor add events.
                sub("h", "late", 1_500, &["x"]),
            ],
        );
        let out: Vec<Outcome> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            out,
            [
                Outcome::Stored,
                Outcome::Stored,
                Outcome::Duplicate,
                Outcome::Stored,
                Outcome::Stored
            ]
        );
        let r = open_reader(&dir.path().join("db")).unwrap();
        let hosts = hosts(&r, 4_000).unwrap();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].last_report_id, "c");
        let events = drift_events(&r, "h").unwrap();
        let ev: Vec<(i64, &str, bool)> = events
            .iter()
            .map(|e| (e.time_ms, e.key.as_str(), e.drifted))
            .collect();
        assert_eq!(
            ev,
            [
                (2_000, "vm.swappiness", true),
                (3_000, "vm.max_map_count", true),
                (3_000, "vm.swappiness", false)
            ]
        );
        // Kept whole: a (the first), b and c (changes); not the late one.
        assert_eq!(report_bodies(&r, "h", 10).unwrap().len(), 3);
        assert_eq!(prune(&mut w, 2_500).unwrap(), 3);
        assert_eq!(report_bodies(&r, "h", 10).unwrap(), [r#"{"id":"c"}"#]);
        assert_eq!(drift_events(&r, "h").unwrap().len(), 2);
        assert_eq!(prune(&mut w, 10_000).unwrap(), 1);
        assert!(super::hosts(&r, 10_000).unwrap().is_empty());
    }
}
