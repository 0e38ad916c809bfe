//! The cluster endpoints and pages: `GET /api/v1/clusters`,
//! `GET /api/v1/clusters/{name}/skew`, `GET /api/v1/clusters/compare?a=&b=`,
//! `GET /api/v1/clusters/{name}/cruise-control-capacity`,
//! and the pages `/clusters/{name}` and `/clusters/compare?a=&b=`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::api::{AppState, check_read, check_read_page, error, heavy_read_turn, store_error};
use super::cluster::{self, ClusterSummary};
use super::ingest::now_ms;
use super::page;
use super::skew::{self, Difference, HostValues, KeySkew};
use super::storage::Storage;
use super::storage::error::StoreError;
use crate::report::Report;

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

/// `GET /api/v1/clusters`.
pub async fn get_clusters(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    match summaries(&state).await {
        Ok(c) => axum::Json(c).into_response(),
        Err(e) => store_error(e),
    }
}

/// Every cluster's summary: the counts from one GROUP BY over the hosts,
/// the trend as the background refresh last computed it (never waited for).
pub async fn summaries(state: &AppState) -> Result<Vec<ClusterSummary>, StoreError> {
    let counts = state.storage.cluster_counts(now_ms()).await?;
    Ok(cluster::summarize(&counts, &state.trend.latest()))
}

/// Query of the skew endpoint.
#[derive(Debug, Deserialize)]
pub struct SkewQuery {
    /// `true`: every key, not only the skewed ones.
    #[serde(default)]
    all: bool,
}

/// What `GET /api/v1/clusters/{name}/skew` answers.
#[derive(Debug, Serialize)]
pub struct SkewAnswer {
    /// The cluster.
    pub cluster: String,
    /// Hosts compared.
    pub hosts: usize,
    /// Hosts whose latest document could not be read (not compared).
    pub unreadable_reports: Vec<String>,
    /// Keys any host reports.
    pub keys_compared: usize,
    /// Keys whose hosts do not all hold one value.
    pub keys_skewed: usize,
    /// The skewed keys (every key with `?all=true`), by check and key.
    pub keys: Vec<KeySkew>,
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

fn no_cluster(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no host's latest report names the cluster {name:?}"),
    )
}

/// `GET /api/v1/clusters/{name}/skew[?all=true]`.
pub async fn get_skew(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<SkewQuery>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match cluster_skew(&state.storage, &name).await {
        Ok(Some((m, keys))) => {
            let keys_compared = keys.len();
            let skewed: Vec<KeySkew> = keys.into_iter().filter(|k| q.all || k.skewed()).collect();
            axum::Json(SkewAnswer {
                cluster: name,
                hosts: m.hosts.len(),
                unreadable_reports: m.unreadable,
                keys_compared,
                keys_skewed: skewed.iter().filter(|k| k.skewed()).count(),
                keys: skewed,
            })
            .into_response()
        }
        Ok(None) => no_cluster(&name),
        Err(e) => store_error(e),
    }
}

/// Query of the comparison.
#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    /// The first cluster.
    a: Option<String>,
    /// The second cluster.
    b: Option<String>,
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
async fn comparison(
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

fn both(q: &CompareQuery) -> Option<(&str, &str)> {
    Some((q.a.as_deref()?, q.b.as_deref()?))
}

const COMPARE_USAGE: &str = "name two clusters: ?a=NAME&b=NAME";

/// `GET /api/v1/clusters/compare?a=&b=`.
pub async fn get_compare(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CompareQuery>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let Some((a, b)) = both(&q) else {
        return error(StatusCode::BAD_REQUEST, COMPARE_USAGE);
    };
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match comparison(&state.storage, a, b).await {
        Ok(Ok(answer)) => axum::Json(answer).into_response(),
        Ok(Err(missing)) => no_cluster(&missing),
        Err(e) => store_error(e),
    }
}

/// `GET /api/v1/clusters/{name}/cruise-control-capacity`: Cruise
/// Control's capacity file for the cluster's brokers (see
/// [`super::capacity::capacity_file`]).
pub async fn get_capacity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let docs = match state.storage.cluster_latest(Some(&name)).await {
        Ok(d) if d.is_empty() => return no_cluster(&name),
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let cluster = name.clone();
    let file = tokio::task::spawn_blocking(move || {
        let reports: Vec<(String, Report)> = docs
            .into_iter()
            .filter_map(|(h, b)| Some((h, serde_json::from_str::<Report>(&b).ok()?)))
            .collect();
        super::capacity::capacity_file(&cluster, &reports)
    })
    .await;
    match file {
        Ok(f) => axum::Json(f).into_response(),
        Err(_) => store_error(StoreError::Stopped),
    }
}

/// `GET /clusters/{name}`: the cluster page.
pub async fn cluster_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = check_read_page(&state, &headers) {
        return r;
    }
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = now_ms();
    let read = async {
        let hosts = state.storage.hosts(now).await?;
        let all = summaries(&state).await?;
        let skew = cluster_skew(&state.storage, &name).await?;
        Ok::<_, StoreError>((hosts, all, skew))
    };
    match read.await {
        Ok((hosts, all, Some((m, skew)))) => {
            let others: Vec<String> = all
                .iter()
                .filter_map(|c| c.name.clone())
                .filter(|n| *n != name)
                .collect();
            let summary = all
                .into_iter()
                .find(|c| c.name.as_deref() == Some(name.as_str()));
            let members: Vec<_> = hosts
                .into_iter()
                .filter(|h| h.cluster.as_deref() == Some(name.as_str()))
                .collect();
            let html = crate::present::cluster::render_cluster(
                &name,
                summary.as_ref(),
                &members,
                &m.unreadable,
                &skew,
                &others,
            );
            page::page(StatusCode::OK, html)
        }
        Ok((_, _, None)) => page::error_page(
            StatusCode::NOT_FOUND,
            &format!("No host's latest report names the cluster “{name}”."),
        ),
        Err(e) => page::store_error_page(e),
    }
}

/// `GET /clusters/compare?a=&b=`: two clusters key by key.
pub async fn compare_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CompareQuery>,
) -> Response {
    if let Some(r) = check_read_page(&state, &headers) {
        return r;
    }
    let Some((a, b)) = both(&q) else {
        // `/clusters/compare` without a query is the page of a cluster
        // named "compare", if there is one: the route must not hide it.
        if q.a.is_none() && q.b.is_none() {
            let r = cluster_page(State(state), headers, Path("compare".into())).await;
            if r.status() != StatusCode::NOT_FOUND {
                return r;
            }
        }
        return page::error_page(StatusCode::BAD_REQUEST, COMPARE_USAGE);
    };
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match comparison(&state.storage, a, b).await {
        Ok(Ok(answer)) => page::page(
            StatusCode::OK,
            crate::present::cluster::render_compare(&answer),
        ),
        Ok(Err(missing)) => page::error_page(
            StatusCode::NOT_FOUND,
            &format!("No host's latest report names the cluster “{missing}”."),
        ),
        Err(e) => page::store_error_page(e),
    }
}
