//! One host as storage answers for it, the same on every backend: its row
//! ([`HostRow`]) and the view made from it at a given time ([`HostView`]:
//! staleness and clock skew decided in one place), its GC history
//! ([`Point`]), its drift events ([`DriftEvent`]), and all the host page
//! reads at once ([`HostData`]).

use serde::Serialize;

use crate::collector::storage::drift::Change;
use crate::collector::storage::health::{
    CountersVerdict, DriftKey, GcHealth, GcRateSource, HostDetail, RoleState,
};
use crate::collector::storage::machines::{self, MachineConflict};

/// GC figures of a host as `/api/v1/hosts` shows them.
#[derive(Debug, Clone, Serialize)]
pub struct GcView {
    /// `healthy`, `unhealthy` (a `gc` service level drifted) or `unknown`
    /// (no JVM, or a JVM whose GC log the agent cannot read).
    pub health: GcHealth,
    /// Why the health is `unknown`: which JVM's GC was not read and why,
    /// with the agent's remedy (a `SupplementaryGroups=` drop-in for a log
    /// directory it may not enter); `null` otherwise.
    pub unknown_because: Option<String>,
    /// The worst JVM's GC ms per wall second over the latest interval:
    /// by its log, or by its own counters when its log was not read.
    pub gc_ms_per_second: Option<f64>,
    /// Where `gc_ms_per_second` came from: `log`, or `counters` (the
    /// JVM's own counters: it has no readable GC log); `null` with the rate.
    pub gc_ms_per_second_source: Option<GcRateSource>,
    /// The JVMs whose interval figures (rate, full GCs) came from their
    /// own counters, their log not read (`broker (pid 12): 20.0 ms/s, 0
    /// full GCs`); empty when every figure is a log's.
    pub from_counters: Vec<String>,
    /// Why `gc_ms_per_second` is `null`, when it is (the log unread, no
    /// pause, a JVM too young for a rate...).
    pub gc_ms_per_second_null_because: Option<String>,
    /// The worst JVM's overall pause p99 over the latest interval.
    pub pause_p99_ms: Option<f64>,
    /// Full GCs reported in the 24 hours before now.
    pub full_gcs_24h: u64,
    /// Drifting `gc` findings in the latest report.
    pub gc_drift: u32,
}

/// One host as `/api/v1/hosts` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    /// Host name, verbatim.
    pub hostname: String,
    /// Profile of the latest report.
    pub profile: String,
    /// Id of the latest report.
    pub last_report_id: String,
    /// Time of the latest report, as sent.
    pub last_time: String,
    /// Time of the latest report, Unix ms.
    pub last_time_ms: i64,
    /// Seconds from the latest report's time (counted no later than its
    /// receipt) to now; never negative.
    pub age_seconds: i64,
    /// When the host last delivered a report, Unix ms (collector's clock).
    pub last_received_ms: i64,
    /// The agent's clock against the collector's: report time minus receipt
    /// of the report received last, in seconds (positive: ahead). Delivery
    /// delay counts too; the threshold below allows for it.
    pub clock_skew_seconds: i64,
    /// True when the skew is beyond [`CLOCK_SKEW_LIMIT_MS`] (ahead) or beyond
    /// that and three intervals (behind): the host's clock is wrong, so its
    /// report times (and the age and staleness derived from them) are not
    /// to be trusted.
    pub clock_skewed: bool,
    /// The agent's interval.
    pub interval_seconds: u64,
    /// True when the host missed three intervals.
    pub stale: bool,
    /// Drifting findings in the latest report (kernel and JVM).
    pub drift: u32,
    /// All findings in the latest report.
    pub findings: u32,
    /// JVMs in the latest report, of every role.
    pub jvms: u32,
    /// Those JVMs by role (`[["broker", 1], ["zookeeper", 1]]`; a combined
    /// node is `broker+controller`, a JVM of no role `other`); empty for
    /// an agent older than roles.
    pub jvms_by_role: Vec<(String, u32)>,
    /// The roles the agent expects on the host, each running or missing
    /// since when; empty for an agent older than roles.
    pub roles: Vec<RoleState>,
    /// GC health.
    pub gc: GcView,
    /// The latest report's JVMs by how their GC log compared with their
    /// own counters (`verified`, `differs`, `not_compared`, `not_read`);
    /// `null` when no JVM carried counters (an agent older than them,
    /// counters turned off) or the row was stored before the verdict.
    pub counters: Option<CountersVerdict>,
    /// What drifts now.
    pub drifting: Vec<DriftKey>,
    /// The cluster of the latest report; `None` if it names none.
    pub cluster: Option<String>,
    /// Findings a waiver in force covers in the latest report: shown and
    /// counted, not drift.
    pub waived: u32,
    /// The machine that sent the latest report (`/etc/machine-id`), if it said.
    pub machine_id: Option<String>,
    /// Two or more machines take turns reporting under this host name
    /// (see [`machines`]); `None` when not within the last three
    /// intervals.
    pub machine_conflict: Option<MachineConflict>,
}

/// How far an agent's clock may be off before the host shows a clock
/// problem: five minutes (NTP-synchronised hosts are within a second; a
/// report in flight or retried takes seconds).
pub const CLOCK_SKEW_LIMIT_MS: i64 = 5 * 60 * 1000;

/// A `hosts` row as both backends read it, before the figures derived
/// from it and the clock: one place decides staleness and skew.
#[derive(Debug, Clone)]
pub struct HostRow {
    /// Host name.
    pub hostname: String,
    /// Profile of the report shown.
    pub profile: String,
    /// Id of the report shown.
    pub last_id: String,
    /// Its time as sent.
    pub last_time_text: String,
    /// Its time, Unix ms.
    pub last_time_ms: i64,
    /// The agent's interval.
    pub interval_seconds: i64,
    /// Drifting findings.
    pub drift: u32,
    /// All findings.
    pub findings: u32,
    /// JVMs.
    pub jvms: u32,
    /// Whether every JVM's GC was read.
    pub has_gc: bool,
    /// Drifting `gc` findings.
    pub gc_drift: u32,
    /// Worst GC ms per second.
    pub gc_ms_per_second: Option<f64>,
    /// Worst pause p99.
    pub pause_p99_ms: Option<f64>,
    /// JSON array of [`DriftKey`].
    pub drifting: String,
    /// Receipt of the report shown, Unix ms.
    pub shown_received_ms: i64,
    /// Receipt of what arrived last, Unix ms.
    pub last_received_ms: i64,
    /// Report time minus receipt of what arrived last, ms.
    pub skew_ms: i64,
    /// The cluster of the report shown.
    pub cluster: Option<String>,
    /// Waived findings of the report shown.
    pub waived: u32,
    /// The machine key of the report shown (`""`: none said; `None`:
    /// stored before machines were kept).
    pub machine_id: Option<String>,
    /// Receipt of the last turn of two machines, Unix ms.
    pub conflict_at: Option<i64>,
    /// JSON array of the machine ids of that conflict.
    pub conflict_machines: Option<String>,
    /// The `detail` column ([`HostDetail`] as JSON; NULL in rows stored
    /// before it).
    pub detail: Option<String>,
}

impl HostRow {
    /// The host as the API shows it at `now_ms` (full GCs of the last day
    /// are filled in by the caller).
    pub fn view(self, now_ms: i64) -> HostView {
        // A report's time counts no later than its receipt (a clock ahead
        // cannot make a host look fresh for ever), nor later than now.
        let effective = self.last_time_ms.min(self.shown_received_ms).min(now_ms);
        let age_ms = now_ms.saturating_sub(effective);
        let interval_ms = 1000 * i128::from(self.interval_seconds.max(1));
        let stale = i128::from(age_ms) > 3 * interval_ms;
        let behind_limit = i128::from(CLOCK_SKEW_LIMIT_MS).max(3 * interval_ms);
        let clock_skewed =
            self.skew_ms > CLOCK_SKEW_LIMIT_MS || -i128::from(self.skew_ms) > behind_limit;
        let detail = HostDetail::from_column(self.detail.as_deref());
        let health = GcHealth::from_figures(self.gc_drift, self.has_gc);
        HostView {
            profile: self.profile,
            last_report_id: self.last_id,
            last_time: self.last_time_text,
            last_time_ms: self.last_time_ms,
            age_seconds: age_ms.div_euclid(1000),
            last_received_ms: self.last_received_ms,
            clock_skew_seconds: self.skew_ms / 1000,
            clock_skewed,
            interval_seconds: u64::try_from(self.interval_seconds).unwrap_or(0),
            stale,
            drift: self.drift,
            findings: self.findings,
            jvms: self.jvms,
            jvms_by_role: detail.jvms_by_role,
            roles: detail.roles,
            gc: GcView {
                health,
                unknown_because: match health {
                    GcHealth::Unknown => Some(detail.gc_unknown_because.unwrap_or_else(|| {
                        "no JVM of the latest report carried GC statistics".into()
                    })),
                    _ => None,
                },
                gc_ms_per_second: self.gc_ms_per_second,
                // A row stored before the source was kept: only a log
                // gave a rate then.
                gc_ms_per_second_source: self
                    .gc_ms_per_second
                    .map(|_| detail.gc_rate_source.unwrap_or(GcRateSource::Log)),
                from_counters: detail.gc_from_counters,
                gc_ms_per_second_null_because: self
                    .gc_ms_per_second
                    .is_none()
                    .then_some(detail.gc_rate_null_because)
                    .flatten(),
                pause_p99_ms: self.pause_p99_ms,
                full_gcs_24h: 0,
                gc_drift: self.gc_drift,
            },
            counters: detail.counters,
            drifting: serde_json::from_str(&self.drifting).unwrap_or_default(),
            cluster: self.cluster,
            waived: self.waived,
            machine_conflict: machines::conflict_of(
                self.conflict_at,
                self.conflict_machines.as_deref(),
                self.interval_seconds,
                now_ms,
            ),
            machine_id: self.machine_id.filter(|m| !m.is_empty()),
            hostname: self.hostname,
        }
    }
}

/// One point of a host's GC history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Report time, Unix ms.
    pub time_ms: i64,
    /// Worst JVM's GC ms per second.
    pub gc_ms_per_second: Option<f64>,
    /// Worst JVM's pause p99.
    pub pause_p99_ms: Option<f64>,
    /// Full GCs in the interval.
    pub full_gcs: u64,
    /// Drifting findings.
    pub drift: u32,
}

/// A key starting to drift or coming back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftEvent {
    /// Report time, Unix ms.
    pub time_ms: i64,
    /// Check family.
    pub check: String,
    /// Key.
    pub key: String,
    /// True when it started drifting, false when it came back, became
    /// waived or went away with a stopped role.
    pub drifted: bool,
    /// `drift`, `ok` (came back), `stopped` (gone with a stopped role) or
    /// `waived` (a waiver in force now accepts it).
    pub state: Change,
    /// The expectation.
    pub expected: String,
    /// The value seen when it drifted.
    pub actual: Option<String>,
    /// For `waived`: the waiver's justification, if the report carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The machine whose report made the event, if the report named one
    /// (each machine under a host name has its own history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    /// For `stopped`: the role(s) it went with (`zookeeper`), when the
    /// agent reported roles; absent for keys of older agents (the broker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone_with: Option<String>,
}

impl DriftEvent {
    /// An event from its stored columns: a `waived` row keeps the
    /// justification in `actual`, a `stopped` row the roles it went with
    /// (see [`super::drift::stored_actual`]).
    pub fn from_columns(
        time_ms: i64,
        check: String,
        key: String,
        state: &str,
        expected: String,
        stored: Option<String>,
        machine_id: Option<String>,
    ) -> DriftEvent {
        let state = Change::parse(state);
        let (actual, justification, gone_with) = match state {
            Change::Waived => (None, stored, None),
            Change::Stopped => (None, None, stored),
            Change::Drift | Change::Ok => (stored, None, None),
        };
        DriftEvent {
            time_ms,
            check,
            key,
            drifted: state == Change::Drift,
            state,
            expected,
            actual,
            justification,
            machine_id: machine_id.filter(|m| !m.is_empty()),
            gone_with,
        }
    }
}

/// Everything the host page shows.
#[derive(Debug, Clone)]
pub struct HostData {
    /// The host's summary; `None` if it never reported (or was pruned).
    pub view: Option<HostView>,
    /// Its latest document.
    pub latest: Option<String>,
    /// Its figures since the time asked for, oldest first.
    pub series: Vec<Point>,
    /// Its drift events, oldest first.
    pub events: Vec<DriftEvent>,
}
