//! The collector's options ([`Config`]) with their defaults and bounds,
//! checked once at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::alerts::webhook::{self, WebhookConfig};
use super::error::Error;
use super::http::tls::TlsFiles;
use super::storage::Database;

pub use super::limits::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_SHUTDOWN_TIMEOUT,
    MAX_MAX_BODY_BYTES, MIN_MAX_BODY_BYTES,
};
/// Default days of reports kept.
pub const DEFAULT_RETENTION_DAYS: u32 = 14;

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
    /// Days every report's whole document is kept (`--keep-raw-days`);
    /// 0: only each host's latest and those where the findings changed.
    pub keep_raw_days: u32,
    /// Serve HTTPS with these files; `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Time for a request head, and for an idle connection's next one.
    pub header_timeout: Duration,
    /// Time for a whole request body.
    pub body_timeout: Duration,
    /// Time shutdown waits for open connections before closing them.
    pub shutdown_timeout: Duration,
    /// Post state changes here; `None`: no webhook.
    pub webhook: Option<WebhookConfig>,
    /// Time between two skew evaluations (`--skew-interval-seconds`).
    pub skew_interval: Duration,
    /// Time between two computations of the clusters' week-over-week trend.
    pub trend_refresh: Duration,
}

/// Default time between two evaluations of the hosts' alert states.
pub const DEFAULT_ALERT_INTERVAL: Duration = Duration::from_secs(30);

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
            keep_raw_days: 0,
            tls: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            webhook: None,
            skew_interval: super::alerts::skew_watch::DEFAULT_INTERVAL,
            trend_refresh: super::fleet::trend::DEFAULT_REFRESH,
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
        if let Some(w) = &self.webhook {
            // The URL itself was checked when parsed (WebhookUrl::parse).
            if let Some(url) = &w.external_url
                && !reqwest::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            {
                return Err(Error::BadOption {
                    option: "--external-url",
                    value: webhook::shown_url(url),
                    reason: "not an http:// or https:// URL".into(),
                });
            }
            if w.queue == 0 || w.queue > 1_000_000 {
                return Err(Error::BadOption {
                    option: "--webhook-queue",
                    value: w.queue.to_string(),
                    reason: "must be from 1 to 1000000 messages".into(),
                });
            }
            for (option, value) in [
                ("--webhook-timeout-seconds", w.timeout),
                ("--alert-interval-seconds", w.interval),
            ] {
                if value < Duration::from_secs(1) || value > Duration::from_secs(3600) {
                    return Err(Error::BadOption {
                        option,
                        value: format!("{}", value.as_secs_f64()),
                        reason: "must be from 1 to 3600 seconds".into(),
                    });
                }
            }
        }
        if self.skew_interval < Duration::from_secs(1)
            || self.skew_interval > Duration::from_secs(86_400)
        {
            return Err(Error::BadOption {
                option: "--skew-interval-seconds",
                value: format!("{}", self.skew_interval.as_secs_f64()),
                reason: "must be from 1 to 86400 seconds".into(),
            });
        }
        if self.trend_refresh < Duration::from_secs(1)
            || self.trend_refresh > Duration::from_secs(86_400)
        {
            return Err(Error::BadOption {
                option: "--trend-refresh-seconds",
                value: format!("{}", self.trend_refresh.as_secs_f64()),
                reason: "must be from 1 to 86400 seconds".into(),
            });
        }
        if self.retention_days == 0 || self.retention_days > 36_500 {
            return Err(Error::BadOption {
                option: "--retention-days",
                value: self.retention_days.to_string(),
                reason: "must be from 1 to 36500".into(),
            });
        }
        if self.keep_raw_days > 36_500 {
            return Err(Error::BadOption {
                option: "--keep-raw-days",
                value: self.keep_raw_days.to_string(),
                reason: "must be from 0 (off) to 36500".into(),
            });
        }
        Ok(())
    }
}
