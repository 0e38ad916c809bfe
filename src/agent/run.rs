//! The agent's main loop: report every interval, deliver the spool with
//! backoff in between, stop cleanly on SIGTERM.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::Config;
use super::gc::GcTracker;
use super::metrics::Metrics;
use super::sender::{Backoff, Delivery, Sender, SenderError};
use super::spool::{Spool, SpoolError};
use crate::audit::audit;
use crate::host::Host;
use crate::profile::{Profile, ProfileError, ProfileStore};
use crate::report::{AgentInfo, HostInfo, Report, SCHEMA_VERSION};

/// Why the agent could not start or had to stop.
#[derive(Debug, Error)]
pub enum AgentError {
    /// The profile named in the config could not be loaded.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The spool could not be used.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Sender(#[from] SenderError),
    /// The metrics listener could not bind, or the runtime could not start.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Stopped by a signal (or `--once` delivered everything).
    Clean,
    /// `--once` left reports in the spool (endpoint down or no endpoint).
    Pending(usize),
}

/// Everything the loop owns.
pub struct Agent {
    cfg: Config,
    profile: Profile,
    host: Host,
    host_info: HostInfo,
    spool: Spool,
    sender: Option<Sender>,
    backoff: Backoff,
    tracker: GcTracker,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn host_info(host: &Host) -> HostInfo {
    let id = host.identity();
    let sys = sysinfo::System::new_with_specifics(
        sysinfo::RefreshKind::nothing()
            .with_memory(sysinfo::MemoryRefreshKind::nothing().with_ram()),
    );
    HostInfo {
        hostname: id.hostname,
        machine_id: id.machine_id,
        kernel: id.kernel,
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        memory_bytes: sys.total_memory(),
    }
}

impl Agent {
    /// Loads the profile, opens the spool and builds the HTTP client.
    pub fn new(cfg: Config, store: &ProfileStore, host: Host) -> Result<Agent, AgentError> {
        let profile = store.load(&cfg.profile)?;
        let spool = Spool::open(&cfg.spool_dir, cfg.spool_max_bytes, cfg.spool_max_reports)?;
        let sender = match &cfg.endpoint {
            Some(e) => Some(Sender::new(
                e,
                cfg.token_file.as_deref(),
                cfg.ca_file.as_deref(),
                cfg.timeout,
            )?),
            None => None,
        };
        let host_info = host_info(&host);
        let metrics = Arc::new(Metrics::new(&profile.name, &host_info.hostname));
        let backoff = Backoff::new(
            Duration::from_secs(1).min(cfg.interval),
            Duration::from_secs(300),
        );
        Ok(Agent {
            tracker: GcTracker::default(),
            cfg,
            profile,
            host,
            host_info,
            spool,
            sender,
            backoff,
            metrics,
        })
    }

    /// Builds one report from the host and the JVMs' GC logs.
    pub fn build_report(&mut self) -> Report {
        let mut audited = audit(&self.profile, &self.host);
        if self.cfg.enforce && audited.summary.drift > 0 {
            self.enforce();
            audited = audit(&self.profile, &self.host);
        }
        self.metrics.set_findings(&audited.findings);
        let jvms = self
            .tracker
            .poll(&self.host, &self.cfg, &self.profile, &self.metrics);
        let worst = jvms
            .iter()
            .filter_map(|j| j.gc.as_ref().and_then(|g| g.interval.gc_ms_per_second))
            .fold(0.0_f64, f64::max);
        self.metrics.set_gc_seconds_per_second(worst / 1000.0);
        let depth = self.spool.entries().map(|e| e.len()).unwrap_or(0);
        Report {
            schema: SCHEMA_VERSION,
            id: uuid::Uuid::new_v4().to_string(),
            time: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            interval_seconds: self.cfg.interval.as_secs().max(1),
            host: self.host_info.clone(),
            profile: self.profile.name.clone(),
            findings: audited.findings,
            summary: audited.summary,
            jvms,
            agent: AgentInfo {
                version: env!("CARGO_PKG_VERSION").into(),
                spool_dropped_total: self.spool.dropped(),
                spool_depth: depth as u64,
            },
        }
    }

    /// Reads the GC logs between reports (`gc_poll`).
    pub fn read_gc_logs(&mut self) {
        self.tracker.read_logs(&self.metrics);
    }

    /// Re-applies drifted kernel settings (`enforce = true`; needs root).
    fn enforce(&self) {
        if !crate::apply::may_write(&self.host) {
            tracing::warn!(
                "enforce is set but the agent is not root: drift is reported, not corrected"
            );
            return;
        }
        match crate::apply::plan(&self.profile, &self.host)
            .and_then(|p| crate::apply::apply(&p, &self.host, &self.cfg.state_dir, false))
        {
            Ok(r) => tracing::info!(steps = r.results.len(), "enforced the profile"),
            Err(e) => tracing::error!(error = %e, "enforcing the profile failed"),
        }
    }

    /// Builds a report and spools it.
    pub fn spool_report(&mut self) -> Result<Report, AgentError> {
        let report = self.build_report();
        let json = serde_json::to_vec(&report).expect("a report always serialises");
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(json.len() / 4),
            flate2::Compression::fast(),
        );
        gz.write_all(&json).map_err(|source| AgentError::Io {
            what: "compressing a report".into(),
            source,
        })?;
        let bytes = gz.finish().map_err(|source| AgentError::Io {
            what: "compressing a report".into(),
            source,
        })?;
        self.spool.push(&report.id, &bytes)?;
        Ok(report)
    }

    /// Sends spooled reports oldest first. Returns the delay before the next
    /// attempt when the endpoint could not take them, `None` when the spool is empty.
    pub async fn drain(&mut self, stop: &watch::Receiver<bool>) -> Option<Duration> {
        let sender = self.sender.clone()?;
        let entries = match self.spool.entries() {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the spool");
                return Some(self.backoff.next_delay());
            }
        };
        for entry in entries {
            if *stop.borrow() {
                return None;
            }
            let Ok(bytes) = self.spool.read(&entry) else {
                continue;
            };
            match sender.send(bytes).await {
                Delivery::Delivered => {
                    if let Err(e) = self.spool.remove(&entry) {
                        tracing::error!(error = %e, "delivered but could not remove from the spool");
                    }
                    self.backoff.reset();
                    self.metrics.delivered(unix_now());
                }
                Delivery::Refused(status) => {
                    self.metrics.refused();
                    match self.spool.set_aside(&entry) {
                        Ok(to) => {
                            tracing::error!(status, file = %to.display(), "the collector refused a report; set aside")
                        }
                        Err(e) => {
                            tracing::error!(status, error = %e, "the collector refused a report")
                        }
                    }
                }
                Delivery::Retry(why) => {
                    let delay = self.backoff.next_delay();
                    tracing::warn!(reason = %why, retry_in = ?delay, "delivery failed; the report stays in the spool");
                    return Some(delay);
                }
            }
        }
        None
    }

    /// Updates spool metrics and writes the textfile, if configured.
    pub fn publish_metrics(&self) {
        let entries = self.spool.entries().unwrap_or_default();
        let bytes = entries.iter().map(|e| e.bytes).sum();
        self.metrics
            .set_spool(entries.len(), bytes, self.spool.dropped());
        if let Some(path) = &self.cfg.metrics_textfile {
            if let Err(e) = crate::apply::write_atomic(path, self.metrics.encode().as_bytes()) {
                tracing::warn!(file = %path.display(), error = %e, "cannot write the metrics textfile");
            }
        }
    }

    /// Reports still waiting.
    pub fn pending(&self) -> usize {
        self.spool.entries().map(|e| e.len()).unwrap_or(0)
    }

    /// The metrics, for the HTTP endpoint.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }
}

async fn serve_metrics(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    m.encode(),
                )
            }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "metrics endpoint stopped");
    }
}

/// Runs the agent until SIGTERM/SIGINT (or once). The send under way when a
/// signal arrives is finished; the metrics are flushed before returning.
pub fn run(cfg: Config, store: &ProfileStore, host: Host, once: bool) -> Result<Ended, AgentError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| AgentError::Io {
            what: "starting the runtime".into(),
            source,
        })?;
    let interval = cfg.interval;
    let gc_poll = cfg.gc_poll.min(interval);
    let listen = cfg.metrics_listen;
    let mut agent = Agent::new(cfg, store, host)?;
    rt.block_on(async move {
        if let Some(addr) = listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| AgentError::Io {
                    what: format!("metrics_listen {addr}"),
                    source,
                })?;
            tokio::spawn(serve_metrics(listener, agent.metrics()));
        }
        let (stop_tx, mut stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("stopping: finishing the send under way");
            let _ = stop_tx.send(true);
        });

        let mut next_report = Instant::now();
        let mut next_read = next_report + gc_poll;
        let mut next_send: Option<Instant> = None;
        loop {
            let now = Instant::now();
            // A read of the GC logs alone changes nothing the metrics show until the next report.
            let mut publish = false;
            if now >= next_report {
                agent.spool_report()?;
                next_report = now + interval;
                next_read = now + gc_poll;
                next_send = Some(now);
                publish = true;
            } else if now >= next_read {
                agent.read_gc_logs();
                next_read = now + gc_poll;
            }
            if next_send.is_some_and(|t| t <= now) {
                next_send = agent.drain(&stop_rx).await.map(|d| Instant::now() + d);
                publish = true;
            }
            if publish {
                agent.publish_metrics();
            }
            if once {
                let left = agent.pending();
                return Ok(if left == 0 {
                    Ended::Clean
                } else {
                    Ended::Pending(left)
                });
            }
            if *stop_rx.borrow() {
                return Ok(Ended::Clean);
            }
            let wake = next_send
                .map_or(next_report, |s| s.min(next_report))
                .min(next_read);
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = stop_rx.changed() => {}
            }
            if *stop_rx.borrow() {
                agent.publish_metrics();
                return Ok(Ended::Clean);
            }
        }
    })
}
