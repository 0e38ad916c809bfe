//! Benchmark: a whole `tunekeeper audit` (process start included) against
//! `sysctl -a` on the same machine. Target: the audit takes at most half
//! the time of `sysctl -a`. Also a host with two brokers and twelve data
//! disks (a prepared tree: the data directories, mounts, disks and
//! processes are all read), target at most 10 ms. And an audit with a
//! waivers file of 40,000 entries beside the same audit without one
//! (target: well under a second more). Run with
//! `cargo bench --bench audit_speed`.

#[path = "../tests/integration/broker_tree.rs"]
#[allow(dead_code)]
mod broker_tree;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn time_runs(label: &str, runs: usize, mut cmd: impl FnMut() -> Command) -> Duration {
    // One warm-up run fills the page cache and the dentry cache.
    let _ = cmd().stdout(Stdio::null()).stderr(Stdio::null()).status();
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let status = cmd()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("command runs");
        samples.push(start.elapsed());
        assert!(status.code().is_some(), "{label} was killed");
    }
    samples.sort();
    let median = samples[runs / 2];
    let mean = samples.iter().sum::<Duration>() / runs as u32;
    println!(
        "{label:<40} median {:>8.2} ms   mean {:>8.2} ms   min {:>8.2} ms   ({runs} runs)",
        median.as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3
    );
    median
}

fn main() {
    let runs = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let bin = env!("CARGO_BIN_EXE_tunekeeper");
    let sysctl = time_runs("sysctl -a", runs, || {
        let mut c = Command::new("sysctl");
        c.arg("-a");
        c
    });
    let table = time_runs("tunekeeper audit (kafka-broker, table)", runs, || {
        let mut c = Command::new(bin);
        c.arg("audit");
        c
    });
    let json = time_runs("tunekeeper audit --format json", runs, || {
        let mut c = Command::new(bin);
        c.args(["audit", "--format", "json"]);
        c
    });
    let worst = table.max(json);
    println!(
        "audit / sysctl -a = {:.2} (target <= 0.50)",
        worst.as_secs_f64() / sysctl.as_secs_f64()
    );

    let tree = two_brokers_twelve_disks();
    let fleet = time_runs("audit: 2 brokers, 12 data disks", runs, || {
        let mut c = Command::new(bin);
        c.arg("--root").arg(tree.root()).args([
            "--profile-dir",
            "/nonexistent",
            "audit",
            "--format",
            "json",
        ]);
        c
    });
    println!(
        "audit with 2 brokers and 12 data disks: {:.2} ms (target <= 10 ms)",
        fleet.as_secs_f64() * 1e3
    );

    // 40,000 waivers, each naming this host and an exact key: the whole
    // file is loaded, checked and matched against every finding.
    let dir = tempfile::tempdir().expect("temporary directory");
    let waivers = dir.path().join("waivers.toml");
    std::fs::write(&waivers, waivers_text(40_000)).expect("waivers file written");
    let bytes = std::fs::metadata(&waivers).map(|m| m.len()).unwrap_or(0);
    let plain = time_runs("audit --waivers (an empty file)", runs.min(30), || {
        let empty = dir.path().join("empty.toml");
        let _ = std::fs::write(&empty, "");
        let mut c = Command::new(bin);
        c.arg("audit").arg("--waivers").arg(&empty);
        c
    });
    let many = time_runs("audit --waivers (40,000 entries)", runs.min(30), || {
        let mut c = Command::new(bin);
        c.arg("audit").arg("--waivers").arg(&waivers);
        c
    });
    println!(
        "40,000 waivers ({:.1} MB) add {:.1} ms to an audit (target: well under 1 s)",
        bytes as f64 / 1e6,
        (many.as_secs_f64() - plain.as_secs_f64()) * 1e3
    );
}

/// `n` waivers of one host, each naming a check and an exact key.
fn waivers_text(n: usize) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"net.ipv4.conf.eth{i}.rp_filter\"\nhosts = [\"{host}\"]\njustification = \"accepted on this host ({i})\"\n\n"
        ));
    }
    text
}

/// Two brokers, six data disks each (sdb..sdm), `/` on sda1.
fn two_brokers_twelve_disks() -> broker_tree::BrokerTree {
    let mut t = broker_tree::BrokerTree::new(64);
    let mut dirs: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for i in 0..12u32 {
        let name = format!("sd{}", (b'b' + i as u8) as char);
        t.disk(&name, 8, 16 * (i + 1), true);
        let point = format!("/data{i}");
        t.mount(&format!("8:{}", 16 * (i + 1)), &point, "xfs", "rw,noatime");
        dirs[(i / 6) as usize].push(format!("{point}/kafka"));
    }
    for (n, pid) in [(0, 1001), (1, 1002)] {
        t.broker(
            pid,
            "6g",
            &format!("log.dirs={}\n", dirs[n].join(",")),
            2000,
            500,
        );
    }
    t
}
