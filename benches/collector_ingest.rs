//! Benchmark: ingest throughput and latency of `tunekeeper collector`.
//!
//! Starts the built binary on a loopback port with a temporary database,
//! then drives realistic reports (the ~12 KB fixture, compact JSON, gzipped,
//! each with a unique id, spread over many host names) over HTTP with a fixed
//! number of concurrent senders. Bounded in count and time; loopback only.
//! Target: at least 2,000 reports/s with p99 under 50 ms on a 2-core machine.
//!
//! Runs on each backend in turn: SQLite (a temporary file) and PostgreSQL
//! (a real server started for the run, as the tests do: `initdb` and
//! `pg_ctl` as `nobody`, on this machine, fsync on).
//!
//! `cargo bench --bench collector_ingest`
//! Knobs (environment): REPORTS (20000), CONCURRENCY (32), HOSTS (1000),
//! MAX_SECONDS (60), BACKENDS (`sqlite,postgres`).

#[path = "../tests/integration/collector_support/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn main() {
    let reports = env_or("REPORTS", 20_000);
    let concurrency = env_or("CONCURRENCY", 32).max(1);
    let hosts = env_or("HOSTS", 1000).max(1);
    let max_time = Duration::from_secs(env_or("MAX_SECONDS", 60) as u64);

    // The bodies are built before the clock starts: the benchmark measures the
    // collector, not the load generator's JSON and gzip work.
    let fixture: Value =
        serde_json::from_str(include_str!("../tests/fixtures/collector/report.json"))
            .expect("fixture parses");
    let now = OffsetDateTime::now_utc();
    let mut raw_total = 0usize;
    let bodies: Vec<Vec<u8>> = (0..reports)
        .map(|i| {
            let mut r = fixture.clone();
            r["id"] = format!("bench-{i:08}-{}", now.unix_timestamp()).into();
            r["host"]["hostname"] = format!("broker-{:04}.kafka.example", i % hosts).into();
            let t = now - Duration::from_secs(((reports - i) / hosts) as u64 * 60);
            r["time"] = t.format(&Rfc3339).unwrap().into();
            // Vary the GC figures so rows differ like real ones.
            r["jvms"][0]["gc"]["interval"]["gc_ms_per_second"] =
                (3.0 + (i % 17) as f64 * 0.7).into();
            let json = serde_json::to_vec(&r).unwrap();
            raw_total += json.len();
            gzip(&json)
        })
        .collect();
    let gz_total: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "reports: {reports} (mean {} B JSON, {} B gzipped), {hosts} hosts, concurrency {concurrency}",
        raw_total / reports.max(1),
        gz_total / reports.max(1)
    );

    let backends = std::env::var("BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for backend in backends.split(',').map(str::trim) {
        let bodies = bodies.clone();
        match backend {
            "sqlite" => run("sqlite", None, bodies, concurrency, max_time),
            "postgres" => {
                let server = pg::PgServer::start();
                let url = server.database("tk_bench");
                run("postgres", Some(&url), bodies, concurrency, max_time);
            }
            other => panic!("BACKENDS: unknown backend {other:?} (sqlite or postgres)"),
        }
    }
}

/// Starts a collector on `url` (SQLite when `None`), drives `bodies` at it
/// and prints the figures.
fn run(
    name: &str,
    url: Option<&str>,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
    max_time: Duration,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = match url {
        Some(u) => u.to_owned(),
        None => dir.path().join("collector.db").display().to_string(),
    };
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "bench-token\n").unwrap();
    std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["collector", "--listen", "127.0.0.1:0", "--db", &db])
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

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (elapsed, mut latencies, failures) =
        runtime.block_on(drive(&base, bodies, concurrency, max_time));

    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let listed: Value = client
        .get(format!("{base}/api/v1/hosts"))
        .send()
        .and_then(|r| r.text())
        .map(|t| serde_json::from_str(&t).unwrap_or(Value::Null))
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();

    latencies.sort();
    let done = latencies.len();
    let pct = |p: f64| {
        latencies
            .get(((done as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{name}: sent {done} in {:.2} s: {:.0} reports/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {failures} failures",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    println!(
        "hosts listed afterwards: {}; collector exit after SIGTERM: {status}",
        listed.as_array().map_or(0, Vec::len)
    );
}

async fn drive(
    base: &str,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
    max_time: Duration,
) -> (Duration, Vec<Duration>, usize) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = Arc::new(format!("{base}/api/v1/reports"));
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + max_time;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, bodies, next) =
            (client.clone(), url.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bodies.len() || Instant::now() > deadline {
                    break;
                }
                let t = Instant::now();
                let r = client
                    .post(url.as_str())
                    .bearer_auth("bench-token")
                    .header("content-type", "application/json")
                    .header("content-encoding", "gzip")
                    .body(bodies[i].clone())
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().as_u16() == 202 => {
                        let _ = resp.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => failures += 1,
                }
            }
            (lat, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (lat, f) = t.await.unwrap();
        all.extend(lat);
        failures += f;
    }
    (start.elapsed(), all, failures)
}
