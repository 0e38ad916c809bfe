//! Alerts, one room, beside the HTTP side and reading storage: the states
//! that alert ([`rules`]), the evaluator that turns their changes into
//! webhook messages (here, with each host's cluster), the webhook
//! ([`webhook`]), the collector's own metrics ([`metrics`]) and the skew
//! watch ([`skew_watch`]).
//!
//! The evaluator runs every `--alert-interval-seconds` (staleness comes
//! with time alone, without any report) and soon after a report is stored.
//! It compares the states with those of its previous round; what started
//! is sent `firing`, what ended `resolved`. States live in memory: after a
//! restart the first round sends every state that holds as `firing` again
//! (receivers dedupe by fingerprint), and an alert that ended while the
//! collector was down is not resolved by it. A host counts as stale for
//! the webhook only once the collector itself has run for three of the
//! host's intervals: after the collector was down, every host looks stale
//! until its agent delivers again, and that is the collector's outage, not
//! the hosts'.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

pub mod metrics;
pub mod rules;
pub mod skew_watch;
pub mod webhook;

pub use rules::{Condition, conditions};

use metrics::Counters;
use skew_watch::SkewWatch;
use webhook::{Alert, Webhook, WebhookConfig};

use crate::collector::error::Error;
use crate::collector::storage::host::HostView;
use crate::collector::storage::{Leader, Storage};

/// Each host's cluster: the `hosts.cluster` column (the latest report's
/// `cluster.name`), which storage returns with every host view.
#[derive(Debug, Default)]
pub struct Clusters;

impl Clusters {
    /// The cluster of each host in `hosts` (`None`: the latest report names
    /// none).
    pub async fn lookup(
        &self,
        _storage: &Storage,
        hosts: &[HostView],
    ) -> HashMap<String, Option<String>> {
        hosts
            .iter()
            .map(|h| (h.hostname.clone(), h.cluster.clone()))
            .collect()
    }
}

/// What one firing alert was sent with (its resolution repeats it).
#[derive(Debug, Clone)]
struct Firing {
    alert: Alert,
}

/// Identity of an alert: condition, host, cluster (a host that moves
/// cluster resolves the old alert and fires a new one).
type Key = (Condition, String, Option<String>);

/// The evaluator's state between rounds.
pub struct Evaluator {
    storage: Storage,
    clusters: Arc<Clusters>,
    webhook: Arc<Webhook>,
    counters: Arc<Counters>,
    leader: Leader,
    firing: BTreeMap<Key, Firing>,
    started: std::time::Instant,
    external: String,
    skew: Option<Arc<SkewWatch>>,
}

/// Least time between two rounds, however fast reports arrive.
const MIN_SPACING: Duration = Duration::from_secs(1);

impl Evaluator {
    /// An evaluator that sends through `webhook`.
    pub fn new(
        storage: Storage,
        clusters: Arc<Clusters>,
        webhook: Arc<Webhook>,
        counters: Arc<Counters>,
    ) -> Evaluator {
        Evaluator {
            leader: storage.alert_leader(),
            storage,
            clusters,
            webhook,
            counters,
            firing: BTreeMap::new(),
            started: std::time::Instant::now(),
            external: String::new(),
            skew: None,
        }
    }

    /// Alerts on hosts in a minority of their cluster, as `watch` finds them.
    pub fn with_skew(mut self, watch: Arc<SkewWatch>) -> Evaluator {
        self.skew = Some(watch);
        self
    }

    /// Links alerts to the collector at `url` (`--external-url`).
    pub fn with_external_url(mut self, url: Option<&str>) -> Evaluator {
        self.external = url.unwrap_or("").trim_end_matches('/').to_owned();
        self
    }

    /// Evaluates every `every`, and after `stored` is notified (at most once
    /// per [`MIN_SPACING`]), for ever.
    pub async fn run(mut self, every: Duration, stored: Arc<tokio::sync::Notify>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {},
                () = stored.notified() => {},
            }
            self.round().await;
            tokio::time::sleep(MIN_SPACING).await;
        }
    }

    /// One round: reads the fleet, sends what changed (when leading).
    pub async fn round(&mut self) {
        let now_ms = crate::collector::clock::now_ms();
        let hosts = match self.storage.hosts(now_ms).await {
            Ok(h) => h,
            Err(e) => {
                // Nothing is known this round: keep the states as they were.
                tracing::warn!(error = %e, "alert evaluation: reading hosts failed");
                return;
            }
        };
        let clusters = self.clusters.lookup(&self.storage, &hosts).await;
        let now = OffsetDateTime::now_utc();
        let skewed = self.skew.as_ref().and_then(|w| w.minorities());
        let mut current: BTreeMap<Key, Firing> = BTreeMap::new();
        for h in &hosts {
            let cluster = clusters.get(&h.hostname).cloned().flatten();
            // Not stale before the collector could have heard from it.
            let grace = Duration::from_secs(h.interval_seconds.saturating_mul(3));
            let ran = self.started.elapsed();
            for cond in conditions(h) {
                if cond == Condition::Stale && ran <= grace {
                    continue;
                }
                let key = (cond, h.hostname.clone(), cluster.clone());
                let firing = match self.firing.remove(&key) {
                    Some(f) => f,
                    None => Firing {
                        alert: webhook::alert(cond, h, cluster.as_deref(), now, &self.external),
                    },
                };
                current.insert(key, firing);
            }
            // Skew as last evaluated, for the cluster the host is in now
            // (a host that left the cluster resolves).
            let diffs = match (&skewed, &cluster) {
                (Some(s), Some(c)) => s.get(c).and_then(|m| m.get(&h.hostname)),
                _ => None,
            };
            if let Some(diffs) = diffs {
                let key = (Condition::Skewed, h.hostname.clone(), cluster.clone());
                let firing = match self.firing.remove(&key) {
                    Some(f) => f,
                    None => {
                        let mut alert = webhook::alert(
                            Condition::Skewed,
                            h,
                            cluster.as_deref(),
                            now,
                            &self.external,
                        );
                        alert.annotate("description", skew_watch::describe(diffs));
                        Firing { alert }
                    }
                };
                current.insert(key, firing);
            }
        }
        let mut changes: Vec<Alert> = current
            .values()
            .filter(|f| f.alert.fresh)
            .map(|f| f.alert.clone())
            .collect();
        // Whatever is left of the previous round has ended.
        for (_, f) in std::mem::take(&mut self.firing) {
            changes.push(f.alert.resolved(now));
        }
        for f in current.values_mut() {
            f.alert.fresh = false;
        }
        self.firing = current;
        let leads = self.leader.check().await;
        self.counters.leader(leads);
        if !leads || changes.is_empty() {
            return;
        }
        for message in webhook::messages(changes, &self.external) {
            self.webhook.enqueue(message);
        }
    }
}

/// What the alerting shares with the HTTP handlers: the storage, the
/// counters (`/metrics`), each host's cluster, the skew watch's last
/// result, and the notice of a stored report.
pub struct Shared<'a> {
    /// The database.
    pub storage: &'a Storage,
    /// The process's counters.
    pub counters: &'a Arc<Counters>,
    /// Each host's cluster.
    pub clusters: &'a Arc<Clusters>,
    /// The skew watch.
    pub skew: &'a Arc<SkewWatch>,
    /// Told when a report is stored.
    pub stored: &'a Arc<tokio::sync::Notify>,
}

/// Starts the webhook's sender and the evaluator; returns their tasks
/// (aborted at shutdown).
pub fn start(
    shared: &Shared<'_>,
    config: &WebhookConfig,
) -> Result<Vec<tokio::task::JoinHandle<()>>, Error> {
    let hook = Webhook::new(
        &config.url,
        config.queue,
        config.timeout,
        Arc::clone(shared.counters),
    )
    .map_err(|e| Error::BadOption {
        option: "--webhook",
        value: config.url.to_string(),
        reason: format!("cannot set up its HTTP client: {e}"),
    })?;
    let hook = Arc::new(hook);
    let evaluator = Evaluator::new(
        shared.storage.clone(),
        Arc::clone(shared.clusters),
        Arc::clone(&hook),
        Arc::clone(shared.counters),
    )
    .with_external_url(config.external_url.as_deref())
    .with_skew(Arc::clone(shared.skew));
    Ok(vec![
        tokio::spawn(hook.run()),
        tokio::spawn(evaluator.run(config.interval, Arc::clone(shared.stored))),
    ])
}
