//! The events a G1 log parser produces, whatever the log's format (JDK 8
//! `-XX:+PrintGCDetails` or JDK 9+ unified logging). Statistics, service-level
//! checks and the agent consume only these, never raw lines.

use serde::Serialize;

/// When something happened, as far as the log's decorators tell.
///
/// Unified logging may carry wall-clock time (`time`, `utctime`, `timemillis`,
/// `timenanos`), JVM uptime (`uptime`, `uptimemillis`, `uptimenanos`), both, or
/// neither (`none`, `tags`); JDK 8 has uptime (`PrintGCTimeStamps`) and/or a
/// date (`PrintGCDateStamps`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Stamp {
    /// Wall-clock time, milliseconds since the Unix epoch (UTC).
    pub wall_ms: Option<i64>,
    /// JVM uptime in milliseconds.
    pub uptime_ms: Option<f64>,
}

impl Stamp {
    /// True when the line carried no time at all.
    pub fn is_empty(&self) -> bool {
        self.wall_ms.is_none() && self.uptime_ms.is_none()
    }
}

/// The kind of a stop-the-world pause, named as in the JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseKind {
    /// `Pause Young (Normal)`; JDK 8 `GC pause (...) (young)`.
    Young,
    /// `Pause Young (Concurrent Start)`; JDK 8 `(young) (initial-mark)`.
    ConcurrentStart,
    /// `Pause Young (Prepare Mixed)` (JDK 12+).
    PrepareMixed,
    /// `Pause Young (Mixed)`; JDK 8 `GC pause (...) (mixed)`.
    Mixed,
    /// `Pause Remark`; JDK 8 `[GC remark`.
    Remark,
    /// `Pause Cleanup`; JDK 8 `[GC cleanup`.
    Cleanup,
    /// `Pause Full (...)`; JDK 8 `[Full GC (...)`.
    Full,
}

impl PauseKind {
    /// Every kind, in reporting order.
    pub const ALL: [PauseKind; 7] = [
        PauseKind::Young,
        PauseKind::ConcurrentStart,
        PauseKind::PrepareMixed,
        PauseKind::Mixed,
        PauseKind::Remark,
        PauseKind::Cleanup,
        PauseKind::Full,
    ];

    /// The JSON / table name (`young`, `concurrent_start`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PauseKind::Young => "young",
            PauseKind::ConcurrentStart => "concurrent_start",
            PauseKind::PrepareMixed => "prepare_mixed",
            PauseKind::Mixed => "mixed",
            PauseKind::Remark => "remark",
            PauseKind::Cleanup => "cleanup",
            PauseKind::Full => "full",
        }
    }

    /// True for the kinds the JVM counts under the "G1 Young Generation" MXBean.
    pub fn is_young_collection(self) -> bool {
        matches!(
            self,
            PauseKind::Young
                | PauseKind::ConcurrentStart
                | PauseKind::PrepareMixed
                | PauseKind::Mixed
        )
    }
}

/// Heap occupancy around a pause, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeapChange {
    /// Occupied before the pause.
    pub before_kb: u64,
    /// Occupied after the pause.
    pub after_kb: u64,
    /// Committed heap size after the pause.
    pub capacity_kb: u64,
}

/// The cause of a pause whose log line names none (remark, cleanup, JDK 7).
pub const UNKNOWN_CAUSE: &str = "unknown";

/// One stop-the-world pause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pause {
    /// Which pause.
    pub kind: PauseKind,
    /// Why it ran: `G1 Evacuation Pause`, `G1 Humongous Allocation`, `System.gc()`, ...
    pub cause: String,
    /// When the pause ended (unified logging prints the summary line at the end).
    pub at: Stamp,
    /// Its duration in milliseconds, as the log prints it.
    pub duration_ms: f64,
    /// Heap before/after/capacity, when the log shows it.
    pub heap: Option<HeapChange>,
    /// The `GC(N)` id (unified logging) when present.
    pub gc_id: Option<u64>,
    /// Evacuation failure / to-space exhausted / to-space overflow in this pause.
    pub evacuation_failure: bool,
    /// GC worker threads the pause used, when the log says (`Using N
    /// workers of M`, JDK 8 `[Parallel Time: ..., GC Workers: N]`).
    pub workers: Option<u32>,
}

/// CPU time the whole JVM process used during one pause, beside its wall
/// time: unified `gc,cpu` (`User=0.01s Sys=0.00s Real=0.01s`) or JDK 8
/// `[Times: user=0.01 sys=0.00, real=0.01 secs]`. The JVM prints each with
/// two decimals (10 ms steps). It always follows the [`Pause`] it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PauseCpu {
    /// The `GC(N)` id, to match the pause (unified logging).
    pub gc_id: Option<u64>,
    /// User CPU time, ms.
    pub user_ms: f64,
    /// System CPU time, ms.
    pub sys_ms: f64,
    /// Wall time the JVM measured beside the CPU time, ms.
    pub real_ms: f64,
}

/// One safepoint: every thread stopped, for a GC or any other VM operation.
/// JDK 13+ `Safepoint "NAME", ... Reaching safepoint: N ns, ... Total: N ns`;
/// JDK 8-12 `Total time for which application threads were stopped: X
/// seconds, Stopping threads took: Y seconds`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Safepoint {
    /// When the line was written (after the threads resumed).
    pub at: Stamp,
    /// The VM operation (`G1CollectForAllocation`, `RevokeBias`, ...), when
    /// the log names it (JDK 13+, or JDK 9-12 `Entering safepoint region:`).
    pub operation: Option<String>,
    /// Time from the request until every thread had stopped, ms.
    pub reaching_ms: f64,
    /// Time the application threads were stopped in all, ms (the time to
    /// reach the safepoint included).
    pub total_ms: f64,
}

impl Safepoint {
    /// True when the operation is a garbage collection (G1's own, or any
    /// collector's `Collect...`); `None` when the log does not name it.
    pub fn is_gc(&self) -> Option<bool> {
        self.operation.as_deref().map(|op| {
            op.starts_with("G1")
                || op.contains("Collect")
                || op == "GC_HeapInspection"
                || op.contains("GCFailedAllocation")
        })
    }
}

/// A concurrent phase that ran beside the application (not a pause).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConcurrentPhase {
    /// The phase: `Concurrent Cycle`, `Concurrent Mark`, `Concurrent Undo Cycle`, ...
    pub name: String,
    /// When it ended.
    pub at: Stamp,
    /// How long it ran, in milliseconds.
    pub duration_ms: f64,
}

/// JVM facts a log states about itself (`gc,init` lines, JDK 8 `CommandLine flags:`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JvmInfo {
    /// JVM version string, when printed.
    pub version: Option<String>,
    /// The command-line flags, when printed (JDK 8 `CommandLine flags:`).
    pub flags: Vec<String>,
    /// Initial heap capacity in KiB (`Heap Initial Capacity`, `-XX:InitialHeapSize`).
    pub initial_heap_kb: Option<u64>,
    /// Minimum heap capacity in KiB (`Heap Min Capacity`, JDK 13+): what
    /// the heap may shrink to. JDK 8 logs do not print it.
    pub min_heap_kb: Option<u64>,
    /// Maximum heap capacity in KiB.
    pub max_heap_kb: Option<u64>,
    /// The collector the log says is in use (`G1`).
    pub collector: Option<String>,
    /// Parallel GC threads (`Parallel Workers: N`, JDK 17+ `gc,init`;
    /// `-XX:ParallelGCThreads=N` in JDK 8's flags).
    pub parallel_workers: Option<u32>,
}

/// Everything a parser reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum GcEvent {
    /// A new JVM started writing this log (first header, or a restart inside the file).
    JvmStart(JvmInfo),
    /// A stop-the-world pause.
    Pause(Pause),
    /// A completed concurrent phase.
    Concurrent(ConcurrentPhase),
    /// A humongous allocation was reported (the cause of a pause, or a region count increase).
    HumongousAllocation {
        /// When.
        at: Stamp,
    },
    /// The CPU time of the pause just emitted.
    PauseCpu(PauseCpu),
    /// A safepoint ended.
    Safepoint(Safepoint),
}
