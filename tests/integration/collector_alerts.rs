//! The collector's alerting end to end: `/metrics` of a real collector on
//! both backends, and `--webhook` posting to a real HTTP receiver on
//! loopback (a small threaded server in this file).

use crate::collector_support;

on_both!(
    metrics_count_hosts_by_cluster_and_state_and_reports_by_outcome,
    webhook_fires_and_resolves_drift_gc_and_staleness,
    webhook_delivers_after_the_receiver_comes_back,
    webhook_queue_keeps_the_newest_and_counts_the_dropped,
    no_stale_alert_storm_after_the_collector_was_down,
    webhook_fires_and_resolves_skew_and_parses_only_changed_clusters,
);

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use collector_support::{Collector, READ_TOKEN, TOKEN, ago, drift, eventually, gc, report};
use serde_json::Value;

/// One sample of an exposition: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text exposition format's samples (comments skipped).
fn samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        // Label values here hold no commas or quotes.
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            map.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
        out.push((name.to_owned(), map, value.parse().unwrap()));
    }
    out
}

/// The value of `name` with exactly `labels`, if exposed.
fn value(s: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    s.iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map(|(_, _, v)| *v)
}

fn scrape(c: &Collector) -> Vec<Sample> {
    let (status, body) = c.get("/metrics", Some(READ_TOKEN));
    assert_eq!(status, 200, "{body}");
    samples(&body)
}

fn in_cluster(r: &mut Value, name: &str) {
    r["cluster"] = serde_json::json!({ "name": name, "from": "config" });
}

fn metrics_count_hosts_by_cluster_and_state_and_reports_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let read_tokens = dir.path().join("read-tokens");
    let c = Collector::start(
        dir.path(),
        &["--read-token-file", read_tokens.to_str().unwrap()],
    );
    // Behind the read token.
    assert_eq!(c.get("/metrics", None).0, 401);
    assert_eq!(c.get("/metrics", Some(TOKEN)).0, 401);
    let now = ago(Duration::ZERO);
    // orders: one drifting, one GC-unhealthy, one both, one fine.
    let mut a = report("a1", "r-a1", &now, 60);
    in_cluster(&mut a, "orders");
    drift(&mut a, "vm.swappiness", "60");
    let mut b = report("b1", "r-b1", &now, 60);
    in_cluster(&mut b, "orders");
    gc(&mut b, 40.0, 20.0, 0);
    let mut both = report("c1", "r-c1", &now, 60);
    in_cluster(&mut both, "orders");
    drift(&mut both, "vm.swappiness", "60");
    gc(&mut both, 40.0, 20.0, 0);
    let mut fine = report("d1", "r-d1", &now, 60);
    in_cluster(&mut fine, "orders");
    // payments: one stale host (ten minutes old, a minute's interval).
    let mut stale = report("e1", "r-e1", &ago(Duration::from_secs(600)), 60);
    in_cluster(&mut stale, "payments");
    // No cluster at all.
    let lone = report("f1", "r-f1", &now, 60);
    for r in [&a, &b, &both, &fine, &stale, &lone] {
        assert_eq!(c.post(r).0, 202);
    }
    assert_eq!(c.post(&a).0, 200, "a duplicate");
    assert_eq!(c.post_raw(b"{not json".to_vec(), Some(TOKEN), None).0, 400);
    assert_eq!(c.post_raw(b"{}".to_vec(), None, None).0, 401);

    let s = scrape(&c);
    let hosts = |cluster: &str, state: &str| {
        value(
            &s,
            "tunekeeper_collector_hosts",
            &[("cluster", cluster), ("state", state)],
        )
    };
    assert_eq!(hosts("orders", "drifting"), Some(2.0));
    assert_eq!(hosts("orders", "gc_unhealthy"), Some(2.0));
    assert_eq!(hosts("orders", "stale"), Some(0.0));
    assert_eq!(hosts("orders", "ok"), Some(1.0));
    assert_eq!(hosts("payments", "stale"), Some(1.0));
    assert_eq!(hosts("payments", "ok"), Some(0.0));
    assert_eq!(hosts("", "ok"), Some(1.0));
    let total = |cluster: &str| {
        value(
            &s,
            "tunekeeper_collector_cluster_hosts",
            &[("cluster", cluster)],
        )
    };
    assert_eq!(total("orders"), Some(4.0));
    assert_eq!(total("payments"), Some(1.0));
    let received = |outcome: &str, code: &str| {
        value(
            &s,
            "tunekeeper_collector_reports_received_total",
            &[("outcome", outcome), ("code", code)],
        )
    };
    assert_eq!(received("stored", "202"), Some(6.0));
    assert_eq!(received("duplicate", "200"), Some(1.0));
    assert_eq!(received("refused", "400"), Some(1.0));
    assert_eq!(received("refused", "401"), Some(1.0));
    // Known statuses are there from the start, at zero: `increase()` in
    // the alert rules sees the first refusal.
    assert_eq!(received("refused", "413"), Some(0.0));
    let size = value(&s, "tunekeeper_collector_storage_bytes", &[]).expect("storage size");
    assert!(size >= 8192.0, "a database with six reports: {size} bytes");
    let backend = if collector_support::postgres().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(
        value(
            &s,
            "tunekeeper_collector_info",
            &[("version", env!("CARGO_PKG_VERSION")), ("backend", backend)]
        ),
        Some(1.0)
    );
    // Without --webhook there is no webhook to describe.
    assert!(!s.iter().any(|(n, _, _)| n.contains("webhook")));

    // A host that moves cluster is counted in its new one.
    let mut moved = report("d1", "r-d1-2", &ago(Duration::ZERO), 60);
    in_cluster(&mut moved, "payments");
    assert_eq!(c.post(&moved).0, 202);
    let s = scrape(&c);
    let total = |cluster: &str| {
        value(
            &s,
            "tunekeeper_collector_cluster_hosts",
            &[("cluster", cluster)],
        )
    };
    assert_eq!(total("orders"), Some(3.0));
    assert_eq!(total("payments"), Some(2.0));
}

/// A webhook receiver on loopback: answers every POST with `status` and
/// keeps the JSON bodies.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn on(listener: TcpListener) -> Receiver {
        Receiver::hanging(listener, 0)
    }

    /// Like [`Receiver::on`], but the first `hang` requests are read and
    /// never answered (the connection held for 20 s).
    fn hanging(listener: TcpListener, hang: usize) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, st) = (Arc::clone(&got), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut hung = 0;
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if hung < hang {
                    hung += 1;
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 65536];
                        let mut conn = conn;
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
                        while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                    });
                    continue;
                }
                if let Some(body) = read_request(conn) {
                    g.lock().unwrap().push(body);
                }
            }
        });
        Receiver {
            addr,
            got,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn messages(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }

    /// Every alert received so far, with its message's status.
    fn alerts(&self) -> Vec<Value> {
        self.messages()
            .iter()
            .flat_map(|m| m["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request, answers 200 and closes; the body as JSON.
fn read_request(mut conn: TcpStream) -> Option<Value> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .ok()?;
    assert!(head.starts_with("post /hook "), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    serde_json::from_slice(&buf[head_end..head_end + len]).ok()
}

fn find<'a>(alerts: &'a [Value], name: &str, host: &str, status: &str) -> Option<&'a Value> {
    alerts.iter().find(|a| {
        a["labels"]["alertname"] == name && a["labels"]["host"] == host && a["status"] == status
    })
}

fn webhook_args(url: &str) -> Vec<String> {
    vec![
        "--webhook".into(),
        url.into(),
        "--alert-interval-seconds".into(),
        "1".into(),
        "--webhook-timeout-seconds".into(),
        "2".into(),
    ]
}

fn start_with_webhook(dir: &std::path::Path, url: &str, extra: &[&str]) -> Collector {
    let mut args = webhook_args(url);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Collector::start(dir, &args)
}

fn webhook_fires_and_resolves_drift_gc_and_staleness() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let c = start_with_webhook(
        dir.path(),
        &rx.url(),
        &["--external-url", "https://fleet.example.org:8443/tk/"],
    );
    let mut r = report("b1", "r1", &ago(Duration::ZERO), 60);
    in_cluster(&mut r, "orders");
    drift(&mut r, "vm.swappiness", "60");
    assert_eq!(c.post(&r).0, 202);
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostDrifting", "b1", "firing").is_some()),
        "no firing alert: {:?}",
        rx.messages()
    );
    let msg = rx.messages()[0].clone();
    assert_eq!(msg["version"], "4");
    assert_eq!(msg["status"], "firing");
    assert_eq!(
        msg["groupKey"],
        "{}:{alertname=\"TunekeeperHostDrifting\", cluster=\"orders\"}"
    );
    assert_eq!(msg["groupLabels"]["cluster"], "orders");
    let firing = msg["alerts"][0].clone();
    assert_eq!(firing["labels"]["cluster"], "orders");
    assert_eq!(firing["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(msg["externalURL"], "https://fleet.example.org:8443/tk");
    assert_eq!(
        firing["generatorURL"],
        "https://fleet.example.org:8443/tk/hosts/b1"
    );
    assert!(
        firing["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("vm.swappiness: expected 1, found 60"),
        "{firing}"
    );

    // Fixed: resolved, same fingerprint and start, an end.
    let fixed = {
        let mut f = report("b1", "r2", &ago(Duration::ZERO), 60);
        in_cluster(&mut f, "orders");
        f
    };
    assert_eq!(c.post(&fixed).0, 202);
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostDrifting", "b1", "resolved").is_some()),
        "no resolved alert: {:?}",
        rx.messages()
    );
    let alerts = rx.alerts();
    let resolved = find(&alerts, "TunekeeperHostDrifting", "b1", "resolved").unwrap();
    assert_eq!(resolved["fingerprint"], firing["fingerprint"]);
    assert_eq!(resolved["startsAt"], firing["startsAt"]);
    assert_ne!(resolved["endsAt"], "0001-01-01T00:00:00Z");
    let drifting: Vec<_> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "TunekeeperHostDrifting")
        .collect();
    assert_eq!(drifting.len(), 2, "each change sent once: {alerts:?}");

    // GC over its service level, then healthy again.
    let mut slow = report("g1", "g-1", &ago(Duration::ZERO), 60);
    in_cluster(&mut slow, "orders");
    gc(&mut slow, 40.0, 20.0, 0);
    assert_eq!(c.post(&slow).0, 202);
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostGcUnhealthy", "g1", "firing").is_some()),
        "no GC alert: {:?}",
        rx.messages()
    );
    let gc_alert = find(&rx.alerts(), "TunekeeperHostGcUnhealthy", "g1", "firing")
        .unwrap()
        .clone();
    assert!(
        gc_alert["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("GC ms per second 40.0"),
        "{gc_alert}"
    );
    assert!(
        find(&rx.alerts(), "TunekeeperHostDrifting", "g1", "firing").is_none(),
        "a GC service level is not a drifting setting"
    );
    let mut healthy = report("g1", "g-2", &ago(Duration::ZERO), 60);
    in_cluster(&mut healthy, "orders");
    assert_eq!(c.post(&healthy).0, 202);
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostGcUnhealthy", "g1", "resolved").is_some()),
        "GC alert not resolved: {:?}",
        rx.messages()
    );

    // Staleness comes with time alone: a host on a 1 s interval is stale
    // after 3 s without any report, and fresh again with the next.
    let quick = report("q1", "q-1", &ago(Duration::ZERO), 1);
    assert_eq!(c.post(&quick).0, 202);
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostStale", "q1", "firing").is_some()),
        "no stale alert: {:?}",
        rx.messages()
    );
    let stale = find(&rx.alerts(), "TunekeeperHostStale", "q1", "firing")
        .unwrap()
        .clone();
    assert!(stale["labels"].get("cluster").is_none(), "{stale}");
    assert_eq!(
        c.post(&report("q1", "q-2", &ago(Duration::ZERO), 60)).0,
        202
    );
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostStale", "q1", "resolved").is_some()),
        "stale not resolved: {:?}",
        rx.messages()
    );
    let s = scrape_open(&c);
    assert_eq!(
        value(
            &s,
            "tunekeeper_collector_webhook_messages_total",
            &[("outcome", "delivered")]
        ),
        Some(rx.messages().len() as f64)
    );
    assert_eq!(
        value(&s, "tunekeeper_collector_alert_leader", &[]),
        Some(1.0)
    );
}

fn scrape_open(c: &Collector) -> Vec<Sample> {
    let (status, body) = c.get("/metrics", None);
    assert_eq!(status, 200, "{body}");
    samples(&body)
}

/// A loopback port nobody listens on now (bound, then released).
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn webhook_delivers_after_the_receiver_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_port();
    let url = format!("http://{addr}/hook");
    let c = start_with_webhook(dir.path(), &url, &[]);
    let mut r = report("b1", "r1", &ago(Duration::ZERO), 60);
    drift(&mut r, "vm.swappiness", "60");
    assert_eq!(c.post(&r).0, 202);
    // Queued, and attempted against a closed port.
    assert!(eventually(|| value(
        &scrape_open(&c),
        "tunekeeper_collector_webhook_queue_messages",
        &[]
    ) == Some(1.0)));
    std::thread::sleep(Duration::from_millis(1500));
    let s = scrape_open(&c);
    assert_eq!(
        value(
            &s,
            "tunekeeper_collector_webhook_messages_total",
            &[("outcome", "delivered")]
        ),
        Some(0.0),
        "nothing can be delivered yet"
    );
    let rx = Receiver::on(TcpListener::bind(addr).unwrap());
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostDrifting", "b1", "firing").is_some()),
        "not delivered after the receiver came back"
    );
    assert!(eventually(|| value(
        &scrape_open(&c),
        "tunekeeper_collector_webhook_queue_messages",
        &[]
    ) == Some(0.0)));
    assert_eq!(rx.messages().len(), 1);
}

/// A receiver that takes the request and never answers: the attempt ends
/// at `--webhook-timeout-seconds` (2) and the retry delivers.
#[test]
fn webhook_attempt_times_out_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::hanging(TcpListener::bind("127.0.0.1:0").unwrap(), 1);
    let c = start_with_webhook(dir.path(), &rx.url(), &[]);
    let mut r = report("b1", "r1", &ago(Duration::ZERO), 60);
    drift(&mut r, "vm.swappiness", "60");
    let posted = std::time::Instant::now();
    assert_eq!(c.post(&r).0, 202);
    assert!(
        eventually(|| !rx.messages().is_empty()),
        "not delivered after the hung attempt"
    );
    let took = posted.elapsed();
    // The first attempt hung until its 2 s bound (the receiver would hold
    // it for 20 s), then the retry was answered.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(rx.messages().len(), 1);
}

fn webhook_queue_keeps_the_newest_and_counts_the_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_port();
    let url = format!("http://{addr}/hook");
    let c = start_with_webhook(dir.path(), &url, &["--webhook-queue", "2"]);
    // Six clusters, one drifting host each: six messages, in cluster order.
    for i in 1..=6 {
        let mut r = report(&format!("h{i}"), &format!("r{i}"), &ago(Duration::ZERO), 60);
        in_cluster(&mut r, &format!("c{i}"));
        drift(&mut r, "vm.swappiness", "60");
        assert_eq!(c.post(&r).0, 202);
    }
    assert!(
        eventually(|| value(
            &scrape_open(&c),
            "tunekeeper_collector_webhook_messages_total",
            &[("outcome", "dropped")]
        ) == Some(4.0)),
        "{:?}",
        scrape_open(&c)
    );
    let s = scrape_open(&c);
    assert_eq!(
        value(&s, "tunekeeper_collector_webhook_queue_messages", &[]),
        Some(2.0)
    );
    let rx = Receiver::on(TcpListener::bind(addr).unwrap());
    assert!(eventually(|| rx.messages().len() >= 2));
    // Nothing left to send: no third message can still come.
    assert!(eventually(|| value(
        &scrape_open(&c),
        "tunekeeper_collector_webhook_queue_messages",
        &[]
    ) == Some(0.0)));
    let clusters: Vec<String> = rx
        .alerts()
        .iter()
        .map(|a| a["labels"]["cluster"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(clusters, ["c5", "c6"], "the newest two are kept, in order");
}

/// Two collectors on one PostgreSQL database: one leads and sends, so the
/// receiver gets each change once; when it stops, the other takes over.
#[test]
fn one_collector_per_database_sends_and_another_takes_over() {
    collector_support::on_postgres(one_leader_on_postgres);
}

fn one_leader_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let first = start_with_webhook(dir.path(), &rx.url(), &[]);
    assert!(eventually(|| value(
        &scrape_open(&first),
        "tunekeeper_collector_alert_leader",
        &[]
    ) == Some(1.0)));
    let second = start_with_webhook(dir.path(), &rx.url(), &[]);
    let mut r = report("b1", "r1", &ago(Duration::ZERO), 60);
    drift(&mut r, "vm.swappiness", "60");
    assert_eq!(second.post(&r).0, 202);
    assert!(eventually(|| !rx.alerts().is_empty()));
    // Both have evaluated a few rounds by now.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(rx.alerts().len(), 1, "sent once: {:?}", rx.messages());
    assert_eq!(
        value(
            &scrape_open(&second),
            "tunekeeper_collector_alert_leader",
            &[]
        ),
        Some(0.0)
    );
    // The leader stops: the other takes the lead and sends the next change.
    assert!(first.terminate().success());
    assert!(
        eventually(|| value(
            &scrape_open(&second),
            "tunekeeper_collector_alert_leader",
            &[]
        ) == Some(1.0)),
        "no takeover"
    );
    assert_eq!(
        second.post(&report("b1", "r2", &ago(Duration::ZERO), 60)).0,
        202
    );
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostDrifting", "b1", "resolved").is_some()),
        "{:?}",
        rx.messages()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(rx.alerts().len(), 2, "{:?}", rx.messages());
}

/// Bad webhook options stop the collector before it starts: exit 2,
/// naming the option, and no database created.
#[test]
fn bad_webhook_options_exit_2_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("collector.db");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    for (args, says) in [
        (
            vec!["--webhook", "ftp://ops:pw@example.org/x"],
            "--webhook ftp://example.org/x: not an http",
        ),
        (vec!["--webhook", "not a url"], "--webhook (not a URL)"),
        (
            vec!["--webhook", "http://127.0.0.1:9/", "--webhook-queue", "0"],
            "--webhook-queue 0",
        ),
        (vec!["--webhook-queue", "5"], "--webhook <URL>"),
        (
            vec![
                "--webhook",
                "http://127.0.0.1:9/",
                "--external-url",
                "fleet",
            ],
            "--external-url",
        ),
        (
            vec![
                "--webhook",
                "http://127.0.0.1:9/",
                "--alert-interval-seconds",
                "0",
            ],
            "--alert-interval-seconds",
        ),
        // The range is named with the option (an unknown option would
        // exit 2 too, but without the `<SECONDS>` value).
        (
            vec!["--skew-interval-seconds", "0"],
            "--skew-interval-seconds <SECONDS>': 0 is not in 1..=86400",
        ),
        (
            vec!["--skew-interval-seconds", "86401"],
            "--skew-interval-seconds <SECONDS>': 86401 is not in 1..=86400",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
            .arg("collector")
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .arg("--token-file")
            .arg(&tokens)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("pw@"), "{err}");
        assert!(!db.exists(), "{args:?} created the database");
    }
}

/// After the collector was down, every host looks stale until its agent
/// delivers again: that is the collector's outage. A host goes stale for
/// the webhook only after the collector has run three of its intervals.
fn no_stale_alert_storm_after_the_collector_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let c = Collector::start(dir.path(), &[]);
    assert_eq!(c.post(&report("q1", "q-1", &ago(Duration::ZERO), 3)).0, 202);
    assert!(c.terminate().success());
    // Down for longer than three of the host's 3 s intervals.
    std::thread::sleep(Duration::from_secs(10));
    let c = start_with_webhook(dir.path(), &rx.url(), &[]);
    let up = std::time::Instant::now();
    let (_, hosts) = c.get("/api/v1/hosts", None);
    assert!(hosts.contains("\"stale\":true"), "{hosts}");
    // The agent delivers within its interval: no alert at all.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(c.post(&report("q1", "q-2", &ago(Duration::ZERO), 3)).0, 202);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        up.elapsed() < Duration::from_secs(9) && rx.messages().is_empty(),
        "{:?} after {:?}",
        rx.messages(),
        up.elapsed()
    );
    // Silent for good: stale once the collector has run 9 s.
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostStale", "q1", "firing").is_some()),
        "{:?}",
        rx.messages()
    );
    assert!(up.elapsed() >= Duration::from_secs(9), "{:?}", up.elapsed());
}

fn skewed_hosts(c: &Collector, cluster: &str) -> Option<f64> {
    value(
        &scrape_open(c),
        "tunekeeper_collector_cluster_skewed_hosts",
        &[("cluster", cluster)],
    )
}

fn parsed(c: &Collector) -> Option<f64> {
    value(
        &scrape_open(c),
        "tunekeeper_collector_skew_documents_parsed_total",
        &[],
    )
}

/// Two hosts of a cluster agree, a third differs on a sysctl: a skew
/// alert for the third, with the key and the majority's value; fixed, it
/// resolves. A two-host tie alerts nobody. Skew is evaluated every second
/// here, and a round without new reports parses no document.
fn webhook_fires_and_resolves_skew_and_parses_only_changed_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let c = start_with_webhook(dir.path(), &rx.url(), &["--skew-interval-seconds", "1"]);
    let now = ago(Duration::ZERO);
    for (host, id, odd) in [
        ("a1", "a-1", false),
        ("b1", "b-1", false),
        ("c1", "c-1", true),
    ] {
        let mut r = report(host, id, &now, 60);
        in_cluster(&mut r, "orders");
        if odd {
            drift(&mut r, "vm.swappiness", "60");
        }
        assert_eq!(c.post(&r).0, 202);
    }
    // A tie: one host each way, no majority.
    for (host, id, odd) in [("p1", "p-1", false), ("p2", "p-2", true)] {
        let mut r = report(host, id, &now, 60);
        in_cluster(&mut r, "payments");
        if odd {
            drift(&mut r, "vm.swappiness", "60");
        }
        assert_eq!(c.post(&r).0, 202);
    }
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostSkewed", "c1", "firing").is_some()),
        "no skew alert: {:?}",
        rx.messages()
    );
    let alerts = rx.alerts();
    let firing = find(&alerts, "TunekeeperHostSkewed", "c1", "firing").unwrap();
    assert_eq!(firing["labels"]["cluster"], "orders", "{firing}");
    let description = firing["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains("vm.swappiness: 60 (cluster majority 1)"),
        "{firing}"
    );
    assert!(eventually(|| skewed_hosts(&c, "orders") == Some(1.0)));
    assert_eq!(skewed_hosts(&c, "payments"), Some(0.0), "a tie is no skew");
    for host in ["a1", "b1", "p1", "p2"] {
        assert!(
            find(&rx.alerts(), "TunekeeperHostSkewed", host, "firing").is_none(),
            "{host}: {:?}",
            rx.alerts()
        );
    }

    // At least five documents parsed (three hosts, two hosts; more if an
    // evaluation fell between the posts); rounds without a new report
    // parse none.
    let before = parsed(&c).expect("parsed counter");
    assert!(before >= 5.0, "{before}");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(parsed(&c), Some(before), "parsed again without new reports");

    // Fixed: resolved, and only its cluster is read again.
    let mut fixed = report("c1", "c-2", &ago(Duration::ZERO), 60);
    in_cluster(&mut fixed, "orders");
    assert_eq!(c.post(&fixed).0, 202);
    assert!(
        eventually(|| find(&rx.alerts(), "TunekeeperHostSkewed", "c1", "resolved").is_some()),
        "skew not resolved: {:?}",
        rx.messages()
    );
    assert_eq!(skewed_hosts(&c, "orders"), Some(0.0));
    assert_eq!(
        parsed(&c),
        Some(before + 3.0),
        "only the cluster with a new report is parsed"
    );
    assert!(
        find(&rx.alerts(), "TunekeeperHostSkewed", "p2", "firing").is_none(),
        "{:?}",
        rx.alerts()
    );
}
