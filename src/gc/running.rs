//! Rates against the JVM's real running time. A log alone knows only the
//! time between its first and last events: a controller up 13 s whose log
//! held four pauses within 0.28 s gave 47.3 ms of pause per second over
//! those 0.28 s. When the analysis knows the running process the log
//! belongs to (`gc --pid`), it knows when that process started:
//!
//! - a JVM that has run under a minute gets no rate (null, with the
//!   reason): its GC so far is start-up (class loading, the heap sizing
//!   itself), and a minute is what a rate needs from any log (see
//!   [`super::stats`]);
//! - when the log holds the JVM's whole life (its start header, one JVM,
//!   nothing older than the process), the rate is the pause time over the
//!   JVM's running time from its start to now, not over the stretch the
//!   pauses happen to cover.

use super::hist::round3;
use super::stats::{Clock, StatsSnapshot};

/// A running process's time: when it started and when it was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningJvm {
    /// Its pid (for the reasons given).
    pub pid: i32,
    /// When it started, epoch ms (from `/proc/PID/stat` and the boot time).
    pub started_ms: i64,
    /// When the analysis looked at it, epoch ms.
    pub observed_ms: i64,
}

impl RunningJvm {
    /// How long it has run, ms.
    pub fn uptime_ms(&self) -> f64 {
        (self.observed_ms - self.started_ms).max(0) as f64
    }
}

/// Below this running time a JVM gets no rate.
pub const MIN_UPTIME_MS: f64 = 60_000.0;

/// How far a log's first event may precede the process's start and still
/// be its own (the start time is read in clock ticks, the log in ms).
const START_SLACK_MS: f64 = 2_000.0;

/// The rates computed per second of running time, nulled or recomputed together.
const RATES: [&str; 4] = [
    "gc_ms_per_second",
    "worst_minute_gc_ms_per_second",
    "young_gcs_per_second",
    "pauses_per_second",
];

/// Judges the snapshot's rates by the process's real running time.
pub fn judge(s: &mut StatsSnapshot, jvm: &RunningJvm) {
    if s.gc_ms_per_second.is_none() {
        // Already null, with its reason.
        return;
    }
    let uptime = jvm.uptime_ms();
    if uptime < MIN_UPTIME_MS {
        s.gc_ms_per_second = None;
        s.worst_minute_gc_ms_per_second = None;
        s.young_gcs_per_second = None;
        s.pauses_per_second = None;
        for r in RATES {
            if !s.not_computable.contains(&r) {
                s.not_computable.push(r);
            }
        }
        s.rates_null_because = Some(format!(
            "the JVM (pid {}) has run {:.1} s: a rate needs a minute of its running time, and what it did so far is start-up",
            jvm.pid,
            uptime / 1000.0
        ));
        return;
    }
    if !holds_whole_life(s, jvm) {
        return;
    }
    let seconds = uptime / 1000.0;
    s.gc_ms_per_second = Some(round3(s.overall.total_ms / seconds));
    s.young_gcs_per_second = s.young_gcs_per_second.map(|_| {
        let young = s.pauses.young.count
            + s.pauses.concurrent_start.count
            + s.pauses.prepare_mixed.count
            + s.pauses.mixed.count;
        round3(young as f64 / seconds)
    });
    s.pauses_per_second = s
        .pauses_per_second
        .map(|_| round3(s.overall.count as f64 / seconds));
    s.span_s = Some(round3(seconds));
}

/// True when the log holds the JVM's life from its start: its start header
/// once, and nothing in it from before the process started.
fn holds_whole_life(s: &StatsSnapshot, jvm: &RunningJvm) -> bool {
    if s.jvm_starts != 1 {
        return false;
    }
    match (s.first_wall_ms, s.clock) {
        (Some(first), _) => first as f64 >= jvm.started_ms as f64 - START_SLACK_MS,
        // Uptime only: the log cannot be older than the process if its
        // last event's uptime fits in the process's running time.
        (None, Clock::Uptime) => s
            .span_s
            .is_some_and(|span| span * 1000.0 <= jvm.uptime_ms() + START_SLACK_MS),
        _ => false,
    }
}

/// When a process started, epoch ms: `/proc/PID/stat`'s start time (clock
/// ticks after boot) plus `/proc/stat`'s `btime`. `None` when either
/// cannot be read (the process exited).
pub fn process_started_ms(host: &crate::host::Host, pid: i32) -> Option<i64> {
    // Through file_kind, as every read of the host: non-blocking, checked on
    // its descriptor, bounded (the kernel's files are small; 1 MiB holds
    // /proc/stat's line per CPU on the largest hosts).
    let read = |path: std::path::PathBuf| {
        crate::file_kind::read_bounded(&path, 1 << 20)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let stat = read(host.path(format!("/proc/{pid}/stat")))?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields after its closing one. starttime is field 22.
    let after = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let boot = read(host.path("/proc/stat"))?;
    let btime: i64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|h| *h > 0)? as u64;
    Some(btime * 1000 + (ticks * 1000 / hz) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::event::{GcEvent, HeapChange, JvmInfo, Pause, PauseKind, Stamp};
    use crate::gc::stats::GcStats;

    /// A JVM started at epoch 1_000_000 ms whose log (wall clock only, as
    /// Kafka's `time,tags`) holds its header and four young pauses within
    /// 0.28 s, 12.7 s after its start.
    fn young_controller() -> StatsSnapshot {
        let mut s = GcStats::new();
        s.add(&GcEvent::JvmStart(JvmInfo::default()));
        for (i, at) in [12_720, 12_800, 12_900, 13_000].iter().enumerate() {
            s.add(&GcEvent::Pause(Pause {
                kind: PauseKind::Young,
                cause: "G1 Evacuation Pause".into(),
                at: Stamp {
                    wall_ms: Some(1_000_000 + at),
                    uptime_ms: None,
                },
                duration_ms: 3.3,
                heap: Some(HeapChange {
                    before_kb: 10_000,
                    after_kb: 1_000,
                    capacity_kb: 65_536,
                }),
                gc_id: Some(i as u64),
                evacuation_failure: false,
                workers: None,
            }));
        }
        s.snapshot()
    }

    #[test]
    fn a_young_jvm_gets_no_rate_an_older_one_a_rate_over_its_life() {
        let log_only = young_controller();
        let over_pauses = log_only.gc_ms_per_second.unwrap();
        assert!(over_pauses > 40.0, "the log alone: {over_pauses}");

        let mut s = log_only.clone();
        let young = RunningJvm {
            pid: 4242,
            started_ms: 1_000_000,
            observed_ms: 1_013_000,
        };
        judge(&mut s, &young);
        assert_eq!(s.gc_ms_per_second, None);
        assert!(s.not_computable.contains(&"gc_ms_per_second"));
        let why = s.rates_null_because.unwrap();
        assert!(why.contains("pid 4242") && why.contains("13.0 s"), "{why}");

        // Up two minutes, the same log: 13.2 ms over 120 s.
        let mut s = log_only.clone();
        let older = RunningJvm {
            observed_ms: 1_120_000,
            ..young
        };
        judge(&mut s, &older);
        assert_eq!(s.gc_ms_per_second, Some(0.11));
        assert_eq!(s.span_s, Some(120.0));
        assert_eq!(s.pauses_per_second, Some(round3(4.0 / 120.0)));

        // A log from before this process started (an earlier JVM's): its
        // own span, as without --pid.
        let mut s = log_only;
        let later = RunningJvm {
            started_ms: 1_100_000,
            observed_ms: 1_300_000,
            ..young
        };
        judge(&mut s, &later);
        assert_eq!(s.gc_ms_per_second, Some(over_pauses));
    }

    #[test]
    fn reads_a_real_process_start() {
        let host = crate::host::Host::at("/");
        let me = std::process::id() as i32;
        let started = process_started_ms(&host, me).expect("our own start");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!(
            started <= now && now - started < 3_600_000,
            "{started} {now}"
        );
        assert_eq!(process_started_ms(&host, i32::MAX), None);
    }
}
