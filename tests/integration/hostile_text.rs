//! What reaches a terminal is text (issue 19, principle 6), and a waiver
//! file loads in time linear in its size (principle 1). Foreign strings — a
//! broker's `log.dirs`, a waiver's justification, a host's files — carry
//! escape and control characters; `audit`, `gc` and the logs show them
//! escaped. Each test failed on main (86f16b6).

#[allow(dead_code)]
use crate::broker_tree;

use std::process::{Command, Output};

use broker_tree::BrokerTree;

fn run(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Bytes a terminal would act on: C0 controls but newline and tab, DEL, C1.
fn controls(out: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(out)
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect()
}

const CLEAR_AND_LIE: &str = "/data/\x1b[2J\x1b[H\rALL GOOD\x1b]0;owned\x07";

/// A broker's `log.dirs` that clears the screen and prints "ALL GOOD":
/// `audit` shows it escaped, in the table and in the notes.
#[test]
fn a_brokers_log_dirs_cannot_rewrite_the_audit_on_screen() {
    let mut t = BrokerTree::new(64);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data", "xfs", "rw,noatime");
    t.broker(4242, "4g", &format!("log.dirs={CLEAR_AND_LIE}\n"), 1, 1);
    let out = run(t.root(), &["audit", "--profile", "kafka-broker"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        controls(&out.stdout).is_empty(),
        "control characters reached the terminal: {:?}",
        controls(&out.stdout)
    );
    assert!(text.contains("\\x1b[2J"), "shown escaped: {text}");
    assert!(
        controls(&out.stderr).is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A waiver's justification (another foreign source, another command
/// path: the waiver notes) is shown escaped too.
#[test]
fn a_waivers_justification_is_shown_escaped() {
    let t = BrokerTree::new(64);
    t.write("/proc/sys/vm/swappiness", "60\n");
    let dir = tempfile::tempdir().unwrap();
    let waivers = dir.path().join("waivers.toml");
    std::fs::write(
        &waivers,
        "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\njustification = \"ok\\u001b[2J\\rALL GOOD\"\n",
    )
    .unwrap();
    let out = run(
        t.root(),
        &[
            "audit",
            "--profile",
            "kafka-broker",
            "--waivers",
            waivers.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ALL GOOD"), "the waiver is shown: {text}");
    assert!(
        controls(&out.stdout).is_empty(),
        "{:?}",
        controls(&out.stdout)
    );
}

/// A GC log whose lines carry escapes (`gc` prints the JVM's version line
/// and flags from it): the text report shows them escaped.
#[test]
fn a_gc_logs_text_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // The file's name is foreign too (the text report names its inputs).
    let log = dir.path().join("gc\x1b[2J\rALL GOOD.log");
    std::fs::write(
        &log,
        "[2026-11-24T10:00:00.000+0000][info][gc,init] Version: 17.0.9\x1b[2J\rALL GOOD (release)\n\
[2026-11-24T10:00:00.000+0000][info][gc] Using G1\n\
[2026-11-24T10:00:00.001+0000][info][gc,init] CommandLine flags: -XX:+UseG1GC -Dx=\x1b]0;owned\x07\n\
[2026-11-24T10:00:01.000+0000][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 3.000ms\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["gc", log.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        controls(&out.stdout).is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Principle 1: loading is linear. 40,000 waivers took minutes on main
/// (each entry's line was found by scanning from the top); the bound here
/// is generous, the figure is in the README's benchmark.
#[test]
fn a_waiver_file_of_40000_entries_loads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("waivers.toml");
    let mut text = String::new();
    for i in 0..40_000 {
        text.push_str(&format!(
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"net.ipv4.conf.eth{i}.rp_filter\"\nhosts = [\"broker-{i}\"]\njustification = \"accepted on broker {i}\"\n\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    let start = std::time::Instant::now();
    let w = tunekeeper::waiver::Waivers::load(&path).unwrap();
    let took = start.elapsed();
    assert_eq!(w.entries.len(), 40_000);
    assert!(
        w.entries[39_999].from.ends_with(":239995"),
        "{}",
        w.entries[39_999].from
    );
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
}
