//! Benchmark: the agent's steady memory and CPU per interval with one broker
//! JVM (a real JVM running the stand-in `kafka.Kafka`, logging G1 with
//! Kafka's decorators) and a real collector on loopback.
//! Targets: RSS at most 10 MB; at most 5 ms of CPU per interval.
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
}
