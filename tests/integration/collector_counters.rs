//! The JVMs' own counters on the collector (issue 23), on both backends:
//! reports from the three-role fixture (a real agent's), each JVM given
//! the `counters` an agent sends — verified, differing, switched off,
//! denied, the only witness of a JVM without a readable log — and an
//! older agent's report without them. Each shows on the host page (the
//! verdict, both figures of a difference, the state said plainly, time
//! to safepoint from the counters), in `/api/v1/hosts` (a compact
//! verdict, `null` for the older agent) and in `/metrics` (hosts whose
//! log differs, per cluster, from 0). And end to end: real JVMs, a real
//! agent, a real collector, the host page saying "verified".

use std::time::Duration;

use crate::ci_skip;
use crate::collector_support::{Collector, TOKEN, ago, binary, eventually, report, segment};
use crate::hotspot::{Jvm, classes, java_cmd, jdk, scratch};
use serde_json::{Value, json};

/// What the agent says of a log that agrees (`report::VERIFIED_TEXT`).
const VERIFIED: &str = "verified against the JVM's counters";

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/collector/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The three-role fixture as `host`, in `cluster`, with `id`.
fn three_roles(host: &str, id: &str, cluster: &str) -> Value {
    let mut r = load("three-roles");
    r["host"]["hostname"] = host.into();
    r["id"] = id.into();
    r["time"] = ago(Duration::from_secs(2)).into();
    r["cluster"] = json!({"name": cluster, "from": "config"});
    r
}

/// The JVM of `pid` in report `r`.
fn jvm(r: &mut Value, pid: i64) -> &mut Value {
    r["jvms"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|j| j["pid"] == pid)
        .unwrap_or_else(|| panic!("no JVM {pid}"))
}

const ZOOKEEPER: i64 = 6224;
const BROKER: i64 = 6324;
const CONTROLLER: i64 = 6346;

/// A counters window as the agent writes it.
fn window(name: &str, young: u64, ms_per_s: f64) -> Value {
    json!({
        "window": name,
        "seconds": 60.0,
        "pauses": {
            "young": {"count": young, "time_ms": young as f64 * 7.5},
            "full": {"count": 0, "time_ms": 0.0},
            "concurrent_cycle": {"count": 1, "time_ms": 2.25}
        },
        "gc_ms_per_second": ms_per_s,
        "safepoints": {
            "count": 41,
            "reaching_ms": 12.3,
            "at_safepoint_ms": 310.0,
            "mean_reaching_ms": 0.3,
            "mean_at_safepoint_ms": 7.561,
            "worst_mean_reaching_ms": 4.125,
            "worst_mean_at_safepoint_ms": 19.5,
            "stretches": 4
        }
    })
}

fn read_counters(cross_check: Value) -> Value {
    json!({
        "state": "read",
        "path": "/tmp/hsperfdata_kafka/6324",
        "jdk": 17,
        "interval": window("last_interval", 12, 1.5),
        "total": window("jvm_lifetime", 229, 1.1),
        "cross_check": cross_check
    })
}

fn verified() -> Value {
    read_counters(json!({
        "verified": true,
        "summary": VERIFIED,
        "checks": [
            {"figure": "young pauses", "log": 229.0, "jvm": 229.0, "unit": "pauses", "tolerance": 0.0, "status": "verified"},
            {"figure": "young pause time", "log": 1717.5, "jvm": 1717.6, "unit": "ms", "tolerance": 1.0, "status": "verified"}
        ]
    }))
}

/// A difference whose texts carry markup: foreign input, to be escaped.
fn differs() -> Value {
    let detail = "the log shows 39 young pauses, the JVM counted 229: 190 not in the log \
                  (written after it was read, or rotated away between reads) <script>alert(1)</script>";
    read_counters(json!({
        "verified": false,
        "summary": detail,
        "checks": [
            {"figure": "young pauses", "log": 39.0, "jvm": 229.0, "unit": "pauses", "tolerance": 0.0, "status": "differs", "detail": detail},
            {"figure": "young pause time", "log": 292.5, "jvm": 1717.5, "unit": "ms", "tolerance": 1.0, "status": "differs", "detail": "the log shows 292.5 ms of young pauses, the JVM counted 1717.5 ms"},
            {"figure": "full pauses", "log": 0.0, "jvm": 0.0, "unit": "pauses", "tolerance": 0.0, "status": "verified"}
        ]
    }))
}

/// The host with one JVM of each state the page must say plainly.
fn mixed(host: &str, id: &str, cluster: &str) -> Value {
    let mut r = three_roles(host, id, cluster);
    jvm(&mut r, BROKER)["counters"] = differs();
    jvm(&mut r, ZOOKEEPER)["counters"] = verified();
    jvm(&mut r, CONTROLLER)["counters"] = json!({
        "state": "disabled",
        "reason": "-XX:+PerfDisableSharedMem"
    });
    r
}

fn all_verified(host: &str, id: &str, cluster: &str) -> Value {
    let mut r = three_roles(host, id, cluster);
    for pid in [ZOOKEEPER, BROKER, CONTROLLER] {
        jvm(&mut r, pid)["counters"] = verified();
    }
    r
}

/// A broker without a readable log: its counters are its only witness.
fn only_witness(host: &str, id: &str, cluster: &str) -> Value {
    let mut r = all_verified(host, id, cluster);
    let b = jvm(&mut r, BROKER);
    b["gc"] = Value::Null;
    b["findings"].as_array_mut().unwrap().push(json!({
        "check": "gc",
        "key": "log",
        "expected": "a readable G1 log",
        "actual": null,
        "status": "not-applicable",
        "detail": "the JVM logs no GC (no -Xlog:gc)"
    }));
    let mut c = read_counters(Value::Null);
    c.as_object_mut().unwrap().remove("cross_check");
    c["only_witness"] = true.into();
    c["interval"]["gc_ms_per_second"] = 3.25.into();
    b["counters"] = c;
    r
}

fn denied(host: &str, id: &str, cluster: &str) -> Value {
    let mut r = three_roles(host, id, cluster);
    jvm(&mut r, BROKER)["counters"] = json!({
        "state": "permission_denied",
        "reason": "/tmp/hsperfdata_kafka/6324: permission denied",
        "remedy": "install the opt-in drop-in read-jvm-counters.conf <b>now</b>"
    });
    jvm(&mut r, CONTROLLER)["counters"] = json!({
        "state": "namespace_denied",
        "reason": "/proc/6346/root: permission denied"
    });
    jvm(&mut r, ZOOKEEPER)["counters"] = json!({
        "state": "unavailable",
        "reason": "no perf-data file yet"
    });
    // A state this collector does not know (a newer agent's), with markup.
    let mut newer = jvm(&mut r, BROKER).clone();
    newer["pid"] = NEWER.into();
    newer["counters"] = json!({
        "state": "<i>sleeping</i>",
        "reason": "<img src=x onerror=alert(2)>"
    });
    r["jvms"].as_array_mut().unwrap().push(newer);
    r
}

const NEWER: i64 = 7777;

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

/// The counters row of the JVM `pid` on a host page.
fn counters_row(html: &str, pid: i64) -> &str {
    let mark = format!(r#"<tr class="counters" data-counters-pid="{pid}">"#);
    let at = html
        .find(&mark)
        .unwrap_or_else(|| panic!("no counters row of {pid}"));
    let end = at + html[at..].find("</tr>").unwrap();
    &html[at..end]
}

fn verdict(v: [u32; 4]) -> Value {
    json!({"verified": v[0], "differs": v[1], "not_compared": v[2], "not_read": v[3]})
}

on_both!(
    each_jvms_counters_on_the_host_page_and_in_the_api,
    hosts_whose_log_differs_are_counted_per_cluster,
);

fn each_jvms_counters_on_the_host_page_and_in_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    for r in [
        all_verified("ctr-ok", "c-1", "east"),
        mixed("ctr-mixed", "c-2", "east"),
        denied("ctr-denied", "c-3", "east"),
        only_witness("ctr-witness", "c-4", "east"),
        report("ctr-old", "c-5", &ago(Duration::from_secs(2)), 60),
    ] {
        assert_eq!(c.post(&r).0, 202, "{}", r["host"]["hostname"]);
    }

    // The API: a compact verdict per host; the older agent's is null.
    let hosts = c.get_json("/api/v1/hosts");
    for (host, want) in [
        ("ctr-ok", verdict([3, 0, 0, 0])),
        ("ctr-mixed", verdict([1, 1, 0, 1])),
        ("ctr-denied", verdict([0, 0, 0, 4])),
        ("ctr-witness", verdict([2, 0, 1, 0])),
        ("ctr-old", Value::Null),
    ] {
        assert_eq!(host_of(&hosts, host)["counters"], want, "{host}");
    }
    let paged = c.get_json("/api/v1/hosts?limit=2&cluster=east");
    assert_eq!(
        host_of(&paged, "ctr-mixed")["counters"],
        verdict([1, 1, 0, 1])
    );

    // Verified, in the agent's words, with time to safepoint from the
    // counters (the fixture's log has no safepoint lines).
    let html = page(&c, "/hosts/ctr-ok");
    for pid in [ZOOKEEPER, BROKER, CONTROLLER] {
        let row = counters_row(&html, pid);
        assert!(row.contains(VERIFIED), "{row}");
        assert!(
            row.contains("Time to safepoint from the JVM&#39;s counters")
                || row.contains("Time to safepoint from the JVM's counters"),
            "{row}"
        );
        assert!(
            row.contains("0.300 ms") && row.contains("4.125 ms"),
            "{row}"
        );
    }

    // A difference with both figures and the agent's words, escaped.
    let html = page(&c, "/hosts/ctr-mixed");
    let row = counters_row(&html, BROKER);
    assert!(!row.contains(VERIFIED), "{row}");
    assert!(row.contains("log differs from the JVM"), "{row}");
    assert!(
        row.contains("the log shows 39 young pauses, the JVM counted 229: 190 not in the log"),
        "{row}"
    );
    assert!(
        row.contains("young pauses</b>: the log 39 pauses, the JVM 229 pauses"),
        "{row}"
    );
    assert!(
        row.contains("young pause time</b>: the log 292.5 ms, the JVM 1717.5 ms"),
        "{row}"
    );
    assert!(
        !row.contains("full pauses"),
        "only what is not verified: {row}"
    );
    // Each figure's words, once: the summary already says the first.
    assert_eq!(row.matches("190 not in the log").count(), 1, "{row}");
    assert!(
        row.contains("— the log shows 292.5 ms of young pauses, the JVM counted 1717.5 ms"),
        "{row}"
    );
    assert!(
        row.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{row}"
    );
    assert!(!html.contains("<script>alert(1)"), "foreign text unescaped");
    assert!(counters_row(&html, ZOOKEEPER).contains(VERIFIED));
    let off = counters_row(&html, CONTROLLER);
    assert!(
        off.contains("switched off") && off.contains("-XX:+PerfDisableSharedMem"),
        "{off}"
    );
    assert!(
        !off.contains(VERIFIED) && !off.contains("Time to safepoint"),
        "{off}"
    );

    // Not read: each state said plainly, the remedy with it.
    let html = page(&c, "/hosts/ctr-denied");
    let b = counters_row(&html, BROKER);
    assert!(b.contains("permission denied"), "{b}");
    assert!(
        b.contains(
            "Remedy: </b>install the opt-in drop-in read-jvm-counters.conf &lt;b&gt;now&lt;/b&gt;"
        ),
        "{b}"
    );
    let ns = counters_row(&html, CONTROLLER);
    assert!(
        ns.contains("another namespace") && ns.contains("/proc/6346/root: permission denied"),
        "{ns}"
    );
    let zk = counters_row(&html, ZOOKEEPER);
    assert!(
        zk.contains("not available") && zk.contains("no perf-data file yet"),
        "{zk}"
    );
    let newer = counters_row(&html, NEWER);
    assert!(
        newer.contains("&lt;i&gt;sleeping&lt;/i&gt;")
            && newer.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{newer}"
    );
    assert!(!html.contains("<img src=x") && !html.contains("<i>sleeping"));
    assert!(!html.contains(VERIFIED));

    // The only witness: its figures, said to be the counters', and that
    // percentiles need the log.
    let html = page(&c, "/hosts/ctr-witness");
    let w = counters_row(&html, BROKER);
    assert!(w.contains("counters only"), "{w}");
    assert!(
        w.contains("the counts, times and rates are from the JVM")
            && w.contains("percentiles need the log"),
        "{w}"
    );
    assert!(
        w.contains("<b>3.2</b> ms/s") && w.contains("12 young pauses (90.0 ms)"),
        "{w}"
    );
    assert!(
        html.contains("ms/s from the JVM&#39;s counters")
            || html.contains("ms/s from the JVM's counters"),
        "the GC cell gives the counters' rate"
    );

    // The older agent: no counters, said so; nothing claimed.
    let html = page(&c, "/hosts/ctr-old");
    let row = counters_row(&html, 4242);
    assert!(row.contains("counters not reported"), "{row}");
    assert!(!html.contains(VERIFIED) && !html.contains("log differs"));
}

fn hosts_whose_log_differs_are_counted_per_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let metric = |cluster: &str| -> i64 {
        let text = page(&c, "/metrics");
        let series = format!("tunekeeper_collector_gc_log_differs_hosts{{cluster=\"{cluster}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .unwrap_or_else(|| panic!("no {series} in {text}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(c.post(&all_verified("m-ok", "m-1", "east")).0, 202);
    assert_eq!(c.post(&mixed("m-bad", "m-2", "west")).0, 202);
    assert_eq!(c.post(&mixed("m-bad2", "m-3", "west")).0, 202);
    assert_eq!(
        c.post(&report("m-old", "m-4", &ago(Duration::from_secs(2)), 60))
            .0,
        202
    );
    assert_eq!(metric("east"), 0, "from 0");
    assert_eq!(metric("west"), 2);
    assert_eq!(metric(""), 0, "an older agent's host claims nothing");

    // The latest report counts: verified again, the host leaves the gauge.
    let mut later = all_verified("m-bad", "m-5", "west");
    later["time"] = ago(Duration::from_secs(1)).into();
    assert_eq!(c.post(&later).0, 202);
    assert_eq!(metric("west"), 1);
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(host_of(&hosts, "m-bad")["counters"], verdict([3, 0, 0, 0]));
}

/// The agent delivering to `collector` every second, following only the
/// JVMs whose command line matches `jvm_match`; killed when dropped.
struct Agent(std::process::Child);

impl Agent {
    fn start(dir: &std::path::Path, collector: &Collector, jvm_match: &str) -> Agent {
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
        let config = dir.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "interval = \"1s\"\nendpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\n\
                 spool_dir = \"{}\"\nstate_dir = \"{}\"\njvm_match = '{jvm_match}'\n",
                collector.base,
                dir.join("token").display(),
                dir.join("spool").display(),
                dir.join("state").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new(binary())
            .args(["agent", "--config"])
            .arg(&config)
            .env_remove("JOURNAL_STREAM")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("agent.log")).unwrap())
            .spawn()
            .unwrap();
        Agent(child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// End to end: a real JDK 17 JVM with a GC log and one without, a real
/// agent reading their counters every second, a real collector. Once the
/// JVMs are stopped between pauses the host page says the logged JVM is
/// verified against its counters, and the other's figures come from its
/// counters alone; the API's verdict counts both.
#[test]
fn a_real_jvm_is_verified_on_the_host_page() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else {
        ci_skip::skip("no JDK 17");
        return;
    };
    let log = dir.path().join("gc.log");
    let xlog = format!("-Xlog:gc*:file={}:uptime,level,tags", log.display());
    let logged = Jvm::spawn(java_cmd(&jdk, &classes, &xlog, &[], 3, 1), |p| {
        Some(p as i32)
    });
    let unlogged = Jvm::spawn(java_cmd(&jdk, &classes, "-Xlog:disable", &[], 3, 1), |p| {
        Some(p as i32)
    });
    let c = Collector::start(dir.path(), &[]);
    let _agent = Agent::start(
        dir.path(),
        &c,
        &regex::escape(&classes.display().to_string()),
    );
    logged.wait_idle();
    unlogged.wait_idle();
    logged.stop_between_pauses();
    unlogged.stop_between_pauses();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let path = format!("/hosts/{}", segment(&host));
    let mut last = String::new();
    let seen = eventually(|| {
        let (status, body) = c.get(&path, None);
        last = body;
        status == 200
            && last.contains(&format!(r#"data-counters-pid="{}""#, logged.pid))
            && last.contains(&format!(r#"data-counters-pid="{}""#, unlogged.pid))
            && counters_row(&last, logged.pid.into()).contains(VERIFIED)
            && counters_row(&last, unlogged.pid.into()).contains("counters only")
    });
    assert!(
        seen,
        "the host page never said both; the last:\n{last}\nagent log:\n{}",
        std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default()
    );
    let row = counters_row(&last, unlogged.pid.into());
    assert!(row.contains("percentiles need the log"), "{row}");
    // Time to safepoint from the counters: the log has no safepoint lines.
    assert!(
        counters_row(&last, logged.pid.into())
            .contains("Time to safepoint from the JVM's counters"),
        "{last}"
    );
    let hosts = c.get_json("/api/v1/hosts");
    let v = &host_of(&hosts, &host)["counters"];
    // (Kafka-family JVMs of other tests on this machine may count too.)
    assert!(v["verified"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["not_compared"].as_u64().unwrap() >= 1, "{v}");
}
