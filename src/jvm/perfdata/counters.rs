//! The figures tunekeeper takes from a JVM's counters: a typed snapshot of
//! one read, and the difference of two reads (an interval).
//!
//! Collectors are found by their `.name`, never by their index: the names
//! differ between JDKs (`G1 incremental collections` on JDK 9-11, `G1
//! young collection pauses` from 12 on) and another collector numbers them
//! differently. What each G1 collector counts, as checked against real
//! logs on JDK 11, 17, 21 and 25 (tests/integration/perfdata_jvm.rs): the young one
//! every `Pause Young` (Normal, Concurrent Start, Prepare Mixed, Mixed),
//! the full one every `Pause Full`, the third (`G1 stop-the-world phases`
//! on JDK 9-11, `G1 concurrent cycle pauses` from 12 on) every `Pause
//! Remark` and `Pause Cleanup`. The `GarbageCollectorMXBean`s count the
//! first two alike; they show Remark and Cleanup only from JDK 20 (`G1
//! Concurrent GC`), so on 11-19 the counters see more than the MXBeans.

use serde::Serialize;

use super::format::PerfData;

/// What a collector's pauses are, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectorKind {
    /// Young-generation pauses (G1's young and mixed collections).
    Young,
    /// Full collections.
    Full,
    /// The pauses of a concurrent cycle (G1's Remark and Cleanup).
    ConcurrentCycle,
    /// Anything else (another collector's counters).
    Other,
}

impl CollectorKind {
    /// Classifies a collector by its `sun.gc.collector.N.name`.
    pub fn of_name(name: &str) -> CollectorKind {
        let n = name.to_ascii_lowercase();
        if n.contains("concurrent cycle") || n.contains("stop-the-world phases") {
            CollectorKind::ConcurrentCycle
        } else if n.contains("full") {
            CollectorKind::Full
        } else if n.contains("young") || n.contains("incremental") {
            CollectorKind::Young
        } else {
            // Serial/Parallel/CMS name their collectors after the algorithm.
            match name {
                "Copy" | "PSScavenge" | "PCopy" | "ParNew" => CollectorKind::Young,
                "MSC" | "PSParallelCompact" | "MarkSweepCompact" | "CMS" => CollectorKind::Full,
                _ => CollectorKind::Other,
            }
        }
    }

    /// How reports name it.
    pub fn label(self) -> &'static str {
        match self {
            CollectorKind::Young => "young pauses",
            CollectorKind::Full => "full pauses",
            CollectorKind::ConcurrentCycle => "concurrent-cycle pauses",
            CollectorKind::Other => "other pauses",
        }
    }
}

/// One collector's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collector {
    /// `sun.gc.collector.N`: the index, for reference only.
    pub index: u32,
    /// Its name as the JVM gives it (control characters escaped).
    pub name: String,
    /// What its pauses are.
    pub kind: CollectorKind,
    /// Pauses counted.
    pub invocations: u64,
    /// Their total time, in ticks of the high-resolution timer.
    pub time_ticks: u64,
    /// The same in milliseconds.
    pub time_ms: f64,
}

/// The safepoint counters (`sun.rt.*`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SafepointCounters {
    /// `sun.rt.safepoints`: safepoints begun.
    pub count: u64,
    /// `sun.rt.safepointSyncTime`: time from each request until every
    /// thread stopped (time to safepoint), ticks.
    pub sync_ticks: u64,
    /// `sun.rt.safepointTime`, ticks: on JDK 8-12 the whole stop (request
    /// to resume), from JDK 13 the stop after every thread had stopped.
    pub time_ticks: u64,
}

/// Heap and metaspace sizes, bytes (jstat `-gc`'s columns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct HeapCounters {
    /// Eden capacity and use (`sun.gc.generation.0.space.0`).
    pub eden_capacity: Option<u64>,
    /// See `eden_capacity`.
    pub eden_used: Option<u64>,
    /// Survivor 0 (`generation.0.space.1`).
    pub survivor0_capacity: Option<u64>,
    /// See `survivor0_capacity`.
    pub survivor0_used: Option<u64>,
    /// Survivor 1 (`generation.0.space.2`).
    pub survivor1_capacity: Option<u64>,
    /// See `survivor1_capacity`.
    pub survivor1_used: Option<u64>,
    /// Old generation (`generation.1.space.0`).
    pub old_capacity: Option<u64>,
    /// See `old_capacity`.
    pub old_used: Option<u64>,
    /// The heap's maximum: young's plus old's `maxCapacity`.
    pub max_capacity: Option<u64>,
    /// Metaspace (`sun.gc.metaspace`).
    pub metaspace_capacity: Option<u64>,
    /// See `metaspace_capacity`.
    pub metaspace_used: Option<u64>,
}

impl HeapCounters {
    /// Committed heap: eden + survivors + old.
    pub fn capacity(&self) -> Option<u64> {
        Some(
            self.eden_capacity?
                + self.survivor0_capacity?
                + self.survivor1_capacity?
                + self.old_capacity?,
        )
    }

    /// Occupied heap: eden + survivors + old.
    pub fn used(&self) -> Option<u64> {
        Some(self.eden_used? + self.survivor0_used? + self.survivor1_used? + self.old_used?)
    }
}

/// One read of a JVM's counters: what tunekeeper uses of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterSnapshot {
    /// The Java specification version (`8`, `11`, `17`, ...), when the
    /// counters say (`java.property.java.vm.specification.version`).
    pub jdk: Option<u32>,
    /// `java.property.java.vm.version`.
    pub vm_version: Option<String>,
    /// Ticks per second of every `*time*` counter (`sun.os.hrt.frequency`).
    pub frequency_hz: u64,
    /// When the JVM started, epoch ms (`sun.rt.createVmBeginTime`): the
    /// identity of one JVM life.
    pub jvm_start_ms: i64,
    /// The JVM's clock at this read, ticks (`sun.os.hrt.ticks`, sampled
    /// every `PerfDataSamplingInterval`, 50 ms by default); `null` from
    /// JDK 25, which no longer publishes it.
    pub uptime_ticks: Option<u64>,
    /// Seconds since the JVM started, by that clock.
    pub uptime_s: Option<f64>,
    /// The collector (`sun.gc.policy.name`, e.g. `GarbageFirst`).
    pub policy: Option<String>,
    /// Every collector, in index order.
    pub collectors: Vec<Collector>,
    /// Safepoints.
    pub safepoints: SafepointCounters,
    /// Why the last GC ran (`sun.gc.lastCause`).
    pub last_cause: Option<String>,
    /// Why a GC is running now, `No GC` between GCs (`sun.gc.cause`).
    pub current_cause: Option<String>,
    /// Heap and metaspace.
    pub heap: HeapCounters,
}

/// Why a read's entries do not make a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// A counter every HotSpot JVM writes is missing or not a number.
    #[error("the counter {0} is missing")]
    Missing(&'static str),
    /// A counter holds a value no JVM writes.
    #[error("the counter {name} holds {value}, which no JVM writes")]
    Impossible {
        /// The counter.
        name: String,
        /// Its value.
        value: i64,
    },
}

/// Collectors read at most (HotSpot has three at most).
const MAX_COLLECTORS: u32 = 16;

fn count(pd: &PerfData, name: &'static str) -> Result<u64, SnapshotError> {
    let v = pd.long(name).ok_or(SnapshotError::Missing(name))?;
    u64::try_from(v).map_err(|_| SnapshotError::Impossible {
        name: name.into(),
        value: v,
    })
}

fn opt_count(pd: &PerfData, name: &str) -> Result<Option<u64>, SnapshotError> {
    match pd.long(name) {
        None => Ok(None),
        Some(v) => u64::try_from(v)
            .map(Some)
            .map_err(|_| SnapshotError::Impossible {
                name: name.into(),
                value: v,
            }),
    }
}

/// `1.8` → 8, `17` → 17.
fn jdk_major(spec: &str) -> Option<u32> {
    let s = spec.strip_prefix("1.").unwrap_or(spec);
    s.split('.').next()?.parse().ok()
}

impl CounterSnapshot {
    /// The figures of one read.
    pub fn from_perf_data(pd: &PerfData) -> Result<CounterSnapshot, SnapshotError> {
        let frequency_hz = count(pd, "sun.os.hrt.frequency")?;
        if frequency_hz == 0 {
            return Err(SnapshotError::Impossible {
                name: "sun.os.hrt.frequency".into(),
                value: 0,
            });
        }
        let ms = |ticks: u64| ticks as f64 * 1000.0 / frequency_hz as f64;
        let jvm_start_ms = pd
            .long("sun.rt.createVmBeginTime")
            .ok_or(SnapshotError::Missing("sun.rt.createVmBeginTime"))?;
        let uptime_ticks = opt_count(pd, "sun.os.hrt.ticks")?;
        let mut collectors = Vec::new();
        for i in 0..MAX_COLLECTORS {
            let Some(name) = pd.text(&format!("sun.gc.collector.{i}.name")) else {
                break;
            };
            let inv = opt_count(pd, &format!("sun.gc.collector.{i}.invocations"))?;
            let time = opt_count(pd, &format!("sun.gc.collector.{i}.time"))?;
            let (Some(invocations), Some(time_ticks)) = (inv, time) else {
                continue;
            };
            collectors.push(Collector {
                index: i,
                name: name.to_string(),
                kind: CollectorKind::of_name(name),
                invocations,
                time_ticks,
                time_ms: ms(time_ticks),
            });
        }
        let space = |g: u32, s: u32, what: &str| {
            opt_count(pd, &format!("sun.gc.generation.{g}.space.{s}.{what}"))
        };
        let max_capacity = match (
            opt_count(pd, "sun.gc.generation.0.maxCapacity")?,
            opt_count(pd, "sun.gc.generation.1.maxCapacity")?,
        ) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        let heap = HeapCounters {
            eden_capacity: space(0, 0, "capacity")?,
            eden_used: space(0, 0, "used")?,
            survivor0_capacity: space(0, 1, "capacity")?,
            survivor0_used: space(0, 1, "used")?,
            survivor1_capacity: space(0, 2, "capacity")?,
            survivor1_used: space(0, 2, "used")?,
            old_capacity: space(1, 0, "capacity")?,
            old_used: space(1, 0, "used")?,
            max_capacity,
            metaspace_capacity: opt_count(pd, "sun.gc.metaspace.capacity")?,
            metaspace_used: opt_count(pd, "sun.gc.metaspace.used")?,
        };
        Ok(CounterSnapshot {
            jdk: pd
                .text("java.property.java.vm.specification.version")
                .and_then(jdk_major),
            vm_version: pd.text("java.property.java.vm.version").map(str::to_string),
            frequency_hz,
            jvm_start_ms,
            uptime_ticks,
            uptime_s: uptime_ticks.map(|t| t as f64 / frequency_hz as f64),
            policy: pd.text("sun.gc.policy.name").map(str::to_string),
            collectors,
            safepoints: SafepointCounters {
                count: count(pd, "sun.rt.safepoints")?,
                sync_ticks: count(pd, "sun.rt.safepointSyncTime")?,
                time_ticks: count(pd, "sun.rt.safepointTime")?,
            },
            last_cause: pd.text("sun.gc.lastCause").map(str::to_string),
            current_cause: pd.text("sun.gc.cause").map(str::to_string),
            heap,
        })
    }

    /// Milliseconds of `ticks` of this JVM's timer.
    pub fn ms(&self, ticks: u64) -> f64 {
        ticks as f64 * 1000.0 / self.frequency_hz as f64
    }

    /// The pauses of one kind, summed over its collectors: (count, ms);
    /// `None` when no collector of that kind exists (JDK 8's G1 has no
    /// concurrent-cycle collector).
    pub fn pauses(&self, kind: CollectorKind) -> Option<(u64, f64)> {
        let mut found = false;
        let (mut n, mut ticks) = (0u64, 0u64);
        for c in self.collectors.iter().filter(|c| c.kind == kind) {
            found = true;
            n += c.invocations;
            ticks += c.time_ticks;
        }
        found.then(|| (n, self.ms(ticks)))
    }
}

/// The counters' difference between two reads of one JVM life.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterInterval {
    /// Seconds between the two reads, by the JVM's clock (sampled every
    /// 50 ms by default: the figure is that coarse); `null` when the JVM
    /// publishes no clock (JDK 25): the reader's own clock must serve.
    pub seconds: Option<f64>,
    /// Pauses per kind in the interval: (kind, count, ms).
    pub pauses: Vec<KindDelta>,
    /// Safepoints begun in the interval.
    pub safepoints: u64,
    /// Time to reach them, ticks.
    pub safepoint_sync_ticks: u64,
    /// `sun.rt.safepointTime` grown by, ticks.
    pub safepoint_time_ticks: u64,
}

/// One kind's pauses in an interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KindDelta {
    /// The kind.
    pub kind: CollectorKind,
    /// Pauses.
    pub count: u64,
    /// Their time, ms.
    pub ms: f64,
}

/// Why two reads make no interval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoInterval {
    /// The two reads are of different JVM lives (a restart between them).
    #[error("the JVM restarted between the two reads (started at {before} ms, then {after} ms)")]
    Restarted {
        /// The first read's JVM start.
        before: i64,
        /// The second's.
        after: i64,
    },
    /// A counter went backwards, which no JVM does: one of the reads is
    /// not what it claims (a torn copy, another file).
    #[error("{name} went back from {before} to {after}")]
    Backwards {
        /// The counter.
        name: String,
        /// First read.
        before: u64,
        /// Second read.
        after: u64,
    },
    /// The collectors changed (names or number) between the reads.
    #[error("the collectors changed between the two reads")]
    CollectorsChanged,
}

fn delta(name: &str, before: u64, after: u64) -> Result<u64, NoInterval> {
    after
        .checked_sub(before)
        .ok_or_else(|| NoInterval::Backwards {
            name: name.to_string(),
            before,
            after,
        })
}

/// The difference of two reads of one JVM, `before` first. Pure.
pub fn interval(
    before: &CounterSnapshot,
    after: &CounterSnapshot,
) -> Result<CounterInterval, NoInterval> {
    if before.jvm_start_ms != after.jvm_start_ms || before.frequency_hz != after.frequency_hz {
        return Err(NoInterval::Restarted {
            before: before.jvm_start_ms,
            after: after.jvm_start_ms,
        });
    }
    if before.collectors.len() != after.collectors.len()
        || before
            .collectors
            .iter()
            .zip(&after.collectors)
            .any(|(a, b)| a.name != b.name)
    {
        return Err(NoInterval::CollectorsChanged);
    }
    let mut kinds: Vec<KindDelta> = Vec::new();
    for (a, b) in before.collectors.iter().zip(&after.collectors) {
        let n = delta(
            &format!("sun.gc.collector.{}.invocations", a.index),
            a.invocations,
            b.invocations,
        )?;
        let t = delta(
            &format!("sun.gc.collector.{}.time", a.index),
            a.time_ticks,
            b.time_ticks,
        )?;
        match kinds.iter_mut().find(|k| k.kind == a.kind) {
            Some(k) => {
                k.count += n;
                k.ms += after.ms(t);
            }
            None => kinds.push(KindDelta {
                kind: a.kind,
                count: n,
                ms: after.ms(t),
            }),
        }
    }
    kinds.sort_by_key(|k| k.kind);
    let seconds = match (before.uptime_ticks, after.uptime_ticks) {
        (Some(b), Some(a)) => {
            Some(delta("sun.os.hrt.ticks", b, a)? as f64 / after.frequency_hz as f64)
        }
        _ => None,
    };
    Ok(CounterInterval {
        seconds,
        pauses: kinds,
        safepoints: delta(
            "sun.rt.safepoints",
            before.safepoints.count,
            after.safepoints.count,
        )?,
        safepoint_sync_ticks: delta(
            "sun.rt.safepointSyncTime",
            before.safepoints.sync_ticks,
            after.safepoints.sync_ticks,
        )?,
        safepoint_time_ticks: delta(
            "sun.rt.safepointTime",
            before.safepoints.time_ticks,
            after.safepoints.time_ticks,
        )?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::jvm::perfdata::format::{ByteOrder, build, parse};

    /// A region with a JDK 17 G1's counters: (young n, ticks), (full n,
    /// ticks), (cycle n, ticks), (safepoints, sync, time), uptime ticks.
    pub(crate) fn g1_region(
        young: (i64, i64),
        full: (i64, i64),
        cycle: (i64, i64),
        sp: (i64, i64, i64),
        uptime: i64,
        jdk: &str,
    ) -> Vec<u8> {
        build(
            ByteOrder::Little,
            &[
                ("sun.os.hrt.frequency", 6, 1, 1_000_000_000),
                ("sun.rt.createVmBeginTime", 1, 1, 1_700_000_000_000),
                ("sun.os.hrt.ticks", 3, 3, uptime),
                ("sun.gc.collector.0.invocations", 4, 2, young.0),
                ("sun.gc.collector.0.time", 3, 2, young.1),
                ("sun.gc.collector.1.invocations", 4, 2, full.0),
                ("sun.gc.collector.1.time", 3, 2, full.1),
                ("sun.gc.collector.2.invocations", 4, 2, cycle.0),
                ("sun.gc.collector.2.time", 3, 2, cycle.1),
                ("sun.rt.safepoints", 4, 2, sp.0),
                ("sun.rt.safepointSyncTime", 3, 2, sp.1),
                ("sun.rt.safepointTime", 3, 2, sp.2),
                ("sun.gc.generation.0.space.0.capacity", 2, 3, 100 << 20),
                ("sun.gc.generation.0.space.0.used", 2, 3, 10 << 20),
                ("sun.gc.generation.0.space.1.capacity", 2, 3, 0),
                ("sun.gc.generation.0.space.1.used", 2, 3, 0),
                ("sun.gc.generation.0.space.2.capacity", 2, 3, 4 << 20),
                ("sun.gc.generation.0.space.2.used", 2, 3, 1 << 20),
                ("sun.gc.generation.1.space.0.capacity", 2, 3, 152 << 20),
                ("sun.gc.generation.1.space.0.used", 2, 3, 50 << 20),
            ],
            &[
                ("java.property.java.vm.specification.version", jdk),
                ("sun.gc.collector.0.name", "G1 young collection pauses"),
                ("sun.gc.collector.1.name", "G1 full collection pauses"),
                ("sun.gc.collector.2.name", "G1 concurrent cycle pauses"),
                ("sun.gc.lastCause", "G1 Evacuation Pause"),
                ("sun.gc.cause", "No GC"),
                ("sun.gc.policy.name", "GarbageFirst"),
            ],
        )
    }

    pub(crate) fn snap(
        young: (i64, i64),
        full: (i64, i64),
        cycle: (i64, i64),
        sp: (i64, i64, i64),
        uptime: i64,
    ) -> CounterSnapshot {
        let pd = parse(&g1_region(young, full, cycle, sp, uptime, "17")).unwrap();
        CounterSnapshot::from_perf_data(&pd).unwrap()
    }

    #[test]
    fn collectors_by_name_on_every_jdk() {
        for (name, kind) in [
            ("G1 young collection pauses", CollectorKind::Young),
            ("G1 incremental collections", CollectorKind::Young),
            ("G1 full collection pauses", CollectorKind::Full),
            ("G1 stop-the-world full collections", CollectorKind::Full),
            ("G1 concurrent cycle pauses", CollectorKind::ConcurrentCycle),
            ("G1 stop-the-world phases", CollectorKind::ConcurrentCycle),
            ("PSScavenge", CollectorKind::Young),
            ("PSParallelCompact", CollectorKind::Full),
            ("Shenandoah Pauses", CollectorKind::Other),
        ] {
            assert_eq!(CollectorKind::of_name(name), kind, "{name}");
        }
        assert_eq!(jdk_major("1.8"), Some(8));
        assert_eq!(jdk_major("25"), Some(25));
    }

    #[test]
    fn a_snapshot_in_milliseconds() {
        let s = snap(
            (10, 25_000_000),
            (1, 300_000_000),
            (4, 2_000_000),
            (20, 1_000_000, 400_000_000),
            5_000_000_000,
        );
        assert_eq!(s.jdk, Some(17));
        assert_eq!(s.uptime_s, Some(5.0));
        assert_eq!(s.pauses(CollectorKind::Young), Some((10, 25.0)));
        assert_eq!(s.pauses(CollectorKind::Full), Some((1, 300.0)));
        assert_eq!(s.pauses(CollectorKind::ConcurrentCycle), Some((4, 2.0)));
        assert_eq!(s.pauses(CollectorKind::Other), None);
        assert_eq!(s.heap.capacity(), Some(256 << 20));
        assert_eq!(s.heap.used(), Some(61 << 20));
        assert_eq!(s.last_cause.as_deref(), Some("G1 Evacuation Pause"));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["collectors"][0]["kind"], "young");
    }

    #[test]
    fn the_difference_of_two_reads() {
        let a = snap(
            (10, 25_000_000),
            (1, 3),
            (4, 2),
            (20, 1_000_000, 4),
            5_000_000_000,
        );
        let b = snap(
            (15, 40_000_000),
            (1, 3),
            (6, 3_000_002),
            (28, 3_000_000, 10),
            65_000_000_000,
        );
        let i = interval(&a, &b).unwrap();
        assert_eq!(i.seconds, Some(60.0));
        assert_eq!(
            i.pauses[0],
            KindDelta {
                kind: CollectorKind::Young,
                count: 5,
                ms: 15.0
            }
        );
        assert_eq!(i.pauses[1].count, 0);
        assert_eq!(i.pauses[2].kind, CollectorKind::ConcurrentCycle);
        assert_eq!(i.pauses[2].count, 2);
        assert_eq!(i.safepoints, 8);
        assert_eq!(i.safepoint_sync_ticks, 2_000_000);
        assert!(matches!(
            interval(&b, &a),
            Err(NoInterval::Backwards { .. })
        ));
        let mut c = b.clone();
        c.jvm_start_ms += 1;
        assert!(matches!(
            interval(&a, &c),
            Err(NoInterval::Restarted { .. })
        ));
        let mut d = b.clone();
        d.collectors[0].name = "x".into();
        assert_eq!(interval(&a, &d), Err(NoInterval::CollectorsChanged));
    }

    #[test]
    fn impossible_values_are_refused() {
        let pd = parse(&g1_region((-1, 0), (0, 0), (0, 0), (0, 0, 0), 1, "17")).unwrap();
        assert!(matches!(
            CounterSnapshot::from_perf_data(&pd),
            Err(SnapshotError::Impossible { .. })
        ));
        let pd = parse(&build(
            ByteOrder::Little,
            &[("sun.os.hrt.frequency", 6, 1, 1)],
            &[],
        ))
        .unwrap();
        assert_eq!(
            CounterSnapshot::from_perf_data(&pd),
            Err(SnapshotError::Missing("sun.rt.createVmBeginTime"))
        );
    }
}
