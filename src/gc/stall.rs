//! Where a pause's time went: GC work against wall time (stalled pauses)
//! and safepoints (time to reach them, stopped time that is not GC).
//!
//! A pause's CPU time (`gc,cpu`, JDK 8 `[Times:`) is the whole process's
//! user + system time while the world was stopped. Divided by the GC threads
//! that worked in the pause it is the least wall time the work needed; a
//! pause whose wall time far exceeds that waited — on the disk, on memory
//! reclaim, on a CPU, or because the process was stopped — rather than
//! worked.

use serde::Serialize;

use super::event::{GcEvent, Pause, PauseCpu, PauseKind, Safepoint, Stamp};
use super::hist::{Histogram, PauseSummary, round3};

/// Worst stalled pauses listed one by one (all are counted).
const WORST_LISTED: usize = 10;
/// The JVM reads CPU times with `times(2)` (clock ticks, 10 ms on Linux,
/// truncated) and prints two decimals: each of user and system may be up to
/// a step more than printed.
const CPU_ROUNDING_MS: f64 = 10.0;

/// When a pause counts as stalled (profile `[gc]` keys `stall_ratio` and
/// `stall_min_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StallRule {
    /// The pause's wall time is at least this many times the wall time its
    /// CPU time needed (CPU ÷ GC threads).
    pub ratio: f64,
    /// ... and it waited at least this long (wall minus needed), ms: CPU
    /// times come in 10 ms steps, so short pauses cannot be judged.
    pub min_wait_ms: f64,
}

impl Default for StallRule {
    fn default() -> Self {
        StallRule {
            ratio: 3.0,
            min_wait_ms: 50.0,
        }
    }
}

/// One stalled pause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StalledPause {
    /// Which pause.
    pub kind: PauseKind,
    /// Its cause.
    pub cause: String,
    /// `GC(N)`, when logged.
    pub gc_id: Option<u64>,
    /// Wall-clock end, epoch ms, when the log has it.
    pub wall_ms: Option<i64>,
    /// JVM uptime at its end, ms, when the log has it.
    pub uptime_ms: Option<f64>,
    /// Its wall time, ms.
    pub duration_ms: f64,
    /// User + system CPU time of the process during it, ms (as printed).
    pub cpu_ms: f64,
    /// GC threads the CPU time is divided by.
    pub threads: u32,
    /// Wall time the work needed at most: (CPU + 10 ms each for user and
    /// system, the clock-tick step) ÷ threads, ms.
    pub needed_ms: f64,
    /// Wall time not explained by work: duration − needed, ms.
    pub waited_ms: f64,
}

/// Stalled pauses: GC work against wall time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StallSummary {
    /// The rule a pause was judged by.
    pub rule: StallRule,
    /// Pauses that had CPU times in the log.
    pub pauses_with_cpu: u64,
    /// Stalled pauses; `null` when no pause had CPU times.
    pub stalled_pauses: Option<u64>,
    /// Their total wall time, ms.
    pub stalled_ms: Option<f64>,
    /// Their share of the pause time of pauses with CPU times, percent.
    pub stalled_share_percent: Option<f64>,
    /// Wall time of stalled pauses not explained by work, ms.
    pub waited_ms: Option<f64>,
    /// Where the GC thread count came from: `per pause` (the log's
    /// `Using N workers` / `GC Workers: N`), `header` (`Parallel Workers`,
    /// `-XX:ParallelGCThreads`), or `assumed 1` (unknown: one thread is the
    /// fewest, so no pause is called stalled that was not).
    pub threads_from: Vec<&'static str>,
    /// The longest stalled pauses, longest first.
    pub worst: Vec<StalledPause>,
    /// Why the figures are `null`, when they are.
    pub null_because: Option<String>,
}

/// Safepoints: time to reach them, and stopped time that is not GC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafepointSummary {
    /// Safepoints logged.
    pub count: u64,
    /// Time from the request until every thread stopped, ms; `null`
    /// without safepoint lines.
    pub time_to_safepoint: Option<PauseSummary>,
    /// All time the application threads were stopped, ms.
    pub stopped_ms: Option<f64>,
    /// Longest single stop, ms.
    pub max_stopped_ms: Option<f64>,
    /// Stops for anything but a GC (biased-lock revocation, deoptimisation,
    /// thread dumps, ...): how many.
    pub non_gc_count: Option<u64>,
    /// ... their total time, ms.
    pub non_gc_stopped_ms: Option<f64>,
    /// ... the longest, ms.
    pub non_gc_max_ms: Option<f64>,
    /// Stopped time in the worst 60 seconds, ms (the whole log when shorter);
    /// `null` when the lines carry no time.
    pub worst_minute_stopped_ms: Option<f64>,
    /// Why the figures are `null`, when they are.
    pub null_because: Option<String>,
}

/// The pause awaiting its CPU line.
#[derive(Debug, Clone)]
struct Last {
    kind: PauseKind,
    cause: String,
    gc_id: Option<u64>,
    at: Stamp,
    duration_ms: f64,
    workers: Option<u32>,
}

/// Streaming accumulator of stalls and safepoints; constant memory.
#[derive(Debug, Clone)]
pub struct StallStats {
    rule: StallRule,
    header_workers: Option<u32>,
    last: Option<Last>,
    with_cpu: u64,
    with_cpu_ms: f64,
    stalled: u64,
    stalled_ms: f64,
    waited_ms: f64,
    threads_from: [bool; 3],
    worst: Vec<StalledPause>,
    // Safepoints.
    pause_since_safepoint: bool,
    reaching: Histogram,
    stopped: Histogram,
    non_gc: Histogram,
    timeline: super::stats::Timeline,
    window: super::stats::MinuteWindow,
    untimed_safepoints: u64,
}

impl Default for StallStats {
    fn default() -> Self {
        Self::new(StallRule::default())
    }
}

impl StallStats {
    /// An empty accumulator judging pauses by `rule`.
    pub fn new(rule: StallRule) -> Self {
        StallStats {
            rule,
            header_workers: None,
            last: None,
            with_cpu: 0,
            with_cpu_ms: 0.0,
            stalled: 0,
            stalled_ms: 0.0,
            waited_ms: 0.0,
            threads_from: [false; 3],
            worst: Vec::new(),
            pause_since_safepoint: false,
            reaching: Histogram::default(),
            stopped: Histogram::default(),
            non_gc: Histogram::default(),
            timeline: super::stats::Timeline::new(),
            window: super::stats::MinuteWindow::new(),
            untimed_safepoints: 0,
        }
    }

    /// Consumes one event.
    pub fn add(&mut self, ev: &GcEvent) {
        match ev {
            GcEvent::JvmStart(info) => {
                self.header_workers = info.parallel_workers;
                self.last = None;
                self.pause_since_safepoint = false;
                self.timeline.jvm_start();
            }
            GcEvent::Pause(p) => self.pause(p),
            GcEvent::PauseCpu(c) => self.cpu(c),
            GcEvent::Safepoint(s) => self.safepoint(s),
            GcEvent::Concurrent(_) | GcEvent::HumongousAllocation { .. } => {}
        }
    }

    fn pause(&mut self, p: &Pause) {
        self.pause_since_safepoint = true;
        self.last = Some(Last {
            kind: p.kind,
            cause: p.cause.clone(),
            gc_id: p.gc_id,
            at: p.at,
            duration_ms: p.duration_ms,
            workers: p.workers,
        });
    }

    fn cpu(&mut self, c: &PauseCpu) {
        // The CPU line belongs to the pause just before it, of the same GC.
        let Some(last) = self.last.take() else { return };
        if c.gc_id.is_some() && last.gc_id.is_some() && c.gc_id != last.gc_id {
            return;
        }
        // The header's count is what evacuation pauses use; JDK 8's full
        // GC is serial and remark/cleanup use fewer threads, so without a
        // count of their own they are judged as one thread's work.
        let (threads, from) = match (last.workers, self.header_workers) {
            (Some(w), _) if w > 0 => (w, 0),
            (_, Some(w)) if w > 0 && last.kind.is_young_collection() => (w, 1),
            _ => (1, 2),
        };
        self.threads_from[from] = true;
        self.with_cpu += 1;
        self.with_cpu_ms += last.duration_ms;
        let cpu_ms = c.user_ms + c.sys_ms;
        let needed_ms = (cpu_ms + 2.0 * CPU_ROUNDING_MS) / f64::from(threads);
        let waited_ms = last.duration_ms - needed_ms;
        if last.duration_ms < self.rule.ratio * needed_ms || waited_ms < self.rule.min_wait_ms {
            return;
        }
        self.stalled += 1;
        self.stalled_ms += last.duration_ms;
        self.waited_ms += waited_ms;
        let longest_kept = self.worst.last().map_or(0.0, |w| w.duration_ms);
        if self.worst.len() < WORST_LISTED || last.duration_ms > longest_kept {
            self.worst.push(StalledPause {
                kind: last.kind,
                cause: last.cause,
                gc_id: last.gc_id,
                wall_ms: last.at.wall_ms,
                uptime_ms: last.at.uptime_ms,
                duration_ms: last.duration_ms,
                cpu_ms: round3(cpu_ms),
                threads,
                needed_ms: round3(needed_ms),
                waited_ms: round3(waited_ms),
            });
            self.worst
                .sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
            self.worst.truncate(WORST_LISTED);
        }
    }

    fn safepoint(&mut self, s: &Safepoint) {
        let is_gc = s.is_gc().unwrap_or(self.pause_since_safepoint);
        self.pause_since_safepoint = false;
        self.reaching.record(s.reaching_ms);
        self.stopped.record(s.total_ms);
        if !is_gc {
            self.non_gc.record(s.total_ms);
        }
        match self.timeline.place(&s.at, s.total_ms) {
            Some(t) => self.window.add(t, s.total_ms),
            None => self.untimed_safepoints += 1,
        }
    }

    /// The stalled-pause figures so far.
    pub fn stalls(&self) -> StallSummary {
        let has = self.with_cpu > 0;
        let share = (has && self.with_cpu_ms > 0.0)
            .then(|| round3(100.0 * self.stalled_ms / self.with_cpu_ms));
        let names = ["per pause", "header", "assumed 1"];
        StallSummary {
            rule: self.rule,
            pauses_with_cpu: self.with_cpu,
            stalled_pauses: has.then_some(self.stalled),
            stalled_ms: has.then(|| round3(self.stalled_ms)),
            stalled_share_percent: if has { share.or(Some(0.0)) } else { None },
            waited_ms: has.then(|| round3(self.waited_ms)),
            threads_from: names
                .iter()
                .zip(self.threads_from)
                .filter(|(_, used)| *used)
                .map(|(n, _)| *n)
                .collect(),
            worst: self.worst.clone(),
            null_because: (!has).then(|| {
                "the log has no CPU times per pause (unified logging: the gc+cpu tag, \
                 part of -Xlog:gc*; JDK 8: -XX:+PrintGCDetails)"
                    .to_owned()
            }),
        }
    }

    /// The safepoint figures so far.
    pub fn safepoints(&self) -> SafepointSummary {
        let n = self.stopped.count();
        let has = n > 0;
        let worst_minute =
            (has && self.untimed_safepoints == 0 && self.timeline.span_ms().is_some())
                .then(|| round3(self.window.worst));
        SafepointSummary {
            count: n,
            time_to_safepoint: has.then(|| self.reaching.summary()),
            stopped_ms: has.then(|| round3(self.stopped.total_ms())),
            max_stopped_ms: has.then(|| round3(self.stopped.max_ms())),
            non_gc_count: has.then(|| self.non_gc.count()),
            non_gc_stopped_ms: has.then(|| round3(self.non_gc.total_ms())),
            non_gc_max_ms: has.then(|| round3(self.non_gc.max_ms())),
            worst_minute_stopped_ms: worst_minute,
            null_because: (!has).then(|| {
                "the log has no safepoint lines (unified logging: add the safepoint tag, \
                 -Xlog:gc*,safepoint; JDK 8: -XX:+PrintGCApplicationStoppedTime)"
                    .to_owned()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(id: u64, dur: f64, workers: Option<u32>) -> GcEvent {
        GcEvent::Pause(Pause {
            kind: PauseKind::Young,
            cause: "G1 Evacuation Pause".into(),
            at: Stamp {
                wall_ms: None,
                uptime_ms: Some(1000.0 * id as f64),
            },
            duration_ms: dur,
            heap: None,
            gc_id: Some(id),
            evacuation_failure: false,
            workers,
        })
    }

    fn cpu(id: u64, user: f64, sys: f64, real: f64) -> GcEvent {
        GcEvent::PauseCpu(PauseCpu {
            gc_id: Some(id),
            user_ms: user,
            sys_ms: sys,
            real_ms: real,
        })
    }

    #[test]
    fn waiting_pause_is_stalled_and_working_one_is_not() {
        let mut s = StallStats::default();
        // 2 threads, 400 ms of CPU in 210 ms wall: working.
        s.add(&pause(1, 210.0, Some(2)));
        s.add(&cpu(1, 380.0, 20.0, 210.0));
        // 2 threads, 10 ms of CPU in 500 ms wall: waited.
        s.add(&pause(2, 500.0, Some(2)));
        s.add(&cpu(2, 10.0, 0.0, 500.0));
        assert_eq!(s.stalls().stalled_pauses, Some(1));
        // Short: cannot be judged at 10 ms resolution.
        s.add(&pause(3, 30.0, Some(8)));
        s.add(&cpu(3, 0.0, 0.0, 30.0));
        let st = s.stalls();
        assert_eq!(st.pauses_with_cpu, 3);
        assert_eq!(st.stalled_pauses, Some(1));
        assert_eq!(st.stalled_ms, Some(500.0));
        assert_eq!(st.worst[0].gc_id, Some(2));
        assert_eq!(st.worst[0].needed_ms, 15.0);
        let share = st.stalled_share_percent.unwrap();
        assert!((share - 100.0 * 500.0 / 740.0).abs() < 0.01, "{share}");
    }

    #[test]
    fn unknown_threads_assume_one() {
        let mut s = StallStats::default();
        // 300 ms of CPU in 400 ms: with 8 threads it would be a stall,
        // but the thread count is unknown, so it is not called one.
        s.add(&pause(1, 400.0, None));
        s.add(&cpu(1, 300.0, 0.0, 400.0));
        let st = s.stalls();
        assert_eq!(st.stalled_pauses, Some(0));
        assert_eq!(st.threads_from, ["assumed 1"]);
    }

    #[test]
    fn cpu_of_another_gc_is_ignored_and_none_means_null() {
        let mut s = StallStats::default();
        assert!(s.stalls().stalled_pauses.is_none());
        assert!(s.stalls().null_because.is_some());
        s.add(&pause(1, 500.0, Some(1)));
        s.add(&cpu(2, 0.0, 0.0, 500.0));
        assert_eq!(s.stalls().pauses_with_cpu, 0);
    }

    #[test]
    fn safepoints_split_gc_from_the_rest() {
        let mut s = StallStats::default();
        let sp = |op: Option<&str>, reach: f64, total: f64, up: f64| {
            GcEvent::Safepoint(Safepoint {
                at: Stamp {
                    wall_ms: None,
                    uptime_ms: Some(up),
                },
                operation: op.map(str::to_owned),
                reaching_ms: reach,
                total_ms: total,
            })
        };
        s.add(&sp(Some("G1CollectForAllocation"), 0.1, 5.0, 100.0));
        s.add(&sp(Some("RevokeBias"), 250.0, 260.0, 1000.0));
        // JDK 8: no name; a pause just before makes it a GC.
        s.add(&pause(3, 4.0, None));
        s.add(&sp(None, 0.2, 4.5, 2000.0));
        s.add(&sp(None, 0.0, 1.0, 3000.0));
        let sp = s.safepoints();
        assert_eq!(sp.count, 4);
        assert_eq!(sp.non_gc_count, Some(2));
        assert_eq!(sp.non_gc_stopped_ms, Some(261.0));
        assert_eq!(sp.max_stopped_ms, Some(260.0));
        assert_eq!(sp.time_to_safepoint.map(|t| t.max_ms), Some(250.0));
        assert_eq!(sp.worst_minute_stopped_ms, Some(270.5));
    }
}
