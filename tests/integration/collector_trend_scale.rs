//! The week-over-week aggregation at scale (SQLite, measured, not part of
//! the normal run: `cargo test --test integration collector_trend_scale:: -- --ignored
//! --nocapture`). Fills a database through the storage layer with HOSTS
//! hosts in four clusters reporting every INTERVAL seconds for 14 days
//! (200 x 60 s: 4,032,000 samples), times `cluster_weeks` on it, then
//! starts the real collector on it and times `GET /api/v1/clusters` and
//! `GET /`, which must not wait for that aggregation.
//!
//! `TK_TREND_SCALE_DIR` keeps the database between runs (filled once);
//! `TK_TREND_SCALE_INTERVAL` changes the interval.

use crate::collector_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use collector_support::{Collector, ago, gc};
use tunekeeper::collector::storage::report::{Outcome, Submission};
use tunekeeper::collector::storage::sqlite::store;

const HOSTS: usize = 200;
const DAYS: i64 = 14;

fn dir() -> PathBuf {
    std::env::var_os("TK_TREND_SCALE_DIR").map_or_else(
        || std::env::temp_dir().join("tk-trend-scale"),
        PathBuf::from,
    )
}

/// One validated report per host (its cluster set), the template of all
/// its samples.
fn templates(now_ms: i64) -> Vec<Submission> {
    (0..HOSTS)
        .map(|i| {
            let host = format!("broker-{i:03}.kafka");
            let mut r = collector_support::report(&host, "t", &ago(Duration::ZERO), 60);
            r["findings"].as_array_mut().unwrap().truncate(12);
            r["cluster"] = serde_json::json!({ "name": format!("c{}", i % 4), "from": "config" });
            gc(&mut r, (i % 13) as f64, 20.0, 0);
            tunekeeper::collector::http::ingest::validate(r.to_string().into_bytes(), now_ms)
                .unwrap()
        })
        .collect()
}

fn fill(path: &std::path::Path, now_ms: i64, interval_s: i64) -> usize {
    let templates = templates(now_ms);
    let mut w = store::open_writer(path).unwrap();
    let per_host = DAYS * 86_400 / interval_s;
    let mut n = 0;
    let t = Instant::now();
    // Oldest first, as reports arrive: each step one report of every host.
    let mut batch = Vec::with_capacity(2000);
    for k in (0..per_host).rev() {
        let at = now_ms - k * interval_s * 1000 - 5_000;
        for (i, tpl) in templates.iter().enumerate() {
            let mut s = tpl.clone();
            s.id = format!("{i}-{k}");
            s.received_ms = at;
            s.time_ms = at;
            s.derived.gc_ms_per_second = Some(((i as i64 + k) % 17) as f64);
            s.derived.drift = u32::from(k % 11 == 0);
            batch.push(s);
        }
        if batch.len() >= 2000 || k == 0 {
            for r in store::insert_batch(&mut w, &batch) {
                assert_eq!(r.unwrap(), Outcome::Stored);
            }
            n += batch.len();
            batch.clear();
        }
        if k % 1000 == 0 {
            eprintln!("{n} samples stored, {:.0} s", t.elapsed().as_secs_f64());
        }
    }
    n
}

#[test]
#[ignore = "a measurement: minutes of filling; run with --ignored --nocapture"]
fn cluster_weeks_at_scale() {
    let interval: i64 = std::env::var("TK_TREND_SCALE_INTERVAL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = dir();
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("collector.db");
    let now = tunekeeper::collector::clock::now_ms();
    if !dir.join("filled").exists() {
        let _ = std::fs::remove_file(&db);
        let t = Instant::now();
        let n = fill(&db, now, interval);
        println!(
            "filled {n} samples ({HOSTS} hosts, {DAYS} days at {interval} s) in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        std::fs::write(dir.join("filled"), n.to_string()).unwrap();
    }
    let samples = std::fs::read_to_string(dir.join("filled")).unwrap();
    let conn = store::open_writer(&db).unwrap();
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let rows = store::cluster_weeks(&conn, tunekeeper::collector::clock::now_ms()).unwrap();
        times.push(t.elapsed());
        assert_eq!(rows.len(), 8, "4 clusters, 2 weeks: {rows:?}");
    }
    times.sort();
    println!(
        "cluster_weeks over {samples} samples: {:.0} ms (median of 3; {})",
        times[1].as_secs_f64() * 1000.0,
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        }
    );
    drop(conn);

    // The collector on it: the API and the page answer from what is ready.
    let c = Collector::start(&dir, &["--retention-days", "15"]);
    for path in ["/api/v1/clusters", "/"] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let (status, body) = c.get(path, None);
            times.push(t.elapsed());
            assert_eq!(status, 200, "{body}");
        }
        times.sort();
        println!(
            "GET {path} at once after start: {:.1} ms (median of 5)",
            times[2].as_secs_f64() * 1000.0
        );
        assert!(times[2] < Duration::from_millis(300), "{path}: {times:?}");
    }
}
