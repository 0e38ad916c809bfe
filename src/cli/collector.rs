//! `tunekeeper collector`: runs the central collector until SIGTERM/SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tunekeeper::collector::{self, Collector, Config, Database, TlsFiles};

/// Arguments of `tunekeeper collector`.
#[derive(Debug, clap::Args)]
pub struct CollectorArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file (created if missing), or a PostgreSQL URL
    /// `postgres://USER@HOST:PORT/DATABASE` (password from the
    /// TUNEKEEPER_DB_PASSWORD environment variable or --db-password-file).
    #[arg(
        long,
        value_name = "FILE|URL",
        default_value = "/var/lib/tunekeeper/collector.db"
    )]
    pub db: String,
    /// File holding the PostgreSQL password (its first line); overrides TUNEKEEPER_DB_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub db_password_file: Option<PathBuf>,
    /// Bearer tokens agents post with, one per line (blank lines and # comments ignored).
    #[arg(long, value_name = "FILE", default_value = "/etc/tunekeeper/tokens")]
    pub token_file: PathBuf,
    /// Require a bearer token from this file for reads (API and page); reads are open without it.
    #[arg(long, value_name = "FILE")]
    pub read_token_file: Option<PathBuf>,
    /// Largest request body in bytes, checked before and after gzip decompression (4096 to 268435456).
    #[arg(long, value_name = "BYTES", default_value_t = collector::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Days of reports kept; older ones are pruned.
    #[arg(long, value_name = "DAYS", default_value_t = collector::DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,
    /// Seconds between prunes (one also runs at start).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub prune_interval_seconds: u64,
    /// Also keep every report's whole document (compressed) for this many days; off (0) by default: only each host's latest and those where the findings changed.
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    pub keep_raw_days: u32,
    /// Serve HTTPS with this PEM certificate chain (server certificate first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, RSA or SEC1) of --tls-cert; needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has to send a request head (and an idle keep-alive connection its next one).
    #[arg(long, value_name = "SECONDS", default_value_t = collector::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a whole request body.
    #[arg(long, value_name = "SECONDS", default_value_t = collector::DEFAULT_BODY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_seconds: u64,
    /// Seconds shutdown waits for open connections before closing them.
    #[arg(long, value_name = "SECONDS", default_value_t = collector::DEFAULT_SHUTDOWN_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub shutdown_timeout_seconds: u64,
    /// Post host state changes (drifting, GC-unhealthy, stale: started or
    /// ended) to this URL, as Alertmanager's webhook JSON.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Webhook messages held while the receiver is away; past it the oldest is dropped.
    #[arg(long, value_name = "MESSAGES", default_value_t = collector::alerts::webhook::DEFAULT_QUEUE, requires = "webhook")]
    pub webhook_queue: usize,
    /// Seconds one webhook delivery attempt may take.
    #[arg(long, value_name = "SECONDS", default_value_t = collector::alerts::webhook::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "webhook")]
    pub webhook_timeout_seconds: u64,
    /// Seconds between evaluations of the hosts' alert states (also run soon after each stored report).
    #[arg(long, value_name = "SECONDS", default_value_t = collector::DEFAULT_ALERT_INTERVAL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600), requires = "webhook")]
    pub alert_interval_seconds: u64,
    /// Seconds between two computations of the clusters' week-over-week
    /// trend (in the background; pages and the API show the latest, with
    /// its time). Each reads every report of two weeks.
    #[arg(long, value_name = "SECONDS", default_value_t = collector::fleet::trend::DEFAULT_REFRESH.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub trend_refresh_seconds: u64,
    /// The collector's URL as people reach it (behind a proxy, say): webhook
    /// alerts link to its host pages (`generatorURL`, `externalURL`).
    #[arg(long, value_name = "URL", requires = "webhook")]
    pub external_url: Option<String>,
    /// Seconds between evaluations of cluster skew (hosts in a minority of
    /// their cluster: the skew alert and metric). Only clusters with new
    /// reports are read again.
    #[arg(long, value_name = "SECONDS", default_value_t = collector::alerts::skew_watch::DEFAULT_INTERVAL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub skew_interval_seconds: u64,
}

/// The environment variable that holds the PostgreSQL password.
pub const PASSWORD_ENV: &str = "TUNEKEEPER_DB_PASSWORD";

/// `--db` as a SQLite file or a PostgreSQL database, with its password.
fn database(args: &CollectorArgs) -> anyhow::Result<Database> {
    if !collector::storage::postgres::is_url(&args.db) {
        if args.db_password_file.is_some() {
            anyhow::bail!("--db-password-file: only for a PostgreSQL --db (postgres://...)");
        }
        return Ok(Database::Sqlite(PathBuf::from(&args.db)));
    }
    let password = match &args.db_password_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--db-password-file {}", file.display()))?;
            Some(text.lines().next().unwrap_or("").to_owned())
        }
        None => std::env::var(PASSWORD_ENV).ok(),
    };
    let target = collector::storage::postgres::target(&args.db, password.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Database::Postgres(Box::new(target)))
}

/// Runs the collector; returns 0 after a clean shutdown.
pub fn run(args: &CollectorArgs) -> anyhow::Result<u8> {
    let config = Config {
        listen: args.listen,
        db: database(args)?,
        token_file: args.token_file.clone(),
        read_token_file: args.read_token_file.clone(),
        max_body_bytes: args.max_body_bytes,
        retention_days: args.retention_days,
        prune_interval: Duration::from_secs(args.prune_interval_seconds.max(1)),
        keep_raw_days: args.keep_raw_days,
        // clap's `requires` makes it both or neither.
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        header_timeout: Duration::from_secs(args.header_timeout_seconds),
        body_timeout: Duration::from_secs(args.body_timeout_seconds),
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout_seconds),
        webhook: args
            .webhook
            .as_deref()
            .map(collector::alerts::webhook::WebhookUrl::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .map(|url| collector::WebhookConfig {
                url,
                queue: args.webhook_queue,
                timeout: Duration::from_secs(args.webhook_timeout_seconds),
                interval: Duration::from_secs(args.alert_interval_seconds),
                external_url: args.external_url.clone(),
            }),
        skew_interval: Duration::from_secs(args.skew_interval_seconds),
        trend_refresh: Duration::from_secs(args.trend_refresh_seconds),
    };
    // Before anything starts: a bad option is exit 2 naming it.
    config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("collector")
        .build()
        .context("starting the async runtime")?;
    runtime
        .block_on(async move {
            let collector = Collector::bind(config).await?;
            let addr = collector.local_addr()?;
            let scheme = collector.scheme();
            // Printed on stdout so scripts and tests using port 0 learn the port
            // (and whether to speak TLS to it).
            println!("tunekeeper collector listening on {scheme}://{addr}");
            std::io::stdout().flush().ok();
            tracing::info!(%addr, scheme, "listening");
            collector.serve(collector::shutdown_signal()).await
        })
        // The collector's errors already end with their cause ("TLS file
        // x.pem: No such file..."); main prints anyhow's whole chain, which
        // would repeat it. Their text alone is the message.
        .map_err(|e: collector::Error| anyhow::anyhow!("{e}"))?;
    Ok(0)
}
