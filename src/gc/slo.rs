//! GC service levels: limits on the analysis' figures (from a profile's
//! `[gc]` section, e.g. `gc_ms_per_second = "<=15"`), checked into findings.

use serde::Serialize;

use super::report::Analysis;
use crate::finding::{Finding, Status};
use crate::report::CounterWindow;

/// How a figure compares with its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cmp {
    /// The figure must be at most the limit.
    Le,
    /// The figure must be at least the limit.
    Ge,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Le => "<=",
            Cmp::Ge => ">=",
        }
    }
}

/// One service level: `metric op limit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    /// One of [`METRICS`].
    pub metric: String,
    /// The comparison.
    pub op: Cmp,
    /// The limit.
    pub limit: f64,
    /// Where it comes from (profile name and reason), copied into the finding.
    pub source: Option<String>,
}

/// The figures a level can name.
pub const METRICS: &[&str] = &[
    "gc_ms_per_second",
    "worst_minute_gc_ms_per_second",
    "pause_p50_ms",
    "pause_p90_ms",
    "pause_p99_ms",
    "pause_p999_ms",
    "pause_max_ms",
    "pause_mean_ms",
    "young_pause_p99_ms",
    "young_gcs_per_second",
    "full_gcs",
    "full_gc_max_ms",
    "evacuation_failures",
    "humongous_allocations",
    "allocation_rate_mb_per_s",
    "stalled_pauses",
    "stalled_pause_share_percent",
    "time_to_safepoint_p99_ms",
    "time_to_safepoint_max_ms",
    "non_gc_stopped_max_ms",
    STALL_RATIO,
    STALL_MIN_MS,
    TIMEOUT_SHARE_PERCENT,
];

/// `[gc]` key: a pause is stalled when its wall time is at least this many
/// times what its CPU time needed (`stall_ratio = ">=3"`).
pub const STALL_RATIO: &str = "stall_ratio";
/// `[gc]` key: ... and it waited at least this many ms (`stall_min_ms = ">=50"`).
pub const STALL_MIN_MS: &str = "stall_min_ms";
/// `[gc]` key: a pause or stop may take at most this percent of each of the
/// broker's timeouts (`timeout_share_percent = "<=50"`).
pub const TIMEOUT_SHARE_PERCENT: &str = "timeout_share_percent";
/// `[gc]` keys that set how the analysis judges, rather than bound a figure.
pub const PARAMETERS: &[&str] = &[STALL_RATIO, STALL_MIN_MS, TIMEOUT_SHARE_PERCENT];

/// A level that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// The metric is not one of [`METRICS`].
    #[error("unknown GC metric `{0}` (known: {list})", list = METRICS.join(", "))]
    UnknownMetric(String),
    /// The expression is not `<=N`, `>=N` or `N`.
    #[error("GC level `{metric}`: `{expr}` is not <=N, >=N or N")]
    BadExpression {
        /// The metric.
        metric: String,
        /// The text.
        expr: String,
    },
}

impl Level {
    /// Reads `"<=15"`, `">= 0.5"` or `"15"` (a bare number is a maximum).
    pub fn parse(metric: &str, expr: &str, source: Option<String>) -> Result<Level, LevelError> {
        if !METRICS.contains(&metric) {
            return Err(LevelError::UnknownMetric(metric.to_owned()));
        }
        let e = expr.trim();
        let (op, num) = if let Some(n) = e.strip_prefix("<=") {
            (Cmp::Le, n)
        } else if let Some(n) = e.strip_prefix(">=") {
            (Cmp::Ge, n)
        } else {
            (Cmp::Le, e)
        };
        let limit = num
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| LevelError::BadExpression {
                metric: metric.to_owned(),
                expr: expr.to_owned(),
            })?;
        Ok(Level {
            metric: metric.to_owned(),
            op,
            limit,
            source,
        })
    }
}

/// The value of a metric in an analysis; `None` when not computable (or unknown).
pub fn metric_value(a: &Analysis, metric: &str) -> Option<f64> {
    let s = &a.stats;
    let has_pauses = s.overall.count > 0;
    match metric {
        "gc_ms_per_second" => s.gc_ms_per_second,
        "worst_minute_gc_ms_per_second" => s.worst_minute_gc_ms_per_second,
        "pause_p50_ms" => has_pauses.then_some(s.overall.p50_ms),
        "pause_p90_ms" => has_pauses.then_some(s.overall.p90_ms),
        "pause_p99_ms" => has_pauses.then_some(s.overall.p99_ms),
        "pause_p999_ms" => has_pauses.then_some(s.overall.p999_ms),
        "pause_max_ms" => has_pauses.then_some(s.overall.max_ms),
        "pause_mean_ms" => has_pauses.then_some(s.overall.mean_ms),
        "young_pause_p99_ms" => (s.pauses.young.count > 0).then_some(s.pauses.young.p99_ms),
        "young_gcs_per_second" => s.young_gcs_per_second,
        "full_gcs" => Some(s.pauses.full.count as f64),
        "full_gc_max_ms" => Some(s.pauses.full.max_ms),
        "evacuation_failures" => Some(s.evacuation_failures as f64),
        "humongous_allocations" => Some(s.humongous_allocations as f64),
        "allocation_rate_mb_per_s" => s.allocation_rate_mb_per_s,
        "stalled_pauses" => s.stalls.stalled_pauses.map(|n| n as f64),
        "stalled_pause_share_percent" => s.stalls.stalled_share_percent,
        "time_to_safepoint_p99_ms" => s.safepoints.time_to_safepoint.map(|t| t.p99_ms),
        "time_to_safepoint_max_ms" => s.safepoints.time_to_safepoint.map(|t| t.max_ms),
        "non_gc_stopped_max_ms" => s.safepoints.non_gc_max_ms,
        _ => None,
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// Checks each level against the analysis (`check: "gc"`).
pub fn evaluate(a: &Analysis, levels: &[Level]) -> Vec<Finding> {
    levels
        .iter()
        .filter(|l| !PARAMETERS.contains(&l.metric.as_str()))
        .map(|l| {
            if !METRICS.contains(&l.metric.as_str()) {
                return judge(
                    l,
                    None,
                    Status::NotApplicable,
                    format!("unknown metric `{}`", l.metric),
                );
            }
            let value = metric_value(a, &l.metric);
            let why = if value.is_some() {
                String::new()
            } else {
                let why = if l.metric.starts_with("stalled") {
                    a.stats.stalls.null_because.clone()
                } else if l.metric.contains("safepoint") || l.metric.starts_with("non_gc") {
                    a.stats.safepoints.null_because.clone()
                } else if l.metric.ends_with("per_second") {
                    // A rate: the log's span, or the JVM's running time.
                    a.stats.rates_null_because.clone()
                } else {
                    None
                };
                why.map_or_else(
                    || {
                        "not computable from this log (no usable time stamps or no pauses)"
                            .to_owned()
                    },
                    |w| format!("not computable: {w}"),
                )
            };
            judge(l, value, Status::NotApplicable, why)
        })
        .collect()
}

/// The levels a JVM's own counters can judge, over its life: a rate and a
/// count. Percentiles, maxima, evacuation failures, humongous allocations
/// and stalls are per-event figures: they need the GC log.
pub const COUNTED_METRICS: &[&str] = &["gc_ms_per_second", "full_gcs"];

/// What a level judged by the counters says of its figure.
pub const FROM_COUNTERS: &str = "from the JVM's own counters (no readable GC log)";

/// The value of a counted metric in a window of the JVM's own counters;
/// `None` for a metric they cannot give (see [`COUNTED_METRICS`]).
pub fn counter_value(w: &CounterWindow, metric: &str) -> Option<f64> {
    match metric {
        "gc_ms_per_second" => w.gc_ms_per_second.filter(|r| r.is_finite() && *r >= 0.0),
        // No `full` entry: the JVM has no full collector counter yet, none ran.
        "full_gcs" => Some(w.pauses.get("full").map_or(0, |p| p.count) as f64),
        _ => None,
    }
}

/// Checks each level of a JVM whose GC log could not be read: never `ok`
/// on figures it does not have. `life`: its own counters over its life
/// (the window a logged JVM's levels are judged over), which judge the
/// levels they can ([`COUNTED_METRICS`]); every other level, or every
/// level without counters, is `unread` (the status its log's finding has,
/// and why the log was not read).
pub fn evaluate_without_log(
    life: Option<&CounterWindow>,
    levels: &[Level],
    unread: (Status, &str),
) -> Vec<Finding> {
    let (status, why) = unread;
    levels
        .iter()
        .filter(|l| !PARAMETERS.contains(&l.metric.as_str()))
        .map(|l| {
            let counted = COUNTED_METRICS.contains(&l.metric.as_str());
            match life.and_then(|w| counter_value(w, &l.metric)) {
                Some(v) => judge(l, Some(v), status, FROM_COUNTERS.into()),
                None if counted => judge(
                    l,
                    None,
                    status,
                    format!(
                        "not judged: no readable GC log ({why}) and no figure from the JVM's own counters"
                    ),
                ),
                None => judge(l, None, status, format!("needs the GC log ({why})")),
            }
        })
        .collect()
}

/// One level's finding: `value` against the limit, or `status` with `why`
/// when there is no value. `why` is the detail of a judged value too
/// (where it came from), when not empty.
fn judge(l: &Level, value: Option<f64>, status: Status, why: String) -> Finding {
    let status = match value {
        None => status,
        Some(v) => {
            let ok = match l.op {
                Cmp::Le => v <= l.limit,
                Cmp::Ge => v >= l.limit,
            };
            if ok { Status::Ok } else { Status::Drift }
        }
    };
    Finding {
        check: "gc".into(),
        key: l.metric.clone(),
        expected: format!("{}{}", l.op.symbol(), fmt_num(l.limit)),
        actual: value.map(fmt_num),
        status,
        source: l.source.clone(),
        detail: (!why.is_empty()).then_some(why),
        waiver: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels() {
        let l = Level::parse("gc_ms_per_second", "<=15", None).unwrap();
        assert_eq!((l.op, l.limit), (Cmp::Le, 15.0));
        let l = Level::parse("full_gcs", " >= 1 ", None).unwrap();
        assert_eq!((l.op, l.limit), (Cmp::Ge, 1.0));
        assert!(Level::parse("nope", "1", None).is_err());
        assert!(Level::parse("full_gcs", "<=x", None).is_err());
    }
    fn levels() -> Vec<Level> {
        ["gc_ms_per_second<=15", "pause_p99_ms<=50", "full_gcs<=0"]
            .iter()
            .map(|t| {
                let (m, e) = t.split_at(t.find('<').unwrap());
                Level::parse(m, e, Some("kafka-broker".into())).unwrap()
            })
            .collect()
    }

    fn life(rate: f64, full: u64) -> CounterWindow {
        CounterWindow {
            window: "jvm_lifetime".into(),
            seconds: Some(600.0),
            pauses: [(
                "full".to_owned(),
                crate::report::CounterPauses {
                    count: full,
                    time_ms: 300.0,
                },
            )]
            .into_iter()
            .collect(),
            gc_ms_per_second: Some(rate),
            ..CounterWindow::default()
        }
    }

    /// An empty analysis (what an unreadable log gives) judges `full_gcs`
    /// `ok`: the figure is not the JVM's, so without a log no level is
    /// ever `ok` on it; the counters judge what they can, and say so.
    #[test]
    fn without_a_log_the_counters_judge_what_they_can() {
        let why = "permission denied";
        let f = evaluate_without_log(None, &levels(), (Status::Unreadable, why));
        assert!(
            f.iter()
                .all(|f| f.status == Status::Unreadable && f.actual.is_none())
        );
        assert_eq!(
            f[1].detail.as_deref(),
            Some("needs the GC log (permission denied)")
        );
        assert!(
            f[2].detail
                .as_deref()
                .unwrap()
                .starts_with("not judged: no readable GC log")
        );

        let f = evaluate_without_log(Some(&life(40.0, 1)), &levels(), (Status::Unreadable, why));
        let by = |k: &str| f.iter().find(|f| f.key == k).unwrap();
        assert_eq!(by("gc_ms_per_second").status, Status::Drift);
        assert_eq!(by("gc_ms_per_second").actual.as_deref(), Some("40"));
        assert_eq!(
            by("gc_ms_per_second").detail.as_deref(),
            Some(FROM_COUNTERS)
        );
        assert_eq!(
            by("gc_ms_per_second").source.as_deref(),
            Some("kafka-broker")
        );
        assert_eq!(by("full_gcs").status, Status::Drift);
        assert_eq!(by("full_gcs").actual.as_deref(), Some("1"));
        assert_eq!(by("pause_p99_ms").status, Status::Unreadable);

        let f = evaluate_without_log(Some(&life(4.0, 0)), &levels(), (Status::NotApplicable, why));
        let by = |k: &str| f.iter().find(|f| f.key == k).unwrap();
        assert_eq!(by("gc_ms_per_second").status, Status::Ok);
        assert_eq!(by("full_gcs").status, Status::Ok);
        assert_eq!(by("pause_p99_ms").status, Status::NotApplicable);
    }
}
