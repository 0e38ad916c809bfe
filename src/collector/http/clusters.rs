//! The cluster endpoints and pages: `GET /api/v1/clusters`,
//! `GET /api/v1/clusters/{name}/skew`, `GET /api/v1/clusters/compare?a=&b=`,
//! `GET /api/v1/clusters/{name}/cruise-control-capacity`,
//! and the pages `/clusters/{name}` and `/clusters/compare?a=&b=`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::api::{AppState, check_read, check_read_page, error, heavy_read_turn, store_error};
use super::pages;
use crate::collector::clock::now_ms;
use crate::collector::fleet::cluster::{self, ClusterSummary};
use crate::collector::fleet::members::{cluster_skew, comparison};
use crate::collector::fleet::skew::KeySkew;
use crate::collector::storage::error::StoreError;
use crate::report::Report;

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

/// Query of the capacity file.
#[derive(Debug, Deserialize)]
pub struct CapacityQuery {
    /// The link speed, Mbit/s, of hosts whose interfaces report none.
    network_mbps: Option<String>,
}

/// Largest `network_mbps` taken (1.6 Tbit/s).
const MAX_NETWORK_MBPS: u64 = 1_600_000;

/// `GET /api/v1/clusters/{name}/cruise-control-capacity[?network_mbps=N]`:
/// Cruise Control's capacity file for the cluster's brokers (see
/// [`crate::collector::fleet::capacity::capacity_file`]); 422 with what is
/// missing when no broker has every figure (no file it could load).
pub async fn get_capacity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<CapacityQuery>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let network_mbps = match q.network_mbps.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) if (1..=MAX_NETWORK_MBPS).contains(&n) => Some(n),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "network_mbps: the link speed in Mbit/s, a whole number from 1 to {MAX_NETWORK_MBPS}"
                ),
            );
        }
    };
    let opts = crate::collector::fleet::capacity::CapacityOptions { network_mbps };
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
        crate::collector::fleet::capacity::capacity_file(&cluster, &reports, opts)
    })
    .await;
    match file {
        Ok(Ok(f)) => axum::Json(f).into_response(),
        Ok(Err(none)) => (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(none)).into_response(),
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
            pages::page(StatusCode::OK, html)
        }
        Ok((_, _, None)) => pages::error_page(
            StatusCode::NOT_FOUND,
            &format!("No host's latest report names the cluster “{name}”."),
        ),
        Err(e) => pages::store_error_page(e),
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
        return pages::error_page(StatusCode::BAD_REQUEST, COMPARE_USAGE);
    };
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match comparison(&state.storage, a, b).await {
        Ok(Ok(answer)) => pages::page(
            StatusCode::OK,
            crate::present::cluster::render_compare(&answer),
        ),
        Ok(Err(missing)) => pages::error_page(
            StatusCode::NOT_FOUND,
            &format!("No host's latest report names the cluster “{missing}”."),
        ),
        Err(e) => pages::store_error_page(e),
    }
}
