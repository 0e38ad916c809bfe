//! A cluster's hosts read from storage for comparing: their latest
//! documents parsed into [`HostValues`] (off the async threads), the
//! cluster's skew over them, and two clusters compared key by key. Used by
//! the cluster endpoints and pages and by the skew watch alike.

use serde::Serialize;

use super::skew::{self, Difference, HostValues, KeySkew};
use crate::collector::storage::Storage;
use crate::collector::storage::error::StoreError;

/// A cluster's hosts' latest values, read from storage.
#[derive(Debug, Clone, Default)]
pub struct Members {
    /// The values of each host whose latest document could be read.
    pub hosts: Vec<HostValues>,
    /// Hosts whose latest document could not be read as a report (stored
    /// by an older or newer collector): left out of the comparison.
    pub unreadable: Vec<String>,
}

/// Reads the latest document of each host in `cluster` and their values;
/// `None` when no host is in it.
pub async fn members(storage: &Storage, cluster: &str) -> Result<Option<Members>, StoreError> {
    let docs = storage.cluster_latest(Some(cluster)).await?;
    if docs.is_empty() {
        return Ok(None);
    }
    // Parsing a few MB of JSON: off the async threads.
    let parsed = tokio::task::spawn_blocking(move || {
        let mut m = Members::default();
        for (host, body) in docs {
            match HostValues::of_json(&body) {
                Ok(mut v) => {
                    // The stored row's name is the one pages link to.
                    v.hostname = host;
                    m.hosts.push(v);
                }
                Err(_) => m.unreadable.push(host),
            }
        }
        m
    })
    .await
    .map_err(|_| StoreError::Stopped)?;
    Ok(Some(parsed))
}

/// Computes a cluster's skew; `None` when no host is in it.
pub async fn cluster_skew(
    storage: &Storage,
    name: &str,
) -> Result<Option<(Members, Vec<KeySkew>)>, StoreError> {
    let Some(m) = members(storage, name).await? else {
        return Ok(None);
    };
    let s = skew::skew(&m.hosts);
    Ok(Some((m, s)))
}

/// What `GET /api/v1/clusters/compare` answers.
#[derive(Debug, Serialize)]
pub struct CompareAnswer {
    /// The first cluster.
    pub a: String,
    /// The second cluster.
    pub b: String,
    /// Hosts compared in each.
    pub hosts: (usize, usize),
    /// Keys either reports.
    pub keys_compared: usize,
    /// The keys where they differ, by check and key.
    pub differences: Vec<Difference>,
}

/// Both clusters' skew and their differences; `Err` names a cluster that
/// has no host, or the storage failure.
pub async fn comparison(
    storage: &Storage,
    a: &str,
    b: &str,
) -> Result<Result<CompareAnswer, String>, StoreError> {
    let Some((ma, sa)) = cluster_skew(storage, a).await? else {
        return Ok(Err(a.to_owned()));
    };
    let Some((mb, sb)) = cluster_skew(storage, b).await? else {
        return Ok(Err(b.to_owned()));
    };
    let mut keys: Vec<(&str, &str)> = sa
        .iter()
        .chain(&sb)
        .map(|k| (k.check.as_str(), k.key.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    Ok(Ok(CompareAnswer {
        keys_compared: keys.len(),
        differences: skew::compare(&sa, &sb),
        a: a.to_owned(),
        b: b.to_owned(),
        hosts: (ma.hosts.len(), mb.hosts.len()),
    }))
}
