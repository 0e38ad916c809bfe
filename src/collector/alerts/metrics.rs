//! The collector's own Prometheus metrics at `GET /metrics` (behind the
//! read token when one is set): hosts per cluster by state, reports
//! received by outcome and status code, storage size, and the webhook's
//! queue. Counters live for the process; the fleet gauges are computed
//! from the database at each scrape, so every instance on one PostgreSQL
//! shows the same fleet.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use axum::http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::rules::{Condition, conditions};
use super::skew_watch::SkewWatch;
use crate::collector::limits::Bound;
use crate::collector::storage::health::GcHealth;
use crate::collector::storage::host::HostView;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Received {
    outcome: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterState {
    cluster: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabel {
    cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    version: String,
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

/// The process's counters (shared by handlers, the evaluator and the
/// webhook sender). Build with [`Counters::new`].
#[derive(Default)]
pub struct Counters {
    received: Family<Received, Counter>,
    refused: Family<LimitLabel, Counter>,
    webhook: Family<OutcomeLabel, Counter>,
    webhook_failed: Family<KindLabel, Counter>,
    webhook_queue: Gauge,
    leader: Gauge,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counters")
    }
}

/// How a report post ended, by the status it was answered with.
pub fn outcome_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        202 => "stored",
        200 => "duplicate",
        400..=499 => "refused",
        _ => "error",
    }
}

/// Statuses a report post is answered with, each counted from 0 at start:
/// a series that appears with its first count hides that count from
/// `increase()`, so alert rules would miss the first refusal.
const KNOWN_STATUSES: [u16; 11] = [200, 202, 400, 401, 408, 409, 413, 415, 422, 500, 503];

impl Counters {
    /// Counters with every known series present at zero.
    pub fn new() -> Counters {
        let c = Counters::default();
        for code in KNOWN_STATUSES {
            if let Ok(status) = StatusCode::from_u16(code) {
                let _ = c.received.get_or_create(&Received {
                    outcome: outcome_of(status),
                    code,
                });
            }
        }
        for b in Bound::ALL {
            let _ = c.refused.get_or_create(&LimitLabel { limit: b.name() });
        }
        for outcome in ["delivered", "dropped", "failed"] {
            let _ = c.webhook.get_or_create(&OutcomeLabel { outcome });
        }
        for kind in ["redirect", "status", "error"] {
            let _ = c.webhook_failed.get_or_create(&KindLabel { kind });
        }
        c
    }

    /// Counts one answered report post.
    pub fn received(&self, status: StatusCode) {
        self.received
            .get_or_create(&Received {
                outcome: outcome_of(status),
                code: status.as_u16(),
            })
            .inc();
    }

    /// Counts a report refused for going past `bound`.
    pub fn refused(&self, bound: Bound) {
        self.refused
            .get_or_create(&LimitLabel {
                limit: bound.name(),
            })
            .inc();
    }

    /// Reports refused for `bound` so far (for tests and logs).
    pub fn refused_count(&self, bound: Bound) -> u64 {
        self.refused
            .get_or_create(&LimitLabel {
                limit: bound.name(),
            })
            .get()
    }

    /// Counts a webhook message `delivered`, `dropped` (queue full) or
    /// `failed` (refused for good by the receiver).
    pub fn webhook(&self, outcome: &'static str) {
        self.webhook.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Counts a failed delivery attempt, to be retried: `redirect` (a 3xx,
    /// never followed), `status` (5xx, 408, 429) or `error` (no connection,
    /// a timeout).
    pub fn webhook_attempt_failed(&self, kind: &'static str) {
        self.webhook_failed.get_or_create(&KindLabel { kind }).inc();
    }

    /// Failed attempts of `kind` so far (for tests and logs).
    pub fn webhook_attempts_failed(&self, kind: &'static str) -> u64 {
        self.webhook_failed.get_or_create(&KindLabel { kind }).get()
    }

    /// Sets the webhook queue's depth.
    pub fn webhook_queue(&self, messages: usize) {
        self.webhook_queue
            .set(i64::try_from(messages).unwrap_or(i64::MAX));
    }

    /// Sets whether this instance sends the webhook's alerts.
    pub fn leader(&self, leads: bool) {
        self.leader.set(i64::from(leads));
    }

    /// Messages counted with `outcome` so far (for tests and logs).
    pub fn webhook_count(&self, outcome: &'static str) -> u64 {
        self.webhook.get_or_create(&OutcomeLabel { outcome }).get()
    }
}

/// Host counts of one cluster.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StateCounts {
    /// Every host.
    pub hosts: i64,
    /// Hosts with a drifting key (other than the GC service levels).
    pub drifting: i64,
    /// Hosts whose GC missed a service level.
    pub gc_unhealthy: i64,
    /// Hosts that missed three intervals.
    pub stale: i64,
    /// Hosts whose GC health is unknown: a JVM whose GC log the agent
    /// cannot read, or no JVM (the host page says which, with the remedy).
    pub gc_unknown: i64,
    /// Hosts in none of those states.
    pub ok: i64,
    /// Hosts with findings a waiver in force covers (any state).
    pub waived_hosts: i64,
    /// Such findings.
    pub waived: i64,
    /// Host names two or more machines take turns reporting under.
    pub machine_conflicts: i64,
    /// Hosts whose latest report has a JVM whose GC log differs from the
    /// JVM's own counters.
    pub counters_differ: i64,
}

/// Hosts per cluster (`""`: no cluster) by state. A host counts in each
/// state it is in (a stale host that drifted is both); `gc_unknown` is not
/// an alert of the webhook, only a state here (an alert rule can use it);
/// `ok` is a host in none of them (whose GC is known, too).
pub fn count(
    hosts: &[HostView],
    cluster_of: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, StateCounts> {
    let mut out: BTreeMap<String, StateCounts> = BTreeMap::new();
    for h in hosts {
        let c = out
            .entry(cluster_of(&h.hostname).unwrap_or_default())
            .or_default();
        let states = conditions(h);
        c.hosts += 1;
        if h.machine_conflict.is_some() {
            c.machine_conflicts += 1;
        }
        if h.counters.is_some_and(|v| v.differs > 0) {
            c.counters_differ += 1;
        }
        if h.waived > 0 {
            c.waived_hosts += 1;
            c.waived += i64::from(h.waived);
        }
        let mut any = false;
        if h.gc.health == GcHealth::Unknown {
            c.gc_unknown += 1;
            any = true;
        }
        for cond in states {
            any = true;
            match cond {
                Condition::Drifting => c.drifting += 1,
                Condition::GcUnhealthy => c.gc_unhealthy += 1,
                Condition::Stale => c.stale += 1,
                // Not a state of the host view: counted by the skew watch.
                Condition::Skewed => {}
            }
        }
        if !any {
            c.ok += 1;
        }
    }
    out
}

/// The exposition text: the process's counters, the fleet from `hosts`,
/// and the storage size when known.
pub fn encode(
    counters: &Counters,
    fleet: &BTreeMap<String, StateCounts>,
    storage_bytes: Option<u64>,
    webhook: bool,
    backend: &str,
    skew: &SkewWatch,
) -> String {
    let mut r = Registry::with_prefix("tunekeeper");
    r.register(
        "collector",
        "Collector version and storage backend",
        prometheus_client::metrics::info::Info::new(InfoLabels {
            version: env!("CARGO_PKG_VERSION").into(),
            backend: backend.into(),
        }),
    );
    let hosts: Family<ClusterState, Gauge> = Family::default();
    let totals: Family<ClusterLabel, Gauge> = Family::default();
    for (cluster, c) in fleet {
        for (state, n) in [
            ("ok", c.ok),
            ("drifting", c.drifting),
            ("gc_unhealthy", c.gc_unhealthy),
            ("gc_unknown", c.gc_unknown),
            ("stale", c.stale),
        ] {
            hosts
                .get_or_create(&ClusterState {
                    cluster: cluster.clone(),
                    state,
                })
                .set(n);
        }
        totals
            .get_or_create(&ClusterLabel {
                cluster: cluster.clone(),
            })
            .set(c.hosts);
    }
    r.register(
        "collector_hosts",
        "Hosts by cluster and state (drifting, gc_unhealthy, gc_unknown, stale overlap; ok is none of them); gc_unknown: a JVM whose GC log the agent cannot read, or no JVM; cluster=\"\" is no cluster",
        hosts,
    );
    r.register("collector_cluster_hosts", "Hosts by cluster", totals);
    register_waived(&mut r, fleet);
    let conflicts: Family<ClusterLabel, Gauge> = Family::default();
    for (cluster, c) in fleet {
        conflicts
            .get_or_create(&ClusterLabel {
                cluster: cluster.clone(),
            })
            .set(c.machine_conflicts);
    }
    r.register(
        "collector_machine_conflict_hosts",
        "Host names two or more machines (by /etc/machine-id) take turns reporting under, within the last three intervals, by cluster",
        conflicts,
    );
    // Every cluster's series from 0, so an alert sees the first host.
    let differs: Family<ClusterLabel, Gauge> = Family::default();
    for (cluster, c) in fleet {
        differs
            .get_or_create(&ClusterLabel {
                cluster: cluster.clone(),
            })
            .set(c.counters_differ);
    }
    r.register(
        "collector_gc_log_differs_hosts",
        "Hosts whose latest report has a JVM whose GC log differs from the JVM's own counters (HotSpot's perf data), by cluster; cluster=\"\" is no cluster",
        differs,
    );
    // Series only once the skew watch has run: absent before, not zero.
    let skewed: Family<ClusterLabel, Gauge> = Family::default();
    if let Some(minorities) = skew.minorities() {
        for (cluster, m) in &minorities {
            skewed
                .get_or_create(&ClusterLabel {
                    cluster: cluster.clone(),
                })
                .set(i64::try_from(m.len()).unwrap_or(i64::MAX));
        }
    }
    r.register(
        "collector_cluster_skewed_hosts",
        "Hosts in a minority of their cluster on some key, as of the last skew evaluation (--skew-interval-seconds)",
        skewed,
    );
    r.register(
        "collector_skew_documents_parsed",
        "Latest report documents parsed for skew (clusters without new reports are not parsed again)",
        skew.parsed(),
    );
    r.register(
        "collector_reports_received",
        "Report posts answered, by outcome (stored, duplicate, refused, error) and HTTP status code",
        counters.received.clone(),
    );
    r.register(
        "collector_reports_refused",
        "Report posts refused for going past a bound (src/collector/limits.rs, the README's Limits), by limit; storage: the database refused a report that passed them all",
        counters.refused.clone(),
    );
    if let Some(bytes) = storage_bytes {
        let g: Gauge<f64, AtomicU64> = Gauge::default();
        g.set(bytes as f64);
        r.register_with_unit(
            "collector_storage",
            "Size of the database (SQLite: the file and its WAL; PostgreSQL: pg_database_size)",
            Unit::Bytes,
            g,
        );
    }
    if webhook {
        r.register(
            "collector_webhook_messages",
            "Webhook messages by outcome: delivered, dropped (queue full, oldest first), failed (refused for good)",
            counters.webhook.clone(),
        );
        r.register(
            "collector_webhook_attempts_failed",
            "Webhook delivery attempts that failed and are retried, by kind: redirect (a 3xx, never followed), status (5xx, 408, 429), error (no connection, timeout)",
            counters.webhook_failed.clone(),
        );
        r.register(
            "collector_webhook_queue_messages",
            "Webhook messages waiting to be sent",
            counters.webhook_queue.clone(),
        );
        r.register(
            "collector_alert_leader",
            "1 when this instance sends the webhook's alerts (one instance per PostgreSQL database)",
            counters.leader.clone(),
        );
    }
    let mut s = String::new();
    prometheus_client::encoding::text::encode(&mut s, &r).expect("writing to a String cannot fail");
    s
}

/// Waived findings per cluster, and the hosts that have them: accepted,
/// so not in `drifting`, but counted.
fn register_waived(r: &mut Registry, fleet: &BTreeMap<String, StateCounts>) {
    let findings: Family<ClusterLabel, Gauge> = Family::default();
    let hosts: Family<ClusterLabel, Gauge> = Family::default();
    for (cluster, c) in fleet {
        let label = ClusterLabel {
            cluster: cluster.clone(),
        };
        findings.get_or_create(&label).set(c.waived);
        hosts.get_or_create(&label).set(c.waived_hosts);
    }
    r.register(
        "collector_waived_findings",
        "Findings a waiver in force accepts (not drift), by cluster; cluster=\"\" is no cluster",
        findings,
    );
    r.register(
        "collector_waived_hosts",
        "Hosts with findings a waiver in force accepts, by cluster",
        hosts,
    );
}
