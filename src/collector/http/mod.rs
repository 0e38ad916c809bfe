//! HTTP, one room: connections, TLS, tokens, ingest, and the handlers that
//! turn requests into calls on [`super::fleet`] and [`super::storage`] and
//! answers built by [`crate::present`] (the routes: [`super::server`]).
//!
//! - [`conn`]: the accept loop: header, idle and shutdown time bounds, a connection cap
//! - [`tls`]: HTTPS: certificate and key files, handshakes off the accept loop
//! - [`auth`]: bearer tokens, compared in constant time
//! - [`ingest`]: decompression (bounded) and validation of posted reports
//! - [`shape`]: the bounds of a report's JSON, checked on its bytes before it is parsed
//! - [`api`]: the JSON endpoints of reports and hosts, and what handlers share
//! - [`clusters`]: the cluster endpoints and pages
//! - [`pages`]: the fleet page and the host pages
//! - [`metrics`]: `GET /metrics`

pub mod api;
pub mod auth;
pub mod clusters;
pub mod conn;
pub mod ingest;
pub mod metrics;
pub mod pages;
pub mod shape;
pub mod tls;
