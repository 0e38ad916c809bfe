//! The JSON API: `POST /api/v1/reports`, `GET /api/v1/hosts?limit=N&after=C`,
//! `GET /api/v1/hosts/{hostname}/reports?limit=N&cursor=C`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;

use super::auth::Tokens;
use super::ingest::{self, Rejection};
use crate::collector::limits::Bound;
use crate::collector::storage::Storage;
use crate::collector::storage::error::StoreError;
use crate::collector::storage::fleet::{ClusterFilter, FleetCursor, FleetQuery, SortKey};
use crate::collector::storage::report::{Cursor, Outcome};

/// Default and largest `limit` of the listings (reports, hosts, the fleet page).
pub const DEFAULT_LIMIT: u32 = 100;
pub use crate::collector::limits::{HEAVY_READ_WAIT, HEAVY_READS, MAX_LIMIT, PAGE_BYTES};
/// How long sending one chunk of a listing may wait on a client that does
/// not read, before the response is abandoned (its turn freed).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares.
pub struct Shared {
    /// The database, whichever backend.
    pub storage: Storage,
    /// Tokens that may post reports.
    pub tokens: Tokens,
    /// Tokens that may read; `None` leaves reads open.
    pub read_tokens: Option<Tokens>,
    /// Largest body, compressed or decompressed.
    pub max_body_bytes: usize,
    /// Time for a whole request body.
    pub body_timeout: Duration,
    /// Turns for heavy reads ([`HEAVY_READS`]).
    pub heavy_reads: Arc<tokio::sync::Semaphore>,
    /// The collector's own counters (`/metrics`).
    pub counters: Arc<crate::collector::alerts::metrics::Counters>,
    /// Each host's cluster, cached.
    pub clusters: Arc<crate::collector::alerts::Clusters>,
    /// Told when a report is stored (the alert evaluator listens).
    pub stored: Arc<tokio::sync::Notify>,
    /// Whether a webhook is configured (its metrics are shown).
    pub webhook: bool,
    /// Hosts in a minority of their cluster (the skew watch's last result).
    pub skew: Arc<crate::collector::alerts::skew_watch::SkewWatch>,
    /// The clusters' week-over-week trend, refreshed in the background.
    pub trend: Arc<crate::collector::fleet::trend::TrendCache>,
}

/// A turn for a heavy read, or the 503 to send (with `Retry-After`).
pub async fn heavy_read_turn(
    state: &Shared,
) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    let turn = Arc::clone(&state.heavy_reads).acquire_owned();
    match tokio::time::timeout(HEAVY_READ_WAIT, turn).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy: too many large reads at once; retry shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            Err(r)
        }
    }
}

/// The handlers' state.
pub type AppState = Arc<Shared>;

/// A JSON error body with a status.
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    let body = serde_json::json!({ "error": message.to_string() });
    (status, axum::Json(body)).into_response()
}

fn unauthorized() -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, "missing or unknown bearer token");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// `None` when the request may read, else the 401 to send. Reads accept a
/// bearer token or HTTP Basic with the token as password (browsers).
pub fn check_read(state: &Shared, headers: &HeaderMap) -> Option<Response> {
    let tokens = state.read_tokens.as_ref()?;
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    (!tokens.allows_header_or_basic(auth)).then(unauthorized)
}

/// The 401 for a page: asks the browser for Basic credentials (any user
/// name, a read token as password).
pub fn check_read_page(state: &Shared, headers: &HeaderMap) -> Option<Response> {
    let mut r = check_read(state, headers)?;
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="tunekeeper collector", charset="UTF-8""#),
    );
    Some(r)
}

/// `POST /api/v1/reports`, counted by the status it is answered with.
pub async fn post_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let r = store_report(&state, headers, body).await;
    state.counters.received(r.status());
    if r.status() == StatusCode::ACCEPTED {
        state.stored.notify_one();
    }
    r
}

async fn store_report(state: &Shared, headers: HeaderMap, body: Body) -> Response {
    let limit = state.max_body_bytes;
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !state.tokens.allows_header(auth) {
        // Read (a bounded amount of) the body anyway, so the client gets
        // the 401 instead of a reset connection.
        let _ = read_body(body, 0, limit, state.body_timeout).await;
        return unauthorized();
    }
    let drain = limit.saturating_mul(DRAIN_FACTOR);
    let raw = match read_body(body, limit, drain, state.body_timeout).await {
        Ok(raw) => raw,
        Err(BodyError::Rejected(r)) => return reject(state, r),
        Err(BodyError::TimedOut) => {
            // Answered, and the connection closed (its body was not read
            // to the end): a stalled sender holds nothing past the bound.
            let mut r = error(
                StatusCode::REQUEST_TIMEOUT,
                format!("body not received within {:?}", state.body_timeout),
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        Err(BodyError::Read) => return error(StatusCode::BAD_REQUEST, "reading body failed"),
    };
    let encoding = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str()) {
        None => None,
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => return reject(state, Rejection::Encoding("(not text)".into())),
    };
    // Inflating and parsing 10-20 KB is tens of microseconds: fine inline.
    let submission = match ingest::decode(&raw, encoding, limit)
        .and_then(|b| ingest::validate(b, crate::collector::clock::now_ms()))
    {
        Ok(s) => s,
        Err(r) => return reject(state, r),
    };
    let id = submission.id.clone();
    match state.storage.insert(submission).await {
        Ok(Outcome::Stored) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({ "status": "stored", "id": id })),
        )
            .into_response(),
        // 200, not an error: the agent must treat a duplicate as delivered.
        Ok(Outcome::Duplicate) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "duplicate", "id": id })),
        )
            .into_response(),
        // Not a retry: another host's report has this id. Neither stored
        // nor delivered; the agent keeps it and the operator sees why.
        Ok(Outcome::Conflict) => error(
            StatusCode::CONFLICT,
            format!("report id {id:?} is already stored for another host"),
        ),
        Err(StoreError::Stopped) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(e) => {
            if e.is_refusal() {
                state.counters.refused(Bound::Storage);
            }
            insert_error(e)
        }
    }
}

/// The response to a report storage could not take. A 5xx tells the agent
/// to try again later (it keeps the report and everything behind it), so
/// it is only for that: 422 when the database refused this report's own
/// data (retrying the same bytes cannot succeed: the agent sets it aside
/// and the reports behind it go on), else 503 with `Retry-After` (the
/// database is away, full, or failing for everyone). Never 500.
pub fn insert_error(e: StoreError) -> Response {
    if e.is_refusal() {
        tracing::warn!(error = %e, "the database refused a report: answered 422");
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the database refused this report: {e}"),
        );
    }
    tracing::error!(error = %e, "storing a report failed: answered 503");
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, e);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    r
}

/// The response to a storage failure: 503 with `Retry-After` when the
/// database is away for now (nothing was stored; the agent keeps the report
/// and retries), 500 otherwise.
pub fn store_error(e: StoreError) -> Response {
    if e.is_transient() {
        let mut r = error(StatusCode::SERVICE_UNAVAILABLE, e);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        r
    } else {
        error(StatusCode::INTERNAL_SERVER_ERROR, e)
    }
}

/// How much of an oversized body is read and discarded, as a multiple of the
/// limit, before giving up on the connection.
const DRAIN_FACTOR: usize = 16;

/// Why a body was not read.
enum BodyError {
    /// Too large (413).
    Rejected(Rejection),
    /// Not all there within the body timeout (408).
    TimedOut,
    /// The connection failed.
    Read,
}

/// Reads up to `limit` bytes within `within`. A longer body is read on and
/// discarded up to `drain` bytes: hyper closes a connection whose request
/// body was not read, and a client still sending would then see a broken
/// pipe, not the 413 that tells it not to retry.
async fn read_body(
    mut body: Body,
    limit: usize,
    drain: usize,
    within: Duration,
) -> Result<Vec<u8>, BodyError> {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(BodyError::TimedOut),
            Ok(None) => break,
            Ok(Some(frame)) => frame,
        };
        let frame = frame.map_err(|_| BodyError::Read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > drain {
            break;
        }
    }
    if seen > limit {
        return Err(BodyError::Rejected(Rejection::TooLarge { limit }));
    }
    Ok(buf)
}

fn reject(state: &Shared, r: Rejection) -> Response {
    tracing::debug!(rejection = %r, "report refused");
    if let Some(b) = r.bound() {
        state.counters.refused(b);
    }
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    error(status, r)
}

/// Query of the hosts listing (kept as text: a bad value is answered
/// with a 400 naming the parameter, not a generic parse error).
#[derive(Debug, Deserialize)]
pub struct HostsQuery {
    limit: Option<String>,
    after: Option<String>,
    cluster: Option<String>,
    role: Option<String>,
}

/// `GET /api/v1/hosts[?limit=N&after=CURSOR]`: the hosts by host name, as
/// a JSON array. Without parameters, every host (as before paging
/// existed); with `limit` (1 to [`MAX_LIMIT`]) or `after` (default limit
/// [`DEFAULT_LIMIT`]), one page read by keyset from the database. When
/// more follow, the `Link` header (`rel="next"`) and `X-Next-Cursor` give
/// the next page, as in the reports listing. `cluster=NAME` (paged) lists
/// one cluster's hosts; a cluster no host names is a 400. `role=NAME`
/// (paged) lists the hosts whose agent reports that role.
pub async fn get_hosts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HostsQuery>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let now = crate::collector::clock::now_ms();
    let cluster = q.cluster.as_deref().and_then(ClusterFilter::parse);
    if let Some(f) = &cluster {
        match state.storage.cluster_counts(now).await {
            Ok(all) if all.iter().any(|c| f.is(c.cluster.as_deref())) => {}
            Ok(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "cluster: no host's latest report names the cluster {:?} (hosts without one: {:?})",
                        f.value(),
                        crate::collector::storage::fleet::NO_CLUSTER
                    ),
                );
            }
            Err(e) => return store_error(e),
        }
    }
    let role = q.role.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if role.is_some_and(|r| r.len() > 100) {
        return error(
            StatusCode::BAD_REQUEST,
            "role: a role's name (broker, controller, zookeeper)",
        );
    }
    if q.limit.is_none() && q.after.is_none() && cluster.is_none() && role.is_none() {
        return match state.storage.hosts(now).await {
            Ok(hosts) => axum::Json(hosts).into_response(),
            Err(e) => store_error(e),
        };
    }
    let limit = match q.limit.as_deref().map(str::parse::<u32>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("limit: must be a whole number from 1 to {MAX_LIMIT}"),
            );
        }
    };
    let after = match q.after.as_deref() {
        None => None,
        Some(t) => match FleetCursor::decode(t, SortKey::Host) {
            Some(c) => Some(c),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "after: not a cursor this collector gave (use the X-Next-Cursor of the previous page)",
                );
            }
        },
    };
    let query = FleetQuery {
        sort: SortKey::Host,
        after,
        limit,
        cluster: cluster.clone(),
        role: role.map(str::to_owned),
        ..FleetQuery::default()
    };
    let page = match state.storage.fleet_page(now, query).await {
        Ok(p) => p,
        Err(e) => return store_error(e),
    };
    let mut r = axum::Json(page.hosts).into_response();
    if let Some(next) = page.next {
        let token = next.encode();
        let mut also = cluster.as_ref().map_or_else(String::new, |c| {
            format!("&cluster={}", crate::present::html::segment(c.value()))
        });
        if let Some(r) = role {
            also.push_str(&format!("&role={}", crate::present::html::segment(r)));
        }
        let link = format!("</api/v1/hosts?limit={limit}{also}&after={token}>; rel=\"next\"");
        let h = r.headers_mut();
        if let (Ok(link), Ok(token)) = (HeaderValue::from_str(&link), HeaderValue::from_str(&token))
        {
            h.insert(header::LINK, link);
            h.insert("x-next-cursor", token);
        }
    }
    r
}

/// `GET /api/v1/hosts/{hostname}/drift`: the host's drift events, oldest
/// first: each key starting to drift (`state` `drift`), coming back (`ok`)
/// or going away with a stopped broker (`stopped`). 404 for a host never seen.
pub async fn get_drift(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hostname): Path<String>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let now = crate::collector::clock::now_ms();
    match state.storage.host_data(&hostname, now, now).await {
        Ok(d) if d.view.is_none() && d.events.is_empty() => {
            error(StatusCode::NOT_FOUND, format!("no host {hostname:?}"))
        }
        Ok(d) => axum::Json(d.events).into_response(),
        Err(e) => store_error(e),
    }
}

/// Query of the reports listing.
#[derive(Debug, Deserialize)]
pub struct ReportsQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/v1/hosts/{hostname}/reports?limit=N&cursor=C`: the stored
/// documents, newest first, verbatim, as a JSON array of at most `limit`
/// documents and about [`PAGE_BYTES`]. When more follow, the `Link` header
/// (`rel="next"`) and `X-Next-Cursor` give the next page. The array is
/// streamed one document at a time, so memory does not grow with the page.
pub async fn get_reports(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hostname): Path<String>,
    Query(q): Query<ReportsQuery>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let after = match q.cursor.as_deref().map(Cursor::decode) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "cursor: not one this collector gave (use the X-Next-Cursor of the previous page)",
            );
        }
    };
    let turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let page = state
        .storage
        .report_page(&hostname, limit, after, PAGE_BYTES)
        .await;
    let page = match page {
        Ok(p) => p,
        Err(e) => return store_error(e),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(2);
    let storage = state.storage.clone();
    let ids = page.ids;
    tokio::spawn(async move {
        // The turn is held until the last byte is handed over.
        let _turn = turn;
        let send = |b: std::io::Result<bytes::Bytes>| {
            let tx = tx.clone();
            async move {
                tokio::time::timeout(SEND_TIMEOUT, tx.send(b))
                    .await
                    .is_ok_and(|r| r.is_ok())
            }
        };
        let listed = async {
            if !send(Ok(bytes::Bytes::from_static(b"["))).await {
                return Ok(false);
            }
            let mut first = true;
            for id in &ids {
                // Pruned since the page was chosen: skip it.
                let Some(body) = storage.report_body(id).await? else {
                    continue;
                };
                if !first && !send(Ok(bytes::Bytes::from_static(b","))).await {
                    return Ok(false);
                }
                first = false;
                // The bodies are validated JSON: splice them, never re-encode.
                if !send(Ok(bytes::Bytes::from(body))).await {
                    return Ok(false);
                }
            }
            Ok::<_, StoreError>(send(Ok(bytes::Bytes::from_static(b"]"))).await)
        }
        .await;
        match listed {
            Ok(true) => {}
            Ok(false) => tracing::debug!("report listing abandoned: the client stopped reading"),
            Err(e) => {
                tracing::warn!(error = %e, "report listing failed part way");
                // Cut the response short rather than end it as if complete.
                send(Err(std::io::Error::other(e.to_string()))).await;
            }
        }
    });
    let mut r = Response::new(Body::new(ChannelBody { rx }));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(next) = page.next {
        let token = next.encode();
        let link = format!(
            "</api/v1/hosts/{}/reports?limit={limit}&cursor={token}>; rel=\"next\"",
            crate::present::html::segment(&hostname)
        );
        if let (Ok(link), Ok(token)) = (HeaderValue::from_str(&link), HeaderValue::from_str(&token))
        {
            h.insert(header::LINK, link);
            h.insert("x-next-cursor", token);
        }
    }
    r
}

/// A response body fed by a channel: each message is one chunk; the
/// channel closing ends the body.
struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
}

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| b.map(http_body::Frame::data)))
    }
}
