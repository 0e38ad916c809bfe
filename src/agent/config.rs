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
    cluster: Option<String>,
    interval: Option<String>,
    gc_poll: Option<String>,
    endpoint: Option<String>,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    spool_dir: Option<PathBuf>,
    spool_max_bytes: Option<String>,
    spool_max_reports: Option<i64>,
    max_report_bytes: Option<String>,
    enforce: Option<bool>,
    jvm_counters: Option<bool>,
    jvm_match: Option<String>,
    gc_logs: Option<Vec<String>>,
    metrics_listen: Option<String>,
    metrics_textfile: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    timeout: Option<String>,
    waivers: Option<PathBuf>,
    forget_roles_after: Option<String>,
}

/// What a cluster name may be, from the configuration or from a broker's
/// `meta.properties`: 1 to 128 of A-Z a-z 0-9 - _ . (Kafka's ids are
/// base64url; a name ends up in URLs and pages).
pub fn is_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The agent's effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Profile name or path; `None`: each role that runs on the host
    /// (broker, KRaft controller, ZooKeeper) against its own profile.
    pub profile: Option<String>,
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
    /// The largest report built (its JSON, before gzip): the collector's
    /// `--max-body-bytes`, which bounds a body both compressed and not.
    pub max_report_bytes: usize,
    /// Re-apply drifted kernel settings each interval (needs root).
    pub enforce: bool,
    /// Read each JVM's own counters (hsperfdata) beside its log.
    pub jvm_counters: bool,
    /// The cluster this host belongs to; `None`: Kafka's own `cluster.id`.
    pub cluster: Option<String>,
    /// Regex over /proc/PID/cmdline naming further JVMs to follow (the
    /// Kafka-family ones are found by their main class whatever it says).
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
    /// The waivers file; `None`: /etc/tunekeeper/waivers.toml when it exists.
    pub waivers: Option<PathBuf>,
    /// A role missing this long is no longer expected (a decommissioned
    /// ZooKeeper must not read "stopped" forever).
    pub forget_roles_after: Duration,
}

/// `gc_poll` bounds: below 10 ms the agent would spin; above a minute a
/// busy JVM's set wraps between reads.
const GC_POLL_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(60));

/// How often the GC logs are read unless `gc_poll` says otherwise: a JDK 17
/// writing `gc*` under load fills a 20 x 20 KB set in about a second.
pub const DEFAULT_GC_POLL: Duration = Duration::from_millis(250);

impl Default for Config {
    fn default() -> Self {
        Config {
            profile: None,
            cluster: None,
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
            max_report_bytes: crate::collector::DEFAULT_MAX_BODY_BYTES,
            enforce: false,
            jvm_counters: true,
            jvm_match: regex::Regex::new(crate::profile::DEFAULT_BROKER_MATCH)
                .expect("valid default"),
            gc_logs: Vec::new(),
            metrics_listen: None,
            metrics_textfile: None,
            state_dir: PathBuf::from(crate::apply::DEFAULT_STATE_DIR),
            timeout: Duration::from_secs(10),
            waivers: None,
            forget_roles_after: DEFAULT_FORGET_ROLES_AFTER,
        }
    }
}

/// The range `interval` may take: the report's own
/// ([`crate::report::INTERVAL_RANGE`]), which the collector checks too.
pub use crate::report::INTERVAL_RANGE;
/// The range `timeout` may take.
pub const TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(600));
/// The range `spool_max_bytes` may take (a report is a few KiB gzipped).
pub const SPOOL_MAX_BYTES_RANGE: (u64, u64) = (64 << 10, 1 << 40);
/// The range `max_report_bytes` may take: the collector's own range for
/// `--max-body-bytes`, so an agent and its collector can always agree.
pub const MAX_REPORT_BYTES_RANGE: (u64, u64) = (
    crate::collector::MIN_MAX_BODY_BYTES as u64,
    crate::collector::MAX_MAX_BODY_BYTES as u64,
);
/// How long a stopped role stays expected unless `forget_roles_after` says
/// otherwise: a week of "stopped" outlasts a weekend and a weekly on-call
/// rotation, so a role down that long was seen by someone; past that it is
/// taken as decommissioned.
pub const DEFAULT_FORGET_ROLES_AFTER: Duration = Duration::from_secs(7 * 86_400);
/// The range `forget_roles_after` may take: a second (tests, or a host
/// whose roles come and go) to ten years (never, in practice).
pub const FORGET_ROLES_AFTER_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3650 * 86_400));
/// The range `spool_max_reports` may take.
pub const SPOOL_MAX_REPORTS_RANGE: (i64, i64) = (1, 1_000_000);

/// Parses `500ms`, `60s`, `5m`, `1h`, or a bare number of seconds, into
/// seconds. `None` for anything else or a value that is not positive.
pub fn parse_seconds(text: &str) -> Option<f64> {
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
    (secs.is_finite() && secs > 0.0).then_some(secs)
}

/// [`parse_seconds`] as a `Duration`; `None` also for a value no
/// `Duration` can hold (`Duration::from_secs_f64` would panic).
pub fn parse_duration(text: &str) -> Option<Duration> {
    Duration::try_from_secs_f64(parse_seconds(text)?).ok()
}

/// Parses a size in bytes: a whole number with an optional binary suffix
/// (`K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB`). Too large a number
/// saturates (to be refused by the bounds); `None` for anything else.
pub fn parse_bytes(text: &str) -> Option<u128> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    if digits.is_empty() {
        return None;
    }
    // Only digits: parsing can fail on overflow alone.
    let n: u128 = digits.parse().unwrap_or(u128::MAX);
    let factor: u128 = match suffix.trim() {
        "" | "B" => 1,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        _ => return None,
    };
    Some(n.saturating_mul(factor))
}

/// [`parse_seconds`], or whole days (`7d`): for ages, which run to weeks.
pub fn parse_age_seconds(text: &str) -> Option<f64> {
    match text.trim().strip_suffix('d') {
        Some(days) if !days.ends_with(|c: char| c.is_ascii_alphabetic()) => {
            parse_seconds(days).map(|d| d * 86_400.0)
        }
        _ => parse_seconds(text),
    }
}

/// A duration as the config spells it back: whole days, hours, minutes or
/// seconds.
pub fn spell(d: Duration) -> String {
    let s = d.as_secs();
    if s > 86_400 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A size as the config spells it back.
fn spell_bytes(n: u64) -> String {
    match n {
        n if n % (1 << 40) == 0 => format!("{}TiB", n >> 40),
        n if n % (1 << 30) == 0 => format!("{}GiB", n >> 30),
        n if n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => n.to_string(),
    }
}

impl Config {
    /// Loads a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        // A configuration file is a few dozen lines.
        let text =
            crate::file_kind::read_text(path, 1 << 20).map_err(|source| ConfigError::Io {
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
            c.profile = Some(p);
        }
        let duration = |key: &'static str, text: &str, (lo, hi): (Duration, Duration)| {
            let secs = parse_seconds(text).ok_or_else(|| {
                invalid(
                    key,
                    format!("`{text}` is not a duration like 60s, 5m or 1h"),
                )
            })?;
            // Compared as seconds first: the value may be past what a
            // Duration can hold.
            if secs < lo.as_secs_f64() || secs > hi.as_secs_f64() {
                return Err(invalid(
                    key,
                    format!(
                        "`{text}` is out of range: between {} and {}",
                        spell(lo),
                        spell(hi)
                    ),
                ));
            }
            Ok(Duration::from_secs_f64(secs))
        };
        if let Some(i) = raw.interval {
            c.interval = duration("interval", &i, INTERVAL_RANGE)?;
        }
        if let Some(g) = raw.gc_poll {
            c.gc_poll = duration("gc_poll", &g, GC_POLL_RANGE)?;
        }
        if let Some(t) = raw.timeout {
            c.timeout = duration("timeout", &t, TIMEOUT_RANGE)?;
        }
        if let Some(t) = raw.forget_roles_after {
            let key = "forget_roles_after";
            let (lo, hi) = FORGET_ROLES_AFTER_RANGE;
            let secs = parse_age_seconds(&t).ok_or_else(|| {
                invalid(key, format!("`{t}` is not a duration like 7d, 12h or 30m"))
            })?;
            if secs < lo.as_secs_f64() || secs > hi.as_secs_f64() {
                return Err(invalid(
                    key,
                    format!(
                        "`{t}` is out of range: between {} and {}",
                        spell(lo),
                        spell(hi)
                    ),
                ));
            }
            c.forget_roles_after = Duration::from_secs_f64(secs);
        }
        if let Some(e) = raw.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(invalid("endpoint", format!("`{e}` is not an http(s) URL")));
            }
            c.endpoint = Some(e);
        }
        c.token_file = raw.token_file;
        c.waivers = raw.waivers;
        c.ca_file = raw.ca_file;
        if let Some(d) = raw.spool_dir {
            c.spool_dir = d;
        }
        if let Some(s) = raw.spool_max_bytes {
            let n = parse_bytes(&s).ok_or_else(|| {
                invalid("spool_max_bytes", format!("`{s}` is not a size like 64MiB"))
            })?;
            let (lo, hi) = SPOOL_MAX_BYTES_RANGE;
            if n < u128::from(lo) || n > u128::from(hi) {
                return Err(invalid(
                    "spool_max_bytes",
                    format!(
                        "`{s}` is out of range: between {} and {}",
                        spell_bytes(lo),
                        spell_bytes(hi)
                    ),
                ));
            }
            c.spool_max_bytes = n as u64;
        }
        if let Some(s) = raw.max_report_bytes {
            let n = parse_bytes(&s).ok_or_else(|| {
                invalid("max_report_bytes", format!("`{s}` is not a size like 1MiB"))
            })?;
            let (lo, hi) = MAX_REPORT_BYTES_RANGE;
            if n < u128::from(lo) || n > u128::from(hi) {
                return Err(invalid(
                    "max_report_bytes",
                    format!(
                        "`{s}` is out of range: between {} and {} (the collector's --max-body-bytes range)",
                        spell_bytes(lo),
                        spell_bytes(hi)
                    ),
                ));
            }
            c.max_report_bytes = n as usize;
        }
        if let Some(n) = raw.spool_max_reports {
            let (lo, hi) = SPOOL_MAX_REPORTS_RANGE;
            if n < lo || n > hi {
                return Err(invalid(
                    "spool_max_reports",
                    format!("{n} is out of range: between {lo} and {hi}"),
                ));
            }
            c.spool_max_reports = n as usize;
        }
        c.enforce = raw.enforce.unwrap_or(false);
        c.jvm_counters = raw.jvm_counters.unwrap_or(true);
        if let Some(name) = raw.cluster {
            let name = name.trim().to_string();
            // A cluster name ends up in URLs and pages: keep it to what
            // cluster names are (Kafka's ids are base64url).
            if !is_cluster_name(&name) {
                return Err(invalid(
                    "cluster",
                    format!("`{name}` is not a cluster name: 1 to 128 of A-Z a-z 0-9 - _ ."),
                ));
            }
            c.cluster = Some(name);
        }
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
        assert!(c.jvm_counters, "read by default");
        let off = Config::parse("jvm_counters = false\n", Path::new("a.toml")).unwrap();
        assert!(!off.jvm_counters);
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
        // Past what a Duration holds: refused, not a panic.
        assert_eq!(parse_duration("5124095576030431h"), None);
        assert!(parse_seconds("5124095576030431h").is_some());
        assert_eq!(parse_duration("1e400"), None);
    }

    #[test]
    fn every_duration_and_size_key_is_bounded() {
        for (text, key) in [
            ("interval = \"5124095576030431h\"", "interval"),
            ("interval = \"0.0000001ms\"", "interval"),
            ("interval = \"86401s\"", "interval"),
            ("timeout = \"999ms\"", "timeout"),
            ("timeout = \"11m\"", "timeout"),
            (
                "spool_max_bytes = \"340282366920938463463374607431768211456TiB\"",
                "spool_max_bytes",
            ),
            ("spool_max_bytes = \"65535\"", "spool_max_bytes"),
            ("spool_max_bytes = \"1025GiB\"", "spool_max_bytes"),
            ("spool_max_reports = -1", "spool_max_reports"),
            ("spool_max_reports = 1000001", "spool_max_reports"),
        ] {
            let e = Config::parse(text, Path::new("/etc/a.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("/etc/a.toml: `")
                    && e.contains(&format!("`{key}`"))
                    && e.contains("out of range"),
                "{text}: {e}"
            );
        }
        let c = Config::parse(
            "interval = \"24h\"\ntimeout = \"1s\"\nspool_max_bytes = \"64KiB\"\nspool_max_reports = 1000000\n",
            Path::new("a.toml"),
        )
        .unwrap();
        assert_eq!(c.interval, Duration::from_secs(86_400));
        assert_eq!(c.spool_max_bytes, 65_536);
        assert_eq!(parse_bytes("1TiB"), Some(1 << 40));
        assert_eq!(parse_bytes("1.5MiB"), None);
        assert_eq!(parse_bytes("-1"), None);
    }

    #[test]
    fn forget_roles_after_takes_days_and_is_bounded() {
        let c = Config::parse("", Path::new("a.toml")).unwrap();
        assert_eq!(c.forget_roles_after, Duration::from_secs(7 * 86_400));
        for (text, secs) in [("\"30d\"", 30 * 86_400), ("\"12h\"", 43_200), ("\"3s\"", 3)] {
            let c = Config::parse(
                &format!("forget_roles_after = {text}\n"),
                Path::new("a.toml"),
            )
            .unwrap();
            assert_eq!(c.forget_roles_after, Duration::from_secs(secs), "{text}");
        }
        for (text, why) in [
            ("\"soon\"", "not a duration like 7d"),
            ("\"7dd\"", "not a duration like 7d"),
            ("\"0d\"", "not a duration like 7d"),
            ("\"3651d\"", "between 1s and 3650d"),
            ("\"500ms\"", "between 1s and 3650d"),
        ] {
            let e = Config::parse(
                &format!("forget_roles_after = {text}\n"),
                Path::new("/etc/a.toml"),
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.starts_with("/etc/a.toml: `forget_roles_after`: ") && e.contains(why),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn a_cluster_name_is_checked() {
        let c = Config::parse("cluster = \"orders-prod.eu_1\"\n", Path::new("a.toml")).unwrap();
        assert_eq!(c.cluster.as_deref(), Some("orders-prod.eu_1"));
        for bad in ["\"\"", "\"a b\"", "\"<x>\"", "\"../x\""] {
            let e = Config::parse(&format!("cluster = {bad}\n"), Path::new("a.toml")).unwrap_err();
            assert!(e.to_string().contains("`cluster`"), "{bad}: {e}");
        }
    }
}
