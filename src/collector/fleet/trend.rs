//! The clusters' week-over-week trend, kept ready: aggregating two weeks
//! of every host's samples reads every sample of those weeks (at 10,000
//! hosts reporting every minute, about 200 million rows), far too slow for
//! a page or an API answer. A background task recomputes it at most every
//! `--trend-refresh-seconds` (one run at a time, the next one no sooner
//! than that after the last began); the fleet page and `GET /api/v1/clusters`
//! take the latest result as it is and say when it was computed
//! (`trend_as_of`). The weekly figures move slowly: ten minutes late is
//! true enough, and said.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::collector::clock::now_ms;
use crate::collector::storage::Storage;
use crate::collector::storage::fleet::WeekRow;

/// Default time between two aggregations.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(600);

/// One aggregation's result.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The "now" its weeks end at, Unix ms.
    pub as_of_ms: i64,
    /// Each cluster's two weeks.
    pub weeks: Vec<WeekRow>,
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
        match storage.cluster_weeks(now).await {
            Ok(weeks) => {
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    rows = weeks.len(),
                    "cluster trend computed"
                );
                self.set(Ok(Snapshot {
                    as_of_ms: now,
                    weeks,
                }));
            }
            Err(e) => {
                tracing::warn!(error = %e, "computing the clusters' trend failed");
                self.set(Err(e.to_string()));
            }
        }
    }
}

/// Refreshes `cache` from `storage` every `every` (the first at once), one
/// run at a time; a run longer than `every` delays the next, it does not
/// stack them.
pub async fn refresh_loop(storage: Storage, cache: Arc<TrendCache>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        cache.refresh(&storage).await;
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
            weeks: Vec::new(),
        }));
        cache.set(Err("database unavailable".into()));
        assert!(
            matches!(cache.latest(), Latest::Ready(s) if s.as_of_ms == 1_000),
            "the last result stays, with its time"
        );
    }
}
