//! A JVM with no readable GC log still counts at host level, from its own
//! counters (issue 23), on both backends: reports from the three-role
//! fixture (a real agent's) cut to the JVMs each case needs. The host's GC
//! ms/s (fleet row, host card, charts, `/api/v1/hosts`) is the counters'
//! rate, marked as such; a logged JVM keeps its log's rate; the levels
//! are the agent's findings (its counters judge the rate and full GCs by
//! the JVM's own profile: a rate over 15 ms/s drifts, and the host is
//! unhealthy by that finding), never the collector's; percentiles stay
//! the log's; no counters and no log stay `null` with the reason.

use std::time::Duration;

use crate::collector_support::{Collector, ago};
use serde_json::{Value, json};
use tunekeeper::finding::Status;
use tunekeeper::gc::analyse::AnalyseOptions;
use tunekeeper::gc::slo::evaluate_without_log;
use tunekeeper::profile::ProfileStore;
use tunekeeper::report::CounterWindow;

const BROKER: i64 = 6324;
const CONTROLLER: i64 = 6346;
const ZOOKEEPER: i64 = 6224;

/// The unreadable log's finding as the agent writes it, with its remedy.
const UNREADABLE: &str = "permission denied: /var/log/kafka (0750 kafka:kafka): \
                          add the agent to group kafka (SupplementaryGroups=kafka)";

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/collector/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The three-role fixture as `host` with only the JVMs `pids`.
fn host_with(host: &str, id: &str, pids: &[i64]) -> Value {
    let mut r = load("three-roles");
    r["host"]["hostname"] = host.into();
    r["id"] = id.into();
    r["time"] = ago(Duration::from_secs(2)).into();
    r["jvms"]
        .as_array_mut()
        .unwrap()
        .retain(|j| pids.contains(&j["pid"].as_i64().unwrap()));
    r
}

fn jvm(r: &mut Value, pid: i64) -> &mut Value {
    r["jvms"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|j| j["pid"] == pid)
        .unwrap_or_else(|| panic!("no JVM {pid}"))
}

/// A counters window as the agent writes it.
fn window(name: &str, ms_per_s: f64, full: u64) -> Value {
    json!({
        "window": name,
        "seconds": 60.0,
        "pauses": {
            "young": {"count": 12, "time_ms": 90.0},
            "full": {"count": full, "time_ms": full as f64 * 310.0}
        },
        "gc_ms_per_second": ms_per_s,
        "safepoints": {"count": 20, "reaching_ms": 1.0}
    })
}

/// The JVM `pid`'s log made unreadable, as the agent reports it: no GC
/// statistics, the `gc`/`log` finding with the remedy, (when given) its
/// counters read with `rate` ms/s and `full` full GCs over the interval
/// and over its life, and its level findings as the agent makes them
/// ([`agent_levels`]).
fn unreadable(r: &mut Value, pid: i64, counters: Option<Value>) {
    let j = jvm(r, pid);
    j["gc"] = Value::Null;
    j["findings"].as_array_mut().unwrap().push(json!({
        "check": "gc",
        "key": "log",
        "expected": "a readable G1 log",
        "actual": null,
        "status": "unreadable",
        "detail": UNREADABLE
    }));
    match counters {
        Some(c) => j["counters"] = c,
        None => {
            j.as_object_mut().unwrap().remove("counters");
        }
    }
    agent_levels(j);
}

/// The JVM's `gc` level findings as the agent makes them for a JVM whose
/// log it could not read, by its own code (`slo::evaluate_without_log`)
/// and the JVM's profile: the rate and full GCs judged by its counters
/// over its life, when read; every other level unknown.
fn agent_levels(j: &mut Value) {
    let profile = ProfileStore::with_dirs(Vec::new())
        .load(j["profile"].as_str().unwrap())
        .unwrap();
    let levels = AnalyseOptions::default().with_profile(&profile).levels;
    let life: Option<CounterWindow> = (j["counters"]["state"] == "read")
        .then(|| serde_json::from_value(j["counters"]["total"].clone()).ok())
        .flatten();
    let mut judged = evaluate_without_log(life.as_ref(), &levels, (Status::Unreadable, UNREADABLE));
    for f in &mut judged {
        f.detail = f
            .detail
            .take()
            .map(|d| format!("over the JVM's lifetime; {d}"));
    }
    let findings = j["findings"].as_array_mut().unwrap();
    findings.retain(|f| !(f["check"] == "gc" && judged.iter().any(|g| f["key"] == g.key.as_str())));
    findings.extend(judged.iter().map(|f| serde_json::to_value(f).unwrap()));
}

/// The `gc` finding on `key` of the JVM `pid`.
fn level(r: &Value, pid: i64, key: &str) -> Value {
    r["jvms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["pid"] == pid)
        .and_then(|j| {
            j["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["check"] == "gc" && f["key"] == key)
        })
        .unwrap_or_else(|| panic!("no gc {key} of {pid}"))
        .clone()
}

fn counted(rate: f64, full: u64) -> Value {
    json!({
        "state": "read",
        "path": "/tmp/hsperfdata_kafka/6324",
        "jdk": 17,
        "only_witness": true,
        "interval": window("last_interval", rate, full),
        "total": window("jvm_lifetime", rate, full)
    })
}

/// The JVM `pid`'s log rate over the interval.
fn log_rate(r: &mut Value, pid: i64, rate: f64) {
    jvm(r, pid)["gc"]["interval"]["gc_ms_per_second"] = rate.into();
}

fn host_of<'a>(hosts: &'a Value, name: &str) -> &'a Value {
    hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("no {name} in {hosts:#}"))
}

fn page(c: &Collector, path: &str) -> String {
    let (status, body) = c.get(path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The fleet table's row of `host`.
fn fleet_row<'a>(html: &'a str, host: &str) -> &'a str {
    let mark = format!(r#"<a href="/hosts/{host}">"#);
    let at = html
        .find(&mark)
        .unwrap_or_else(|| panic!("no row of {host} in {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    &html[start..end]
}

/// The host card of the worst JVM's GC ms/s.
fn rate_card(html: &str) -> &str {
    let at = html
        .find("GC ms/s, last interval (worst JVM)")
        .expect("no GC ms/s card");
    let end = at + html[at..].find(r#"<div class="card">"#).unwrap();
    &html[at..end]
}

/// The two-week GC ms/s chart's series of the host page.
fn rate_chart(html: &str) -> &str {
    let at = html
        .find(r#"aria-label="GC pause ms/s, per report interval"#)
        .expect("no GC ms/s chart");
    let end = at + html[at..].find("</svg>").unwrap();
    &html[at..end]
}

/// "the JVM's counters" as maud may write it.
fn says_counters(s: &str) -> bool {
    s.contains("from the JVM's counters") || s.contains("from the JVM&#39;s counters")
}

on_both!(
    a_host_whose_only_jvm_has_no_readable_log_counts_by_its_counters,
    a_logged_jvm_keeps_its_logs_rate,
    no_counters_and_no_log_leave_the_rate_null_with_the_reason,
    a_counted_full_gc_count_past_any_real_count_is_refused,
);

/// A host whose only broker's log is unreadable (0750 kafka:kafka, the
/// agent not in the group): its counters' 40 ms/s and full GC are the
/// host's figures everywhere, marked as the counters'; the agent's
/// findings, judged by those counters, miss the broker profile's levels,
/// and by them the host is unhealthy (not "unknown"); a calm broker's 4
/// ms/s is shown too, its health unknown for want of percentiles.
fn a_host_whose_only_jvm_has_no_readable_log_counts_by_its_counters() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut hot = host_with("cc-hot", "cc-1", &[BROKER]);
    unreadable(&mut hot, BROKER, Some(counted(40.0, 1)));
    let mut calm = host_with("cc-calm", "cc-2", &[BROKER]);
    unreadable(&mut calm, BROKER, Some(counted(4.0, 0)));
    // What the agent says: the counters' verdict, and where it came from.
    for (key, actual) in [("gc_ms_per_second", "40"), ("full_gcs", "1")] {
        let f = level(&hot, BROKER, key);
        assert_eq!(f["status"], "drift", "{f:#}");
        assert_eq!(f["actual"], actual, "{f:#}");
        assert_eq!(
            f["detail"],
            "over the JVM's lifetime; from the JVM's own counters (no readable GC log)"
        );
    }
    assert_eq!(level(&hot, BROKER, "pause_p99_ms")["status"], "unreadable");
    assert_eq!(level(&calm, BROKER, "gc_ms_per_second")["status"], "ok");
    for r in [&hot, &calm] {
        assert_eq!(c.post(r).0, 202, "{}", r["host"]["hostname"]);
    }

    let hosts = c.get_json("/api/v1/hosts");
    let gc = &host_of(&hosts, "cc-hot")["gc"];
    assert_eq!(gc["gc_ms_per_second"], 40.0, "{gc:#}");
    assert_eq!(gc["gc_ms_per_second_source"], "counters", "{gc:#}");
    assert_eq!(gc["gc_ms_per_second_null_because"], Value::Null);
    assert!(
        gc["from_counters"][0]
            .as_str()
            .unwrap()
            .starts_with("broker (pid 6324): 40.0 ms/s, 1 full GC"),
        "{gc:#}"
    );
    assert_eq!(gc["full_gcs_24h"], 1, "the counters' full GC: {gc:#}");
    assert_eq!(gc["pause_p99_ms"], Value::Null, "percentiles need the log");
    // Unhealthy by the agent's two drifting findings, as for any JVM;
    // the collector adds no verdict of its own.
    assert_eq!(gc["health"], "unhealthy", "{gc:#}");
    assert_eq!(gc["gc_drift"], 2, "the agent's findings: {gc:#}");
    assert_eq!(gc["levels_missed_by_counters"], Value::Null, "{gc:#}");
    let drifting: Vec<String> = host_of(&hosts, "cc-hot")["drifting"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["check"] == "gc")
        .map(|d| d["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        drifting.contains(&"gc_ms_per_second".to_owned())
            && drifting.contains(&"full_gcs".to_owned()),
        "{drifting:?}"
    );

    let gc = &host_of(&hosts, "cc-calm")["gc"];
    assert_eq!(gc["gc_ms_per_second"], 4.0, "{gc:#}");
    assert_eq!(gc["gc_ms_per_second_source"], "counters", "{gc:#}");
    assert_eq!(gc["health"], "unknown", "{gc:#}");
    let why = gc["unknown_because"].as_str().unwrap();
    assert!(
        why.contains("its GC log cannot be read")
            && why.contains("SupplementaryGroups=kafka")
            && why.contains("its counters show 4.0 ms/s over the interval")
            && why.contains("its pause percentiles need the log"),
        "{why}"
    );

    // Unhealthy like a drifting finding: the fleet's state filter and counts.
    let html = page(&c, "/?state=gc-unhealthy");
    assert!(
        html.contains("/hosts/cc-hot") && !html.contains("/hosts/cc-calm"),
        "{html}"
    );

    // The fleet row: the figure, marked as the counters'.
    let html = page(&c, "/");
    let row = fleet_row(&html, "cc-hot");
    assert!(row.contains(">40.0<"), "{row}");
    assert!(says_counters(row), "{row}");
    assert!(
        row.contains("broker (pid 6324)"),
        "whose, in the title: {row}"
    );
    let row = fleet_row(&html, "cc-calm");
    assert!(row.contains(">4.0<") && says_counters(row), "{row}");

    // The host page: the card marked and hot (the agent's drifting
    // finding), the chart drawn; no verdict of the collector's own.
    let html = page(&c, "/hosts/cc-hot");
    let card = rate_card(&html);
    assert!(card.contains("40.0") && says_counters(card), "{card}");
    assert!(card.contains("no readable GC log"), "{card}");
    assert!(card.contains(r#"class="v hot""#), "{card}");
    assert!(!html.contains("gc-counters-missed"), "no collector verdict");
    let chart = rate_chart(&html);
    assert!(
        chart.contains(r#"data-points="1""#),
        "the chart draws the counters' rate: {chart}"
    );
}

/// A logged JVM keeps its log's rate: beside a counters-only JVM the
/// worst of both is the host's, with where it came from.
fn a_logged_jvm_keeps_its_logs_rate() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    // A broker logging 5 ms/s and a controller counted at 20 ms/s.
    let mut r_counted = host_with("cl-counted", "cl-1", &[BROKER, CONTROLLER]);
    log_rate(&mut r_counted, BROKER, 5.0);
    unreadable(&mut r_counted, CONTROLLER, Some(counted(20.0, 0)));
    assert_eq!(c.post(&r_counted).0, 202);
    // A broker logging 25 ms/s beside the same controller.
    let mut r = host_with("cl-logged", "cl-2", &[BROKER, CONTROLLER]);
    log_rate(&mut r, BROKER, 25.0);
    unreadable(&mut r, CONTROLLER, Some(counted(20.0, 0)));
    assert_eq!(c.post(&r).0, 202);
    // Every JVM logged: the log's, as before.
    let mut r = host_with("cl-all", "cl-3", &[BROKER, ZOOKEEPER]);
    log_rate(&mut r, BROKER, 5.0);
    assert_eq!(c.post(&r).0, 202);

    let hosts = c.get_json("/api/v1/hosts");
    let gc = &host_of(&hosts, "cl-counted")["gc"];
    assert_eq!(gc["gc_ms_per_second"], 20.0, "{gc:#}");
    assert_eq!(gc["gc_ms_per_second_source"], "counters", "{gc:#}");
    assert!(
        gc["from_counters"][0]
            .as_str()
            .unwrap()
            .starts_with("controller (pid 6346): 20.0 ms/s"),
        "{gc:#}"
    );
    // The agent: the controller's rate over 15 misses kraft-controller's
    // level, by its counters.
    assert_eq!(
        level(&r_counted, CONTROLLER, "gc_ms_per_second")["status"],
        "drift"
    );
    assert_eq!(gc["health"], "unhealthy", "{gc:#}");
    // The broker's log's p99 stays the host's.
    assert_eq!(gc["pause_p99_ms"], 1.012, "{gc:#}");

    let gc = &host_of(&hosts, "cl-logged")["gc"];
    assert_eq!(gc["gc_ms_per_second"], 25.0, "{gc:#}");
    assert_eq!(gc["gc_ms_per_second_source"], "log", "{gc:#}");

    let gc = &host_of(&hosts, "cl-all")["gc"];
    assert_eq!(gc["gc_ms_per_second"], 9.764, "the ZooKeeper's log: {gc:#}");
    assert_eq!(gc["gc_ms_per_second_source"], "log", "{gc:#}");
    assert_eq!(gc["from_counters"], json!([]), "{gc:#}");
    assert_eq!(gc["health"], "healthy", "{gc:#}");

    let html = page(&c, "/");
    let row = fleet_row(&html, "cl-logged");
    assert!(row.contains(">25.0<") && !says_counters(row), "{row}");
    let row = fleet_row(&html, "cl-counted");
    assert!(row.contains(">20.0<") && says_counters(row), "{row}");
    let card_html = page(&c, "/hosts/cl-logged");
    let card = rate_card(&card_html);
    assert!(card.contains("25.0") && !says_counters(card), "{card}");
}

/// No counters (an agent older than them) and no log: `null` with the
/// reason, as before; counters not read: `null`, saying so.
fn no_counters_and_no_log_leave_the_rate_null_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut r = host_with("cn-none", "cn-1", &[BROKER]);
    unreadable(&mut r, BROKER, None);
    assert_eq!(c.post(&r).0, 202);
    let mut r = host_with("cn-denied", "cn-2", &[BROKER]);
    unreadable(
        &mut r,
        BROKER,
        Some(json!({
            "state": "permission_denied",
            "reason": "/tmp/hsperfdata_kafka/6324: permission denied"
        })),
    );
    assert_eq!(c.post(&r).0, 202);
    // Read, but the first read of the JVM: no interval yet.
    let mut r = host_with("cn-first", "cn-3", &[BROKER]);
    let mut first = counted(30.0, 0);
    first.as_object_mut().unwrap().remove("interval");
    first["total"]["gc_ms_per_second"] = 3.0.into();
    unreadable(&mut r, BROKER, Some(first));
    assert_eq!(c.post(&r).0, 202);

    let hosts = c.get_json("/api/v1/hosts");
    for (host, says) in [
        ("cn-none", "its GC log cannot be read"),
        (
            "cn-denied",
            "its counters not read either: permission_denied",
        ),
        ("cn-first", "its counters give no rate yet"),
    ] {
        let gc = &host_of(&hosts, host)["gc"];
        assert_eq!(gc["gc_ms_per_second"], Value::Null, "{host}: {gc:#}");
        assert_eq!(gc["gc_ms_per_second_source"], Value::Null, "{host}: {gc:#}");
        let why = gc["gc_ms_per_second_null_because"].as_str().unwrap();
        assert!(
            why.contains(says) && why.contains("broker (pid 6324)"),
            "{host}: {why}"
        );
        assert_eq!(gc["full_gcs_24h"], 0, "{host}");
        assert_eq!(gc["health"], "unknown", "{host}");
    }
    let html = page(&c, "/");
    let row = fleet_row(&html, "cn-none");
    assert!(!says_counters(row), "{row}");
}

/// The counters' full GCs now feed the host's sums: bounded as the log's
/// are (422 naming the field past 2^53 - 1; the largest accepted, twice,
/// sums exactly).
fn a_counted_full_gc_count_past_any_real_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut r = host_with("cb-max", "cb-1", &[BROKER]);
    unreadable(&mut r, BROKER, Some(counted(4.0, 0)));
    jvm(&mut r, BROKER)["counters"]["interval"]["pauses"]["full"]["count"] = u64::MAX.into();
    let (status, body) = c.post(&r);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("jvms[0].counters.interval.pauses.full.count"),
        "names the field: {body}"
    );
    let big = (1u64 << 53) - 1;
    for i in 0..2 {
        let mut r = host_with("cb-max", &format!("cb-big-{i}"), &[BROKER]);
        unreadable(&mut r, BROKER, Some(counted(4.0, big)));
        assert_eq!(c.post(&r).0, 202);
    }
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(host_of(&hosts, "cb-max")["gc"]["full_gcs_24h"], 2 * big);
    for path in ["/", "/hosts/cb-max"] {
        let (status, body) = c.get(path, None);
        assert_eq!(status, 200, "{path}: {body}");
    }
}
