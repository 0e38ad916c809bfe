//! The agent's Prometheus metrics (prometheus-client): `tunekeeper_` prefix,
//! base units, counters ending in `_total`, an `_info` metric for metadata.
//! Served over HTTP and/or written atomically for node_exporter's textfile
//! collector.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::finding::{Finding, Status};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabel {
    check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    version: String,
    profile: String,
    hostname: String,
}

/// The results of `gc_cross_check_jvms`, in the order `set_counters` counts them.
const CROSS_CHECK_RESULTS: [&str; 3] = ["verified", "differs", "not_compared"];

/// Pause buckets in seconds: G1 targets ~20 ms; full GCs take hundreds.
const PAUSE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// Every metric the agent exposes.
pub struct Metrics {
    registry: Registry,
    findings: Family<StatusLabel, Gauge>,
    drift: Family<CheckLabel, Gauge>,
    pauses: Family<KindLabel, Histogram>,
    gc_seconds_per_second: Gauge<f64, AtomicU64>,
    spool_reports: Gauge,
    spool_bytes: Gauge,
    dropped: Counter,
    refused: Counter,
    delivered: Counter,
    last_delivery: Gauge<f64, AtomicU64>,
    counters_jvms: Family<StateLabel, Gauge>,
    cross_check_jvms: Family<ResultLabel, Gauge>,
    pauses_missing: Family<KindLabel, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers every metric; `profile` and `hostname` go into `tunekeeper_info`.
    pub fn new(profile: &str, hostname: &str) -> Metrics {
        let mut registry = Registry::with_prefix("tunekeeper");
        // A gauge of 1, not OpenMetrics' `info` type: node_exporter's
        // textfile collector and Prometheus' classic text parser refuse
        // `# TYPE ... info` ("unknown metric type"), and with it every
        // other metric of the file or scrape.
        let info: Family<InfoLabels, Gauge> = Family::default();
        info.get_or_create(&InfoLabels {
            version: env!("CARGO_PKG_VERSION").into(),
            profile: profile.into(),
            hostname: hostname.into(),
        })
        .set(1);
        registry.register("agent_info", "Agent version, profile and host", info);
        let m = Metrics {
            findings: Family::default(),
            drift: Family::default(),
            pauses: Family::new_with_constructor(|| Histogram::new(PAUSE_BUCKETS)),
            gc_seconds_per_second: Gauge::default(),
            spool_reports: Gauge::default(),
            spool_bytes: Gauge::default(),
            dropped: Counter::default(),
            refused: Counter::default(),
            delivered: Counter::default(),
            last_delivery: Gauge::default(),
            counters_jvms: Family::default(),
            cross_check_jvms: Family::default(),
            pauses_missing: Family::default(),
            registry,
        };
        // From 0: an alert on a difference sees it appear.
        m.zero_pauses_missing();
        for result in CROSS_CHECK_RESULTS {
            m.cross_check_jvms
                .get_or_create(&ResultLabel {
                    result: result.into(),
                })
                .set(0);
        }
        // Full GCs from 0, so `increase()` in an alert rule sees the
        // first one (a series that appears with it hides that count).
        let _ = m.pauses.get_or_create(&KindLabel {
            kind: "full".into(),
        });
        m.register_all()
    }

    fn register_all(mut self) -> Metrics {
        let findings = self.findings.clone();
        let drift = self.drift.clone();
        let pauses = self.pauses.clone();
        let gcps = self.gc_seconds_per_second.clone();
        let spool_reports = self.spool_reports.clone();
        let spool_bytes = self.spool_bytes.clone();
        let dropped = self.dropped.clone();
        let refused = self.refused.clone();
        let delivered = self.delivered.clone();
        let last = self.last_delivery.clone();
        let counters_jvms = self.counters_jvms.clone();
        let cross_check_jvms = self.cross_check_jvms.clone();
        let pauses_missing = self.pauses_missing.clone();
        let r = &mut self.registry;
        r.register(
            "findings",
            "Audit findings of the last interval, by status",
            findings,
        );
        r.register(
            "check_drift",
            "Drifted findings of the last interval, by check",
            drift,
        );
        r.register_with_unit(
            "gc_pause",
            "G1 stop-the-world pauses of the broker JVMs, by kind",
            prometheus_client::registry::Unit::Seconds,
            pauses,
        );
        r.register(
            "gc_seconds_per_second",
            "GC pause seconds per second of wall time over the last interval (worst JVM)",
            gcps,
        );
        r.register(
            "spool_reports",
            "Reports waiting in the spool",
            spool_reports,
        );
        r.register_with_unit(
            "spool",
            "Size of the spool",
            prometheus_client::registry::Unit::Bytes,
            spool_bytes,
        );
        r.register(
            "spool_dropped_reports",
            "Reports dropped to make room: the spool at its bounds, or its file system full",
            dropped,
        );
        r.register(
            "reports_refused",
            "Reports the collector refused for good (a 4xx other than 401/403/404/405/407/408/425/429): set aside",
            refused,
        );
        r.register(
            "reports_delivered",
            "Reports the collector acknowledged",
            delivered,
        );
        r.register(
            "last_delivery_timestamp_seconds",
            "Unix time of the last successful delivery",
            last,
        );
        r.register(
            "gc_counters_jvms",
            "JVMs by the state of their own counters (hsperfdata) at the last report: read, disabled, permission_denied, namespace_denied, unavailable",
            counters_jvms,
        );
        r.register(
            "gc_cross_check_jvms",
            "JVMs by how their GC log compared with their own counters at the last report: verified, differs, not_compared",
            cross_check_jvms,
        );
        r.register(
            "gc_log_pauses_missing",
            "Pauses the JVMs' own counters counted that their GC logs lack (lost to rotation, or not yet written), by kind, at the last report",
            pauses_missing,
        );
        self
    }

    /// `gc_log_pauses_missing` at 0 for every kind the cross-check counts,
    /// and `gc_counters_jvms` for every state: a series an alert or a
    /// dashboard can use is there before the first JVM is met.
    fn zero_pauses_missing(&self) {
        use crate::report::counters_state as s;
        for state in [
            s::READ,
            s::DISABLED,
            s::PERMISSION_DENIED,
            s::NAMESPACE_DENIED,
            s::UNAVAILABLE,
        ] {
            self.counters_jvms
                .get_or_create(&StateLabel {
                    state: state.into(),
                })
                .set(0);
        }
        for kind in ["young", "full", "concurrent_cycle"] {
            self.pauses_missing
                .get_or_create(&KindLabel { kind: kind.into() })
                .set(0);
        }
    }

    /// Records the JVMs' counters: their states, their cross-checks and
    /// the pauses their logs lack.
    pub fn set_counters(&self, jvms: &[crate::report::JvmReport]) {
        self.counters_jvms.clear();
        self.pauses_missing.clear();
        self.zero_pauses_missing();
        let mut results = [0i64; 3];
        for c in jvms.iter().filter_map(|j| j.counters.as_ref()) {
            self.counters_jvms
                .get_or_create(&StateLabel {
                    state: c.state.clone(),
                })
                .inc();
            let Some(x) = &c.cross_check else { continue };
            let differs = x.checks.iter().any(|f| f.status == "differs");
            results[if x.verified {
                0
            } else if differs {
                1
            } else {
                2
            }] += 1;
            for f in x.checks.iter().filter(|f| f.unit == "pauses") {
                let Some(kind) = f.figure.strip_suffix(" pauses") else {
                    continue;
                };
                let missing = f.jvm.unwrap_or(f.log) - f.log;
                if f.status == "differs" && missing > 0.0 {
                    self.pauses_missing
                        .get_or_create(&KindLabel {
                            kind: kind.replace('-', "_"),
                        })
                        .inc_by(missing as i64);
                }
            }
        }
        for (result, n) in CROSS_CHECK_RESULTS.iter().zip(results) {
            self.cross_check_jvms
                .get_or_create(&ResultLabel {
                    result: (*result).into(),
                })
                .set(n);
        }
    }

    /// Records the findings of one interval.
    pub fn set_findings(&self, findings: &[Finding]) {
        for s in [
            Status::Ok,
            Status::Drift,
            Status::Unreadable,
            Status::NotApplicable,
            Status::Waived,
        ] {
            let n = findings.iter().filter(|f| f.status == s).count();
            self.findings
                .get_or_create(&StatusLabel {
                    status: s.as_str().into(),
                })
                .set(n as i64);
        }
        self.drift.clear();
        for f in findings.iter().filter(|f| f.status == Status::Drift) {
            self.drift
                .get_or_create(&CheckLabel {
                    check: f.check.clone(),
                })
                .inc();
        }
    }

    /// Observes one pause.
    pub fn observe_pause(&self, kind: &str, seconds: f64) {
        self.pauses
            .get_or_create(&KindLabel { kind: kind.into() })
            .observe(seconds);
    }

    /// Sets the last interval's GC seconds per second.
    pub fn set_gc_seconds_per_second(&self, v: f64) {
        self.gc_seconds_per_second.set(v);
    }

    /// Sets the spool depth and size; adds newly dropped reports.
    pub fn set_spool(&self, reports: usize, bytes: u64, dropped_total: u64) {
        self.spool_reports.set(reports as i64);
        self.spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        let seen = self.dropped.get();
        if dropped_total > seen {
            self.dropped.inc_by(dropped_total - seen);
        }
    }

    /// Counts a delivery at `unix_seconds`.
    pub fn delivered(&self, unix_seconds: f64) {
        self.delivered.inc();
        self.last_delivery.set(unix_seconds);
    }

    /// Counts a refusal.
    pub fn refused(&self) {
        self.refused.inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry)
            .expect("writing to a String cannot fail");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_gcs_are_counted_from_zero() {
        // Before any pause: the series exists at 0, so `increase()` in the
        // shipped alert rule sees the first full GC.
        let text = Metrics::new("kafka-broker", "b1").encode();
        assert!(
            text.contains("tunekeeper_gc_pause_seconds_count{kind=\"full\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn counters_states_and_differences() {
        use crate::report::{CounterCheck, CounterFigure, JvmCounters, JvmReport};
        let m = Metrics::new("kafka-broker", "b1");
        assert!(
            m.encode()
                .contains("tunekeeper_gc_cross_check_jvms{result=\"differs\"} 0"),
            "from 0"
        );
        let jvm = |state: &str, check: Option<CounterCheck>| JvmReport {
            pid: 1,
            command: "kafka.Kafka".into(),
            roles: vec![],
            profile: None,
            config: None,
            flags: vec![],
            findings: vec![],
            gc_logs: vec![],
            gc: None,
            exited: false,
            counters: Some(JvmCounters {
                state: state.into(),
                cross_check: check,
                ..JvmCounters::default()
            }),
        };
        let lost = CounterCheck {
            verified: false,
            checks: vec![CounterFigure {
                figure: "young pauses".into(),
                log: 3893.0,
                jvm: Some(3905.0),
                unit: "pauses".into(),
                status: "differs".into(),
                ..CounterFigure::default()
            }],
            ..CounterCheck::default()
        };
        let ok = CounterCheck {
            verified: true,
            ..CounterCheck::default()
        };
        m.set_counters(&[
            jvm("read", Some(lost)),
            jvm("read", Some(ok)),
            jvm("permission_denied", None),
        ]);
        let text = m.encode();
        for line in [
            "tunekeeper_gc_counters_jvms{state=\"read\"} 2",
            "tunekeeper_gc_counters_jvms{state=\"permission_denied\"} 1",
            "tunekeeper_gc_cross_check_jvms{result=\"differs\"} 1",
            "tunekeeper_gc_cross_check_jvms{result=\"verified\"} 1",
            "tunekeeper_gc_log_pauses_missing{kind=\"young\"} 12",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        m.set_counters(&[]);
        assert!(
            m.encode()
                .contains("tunekeeper_gc_log_pauses_missing{kind=\"young\"} 0"),
            "back to 0"
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        let m = Metrics::new("kafka-broker", "b1");
        m.observe_pause("young", 0.012);
        m.set_spool(3, 4096, 2);
        m.delivered(1_700_000_000.0);
        let text = m.encode();
        for name in [
            "tunekeeper_agent_info{",
            "tunekeeper_gc_pause_seconds_bucket{",
            "tunekeeper_gc_pause_seconds_count{kind=\"young\"} 1",
            "tunekeeper_spool_bytes 4096",
            "tunekeeper_spool_dropped_reports_total 2",
            "tunekeeper_last_delivery_timestamp_seconds 1700000000",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
