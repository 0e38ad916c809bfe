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

/// The longest stop the JVM's own counters prove, for a log without
/// `safepoint` lines (Kafka's stock `-Xlog:gc*`): between two reads of
/// the counters the JVM stopped `safepoints` times for `mean_stop_ms` on
/// average, so its longest stop in that stretch took at least that long
/// (exactly that, for a stretch of one safepoint). Unlike a logged pause,
/// a stop includes the time to reach the safepoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterStop {
    /// The worst mean stop per safepoint (time to reach + time at), ms.
    pub mean_stop_ms: f64,
    /// Of which reaching the safepoint, mean, ms.
    pub mean_reaching_ms: f64,
    /// Safepoints in that stretch.
    pub safepoints: u64,
    /// The stretch's length, s, when known.
    pub seconds: Option<f64>,
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
    /// Without safepoint lines in the log: the longest stop the JVM's
    /// counters prove (a lower bound, see [`CounterStop`]), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter_stop_ms: Option<f64>,
    /// ... as a percent of the timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter_stop_percent: Option<f64>,
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
/// than `share_percent` of it). `counters`: the longest stop the JVM's
/// counters prove, weighed only when the log has no safepoint lines (with
/// them, the log's own stops are the detail and the counters the check).
pub fn evaluate(
    a: &Analysis,
    limits: &[TimeoutLimit],
    share_percent: f64,
    source: Option<String>,
    counters: Option<&CounterStop>,
) -> (Vec<TimeoutCheck>, Vec<Finding>) {
    let s = &a.stats;
    let worst_pause = (s.overall.count > 0).then_some(s.overall.max_ms);
    let worst_stop = s.safepoints.max_stopped_ms;
    let counter_stop = counters.filter(|_| worst_stop.is_none());
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
            counter_stop_ms: counter_stop.map(|c| c.mean_stop_ms),
            counter_stop_percent: percent(counter_stop.map(|c| c.mean_stop_ms), l.value_ms),
        };
        let allowed = l.value_ms as f64 * share_percent / 100.0;
        let worst = worst_pause
            .into_iter()
            .chain(worst_stop)
            .chain(counter_stop.map(|c| c.mean_stop_ms))
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
        let stop_text = match (worst_stop, counter_stop) {
            (Some(st), _) if worst_pause.is_none_or(|p| st > p) => {
                format!("; the longest stop at a safepoint took {st:.1} ms")
            }
            (None, Some(c)) if worst_pause.is_none_or(|p| c.mean_stop_ms > p) => {
                format!(
                    "; the JVM's counters show a stop of at least {:.1} ms ({}, {:.1} ms of it reaching the safepoint, which the log's pause times leave out)",
                    c.mean_stop_ms,
                    if c.safepoints == 1 {
                        "one safepoint between two of the agent's reads".to_string()
                    } else {
                        format!(
                            "the mean of {} safepoints between two of the agent's reads",
                            c.safepoints
                        )
                    },
                    c.mean_reaching_ms
                )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::analyse::{AnalyseOptions, build};
    use crate::gc::event::{GcEvent, Pause, PauseKind, Stamp};
    use crate::gc::stats::GcStats;

    /// A log with one 20 ms young pause and no safepoint lines.
    fn stock_log() -> GcStats {
        let mut s = GcStats::new();
        s.add(&GcEvent::Pause(Pause {
            kind: PauseKind::Young,
            cause: "G1 Evacuation Pause".into(),
            at: Stamp {
                wall_ms: Some(1_000_000),
                uptime_ms: None,
            },
            duration_ms: 20.0,
            heap: None,
            gc_id: Some(0),
            evacuation_failure: false,
            workers: None,
        }));
        s
    }

    fn session() -> TimeoutLimit {
        TimeoutLimit {
            key: "broker.session.timeout.ms".into(),
            what: "fenced".into(),
            value_ms: 9_000,
            from: "Kafka's default".into(),
        }
    }

    /// Kafka's stock flags log no safepoints: a 6 s stall reaching one,
    /// which the log's 20 ms pause leaves out, shows through the counters
    /// and drifts against a 9 s session timeout at 50 %.
    #[test]
    fn the_counters_stop_is_weighed_when_the_log_has_no_safepoint_lines() {
        let stop = CounterStop {
            mean_stop_ms: 6_020.0,
            mean_reaching_ms: 6_000.0,
            safepoints: 1,
            seconds: Some(15.0),
        };
        let opts = AnalyseOptions {
            timeouts: vec![session()],
            counter_stop: Some(stop.clone()),
            ..AnalyseOptions::default()
        };
        let a = build(stock_log(), &opts, Vec::new());
        let f = timeout_finding(&a);
        assert_eq!(f.status, Status::Drift, "{f:?}");
        assert_eq!(f.actual.as_deref(), Some("6020.0 ms (66.9 %)"));
        let d = f.detail.as_deref().unwrap();
        assert!(
            d.contains("the JVM's counters show a stop of at least 6020.0 ms (one safepoint"),
            "{d}"
        );
        assert_eq!(a.timeout_budget[0].counter_stop_ms, Some(6_020.0));

        // Without the counters: the log's 20 ms pause alone, well within.
        let a = build(
            stock_log(),
            &AnalyseOptions {
                timeouts: vec![session()],
                ..AnalyseOptions::default()
            },
            Vec::new(),
        );
        assert_eq!(timeout_finding(&a).status, Status::Ok);
    }

    fn timeout_finding(a: &Analysis) -> &Finding {
        a.findings
            .iter()
            .find(|f| f.key == "timeout:broker.session.timeout.ms")
            .unwrap()
    }

    /// With safepoint lines the log's own stops are the detail: the
    /// counters' bound is not weighed (it is the cross-check's).
    #[test]
    fn a_log_with_safepoint_lines_keeps_its_own_stops() {
        let mut s = stock_log();
        let mut p = crate::gc::unified::UnifiedParser::new();
        use crate::gc::parser::LineParser;
        p.feed(
            b"[2026-11-24T10:00:01.001+0000][safepoint] Safepoint \"G1CollectForAllocation\", Time since last: 1000 ns, Reaching safepoint: 2000 ns, At safepoint: 30000000 ns, Total: 30002000 ns",
            &mut |ev| s.add(&ev),
        );
        let opts = AnalyseOptions {
            timeouts: vec![session()],
            counter_stop: Some(CounterStop {
                mean_stop_ms: 6_020.0,
                mean_reaching_ms: 6_000.0,
                safepoints: 1,
                seconds: None,
            }),
            ..AnalyseOptions::default()
        };
        let a = build(s, &opts, Vec::new());
        let f = timeout_finding(&a);
        assert_eq!(f.status, Status::Ok, "{f:?}");
        assert_eq!(a.timeout_budget[0].counter_stop_ms, None);
        assert_eq!(a.timeout_budget[0].worst_stop_ms, Some(30.002));
    }
}
