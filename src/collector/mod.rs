//! The central collector: agents POST their reports here; operators read the
//! fleet through a JSON API and a server-rendered web page.
//!
//! - [`server`]: binding, routes, pruning timer, graceful shutdown
//! - [`tls`]: HTTPS: certificate and key files, handshakes off the accept loop
//! - [`api`]: the JSON endpoints
//! - [`ingest`]: decompression (bounded) and validation of posted reports
//! - [`auth`]: bearer tokens, compared in constant time
//! - [`db`]: the writer thread (batched transactions) and pooled readers
//! - [`store`]: the SQLite schema and queries
//! - [`health`]: figures derived from a report (drift, GC health)
//! - [`page`]: the fleet web page (charts and escaping come from [`crate::web`])

pub mod api;
pub mod auth;
pub mod db;
mod error;
pub mod health;
pub mod ingest;
pub mod page;
pub mod server;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use error::Error;
pub use server::{Collector, shutdown_signal};
pub use tls::TlsFiles;

/// Default largest request body, compressed and decompressed: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Default days of reports kept.
pub const DEFAULT_RETENTION_DAYS: u32 = 14;

/// How the collector runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// SQLite database file (created if missing).
    pub db: PathBuf,
    /// Tokens agents use to post reports.
    pub token_file: PathBuf,
    /// Tokens readers must present; `None` leaves reads open.
    pub read_token_file: Option<PathBuf>,
    /// Largest body accepted, before and after decompression.
    pub max_body_bytes: usize,
    /// Days of reports kept.
    pub retention_days: u32,
    /// How often old reports are pruned.
    pub prune_interval: Duration,
    /// Serve HTTPS with these files; `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl Config {
    /// A configuration with the defaults for everything but the paths.
    pub fn new(listen: SocketAddr, db: PathBuf, token_file: PathBuf) -> Config {
        Config {
            listen,
            db,
            token_file,
            read_token_file: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retention_days: DEFAULT_RETENTION_DAYS,
            prune_interval: Duration::from_secs(3600),
            tls: None,
        }
    }
}
