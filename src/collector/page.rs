//! The fleet web page (server-rendered HTML).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use super::api::{AppState, check_read};

/// `GET /`: the fleet table.
pub async fn fleet(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    Html("<!doctype html><title>tunekeeper fleet</title>").into_response()
}

/// `GET /hosts/{hostname}`: one host.
pub async fn host(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(_hostname): Path<String>,
) -> Response {
    if let Some(r) = check_read(&state, &headers) {
        return r;
    }
    Html("<!doctype html><title>tunekeeper host</title>").into_response()
}
