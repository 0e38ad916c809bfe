//! Every role on the host, with real JVMs found by pid and a real collector
//! on loopback: Debian's ZooKeeper (QuorumPeerMain, its own zoo.cfg) beside
//! a broker, and a KRaft controller beside a broker (stand-ins whose main
//! class is kafka.Kafka), each audited against its own profile and reported
//! whole by the agent; a role that stops raises drift for that role.
//! The brokers' log directories share a disk (ext4 on a loop device) with
//! ZooKeeper's transaction log, or with the controller's metadata log:
//! placement says so from both sides. Each agent sees the host through a
//! [`ProcView`] of the test's own JVMs: the other tests' brokers, running
//! beside it, are never among its roles, so the two tests run side by side.

use crate::ci_skip;
use crate::collector_support;
use crate::loop_mounts;
use crate::proc_view::ProcView;
use crate::role_jvms;
use crate::support::{Running, bin, hostname};

use std::path::Path;
use std::process::{Command, Stdio};

use collector_support::{Collector, TOKEN, eventually};
use serde_json::Value;

fn missing() -> Option<String> {
    loop_mounts::missing().or_else(role_jvms::missing)
}

/// An agent configuration delivering to `collector` every second.
fn agent_config(dir: &Path, collector: &Collector) -> std::path::PathBuf {
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
    config
}

/// The reports the collector holds for this host, newest first.
fn stored(collector: &Collector) -> Vec<Value> {
    let v = collector.get_json(&format!("/api/v1/hosts/{}/reports", hostname()));
    v.as_array().cloned().unwrap_or_default()
}

fn finding<'a>(findings: &'a Value, check: &str, key: &str) -> &'a Value {
    findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check && f["key"] == key)
        .unwrap_or_else(|| panic!("no {check} {key} in {findings:#}"))
}

/// The finding of a data directory: its key is the path alone, since one
/// process of each role runs in the agent's view (with several, a
/// `(pid N)` would follow).
fn of_dir<'a>(findings: &'a Value, check: &str, dir: &str, expected: &str) -> &'a Value {
    findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check && f["expected"] == expected && f["key"] == dir)
        .unwrap_or_else(|| panic!("no {check} {dir} ({expected}) in {findings:#}"))
}

fn jvm(report: &Value, pid: u32) -> &Value {
    report["jvms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["pid"] == pid)
        .unwrap_or_else(|| panic!("no JVM {pid} in {report:#}"))
}

fn role<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == name)
        .unwrap_or_else(|| panic!("no role {name} in {:#}", report["roles"]))
}

fn has_pid(role: &Value, pid: u32) -> bool {
    role["pids"].as_array().unwrap().iter().any(|p| *p == pid)
}

/// The timeout keys a JVM's pauses were weighed against.
fn budget_keys(jvm: &Value) -> Vec<String> {
    jvm["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["key"].as_str())
        .filter_map(|k| k.strip_prefix("timeout:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn zookeeper_beside_a_broker_is_audited_reported_and_its_stop_drifts() {
    if let Some(why) = missing() {
        ci_skip::skip(&why);
        return;
    }
    let mut m = loop_mounts::LoopMounts::new();
    let shared = m.ext4("shared");
    let d = m.dir.path().to_path_buf();
    std::fs::create_dir_all(d.join("zk-snapshots")).unwrap();
    std::fs::create_dir_all(shared.join("kafka")).unwrap();
    std::fs::create_dir_all(shared.join("zk-txn")).unwrap();
    let (mut zk, port) = role_jvms::zookeeper(
        &d,
        &format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\ndataLogDir={}\n",
            d.join("zk-snapshots").display(),
            shared.join("zk-txn").display()
        ),
    );
    let classes = role_jvms::stand_in_classes(&d);
    let broker = role_jvms::kafka(
        &d,
        &classes,
        "server",
        &format!(
            "broker.id=1\nzookeeper.connect=127.0.0.1:{port}\nlog.dirs={}\n",
            shared.join("kafka").display()
        ),
        &[],
    );
    zk.collect();
    broker.collect();
    let (zk_pid, broker_pid) = (zk.pid(), broker.pid());

    // The host as the agent sees it: this ZooKeeper and this broker.
    let view = ProcView::new(&[zk_pid, broker_pid]);

    let collector = Collector::start(&d, &[]);
    let config = agent_config(&d, &collector);
    let mut agent = Running::spawn(
        Command::new(bin())
            .args(["--profile-dir", "/nonexistent", "agent", "--config"])
            .arg(&config)
            .env("TUNEKEEPER_ROOT", view.root())
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    assert!(
        eventually(|| !stored(&collector).is_empty()),
        "no report reached the collector"
    );
    let r = stored(&collector).remove(0);

    // One report, every role: each named, with its profile and processes.
    let z = role(&r, "zookeeper");
    assert_eq!(
        (
            z["profile"].as_str(),
            z["process_key"].as_str(),
            z["running"].as_bool()
        ),
        (Some("zookeeper"), Some("running (zookeeper)"), Some(true))
    );
    assert!(has_pid(z, zk_pid), "{z:#}");
    assert!(has_pid(role(&r, "broker"), broker_pid));
    // Every role's profile audited, and only those: the view holds no
    // other test's JVM.
    let mut profiles: Vec<&str> = r["profile"].as_str().unwrap().split('+').collect();
    profiles.sort_unstable();
    assert_eq!(profiles, ["kafka-broker", "zookeeper"]);
    let roles: Vec<&str> = r["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.len(), 2, "{roles:?}");
    let jvms: Vec<&Value> = r["jvms"].as_array().unwrap().iter().collect();
    assert_eq!(jvms.len(), 2, "the two JVMs of this test: {jvms:#?}");
    // Each JVM by its roles, judged by its role's profile.
    let zj = jvm(&r, zk_pid);
    assert_eq!(zj["roles"], serde_json::json!(["zookeeper"]));
    assert_eq!(zj["profile"], "zookeeper");
    assert_eq!(zj["config"], zk.config.display().to_string());
    assert!(
        zj["gc"]["total"]["overall"]["count"].as_u64().unwrap() > 0,
        "ZooKeeper's GC log was read: {zj:#}"
    );
    let bj = jvm(&r, broker_pid);
    assert_eq!(bj["roles"], serde_json::json!(["broker"]));
    assert_eq!(bj["profile"], "kafka-broker");
    // Each weighed against its own role's timeouts.
    assert_eq!(budget_keys(zj), ["syncLimit", "minSessionTimeout"]);
    let sync = finding(&zj["findings"], "gc", "timeout:syncLimit");
    assert!(
        sync["expected"].as_str().unwrap().ends_with("of 10000 ms"),
        "syncLimit=5 ticks of 2000 ms: {sync:#}"
    );
    assert_eq!(
        budget_keys(bj),
        [
            "zookeeper.session.timeout.ms",
            "replica.lag.time.max.ms",
            "session.timeout.ms"
        ]
    );

    // The host's findings: each role's process, ZooKeeper's own data
    // directories, and placement across roles from both sides.
    let f = &r["findings"];
    assert_eq!(finding(f, "process", "running")["status"], "ok");
    assert_eq!(finding(f, "process", "running (zookeeper)")["status"], "ok");
    let k = finding(f, "kafka", &format!("pid {zk_pid}"));
    assert_eq!(
        k["actual"],
        format!("zookeeper ({})", zk.config.display()),
        "{k:#}"
    );
    let kafka_dir = shared.join("kafka").display().to_string();
    let txn_dir = shared.join("zk-txn").display().to_string();
    let placed = |dir: &str| of_dir(f, "placement", dir, "one data directory per disk");
    let b = placed(&kafka_dir);
    assert_eq!(b["status"], "drift", "{b:#}");
    assert_eq!(
        b["actual"],
        format!("shares its disk with {txn_dir} (zookeeper)")
    );
    assert!(
        b["detail"].as_str().unwrap().starts_with(&format!(
            "{txn_dir} is the zookeeper's dataLogDir (pid {zk_pid})"
        )),
        "{b:#}"
    );
    let t = placed(&txn_dir);
    assert_eq!(t["status"], "drift", "{t:#}");
    assert!(
        t["actual"]
            .as_str()
            .unwrap()
            .contains(&format!("{kafka_dir} (broker)")),
        "{t:#}"
    );
    assert!(
        t["detail"].as_str().unwrap().contains(&format!(
            "{kafka_dir} is the broker's log.dirs (pid {broker_pid})"
        )),
        "{t:#}"
    );
    let snapshots = d.join("zk-snapshots").display().to_string();
    of_dir(f, "space", &format!("{snapshots} free space"), ">=15%");

    // ZooKeeper dies: its own process key drifts, the broker's does not.
    zk.kill();
    let stopped = eventually(|| {
        stored(&collector).first().is_some_and(|r| {
            finding(&r["findings"], "process", "running (zookeeper)")["status"] == "drift"
        })
    });
    assert!(stopped, "no report with ZooKeeper stopped");
    let r = stored(&collector).remove(0);
    let z = finding(&r["findings"], "process", "running (zookeeper)");
    assert!(
        z["detail"]
            .as_str()
            .unwrap()
            .contains("the ZooKeeper server is stopped"),
        "{z:#}"
    );
    assert_eq!(
        finding(&r["findings"], "process", "running")["status"],
        "ok"
    );
    let zr = role(&r, "zookeeper");
    assert_eq!(zr["running"], false, "{zr:#}");
    assert!(zr["missing_since"].is_string(), "{zr:#}");
    // The collector records it as the drift of that key.
    let drift = collector.get_json(&format!("/api/v1/hosts/{}/drift", hostname()));
    assert!(
        drift.to_string().contains("running (zookeeper)"),
        "{drift:#}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(agent.0.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(agent.0.wait().unwrap().success(), "{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("the ZooKeeper server stopped"))
            .count(),
        1,
        "{log}"
    );
    drop(broker);
}

#[test]
fn a_controller_beside_a_broker_is_audited_and_reported_whole() {
    if let Some(why) = missing() {
        ci_skip::skip(&why);
        return;
    }
    let mut m = loop_mounts::LoopMounts::new();
    let shared = m.ext4("shared");
    let d = m.dir.path().to_path_buf();
    for sub in ["kafka", "meta"] {
        std::fs::create_dir_all(shared.join(sub)).unwrap();
    }
    let classes = role_jvms::stand_in_classes(&d);
    let controller = role_jvms::kafka(
        &d,
        &classes,
        "controller",
        &format!(
            "process.roles=controller\nnode.id=3000\ncontroller.quorum.election.timeout.ms=1500\nmetadata.log.dir={}\n",
            shared.join("meta").display()
        ),
        &[],
    );
    let broker = role_jvms::kafka(
        &d,
        &classes,
        "broker",
        &format!(
            "process.roles=broker\nnode.id=1\nbroker.session.timeout.ms=12000\nlog.dirs={}\n",
            shared.join("kafka").display()
        ),
        &[],
    );
    controller.collect();
    broker.collect();
    // The host as the agent sees it: this controller and this broker.
    let view = ProcView::new(&[controller.pid(), broker.pid()]);
    let collector = Collector::start(&d, &[]);
    let config = agent_config(&d, &collector);
    let out = Command::new(bin())
        .args([
            "--profile-dir",
            "/nonexistent",
            "agent",
            "--once",
            "--config",
        ])
        .arg(&config)
        .env("TUNEKEEPER_ROOT", view.root())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = stored(&collector).remove(0);
    let c = role(&r, "controller");
    assert_eq!(
        (c["profile"].as_str(), c["process_key"].as_str()),
        (Some("kraft-controller"), Some("running (controller)"))
    );
    assert!(has_pid(c, controller.pid()), "{c:#}");
    assert!(
        !has_pid(role(&r, "broker"), controller.pid()),
        "a controller is no broker"
    );
    let cj = jvm(&r, controller.pid());
    assert_eq!(cj["roles"], serde_json::json!(["controller"]));
    assert_eq!(cj["profile"], "kraft-controller");
    assert_eq!(
        budget_keys(cj),
        [
            "controller.quorum.fetch.timeout.ms",
            "controller.quorum.election.timeout.ms"
        ]
    );
    let election = finding(
        &cj["findings"],
        "gc",
        "timeout:controller.quorum.election.timeout.ms",
    );
    assert!(
        election["detail"].as_str().unwrap().contains(&format!(
            "controller.quorum.election.timeout.ms = 1500 ms ({})",
            controller.config.display()
        )),
        "from its own file: {election:#}"
    );
    let fetch = finding(
        &cj["findings"],
        "gc",
        "timeout:controller.quorum.fetch.timeout.ms",
    );
    assert!(
        fetch["detail"].as_str().unwrap().contains(
            "controller.quorum.fetch.timeout.ms = 2000 ms (Kafka's default, 3.x and 4.x)"
        ),
        "{fetch:#}"
    );
    let bj = jvm(&r, broker.pid());
    assert_eq!(
        budget_keys(bj),
        [
            "broker.session.timeout.ms",
            "broker.heartbeat.interval.ms",
            "replica.lag.time.max.ms",
            "session.timeout.ms"
        ]
    );

    let f = &r["findings"];
    assert_eq!(
        finding(f, "process", "running (controller)")["status"],
        "ok"
    );
    let meta = shared.join("meta").display().to_string();
    let kafka_dir = shared.join("kafka").display().to_string();
    let b = of_dir(f, "placement", &kafka_dir, "one data directory per disk");
    assert_eq!(
        (b["status"].as_str(), b["actual"].as_str()),
        (
            Some("drift"),
            Some(format!("shares its disk with {meta} (controller)").as_str())
        ),
        "{b:#}"
    );
    assert!(
        b["detail"].as_str().unwrap().starts_with(&format!(
            "{meta} is the controller's metadata.log.dir (pid {})",
            controller.pid()
        )),
        "{b:#}"
    );
    of_dir(f, "space", &format!("{meta} free space"), ">=15%");
}
