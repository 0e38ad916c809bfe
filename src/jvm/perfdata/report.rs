//! The counters of one JVM as a report shows them beside its log: read
//! once before and once after the log, so pauses that ran while the log
//! was read are neither missed nor counted as a loss.

use serde::Serialize;

use super::counters::{CollectorKind, CounterSnapshot};
use super::crosscheck::{CrossCheck, LogTotals, cross_check_between};
use super::locate::{Location, locate};
use super::read::read_file;
use super::safepoints::{SafepointFigures, over_life};
use crate::host::Host;

/// One attempt at reading a JVM's counters.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Read.
    Read {
        /// The file read.
        path: String,
        /// Its figures.
        snapshot: Box<CounterSnapshot>,
    },
    /// Switched off by a flag.
    Disabled {
        /// The flag and where it was set.
        flag: String,
    },
    /// Not read: why (missing, unreadable, malformed: the error names the file).
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// Reads the counters of process `pid` (finding the file first).
pub fn probe(host: &Host, pid: i32) -> Probe {
    let path = match locate(host, pid) {
        Err(e) => {
            return Probe::Unavailable {
                reason: e.to_string(),
            };
        }
        Ok(Location::Disabled { flag }) => return Probe::Disabled { flag },
        Ok(Location::NotFound { searched, ns_pid }) => {
            return Probe::Unavailable {
                reason: format!(
                    "no perf-data file {}/hsperfdata_*/{ns_pid} (not a HotSpot JVM, still starting, or its /tmp is elsewhere)",
                    super::escape_text(&searched.display().to_string())
                ),
            };
        }
        Ok(Location::File { path, .. }) => path,
    };
    let shown = super::escape_text(&path.display().to_string());
    match read_file(&path) {
        Err(e) => Probe::Unavailable {
            reason: e.to_string(),
        },
        Ok(pd) => match CounterSnapshot::from_perf_data(&pd) {
            Ok(snapshot) => Probe::Read {
                path: shown,
                snapshot: Box::new(snapshot),
            },
            Err(e) => Probe::Unavailable {
                reason: format!("{shown}: {e}"),
            },
        },
    }
}

/// A collector's figures as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindFigures {
    /// Which pauses.
    pub kind: CollectorKind,
    /// The collectors' names (JDK-specific).
    pub collectors: Vec<String>,
    /// Pauses counted.
    pub count: u64,
    /// Their time, ms.
    pub time_ms: f64,
}

/// The counters' section of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CountersReport {
    /// Read; the figures, the safepoints they show, and the cross-check.
    Read {
        /// The file read.
        path: String,
        /// The second read's figures.
        counters: Box<CounterSnapshot>,
        /// Pauses per kind.
        pauses: Vec<KindFigures>,
        /// Time to safepoint over the JVM's life.
        safepoints: SafepointFigures,
        /// The log against the counters.
        cross_check: CrossCheck,
    },
    /// The JVM runs with its counters switched off.
    Disabled {
        /// The flag.
        flag: String,
    },
    /// Not read.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// The report of a read before and a read after the log (pure).
pub fn report(before: Probe, after: Probe, log: &LogTotals) -> CountersReport {
    let (path, a) = match after {
        Probe::Read { path, snapshot } => (path, snapshot),
        Probe::Disabled { flag } => return CountersReport::Disabled { flag },
        Probe::Unavailable { reason } => return CountersReport::Unavailable { reason },
    };
    // Without a first read, the second stands for both.
    let b = match before {
        Probe::Read { snapshot, .. } => *snapshot,
        _ => (*a).clone(),
    };
    let mut pauses: Vec<KindFigures> = Vec::new();
    for c in &a.collectors {
        match pauses.iter_mut().find(|k| k.kind == c.kind) {
            Some(k) => {
                k.collectors.push(c.name.clone());
                k.count += c.invocations;
                k.time_ms += c.time_ms;
            }
            None => pauses.push(KindFigures {
                kind: c.kind,
                collectors: vec![c.name.clone()],
                count: c.invocations,
                time_ms: c.time_ms,
            }),
        }
    }
    pauses.sort_by_key(|k| k.kind);
    CountersReport::Read {
        path,
        safepoints: over_life(&a),
        cross_check: cross_check_between(log, &b, &a),
        counters: a,
        pauses,
    }
}
