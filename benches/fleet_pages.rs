//! Benchmark: the collector's pages at a fleet of 10,000 hosts, SQLite
//! beside PostgreSQL, and each page beside its peer, the unpaged
//! `GET /api/v1/hosts` (every host at once, what a page would cost if the
//! server did not page).
//!
//! The fleet: 10,000 hosts in 99 clusters (every 100th in none), every
//! 50th stale, every 97th with its clock ahead, every 20th with unhealthy
//! GC, every 10th drifting; stored through the storage layer (posting them
//! would time ingest, not pages), then `ANALYZE` on PostgreSQL (the
//! statistics autovacuum would have gathered by the time a fleet is this
//! big). The real binary serves; each path is requested 3 times to warm,
//! then 11 times timed: the median wall time over loopback (body read) and
//! the server's CPU per request (the collector's, plus on PostgreSQL the
//! sessions of its database), from /proc.
//!
//! Target: a page under 300 ms of server CPU. Not a test: on a loaded
//! machine the figures are the machine's, which is why the suite asserts
//! only what the pages show (`collector_fleet::fleet_of_ten_thousand`).
//!
//! `cargo bench --bench fleet_pages`
//! Knobs (environment): HOSTS (10000), BACKENDS (`sqlite,postgres`).

#[path = "../tests/integration/collector_support/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tunekeeper::collector::storage::report::{Outcome, Submission};

const WARM: usize = 3;
const TIMED: usize = 11;

/// RFC 3339 text of now plus `seconds` (negative: the past).
fn at(seconds: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(seconds))
        .format(&Rfc3339)
        .unwrap()
}

/// Sets a finding of `findings` with `key` to `status` and `actual`.
fn mark(findings: &mut Value, key: &str, status: &str, actual: String) {
    if let Some(f) = findings
        .as_array_mut()
        .and_then(|a| a.iter_mut().find(|f| f["key"] == key))
    {
        f["status"] = status.into();
        f["actual"] = actual.into();
    }
}

/// The fleet's reports, validated as the collector validates a post.
fn fleet(hosts: usize, now_ms: i64) -> Vec<Submission> {
    let mut base: Value =
        serde_json::from_str(include_str!("../tests/fixtures/collector/report.json")).unwrap();
    base["findings"].as_array_mut().unwrap().truncate(12);
    (0..hosts)
        .map(|i| {
            let host = format!("broker-{i:05}.dc{}.kafka.prod", i % 3);
            let mut r = base.clone();
            r["host"]["hostname"] = host.clone().into();
            r["id"] = format!("{host}-1").into();
            r["time"] = at(match i {
                _ if i % 97 == 5 => 1800,
                _ if i % 50 == 7 => -7200,
                _ => -30,
            })
            .into();
            if i % 100 != 0 {
                r["cluster"] =
                    serde_json::json!({ "name": format!("kafka-{:02}", i % 99), "from": "config" });
            }
            if i % 10 == 2 {
                mark(&mut r["findings"], "vm.swappiness", "drift", "60".into());
                let s = &mut r["summary"];
                s["ok"] = (s["ok"].as_u64().unwrap() - 1).into();
                s["drift"] = (s["drift"].as_u64().unwrap() + 1).into();
            }
            let (rate, p99, full) = if i % 20 == 1 {
                (25.0, 140.0, 1)
            } else {
                ((i % 130) as f64 / 10.0, 20.0 + (i % 25) as f64, 0)
            };
            let jvm = &mut r["jvms"][0];
            let w = &mut jvm["gc"]["interval"];
            w["gc_ms_per_second"] = rate.into();
            w["overall"]["p99_ms"] = p99.into();
            w["full_gcs"] = full.into();
            let f = &mut jvm["findings"];
            let status = |bad| if bad { "drift" } else { "ok" };
            mark(f, "gc_ms_per_second", status(rate > 15.0), rate.to_string());
            mark(f, "pause_p99_ms", status(p99 > 50.0), p99.to_string());
            mark(f, "full_gcs", status(full > 0), full.to_string());
            let mut s =
                tunekeeper::collector::http::ingest::validate(r.to_string().into_bytes(), now_ms)
                    .expect("a valid report");
            if i % 50 == 7 {
                s.received_ms = s.time_ms;
            }
            s
        })
        .collect()
}

/// Stores the fleet in SQLite at `db`, or in `url` on PostgreSQL.
fn fill(batch: &[Submission], db: &Path, url: Option<&str>) {
    use tunekeeper::collector::storage::{postgres, sqlite::store};
    let Some(url) = url else {
        let mut w = store::open_writer(db).unwrap();
        for chunk in batch.chunks(1000) {
            for r in store::insert_batch(&mut w, chunk) {
                assert_eq!(r.unwrap(), Outcome::Stored);
            }
        }
        return;
    };
    let target = postgres::target(url, Some(pg::PASSWORD)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (db, writers) = postgres::Pg::open(&target).await.unwrap();
        for chunk in batch.chunks(256) {
            for r in db.insert_batch(chunk).await {
                assert_eq!(r.unwrap(), Outcome::Stored);
            }
        }
        drop(db);
        writers.join().await;
    });
}

/// CPU ticks (user and system) of each live process in `pids`.
fn ticks(pids: &[u32]) -> HashMap<u32, u64> {
    pids.iter()
        .filter_map(|&pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command's closing parenthesis: utime is field 14, stime 15.
            let (_, rest) = stat.rsplit_once(')')?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((
                pid,
                f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
            ))
        })
        .collect()
}

/// The server side: the collector and, on PostgreSQL, the postmaster's
/// children serving `database` (sessions, and an autovacuum worker on it).
fn server_pids(collector: u32, server: Option<(&pg::PgServer, &str)>) -> Vec<u32> {
    let mut pids = vec![collector];
    if let Some((server, database)) = server {
        let pm = server.postmaster_pid();
        let kids =
            std::fs::read_to_string(format!("/proc/{pm}/task/{pm}/children")).unwrap_or_default();
        pids.extend(
            kids.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .filter(|p| {
                    std::fs::read(format!("/proc/{p}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(database))
                }),
        );
    }
    pids
}

/// CPU used between two samples by the processes of the second (one that
/// started in between counts from zero; one that ended is not counted).
fn cpu_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> Duration {
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let used: u64 = after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum();
    Duration::from_secs_f64(used as f64 / per_second)
}

struct Collector {
    child: Child,
    base: String,
}

impl Collector {
    fn start(dir: &Path, db: &str) -> Collector {
        // Pages need no token; the collector needs a token file to start.
        let tokens = dir.join("tokens");
        std::fs::write(&tokens, "bench-token\n").unwrap();
        std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
            .args(["collector", "--listen", "127.0.0.1:0", "--db", db])
            .arg("--token-file")
            .arg(&tokens)
            .env("TUNEKEEPER_DB_PASSWORD", pg::PASSWORD)
            .env("TUNEKEEPER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the collector");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
        Collector { child, base }
    }

    /// Waits (a minute at most) for the work a collector does once it
    /// starts (the clusters' trend, in the background), so that it is not
    /// counted as the first page's.
    fn settle(&self, client: &reqwest::blocking::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ready = client
                .get(format!("{}/api/v1/clusters", self.base))
                .send()
                .and_then(|r| r.text())
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| {
                    v.as_array()
                        .is_some_and(|a| a.iter().all(|c| c["trend_as_of"].is_string()))
                });
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("the clusters' trend was not ready after 60 s: timing anyway");
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One path's figures: median wall time, server CPU per request, bytes.
struct Timed {
    wall: Duration,
    cpu: Duration,
    bytes: usize,
}

fn time_path(
    client: &reqwest::blocking::Client,
    c: &Collector,
    server: Option<(&pg::PgServer, &str)>,
    path: &str,
) -> Timed {
    let get = || {
        let r = client.get(format!("{}{path}", c.base)).send().expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.bytes().unwrap().len()
    };
    for _ in 0..WARM {
        get();
    }
    let pids = server_pids(c.child.id(), server);
    let before = ticks(&pids);
    let mut walls = Vec::with_capacity(TIMED);
    let mut bytes = 0;
    for _ in 0..TIMED {
        let t = Instant::now();
        bytes = get();
        walls.push(t.elapsed());
    }
    let after = ticks(&server_pids(c.child.id(), server));
    walls.sort();
    Timed {
        wall: walls[TIMED / 2],
        cpu: cpu_between(&before, &after) / TIMED as u32,
        bytes,
    }
}

fn main() {
    let hosts: usize = std::env::var("HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let backends = std::env::var("BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let paths = [
        "/",
        "/?sort=host",
        "/?sort=gc-rate",
        "/?q=broker-0123",
        "/?state=stale",
        "/?cluster=kafka-07",
        "/?cluster=(no%20cluster)&state=stale",
        "/hosts/broker-04242.dc0.kafka.prod",
        "/api/v1/hosts?limit=100",
        "/api/v1/hosts?limit=100&cluster=kafka-42",
        "/api/v1/hosts?limit=1000",
        "/api/v1/clusters",
        "/api/v1/hosts",
    ];
    let mut columns = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("collector.db");
        let server = match backend {
            "sqlite" => None,
            "postgres" => Some(pg::PgServer::start()),
            other => panic!("BACKENDS: unknown backend {other:?} (sqlite or postgres)"),
        };
        let url = server.as_ref().map(|s| s.database("tk_fleet"));
        let t = Instant::now();
        fill(&fleet(hosts, now_ms()), &db, url.as_deref());
        if let Some(s) = &server {
            s.psql("tk_fleet", "ANALYZE");
        }
        eprintln!(
            "{backend}: {hosts} hosts stored in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let c = Collector::start(dir.path(), url.as_deref().unwrap_or(db.to_str().unwrap()));
        c.settle(&client);
        let on = server.as_ref().map(|s| (s, "tk_fleet"));
        let figures: Vec<Timed> = paths
            .iter()
            .map(|p| time_path(&client, &c, on, p))
            .collect();
        columns.push((backend.to_owned(), figures));
        drop(c);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "fleet pages at {hosts} hosts: median wall of {TIMED} (ms) and server CPU per request (ms); \
         load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    print!("{:<42}", "path");
    for (backend, _) in &columns {
        print!(" {:>18} {:>10}", format!("{backend} wall/cpu"), "bytes");
    }
    println!();
    for (i, path) in paths.iter().enumerate() {
        let peer = if *path == "/api/v1/hosts" {
            " (peer: unpaged)"
        } else {
            ""
        };
        print!("{:<42}", format!("{path}{peer}"));
        for (_, figures) in &columns {
            let f = &figures[i];
            print!(
                " {:>18} {:>10}",
                format!(
                    "{:.1} / {:.1}",
                    f.wall.as_secs_f64() * 1000.0,
                    f.cpu.as_secs_f64() * 1000.0
                ),
                f.bytes
            );
        }
        println!();
    }
}

fn now_ms() -> i64 {
    tunekeeper::collector::clock::now_ms()
}
