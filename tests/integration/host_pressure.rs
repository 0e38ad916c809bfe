//! What stalls a JVM from outside, on the real host: memory pressure made
//! by a writer held in a memory cgroup far smaller than what it writes, and
//! the static causes (GC log beside a data directory, hsperfdata on a disk
//! /tmp, swap) read from real file systems and a real process.

use std::path::{Path, PathBuf};
use std::process::Command;

use tunekeeper::finding::Status;
use tunekeeper::host::Host;
use tunekeeper::host::pressure::{StallSuspect, between, static_causes};

/// A memory cgroup limited to `limit` bytes (v1 `memory.limit_in_bytes`, or
/// v2 `memory.max`), removed on drop.
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    fn new(limit: u64) -> Option<Cgroup> {
        let name = format!("tk-pressure-{}", std::process::id());
        for (base, file) in [
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes"),
            ("/sys/fs/cgroup", "memory.max"),
        ] {
            let dir = Path::new(base).join(&name);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            if std::fs::write(dir.join(file), limit.to_string()).is_ok() {
                return Some(Cgroup { dir });
            }
            let _ = std::fs::remove_dir(&dir);
        }
        None
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn a_writer_over_its_memory_limit_shows_as_memory_pressure() {
    let host = Host::default();
    if !Path::new("/proc/pressure/memory").exists() {
        eprintln!("skipping: this kernel has no PSI");
        return;
    }
    let Some(cg) = Cgroup::new(16 * 1024 * 1024) else {
        eprintln!("skipping: no memory cgroup can be made here");
        return;
    };
    let data = tempfile::NamedTempFile::new_in("/var/tmp").unwrap();
    let before = host.pressure_sample(None);
    // 300 MB through a 16 MB cgroup: its page cache is reclaimed (and
    // written back) over and over while it writes and reads.
    let script = format!(
        "echo $$ > {}/cgroup.procs && dd if=/dev/zero of={} bs=1M count=300 status=none && cat {} > /dev/null",
        cg.dir.display(),
        data.path().display(),
        data.path().display()
    );
    assert!(
        Command::new("sh")
            .args(["-c", &script])
            .status()
            .unwrap()
            .success()
    );
    let after = host.pressure_sample(None);
    let d = between(&before, &after);
    let mem = d.memory.expect("memory pressure");
    eprintln!("{d:?}");
    assert!(
        mem.some_percent > 1.0,
        "memory stalls of {:.2} % of {} s",
        mem.some_percent,
        d.seconds
    );
    assert!(d.dirty_kb.is_some() && d.writeback_kb.is_some());
}

fn status_of(fs: &[tunekeeper::finding::Finding], key: &str) -> Status {
    fs.iter()
        .find(|f| f.key == key)
        .unwrap_or_else(|| panic!("no {key} in {fs:?}"))
        .status
}

#[test]
fn static_causes_from_real_file_systems() {
    let host = Host::default();
    let pid = std::process::id() as i32;
    // The GC log and a data directory on one file system ...
    let disk = tempfile::tempdir_in("/var/tmp").unwrap();
    let data = disk.path().join("kafka-logs");
    std::fs::create_dir(&data).unwrap();
    let gc_log = disk.path().join("gc.log");
    std::fs::write(&gc_log, "").unwrap();
    let cmd: Vec<String> = vec!["java".into(), "kafka.Kafka".into()];
    let logs = [gc_log.clone()];
    let dirs = [data.clone()];
    let fs = static_causes(
        &host,
        &StallSuspect {
            pid,
            cmdline: &cmd,
            gc_logs: &logs,
            data_dirs: &dirs,
        },
    );
    assert_eq!(status_of(&fs, "gc_log_off_data_disk"), Status::Drift);
    // ... and on a tmpfs, away from it.
    if Path::new("/dev/shm").is_dir() {
        let shm = tempfile::tempdir_in("/dev/shm").unwrap();
        let logs = [shm.path().join("gc.log")];
        let fs = static_causes(
            &host,
            &StallSuspect {
                pid,
                cmdline: &cmd,
                gc_logs: &logs,
                data_dirs: &dirs,
            },
        );
        assert_eq!(status_of(&fs, "gc_log_off_data_disk"), Status::Ok);
    }

    // hsperfdata: what /tmp is, asked of stat(1), decides without the flag.
    let out = Command::new("stat")
        .args(["-f", "-c", "%T", "/tmp"])
        .output()
        .unwrap();
    let tmp_is_memory = String::from_utf8_lossy(&out.stdout).trim() == "tmpfs";
    let expected = if tmp_is_memory {
        Status::Ok
    } else {
        Status::Drift
    };
    assert_eq!(status_of(&fs, "hsperfdata_off_disk"), expected);
    if !tmp_is_memory {
        // Both remedies, each with what it costs: the flag blinds jstat and
        // jcmd (it used to be the only advice, its cost unsaid).
        let advice = fs
            .iter()
            .find(|f| f.key == "hsperfdata_off_disk")
            .and_then(|f| f.detail.clone())
            .unwrap();
        for needle in [
            "tmpfs",
            "empties /tmp at every boot",
            "-XX:+PerfDisableSharedMem",
            "jstat, jcmd PerfCounter.print, jps",
            "no longer see it",
        ] {
            assert!(advice.contains(needle), "{needle}: {advice}");
        }
    }
    let with_flag: Vec<String> = vec![
        "java".into(),
        "-XX:+PerfDisableSharedMem".into(),
        "kafka.Kafka".into(),
    ];
    let fs = static_causes(
        &host,
        &StallSuspect {
            pid,
            cmdline: &with_flag,
            gc_logs: &[],
            data_dirs: &[],
        },
    );
    assert_eq!(status_of(&fs, "hsperfdata_off_disk"), Status::Ok);
    // Swap of this process, as /proc says.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let swapped = status
        .lines()
        .find(|l| l.starts_with("VmSwap:"))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned());
    let f = fs.iter().find(|f| f.key == "jvm_swap_kb");
    assert_eq!(f.and_then(|f| f.actual.clone()), swapped);
}
