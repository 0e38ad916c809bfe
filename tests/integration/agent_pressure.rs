//! The agent's report says what the host was doing when pauses stalled: a
//! real JDK collecting many times a second is stopped with SIGSTOP inside
//! its pauses while a writer held in a small memory cgroup makes memory
//! pressure; the agent (service mode, 2 s interval, reports kept in its
//! spool) must report the pressure, the stalled pauses with the host's
//! figures beside them, and the JVM's static stall causes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::proc_view::ProcView;
use crate::support::java::{self, CHURN};
use crate::support::{Running, bin};
use crate::wait;

/// A memory cgroup limited to `limit` bytes, removed on drop.
struct Cgroup(PathBuf);

impl Cgroup {
    fn new(limit: u64) -> Option<Cgroup> {
        let name = format!("tk-agent-pressure-{}", std::process::id());
        for (base, file) in [
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes"),
            ("/sys/fs/cgroup", "memory.max"),
        ] {
            let dir = Path::new(base).join(&name);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            if std::fs::write(dir.join(file), limit.to_string()).is_ok() {
                return Some(Cgroup(dir));
            }
            let _ = std::fs::remove_dir(&dir);
        }
        None
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// How many reports the spool holds (not reading them).
fn spool_len(spool: &Path) -> usize {
    std::fs::read_dir(spool).map_or(0, |rd| {
        rd.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json.gz") && !n.starts_with('.'))
            .count()
    })
}

fn spooled(spool: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(spool)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let mut json = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap())
                .read_to_string(&mut json)
                .unwrap();
            serde_json::from_str(&json).unwrap()
        })
        .collect()
}

#[test]
fn the_report_shows_host_pressure_beside_stalled_pauses() {
    if !java::or_skip() {
        return;
    }
    if !Path::new("/proc/pressure/memory").exists() {
        eprintln!("skipping: needs PSI");
        return;
    }
    let Some(cg) = Cgroup::new(16 * 1024 * 1024) else {
        eprintln!("skipping: no memory cgroup can be made here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let classes = java::compile_fixture(CHURN, &d.join("classes"));
    let log = d.join("gc.log");
    let jvm = java::java(&classes, "Churn")
        .flags([
            "-XX:+UseG1GC",
            "-Xms256m",
            "-Xmx256m",
            "-XX:ParallelGCThreads=1",
        ])
        .flags([format!(
            "-Xlog:gc*,safepoint:file={}:utctime,uptimenanos,level,tags",
            log.display()
        )])
        .args(["30"])
        .start();
    let pid = Pid::from_raw(jvm.pid() as i32);
    let spool = d.join("spool");
    std::fs::write(
        d.join("agent.toml"),
        format!(
            "spool_dir = \"{}\"\nstate_dir = \"{}\"\ninterval = \"2s\"\njvm_match = \"Churn\"\n",
            spool.display(),
            d.join("state").display()
        ),
    )
    .unwrap();
    // The agent sees this JVM only (its pattern would match another Churn).
    let view = ProcView::new(&[jvm.pid()]);
    let agent = Running::spawn(
        Command::new(bin())
            .args(["agent", "--config"])
            .arg(d.join("agent.toml"))
            .env("TUNEKEEPER_ROOT", view.root())
            .stderr(Stdio::null()),
    );
    // Stops inside pauses (about half of all time is pause here) and a
    // writer over its memory limit, for about 8 s.
    let data = tempfile::NamedTempFile::new_in("/var/tmp").unwrap();
    let script = format!(
        "echo $$ > {}/cgroup.procs && for i in 1 2 3; do dd if=/dev/zero of={} bs=1M count=200 status=none; cat {} > /dev/null; done",
        cg.0.display(),
        data.path().display(),
        data.path().display()
    );
    let mut writer = Running::spawn(Command::new("sh").args(["-c", &script]));
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100 + fastrand::u64(0..300)));
        kill(pid, Signal::SIGSTOP).unwrap();
        std::thread::sleep(Duration::from_millis(400));
        kill(pid, Signal::SIGCONT).unwrap();
    }
    assert!(writer.0.wait().unwrap().success());
    // Two more reports after the last stop.
    let at_last_stop = spool_len(&spool);
    wait::until("two reports after the last stop", || {
        spool_len(&spool) >= at_last_stop + 2
    });
    drop(agent);
    drop(jvm);

    let reports = spooled(&spool);
    assert!(reports.len() >= 4, "{} reports", reports.len());
    let memory_max = reports
        .iter()
        .filter_map(|r| r["host_pressure"]["memory"]["some_percent"].as_f64())
        .fold(0.0, f64::max);
    assert!(memory_max > 1.0, "memory pressure seen: {memory_max}");
    let jvm_reports: Vec<&serde_json::Value> = reports
        .iter()
        .filter_map(|r| {
            r["jvms"]
                .as_array()?
                .iter()
                .find(|j| j["pid"] == pid.as_raw())
        })
        .collect();
    assert!(!jvm_reports.is_empty());
    // Stalled pauses in some interval, each with the host's figures.
    let stalled: Vec<&serde_json::Value> = jvm_reports
        .iter()
        .filter_map(|j| j["gc"]["interval"]["stalls"]["worst"].as_array())
        .flatten()
        .collect();
    assert!(!stalled.is_empty(), "no stalled pause reported");
    eprintln!("memory some max {memory_max:.1} %; e.g. {}", stalled[0]);
    for w in &stalled {
        let host = w["host"].as_str().expect("host figures beside the pause");
        assert!(host.contains("memory pressure some"), "{host}");
    }
    // The stops made them: at least one holds a whole 400 ms stop.
    assert!(
        stalled
            .iter()
            .any(|w| w["duration_ms"].as_f64().unwrap() >= 400.0),
        "{stalled:?}"
    );
    let lifetime = &jvm_reports.last().unwrap()["gc"]["total"];
    assert!(lifetime["stalls"]["stalled_pauses"].as_u64().unwrap() >= stalled.len() as u64);
    assert!(lifetime["safepoints"]["count"].as_u64().unwrap() > 0);
    // The static causes are findings of the JVM.
    let keys: Vec<&str> = jvm_reports[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "stall")
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert!(keys.contains(&"hsperfdata_off_disk"), "{keys:?}");
    assert!(keys.contains(&"gc_log_off_data_disk"), "{keys:?}");
}
