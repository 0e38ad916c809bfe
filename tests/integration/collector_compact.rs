//! Compact storage (schema version 2) on both backends: a row of figures
//! per report, whole documents only for each host's latest and for each
//! change of findings (every one under `--keep-raw-days`), and databases
//! made by earlier releases migrated in place.

use crate::collector_support;

on_both!(
    a_day_with_two_changes_keeps_three_change_documents_and_the_latest,
    keep_raw_days_keeps_every_document_then_prunes_them,
);

use std::path::Path;
use std::time::Duration;

use collector_support::pg::{PASSWORD, PgServer};
use collector_support::{Collector, ago, drift, exec_sql, postgres, report};
use serde_json::Value;
use tunekeeper::collector::Database;
use tunekeeper::collector::storage::compact::Options;
use tunekeeper::collector::storage::health::{Derived, DriftKey};
use tunekeeper::collector::storage::host::Point;
use tunekeeper::collector::storage::report::{Outcome, Submission};
use tunekeeper::collector::storage::{self, Storage};

fn ids(docs: &Value) -> Vec<String> {
    docs.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Opens the storage of the test's backend in `dir` and runs `f` on it.
fn with_storage<F, Fut>(dir: &Path, opts: Options, f: F)
where
    F: FnOnce(Storage) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = match postgres() {
        Some(server) => {
            let name = format!("tk_c{}", std::process::id());
            let url = server.database(&name);
            let target =
                tunekeeper::collector::storage::postgres::target(&url, Some(PASSWORD)).unwrap();
            Database::Postgres(Box::new(target))
        }
        None => Database::Sqlite(dir.join("collector.db")),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (s, closer) = storage::open_with(&db, opts).await.unwrap();
        f(s).await;
        closer.close().await.unwrap();
    });
}

/// Report `i` of a simulated day of `host`: one a minute, GC figures
/// varying, `drifting` keys drifting; some reports' clocks run ahead of
/// their receipt (charts draw those at receipt).
fn day_report(host: &str, i: i64, drifting: &[&str]) -> Submission {
    let start = 1_790_000_000_000;
    let time_ms = start + i * 60_000;
    let received_ms = if i % 7 == 0 {
        time_ms - 30_000
    } else {
        time_ms + 150
    };
    let id = uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 + i as u128)
        .hyphenated()
        .to_string();
    let derived = Derived {
        drift: drifting.len() as u32,
        findings: 40,
        jvms: 2,
        gc_ms_per_second: (i % 5 != 0).then_some(3.0 + (i % 17) as f64 * 0.731),
        pause_p99_ms: Some(8.0 + (i % 23) as f64 * 0.913),
        full_gcs: u64::from(i % 300 == 0),
        has_gc: true,
        drifting: drifting
            .iter()
            .map(|k| DriftKey {
                check: "sysctl".into(),
                key: (*k).into(),
                expected: "1".into(),
                // The observed value moves: not a change of findings.
                actual: Some(format!("{}", 60 + i)),
            })
            .collect(),
        ..Derived::default()
    };
    let body = format!(r#"{{"id":"{id}","i":{i},"pad":"{}"}}"#, "x".repeat(200));
    Submission {
        id: id.clone(),
        hostname: host.into(),
        time_ms,
        time_text: format!("t{i}"),
        received_ms,
        interval_seconds: 60,
        profile: "kafka-broker".into(),
        derived,
        packed: tunekeeper::collector::storage::compact::pack(&body),
        body,
    }
}

/// The points the version-1 storage drew for these reports (its query:
/// `MIN(time, received_at)` and the figures, ordered by that time).
fn old_points(subs: &[Submission]) -> Vec<Point> {
    let mut p: Vec<Point> = subs
        .iter()
        .map(|s| Point {
            time_ms: s.time_ms.min(s.received_ms),
            gc_ms_per_second: s.derived.gc_ms_per_second,
            pause_p99_ms: s.derived.pause_p99_ms,
            full_gcs: s.derived.full_gcs,
            drift: s.derived.drift,
        })
        .collect();
    p.sort_by_key(|p| p.time_ms);
    p
}

fn a_day_with_two_changes_keeps_three_change_documents_and_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    // 1,440 reports; swappiness drifts from report 500 to 999: two changes.
    let subs: Vec<Submission> = (0..1440)
        .map(|i| {
            let d: &[&str] = if (500..1000).contains(&i) {
                &["vm.swappiness"]
            } else {
                &[]
            };
            day_report("b1", i, d)
        })
        .collect();
    with_storage(dir.path(), Options::default(), |st| async move {
        for s in &subs {
            assert_eq!(st.insert(s.clone()).await.unwrap(), Outcome::Stored);
        }
        let page = st.report_page("b1", 100, None, usize::MAX).await.unwrap();
        let want: Vec<&str> = [1439, 1000, 500, 0]
            .iter()
            .map(|&i| subs[i].id.as_str())
            .collect();
        assert_eq!(page.ids, want, "latest, then the 3 changes, newest first");
        for id in &page.ids {
            let s = subs.iter().find(|s| s.id == *id).unwrap();
            assert_eq!(st.report_body(id).await.unwrap().as_deref(), Some(&*s.body));
        }
        // Only figures are kept of the others.
        assert_eq!(st.report_body(&subs[10].id).await.unwrap(), None);
        let now = subs[1439].received_ms;
        let data = st.host_data("b1", now, 0).await.unwrap();
        assert_eq!(data.latest.as_deref(), Some(&*subs[1439].body));
        assert_eq!(data.series, old_points(&subs), "charts draw what they drew");
        let since = subs[700].time_ms;
        let recent: Vec<Point> = old_points(&subs)
            .into_iter()
            .filter(|p| p.time_ms >= since)
            .collect();
        assert_eq!(st.host_data("b1", now, since).await.unwrap().series, recent);
        assert_eq!(data.events.len(), 2, "drifted, came back");
        let view = st.hosts(now).await.unwrap().remove(0);
        assert_eq!(view.last_report_id, subs[1439].id);
        assert_eq!(view.gc.full_gcs_24h, 5, "reports 0, 300, 600, 900 and 1200");

        // Duplicates and conflicts hold for reports kept as figures only.
        let mut again = subs[10].clone();
        again.received_ms = now + 1;
        assert_eq!(st.insert(again.clone()).await.unwrap(), Outcome::Duplicate);
        again.hostname = "b2".into();
        assert_eq!(st.insert(again).await.unwrap(), Outcome::Conflict);
        let page = st.report_page("b1", 100, None, usize::MAX).await.unwrap();
        assert_eq!(page.ids.len(), 4, "a duplicate adds no document");
    });
}

fn keep_raw_days_keeps_every_document_then_prunes_them() {
    let dir = tempfile::tempdir().unwrap();
    let keep = ["--keep-raw-days", "1", "--prune-interval-seconds", "1"];
    let c = Collector::start(dir.path(), &keep);
    for i in 0..5u64 {
        let r = report(
            "k",
            &format!("k-{i}"),
            &ago(Duration::from_secs(50 - i)),
            60,
        );
        assert_eq!(c.post(&r).0, 202);
    }
    let all = ["k-4", "k-3", "k-2", "k-1", "k-0"];
    assert_eq!(ids(&c.get_json("/api/v1/hosts/k/reports")), all);
    assert!(c.terminate().success());
    // Two documents received two days ago: past one day of raw documents.
    let moved = exec_sql(
        dir.path(),
        "UPDATE docs SET received_at = received_at - 172800000 WHERE id IN ('k-1', 'k-2', 'k-0')",
    );
    assert_eq!(moved, 3);
    let c = Collector::start(dir.path(), &keep);
    let pruned = collector_support::eventually(|| {
        ids(&c.get_json("/api/v1/hosts/k/reports")) == ["k-4", "k-3", "k-0"]
    });
    assert!(
        pruned,
        "k-1 and k-2 outlived --keep-raw-days 1 (k-0, the first, is a change): {:?}",
        ids(&c.get_json("/api/v1/hosts/k/reports"))
    );
    // Still known as delivered.
    assert_eq!(c.post(&report("k", "k-1", &ago(Duration::ZERO), 60)).0, 200);
    assert!(c.terminate().success());
    // Off again: the raw documents go, the latest and the change stay.
    let c = Collector::start(dir.path(), &["--prune-interval-seconds", "1"]);
    let pruned = collector_support::eventually(|| {
        ids(&c.get_json("/api/v1/hosts/k/reports")) == ["k-4", "k-0"]
    });
    assert!(pruned, "{:?}", ids(&c.get_json("/api/v1/hosts/k/reports")));
}

/// The series the version-1 SQLite storage drew for `host`, read from
/// its `reports` table with its own query.
/// One chart point as a row: time, GC ms/s, pause p99, full GCs, drift.
type Row = (i64, Option<f64>, Option<f64>, i64, i64);

/// A point as a [`Row`].
fn row(p: &Point) -> Row {
    (
        p.time_ms,
        p.gc_ms_per_second,
        p.pause_p99_ms,
        p.full_gcs as i64,
        i64::from(p.drift),
    )
}

fn v1_series(db: &Path, host: &str) -> Vec<Row> {
    let c = rusqlite::Connection::open(db).unwrap();
    c.prepare(
        "SELECT MIN(time, received_at) AS t, gc_ms_per_second, pause_p99_ms, full_gcs, drift
         FROM reports WHERE hostname = ?1 ORDER BY t",
    )
    .unwrap()
    .query_map([host], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn a_database_made_by_main_c611c05_migrates_with_its_history() {
    // tests/fixtures/collector/made-by-main-c611c05.db: made by main at
    // c611c05 (schema version 1): fix-a posted 8 reports (UUID ids), the
    // first drifting at the 4th and back at the 7th; fix-b 3 (text ids).
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/collector/made-by-main-c611c05.db"
    );
    let db = dir.path().join("collector.db");
    std::fs::copy(fixture, &db).unwrap();
    let before_a = v1_series(&db, "fix-a.kafka.example");
    let before_b = v1_series(&db, "fix-b.kafka.example");
    assert_eq!((before_a.len(), before_b.len()), (8, 3));
    let old_size = std::fs::metadata(&db).unwrap().len();

    with_storage(dir.path(), Options::default(), |st| async move {
        let now = i64::MAX / 2;
        let a = st.host_data("fix-a.kafka.example", now, 0).await.unwrap();
        let got: Vec<Row> = a.series.iter().map(row).collect();
        assert_eq!(got, before_a, "the chart's points survive the migration");
        assert_eq!(a.events.len(), 2, "drift events kept");
        let latest: Value = serde_json::from_str(a.latest.as_deref().unwrap()).unwrap();
        assert_eq!(latest["id"], "00000000-0000-4000-8000-00000000a007");
        let page = st
            .report_page("fix-a.kafka.example", 100, None, usize::MAX)
            .await
            .unwrap();
        let short: Vec<&str> = page.ids.iter().map(|i| &i[i.len() - 4..]).collect();
        assert_eq!(
            short,
            ["a007", "a006", "a003", "a000"],
            "latest + 3 changes"
        );
        let b = st
            .report_page("fix-b.kafka.example", 100, None, usize::MAX)
            .await
            .unwrap();
        assert_eq!(b.ids, ["b-report-2", "b-report-0"]);
        let body: Value =
            serde_json::from_str(&st.report_body("b-report-0").await.unwrap().unwrap()).unwrap();
        assert_eq!(body["host"]["hostname"], "fix-b.kafka.example");
        assert_eq!(
            st.hosts(now).await.unwrap().len(),
            2,
            "both hosts, as they were"
        );

        // Ids received before the upgrade are still duplicates or conflicts.
        let mut dup = day_report("fix-a.kafka.example", 1, &[]);
        dup.id = "00000000-0000-4000-8000-00000000a001".into();
        assert_eq!(st.insert(dup.clone()).await.unwrap(), Outcome::Duplicate);
        dup.hostname = "fix-b.kafka.example".into();
        assert_eq!(st.insert(dup).await.unwrap(), Outcome::Conflict);
        let mut dup = day_report("fix-b.kafka.example", 1, &[]);
        dup.id = "b-report-1".into();
        assert_eq!(st.insert(dup).await.unwrap(), Outcome::Duplicate);
    });
    let c = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let gone: bool = c
        .prepare("SELECT 1 FROM sqlite_master WHERE name = 'reports'")
        .unwrap()
        .exists([])
        .unwrap();
    assert!(!gone, "the bodies' table is dropped");
    let new_size = std::fs::metadata(&db).unwrap().len();
    assert!(
        new_size < old_size,
        "vacuumed: {new_size} bytes, was {old_size}"
    );
}

/// Version 1 of the PostgreSQL schema, as the collector at c611c05 made it.
const PG_V1: &str = r#"
CREATE TABLE tunekeeper_schema (version INTEGER NOT NULL);
INSERT INTO tunekeeper_schema (version) VALUES (1);
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

#[test]
fn a_version_1_postgres_database_migrates_with_its_history() {
    let server = PgServer::start();
    let url = server.database("tk_v1");
    server.psql("tk_v1", PG_V1);
    // Host p: r1 (first), r2, r3 drifting (an event), r4 latest; a clock
    // ahead on r2 (drawn at receipt). Host q: one report, a 16-byte text id.
    let u = |n: u32| format!("00000000-0000-4000-8000-0000000000{n:02}");
    let rows = [
        (u(1), "p", 1_000, 1_100, 0, Some(1.5), Some(9.0), 0),
        (u(2), "p", 2_500, 2_100, 0, None, Some(9.5), 1),
        (u(3), "p", 3_000, 3_100, 1, Some(2.5), None, 0),
        (u(4), "p", 4_000, 4_100, 1, Some(3.5), Some(10.5), 0),
        (
            "sixteen-byte-id!".into(),
            "q",
            4_000,
            4_100,
            0,
            None,
            None,
            0,
        ),
    ];
    for (id, host, t, rec, drift, gcms, p99, full) in &rows {
        let f = |v: &Option<f64>| v.map_or("NULL".into(), |v| v.to_string());
        server.psql(
            "tk_v1",
            &format!(
                "INSERT INTO reports VALUES ('{id}', '{host}', {t}, {rec}, {drift}, {}, {}, {full},
                 '{{\"id\":\"{id}\"}}')",
                f(gcms),
                f(p99)
            ),
        );
    }
    server.psql(
        "tk_v1",
        &format!(
            "INSERT INTO hosts VALUES ('p', '{}', 4000, 't', 4100, 60, 'kb', 40, 1, 0, 1, true,
                3.5, 10.5, '[{{\"check\":\"sysctl\",\"key\":\"k\",\"expected\":\"1\",\"actual\":\"2\"}}]',
                4100, -100),
             ('q', 'sixteen-byte-id!', 4000, 't', 4100, 60, 'kb', 40, 0, 0, 1, false, NULL, NULL,
                '[]', 4100, -100);
             INSERT INTO drift_events (hostname, time, check_name, key, state, expected, actual,
                received_at) VALUES ('p', 3000, 'sysctl', 'k', 'drift', '1', '2', 3100);",
            u(4)
        ),
    );
    let target = tunekeeper::collector::storage::postgres::target(&url, Some(PASSWORD)).unwrap();
    let db = Database::Postgres(Box::new(target));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (st, closer) = storage::open_with(&db, Options::default()).await.unwrap();
        let data = st.host_data("p", 10_000, 0).await.unwrap();
        let pts: Vec<Row> = data.series.iter().map(row).collect();
        assert_eq!(
            pts,
            [
                (1_000, Some(1.5), Some(9.0), 0, 0),
                (2_100, None, Some(9.5), 1, 0),
                (3_000, Some(2.5), None, 0, 1),
                (4_000, Some(3.5), Some(10.5), 0, 1)
            ],
            "the version-1 query's points"
        );
        assert_eq!(data.events.len(), 1);
        assert_eq!(data.latest.unwrap(), format!(r#"{{"id":"{}"}}"#, u(4)));
        let page = st.report_page("p", 10, None, usize::MAX).await.unwrap();
        assert_eq!(
            page.ids,
            [u(4), u(3), u(1)],
            "latest, the change, the first"
        );
        let page = st.report_page("q", 10, None, usize::MAX).await.unwrap();
        assert_eq!(page.ids, ["sixteen-byte-id!"]);
        let mut s = day_report("p", 0, &[]);
        s.id = u(2);
        assert_eq!(st.insert(s.clone()).await.unwrap(), Outcome::Duplicate);
        s.hostname = "q".into();
        assert_eq!(st.insert(s).await.unwrap(), Outcome::Conflict);
        let mut s = day_report("q", 0, &[]);
        s.id = "sixteen-byte-id!".into();
        assert_eq!(st.insert(s).await.unwrap(), Outcome::Duplicate);
        drop(st);
        closer.close().await.unwrap();
    });
    assert_eq!(
        server.psql("tk_v1", "SELECT max(version) FROM tunekeeper_schema"),
        "2"
    );
    assert_eq!(
        server.psql(
            "tk_v1",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'reports'"
        ),
        "0"
    );
}

#[test]
fn a_drift_in_a_real_report_is_a_change_over_http() {
    // The whole path: agents' documents, the collector's derivation, the
    // listing. Three reports, the second drifting: all three are changes.
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let m = |n: u64| Duration::from_secs(60 * n);
    let mut two = report("h", "r-2", &ago(m(3)), 60);
    drift(&mut two, "vm.swappiness", "60");
    for r in [
        report("h", "r-1", &ago(m(4)), 60),
        two,
        report("h", "r-3", &ago(m(2)), 60),
        report("h", "r-4", &ago(m(1)), 60),
        report("h", "r-5", &ago(m(0)), 60),
    ] {
        assert_eq!(c.post(&r).0, 202);
    }
    let docs = c.get_json("/api/v1/hosts/h/reports");
    assert_eq!(ids(&docs), ["r-5", "r-3", "r-2", "r-1"]);
    assert_eq!(docs[2]["findings"][0]["status"], "drift", "stored verbatim");
    assert_eq!(c.post(&report("h", "r-4", &ago(m(1)), 60)).0, 200);
    assert_eq!(c.post(&report("other", "r-4", &ago(m(1)), 60)).0, 409);
}

#[test]
fn host_ids_are_drawn_once_per_host_not_once_per_batch() {
    // PostgreSQL draws an identity number even for an insert that then
    // conflicts: one per batch would exhaust 2^31 ids in about 12 days at
    // 2,000 reports/s. Each host must draw one, once.
    collector_support::on_postgres(|| {
        let dir = tempfile::tempdir().unwrap();
        let server = postgres().unwrap();
        with_storage(dir.path(), Options::default(), |st| async move {
            for i in 0..20 {
                let s = day_report("first", i, &[]);
                assert_eq!(st.insert(s).await.unwrap(), Outcome::Stored);
            }
            let s = day_report("second", 100, &[]);
            assert_eq!(st.insert(s).await.unwrap(), Outcome::Stored);
        });
        let name = format!("tk_c{}", std::process::id());
        assert_eq!(
            server.psql(
                &name,
                "SELECT string_agg(id::TEXT, ',' ORDER BY id) FROM host_ids"
            ),
            "1,2"
        );
    });
}
