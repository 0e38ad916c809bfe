//! Knowing the broker from its own configuration, with real parts: real JVMs
//! whose main class is `kafka.Kafka`, real `server.properties` files, data
//! directories on file systems this test mounts (ext4 and xfs on loop
//! devices, tmpfs, the root file system), and a broker in a mount namespace
//! of its own. Needs root, a JDK and mkfs.ext4/mkfs.xfs; skips (saying why)
//! without them. Each audit and agent run sees the host through a view
//! holding the test's own brokers only (other tests' JVMs run beside).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::ci_skip;
use crate::proc_view::ProcView;
use crate::support::java::{self, BUSY_BROKER, IDLE_BROKER};
use crate::support::{Running, bin};

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why this machine cannot run the real-parts tests, if it cannot.
fn missing_parts() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (mounts need it)".into());
    }
    for cmd in ["javac", "java", "mkfs.ext4", "mkfs.xfs", "mount", "unshare"] {
        if !have(cmd) {
            return Some(format!("no {cmd} on this machine"));
        }
    }
    None
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// File systems mounted for one test; unmounted (and their loop devices
/// freed) on drop, even when the test fails.
struct Mounts {
    dir: tempfile::TempDir,
    points: Vec<PathBuf>,
}

impl Mounts {
    fn new() -> Mounts {
        // Under /var/tmp, on the root file system's disk (the OS disk here).
        std::fs::create_dir_all("/var/tmp").unwrap();
        Mounts {
            dir: tempfile::Builder::new()
                .prefix("tk-broker-")
                .tempdir_in("/var/tmp")
                .unwrap(),
            points: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A fresh `fstype` image of 300 MiB mounted on `rel` with `opts`.
    fn loop_fs(&mut self, rel: &str, fstype: &str, opts: &str) {
        let img = self.path(&format!("{rel}.img"));
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(300 << 20).unwrap();
        drop(f);
        let mkfs = format!("mkfs.{fstype}");
        run(&mkfs, &["-q", img.to_str().unwrap()]);
        self.mount(&["-o", &format!("loop,{opts}"), img.to_str().unwrap()], rel);
    }

    fn tmpfs(&mut self, rel: &str) {
        self.mount(&["-t", "tmpfs", "-o", "size=16m", "tmpfs"], rel);
    }

    fn mount(&mut self, args: &[&str], rel: &str) {
        let point = self.path(rel);
        std::fs::create_dir_all(&point).unwrap();
        let mut all = args.to_vec();
        all.push(point.to_str().unwrap());
        run("mount", &all);
        self.points.push(point);
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for p in self.points.iter().rev() {
            let _ = Command::new("umount").arg(p).status();
        }
    }
}

/// A running stand-in broker; killed on drop (the JVM itself too when a
/// wrapper such as `unshare --fork` started it: killing the wrapper alone
/// would leave the JVM running).
struct Broker {
    child: Running,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let java = java_pid(self);
        if java != self.child.pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(java as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // The wrapper (or the JVM) goes when `child` drops.
    }
}

/// Compiles the idle kafka.Kafka once per test into `dir`.
fn classes(dir: &Path) -> PathBuf {
    java::compile_fixture(IDLE_BROKER, &dir.join("classes"))
}

/// Starts `java -Xmx.. -cp CLASSES kafka.Kafka ARGS...`, wrapped in
/// `prefix` (e.g. unshare), and waits until main runs.
fn start(prefix: &[&str], classes: &Path, heap: &str, args: &[&str]) -> Broker {
    let child = java::java(classes, "kafka.Kafka")
        .under(prefix)
        .flags([format!("-Xmx{heap}"), format!("-Xms{heap}")])
        .args(args)
        .start_up();
    Broker { child }
}

/// The JVM's pid: the child itself, or (under unshare --fork) its child.
fn java_pid(b: &Broker) -> u32 {
    let id = b.child.pid();
    let comm = std::fs::read_to_string(format!("/proc/{id}/comm")).unwrap_or_default();
    if comm.trim() == "java" {
        return id;
    }
    let kids = std::fs::read_to_string(format!("/proc/{id}/task/{id}/children")).unwrap();
    kids.split_whitespace().next().unwrap().parse().unwrap()
}

/// `audit --format json` of the host as `view` shows it.
fn audit_json(view: &ProcView, profile: Option<&str>) -> Value {
    let mut cmd = Command::new(bin());
    cmd.env("TUNEKEEPER_ROOT", view.root());
    cmd.args(["--profile-dir", "/nonexistent-tunekeeper-profiles", "audit"]);
    cmd.args(["--format", "json"]);
    if let Some(p) = profile {
        cmd.args(["--profile", p]);
    }
    let out = cmd.env("NO_COLOR", "1").output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The findings of one check whose key contains `key`.
fn findings<'a>(v: &'a Value, check: &str, key: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check && f["key"].as_str().unwrap().contains(key))
        .collect()
}

fn one<'a>(v: &'a Value, check: &str, key: &str) -> &'a Value {
    let all = findings(v, check, key);
    assert_eq!(all.len(), 1, "{check} {key}: {all:#?}\nall: {v:#}");
    all[0]
}

/// True when `key` (`vda/scheduler`) names a disk under `/`: the data
/// directory on the OS disk brings it in.
fn os_disk_named(key: &str) -> bool {
    let disk = key.split('/').next().unwrap_or_default();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let majmin = mountinfo
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_default()
        .to_string();
    let dev = std::fs::canonicalize(format!("/sys/dev/block/{majmin}")).unwrap_or_default();
    dev.components().any(|c| c.as_os_str() == disk)
}

/// Tests here start brokers and mount file systems on loop devices: one at
/// a time, to spare the machine (each audit's view already holds only its
/// own brokers).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_broker_is_judged_by_its_own_data_directories() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = missing_parts() {
        ci_skip::skip(&why);
        return;
    }
    let mut m = Mounts::new();
    m.loop_fs("ext4", "ext4", "noatime,commit=60");
    m.loop_fs("xfs", "xfs", "relatime");
    m.tmpfs("tmpfs");
    for d in [
        "ext4/kafka-a",
        "ext4/kafka-b",
        "xfs/kafka",
        "tmpfs/meta",
        "osdisk/kafka",
    ] {
        std::fs::create_dir_all(m.path(d)).unwrap();
    }
    let dirs = |names: &[&str]| {
        names
            .iter()
            .map(|n| m.path(n).display().to_string())
            .collect::<Vec<_>>()
    };
    let log_dirs = dirs(&["ext4/kafka-a", "ext4/kafka-b", "xfs/kafka", "osdisk/kafka"]);
    // The file names a directory that does not exist; --override replaces it,
    // as kafka.Kafka itself does. A continuation line and both separators.
    let props = m.path("server.properties");
    std::fs::write(
        &props,
        format!(
            "# broker 1\nprocess.roles = broker,\\\n    controller\nnode.id: 1\n\
             log.dirs=/nonexistent/kafka\nmetadata.log.dir={}\n",
            m.path("tmpfs/meta").display()
        ),
    )
    .unwrap();
    let classes = classes(m.dir.path());
    let over = format!("log.dirs={}", log_dirs.join(","));
    let broker = start(
        &[],
        &classes,
        "64m",
        &[props.to_str().unwrap(), "--override", &over],
    );
    let pid = java_pid(&broker);
    let view = ProcView::new(&[pid]);
    let v = audit_json(&view, None);

    let k = one(&v, "kafka", &format!("pid {pid}"));
    assert_eq!(k["status"], "ok", "{k:#}");
    assert_eq!(
        k["actual"],
        format!("broker+controller ({})", props.display()),
        "role from process.roles across a continuation line"
    );

    // Every data directory, from the override and metadata.log.dir.
    let ext4_a = &log_dirs[0];
    let d = one(&v, "datadir", ext4_a);
    assert_eq!(d["status"], "ok");
    let ext4_disk = d["actual"]
        .as_str()
        .unwrap()
        .strip_prefix("ext4 on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(ext4_disk.starts_with("loop"), "{d:#}");
    assert!(
        findings(&v, "datadir", "/nonexistent").is_empty(),
        "the override won"
    );
    let meta = one(&v, "datadir", "tmpfs/meta");
    assert_eq!(meta["actual"], "tmpfs on no disk");

    // Mount rules without paths judge the broker's own directories.
    assert_eq!(one(&v, "mount", ext4_a)["status"], "ok");
    let xfs = one(&v, "mount", &log_dirs[2]);
    assert_eq!(xfs["status"], "drift");
    assert!(
        xfs["detail"].as_str().unwrap().contains("missing noatime"),
        "{xfs:#}"
    );
    let tmp = one(&v, "mount", "tmpfs/meta");
    assert!(
        tmp["detail"]
            .as_str()
            .unwrap()
            .contains("filesystem is tmpfs"),
        "{tmp:#}"
    );

    // Placement: two directories on the ext4 disk, one on the OS disk.
    let shared: Vec<&Value> = findings(&v, "placement", ext4_a)
        .into_iter()
        .filter(|f| f["expected"] == "one data directory per disk")
        .collect();
    assert_eq!(shared[0]["status"], "drift");
    assert!(
        shared[0]["actual"].as_str().unwrap().contains("kafka-b"),
        "{:#}",
        shared[0]
    );
    let os: Vec<&Value> = findings(&v, "placement", &log_dirs[3])
        .into_iter()
        .filter(|f| f["expected"] == "off the OS disk")
        .collect();
    let root_is_block = !std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| {
            l.split_whitespace().nth(4) == Some("/")
                && l.split_whitespace()
                    .nth(2)
                    .is_some_and(|mm| mm.starts_with("0:"))
        });
    if root_is_block {
        assert_eq!(os[0]["status"], "drift", "{:#}", os[0]);
        assert!(os[0]["detail"].as_str().unwrap().contains("also holds /"));
    }
    let xfs_place: Vec<&Value> = findings(&v, "placement", &log_dirs[2]);
    assert!(
        xfs_place.iter().all(|f| f["status"] == "ok"),
        "{xfs_place:#?}"
    );

    // Block rules without globs: the loop disks under the data directories.
    let sched = one(&v, "block", &format!("{ext4_disk}/scheduler"));
    assert_ne!(sched["status"], "not-applicable", "{sched:#}");
    let judged: Vec<&str> = findings(&v, "block", "/scheduler")
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(
        judged
            .iter()
            .all(|k| k.starts_with("loop") || os_disk_named(k)),
        "only the data directories' disks are judged: {judged:?}"
    );

    // Space, memory, maps and files, each as a share.
    let free = one(&v, "space", &format!("{ext4_a} free space"));
    assert_eq!(
        free["status"], "ok",
        "a fresh file system is nearly empty: {free:#}"
    );
    let heap = one(&v, "memory", &format!("heap (pid {pid})"));
    assert_eq!(
        (heap["status"].as_str(), heap["actual"].as_str()),
        (Some("ok"), Some("64 MiB"))
    );
    let maps = one(&v, "maps", &format!("pid {pid}"));
    assert_eq!(maps["status"], "ok", "{maps:#}");
    assert!(
        maps["detail"]
            .as_str()
            .unwrap()
            .contains("vm.max_map_count")
    );
    let files = one(&v, "files", &format!("pid {pid}"));
    assert!(
        files["detail"].as_str().unwrap().contains("in use of"),
        "{files:#}"
    );
    drop(broker);
}

#[test]
fn a_broker_without_a_readable_configuration_is_a_finding() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = missing_parts() {
        ci_skip::skip(&why);
        return;
    }
    let m = Mounts::new();
    let classes = classes(m.dir.path());
    let bad = m.path("bad.properties");
    std::fs::write(&bad, "log.dirs=/data\nbroken=\\u12\n").unwrap();
    let missing = m.path("missing.properties");
    let a = start(&[], &classes, "32m", &[bad.to_str().unwrap()]);
    let b = start(&[], &classes, "32m", &[missing.to_str().unwrap()]);
    let c = start(&[], &classes, "32m", &[]);
    let view = ProcView::new(&[java_pid(&a), java_pid(&b), java_pid(&c)]);
    let v = audit_json(&view, None);
    for (broker, needle) in [
        (&a, "line 2: malformed \\uXXXX escape".to_string()),
        (&b, format!("{}: No such file", missing.display())),
        (&c, "names no properties file".to_string()),
    ] {
        let f = one(&v, "kafka", &format!("pid {}", java_pid(broker)));
        assert_eq!(f["status"], "unreadable", "{f:#}");
        let detail = f["detail"].as_str().unwrap();
        assert!(
            detail.contains(&needle) && detail.contains("cannot be checked"),
            "{detail}"
        );
    }
}

#[test]
fn a_broker_in_its_own_mount_namespace_is_read_through_proc_root() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = missing_parts() {
        ci_skip::skip(&why);
        return;
    }
    let mut m = Mounts::new();
    m.tmpfs("inner");
    let classes = classes(m.dir.path());
    std::fs::create_dir_all(m.path("inner/data")).unwrap();
    // Inside its namespace the broker sees `inner` at /mnt/tk-container;
    // the host has no such file.
    let inside = Path::new("/mnt/tk-container");
    assert!(!inside.join("server.properties").exists());
    std::fs::write(
        m.path("inner/server.properties"),
        format!("log.dirs={}/data\n", inside.display()),
    )
    .unwrap();
    let script = format!(
        "mkdir -p {i} && mount --bind {src} {i} && exec \"$0\" \"$@\"",
        i = inside.display(),
        src = m.path("inner").display()
    );
    let broker = start(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--fork",
            "sh",
            "-c",
            &script,
        ],
        &classes,
        "32m",
        &[&format!("{}/server.properties", inside.display())],
    );
    let pid = java_pid(&broker);
    let view = ProcView::new(&[pid]);
    let v = audit_json(&view, None);
    let k = one(&v, "kafka", &format!("pid {pid}"));
    assert_eq!(
        k["status"], "ok",
        "the config was read through /proc/{pid}/root: {k:#}"
    );
    // `unshare -m` names no container runtime: a mount namespace of its
    // own, not "a container container".
    let actual = k["actual"].as_str().unwrap();
    assert!(
        actual.ends_with(") in a mount namespace of its own")
            && !actual.contains("container container"),
        "{k:#}"
    );
    let d = one(&v, "datadir", "/mnt/tk-container/data");
    assert_eq!(d["status"], "ok", "{d:#}");
    assert_eq!(
        d["actual"], "tmpfs on no disk",
        "its own mount table: {d:#}"
    );
    drop(broker);
    let _ = std::fs::remove_dir(inside);
}

/// The agent follows the GC log of a JVM in its own mount namespace through
/// `/proc/PID/root` (it used to look on the host and find nothing), and its
/// report says the JVM runs in a container.
#[test]
fn the_agent_reads_a_containers_gc_log_through_proc_root() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = missing_parts() {
        ci_skip::skip(&why);
        return;
    }
    let mut m = Mounts::new();
    m.tmpfs("inner");
    // The busy stand-in: collects for 3 s, then idles.
    let classes = java::compile_fixture(BUSY_BROKER, &m.dir.path().join("busy"));
    let inside = Path::new("/mnt/tk-agent-ns");
    let log = inside.join("gc.log");
    assert!(
        !log.exists(),
        "the log must exist only inside the namespace"
    );
    let script = format!(
        "mkdir -p {i} && mount --bind {src} {i} && exec \"$0\" \"$@\"",
        i = inside.display(),
        src = m.path("inner").display()
    );
    // The stand-in prints its counters once it has stopped collecting.
    let (child, _counters) = java::java(&classes, "kafka.Kafka")
        .under(&[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--fork",
            "sh",
            "-c",
            &script,
        ])
        .flags(["-Xmx64m", "-Xms64m", "-XX:+UseG1GC"])
        .flags([format!(
            "-Xlog:gc*:file={}:time,uptime,level,tags",
            log.display()
        )])
        .args(["3", "60"])
        .start_first_line();
    let broker = Broker { child };
    let pid = java_pid(&broker);
    assert!(!log.exists(), "the host has no such file");

    let spool = m.path("spool");
    let config = m.path("agent.toml");
    std::fs::write(
        &config,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
            spool.display(),
            spool.with_file_name("state").display()
        ),
    )
    .unwrap();
    let view = ProcView::new(&[pid]);
    let out = Command::new(bin())
        .args(["agent", "--once", "--config", config.to_str().unwrap()])
        .env("TUNEKEEPER_ROOT", view.root())
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".json.gz"))
        .expect("a spooled report");
    let mut json = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(file.path()).unwrap()),
        &mut json,
    )
    .unwrap();
    let report: Value = serde_json::from_str(&json).unwrap();
    let jvm = report["jvms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} not in {report:#}"));
    assert!(
        jvm["command"]
            .as_str()
            .unwrap()
            .ends_with(" in a mount namespace of its own"),
        "{jvm:#}"
    );
    let young = jvm["gc"]["total"]["pauses"]["young"]["count"].as_u64();
    assert!(
        young.is_some_and(|n| n > 0),
        "the container's log was read: {jvm:#}"
    );
    assert!(
        jvm["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["key"] != "log"),
        "no log problem: {jvm:#}"
    );
    drop(broker);
}
