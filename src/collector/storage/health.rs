//! What the collector derives from one report when it stores it: the figures
//! the fleet views need, kept in columns so listing hosts or drawing charts
//! never re-parses stored documents.

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Status};
use crate::report::Report;

/// A drifting `(check, key)` pair, with what was expected and seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftKey {
    /// The check family (`sysctl`, `gc`, ...).
    pub check: String,
    /// The key within it.
    pub key: String,
    /// The expectation.
    pub expected: String,
    /// The observed value.
    pub actual: Option<String>,
}

/// Figures derived from one report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    /// Findings with status drift, kernel and JVM alike.
    pub drift: u32,
    /// All findings, kernel and JVM alike.
    pub findings: u32,
    /// Drifting findings of the `gc` check (service levels missed).
    pub gc_drift: u32,
    /// Broker JVMs in the report.
    pub jvms: u32,
    /// The worst JVM's GC pause milliseconds per wall second over the interval.
    pub gc_ms_per_second: Option<f64>,
    /// The worst JVM's overall pause p99 over the interval.
    pub pause_p99_ms: Option<f64>,
    /// Full GCs over the interval, all JVMs.
    pub full_gcs: u64,
    /// Whether any JVM carried GC statistics.
    pub has_gc: bool,
    /// The drifting keys, sorted and unique by `(check, key)`.
    pub drifting: Vec<DriftKey>,
    /// The host's cluster (`report.cluster.name`), if it has one.
    pub cluster: Option<String>,
    /// The machine that sent it (`report.host.machine_id`), if it says:
    /// two machines under one host name are told apart by it.
    pub machine_id: Option<String>,
    /// The `process` check says no broker runs (`running` drifts): keys
    /// that vanish now went with the broker, they were not fixed.
    pub broker_missing: bool,
    /// When `broker_missing`: the `(check, key)` pairs reported `ok`, the
    /// only ones that did come back (empty otherwise, to keep ingest cheap).
    pub fixed_while_stopped: Vec<(String, String)>,
    /// Findings a waiver in force covers (status `waived`): shown and
    /// counted, not drift.
    pub waived: u32,
    /// The waived `(check, key)` pairs with the waiver's justification, so
    /// a drifting key that became waived reads `waived` in the history.
    pub waived_keys: Vec<WaivedKey>,
}

/// A `(check, key)` pair a waiver in force covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaivedKey {
    /// The check family.
    pub check: String,
    /// The key within it.
    pub key: String,
    /// Why it is accepted, as the waiver says (if the finding carries it).
    pub justification: Option<String>,
}

impl Derived {
    /// Derives the figures of `report`.
    pub fn of(report: &Report) -> Derived {
        let mut d = Derived {
            jvms: u32::try_from(report.jvms.len()).unwrap_or(u32::MAX),
            cluster: report
                .cluster
                .as_ref()
                .filter(|c| !c.name.trim().is_empty())
                .map(|c| c.name.clone()),
            machine_id: report.host.machine_id.clone(),
            ..Derived::default()
        };
        let all = report
            .findings
            .iter()
            .chain(report.jvms.iter().flat_map(|j| j.findings.iter()));
        for f in all {
            d.count(f);
        }
        for jvm in &report.jvms {
            let Some(gc) = &jvm.gc else { continue };
            d.has_gc = true;
            let w = &gc.interval;
            d.full_gcs = d.full_gcs.saturating_add(w.full_gcs);
            if let Some(rate) = w.gc_ms_per_second.filter(|r| r.is_finite()) {
                d.gc_ms_per_second = Some(d.gc_ms_per_second.map_or(rate, |m| m.max(rate)));
            }
            // A window without pauses says nothing about pause length.
            if w.overall.count > 0 && w.overall.p99_ms.is_finite() {
                let p = w.overall.p99_ms;
                d.pause_p99_ms = Some(d.pause_p99_ms.map_or(p, |m| m.max(p)));
            }
        }
        d.broker_missing = d
            .drifting
            .iter()
            .any(|k| k.check == "process" && k.key == "running");
        if d.broker_missing {
            d.fixed_while_stopped = report
                .findings
                .iter()
                .chain(report.jvms.iter().flat_map(|j| j.findings.iter()))
                .filter(|f| f.status == Status::Ok)
                .map(|f| (f.check.clone(), f.key.clone()))
                .collect();
        }
        d.drifting
            .sort_by(|a, b| (&a.check, &a.key).cmp(&(&b.check, &b.key)));
        d.drifting
            .dedup_by(|a, b| a.check == b.check && a.key == b.key);
        d
    }

    fn count(&mut self, f: &Finding) {
        self.findings = self.findings.saturating_add(1);
        if f.status == Status::Waived {
            self.waived = self.waived.saturating_add(1);
            self.waived_keys.push(WaivedKey {
                check: f.check.clone(),
                key: f.key.clone(),
                justification: f.waiver.as_ref().map(|w| w.justification.clone()),
            });
        }
        if f.status == Status::Drift {
            self.drift = self.drift.saturating_add(1);
            if f.check == "gc" {
                self.gc_drift = self.gc_drift.saturating_add(1);
            }
            self.drifting.push(DriftKey {
                check: f.check.clone(),
                key: f.key.clone(),
                expected: f.expected.clone(),
                actual: f.actual.clone(),
            });
        }
    }
}

/// A host's GC health as the fleet view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GcHealth {
    /// GC statistics present and no `gc` finding drifted.
    Healthy,
    /// A `gc` service-level finding drifted.
    Unhealthy,
    /// No JVM with GC statistics in the latest report.
    Unknown,
}

impl GcHealth {
    /// The health from the latest report's figures. The agent evaluates the
    /// profile's service levels (its `gc` findings), so the collector does
    /// not second-guess them with thresholds of its own.
    pub fn from_figures(gc_drift: u32, has_gc: bool) -> GcHealth {
        if gc_drift > 0 {
            GcHealth::Unhealthy
        } else if has_gc {
            GcHealth::Healthy
        } else {
            GcHealth::Unknown
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GcHealth::Healthy => "healthy",
            GcHealth::Unhealthy => "unhealthy",
            GcHealth::Unknown => "unknown",
        }
    }
}
