//! What `journalctl -u tunekeeper-agent` shows: the agent says when it
//! starts, when the first report is delivered, when delivery starts failing
//! and when it works again (once each, with the cause and the spool depth),
//! and nothing per interval while all is well. Run with the service's
//! default log level (no `TUNEKEEPER_LOG`), against a real collector that
//! is down at first and then comes up.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};

use crate::ci_skip;
use crate::collector_support::{Collector, TOKEN};
use crate::proc_view::ProcView;
use crate::support::java::{self, IDLE_BROKER};
use crate::support::{bin, free_port};
use crate::wait;

#[test]
fn the_journal_tells_start_failure_recovery_and_first_delivery_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listen = format!("127.0.0.1:{}", free_port());
    std::fs::write(d.join("token"), format!("{TOKEN}\n")).unwrap();
    let config = d.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "interval = \"1s\"\nendpoint = \"http://{listen}/api/v1/reports\"\n\
             token_file = \"{}\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\ntimeout = \"2s\"\n",
            d.join("token").display(),
            d.join("spool").display(),
            d.join("state").display()
        ),
    )
    .unwrap();
    // No process in the agent's view: a broker that another test starts
    // and stops meanwhile would add "the broker stopped" lines.
    let view = ProcView::new(&[]);
    let mut agent = Command::new(bin())
        .args(["agent", "--config", config.to_str().unwrap()])
        .env("TUNEKEEPER_ROOT", view.root())
        .env_remove("TUNEKEEPER_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Down for several attempts (three reports wait in the spool), then up.
    let spooled = || {
        std::fs::read_dir(d.join("spool")).map_or(0, |rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json.gz") && !n.starts_with('.'))
                .count()
        })
    };
    wait::until("three reports spooled while the collector is down", || {
        spooled() >= 3
    });
    let collector = Collector::start_on(d, &listen, &[]);
    // A few quiet intervals while all is well: three more reports delivered
    // after the first.
    let mut latest = BTreeSet::new();
    wait::until("four reports delivered", || {
        let v = collector.get_json("/api/v1/hosts");
        if let Some(id) = v[0]["last_report_id"].as_str() {
            latest.insert(id.to_owned());
        }
        latest.len() >= 4
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = agent.wait().unwrap();
    let mut log = String::new();
    agent
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(status.success(), "{log}");

    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("tunekeeper agent started"), 1, "{log}");
    let started = log
        .lines()
        .find(|l| l.contains("tunekeeper agent started"))
        .unwrap();
    for field in ["version=", "profile=", "endpoint=", "interval=", "spool="] {
        assert!(started.contains(field), "{started}");
    }
    assert_eq!(
        count("delivery failing"),
        1,
        "one line for the whole outage: {log}"
    );
    let failing = log
        .lines()
        .find(|l| l.contains("delivery failing"))
        .unwrap();
    assert!(
        failing.contains("reason=") && failing.contains("spool_depth="),
        "{failing}"
    );
    assert_eq!(count("delivery works again"), 1, "{log}");
    assert_eq!(count("first report delivered"), 1, "{log}");
    // Nothing per interval: at least 7 intervals ran, the journal has a handful of lines.
    assert!(log.lines().count() <= 8, "too chatty:\n{log}");
    drop(collector);
}

/// Under journald (stderr is the stream JOURNAL_STREAM names) the lines
/// follow its conventions: a `<N>` priority prefix (sd-daemon(3)), no
/// timestamp, no Rust module path (they repeated the journal's own stamp
/// and carried `tunekeeper::agent::run:`). And in its first minute the
/// agent says, once, what it cannot read: a real broker JVM's GC log in a
/// directory 0750 root:daemon, the agent running as nobody, with the
/// remedy (the README's SupplementaryGroups= drop-in). The agent sees
/// this broker alone (a view), so no other test's JVM adds lines.
#[test]
fn under_journald_lines_carry_priorities_and_say_once_what_cannot_be_read() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("needs root to run the agent as an unprivileged user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(classes) = java::classes_or_skip(d, IDLE_BROKER) else {
        return;
    };
    std::fs::set_permissions(&classes, std::fs::Permissions::from_mode(0o755)).unwrap();
    let logs = d.join("kafka-logs");
    std::fs::create_dir(&logs).unwrap();
    nix::unistd::chown(&logs, None, Some(nix::unistd::Gid::from_raw(1))).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o750)).unwrap();
    let broker = java::java(&classes, "kafka.Kafka")
        .flags(["-Xmx32m", "-XX:+UseG1GC"])
        .flags([format!(
            "-Xlog:gc*:file={}:time,tags",
            logs.join("kafkaServer-gc.log").display()
        )])
        .args([d.join("server.properties")])
        .start_up();
    let pid = broker.pid();
    let view = ProcView::new(&[pid]);

    let spool = d.join("spool");
    std::fs::create_dir(&spool).unwrap();
    nix::unistd::chown(&spool, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    // Its roles file too (as the packages give the agent its own directory).
    let state = d.join("state");
    std::fs::create_dir_all(state.join("agent")).unwrap();
    nix::unistd::chown(
        &state.join("agent"),
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
    )
    .unwrap();
    let config = d.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
            spool.display(),
            state.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The journal's stream: a file standing for the socket systemd passes.
    let journal = d.join("journal");
    let out = std::fs::File::create(&journal).unwrap();
    let meta = out.metadata().unwrap();
    let mut agent = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(["--profile-dir", "/nonexistent", "agent", "--config"])
        .arg(&config)
        .env("TUNEKEEPER_ROOT", view.root())
        .env_remove("TUNEKEEPER_LOG")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap();
    let reports = || {
        std::fs::read_dir(&spool)
            .map(|rd| rd.flatten().count())
            .unwrap_or(0)
    };
    let enough = wait::eventually(|| reports() >= 3);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = agent.wait().unwrap();
    let log = std::fs::read_to_string(&journal).unwrap();
    assert!(enough, "three reports: {log}");
    assert!(status.success(), "{log}");

    let prefixed = regex::Regex::new(r"^<[0-7]>\S").unwrap();
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d").unwrap();
    for line in log.lines() {
        assert!(
            prefixed.is_match(line),
            "no priority prefix: {line:?}\n{log}"
        );
        assert!(
            !line.contains("tunekeeper::") && !line.contains(" INFO ") && !line.contains(" WARN "),
            "a module path or level word: {line:?}"
        );
        let head: String = line.chars().take(40).collect();
        assert!(!stamp.is_match(&head), "a timestamp: {line:?}");
    }
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with("<6>tunekeeper agent started"))
            .count(),
        1,
        "{log}"
    );
    let unreadable: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("cannot read gc log"))
        .collect();
    assert_eq!(unreadable.len(), 1, "said once, not per report: {log}");
    let line = unreadable[0];
    assert!(
        line.starts_with("<4>")
            && line.contains(&format!("of the broker (pid {pid})"))
            && line.contains(&format!("{} is 0750 root:daemon", logs.display()))
            && line.contains("SupplementaryGroups=daemon"),
        "{line}"
    );
}
