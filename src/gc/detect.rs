//! Tells which kind of log a file is by sniffing its first lines: unified
//! G1, JDK 8 G1, a log of another collector, or not a GC log, plus the
//! first time stamp (to put a rotated set in time order).

use memchr::memmem;
use serde::Serialize;

use super::decorators::{Decorated, parse_decimal, parse_iso};

/// How many bytes of a file's start are sniffed.
pub const SNIFF_BYTES: usize = 1 << 20;

/// The format of one log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// JDK 9+ unified logging (`-Xlog:gc*`) of G1.
    UnifiedG1,
    /// JDK 8 `-XX:+PrintGCDetails` log of G1.
    Jdk8G1,
    /// Unified logging whose collector the first lines do not name (a
    /// rotated file that starts mid-run); G1 when its set is G1.
    UnifiedUnknown,
    /// A GC log of another collector.
    NotG1(Collector),
    /// JDK 6-8 GC records (`[GC 1234K->567K(8192K), 0.01 secs]`) that name
    /// no collector and show no G1 event: refused, since only G1 is read.
    Jdk8Unknown,
    /// Text that is not a GC log.
    NotGcLog,
    /// An empty file (a freshly rotated log).
    Empty,
}

impl LogFormat {
    /// A human name, used in messages and the `files` list.
    pub fn describe(self) -> String {
        match self {
            LogFormat::UnifiedG1 => "unified G1".into(),
            LogFormat::Jdk8G1 => "JDK 8 G1".into(),
            LogFormat::UnifiedUnknown => "unified logging (collector not named)".into(),
            LogFormat::NotG1(c) => c.log_phrase(),
            LogFormat::Jdk8Unknown => {
                "a JDK 6-8 GC log whose lines name no collector and show no G1 event".into()
            }
            LogFormat::NotGcLog => "not a GC log".into(),
            LogFormat::Empty => "empty".into(),
        }
    }
}

/// Collectors other than G1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Collector {
    /// Concurrent Mark Sweep (with ParNew or, `-XX:-UseParNewGC`, DefNew
    /// collecting the young generation).
    Cms,
    /// ParNew collecting the young generation and the serial mark-compact
    /// (`Tenured`) the old one: JDK 8's `-XX:+UseParNewGC` without CMS.
    ParNewSerialOld,
    /// ParNew young collections whose old collector (CMS or Serial Old)
    /// the sniffed lines do not show.
    ParNew,
    /// Parallel.
    Parallel,
    /// Serial.
    Serial,
    /// ZGC.
    Z,
    /// Shenandoah.
    Shenandoah,
    /// Epsilon (no-op).
    Epsilon,
}

impl Collector {
    /// The collector's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Collector::Cms => "CMS GC",
            Collector::ParNewSerialOld => "ParNew + Serial Old GC",
            Collector::ParNew => "ParNew GC",
            Collector::Parallel => "Parallel GC",
            Collector::Serial => "Serial GC",
            Collector::Z => "ZGC",
            Collector::Shenandoah => "Shenandoah GC",
            Collector::Epsilon => "Epsilon GC",
        }
    }
}

impl Collector {
    /// "a CMS GC log", "an Epsilon GC log", ...: what a file of this
    /// collector is, as refusals say it.
    pub fn log_phrase(self) -> String {
        match self {
            Collector::Epsilon => "an Epsilon GC log".into(),
            Collector::ParNew => "a ParNew GC log whose lines do not show its old-generation \
                                  collector (CMS or Serial Old)"
                .into(),
            c => format!("a {} log", c.name()),
        }
    }
}

/// What sniffing a file's start found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sniff {
    /// The format.
    pub format: LogFormat,
    /// Wall-clock time of the first stamped line, epoch ms.
    pub first_wall_ms: Option<i64>,
    /// Uptime of the first stamped line, ms.
    pub first_uptime_ms: Option<f64>,
    /// The sniffed start holds a JVM start header (`Using G1`): uptime
    /// restarts from 0 here, so uptimes of files are not comparable.
    pub jvm_start: bool,
}

/// Markers, most decisive first; the first line holding one decides.
const MARKERS: &[(&[u8], LogFormat)] = &[
    (b"Using G1", LogFormat::UnifiedG1),
    (b"Using Parallel", LogFormat::NotG1(Collector::Parallel)),
    (b"Using Serial", LogFormat::NotG1(Collector::Serial)),
    (
        b"Using Concurrent Mark Sweep",
        LogFormat::NotG1(Collector::Cms),
    ),
    (
        b"Using The Z Garbage Collector",
        LogFormat::NotG1(Collector::Z),
    ),
    (
        b"Initializing The Z Garbage Collector",
        LogFormat::NotG1(Collector::Z),
    ),
    (b"Using Shenandoah", LogFormat::NotG1(Collector::Shenandoah)),
    (b"Using Epsilon", LogFormat::NotG1(Collector::Epsilon)),
    (b"-XX:+UseG1GC", LogFormat::Jdk8G1),
    (b"-XX:+UseConcMarkSweepGC", LogFormat::NotG1(Collector::Cms)),
    // JDK 8 prints this beside -XX:+UseConcMarkSweepGC too; that line is
    // taken by the marker above.
    (
        b"-XX:+UseParNewGC",
        LogFormat::NotG1(Collector::ParNewSerialOld),
    ),
    (b"-XX:+UseParallelGC", LogFormat::NotG1(Collector::Parallel)),
    (
        b"-XX:+UseParallelOldGC",
        LogFormat::NotG1(Collector::Parallel),
    ),
    (b"-XX:+UseSerialGC", LogFormat::NotG1(Collector::Serial)),
    (b"[GC pause (", LogFormat::Jdk8G1),
    (b"[GC remark", LogFormat::Jdk8G1),
    (b"[GC cleanup", LogFormat::Jdk8G1),
    (b"[GC concurrent-", LogFormat::Jdk8G1),
    (b"G1Ergonomics", LogFormat::Jdk8G1),
    // The detail of a JDK 7/8 G1 pause, e.g. a file that starts inside one.
    (b"[Eden: ", LogFormat::Jdk8G1),
    (b"[GC Worker Start", LogFormat::Jdk8G1),
    (b"PSYoungGen", LogFormat::NotG1(Collector::Parallel)),
    (b"ParOldGen", LogFormat::NotG1(Collector::Parallel)),
    // ParNew is CMS's young collector and, in JDK 8, Serial Old's partner:
    // the old generation's lines decide (see `young_only`).
    (b"ParNew", LogFormat::NotG1(Collector::ParNew)),
    (b"par new generation", LogFormat::NotG1(Collector::ParNew)),
    (b"CMS-initial-mark", LogFormat::NotG1(Collector::Cms)),
    (b"concurrent mark-sweep", LogFormat::NotG1(Collector::Cms)),
    (b"DefNew", LogFormat::NotG1(Collector::Serial)),
    (b"def new generation", LogFormat::NotG1(Collector::Serial)),
    (b"Shenandoah", LogFormat::NotG1(Collector::Shenandoah)),
    (b"[CMS", LogFormat::NotG1(Collector::Cms)),
    (b"CMS-concurrent-", LogFormat::NotG1(Collector::Cms)),
    (b"CMS-remark", LogFormat::NotG1(Collector::Cms)),
    (
        b"(concurrent mode failure)",
        LogFormat::NotG1(Collector::Cms),
    ),
    (b"PSOldGen", LogFormat::NotG1(Collector::Parallel)),
    (b"PSPermGen", LogFormat::NotG1(Collector::Parallel)),
    (b"[Tenured", LogFormat::NotG1(Collector::Serial)),
    (b"tenured generation", LogFormat::NotG1(Collector::Serial)),
    (b"Garbage Collection (", LogFormat::NotG1(Collector::Z)),
    (b"Major Collection (", LogFormat::NotG1(Collector::Z)),
    (b"Minor Collection (", LogFormat::NotG1(Collector::Z)),
    (b"Pause Init Mark", LogFormat::NotG1(Collector::Shenandoah)),
    (b"Pause Final Mark", LogFormat::NotG1(Collector::Shenandoah)),
    (b"G1 Evacuation Pause", LogFormat::UnifiedG1),
    (b"G1 Humongous Allocation", LogFormat::UnifiedG1),
    (b"G1 Compaction Pause", LogFormat::UnifiedG1),
    (b"G1 Preventive Collection", LogFormat::UnifiedG1),
    (b"Eden regions:", LogFormat::UnifiedG1),
    (b"Humongous regions:", LogFormat::UnifiedG1),
    // G1's own event and VM-operation names are evidence enough for a
    // unified fragment that lost its header (no other collector prints
    // them; CMS and JDK 9/10 G1 share `Pause Initial Mark` and `Pause
    // Remark`, so those are not on this list).
    (b"Pause Young (Normal)", LogFormat::UnifiedG1),
    (b"Pause Young (Concurrent Start)", LogFormat::UnifiedG1),
    (b"Pause Young (Prepare Mixed)", LogFormat::UnifiedG1),
    (b"Pause Young (Mixed)", LogFormat::UnifiedG1),
    (b"Pause Mixed (", LogFormat::UnifiedG1),
    (b"Pause Cleanup", LogFormat::UnifiedG1),
    (b"Concurrent Mark Cycle", LogFormat::UnifiedG1),
    (b"Concurrent Undo Cycle", LogFormat::UnifiedG1),
    (b"G1CollectForAllocation", LogFormat::UnifiedG1),
    (b"G1CollectFull", LogFormat::UnifiedG1),
    (b"G1PauseRemark", LogFormat::UnifiedG1),
    (b"G1PauseCleanup", LogFormat::UnifiedG1),
    (b"G1TryInitiateConcMark", LogFormat::UnifiedG1),
    (b"G1Concurrent", LogFormat::UnifiedG1),
];

/// Sniffs the start of a file (up to [`SNIFF_BYTES`]; a cut-off last line is fine).
pub fn sniff(head: &[u8]) -> Sniff {
    let mut out = Sniff {
        format: if head.iter().all(u8::is_ascii_whitespace) {
            LogFormat::Empty
        } else {
            LogFormat::NotGcLog
        },
        first_wall_ms: None,
        first_uptime_ms: None,
        jvm_start: false,
    };
    let mut decided = false;
    let mut unified_lines = 0usize;
    let mut jdk8_lines = 0usize;
    // JDK 8's young collectors ParNew and DefNew each serve two old
    // collectors: once one decided, the old generation's lines name the pair.
    let mut old_gen: Option<Collector> = None;
    for line in head.split(|&b| b == b'\n') {
        if !out.jvm_start && memmem::find(line, b"Using G1").is_some() {
            out.jvm_start = true;
        }
        if out.first_wall_ms.is_none() && out.first_uptime_ms.is_none() {
            let (w, u) = line_time(line);
            out.first_wall_ms = w;
            out.first_uptime_ms = u;
        }
        if !decided {
            for (marker, format) in MARKERS {
                if memmem::find(line, marker).is_some() {
                    out.format = *format;
                    // The `arguments` tag of unified logging (a wide
                    // `-Xlog:all` selection) prints the command line too:
                    // there the flag says G1, not JDK 8.
                    if *format == LogFormat::Jdk8G1 && is_unified_arguments(line) {
                        out.format = LogFormat::UnifiedG1;
                    }
                    decided = true;
                    break;
                }
            }
        }
        if old_gen.is_none() && young_only(out.format) {
            old_gen = old_collector(line);
        }
        if decided {
            continue;
        }
        if memmem::find(line, b"GC(").is_some() || Decorated::split(line).tags().is_some() {
            unified_lines += 1;
        }
        if is_jdk8_gc_record(line) {
            jdk8_lines += 1;
        }
    }
    match (out.format, old_gen) {
        (LogFormat::NotG1(Collector::ParNew), Some(Collector::Serial)) => {
            out.format = LogFormat::NotG1(Collector::ParNewSerialOld);
        }
        (LogFormat::NotG1(Collector::ParNew | Collector::Serial), Some(Collector::Cms)) => {
            out.format = LogFormat::NotG1(Collector::Cms);
        }
        _ => {}
    }
    if !decided && out.format == LogFormat::NotGcLog {
        if unified_lines > 0 {
            out.format = LogFormat::UnifiedUnknown;
        } else if jdk8_lines > 0 {
            // GC records, but nothing says G1: reading them as G1 would
            // report another collector's pauses as G1's (or none at all).
            out.format = LogFormat::Jdk8Unknown;
        }
    }
    // A unified G1 marker found in a JDK 8 file ("G1 Evacuation Pause"
    // is also in `[GC pause (G1 Evacuation Pause)`) is caught above by the
    // earlier `[GC pause (` marker on the same line.
    out
}

/// A unified-logging `arguments` line (`jvm_args: ...`, `jvm_flags: ...`),
/// which JDK 8 never writes.
fn is_unified_arguments(line: &[u8]) -> bool {
    let msg = Decorated::split(line).msg;
    msg.starts_with(b"jvm_args:") || msg.starts_with(b"jvm_flags:")
}

/// True when the format was decided by a young collector's name alone.
fn young_only(format: LogFormat) -> bool {
    matches!(
        format,
        LogFormat::NotG1(Collector::ParNew | Collector::Serial)
    )
}

/// The old-generation collector a JDK 8 line shows, if any.
fn old_collector(line: &[u8]) -> Option<Collector> {
    const OLD: &[(&[u8], Collector)] = &[
        (b"[Tenured", Collector::Serial),
        (b"tenured generation", Collector::Serial),
        (b"[CMS", Collector::Cms),
        (b"CMS-", Collector::Cms),
        (b"concurrent mark-sweep", Collector::Cms),
        (b"(concurrent mode failure)", Collector::Cms),
        (b"-XX:+UseConcMarkSweepGC", Collector::Cms),
    ];
    OLD.iter()
        .find(|(m, _)| memmem::find(line, m).is_some())
        .map(|(_, c)| *c)
}

/// A JDK 6-8 GC record of any collector: `[GC` or `[Full GC` with a size
/// transition and a time in seconds (`[GC 1234K->567K(8192K), 0.01 secs]`);
/// bytes that merely contain `[GC` are not one.
fn is_jdk8_gc_record(line: &[u8]) -> bool {
    (memmem::find(line, b"[GC").is_some() || memmem::find(line, b"[Full GC").is_some())
        && memmem::find(line, b"->").is_some()
        && memmem::find(line, b" secs]").is_some()
}

/// True when a line holds a G1 pause header in either format. An
/// unrecognised line that does is a pause the parser failed to read.
pub fn names_a_pause(line: &[u8]) -> bool {
    const HEADERS: &[&[u8]] = &[
        b"[GC pause",
        b"[Full GC",
        b"[GC remark",
        b"[GC cleanup",
        b"Pause Young",
        b"Pause Full",
        b"Pause Remark",
        b"Pause Cleanup",
        b"Pause Mixed",
        b"Pause Initial Mark",
    ];
    HEADERS.iter().any(|h| memmem::find(line, h).is_some())
}

/// The time stamp a line starts with, in unified (`[...]` decorators) or
/// JDK 8 (`2014-06-25T12:00:00.000+0000: 12.345: `) form.
pub fn line_time(line: &[u8]) -> (Option<i64>, Option<f64>) {
    let d = Decorated::split(line);
    if !d.is_empty() {
        let st = d.stamp();
        return (st.wall_ms, st.uptime_ms);
    }
    // JDK 8: optional date stamp, then optional uptime, each followed by ": ".
    let mut rest = line;
    let mut wall = None;
    if rest.len() >= 28 && rest.get(10) == Some(&b'T') {
        wall = parse_iso(rest);
        if let Some(i) = memmem::find(rest, b": ") {
            rest = &rest[i + 2..];
        }
    }
    let mut uptime = None;
    if let Some(i) = memmem::find(rest, b": ").filter(|&i| i > 0 && i < 16) {
        uptime = parse_decimal(&rest[..i]).map(|s| s * 1000.0);
    }
    (wall, uptime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            sniff(b"[0.01s][info][gc] Using G1\n").format,
            LogFormat::UnifiedG1
        );
        assert_eq!(
            sniff(b"[0.01s][info][gc] Using Parallel\n").format,
            LogFormat::NotG1(Collector::Parallel)
        );
        assert_eq!(
            sniff(b"2020-01-01T00:00:00.000+0000: 1.0: [GC (Allocation Failure) [PSYoungGen: 1K->1K(2K)] 0.1 secs]\n").format,
            LogFormat::NotG1(Collector::Parallel)
        );
        assert_eq!(
            sniff(b"1.0: [GC pause (G1 Evacuation Pause) (young), 0.01 secs]\n").format,
            LogFormat::Jdk8G1
        );
        assert_eq!(sniff(b"hello\nworld\n").format, LogFormat::NotGcLog);
        // Bytes that contain `[GC` are not a GC log; GC records of no named
        // collector are not G1.
        assert_eq!(sniff(b"\x01[GC\xff\n").format, LogFormat::NotGcLog);
        assert_eq!(
            sniff(b"1.0: [GC 1234K->567K(8192K), 0.0100000 secs]\n").format,
            LogFormat::Jdk8Unknown
        );
        assert_eq!(
            sniff(b"[gc] GC(0) Pause Young (Concurrent Start) (Metadata GC Threshold) 100M->8M(16384M) 24.518ms\n").format,
            LogFormat::UnifiedG1
        );
        assert_eq!(
            sniff(b"[1.0s][info][gc] GC(3) Pause Young (Allocation Failure) 10M->2M(64M) 1.0ms\n")
                .format,
            LogFormat::UnifiedUnknown
        );
        // Fragments of other collectors name them by their own events.
        for (line, c) in [
            (
                &b"[3.1s][info][gc] GC(12) Garbage Collection (Proactive) 1200M(15%)->300M(4%)\n"[..],
                Collector::Z,
            ),
            (
                b"[3.1s][info][gc] GC(4) Major Collection (Warmup) 400M(5%)->90M(1%) 0.120s\n",
                Collector::Z,
            ),
            (
                b"[3.1s][info][gc] GC(2) Pause Init Mark 0.101ms\n",
                Collector::Shenandoah,
            ),
            (
                b"1.2: [GC 1.2: [CMS: 269402K->62666K(524288K), 0.31 secs]\n",
                Collector::Cms,
            ),
        ] {
            assert_eq!(
                sniff(line).format,
                LogFormat::NotG1(c),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(sniff(b"").format, LogFormat::Empty);
        // `-Xlog:all` prints the command line before `Using G1`.
        assert_eq!(
            sniff(
                b"[0.001s][info ] VM Arguments:\n[0.001s][info ] jvm_args: -XX:+UseG1GC -Xmx1g\n"
            )
            .format,
            LogFormat::UnifiedG1
        );
        assert_eq!(
            sniff(b"jvm_args: -XX:+UseG1GC -Xmx1g\n").format,
            LogFormat::UnifiedG1
        );
        let s = sniff(b"[2026-11-24T19:18:37.015+0000][gc] GC(5) Pause Young (Normal) (G1 Evacuation Pause)\n");
        assert_eq!(s.format, LogFormat::UnifiedG1);
        assert_eq!(s.first_wall_ms, Some(1_795_547_917_015));
    }

    #[test]
    fn jdk8_times() {
        assert_eq!(
            line_time(b"2014-06-25T12:00:00.000+0000: 12.345: [GC pause"),
            (Some(1_403_697_600_000), Some(12_345.0))
        );
        assert_eq!(line_time(b"12.5: [GC pause"), (None, Some(12_500.0)));
    }
}
