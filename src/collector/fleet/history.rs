//! One host's history as its page reads it: drift events paired into
//! episodes (when a key started drifting and when it came back, became
//! waived or went away with a stopped broker), and a week's figures of its
//! samples, to set this week against last week.

use std::collections::{BTreeMap, BTreeSet};

use crate::collector::storage::drift::Change;
use crate::collector::storage::host::{DriftEvent, Point};

/// One week of a host's samples, summed up.
pub struct WeekStats {
    /// Reports received.
    pub reports: usize,
    /// Mean GC ms per second over the reports that have one.
    pub mean_rate: Option<f64>,
    /// Worst GC ms per second.
    pub worst_rate: Option<f64>,
    /// Median pause p99.
    pub median_p99: Option<f64>,
    /// Worst pause p99.
    pub worst_p99: Option<f64>,
    /// Full GCs (saturating).
    pub full_gcs: u64,
    /// Reports with at least one drifting finding.
    pub drifting_reports: usize,
}

/// The figures of `points`.
pub fn week_stats(points: &[Point]) -> WeekStats {
    let rates: Vec<f64> = points.iter().filter_map(|p| p.gc_ms_per_second).collect();
    let mut p99s: Vec<f64> = points.iter().filter_map(|p| p.pause_p99_ms).collect();
    p99s.sort_by(f64::total_cmp);
    WeekStats {
        reports: points.len(),
        mean_rate: (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
        worst_rate: rates.iter().copied().reduce(f64::max),
        median_p99: p99s.get(p99s.len() / 2).copied(),
        worst_p99: p99s.last().copied(),
        full_gcs: points
            .iter()
            .fold(0u64, |n, p| n.saturating_add(p.full_gcs)),
        drifting_reports: points.iter().filter(|p| p.drift > 0).count(),
    }
}

/// A drift episode: when a key started drifting and when (if) it came back
/// or went away with a stopped broker.
pub struct Episode<'a> {
    /// The event it started with (`None`: pruned by retention).
    pub start: Option<&'a DriftEvent>,
    /// The event it ended with (`None`: still drifting).
    pub end: Option<&'a DriftEvent>,
    /// The key's previous episode ended with the broker stopping: this one
    /// began when the broker ran again.
    pub after_restart: bool,
}

/// The episodes of `events` (oldest first), in the order they began.
pub fn episodes(events: &[DriftEvent]) -> Vec<Episode<'_>> {
    let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    // Keys whose last episode ended with the broker stopping.
    let mut stopped: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut out: Vec<Episode<'_>> = Vec::new();
    for e in events {
        let k = (e.check.as_str(), e.key.as_str());
        if e.state == Change::Drift {
            open.insert(k, out.len());
            out.push(Episode {
                start: Some(e),
                end: None,
                after_restart: stopped.remove(&k),
            });
            continue;
        }
        if e.state == Change::Stopped {
            stopped.insert(k);
        } else {
            stopped.remove(&k);
        }
        if let Some(i) = open.remove(&k) {
            out[i].end = Some(e);
        } else {
            // Its start was pruned by retention.
            out.push(Episode {
                start: None,
                end: Some(e),
                after_restart: false,
            });
        }
    }
    out
}
