//! Benchmark: the agent's steady memory and CPU per interval with one broker
//! JVM (a real JVM running the stand-in `kafka.Kafka`, logging G1 with
//! Kafka's decorators) and a real collector on loopback.
//! Targets: RSS at most 10 MB; at most 5 ms of CPU per interval.
//!
//! Then what reading the JVMs' own counters costs the agent: four JVMs
//! (idle after two seconds of collecting, so their logs are quiet and the
//! difference is the counters' alone), the agent run `PAIRS` times with
//! `jvm_counters = true` and `false` in turn (A B A B ...), each for
//! `INTERVALS` intervals of 1 s after a warm-up: CPU per interval (all its
//! threads, from /proc/PID/task/*/schedstat, in ns) and RSS, each run's
//! figures, the medians and the median of the pairs' differences, with the
//! load average. Targets: under 1 ms of CPU per interval and under 0.5 MB
//! of RSS for the four.
//! Run with `cargo bench --bench agent_resources` (needs a JDK).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// utime + stime in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn main() {
    let intervals: u64 = std::env::var("INTERVALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let bin = env!("CARGO_BIN_EXE_tunekeeper");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jvm/kafka/Kafka.java");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(d.join("classes"))
        .arg(&src)
        .status();
    if !javac.is_ok_and(|s| s.success()) {
        println!("agent_resources: skipped, no JDK");
        return;
    }
    let busy = (intervals + 15).to_string();
    let _jvm = Running(
        Command::new("java")
            .args([
                "-Xms256m",
                "-Xmx256m",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
            ])
            .arg(format!(
                "-Xlog:gc*:file={}:time,tags:filecount=10,filesize=100M",
                d.join("kafkaServer-gc.log").display()
            ))
            .arg("-cp")
            .arg(d.join("classes"))
            .args(["kafka.Kafka", &busy, "5"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::fs::write(d.join("tokens"), "bench-token\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _collector = Running(
        Command::new(bin)
            .args(["collector", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--db")
            .arg(d.join("c.db"))
            .arg("--token-file")
            .arg(d.join("tokens"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::fs::write(
        d.join("agent.toml"),
        format!(
            "interval = \"1s\"\nendpoint = \"http://127.0.0.1:{port}/api/v1/reports\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\n",
            d.join("tokens").display(),
            d.join("spool").display()
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let agent = Running(
        Command::new(bin)
            .args(["agent", "--config"])
            .arg(d.join("agent.toml"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = agent.0.id();
    // Warm-up: the first intervals read the log from its start.
    std::thread::sleep(Duration::from_secs(5));
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(intervals));
    let t1 = cpu_ticks(pid);
    let tick_ms = 1000.0 / 100.0; // USER_HZ is 100 on Linux.
    let per_interval = (t1 - t0) as f64 * tick_ms / intervals as f64;
    let log_bytes = std::fs::metadata(d.join("kafkaServer-gc.log"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "agent_resources: {intervals} intervals of 1 s, one broker JVM ({} KB of GC log written)",
        log_bytes / 1024
    );
    println!(
        "  RSS {} kB (anon {} kB, file {} kB), peak {} kB   target <= 10240 kB",
        status_kb(pid, "VmRSS:"),
        status_kb(pid, "RssAnon:"),
        status_kb(pid, "RssFile:"),
        status_kb(pid, "VmHWM:")
    );
    println!("  CPU {per_interval:.2} ms per interval (user+system, 10 ms ticks)   target <= 5 ms");
    drop(agent);
    drop(_jvm);
    counters_pairs(bin, intervals);
}

/// CPU time of every thread of `pid` so far, ns (`/proc/PID/task/*/schedstat`).
fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One agent run over `intervals` intervals: (CPU ms per interval, RSS kB, peak kB).
fn agent_run(bin: &str, dir: &Path, counters: bool, intervals: u64) -> (f64, u64, u64) {
    let spool = dir.join(format!("spool-{counters}"));
    let _ = std::fs::remove_dir_all(&spool);
    let config = dir.join(format!("agent-{counters}.toml"));
    std::fs::write(
        &config,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\njvm_match = '{}'\njvm_counters = {counters}\n",
            spool.display(),
            regex::escape(&dir.join("classes").display().to_string())
        ),
    )
    .unwrap();
    let agent = Running(
        Command::new(bin)
            .args(["agent", "--config"])
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = agent.0.id();
    // Warm-up: the first intervals find the JVMs and read their logs.
    std::thread::sleep(Duration::from_secs(5));
    let t0 = cpu_ns(pid);
    std::thread::sleep(Duration::from_secs(intervals));
    let t1 = cpu_ns(pid);
    let out = (
        (t1 - t0) as f64 / 1e6 / intervals as f64,
        status_kb(pid, "VmRSS:"),
        status_kb(pid, "VmHWM:"),
    );
    drop(agent);
    out
}

/// The counters' cost: paired agent runs with `jvm_counters` on and off.
fn counters_pairs(bin: &str, intervals: u64) {
    let pairs: usize = std::env::var("PAIRS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jvm/perfdata/Counters.java");
    assert!(
        Command::new("javac")
            .args(["--release", "11", "-d"])
            .arg(d.join("classes"))
            .arg(&src)
            .status()
            .unwrap()
            .success()
    );
    let _jvms: Vec<Running> = (0..4)
        .map(|i| {
            Running(
                Command::new("java")
                    .args(["-XX:+UseG1GC", "-Xms64m", "-Xmx64m"])
                    .arg(format!(
                        "-Xlog:gc*:file={}:time,tags",
                        d.join(format!("gc{i}.log")).display()
                    ))
                    .arg("-cp")
                    .arg(d.join("classes"))
                    .args(["Counters", "2", "0"])
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(5));
    println!(
        "agent_resources: reading four JVMs' counters, {pairs} pairs of agent runs (counters on, off), {intervals} intervals of 1 s each; load average before: {}",
        load_average()
    );
    let (mut on, mut off, mut diff, mut rss_on, mut rss_off) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for pair in 1..=pairs {
        let a = agent_run(bin, d, true, intervals);
        let b = agent_run(bin, d, false, intervals);
        println!(
            "  pair {pair}: counters on {:.3} ms/interval, RSS {} kB (peak {}); off {:.3} ms/interval, RSS {} kB (peak {}); load {}",
            a.0,
            a.1,
            a.2,
            b.0,
            b.1,
            b.2,
            load_average()
        );
        on.push(a.0);
        off.push(b.0);
        diff.push(a.0 - b.0);
        rss_on.push(a.1 as f64);
        rss_off.push(b.1 as f64);
    }
    let rss_diff: Vec<f64> = rss_on.iter().zip(&rss_off).map(|(a, b)| a - b).collect();
    println!(
        "  medians: on {:.3} ms, off {:.3} ms per interval; the pairs' difference {:.3} ms per interval (target < 1 ms); RSS on {:.0} kB, off {:.0} kB, difference {:.0} kB (target < 512 kB)",
        median(on),
        median(off),
        median(diff),
        median(rss_on),
        median(rss_off),
        median(rss_diff)
    );
}
