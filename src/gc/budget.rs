//! The timeout budget: the worst pause and the worst stop against the
//! broker's own timeouts. A broker that stops longer than its session
//! timeout is dropped from the cluster; longer than `replica.lag.time.max.ms`
//! and it falls out of the ISR. A stop that takes more than a set share of
//! a timeout is a finding before it becomes an outage.

use serde::Serialize;

use super::hist::round3;
use super::report::Analysis;
use crate::finding::{Finding, Status};

/// The share of each timeout a pause may take unless the profile says
/// otherwise (`[gc] timeout_share_percent`).
pub const DEFAULT_SHARE_PERCENT: f64 = 50.0;

/// One timeout of the broker (or its clients), with where its value came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeoutLimit {
    /// The configuration key (`broker.session.timeout.ms`, ...).
    pub key: String,
    /// What expires when it runs out.
    pub what: String,
    /// Its value, ms.
    pub value_ms: u64,
    /// Where the value came from: the file, an `--override`, or Kafka's default.
    pub from: String,
}

/// One timeout weighed against the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeoutCheck {
    /// The timeout.
    #[serde(flatten)]
    pub limit: TimeoutLimit,
    /// The longest pause, ms (`null` without pauses).
    pub worst_pause_ms: Option<f64>,
    /// ... as a percent of the timeout.
    pub worst_pause_percent: Option<f64>,
    /// The longest stop at a safepoint, ms (`null` without safepoint lines).
    pub worst_stop_ms: Option<f64>,
    /// ... as a percent of the timeout.
    pub worst_stop_percent: Option<f64>,
    /// Pause time in the worst 60 seconds, ms (`null` when rates are).
    pub worst_minute_pause_ms: Option<f64>,
    /// Stopped time in the worst 60 seconds, ms.
    pub worst_minute_stop_ms: Option<f64>,
}

fn percent(part: Option<f64>, whole: u64) -> Option<f64> {
    part.map(|p| round3(100.0 * p / whole as f64))
}

/// The longest pause's kind and time, for the finding's text.
fn worst_pause_text(a: &Analysis) -> String {
    let s = &a.stats;
    let p = s
        .pause_timeline
        .iter()
        .max_by(|x, y| x.duration_ms.total_cmp(&y.duration_ms));
    match p {
        Some(p) => {
            let when = match (p.wall_ms, p.t_s) {
                (Some(w), _) => {
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(w) * 1_000_000)
                        .ok()
                        .and_then(|d| {
                            d.format(&time::format_description::well_known::Rfc3339)
                                .ok()
                        })
                        .map_or_else(String::new, |t| format!(" at {t}"))
                }
                (None, Some(t)) => format!(" {t:.3} s into the log"),
                _ => String::new(),
            };
            format!("{} pause of {:.1} ms{when}", p.kind.as_str(), p.duration_ms)
        }
        None => "no pause".into(),
    }
}

/// Weighs the analysis against each timeout; returns the checks and one
/// finding per timeout (`drift` when the worst pause or stop took more
/// than `share_percent` of it).
pub fn evaluate(
    a: &Analysis,
    limits: &[TimeoutLimit],
    share_percent: f64,
    source: Option<String>,
) -> (Vec<TimeoutCheck>, Vec<Finding>) {
    let s = &a.stats;
    let worst_pause = (s.overall.count > 0).then_some(s.overall.max_ms);
    let worst_stop = s.safepoints.max_stopped_ms;
    let minute_s = s.span_s.map(|sp| sp.min(60.0));
    let worst_minute_pause = s
        .worst_minute_gc_ms_per_second
        .zip(minute_s)
        .map(|(r, m)| round3(r * m));
    let mut checks = Vec::new();
    let mut findings = Vec::new();
    for l in limits.iter().filter(|l| l.value_ms > 0) {
        let check = TimeoutCheck {
            limit: l.clone(),
            worst_pause_ms: worst_pause,
            worst_pause_percent: percent(worst_pause, l.value_ms),
            worst_stop_ms: worst_stop,
            worst_stop_percent: percent(worst_stop, l.value_ms),
            worst_minute_pause_ms: worst_minute_pause,
            worst_minute_stop_ms: s.safepoints.worst_minute_stopped_ms,
        };
        let allowed = l.value_ms as f64 * share_percent / 100.0;
        let worst = worst_pause
            .into_iter()
            .chain(worst_stop)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let (status, actual) = match worst {
            None => (Status::NotApplicable, None),
            Some(w) => (
                if w > allowed {
                    Status::Drift
                } else {
                    Status::Ok
                },
                Some(format!(
                    "{w:.1} ms ({:.1} %)",
                    100.0 * w / l.value_ms as f64
                )),
            ),
        };
        let stop_text = match worst_stop {
            Some(st) if worst_pause.is_none_or(|p| st > p) => {
                format!("; the longest stop at a safepoint took {st:.1} ms")
            }
            _ => String::new(),
        };
        findings.push(Finding {
            check: "gc".into(),
            key: format!("timeout:{}", l.key),
            expected: format!("<={share_percent}% of {} ms", l.value_ms),
            actual,
            status,
            source: source.clone(),
            detail: Some(format!(
                "{} = {} ms ({}), {}: the worst was a {}{stop_text}",
                l.key,
                l.value_ms,
                l.from,
                l.what,
                worst_pause_text(a)
            )),
            waiver: None,
        });
        checks.push(check);
    }
    (checks, findings)
}
