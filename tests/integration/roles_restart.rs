//! The roles an agent expects survive its restart (issue 20): a real
//! agent binary and real JVMs found by pid (Debian's ZooKeeper, stand-in
//! brokers and KRaft controllers), each agent seeing the host through a
//! [`ProcView`] of the test's own JVMs. A role that was seen running and
//! is missing after a restart reads "stopped" with its original since-when;
//! a state file that is not what the agent writes (corrupt, too large, a
//! link, a FIFO) is said and ignored without a hang; a role missing for
//! `forget_roles_after` is forgotten.

use crate::ci_skip;
use crate::proc_view::ProcView;
use crate::role_jvms;
use crate::support::{Running, agent_config, bin};
use crate::wait;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The roles file under the configured `state_dir`.
fn state_file(dir: &Path) -> PathBuf {
    dir.join("state/agent/roles.json")
}

/// The agent seeing `view`, logging at info into `log`.
fn agent(config: &Path, view: &ProcView, log: &Path, once: bool) -> Command {
    let mut c = Command::new(bin());
    c.arg("agent");
    if once {
        c.arg("--once");
    }
    c.arg("--config")
        .arg(config)
        .env("TUNEKEEPER_ROOT", view.root())
        .env("TUNEKEEPER_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    c
}

/// `agent --once`: its exit (bounded: a hang fails the test) and its log.
fn once(config: &Path, view: &ProcView, log: &Path) -> (ExitStatus, String) {
    let mut child = Running::spawn(&mut agent(config, view, log, true));
    let status = wait::exit_within(&mut child.0, wait::PATIENCE)
        .unwrap_or_else(|| panic!("agent --once still runs after {:?}", wait::PATIENCE));
    (status, std::fs::read_to_string(log).unwrap())
}

/// The newest report in the spool.
fn newest(dir: &Path) -> Option<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("spool"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".json.gz") && !n.starts_with('.')
        })
        .collect();
    files.sort();
    let f = std::fs::File::open(files.last()?).ok()?;
    serde_json::from_reader(flate2::read::GzDecoder::new(f)).ok()
}

fn role<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == name)
}

fn finding<'a>(report: &'a Value, check: &str, key: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check && f["key"] == key)
}

fn role_names(report: &Value) -> Vec<String> {
    report["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap().to_owned())
        .collect()
}

/// The roles the state file holds, by name, with their `missing_since`.
fn remembered(dir: &Path) -> Vec<(String, Option<String>)> {
    let v: Value = serde_json::from_slice(&std::fs::read(state_file(dir)).unwrap()).unwrap();
    v["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_owned(),
                r["missing_since"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn rfc3339(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// The reboot where ZooKeeper does not come back: the agent saw it run,
/// stopped; ZooKeeper dies meanwhile; the restarted agent reports it
/// stopped (since its first report without it), and the next restart keeps
/// that since-when. Before the state file, the restarted agent expected
/// the broker alone and the host read healthy.
#[test]
fn a_role_missing_after_a_restart_is_reported_stopped_with_its_original_since() {
    if let Some(why) = role_jvms::missing() {
        ci_skip::skip(&why);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (mut zk, broker) = role_jvms::zookeeper_and_broker(d, "kafka");
    let config = agent_config(d, "");
    let log = d.join("agent.log");

    // The service runs and sees both roles; then it is stopped (a reboot).
    let view = ProcView::new(&[zk.pid(), broker.pid()]);
    let mut service = Running::spawn(&mut agent(&config, &view, &log, false));
    // (The file is written before the report is spooled.)
    wait::until("a report with ZooKeeper running", || {
        newest(d).is_some_and(|r| role(&r, "zookeeper").is_some_and(|z| z["running"] == true))
    });
    assert!(service.terminate().success());

    // ZooKeeper does not come back; the agent starts again.
    zk.kill();
    let before = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let view = ProcView::new(&[broker.pid()]);
    let (status, err) = once(&config, &view, &log);
    assert_eq!(
        status.code(),
        Some(1),
        "no endpoint: the report waits. {err}"
    );
    let r = newest(d).unwrap();
    let z = role(&r, "zookeeper").unwrap_or_else(|| panic!("ZooKeeper forgotten: {r:#}"));
    assert_eq!(z["running"], false, "{z:#}");
    assert_eq!(z["profile"], "zookeeper");
    let since = z["missing_since"]
        .as_str()
        .expect("missing_since")
        .to_owned();
    assert!(rfc3339(&since) >= before, "{since} is this start's");
    let f = finding(&r, "process", "running (zookeeper)").unwrap();
    assert_eq!(f["status"], "drift", "{f:#}");
    assert_eq!(
        f["detail"],
        format!(
            "none runs since {since}: the ZooKeeper server is stopped \
             (its GC and limit findings are gone with it, not fixed)"
        ),
        "worded as a stop the agent saw happen"
    );
    assert_eq!(finding(&r, "process", "running").unwrap()["status"], "ok");
    assert!(
        err.contains("the ZooKeeper server stopped"),
        "said once, when found stopped: {err}"
    );
    // What the file holds: both roles seen, ZooKeeper missing since then.
    assert_eq!(
        remembered(d),
        [
            ("broker".into(), None),
            ("zookeeper".into(), Some(since.clone()))
        ]
    );

    // Restarted again: still stopped, since the same moment.
    let (status, err) = once(&config, &view, &log);
    assert_eq!(status.code(), Some(1), "{err}");
    let r = newest(d).unwrap();
    let z = role(&r, "zookeeper").unwrap();
    assert_eq!(
        (z["running"].as_bool(), z["missing_since"].as_str()),
        (Some(false), Some(since.as_str()))
    );
    assert!(
        finding(&r, "process", "running (zookeeper)").unwrap()["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("none runs since {since}: ")),
        "{r:#}"
    );
    assert!(
        err.contains("is still stopped") && err.contains(&since),
        "the restart says it: {err}"
    );
    drop(broker);
}

/// A state file that is not what the agent writes: the agent starts
/// anyway, says which file and what is wrong, never blocks on it, reports
/// as if it had none, and replaces it (a link itself, never its target).
/// Unknown role names are ignored with a warning, the rest of the file used.
#[test]
fn a_hostile_state_file_is_said_and_ignored_without_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let config = agent_config(d, "");
    let file = state_file(d);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let target = d.join("precious.json");
    let valid = r#"{"version":1,"roles":[{"role":"zookeeper","first_seen":"2026-12-01T10:00:00Z","last_seen":"2026-12-01T10:00:00Z"}]}"#;
    std::fs::write(&target, valid).unwrap();
    let plant = |case: &str| {
        let _ = std::fs::remove_file(&file);
        match case {
            "corrupt" => std::fs::write(&file, "{\"version\":1,\"roles\":[{\"role\"").unwrap(),
            "oversize" => std::fs::write(&file, vec![b' '; 64 * 1024 + 1]).unwrap(),
            "symlink" => std::os::unix::fs::symlink(&target, &file).unwrap(),
            "fifo" => {
                nix::unistd::mkfifo(&file, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap()
            }
            _ => unreachable!(),
        }
    };
    // No process in the agent's view: with no usable file, the default broker.
    let view = ProcView::new(&[]);
    for (case, why) in [
        ("corrupt", "not the agent's roles file"),
        ("oversize", "more than 65536"),
        ("symlink", "it is a symbolic link"),
        ("fifo", "it is a FIFO (named pipe)"),
    ] {
        plant(case);
        let log = d.join(format!("agent-{case}.log"));
        let (status, err) = once(&config, &view, &log);
        assert_eq!(status.code(), Some(1), "{case}: the agent ran: {err}");
        let said = err
            .lines()
            .find(|l| l.contains(&file.display().to_string()) && l.contains(why))
            .unwrap_or_else(|| panic!("{case}: no line names the file and `{why}`: {err}"));
        assert!(
            said.contains("ERROR") && said.contains("starts from the roles that run now"),
            "{case}: says what it does instead: {said}"
        );
        let r = newest(d).unwrap();
        assert_eq!(role_names(&r), ["broker"], "{case}: {r:#}");
        let meta = std::fs::symlink_metadata(&file).unwrap();
        assert!(
            meta.file_type().is_file(),
            "{case}: replaced by a regular file"
        );
        let aside = file.with_extension("json.unusable");
        assert!(
            said.contains("the file was moved aside as ")
                && said.contains(&aside.display().to_string()),
            "{case}: kept for a look: {said}"
        );
        let kind = std::fs::symlink_metadata(&aside).unwrap().file_type();
        assert_eq!(
            (kind.is_symlink(), kind.is_fifo()),
            (case == "symlink", case == "fifo"),
            "{case}: the very file, moved"
        );
        assert_eq!(remembered(d), [], "{case}");
    }
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        valid,
        "a link's target is never written"
    );

    // Unknown names (a newer agent's, or planted) are skipped; the rest holds.
    std::fs::write(
        &file,
        r#"{"version":1,"roles":[
          {"role":"connect\u001b[31m","first_seen":"2026-12-01T10:00:00Z","last_seen":"2026-12-01T10:00:00Z"},
          {"role":"zookeeper","first_seen":"2026-12-01T10:00:00Z","last_seen":"2026-12-02T10:00:00Z","missing_since":"2026-12-02T10:00:05Z"}
        ]}"#,
    )
    .unwrap();
    let (status, err) = once(&config, &view, &d.join("agent-unknown.log"));
    assert_eq!(status.code(), Some(1), "{err}");
    let warned = err
        .lines()
        .find(|l| l.contains("does not know"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        warned.contains("WARN") && !warned.contains('\u{1b}'),
        "escaped: {warned:?}"
    );
    let r = newest(d).unwrap();
    assert_eq!(role_names(&r), ["zookeeper"], "{r:#}");
    assert_eq!(
        role(&r, "zookeeper").unwrap()["missing_since"],
        "2026-12-02T10:00:05Z"
    );
}

/// A role missing for `forget_roles_after` is forgotten while the agent
/// runs (said once, at info), gone from the report and the file, and not
/// expected after a restart.
#[test]
fn a_role_missing_past_forget_roles_after_is_forgotten() {
    if let Some(why) = crate::support::java::missing() {
        ci_skip::skip(&why);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let classes = role_jvms::stand_in_classes(d);
    let mut controller = role_jvms::kafka(
        d,
        &classes,
        "controller",
        "process.roles=controller\nnode.id=3000\n",
        &[],
    );
    let broker = role_jvms::kafka(
        d,
        &classes,
        "broker",
        "process.roles=broker\nnode.id=1\n",
        &[],
    );
    let config = agent_config(d, "forget_roles_after = \"3s\"\n");
    let log = d.join("agent.log");
    let view = ProcView::new(&[controller.pid(), broker.pid()]);
    let mut service = Running::spawn(&mut agent(&config, &view, &log, false));
    wait::until("a report with the controller running", || {
        newest(d).is_some_and(|r| role(&r, "controller").is_some_and(|c| c["running"] == true))
    });
    controller.kill();
    let since = wait::until_some("a report with the controller stopped", || {
        let r = newest(d)?;
        let c = role(&r, "controller")?;
        c["missing_since"].as_str().map(str::to_owned)
    });
    let last = wait::until_some("a report without the controller", || {
        newest(d).filter(|r| role(r, "controller").is_none())
    });
    assert!(
        rfc3339(last["time"].as_str().unwrap()) - rfc3339(&since) >= Duration::from_secs(3),
        "not before forget_roles_after: stopped {since}, gone at {}",
        last["time"]
    );
    assert_eq!(role_names(&last), ["broker"]);
    assert!(finding(&last, "process", "running (controller)").is_none());
    assert_eq!(remembered(d), [("broker".into(), None)]);
    assert!(service.terminate().success());
    let err = std::fs::read_to_string(&log).unwrap();
    let forgot: Vec<&str> = err.lines().filter(|l| l.contains("forgotten")).collect();
    assert_eq!(forgot.len(), 1, "{err}");
    assert!(
        forgot[0].contains("INFO")
            && forgot[0].contains("KRaft controller")
            && forgot[0].contains(&since)
            && forgot[0].contains("forget_roles_after=3s"),
        "{}",
        forgot[0]
    );

    // Not expected after a restart either.
    let view = ProcView::new(&[broker.pid()]);
    let (status, err) = once(&config, &view, &d.join("agent-2.log"));
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(role_names(&newest(d).unwrap()), ["broker"]);
    drop(broker);
}
