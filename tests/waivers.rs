//! Waivers through the built binary on prepared host trees: a waived drift
//! exits 0 and is shown, an expired waiver is drift again and says so, a
//! bad waivers file exits 2 naming file, line and key before anything runs,
//! a waiver naming nothing is reported, and an agent's `--once` report to a
//! real collector shows the waived finding without the host drifting.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "kernel/support.rs"]
#[allow(dead_code)]
mod support;

use support::{FakeRoot, stderr, stdout, tunekeeper_at};

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

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

#[test]
fn an_agent_report_carries_the_waiver_and_the_host_does_not_drift() {
    const TOKEN: &str = "waiver-test-token";
    let (root, dir, p) = drifting();
    let d = dir.path();
    // Only swappiness is waived: the host drifts by dirty_ratio alone.
    let w = write(d, "w.toml", &BOTH.replace("vm.dirty_ratio", "vm.nothing"));
    std::fs::write(d.join("tokens"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(d.join("token"), format!("{TOKEN}\n")).unwrap();
    let port = free_port();
    let collector = Running(
        Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
            .args(["collector", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--db")
            .arg(d.join("collector.db"))
            .arg("--token-file")
            .arg(d.join("tokens"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while get(port, "/api/v1/hosts").is_none_or(|(s, _)| s != 200) {
        assert!(start.elapsed() < Duration::from_secs(30), "collector start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let agent = |waivers: &str| {
        let config: PathBuf = d.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "profile = \"{p}\"\nendpoint = \"http://127.0.0.1:{port}/api/v1/reports\"\n\
                 token_file = \"{}\"\nspool_dir = \"{}\"\ntimeout = \"5s\"\n{waivers}",
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
        let (status, body) = get(port, "/api/v1/hosts").unwrap();
        assert_eq!(status, 200, "{body}");
        let hosts: serde_json::Value = serde_json::from_str(&body).unwrap();
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

    let (status, body) = get(port, "/api/v1/hosts/fake-broker-1/reports?limit=1").unwrap();
    assert_eq!(status, 200, "{body}");
    let reports: serde_json::Value = serde_json::from_str(&body).unwrap();
    let f = finding(&reports[0], "vm.swappiness");
    assert_eq!(f["status"], "waived", "{f:#}");
    assert_eq!(f["waiver"]["justification"], "test broker: swap on purpose");
    assert_eq!(reports[0]["summary"]["waived"], 1);

    let (status, page) = get(port, "/hosts/fake-broker-1").unwrap();
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
    drop(collector);
}
