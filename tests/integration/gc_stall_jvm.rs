//! Stalled pauses made for real: a JDK collecting many times a second
//! (`tests/fixtures/jvm/churn/Churn.java`, `-Xlog:gc*,safepoint`) is stopped
//! with SIGSTOP for 400 ms at random moments. A stop that lands inside a
//! pause makes its wall time exceed its CPU time: `tunekeeper gc` must name
//! exactly those pauses stalled, and none in a run without stops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::wait;

/// How long each stop lasts.
const STOP_MS: u64 = 400;
/// The rule the test judges by: stops are 400 ms, so 200 ms of waiting is a
/// stop and not a busy machine's scheduling delay.
const PROFILE: &str = "description = \"stall test\"\ninclude = [\"kafka-broker\"]\n[gc]\n\
    stall_ratio = { expect = \">=3\", why = \"test\" }\n\
    stall_min_ms = { expect = \">=200\", why = \"test\" }\n";

struct Jvm(Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.0.id() as i32);
        let _ = kill(pid, Signal::SIGCONT);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn have_jdk() -> bool {
    Command::new("javac")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn compile(dir: &Path) -> PathBuf {
    let classes = dir.join("classes");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jvm/churn/Churn.java");
    let ok = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .expect("javac");
    assert!(ok.success());
    classes
}

/// Starts the churning JDK at the highest priority (see [`crate::priority`]).
/// On a loaded machine (this binary's other tests, other builds) a JVM at
/// normal priority waits for a CPU inside its pauses: real stalls, which the
/// run without stops must not have and the run with stops must not take
/// for its own (and it collects less often than the test counts on).
fn start(classes: &Path, log: &Path, seconds: u32) -> Jvm {
    let [nice, nice_args @ ..] = crate::priority::HIGHEST;
    Jvm(Command::new(nice)
        .args(nice_args)
        .args([
            "java",
            "-XX:+UseG1GC",
            "-Xms256m",
            "-Xmx256m",
            "-XX:ParallelGCThreads=1",
        ])
        .arg(format!(
            "-Xlog:gc*,safepoint:file={}:utctime,uptimenanos,level,tags",
            log.display()
        ))
        .arg("-cp")
        .arg(classes)
        .arg("Churn")
        .arg(seconds.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("java"))
}

fn wait_for_pause(log: &Path) {
    wait::until("the JVM's first pause in its log", || {
        std::fs::read_to_string(log).is_ok_and(|t| t.contains("Pause Young"))
    });
}

fn analyse(dir: &Path, log: &Path) -> serde_json::Value {
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("stalltest.toml"), PROFILE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["gc", "--format", "json", "--profile-dir"])
        .arg(&profiles)
        .args(["-p", "stalltest"])
        .arg(log)
        .output()
        .expect("tunekeeper");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Every pause in the log, read by the test itself: (GC id, start, end)
/// in epoch ms, from the `utctime` decorator and the duration.
fn pauses(log: &Path) -> Vec<(u64, f64, f64)> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        if !line.contains("[gc ") || !line.contains(" Pause ") || !line.ends_with("ms") {
            continue;
        }
        let stamp = &line[1..line.find(']').unwrap()];
        let end = time::OffsetDateTime::parse(
            &stamp.replace("+0000", "Z"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let end_ms = (end.unix_timestamp_nanos() / 1_000_000) as f64;
        let dur: f64 = line[line.rfind(' ').unwrap() + 1..line.len() - 2]
            .parse()
            .unwrap();
        let id_at = line.find("GC(").unwrap() + 3;
        let id: u64 = line[id_at..id_at + line[id_at..].find(')').unwrap()]
            .parse()
            .unwrap();
        out.push((id, end_ms - dur, end_ms));
    }
    out
}

#[test]
fn sigstop_inside_a_pause_is_a_stalled_pause_and_nothing_else_is() {
    if !have_jdk() {
        eprintln!("skipping: no JDK (javac/java) on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let classes = compile(dir.path());
    let log = dir.path().join("stopped.log");
    let jvm = start(&classes, &log, 22);
    let pid = Pid::from_raw(jvm.0.id() as i32);
    wait_for_pause(&log);
    // Stop it at random moments, 400 ms each, for about 17 s.
    let mut stops: Vec<(f64, f64)> = Vec::new();
    let until = Instant::now() + Duration::from_secs(17);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100 + fastrand::u64(0..300)));
        let t0 = now_ms();
        kill(pid, Signal::SIGSTOP).unwrap();
        std::thread::sleep(Duration::from_millis(STOP_MS));
        kill(pid, Signal::SIGCONT).unwrap();
        stops.push((t0, now_ms()));
    }
    let mut jvm = jvm;
    assert!(
        wait::exit_within(&mut jvm.0, wait::PATIENCE).is_some(),
        "the JVM did not end"
    );

    let v = analyse(dir.path(), &log);
    let stalled: Vec<u64> = v["stalls"]["worst"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["gc_id"].as_u64().unwrap())
        .collect();
    let n = v["stalls"]["stalled_pauses"].as_u64().unwrap();
    let all = pauses(&log);
    // Pauses a stop lay wholly inside (1 ms stamps: 2 ms of slack).
    let made: Vec<u64> = all
        .iter()
        .filter(|(_, s, e)| {
            stops
                .iter()
                .any(|(t0, t1)| *s <= t0 - 2.0 && *e >= t1 - 2.0)
        })
        .map(|(id, _, _)| *id)
        .collect();
    // Pauses any stop touched at all.
    let touched: Vec<u64> = all
        .iter()
        .filter(|(_, s, e)| stops.iter().any(|(t0, t1)| *s < t1 + 2.0 && *e > t0 - 2.0))
        .map(|(id, _, _)| *id)
        .collect();
    eprintln!(
        "{} stops, {} pauses, made {made:?}, touched {touched:?}, found {n}: {stalled:?}",
        stops.len(),
        all.len()
    );
    assert!(
        made.len() >= 2,
        "too few stops landed in a pause to test anything: {made:?}"
    );
    // Found where they were made: listed, or shorter than every listed one
    // (the report lists the ten longest) ...
    let shortest_listed = v["stalls"]["worst"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["duration_ms"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    for id in &made {
        let (_, s, e) = all.iter().find(|(i, _, _)| i == id).unwrap();
        assert!(
            stalled.contains(id) || (stalled.len() == 10 && e - s <= shortest_listed + 1.0),
            "GC({id}) was stopped but not found"
        );
    }
    // ... and nowhere else.
    for id in &stalled {
        assert!(
            touched.contains(id),
            "GC({id}) found stalled but no stop touched it"
        );
    }
    assert!(n as usize >= made.len());
    assert!(n as usize <= touched.len());
    let share = v["stalls"]["stalled_share_percent"].as_f64().unwrap();
    assert!(share > 0.0 && share <= 100.0);
}

#[test]
fn a_run_without_stops_has_no_stalled_pause() {
    if !have_jdk() {
        eprintln!("skipping: no JDK (javac/java) on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let classes = compile(dir.path());
    let log = dir.path().join("free.log");
    let mut jvm = start(&classes, &log, 6);
    assert!(
        wait::exit_within(&mut jvm.0, wait::PATIENCE).is_some(),
        "the JVM did not end"
    );
    let v = analyse(dir.path(), &log);
    let with_cpu = v["stalls"]["pauses_with_cpu"].as_u64().unwrap();
    assert!(with_cpu > 50, "{with_cpu} pauses");
    assert_eq!(v["stalls"]["stalled_pauses"], 0, "{}", v["stalls"]);
    assert!(v["safepoints"]["time_to_safepoint"]["max_ms"].is_number());
}
