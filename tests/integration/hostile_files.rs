//! No open can block, no read is endless (issue 19, principle 2), with
//! other file types than the FIFO of `hostile_host`: a character device
//! (`/dev/zero`, which never ends) linked in place of a broker's
//! properties file, of a sysctl.d file and of a GC log; a Unix socket as a
//! properties file. Each is refused and named in a finding, and the run
//! goes on. The commands run with their heap capped (`prlimit --data`):
//! main (86f16b6) read `/dev/zero` until memory ran out, and the cap turns
//! that into a quick failure instead of a machine in trouble.

use crate::{broker_tree, ci_skip, under_test};

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use broker_tree::BrokerTree;

/// The binary under `prlimit --data=1GiB` (heap and private mappings),
/// `--root root` when given, with `args`, spawned.
fn spawn_capped(root: Option<&Path>, args: &[&str]) -> Option<Child> {
    if !Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        ci_skip::skip("no prlimit (util-linux) on this machine");
        return None;
    }
    let mut c = Command::new("prlimit");
    c.arg(format!("--data={}", 1u64 << 30))
        .arg("--")
        .arg(under_test::bin());
    if let Some(root) = root {
        c.arg("--root").arg(root);
    }
    Some(
        c.args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits at most `limit` for `child`, reading its output meanwhile.
fn finish_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Every JSON object (at any depth) with this check (and key, if given).
fn findings<'a>(
    v: &'a serde_json::Value,
    check: &str,
    key: Option<&str>,
) -> Vec<&'a serde_json::Value> {
    let mut found = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("check").and_then(|c| c.as_str()) == Some(check)
                    && key.is_none_or(|k| m.get("key").and_then(|x| x.as_str()) == Some(k))
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

/// `audit --format json` of the kafka-broker profile on `t`, bounded.
fn audit_json(t: &BrokerTree) -> Option<(serde_json::Value, String)> {
    let child = spawn_capped(
        Some(t.root()),
        &["audit", "--profile", "kafka-broker", "--format", "json"],
    )?;
    let out = finish_within(child, Duration::from_secs(60), "audit");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "audit ran to its end: {:?}\n{err}",
        out.status
    );
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    Some((json, err))
}

/// A host with a broker (pid 4242) whose properties file is replaced.
fn broker_host() -> BrokerTree {
    let mut t = BrokerTree::new(64);
    t.disk("sdb", 8, 16, false);
    t.mount("8:16", "/data", "xfs", "rw,noatime");
    t.broker(4242, "4g", "log.dirs=/data/kafka\n", 1, 1);
    t
}

/// `/dev/zero` linked in place of the broker's properties file: refused
/// and named (main read it until its heap was exhausted).
#[test]
fn a_properties_file_that_is_dev_zero_is_refused_and_named() {
    let t = broker_host();
    t.link("/etc/kafka/server-4242.properties", "/dev/zero");
    let Some((json, err)) = audit_json(&t) else {
        return;
    };
    let text = json.to_string();
    assert!(
        text.contains("server-4242.properties") && text.contains("a character device"),
        "the device is named: {text}\n{err}"
    );
}

/// A Unix socket as the broker's properties file: refused and named,
/// the audit goes on.
#[test]
fn a_properties_file_that_is_a_socket_is_refused_and_named() {
    let t = broker_host();
    let props = t.path("/etc/kafka/server-4242.properties");
    std::fs::remove_file(&props).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(&props).unwrap();
    let Some((json, err)) = audit_json(&t) else {
        return;
    };
    let text = json.to_string();
    assert!(
        text.contains("server-4242.properties")
            && (text.contains("a socket") || text.contains("No such device or address")),
        "the socket is named: {text}\n{err}"
    );
}

/// `/dev/zero` as a sysctl.d file: the boot-time check names it (main
/// read it until its heap was exhausted; main after the first fix skipped
/// it without a word, so the next boot's settings were judged without it).
#[test]
fn a_sysctl_d_file_that_is_dev_zero_is_named_in_a_finding() {
    let t = broker_host();
    t.write("/etc/sysctl.d/50-ok.conf", "vm.swappiness = 1\n");
    t.link("/etc/sysctl.d/60-zero.conf", "/dev/zero");
    t.write("/proc/sys/vm/swappiness", "1\n");
    let Some((json, err)) = audit_json(&t) else {
        return;
    };
    let named = findings(&json, "boot", Some("sysctl.d"));
    assert!(
        named.iter().any(|f| f["detail"]
            .as_str()
            .is_some_and(|d| d.contains("60-zero.conf") && d.contains("a character device"))),
        "the device is named: {named:?}\n{err}"
    );
}

/// `/dev/zero`'s own device node (1:5, made in the log directory, not a
/// link to it: links there are refused before their target is looked at)
/// as the agent's GC log: refused with a finding naming a character
/// device, and the report is made (main's follower read it until memory
/// ran out).
#[test]
fn a_gc_log_that_is_dev_zero_is_refused_by_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gc.log");
    if let Err(e) = nix::sys::stat::mknod(
        &log,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
        nix::sys::stat::makedev(1, 5),
    ) {
        ci_skip::skip(&format!("mknod needs root: {e}"));
        return;
    }
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\ngc_logs = [\"{}\"]\n",
            dir.path().join("spool").display(),
            dir.path().join("state").display(),
            log.display()
        ),
    )
    .unwrap();
    let Some(child) = spawn_capped(
        None,
        &["agent", "--once", "--config", config.to_str().unwrap()],
    ) else {
        return;
    };
    let out = finish_within(child, Duration::from_secs(60), "agent --once");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let spooled: Vec<serde_json::Value> = std::fs::read_dir(dir.path().join("spool"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.ends_with(".json.gz") && !n.starts_with('.'))
                })
                .filter_map(|e| {
                    let raw = std::fs::read(e.path()).ok()?;
                    let mut text = String::new();
                    flate2::read::GzDecoder::new(&raw[..])
                        .read_to_string(&mut text)
                        .ok()?;
                    serde_json::from_str(&text).ok()
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(spooled.len(), 1, "one report: {:?}\n{err}", out.status);
    let refused = findings(&spooled[0], "gc", Some("log_refused"));
    assert!(
        refused
            .iter()
            .any(|f| f.to_string().contains("character device")),
        "the device is named: {refused:?}"
    );
}
