//! The JSON API: `POST /api/v1/reports`, `GET /api/v1/hosts`,
//! `GET /api/v1/hosts/{hostname}/reports?limit=N`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;

use super::auth::Tokens;
use super::db::{Readers, WriteError, WriterHandle};
use super::ingest::{self, Rejection};
use super::store::{self, Outcome};

/// Default and largest `limit` of the reports listing.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1_000;

/// What every handler shares.
pub struct Shared {
    /// Queues writes.
    pub writer: WriterHandle,
    /// Runs reads.
    pub readers: Arc<Readers>,
    /// Tokens that may post reports.
    pub tokens: Tokens,
    /// Tokens that may read; `None` leaves reads open.
    pub read_tokens: Option<Tokens>,
    /// Largest body, compressed or decompressed.
    pub max_body_bytes: usize,
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

/// `POST /api/v1/reports`.
pub async fn post_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = state.max_body_bytes;
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !state.tokens.allows_header(auth) {
        // Read (a bounded amount of) the body anyway, so the client gets
        // the 401 instead of a reset connection.
        let _ = read_body(body, 0, limit).await;
        return unauthorized();
    }
    let raw = match read_body(body, limit, DRAIN_FACTOR * limit).await {
        Ok(raw) => raw,
        Err(Some(r)) => return reject(r),
        Err(None) => return error(StatusCode::BAD_REQUEST, "reading body failed"),
    };
    let encoding = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str()) {
        None => None,
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => return reject(Rejection::Encoding("(not text)".into())),
    };
    // Inflating and parsing 10-20 KB is tens of microseconds: fine inline.
    let submission = match ingest::decode(&raw, encoding, limit)
        .and_then(|b| ingest::validate(b, ingest::now_ms()))
    {
        Ok(s) => s,
        Err(r) => return reject(r),
    };
    let id = submission.id.clone();
    match state.writer.insert(submission).await {
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
        Err(WriteError::Stopped) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// How much of an oversized body is read and discarded, as a multiple of the
/// limit, before giving up on the connection.
const DRAIN_FACTOR: usize = 16;

/// Reads up to `limit` bytes. A longer body is read on and discarded up to
/// `drain` bytes: hyper closes a connection whose request body was not read,
/// and a client still sending would then see a broken pipe, not the 413 that
/// tells it not to retry.
async fn read_body(
    mut body: Body,
    limit: usize,
    drain: usize,
) -> Result<Vec<u8>, Option<Rejection>> {
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| None)?;
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
        return Err(Some(Rejection::TooLarge { limit }));
    }
    Ok(buf)
}

fn reject(r: Rejection) -> Response {
    tracing::debug!(rejection = %r, "report refused");
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
    error(status, r)
}

/// `GET /api/v1/hosts`.
pub async fn get_hosts(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let now = ingest::now_ms();
    match state.readers.run(move |c| store::hosts(c, now)).await {
        Ok(hosts) => axum::Json(hosts).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("database: {e}")),
    }
}

/// Query of the reports listing.
#[derive(Debug, Deserialize)]
pub struct ReportsQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/hosts/{hostname}/reports?limit=N`: the stored documents,
/// newest first, verbatim.
pub async fn get_reports(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hostname): Path<String>,
    Query(q): Query<ReportsQuery>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    match state
        .readers
        .run(move |c| store::report_bodies(c, &hostname, limit))
        .await
    {
        Ok(bodies) => {
            // The bodies are validated JSON: splice them, never re-encode.
            let len = bodies.iter().map(|b| b.len() + 1).sum::<usize>() + 2;
            let mut out = String::with_capacity(len);
            out.push('[');
            for (i, b) in bodies.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(b);
            }
            out.push(']');
            ([(header::CONTENT_TYPE, "application/json")], out).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("database: {e}")),
    }
}
