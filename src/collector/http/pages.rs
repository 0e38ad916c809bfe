//! The page handlers: the fleet table at `/` and one host at
//! `/hosts/{hostname}` (their queries here, their markup in
//! [`crate::present::fleet`] and [`crate::present::host`]), the error
//! pages, and the headers every page is sent with.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use serde::Deserialize;

use super::api::{AppState, DEFAULT_LIMIT, MAX_LIMIT, check_read_page, heavy_read_turn};
use crate::collector::clock::now_ms;
use crate::collector::fleet::trend::Latest;
use crate::collector::storage::error::StoreError;
use crate::collector::storage::fleet::{
    ClusterFilter, FleetCursor, FleetQuery, SortKey, StateFilter,
};
use crate::collector::storage::host::HostData;
use crate::present::format::{fmt_age, fmt_clock};
use crate::present::{
    self,
    fleet::{ClusterSection, FleetRow, FleetView, Selection},
};
use crate::report::Report;

/// The host page's charts go back two weeks.
const WEEK_MS: i64 = 7 * 86_400_000;

/// What `GET /` may be asked (kept as text: a bad value gets a 400 page
/// naming the parameter).
#[derive(Debug, Deserialize)]
pub struct FleetParams {
    q: Option<String>,
    state: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    before: Option<String>,
    cluster: Option<String>,
    role: Option<String>,
}

/// The query and the page's choices of `p`, or the parameter at fault and why.
fn fleet_query(p: FleetParams) -> Result<(FleetQuery, Selection), (&'static str, String)> {
    let state = match p.state.as_deref() {
        None | Some("") => StateFilter::All,
        Some(s) => StateFilter::parse(s).ok_or_else(|| {
            let names: Vec<&str> = StateFilter::ALL.iter().map(|f| f.name()).collect();
            ("state", format!("one of {}", names.join(", ")))
        })?,
    };
    let sort = match p.sort.as_deref() {
        None | Some("") => SortKey::Problems,
        Some(s) => SortKey::parse(s).ok_or_else(|| {
            let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.name()).collect();
            ("sort", format!("one of {}", names.join(", ")))
        })?,
    };
    let descending = match p.dir.as_deref() {
        None | Some("") => sort.default_descending(),
        Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(("dir", "asc or desc".into())),
    };
    let limit = match p.limit.as_deref().map(str::parse::<u32>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(("limit", format!("a whole number from 1 to {MAX_LIMIT}"))),
    };
    let cursor = |name: &'static str, t: Option<String>| match t.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => FleetCursor::decode(t, sort)
            .map(Some)
            .ok_or((name, "a link of this page (for the same sort)".to_owned())),
    };
    let after = cursor("after", p.after)?;
    let before = cursor("before", p.before)?;
    let text = p.q.unwrap_or_default();
    let cluster = p.cluster.as_deref().and_then(ClusterFilter::parse);
    let role = match p.role.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) if r.len() <= 100 => Some(r.to_owned()),
        Some(_) => {
            return Err((
                "role",
                "a role's name (broker, controller, zookeeper)".into(),
            ));
        }
    };
    Ok((
        FleetQuery {
            cluster: cluster.clone(),
            role: role.clone(),
            text: Some(text.clone()),
            state,
            sort,
            descending,
            after,
            before,
            limit,
        },
        Selection {
            text,
            state,
            sort,
            descending,
            limit,
            default_limit: DEFAULT_LIMIT,
            cluster,
            role,
        },
    ))
}

/// `GET /`: one page of the fleet table (see [`crate::present::fleet`]).
pub async fn fleet(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<FleetParams>,
) -> Response {
    if let Some(r) = check_read_page(&state, &headers) {
        return r;
    }
    let (query, selection) = match fleet_query(params) {
        Ok(q) => q,
        Err((name, want)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("The parameter “{name}” must be {want}."),
            );
        }
    };
    let now = now_ms();
    let clusters = match state.storage.cluster_counts(now).await {
        Ok(c) => c,
        Err(e) => return store_error_page(e),
    };
    if let Some(f) = &query.cluster
        && !clusters.iter().any(|c| f.is(c.cluster.as_deref()))
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "The parameter “cluster” must be a cluster of the fleet (or “{}”): no host's latest report names “{}”.",
                crate::collector::storage::fleet::NO_CLUSTER,
                f.value()
            ),
        );
    }
    let trend = state.trend.latest();
    let clusters = ClusterSection {
        trend_note: match &trend {
            Latest::Ready(s) => format!(
                "trend computed at {} ({} ago), refreshed in the background",
                fmt_clock(s.as_of_ms),
                fmt_age((now - s.as_of_ms) / 1000)
            ),
            Latest::Missing(why) => why.clone(),
        },
        rows: crate::collector::fleet::cluster::summarize(&clusters, &trend),
    };
    match state.storage.fleet_page(now, query).await {
        Ok(p) => {
            let view = FleetView {
                clock: fmt_clock(now),
                counts: p.counts,
                matching: p.matching,
                rows: p.hosts.iter().map(FleetRow::from_view).collect(),
                selection,
                next: p.next.map(|c| c.encode()),
                prev: p.prev.map(|c| c.encode()),
                clusters,
            };
            page(StatusCode::OK, present::fleet::render(&view))
        }
        Err(e) => store_error_page(e),
    }
}

/// `GET /hosts/{hostname}`: one host.
pub async fn host(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hostname): Path<String>,
) -> Response {
    if let Some(r) = check_read_page(&state, &headers) {
        return r;
    }
    // The latest document (up to --max-body-bytes) is parsed: a heavy read.
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = now_ms();
    let data = state
        .storage
        .host_data(&hostname, now, now - 2 * WEEK_MS)
        .await;
    match data {
        Ok(HostData {
            view: Some(view),
            latest,
            series,
            events,
        }) => {
            let report = latest.and_then(|b| serde_json::from_str::<Report>(&b).ok());
            let against = match &view.cluster {
                Some(c) => {
                    match crate::collector::fleet::members::cluster_skew(&state.storage, c).await {
                        Ok(Some((m, skew))) => Some(present::cluster::host_section(
                            &view.hostname,
                            c,
                            &skew,
                            m.hosts.len(),
                        )),
                        Ok(None) => None,
                        Err(e) => return store_error_page(e),
                    }
                }
                None => None,
            };
            let weeks = host_weeks(&state.trend.latest(), &view.hostname);
            let html = present::host::render_host(
                &view,
                report.as_ref(),
                &series,
                &events,
                now,
                against,
                &weeks,
            );
            page(StatusCode::OK, html)
        }
        Ok(_) => error_page(
            StatusCode::NOT_FOUND,
            &format!("No host named “{hostname}” has reported (or its reports were pruned)."),
        ),
        Err(e) => store_error_page(e),
    }
}

/// A host's weeks from the background aggregation (its cluster's trend
/// sums the same): the one source of both.
fn host_weeks(trend: &Latest, hostname: &str) -> present::host::HostWeeks {
    use present::host::HostWeeks;
    match trend {
        Latest::Ready(snap) => match snap.hosts.get(hostname) {
            Some((this, last)) => HostWeeks::Ready {
                as_of_ms: snap.as_of_ms,
                this: this.figures(),
                last: last.figures(),
            },
            None => HostWeeks::Missing(format!(
                "None of this host's reports is in the week-over-week figures computed at {} \
                 (it reported since; they are computed again in the background).",
                fmt_clock(snap.as_of_ms)
            )),
        },
        Latest::Missing(why) => HostWeeks::Missing(format!("{why}.")),
    }
}

/// A storage failure as a page: 503 (with `Retry-After`) while the database
/// is away, 500 otherwise.
pub(crate) fn store_error_page(e: StoreError) -> Response {
    let status = if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let mut r = error_page(status, &e.to_string());
    if e.is_transient() {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    }
    r
}

/// A page that says `message`, with `status`.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    page(status, present::message::render(message))
}

/// A page response. The policy is a second line of defence behind escaping:
/// nothing may load from anywhere (no images, frames, fetches or forms), so
/// even markup that slipped through could not reach out.
pub(crate) fn page(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}
