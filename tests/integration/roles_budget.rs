//! Each JVM's pauses weighed against the timeouts of its own roles, with
//! real JVMs found by pid (`gc --pid`): a KRaft controller against the
//! quorum's fetch and election timeouts, a broker against its session and
//! heartbeat, a combined node against both, each from its own
//! configuration or Kafka's defaults. One log holds a 1,508 ms pause: 12.6 %
//! of a 12 s session (ok) yet 75 % of the quorum fetch timeout and longer
//! than the election timeout (it was judged ok, and a controller got no
//! budget at all). And a young JVM's GC rate is null with its reason.

use crate::ci_skip;
use crate::role_jvms;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A stand-in JVM, killed on drop.
struct Jvm(Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Jvm {
    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

fn have_jdk() -> bool {
    Command::new("javac")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Starts `java [jvm_args] -cp CLASSES kafka.Kafka [args]` and waits for
/// its first line of output (main runs: the command line is the broker's).
fn start(classes: &Path, jvm_args: &[String], args: &[String]) -> Jvm {
    let mut child = Command::new("java")
        .args(["-Xmx64m", "-Xms64m", "-XX:+UseG1GC"])
        .args(jvm_args)
        .arg("-cp")
        .arg(classes)
        .arg("kafka.Kafka")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    Jvm(child)
}

fn gc(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["--profile-dir", "/nonexistent", "gc", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc/roles/pause-1508.log")
        .display()
        .to_string()
}

/// `(key, value_ms, from)` of the budget.
fn budget(v: &Value) -> Vec<(String, u64, String)> {
    v["timeout_budget"]
        .as_array()
        .unwrap_or_else(|| panic!("no budget: {v:#}"))
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["value_ms"].as_u64().unwrap(),
                t["from"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status(v: &Value, key: &str) -> String {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no finding {key}: {v:#}"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

const DEFAULT: &str = "Kafka's default, 3.x and 4.x";

#[test]
fn each_role_weighs_a_pause_against_its_own_timeouts() {
    if !have_jdk() {
        ci_skip::skip("no JDK (javac/java) on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let classes = role_jvms::compile(dir.path(), "idle-broker");
    let props = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let log = fixture();

    // A dedicated controller: the quorum's timeouts, defaults then an override.
    let ctl_cfg = props(
        "controller.properties",
        "process.roles=controller\nnode.id=3000\n",
    );
    let ctl = start(&classes, &[], std::slice::from_ref(&ctl_cfg));
    let v = gc(&["--pid", &ctl.pid(), &log]);
    assert_eq!(
        budget(&v),
        [
            (
                "controller.quorum.fetch.timeout.ms".into(),
                2000,
                DEFAULT.into()
            ),
            (
                "controller.quorum.election.timeout.ms".into(),
                1000,
                DEFAULT.into()
            ),
        ]
    );
    assert_eq!(
        status(&v, "timeout:controller.quorum.fetch.timeout.ms"),
        "drift"
    );
    assert_eq!(
        status(&v, "timeout:controller.quorum.election.timeout.ms"),
        "drift"
    );
    let fetch = v["timeout_budget"][0]["worst_pause_percent"]
        .as_f64()
        .unwrap();
    assert_eq!(fetch, 75.4, "1,508 ms of 2,000");
    // The text report keeps its columns apart: the quorum's 37-character
    // keys ran into their values, `stall` into `gc_log_off_data_disk`.
    let text = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args([
            "--profile-dir",
            "/nonexistent",
            "gc",
            "--pid",
            &ctl.pid(),
            &log,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let budget_line = regex::Regex::new(
        r"(?m)^  controller\.quorum\.election\.timeout\.ms +1000 ms  pause 1508\.0 ms",
    )
    .unwrap();
    assert!(budget_line.is_match(&text), "{text}");
    let columns: Vec<usize> = text
        .lines()
        .filter(|l| l.starts_with("  controller.quorum."))
        .map(|l| l.find(" ms  pause").unwrap())
        .collect();
    assert_eq!(columns.len(), 2, "{text}");
    assert_eq!(
        columns[0], columns[1],
        "the budget's columns line up: {text}"
    );
    let stall_line =
        regex::Regex::new(r"(?m)^  (ok|drift) +stall +hsperfdata_off_disk +expected").unwrap();
    assert!(stall_line.is_match(&text), "{text}");
    drop(ctl);

    // A KRaft broker, its session from its own file: 12.6 % of the session
    // is fine, 75 % of the heartbeat interval is not.
    let broker_cfg = props(
        "broker.properties",
        "process.roles=broker\nnode.id=1\nbroker.session.timeout.ms=12000\n",
    );
    let broker = start(&classes, &[], std::slice::from_ref(&broker_cfg));
    let v = gc(&["--pid", &broker.pid(), &log]);
    assert_eq!(
        budget(&v),
        [
            (
                "broker.session.timeout.ms".into(),
                12000,
                broker_cfg.clone()
            ),
            ("broker.heartbeat.interval.ms".into(), 2000, DEFAULT.into()),
            ("replica.lag.time.max.ms".into(), 30000, DEFAULT.into()),
            (
                "session.timeout.ms".into(),
                45000,
                "Kafka's default for consumers (3.0+)".into()
            ),
        ]
    );
    assert_eq!(status(&v, "timeout:broker.session.timeout.ms"), "ok");
    assert_eq!(status(&v, "timeout:broker.heartbeat.interval.ms"), "drift");
    drop(broker);

    // A combined node: both sets, an --override on the command line.
    let both_cfg = props(
        "combined.properties",
        "process.roles=broker,controller\nnode.id=2\nbroker.session.timeout.ms=12000\n",
    );
    let both = start(
        &classes,
        &[],
        &[
            both_cfg.clone(),
            "--override".into(),
            "controller.quorum.fetch.timeout.ms=4000".into(),
        ],
    );
    let v = gc(&["--pid", &both.pid(), &log]);
    let keys: Vec<(String, u64)> = budget(&v).into_iter().map(|(k, ms, _)| (k, ms)).collect();
    assert_eq!(
        keys,
        [
            ("controller.quorum.fetch.timeout.ms".into(), 4000),
            ("controller.quorum.election.timeout.ms".into(), 1000),
            ("broker.session.timeout.ms".into(), 12000),
            ("broker.heartbeat.interval.ms".into(), 2000),
            ("replica.lag.time.max.ms".into(), 30000),
            ("session.timeout.ms".into(), 45000),
        ]
    );
    assert_eq!(budget(&v)[0].2, "--override on the command line");
    assert_eq!(
        status(&v, "timeout:controller.quorum.fetch.timeout.ms"),
        "ok",
        "37.7 % of 4 s"
    );
    assert_eq!(
        status(&v, "timeout:controller.quorum.election.timeout.ms"),
        "drift"
    );
    assert_eq!(status(&v, "timeout:broker.session.timeout.ms"), "ok");
    drop(both);

    // The same file without a running JVM: its process.roles decides.
    let v = gc(&["--broker-config", &ctl_cfg, &log]);
    assert_eq!(budget(&v).len(), 2, "a controller's file: the quorum's two");
}

/// `gc --pid` on a JVM up a few seconds: its GC rate is null with the
/// reason (it printed a rate over the fraction of a second its pauses
/// covered); the log alone still gives its rate.
#[test]
fn a_young_jvms_rate_is_null_with_its_reason() {
    if !have_jdk() {
        ci_skip::skip("no JDK (javac/java) on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let classes = role_jvms::compile(dir.path(), "kafka");
    let log = dir.path().join("gc.log");
    // Kafka's own decorators (time,tags: no uptime). Busy 3 s, then idle.
    let jvm = start(
        &classes,
        &[format!("-Xlog:gc*:file={}:time,tags", log.display())],
        &["3".into(), "120".into()],
    );
    let log = log.display().to_string();
    let alone = gc(&[&log]);
    assert!(
        alone["gc_ms_per_second"].as_f64().is_some(),
        "the log alone covers enough for a rate: {}",
        alone["rates_null_because"]
    );
    let v = gc(&["--pid", &jvm.pid(), &log]);
    let s = &v;
    assert!(s["gc_ms_per_second"].is_null(), "{}", s["gc_ms_per_second"]);
    let why = s["rates_null_because"].as_str().unwrap();
    assert!(
        why.contains(&format!("pid {}", jvm.pid())) && why.contains("a rate needs a minute"),
        "{why}"
    );
    let level = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "gc_ms_per_second")
        .unwrap();
    assert_eq!(level["status"], "not-applicable", "{level}");
    assert!(
        level["detail"]
            .as_str()
            .unwrap()
            .contains("a rate needs a minute"),
        "{level}"
    );
    drop(jvm);
}
