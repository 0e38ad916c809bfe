//! The agent's main loop: two independent loops over one spool. Reporting
//! builds and spools a report every interval, whatever delivery does (a hung
//! or failing collector does not slip the interval); delivery sends the
//! spool oldest first and, after a failure, waits out its backoff before it
//! posts again (a new report does not cut the wait short). SIGTERM stops
//! both; the send under way is finished.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::config::Config;
use super::gc::GcTracker;
use super::metrics::Metrics;
use super::roles::{RoleWatch, merge};
use super::sender::{Backoff, Delivery, Sender, SenderError};
use super::spool::{Entry, Spool, SpoolError};
use crate::host::Host;
use crate::profile::{ProfileError, ProfileStore};
use crate::report::{AgentInfo, HostInfo, Report, SCHEMA_VERSION};

/// Why the agent could not start.
#[derive(Debug, Error)]
pub enum AgentError {
    /// The profile named in the config could not be loaded.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The spool could not be used.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The waivers file could not be used.
    #[error(transparent)]
    Waivers(#[from] crate::waiver::WaiverError),
    /// The HTTP client could not be built (token file, CA file).
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

/// A spool entry `--once` could not deliver and set aside (or left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// The entry as it was in the spool.
    pub path: PathBuf,
    /// What happened: refused with a status, or unreadable, and where it went.
    pub why: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Stopped by a signal, or `--once` delivered everything.
    Clean,
    /// `--once` did not deliver everything.
    Once {
        /// Reports still waiting in the spool.
        waiting: usize,
        /// Why they wait (the last delivery error, or no endpoint).
        reason: String,
        /// Entries refused by the collector or unreadable, set aside.
        set_aside: Vec<SetAside>,
    },
}

/// What reporting and delivery share.
struct Shared {
    spool: Mutex<Spool>,
    metrics: Arc<Metrics>,
    /// A report was spooled: wakes an idle delivery loop.
    spooled: Notify,
    /// Delivery removed an entry: wakes reporting waiting for space.
    freed: Notify,
    /// Delivery is waiting out a backoff, so it will free no space soon.
    backing_off: AtomicBool,
    /// Reports spooled and delivered since the last hourly summary.
    spooled_hour: std::sync::atomic::AtomicU64,
    delivered_hour: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn spool(&self) -> MutexGuard<'_, Spool> {
        // A panic while holding the lock leaves the spool's files as they
        // were; the state behind the lock is only counters.
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
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

/// Builds reports and spools them.
struct Reporter {
    cfg: Config,
    /// The roles expected here, each with its profile.
    roles: RoleWatch,
    /// Where the profile of a role that starts later is loaded from.
    store: ProfileStore,
    host: Host,
    host_info: HostInfo,
    tracker: GcTracker,
    shared: Arc<Shared>,
    /// What could not be read, said once in the journal.
    unreadable: super::unreadable::Unreadable,
    /// The host's pressure sample of the previous report.
    pressure: super::pressure::PressureTracker,
    /// Accepted differences (`waivers`), read at start.
    waivers: crate::waiver::Waivers,
    /// Waivers naming nothing are logged once, not every interval.
    told_unmatched: bool,
    /// The conflicts between the roles' profiles last logged by `enforce`.
    told_conflicts: Vec<crate::apply::Conflict>,
}

/// How reporting gets delivery to free space on a full file system before
/// it drops anything.
enum DeliverFirst<'a> {
    /// `--once`: run a delivery pass right here.
    Now(&'a mut Deliverer, &'a watch::Receiver<bool>),
    /// The service: the delivery loop runs beside; wait for it at most this long.
    Wait(Duration),
    /// No endpoint (or delivery already failed): nothing will free space.
    Never,
}

impl Reporter {
    /// Builds one report from the host and the JVMs' GC logs: every
    /// expected role audited against its own profile, every Kafka-family
    /// JVM judged by its role's profile.
    fn build_report(&mut self) -> Report {
        let procs = crate::kafka::find_kafka_processes(&self.host);
        self.roles
            .forget_missing(&self.store, &procs, time::OffsetDateTime::now_utc());
        self.roles.add_new(&self.store, &procs);
        let cluster = self.cluster(&procs);
        let today = crate::waiver::today();
        let mut matched = vec![false; self.waivers.entries.len()];
        let mut audits = self.roles.audit(&self.host, &procs);
        for a in &mut audits {
            self.waive(cluster.as_ref(), today, &mut a.report, &mut matched);
        }
        if self.cfg.enforce && audits.iter().any(|a| a.report.summary.drift > 0) {
            self.enforce(cluster.as_ref(), today);
            audits = self.roles.audit(&self.host, &procs);
            for a in &mut audits {
                self.waive(cluster.as_ref(), today, &mut a.report, &mut matched);
            }
        }
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.roles.note_missing(&mut audits, &now);
        let findings = merge(&audits);
        let summary = crate::finding::Summary::of(&findings);
        let metrics = &self.shared.metrics;
        metrics.set_findings(&findings);
        let mut jvms = self
            .tracker
            .poll(&self.host, &self.cfg, &self.roles, &procs, metrics);
        for jvm in &mut jvms {
            let scope = self.scope(cluster.as_ref());
            self.waivers
                .apply(scope, today, &mut jvm.findings, &mut matched);
        }
        if !self.told_unmatched {
            self.told_unmatched = true;
            let unmatched = self
                .waivers
                .unmatched(self.scope(cluster.as_ref()), &matched);
            for w in unmatched
                .iter()
                .take(crate::waiver::Waivers::UNMATCHED_NAMED)
            {
                tracing::warn!(
                    waiver = %w.from,
                    check = %w.check,
                    key = %w.key,
                    "the waiver matches no finding on this host (misspelt, or no longer needed?)"
                );
            }
            if unmatched.len() > crate::waiver::Waivers::UNMATCHED_NAMED {
                tracing::warn!(
                    waivers = %self.waivers.path.display(),
                    more = unmatched.len() - crate::waiver::Waivers::UNMATCHED_NAMED,
                    "more waivers match no finding on this host (the first {} are named above)",
                    crate::waiver::Waivers::UNMATCHED_NAMED
                );
            }
        }
        super::pressure::add_stall_causes(&self.host, &mut jvms);
        let host_pressure = self.pressure.observe(&self.host, &mut jvms);
        // A JVM without a readable log counts by its own counters' rate.
        let worst = jvms
            .iter()
            .filter_map(|j| {
                j.gc.as_ref()
                    .and_then(|g| g.interval.gc_ms_per_second)
                    .or_else(|| {
                        let c = j.counters.as_ref().filter(|c| c.only_witness)?;
                        c.interval.as_ref()?.gc_ms_per_second
                    })
            })
            .fold(0.0_f64, f64::max);
        metrics.set_gc_seconds_per_second(worst / 1000.0);
        metrics.set_counters(&jvms);
        self.unreadable.tell(&findings, &jvms);
        let roles = self.roles.reports(&audits, &jvms);
        let (depth, dropped) = {
            let spool = self.shared.spool();
            (
                spool.entries().map(|e| e.len()).unwrap_or(0),
                spool.dropped(),
            )
        };
        Report {
            schema: SCHEMA_VERSION,
            id: uuid::Uuid::new_v4().to_string(),
            time: now,
            interval_seconds: self.cfg.interval.as_secs().max(1),
            host: self.host_info.clone(),
            profile: self.roles.profile_names(),
            findings,
            summary,
            jvms,
            roles,
            agent: AgentInfo {
                version: env!("CARGO_PKG_VERSION").into(),
                spool_dropped_total: dropped,
                spool_depth: depth as u64,
            },
            cluster,
            host_pressure,
            hardware: Some(crate::kafka::capacity::observe(&self.host)),
        }
    }

    /// Whose findings these are, for waivers scoped to hosts or a cluster.
    fn scope<'a>(
        &'a self,
        cluster: Option<&'a crate::report::Cluster>,
    ) -> crate::waiver::Scope<'a> {
        crate::waiver::Scope {
            hostname: &self.host_info.hostname,
            cluster: cluster.map(|c| c.name.as_str()),
        }
    }

    /// Marks waived findings and recounts.
    fn waive(
        &self,
        cluster: Option<&crate::report::Cluster>,
        today: time::Date,
        audited: &mut crate::audit::AuditReport,
        matched: &mut [bool],
    ) {
        if self.waivers.is_empty() {
            return;
        }
        self.waivers
            .apply(self.scope(cluster), today, &mut audited.findings, matched);
        audited.summary = crate::finding::Summary::of(&audited.findings);
    }

    /// The agent's `cluster` setting, else the running broker's own
    /// `cluster.id` (from `meta.properties` in its first data directory).
    fn cluster(&self, procs: &[crate::kafka::KafkaProcess]) -> Option<crate::report::Cluster> {
        if let Some(name) = &self.cfg.cluster {
            return Some(crate::report::Cluster {
                name: name.clone(),
                from: "config".into(),
            });
        }
        procs
            .iter()
            .filter(|p| p.role != crate::kafka::Role::Zookeeper)
            .find_map(|p| p.cluster_id(&self.host))
            .map(|(name, path)| crate::report::Cluster {
                name,
                from: format!("meta.properties ({})", path.display()),
            })
    }

    /// Reads the GC logs between reports (`gc_poll`).
    pub fn read_gc_logs(&mut self) {
        self.tracker.read_logs(&self.host, &self.shared.metrics);
    }

    /// Re-applies drifted kernel settings (`enforce = true`; needs root),
    /// by every expected role's profile merged into one plan (one apply,
    /// one rollback journal): a key two roles want alike gets the value
    /// both accept; one they want differently is left alone and said, at
    /// error, once while it lasts.
    fn enforce(&mut self, cluster: Option<&crate::report::Cluster>, today: time::Date) {
        if !crate::apply::may_write(&self.host) {
            tracing::warn!(
                "enforce is set but the agent is not root: drift is reported, not corrected"
            );
            return;
        }
        let mut conflicts = None;
        // Never wait: a boot-time apply holding the lock is doing this job.
        match crate::apply::ApplyLock::acquire(
            &self.host,
            &self.cfg.state_dir,
            std::time::Duration::ZERO,
        )
        .and_then(|lock| {
            let mut plan = crate::apply::plan_all(&self.roles.plan_inputs(), &self.host)?;
            // A waived key keeps its accepted value: enforcing it would undo the waiver.
            self.waivers
                .hold_back(self.scope(cluster), today, &mut plan);
            conflicts = Some(std::mem::take(&mut plan.conflicts));
            crate::apply::apply(&plan, &self.host, &self.cfg.state_dir, false, &lock)
        }) {
            Ok(r) => tracing::info!(
                steps = r.results.len(),
                profile = %r.profile,
                "enforced the profile"
            ),
            Err(e) => tracing::error!(error = %e, "enforcing the profile failed"),
        }
        // A plan not built (the lock held elsewhere) says nothing new.
        if let Some(conflicts) = conflicts {
            self.tell_conflicts(conflicts);
        }
    }

    /// Logs each conflict between the roles' profiles at error, once while
    /// it lasts (enforce plans every interval the key drifts).
    fn tell_conflicts(&mut self, conflicts: Vec<crate::apply::Conflict>) {
        let same = |a: &crate::apply::Conflict, b: &crate::apply::Conflict| {
            a.key == b.key && a.wanted == b.wanted
        };
        for c in &conflicts {
            if !self.told_conflicts.iter().any(|t| same(t, c)) {
                tracing::error!(key = %c.key, "not enforced: {}", c.message());
            }
        }
        self.told_conflicts = conflicts;
    }

    /// Builds a report and spools it; never fails the agent: a report that
    /// cannot be stored is logged and counted as dropped.
    async fn report(&mut self, deliver_first: DeliverFirst<'_>) {
        let mut report = self.build_report();
        // Within the collector's body limit by construction (src/agent/fit.rs).
        let json = super::fit::fit(
            &mut report,
            self.cfg.max_report_bytes,
            self.tracker.not_followed(),
        );
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(json.len() / 4),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail.
        let bytes = gz
            .write_all(&json)
            .and_then(|()| gz.finish())
            .expect("gzip into memory");
        self.store(&report.id, &bytes, deliver_first).await;
        self.shared.spooled_hour.fetch_add(1, Ordering::Relaxed);
        self.shared.spooled.notify_one();
    }

    /// The hourly line: is it working? Counts since the last summary.
    fn summarise_hour(&self, dropped_before: &mut u64) {
        let (depth, dropped) = {
            let spool = self.shared.spool();
            (
                spool.entries().map(|e| e.len()).unwrap_or(0),
                spool.dropped(),
            )
        };
        tracing::info!(
            reports = self.shared.spooled_hour.swap(0, Ordering::Relaxed),
            delivered = self.shared.delivered_hour.swap(0, Ordering::Relaxed),
            dropped = dropped.saturating_sub(*dropped_before),
            spool_depth = depth,
            delivery = if self.shared.backing_off.load(Ordering::Relaxed) {
                "failing"
            } else {
                "working"
            },
            "the last hour"
        );
        *dropped_before = dropped;
    }

    /// Spools `bytes`. On a full file system: deliver first, then drop the
    /// oldest reports (counted, logged) until the new one fits; when even an
    /// empty spool has no room, the new report is the one lost.
    async fn store(&mut self, id: &str, bytes: &[u8], deliver_first: DeliverFirst<'_>) {
        let first = self.shared.spool().push(id, bytes);
        let full = match first {
            Ok(_) => return,
            Err(e) if e.is_full() => e,
            Err(e) => {
                self.shared.spool().count_lost();
                tracing::error!(error = %e, "cannot spool the report: it is lost");
                return;
            }
        };
        match deliver_first {
            DeliverFirst::Now(deliverer, stop) => {
                tracing::info!(error = %full, "the spool's file system is full: delivering first");
                deliverer.drain(stop).await;
            }
            DeliverFirst::Wait(bound) => {
                let deadline = Instant::now() + bound;
                let mut said = false;
                loop {
                    let has_backlog = self.shared.spool().entries().is_ok_and(|e| !e.is_empty());
                    if !has_backlog || self.shared.backing_off.load(Ordering::Relaxed) {
                        break;
                    }
                    if !said {
                        tracing::info!(error = %full, "the spool's file system is full: waiting for delivery to make room");
                        said = true;
                    }
                    let freed = self.shared.freed.notified();
                    tokio::pin!(freed);
                    freed.as_mut().enable();
                    self.shared.spooled.notify_one();
                    if tokio::time::timeout_at(deadline, freed).await.is_err() {
                        break;
                    }
                    // Bound first: a guard in the match head would still
                    // hold the lock in the arms.
                    let again = self.shared.spool().push(id, bytes);
                    match again {
                        Ok(_) => return,
                        Err(e) if e.is_full() => {}
                        Err(e) => {
                            self.shared.spool().count_lost();
                            tracing::error!(error = %e, "cannot spool the report: it is lost");
                            return;
                        }
                    }
                }
            }
            DeliverFirst::Never => {}
        }
        loop {
            let mut spool = self.shared.spool();
            let error = match spool.push(id, bytes) {
                Ok(_) => return,
                Err(e) => e,
            };
            if !error.is_full() {
                spool.count_lost();
                tracing::error!(error = %error, "cannot spool the report: it is lost");
                return;
            }
            match spool.drop_oldest() {
                Ok(Some(path)) => tracing::warn!(
                    file = %path.display(), error = %error,
                    "no space left for the spool: dropped the oldest report"
                ),
                Ok(None) => {
                    spool.count_lost();
                    tracing::error!(
                        error = %error,
                        "no space left for the spool even with no report in it: this report is lost"
                    );
                    return;
                }
                Err(e) => {
                    spool.count_lost();
                    tracing::error!(error = %e, "cannot make room in the spool: this report is lost");
                    return;
                }
            }
        }
    }
}

/// What one delivery pass came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// Nothing deliverable is left.
    Empty,
    /// The collector could not take a report: wait this long before posting again.
    Retry(Duration),
    /// A stop was asked for.
    Stopped,
}

/// Sends the spool to the collector.
struct Deliverer {
    sender: Sender,
    backoff: Backoff,
    shared: Arc<Shared>,
    /// Entries that could not be read nor set aside: not tried (nor logged) again.
    stuck: BTreeSet<PathBuf>,
    /// What `--once` reports about set-aside entries.
    set_aside: Vec<SetAside>,
    /// The last reason a delivery failed, for `--once`.
    last_error: Option<String>,
    /// What the journal has been told: a change of state, not every attempt.
    narrator: Narrator,
}

/// Tells the journal when delivery starts, fails and recovers, so that
/// `journalctl -u tunekeeper-agent` answers "is it working?" without a line
/// per interval.
#[derive(Debug, Default)]
struct Narrator {
    delivered_any: bool,
    /// Since when delivery fails, how many attempts, and the first cause.
    failing: Option<(std::time::Instant, u64, String)>,
}

impl Narrator {
    fn delivered(&mut self, endpoint: &str, depth: usize) {
        if !self.delivered_any {
            self.delivered_any = true;
            tracing::info!(endpoint, "first report delivered");
        }
        if let Some((since, attempts, _)) = self.failing.take() {
            tracing::info!(
                after = ?Duration::from_secs(since.elapsed().as_secs()),
                failed_attempts = attempts,
                spool_depth = depth,
                "delivery works again"
            );
        }
    }

    fn failed(&mut self, endpoint: &str, why: &str, depth: usize, retry_in: Duration) {
        match &mut self.failing {
            None if why.contains("configuration error") => {
                tracing::error!(
                    endpoint,
                    reason = why,
                    spool_depth = depth,
                    "delivery failing: fix the agent's configuration; reports stay in the spool"
                );
                self.failing = Some((std::time::Instant::now(), 1, why.to_string()));
            }
            None => {
                tracing::warn!(
                    endpoint,
                    reason = why,
                    spool_depth = depth,
                    ?retry_in,
                    "delivery failing: reports stay in the spool until it works again"
                );
                self.failing = Some((std::time::Instant::now(), 1, why.to_string()));
            }
            Some((_, attempts, _)) => {
                *attempts += 1;
                tracing::debug!(reason = why, ?retry_in, "delivery failed again");
            }
        }
    }
}

impl Deliverer {
    /// Sends spooled reports oldest first, until the spool holds nothing
    /// deliverable, the collector fails, or a stop is asked for (the send
    /// under way is finished).
    async fn drain(&mut self, stop: &watch::Receiver<bool>) -> Drained {
        loop {
            let listed = self.shared.spool().entries();
            let entries = match listed {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list the spool");
                    self.last_error = Some(e.to_string());
                    return Drained::Retry(self.backoff.next_delay());
                }
            };
            let entries: Vec<Entry> = entries
                .into_iter()
                .filter(|e| !self.stuck.contains(&e.path))
                .collect();
            if entries.is_empty() {
                return Drained::Empty;
            }
            for entry in entries {
                if *stop.borrow() {
                    return Drained::Stopped;
                }
                let shared = self.shared.clone();
                let bytes = {
                    let mut spool = shared.spool();
                    match spool.read(&entry) {
                        Ok(b) => {
                            spool.set_in_flight(Some(entry.path.clone()));
                            b
                        }
                        // Dropped for room meanwhile.
                        Err(e) if e.is_gone() => continue,
                        Err(e) => {
                            self.unreadable(&spool, &entry, &e);
                            continue;
                        }
                    }
                };
                let outcome = self.sender.send(bytes).await;
                let mut spool = shared.spool();
                spool.set_in_flight(None);
                match outcome {
                    Delivery::Delivered => {
                        if let Err(e) = spool.remove(&entry) {
                            tracing::error!(error = %e, "delivered but could not remove from the spool");
                            // Not sent again in a loop (the collector would
                            // answer "duplicate" each time).
                            self.stuck.insert(entry.path.clone());
                        }
                        self.backoff.reset();
                        self.last_error = None;
                        shared.metrics.delivered(unix_now());
                        shared.delivered_hour.fetch_add(1, Ordering::Relaxed);
                        let depth = spool.entries().map(|e| e.len()).unwrap_or(0);
                        self.narrator.delivered(self.sender.endpoint(), depth);
                    }
                    Delivery::Refused(status) => {
                        shared.metrics.refused();
                        let why = match spool.set_aside(&entry) {
                            Ok(to) => {
                                tracing::error!(status, file = %to.display(), "the collector refused a report; set aside");
                                format!(
                                    "refused by the collector (HTTP {status}); set aside as {}",
                                    to.display()
                                )
                            }
                            Err(e) => {
                                tracing::error!(status, error = %e, "the collector refused a report");
                                self.stuck.insert(entry.path.clone());
                                format!(
                                    "refused by the collector (HTTP {status}); could not be set aside: {e}"
                                )
                            }
                        };
                        self.record(&entry, why);
                    }
                    Delivery::Retry(why) => {
                        let delay = self.backoff.next_delay();
                        let depth = spool.entries().map(|e| e.len()).unwrap_or(0);
                        self.narrator
                            .failed(self.sender.endpoint(), &why, depth, delay);
                        self.last_error = Some(why);
                        return Drained::Retry(delay);
                    }
                }
                drop(spool);
                shared.freed.notify_waiters();
            }
        }
    }

    /// Remembers a set-aside entry for `--once`'s summary (the first
    /// hundred: a service that runs for months must not grow the list).
    fn record(&mut self, entry: &Entry, why: String) {
        if self.set_aside.len() < 100 {
            self.set_aside.push(SetAside {
                path: entry.path.clone(),
                why,
            });
        }
    }

    /// An entry that cannot be read (a directory named like a report, a file
    /// the agent may not read): said once, naming it, and set aside.
    fn unreadable(&mut self, spool: &Spool, entry: &Entry, error: &SpoolError) {
        let why = match spool.set_aside(entry) {
            Ok(to) => {
                tracing::error!(file = %entry.path.display(), error = %error.source, aside = %to.display(),
                    "a spool entry cannot be read: set aside");
                format!(
                    "cannot be read ({}); set aside as {}",
                    error.source,
                    to.display()
                )
            }
            Err(e) => {
                tracing::error!(file = %entry.path.display(), error = %error.source, set_aside = %e,
                    "a spool entry cannot be read nor set aside: skipped until the agent restarts");
                self.stuck.insert(entry.path.clone());
                format!(
                    "cannot be read ({}); could not be set aside either: {e}",
                    error.source
                )
            }
        };
        self.record(entry, why);
        self.shared.freed.notify_waiters();
    }
}

/// Updates the spool metrics and writes the textfile, if configured.
fn publish_metrics(shared: &Shared, textfile: Option<&std::path::Path>) {
    let (entries, dropped) = {
        let spool = shared.spool();
        (spool.entries().unwrap_or_default(), spool.dropped())
    };
    let bytes = entries.iter().map(|e| e.bytes).sum();
    shared.metrics.set_spool(entries.len(), bytes, dropped);
    if let Some(path) = textfile
        && let Err(e) = crate::apply::write_atomic(path, shared.metrics.encode().as_bytes())
    {
        tracing::warn!(file = %path.display(), error = %e, "cannot write the metrics textfile");
    }
}

/// Runs the agent until SIGTERM/SIGINT (or once). Fails only at start (a
/// profile, spool, token or CA file that cannot be used: exit 2); once
/// running, nothing the disk or the collector does stops it.
pub fn run(cfg: Config, store: &ProfileStore, host: Host, once: bool) -> Result<Ended, AgentError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| AgentError::Io {
            what: "starting the runtime".into(),
            source,
        })?;
    // Every role that runs gets its own profile; `profile` in the config
    // replaces them with that one. A profile that cannot be loaded stops
    // the agent (exit 2).
    // ...and the roles seen running before this start are expected too
    // (kept in the state directory, which lies under the host's root as
    // apply's journal does), unless `profile` fixes the one role.
    let roles = RoleWatch::start(
        cfg.profile.as_deref(),
        store,
        &crate::kafka::find_kafka_processes(&host),
        Some(super::roles::Persist {
            path: super::role_state::path(&host.path(&cfg.state_dir)),
            forget_after: cfg.forget_roles_after,
        }),
    )?;
    // Checked at start, like the profile: a bad file stops the agent (exit 2).
    let waivers = crate::waiver::Waivers::load_default(cfg.waivers.as_deref(), host.root())?;
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
    let shared = Arc::new(Shared {
        spool: Mutex::new(spool),
        metrics: Arc::new(Metrics::new(&roles.profile_names(), &host_info.hostname)),
        spooled: Notify::new(),
        freed: Notify::new(),
        backing_off: AtomicBool::new(false),
        spooled_hour: Default::default(),
        delivered_hour: Default::default(),
    });
    let mut deliverer = sender.map(|sender| Deliverer {
        sender,
        backoff: Backoff::new(
            Duration::from_secs(1).min(cfg.interval),
            Duration::from_secs(300),
        ),
        shared: shared.clone(),
        stuck: BTreeSet::new(),
        set_aside: Vec::new(),
        last_error: None,
        narrator: Narrator::default(),
    });
    if !once {
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            profile = %roles.profile_names(),
            endpoint = cfg.endpoint.as_deref().unwrap_or("none: reports stay in the spool"),
            interval = ?cfg.interval,
            spool = %cfg.spool_dir.display(),
            "tunekeeper agent started"
        );
    }
    let interval = cfg.interval;
    let gc_poll = cfg.gc_poll.min(interval);
    let listen = cfg.metrics_listen;
    let textfile = cfg.metrics_textfile.clone();
    let timeout = cfg.timeout;
    let mut reporter = Reporter {
        cfg,
        roles,
        store: store.clone(),
        host_info,
        tracker: GcTracker::default(),
        pressure: super::pressure::PressureTracker::started(&host),
        host,
        shared: shared.clone(),
        unreadable: Default::default(),
        waivers,
        told_unmatched: false,
        told_conflicts: Vec::new(),
    };
    // systemd's Type=notify and watchdog (no-ops outside systemd and for --once).
    let notifier = Arc::new(match once {
        true => super::notify::Notifier::disabled(),
        false => super::notify::Notifier::from_env().covering(gc_poll + timeout),
    });
    let ready = format!("reporting every {interval:?}");
    rt.block_on(async move {
        if let Some(addr) = listen {
            // Its own thread, capped connections: see metrics_http.rs.
            std::net::TcpListener::bind(addr)
                .and_then(|l| super::metrics_http::spawn(l, shared.metrics.clone()))
                .map_err(|source| AgentError::Io {
                    what: format!("metrics_listen {addr}"),
                    source,
                })?;
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopping = notifier.clone();
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
            stopping.stopping();
            let _ = stop_tx.send(true);
        });

        if once {
            let ended = run_once(&mut reporter, deliverer.as_mut(), &stop_rx).await;
            publish_metrics(&shared, textfile.as_deref());
            return Ok(ended);
        }
        let has_endpoint = deliverer.is_some();
        let reporting = async {
            let mut stop = stop_rx.clone();
            let mut tick = tokio::time::interval(interval);
            // A late tick (a slow audit) does not bunch reports up.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            // Between reports the GC logs are read every gc_poll, so a set
            // that rotates faster than `interval` loses nothing.
            let mut poll = tokio::time::interval(gc_poll);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let hour = Duration::from_secs(3600);
            let mut summary = tokio::time::interval_at(Instant::now() + hour, hour);
            summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut dropped_before = shared.spool().dropped();
            notifier.ready(&ready);
            loop {
                // Each pass of this loop (every gc_poll at least) pings the watchdog.
                notifier.alive();
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = poll.tick() => {
                        reporter.read_gc_logs();
                        continue;
                    }
                    _ = summary.tick() => {
                        reporter.summarise_hour(&mut dropped_before);
                        continue;
                    }
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    return;
                }
                let first = if has_endpoint {
                    DeliverFirst::Wait(timeout)
                } else {
                    DeliverFirst::Never
                };
                reporter.report(first).await;
                publish_metrics(&shared, textfile.as_deref());
            }
        };
        let delivering = async {
            let Some(d) = deliverer.as_mut() else {
                return;
            };
            let mut stop = stop_rx.clone();
            loop {
                let wake = match d.drain(&stop).await {
                    Drained::Stopped => return,
                    Drained::Empty => None,
                    Drained::Retry(delay) => Some(Instant::now() + delay),
                };
                publish_metrics(&shared, textfile.as_deref());
                match wake {
                    // No post before retry_in: new reports wait too.
                    Some(at) => {
                        shared.backing_off.store(true, Ordering::Relaxed);
                        tokio::select! {
                            _ = tokio::time::sleep_until(at) => {}
                            _ = stop.changed() => {}
                        }
                        shared.backing_off.store(false, Ordering::Relaxed);
                    }
                    None => {
                        tokio::select! {
                            _ = shared.spooled.notified() => {}
                            _ = stop.changed() => {}
                        }
                    }
                }
                if *stop.borrow() {
                    return;
                }
            }
        };
        tokio::join!(reporting, delivering);
        publish_metrics(&shared, textfile.as_deref());
        Ok(Ended::Clean)
    })
}

/// `--once`: deliver the backlog first (so a full spool costs nothing when
/// the collector is up), spool one report, deliver it, and say what is left.
async fn run_once(
    reporter: &mut Reporter,
    mut deliverer: Option<&mut Deliverer>,
    stop: &watch::Receiver<bool>,
) -> Ended {
    let mut failed = false;
    if let Some(d) = deliverer.as_deref_mut() {
        failed = matches!(d.drain(stop).await, Drained::Retry(_));
    }
    let first = match deliverer.as_deref_mut() {
        Some(d) if !failed => DeliverFirst::Now(d, stop),
        _ => DeliverFirst::Never,
    };
    reporter.report(first).await;
    if let Some(d) = deliverer.as_deref_mut()
        && !failed
    {
        d.drain(stop).await;
    }
    let stuck = deliverer
        .as_deref()
        .map(|d| d.stuck.clone())
        .unwrap_or_default();
    let waiting = reporter
        .shared
        .spool()
        .entries()
        .map(|e| e.iter().filter(|e| !stuck.contains(&e.path)).count())
        .unwrap_or(0);
    let set_aside = deliverer
        .as_deref()
        .map(|d| d.set_aside.clone())
        .unwrap_or_default();
    if waiting == 0 && set_aside.is_empty() {
        return Ended::Clean;
    }
    let reason = match deliverer.as_deref() {
        None => "no endpoint is configured".to_string(),
        Some(d) => d
            .last_error
            .clone()
            .unwrap_or_else(|| "stopped before delivering".to_string()),
    };
    Ended::Once {
        waiting,
        reason,
        set_aside,
    }
}
