//! The skew watch: which hosts are in a minority of their cluster on some
//! key, for the `TunekeeperHostSkewed` alert and `/metrics`. Skew needs
//! each host's latest document parsed, a heavy read, so it runs on its own
//! slower period (`--skew-interval-seconds`, default 300) and parses a
//! cluster again only when the set of its hosts' latest report ids changed
//! since the last evaluation; otherwise the cluster's previous result
//! stands. A tie (no majority) puts nobody in a minority.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

use crate::collector::clock;
use crate::collector::fleet::members;
use crate::collector::fleet::skew;
use crate::collector::storage::Storage;

/// Default time between two skew evaluations.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// One key on which a host differs from its cluster's majority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The check family.
    pub check: String,
    /// The key.
    pub key: String,
    /// The host's value.
    pub value: String,
    /// The value most of the cluster's hosts hold.
    pub majority: String,
}

/// Hosts of one cluster in a minority, by name, with where they differ.
pub type Minority = BTreeMap<String, Vec<Difference>>;

/// One cluster's last evaluation.
#[derive(Debug, Clone, Default)]
struct Cached {
    /// Each host's latest report id when it was parsed.
    ids: BTreeMap<String, String>,
    minority: Minority,
}

/// The watch's state, shared by its task, the alert evaluator and `/metrics`.
#[derive(Debug, Default)]
pub struct SkewWatch {
    clusters: Mutex<HashMap<String, Cached>>,
    /// Documents parsed so far (`/metrics`: the cache's work made visible).
    parsed: Counter,
    evaluated: AtomicBool,
}

impl SkewWatch {
    /// The hosts in a minority, per cluster; `None` before the first
    /// evaluation (nothing is known yet, which is not "no skew").
    pub fn minorities(&self) -> Option<BTreeMap<String, Minority>> {
        if !self.evaluated.load(Ordering::Acquire) {
            return None;
        }
        let clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            clusters
                .iter()
                .map(|(c, v)| (c.clone(), v.minority.clone()))
                .collect(),
        )
    }

    /// The counter of documents parsed.
    pub fn parsed(&self) -> Counter {
        self.parsed.clone()
    }

    /// Evaluates every cluster whose hosts' latest reports changed.
    pub async fn evaluate(&self, storage: &Storage) {
        let hosts = match storage.hosts(clock::now_ms()).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "skew evaluation: reading hosts failed");
                return;
            }
        };
        let mut wanted: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for h in &hosts {
            if let Some(c) = &h.cluster {
                wanted
                    .entry(c.clone())
                    .or_default()
                    .insert(h.hostname.clone(), h.last_report_id.clone());
            }
        }
        let before = self
            .clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut next: HashMap<String, Cached> = HashMap::new();
        for (cluster, ids) in wanted {
            if let Some(old) = before.get(&cluster)
                && old.ids == ids
            {
                next.insert(cluster, old.clone());
                continue;
            }
            match members::members(storage, &cluster).await {
                Ok(Some(m)) => {
                    self.parsed
                        .inc_by((m.hosts.len() + m.unreadable.len()) as u64);
                    let minority = minority(&skew::skew(&m.hosts));
                    next.insert(cluster, Cached { ids, minority });
                }
                // Every host left it between the two reads.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, cluster, "skew evaluation: reading documents failed");
                    // Keep what was known; the changed ids are not recorded,
                    // so the next evaluation tries again.
                    if let Some(old) = before.get(&cluster) {
                        next.insert(cluster, old.clone());
                    }
                }
            }
        }
        tracing::debug!(clusters = next.len(), "skew evaluated");
        *self.clusters.lock().unwrap_or_else(|e| e.into_inner()) = next;
        self.evaluated.store(true, Ordering::Release);
    }
}

/// The hosts outside each key's majority (a tie has none).
fn minority(keys: &[skew::KeySkew]) -> Minority {
    let mut out = Minority::new();
    for k in keys {
        let Some(majority) = &k.majority else {
            continue;
        };
        for host in &k.minority {
            out.entry(host.clone()).or_default().push(Difference {
                check: k.check.clone(),
                key: k.key.clone(),
                value: k.value_of(host).unwrap_or("").to_owned(),
                majority: majority.clone(),
            });
        }
    }
    out
}

/// Evaluates every `every`, for ever.
pub async fn run(watch: Arc<SkewWatch>, storage: Storage, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        watch.evaluate(&storage).await;
    }
}

/// The alert's description: where the host differs, at most ten keys and
/// 1000 characters (receivers and chat tools cut longer text anyway).
pub fn describe(diffs: &[Difference]) -> String {
    const KEYS: usize = 10;
    const CHARS: usize = 1000;
    let mut parts: Vec<String> = diffs
        .iter()
        .take(KEYS)
        .map(|d| {
            format!(
                "{} {}: {} (cluster majority {})",
                d.check, d.key, d.value, d.majority
            )
        })
        .collect();
    if diffs.len() > KEYS {
        parts.push(format!("and {} more key(s)", diffs.len() - KEYS));
    }
    let text = parts.join("; ");
    if text.chars().count() <= CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_bounded() {
        let d = Difference {
            check: "sysctl".into(),
            key: "k".repeat(300),
            value: "1".into(),
            majority: "2".into(),
        };
        let many = vec![d; 25];
        let text = describe(&many);
        assert!(text.chars().count() <= 1000, "{}", text.len());
        assert!(text.ends_with('…'), "{text}");
        let few = describe(&many[..2]);
        assert_eq!(few.matches("(cluster majority 2)").count(), 2, "{few}");
        assert!(!few.contains("more key"), "{few}");
    }
}
