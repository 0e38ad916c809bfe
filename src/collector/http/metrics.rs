//! `GET /metrics`: the collector's own Prometheus metrics (behind the read
//! token when one is set); the figures and their encoding are
//! [`crate::collector::alerts::metrics`]'s.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::api::{AppState, check_read, store_error};
use crate::collector::alerts::metrics::{count, encode};

/// `GET /metrics`.
pub async fn get_metrics(
    axum::extract::State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    let hosts = match state.storage.hosts(crate::collector::clock::now_ms()).await {
        Ok(h) => h,
        Err(e) => return store_error(e),
    };
    let clusters = state.clusters.lookup(&state.storage, &hosts).await;
    let fleet = count(&hosts, |h| clusters.get(h).cloned().flatten());
    let size = match state.storage.size_bytes().await {
        Ok(n) => Some(n),
        Err(e) => {
            // The other figures still hold; the size is left out, not zero.
            tracing::warn!(error = %e, "storage size unavailable");
            None
        }
    };
    let text = encode(
        &state.counters,
        &fleet,
        size,
        state.webhook,
        state.storage.backend(),
        &state.skew,
    );
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
