//! Waivers through the built binary on prepared host trees: a waived drift
//! exits 0 and is shown, an expired waiver is drift again and says so, a
//! bad waivers file exits 2 naming file, line and key before anything runs,
//! a waiver naming nothing is reported, and an agent's `--once` report to a
//! real collector shows the waived finding without the host drifting.

use std::path::Path;
use std::process::Command;

use crate::collector_support;
use crate::kernel_support as support;

use collector_support::{Collector, TOKEN};
use support::{FakeRoot, stderr, stdout, tunekeeper_at};

on_both!(an_agent_report_carries_the_waiver_and_the_host_does_not_drift);

/// A host with two drifting keys, and a profile that checks only them.
fn drifting() -> (FakeRoot, tempfile::TempDir, String) {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "60");
    root.sysctl("vm.dirty_ratio", "80");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.dirty_ratio\" = \"<=20\"\n",
    )
    .unwrap();
    let p = profile.to_str().unwrap().to_string();
    (root, dir, p)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn finding<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {v:#}"))
}

const BOTH: &str = r#"# accepted differences
[[waiver]]
check = "sysctl"
key = "vm.swap*"
hosts = ["fake-broker-*"]
justification = "test broker: swap on purpose"
expires = 2999-12-31

[[waiver]]
check = "sysctl"
key = "vm.dirty_ratio"
justification = "batch host, slow disks"
"#;

#[test]
fn waived_drift_exits_0_and_is_shown_and_counted() {
    let (root, dir, p) = drifting();
    let w = write(dir.path(), "w.toml", BOTH);
    // Without the waivers: drift, exit 1.
    let out = tunekeeper_at(&root, &["audit", "--profile", &p]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let out = tunekeeper_at(&root, &["audit", "--profile", &p, "--waivers", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let row = text.lines().find(|l| l.contains("vm.swappiness")).unwrap();
    assert!(row.ends_with("waived"), "{text}");
    assert!(
        text.contains(&format!(
            "waived sysctl vm.swappiness: test broker: swap on purpose (waiver {w}:2, until 2999-12-31)"
        )),
        "{text}"
    );
    assert!(text.contains("2 checks: 0 ok, 0 drift, 2 waived"), "{text}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    let out = tunekeeper_at(
        &root,
        &[
            "audit",
            "--profile",
            &p,
            "--waivers",
            &w,
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let f = finding(&v, "vm.swappiness");
    assert_eq!(f["status"], "waived");
    assert_eq!(f["actual"], "60", "the observed value is still shown");
    assert_eq!(f["waiver"]["justification"], "test broker: swap on purpose");
    assert_eq!(f["waiver"]["expires"], "2999-12-31");
    assert_eq!(f["waiver"]["from"], format!("{w}:2"));
    assert_eq!(
        (&v["summary"]["waived"], &v["summary"]["drift"]),
        (&serde_json::json!(2), &serde_json::json!(0))
    );
}

#[test]
fn the_default_file_is_read_when_it_exists() {
    let (root, _dir, p) = drifting();
    root.write("/etc/tunekeeper/waivers.toml", BOTH);
    let out = tunekeeper_at(&root, &["audit", "--profile", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("2 waived"), "{}", stdout(&out));
}

#[test]
fn scoped_waivers_hold_only_for_their_hosts_and_cluster() {
    let (root, dir, p) = drifting();
    let w = write(
        dir.path(),
        "w.toml",
        r#"
[[waiver]]
check = "sysctl"
key = "vm.swappiness"
hosts = "other-*"
justification = "not this host"

[[waiver]]
check = "sysctl"
key = "vm.dirty_ratio"
cluster = "orders-*"
justification = "the orders clusters run batch"
"#,
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--profile",
            &p,
            "--waivers",
            &w,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        json(&tunekeeper_at(&root, &args))
    };
    let v = run(&[]);
    assert_eq!(finding(&v, "vm.swappiness")["status"], "drift");
    assert_eq!(
        finding(&v, "vm.dirty_ratio")["status"],
        "drift",
        "no cluster known: a cluster-scoped waiver does not hold"
    );
    let v = run(&["--cluster", "orders-eu"]);
    assert_eq!(finding(&v, "vm.swappiness")["status"], "drift");
    assert_eq!(finding(&v, "vm.dirty_ratio")["status"], "waived");
}

#[test]
fn an_expired_waiver_is_drift_again_and_says_when_it_expired() {
    let (root, dir, p) = drifting();
    let w = write(
        dir.path(),
        "w.toml",
        "[[waiver]]\ncheck = \"sysctl\"\nkey = \"*\"\njustification = \"until the new disks\"\nexpires = \"2020-01-31\"\n",
    );
    let out = tunekeeper_at(&root, &["audit", "--profile", &p, "--waivers", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let row = text.lines().find(|l| l.contains("vm.swappiness")).unwrap();
    assert!(row.ends_with("drift"), "{text}");
    assert!(
        text.contains(&format!(
            "drift sysctl vm.swappiness: 60 where the profile expects 1; its waiver ({w}:1) expired: it held until 2020-01-31 (until the new disks)"
        )),
        "{text}"
    );
    let v = json(&tunekeeper_at(
        &root,
        &[
            "audit",
            "--profile",
            &p,
            "--waivers",
            &w,
            "--format",
            "json",
        ],
    ));
    let f = finding(&v, "vm.swappiness");
    assert_eq!(f["status"], "drift");
    assert_eq!(f["waiver"]["expired"], true);
    assert_eq!(f["waiver"]["expires"], "2020-01-31");
    assert_eq!(v["summary"]["drift"], 2);
}

#[test]
fn a_bad_waivers_file_exits_2_naming_file_line_and_key() {
    let (root, dir, p) = drifting();
    let cases: &[(&str, &str)] = &[
        (
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\n",
            ":1: `justification`: this waiver has no `justification`",
        ),
        (
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\njustification = \"x\"\nexpires = \"2027-02-30\"\n",
            ":5: `expires`: `2027-02-30` is not a day of the calendar",
        ),
        (
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\njustification = \"x\"\nexpires = \"next week\"\n",
            ":5: `expires`: `next week` is not a date",
        ),
        (
            "[[waiver]]\ncheck = \"sysctI\"\nkey = \"vm.swappiness\"\njustification = \"x\"\n",
            ":2: `check`: unknown check `sysctI`; did you mean `sysctl`?",
        ),
        (
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\njustification = \"x\"\nhost = \"a\"\n",
            ":5: `host`: unknown key",
        ),
        (
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\njustification = \"x\"\n",
            ":3: ",
        ),
    ];
    for (text, want) in cases {
        let w = write(dir.path(), "bad.toml", text);
        let out = tunekeeper_at(&root, &["audit", "--profile", &p, "--waivers", &w]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("{w}{want}")), "{text}: {err}");
        assert!(
            stdout(&out).is_empty(),
            "nothing else ran: {}",
            stdout(&out)
        );
        // apply refuses the same file before planning anything.
        let out = tunekeeper_at(
            &root,
            &["apply", "--dry-run", "--profile", &p, "--waivers", &w],
        );
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
    // A named file that does not exist is an error too, not "no waivers".
    let missing = dir.path().join("none.toml");
    let out = tunekeeper_at(
        &root,
        &[
            "audit",
            "--profile",
            &p,
            "--waivers",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("none.toml"), "{}", stderr(&out));
}

#[test]
fn a_waiver_that_matches_nothing_is_reported() {
    let (root, dir, p) = drifting();
    let w = write(
        dir.path(),
        "w.toml",
        &format!(
            "{BOTH}\n[[waiver]]\ncheck = \"mount\"\nkey = \"/data9\"\njustification = \"typo\"\n\n\
             [[waiver]]\ncheck = \"swap\"\nkey = \"*\"\nhosts = [\"elsewhere\"]\njustification = \"other host\"\n"
        ),
    );
    let out = tunekeeper_at(&root, &["audit", "--profile", &p, "--waivers", &w]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "an unmatched waiver warns, it does not fail"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: {w}:14: the waiver for mount /data9 matches no finding on this host"
        )),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("warning:")).count(),
        1,
        "a waiver scoped to another host is not this host's concern: {err}"
    );
}

/// A file of many misspelt entries is one mistake: the first 20 are named,
/// the rest counted in one line naming the file (40,000 such entries wrote
/// 40,000 lines, most of the audit's time).
#[test]
fn many_unmatched_waivers_are_named_twenty_and_counted() {
    let (root, dir, p) = drifting();
    let mut text = BOTH.to_string();
    for i in 0..25 {
        text.push_str(&format!(
            "\n[[waiver]]\ncheck = \"mount\"\nkey = \"/data{i}x\"\njustification = \"typo {i}\"\n"
        ));
    }
    let w = write(dir.path(), "w.toml", &text);
    let out = tunekeeper_at(&root, &["audit", "--profile", &p, "--waivers", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 21, "{err}");
    assert!(
        warnings[0].contains("the waiver for mount /data0x matches no finding"),
        "{err}"
    );
    assert!(
        warnings[19].contains("the waiver for mount /data19x matches no finding"),
        "{err}"
    );
    assert_eq!(
        warnings[20],
        format!(
            "warning: {w}: 5 more waivers match no finding on this host (the first 20 are named above)"
        ),
        "{err}"
    );
}

#[test]
fn apply_leaves_a_waived_key_alone() {
    let (root, dir, p) = drifting();
    let w = write(
        dir.path(),
        "w.toml",
        &BOTH.replace("vm.dirty_ratio", "vm.nothing"),
    );
    let out = tunekeeper_at(
        &root,
        &[
            "apply",
            "--dry-run",
            "--profile",
            &p,
            "--waivers",
            &w,
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    let keys: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["vm.dirty_ratio"], "{v:#}");
    assert_eq!(v["waived"][0]["key"], "vm.swappiness");
    assert!(
        v["waived"][0]["advice"]
            .as_str()
            .unwrap()
            .contains("test broker: swap on purpose"),
        "{v:#}"
    );
    assert!(!v["persist"].to_string().contains("vm.swappiness"), "{v:#}");
}

/// The agent's `--once` report to a real collector (SQLite and PostgreSQL):
/// the waived finding travels with its justification, the host drifts only
/// by what is not waived, and its page shows the finding as waived.
fn an_agent_report_carries_the_waiver_and_the_host_does_not_drift() {
    let (root, dir, p) = drifting();
    let d = dir.path();
    let collector = Collector::start(d, &[]);
    // Only swappiness is waived: the host drifts by dirty_ratio alone.
    let w = write(d, "w.toml", &BOTH.replace("vm.dirty_ratio", "vm.nothing"));
    std::fs::write(d.join("token"), format!("{TOKEN}\n")).unwrap();
    let agent = |waivers: &str| {
        let config = d.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "profile = \"{p}\"\nendpoint = \"{}/api/v1/reports\"\n\
                 token_file = \"{}\"\nspool_dir = \"{}\"\ntimeout = \"5s\"\n{waivers}",
                collector.base,
                d.join("token").display(),
                d.join("spool").display(),
            ),
        )
        .unwrap();
        let root_s = root.root().to_str().unwrap();
        Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
            .args(["--root", root_s, "agent", "--once", "--config"])
            .arg(&config)
            .env("TUNEKEEPER_LOG", "warn")
            .output()
            .unwrap()
    };
    let host = |drift: u64| {
        let hosts = collector.get_json("/api/v1/hosts");
        // A bare array, or a page of them.
        let list = hosts
            .as_array()
            .or_else(|| hosts["hosts"].as_array())
            .unwrap_or_else(|| panic!("no host list in {hosts:#}"));
        let h = list
            .iter()
            .find(|h| h["hostname"] == "fake-broker-1")
            .cloned()
            .unwrap_or_else(|| panic!("no host in {hosts:#}"));
        assert_eq!(h["drift"], drift, "{h:#}");
        h
    };

    // A bad file stops the agent at start, naming it.
    let bad = write(
        d,
        "bad.toml",
        "[[waiver]]\ncheck = \"sysctl\"\nkey = \"x\"\n",
    );
    let out = agent(&format!("waivers = \"{bad}\"\n"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{bad}:1: `justification`")));

    let out = agent(&format!("waivers = \"{w}\"\n"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let h = host(1);
    let drifting: Vec<&str> = h["drifting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(drifting, ["vm.dirty_ratio"], "the waived key is not drift");

    let reports = collector.get_json("/api/v1/hosts/fake-broker-1/reports?limit=1");
    let f = finding(&reports[0], "vm.swappiness");
    assert_eq!(f["status"], "waived", "{f:#}");
    assert_eq!(f["waiver"]["justification"], "test broker: swap on purpose");
    assert_eq!(reports[0]["summary"]["waived"], 1);

    let (status, page) = collector.get("/hosts/fake-broker-1", None);
    assert_eq!(status, 200);
    let row = page
        .split("<tr")
        .find(|r| r.contains("swappiness"))
        .unwrap_or_else(|| panic!("no row in {page}"));
    assert!(row.contains(">waived</span>"), "{row}");
    assert!(row.contains("test broker: swap on purpose"), "{row}");

    // Waiving the other key too: the host stops drifting.
    let both = write(d, "both.toml", BOTH);
    let out = agent(&format!("waivers = \"{both}\"\n"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    host(0);
}

/// An enforcing agent re-applies drifted keys, but not a waived one: that
/// would undo the accepted difference.
#[test]
fn an_enforcing_agent_leaves_a_waived_key_alone() {
    if !support::is_root() {
        return; // enforce needs root, even on a prepared tree
    }
    let (root, dir, p) = drifting();
    let d = dir.path();
    let w = write(d, "w.toml", &BOTH.replace("vm.dirty_ratio", "vm.nothing"));
    let config = d.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"{p}\"\nenforce = true\nwaivers = \"{w}\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
            d.join("spool").display(),
            d.join("state").display(),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args([
            "--root",
            root.root().to_str().unwrap(),
            "agent",
            "--once",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        root.read("/proc/sys/vm/dirty_ratio").trim(),
        "20",
        "enforced"
    );
    assert_eq!(
        root.read("/proc/sys/vm/swappiness").trim(),
        "60",
        "the waived key keeps its accepted value"
    );
}
