//! The central collector: agents POST their reports here; operators read the
//! fleet through a JSON API and a server-rendered web page.
//!
//! - [`server`]: binding, routes, pruning timer, graceful shutdown
//! - [`conn`]: the accept loop: header, idle and shutdown time bounds, a connection cap
//! - [`tls`]: HTTPS: certificate and key files, handshakes off the accept loop
//! - [`api`]: the JSON endpoints
//! - [`ingest`]: decompression (bounded) and validation of posted reports
//! - [`auth`]: bearer tokens, compared in constant time
//! - [`db`]: the writer thread (batched transactions) and pooled readers
//! - [`storage`]: the one storage interface the handlers use, over either backend
//! - [`store`]: the SQLite schema and queries
//! - [`pg`]: the PostgreSQL backend (several collectors on one database)
//! - [`pgtls`]: TLS to PostgreSQL (libpq's `sslmode`, rustls)
//! - [`drift`]: drift events between two reports (drift, back, gone with a stopped broker)
//! - [`health`]: figures derived from a report (drift, GC health)
//! - [`page`]: the fleet web page (charts and escaping come from [`crate::web`])

pub mod api;
pub mod auth;
pub mod conn;
pub mod db;
pub mod drift;
mod error;
pub mod health;
pub mod ingest;
pub mod page;
pub mod pg;
pub mod pgtls;
pub mod server;
pub mod storage;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use error::Error;
pub use server::{Collector, shutdown_signal};
pub use storage::Database;
pub use tls::TlsFiles;

/// Default largest request body, compressed and decompressed: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Default days of reports kept.
pub const DEFAULT_RETENTION_DAYS: u32 = 14;
/// Smallest `--max-body-bytes`: below it no real report fits.
pub const MIN_MAX_BODY_BYTES: usize = 4 << 10;
/// Largest `--max-body-bytes`: 256 MiB. A request body is held in memory
/// (and inflated up to this much), for each request in flight.
pub const MAX_MAX_BODY_BYTES: usize = 256 << 20;
/// Default time for a request head (and for an idle keep-alive connection's next one).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for a whole request body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(20);
/// Default time shutdown waits for open connections.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How the collector runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where reports are stored.
    pub db: Database,
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
    /// Time for a request head, and for an idle connection's next one.
    pub header_timeout: Duration,
    /// Time for a whole request body.
    pub body_timeout: Duration,
    /// Time shutdown waits for open connections before closing them.
    pub shutdown_timeout: Duration,
}

impl Config {
    /// A configuration with the defaults for everything but the paths
    /// (a SQLite database file).
    pub fn new(listen: SocketAddr, db: PathBuf, token_file: PathBuf) -> Config {
        Config {
            listen,
            db: Database::Sqlite(db),
            token_file,
            read_token_file: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retention_days: DEFAULT_RETENTION_DAYS,
            prune_interval: Duration::from_secs(3600),
            tls: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Refuses values the collector cannot work with, naming the option.
    /// Checked at start: a limit that breaks every request must stop the
    /// collector, not make each agent set its reports aside.
    pub fn validate(&self) -> Result<(), Error> {
        let range = MIN_MAX_BODY_BYTES..=MAX_MAX_BODY_BYTES;
        if !range.contains(&self.max_body_bytes) {
            return Err(Error::BadOption {
                option: "--max-body-bytes",
                value: self.max_body_bytes.to_string(),
                reason: format!(
                    "must be from {MIN_MAX_BODY_BYTES} to {MAX_MAX_BODY_BYTES} (a report is tens of KB; each request in flight may hold this much)"
                ),
            });
        }
        for (option, value) in [
            ("--header-timeout-seconds", self.header_timeout),
            ("--body-timeout-seconds", self.body_timeout),
            ("--shutdown-timeout-seconds", self.shutdown_timeout),
        ] {
            if value < Duration::from_secs(1) || value > Duration::from_secs(3600) {
                return Err(Error::BadOption {
                    option,
                    value: format!("{}", value.as_secs_f64()),
                    reason: "must be from 1 to 3600 seconds".into(),
                });
            }
        }
        if self.retention_days == 0 || self.retention_days > 36_500 {
            return Err(Error::BadOption {
                option: "--retention-days",
                value: self.retention_days.to_string(),
                reason: "must be from 1 to 36500".into(),
            });
        }
        Ok(())
    }
}
