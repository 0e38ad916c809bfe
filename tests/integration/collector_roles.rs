//! The collector with roles, on both backends, from reports a real agent
//! produced on a host running a ZooKeeper, a KRaft broker and a KRaft
//! controller (tests/fixtures/collector/three-roles*.json, made by
//! tests/roles_collector.rs): every role by name in the API, on the fleet
//! page (a column and a filter) and on the host page; a stopped
//! ZooKeeper's keys gone with it; GC health unknown (never "healthy") for
//! a JVM whose GC log the agent cannot read, on every page, in the API and
//! in `/metrics`; the host page's weeks and its cluster's trend from one
//! aggregation across a week boundary; Cruise Control's capacity file for
//! a host with two brokers and a NIC that reports no speed.

use crate::collector_support;

use std::time::Duration;

use collector_support::{Collector, READ_TOKEN, ago, eventually, report, segment};
use serde_json::{Value, json};

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/collector/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A fixture with another host, id and time.
fn as_host(mut r: Value, host: &str, id: &str, time: &str) -> Value {
    r["host"]["hostname"] = host.into();
    r["id"] = id.into();
    r["time"] = time.into();
    r
}

fn three_roles(host: &str, id: &str) -> Value {
    as_host(load("three-roles"), host, id, &ago(Duration::from_secs(2)))
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
    let at = html
        .find(&format!(r#"href="/hosts/{}""#, segment(host)))
        .unwrap_or_else(|| panic!("no row of {host}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    &html[start..end]
}

on_both!(
    a_three_role_host_is_shown_whole_and_an_old_agents_as_before,
    a_stopped_zookeepers_keys_went_with_it,
    an_unreadable_gc_log_is_unknown_health_everywhere,
    the_host_page_and_its_clusters_trend_count_the_same_reports,
    two_brokers_on_a_nic_without_speed_get_a_file_cruise_control_loads,
);

fn a_three_role_host_is_shown_whole_and_an_old_agents_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    assert_eq!(c.post(&three_roles("zk-1", "r-1")).0, 202);
    let old = report("old-1", "o-1", &ago(Duration::from_secs(2)), 60);
    assert_eq!(c.post(&old).0, 202);

    let hosts = c.get_json("/api/v1/hosts");
    let h = host_of(&hosts, "zk-1");
    let roles: Vec<(&str, &str, bool)> = h["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap(),
                r["profile"].as_str().unwrap(),
                r["running"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("broker", "kafka-broker", true),
            ("controller", "kraft-controller", true),
            ("zookeeper", "zookeeper", true)
        ]
    );
    assert_eq!(
        h["jvms_by_role"],
        json!([["zookeeper", 1], ["broker", 1], ["controller", 1]])
    );
    let o = host_of(&hosts, "old-1");
    assert_eq!(
        (o["roles"].clone(), o["jvms_by_role"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(
        o["gc"]["health"], "healthy",
        "an old agent's host as before"
    );

    // The role filter, in the API and on the fleet page, pages in SQL.
    let only = c.get_json("/api/v1/hosts?role=zookeeper");
    let names: Vec<&str> = only
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zk-1"]);
    let fleet = page(&c, "/");
    let row = fleet_row(&fleet, "zk-1");
    for r in ["broker", "controller", "zookeeper"] {
        assert!(row.contains(&format!(">{r}</span>")), "{r} badge: {row}");
    }
    assert!(fleet_row(&fleet, "old-1").contains("older than roles"));
    let filtered = page(&c, "/?role=zookeeper");
    assert!(filtered.contains("1 of 1 hosts matching"), "{filtered}");
    assert!(!filtered.contains("old-1"));

    // The host page: each role with its state and processes, each JVM by
    // its roles and the profile that judged it, findings by role.
    let html = page(&c, "/hosts/zk-1");
    for (role, pid) in [("broker", 6324), ("controller", 6346), ("zookeeper", 6224)] {
        let row = html
            .split(&format!(r#"<tr data-role="{role}">"#))
            .nth(1)
            .unwrap_or_else(|| panic!("no role row {role}"));
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("running") && row.contains(&format!("pid {pid}")),
            "{row}"
        );
        assert!(
            html.contains(&format!(r#"<tr data-pid="{pid}">"#)),
            "JVM {pid}"
        );
    }
    assert!(html.contains("Role zookeeper · its profile zookeeper"));
    // A host that reported once: its charts show the minutes since, by
    // the clock, not two weeks with its one point at the right edge.
    assert!(html.contains("this host reported first at "), "{html}");
    let ticks: Vec<&str> = html
        .split(r#"class="xa">"#)
        .skip(1)
        .map(|t| &t[..t.find('<').unwrap()])
        .collect();
    assert!(
        !ticks.is_empty()
            && ticks
                .iter()
                .all(|t| t.len() == 5 && t.as_bytes()[2] == b':'),
        "hours on the axis: {ticks:?}"
    );
    assert!(!html.contains("Broker JVMs"));
    assert!(page(&c, "/hosts/old-1").contains("does not report roles"));
}

fn a_stopped_zookeepers_keys_went_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let before = as_host(
        load("three-roles"),
        "zk-1",
        "r-1",
        &ago(Duration::from_secs(20)),
    );
    let after = as_host(
        load("three-roles-zookeeper-stopped"),
        "zk-1",
        "r-2",
        &ago(Duration::from_secs(10)),
    );
    assert_eq!(c.post(&before).0, 202);
    assert_eq!(c.post(&after).0, 202);
    let events = c.get_json("/api/v1/hosts/zk-1/drift");
    let of = |key: &str| -> Vec<(String, Option<String>)> {
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["key"] == key)
            .map(|e| {
                (
                    e["state"].as_str().unwrap().to_owned(),
                    e["gone_with"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    // ZooKeeper's own keys: gone with it, not fixed.
    for key in ["/srv/roles/zk-txn", "/srv/roles/zk-data"] {
        assert_eq!(
            of(key),
            [
                ("drift".to_owned(), None),
                ("stopped".to_owned(), Some("zookeeper".to_owned()))
            ],
            "{key}: {events:#}"
        );
    }
    // Its process key starts drifting; the broker's keys are untouched.
    assert_eq!(of("running (zookeeper)"), [("drift".to_owned(), None)]);
    assert!(of("/srv/roles/kafka").iter().all(|(s, _)| s == "drift"));
    let html = page(&c, "/hosts/zk-1");
    assert!(
        html.contains("zookeeper stopped"),
        "the history names the role"
    );
    let zk = html.split(r#"<tr data-role="zookeeper">"#).nth(1).unwrap();
    let zk = &zk[..zk.find("</tr>").unwrap()];
    assert!(
        zk.contains("since 2026-12-06 17:11 UTC, ")
            && zk.contains("2026-12-06T17:11:45.654507102Z"),
        "since when, as people read it (the agent's time in its title): {zk}"
    );
    let fleet = page(&c, "/");
    assert!(fleet_row(&fleet, "zk-1").contains("zookeeper stopped"));
}

/// The broker JVM of the three-role report as the agent reports a JVM
/// whose GC log directory it may not enter.
fn unreadable(mut r: Value) -> Value {
    let j = r["jvms"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|j| j["roles"] == json!(["broker"]))
        .unwrap();
    for w in ["interval", "total"] {
        let g = &mut j["gc"][w];
        g["gc_ms_per_second"] = Value::Null;
        g["worst_minute_gc_ms_per_second"] = Value::Null;
        g["overall"]["count"] = 0.into();
    }
    j["findings"].as_array_mut().unwrap().push(json!({
        "check": "gc", "key": "log", "expected": "a readable G1 log", "actual": null,
        "status": "unreadable",
        "detail": "/var/log/kafka/gc.log: permission denied: /var/log/kafka is 0750 kafka:kafka, and the agent runs as tunekeeper: give it the group with a drop-in (systemctl edit tunekeeper-agent: [Service] SupplementaryGroups=kafka; README, \"The services\")"
    }));
    // The other two JVMs: not the worst rate, so the host's is theirs.
    r["cluster"] = json!({"name": "east", "from": "config"});
    r
}

fn an_unreadable_gc_log_is_unknown_health_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("read-tokens");
    let c = Collector::start(dir.path(), &["--read-token-file", tokens.to_str().unwrap()]);
    let r = unreadable(three_roles("b-1", "r-1"));
    assert_eq!(c.post(&r).0, 202);
    // A young JVM's rate: null, with the agent's reason.
    let mut young = as_host(
        load("three-roles"),
        "b-2",
        "r-2",
        &ago(Duration::from_secs(2)),
    );
    for j in young["jvms"].as_array_mut().unwrap() {
        j["gc"]["interval"]["gc_ms_per_second"] = Value::Null;
        j["gc"]["interval"]["rates_null_because"] =
            "the JVM has run 13 s, under a minute: no rate yet".into();
    }
    assert_eq!(c.post(&young).0, 202);

    let (_, body) = c.get("/api/v1/hosts", Some(READ_TOKEN));
    let hosts: Value = serde_json::from_str(&body).unwrap();
    let gc = &host_of(&hosts, "b-1")["gc"];
    assert_eq!(gc["health"], "unknown", "{gc:#}");
    let why = gc["unknown_because"].as_str().unwrap();
    assert!(
        why.contains("broker (pid 6324): its GC log cannot be read")
            && why.contains("SupplementaryGroups=kafka"),
        "{why}"
    );
    let gc2 = &host_of(&hosts, "b-2")["gc"];
    assert_eq!(
        (gc2["health"].as_str(), gc2["gc_ms_per_second"].clone()),
        (Some("healthy"), Value::Null)
    );
    assert!(
        gc2["gc_ms_per_second_null_because"]
            .as_str()
            .unwrap()
            .contains("under a minute"),
        "{gc2:#}"
    );

    let get = |path: &str| {
        let (status, body) = c.get(path, Some(READ_TOKEN));
        assert_eq!(status, 200, "{path}");
        body
    };
    let fleet = get("/");
    let row = fleet_row(&fleet, "b-1");
    assert!(
        row.contains(">unknown</span>") && row.contains("GC log unreadable"),
        "{row}"
    );
    assert!(!row.contains(">healthy<"), "{row}");
    assert!(
        fleet_row(&fleet, "b-2").contains("young JVM"),
        "the dash says why"
    );
    assert!(
        fleet.contains("<b>1</b> GC unknown"),
        "counted in the header"
    );
    let unknown = get("/?state=gc-unknown");
    assert!(unknown.contains("1 of 1 hosts matching") && unknown.contains("b-1"));
    assert!(
        !get("/?state=healthy").contains(r#"href="/hosts/b-1""#),
        "not healthy"
    );
    let host = get("/hosts/b-1");
    assert!(host.contains("GC unknown") && host.contains(r#"id="gc-unknown""#));
    assert!(host.contains("SupplementaryGroups=kafka"));
    assert!(get("/clusters/east").contains(">unknown</span>"));
    let metrics = get("/metrics");
    assert!(
        metrics.contains(r#"tunekeeper_collector_hosts{cluster="east",state="gc_unknown"} 1"#),
        "{metrics}"
    );
}

/// A report of `host` in cluster `east` at `days` days ago.
fn dated(host: &str, id: &str, days: f64, rate: f64) -> Value {
    let mut r = report(host, id, &ago(Duration::from_secs_f64(days * 86_400.0)), 60);
    r["cluster"] = json!({"name": "east", "from": "config"});
    r["jvms"][0]["gc"]["interval"]["gc_ms_per_second"] = rate.into();
    r
}

fn the_host_page_and_its_clusters_trend_count_the_same_reports() {
    let dir = tempfile::tempdir().unwrap();
    // The default refresh period: the figures must not wait for it.
    let c = Collector::start(dir.path(), &[]);
    // Host a: two reports last week (one just past the boundary), three
    // this week (one just inside); host b: one each week.
    let reports = [
        dated("a", "a1", 13.0, 1.0),
        dated("a", "a2", 7.01, 3.0),
        dated("b", "b1", 9.0, 5.0),
        dated("a", "a3", 6.99, 2.0),
        dated("a", "a4", 2.0, 4.0),
        dated("b", "b2", 1.0, 6.0),
        dated("a", "a5", 0.001, 6.0),
    ];
    for r in &reports {
        assert_eq!(c.post(r).0, 202);
    }
    let trend = || {
        let all = c.get_json("/api/v1/clusters");
        all.as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "east")
            .and_then(|x| x.get("trend").cloned())
            .unwrap_or(Value::Null)
    };
    assert!(
        eventually(|| trend()["this_week"]["reports"] == 4),
        "the cluster's trend did not count this week's reports: {:#}",
        trend()
    );
    let t = trend();
    assert_eq!(
        (&t["this_week"]["reports"], &t["last_week"]["reports"]),
        (&json!(4), &json!(3))
    );
    assert_eq!(t["this_week"]["mean_gc_ms_per_second"], 4.5);
    // Host a's page: the same aggregation, its own share of it.
    let html = page(&c, "/hosts/a");
    let reports_row = html
        .split("<td>Reports</td>")
        .nth(1)
        .expect("the week table");
    let cells: Vec<&str> = reports_row
        .split("<td class=\"n\">")
        .skip(1)
        .take(2)
        .map(|c| &c[..c.find('<').unwrap()])
        .collect();
    assert_eq!(cells, ["3", "2"], "this week, last week");
    assert!(html.contains("the figures its cluster's trend sums"));
}

fn two_brokers_on_a_nic_without_speed_get_a_file_cruise_control_loads() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    // The real three-role host's hardware (its virtio NIC reports no
    // speed), with a second broker beside the first.
    let mut r = three_roles("b-1", "r-1");
    r["cluster"] = json!({"name": "east", "from": "config"});
    let mut second = r["hardware"]["brokers"][0].clone();
    second["broker_id"] = 2.into();
    second["log_dirs"][0]["path"] = "/srv/roles/kafka-2".into();
    r["hardware"]["brokers"]
        .as_array_mut()
        .unwrap()
        .push(second);
    assert_eq!(
        r["hardware"]["network"],
        json!([{"name": "eth0", "speed_mbps": null}])
    );
    assert_eq!(c.post(&r).0, 202);

    let path = "/api/v1/clusters/east/cruise-control-capacity";
    let (status, body) = c.get(path, None);
    assert_eq!(status, 422, "no file Cruise Control could load: {body}");
    let none: Value = serde_json::from_str(&body).unwrap();
    let missing = none["left_out"][0]["missing"][0].as_str().unwrap();
    assert!(
        missing.contains("no physical interface reports its speed (eth0")
            && missing.contains("network_mbps"),
        "{none:#}"
    );
    let file = c.get_json(&format!("{path}?network_mbps=25000"));
    let ids = tunekeeper::collector::fleet::capacity::cruise_control_loads(&file)
        .unwrap_or_else(|e| panic!("{e}: {file:#}"));
    assert_eq!(ids, [-1, 1, 2]);
    // Two brokers on 2 CPUs and 25 Gbit/s: one core and half the link each.
    assert_eq!(
        file["brokerCapacities"][1]["capacity"]["CPU"],
        json!({"num.cores": "1"})
    );
    assert_eq!(file["brokerCapacities"][1]["capacity"]["NW_IN"], "1525878");
    let (status, _) = c.get(&format!("{path}?network_mbps=fast"), None);
    assert_eq!(status, 400);
}
