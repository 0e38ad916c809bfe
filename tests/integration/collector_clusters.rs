//! Clusters end to end: the real collector on both backends, hand-made
//! reports for exact values, and real `tunekeeper agent --once` runs on
//! prepared host trees with different `cluster` settings and live values.

// Only some of the tree builders are used here.
#[allow(dead_code)]
use crate::broker_tree;
use crate::collector_support;

on_both!(
    clusters_group_hosts_with_their_figures_and_week_over_week_trend,
    skew_names_the_minority_says_ties_and_compares_clusters,
    real_agents_with_different_clusters_and_values,
    a_database_without_the_cluster_column_gains_it_on_start,
);

use std::time::Duration;

use broker_tree::BrokerTree;
use collector_support::{Collector, TOKEN, ago, drift, exec_sql, gc, report, segment};
use serde_json::{Value, json};

fn in_cluster(r: &mut Value, name: &str) {
    r["cluster"] = json!({ "name": name, "from": "config" });
}

/// Sets the actual value of a kernel finding (its status unchanged: both
/// values pass the profile).
fn set_actual(r: &mut Value, check: &str, key: &str, actual: &str) {
    let f = r["findings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["check"] == check && f["key"] == key)
        .unwrap_or_else(|| panic!("no finding {check} {key}"));
    f["actual"] = actual.into();
}

fn named<'a>(list: &'a Value, field: &str, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[field] == name)
        .unwrap_or_else(|| panic!("{name:?} missing from {list:#}"))
}

fn key<'a>(skew: &'a Value, check: &str, key: &str) -> Option<&'a Value> {
    skew["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["check"] == check && k["key"] == key)
}

/// `GET /api/v1/clusters` once the background trend was computed after
/// `since` (the refresh runs every second here; 30 s at most).
pub fn clusters_after(c: &Collector, since: time::OffsetDateTime) -> Value {
    let rfc = time::format_description::well_known::Rfc3339;
    let mut list = Value::Null;
    let fresh = collector_support::eventually(|| {
        list = c.get_json("/api/v1/clusters");
        list.as_array().unwrap().iter().all(|x| {
            x["trend_as_of"]
                .as_str()
                .and_then(|t| time::OffsetDateTime::parse(t, &rfc).ok())
                .is_some_and(|t| t > since)
        })
    });
    assert!(fresh, "the trend was not refreshed: {list:#}");
    list
}

fn clusters_group_hosts_with_their_figures_and_week_over_week_trend() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &["--trend-refresh-seconds", "1"]);
    let post = |r: &Value| assert_eq!(c.post(r).0, 202, "{r}");
    let s = Duration::from_secs;
    let mut r = report("o1", "o1-now", &ago(s(20)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 4.0, 30.0, 0);
    drift(&mut r, "vm.swappiness", "60");
    post(&r);
    let mut r = report("o2", "o2-now", &ago(s(25)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 6.0, 30.0, 0);
    post(&r);
    // Stale: ten minutes without a report, at a one-minute interval.
    let mut r = report("o3", "o3-old", &ago(s(600)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 8.0, 44.0, 0);
    post(&r);
    // Last week: one report of o1.
    let mut r = report("o1", "o1-lastweek", &ago(s(8 * 86_400)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 3.0, 20.0, 0);
    post(&r);
    // A late report from when o2 was in another cluster: delivered after
    // the newer one, it does not move the host back.
    let mut r = report("o2", "o2-late", &ago(s(1800)), 60);
    in_cluster(&mut r, "payments");
    gc(&mut r, 6.0, 30.0, 0);
    post(&r);
    let mut r = report("p1", "p1-now", &ago(s(30)), 60);
    in_cluster(&mut r, "payments");
    gc(&mut r, 23.4, 182.0, 1);
    post(&r);
    // No cluster at all, and an empty name (the same as none).
    post(&report("n1", "n1-now", &ago(s(30)), 60));
    let mut r = report("n2", "n2-now", &ago(s(30)), 60);
    in_cluster(&mut r, " ");
    post(&r);

    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(named(&hosts, "hostname", "o2")["cluster"], "orders");
    assert_eq!(named(&hosts, "hostname", "n1")["cluster"], Value::Null);

    let list = clusters_after(&c, time::OffsetDateTime::now_utc());
    let labels: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["orders", "payments", "(no cluster)"], "{list:#}");
    let o = named(&list, "name", "orders");
    assert_eq!(
        (&o["hosts"], &o["drifting"], &o["gc_unhealthy"], &o["stale"]),
        (&json!(3), &json!(1), &json!(0), &json!(1)),
        "{o:#}"
    );
    let t = &o["trend"];
    // This week: o1-now, o2-now, o2-late, o3-old (by the hosts' cluster now).
    assert_eq!(t["this_week"]["reports"], 4, "{t:#}");
    assert_eq!(t["this_week"]["mean_gc_ms_per_second"], 6.0);
    assert_eq!(t["this_week"]["worst_gc_ms_per_second"], 8.0);
    assert_eq!(t["this_week"]["worst_pause_p99_ms"], 44.0);
    assert_eq!(t["this_week"]["drifting_reports"], 1);
    assert_eq!(t["drifting_reports_percent"], 25.0);
    assert_eq!(t["last_week"]["reports"], 1);
    assert_eq!(t["last_week"]["mean_gc_ms_per_second"], 3.0);
    assert_eq!(t["gc_ms_per_second_change_percent"], 100.0);
    let p = named(&list, "name", "payments");
    assert_eq!(
        (&p["hosts"], &p["drifting"], &p["gc_unhealthy"], &p["stale"]),
        (&json!(1), &json!(1), &json!(1), &json!(0))
    );
    assert_eq!(p["trend"]["this_week"]["full_gcs"], 1);
    assert_eq!(p["trend"]["last_week"]["reports"], 0);
    assert_eq!(
        p["trend"]["gc_ms_per_second_change_percent"],
        Value::Null,
        "no base last week: no figure"
    );
    let none = named(&list, "label", "(no cluster)");
    assert_eq!((&none["name"], &none["hosts"]), (&Value::Null, &json!(2)));
}

fn skew_names_the_minority_says_ties_and_compares_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let ra = "nvme0n1/queue/read_ahead_kb";
    let host = |name: &str, cluster: &str, f: &dyn Fn(&mut Value)| {
        let mut r = report(
            name,
            &format!("{name}-1"),
            &ago(Duration::from_secs(20)),
            60,
        );
        in_cluster(&mut r, cluster);
        f(&mut r);
        assert_eq!(c.post(&r).0, 202);
    };
    host("o1", "orders", &|_| {});
    host("o2", "orders", &|_| {});
    // 128 passes the profile (>=128) as 4096 does: skew, not drift.
    host("o3", "orders", &|r| {
        set_actual(r, "block", ra, "128");
        r["jvms"] = json!([]);
    });
    host("p1", "payments", &|r| set_actual(r, "block", ra, "8192"));
    host("p2", "payments", &|r| {
        set_actual(r, "block", ra, "8192");
        r["host"]["kernel"] = "6.6.0-1-amd64".into();
    });
    let evil = "eu/west <img src=x onerror=alert(1)>";
    host("e1", evil, &|_| {});

    let s = c.get_json("/api/v1/clusters/orders/skew");
    assert_eq!((&s["hosts"], &s["cluster"]), (&json!(3), &json!("orders")));
    let k = key(&s, "block", ra).expect("read-ahead is skewed");
    assert_eq!(k["majority"], "4096");
    assert_eq!(k["tie"], false);
    assert_eq!(k["minority"], json!(["o3"]));
    assert_eq!(
        k["values"],
        json!([
            {"value": "4096", "count": 2, "hosts": ["o1", "o2"]},
            {"value": "128", "count": 1, "hosts": ["o3"]},
        ])
    );
    assert!(key(&s, "sysctl", "vm.swappiness").is_none(), "alike");
    assert!(
        key(&s, "jvm", "heap").is_none(),
        "o3 lacks the key: missing, not skew"
    );
    assert!(
        s["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["check"] != "gc"),
        "measurements are not compared"
    );
    let all = c.get_json("/api/v1/clusters/orders/skew?all=true");
    let heap = key(&all, "jvm", "heap").unwrap();
    assert_eq!(heap["missing"], json!(["o3"]));
    assert_eq!(heap["minority"], json!([]));
    assert!(all["keys_compared"].as_u64().unwrap() > 40, "{all:#}");
    assert_eq!(all["keys_skewed"], s["keys_skewed"]);

    let p = c.get_json("/api/v1/clusters/payments/skew");
    let kernel = key(&p, "host", "kernel").expect("kernels differ");
    assert_eq!(kernel["tie"], true);
    assert_eq!(kernel["majority"], Value::Null, "a tie picks no side");
    assert_eq!(kernel["minority"], json!([]));
    assert!(key(&p, "block", ra).is_none());

    let cmp = c.get_json("/api/v1/clusters/compare?a=orders&b=payments");
    assert_eq!(cmp["hosts"], json!([3, 2]));
    let diff = |check: &str, k: &str| {
        cmp["differences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["check"] == check && d["key"] == k)
            .cloned()
    };
    let d = diff("block", ra).expect("majorities differ");
    assert_eq!(
        (&d["a"]["majority"], &d["b"]["majority"]),
        (&json!("4096"), &json!("8192"))
    );
    let d = diff("host", "kernel").expect("payments has no majority");
    assert_eq!(d["b"]["tie"], true);
    assert!(diff("sysctl", "vm.swappiness").is_none());

    // A name with markup and a slash, in a path segment: verbatim in JSON.
    let path = format!("/api/v1/clusters/{}/skew?all=true", segment(evil));
    let e = c.get_json(&path);
    assert_eq!(e["cluster"], evil);
    assert_eq!(e["hosts"], 1);

    let (status, body) = c.get("/api/v1/clusters/nope/skew", None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("nope"), "{body}");
    let (status, body) = c.get("/api/v1/clusters/compare?a=orders", None);
    assert_eq!(status, 400, "{body}");
    let (status, _) = c.get("/api/v1/clusters/compare?a=orders&b=nope", None);
    assert_eq!(status, 404);
    // The pages answer too (rendering is checked in Chromium).
    let (status, html) = c.get("/clusters/orders", None);
    assert_eq!(status, 200);
    assert!(html.contains("o3") && !html.contains("no majority"));
    let (status, html) = c.get("/hosts/o3", None);
    assert_eq!(status, 200);
    assert!(html.contains("Against its cluster"), "{html}");
    assert_eq!(c.get("/clusters/nope", None).0, 404);
    assert_eq!(c.get("/clusters/compare?a=orders&b=payments", None).0, 200);
    assert_eq!(
        c.get("/clusters/compare", None).0,
        400,
        "no names, no such cluster"
    );
    // A cluster named "compare" keeps its page.
    host("c1", "compare", &|_| {});
    let (status, html) = c.get("/clusters/compare", None);
    assert_eq!(status, 200);
    assert!(html.contains("Cluster compare"), "{html}");
    assert_eq!(c.get_json("/api/v1/clusters/compare/skew")["hosts"], 1);
}

/// A prepared host tree: one broker (`node.id` in its `meta.properties`)
/// with `sdb` holding its data, the given host name, kernel, read-ahead
/// and speed of its one physical link `eth0` (Mbit/s).
fn tree(hostname: &str, kernel: &str, read_ahead: &str, id: u32, speed: u32) -> BrokerTree {
    let mut t = BrokerTree::new(16);
    t.write("/proc/sys/kernel/hostname", &format!("{hostname}\n"));
    t.write("/proc/sys/kernel/osrelease", &format!("{kernel}\n"));
    t.disk("sdb", 8, 16, false);
    t.write(
        "/sys/devices/pci0000:00/block/sdb/queue/read_ahead_kb",
        &format!("{read_ahead}\n"),
    );
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.broker(61, "6g", "log.dirs=/data1/kafka\n", 1, 1);
    t.write(
        "/data1/kafka/meta.properties",
        &format!("version=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\nnode.id={id}\n"),
    );
    t.write("/sys/class/net/eth0/speed", &format!("{speed}\n"));
    t.link(
        "/sys/class/net/eth0/device",
        "../../../devices/pci0000:00/eth0",
    );
    // Virtual: no device, not a link of the host's own.
    t.write("/sys/class/net/lo/speed", "10\n");
    t
}

/// Runs `tunekeeper agent --once` on `t` against the collector.
fn agent_once(c: &Collector, t: &BrokerTree, cluster: Option<&str>) {
    let token = t.path("/agent-token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let config = t.path("/agent.toml");
    let mut text = format!(
        "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\nstate_dir = \"/state\"\n",
        c.base,
        token.display(),
        t.path("/spool").display()
    );
    if let Some(name) = cluster {
        text += &format!("cluster = \"{name}\"\n");
    }
    std::fs::write(&config, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .arg("--root")
        .arg(t.root())
        .args([
            "--profile-dir",
            "/nonexistent",
            "agent",
            "--once",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = std::fs::read_dir(t.path("/spool")).map_or(0, |d| d.count());
    assert_eq!(left, 0, "delivered, nothing left in the spool");
}

fn real_agents_with_different_clusters_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let a1 = tree("alpha-1", "6.1.0-27-amd64", "4096", 1, 10_000);
    let a2 = tree("alpha-2", "6.1.0-27-amd64", "4096", 2, 10_000);
    let a3 = tree("alpha-3", "6.1.0-28-amd64", "128", 3, 1_000);
    let k1 = tree("kafka-own-1", "6.1.0-27-amd64", "4096", 7, 10_000);
    agent_once(&c, &a1, Some("alpha"));
    agent_once(&c, &a2, Some("alpha"));
    agent_once(&c, &a3, Some("alpha"));
    // No setting: Kafka's own cluster.id from meta.properties.
    agent_once(&c, &k1, None);

    let list = c.get_json("/api/v1/clusters");
    assert_eq!(named(&list, "name", "alpha")["hosts"], 3, "{list:#}");
    assert_eq!(named(&list, "name", "MkU3OEVBNTcwNTJENDM2Qg")["hosts"], 1);

    let s = c.get_json("/api/v1/clusters/alpha/skew");
    let ra =
        key(&s, "block", "sdb/read_ahead_kb").unwrap_or_else(|| panic!("read-ahead skewed: {s:#}"));
    assert_eq!(ra["majority"], "4096", "{s:#}");
    assert_eq!(ra["minority"], json!(["alpha-3"]));
    let kernel = key(&s, "host", "kernel").unwrap();
    assert_eq!(kernel["majority"], "6.1.0-27-amd64");
    assert_eq!(kernel["minority"], json!(["alpha-3"]));
    // Nothing else differs between the three trees (process ids are
    // dropped from keys; measurements are not compared).
    let keys: Vec<String> = s["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            format!(
                "{} {}",
                k["check"].as_str().unwrap(),
                k["key"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            "block sdb/read_ahead_kb",
            "hardware network links",
            "host kernel"
        ],
        "{s:#}"
    );
    let links = key(&s, "hardware", "network links").unwrap();
    assert_eq!(links["majority"], "eth0 10000 Mbit/s");
    assert_eq!(links["minority"], json!(["alpha-3"]));

    // Cruise Control's capacity file from what the agents measured.
    let cap = c.get_json("/api/v1/clusters/alpha/cruise-control-capacity");
    let e = cap["brokerCapacities"].as_array().unwrap();
    let ids: Vec<&str> = e.iter().map(|x| x["brokerId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["-1", "1", "2", "3"], "{cap:#}");
    assert_eq!(
        cap["tunekeeper"]["format"], "capacityCores",
        "one log dir each, CPU as num.cores"
    );
    assert_eq!(
        tunekeeper::collector::fleet::capacity::cruise_control_loads(&cap),
        Ok(vec![-1, 1, 2, 3])
    );
    assert_eq!(e[0]["capacity"], e[1]["capacity"], "the default: 2 of 3");
    let cores = std::thread::available_parallelism()
        .unwrap()
        .get()
        .to_string();
    assert_eq!(e[1]["capacity"]["CPU"]["num.cores"], cores.as_str());
    // 10 Gbit/s = 1.25e9 B/s = 1220703 KB/s; 1 Gbit/s = 122070 KB/s.
    assert_eq!(e[1]["capacity"]["NW_IN"], "1220703");
    assert_eq!(e[3]["capacity"]["NW_OUT"], "122070");
    let disk: u64 = e[1]["capacity"]["DISK"].as_str().unwrap().parse().unwrap();
    assert!(disk > 0, "{cap:#}");
    assert_eq!(cap["tunekeeper"]["left_out"], json!([]));
    let (status, _) = c.get("/api/v1/clusters/nope/cruise-control-capacity", None);
    assert_eq!(status, 404);

    // Moving a host to another cluster: its latest report decides.
    agent_once(&c, &a3, Some("beta"));
    let list = c.get_json("/api/v1/clusters");
    assert_eq!(named(&list, "name", "alpha")["hosts"], 2);
    assert_eq!(named(&list, "name", "beta")["hosts"], 1);
    let s = c.get_json("/api/v1/clusters/alpha/skew");
    assert_eq!(s["keys_skewed"], 0, "alpha is uniform now: {s:#}");
}

/// A database made before hosts had a cluster (the column missing, as
/// every database of schema version 1 until now): the column is added on
/// start, in place, and hosts fill it with their next report.
fn a_database_without_the_cluster_column_gains_it_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut r = report("o1", "o1-1", &ago(Duration::from_secs(30)), 60);
    in_cluster(&mut r, "orders");
    assert_eq!(c.post(&r).0, 202);
    assert_eq!(c.terminate().code(), Some(0));
    exec_sql(dir.path(), "ALTER TABLE hosts DROP COLUMN cluster");
    let c = Collector::start(dir.path(), &[]);
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(named(&hosts, "hostname", "o1")["cluster"], Value::Null);
    let list = c.get_json("/api/v1/clusters");
    assert_eq!(named(&list, "label", "(no cluster)")["hosts"], 1);
    let mut r = report("o1", "o1-2", &ago(Duration::from_secs(10)), 60);
    in_cluster(&mut r, "orders");
    assert_eq!(c.post(&r).0, 202);
    let list = c.get_json("/api/v1/clusters");
    assert_eq!(named(&list, "name", "orders")["hosts"], 1, "{list:#}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Started again with the column present: nothing changes.
    assert_eq!(c.terminate().code(), Some(0));
    let c = Collector::start(dir.path(), &[]);
    let list = c.get_json("/api/v1/clusters");
    assert_eq!(named(&list, "name", "orders")["hosts"], 1);
}
