//! The week-over-week figures of every host and cluster, kept ready:
//! aggregating two weeks of every host's samples reads every sample of
//! those weeks (at 10,000 hosts reporting every minute, about 200 million
//! rows), far too slow for a page or an API answer. A background task
//! recomputes them; the fleet page, the cluster pages, `GET
//! /api/v1/clusters` and the host pages take the latest result as it is
//! and say when it was computed (`trend_as_of`). One aggregation is the
//! one source of both: a host page's week table and its cluster's trend
//! count the same reports, its cluster's being the sum of its hosts'.
//!
//! How often: as often as costs at most a thirtieth of the aggregation's
//! own time (a small fleet's figures are seconds old), never more often
//! than every [`MIN_GAP`], and at least every `--trend-refresh-seconds`
//! (one run at a time; a run longer than that delays the next). The weekly
//! figures of a large fleet move slowly: ten minutes late is true enough,
//! and said.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::collector::clock::now_ms;
use crate::collector::storage::Storage;
use crate::collector::storage::fleet::{HostWeekRow, WeekSums};

/// Default longest time between two aggregations.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(600);
/// Shortest time between two aggregations.
pub const MIN_GAP: Duration = Duration::from_secs(5);
/// The time between two aggregations, as a multiple of the last one's
/// duration: the aggregation takes at most a thirtieth of a core.
const COST_FACTOR: u32 = 30;

/// A host's or a cluster's two weeks: this week's sums and last week's.
pub type Weeks = (WeekSums, WeekSums);

/// One aggregation's result.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The "now" its weeks end at, Unix ms.
    pub as_of_ms: i64,
    /// Each cluster's two weeks (`None`: the hosts without one), the sums
    /// of its hosts' (each host in the cluster its row named then).
    pub clusters: BTreeMap<Option<String>, Weeks>,
    /// Each host's two weeks.
    pub hosts: HashMap<String, Weeks>,
}

impl Snapshot {
    /// The snapshot of storage's rows, as of `as_of_ms`.
    pub fn of(as_of_ms: i64, rows: Vec<HostWeekRow>) -> Snapshot {
        let mut s = Snapshot {
            as_of_ms,
            ..Snapshot::default()
        };
        for r in rows {
            let pick = |w: &mut Weeks| {
                if r.this_week {
                    w.0.add(&r.sums);
                } else {
                    w.1.add(&r.sums);
                }
            };
            pick(s.clusters.entry(r.cluster.clone()).or_default());
            pick(s.hosts.entry(r.hostname).or_default());
        }
        s
    }
}

/// What there is to show of the trend.
#[derive(Debug, Clone)]
pub enum Latest {
    /// The latest successful aggregation.
    Ready(Arc<Snapshot>),
    /// None yet: why (the first one still running, or failing).
    Missing(String),
}

#[derive(Debug, Default)]
struct State {
    snapshot: Option<Arc<Snapshot>>,
    /// The last run's error, cleared by a success.
    error: Option<String>,
}

/// The latest trend, shared by the handlers and the refresh task.
#[derive(Debug, Default)]
pub struct TrendCache {
    state: RwLock<State>,
}

impl TrendCache {
    /// The latest result, never waiting for a running aggregation. A failed
    /// run keeps the previous result (its `as_of` says how old it is).
    pub fn latest(&self) -> Latest {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        match (&s.snapshot, &s.error) {
            (Some(snap), _) => Latest::Ready(Arc::clone(snap)),
            (None, Some(e)) => Latest::Missing(format!("the trend could not be computed: {e}")),
            (None, None) => Latest::Missing(
                "the trend is being computed (the first run since the collector started)".into(),
            ),
        }
    }

    fn set(&self, r: Result<Snapshot, String>) {
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        match r {
            Ok(snap) => {
                s.snapshot = Some(Arc::new(snap));
                s.error = None;
            }
            Err(e) => s.error = Some(e),
        }
    }

    /// Runs one aggregation now and keeps its result.
    pub async fn refresh(&self, storage: &Storage) {
        let now = now_ms();
        let started = Instant::now();
        match storage.host_weeks(now).await {
            Ok(rows) => {
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    rows = rows.len(),
                    "week-over-week figures computed"
                );
                self.set(Ok(Snapshot::of(now, rows)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "computing the clusters' trend failed");
                self.set(Err(e.to_string()));
            }
        }
    }
}

/// The time from the start of a run that took `took` to the start of the
/// next: [`COST_FACTOR`] times its duration, at least [`MIN_GAP`], at most
/// `every` (and never less than the run itself: runs do not stack).
pub fn next_gap(took: Duration, every: Duration) -> Duration {
    took.saturating_mul(COST_FACTOR)
        .max(MIN_GAP)
        .min(every)
        .max(took)
}

/// Refreshes `cache` from `storage` (the first at once), one run at a
/// time, each [`next_gap`] after the last began.
pub async fn refresh_loop(storage: Storage, cache: Arc<TrendCache>, every: Duration) {
    loop {
        let started = tokio::time::Instant::now();
        cache.refresh(&storage).await;
        let gap = next_gap(started.elapsed(), every);
        tokio::time::sleep_until(started + gap).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_before_the_first_run_and_a_failure_keeps_the_last_result() {
        let cache = TrendCache::default();
        assert!(
            matches!(cache.latest(), Latest::Missing(why) if why.contains("being computed")),
            "no figure before the first run"
        );
        cache.set(Err("database unavailable".into()));
        assert!(
            matches!(cache.latest(), Latest::Missing(why) if why.contains("database unavailable"))
        );
        cache.set(Ok(Snapshot {
            as_of_ms: 1_000,
            ..Snapshot::default()
        }));
        cache.set(Err("database unavailable".into()));
        assert!(
            matches!(cache.latest(), Latest::Ready(s) if s.as_of_ms == 1_000),
            "the last result stays, with its time"
        );
    }

    #[test]
    fn a_quick_aggregation_runs_again_soon_a_slow_one_at_most_every_period() {
        let every = Duration::from_secs(600);
        let ms = Duration::from_millis;
        assert_eq!(next_gap(ms(3), every), MIN_GAP, "a small fleet");
        assert_eq!(
            next_gap(ms(11_400), every),
            ms(342_000),
            "a thirtieth of a core"
        );
        assert_eq!(next_gap(ms(60_000), every), every, "at least every period");
        assert_eq!(next_gap(ms(900_000), every), ms(900_000), "never stacked");
        assert_eq!(
            next_gap(ms(3), Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_clusters_weeks_are_the_sums_of_its_hosts() {
        let row = |h: &str, c: Option<&str>, this, reports, rate: f64| HostWeekRow {
            hostname: h.into(),
            cluster: c.map(str::to_owned),
            this_week: this,
            sums: WeekSums {
                reports,
                rate_sum: rate * reports as f64,
                rate_reports: reports,
                worst_rate: Some(rate),
                ..WeekSums::default()
            },
        };
        let s = Snapshot::of(
            9,
            vec![
                row("a", Some("c"), true, 3, 2.0),
                row("b", Some("c"), true, 1, 6.0),
                row("a", Some("c"), false, 2, 1.0),
                row("z", None, true, 5, 1.0),
            ],
        );
        let (this, last) = s.clusters[&Some("c".to_owned())];
        let f = this.figures();
        assert_eq!(
            (f.reports, f.mean_gc_ms_per_second, f.worst_gc_ms_per_second),
            (4, Some(3.0), Some(6.0))
        );
        assert_eq!(last.figures().reports, 2);
        assert_eq!(s.hosts["a"].0.reports + s.hosts["b"].0.reports, 4);
        assert_eq!(s.clusters[&None].0.reports, 5);
    }
}
