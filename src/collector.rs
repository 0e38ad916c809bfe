//! The central collector: agents POST their reports here; operators read the
//! fleet through a JSON API and a server-rendered web page.
//!
//! - [`http`]: the server, connections, TLS, tokens, ingest and the handlers
//!
//! - [`storage`]: the one storage interface, its types and both backends beneath it
//! - [`fleet`]: fleet logic over storage: clusters, trend, skew, capacity
//! - [`alerts`]: alert rules and their evaluator, the webhook, metrics, the skew watch

pub mod alerts;
pub mod clock;
pub mod config;
mod error;
pub mod fleet;
pub mod http;
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
