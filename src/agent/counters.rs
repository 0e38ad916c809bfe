//! The JVM's own counters for the agent: HotSpot's perf-data file (what
//! `jstat` reads), read every interval for every JVM the agent follows, as
//! a second witness beside the GC log.
//!
//! Each JVM has a [`CounterWatch`]. It finds the file once (most of a
//! read's cost is finding it: `/proc` files and a listing of `/tmp`) and
//! keeps the path for the process — keyed by its PID and its start time —
//! looking it up again only when a read fails. At each report it reads the
//! counters before and after the log is read (so pauses that ran meanwhile
//! are not called a loss) and checks the log's lifetime totals against
//! them; between reports it reads them a few times more
//! ([`READS_PER_INTERVAL`]), so the worst mean time to safepoint of a
//! stretch shows even when the interval's mean dilutes it.
//!
//! Nothing here blocks: the reader opens read-only and non-blocking,
//! refuses anything but a regular file of at most 2 MiB, and every
//! `/proc` read is bounded (see [`crate::jvm::perfdata`]). What cannot be
//! read is a state, not an error: switched off by a flag, permission
//! denied (with the remedy), a JVM whose own `/tmp` the agent may not
//! look into (ptrace access); a file that is not perf data is a finding.

use std::path::PathBuf;
use std::time::Instant;

use crate::finding::{Finding, Status};
use crate::gc::budget::CounterStop;
use crate::gc::stats::StatsSnapshot;
use crate::host::Host;
use crate::jvm::perfdata::counters::{CollectorKind, CounterSnapshot};
use crate::jvm::perfdata::crosscheck::{CheckStatus, CrossCheck, LogTotals, cross_check_between};
use crate::jvm::perfdata::locate::{LocateError, Location, locate};
use crate::jvm::perfdata::read::{PerfDataError, read_file};
use crate::jvm::perfdata::safepoints::{SafepointFigures, over_interval, over_life};
use crate::report::{
    CounterCheck, CounterFigure, CounterPauses, CounterSafepoints, CounterWindow, JvmCounters,
    VERIFIED_TEXT, counters_state,
};

/// Reads of the counters per report interval, the report's own included:
/// the stretches the worst mean is taken over. A fixed number, so the
/// cost per interval does not grow with its length (each read is a copy of
/// a file of about 32 KiB).
pub const READS_PER_INTERVAL: u32 = 4;

/// Where the unprivileged packaged agent gets read access to the file.
pub const DROP_IN: &str = "/usr/share/tunekeeper/systemd/read-jvm-counters.conf";

/// What the agent does about a file it may not read.
pub fn permission_remedy() -> String {
    format!(
        "HotSpot makes the file mode 0600, readable by the JVM's user only: run the agent as root, \
         or give the packaged agent read access to every file with the opt-in drop-in {DROP_IN} \
         (install -D -m 0644 {DROP_IN} /etc/systemd/system/tunekeeper-agent.service.d/read-jvm-counters.conf; \
         systemctl daemon-reload; systemctl restart tunekeeper-agent). It grants CAP_DAC_READ_SEARCH: \
         a compromised agent could then read any file on the host (README, \"The services\")"
    )
}

/// What the agent does about a JVM whose `/tmp` it may not look into.
pub fn namespace_remedy() -> String {
    "the agent would need ptrace access to the JVM (run as the JVM's user, or with CAP_SYS_PTRACE, \
     which tunekeeper does not ship: it lets the agent read the JVM's memory); the log's figures \
     stand alone for this JVM"
        .to_string()
}

/// One attempt at reading a JVM's counters.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Read.
    Read {
        path: String,
        snapshot: Box<CounterSnapshot>,
    },
    /// Switched off by a flag.
    Disabled { flag: String },
    /// The file is there; the agent may not open it.
    Denied { reason: String },
    /// The JVM's own /tmp is out of the agent's sight.
    Namespace { reason: String },
    /// Anything else, and whether it is a finding.
    Unavailable { reason: String, why: Why },
}

/// Why counters were not read, as far as findings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// No file (the JVM exited, is starting, or is not HotSpot): no finding.
    Absent,
    /// A file that lacks a counter every JVM writes: a JVM setting up its
    /// counters, for a while ([`INCOMPLETE_GRACE`]); a finding after that.
    Incomplete,
    /// A file that is not perf data: a finding.
    Bad,
}

/// How long a JVM's file may lack counters every JVM writes before it is
/// a finding: a JVM creates them as it starts (JDK 25's file was seen
/// without `sun.os.hrt.frequency` in its first second).
pub const INCOMPLETE_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

impl Outcome {
    fn state(&self) -> &'static str {
        match self {
            Outcome::Read { .. } => counters_state::READ,
            Outcome::Disabled { .. } => counters_state::DISABLED,
            Outcome::Denied { .. } => counters_state::PERMISSION_DENIED,
            Outcome::Namespace { .. } => counters_state::NAMESPACE_DENIED,
            Outcome::Unavailable { .. } => counters_state::UNAVAILABLE,
        }
    }

    fn snapshot(&self) -> Option<&CounterSnapshot> {
        match self {
            Outcome::Read { snapshot, .. } => Some(snapshot),
            _ => None,
        }
    }
}

/// Where the counters were found, kept while the process is the same.
#[derive(Debug, Clone, PartialEq)]
enum Found {
    File(PathBuf),
    Disabled(String),
}

/// The worst stretch between two successive reads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Worst {
    reaching: Option<f64>,
    at: Option<f64>,
    /// The stop (reach + at) of the stretch with the longest mean stop,
    /// its safepoints and length.
    stop: Option<(f64, f64, u64, f64)>,
    stretches: u64,
}

impl Worst {
    fn take(&mut self, f: &SafepointFigures, seconds: f64) {
        let Some(reach) = f.mean_reaching_ms else {
            return;
        };
        self.stretches += 1;
        self.reaching = Some(self.reaching.map_or(reach, |w| w.max(reach)));
        if let Some(at) = f.mean_at_safepoint_ms {
            self.at = Some(self.at.map_or(at, |w| w.max(at)));
            let stop = reach + at;
            if self.stop.is_none_or(|(s, ..)| stop > s) {
                self.stop = Some((stop, reach, f.count, seconds));
            }
        }
    }
}

/// What a report takes from a JVM's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct CountersOut {
    /// The report's section.
    pub counters: JvmCounters,
    /// A difference with the log, or a file that is not perf data.
    pub findings: Vec<Finding>,
}

/// One JVM's counters across intervals.
#[derive(Debug, Default)]
pub struct CounterWatch {
    pid: i32,
    /// `/proc/PID/stat`'s start time: with the PID, the process the cache
    /// is for (a PID reused by another process is looked up again).
    proc_start: Option<u64>,
    found: Option<Found>,
    /// The last read that succeeded, and when: the start of the next stretch.
    last: Option<(Instant, CounterSnapshot)>,
    /// The read that ended the previous report's interval, and when.
    reported: Option<(Instant, CounterSnapshot)>,
    /// This report's reads: before and after the log.
    before: Option<Outcome>,
    after: Option<Outcome>,
    /// The worst stretch since the previous report, and over the JVM's
    /// life as far as the agent read it.
    interval_worst: Worst,
    life_worst: Worst,
    /// When a read between reports is next due; `None` while the counters
    /// cannot be read (they are tried again at the next report, not every
    /// few seconds).
    next_sample: Option<Instant>,
    /// The state the journal was last told.
    told: Option<&'static str>,
    /// Since when the file lacks counters every JVM writes.
    incomplete_since: Option<Instant>,
}

#[cfg(test)]
impl CounterWatch {
    /// A watch whose next report takes `s` as read before and after the
    /// log (a test seam for what a report makes of the counters).
    pub(crate) fn reading(pid: i32, s: &CounterSnapshot) -> CounterWatch {
        let read = || Outcome::Read {
            path: format!("/tmp/hsperfdata_kafka/{pid}"),
            snapshot: Box::new(s.clone()),
        };
        let mut w = CounterWatch::new(pid);
        w.before = Some(read());
        w.note(Instant::now(), s);
        w.after = Some(read());
        w
    }
}

/// `/proc/PID/stat`'s start time (field 22), clock ticks after boot.
fn proc_start(host: &Host, pid: i32) -> Option<u64> {
    let stat = crate::file_kind::read_text(
        &host.path(format!("/proc/{pid}/stat")),
        crate::file_kind::MAX_KERNEL_FILE_BYTES,
    )
    .ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Reads and decodes the file at `path`, saying what kept it out.
fn read_path(path: &std::path::Path) -> Outcome {
    let shown = crate::jvm::perfdata::escape_text(&path.display().to_string());
    match read_file(path) {
        Ok(pd) => match CounterSnapshot::from_perf_data(&pd) {
            Ok(s) => Outcome::Read {
                path: shown,
                snapshot: Box::new(s),
            },
            Err(e) => Outcome::Unavailable {
                reason: format!("{shown}: not valid HotSpot perf data: {e}"),
                why: match e {
                    crate::jvm::perfdata::counters::SnapshotError::Missing(_) => Why::Incomplete,
                    _ => Why::Bad,
                },
            },
        },
        Err(PerfDataError::Open { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Outcome::Denied {
                reason: format!("{shown}: permission denied"),
            }
        }
        Err(e @ (PerfDataError::Open { .. } | PerfDataError::NotReady { .. })) => {
            // Gone (the JVM exited) or not set up yet: nothing wrong with it.
            Outcome::Unavailable {
                reason: e.to_string(),
                why: Why::Absent,
            }
        }
        Err(e) => Outcome::Unavailable {
            reason: e.to_string(),
            why: Why::Bad,
        },
    }
}

impl CounterWatch {
    /// A watch for process `pid`.
    pub fn new(pid: i32) -> CounterWatch {
        CounterWatch {
            pid,
            ..CounterWatch::default()
        }
    }

    /// One read: through the path found before, else finding it (again).
    fn read(&mut self, host: &Host) -> Outcome {
        match &self.found {
            Some(Found::Disabled(flag)) => {
                return Outcome::Disabled { flag: flag.clone() };
            }
            Some(Found::File(p)) => {
                let o = read_path(p);
                // Read, or a file the agent may not open (looking again
                // changes nothing): kept. Otherwise the file may have
                // moved (a restart in another user's directory): found again.
                if matches!(o, Outcome::Read { .. } | Outcome::Denied { .. }) {
                    return o;
                }
                self.found = None;
            }
            None => {}
        }
        match locate(host, self.pid) {
            Err(e @ LocateError::Namespace { .. }) => Outcome::Namespace {
                reason: e.to_string(),
            },
            Err(e) => Outcome::Unavailable {
                reason: e.to_string(),
                why: Why::Absent,
            },
            Ok(Location::Disabled { flag }) => {
                self.found = Some(Found::Disabled(flag.clone()));
                Outcome::Disabled { flag }
            }
            Ok(Location::NotFound { searched, ns_pid }) => Outcome::Unavailable {
                reason: format!(
                    "no perf-data file {}/hsperfdata_*/{ns_pid} (the JVM is starting, or is not HotSpot)",
                    crate::jvm::perfdata::escape_text(&searched.display().to_string())
                ),
                why: Why::Absent,
            },
            Ok(Location::File { path, .. }) => {
                let o = read_path(&path);
                self.found = Some(Found::File(path));
                o
            }
        }
    }

    /// Takes a successful read: the stretch since the last one weighs in
    /// the worst means (the JVM's whole life so far, for the first).
    fn note(&mut self, now: Instant, s: &CounterSnapshot) {
        let stretch = match &self.last {
            Some((at, prev)) if prev.jvm_start_ms == s.jvm_start_ms => over_interval(prev, s)
                .ok()
                .map(|f| (f, now.duration_since(*at).as_secs_f64())),
            _ => {
                // A new life (or the first read): what came before was another JVM's.
                self.life_worst = Worst::default();
                self.interval_worst = Worst::default();
                if self
                    .reported
                    .as_ref()
                    .is_some_and(|(_, r)| r.jvm_start_ms != s.jvm_start_ms)
                {
                    self.reported = None;
                }
                Some((over_life(s), s.uptime_s.unwrap_or(0.0)))
            }
        };
        if let Some((f, secs)) = stretch {
            self.interval_worst.take(&f, secs);
            self.life_worst.take(&f, secs);
        }
        self.last = Some((now, s.clone()));
    }

    /// A read between reports, when one is due (`every`: the interval over
    /// [`READS_PER_INTERVAL`]). Only a JVM whose counters were read at the
    /// last report is read between reports: one that cannot be read is
    /// tried again at the next report, not every few seconds.
    pub fn sample(&mut self, host: &Host, every: std::time::Duration) {
        let now = Instant::now();
        if self.next_sample.is_none_or(|t| now < t) {
            return;
        }
        self.next_sample = Some(now + every);
        match self.read(host) {
            Outcome::Read { snapshot, .. } => self.note(now, &snapshot),
            _ => self.next_sample = None,
        }
    }

    /// The read before the log is read, at a report.
    pub fn before_log(&mut self, host: &Host) {
        let start = proc_start(host, self.pid);
        if start != self.proc_start {
            // Another process under this PID: nothing cached holds.
            self.proc_start = start;
            self.found = None;
        }
        let o = self.read(host);
        if let Some(s) = o.snapshot() {
            self.note(Instant::now(), &s.clone());
        }
        self.before = Some(o);
    }

    /// The read after the log is read, at a report; `every`: when the next
    /// read between reports is due.
    pub fn after_log(&mut self, host: &Host, every: std::time::Duration) {
        let now = Instant::now();
        let o = self.read(host);
        self.next_sample = None;
        if let Some(s) = o.snapshot() {
            self.note(now, &s.clone());
            self.next_sample = Some(now + every);
        }
        self.after = Some(o);
    }

    /// The worst stop the counters show over the JVM's life, for the
    /// timeout budget (a log without safepoint lines has none of its own).
    pub fn stop_bound(&self) -> Option<CounterStop> {
        let (mean_stop_ms, mean_reaching_ms, safepoints, seconds) = self.life_worst.stop?;
        Some(CounterStop {
            mean_stop_ms: round3(mean_stop_ms),
            mean_reaching_ms: round3(mean_reaching_ms),
            safepoints,
            seconds: (seconds > 0.0).then(|| round3(seconds)),
        })
    }

    /// This report's section. `log`: the log's lifetime statistics when
    /// the log was read without trouble (`None`: missing or unreadable,
    /// so the counters are the JVM's only GC figures). `whose`: the JVM as
    /// the journal names it.
    pub fn report(&mut self, log: Option<&StatsSnapshot>, whose: &str) -> CountersOut {
        let before = self.before.take();
        let after = self.after.take().unwrap_or_else(|| Outcome::Unavailable {
            reason: "not read yet".into(),
            why: Why::Absent,
        });
        // Incomplete since when: past the grace, a finding.
        let incomplete_for = match &after {
            Outcome::Unavailable {
                why: Why::Incomplete,
                ..
            } => Some(
                self.incomplete_since
                    .get_or_insert_with(Instant::now)
                    .elapsed(),
            ),
            _ => {
                self.incomplete_since = None;
                None
            }
        };
        self.tell(&after, whose);
        let interval_worst = std::mem::take(&mut self.interval_worst);
        let mut findings = Vec::new();
        let (path, a) = match after {
            Outcome::Read { path, snapshot } => (path, snapshot),
            Outcome::Disabled { flag } => {
                return CountersOut {
                    counters: JvmCounters {
                        state: counters_state::DISABLED.into(),
                        reason: Some(format!(
                            "switched off by {flag}: the log's figures stand alone"
                        )),
                        ..JvmCounters::default()
                    },
                    findings,
                };
            }
            Outcome::Denied { reason } => {
                return CountersOut {
                    counters: JvmCounters {
                        state: counters_state::PERMISSION_DENIED.into(),
                        reason: Some(reason),
                        remedy: Some(permission_remedy()),
                        ..JvmCounters::default()
                    },
                    findings,
                };
            }
            Outcome::Namespace { reason } => {
                return CountersOut {
                    counters: JvmCounters {
                        state: counters_state::NAMESPACE_DENIED.into(),
                        reason: Some(reason),
                        remedy: Some(namespace_remedy()),
                        ..JvmCounters::default()
                    },
                    findings,
                };
            }
            Outcome::Unavailable { reason, why } => {
                let finding = match why {
                    Why::Bad => true,
                    Why::Incomplete => incomplete_for.is_some_and(|d| d >= INCOMPLETE_GRACE),
                    Why::Absent => false,
                };
                if finding {
                    findings.push(Finding {
                        check: "gc".into(),
                        key: "counters".into(),
                        expected: "the JVM's perf-data file (hsperfdata), as HotSpot writes it"
                            .into(),
                        actual: Some("not perf data".into()),
                        status: Status::Unreadable,
                        source: None,
                        detail: Some(format!(
                            "{reason}: the JVM's own counters are not read, so its log is not checked against them"
                        )),
                        waiver: None,
                    });
                }
                return CountersOut {
                    counters: JvmCounters {
                        state: counters_state::UNAVAILABLE.into(),
                        reason: Some(reason),
                        ..JvmCounters::default()
                    },
                    findings,
                };
            }
        };
        let now = Instant::now();
        let b = before
            .as_ref()
            .and_then(Outcome::snapshot)
            .filter(|b| b.jvm_start_ms == a.jvm_start_ms)
            .cloned()
            .unwrap_or_else(|| (*a).clone());
        let interval = self.reported.as_ref().and_then(|(at, prev)| {
            let seconds = now.duration_since(*at).as_secs_f64();
            let f = over_interval(prev, &a).ok()?;
            let mut w = window(prev, &a, "last_interval", Some(seconds), &f);
            w.safepoints.worst_mean_reaching_ms = interval_worst.reaching.map(round3);
            w.safepoints.worst_mean_at_safepoint_ms = interval_worst.at.map(round3);
            w.safepoints.stretches = interval_worst.stretches;
            Some(w)
        });
        let uptime = a.uptime_s.or_else(|| {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_millis() as i64;
            (now_ms > a.jvm_start_ms).then(|| (now_ms - a.jvm_start_ms) as f64 / 1000.0)
        });
        let mut total = window_from_start(&a, uptime);
        total.safepoints.worst_mean_reaching_ms = self.life_worst.reaching.map(round3);
        total.safepoints.worst_mean_at_safepoint_ms = self.life_worst.at.map(round3);
        total.safepoints.stretches = self.life_worst.stretches;
        let cross_check = log.map(|s| {
            let c = cross_check_between(&LogTotals::from_stats(s), &b, &a);
            if let Some(f) = difference_finding(&c, &path) {
                findings.push(f);
            }
            check_of(&c)
        });
        self.reported = Some((now, (*a).clone()));
        CountersOut {
            counters: JvmCounters {
                state: counters_state::READ.into(),
                path: Some(path),
                jdk: a.jdk,
                only_witness: log.is_none(),
                interval,
                total: Some(total),
                cross_check,
                ..JvmCounters::default()
            },
            findings,
        }
    }

    /// Says a state the JVM's counters are in, once: when it is first
    /// met, and when it changes (a read after none is said too).
    fn tell(&mut self, o: &Outcome, whose: &str) {
        let state = o.state();
        if self.told == Some(state) {
            return;
        }
        let first = self.told.is_none();
        self.told = Some(state);
        let pid = self.pid;
        match o {
            Outcome::Read { path, .. } if !first => {
                tracing::info!(
                    "the JVM counters of the {whose} (pid {pid}) are read again: {path}"
                );
            }
            Outcome::Read { .. } => {}
            Outcome::Disabled { flag } => tracing::info!(
                "the JVM counters of the {whose} (pid {pid}) are switched off ({flag}): its GC log is not checked against them"
            ),
            Outcome::Denied { reason } => tracing::warn!(
                "the JVM counters of the {whose} (pid {pid}) are not read: {reason}: {}",
                permission_remedy()
            ),
            Outcome::Namespace { reason } => tracing::warn!(
                "the JVM counters of the {whose} (pid {pid}) are not read: {reason}: {}",
                namespace_remedy()
            ),
            // A file that is not perf data is a finding, which the journal
            // is told of with the other unreadable findings; a JVM still
            // starting is no news.
            Outcome::Unavailable { .. } => {}
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn pauses_of(s: &CounterSnapshot) -> impl Iterator<Item = (CollectorKind, &'static str)> + '_ {
    [
        (CollectorKind::Young, "young"),
        (CollectorKind::Full, "full"),
        (CollectorKind::ConcurrentCycle, "concurrent_cycle"),
    ]
    .into_iter()
    .filter(|(k, _)| s.pauses(*k).is_some())
}

fn safepoints(f: &SafepointFigures) -> CounterSafepoints {
    CounterSafepoints {
        count: f.count,
        reaching_ms: round3(f.reaching_ms),
        at_safepoint_ms: f.at_safepoint_ms.map(round3),
        mean_reaching_ms: f.mean_reaching_ms.map(|v| (v * 1e6).round() / 1e6),
        mean_at_safepoint_ms: f.mean_at_safepoint_ms.map(|v| (v * 1e6).round() / 1e6),
        worst_mean_reaching_ms: None,
        worst_mean_at_safepoint_ms: None,
        stretches: 0,
        null_because: f.null_because.clone(),
    }
}

/// The window between two reads of one life.
fn window(
    before: &CounterSnapshot,
    after: &CounterSnapshot,
    name: &str,
    seconds: Option<f64>,
    f: &SafepointFigures,
) -> CounterWindow {
    let mut pauses = std::collections::BTreeMap::new();
    let mut ms = 0.0;
    for (kind, key) in pauses_of(after) {
        let (n1, t1) = after.pauses(kind).unwrap_or_default();
        let (n0, t0) = before.pauses(kind).unwrap_or_default();
        let time_ms = round3((t1 - t0).max(0.0));
        ms += time_ms;
        pauses.insert(
            key.to_string(),
            CounterPauses {
                count: n1.saturating_sub(n0),
                time_ms,
            },
        );
    }
    CounterWindow {
        window: name.into(),
        seconds: seconds.map(round3),
        gc_ms_per_second: seconds.filter(|s| *s > 0.0).map(|s| round3(ms / s)),
        pauses,
        safepoints: safepoints(f),
    }
}

/// The JVM's life up to a read.
fn window_from_start(a: &CounterSnapshot, uptime: Option<f64>) -> CounterWindow {
    let mut pauses = std::collections::BTreeMap::new();
    let mut ms = 0.0;
    for (kind, key) in pauses_of(a) {
        let (count, t) = a.pauses(kind).unwrap_or_default();
        ms += t;
        pauses.insert(
            key.to_string(),
            CounterPauses {
                count,
                time_ms: round3(t),
            },
        );
    }
    CounterWindow {
        window: "jvm_lifetime".into(),
        seconds: uptime.map(round3),
        gc_ms_per_second: uptime.filter(|s| *s > 0.0).map(|s| round3(ms / s)),
        pauses,
        safepoints: safepoints(&over_life(a)),
    }
}

fn status_text(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Verified => "verified",
        CheckStatus::Differs => "differs",
        CheckStatus::NotCompared => "not_compared",
    }
}

/// The report's view of a cross-check.
fn check_of(c: &CrossCheck) -> CounterCheck {
    let differences: Vec<&str> = c
        .checks
        .iter()
        .filter(|f| f.status == CheckStatus::Differs)
        .filter_map(|f| f.detail.as_deref())
        .collect();
    let summary = if c.verified {
        VERIFIED_TEXT.to_string()
    } else if let Some(why) = &c.not_comparable {
        format!("not compared: {why}")
    } else {
        differences.join("; ")
    };
    CounterCheck {
        verified: c.verified,
        summary,
        checks: c
            .checks
            .iter()
            .map(|f| CounterFigure {
                figure: f.figure.clone(),
                log: round3(f.log),
                jvm: f.jvm.map(round3),
                unit: f.unit.into(),
                tolerance: round3(f.tolerance),
                status: status_text(f.status).into(),
                detail: f.detail.clone(),
            })
            .collect(),
        not_comparable: c.not_comparable.clone(),
    }
}

/// A difference between the log and the counters, as a finding with both
/// figures (the collector and the journal take it from there).
fn difference_finding(c: &CrossCheck, path: &str) -> Option<Finding> {
    let differing: Vec<_> = c
        .checks
        .iter()
        .filter(|f| f.status == CheckStatus::Differs)
        .collect();
    if differing.is_empty() {
        return None;
    }
    let actual = differing
        .iter()
        .map(|f| match f.jvm {
            Some(j) if f.unit == "ms" => {
                format!("{}: log {:.3} ms, JVM {j:.3} ms", f.figure, f.log)
            }
            Some(j) => format!(
                "{}: log {}, JVM {}",
                f.figure,
                crate::jvm::perfdata::crosscheck::thousands(f.log as u64),
                crate::jvm::perfdata::crosscheck::thousands(j as u64)
            ),
            None => f.figure.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(Finding {
        check: "gc".into(),
        key: "counters_cross_check".into(),
        expected: "the log's pauses equal the JVM's own counters".into(),
        actual: Some(actual),
        status: Status::Unreadable,
        source: Some(format!("the JVM's counters ({path})")),
        detail: Some(format!(
            "{}: the log's lifetime figures are short of (or beyond) what the JVM ran",
            differing
                .iter()
                .filter_map(|f| f.detail.as_deref())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        waiver: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jvm::perfdata::counters::tests::{g1_region, snap};

    fn log_of(young: (u64, f64)) -> StatsSnapshot {
        let mut s = crate::gc::stats::GcStats::new().snapshot();
        s.pauses.young.count = young.0;
        s.pauses.young.total_ms = young.1;
        s.pauses.full.count = 1;
        s.pauses.full.total_ms = 300.0;
        s.pauses.remark.count = 4;
        s.pauses.remark.total_ms = 2.0;
        s.jvm_starts = 1;
        s
    }

    /// A watch whose reads are the given snapshots, as the agent takes them.
    fn feed(w: &mut CounterWatch, before: &CounterSnapshot, after: &CounterSnapshot) {
        w.before = Some(Outcome::Read {
            path: "/tmp/hsperfdata_kafka/7".into(),
            snapshot: Box::new(before.clone()),
        });
        w.note(Instant::now(), before);
        w.after = Some(Outcome::Read {
            path: "/tmp/hsperfdata_kafka/7".into(),
            snapshot: Box::new(after.clone()),
        });
        w.note(Instant::now(), after);
    }

    #[test]
    fn a_quiet_log_is_verified_and_a_loss_is_a_finding_with_both_figures() {
        let a = snap(
            (3893, 25_000_000_000),
            (1, 300_000_000),
            (4, 1_990_000),
            (10, 1_000_000, 40_000_000),
            60_000_000_000,
        );
        let mut w = CounterWatch::new(7);
        feed(&mut w, &a, &a);
        let out = w.report(Some(&log_of((3893, 25_100.0))), "broker");
        let c = out.counters;
        assert_eq!(c.state, "read");
        assert!(out.findings.is_empty(), "{:?}", out.findings);
        let check = c.cross_check.unwrap();
        assert!(check.verified);
        assert_eq!(check.summary, VERIFIED_TEXT);
        assert!(c.interval.is_none(), "no earlier read: no interval");
        let total = c.total.unwrap();
        assert_eq!(total.pauses["young"].count, 3893);
        assert_eq!(total.seconds, Some(60.0));
        assert_eq!(total.safepoints.mean_reaching_ms, Some(0.1));

        // The next interval: 12 more pauses the log never got.
        let b = snap(
            (3905, 25_060_000_000),
            (1, 300_000_000),
            (4, 1_990_000),
            (22, 1_600_000, 41_000_000),
            120_000_000_000,
        );
        feed(&mut w, &b, &b);
        let mut log = log_of((3893, 25_100.0));
        log.jvm_starts = 0;
        let out = w.report(Some(&log), "broker");
        let check = out.counters.cross_check.unwrap();
        assert!(!check.verified);
        assert_eq!(
            check.summary,
            "the log shows 3,893 young pauses, the JVM counted 3,905: 12 lost to rotation (the log no longer holds the JVM's start)"
        );
        let f = &out.findings[0];
        assert_eq!(f.key, "counters_cross_check");
        assert_eq!(f.status, Status::Unreadable);
        assert_eq!(
            f.actual.as_deref(),
            Some("young pauses: log 3,893, JVM 3,905")
        );
        let i = out.counters.interval.unwrap();
        assert_eq!(i.pauses["young"].count, 12);
        assert_eq!(i.pauses["young"].time_ms, 60.0);
        assert_eq!(i.safepoints.count, 12);
        assert_eq!(i.safepoints.mean_reaching_ms, Some(0.05));
        assert!(i.gc_ms_per_second.is_some());
    }

    #[test]
    fn the_worst_stretch_shows_what_the_interval_mean_dilutes() {
        let mut w = CounterWatch::new(7);
        let s0 = snap((0, 0), (0, 0), (0, 0), (100, 10_000_000, 100_000_000), 1);
        feed(&mut w, &s0, &s0);
        w.report(None, "broker");
        // One safepoint that took 2 s to reach, among 99 quick ones.
        let s1 = snap((0, 0), (0, 0), (0, 0), (101, 2_010_000_000, 101_000_000), 2);
        w.note(Instant::now(), &s1);
        let s2 = snap((0, 0), (0, 0), (0, 0), (200, 2_020_000_000, 200_000_000), 3);
        feed(&mut w, &s2, &s2);
        let out = w.report(None, "broker");
        let i = out.counters.interval.unwrap();
        assert_eq!(i.safepoints.count, 100);
        assert_eq!(i.safepoints.mean_reaching_ms, Some(20.1));
        assert_eq!(i.safepoints.worst_mean_reaching_ms, Some(2000.0));
        assert!(
            out.counters.only_witness,
            "no log: the counters stand alone"
        );
        assert!(out.counters.cross_check.is_none());
        let b = w.stop_bound().unwrap();
        assert_eq!((b.mean_stop_ms, b.safepoints), (2001.0, 1));
    }

    /// A JVM still setting up its counters (a file without a counter
    /// every JVM writes) is no finding at first; one that stays so is.
    #[test]
    fn a_file_still_being_set_up_is_a_finding_only_when_it_stays_so() {
        let incomplete = || {
            Outcome::Unavailable {
            reason: "/tmp/hsperfdata_kafka/7: not valid HotSpot perf data: the counter sun.os.hrt.frequency is missing".into(),
            why: Why::Incomplete,
        }
        };
        let mut w = CounterWatch::new(7);
        w.after = Some(incomplete());
        let out = w.report(None, "broker");
        assert_eq!(out.counters.state, "unavailable");
        assert!(out.findings.is_empty(), "starting: {:?}", out.findings);
        w.incomplete_since = Some(Instant::now() - INCOMPLETE_GRACE);
        w.after = Some(incomplete());
        let out = w.report(None, "broker");
        assert_eq!(out.findings.len(), 1, "past the grace");
        // Read meanwhile: the clock starts again.
        w.after = Some(Outcome::Disabled { flag: "x".into() });
        w.report(None, "broker");
        assert!(w.incomplete_since.is_none());
    }

    #[test]
    fn states_that_are_not_errors() {
        let mut w = CounterWatch::new(7);
        w.after = Some(Outcome::Disabled {
            flag: "-XX:+PerfDisableSharedMem (the command line)".into(),
        });
        let out = w.report(None, "broker");
        assert_eq!(out.counters.state, "disabled");
        assert!(out.findings.is_empty());
        w.after = Some(Outcome::Denied {
            reason: "/tmp/hsperfdata_kafka/7: permission denied".into(),
        });
        let out = w.report(None, "broker");
        assert_eq!(out.counters.state, "permission_denied");
        assert!(out.counters.remedy.unwrap().contains(DROP_IN));
        assert!(out.findings.is_empty());
    }

    /// A file that is not perf data in the counters' place: a finding
    /// naming it; a file of another life since the last read resets the
    /// stretch instead of making one across two JVMs.
    #[test]
    fn a_bad_file_is_a_finding_and_a_restart_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("7");
        std::fs::write(
            &f,
            b"not perf data at all, but long enough to have a prologue",
        )
        .unwrap();
        let mut w = CounterWatch::new(7);
        w.found = Some(Found::File(f.clone()));
        let o = read_path(&f);
        assert!(
            matches!(o, Outcome::Unavailable { why: Why::Bad, .. }),
            "{o:?}"
        );
        w.after = Some(o);
        let out = w.report(None, "broker");
        assert_eq!(out.findings[0].key, "counters");
        assert!(
            out.findings[0]
                .detail
                .as_ref()
                .unwrap()
                .contains(&f.display().to_string())
        );

        std::fs::write(
            &f,
            g1_region((5, 5_000_000), (0, 0), (0, 0), (9, 1_000, 2_000), 1, "17"),
        )
        .unwrap();
        let o = read_path(&f);
        let Outcome::Read { snapshot, .. } = &o else {
            panic!("{o:?}")
        };
        let mut other = (**snapshot).clone();
        w.note(Instant::now(), snapshot);
        other.jvm_start_ms += 60_000;
        other.safepoints.count = 1;
        w.note(Instant::now(), &other);
        assert_eq!(w.life_worst.stretches, 1, "only the new life's own");
    }
}
