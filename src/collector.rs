//! The central collector: agents POST their reports here; operators read
//! the fleet through a JSON API and server-rendered pages. Its rooms, data
//! flowing one way (http, then fleet logic, then storage; alerts beside,
//! reading storage):
//!
//! - [`storage`]: the one storage interface, the types it speaks, SQLite and PostgreSQL beneath it
//! - [`fleet`]: fleet logic over storage's types: clusters, trend, skew, history, capacity
//! - [`alerts`]: alert rules and their evaluator, the webhook, the collector's metrics, the skew watch
//! - [`http`]: connections, TLS, tokens, ingest, and the handlers (pages from [`crate::present`])
//!
//! Above the rooms, [`server`] (the running collector: routes, background
//! tasks, shutdown) and [`config`] (its options); beside them all,
//! [`clock`], [`limits`] (every bound, one table) and the [`Error`] that
//! stops the collector.

pub mod alerts;
pub mod clock;
pub mod config;
mod error;
pub mod fleet;
pub mod http;
pub mod limits;
pub mod server;
pub mod storage;

pub use alerts::webhook::WebhookConfig;
pub use config::{
    Config, DEFAULT_ALERT_INTERVAL, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_RETENTION_DAYS, DEFAULT_SHUTDOWN_TIMEOUT, MAX_MAX_BODY_BYTES,
    MIN_MAX_BODY_BYTES,
};
pub use error::Error;
pub use http::tls::TlsFiles;
pub use server::{Collector, shutdown_signal};
pub use storage::Database;
