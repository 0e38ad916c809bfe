//! A host's process table is hostile (issue 19, principle 1 in time): a
//! `/proc/PID/cmdline` whose read never answers — the kernel reads it from
//! the process's memory, and waits while that memory's map is locked by a
//! thread stuck in D state, or its pages are on a file system whose server
//! hangs. `ps` hangs there. Staged exactly: a fake /proc whose cmdline is a
//! file on a FUSE mount (served by the test) that never answers a read, so
//! the reader waits in the kernel as it would on the real thing. Each test
//! hung on main (86f16b6).

use crate::support::Running;
use crate::{broker_tree, ci_skip, stalling_fs, under_test};

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_tree::BrokerTree;
use stalling_fs::StallingFs;

/// True once `pid`'s main thread has ended (its leader a zombie) while
/// another thread still waits: a thread stuck in a FUSE read holds the
/// process (and its open pipes) until the read is answered.
fn main_thread_ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Waits for `child` at most `limit` (its main thread's end counts);
/// releases `fs` so a thread stuck on it lets the process end; its
/// stdout and stderr, or a panic naming `what`.
fn finish_within(
    mut child: Child,
    fs: &StallingFs,
    limit: Duration,
    what: &str,
) -> (String, String) {
    let start = Instant::now();
    let mut hung = false;
    while child.try_wait().unwrap().is_none() && !main_thread_ended(child.id()) {
        if start.elapsed() > limit {
            hung = true;
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    fs.release();
    let _ = child.wait();
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        !hung,
        "{what} still running after {limit:?}: it hung on the unanswered read\n{err}"
    );
    (out, err)
}

/// Every JSON object in `v` (at any depth) with this check and key.
fn findings<'a>(v: &'a serde_json::Value, check: &str, key: &str) -> Vec<&'a serde_json::Value> {
    let mut found = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("check").and_then(|c| c.as_str()) == Some(check)
                    && m.get("key").and_then(|k| k.as_str()) == Some(key)
                {
                    found.push(v);
                }
                stack.extend(m.values());
            }
            serde_json::Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    found
}

/// A host with one broker (pid 4242) and a process (pid 4000) whose
/// command line never answers; `None` where FUSE cannot be mounted.
fn stalling_host() -> Option<(BrokerTree, StallingFs)> {
    let fs = match StallingFs::mount() {
        Ok(fs) => fs,
        Err(why) => {
            ci_skip::skip(&format!("a FUSE mount is needed (root, /dev/fuse): {why}"));
            return None;
        }
    };
    let mut t = BrokerTree::new(64);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data", "xfs", "rw,noatime");
    t.broker(4242, "4g", "log.dirs=/data/kafka\n", 1, 1);
    t.link("/proc/4000/cmdline", fs.file().to_str().unwrap());
    Some((t, fs))
}

/// `audit` meets a command line that never answers: it gives up on that
/// process after its bound, still finds the broker, and says which process
/// it could not read. On main the audit waited for ever.
#[test]
fn a_command_line_that_never_answers_does_not_hang_audit() {
    let Some((t, fs)) = stalling_host() else {
        return;
    };
    let start = Instant::now();
    let child = Command::new(under_test::bin())
        .arg("--root")
        .arg(t.root())
        .args(["audit", "--profile", "kafka-broker", "--format", "json"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, err) = finish_within(child, &fs, Duration::from_secs(90), "audit");
    let took = start.elapsed();
    assert!(
        fs.reads.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the stalling read was met"
    );
    let json: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let running = findings(&json, "process", "running");
    assert!(
        running.iter().any(
            |f| f["status"] == "ok" && f["actual"].as_str().is_some_and(|a| a.contains("4242"))
        ),
        "the broker is still found: {running:?}\n{err}"
    );
    let unread = findings(&json, "process", "unread");
    assert!(
        unread
            .iter()
            .any(|f| f["detail"].as_str().is_some_and(|d| d.contains("4000"))),
        "the unanswered process is named: {unread:?}"
    );
    // The process table is scanned by more than one check; the stuck pid
    // costs one bound, not one per scan.
    assert!(took < Duration::from_secs(30), "audit took {took:?}");
}

/// The agent meets the same process: it goes on reporting every interval
/// (the stuck read is waited for once, then skipped while it waits).
#[test]
fn a_command_line_that_never_answers_costs_the_agent_no_report() {
    let Some((t, fs)) = stalling_host() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
            dir.path().join("spool").display(),
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let agent = Running(
        Command::new(under_test::bin())
            .arg("--root")
            .arg(t.root())
            .args(["agent", "--config"])
            .arg(&config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while spooled(&dir.path().join("spool")) < 5 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let reports = spooled(&dir.path().join("spool"));
    // The agent's stuck thread holds it (even against SIGKILL) until the
    // read is answered.
    fs.release();
    drop(agent);
    assert!(
        reports >= 5,
        "{reports} reports in {:?}: the agent hung on the unanswered read",
        start.elapsed()
    );
}

fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool).map_or(0, |rd| {
        rd.flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.ends_with(".json.gz") && !n.starts_with('.'))
            })
            .count()
    })
}
