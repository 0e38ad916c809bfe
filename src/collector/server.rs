//! The running collector: binds, opens the storage, starts the background
//! tasks (pruning, alerts, skew watch, trend), serves the routes of
//! [`super::http`] over HTTP or HTTPS, and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use rustls::ServerConfig;
use tokio::net::TcpListener;

use super::http::api::{self, Shared};
use super::http::auth::Tokens;
use super::http::conn::{self, Limits};
use super::http::tls::TlsListener;
use super::http::{clusters, metrics, pages};
use crate::collector::config::Config;
use crate::collector::error::Error;
use crate::collector::fleet::trend;
use crate::collector::storage::compact::Options;
use crate::collector::storage::{self, Closer, Storage};
use crate::collector::{alerts, clock};

/// A bound collector, ready to serve.
pub struct Collector {
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    shared: Arc<Shared>,
    closer: Closer,
    config: Config,
}

impl Collector {
    /// Loads the tokens (and the TLS certificate and key, if configured),
    /// opens the database and binds the listen address.
    pub async fn bind(config: Config) -> Result<Collector, Error> {
        config.validate()?;
        let tls = config.tls.as_ref().map(|files| files.load()).transpose()?;
        let tokens = Tokens::load(&config.token_file)?;
        let read_tokens = match &config.read_token_file {
            Some(p) => Some(Tokens::load(p)?),
            None => None,
        };
        let opts = Options {
            keep_raw_days: config.keep_raw_days,
        };
        let (storage, closer) = storage::open_with(&config.db, opts).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let shared = Arc::new(Shared {
            storage,
            tokens,
            read_tokens,
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
            heavy_reads: Arc::new(tokio::sync::Semaphore::new(api::HEAVY_READS)),
            counters: Arc::new(alerts::metrics::Counters::new()),
            clusters: Arc::default(),
            stored: Arc::default(),
            webhook: config.webhook.is_some(),
            skew: Arc::default(),
            trend: Arc::default(),
        });
        Ok(Collector {
            listener,
            tls,
            shared,
            closer,
            config,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener.local_addr().map_err(|source| Error::Bind {
            addr: self.config.listen,
            source,
        })
    }

    /// `https` when serving TLS, `http` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests,
    /// lets the writer commit what is queued, and returns.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let Collector {
            listener,
            tls,
            shared,
            closer,
            config,
        } = self;
        let alerting = match &config.webhook {
            Some(w) => alerts::start(
                &alerts::Shared {
                    storage: &shared.storage,
                    counters: &shared.counters,
                    clusters: &shared.clusters,
                    skew: &shared.skew,
                    stored: &shared.stored,
                },
                w,
            )?,
            None => Vec::new(),
        };
        let pruner = tokio::spawn(prune_loop(
            shared.storage.clone(),
            config.retention_days,
            config.keep_raw_days,
            config.prune_interval,
        ));
        let skew = tokio::spawn(alerts::skew_watch::run(
            Arc::clone(&shared.skew),
            shared.storage.clone(),
            config.skew_interval,
        ));
        let trender = tokio::spawn(trend::refresh_loop(
            shared.storage.clone(),
            Arc::clone(&shared.trend),
            config.trend_refresh,
        ));
        let app = router(shared);
        let nofile = conn::raise_file_limit();
        let sockets = conn::connections_for(nofile);
        let mut limits = Limits {
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            shutdown_timeout: config.shutdown_timeout,
            max_connections: sockets,
        };
        tracing::info!(
            open_files = nofile,
            max_connections = sockets,
            "connection limit"
        );
        // The same bounds either way: stop accepting, ask each open
        // connection (TLS ones included) to close once its request is
        // answered, close the rest at the shutdown bound.
        match tls {
            Some(config) => {
                // Handshakes in progress hold descriptors too: a quarter of
                // the sockets for them, the rest for connections.
                let pending = (sockets / 4).max(1);
                limits.max_connections = sockets.saturating_sub(pending).max(1);
                let listener = TlsListener::new(listener, config, pending);
                conn::serve(listener, app, limits, shutdown).await;
            }
            None => conn::serve(listener, app, limits, shutdown).await,
        }
        pruner.abort();
        let _ = pruner.await;
        skew.abort();
        let _ = skew.await;
        trender.abort();
        let _ = trender.await;
        // Messages still queued are lost with the process (the queue is in
        // memory); the evaluator's connection (its lead) closes here.
        for task in alerting {
            task.abort();
            let _ = task.await;
        }
        // Every storage handle is gone now (router and pruner dropped):
        // the writers drain their queues (SQLite's also checkpoints).
        closer.close().await
    }
}

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/reports", post(api::post_report))
        .route("/api/v1/hosts", get(api::get_hosts))
        .route("/api/v1/hosts/{hostname}/reports", get(api::get_reports))
        .route("/metrics", get(metrics::get_metrics))
        .route("/api/v1/clusters", get(clusters::get_clusters))
        .route("/api/v1/clusters/compare", get(clusters::get_compare))
        .route("/api/v1/clusters/{name}/skew", get(clusters::get_skew))
        .route(
            "/api/v1/clusters/{name}/cruise-control-capacity",
            get(clusters::get_capacity),
        )
        .route("/clusters/compare", get(clusters::compare_page))
        .route("/clusters/{name}", get(clusters::cluster_page))
        .route("/api/v1/hosts/{hostname}/drift", get(api::get_drift))
        .route("/", get(pages::fleet))
        .route("/hosts/{hostname}", get(pages::host))
        .with_state(shared)
}

async fn prune_loop(
    storage: Storage,
    retention_days: u32,
    keep_raw_days: u32,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The first tick fires at once: a restart prunes straight away.
        tick.tick().await;
        let cutoff = clock::now_ms() - i64::from(retention_days) * 86_400_000;
        if let Err(e) = storage.prune(cutoff).await {
            tracing::warn!(error = %e, "pruning failed");
        }
        // Off, it still runs: it drops what a run with raw documents left.
        let raw = Options { keep_raw_days }.raw_cutoff(clock::now_ms());
        match storage.prune_raw(raw).await {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned raw documents"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning raw documents failed"),
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
