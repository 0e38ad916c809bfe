//! Real JVMs of every Kafka-family role for the tests, found by pid, each
//! killed on drop: Debian's ZooKeeper (`QuorumPeerMain` from the
//! `zookeeper` package, started as the test's own process with its own
//! `zoo.cfg`, data directories and port, never the system service), and
//! stand-in brokers and KRaft controllers (JVMs whose main class is
//! `kafka.Kafka`, started like Kafka's script starts them:
//! `kafka.Kafka server.properties [--override k=v]...`). Each runs with the
//! JVM and GC-log flags Kafka's `kafka-run-class.sh` gives it.
#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    child: Option<Child>,
    /// Its GC log.
    pub gc_log: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
}

impl RoleJvm {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Kills it (SIGKILL: it dies, as a ZooKeeper out of heap or disk
    /// does) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
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
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&self.gc_log).is_ok_and(|l| l.contains("Pause")) {
            assert!(
                Instant::now() < deadline,
                "no pause in {}",
                self.gc_log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RoleJvm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    let child = Command::new("java")
        .args(kafka_jvm_flags(&gc_log))
        .arg("-cp")
        .arg(format!("/etc/zookeeper/conf:{ZOOKEEPER_JAR}"))
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let zk = RoleJvm {
        child: Some(child),
        gc_log,
        config,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if srvr(port).is_some_and(|s| s.contains("Mode:")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ZooKeeper did not answer on {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (zk, port)
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

/// Compiles the idle stand-in `kafka.Kafka` into `dir/classes`.
pub fn stand_in_classes(dir: &Path) -> PathBuf {
    compile(dir, "idle-broker")
}

/// Compiles a stand-in `kafka.Kafka` (`idle-broker`: sleeps; `kafka`:
/// collects for its first argument's seconds, then idles) into `dir/WHICH`.
pub fn compile(dir: &Path, which: &str) -> PathBuf {
    let out = dir.join(which);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jvm");
    // The busy one is tests/fixtures/jvm/kafka/Kafka.java, the others
    // tests/fixtures/jvm/WHICH/kafka/Kafka.java.
    let src = if which == "kafka" {
        fixtures.join("kafka/Kafka.java")
    } else {
        fixtures.join(which).join("kafka/Kafka.java")
    };
    assert!(
        Command::new("javac")
            .arg("-d")
            .arg(&out)
            .arg(&src)
            .status()
            .unwrap()
            .success()
    );
    out
}

/// Starts a stand-in Kafka process (`kafka.Kafka CONFIG ARGS...`) whose
/// `CONFIG` in `dir` holds `properties` (its `process.roles` makes it a
/// broker, a controller or both); waits until main runs.
pub fn kafka(dir: &Path, classes: &Path, name: &str, properties: &str, args: &[&str]) -> RoleJvm {
    let config = dir.join(format!("{name}.properties"));
    std::fs::write(&config, properties).unwrap();
    let gc_log = dir.join(format!("{name}-gc.log"));
    let mut child = Command::new("java")
        .args(kafka_jvm_flags(&gc_log))
        .arg("-cp")
        .arg(classes)
        .arg("kafka.Kafka")
        .arg(&config)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "up", "the stand-in {name} did not start");
    RoleJvm {
        child: Some(child),
        gc_log,
        config,
    }
}
