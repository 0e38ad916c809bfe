//! What `journalctl -u tunekeeper-agent` shows: the agent says when it
//! starts, when the first report is delivered, when delivery starts failing
//! and when it works again (once each, with the cause and the spool depth),
//! and nothing per interval while all is well. Run with the service's
//! default log level (no `TUNEKEEPER_LOG`), against a real collector that
//! is down at first and then comes up.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};

use crate::collector_support::{Collector, TOKEN};
use crate::proc_view::ProcView;
use crate::wait;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
             token_file = \"{}\"\nspool_dir = \"{}\"\ntimeout = \"2s\"\n",
            d.join("token").display(),
            d.join("spool").display()
        ),
    )
    .unwrap();
    // No process in the agent's view: a broker that another test starts
    // and stops meanwhile would add "the broker stopped" lines.
    let view = ProcView::new(&[]);
    let mut agent = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
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
