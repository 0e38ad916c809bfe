//! Real JVMs of every Kafka-family role for the tests, found by pid, each
//! killed on drop: Debian's ZooKeeper (`QuorumPeerMain` from the
//! `zookeeper` package, started as the test's own process with its own
//! `zoo.cfg`, data directories and port, never the system service), and
//! stand-in brokers and KRaft controllers (JVMs whose main class is
//! `kafka.Kafka`, started like Kafka's script starts them:
//! `kafka.Kafka server.properties [--override k=v]...`). Each runs with the
//! JVM and GC-log flags Kafka's `kafka-run-class.sh` gives it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::java::{self, BUSY_BROKER, IDLE_BROKER};
use crate::support::{Running, free_port};
use crate::wait;

/// Where Debian's `zookeeper` package puts its jar.
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

/// Kafka's `kafka-run-class.sh` JVM flags (G1, its pause target and IHOP,
/// System.gc() as a concurrent cycle) and its GC log (`time,tags`,
/// rotated), into `gc_log`.
pub fn kafka_jvm_flags(gc_log: &Path) -> Vec<String> {
    vec![
        "-Xmx64m".into(),
        "-Xms64m".into(),
        "-XX:+UseG1GC".into(),
        "-XX:MaxGCPauseMillis=20".into(),
        "-XX:InitiatingHeapOccupancyPercent=35".into(),
        "-XX:+ExplicitGCInvokesConcurrent".into(),
        format!(
            "-Xlog:gc*:file={}:time,tags:filecount=10,filesize=100M",
            gc_log.display()
        ),
    ]
}

/// Why this machine cannot run these JVMs, if it cannot.
pub fn missing() -> Option<String> {
    for cmd in ["java", "javac", "jcmd"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("no {cmd} on this machine"));
        }
    }
    if !Path::new(ZOOKEEPER_JAR).exists() {
        return Some(format!(
            "no {ZOOKEEPER_JAR}: Debian's zookeeper package is not installed"
        ));
    }
    None
}

/// A JVM the test started; killed on drop.
pub struct RoleJvm {
    jvm: Option<Running>,
    /// Its GC log.
    pub gc_log: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
}

impl RoleJvm {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.jvm.as_ref().unwrap().pid()
    }

    /// Kills it (SIGKILL: it dies, as a ZooKeeper out of heap or disk
    /// does) and waits for it.
    pub fn kill(&mut self) {
        self.jvm.take();
    }

    /// Asks it for a collection (`jcmd PID GC.run`: with
    /// -XX:+ExplicitGCInvokesConcurrent a concurrent cycle and its pauses)
    /// and waits until its GC log shows a pause.
    pub fn collect(&self) {
        let out = Command::new("jcmd")
            .arg(self.pid().to_string())
            .arg("GC.run")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "jcmd GC.run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        wait::until(&format!("a pause in {}", self.gc_log.display()), || {
            std::fs::read_to_string(&self.gc_log).is_ok_and(|l| l.contains("Pause"))
        });
    }
}

/// Starts Debian's ZooKeeper (`QuorumPeerMain`) as `java ... QuorumPeerMain
/// ZOO_CFG`, its `zoo.cfg` in `dir` holding `settings` and a free
/// `clientPort`; waits until it answers `srvr` on that port. Returns it and
/// the port.
pub fn zookeeper(dir: &Path, settings: &str) -> (RoleJvm, u16) {
    let port = free_port();
    let config = dir.join("zoo.cfg");
    std::fs::write(
        &config,
        format!("{settings}clientPort={port}\nadmin.enableServer=false\n"),
    )
    .unwrap();
    let gc_log = dir.join("zookeeper-gc.log");
    let classpath = PathBuf::from(format!("/etc/zookeeper/conf:{ZOOKEEPER_JAR}"));
    let zk = RoleJvm {
        jvm: Some(
            java::java(
                &classpath,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            )
            .flags(kafka_jvm_flags(&gc_log))
            .args([&config])
            .quiet()
            .start(),
        ),
        gc_log,
        config,
    };
    wait::until(&format!("ZooKeeper to answer on {port}"), || {
        srvr(port).is_some_and(|s| s.contains("Mode:"))
    });
    (zk, port)
}

/// A ZooKeeper-mode host: Debian's ZooKeeper (its data in `dir/zk-data`)
/// and an idle stand-in broker (`server.properties`, broker 1) connected to
/// it, its `log.dirs` `dir/LOGS`. Both directories are made here.
pub fn zookeeper_and_broker(dir: &Path, logs: &str) -> (RoleJvm, RoleJvm) {
    std::fs::create_dir_all(dir.join("zk-data")).unwrap();
    std::fs::create_dir_all(dir.join(logs)).unwrap();
    let (zk, port) = zookeeper(
        dir,
        &format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\n",
            dir.join("zk-data").display()
        ),
    );
    let classes = stand_in_classes(dir);
    let broker = kafka(
        dir,
        &classes,
        "server",
        &format!(
            "broker.id=1\nzookeeper.connect=127.0.0.1:{port}\nlog.dirs={}\n",
            dir.join(logs).display()
        ),
        &[],
    );
    (zk, broker)
}

/// ZooKeeper's `srvr` four-letter word (whitelisted by default).
fn srvr(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Compiles the idle stand-in `kafka.Kafka` into `dir/idle-broker`.
pub fn stand_in_classes(dir: &Path) -> PathBuf {
    java::compile_fixture(IDLE_BROKER, &dir.join("idle-broker"))
}

/// Compiles the busy stand-in `kafka.Kafka` (collects for its first
/// argument's seconds, then idles) into `dir/kafka`.
pub fn busy_classes(dir: &Path) -> PathBuf {
    java::compile_fixture(BUSY_BROKER, &dir.join("kafka"))
}

/// Starts a stand-in Kafka process (`kafka.Kafka CONFIG ARGS...`) whose
/// `CONFIG` in `dir` holds `properties` (its `process.roles` makes it a
/// broker, a controller or both); waits until main runs.
pub fn kafka(dir: &Path, classes: &Path, name: &str, properties: &str, args: &[&str]) -> RoleJvm {
    let config = dir.join(format!("{name}.properties"));
    std::fs::write(&config, properties).unwrap();
    let gc_log = dir.join(format!("{name}-gc.log"));
    let jvm = java::java(classes, "kafka.Kafka")
        .flags(kafka_jvm_flags(&gc_log))
        .args([config.as_os_str()])
        .args(args)
        .quiet()
        .start_up();
    RoleJvm {
        jvm: Some(jvm),
        gc_log,
        config,
    }
}
