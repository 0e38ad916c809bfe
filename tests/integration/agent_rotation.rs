//! The agent against a JDK whose rotating GC log set wraps (issue 9): a
//! real JVM writing `-Xlog:gc*:file=...:time,tags:filecount=20,filesize=S`
//! until the JVM itself has deleted its first rotated file, a real agent
//! with `interval` 1 s or 10 s, a real collector on loopback killed and
//! restarted midway. The JVM's final entry (`"exited": true`) must carry
//! lifetime counts equal to the JVM's own MXBean counts, and say that no
//! GC id is missing; where the agent comes to the JVM only after its set
//! wrapped, it must say how many GC ids it never read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::ci_skip;
use crate::collector_support::{Collector, TOKEN};
use crate::proc_view::ProcView;
use crate::support::java;
use crate::support::{Running, bin, free_port, hostname};
use crate::wait;

/// One case at a time: each JVM should have the machine (whatever else runs on it).
static SERIAL: Mutex<()> = Mutex::new(());

/// The workload's classes, compiled once per run; `None` without a JDK.
fn classes() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if java::missing().is_some() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap().keep();
        Some(java::compile_fixture(
            "rotation/RotationWorkload.java",
            &dir,
        ))
    })
    .as_deref()
}

struct Case {
    interval: &'static str,
    filesize: &'static str,
    min_seconds: u32,
    /// Start the agent only once the JVM is done (its set wrapped, its
    /// counts printed; it then idles 5 s): the first GCs are gone for good.
    late_agent: bool,
}

struct Outcome {
    /// The JVM's own line: `wrapped` and the collectors' counts.
    truth: Value,
    /// The JVM's `"exited": true` entry in the last report that carries it.
    entry: Value,
    reports: usize,
}

fn truth_count(truth: &Value, name: &str) -> u64 {
    truth["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["count"].as_u64().unwrap())
        .unwrap_or_else(|| panic!("no {name} in {truth}"))
}

fn count(entry: &Value, kinds: &[&str]) -> u64 {
    kinds
        .iter()
        .map(|k| {
            entry["gc"]["total"]["pauses"][*k]["count"]
                .as_u64()
                .unwrap()
        })
        .sum()
}

const YOUNG: [&str; 4] = ["young", "concurrent_start", "prepare_mixed", "mixed"];

fn run(case: &Case) -> Option<Outcome> {
    let classes = classes()?;
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("logs/gc.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut collector = Collector::start_on(d, &listen, &["--keep-raw-days", "1"]);
    std::fs::write(d.join("token"), format!("{TOKEN}\n")).unwrap();
    // The log path is unique to this case: the agent follows this JVM only.
    let jvm_match = regex::escape(&log.display().to_string());
    std::fs::write(
        d.join("agent.toml"),
        format!(
            "interval = \"{}\"\nendpoint = \"http://{listen}/api/v1/reports\"\n\
             token_file = \"{}\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\ntimeout = \"2s\"\njvm_match = '{}'\n",
            case.interval,
            d.join("token").display(),
            d.join("spool").display(),
            d.join("state").display(),
            jvm_match,
        ),
    )
    .unwrap();

    let xlog = format!(
        "-Xlog:gc*:file={}:time,tags:filecount=20,filesize={}",
        log.display(),
        case.filesize
    );
    let (jvm, rx) = java::java(classes, "RotationWorkload")
        .flags([
            "-Xms128m",
            "-Xmx128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
        ])
        .flags([&xlog])
        .args([log.as_os_str()])
        .args([
            case.min_seconds.to_string(),
            // It collects until its set has wrapped, for at most this long:
            // at load 19 a 60 s bound ended it unwrapped (the precondition
            // failed, not the agent). Below the wait for its counters.
            (wait::PATIENCE.as_secs() - 30).to_string(),
            if case.late_agent { "5" } else { "0" }.into(),
        ])
        .start_lines();
    let jvm_pid = i64::from(jvm.pid());

    // The agent's view of the host holds this JVM only.
    let view = ProcView::new(&[jvm.pid()]);
    let start_agent = || {
        let agent_log = std::fs::File::create(d.join("agent.log")).unwrap();
        Running::spawn(
            Command::new(bin())
                .args(["agent", "--config"])
                .arg(d.join("agent.toml"))
                .env("TUNEKEEPER_ROOT", view.root())
                .env("TUNEKEEPER_LOG", "info")
                .stderr(agent_log),
        )
    };
    let truth_from = |rx: &std::sync::mpsc::Receiver<String>| -> Value {
        let line = rx
            .recv_timeout(wait::PATIENCE)
            .expect("the JVM printed its counters");
        serde_json::from_str(&line).unwrap()
    };
    let mut late_truth = None;
    if case.late_agent {
        late_truth = Some(truth_from(&rx));
    }
    let mut agent = start_agent();
    let host = hostname();
    let path = format!("/api/v1/hosts/{host}/reports?limit=100000");
    let reports = |c: &Collector| -> Vec<Value> {
        let (status, body) = c.get(&path, None);
        if status != 200 {
            return Vec::new();
        }
        serde_json::from_str(&body).unwrap_or_default()
    };
    let sees_jvm = |rs: Vec<Value>| {
        rs.iter().any(|r| {
            r["jvms"]
                .as_array()
                .is_some_and(|js| js.iter().any(|j| j["pid"] == jvm_pid))
        })
    };
    wait::until("a report with the JVM", || sees_jvm(reports(&collector)));
    // The collector dies while the set rotates (until a report waits in the
    // agent's spool), and comes back.
    drop(collector);
    wait::until("a report spooled while the collector is down", || {
        std::fs::read_dir(d.join("spool")).is_ok_and(|rd| {
            rd.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.ends_with(".json.gz") && !n.starts_with('.')
            })
        })
    });
    collector = Collector::start_on(d, &listen, &["--keep-raw-days", "1"]);

    let truth = late_truth.unwrap_or_else(|| truth_from(&rx));
    drop(jvm);
    // The first report after the exit carries the JVM's final entry.
    let final_entry = |rs: &[Value]| {
        rs.iter().find_map(|r| {
            r["jvms"]
                .as_array()?
                .iter()
                .find(|j| j["pid"] == jvm_pid && j["exited"] == true)
                .cloned()
        })
    };
    let mut got = Vec::new();
    wait::eventually(|| {
        got = reports(&collector);
        final_entry(&got).is_some()
    });
    let entry = final_entry(&got).unwrap_or_else(|| {
        panic!(
            "no exited entry for the JVM in {} reports; agent log:\n{}",
            got.len(),
            std::fs::read_to_string(d.join("agent.log")).unwrap_or_default()
        )
    });
    let _ = agent.0.kill();
    Some(Outcome {
        truth,
        entry,
        reports: got.len(),
    })
}

/// The counts equal the JVM's and nothing is reported missing.
fn check_exact(case: &Case) {
    let Some(o) = run(case) else {
        ci_skip::skip("skipping: no JDK (javac/java) on this machine; .ci/run installs one");
        return;
    };
    let (young, full) = (count(&o.entry, &YOUNG), count(&o.entry, &["full"]));
    let (t_young, t_full) = (
        truth_count(&o.truth, "G1 Young Generation"),
        truth_count(&o.truth, "G1 Old Generation"),
    );
    eprintln!(
        "interval {} filesize {}: agent young {young} full {full}, JVM young {t_young} full {t_full}, \
         gc_ids_missing {}, reports {}, wrapped {}",
        case.interval,
        case.filesize,
        o.entry["gc"]["gc_ids_missing"],
        o.reports,
        o.truth["wrapped"]
    );
    assert_eq!(
        o.truth["wrapped"], true,
        "the JVM's set must wrap for this test to mean anything: {}",
        o.truth
    );
    assert_eq!(
        (young, full),
        (t_young, t_full),
        "lifetime young/full against the JVM's MXBeans: {}",
        o.entry["gc"]["total"]["pauses"]
    );
    assert_eq!(o.entry["gc"]["gc_ids_missing"], 0, "{}", o.entry["gc"]);
    assert!(
        !o.entry["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "gc_ids_missing"),
        "{}",
        o.entry["findings"]
    );
}

#[test]
fn interval_1s_filesize_100k_counts_every_gc_once() {
    check_exact(&Case {
        interval: "1s",
        filesize: "100k",
        min_seconds: 6,
        late_agent: false,
    });
}

#[test]
fn interval_10s_filesize_100k_counts_every_gc_once() {
    check_exact(&Case {
        interval: "10s",
        filesize: "100k",
        min_seconds: 6,
        late_agent: false,
    });
}

#[test]
fn interval_1s_filesize_20k_several_rotations_per_poll_counts_every_gc_once() {
    check_exact(&Case {
        interval: "1s",
        filesize: "20k",
        min_seconds: 5,
        late_agent: false,
    });
}

/// The agent comes to the JVM after its set wrapped: the first collections'
/// lines are gone, and the report must say how many GC ids it lacks.
#[test]
fn a_set_that_wrapped_before_it_was_read_reports_the_gc_ids_missing() {
    let case = Case {
        interval: "1s",
        filesize: "20k",
        min_seconds: 3,
        late_agent: true,
    };
    let Some(o) = run(&case) else {
        ci_skip::skip("skipping: no JDK (javac/java) on this machine; .ci/run installs one");
        return;
    };
    let counted = count(&o.entry, &YOUNG) + count(&o.entry, &["full"]);
    let truth =
        truth_count(&o.truth, "G1 Young Generation") + truth_count(&o.truth, "G1 Old Generation");
    let missing = o.entry["gc"]["gc_ids_missing"]
        .as_u64()
        .unwrap_or_else(|| panic!("gc_ids_missing is a number: {}", o.entry["gc"]));
    eprintln!(
        "agent after the wrap: counted {counted} of {truth} young+full, gc_ids_missing {missing}"
    );
    assert!(counted < truth, "lines were lost: {counted} of {truth}");
    // Every uncounted pause lost its id's lines, except at most two per lost
    // stretch (a pause cut by the stretch's edges), and each stretch loses
    // at least one id (here one stretch: from GC(0)).
    assert!(
        missing > 0 && truth - counted <= 3 * missing,
        "{} pauses uncounted, {missing} GC ids said missing",
        truth - counted
    );
    let f = o.entry["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "gc_ids_missing")
        .unwrap_or_else(|| panic!("a finding says so: {}", o.entry["findings"]));
    assert_eq!(f["status"], "unreadable", "{f}");
    assert!(
        f["actual"]
            .as_str()
            .unwrap()
            .starts_with(&missing.to_string()),
        "{f}"
    );
}
