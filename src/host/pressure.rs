//! What stalls a JVM from outside it: pressure stall information
//! (`/proc/pressure/{io,memory,cpu}`), `/proc/vmstat` counters (dirty and
//! writeback pages, major faults, swap, direct reclaim, compaction stalls),
//! a process's own major faults and swap, and the static causes of long
//! pauses that are no GC's fault (the GC log on a data disk, hsperfdata on a
//! disk-backed /tmp, a swapped broker). Cheap to sample: a few small reads.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::mounts::mount_for;
use super::{Host, HostError};
use crate::finding::{Finding, Status};

/// Where the hsperfdata advice comes from.
const HSPERF_SOURCE: &str = "LinkedIn Engineering, \"Eliminating Large JVM GC Pauses Caused by Background IO Traffic\" (2016): the JVM writes hsperfdata, memory-mapped from /tmp, at safepoints; -XX:+PerfDisableSharedMem or a tmpfs /tmp stops that";
/// What to do about hsperfdata on a disk, and what each remedy costs.
const HSPERF_REMEDIES: &str = ": the JVM writes its counters (hsperfdata_USER/PID) there, and a write that waits behind the disk stops every thread at a safepoint. \
Either (1) make /tmp memory-backed (tmpfs: systemd's tmp.mount, or a tmpfs line for /tmp in /etc/fstab), which costs memory for everything /tmp holds and empties /tmp at every boot, and keeps jstat and jcmd working; \
or (2) add -XX:+PerfDisableSharedMem to the JVM's options (KAFKA_JVM_PERFORMANCE_OPTS), which costs sight of the JVM: jstat, jcmd PerfCounter.print, jps and every tool that reads its counters through hsperfdata no longer see it (JMX still does)";
/// Where the GC-log advice comes from.
const GC_LOG_SOURCE: &str = "LinkedIn Engineering, \"Eliminating Large JVM GC Pauses Caused by Background IO Traffic\" (2016): GC log writes blocked behind the disk's background I/O stretch pauses by seconds";

/// One line of a PSI file (`some` or `full`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PsiLine {
    /// Percent of the last 10 s some (or all) tasks stalled.
    pub avg10: f64,
    /// ... of the last 60 s.
    pub avg60: f64,
    /// ... of the last 300 s.
    pub avg300: f64,
    /// Stall time since boot, µs.
    pub total_us: u64,
}

/// One resource's pressure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Psi {
    /// Some tasks stalled.
    pub some: PsiLine,
    /// All non-idle tasks stalled at once (absent for `cpu` before Linux 5.13).
    pub full: Option<PsiLine>,
}

/// Parses a `/proc/pressure/*` file.
pub fn parse_psi(text: &str) -> Option<Psi> {
    let mut psi = Psi::default();
    let mut seen_some = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let kind = words.next()?;
        let mut l = PsiLine::default();
        for w in words {
            let (k, v) = w.split_once('=')?;
            match k {
                "avg10" => l.avg10 = v.parse().ok()?,
                "avg60" => l.avg60 = v.parse().ok()?,
                "avg300" => l.avg300 = v.parse().ok()?,
                "total" => l.total_us = v.parse().ok()?,
                _ => {}
            }
        }
        match kind {
            "some" => {
                psi.some = l;
                seen_some = true;
            }
            "full" => psi.full = Some(l),
            _ => {}
        }
    }
    seen_some.then_some(psi)
}

/// The `/proc/vmstat` counters that tell of stalls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VmStat {
    /// Dirty pages (a level, not a counter).
    pub nr_dirty: u64,
    /// Pages under writeback (a level).
    pub nr_writeback: u64,
    /// Major page faults since boot.
    pub pgmajfault: u64,
    /// Pages swapped in since boot.
    pub pswpin: u64,
    /// Pages swapped out since boot.
    pub pswpout: u64,
    /// Direct reclaim stalls, all zones (`allocstall_*`, or `allocstall`).
    pub allocstall: u64,
    /// Direct compaction stalls.
    pub compact_stall: u64,
}

/// Parses `/proc/vmstat`.
pub fn parse_vmstat(text: &str) -> VmStat {
    let mut v = VmStat::default();
    for line in text.lines() {
        let Some((k, n)) = line.split_once(' ') else {
            continue;
        };
        let Ok(n) = n.trim().parse::<u64>() else {
            continue;
        };
        match k {
            "nr_dirty" => v.nr_dirty = n,
            "nr_writeback" => v.nr_writeback = n,
            "pgmajfault" => v.pgmajfault = n,
            "pswpin" => v.pswpin = n,
            "pswpout" => v.pswpout = n,
            "compact_stall" => v.compact_stall = n,
            k if k == "allocstall" || k.starts_with("allocstall_") => v.allocstall += n,
            _ => {}
        }
    }
    v
}

/// The major faults of a process, field 12 of `/proc/PID/stat` (counted
/// after the command name's closing parenthesis: names may hold spaces).
pub fn parse_stat_majflt(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    // Fields after the name start at 3 (state); majflt is field 12.
    after.split_whitespace().nth(12 - 3)?.parse().ok()
}

/// `VmSwap:` of `/proc/PID/status`, KiB.
pub fn parse_vm_swap_kb(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmSwap:"))?;
    line["VmSwap:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One sample of the host (and optionally one process).
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// `/proc/pressure/io`; `None` without PSI (kernel < 4.20, `psi=0`).
    pub io: Option<Psi>,
    /// `/proc/pressure/memory`.
    pub memory: Option<Psi>,
    /// `/proc/pressure/cpu`.
    pub cpu: Option<Psi>,
    /// `/proc/vmstat`.
    pub vmstat: Option<VmStat>,
    /// The process's major faults, when a pid was given and readable.
    pub process_majflt: Option<u64>,
}

impl Host {
    /// Samples pressure and vmstat (and the major faults of `pid`).
    pub fn pressure_sample(&self, pid: Option<i32>) -> Sample {
        let read = |p: &str| {
            crate::file_kind::read_text(&self.path(p), crate::file_kind::MAX_KERNEL_FILE_BYTES).ok()
        };
        Sample {
            at: Instant::now(),
            io: read("/proc/pressure/io").as_deref().and_then(parse_psi),
            memory: read("/proc/pressure/memory").as_deref().and_then(parse_psi),
            cpu: read("/proc/pressure/cpu").as_deref().and_then(parse_psi),
            vmstat: read("/proc/vmstat").as_deref().map(parse_vmstat),
            process_majflt: pid
                .and_then(|p| read(&format!("/proc/{p}/stat")))
                .as_deref()
                .and_then(parse_stat_majflt),
        }
    }

    /// `VmSwap` of a process, KiB.
    pub fn vm_swap_kb(&self, pid: i32) -> Result<Option<u64>, HostError> {
        let path = self.path(format!("/proc/{pid}/status"));
        let text = crate::file_kind::read_text(&path, crate::file_kind::MAX_KERNEL_FILE_BYTES)
            .map_err(|e| HostError::from_io(&path, e))?;
        Ok(parse_vm_swap_kb(&text))
    }
}

/// Stall share of one resource over an interval, percent of wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PressureShare {
    /// Some tasks stalled.
    pub some_percent: f64,
    /// All non-idle tasks stalled (`null` when the kernel does not report it).
    pub full_percent: Option<f64>,
}

/// What the host showed between two samples. Each figure is `null` when
/// the host does not expose it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostPressure {
    /// Seconds between the samples.
    pub seconds: f64,
    /// IO pressure.
    pub io: Option<PressureShare>,
    /// Memory pressure.
    pub memory: Option<PressureShare>,
    /// CPU pressure.
    pub cpu: Option<PressureShare>,
    /// Dirty pages at the end, KiB (4 KiB pages).
    pub dirty_kb: Option<u64>,
    /// Pages under writeback at the end, KiB.
    pub writeback_kb: Option<u64>,
    /// Major faults, whole host.
    pub major_faults: Option<u64>,
    /// Pages swapped in.
    pub swap_in_pages: Option<u64>,
    /// Pages swapped out.
    pub swap_out_pages: Option<u64>,
    /// Direct reclaim stalls.
    pub direct_reclaim_stalls: Option<u64>,
    /// Compaction stalls.
    pub compaction_stalls: Option<u64>,
    /// Major faults of the process.
    pub process_major_faults: Option<u64>,
}

impl HostPressure {
    /// One line for people: `IO pressure some 17 % full 0 %, memory some
    /// 30 % full 6 %, 5.4 MB dirty, 0.0 MB under writeback, 3 major faults`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (name, p) in [("IO", self.io), ("memory", self.memory), ("CPU", self.cpu)] {
            if let Some(p) = p {
                let full = p
                    .full_percent
                    .map_or_else(String::new, |f| format!(" full {f:.0} %"));
                parts.push(format!(
                    "{name} pressure some {:.0} %{full}",
                    p.some_percent
                ));
            }
        }
        if let Some(kb) = self.dirty_kb {
            parts.push(format!("{:.1} MB dirty", kb as f64 / 1024.0));
        }
        if let Some(kb) = self.writeback_kb {
            parts.push(format!("{:.1} MB under writeback", kb as f64 / 1024.0));
        }
        for (n, what) in [
            (self.major_faults, "major faults"),
            (self.swap_in_pages, "pages swapped in"),
            (self.direct_reclaim_stalls, "direct reclaim stalls"),
            (self.compaction_stalls, "compaction stalls"),
            (self.process_major_faults, "major faults in the JVM"),
        ] {
            if let Some(n) = n.filter(|n| *n > 0) {
                parts.push(format!("{n} {what}"));
            }
        }
        if parts.is_empty() {
            "the host exposes no pressure figures".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

fn share(a: Option<Psi>, b: Option<Psi>, secs: f64) -> Option<PressureShare> {
    let (a, b) = (a?, b?);
    let pct = |x: u64, y: u64| (100.0 * y.saturating_sub(x) as f64 / 1e6 / secs).min(100.0);
    Some(PressureShare {
        some_percent: pct(a.some.total_us, b.some.total_us),
        full_percent: a.full.zip(b.full).map(|(x, y)| pct(x.total_us, y.total_us)),
    })
}

/// The change between two samples (counters going back — a reboot, a
/// restarted process — give `null` rather than a wrong figure).
pub fn between(a: &Sample, b: &Sample) -> HostPressure {
    let secs = b.at.duration_since(a.at).as_secs_f64();
    if secs <= 0.0 {
        return HostPressure::default();
    }
    let d = |f: fn(&VmStat) -> u64| {
        let (x, y) = (a.vmstat.as_ref()?, b.vmstat.as_ref()?);
        f(y).checked_sub(f(x))
    };
    HostPressure {
        seconds: (secs * 1000.0).round() / 1000.0,
        io: share(a.io, b.io, secs),
        memory: share(a.memory, b.memory, secs),
        cpu: share(a.cpu, b.cpu, secs),
        dirty_kb: b.vmstat.map(|v| v.nr_dirty * 4),
        writeback_kb: b.vmstat.map(|v| v.nr_writeback * 4),
        major_faults: d(|v| v.pgmajfault),
        swap_in_pages: d(|v| v.pswpin),
        swap_out_pages: d(|v| v.pswpout),
        direct_reclaim_stalls: d(|v| v.allocstall),
        compaction_stalls: d(|v| v.compact_stall),
        process_major_faults: a
            .process_majflt
            .zip(b.process_majflt)
            .and_then(|(x, y)| y.checked_sub(x)),
    }
}

/// A JVM to look at for static causes of stalls.
#[derive(Debug, Clone)]
pub struct StallSuspect<'a> {
    /// Its pid.
    pub pid: i32,
    /// Its command line.
    pub cmdline: &'a [String],
    /// Its GC log files (as it names them).
    pub gc_logs: &'a [PathBuf],
    /// Its data directories (a broker's `log.dirs`).
    pub data_dirs: &'a [PathBuf],
}

fn finding(
    key: &str,
    expected: &str,
    actual: String,
    ok: bool,
    source: &str,
    detail: String,
) -> Finding {
    Finding {
        check: "stall".into(),
        key: key.into(),
        expected: expected.into(),
        actual: Some(actual),
        status: if ok { Status::Ok } else { Status::Drift },
        source: Some(source.into()),
        detail: Some(detail),
        waiver: None,
    }
}

fn device_of(host: &Host, p: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(host.path(p)).ok().map(|m| m.dev())
}

/// Static causes of long stops: the GC log on the device of a data
/// directory, hsperfdata on a disk-backed /tmp, swap in use by the JVM.
pub fn static_causes(host: &Host, s: &StallSuspect<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    // The GC log on a data disk: log writes wait behind the broker's flushes.
    for log in s.gc_logs {
        let Some(dir) = log.parent() else { continue };
        let Some(dev) = device_of(host, dir) else {
            continue;
        };
        let shared: Vec<String> = s
            .data_dirs
            .iter()
            .filter(|d| device_of(host, d) == Some(dev))
            .map(|d| d.display().to_string())
            .collect();
        out.push(finding(
            "gc_log_off_data_disk",
            "true",
            (shared.is_empty()).to_string(),
            shared.is_empty(),
            GC_LOG_SOURCE,
            if shared.is_empty() {
                format!("{} is on no data directory's device", log.display())
            } else {
                format!(
                    "{} shares its device with the data directories {}: move the GC log to another disk or a tmpfs",
                    log.display(),
                    shared.join(", ")
                )
            },
        ));
    }
    // hsperfdata: /tmp/hsperfdata_USER/PID, written at safepoints.
    let disabled = s
        .cmdline
        .iter()
        .any(|a| a == "-XX:+PerfDisableSharedMem" || a == "-XX:-UsePerfData");
    let mounts = host.mounts_of(s.pid).or_else(|_| host.mounts());
    if let Ok(mounts) = mounts {
        if let Some(m) = mount_for(&mounts, Path::new("/tmp")) {
            let memory_backed = m.fs_type == "tmpfs" || m.fs_type == "ramfs";
            let ok = disabled || memory_backed;
            out.push(finding(
                "hsperfdata_off_disk",
                "true",
                ok.to_string(),
                ok,
                HSPERF_SOURCE,
                format!(
                    "/tmp is {} ({}){}",
                    m.fs_type,
                    m.mount_point.display(),
                    if disabled {
                        "; the JVM runs with -XX:+PerfDisableSharedMem or -XX:-UsePerfData (jstat, jcmd PerfCounter.print and jps cannot see it)"
                    } else if memory_backed {
                        ""
                    } else {
                        HSPERF_REMEDIES
                    }
                ),
            ));
        }
    }
    if let Ok(Some(kb)) = host.vm_swap_kb(s.pid) {
        out.push(finding(
            "jvm_swap_kb",
            "0",
            kb.to_string(),
            kb == 0,
            "LinkedIn SRE talk \"Enterprise Kafka: Kafka as a Service\" (2014): swapping is death; a GC touching swapped heap stalls on every page",
            format!("the JVM (pid {}) has {kb} KiB in swap", s.pid),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk-backed /tmp gets both remedies with their costs; a memory-
    /// backed one and the flag are ok, the flag's cost said.
    #[test]
    fn hsperfdata_advice_names_both_remedies_and_their_costs() {
        let t = tempfile::tempdir().unwrap();
        let host = Host::at(t.path());
        let mountinfo = |fs: &str| {
            let dir = t.path().join("proc/7");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("mountinfo"),
                format!("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:30 / /tmp rw - {fs} {fs} rw\n"),
            )
            .unwrap();
        };
        let judge = |cmdline: &[&str]| {
            let cmdline: Vec<String> = cmdline.iter().map(|s| (*s).to_owned()).collect();
            static_causes(
                &host,
                &StallSuspect {
                    pid: 7,
                    cmdline: &cmdline,
                    gc_logs: &[],
                    data_dirs: &[],
                },
            )
            .into_iter()
            .find(|f| f.key == "hsperfdata_off_disk")
            .unwrap()
        };
        mountinfo("ext4");
        let f = judge(&["java", "kafka.Kafka"]);
        assert_eq!(f.status, Status::Drift);
        let advice = f.detail.unwrap();
        assert!(advice.contains("(1) make /tmp memory-backed"), "{advice}");
        assert!(advice.contains("empties /tmp at every boot"), "{advice}");
        assert!(
            advice.contains("(2) add -XX:+PerfDisableSharedMem")
                && advice.contains("jstat, jcmd PerfCounter.print, jps"),
            "{advice}"
        );
        let f = judge(&["java", "-XX:+PerfDisableSharedMem", "kafka.Kafka"]);
        assert_eq!(f.status, Status::Ok);
        assert!(f.detail.unwrap().contains("cannot see it"));
        mountinfo("tmpfs");
        assert_eq!(judge(&["java", "kafka.Kafka"]).status, Status::Ok);
    }

    #[test]
    fn psi_vmstat_stat_status() {
        let p = parse_psi(
            "some avg10=1.73 avg60=3.92 avg300=2.82 total=109382309\nfull avg10=0.00 avg60=0.01 avg300=0.25 total=13090749\n",
        )
        .unwrap();
        assert_eq!(p.some.total_us, 109_382_309);
        assert_eq!(p.full.map(|f| f.avg300), Some(0.25));
        assert!(parse_psi("").is_none());
        let v = parse_vmstat(
            "nr_dirty 10\nallocstall_normal 6\nallocstall_movable 1194\npgmajfault 7\nx y\n",
        );
        assert_eq!((v.nr_dirty, v.allocstall, v.pgmajfault), (10, 1200, 7));
        let stat = "4242 (java (kafka) x) S 1 4242 4242 0 -1 4194560 123 0 77 0 5 6";
        assert_eq!(parse_stat_majflt(stat), Some(77));
        assert_eq!(
            parse_vm_swap_kb("Name:\tjava\nVmSwap:\t    1024 kB\n"),
            Some(1024)
        );
    }

    #[test]
    fn deltas_and_live_sample() {
        let host = Host::default();
        let a = host.pressure_sample(Some(std::process::id() as i32));
        std::thread::sleep(std::time::Duration::from_millis(50));
        let b = host.pressure_sample(Some(std::process::id() as i32));
        let d = between(&a, &b);
        assert!(d.seconds > 0.0);
        if std::path::Path::new("/proc/pressure/io").exists() {
            let io = d.io.expect("io pressure");
            assert!((0.0..=100.0).contains(&io.some_percent));
        }
        assert!(d.major_faults.is_some(), "vmstat is readable");
        assert!(d.describe().contains("MB dirty"), "{}", d.describe());
        assert!(d.process_major_faults.is_some(), "own stat is readable");
        // Counters going back give null, not a huge number.
        let mut c = b.clone();
        c.at = b.at + std::time::Duration::from_secs(1);
        if let Some(v) = c.vmstat.as_mut() {
            v.pgmajfault = 0;
        }
        assert_eq!(
            between(&b, &c)
                .major_faults
                .filter(|_| b.vmstat.unwrap().pgmajfault > 0),
            None
        );
    }
}
