//! Benchmark: bytes of storage per host-day, as the collector stores today
//! (compact storage, schema version 2, default options).
//!
//! One simulated host-day: 1,440 reports (60 s interval, UUID ids as agents
//! send them) of one host with two broker JVMs (the fixture's JVM twice,
//! with different pids), GC figures varying, a drift appearing and going
//! away a few times, posted over HTTP to the real binary. Then the
//! collector is stopped and the database measured: the SQLite file (after
//! the shutdown checkpoint), or on PostgreSQL `pg_total_relation_size` of
//! every table of the collector (indexes and TOAST included). Measured
//! twice: the empty schema (a collector started and stopped), then after
//! the day; the difference is what a host-day adds. Target in issue 12: at
//! most 300 KB per host-day. Schema version 1 (every body verbatim) took
//! about 26 MB (SQLite) and 6.5 MB (PostgreSQL) for the same day.
//!
//! `cargo bench --bench collector_storage`
//! Knobs (environment): REPORTS (1440), BACKENDS (`sqlite,postgres`).

#[path = "../tests/integration/collector_support/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The simulated host-day, oldest first, as gzipped bodies.
fn host_day(reports: usize, hostname: &str) -> (Vec<Vec<u8>>, usize) {
    let fixture: Value =
        serde_json::from_str(include_str!("../tests/fixtures/collector/report.json"))
            .expect("fixture parses");
    let now = OffsetDateTime::now_utc();
    let mut raw = 0;
    let bodies = (0..reports)
        .map(|i| {
            let mut r = fixture.clone();
            let second = r["jvms"][0].clone();
            r["jvms"].as_array_mut().unwrap().push(second);
            r["jvms"][1]["pid"] = (r["jvms"][0]["pid"].as_u64().unwrap_or(1) + 1).into();
            r["id"] = uuid::Uuid::new_v4().to_string().into();
            r["host"]["hostname"] = hostname.into();
            let t = now - Duration::from_secs(((reports - i) * 60) as u64);
            r["time"] = t.format(&Rfc3339).unwrap().into();
            for j in 0..2 {
                let w = &mut r["jvms"][j]["gc"]["interval"];
                w["gc_ms_per_second"] = (3.0 + ((i * (j + 3)) % 17) as f64 * 0.7).into();
                w["overall"]["p99_ms"] = (8.0 + ((i * (j + 5)) % 23) as f64 * 0.9).into();
            }
            // A drift comes and goes every few hours.
            if (i / 180) % 2 == 1
                && let Some(f) = r["findings"].as_array_mut().and_then(|f| f.first_mut())
            {
                f["status"] = "drift".into();
                f["actual"] = "drifted".into();
            }
            let json = serde_json::to_vec(&r).unwrap();
            raw += json.len();
            gzip(&json)
        })
        .collect();
    (bodies, raw)
}

fn main() {
    let reports: usize = std::env::var("REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1440);
    let (first, raw) = host_day(reports, "broker-0001.kafka.example");
    let (second, _) = host_day(reports, "broker-0002.kafka.example");
    println!(
        "one host-day: {reports} reports, two JVMs, mean {} B JSON",
        raw / reports.max(1)
    );
    let kb_day = |b: u64| b as f64 / 1024.0 * 1440.0 / reports as f64;
    let backends = std::env::var("BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for backend in backends.split(',').map(str::trim) {
        let dir = tempfile::tempdir().unwrap();
        // The database's size now: the file, or every table of the collector.
        let (db, server) = match backend {
            "sqlite" => {
                let db = dir.path().join("collector.db");
                (db.to_str().unwrap().to_owned(), None)
            }
            "postgres" => {
                let server = pg::PgServer::start();
                let url = server.database("tk_day");
                (url, Some(server))
            }
            other => panic!("BACKENDS: unknown backend {other:?} (sqlite or postgres)"),
        };
        let size = || -> u64 {
            match &server {
                None => std::fs::metadata(&db).unwrap().len(),
                Some(server) => server
                    .psql(
                        "tk_day",
                        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c \
                         JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE n.nspname = 'public' AND c.relkind = 'r'",
                    )
                    .parse()
                    .unwrap(),
            }
        };
        // Rows replaced at every report (the host's row, the previous latest
        // document) leave dead space on PostgreSQL until autovacuum makes it
        // reusable (it does not grow with days); `VACUUM FULL` measures the
        // live data. SQLite reuses freed pages itself.
        let live = || -> u64 {
            if let Some(server) = &server {
                server.psql("tk_day", "VACUUM FULL");
            }
            size()
        };
        store(dir.path(), &db, &[]);
        let empty = size();
        store(dir.path(), &db, &first);
        let one = size();
        let live_one = live();
        // A second host's day: what each further host-day adds once every
        // table and index has its first pages.
        store(dir.path(), &db, &second);
        let two = size();
        let live_two = live();
        let old_mb = if server.is_some() { 6.5 } else { 26.0 };
        println!(
            "{backend}: empty schema {empty} B; one host-day added {:.0} KB as stored \
             ({:.0} KB live), a second host-day {:.0} KB as stored ({:.0} KB live); \
             {:.0} KB in all after one host-day (at 1,440 reports/day). \
             Target 300 KB per host-day; schema version 1 took about {old_mb} MB",
            kb_day(one.saturating_sub(empty)),
            kb_day(live_one.saturating_sub(empty)),
            kb_day(two.saturating_sub(live_one)),
            kb_day(live_two.saturating_sub(live_one)),
            kb_day(one),
        );
        if let Some(server) = &server {
            println!(
                "postgres relations after two host-days (live; name, bytes):\n{}",
                server.psql(
                    "tk_day",
                    "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't') \
                       AND c.relname NOT LIKE 'pg_toast_26%' \
                       AND pg_relation_size(c.oid) > 0 ORDER BY 2 DESC LIMIT 10",
                )
            );
        }
        drop(server);
    }
}

/// Starts a collector on `db`, posts every body (each must be stored),
/// stops it (SIGTERM: SQLite checkpoints into the main file).
fn store(dir: &std::path::Path, db: &str, bodies: &[Vec<u8>]) {
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "bench-token\n").unwrap();
    std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["collector", "--listen", "127.0.0.1:0", "--db", db])
        .env("TUNEKEEPER_DB_PASSWORD", pg::PASSWORD)
        .arg("--token-file")
        .arg(&tokens)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the collector");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "loopback only: {line:?}"
    );
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for (i, body) in bodies.iter().enumerate() {
        let status = client
            .post(format!("{base}/api/v1/reports"))
            .bearer_auth("bench-token")
            .header("content-encoding", "gzip")
            .body(body.clone())
            .send()
            .map(|r| r.status().as_u16());
        assert!(matches!(status, Ok(202)), "report {i}: {status:?}");
    }
    // An answered request proves the collector serves (and so handles
    // SIGTERM) before it is stopped, even when nothing was posted.
    let hosts = client.get(format!("{base}/api/v1/hosts")).send();
    assert!(matches!(hosts.map(|r| r.status().as_u16()), Ok(200)));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}
