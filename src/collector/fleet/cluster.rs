//! Clusters as the fleet sees them: each host belongs to the cluster its
//! latest report names (`report.cluster`), hosts naming none form one
//! "(no cluster)" group. Per cluster: hosts, how many drift, are
//! GC-unhealthy or stale (counted by the database, see
//! [`crate::collector::storage::fleet::cluster_counts_sql`]), and the week-over-week GC and
//! drift figures (kept ready by [`super::trend`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::trend::Latest;
use crate::collector::storage::fleet::{ClusterCounts, NO_CLUSTER, WeekFigures};

/// The change from last week to this week, in percent of last week's;
/// `null` when either is missing or last week's is zero (no base).
fn change(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(a), Some(b)) if b.abs() > f64::EPSILON => Some((a - b) / b * 100.0),
        _ => None,
    }
}

/// Week over week: this week's figures against last week's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trend {
    /// The last seven days.
    pub this_week: WeekFigures,
    /// The seven days before.
    pub last_week: WeekFigures,
    /// Change of the mean GC ms per second, percent; `null` without a base.
    pub gc_ms_per_second_change_percent: Option<f64>,
    /// Share of reports with drift this week, percent; `null` without reports.
    pub drifting_reports_percent: Option<f64>,
    /// ... last week.
    pub drifting_reports_percent_last_week: Option<f64>,
}

fn share(part: u64, all: u64) -> Option<f64> {
    (all > 0).then(|| part as f64 * 100.0 / all as f64)
}

impl Trend {
    fn of(this_week: WeekFigures, last_week: WeekFigures) -> Trend {
        Trend {
            gc_ms_per_second_change_percent: change(
                this_week.mean_gc_ms_per_second,
                last_week.mean_gc_ms_per_second,
            ),
            drifting_reports_percent: share(this_week.drifting_reports, this_week.reports),
            drifting_reports_percent_last_week: share(
                last_week.drifting_reports,
                last_week.reports,
            ),
            this_week,
            last_week,
        }
    }
}

/// One cluster as `GET /api/v1/clusters` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSummary {
    /// The cluster's name; `null` for the hosts without a cluster.
    pub name: Option<String>,
    /// The name, or [`NO_CLUSTER`].
    pub label: String,
    /// Hosts whose latest report names this cluster.
    pub hosts: usize,
    /// Hosts with a drifting finding now.
    pub drifting: usize,
    /// Hosts whose GC misses a service level now.
    pub gc_unhealthy: usize,
    /// Hosts that missed three intervals.
    pub stale: usize,
    /// Hosts with findings a waiver in force accepts (not drift).
    pub waived: usize,
    /// The cluster's GC and drift, week over week, as of `trend_as_of`;
    /// `null` before the first aggregation (see `trend_missing`).
    pub trend: Option<Trend>,
    /// When the trend was computed (its weeks end then), RFC 3339; the
    /// trend is refreshed in the background, not for each request.
    pub trend_as_of: Option<String>,
    /// Why there is no trend, when there is none.
    pub trend_missing: Option<String>,
}

/// A time in Unix ms as RFC 3339 (UTC); `None` out of range.
pub fn rfc3339(ms: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Each cluster's summary from its counts (one GROUP BY over the hosts)
/// and the latest trend: named clusters by name, then the hosts without one.
pub fn summarize(counts: &[ClusterCounts], trend: &Latest) -> Vec<ClusterSummary> {
    // `None` sorts first in a BTreeMap; the group without a cluster is put last below.
    let mut by: BTreeMap<Option<String>, ClusterSummary> = BTreeMap::new();
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    for c in counts {
        let mut s = empty(c.cluster.clone(), trend);
        s.hosts = size(c.counts.hosts);
        s.drifting = size(c.counts.drifting);
        s.gc_unhealthy = size(c.counts.unhealthy);
        s.stale = size(c.counts.stale);
        s.waived = size(c.counts.waived_hosts);
        by.insert(c.cluster.clone(), s);
    }
    if let Latest::Ready(snap) = trend {
        for (name, c) in by.iter_mut() {
            match snap.clusters.get(name) {
                Some((this, last)) => c.trend = Some(Trend::of(this.figures(), last.figures())),
                // No report of its hosts was in the cluster when the
                // figures were computed: not "0 reports", unknown.
                None => {
                    c.trend = None;
                    c.trend_missing = Some(format!(
                        "no report of its hosts is in the figures computed at {} \
                         (they reported since, or were of another cluster then)",
                        rfc3339(snap.as_of_ms).unwrap_or_default()
                    ));
                }
            }
        }
    }
    let none = by.remove(&None);
    by.into_values().chain(none).collect()
}

fn empty(name: Option<String>, trend: &Latest) -> ClusterSummary {
    let (trend, trend_as_of, trend_missing) = match trend {
        Latest::Ready(snap) => (
            Some(Trend::of(WeekFigures::default(), WeekFigures::default())),
            rfc3339(snap.as_of_ms),
            None,
        ),
        Latest::Missing(why) => (None, None, Some(why.clone())),
    };
    ClusterSummary {
        label: name.clone().unwrap_or_else(|| NO_CLUSTER.into()),
        name,
        hosts: 0,
        drifting: 0,
        gc_unhealthy: 0,
        stale: 0,
        waived: 0,
        trend,
        trend_as_of,
        trend_missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::storage::fleet::count;

    #[test]
    fn change_and_share_have_no_figure_without_a_base() {
        assert_eq!(change(Some(12.0), Some(10.0)), Some(20.0));
        assert_eq!(change(Some(12.0), Some(0.0)), None);
        assert_eq!(change(None, Some(1.0)), None);
        assert_eq!(share(1, 4), Some(25.0));
        assert_eq!(share(0, 0), None);
        assert_eq!(count(f64::INFINITY), u64::MAX);
        assert_eq!(count(f64::NAN), 0);
        assert_eq!(count(1e30), u64::MAX);
        assert_eq!(count(3.0), 3);
    }
}
