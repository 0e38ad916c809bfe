//! The agent reads the counters of every JVM it follows, every interval
//! (issue 23): real JVMs on JDK 11, 17, 21 and 25, a real agent (service
//! mode, reports kept in its spool), each JVM stopped with SIGSTOP between
//! its pauses so the log and the counters describe one state.
//!
//! - a quiet log is "verified against the JVM's counters", on every JDK,
//!   and the log's safepoint lines (`-Xlog:gc*,safepoint`) agree with the
//!   counters' time to safepoint;
//! - a log set that wraps faster than the agent reads names the loss,
//!   with both figures, as a finding and as a metric;
//! - `-XX:+PerfDisableSharedMem` is a state, said once in the journal;
//! - a JVM in its own mount and PID namespaces is read through its root;
//! - an agent without privileges says why it cannot read (permission
//!   denied, with the remedy; another mount namespace, with why), once;
//! - a JVM without a GC log still has counts, times and rates;
//! - a JVM whose log the agent may not read is judged by its counters
//!   on the levels they can judge (rate, full GCs), the rest unknown.

use crate::ci_skip;
use crate::hotspot::{Jvm, classes, java_cmd, jdk, scratch};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tunekeeper::jvm::perfdata::counters::CollectorKind;

/// The agent, killed when dropped.
struct Agent {
    child: Child,
    spool: PathBuf,
    log: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// Starts `tunekeeper agent` in `dir` following the JVMs whose command
    /// line matches `jvm_match`, with `extra` lines of configuration;
    /// `as_user`: run it unprivileged (uid and gid 65534), as the packaged
    /// agent runs.
    fn start(dir: &Path, jvm_match: &str, extra: &str, as_user: bool) -> Agent {
        let spool = dir.join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let config = dir.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "{}spool_dir = \"{}\"\nstate_dir = \"{}\"\njvm_match = '{}'\n\
                 metrics_textfile = \"{}\"\n{extra}",
                // A second every report, unless `extra` says otherwise.
                if extra.contains("interval =") {
                    ""
                } else {
                    "interval = \"1s\"\n"
                },
                spool.display(),
                // The agent creates it (`dir` is its user's when unprivileged).
                dir.join("state").display(),
                jvm_match,
                dir.join("metrics.prom").display(),
            ),
        )
        .unwrap();
        let log = dir.join("agent.log");
        let mut cmd = if as_user {
            for p in [dir, &spool] {
                nix::unistd::chown(p, Some(65534.into()), Some(65534.into())).unwrap();
            }
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ])
            .arg(env!("CARGO_BIN_EXE_tunekeeper"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        };
        cmd.args(["agent", "--config"])
            .arg(&config)
            .env("TUNEKEEPER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Agent {
            child: cmd.spawn().unwrap(),
            spool,
            log,
        }
    }

    /// The spooled reports, oldest first.
    fn reports(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.spool)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|f| {
                let mut json = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(f).ok()?)
                    .read_to_string(&mut json)
                    .ok()?;
                serde_json::from_str(&json).ok()
            })
            .collect()
    }

    /// The first report made after `n` reports in which `ok` holds for
    /// the entry of every pid of `pids`; panics with the last one (and the
    /// agent's log) after a generous bound.
    fn wait_for(&self, n: usize, pids: &[i32], ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = Value::Null;
        loop {
            let reports = self.reports();
            for r in reports.iter().skip(n) {
                let all = pids.iter().all(|p| entry(r, *p).is_some_and(&ok));
                if all {
                    return r.clone();
                }
                last = r.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no report met the condition; the last:\n{:#}\nagent log:\n{}",
                pids.iter()
                    .map(|p| entry(&last, *p)
                        .map(|j| serde_json::json!({"pid": p, "counters": j["counters"], "findings": j["findings"]}))
                        .unwrap_or(Value::Null))
                    .collect::<Value>(),
                self.journal()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn journal(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn metrics(&self) -> String {
        std::fs::read_to_string(self.spool.parent().unwrap().join("metrics.prom"))
            .unwrap_or_default()
    }
}

/// The value of the series `name` in a metrics text.
fn metric(text: &str, name: &str) -> usize {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// The entry of `pid` in a report.
fn entry(r: &Value, pid: i32) -> Option<&Value> {
    r["jvms"].as_array()?.iter().find(|j| j["pid"] == pid)
}

/// The JVMs of this test only: their classes directory is unique to it.
fn only(classes: &Path) -> String {
    regex::escape(&classes.display().to_string())
}

/// A quiet log is verified on every JDK, and the log's safepoint lines
/// agree with the counters' time to safepoint.
#[test]
fn a_quiet_log_is_verified_on_every_jdk() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let mut jvms = Vec::new();
    for major in [11, 17, 21, 25] {
        let Some(jdk) = jdk(major) else { continue };
        let log = dir.path().join(format!("gc{major}.log"));
        let xlog = format!(
            "-Xlog:gc*,safepoint:file={}:uptime,level,tags",
            log.display()
        );
        jvms.push((
            major,
            Jvm::spawn(java_cmd(&jdk, &classes, &xlog, &[], 3, 1), |p| {
                Some(p as i32)
            }),
        ));
    }
    if jvms.is_empty() {
        return;
    }
    let agent = Agent::start(dir.path(), &only(&classes), "", false);
    for (_, j) in &jvms {
        j.wait_idle();
    }
    let truth: Vec<_> = jvms
        .iter()
        .map(|(m, j)| (*m, j.pid, j.stop_between_pauses()))
        .collect();
    // Reports that began after every JVM stopped.
    let n = agent.reports().len();
    let pids: Vec<i32> = truth.iter().map(|(_, p, _)| *p).collect();
    let r = agent.wait_for(n + 1, &pids, |j| {
        j["counters"]["cross_check"]["verified"] == true
    });
    for (major, pid, s) in &truth {
        let c = &entry(&r, *pid).unwrap()["counters"];
        assert_eq!(c["state"], "read", "JDK {major}: {c:#}");
        assert_eq!(c["jdk"], *major, "JDK {major}");
        let x = &c["cross_check"];
        assert_eq!(
            x["summary"], "verified against the JVM's counters",
            "JDK {major}: {x:#}"
        );
        let checks = x["checks"].as_array().unwrap();
        for f in checks {
            eprintln!(
                "JDK {major}: {:<28} log {:>12} JVM {:>12} {}",
                f["figure"].as_str().unwrap(),
                f["log"],
                f["jvm"],
                f["status"]
            );
            assert_eq!(f["status"], "verified", "JDK {major}: {f}");
        }
        let figure = |name: &str| {
            checks
                .iter()
                .find(|f| f["figure"] == name)
                .unwrap_or_else(|| panic!("JDK {major}: no {name} in {x:#}"))
        };
        // Time to safepoint from the counters agrees with the safepoint log.
        let reach = figure("time to safepoint");
        assert!(reach["jvm"].as_f64().unwrap() > 0.0, "{reach}");
        figure("time stopped at safepoints");
        // The lifetime figures are the JVM's own counts.
        let total = &c["total"];
        let (young, _) = s.pauses(CollectorKind::Young).unwrap();
        assert_eq!(total["pauses"]["young"]["count"], young, "JDK {major}");
        assert_eq!(
            total["safepoints"]["count"], s.safepoints.count,
            "JDK {major}"
        );
        assert!(total["seconds"].as_f64().unwrap() > 0.0, "JDK {major}");
        assert!(
            total["safepoints"]["mean_reaching_ms"].as_f64().unwrap() > 0.0,
            "JDK {major}"
        );
        // The interval is timed by the agent's clock (JDK 25's counters
        // have none): about the configured second.
        let secs = c["interval"]["seconds"].as_f64().unwrap();
        assert!((0.3..30.0).contains(&secs), "JDK {major}: {secs}");
        assert_eq!(c["interval"]["pauses"]["young"]["count"], 0, "stopped");
        assert!(
            entry(&r, *pid).unwrap()["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| !f["key"].as_str().unwrap().starts_with("counters")),
            "JDK {major}"
        );
    }
    // (Other Kafka-family JVMs on this machine count too: at least ours.)
    let m = agent.metrics();
    let verified: usize = metric(&m, "tunekeeper_gc_cross_check_jvms{result=\"verified\"}");
    assert!(verified >= truth.len(), "{m}");
}

/// A log set that wraps faster than the agent reads it: the loss is named
/// with both figures, as a finding and as a metric.
#[test]
fn the_loss_is_named_when_the_set_wraps_faster_than_the_agent_reads() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let logs = dir.path().join("wrap");
    std::fs::create_dir_all(&logs).unwrap();
    let xlog = format!(
        "-Xlog:gc*:file={}:uptime,level,tags:filecount=2,filesize=16k",
        logs.join("gc.log").display()
    );
    // The agent reads the set every 5 s: the JVM fills 32 KB far sooner.
    let agent = Agent::start(
        dir.path(),
        &only(&classes),
        "gc_poll = \"5s\"\ninterval = \"5s\"\n",
        false,
    );
    let jvm = Jvm::spawn(java_cmd(&jdk, &classes, &xlog, &[], 4, 1), |p| {
        Some(p as i32)
    });
    jvm.wait_idle();
    let s = jvm.stop_between_pauses();
    let (young, _) = s.pauses(CollectorKind::Young).unwrap();
    let n = agent.reports().len();
    let r = agent.wait_for(n + 1, &[jvm.pid], |j| {
        j["counters"]["cross_check"]["checks"][0]["jvm"].as_f64() == Some(young as f64)
    });
    let j = entry(&r, jvm.pid).unwrap();
    let x = &j["counters"]["cross_check"];
    assert_eq!(x["verified"], false, "{x:#}");
    let f = &x["checks"][0];
    assert_eq!(f["figure"], "young pauses");
    assert_eq!(f["status"], "differs", "{f}");
    let logged = f["log"].as_f64().unwrap() as u64;
    assert!(logged < young, "{f}");
    let lost = young - logged;
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "the log shows {logged} young pauses, the JVM counted {young}: {lost} "
        )) || detail.contains(&format!(": {lost} ")),
        "{detail}"
    );
    let finding = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "counters_cross_check")
        .unwrap_or_else(|| panic!("no finding in {j:#}"));
    assert_eq!(finding["status"], "unreadable");
    assert!(
        finding["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{lost} ")),
        "{finding}"
    );
    // The metric an alert uses.
    // (Other Kafka-family JVMs on this machine may add theirs: at least ours.)
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = "tunekeeper_gc_log_pauses_missing{kind=\"young\"}";
    while !agent.metrics().contains(missing) {
        assert!(
            Instant::now() < deadline,
            "{missing} in:\n{}",
            agent.metrics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = agent.metrics();
    assert!(metric(&m, missing) >= lost as usize, "{m}");
    assert!(metric(&m, "tunekeeper_gc_cross_check_jvms{result=\"differs\"}") >= 1);
}

/// Switched-off counters are a state, said once in the journal.
#[test]
fn switched_off_counters_are_a_state_said_once() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let log = dir.path().join("off.log");
    let xlog = format!("-Xlog:gc:file={}", log.display());
    let jvm = Jvm::spawn(
        java_cmd(&jdk, &classes, &xlog, &["-XX:+PerfDisableSharedMem"], 1, 0),
        |p| Some(p as i32),
    );
    let agent = Agent::start(dir.path(), &only(&classes), "", false);
    jvm.wait_idle();
    let r = agent.wait_for(3, &[jvm.pid], |j| j["counters"]["state"] == "disabled");
    let j = entry(&r, jvm.pid).unwrap();
    let reason = j["counters"]["reason"].as_str().unwrap();
    assert!(reason.contains("-XX:+PerfDisableSharedMem"), "{reason}");
    assert!(
        j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["key"] != "counters"),
        "a state, not a finding: {j:#}"
    );
    let journal = agent.journal();
    assert_eq!(
        journal.matches("are switched off").count(),
        1,
        "once:\n{journal}"
    );
}

/// A JVM in its own mount and PID namespaces (a private /tmp): read
/// through its root, under its own PID, and verified.
#[test]
fn a_jvm_in_its_own_namespaces_is_read_through_its_root() {
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("not root: cannot unshare namespaces");
        return;
    }
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let log = dir.path().join("ns.log");
    let xlog = format!("-Xlog:gc*:file={}:uptime,level,tags", log.display());
    let jvm = Jvm::in_namespaces(java_cmd(&jdk, &classes, &xlog, &[], 2, 1));
    let agent = Agent::start(dir.path(), &only(&classes), "", false);
    jvm.wait_idle();
    jvm.stop_between_pauses();
    let n = agent.reports().len();
    let r = agent.wait_for(n + 1, &[jvm.pid], |j| {
        j["counters"]["cross_check"]["verified"] == true
    });
    let c = &entry(&r, jvm.pid).unwrap()["counters"];
    assert_eq!(
        c["path"],
        format!("/proc/{}/root/tmp/hsperfdata_root/1", jvm.pid)
    );
}

/// The packaged agent runs unprivileged: a root JVM's file (mode 0600)
/// is "permission denied" with the remedy, a JVM with its own /tmp says
/// why the agent cannot look there; each said once in the journal.
#[test]
fn an_unprivileged_agent_says_why_it_cannot_read() {
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("not root: cannot start JVMs as root and an agent as another user");
        return;
    }
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let xlog = |name: &str| format!("-Xlog:gc:file={}", dir.path().join(name).display());
    let host_jvm = Jvm::spawn(
        java_cmd(&jdk, &classes, &xlog("host.log"), &[], 1, 0),
        |p| Some(p as i32),
    );
    let ns_jvm = Jvm::in_namespaces(java_cmd(&jdk, &classes, &xlog("ns.log"), &[], 1, 0));
    host_jvm.wait_idle();
    ns_jvm.wait_idle();
    let agent = Agent::start(dir.path(), &only(&classes), "", true);
    let r = agent.wait_for(2, &[host_jvm.pid, ns_jvm.pid], |j| {
        j["counters"]["state"] != "read"
    });
    let host = &entry(&r, host_jvm.pid).unwrap()["counters"];
    assert_eq!(host["state"], "permission_denied", "{host:#}");
    assert!(
        host["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/tmp/hsperfdata_root/{}", host_jvm.pid)),
        "{host}"
    );
    assert!(
        host["remedy"]
            .as_str()
            .unwrap()
            .contains("/usr/share/tunekeeper/systemd/read-jvm-counters.conf"),
        "{host}"
    );
    let ns = &entry(&r, ns_jvm.pid).unwrap()["counters"];
    assert_eq!(ns["state"], "namespace_denied", "{ns:#}");
    assert!(
        ns["reason"].as_str().unwrap().contains("ptrace access"),
        "{ns}"
    );
    // Said once each, however many reports.
    agent.wait_for(r_index(&agent, &r) + 2, &[host_jvm.pid], |_| true);
    let journal = agent.journal();
    for pid in [host_jvm.pid, ns_jvm.pid] {
        let lines = journal
            .lines()
            .filter(|l| l.contains(&format!("(pid {pid}) are not read")))
            .count();
        assert_eq!(lines, 1, "pid {pid}:\n{journal}");
    }
}

/// A JVM started under a umask of 0027 (`UMask=0027`, a common hardening)
/// gets a `hsperfdata_USER` directory of mode 0750: an agent of another
/// user cannot even see the file in it. That is "permission denied" with
/// the remedy, as for the usual 0600 file; main took the invisible file for
/// a JVM with its own /tmp and said "another mount namespace" (seen in the
/// booted-container check).
#[test]
fn a_users_directory_out_of_reach_is_permission_denied() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("not root: cannot start a JVM as another user");
        return;
    }
    let dir = scratch();
    // The JVM's user (daemon, uid 1) reads the classes.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    // daemon runs no JVM of its own: an empty directory left by an earlier
    // run (made with another umask) is made again by this JVM.
    let _ = std::fs::remove_dir("/tmp/hsperfdata_daemon");
    let java = java_cmd(&jdk, &classes, "-Xlog:disable", &[], 1, 0);
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=1",
        "--regid=1",
        "--clear-groups",
        "--",
        "sh",
        "-c",
        r#"umask 0027 && exec "$@""#,
        "sh",
    ])
    .arg(java.get_program())
    .args(java.get_args());
    // setpriv, sh and nice each exec the next: the child is the JVM.
    let jvm = Jvm::spawn(cmd, |p| Some(p as i32));
    jvm.wait_idle();
    let user_dir = std::fs::metadata("/tmp/hsperfdata_daemon").unwrap();
    assert_eq!(
        (user_dir.mode() & 0o777, user_dir.uid()),
        (0o750, 1),
        "the JVM made its directory under its umask"
    );
    let agent = Agent::start(dir.path(), &only(&classes), "", true);
    let r = agent.wait_for(1, &[jvm.pid], |j| j["counters"]["state"] != "read");
    let c = &entry(&r, jvm.pid).unwrap()["counters"];
    assert_eq!(c["state"], "permission_denied", "{c:#}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/tmp/hsperfdata_daemon/{}", jvm.pid)),
        "{c}"
    );
    assert!(
        c["remedy"]
            .as_str()
            .unwrap()
            .contains("read-jvm-counters.conf"),
        "{c}"
    );
}

/// The position of report `r` among the agent's reports.
fn r_index(agent: &Agent, r: &Value) -> usize {
    agent
        .reports()
        .iter()
        .position(|x| x["id"] == r["id"])
        .unwrap()
        + 1
}

/// A JVM that logs no GC (or whose log cannot be read) still has counts,
/// times and rates, from its counters, marked as such.
#[test]
fn a_jvm_without_a_log_reports_from_its_counters() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let jvm = Jvm::spawn(java_cmd(&jdk, &classes, "-Xlog:disable", &[], 3, 1), |p| {
        Some(p as i32)
    });
    let agent = Agent::start(dir.path(), &only(&classes), "", false);
    // While it collects: a rate over the interval, from the counters.
    let r = agent.wait_for(1, &[jvm.pid], |j| {
        j["counters"]["interval"]["gc_ms_per_second"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    });
    let j = entry(&r, jvm.pid).unwrap();
    assert!(j["gc"].is_null(), "no log: no log figures: {j:#}");
    let c = &j["counters"];
    assert_eq!(c["only_witness"], true, "{c:#}");
    assert!(c["cross_check"].is_null());
    jvm.wait_idle();
    let s = jvm.stop_between_pauses();
    let n = agent.reports().len();
    let (young, _) = s.pauses(CollectorKind::Young).unwrap();
    let (full, full_ms) = s.pauses(CollectorKind::Full).unwrap();
    let r = agent.wait_for(n + 1, &[jvm.pid], |j| {
        j["counters"]["total"]["pauses"]["young"]["count"] == young
    });
    let total = &entry(&r, jvm.pid).unwrap()["counters"]["total"];
    assert_eq!(total["pauses"]["full"]["count"], full);
    let t = total["pauses"]["full"]["time_ms"].as_f64().unwrap();
    assert!((t - full_ms).abs() < 0.001, "{t} against {full_ms}");
    assert!(total["gc_ms_per_second"].as_f64().unwrap() > 0.0);
}

/// A JVM whose GC log the agent may not read (its directory closed to
/// the agent after the JVM opened the file) is judged by its own
/// counters: the levels they can judge (the rate, full GCs over its life)
/// are ordinary `gc` findings that say so; the percentiles need the log.
/// Main judged the empty log it never read: `full_gcs` `ok`, though the
/// JVM ran a full GC.
#[test]
fn a_jvm_whose_log_is_unreadable_is_judged_by_its_counters() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("not root: cannot start the JVM and the agent as another user");
        return;
    }
    let dir = scratch();
    // The JVM's and the agent's user (nobody) reads the classes.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    nix::unistd::chown(&logs, Some(65534.into()), Some(65534.into())).unwrap();
    // One full GC: the broker profile's `full_gcs <= 0` is missed.
    let java = java_cmd(
        &jdk,
        &classes,
        &format!("-Xlog:gc:file={}", logs.join("gc.log").display()),
        &[],
        1,
        1,
    );
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(java.get_program())
        .args(java.get_args());
    // setpriv and nice each exec the next: the child is the JVM.
    let jvm = Jvm::spawn(cmd, |p| Some(p as i32));
    jvm.wait_idle();
    assert!(logs.join("gc.log").exists(), "the JVM writes its log");
    // The file stays open in the JVM; the agent (nobody, without
    // capabilities) may no longer enter its directory.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o000)).unwrap();
    let agent = Agent::start(dir.path(), &only(&classes), "", true);
    let r = agent.wait_for(1, &[jvm.pid], |j| {
        j["counters"]["state"] == "read"
            && j["findings"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["key"] == "gc_ms_per_second"))
    });
    let j = entry(&r, jvm.pid).unwrap();
    let finding = |key: &str| {
        j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "gc" && f["key"] == key)
            .unwrap_or_else(|| panic!("no gc {key}: {j:#}"))
            .clone()
    };
    assert_eq!(finding("log")["status"], "unreadable", "{j:#}");
    assert_eq!(j["profile"], "kafka-broker");
    let rate = finding("gc_ms_per_second");
    let life = &j["counters"]["total"];
    assert_eq!(life["window"], "jvm_lifetime");
    assert!(
        matches!(rate["status"].as_str(), Some("ok" | "drift")),
        "{rate:#}"
    );
    let judged: f64 = rate["actual"].as_str().unwrap().parse().unwrap();
    assert!(judged > 0.0, "{rate:#}");
    assert_eq!(
        rate["detail"],
        "over the JVM's lifetime; from the JVM's own counters (no readable GC log)"
    );
    let full = finding("full_gcs");
    assert_eq!(full["status"], "drift", "{full:#}");
    assert_eq!(full["actual"], life["pauses"]["full"]["count"].to_string());
    assert_eq!(
        full["detail"],
        "over the JVM's lifetime; from the JVM's own counters (no readable GC log)"
    );
    let p99 = finding("pause_p99_ms");
    assert_eq!(p99["status"], "unreadable", "{p99:#}");
    assert!(p99["actual"].is_null());
    assert!(
        p99["detail"].as_str().unwrap().contains("needs the GC log"),
        "{p99:#}"
    );
    // Restore what the scratch directory's removal needs.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
}
