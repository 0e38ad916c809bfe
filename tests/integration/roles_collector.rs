//! A host running three roles, end to end: real JVMs found by pid
//! (Debian's ZooKeeper, a stand-in KRaft broker and a stand-in KRaft
//! controller, started as Kafka's script starts them), a real agent
//! delivering every second, a real collector on loopback. The API and
//! the host page name every role and every JVM's roles; when ZooKeeper
//! dies, its role shows stopped and the keys only its audit made (its
//! transaction log's placement beside the broker's log directory) are
//! recorded as gone with it, not as fixed.
//!
//! `TK_ROLES_ARTIFACTS=DIR` keeps what the test saw there: the API's
//! answer, the host page before and after the stop, and the reports.

use crate::collector_support::{Collector, TOKEN, binary, eventually, segment};
use crate::proc_view::ProcView;
use crate::support::{Running, hostname};
use crate::{ci_skip, role_jvms};

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The agent delivering to `collector` every second, seeing only the
/// processes of `view`, until dropped.
struct Agent {
    _running: Running,
}

impl Agent {
    fn start(dir: &Path, collector: &Collector, view: &ProcView) -> Agent {
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
        let config = dir.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "interval = \"1s\"\nendpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
                collector.base,
                dir.join("token").display(),
                dir.join("spool").display(),
                dir.join("state").display()
            ),
        )
        .unwrap();
        Agent {
            _running: Running::spawn(
                Command::new(binary())
                    .args(["--profile-dir", "/nonexistent", "agent", "--config"])
                    .arg(&config)
                    .env("TUNEKEEPER_ROOT", view.root())
                    .env_remove("JOURNAL_STREAM")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            ),
        }
    }
}

/// The newest report the collector holds for this host.
fn latest(c: &Collector) -> Option<Value> {
    let (status, body) = c.get(
        &format!("/api/v1/hosts/{}/reports?limit=1", segment(&hostname())),
        None,
    );
    if status != 200 {
        return None;
    }
    serde_json::from_str::<Value>(&body)
        .ok()?
        .as_array()?
        .first()
        .cloned()
}

fn role<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    r["roles"].as_array()?.iter().find(|x| x["role"] == name)
}

fn has_pid(role: &Value, pid: u32) -> bool {
    role["pids"]
        .as_array()
        .is_some_and(|p| p.iter().any(|x| *x == pid))
}

fn save(name: &str, text: &str) {
    if let Some(dir) = std::env::var_os("TK_ROLES_ARTIFACTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(name), text).unwrap();
    }
}

#[test]
fn three_roles_shown_whole_and_a_stopped_zookeepers_keys_go_with_it() {
    if let Some(why) = role_jvms::missing() {
        ci_skip::skip(&why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for sub in ["zk-data", "zk-txn", "kafka", "meta"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    // ZooKeeper's transaction log on the broker's disk: a placement
    // drift of ZooKeeper's own key, which must go with it when it stops.
    let (mut zk, port) = role_jvms::zookeeper(
        d,
        &format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\ndataLogDir={}\n",
            d.join("zk-data").display(),
            d.join("zk-txn").display()
        ),
    );
    let classes = role_jvms::stand_in_classes(d);
    let broker = role_jvms::kafka(
        d,
        &classes,
        "broker",
        &format!(
            "process.roles=broker\nnode.id=1\nzookeeper.connect=127.0.0.1:{port}\nlog.dirs={}\n",
            d.join("kafka").display()
        ),
        &[],
    );
    let controller = role_jvms::kafka(
        d,
        &classes,
        "controller",
        &format!(
            "process.roles=controller\nnode.id=3000\nmetadata.log.dir={}\n",
            d.join("meta").display()
        ),
        &[],
    );
    for j in [&zk, &broker, &controller] {
        j.collect();
    }
    let (zk_pid, broker_pid, controller_pid) = (zk.pid(), broker.pid(), controller.pid());
    let c = Collector::start(d, &[]);
    // The agent sees these three JVMs and no other test's.
    let view = ProcView::new(&[zk_pid, broker_pid, controller_pid]);
    let agent = Agent::start(d, &c, &view);
    let ours = |r: &Value| {
        [
            ("zookeeper", zk_pid),
            ("broker", broker_pid),
            ("controller", controller_pid),
        ]
        .iter()
        .all(|(name, pid)| role(r, name).is_some_and(|x| has_pid(x, *pid)))
    };
    assert!(
        eventually(|| latest(&c).is_some_and(|r| ours(&r))),
        "no report with the three roles: {:#}",
        latest(&c).unwrap_or_default()
    );
    let report = latest(&c).unwrap();
    save(
        "report-three-roles.json",
        &serde_json::to_string_pretty(&report).unwrap(),
    );

    // The API: each role by name, each running; JVMs counted by role.
    let host = hostname();
    let (_, body) = c.get("/api/v1/hosts?limit=10&role=zookeeper", None);
    let hosts: Value = serde_json::from_str(&body).unwrap();
    save(
        "api-hosts-role-zookeeper.json",
        &serde_json::to_string_pretty(&hosts).unwrap(),
    );
    let h = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["hostname"] == host)
        .unwrap_or_else(|| panic!("the role filter lost the host: {hosts:#}"));
    let names: Vec<&str> = h["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["broker", "controller", "zookeeper"], "{h:#}");
    assert!(
        h["roles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["running"] == true)
    );
    let by_role: Vec<&str> = h["jvms_by_role"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[0].as_str().unwrap())
        .collect();
    for r in ["zookeeper", "broker", "controller"] {
        assert!(by_role.contains(&r), "{by_role:?}");
    }

    // The host page: the three roles, each JVM with its roles and profile.
    let (status, page) = c.get(&format!("/hosts/{}", segment(&host)), None);
    assert_eq!(status, 200);
    save("host-three-roles.html", &page);
    for r in ["broker", "controller", "zookeeper"] {
        assert!(
            page.contains(&format!(r#"<tr data-role="{r}">"#)),
            "role {r}"
        );
    }
    for (pid, roles, profile) in [
        (zk_pid, "zookeeper", "zookeeper"),
        (broker_pid, "broker", "kafka-broker"),
        (controller_pid, "controller", "kraft-controller"),
    ] {
        let row = page
            .split(&format!(r#"<tr data-pid="{pid}">"#))
            .nth(1)
            .unwrap_or_else(|| panic!("no JVM row for pid {pid}"));
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("<b>{roles}</b>")) && row.contains(profile),
            "{row}"
        );
    }
    assert!(
        !page.contains("Broker JVMs"),
        "a ZooKeeper is no broker JVM"
    );

    // ZooKeeper's own drifting keys before it stops.
    let txn = d.join("zk-txn").display().to_string();
    let zk_keys: Vec<String> = role(&report, "zookeeper").unwrap()["finding_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| format!("{} {}", k[0].as_str().unwrap(), k[1].as_str().unwrap()))
        .filter(|k| k.contains(&txn))
        .collect();
    assert!(
        !zk_keys.is_empty(),
        "ZooKeeper's transaction log has findings of its own: {:#}",
        role(&report, "zookeeper").unwrap()
    );

    zk.kill();
    let stopped = eventually(|| {
        latest(&c).is_some_and(|r| role(&r, "zookeeper").is_some_and(|z| z["running"] == false))
    });
    assert!(stopped, "no report with ZooKeeper stopped");
    // The events of the report that saw it stop are written with it.
    let drift_of_txn = || {
        let events = c.get_json(&format!("/api/v1/hosts/{}/drift", segment(&host)));
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["key"].as_str().is_some_and(|k| k.contains(&txn)))
            .cloned()
            .collect::<Vec<Value>>()
    };
    let events = drift_of_txn();
    save(
        "drift-events.json",
        &serde_json::to_string_pretty(&events).unwrap(),
    );
    let ended: Vec<&Value> = events.iter().filter(|e| e["state"] != "drift").collect();
    assert!(
        !ended.is_empty(),
        "ZooKeeper's transaction-log keys drifted and ended: {events:#?}"
    );
    for e in &ended {
        assert_eq!(
            (e["state"].as_str(), e["gone_with"].as_str()),
            (Some("stopped"), Some("zookeeper")),
            "gone with ZooKeeper, not fixed: {e:#}"
        );
    }
    let stopped_report = latest(&c).unwrap();
    save(
        "report-zookeeper-stopped.json",
        &serde_json::to_string_pretty(&stopped_report).unwrap(),
    );
    let (_, page) = c.get(&format!("/hosts/{}", segment(&host)), None);
    save("host-zookeeper-stopped.html", &page);
    let zk_row = page.split(r#"<tr data-role="zookeeper">"#).nth(1).unwrap();
    let zk_row = &zk_row[..zk_row.find("</tr>").unwrap()];
    assert!(
        zk_row.contains("stopped") && zk_row.contains("since "),
        "{zk_row}"
    );
    assert!(
        page.contains("zookeeper stopped"),
        "the drift history says it"
    );
    drop(agent);
}
