//! The collector end to end: the real binary on a loopback port, a real
//! SQLite file in a temporary directory, real HTTP requests.

use crate::collector_support;

// The same tests on SQLite and on a real PostgreSQL server.
on_both!(
    stores_drops_duplicates_and_lists_newest_first,
    refuses_bad_requests_with_the_right_status_and_stays_up,
    hostile_host_names_are_refused_and_hostile_ids_stored_verbatim,
    hosts_show_drift_gc_health_and_staleness,
    data_survives_a_graceful_restart,
    read_token_file_guards_reads,
    sigterm_during_ingest_keeps_every_acknowledged_report,
    host_page_names_the_window_of_every_gc_figure,
    retention_prunes_old_reports_and_gone_hosts,
);

use std::time::Duration;

use collector_support::{
    Collector, READ_TOKEN, TOKEN, ago, drift, eventually, exec_sql, gc, gzip, report,
};
use serde_json::Value;

fn ids(docs: &Value) -> Vec<String> {
    docs.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn host<'a>(hosts: &'a Value, name: &str) -> &'a Value {
    hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("host {name:?} missing from {hosts}"))
}

/// Keeps every document, so a listing holds every report (by default it
/// holds each host's latest and the changes: tests/integration/collector_compact.rs).
const KEEP_RAW: &[&str] = &["--keep-raw-days", "1"];

fn stores_drops_duplicates_and_lists_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), KEEP_RAW);
    let m = |n: u64| Duration::from_secs(60 * n);
    // Delivered out of order, as a spool flushing after an outage would.
    for (id, t) in [("r-3", ago(m(3))), ("r-1", ago(m(1))), ("r-2", ago(m(2)))] {
        let (status, body) = c.post(&report("b1", id, &t, 60));
        assert_eq!(status, 202, "{body}");
        assert!(body.contains("stored"), "{body}");
    }
    // Plain (not gzipped) bodies are accepted too.
    let plain = report("b1", "r-4", &ago(m(4)), 60).to_string().into_bytes();
    assert_eq!(c.post_raw(plain, Some(TOKEN), None).0, 202);

    let again = report("b1", "r-1", &ago(m(1)), 60);
    let (status, body) = c.post(&again);
    assert_eq!(status, 200, "a repeated id counts as delivered: {body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "duplicate");

    let all = c.get_json("/api/v1/hosts/b1/reports");
    assert_eq!(
        ids(&all),
        ["r-1", "r-2", "r-3", "r-4"],
        "newest first, stored once"
    );
    let two = c.get_json("/api/v1/hosts/b1/reports?limit=2");
    assert_eq!(ids(&two), ["r-1", "r-2"]);
    // Stored verbatim: the document round-trips with every field.
    assert_eq!(two[0]["jvms"][0]["gc"], again["jvms"][0]["gc"]);
    assert_eq!(two[0]["findings"], again["findings"]);

    let hosts = c.get_json("/api/v1/hosts");
    let h = host(&hosts, "b1");
    assert_eq!(
        h["last_report_id"], "r-1",
        "the late r-2 did not roll the host back"
    );
    assert_eq!(h["stale"], false);
    assert_eq!(h["profile"], "kafka-broker");
    assert_eq!(
        c.get_json("/api/v1/hosts/nobody/reports"),
        Value::Array(vec![])
    );
}

fn refuses_bad_requests_with_the_right_status_and_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collector::start(dir.path(), &[]);
    let good = report("b1", "ok-1", &ago(Duration::ZERO), 60);
    let body = || gzip(good.to_string().as_bytes());

    assert_eq!(c.post_raw(body(), None, Some("gzip")).0, 401, "no token");
    assert_eq!(
        c.post_raw(body(), Some("agent-token-0123456789abcdeX"), Some("gzip"))
            .0,
        401
    );
    assert_eq!(
        c.post_raw(body(), Some("agent-token"), Some("gzip")).0,
        401,
        "a prefix"
    );
    assert_eq!(
        c.post_raw(body(), Some("# old one, retired"), Some("gzip"))
            .0,
        401,
        "a comment line"
    );
    assert_eq!(
        c.post_raw(body(), Some(READ_TOKEN), Some("gzip")).0,
        401,
        "a reader token"
    );

    assert_eq!(c.post_raw(b"{not json".to_vec(), Some(TOKEN), None).0, 400);
    assert_eq!(c.post_raw(b"\xff\xfe".to_vec(), Some(TOKEN), None).0, 400);
    assert_eq!(
        c.post_raw(b"not gzip".to_vec(), Some(TOKEN), Some("gzip"))
            .0,
        400
    );
    assert_eq!(
        c.post_raw(br#"{"schema":1,"id":"x"}"#.to_vec(), Some(TOKEN), None)
            .0,
        400
    );
    let mut bad_time = good.clone();
    bad_time["time"] = "yesterday".into();
    assert_eq!(c.post(&bad_time).0, 400);
    let mut no_host = good.clone();
    no_host["host"]["hostname"] = "".into();
    assert_eq!(c.post(&no_host).0, 400);
    assert_eq!(c.post_raw(body(), Some(TOKEN), Some("br")).0, 415);

    let mut future = good.clone();
    future["schema"] = 2.into();
    assert_eq!(c.post(&future).0, 422);
    let (status, text) = c.post_raw(
        br#"{"schema": 99, "entirely": "different"}"#.to_vec(),
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 422, "{text}");

    // Over the 1 MiB default: plainly, and as a small gzip that inflates past it.
    let (status, _) = c.post_raw(vec![b' '; 2 << 20], Some(TOKEN), None);
    assert_eq!(status, 413);
    let bomb = gzip(&vec![b' '; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    assert_eq!(c.post_raw(bomb, Some(TOKEN), Some("gzip")).0, 413);

    assert!(c.alive(), "the collector survived all of that");
    assert_eq!(c.post(&good).0, 202);
    assert_eq!(ids(&c.get_json("/api/v1/hosts/b1/reports")), ["ok-1"]);
}

fn hostile_host_names_are_refused_and_hostile_ids_stored_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collector::start(dir.path(), KEEP_RAW);
    // None of these can be a host name: 422, nothing stored
    // (tests/integration/hostile_collector.rs covers the rule itself).
    let names = [
        "it's \"quoted\"",
        "'; DROP TABLE reports;--",
        "\"); DELETE FROM hosts; --",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "b/slash?x=1#frag %41",
        "бро́кер-1 \u{202e}",
    ];
    for (i, name) in names.iter().enumerate() {
        let (status, body) = c.post(&report(
            name,
            &format!("evil-{i}"),
            &ago(Duration::ZERO),
            60,
        ));
        assert_eq!(status, 422, "{name}: {body}");
    }
    assert!(c.alive());
    assert_eq!(c.get_json("/api/v1/hosts"), Value::Array(vec![]));
    // Report ids stay free text: the same strings as ids of one host are
    // stored and returned verbatim, through bound parameters only.
    // One clock reading: the listing's order is the times' order.
    let t0 = time::OffsetDateTime::now_utc();
    for (i, id) in names.iter().enumerate() {
        let t = t0 - Duration::from_secs(i as u64);
        let t = t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let (status, body) = c.post(&report("evil-host", id, &t, 60));
        assert_eq!(status, 202, "{id}: {body}");
    }
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(hosts.as_array().unwrap().len(), 1, "no table dropped");
    assert_eq!(host(&hosts, "evil-host")["last_report_id"], names[0]);
    let docs = c.get_json("/api/v1/hosts/evil-host/reports");
    assert_eq!(ids(&docs), names, "no row lost, each verbatim");
}

fn hosts_show_drift_gc_health_and_staleness() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut drifting = report("drifty", "d-1", &ago(Duration::from_secs(5)), 60);
    drift(&mut drifting, "vm.swappiness", "60");
    drift(&mut drifting, "vm.max_map_count", "65530");
    gc(&mut drifting, 22.5, 180.0, 2);
    assert_eq!(c.post(&drifting).0, 202);
    // Missed three 60 s intervals: stale.
    assert_eq!(
        c.post(&report("quiet", "q-1", &ago(Duration::from_secs(600)), 60))
            .0,
        202
    );
    // Ten minutes old but a one-hour interval: not stale.
    assert_eq!(
        c.post(&report(
            "hourly",
            "h-1",
            &ago(Duration::from_secs(600)),
            3600
        ))
        .0,
        202
    );

    let hosts = c.get_json("/api/v1/hosts");
    let d = host(&hosts, "drifty");
    assert_eq!(
        d["drift"], 5,
        "two kernel keys and three GC service levels: {d}"
    );
    assert_eq!(d["gc"]["health"], "unhealthy");
    assert_eq!(d["gc"]["gc_drift"], 3);
    assert_eq!(d["gc"]["gc_ms_per_second"], 22.5);
    assert_eq!(d["gc"]["pause_p99_ms"], 180.0);
    assert_eq!(d["gc"]["full_gcs_24h"], 2);
    assert_eq!(d["stale"], false);
    let keys: Vec<&str> = d["drifting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"vm.swappiness") && keys.contains(&"vm.max_map_count"),
        "{keys:?}"
    );

    let q = host(&hosts, "quiet");
    assert_eq!(q["stale"], true, "{q}");
    assert_eq!(q["drift"], 0);
    assert_eq!(q["gc"]["health"], "healthy");
    assert!(q["age_seconds"].as_i64().unwrap() >= 600);
    assert_eq!(host(&hosts, "hourly")["stale"], false);
}

fn retention_prunes_old_reports_and_gone_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(
        dir.path(),
        &["--retention-days", "2", "--prune-interval-seconds", "1"],
    );
    let day = Duration::from_secs(86_400);
    assert_eq!(c.post(&report("keep", "old", &ago(3 * day), 60)).0, 202);
    assert_eq!(
        c.post(&report("keep", "new", &ago(Duration::ZERO), 60)).0,
        202
    );
    assert_eq!(c.post(&report("gone", "gone-1", &ago(5 * day), 60)).0, 202);
    // Retention counts from receipt (tests/integration/hostile_collector.rs shows a
    // late report is kept): make "old" and "gone-1" received when they
    // were dated, with the collector stopped, then start it again.
    assert!(c.terminate().success());
    // The figures keep the report's time as an offset from receipt.
    let moved = exec_sql(
        dir.path(),
        "UPDATE samples SET received_at = received_at + skew_ms, skew_ms = 0
         WHERE skew_ms < -86400000",
    );
    assert_eq!(moved, 2);
    let moved = exec_sql(
        dir.path(),
        "UPDATE docs SET received_at = time WHERE id IN ('old', 'gone-1')",
    );
    assert_eq!(moved, 2, "the first reports are kept whole (changes)");
    let moved = exec_sql(
        dir.path(),
        "UPDATE hosts SET received_at = last_time, seen_at = last_time WHERE hostname = 'gone'",
    );
    assert_eq!(moved, 1);
    let c = Collector::start(
        dir.path(),
        &["--retention-days", "2", "--prune-interval-seconds", "1"],
    );
    let names = || -> Vec<String> {
        let hosts = c.get_json("/api/v1/hosts");
        hosts
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hostname"].as_str().unwrap().to_owned())
            .collect()
    };
    // Pruning runs every second; wait for a run after all three arrived.
    let pruned = eventually(|| {
        ids(&c.get_json("/api/v1/hosts/keep/reports")) == ["new"] && names() == ["keep"]
    });
    assert!(pruned, "the 3-day-old report outlived a 2-day retention");
    assert_eq!(
        ids(&c.get_json("/api/v1/hosts/gone/reports")),
        Vec::<String>::new()
    );
    assert_eq!(names(), ["keep"], "a host with nothing left is dropped");
}

fn data_survives_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), KEEP_RAW);
    for i in 0..20 {
        let r = report(
            &format!("b{}", i % 4),
            &format!("id-{i}"),
            &ago(Duration::from_secs(i)),
            60,
        );
        assert_eq!(c.post(&r).0, 202);
    }
    let status = c.terminate();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    let c = Collector::start(dir.path(), KEEP_RAW);
    assert_eq!(c.get_json("/api/v1/hosts").as_array().unwrap().len(), 4);
    assert_eq!(
        c.get_json("/api/v1/hosts/b1/reports")
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // Ids are still known after the restart.
    assert_eq!(
        c.post(&report("b1", "id-1", &ago(Duration::ZERO), 60)).0,
        200
    );
}

fn read_token_file_guards_reads() {
    let dir = tempfile::tempdir().unwrap();
    let read_tokens = dir.path().join("read-tokens");
    let c = Collector::start(
        dir.path(),
        &["--read-token-file", read_tokens.to_str().unwrap()],
    );
    assert_eq!(c.post(&report("b1", "r", &ago(Duration::ZERO), 60)).0, 202);
    for path in [
        "/api/v1/hosts",
        "/api/v1/hosts/b1/reports",
        "/",
        "/hosts/b1",
    ] {
        assert_eq!(c.get(path, None).0, 401, "{path} without a token");
        assert_eq!(
            c.get(path, Some(TOKEN)).0,
            401,
            "{path} with an agent token"
        );
        assert_eq!(
            c.get(path, Some(READ_TOKEN)).0,
            200,
            "{path} with a reader token"
        );
    }
    // A browser: HTTP Basic with the read token as password (base64 of "ops:" + READ_TOKEN).
    let (status, _) = c.get("/", None);
    assert_eq!(status, 401);
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let r = client.get(format!("{}/", c.base)).send().unwrap();
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Basic "), "{challenge}");
    let r = client
        .get(format!("{}/", c.base))
        .basic_auth("ops", Some(READ_TOKEN))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = client
        .get(format!("{}/", c.base))
        .basic_auth("ops", Some(TOKEN))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "agent tokens do not read");
    // Without the flag reads are open.
    let open_dir = tempfile::tempdir().unwrap();
    let open = Collector::start(open_dir.path(), &[]);
    assert_eq!(open.get("/api/v1/hosts", None).0, 200);
}

#[test]
fn refuses_to_start_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("empty");
    std::fs::write(&tokens, "# nobody\n\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["collector", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("c.db"))
        .arg("--token-file")
        .arg(&tokens)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(tokens.to_str().unwrap()) && err.contains("no tokens"),
        "{err}"
    );
}

fn sigterm_during_ingest_keeps_every_acknowledged_report() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), KEEP_RAW);
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let (base, acked) = (c.base.clone(), acked.clone());
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let (host, id) = (format!("t{t}"), format!("t{t}-{i}"));
                    match collector_support::try_post(
                        &base,
                        &report(&host, &id, &ago(Duration::ZERO), 60),
                    ) {
                        Ok(202) => acked.lock().unwrap().push((host, id)),
                        Ok(s) => panic!("unexpected status {s}"),
                        // The collector stopped accepting: expected after SIGTERM.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    assert!(eventually(|| acked.lock().unwrap().len() >= 200));
    let status = c.terminate();
    assert!(status.success(), "{status:?}");
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let c = Collector::start(dir.path(), KEEP_RAW);
    for t in 0..4 {
        let host = format!("t{t}");
        let stored = ids(&c.get_json(&format!("/api/v1/hosts/{host}/reports?limit=1000")));
        for (h, id) in acked.iter().filter(|(h, _)| *h == host) {
            assert!(
                stored.contains(id),
                "{h}: acknowledged {id} lost in shutdown"
            );
        }
    }
    println!("{} acknowledged reports all survived SIGTERM", acked.len());
}

fn host_page_names_the_window_of_every_gc_figure() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    // The interval's rate is 421.9 ms/s; the JVM's lifetime rate, which the
    // service level is checked against, is 401.5 ms/s.
    let mut r = report("b1", "w-1", &ago(Duration::ZERO), 60);
    gc(&mut r, 421.9, 30.0, 0);
    let f = r["jvms"][0]["findings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["key"] == "gc_ms_per_second")
        .unwrap();
    f["actual"] = "401.5".into();
    assert_eq!(c.post(&r).0, 202);
    let (status, page) = c.get("/hosts/b1", None);
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<div class="k">GC ms/s, last interval (worst JVM)</div><div class="v hot">421.9</div>"#),
        "the card says its window"
    );
    assert!(
        page.contains(r#"401.5 <small class="mut">JVM lifetime</small>"#),
        "the finding says its window"
    );
    let (_, fleet) = c.get("/", None);
    assert!(
        fleet.contains(">GC ms/s, last interval</a></th>"),
        "fleet column"
    );
}

#[test]
fn a_database_made_by_the_previous_main_migrates_in_place() {
    // tests/fixtures/collector/made-by-main-bc2c92c.db: made by main at
    // bc2c92c (no schema version yet), three reports from two hosts.
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/collector/made-by-main-bc2c92c.db"
    );
    std::fs::copy(fixture, dir.path().join("collector.db")).unwrap();
    // Retention far out: the fixture's reports were received in 2026.
    let c = Collector::start(dir.path(), &["--retention-days", "36500"]);
    let hosts = c.get_json("/api/v1/hosts");
    let names: Vec<&str> = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["old-a", "old-b"]);
    assert_eq!(host(&hosts, "old-a")["last_report_id"], "fixture-2");
    let docs = c.get_json("/api/v1/hosts/old-a/reports");
    assert_eq!(ids(&docs).len(), 2);
    let r = report("old-a", "after-upgrade", &ago(Duration::ZERO), 60);
    assert_eq!(c.post(&r).0, 202);
    assert_eq!(
        c.post(&report("old-b", "fixture-3", &ago(Duration::ZERO), 60))
            .0,
        200
    );
    assert_eq!(c.terminate().code(), Some(0));
    let db = rusqlite::Connection::open(dir.path().join("collector.db")).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2, "migrated and marked");
    let n: i64 = db
        .query_row("SELECT count(*) FROM samples", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 4, "every report's figures");
}
