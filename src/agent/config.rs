//! The agent's configuration file. Every key is optional with a sane
//! default; unknown keys are an error that names them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read agent config {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Syntax error or unknown key; the message has line and column.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message.
        message: String,
    },
    /// A value that parses but means nothing valid.
    #[error("{}: `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    profile: Option<String>,
    interval: Option<String>,
    gc_poll: Option<String>,
    endpoint: Option<String>,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    spool_dir: Option<PathBuf>,
    spool_max_bytes: Option<String>,
    spool_max_reports: Option<usize>,
    enforce: Option<bool>,
    jvm_match: Option<String>,
    gc_logs: Option<Vec<String>>,
    metrics_listen: Option<String>,
    metrics_textfile: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    timeout: Option<String>,
}

/// The agent's effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Profile name or path.
    pub profile: String,
    /// Time between reports.
    pub interval: Duration,
    /// Time between reads of the GC logs (figures still go out every
    /// `interval`): a JVM's rotating set may wrap faster than the interval,
    /// and lines deleted before they are read are lost.
    pub gc_poll: Duration,
    /// Where reports are POSTed; `None` keeps them in the spool only.
    pub endpoint: Option<String>,
    /// A file holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// An extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Where undelivered reports wait.
    pub spool_dir: PathBuf,
    /// Spool bound in bytes.
    pub spool_max_bytes: u64,
    /// Spool bound in reports.
    pub spool_max_reports: usize,
    /// Re-apply drifted kernel settings each interval (needs root).
    pub enforce: bool,
    /// Regex over /proc/PID/cmdline that identifies broker JVMs.
    pub jvm_match: regex::Regex,
    /// Extra GC log paths or globs.
    pub gc_logs: Vec<String>,
    /// Serve Prometheus metrics here.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Write Prometheus metrics to this file (node_exporter textfile collector).
    pub metrics_textfile: Option<PathBuf>,
    /// Where apply's journal lives when enforcing.
    pub state_dir: PathBuf,
    /// HTTP request timeout.
    pub timeout: Duration,
}

/// How often the GC logs are read unless `gc_poll` says otherwise: a JDK 17
/// writing `gc*` under load fills a 20 x 20 KB set in about a second.
pub const DEFAULT_GC_POLL: Duration = Duration::from_millis(250);

impl Default for Config {
    fn default() -> Self {
        Config {
            profile: crate::profile::DEFAULT_PROFILE.into(),
            interval: Duration::from_secs(60),
            gc_poll: DEFAULT_GC_POLL,
            endpoint: None,
            token_file: None,
            ca_file: None,
            // The agent owns only its own subdirectory: the rollback journal one
            // level up is replayed by root and must not be writable by the agent.
            spool_dir: PathBuf::from("/var/lib/tunekeeper/agent/spool"),
            spool_max_bytes: 64 << 20,
            spool_max_reports: 10_000,
            enforce: false,
            jvm_match: regex::Regex::new(crate::profile::DEFAULT_BROKER_MATCH)
                .expect("valid default"),
            gc_logs: Vec::new(),
            metrics_listen: None,
            metrics_textfile: None,
            state_dir: PathBuf::from(crate::apply::DEFAULT_STATE_DIR),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Parses `500ms`, `60s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

impl Config {
    /// Loads a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let mut c = Config::default();
        if let Some(p) = raw.profile {
            c.profile = p;
        }
        if let Some(i) = raw.interval {
            c.interval = parse_duration(&i).ok_or_else(|| {
                invalid(
                    "interval",
                    format!("`{i}` is not a duration like 60s or 5m"),
                )
            })?;
        }
        if let Some(g) = raw.gc_poll {
            c.gc_poll = parse_duration(&g).ok_or_else(|| {
                invalid(
                    "gc_poll",
                    format!("`{g}` is not a duration like 250ms or 1s"),
                )
            })?;
        }
        if let Some(t) = raw.timeout {
            c.timeout = parse_duration(&t)
                .ok_or_else(|| invalid("timeout", format!("`{t}` is not a duration like 10s")))?;
        }
        if let Some(e) = raw.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(invalid("endpoint", format!("`{e}` is not an http(s) URL")));
            }
            c.endpoint = Some(e);
        }
        c.token_file = raw.token_file;
        c.ca_file = raw.ca_file;
        if let Some(d) = raw.spool_dir {
            c.spool_dir = d;
        }
        if let Some(s) = raw.spool_max_bytes {
            let n = crate::expect::parse_size(&s, 1)
                .and_then(Result::ok)
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    invalid("spool_max_bytes", format!("`{s}` is not a size like 64MiB"))
                })?;
            c.spool_max_bytes = u64::try_from(n).unwrap_or(u64::MAX);
        }
        if let Some(n) = raw.spool_max_reports {
            c.spool_max_reports = n.max(1);
        }
        c.enforce = raw.enforce.unwrap_or(false);
        if let Some(m) = raw.jvm_match {
            c.jvm_match = regex::Regex::new(&m)
                .map_err(|e| invalid("jvm_match", format!("not a valid regex: {e}")))?;
        }
        c.gc_logs = raw.gc_logs.unwrap_or_default();
        if let Some(l) = raw.metrics_listen {
            c.metrics_listen = Some(l.parse().map_err(|_| {
                invalid(
                    "metrics_listen",
                    format!("`{l}` is not an address like 127.0.0.1:9715"),
                )
            })?);
        }
        c.metrics_textfile = raw.metrics_textfile;
        if let Some(d) = raw.state_dir {
            c.state_dir = d;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        let c = Config::parse("", Path::new("a.toml")).unwrap();
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.gc_poll, DEFAULT_GC_POLL);
        assert_eq!(c.spool_max_bytes, 64 << 20);
        let c = Config::parse(
            "interval = \"1s\"\nspool_max_bytes = \"1MiB\"\nendpoint = \"http://127.0.0.1:1/api/v1/reports\"\n\
             jvm_match = \"kafka\\\\.Kafka\"\nmetrics_listen = \"127.0.0.1:9715\"\n",
            Path::new("a.toml"),
        )
        .unwrap();
        assert_eq!(c.interval, Duration::from_secs(1));
        assert_eq!(c.spool_max_bytes, 1 << 20);
        assert!(c.jvm_match.is_match("java kafka.Kafka"));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = Config::parse(
            "intervall = \"1s\"\n",
            Path::new("/etc/tunekeeper/agent.toml"),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("agent.toml") && msg.contains("intervall"),
            "{msg}"
        );
        let e = Config::parse("interval = \"soon\"\n", Path::new("a.toml")).unwrap_err();
        assert!(e.to_string().contains("`interval`"));
        let e = Config::parse("gc_poll = \"0ms\"\n", Path::new("a.toml")).unwrap_err();
        assert!(e.to_string().contains("`gc_poll`"));
        let e = Config::parse("endpoint = \"collector:8443\"\n", Path::new("a.toml")).unwrap_err();
        assert!(e.to_string().contains("`endpoint`"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("1d"), None);
    }
}
