//! Time to safepoint from the counters, for a JVM whose log has no
//! `safepoint` lines (Kafka's stock `-Xlog:gc*`): over its life, over an
//! interval, and the worst mean between successive reads. Pure functions
//! over snapshots.
//!
//! What the counters hold, from HotSpot's `SafepointTracing` and
//! `RuntimeService` (and checked against `-Xlog:safepoint` on JDK 11, 17,
//! 21 and 25 in tests/integration/perfdata_jvm.rs): `sun.rt.safepointSyncTime` sums the
//! time from each request until every thread stopped, on every JDK (the
//! log's "Reaching safepoint" / "Stopping threads took").
//! `sun.rt.safepointTime` sums the whole stop on JDK 8-12 (the log's "Total
//! time for which application threads were stopped"), and from JDK 13 the
//! stop *after* the threads had stopped (so there the log's "Total" is the
//! sum of both counters).

use serde::Serialize;

use super::counters::{CounterSnapshot, NoInterval, interval};

/// Safepoint figures over a span (a JVM's life, or an interval).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafepointFigures {
    /// Safepoints begun.
    pub count: u64,
    /// Time to reach them, summed, ms.
    pub reaching_ms: f64,
    /// Time the threads stayed stopped once stopped, summed, ms; `null`
    /// when the JDK is not known (the counter's meaning depends on it).
    pub at_safepoint_ms: Option<f64>,
    /// Whole stopped time (reaching + at), ms; `null` as above.
    pub stopped_ms: Option<f64>,
    /// Mean time to reach one, ms; `null` without safepoints.
    pub mean_reaching_ms: Option<f64>,
    /// Mean time stopped at one, ms; `null` without safepoints or JDK.
    pub mean_at_safepoint_ms: Option<f64>,
    /// Why a figure is `null`, when one is.
    pub null_because: Option<String>,
}

/// The reaching and at-safepoint ms of raw tick sums, by JDK.
fn split(s: &CounterSnapshot, sync_ticks: u64, time_ticks: u64) -> (f64, Option<f64>) {
    let reaching = s.ms(sync_ticks);
    let at = match s.jdk {
        Some(j) if j <= 12 => Some(s.ms(time_ticks.saturating_sub(sync_ticks))),
        Some(_) => Some(s.ms(time_ticks)),
        None => None,
    };
    (reaching, at)
}

fn figures(s: &CounterSnapshot, count: u64, sync_ticks: u64, time_ticks: u64) -> SafepointFigures {
    let (reaching_ms, at_safepoint_ms) = split(s, sync_ticks, time_ticks);
    let per = |v: f64| (count > 0).then(|| v / count as f64);
    let mut null_because = None;
    if at_safepoint_ms.is_none() {
        null_because = Some(
            "the counters do not say the JDK version, which decides what sun.rt.safepointTime holds"
                .to_string(),
        );
    } else if count == 0 {
        null_because = Some("no safepoint yet".to_string());
    }
    SafepointFigures {
        count,
        reaching_ms,
        at_safepoint_ms,
        stopped_ms: at_safepoint_ms.map(|a| a + reaching_ms),
        mean_reaching_ms: per(reaching_ms),
        mean_at_safepoint_ms: at_safepoint_ms.and_then(per),
        null_because,
    }
}

/// Over the JVM's life until the read.
pub fn over_life(s: &CounterSnapshot) -> SafepointFigures {
    let sp = s.safepoints;
    figures(s, sp.count, sp.sync_ticks, sp.time_ticks)
}

/// Between two reads of one JVM life.
pub fn over_interval(
    before: &CounterSnapshot,
    after: &CounterSnapshot,
) -> Result<SafepointFigures, NoInterval> {
    let i = interval(before, after)?;
    Ok(figures(
        after,
        i.safepoints,
        i.safepoint_sync_ticks,
        i.safepoint_time_ticks,
    ))
}

/// The worst of the means between successive reads of an interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstMeans {
    /// The largest mean time to reach a safepoint between two successive
    /// reads, ms.
    pub mean_reaching_ms: f64,
    /// Which stretch had it: the index of its second read in `reads`.
    pub reaching_at_read: usize,
    /// The largest mean time stopped at a safepoint, ms; `null` without JDK.
    pub mean_at_safepoint_ms: Option<f64>,
    /// Which stretch had it (as `reaching_at_read`).
    pub at_safepoint_at_read: Option<usize>,
    /// Stretches with at least one safepoint that were weighed.
    pub stretches: u64,
}

/// The worst mean per safepoint over the stretches between successive
/// reads (`reads` in the order taken, all of one JVM life; a pair across a
/// restart or with a counter going back is skipped). `None` when no
/// stretch held a safepoint.
pub fn worst_means(reads: &[CounterSnapshot]) -> Option<WorstMeans> {
    let mut worst: Option<WorstMeans> = None;
    for (i, w) in reads.windows(2).enumerate() {
        let Ok(f) = over_interval(&w[0], &w[1]) else {
            continue;
        };
        let (Some(reach), at_read) = (f.mean_reaching_ms, i + 1) else {
            continue;
        };
        let cur = worst.get_or_insert(WorstMeans {
            mean_reaching_ms: reach,
            reaching_at_read: at_read,
            mean_at_safepoint_ms: f.mean_at_safepoint_ms,
            at_safepoint_at_read: f.mean_at_safepoint_ms.map(|_| at_read),
            stretches: 0,
        });
        cur.stretches += 1;
        if reach > cur.mean_reaching_ms {
            cur.mean_reaching_ms = reach;
            cur.reaching_at_read = at_read;
        }
        if let Some(at) = f.mean_at_safepoint_ms {
            if cur.mean_at_safepoint_ms.is_none_or(|m| at > m) {
                cur.mean_at_safepoint_ms = Some(at);
                cur.at_safepoint_at_read = Some(at_read);
            }
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jvm::perfdata::counters::tests::snap;

    #[test]
    fn life_figures_follow_the_jdk_meaning() {
        // JDK 17: safepointTime is the stop after reaching.
        let s = snap((0, 0), (0, 0), (0, 0), (10, 2_000_000, 48_000_000), 1);
        let f = over_life(&s);
        assert_eq!(f.count, 10);
        assert_eq!(f.reaching_ms, 2.0);
        assert_eq!(f.at_safepoint_ms, Some(48.0));
        assert_eq!(f.stopped_ms, Some(50.0));
        assert_eq!(f.mean_reaching_ms, Some(0.2));
        assert_eq!(f.mean_at_safepoint_ms, Some(4.8));
        // JDK 11: safepointTime is the whole stop.
        let mut s11 = s.clone();
        s11.jdk = Some(11);
        let f = over_life(&s11);
        assert_eq!(f.at_safepoint_ms, Some(46.0));
        assert_eq!(f.stopped_ms, Some(48.0));
        // Unknown JDK: what is certain stays, the rest is null with a reason.
        let mut sx = s;
        sx.jdk = None;
        let f = over_life(&sx);
        assert_eq!(f.reaching_ms, 2.0);
        assert_eq!(f.stopped_ms, None);
        assert!(f.null_because.is_some());
    }

    #[test]
    fn interval_and_worst_mean() {
        let a = snap(
            (0, 0),
            (0, 0),
            (0, 0),
            (10, 1_000_000, 10_000_000),
            1_000_000_000,
        );
        // 2 safepoints, 3 ms to reach in all: mean 1.5 ms.
        let b = snap(
            (0, 0),
            (0, 0),
            (0, 0),
            (12, 4_000_000, 14_000_000),
            2_000_000_000,
        );
        // 4 safepoints, 2 ms to reach: mean 0.5 ms; 40 ms at: mean 10 ms.
        let c = snap(
            (0, 0),
            (0, 0),
            (0, 0),
            (16, 6_000_000, 54_000_000),
            3_000_000_000,
        );
        // None.
        let d = c.clone();
        let f = over_interval(&a, &b).unwrap();
        assert_eq!(f.count, 2);
        assert_eq!(f.mean_reaching_ms, Some(1.5));
        let w = worst_means(&[a.clone(), b, c, d]).unwrap();
        assert_eq!(w.mean_reaching_ms, 1.5);
        assert_eq!(w.reaching_at_read, 1);
        assert_eq!(w.mean_at_safepoint_ms, Some(10.0));
        assert_eq!(w.at_safepoint_at_read, Some(2));
        assert_eq!(w.stretches, 2);
        assert_eq!(worst_means(&[a.clone(), a]), None);
        assert_eq!(worst_means(&[]), None);
    }
}
