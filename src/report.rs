//! The versioned report document the agent sends and the collector stores.
//! One JSON object per host per interval; `schema` names its version so the
//! collector can refuse what it does not understand (422). Fields added
//! within a version are ignored by older readers, and every field added
//! within a version is optional to readers (`#[serde(default)]`), so a new
//! collector reads an old agent's report.
//!
//! Roles (added within schema 1): a host runs brokers, KRaft controllers,
//! combined nodes and ZooKeeper servers side by side. `roles` lists each
//! role the agent expects here with its profile, its processes and its
//! `process` finding's key; each entry of `jvms` names the roles its JVM
//! plays (`roles`) and the profile that judged it (`profile`). The kernel
//! and process findings of every role are merged into `findings` (a
//! setting two profiles check alike appears once), so an older collector
//! still counts every drift; `profile` names every profile audited,
//! joined by `+` (`kafka-broker+zookeeper`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Summary};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The range of a report's interval (`interval_seconds`): a report a second
/// at most, a day apart at most. The agent's `interval` takes no other, and
/// the collector refuses a report outside it (a host that could never go
/// stale, or would be stale at every look). Here, in the contract both
/// sides speak, so neither imports the other for it.
pub const INTERVAL_RANGE: (std::time::Duration, std::time::Duration) = (
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(24 * 3600),
);

/// One report from one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// Unique id (UUID v4 text); the collector drops a repeated id.
    pub id: String,
    /// When the report was built, RFC 3339 UTC.
    pub time: String,
    /// The agent's interval in seconds (the collector flags a host stale after three missed ones).
    pub interval_seconds: u64,
    /// Who sent it.
    pub host: HostInfo,
    /// The profile audited against; with several roles, every role's
    /// profile joined by `+` (`kafka-broker+zookeeper`), in `roles` order.
    pub profile: String,
    /// The kernel audit's findings.
    pub findings: Vec<Finding>,
    /// Counts of `findings` by status.
    pub summary: Summary,
    /// The Kafka-family JVMs found on the host (brokers, controllers,
    /// combined nodes, ZooKeeper servers) and any other JVM `jvm_match`
    /// names, with their GC statistics.
    #[serde(default)]
    pub jvms: Vec<JvmReport>,
    /// The roles the agent expects on this host, each audited against its
    /// own profile. Added within schema 1: absent from older agents (whose
    /// report judged one role, named in `profile`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleReport>,
    /// The agent's own state.
    #[serde(default)]
    pub agent: AgentInfo,
    /// The cluster this host belongs to, and where that came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    /// What stalls a JVM from outside, over the interval: pressure stall
    /// information, vmstat deltas (absent from older agents, and in the
    /// first report, which has no earlier sample).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_pressure: Option<crate::host::pressure::HostPressure>,
    /// What the host offers its brokers (network links, broker ids, data
    /// directory sizes), for capacity planning. Added within schema 1;
    /// absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
}

/// One role the agent expects on the host: seen running since it started
/// (or, when nothing runs, the default profile's broker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleReport {
    /// `broker` (combined nodes too: their JVMs name both roles),
    /// `controller` (dedicated KRaft controllers) or `zookeeper`; a
    /// profile named in the agent's configuration has no role: its name
    /// is here.
    pub role: String,
    /// The profile that judged it.
    pub profile: String,
    /// Why the agent expects it: `a broker runs here (pid 12)`, or since
    /// when it has been missing.
    pub because: String,
    /// Its processes now; empty when none runs.
    #[serde(default)]
    pub pids: Vec<i32>,
    /// Whether one of its processes runs.
    pub running: bool,
    /// When none runs: since when (RFC 3339 UTC, the first report that
    /// found none since the agent started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_since: Option<String>,
    /// The key of its `process` finding in `findings` (`running`,
    /// `running (controller)`, `running (zookeeper)`): a drift there says
    /// it stopped.
    pub process_key: String,
    /// Counts of its own findings by status: its audit's (kernel settings
    /// its profile checks included) and its JVMs'.
    pub summary: Summary,
    /// `[check, key]` of every finding its audit made (in `findings`):
    /// a key that vanishes from the next report while this role is not
    /// running went with it, it was not fixed. Its JVMs' findings are
    /// theirs in `jvms` (by `roles`).
    #[serde(default)]
    pub finding_keys: Vec<[String; 2]>,
}

/// The hardware a host offers its Kafka brokers: what Cruise Control's
/// capacity file needs, beside [`HostInfo::cpus`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hardware {
    /// Physical network interfaces (those backed by a device), by name.
    pub network: Vec<NetLink>,
    /// The Kafka brokers running here.
    pub brokers: Vec<BrokerHardware>,
}

/// One physical network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetLink {
    /// Interface name (`eth0`, `ens5`).
    pub name: String,
    /// Link speed in Mbit/s (`/sys/class/net/NAME/speed`); `null` when the
    /// kernel does not know it (link down, a driver that does not say).
    pub speed_mbps: Option<u64>,
}

/// One broker's identity and storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHardware {
    /// Its id: `node.id` or `broker.id` from its configuration, else from
    /// `meta.properties`; `null` when neither says.
    pub broker_id: Option<i64>,
    /// Where the id came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_id_from: Option<String>,
    /// Its log directories (`log.dirs`, else `log.dir`, else Kafka's default).
    pub log_dirs: Vec<LogDirSize>,
}

/// One log directory and the size of the file system holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDirSize {
    /// The path as the broker names it.
    pub path: String,
    /// Size of its file system in bytes; `null` when the directory does
    /// not exist or cannot be measured.
    pub total_bytes: Option<u64>,
}

/// A host's cluster: the agent's `cluster` setting, else Kafka's own
/// `cluster.id` from `meta.properties` in the broker's first data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// The cluster's name or id.
    pub name: String,
    /// `config` (the agent's setting) or `meta.properties` (with its path).
    pub from: String,
}

/// Host identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// `/etc/machine-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    /// Kernel release.
    #[serde(default)]
    pub kernel: String,
    /// Logical CPUs.
    #[serde(default)]
    pub cpus: u32,
    /// Physical memory in bytes.
    #[serde(default)]
    pub memory_bytes: u64,
}

/// One JVM: a broker, controller, combined node or ZooKeeper server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JvmReport {
    /// Process id.
    pub pid: i32,
    /// A short summary of the command line (main class and key flags).
    pub command: String,
    /// The roles it plays: `["broker"]`, `["controller"]`, `["broker",
    /// "controller"]` (a combined node), `["zookeeper"]`; empty for a JVM
    /// only `jvm_match` or `gc_logs` names. Added within schema 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The profile its GC service levels, flag rules and timeout budget
    /// were judged by (its role's). Added within schema 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Its configuration file (`server.properties`, `zoo.cfg`), as its
    /// command line names it. Added within schema 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// JVM flags from the command line.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Flag rule and GC service-level findings (`check` = `jvm` or `gc`).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The GC log files followed.
    #[serde(default)]
    pub gc_logs: Vec<String>,
    /// GC statistics for the last interval and for the JVM's life so far.
    pub gc: Option<GcReport>,
    /// The JVM exited since the last report: this is its final entry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exited: bool,
    /// The JVM's own counters (HotSpot's perf-data file, what `jstat`
    /// reads) beside its log: their figures, the log checked against
    /// them, time to safepoint. Added within schema 1: absent from older
    /// agents (and for a JVM that exited, or a log named only by
    /// `gc_logs`), ignored by older collectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<JvmCounters>,
}

/// The states of [`JvmCounters::state`].
pub mod counters_state {
    /// Read: the figures are there.
    pub const READ: &str = "read";
    /// Switched off by a JVM flag (`-XX:+PerfDisableSharedMem`,
    /// `-XX:-UsePerfData`): a choice, not an error.
    pub const DISABLED: &str = "disabled";
    /// The file is there, but the agent may not read it (HotSpot makes it
    /// mode 0600, the JVM's user's): `remedy` says what grants it.
    pub const PERMISSION_DENIED: &str = "permission_denied";
    /// The JVM has its own `/tmp` (a container, `PrivateTmp=`), which the
    /// kernel shows only to a reader with ptrace access to it.
    pub const NAMESPACE_DENIED: &str = "namespace_denied";
    /// Not read for another reason (no file yet, or one that is not
    /// perf data: a finding then names it).
    pub const UNAVAILABLE: &str = "unavailable";
}

/// A JVM's own counters as the agent read them, once per interval (and
/// between reports, for the worst stretch). Every field but `state` is
/// optional both ways.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JvmCounters {
    /// One of [`counters_state`]: `read`, `disabled`, `permission_denied`,
    /// `namespace_denied`, `unavailable` (a newer agent may add others).
    pub state: String,
    /// Why they were not read, or the flag that switched them off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What gives the agent access, when it is a matter of access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// The file read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The JDK's major version, as the counters say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jdk: Option<u32>,
    /// The JVM's GC log is missing or cannot be read: these are its only
    /// GC figures (counts, times and rates; percentiles need the log).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only_witness: bool,
    /// Since the previous report (`window` = `last_interval`); `null` at
    /// the first read of a JVM life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<CounterWindow>,
    /// Since the JVM started (`window` = `jvm_lifetime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<CounterWindow>,
    /// The log's lifetime totals against the counters; `null` without a
    /// readable log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<CounterCheck>,
}

/// The counters' figures over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterWindow {
    /// `last_interval` or `jvm_lifetime`.
    pub window: String,
    /// The window's length, s: by the agent's clock for an interval, the
    /// JVM's uptime for its life.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Pauses by kind: `young` (young and mixed), `full`,
    /// `concurrent_cycle` (Remark and Cleanup; absent on JDK 8).
    #[serde(default)]
    pub pauses: BTreeMap<String, CounterPauses>,
    /// All pauses' time per second of the window, ms/s.
    #[serde(default)]
    pub gc_ms_per_second: Option<f64>,
    /// Time to safepoint and time at safepoints.
    #[serde(default)]
    pub safepoints: CounterSafepoints,
}

/// One kind's pauses, as the JVM counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterPauses {
    /// Pauses.
    pub count: u64,
    /// Their time, ms.
    pub time_ms: f64,
}

/// Safepoints over a window, from the counters: how many, time to reach
/// them, time at them; means per safepoint, and the worst mean between
/// two of the agent's reads (a stall diluted over a whole interval shows
/// there).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterSafepoints {
    /// Safepoints begun.
    pub count: u64,
    /// Time to reach them, ms.
    pub reaching_ms: f64,
    /// Time stopped once reached, ms; `null` when the JDK is unknown.
    #[serde(default)]
    pub at_safepoint_ms: Option<f64>,
    /// Mean time to reach one, ms.
    #[serde(default)]
    pub mean_reaching_ms: Option<f64>,
    /// Mean time at one, ms.
    #[serde(default)]
    pub mean_at_safepoint_ms: Option<f64>,
    /// The worst mean time to reach one between two successive reads, ms.
    #[serde(default)]
    pub worst_mean_reaching_ms: Option<f64>,
    /// The worst mean time at one between two successive reads, ms.
    #[serde(default)]
    pub worst_mean_at_safepoint_ms: Option<f64>,
    /// Stretches between reads that held a safepoint.
    #[serde(default)]
    pub stretches: u64,
    /// Why a figure is `null`, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_because: Option<String>,
}

/// The log checked against the counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterCheck {
    /// Every figure compared agreed.
    pub verified: bool,
    /// In words: `verified against the JVM's counters`, the differences
    /// with both figures, or why nothing was compared.
    pub summary: String,
    /// The figures.
    #[serde(default)]
    pub checks: Vec<CounterFigure>,
    /// Why nothing could be compared, when so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_comparable: Option<String>,
}

/// One figure from both witnesses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterFigure {
    /// `young pauses`, `young pause time`, `time to safepoint`, ...
    pub figure: String,
    /// The log's value.
    pub log: f64,
    /// The counters' value.
    #[serde(default)]
    pub jvm: Option<f64>,
    /// `pauses`, `safepoints` or `ms`.
    pub unit: String,
    /// How far apart they may be and agree.
    #[serde(default)]
    pub tolerance: f64,
    /// `verified`, `differs` or `not_compared`.
    pub status: String,
    /// For a difference, both figures and the likely cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What reports say of a log that agrees with the counters.
pub const VERIFIED_TEXT: &str = "verified against the JVM's counters";

/// GC statistics over two windows. The JVM's GC findings (`check` = `gc`)
/// are checked over `total`, the lifetime window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcReport {
    /// Since the previous report (`window` = `last_interval`).
    pub interval: GcWindow,
    /// Since the JVM started, as far as its logs reach (`window` = `jvm_lifetime`).
    pub total: GcWindow,
    /// GC ids of the JVM's life (from 0 to the highest read) that no line
    /// the agent read named: collections whose lines were deleted (the log
    /// set rotated past them, or they were written before the agent started
    /// and rotated away) before they could be read. `total` lacks exactly
    /// these collections; 0 means it is complete. `null` when the log names
    /// no GC ids (JDK 8) or none yet. Added within schema 1.
    #[serde(default)]
    pub gc_ids_missing: Option<u64>,
    /// What the agent made of the log's lines since it began following
    /// them: `unrecognised` may hold GC events it could not read; `other`
    /// is known output of other parts of the JVM. Absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<GcLogLines>,
}

/// The lines of a followed GC log, by what they were (see `tunekeeper gc`'s
/// `files`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GcLogLines {
    /// Lines read.
    pub read: u64,
    /// Lines that may hold a GC event the agent could not read.
    pub unrecognised: u64,
    /// Lines known to be other JVM output (class loading, JIT, OS, ...).
    pub other: u64,
    /// Those by kind (`class`, `os`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_kinds: BTreeMap<String, u64>,
}

pub use crate::gc::hist::PauseSummary;

/// GC statistics over one window, the same figures `tunekeeper gc --format json` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GcWindow {
    /// Which window the figures cover: `last_interval` or `jvm_lifetime`
    /// (empty in reports of agents older than this field).
    #[serde(default)]
    pub window: String,
    /// By kind: `young`, `concurrent_start`, `prepare_mixed`, `mixed`, `remark`, `cleanup`, `full`.
    pub pauses: BTreeMap<String, PauseSummary>,
    /// All kinds together.
    pub overall: PauseSummary,
    /// Wall-clock seconds the window covers, when the log carries time.
    pub wall_seconds: Option<f64>,
    /// GC pause milliseconds per second of wall time.
    pub gc_ms_per_second: Option<f64>,
    /// The worst one-minute window's GC ms per second.
    pub worst_minute_gc_ms_per_second: Option<f64>,
    /// Why the rates are `null`, when they are (no pause in the window,
    /// a stretch of log too short, a JVM up less than a minute). Added
    /// within schema 1: absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates_null_because: Option<String>,
    /// Full GCs.
    pub full_gcs: u64,
    /// Evacuation failures.
    pub evacuation_failures: u64,
    /// Humongous allocations.
    pub humongous_allocations: u64,
    /// Pauses that waited rather than worked (absent from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalls: Option<GcStalls>,
    /// Safepoints: time to reach them, stops that are not GC (absent from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safepoints: Option<GcSafepoints>,
}

/// Stalled pauses of a window (see `tunekeeper gc`'s `stalls`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GcStalls {
    /// Pauses with CPU times in the log.
    pub pauses_with_cpu: u64,
    /// Stalled pauses; `null` without CPU times.
    pub stalled_pauses: Option<u64>,
    /// Their wall time, ms.
    pub stalled_ms: Option<f64>,
    /// Their share of the pause time of pauses with CPU times, percent.
    pub stalled_share_percent: Option<f64>,
    /// The longest, longest first.
    pub worst: Vec<StalledPauseReport>,
    /// Why the figures are `null`, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_because: Option<String>,
}

/// One stalled pause, with what the host showed around it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StalledPauseReport {
    /// `young`, `mixed`, `full`, ...
    pub kind: String,
    /// Wall-clock end, epoch ms, when the log has it.
    pub wall_ms: Option<i64>,
    /// JVM uptime at its end, ms, when the log has it.
    pub uptime_ms: Option<f64>,
    /// Wall time, ms.
    pub duration_ms: f64,
    /// CPU time of the process during it, ms.
    pub cpu_ms: f64,
    /// GC threads the CPU time was divided by.
    pub threads: u32,
    /// What the host showed in the interval that held it (the nearest
    /// sample), in words; set by the agent for the interval's pauses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl GcStalls {
    /// The report's view of the analysis' figures.
    pub fn of(s: &crate::gc::stall::StallSummary) -> GcStalls {
        GcStalls {
            pauses_with_cpu: s.pauses_with_cpu,
            stalled_pauses: s.stalled_pauses,
            stalled_ms: s.stalled_ms,
            stalled_share_percent: s.stalled_share_percent,
            worst: s
                .worst
                .iter()
                .map(|w| StalledPauseReport {
                    kind: w.kind.as_str().to_owned(),
                    wall_ms: w.wall_ms,
                    uptime_ms: w.uptime_ms,
                    duration_ms: w.duration_ms,
                    cpu_ms: w.cpu_ms,
                    threads: w.threads,
                    host: None,
                })
                .collect(),
            null_because: s.null_because.clone(),
        }
    }
}

/// Safepoint figures of a window (see `tunekeeper gc`'s `safepoints`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GcSafepoints {
    /// Safepoints logged.
    pub count: u64,
    /// Time to reach the safepoint, p99, ms; `null` without safepoint lines.
    pub time_to_safepoint_p99_ms: Option<f64>,
    /// ... the longest, ms.
    pub time_to_safepoint_max_ms: Option<f64>,
    /// Stops not for a GC: how many.
    pub non_gc_count: Option<u64>,
    /// ... their time, ms.
    pub non_gc_stopped_ms: Option<f64>,
    /// The longest stop of all, ms.
    pub max_stopped_ms: Option<f64>,
    /// Why the figures are `null`, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_because: Option<String>,
}

impl GcSafepoints {
    /// The report's view of the analysis' figures.
    pub fn of(s: &crate::gc::stall::SafepointSummary) -> GcSafepoints {
        GcSafepoints {
            count: s.count,
            time_to_safepoint_p99_ms: s.time_to_safepoint.map(|t| t.p99_ms),
            time_to_safepoint_max_ms: s.time_to_safepoint.map(|t| t.max_ms),
            non_gc_count: s.non_gc_count,
            non_gc_stopped_ms: s.non_gc_stopped_ms,
            max_stopped_ms: s.max_stopped_ms,
            null_because: s.null_because.clone(),
        }
    }
}

/// The agent's own counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Agent version.
    #[serde(default)]
    pub version: String,
    /// Reports dropped from a full spool since the agent started.
    #[serde(default)]
    pub spool_dropped_total: u64,
    /// Reports waiting in the spool when this one was built.
    #[serde(default)]
    pub spool_depth: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_fields_from_newer_agents() {
        let r = Report {
            schema: SCHEMA_VERSION,
            id: "00000000-0000-4000-8000-000000000000".into(),
            time: "2026-11-25T06:00:00Z".into(),
            interval_seconds: 60,
            host: HostInfo {
                hostname: "b1".into(),
                ..HostInfo::default()
            },
            profile: "kafka-broker".into(),
            findings: vec![],
            summary: Summary::default(),
            jvms: vec![],
            roles: vec![],
            agent: AgentInfo::default(),
            cluster: Some(Cluster {
                name: "MkU3OEVBNTcwNTJENDM2Qg".into(),
                from: "meta.properties (/data1/kafka/meta.properties)".into(),
            }),
            host_pressure: None,
            hardware: None,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), r);
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["surprise"] = 1.into();
        // Additive fields keep the schema version; the collector stores the raw document.
        assert_eq!(serde_json::from_value::<Report>(v).unwrap(), r);
    }

    /// Roles, added within schema 1: a report with them round-trips, and
    /// an older agent's report (one role, JVMs without roles) still reads,
    /// its new fields empty.
    #[test]
    fn roles_are_optional_both_ways() {
        let old = serde_json::json!({
            "schema": 1, "id": "x", "time": "2026-11-25T06:00:00Z", "interval_seconds": 60,
            "host": {"hostname": "b1"}, "profile": "kafka-broker", "findings": [],
            "summary": {"total": 0, "ok": 0, "drift": 0, "unreadable": 0, "not_applicable": 0},
            "jvms": [{"pid": 7, "command": "kafka.Kafka", "gc": null}]
        });
        let r: Report = serde_json::from_value(old).unwrap();
        assert!(r.roles.is_empty() && r.jvms[0].roles.is_empty() && r.jvms[0].profile.is_none());
        let json = serde_json::to_value(&r).unwrap();
        assert!(
            json.get("roles").is_none() && json["jvms"][0].get("roles").is_none(),
            "absent, not empty, when unknown: {json}"
        );

        let mut r = r;
        r.roles.push(RoleReport {
            role: "zookeeper".into(),
            profile: "zookeeper".into(),
            because: "a zookeeper runs here (pid 8)".into(),
            pids: vec![],
            running: false,
            missing_since: Some("2026-11-25T06:00:00Z".into()),
            process_key: "running (zookeeper)".into(),
            summary: Summary::default(),
            finding_keys: vec![["process".into(), "running (zookeeper)".into()]],
        });
        r.jvms[0].roles = vec!["broker".into(), "controller".into()];
        r.jvms[0].profile = Some("kafka-broker".into());
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), r);
    }
}
