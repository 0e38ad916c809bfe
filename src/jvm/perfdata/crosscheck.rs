//! The log beside the JVM's own counters: the same JVM life counted twice,
//! by two witnesses. Equal is "verified"; a difference is shown with both
//! figures and its likely cause. Pure.
//!
//! Which log pauses each counter counts (checked on real JVMs, JDK 11-25,
//! tests/integration/perfdata_jvm.rs; see [`super::counters`]): young = Young, Concurrent
//! Start, Prepare Mixed and Mixed; full = Full; concurrent cycle = Remark
//! and Cleanup. Counts must be equal.
//!
//! Times cannot be equal to the digit. The log prints each pause rounded
//! to a microsecond, and the JVM times its counter over a span nested in,
//! not identical to, the logged pause (`TraceCollectorStats` beside
//! `GCTraceTime`): measured on JDK 11, 17, 21 and 25
//! (tests/integration/perfdata_jvm.rs), the counters' sum sits 0.03-2 % under the
//! log's (young: 0.3-0.4 %, about 0.04 ms a pause), and on JDK 11 a full
//! pause's counter ran 0.11 ms *over* its logged duration. So a counter
//! over the log agrees within [`TIME_SHARE`] of the log's sum plus
//! [`TIME_PER_PAUSE_MS`] per pause: about four times the widest gap
//! measured. Under the log there is no bound to check: the gap grows with
//! the host's load. The agent on a 2-core VM at load average 17 saw JDK
//! 17's young counters 2.5 % (0.51 ms a pause) and 28 % (2.6 ms a pause,
//! a JVM with a concurrent cycle running all along) under the log of the
//! same pauses, with every count equal. A counter under the log agrees,
//! and the detail says by how much; only a counter over it (pause time the
//! log lacks) is a difference.
//! Safepoint times are the same clock read at the same instants on JDK
//! 13+ (whole nanoseconds printed): they agree to the rounding. On JDK
//! 9-12 the log line and the counter read the clock microseconds apart
//! (the line is written in between): measured 0.4 µs (time to reach) and
//! 3.7 µs (stopped) per safepoint; allowed [`SAFEPOINT_OLD_PER_LINE_MS`].

use serde::Serialize;

use super::counters::{CollectorKind, CounterSnapshot};
use crate::gc::stats::StatsSnapshot;

/// The log prints a pause's duration in ms with three decimals.
const LOG_PAUSE_ROUNDING_MS: f64 = 0.0005;
/// A pause time agrees within this share of the log's sum ...
pub const TIME_SHARE: f64 = 0.01;
/// ... plus this much per pause, for a counter over the log (see the
/// module's notes).
pub const TIME_PER_PAUSE_MS: f64 = 0.05;
/// JDK 9-12: a safepoint line and the counters read the clock apart.
pub const SAFEPOINT_OLD_PER_LINE_MS: f64 = 0.02;
/// JDK 13+ prints whole nanoseconds: the same ticks, summed as floating
/// point.
const LOG_SAFEPOINT_ROUNDING_MS: f64 = 0.000_001;
/// The log's summaries round totals to the microsecond.
const SUMMARY_ROUNDING_MS: f64 = 0.001;

/// What the log says about one JVM life.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogTotals {
    /// Young-type pauses: (count, ms).
    pub young: (u64, f64),
    /// Full pauses.
    pub full: (u64, f64),
    /// Remark and Cleanup pauses.
    pub concurrent_cycle: (u64, f64),
    /// Safepoint lines: (count, time to reach ms, stopped ms); `None`
    /// when the log has none.
    pub safepoints: Option<(u64, f64, f64)>,
    /// The log holds the JVM's start (its header): it can hold the whole life.
    pub covers_start: bool,
    /// JVM starts in the log: more than one is more than one life.
    pub jvm_starts: u64,
    /// Wall time of the log's first event, epoch ms, when it has one.
    pub first_wall_ms: Option<i64>,
}

impl LogTotals {
    /// The totals of a log's statistics (one JVM life's, for the agent;
    /// the whole input's, for `tunekeeper gc`).
    pub fn from_stats(s: &StatsSnapshot) -> LogTotals {
        let p = &s.pauses;
        let sum = |xs: &[&crate::gc::hist::PauseSummary]| {
            xs.iter()
                .fold((0u64, 0.0f64), |(n, t), x| (n + x.count, t + x.total_ms))
        };
        let sp = &s.safepoints;
        LogTotals {
            young: sum(&[&p.young, &p.concurrent_start, &p.prepare_mixed, &p.mixed]),
            full: sum(&[&p.full]),
            concurrent_cycle: sum(&[&p.remark, &p.cleanup]),
            safepoints: (sp.count > 0).then(|| {
                (
                    sp.count,
                    sp.time_to_safepoint.map(|t| t.total_ms).unwrap_or(0.0),
                    sp.stopped_ms.unwrap_or(0.0),
                )
            }),
            covers_start: s.jvm_starts >= 1,
            jvm_starts: s.jvm_starts,
            first_wall_ms: s.first_wall_ms,
        }
    }
}

/// How one figure compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Equal (times: within the tolerance).
    Verified,
    /// Different.
    Differs,
    /// Not compared (the log lacks the figure, or the counts already differ).
    NotCompared,
}

/// One figure, from both witnesses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureCheck {
    /// `young pauses`, `young pause time`, `safepoints`, ...
    pub figure: String,
    /// The log's value (a count, or ms).
    pub log: f64,
    /// The counters' value (`null` when they cannot give it).
    pub jvm: Option<f64>,
    /// `pauses`, `safepoints` or `ms`.
    pub unit: &'static str,
    /// How far apart they may be and still agree (0 for counts).
    pub tolerance: f64,
    /// The verdict.
    pub status: CheckStatus,
    /// For a difference, the sentence a person reads: both figures and the
    /// likely cause; for a figure not compared, why.
    pub detail: Option<String>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossCheck {
    /// Every figure compared agreed (and at least one was).
    pub verified: bool,
    /// The figures.
    pub checks: Vec<FigureCheck>,
    /// Why nothing could be compared, when so.
    pub not_comparable: Option<String>,
}

/// A GC is running at the read (`sun.gc.cause` is not `No GC`): its
/// pause is counted but not yet logged, its time not yet added.
fn gc_running(s: &CounterSnapshot) -> bool {
    s.current_cause.as_deref().is_some_and(|c| c != "No GC")
}

/// `3893` → `3,893`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Compares the log's totals of one JVM life with one read of its counters.
pub fn cross_check(log: &LogTotals, jvm: &CounterSnapshot) -> CrossCheck {
    cross_check_between(log, jvm, jvm)
}

/// Like [`cross_check`] with the counters read before and after the log
/// was read: a count between the two reads agrees (those pauses ran while
/// the log was being read).
pub fn cross_check_between(
    log: &LogTotals,
    before: &CounterSnapshot,
    after: &CounterSnapshot,
) -> CrossCheck {
    let none = |why: String| CrossCheck {
        verified: false,
        checks: Vec::new(),
        not_comparable: Some(why),
    };
    if before.jvm_start_ms != after.jvm_start_ms {
        return none("the JVM restarted while its log was read".into());
    }
    if log.jvm_starts > 1 {
        return none(format!(
            "the log holds {} JVM lives; the counters are the last one's",
            log.jvm_starts
        ));
    }
    // The log's first event before this JVM started: another JVM's log.
    // (A second of slack: the start stamp and the log's clock differ.)
    if let Some(first) = log.first_wall_ms {
        if first < after.jvm_start_ms - 1000 {
            return none("the log begins before this JVM started: it is another JVM's log".into());
        }
    }
    let lost_cause = if log.covers_start {
        "not in the log (written after it was read, or rotated away between reads)"
    } else {
        "lost to rotation (the log no longer holds the JVM's start)"
    };
    let mut checks = Vec::new();
    let kinds = [
        (CollectorKind::Young, log.young, "young"),
        (CollectorKind::Full, log.full, "full"),
        (
            CollectorKind::ConcurrentCycle,
            log.concurrent_cycle,
            "concurrent-cycle",
        ),
    ];
    for (kind, (log_n, log_ms), word) in kinds {
        let (Some((n0, _)), Some((n1, ms1))) = (before.pauses(kind), after.pauses(kind)) else {
            continue;
        };
        let figure = format!("{word} pauses");
        // A pause is counted when it begins and logged when it ends: one
        // in progress at the first read may be missing from the log.
        let count_ok = (n0.saturating_sub(u64::from(gc_running(before)))..=n1).contains(&log_n);
        let detail = if count_ok {
            None
        } else if log_n < n0 {
            let missing = n0 - log_n;
            Some(format!(
                "the log shows {} {word} pauses, the JVM counted {}: {} {lost_cause}",
                thousands(log_n),
                thousands(n0),
                thousands(missing)
            ))
        } else {
            Some(format!(
                "the log shows {} {word} pauses, the JVM counted {}: {} more in the log than the JVM ran (another JVM's lines, or lines read twice)",
                thousands(log_n),
                thousands(n1),
                thousands(log_n - n1)
            ))
        };
        checks.push(FigureCheck {
            figure,
            log: log_n as f64,
            jvm: Some(n1 as f64),
            unit: "pauses",
            tolerance: 0.0,
            status: if count_ok {
                CheckStatus::Verified
            } else {
                CheckStatus::Differs
            },
            detail,
        });
        let figure = format!("{word} pause time");
        if !count_ok || n0 != n1 || log_n != n1 || gc_running(before) || gc_running(after) {
            checks.push(FigureCheck {
                figure,
                log: log_ms,
                jvm: Some(ms1),
                unit: "ms",
                tolerance: 0.0,
                status: CheckStatus::NotCompared,
                detail: Some(if count_ok {
                    "a pause ran while the log was read".into()
                } else {
                    "the counts differ".into()
                }),
            });
            continue;
        }
        let tick_ms = 1000.0 / after.frequency_hz as f64;
        let tol = log_ms * TIME_SHARE
            + log_n as f64 * (TIME_PER_PAUSE_MS + LOG_PAUSE_ROUNDING_MS)
            + tick_ms
            + SUMMARY_ROUNDING_MS;
        // The counter's span is nested in the logged pause: under the log
        // it agrees whatever the gap (which grows with the host's load).
        let ok = ms1 - log_ms <= tol;
        let under = (log_ms - ms1 > tol).then(|| {
            format!(
                "the JVM timed {ms1:.3} ms of the log's {log_ms:.3} ms ({:.1} % under, {:.2} ms a pause): its counter times a span nested in each logged pause",
                100.0 * (log_ms - ms1) / log_ms,
                (log_ms - ms1) / log_n.max(1) as f64
            )
        });
        checks.push(FigureCheck {
            figure,
            log: log_ms,
            jvm: Some(ms1),
            unit: "ms",
            tolerance: tol,
            status: if ok {
                CheckStatus::Verified
            } else {
                CheckStatus::Differs
            },
            detail: if ok {
                under
            } else {
                Some(format!(
                    "the log sums {word} pauses to {log_ms:.3} ms, the JVM timed {ms1:.3} ms: more than the log holds, beyond its rounding and the JVM's timing ({tol:.3} ms)"
                ))
            },
        });
    }
    safepoint_checks(log, before, after, &mut checks);
    let compared: Vec<&FigureCheck> = checks
        .iter()
        .filter(|c| c.status != CheckStatus::NotCompared)
        .collect();
    if compared.is_empty() {
        return none("the counters have no collector the log's pauses map to".into());
    }
    CrossCheck {
        verified: compared.iter().all(|c| c.status == CheckStatus::Verified),
        checks,
        not_comparable: None,
    }
}

fn safepoint_checks(
    log: &LogTotals,
    before: &CounterSnapshot,
    after: &CounterSnapshot,
    checks: &mut Vec<FigureCheck>,
) {
    let Some((log_n, log_reach, log_stopped)) = log.safepoints else {
        return;
    };
    let (n0, n1) = (before.safepoints.count, after.safepoints.count);
    // A safepoint is counted when it begins and logged when it ends: one
    // may be in progress at the read.
    let count_ok = log_n >= n0.saturating_sub(1) && log_n <= n1;
    checks.push(FigureCheck {
        figure: "safepoints".into(),
        log: log_n as f64,
        jvm: Some(n1 as f64),
        unit: "safepoints",
        tolerance: 0.0,
        status: if count_ok {
            CheckStatus::Verified
        } else {
            CheckStatus::Differs
        },
        detail: (!count_ok).then(|| {
            format!(
                "the log shows {} safepoints, the JVM counted {}",
                thousands(log_n),
                thousands(n1)
            )
        }),
    });
    let f = super::safepoints::over_life(after);
    let steady = n0 == n1 && log_n == n1 && before.safepoints == after.safepoints;
    let per_line = match after.jdk {
        Some(j) if j <= 12 => SAFEPOINT_OLD_PER_LINE_MS,
        _ => LOG_SAFEPOINT_ROUNDING_MS,
    };
    let tol =
        log_n as f64 * per_line + 2.0 * SUMMARY_ROUNDING_MS + 1000.0 / after.frequency_hz as f64;
    let mut time = |figure: &str, log_ms: f64, jvm_ms: Option<f64>| {
        let Some(jvm_ms) = jvm_ms else {
            checks.push(FigureCheck {
                figure: figure.into(),
                log: log_ms,
                jvm: None,
                unit: "ms",
                tolerance: tol,
                status: CheckStatus::NotCompared,
                detail: f.null_because.clone(),
            });
            return;
        };
        if !steady {
            checks.push(FigureCheck {
                figure: figure.into(),
                log: log_ms,
                jvm: Some(jvm_ms),
                unit: "ms",
                tolerance: tol,
                status: CheckStatus::NotCompared,
                detail: Some(if count_ok {
                    "a safepoint ran while the log was read".into()
                } else {
                    "the counts differ".into()
                }),
            });
            return;
        }
        let ok = (jvm_ms - log_ms).abs() <= tol;
        checks.push(FigureCheck {
            figure: figure.into(),
            log: log_ms,
            jvm: Some(jvm_ms),
            unit: "ms",
            tolerance: tol,
            status: if ok {
                CheckStatus::Verified
            } else {
                CheckStatus::Differs
            },
            detail: (!ok).then(|| {
                format!("the log sums {figure} to {log_ms:.3} ms, the JVM counted {jvm_ms:.3} ms")
            }),
        });
    };
    time("time to safepoint", log_reach, Some(f.reaching_ms));
    time("time stopped at safepoints", log_stopped, f.stopped_ms);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jvm::perfdata::counters::tests::snap;

    fn log(young: (u64, f64), covers_start: bool) -> LogTotals {
        LogTotals {
            young,
            full: (1, 300.5),
            concurrent_cycle: (4, 2.0),
            safepoints: None,
            covers_start,
            jvm_starts: u64::from(covers_start),
            first_wall_ms: None,
        }
    }

    #[test]
    fn equal_counts_and_close_times_are_verified() {
        let jvm = snap(
            (3893, 25_000_000_000),
            (1, 300_000_000),
            (4, 1_990_000),
            (0, 0, 0),
            1,
        );
        let c = cross_check(&log((3893, 25_100.0), true), &jvm);
        assert!(c.verified, "{c:#?}");
        assert!(c.checks.iter().all(|f| f.status == CheckStatus::Verified));
        assert_eq!(c.checks.len(), 6);
    }

    #[test]
    fn a_loss_names_both_figures_and_the_cause() {
        let jvm = snap(
            (3905, 25_000_000_000),
            (1, 300_000_000),
            (4, 1_990_000),
            (0, 0, 0),
            1,
        );
        let c = cross_check(&log((3893, 25_000.0), false), &jvm);
        assert!(!c.verified);
        let young = &c.checks[0];
        assert_eq!(young.status, CheckStatus::Differs);
        assert_eq!(
            young.detail.as_deref(),
            Some(
                "the log shows 3,893 young pauses, the JVM counted 3,905: 12 lost to rotation (the log no longer holds the JVM's start)"
            )
        );
        assert_eq!(c.checks[1].status, CheckStatus::NotCompared);
        let c = cross_check(&log((3893, 25_000.0), true), &jvm);
        assert!(
            c.checks[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("12 not in the log")
        );
        let c = cross_check(&log((3906, 25_000.0), true), &jvm);
        assert!(
            c.checks[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("1 more in the log")
        );
    }

    #[test]
    fn counter_time_above_the_log_or_far_below_differs() {
        let jvm = snap(
            (100, 1_000_000_000),
            (1, 300_000_000),
            (4, 1_990_000),
            (0, 0, 0),
            1,
        );
        // The JVM timed 1000 ms over 100 pauses: over the log, 1 % + 0.05
        // ms a pause (15 ms, and rounding) agrees, more does not; under the
        // log (its span is nested in the logged one, and the gap grows
        // with the host's load: 28 % measured) it agrees, saying by how much.
        for (log_ms, status) in [
            (980.0, CheckStatus::Differs),
            (985.5, CheckStatus::Verified),
            (1014.5, CheckStatus::Verified),
            (1025.5, CheckStatus::Verified),
            (1389.0, CheckStatus::Verified),
        ] {
            let c = cross_check(&log((100, log_ms), true), &jvm);
            assert_eq!(c.checks[1].status, status, "{log_ms}");
        }
        let c = cross_check(&log((100, 1389.0), true), &jvm);
        assert_eq!(
            c.checks[1].detail.as_deref(),
            Some(
                "the JVM timed 1000.000 ms of the log's 1389.000 ms (28.0 % under, 3.89 ms a pause): its counter times a span nested in each logged pause"
            )
        );
    }

    #[test]
    fn pauses_between_two_reads_agree() {
        let a = snap(
            (100, 1_000_000_000),
            (1, 300_000_000),
            (4, 2_000_000),
            (0, 0, 0),
            1,
        );
        let b = snap(
            (102, 1_020_000_000),
            (1, 300_000_000),
            (4, 2_000_000),
            (0, 0, 0),
            2,
        );
        let c = cross_check_between(&log((101, 1010.0), true), &a, &b);
        assert!(c.verified, "{c:#?}");
        assert_eq!(c.checks[1].status, CheckStatus::NotCompared);
    }

    #[test]
    fn safepoints_from_both() {
        let jvm = snap((0, 0), (0, 0), (0, 0), (20, 1_000_000, 49_000_000), 1);
        let mut l = log((0, 0.0), true);
        l.full = (0, 0.0);
        l.concurrent_cycle = (0, 0.0);
        l.safepoints = Some((20, 1.0, 50.0));
        let c = cross_check(&l, &jvm);
        assert!(c.verified, "{c:#?}");
        l.safepoints = Some((20, 1.5, 50.0));
        let c = cross_check(&l, &jvm);
        assert!(!c.verified);
        let reach = c
            .checks
            .iter()
            .find(|f| f.figure == "time to safepoint")
            .unwrap();
        assert_eq!(reach.status, CheckStatus::Differs);
    }

    #[test]
    fn not_comparable_with_another_life() {
        let jvm = snap((1, 1), (0, 0), (0, 0), (0, 0, 0), 1);
        let mut l = log((1, 0.0), true);
        l.jvm_starts = 2;
        assert!(cross_check(&l, &jvm).not_comparable.is_some());
        l.jvm_starts = 1;
        l.first_wall_ms = Some(jvm.jvm_start_ms - 60_000);
        let c = cross_check(&l, &jvm);
        assert!(c.not_comparable.unwrap().contains("another JVM"));
    }
}
