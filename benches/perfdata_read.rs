//! Benchmark: reading four JVMs' counters, as the agent will each interval
//! (find the file, copy it, decode it, build the snapshot), beside the
//! peer that reads the same file: `jstat -gc`, one JVM each.
//! Targets: under 1 ms of CPU per round of four reads, under 0.5 MB of RSS
//! growth.
//!
//! `cargo bench --bench perfdata_read` starts four JVMs (needs a JDK) and
//! prints CPU per round, RSS before and after, and jstat's CPU per read.
//! With `PERFDATA_PIDS=1,2,3,4 ROUNDS=N` it reads those JVMs N times and
//! exits, for timing the whole process from outside (N against 0).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use tunekeeper::agent::counters::{CounterWatch, READS_PER_INTERVAL};
use tunekeeper::host::Host;
use tunekeeper::jvm::perfdata::report::{Probe, probe};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User + system CPU of `who`, in microseconds.
fn cpu_us(who: UsageWho) -> u64 {
    let u = getrusage(who).unwrap();
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    us(u.user_time()) + us(u.system_time())
}

fn round(host: &Host, pids: &[i32]) {
    for &pid in pids {
        match probe(host, pid) {
            Probe::Read { snapshot, .. } => {
                std::hint::black_box(snapshot);
            }
            other => panic!("JVM {pid}: {other:?}"),
        }
    }
}

/// What the agent does per interval for each JVM, through its own
/// [`CounterWatch`] (the path found once and kept): the reads between
/// reports, the reads before and after the log, and the report's section
/// (figures, time to safepoint, the cross-check with a log's totals).
fn agent_intervals(host: &Host, pids: &[i32], intervals: u64) {
    let mut watches: Vec<CounterWatch> = pids.iter().map(|p| CounterWatch::new(*p)).collect();
    let log = tunekeeper::gc::stats::GcStats::new().snapshot();
    let interval = |w: &mut Vec<CounterWatch>| {
        for c in w.iter_mut() {
            for _ in 1..READS_PER_INTERVAL {
                c.sample(host, Duration::ZERO);
            }
            c.before_log(host);
            c.after_log(host, Duration::ZERO);
            std::hint::black_box(c.report(Some(&log), "bench"));
        }
    };
    // The first interval finds the files.
    interval(&mut watches);
    let rss0 = rss_kb();
    let cpu0 = cpu_us(UsageWho::RUSAGE_SELF);
    for _ in 0..intervals {
        interval(&mut watches);
    }
    let cpu = cpu_us(UsageWho::RUSAGE_SELF) - cpu0;
    println!(
        "perfdata_read: the agent's work per interval for 4 JVMs ({READS_PER_INTERVAL} reads each through the kept path, and the report's section), {intervals} intervals: {:.1} µs CPU per interval (target < 1000 µs); RSS {rss0} kB after the first, {} kB after the last",
        cpu as f64 / intervals as f64,
        rss_kb()
    );
}

fn main() {
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let host = Host::default();
    if let Ok(list) = std::env::var("PERFDATA_PIDS") {
        let pids: Vec<i32> = list.split(',').filter_map(|p| p.parse().ok()).collect();
        for _ in 0..rounds {
            round(&host, &pids);
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let classes = dir.path().join("classes");
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jvm/perfdata/Counters.java");
    if !Command::new("javac")
        .args(["--release", "11", "-d"])
        .arg(&classes)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("perfdata_read: skipped, no JDK");
        return;
    }
    // Four JVMs collecting all along, so their counters tick under the reads.
    let jvms: Vec<Running> = (0..4)
        .map(|_| {
            Running(
                Command::new("java")
                    .args([
                        "-XX:+UseG1GC",
                        "-Xms64m",
                        "-Xmx64m",
                        "-XX:TieredStopAtLevel=1",
                        "-cp",
                    ])
                    .arg(&classes)
                    .args(["Counters", "3600", "0"])
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("java"),
            )
        })
        .collect();
    let pids: Vec<i32> = jvms.iter().map(|j| j.0.id() as i32).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pids
        .iter()
        .all(|&p| matches!(probe(&host, p), Probe::Read { .. }))
    {
        assert!(
            Instant::now() < deadline,
            "the JVMs' counters did not appear"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss_start = rss_kb();
    round(&host, &pids);
    let rss_first = rss_kb();
    let cpu0 = cpu_us(UsageWho::RUSAGE_SELF);
    let t0 = Instant::now();
    for _ in 0..rounds {
        round(&host, &pids);
    }
    let wall = t0.elapsed();
    let cpu = cpu_us(UsageWho::RUSAGE_SELF) - cpu0;
    let rss_end = rss_kb();
    println!(
        "perfdata_read: {rounds} rounds of 4 JVMs: {:.1} µs CPU per round ({:.1} µs per JVM), {:.1} µs wall per round",
        cpu as f64 / rounds as f64,
        cpu as f64 / rounds as f64 / 4.0,
        wall.as_secs_f64() * 1e6 / rounds as f64
    );
    println!(
        "perfdata_read: RSS {rss_start} kB before the first read, {rss_first} kB after it, {rss_end} kB after {rounds} rounds: growth {} kB (target < 512 kB)",
        rss_end as i64 - rss_start as i64
    );
    agent_intervals(&host, &pids, rounds);
    // The peer: jstat reading one JVM's counters, a whole JVM each time.
    let jstat_runs = 4;
    let c0 = cpu_us(UsageWho::RUSAGE_CHILDREN);
    for &pid in pids.iter().take(jstat_runs) {
        let ok = Command::new("jstat")
            .args(["-gc", &pid.to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "jstat failed");
    }
    // The JVMs are children too, but still running: their CPU is not
    // counted until they are reaped.
    let peer = cpu_us(UsageWho::RUSAGE_CHILDREN) - c0;
    println!(
        "perfdata_read: peer jstat -gc: {:.1} ms CPU per JVM read ({jstat_runs} runs)",
        peer as f64 / jstat_runs as f64 / 1000.0
    );
    drop(jvms);
}
