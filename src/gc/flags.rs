//! JVM flag rules for a G1 broker: G1 in use, initial heap == max heap, a
//! pause-time target set, the young generation *not* fixed (it defeats G1's
//! pause-time adaptation), GC log rotation. Flags come from the log itself
//! (`gc,init` lines, JDK 8 `CommandLine flags:`) or from a command line.

use serde::Serialize;

use super::event::JvmInfo;
use crate::finding::{Finding, Status};

/// The JVM settings the rules look at, as far as they are known.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JvmFlags {
    /// `G1`, `Parallel`, `CMS`, `Serial`, `Z`, `Shenandoah`.
    pub collector: Option<String>,
    /// Initial heap, KiB.
    pub initial_heap_kb: Option<u64>,
    /// Maximum heap, KiB.
    pub max_heap_kb: Option<u64>,
    /// Minimum heap, KiB: what the heap may shrink to (`-Xms`,
    /// `-XX:MinHeapSize`, or the log's `Heap Min Capacity`).
    pub min_heap_kb: Option<u64>,
    /// A JVM command line was read and it sets no minimum heap (no `-Xms`,
    /// no `-XX:MinHeapSize`): the JVM's small default minimum applies.
    pub min_heap_unset: bool,
    /// `-XX:MaxGCPauseMillis`.
    pub max_gc_pause_millis: Option<u64>,
    /// `-XX:InitiatingHeapOccupancyPercent` (Kafka's start script: 35).
    pub initiating_heap_occupancy_percent: Option<u64>,
    /// `-XX:+ExplicitGCInvokesConcurrent` (`Some(false)` for the `-` form).
    pub explicit_gc_concurrent: Option<bool>,
    /// Flags that fix the young generation's size (`-Xmn`, `-XX:NewSize`, ...).
    pub young_fixed_by: Vec<String>,
    /// GC log rotation: `Some(true)` set, `Some(false)` logging without
    /// rotation, `None` unknown.
    pub log_rotation: Option<bool>,
    /// True when a full command line was seen (a missing flag then means
    /// "not set" rather than "unknown").
    pub command_line_known: bool,
    /// JVM version, when the log prints it.
    pub version: Option<String>,
}

/// Parses `512m`, `4G`, `268435456` (bytes) into KiB.
fn size_kb(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        't' | 'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult).map(|b| b / 1024)
}

impl JvmFlags {
    /// Reads the flags of a JVM command line (or JDK 8's `CommandLine flags:`).
    pub fn from_args(args: &[String]) -> JvmFlags {
        let mut f = JvmFlags {
            command_line_known: true,
            ..JvmFlags::default()
        };
        f.apply_args(args);
        // Only a real command line tells that -Xms is absent: JDK 8's
        // `CommandLine flags:` prints an ergonomic InitialHeapSize either way.
        f.min_heap_unset = f.min_heap_kb.is_none();
        f
    }

    fn apply_args(&mut self, args: &[String]) {
        let mut gc_logging = false;
        for a in args {
            let a = a.trim();
            let collector = match a {
                "-XX:+UseG1GC" => Some("G1"),
                "-XX:+UseParallelGC" | "-XX:+UseParallelOldGC" => Some("Parallel"),
                "-XX:+UseConcMarkSweepGC" => Some("CMS"),
                "-XX:+UseSerialGC" => Some("Serial"),
                "-XX:+UseZGC" => Some("Z"),
                "-XX:+UseShenandoahGC" => Some("Shenandoah"),
                _ => None,
            };
            if let Some(c) = collector {
                self.collector = Some(c.to_owned());
            } else if let Some(v) = a.strip_prefix("-Xms") {
                // -Xms sets both the initial and the minimum heap.
                self.initial_heap_kb = size_kb(v);
                self.min_heap_kb = size_kb(v);
            } else if let Some(v) = a.strip_prefix("-XX:InitialHeapSize=") {
                self.initial_heap_kb = size_kb(v);
            } else if let Some(v) = a.strip_prefix("-XX:MinHeapSize=") {
                self.min_heap_kb = size_kb(v);
            } else if let Some(v) = a
                .strip_prefix("-Xmx")
                .or_else(|| a.strip_prefix("-XX:MaxHeapSize="))
            {
                self.max_heap_kb = size_kb(v);
            } else if let Some(v) = a.strip_prefix("-XX:MaxGCPauseMillis=") {
                self.max_gc_pause_millis = v.trim().parse().ok();
            } else if let Some(v) = a.strip_prefix("-XX:InitiatingHeapOccupancyPercent=") {
                self.initiating_heap_occupancy_percent = v.trim().parse().ok();
            } else if a == "-XX:+ExplicitGCInvokesConcurrent" {
                self.explicit_gc_concurrent = Some(true);
            } else if a == "-XX:-ExplicitGCInvokesConcurrent" {
                self.explicit_gc_concurrent = Some(false);
            } else if a.starts_with("-Xmn")
                || a.starts_with("-XX:NewSize=")
                || a.starts_with("-XX:MaxNewSize=")
                || a.starts_with("-XX:NewRatio=")
            {
                self.young_fixed_by.push(a.to_owned());
            } else if a == "-XX:+UseGCLogFileRotation" {
                self.log_rotation = Some(true);
            } else if a.starts_with("-Xloggc:") {
                gc_logging = true;
            } else if let Some(spec) = a.strip_prefix("-Xlog:") {
                if let Some(rot) = xlog_rotation(spec) {
                    gc_logging = true;
                    if self.log_rotation != Some(true) {
                        self.log_rotation = Some(rot);
                    }
                }
            }
        }
        if gc_logging && self.log_rotation.is_none() {
            self.log_rotation = Some(false);
        }
    }

    /// Reads what a log says about its JVM: the `gc,init` facts and, for
    /// JDK 8, the command-line flags it printed.
    pub fn from_log(info: &JvmInfo) -> JvmFlags {
        let mut f = JvmFlags::default();
        if !info.flags.is_empty() {
            f.command_line_known = true;
            f.apply_args(&info.flags);
        }
        if info.collector.is_some() {
            f.collector = info.collector.clone();
        }
        f.initial_heap_kb = info.initial_heap_kb.or(f.initial_heap_kb);
        f.max_heap_kb = info.max_heap_kb.or(f.max_heap_kb);
        f.min_heap_kb = info.min_heap_kb.or(f.min_heap_kb);
        f.version = info.version.clone();
        f
    }

    /// Fills what `self` does not know from `other` (a command line given
    /// beside the log completes what the log says).
    pub fn or(mut self, other: JvmFlags) -> JvmFlags {
        self.collector = self.collector.or(other.collector);
        self.initial_heap_kb = self.initial_heap_kb.or(other.initial_heap_kb);
        self.max_heap_kb = self.max_heap_kb.or(other.max_heap_kb);
        self.min_heap_kb = self.min_heap_kb.or(other.min_heap_kb);
        self.min_heap_unset = self.min_heap_kb.is_none() && other.min_heap_unset;
        self.max_gc_pause_millis = self.max_gc_pause_millis.or(other.max_gc_pause_millis);
        self.initiating_heap_occupancy_percent = self
            .initiating_heap_occupancy_percent
            .or(other.initiating_heap_occupancy_percent);
        self.explicit_gc_concurrent = self.explicit_gc_concurrent.or(other.explicit_gc_concurrent);
        if self.young_fixed_by.is_empty() {
            self.young_fixed_by = other.young_fixed_by;
        }
        self.log_rotation = self.log_rotation.or(other.log_rotation);
        self.command_line_known |= other.command_line_known;
        self.version = self.version.or(other.version);
        self
    }
}

/// `-Xlog:gc*:file=gc.log:time,tags:filecount=10,filesize=100M` → rotation
/// on; `filecount=0` → off; a file output without `filecount` rotates by
/// default (5 files); stdout/stderr never rotate. `None` when the option
/// does not log GC.
fn xlog_rotation(spec: &str) -> Option<bool> {
    let mut parts = spec.split(':');
    let what = parts.next().unwrap_or("");
    if !what.split(',').any(|t| t.starts_with("gc")) && !what.is_empty() {
        return None;
    }
    let output = parts.next().unwrap_or("");
    let _decorators = parts.next();
    let options = parts.next().unwrap_or("");
    let to_file = output.starts_with("file=") || (!output.is_empty() && !output.contains("std"));
    if !to_file {
        return Some(false);
    }
    for opt in options.split(',') {
        if let Some(n) = opt.trim().strip_prefix("filecount=") {
            return Some(n.trim().parse::<u64>().map(|n| n > 0).unwrap_or(false));
        }
    }
    Some(true)
}

fn mib(kb: u64) -> String {
    if kb % (1024 * 1024) == 0 {
        format!("{}G", kb / (1024 * 1024))
    } else if kb % 1024 == 0 {
        format!("{}M", kb / 1024)
    } else {
        format!("{kb}K")
    }
}

fn finding(
    key: &str,
    expected: &str,
    actual: Option<String>,
    status: Status,
    detail: &str,
) -> Finding {
    Finding {
        check: "jvm".into(),
        key: key.into(),
        expected: expected.into(),
        actual,
        status,
        source: Some("G1 broker rules".into()),
        detail: (!detail.is_empty()).then(|| detail.to_owned()),
        waiver: None,
    }
}

/// The heap is fixed when its minimum equals its maximum: with a lower
/// minimum G1 shrinks and regrows it, whatever the initial size (a JVM
/// started with `-Xmx256m` alone often starts at 256M and then shrinks).
fn heap_fixed(f: &JvmFlags) -> Finding {
    const KEY: &str = "heap_fixed";
    const EXPECTED: &str = "min == max";
    const FIX: &str = "set -Xms equal to -Xmx: resizing the heap adds GC work and pauses";
    match (f.min_heap_kb, f.initial_heap_kb, f.max_heap_kb) {
        (Some(min), _, Some(max)) => finding(
            KEY,
            EXPECTED,
            Some(format!("min {} / max {}", mib(min), mib(max))),
            if min == max {
                Status::Ok
            } else {
                Status::Drift
            },
            if min == max { "" } else { FIX },
        ),
        (None, _, Some(max)) if f.min_heap_unset => finding(
            KEY,
            EXPECTED,
            Some(format!("no -Xms / max {}", mib(max))),
            Status::Drift,
            "without -Xms the heap may shrink to the JVM's default minimum; set -Xms equal to -Xmx",
        ),
        (None, _, None) if f.min_heap_unset => finding(
            KEY,
            EXPECTED,
            Some("no -Xms, no -Xmx".into()),
            Status::Drift,
            "the JVM sizes the heap itself and resizes it; set -Xms equal to -Xmx",
        ),
        // The minimum is at most the initial size, so this is drift whatever it is.
        (None, Some(initial), Some(max)) if initial < max => finding(
            KEY,
            EXPECTED,
            Some(format!("initial {} / max {}", mib(initial), mib(max))),
            Status::Drift,
            FIX,
        ),
        (None, Some(initial), Some(max)) => finding(
            KEY,
            EXPECTED,
            None,
            Status::NotApplicable,
            &format!(
                "initial and max heap are {} but the log does not say the minimum (only -Xms sets it); run with --pid PID of the JVM to check it",
                mib(initial.max(max))
            ),
        ),
        _ => finding(
            KEY,
            EXPECTED,
            None,
            Status::NotApplicable,
            if f.command_line_known {
                ""
            } else {
                "the heap size is not in the log; run with --pid PID of the JVM to check it"
            },
        ),
    }
}

/// Checks the flags against the G1 broker rules.
pub fn evaluate(f: &JvmFlags) -> Vec<Finding> {
    let unknown = |what: &str| {
        if f.command_line_known {
            String::new()
        } else {
            format!("{what} is not in the log; run with --pid PID of the JVM to check it")
        }
    };
    let g1 = match f.collector.as_deref() {
        Some("G1") => finding("g1", "G1", Some("G1".into()), Status::Ok, ""),
        Some(c) => finding(
            "g1",
            "G1",
            Some(c.into()),
            Status::Drift,
            "use -XX:+UseG1GC",
        ),
        None => finding(
            "g1",
            "G1",
            None,
            Status::NotApplicable,
            &unknown("the collector"),
        ),
    };
    let mut out = vec![g1, heap_fixed(f)];
    out.push(match (f.max_gc_pause_millis, f.command_line_known) {
        (Some(ms), _) => finding(
            "pause_target_set",
            "set",
            Some(ms.to_string()),
            Status::Ok,
            "",
        ),
        (None, true) => finding(
            "pause_target_set",
            "set",
            Some("not set (default 200)".into()),
            Status::Drift,
            "set -XX:MaxGCPauseMillis (Kafka's start script uses 20)",
        ),
        (None, false) => finding(
            "pause_target_set",
            "set",
            None,
            Status::NotApplicable,
            &unknown("MaxGCPauseMillis"),
        ),
    });
    out.push(match (f.young_fixed_by.is_empty(), f.command_line_known) {
        (false, _) => finding(
            "young_fixed",
            "not fixed",
            Some(f.young_fixed_by.join(" ")),
            Status::Drift,
            "fixing the young generation size defeats G1's pause-time target; remove these flags",
        ),
        (true, true) => finding(
            "young_fixed",
            "not fixed",
            Some("not fixed".into()),
            Status::Ok,
            "",
        ),
        (true, false) => finding(
            "young_fixed",
            "not fixed",
            None,
            Status::NotApplicable,
            &unknown("the young generation sizing"),
        ),
    });
    out.push(match (f.initiating_heap_occupancy_percent, f.command_line_known) {
        (Some(p), _) => finding("ihop_set", "set", Some(p.to_string()), Status::Ok, ""),
        (None, true) => finding(
            "ihop_set",
            "set",
            Some("not set (default 45, adaptive)".into()),
            Status::Drift,
            "set -XX:InitiatingHeapOccupancyPercent=35 as Kafka's start script does: marking starts early enough that mixed collections keep up",
        ),
        (None, false) => finding(
            "ihop_set",
            "set",
            None,
            Status::NotApplicable,
            &unknown("InitiatingHeapOccupancyPercent"),
        ),
    });
    out.push(match (f.explicit_gc_concurrent, f.command_line_known) {
        (Some(true), _) => finding(
            "explicit_gc_concurrent",
            "set",
            Some("set".into()),
            Status::Ok,
            "",
        ),
        (Some(false), _) | (None, true) => finding(
            "explicit_gc_concurrent",
            "set",
            Some("not set".into()),
            Status::Drift,
            "add -XX:+ExplicitGCInvokesConcurrent as Kafka's start script does: a System.gc() (RMI, direct-buffer cleanup) is then a concurrent cycle, not a full GC",
        ),
        (None, false) => finding(
            "explicit_gc_concurrent",
            "set",
            None,
            Status::NotApplicable,
            &unknown("ExplicitGCInvokesConcurrent"),
        ),
    });
    out.push(match f.log_rotation {
        Some(true) => finding("log_rotation", "set", Some("set".into()), Status::Ok, ""),
        Some(false) => finding(
            "log_rotation",
            "set",
            Some("not set".into()),
            Status::Drift,
            "rotate GC logs (-Xlog:...:filecount=10,filesize=100M; JDK 8 -XX:+UseGCLogFileRotation)",
        ),
        None => finding(
            "log_rotation",
            "set",
            None,
            Status::NotApplicable,
            &unknown("GC log rotation"),
        ),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn status(fs: &[Finding], key: &str) -> Status {
        fs.iter()
            .find(|f| f.key == key)
            .map_or(Status::Unreadable, |f| f.status)
    }

    #[test]
    fn kafka_defaults_pass() {
        let f = JvmFlags::from_args(&args(
            "-Xms6g -Xmx6g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Xlog:gc*:file=/var/log/kafka/kafkaServer-gc.log:time,tags:filecount=10,filesize=100M",
        ));
        let fs = evaluate(&f);
        assert!(fs.iter().all(|f| f.status == Status::Ok), "{fs:#?}");
        // Without the start script's two G1 flags, both rules drift.
        let bare = JvmFlags::from_args(&args("-Xms6g -Xmx6g -XX:+UseG1GC -XX:MaxGCPauseMillis=20"));
        let fs = evaluate(&bare);
        assert_eq!(status(&fs, "ihop_set"), Status::Drift);
        assert_eq!(status(&fs, "explicit_gc_concurrent"), Status::Drift);
    }

    #[test]
    fn young_fixed_and_heap_mismatch_drift() {
        let f = JvmFlags::from_args(&args("-Xms1g -Xmx4g -Xmn512m -XX:+UseG1GC -Xloggc:gc.log"));
        let fs = evaluate(&f);
        assert_eq!(status(&fs, "young_fixed"), Status::Drift);
        assert_eq!(status(&fs, "heap_fixed"), Status::Drift);
        assert_eq!(status(&fs, "pause_target_set"), Status::Drift);
        assert_eq!(status(&fs, "log_rotation"), Status::Drift);
    }

    #[test]
    fn from_log_only_says_what_it_knows() {
        let info = JvmInfo {
            collector: Some("G1".into()),
            initial_heap_kb: Some(262_144),
            min_heap_kb: Some(262_144),
            max_heap_kb: Some(262_144),
            ..JvmInfo::default()
        };
        let fs = evaluate(&JvmFlags::from_log(&info));
        assert_eq!(status(&fs, "g1"), Status::Ok);
        assert_eq!(status(&fs, "heap_fixed"), Status::Ok);
        assert_eq!(status(&fs, "pause_target_set"), Status::NotApplicable);
        assert_eq!(status(&fs, "young_fixed"), Status::NotApplicable);
        let jdk8 = JvmInfo {
            flags: args(
                "-XX:InitialHeapSize=268435456 -XX:MaxHeapSize=536870912 -XX:+UseG1GC -XX:NewRatio=2",
            ),
            ..JvmInfo::default()
        };
        let fs = evaluate(&JvmFlags::from_log(&jdk8));
        assert_eq!(status(&fs, "heap_fixed"), Status::Drift);
        assert_eq!(status(&fs, "young_fixed"), Status::Drift);
    }

    #[test]
    fn heap_is_fixed_only_when_the_minimum_is_the_maximum() {
        let heap = |a: &str| {
            let fs = evaluate(&JvmFlags::from_args(&args(a)));
            let f = fs.into_iter().find(|f| f.key == "heap_fixed").unwrap();
            (f.status, f.actual)
        };
        assert_eq!(
            heap("-Xmx256m -XX:+UseG1GC"),
            (Status::Drift, Some("no -Xms / max 256M".into()))
        );
        assert_eq!(
            heap("-Xms256m -Xmx256m"),
            (Status::Ok, Some("min 256M / max 256M".into()))
        );
        // InitialHeapSize alone does not set the minimum.
        assert_eq!(heap("-XX:InitialHeapSize=256m -Xmx256m").0, Status::Drift);
        assert_eq!(heap("-XX:MinHeapSize=256m -Xmx256m").0, Status::Ok);
        assert_eq!(heap("-XX:+UseG1GC").0, Status::Drift);
        // The log's `Heap Min Capacity` wins over a command line's silence.
        let info = JvmInfo {
            min_heap_kb: Some(8 * 1024),
            initial_heap_kb: Some(262_144),
            max_heap_kb: Some(262_144),
            ..JvmInfo::default()
        };
        let f = JvmFlags::from_log(&info).or(JvmFlags::from_args(&args("-Xmx256m")));
        assert_eq!(status(&evaluate(&f), "heap_fixed"), Status::Drift);
        // JDK 8 prints an ergonomic InitialHeapSize with or without -Xms:
        // initial == max there says nothing about the minimum.
        let jdk8 = JvmInfo {
            flags: args("-XX:InitialHeapSize=268435456 -XX:MaxHeapSize=268435456 -XX:+UseG1GC"),
            ..JvmInfo::default()
        };
        assert_eq!(
            status(&evaluate(&JvmFlags::from_log(&jdk8)), "heap_fixed"),
            Status::NotApplicable
        );
    }

    #[test]
    fn xlog_rotation_rules() {
        assert_eq!(xlog_rotation("gc*:file=gc.log"), Some(true));
        assert_eq!(
            xlog_rotation("gc*:file=gc.log:time:filecount=0"),
            Some(false)
        );
        assert_eq!(xlog_rotation("gc:stdout"), Some(false));
        assert_eq!(xlog_rotation("safepoint:file=s.log"), None);
    }
}
