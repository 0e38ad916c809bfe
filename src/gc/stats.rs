//! Streaming GC statistics in constant memory: feed [`GcEvent`]s in log
//! order to a [`GcStats`], take a [`StatsSnapshot`] whenever needed (the
//! agent snapshots per interval and in total from the same events).

use serde::Serialize;

use super::event::{GcEvent, JvmInfo, Pause, PauseKind, Stamp};
use super::hist::{Histogram, PauseSummary, round3};
use super::stall::{SafepointSummary, StallRule, StallStats, StallSummary};

/// Most full GCs listed one by one (all are counted).
const MAX_LISTED: usize = 100;
/// Points kept in the heap-after-GC series (between this and twice this).
const SERIES_POINTS: usize = 500;
/// Most points in the pause timeline.
const TIMELINE_POINTS: usize = 2000;
/// Concurrent phase names tracked (the parsers emit four).
const MAX_PHASE_NAMES: usize = 8;
/// Length of the worst-window figure.
const WINDOW_S: usize = 60;
/// A rate needs a span of at least this many times the longest pause: over
/// less, one pause is most of the time covered and the figure says nothing
/// about the JVM (1-4 pauses close together gave 1,010 to 3,378,131 ms/s).
const MIN_SPAN_PAUSES: f64 = 10.0;
/// ... but a minute of running time is always long enough.
const MIN_SPAN_CAP_MS: f64 = 60_000.0;

/// Which clock the timeline follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// JVM uptime (preferred: immune to clock changes).
    Uptime,
    /// Wall-clock time (`time`, `utctime`, ... decorators only).
    Wall,
    /// The log carries no time at all: rates cannot be computed.
    None,
}

/// Maps event stamps onto one monotonic timeline in ms, across JVM restarts
/// (each new JVM continues where the last one stopped, so no window goes
/// negative and downtime does not count as running time).
#[derive(Debug, Clone)]
pub(super) struct Timeline {
    clock: Clock,
    offset: f64,
    origin: Option<f64>,
    last: Option<f64>,
    /// A JVM started: the next stamped event re-bases the offset.
    restarted: bool,
    /// The stream began with a JVM start: with uptime, time 0 is its start.
    began_with_start: bool,
    seen_any: bool,
}

impl Timeline {
    pub(super) fn new() -> Self {
        Timeline {
            clock: Clock::None,
            offset: 0.0,
            origin: None,
            last: None,
            restarted: false,
            began_with_start: false,
            seen_any: false,
        }
    }

    pub(super) fn jvm_start(&mut self) {
        if !self.seen_any {
            self.began_with_start = true;
        }
        self.seen_any = true;
        self.restarted = true;
    }

    /// The event's time on the timeline, or `None` when it lacks the clock.
    /// `duration_ms` is how long the event ran before its stamp: the span
    /// starts when the first event started, not when it ended (else a short
    /// log's first pause counts as pause but not as time).
    pub(super) fn place(&mut self, at: &Stamp, duration_ms: f64) -> Option<f64> {
        self.seen_any = true;
        if self.clock == Clock::None {
            self.clock = if at.uptime_ms.is_some() {
                Clock::Uptime
            } else if at.wall_ms.is_some() {
                Clock::Wall
            } else {
                return None;
            };
        }
        let raw = match self.clock {
            Clock::Uptime => at.uptime_ms?,
            Clock::Wall => at.wall_ms? as f64,
            Clock::None => return None,
        };
        if self.origin.is_none() {
            let origin = if self.clock == Clock::Uptime && self.began_with_start {
                // The JVM's start is in the log: its uptime 0 is the start.
                0.0
            } else {
                raw - duration_ms.max(0.0)
            };
            self.origin = Some(origin);
            self.offset = -origin;
            self.restarted = false;
        }
        let mut t = raw + self.offset;
        let last = self.last.unwrap_or(0.0);
        if self.restarted {
            // New JVM: uptime restarts from its start; wall time continues
            // but the downtime is not running time.
            self.offset = match self.clock {
                Clock::Uptime => last,
                _ => last - raw,
            };
            t = raw + self.offset;
            self.restarted = false;
        }
        if t < last {
            // Lines of different threads, or a clock step back: never go back.
            t = last;
        }
        self.last = Some(t);
        Some(t)
    }

    pub(super) fn span_ms(&self) -> Option<f64> {
        self.last.filter(|&l| l > 0.0)
    }
}

/// Sums pause time per second over a sliding minute, remembering the worst.
#[derive(Debug, Clone)]
pub(super) struct MinuteWindow {
    ring: [f64; WINDOW_S],
    cur_sec: Option<i64>,
    sum: f64,
    /// The most time any 60 seconds held, ms.
    pub(super) worst: f64,
}

impl MinuteWindow {
    pub(super) fn new() -> Self {
        MinuteWindow {
            ring: [0.0; WINDOW_S],
            cur_sec: None,
            sum: 0.0,
            worst: 0.0,
        }
    }

    /// Adds a pause that ended at `t_ms` and lasted `pause_ms`. The pause is
    /// spread over the seconds it covered, so a 4 s full GC counts 1000 ms in
    /// each of its seconds rather than 4000 ms in its last one (which would
    /// let a minute hold more pause than wall time).
    pub(super) fn add(&mut self, t_ms: f64, pause_ms: f64) {
        let start_ms = t_ms - pause_ms;
        // The second holding the pause's last instant: a pause that ends at
        // exactly 2000 ms ran in second 1.
        let sec = ((t_ms / 1000.0).ceil() as i64 - 1).max((start_ms / 1000.0).floor() as i64);
        let cur = *self.cur_sec.get_or_insert(sec);
        if sec > cur {
            let steps = (sec - cur).min(WINDOW_S as i64);
            for i in 1..=steps {
                let slot = (cur + i).rem_euclid(WINDOW_S as i64) as usize;
                self.sum -= self.ring[slot];
                self.ring[slot] = 0.0;
            }
            self.cur_sec = Some(sec);
        }
        let now = sec.max(cur);
        if sec < cur {
            // Out of order (a clock step back): count it now, whole.
            self.put(now, pause_ms);
        } else {
            let first = ((start_ms / 1000.0).floor() as i64).max(now - WINDOW_S as i64 + 1);
            for k in first..=now {
                let lo = start_ms.max(k as f64 * 1000.0);
                let hi = t_ms.min((k + 1) as f64 * 1000.0);
                if hi > lo {
                    self.put(k, hi - lo);
                }
            }
        }
        self.worst = self.worst.max(self.sum);
    }

    fn put(&mut self, sec: i64, ms: f64) {
        self.ring[sec.rem_euclid(WINDOW_S as i64) as usize] += ms;
        self.sum += ms;
    }
}

/// One point of the heap-after-GC series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeapPoint {
    /// Seconds on the timeline (from the start of the log), when known.
    pub t_s: Option<f64>,
    /// Wall-clock time, epoch ms, when the log has it.
    pub wall_ms: Option<i64>,
    /// Occupied heap after the pause, KiB.
    pub after_kb: u64,
    /// Committed heap, KiB.
    pub capacity_kb: u64,
}

/// One point of the pause timeline: a pause, or the longest pause of a
/// stretch of time once the log has more pauses than the timeline keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PausePoint {
    /// Seconds on the timeline (from the start of the log), when known.
    pub t_s: Option<f64>,
    /// Wall-clock time, epoch ms, when the log has it.
    pub wall_ms: Option<i64>,
    /// The pause's number in the stream (1 for the first): the only x axis
    /// a log without time decorators has.
    pub seq: u64,
    /// Duration.
    pub duration_ms: f64,
    /// Which pause.
    pub kind: PauseKind,
}

/// The pause timeline in constant memory: every pause while there are at
/// most [`TIMELINE_POINTS`]; past that, the longest pause per bucket of
/// time (or of pause numbers, when the log has no time), so spikes survive.
/// The bucket width doubles whenever the bound is reached again.
#[derive(Debug, Clone, Default)]
struct PauseTimeline {
    points: Vec<PausePoint>,
    /// Bucket width in ms (or pauses); 0 while every pause is kept.
    width: f64,
    /// Bucketing by pause number: some pause could not be placed in time.
    by_seq: bool,
}

impl PauseTimeline {
    /// The point's bucket at `width`: by time, or by number without time.
    fn bucket(by_seq: bool, width: f64, p: &PausePoint) -> f64 {
        Self::key(by_seq, p) / width
    }

    fn key(by_seq: bool, p: &PausePoint) -> f64 {
        match (by_seq, p.t_s) {
            (false, Some(t)) => t * 1000.0,
            _ => p.seq as f64,
        }
    }

    fn push(&mut self, p: PausePoint) {
        if p.t_s.is_none() && !self.by_seq {
            // Times and pause numbers do not mix on one axis: from now on
            // the buckets count pauses.
            self.by_seq = true;
            if self.width > 0.0 {
                self.width = 0.0;
                self.rebucket();
            }
        }
        if self.width > 0.0 {
            let (by_seq, width) = (self.by_seq, self.width);
            if let Some(last) = self.points.last_mut() {
                let same = Self::bucket(by_seq, width, last).floor()
                    == Self::bucket(by_seq, width, &p).floor();
                if same {
                    if p.duration_ms > last.duration_ms {
                        *last = p;
                    }
                    return;
                }
            }
        }
        self.points.push(p);
        if self.points.len() > TIMELINE_POINTS {
            self.rebucket();
        }
    }

    /// Widens the buckets until the points fit in half the bound, so the
    /// next re-bucketing is far away.
    fn rebucket(&mut self) {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return;
        };
        let by_seq = self.by_seq;
        let span = (Self::key(by_seq, last) - Self::key(by_seq, first)).max(1.0);
        if self.width == 0.0 {
            self.width = (span / (TIMELINE_POINTS / 2) as f64).max(1.0);
        }
        loop {
            let width = self.width;
            let mut merged: Vec<PausePoint> = Vec::with_capacity(TIMELINE_POINTS);
            for &p in &self.points {
                let b = Self::bucket(by_seq, width, &p).floor();
                match merged.last_mut() {
                    Some(m) if Self::bucket(by_seq, width, m).floor() == b => {
                        if p.duration_ms > m.duration_ms {
                            *m = p;
                        }
                    }
                    _ => merged.push(p),
                }
            }
            if merged.len() <= TIMELINE_POINTS / 2 + 1 {
                self.points = merged;
                return;
            }
            self.width *= 2.0;
        }
    }
}

/// One full GC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FullGc {
    /// Seconds on the timeline, when known.
    pub t_s: Option<f64>,
    /// Wall-clock time, epoch ms, when the log has it.
    pub wall_ms: Option<i64>,
    /// JVM uptime in ms, when the log has it.
    pub uptime_ms: Option<f64>,
    /// Duration.
    pub duration_ms: f64,
    /// Cause (`G1 Compaction Pause`, `System.gc()`, ...).
    pub cause: String,
}

/// Pause figures per kind, in reporting order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PausesByKind {
    /// `Pause Young (Normal)`.
    pub young: PauseSummary,
    /// `Pause Young (Concurrent Start)`.
    pub concurrent_start: PauseSummary,
    /// `Pause Young (Prepare Mixed)`.
    pub prepare_mixed: PauseSummary,
    /// `Pause Young (Mixed)`.
    pub mixed: PauseSummary,
    /// `Pause Remark`.
    pub remark: PauseSummary,
    /// `Pause Cleanup`.
    pub cleanup: PauseSummary,
    /// `Pause Full`.
    pub full: PauseSummary,
}

impl PausesByKind {
    /// The figures of one kind.
    pub fn get(&self, kind: PauseKind) -> &PauseSummary {
        match kind {
            PauseKind::Young => &self.young,
            PauseKind::ConcurrentStart => &self.concurrent_start,
            PauseKind::PrepareMixed => &self.prepare_mixed,
            PauseKind::Mixed => &self.mixed,
            PauseKind::Remark => &self.remark,
            PauseKind::Cleanup => &self.cleanup,
            PauseKind::Full => &self.full,
        }
    }

    fn get_mut(&mut self, kind: PauseKind) -> &mut PauseSummary {
        match kind {
            PauseKind::Young => &mut self.young,
            PauseKind::ConcurrentStart => &mut self.concurrent_start,
            PauseKind::PrepareMixed => &mut self.prepare_mixed,
            PauseKind::Mixed => &mut self.mixed,
            PauseKind::Remark => &mut self.remark,
            PauseKind::Cleanup => &mut self.cleanup,
            PauseKind::Full => &mut self.full,
        }
    }
}

/// Durations of one concurrent phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConcurrentSummary {
    /// Phase name (`Concurrent Cycle`, `Concurrent Mark`, ...).
    pub name: String,
    /// Its duration figures.
    #[serde(flatten)]
    pub durations: PauseSummary,
}

/// The statistics at one moment: everything the reports and service-level
/// checks read. Rates are `None` when the log carries no usable time; the
/// figure's name is then listed in `not_computable`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsSnapshot {
    /// Figures per pause kind (every kind, zero counts too).
    pub pauses: PausesByKind,
    /// Figures over all pauses.
    pub overall: PauseSummary,
    /// Pause ms per second of running time.
    pub gc_ms_per_second: Option<f64>,
    /// Pause ms per second in the worst 60-second window (the whole log when shorter).
    pub worst_minute_gc_ms_per_second: Option<f64>,
    /// Young collections (Normal, Concurrent Start, Prepare Mixed, Mixed) per second.
    pub young_gcs_per_second: Option<f64>,
    /// Pauses per second, all kinds.
    pub pauses_per_second: Option<f64>,
    /// Allocation rate from heap growth between pauses, MB/s.
    pub allocation_rate_mb_per_s: Option<f64>,
    /// Application time between consecutive pauses.
    pub pause_interval: Option<PauseSummary>,
    /// Full GCs one by one (the first 100; `pauses.full.count` counts all).
    pub full_gcs: Vec<FullGc>,
    /// Pauses with an evacuation failure (to-space exhausted).
    pub evacuation_failures: u64,
    /// GCs that reported humongous allocations before them.
    pub humongous_allocations: u64,
    /// Pauses caused by a humongous allocation.
    pub humongous_allocation_pauses: u64,
    /// Concurrent cycle / mark durations, by phase name.
    pub concurrent: Vec<ConcurrentSummary>,
    /// Heap occupancy after GC over time, downsampled to at most 1000 points.
    pub heap_after_gc: Vec<HeapPoint>,
    /// Pause durations over time: every pause, or past 2000 the longest
    /// pause per stretch of time (spikes survive downsampling).
    pub pause_timeline: Vec<PausePoint>,
    /// JVM starts seen (1 for a log with its header; more after restarts).
    pub jvm_starts: u64,
    /// The clock the timeline follows.
    pub clock: Clock,
    /// Running time covered, seconds.
    pub span_s: Option<f64>,
    /// Wall-clock time of the first and last event, epoch ms, when known.
    pub first_wall_ms: Option<i64>,
    /// See `first_wall_ms`.
    pub last_wall_ms: Option<i64>,
    /// Figures that could not be computed from this log, and so are null.
    pub not_computable: Vec<&'static str>,
    /// Why the rates are null, when they are (`None` when they are not).
    pub rates_null_because: Option<String>,
    /// Pauses that waited rather than worked (GC CPU time against wall time).
    pub stalls: StallSummary,
    /// Safepoints: time to reach them, stopped time that is not GC.
    pub safepoints: SafepointSummary,
}

/// The streaming accumulator. Memory is constant (a few hundred KiB)
/// whatever the number of events.
#[derive(Debug, Clone)]
pub struct GcStats {
    kinds: [Histogram; 7],
    overall: Histogram,
    timeline: Timeline,
    window: MinuteWindow,
    young: u64,
    untimed_pauses: u64,
    intervals: Histogram,
    last_end_t: Option<f64>,
    last_after: Option<(f64, u64)>,
    alloc_kb: f64,
    alloc_ms: f64,
    series: Vec<HeapPoint>,
    series_stride: u64,
    series_seen: u64,
    pause_timeline: PauseTimeline,
    full: Vec<FullGc>,
    evac: u64,
    humongous: u64,
    humongous_pauses: u64,
    concurrent: Vec<(String, Histogram)>,
    jvm_starts: u64,
    jvm: Option<JvmInfo>,
    first_wall: Option<i64>,
    last_wall: Option<i64>,
    stall: StallStats,
}

impl Default for GcStats {
    fn default() -> Self {
        Self::new()
    }
}

fn kind_index(kind: PauseKind) -> usize {
    PauseKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl GcStats {
    /// An empty accumulator.
    pub fn new() -> Self {
        GcStats {
            kinds: Default::default(),
            overall: Histogram::default(),
            timeline: Timeline::new(),
            window: MinuteWindow::new(),
            young: 0,
            untimed_pauses: 0,
            intervals: Histogram::default(),
            last_end_t: None,
            last_after: None,
            alloc_kb: 0.0,
            alloc_ms: 0.0,
            series: Vec::new(),
            series_stride: 1,
            series_seen: 0,
            pause_timeline: PauseTimeline::default(),
            full: Vec::new(),
            evac: 0,
            humongous: 0,
            humongous_pauses: 0,
            concurrent: Vec::new(),
            jvm_starts: 0,
            jvm: None,
            first_wall: None,
            last_wall: None,
            stall: StallStats::default(),
        }
    }

    /// An empty accumulator judging stalled pauses by `rule`.
    pub fn with_stall_rule(rule: StallRule) -> Self {
        let mut s = Self::new();
        s.stall = StallStats::new(rule);
        s
    }

    /// The JVM facts of the most recent JVM start seen.
    pub fn jvm(&self) -> Option<&JvmInfo> {
        self.jvm.as_ref()
    }

    /// Consumes one event.
    pub fn add(&mut self, ev: &GcEvent) {
        self.stall.add(ev);
        match ev {
            GcEvent::JvmStart(info) => {
                self.jvm_starts += 1;
                self.jvm = Some(info.clone());
                self.timeline.jvm_start();
                // Nothing carries over from the previous JVM.
                self.last_end_t = None;
                self.last_after = None;
            }
            GcEvent::Pause(p) => self.pause(p),
            GcEvent::Concurrent(c) => {
                self.wall(&c.at);
                let _ = self.timeline.place(&c.at, c.duration_ms);
                let idx = match self.concurrent.iter().position(|(n, _)| *n == c.name) {
                    Some(i) => Some(i),
                    None if self.concurrent.len() < MAX_PHASE_NAMES => {
                        self.concurrent.push((c.name.clone(), Histogram::default()));
                        Some(self.concurrent.len() - 1)
                    }
                    None => None,
                };
                if let Some(i) = idx {
                    self.concurrent[i].1.record(c.duration_ms);
                }
            }
            GcEvent::HumongousAllocation { .. } => self.humongous += 1,
            GcEvent::PauseCpu(_) | GcEvent::Safepoint(_) => {}
        }
    }

    fn wall(&mut self, at: &Stamp) {
        if let Some(w) = at.wall_ms {
            self.first_wall.get_or_insert(w);
            self.last_wall = Some(w);
        }
    }

    fn pause(&mut self, p: &Pause) {
        self.wall(&p.at);
        self.kinds[kind_index(p.kind)].record(p.duration_ms);
        self.overall.record(p.duration_ms);
        if p.kind.is_young_collection() {
            self.young += 1;
        }
        if p.evacuation_failure {
            self.evac += 1;
        }
        if p.cause == "G1 Humongous Allocation" {
            self.humongous_pauses += 1;
        }
        let t = self.timeline.place(&p.at, p.duration_ms);
        match t {
            Some(t) => {
                self.window.add(t, p.duration_ms);
                let start = t - p.duration_ms;
                if let Some(prev_end) = self.last_end_t {
                    self.intervals.record((start - prev_end).max(0.0));
                }
                self.last_end_t = Some(t);
            }
            None => self.untimed_pauses += 1,
        }
        self.pause_timeline.push(PausePoint {
            t_s: t.map(|t| round3(t / 1000.0)),
            wall_ms: p.at.wall_ms,
            seq: self.overall.count(),
            duration_ms: p.duration_ms,
            kind: p.kind,
        });
        if let Some(h) = p.heap {
            // Heap growth between two pauses of one JVM is what was allocated.
            if let (Some(t), Some((prev_t, prev_after))) = (t, self.last_after) {
                if t > prev_t {
                    self.alloc_kb += h.before_kb.saturating_sub(prev_after) as f64;
                    self.alloc_ms += t - prev_t;
                }
            }
            self.last_after = t.map(|t| (t, h.after_kb));
            self.series_point(HeapPoint {
                t_s: t.map(|t| round3(t / 1000.0)),
                wall_ms: p.at.wall_ms,
                after_kb: h.after_kb,
                capacity_kb: h.capacity_kb,
            });
        }
        if p.kind == PauseKind::Full && self.full.len() < MAX_LISTED {
            self.full.push(FullGc {
                t_s: t.map(|t| round3(t / 1000.0)),
                wall_ms: p.at.wall_ms,
                uptime_ms: p.at.uptime_ms,
                duration_ms: p.duration_ms,
                cause: p.cause.clone(),
            });
        }
    }

    /// Keeps every `stride`-th point; when the series doubles past its
    /// bound, halves it and doubles the stride.
    fn series_point(&mut self, pt: HeapPoint) {
        if self.series_seen % self.series_stride == 0 {
            self.series.push(pt);
            if self.series.len() >= 2 * SERIES_POINTS {
                let mut i = 0;
                self.series.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.series_stride *= 2;
            }
        }
        self.series_seen += 1;
    }

    /// The figures so far.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut pauses = PausesByKind::default();
        for (i, kind) in PauseKind::ALL.iter().enumerate() {
            *pauses.get_mut(*kind) = self.kinds[i].summary();
        }
        let mut not_computable = Vec::new();
        let (span_ms, rates_null_because) = self.rate_span();
        let per_s = |v: f64| span_ms.map(|s| round3(v / (s / 1000.0)));
        let gc_ms_per_second = per_s(self.overall.total_ms());
        let worst = span_ms.map(|s| {
            let window_s = (s / 1000.0).clamp(f64::MIN_POSITIVE, WINDOW_S as f64);
            round3(self.window.worst / window_s)
        });
        let young_per_s = per_s(self.young as f64);
        let pauses_per_s = per_s(self.overall.count() as f64);
        let alloc = (span_ms.is_some() && self.alloc_ms > 0.0)
            .then(|| round3(self.alloc_kb / 1024.0 / (self.alloc_ms / 1000.0)));
        let interval =
            (span_ms.is_some() && self.intervals.count() > 0).then(|| self.intervals.summary());
        for (name, missing) in [
            ("gc_ms_per_second", gc_ms_per_second.is_none()),
            ("worst_minute_gc_ms_per_second", worst.is_none()),
            ("young_gcs_per_second", young_per_s.is_none()),
            ("pauses_per_second", pauses_per_s.is_none()),
            ("allocation_rate_mb_per_s", alloc.is_none()),
            ("pause_interval", interval.is_none()),
        ] {
            if missing {
                not_computable.push(name);
            }
        }
        StatsSnapshot {
            pauses,
            overall: self.overall.summary(),
            gc_ms_per_second,
            worst_minute_gc_ms_per_second: worst,
            young_gcs_per_second: young_per_s,
            pauses_per_second: pauses_per_s,
            allocation_rate_mb_per_s: alloc,
            pause_interval: interval,
            full_gcs: self.full.clone(),
            evacuation_failures: self.evac,
            humongous_allocations: self.humongous,
            humongous_allocation_pauses: self.humongous_pauses,
            concurrent: self
                .concurrent
                .iter()
                .map(|(n, h)| ConcurrentSummary {
                    name: n.clone(),
                    durations: h.summary(),
                })
                .collect(),
            heap_after_gc: self.series.clone(),
            pause_timeline: self.pause_timeline.points.clone(),
            jvm_starts: self.jvm_starts,
            clock: self.timeline.clock,
            span_s: span_ms.map(|s| round3(s / 1000.0)),
            first_wall_ms: self.first_wall,
            last_wall_ms: self.last_wall,
            not_computable,
            rates_null_because,
            stalls: self.stall.stalls(),
            safepoints: self.stall.safepoints(),
        }
    }

    /// The span rates are computed over, or why there is none. The span runs
    /// from the JVM's start (uptime 0, when the log holds the start) or the
    /// first event's start, to the last event's end.
    fn rate_span(&self) -> (Option<f64>, Option<String>) {
        if self.overall.count() == 0 {
            return (None, Some("no pause in the log".into()));
        }
        if self.timeline.clock == Clock::None {
            return (None, Some("no time in the log".into()));
        }
        if self.untimed_pauses > 0 {
            // Some pauses could not be placed in time: a rate would be wrong.
            return (
                None,
                Some(format!(
                    "{} pauses carry no time stamp",
                    self.untimed_pauses
                )),
            );
        }
        let Some(span) = self.timeline.span_ms() else {
            return (None, Some("the log covers no running time".into()));
        };
        let longest = self.overall.max_ms();
        let min = (longest * MIN_SPAN_PAUSES).min(MIN_SPAN_CAP_MS);
        if span < min {
            return (
                None,
                Some(format!(
                    "the log covers {:.3} s, under the {:.3} s a rate needs (10 times the longest pause, at most a minute)",
                    span / 1000.0,
                    min / 1000.0
                )),
            );
        }
        if self.overall.total_ms() > span {
            // Pauses are stop-the-world and never overlap: more pause than
            // time means the stamps contradict each other.
            return (
                None,
                Some(format!(
                    "{:.1} ms of pause in {:.1} ms of running time: the stamps contradict each other",
                    self.overall.total_ms(),
                    span
                )),
            );
        }
        (Some(span), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::event::HeapChange;

    fn pause(kind: PauseKind, uptime_ms: Option<f64>, dur: f64) -> GcEvent {
        GcEvent::Pause(Pause {
            kind,
            cause: "G1 Evacuation Pause".into(),
            at: Stamp {
                wall_ms: None,
                uptime_ms,
            },
            duration_ms: dur,
            heap: Some(HeapChange {
                before_kb: 100_000,
                after_kb: 10_000,
                capacity_kb: 256_000,
            }),
            gc_id: None,
            evacuation_failure: false,
            workers: None,
        })
    }

    #[test]
    fn rates_from_uptime() {
        let mut s = GcStats::new();
        s.add(&GcEvent::JvmStart(JvmInfo::default()));
        for i in 1..=100 {
            s.add(&pause(PauseKind::Young, Some(i as f64 * 1000.0), 10.0));
        }
        let snap = s.snapshot();
        assert_eq!(snap.pauses.young.count, 100);
        assert_eq!(snap.overall.total_ms, 1000.0);
        assert_eq!(snap.gc_ms_per_second, Some(10.0));
        assert_eq!(snap.worst_minute_gc_ms_per_second, Some(10.0));
        assert_eq!(snap.young_gcs_per_second, Some(1.0));
        // 90 MB-ish grown per second.
        let alloc = snap.allocation_rate_mb_per_s.unwrap_or(0.0);
        assert!((alloc - 90_000.0 / 1024.0).abs() < 0.01, "{alloc}");
        assert!(snap.not_computable.is_empty());
    }

    #[test]
    fn a_minute_never_holds_more_pause_than_wall_time() {
        let mut s = GcStats::new();
        s.add(&GcEvent::JvmStart(JvmInfo::default()));
        // Back-to-back 4.3 s full GCs for two minutes: the JVM did nothing else.
        for i in 1..=28 {
            s.add(&pause(PauseKind::Full, Some(i as f64 * 4300.0), 4300.0));
        }
        let worst = s.snapshot().worst_minute_gc_ms_per_second.unwrap();
        assert!(worst <= 1000.0 && worst > 990.0, "{worst}");
    }

    #[test]
    fn restart_keeps_time_moving_forward() {
        let mut s = GcStats::new();
        s.add(&GcEvent::JvmStart(JvmInfo::default()));
        s.add(&pause(PauseKind::Young, Some(10_000.0), 5.0));
        s.add(&GcEvent::JvmStart(JvmInfo::default()));
        s.add(&pause(PauseKind::Full, Some(10_000.0), 5.0));
        let snap = s.snapshot();
        assert_eq!(snap.span_s, Some(20.0));
        assert_eq!(snap.gc_ms_per_second, Some(0.5));
        assert_eq!(snap.full_gcs.len(), 1);
        assert_eq!(snap.full_gcs[0].t_s, Some(20.0));
        assert_eq!(snap.jvm_starts, 2);
    }

    #[test]
    fn no_time_means_null_not_wrong() {
        let mut s = GcStats::new();
        for _ in 0..10 {
            s.add(&pause(PauseKind::Young, None, 10.0));
        }
        let snap = s.snapshot();
        assert_eq!(snap.gc_ms_per_second, None);
        assert!(snap.not_computable.contains(&"gc_ms_per_second"));
        assert!(
            snap.not_computable
                .contains(&"worst_minute_gc_ms_per_second")
        );
        assert_eq!(snap.overall.count, 10);
    }

    #[test]
    fn worst_minute_finds_the_burst() {
        let mut s = GcStats::new();
        s.add(&GcEvent::JvmStart(JvmInfo::default()));
        for i in 0..600 {
            let dur = if (300..330).contains(&i) { 100.0 } else { 1.0 };
            s.add(&pause(
                PauseKind::Young,
                Some(i as f64 * 1000.0 + 500.0),
                dur,
            ));
        }
        let snap = s.snapshot();
        // 30 × 100 ms + 30 × 1 ms in the worst minute.
        assert_eq!(snap.worst_minute_gc_ms_per_second, Some(3030.0 / 60.0));
    }

    #[test]
    fn series_stays_bounded() {
        let mut s = GcStats::new();
        for i in 0..100_000 {
            s.add(&pause(PauseKind::Young, Some(i as f64), 0.1));
        }
        let snap = s.snapshot();
        assert!(snap.heap_after_gc.len() < 2 * SERIES_POINTS);
        assert!(snap.heap_after_gc.len() >= SERIES_POINTS / 2);
    }

    #[test]
    fn pause_timeline_keeps_few_pauses_all() {
        let mut s = GcStats::new();
        s.add(&GcEvent::JvmStart(JvmInfo::default()));
        for i in 1..=50 {
            s.add(&pause(PauseKind::Young, Some(i as f64 * 100.0), i as f64));
        }
        s.add(&pause(PauseKind::Full, Some(6000.0), 900.0));
        let tl = s.snapshot().pause_timeline;
        assert_eq!(tl.len(), 51);
        assert_eq!(tl[0].seq, 1);
        assert_eq!(tl[0].t_s, Some(0.1));
        assert_eq!(tl[50].kind, PauseKind::Full);
        assert_eq!(tl[50].duration_ms, 900.0);
    }

    #[test]
    fn pause_timeline_stays_bounded_and_keeps_spikes() {
        for timed in [true, false] {
            let mut s = GcStats::new();
            for i in 0..200_000u64 {
                let (kind, dur) = match i {
                    77_777 => (PauseKind::Full, 5000.0),
                    150_001 => (PauseKind::Remark, 300.0),
                    _ => (PauseKind::Young, 1.0 + (i % 7) as f64),
                };
                let up = timed.then_some(i as f64 * 10.0);
                s.add(&pause(kind, up, dur));
                if i % 10_000 == 0 {
                    assert!(s.pause_timeline.points.len() <= TIMELINE_POINTS);
                }
            }
            let tl = s.snapshot().pause_timeline;
            assert!(tl.len() <= TIMELINE_POINTS, "{}", tl.len());
            assert!(tl.len() >= TIMELINE_POINTS / 4, "{}", tl.len());
            assert!(tl.windows(2).all(|w| w[0].seq < w[1].seq), "in order");
            assert!(
                tl.iter()
                    .any(|p| p.kind == PauseKind::Full && p.duration_ms == 5000.0)
            );
            assert!(tl.iter().any(|p| p.kind == PauseKind::Remark));
            assert_eq!(tl.iter().all(|p| p.t_s.is_some()), timed);
        }
    }
}
