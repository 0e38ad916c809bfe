//! Knowing the broker, on fake trees: the edge cases a real test machine
//! cannot stage (tests/integration/broker_layout.rs runs the real ones). A data
//! directory on the OS disk's second partition, LVM on MD RAID resolved to
//! its disks, a directory shared with another, one missing, a heap too big
//! for the host, maps and open files near their limits, a broker whose
//! configuration lives only inside its container.

use crate::broker_tree;

use broker_tree::BrokerTree;
use tunekeeper::audit::{AuditReport, audit};
use tunekeeper::finding::{Finding, Status};
use tunekeeper::host::Host;
use tunekeeper::profile::ProfileStore;

fn run(tree: &BrokerTree) -> AuditReport {
    let profile = ProfileStore::with_dirs(vec![])
        .load("kafka-broker")
        .unwrap();
    audit(&profile, &Host::at(tree.root()))
}

fn find<'a>(r: &'a AuditReport, check: &str, key: &str, expected: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.check == check && f.key == key && f.expected.contains(expected))
        .unwrap_or_else(|| panic!("no {check} {key} ({expected}): {:#?}", r.findings))
}

#[test]
fn placement_through_partitions_raid_and_lvm() {
    let mut t = BrokerTree::new(64);
    // /data0 on the OS disk's second partition.
    t.mount("8:2", "/data0", "xfs", "rw,noatime");
    // /data1: LVM (dm-0) on MD RAID (md0) over sdb and sdc.
    t.disk("sdb", 8, 16, true);
    t.disk("sdc", 8, 32, true);
    t.stacked("md0", 9, 0, &["sdb", "sdc"]);
    t.stacked("dm-0", 253, 0, &["md0"]);
    t.mount("253:0", "/data1", "xfs", "rw,noatime");
    // /data2: sdd alone. /data3 named but never created.
    t.disk("sdd", 8, 48, false);
    t.mount("8:48", "/data2", "ext4", "rw,relatime");
    t.broker(
        4242,
        "6g",
        "log.dirs=/data0/kafka,/data1/kafka,/data1/kafka-b,/data2/kafka,/data3/kafka\n",
        10,
        10,
    );
    std::fs::remove_dir_all(t.path("/data3/kafka")).unwrap();
    let r = run(&t);

    let os = find(&r, "placement", "/data0/kafka", "off the OS disk");
    assert_eq!(os.status, Status::Drift);
    assert!(
        os.detail.as_deref().unwrap().contains("sda also holds /"),
        "{os:#?}"
    );

    let lvm = find(&r, "datadir", "/data1/kafka", "exists");
    assert_eq!(
        lvm.actual.as_deref(),
        Some("xfs on sdb (HDD)+sdc (HDD)"),
        "LVM on RAID"
    );
    let shared = find(
        &r,
        "placement",
        "/data1/kafka",
        "one data directory per disk",
    );
    assert_eq!(shared.status, Status::Drift);
    assert!(shared.actual.as_deref().unwrap().contains("/data1/kafka-b"));
    let alone = find(
        &r,
        "placement",
        "/data2/kafka",
        "one data directory per disk",
    );
    assert_eq!(alone.status, Status::Ok);
    assert_eq!(
        find(&r, "placement", "/data2/kafka", "off the OS disk").status,
        Status::Ok
    );

    let mount = find(&r, "mount", "/data2/kafka", "noatime");
    assert_eq!(mount.status, Status::Drift, "relatime, no noatime");

    let missing = find(&r, "datadir", "/data3/kafka", "exists");
    assert_eq!(missing.status, Status::Drift);
    assert!(
        missing
            .detail
            .as_deref()
            .unwrap()
            .contains("does not exist")
    );

    // The block rule without globs judges exactly the data disks.
    let mut judged: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.check == "block" && f.key.ends_with("/scheduler"))
        .map(|f| f.key.as_str())
        .collect();
    judged.sort();
    assert_eq!(
        judged,
        [
            "sda/scheduler",
            "sdb/scheduler",
            "sdc/scheduler",
            "sdd/scheduler"
        ]
    );
    // A broker with its configuration read is named with its role.
    let k = find(&r, "kafka", "pid 4242", "readable");
    assert_eq!(
        (k.status, k.actual.as_deref()),
        (
            Status::Ok,
            Some("broker (/etc/kafka/server-4242.properties)")
        )
    );
}

#[test]
fn memory_maps_and_files_as_shares_of_their_limits() {
    let mut t = BrokerTree::new(16);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.write("/proc/sys/vm/max_map_count", "1000\n");
    t.broker(7, "10g", "log.dirs=/data1/kafka\n", 900, 30);
    t.nofile(7, 32);
    let r = run(&t);
    let heap = find(&r, "memory", "heap (pid 7)", "<=6 GiB");
    assert_eq!(
        (heap.status, heap.actual.as_deref()),
        (Status::Drift, Some("10 GiB"))
    );
    let share = find(&r, "memory", "heap share (pid 7)", "<=50%");
    assert_eq!(
        (share.status, share.actual.as_deref()),
        (Status::Drift, Some("62%"))
    );
    assert!(share.detail.as_deref().unwrap().contains("MemTotal"));
    let maps = find(&r, "maps", "pid 7", "<=80%");
    assert_eq!(
        (maps.status, maps.actual.as_deref()),
        (Status::Drift, Some("90%"))
    );
    let files = find(&r, "files", "pid 7", "<=80%");
    assert_eq!(
        (files.status, files.actual.as_deref()),
        (Status::Drift, Some("93%"))
    );

    // In a cgroup with a lower memory.max, the cgroup is the limit.
    t.write("/proc/7/cgroup", "0::/kubepods/pod1/c1\n");
    t.write(
        "/sys/fs/cgroup/kubepods/pod1/c1/memory.max",
        "12884901888\n",
    );
    let r = run(&t);
    let share = find(&r, "memory", "heap share (pid 7)", "<=50%");
    assert_eq!(share.actual.as_deref(), Some("83%"));
    assert!(share.detail.as_deref().unwrap().contains("memory.max"));
}

#[test]
fn a_containers_configuration_is_read_inside_its_root() {
    let mut t = BrokerTree::new(64);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    // The host has no /etc/kafka/server-9.properties: only the container does.
    t.broker(9, "4g", "log.dirs=/var/lib/kafka/data\n", 1, 1);
    std::fs::remove_file(t.path("/etc/kafka/server-9.properties")).unwrap();
    t.link("/proc/9/ns/mnt", "mnt:[4026532999]");
    t.write("/proc/9/cgroup", "0::/system.slice/docker-abc.scope\n");
    t.write(
        "/proc/9/root/etc/kafka/server-9.properties",
        "log.dirs=/var/lib/kafka/data\n",
    );
    std::fs::create_dir_all(t.path("/proc/9/root/var/lib/kafka/data")).unwrap();
    // Its own mount table: the data directory is on sdb inside the container.
    t.write(
        "/proc/9/mountinfo",
        "1 0 0:50 / / rw - overlay overlay rw\n2 1 8:16 /vol /var/lib/kafka rw,noatime - xfs /dev/sdb rw\n",
    );
    let r = run(&t);
    let k = find(&r, "kafka", "pid 9", "readable");
    assert_eq!(k.status, Status::Ok, "{k:#?}");
    assert!(
        k.actual
            .as_deref()
            .unwrap()
            .contains("in a docker container")
    );
    assert!(k.detail.as_deref().unwrap().contains("/proc/9/root"));
    let d = find(&r, "datadir", "/var/lib/kafka/data", "exists");
    assert_eq!(d.actual.as_deref(), Some("xfs on sdb (SSD)"), "{d:#?}");
}

#[test]
fn the_profile_follows_the_roles_that_run_here() {
    let host_of = |t: &BrokerTree| Host::at(t.root());
    let chosen = |t: &BrokerTree| {
        tunekeeper::kafka::choose_profiles(&host_of(t))
            .into_iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect::<Vec<_>>()
    };
    let t = BrokerTree::new(8);
    assert_eq!(
        chosen(&t),
        ["kafka-broker: no Kafka broker, controller or ZooKeeper runs: the default profile"]
    );
    t.broker(11, "1g", "process.roles=controller\nnode.id=1\n", 1, 1);
    assert_eq!(
        chosen(&t),
        ["kraft-controller: a controller runs here (pid 11)"]
    );
    t.broker(12, "6g", "process.roles=broker,controller\n", 1, 1);
    t.zookeeper(13, "dataDir=/var/lib/zookeeper\n");
    assert_eq!(
        chosen(&t),
        [
            "kafka-broker: a broker+controller runs here (pid 12)",
            "kraft-controller: a controller runs here (pid 11)",
            "zookeeper: a zookeeper runs here (pid 13)",
        ]
    );
    // `audit` without --profile: one report per role, an array in JSON.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .arg("--root")
        .arg(t.root())
        .args(["--profile-dir", "/nonexistent", "audit", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let profiles: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["kafka-broker", "kraft-controller", "zookeeper"]);
    assert!(v[2]["chosen_because"].as_str().unwrap().contains("pid 13"));
}

/// A broker that exits while the audit reads it: its /proc entries vanish
/// between discovery and the later reads. Each read that fails is a finding
/// saying so; nothing panics, nothing is counted as zero.
#[test]
fn a_broker_that_exits_mid_read_gives_findings_not_numbers() {
    let mut t = BrokerTree::new(16);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.broker(31, "4g", "log.dirs=/data1/kafka\n", 10, 10);
    for gone in ["maps", "limits", "mountinfo"] {
        std::fs::remove_file(t.path(&format!("/proc/31/{gone}"))).unwrap();
    }
    std::fs::remove_dir_all(t.path("/proc/31/fd")).unwrap();
    let r = run(&t);
    let maps = find(&r, "maps", "pid 31", "<=80%");
    assert_eq!(
        (maps.status, maps.actual.as_deref()),
        (Status::Unreadable, None)
    );
    assert!(
        maps.detail.as_deref().unwrap().contains("it exited"),
        "{maps:#?}"
    );
    let files = find(&r, "files", "pid 31", "<=80%");
    assert_eq!(files.status, Status::Unreadable);
    let dir = find(&r, "datadir", "/data1/kafka", "exists");
    assert_eq!(
        dir.status,
        Status::Unreadable,
        "no mount table to place it: {dir:#?}"
    );
    assert!(
        dir.detail.as_deref().unwrap().contains("mountinfo"),
        "{dir:#?}"
    );
}

/// A broker host whose broker is not running is a `process` drift, not a
/// host whose broker findings quietly went away.
#[test]
fn a_stopped_broker_is_a_drift_not_a_fix() {
    let t = BrokerTree::new(16);
    let r = run(&t);
    let f = find(&r, "process", "running", "kafka");
    assert_eq!((f.status, f.actual.as_deref()), (Status::Drift, None));
    assert!(
        f.detail
            .as_deref()
            .unwrap()
            .contains("the broker is stopped")
    );
    t.broker(41, "4g", "log.dirs=/data1/kafka\n", 1, 1);
    let r = run(&t);
    let f = find(&r, "process", "running", "kafka");
    assert_eq!(
        (f.status, f.actual.as_deref()),
        (Status::Ok, Some("pid 41"))
    );
}

/// The cluster a host belongs to is Kafka's own `cluster.id`, from
/// `meta.properties` in the broker's first data directory that has one;
/// the agent's `cluster` setting wins over it, and it travels in the report.
#[test]
fn the_cluster_is_kafkas_own_cluster_id_unless_the_agent_names_one() {
    let mut t = BrokerTree::new(16);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.broker(51, "4g", "log.dirs=/data1/a,/data1/b\n", 1, 1);
    t.write(
        "/data1/b/meta.properties",
        "#\nversion=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\nnode.id=1\n",
    );
    let host = Host::at(t.root());
    let p = &tunekeeper::kafka::find_kafka_processes(&host)[0];
    let (id, path) = p.cluster_id(&host).expect("a cluster id");
    assert_eq!(id, "MkU3OEVBNTcwNTJENDM2Qg");
    assert_eq!(path, std::path::Path::new("/data1/b/meta.properties"));

    let report = |extra: &str| {
        let spool = t.path("/spool");
        let _ = std::fs::remove_dir_all(&spool);
        let config = t.path("/agent.toml");
        std::fs::write(
            &config,
            format!(
                "spool_dir = \"{}\"\nstate_dir = \"/state\"\n{extra}",
                spool.display()
            ),
        )
        .unwrap();
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
        let file = std::fs::read_dir(&spool).unwrap().flatten().next().unwrap();
        let mut json = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(file.path()).unwrap()),
            &mut json,
        )
        .unwrap();
        serde_json::from_str::<serde_json::Value>(&json).unwrap()
    };
    let r = report("");
    assert_eq!(r["cluster"]["name"], "MkU3OEVBNTcwNTJENDM2Qg", "{r:#}");
    assert_eq!(
        r["cluster"]["from"],
        "meta.properties (/data1/b/meta.properties)"
    );
    let r = report("cluster = \"orders-prod\"\n");
    assert_eq!(r["cluster"]["name"], "orders-prod");
    assert_eq!(r["cluster"]["from"], "config");
}

fn run_role(tree: &BrokerTree, role: tunekeeper::kafka::HostRole) -> AuditReport {
    let profile = ProfileStore::with_dirs(vec![])
        .load(role.profile())
        .unwrap();
    tunekeeper::audit::audit_role(&profile, &Host::at(tree.root()), role)
}

fn keyed<'a>(r: &'a AuditReport, check: &str, key: &str) -> Vec<&'a Finding> {
    r.findings
        .iter()
        .filter(|f| f.check == check && f.key == key)
        .collect()
}

/// A broker, a KRaft controller and a ZooKeeper server on one host: each
/// role's profile judges its own processes only (the broker profile used
/// to judge the controller too, both being kafka.Kafka), and placement
/// compares every data directory of every role: the broker's log directory
/// shares sdb with ZooKeeper's transaction log (it used to read "alone on
/// its disk").
#[test]
fn every_role_is_judged_by_its_own_profile_and_placed_among_all() {
    use tunekeeper::kafka::HostRole;
    let mut t = BrokerTree::new(64);
    t.disk("sdb", 8, 16, false);
    t.disk("sdc", 8, 32, false);
    t.disk("sdd", 8, 48, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.mount("8:32", "/data2", "xfs", "rw,noatime");
    t.mount("8:48", "/data3", "xfs", "rw,noatime");
    t.broker(
        101,
        "6g",
        "process.roles=broker\nnode.id=1\nlog.dirs=/data1/kafka\n",
        1,
        1,
    );
    t.broker(
        102,
        "1g",
        "process.roles=controller\nnode.id=3000\nmetadata.log.dir=/data2/meta\n",
        1,
        1,
    );
    t.zookeeper(
        103,
        "tickTime=2000\ndataDir=/data3/zk\ndataLogDir=/data1/zk-txn\nclientPort=2181\n",
    );

    let broker = run_role(&t, HostRole::Broker);
    assert!(
        keyed(&broker, "kafka", "pid 102").is_empty()
            && keyed(&broker, "kafka", "pid 103").is_empty(),
        "the broker profile judges brokers only: {:#?}",
        broker.findings
    );
    let running = find(&broker, "process", "running", "broker");
    assert_eq!(
        (running.status, running.actual.as_deref()),
        (Status::Ok, Some("pid 101"))
    );
    let shared = find(
        &broker,
        "placement",
        "/data1/kafka",
        "one data directory per disk",
    );
    assert_eq!(shared.status, Status::Drift, "{shared:#?}");
    assert_eq!(
        shared.actual.as_deref(),
        Some("shares its disk with /data1/zk-txn (zookeeper)")
    );
    assert!(
        shared.detail.as_deref().unwrap().starts_with(
            "/data1/zk-txn is the zookeeper's dataLogDir (pid 103): ZooKeeper's transaction log"
        ),
        "{shared:#?}"
    );

    let zk = run_role(&t, HostRole::Zookeeper);
    let running = find(&zk, "process", "running (zookeeper)", "ZooKeeper");
    assert_eq!(
        (running.status, running.actual.as_deref()),
        (Status::Ok, Some("pid 103"))
    );
    let txn = find(
        &zk,
        "placement",
        "/data1/zk-txn",
        "one data directory per disk",
    );
    assert_eq!(
        (txn.status, txn.actual.as_deref()),
        (
            Status::Drift,
            Some("shares its disk with /data1/kafka (broker)")
        )
    );
    assert!(
        txn.detail
            .as_deref()
            .unwrap()
            .starts_with("/data1/kafka is the broker's log.dirs (pid 101): ZooKeeper fsyncs"),
        "{txn:#?}"
    );
    let snap = find(&zk, "placement", "/data3/zk", "one data directory per disk");
    assert_eq!(snap.status, Status::Ok, "{snap:#?}");
    find(&zk, "space", "/data1/zk-txn free space", ">=15");
    assert!(keyed(&zk, "kafka", "pid 101").is_empty());

    let ctl = run_role(&t, HostRole::Controller);
    let running = find(&ctl, "process", "running (controller)", "controller");
    assert_eq!(
        (running.status, running.actual.as_deref()),
        (Status::Ok, Some("pid 102"))
    );
    // A controller's only data directory is its metadata log.
    let dirs: Vec<&str> = ctl
        .findings
        .iter()
        .filter(|f| f.check == "datadir")
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(dirs, ["/data2/meta"]);
    find(&ctl, "space", "/data2/meta free space", ">=15");
    assert!(keyed(&ctl, "kafka", "pid 101").is_empty());
}

/// The free-inodes rows count inodes (they used to give the bytes of the
/// free-space row).
#[test]
fn free_inodes_rows_count_inodes() {
    let mut t = BrokerTree::new(16);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.broker(61, "4g", "log.dirs=/data1/kafka\n", 1, 1);
    let r = run(&t);
    let inodes = find(&r, "space", "/data1/kafka free inodes", ">=10");
    let detail = inodes.detail.as_deref().unwrap();
    let re = regex::Regex::new(r"^[\d,]+ inodes free of [\d,]+$").unwrap();
    assert!(re.is_match(detail), "{detail}");
    let bytes = find(&r, "space", "/data1/kafka free space", ">=15");
    assert!(
        bytes.detail.as_deref().unwrap().contains("iB free of"),
        "{bytes:#?}"
    );
}

/// A process in a mount namespace of its own whose cgroup names no
/// container runtime is said to be just that (it read "in a container
/// container").
#[test]
fn a_plain_mount_namespace_is_named_as_such() {
    let mut t = BrokerTree::new(16);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.broker(71, "4g", "log.dirs=/data1/kafka\n", 1, 1);
    t.link("/proc/71/ns/mnt", "mnt:[4026532777]");
    t.write(
        "/proc/71/root/etc/kafka/server-71.properties",
        "log.dirs=/data1/kafka\n",
    );
    let r = run(&t);
    let k = find(&r, "kafka", "pid 71", "readable");
    assert_eq!(
        k.actual.as_deref(),
        Some("broker (/etc/kafka/server-71.properties) in a mount namespace of its own"),
        "{k:#?}"
    );
    assert!(
        k.detail
            .as_deref()
            .unwrap()
            .starts_with("runs in a mount namespace of its own:"),
        "{k:#?}"
    );
}

/// Every report the agent spooled in `spool`, oldest first (by the time
/// each says it was built).
fn spooled(spool: &std::path::Path) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = std::fs::read_dir(spool)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json.gz"))
                .filter_map(|e| {
                    let mut json = String::new();
                    std::io::Read::read_to_string(
                        &mut flate2::read::GzDecoder::new(std::fs::File::open(e.path()).ok()?),
                        &mut json,
                    )
                    .ok()?;
                    serde_json::from_str(&json).ok()
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a["time"].as_str().cmp(&b["time"].as_str()));
    out
}

/// The running agent expects every role it saw; when ZooKeeper stops, its
/// own `process` key drifts (since when, in the report and the journal)
/// while the broker's stays ok; the report names the roles and each JVM's.
#[test]
fn the_agent_reports_every_role_and_a_stopped_one_drifts() {
    let mut t = BrokerTree::new(16);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data1", "xfs", "rw,noatime");
    t.broker(201, "4g", "log.dirs=/data1/kafka\n", 1, 1);
    t.zookeeper(202, "tickTime=2000\ndataDir=/data1/zk\n");
    let spool = t.path("/spool");
    let config = t.path("/agent.toml");
    std::fs::write(
        &config,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\nstate_dir = \"/state\"\n",
            spool.display()
        ),
    )
    .unwrap();
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .arg("--root")
        .arg(t.root())
        .args(["--profile-dir", "/nonexistent", "agent", "--config"])
        .arg(&config)
        .env_remove("TUNEKEEPER_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let wait_for = |what: &str, f: &dyn Fn(&serde_json::Value) -> bool| {
        crate::wait::until_some(&format!("a report {what}"), || {
            spooled(&spool).into_iter().rev().find(|r| f(r))
        })
    };
    let finding = |r: &serde_json::Value, key: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "process" && f["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no process {key} in {r:#}"))
    };
    let first = wait_for("at all", &|_| true);
    assert_eq!(first["profile"], "kafka-broker+zookeeper", "{first:#}");
    let roles: Vec<(&str, &str, bool)> = first["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap(),
                r["process_key"].as_str().unwrap(),
                r["running"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("broker", "running", true),
            ("zookeeper", "running (zookeeper)", true)
        ]
    );
    let jvm_roles: Vec<(i64, String, String)> = first["jvms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["pid"].as_i64().unwrap(),
                j["roles"].to_string(),
                j["profile"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        jvm_roles,
        [
            (201, "[\"broker\"]".into(), "kafka-broker".into()),
            (202, "[\"zookeeper\"]".into(), "zookeeper".into()),
        ]
    );
    assert_eq!(finding(&first, "running (zookeeper)")["status"], "ok");

    t.exit(202);
    let stopped = wait_for("with ZooKeeper stopped", &|r| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "running (zookeeper)" && f["status"] == "drift")
    });
    let zk = finding(&stopped, "running (zookeeper)");
    let detail = zk["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("none runs since 20")
            && detail.contains("the ZooKeeper server is stopped"),
        "{zk:#}"
    );
    assert_eq!(
        finding(&stopped, "running")["status"],
        "ok",
        "the broker still runs"
    );
    let role = stopped["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "zookeeper")
        .unwrap();
    assert_eq!(role["running"], false);
    let since = role["missing_since"].as_str().expect("missing_since");
    // Why it is expected, in the past tense: "runs here" of a stopped role
    // read as if it still ran.
    let because = role["because"].as_str().unwrap();
    assert!(
        because.starts_with("a zookeeper ran here (pid ")
            && because.ends_with(&format!("; none has run since {since}")),
        "{role:#}"
    );
    assert!(role["summary"]["drift"].as_u64().unwrap() >= 1, "{role:#}");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(agent.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(agent.wait().unwrap().success(), "{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("the ZooKeeper server stopped"))
            .count(),
        1,
        "said once: {log}"
    );
}
