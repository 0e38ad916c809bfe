//! Per-JVM GC tracking for the agent. Each interval it finds the
//! Kafka-family JVMs (brokers, controllers, ZooKeeper servers) and any JVM
//! `jvm_match` names, each judged by its role's profile and weighed against
//! its role's timeouts; more often than that (`gc_poll`) it follows each one's GC log set
//! incrementally (never re-reading a byte), and keeps two accumulators: one
//! for the interval, one for the JVM's life as far as its logs reach. Every
//! event passes a [`Ledger`] first: one already counted in this JVM's life
//! is never counted again, whatever the files did.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::agent::config::Config;
use crate::agent::counters::{CounterWatch, READS_PER_INTERVAL};
use crate::agent::follow::{Bounded, LogFollower, Problem};
use crate::agent::ledger::{Ledger, line_gc_id};
use crate::agent::metrics::Metrics;
use crate::finding::Status;
use crate::gc::analyse::{AnalyseOptions, build, new_parser};
use crate::gc::budget::TimeoutLimit;
use crate::gc::detect::{LogFormat, sniff};
use crate::gc::event::GcEvent;
use crate::gc::parser::{LineOutcome, LineParser};
use crate::gc::stall::StallRule;
use crate::gc::stats::{GcStats, StatsSnapshot};
use crate::host::Host;
use crate::jvm::{Jvm, find_jvms};
use crate::kafka::{HostRole, KafkaProcess};
use crate::profile::Profile;
use crate::report::{GcLogLines, GcReport, GcSafepoints, GcStalls, GcWindow, JvmReport};

/// Lines held back while a log's format is not yet known.
const SNIFF_LINES: usize = 200;
/// Bytes held back while sniffing: the format is decided on what is held
/// by then (each line is at most `follow::MAX_LINE_BYTES`).
const SNIFF_BYTES: usize = 256 << 10;

/// What a log stream hands on, in the order of the lines.
enum Item {
    /// A line named this GC id (unified logs).
    Id(u64),
    /// The parser's event.
    Event(GcEvent),
}

/// One followed GC log and its parser.
struct LogStream {
    follower: LogFollower,
    parser: Option<Box<dyn LineParser>>,
    /// Unified logging: lines carry `GC(N)` ids.
    unified: bool,
    held: Vec<Vec<u8>>,
    refused: Option<String>,
    /// What the parser made of the lines fed so far.
    tally: LineTally,
}

/// Counts of a followed log's lines by outcome.
#[derive(Debug, Default)]
struct LineTally {
    read: u64,
    unrecognised: u64,
    other: crate::gc::analyse::OtherCounts,
}

impl LineTally {
    fn add(&mut self, outcome: LineOutcome) {
        self.read += 1;
        match outcome {
            LineOutcome::Unrecognised => self.unrecognised += 1,
            LineOutcome::Other(kind) => self.other.add(kind),
            LineOutcome::Recognised => {}
        }
    }

    fn report(&self) -> GcLogLines {
        let (other, other_kinds) = self.other.clone().into_report();
        GcLogLines {
            read: self.read,
            unrecognised: self.unrecognised,
            other,
            other_kinds,
        }
    }
}

impl LogStream {
    fn new(path: PathBuf) -> LogStream {
        LogStream {
            follower: LogFollower::new(path),
            parser: None,
            unified: false,
            held: Vec::new(),
            refused: None,
            tally: LineTally::default(),
        }
    }

    /// Reads what is new and hands every GC id named and every event to `on_item`.
    fn poll(&mut self, on_item: &mut dyn FnMut(Item)) {
        if self.refused.is_some() {
            return;
        }
        let LogStream {
            follower,
            parser,
            unified,
            held,
            refused,
            tally,
        } = self;
        let base = follower.base().to_path_buf();
        follower.poll(&mut |line| {
            if let Some(p) = parser.as_mut() {
                if *unified {
                    if let Some(id) = line_gc_id(line) {
                        on_item(Item::Id(id));
                    }
                }
                tally.add(p.feed(line, &mut |ev| on_item(Item::Event(ev))));
                return;
            }
            if refused.is_some() {
                return;
            }
            held.push(line.to_vec());
            let head = held.join(&b'\n');
            let format = sniff(&head).format;
            let decided = matches!(
                format,
                LogFormat::UnifiedG1 | LogFormat::Jdk8G1 | LogFormat::NotG1(_)
            );
            let held_bytes: usize = held.iter().map(|l| l.len() + 1).sum();
            if !decided && held.len() < SNIFF_LINES && held_bytes < SNIFF_BYTES {
                return;
            }
            match new_parser(format) {
                Some(mut p) => {
                    *unified = format == LogFormat::UnifiedG1;
                    for l in held.drain(..) {
                        if *unified {
                            if let Some(id) = line_gc_id(&l) {
                                on_item(Item::Id(id));
                            }
                        }
                        tally.add(p.feed(&l, &mut |ev| on_item(Item::Event(ev))));
                    }
                    *parser = Some(p);
                }
                None => {
                    *refused = Some(format!(
                        "{}: {}, not a G1 log",
                        base.display(),
                        format.describe()
                    ));
                    held.clear();
                }
            }
        });
    }
}

/// Who a JVM is: its roles, and what its pauses are weighed against.
#[derive(Debug, Clone, Default)]
struct Identity {
    /// Its host role (`None`: a JVM only `jvm_match` or `gc_logs` names).
    role: Option<HostRole>,
    /// The roles it plays, for the report.
    roles: Vec<String>,
    /// Its configuration file, as its command line names it.
    config: Option<String>,
    /// Its roles' timeouts, or why they are unknown (`None`: not a
    /// Kafka-family JVM, no budget).
    timeouts: Option<Result<Vec<TimeoutLimit>, String>>,
}

impl Identity {
    fn of(p: &KafkaProcess) -> Identity {
        Identity {
            role: Some(HostRole::of(p.role)),
            roles: p.role.names().iter().map(|s| (*s).to_owned()).collect(),
            config: p.config_path.as_ref().map(|c| c.display().to_string()),
            // Unreadable configuration: the audit's `kafka` finding says
            // so (and that its timeouts are unknown); a bad value in a
            // readable one is this JVM's finding.
            timeouts: Some(if p.config.is_ok() {
                p.timeouts()
            } else {
                Ok(Vec::new())
            }),
        }
    }
}

/// One JVM's GC state.
struct JvmState {
    /// Its roles and timeouts, read once: a running JVM's role and
    /// configuration do not change.
    who: Identity,
    cmdline: Vec<String>,
    /// What reports call it (`kafka.Kafka (-Xmx6g ...)`, `gc log PATH`).
    command: String,
    flags: Vec<String>,
    logs: Vec<PathBuf>,
    log: Option<LogStream>,
    total: GcStats,
    interval: GcStats,
    /// What this JVM life has counted, by event identity.
    ledger: Ledger,
    /// A JVM header met after events were counted: a new life, or an old
    /// header read again? The next event decides.
    pending_start: Option<crate::gc::event::JvmInfo>,
    /// GC ids named while `pending_start` waits.
    pending_ids: Vec<u64>,
    /// The last pause was a repeat: its humongous-allocation event and its
    /// CPU times are too.
    last_repeat: bool,
    /// Events not counted because they already were (the files repeated them).
    repeats: u64,
    /// When this JVM's previous report was built: its next interval's
    /// rate is over the time since, not over the stretch its pauses cover.
    last_report: Option<std::time::Instant>,
    /// When a pause counts as stalled (the profile's `[gc]` rule).
    stall_rule: StallRule,
    /// Its own counters (`None` for a log `gc_logs` names: no process).
    counters: Option<CounterWatch>,
}

impl JvmState {
    fn new(
        cmdline: Vec<String>,
        command: String,
        flags: Vec<String>,
        logs: Vec<PathBuf>,
    ) -> JvmState {
        JvmState {
            who: Identity::default(),
            cmdline,
            command,
            flags,
            // A JVM with several gc outputs writes the same pauses to each: follow one.
            log: logs.first().cloned().map(LogStream::new),
            logs,
            total: GcStats::new(),
            interval: GcStats::new(),
            ledger: Ledger::new(),
            pending_start: None,
            pending_ids: Vec::new(),
            last_repeat: false,
            repeats: 0,
            last_report: None,
            stall_rule: StallRule::default(),
            counters: None,
        }
    }

    /// Judges stalled pauses by `rule` from now on (the profile's; set
    /// before the first event, so every window uses it).
    fn use_stall_rule(&mut self, rule: StallRule) {
        if rule == self.stall_rule {
            return;
        }
        self.stall_rule = rule;
        if self.ledger.is_empty() {
            self.total = GcStats::with_stall_rule(rule);
            self.interval = GcStats::with_stall_rule(rule);
        }
    }

    /// Reads the JVM's new log lines into its accumulators.
    fn poll(&mut self, metrics: &Metrics) {
        let Some(mut log) = self.log.take() else {
            return;
        };
        log.poll(&mut |item| self.take(item, metrics));
        self.log = Some(log);
    }

    /// A new JVM life: earlier lines in the set belonged to the previous JVM.
    fn begin_life(&mut self, info: crate::gc::event::JvmInfo) {
        self.total = GcStats::with_stall_rule(self.stall_rule);
        self.interval = GcStats::with_stall_rule(self.stall_rule);
        self.ledger = Ledger::new();
        for id in self.pending_ids.drain(..) {
            self.ledger.note_id(id);
        }
        let start = GcEvent::JvmStart(info);
        self.total.add(&start);
        self.interval.add(&start);
    }

    fn take(&mut self, item: Item, metrics: &Metrics) {
        let ev = match item {
            Item::Id(id) if self.pending_start.is_some() => return self.pending_ids.push(id),
            Item::Id(id) => return self.ledger.note_id(id),
            Item::Event(GcEvent::JvmStart(info)) => {
                if self.ledger.is_empty() {
                    self.begin_life(info);
                } else {
                    self.pending_start = Some(info);
                }
                return;
            }
            Item::Event(ev) => ev,
        };
        if let GcEvent::HumongousAllocation { .. } | GcEvent::PauseCpu(_) = ev {
            if !self.last_repeat {
                self.total.add(&ev);
                self.interval.add(&ev);
            }
            return;
        }
        if let Some(info) = self.pending_start.take() {
            if self.ledger.starts_new_life(&ev) {
                self.begin_life(info);
            } else {
                for id in std::mem::take(&mut self.pending_ids) {
                    self.ledger.note_id(id);
                }
            }
        }
        self.last_repeat = self.ledger.is_repeat(&ev);
        if self.last_repeat {
            self.repeats += 1;
            return;
        }
        self.ledger.record(&ev);
        if let GcEvent::Pause(p) = &ev {
            metrics.observe_pause(p.kind.as_str(), p.duration_ms / 1000.0);
        }
        self.total.add(&ev);
        self.interval.add(&ev);
    }
}

/// State kept across intervals for every JVM and every extra log.
#[derive(Default)]
pub struct GcTracker {
    jvms: BTreeMap<i32, JvmState>,
    extra: BTreeMap<String, JvmState>,
    /// Matching JVMs past [`crate::agent::fit::MAX_JVMS`] at the last poll: not followed.
    not_followed: usize,
    /// How often the JVMs' counters are read between reports.
    counters_every: std::time::Duration,
}

impl std::fmt::Debug for GcTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcTracker")
            .field("jvms", &self.jvms.keys().collect::<Vec<_>>())
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The `window` names of [`GcWindow`].
const LAST_INTERVAL: &str = "last_interval";
/// See [`LAST_INTERVAL`].
const JVM_LIFETIME: &str = "jvm_lifetime";

fn window(s: &StatsSnapshot, name: &str) -> GcWindow {
    GcWindow {
        window: name.to_owned(),
        pauses: crate::gc::event::PauseKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), *s.pauses.get(*k)))
            .collect(),
        overall: s.overall,
        wall_seconds: s.span_s,
        gc_ms_per_second: s.gc_ms_per_second,
        worst_minute_gc_ms_per_second: s.worst_minute_gc_ms_per_second,
        rates_null_because: s
            .gc_ms_per_second
            .is_none()
            .then(|| s.rates_null_because.clone())
            .flatten(),
        full_gcs: s.pauses.full.count,
        evacuation_failures: s.evacuation_failures,
        humongous_allocations: s.humongous_allocations,
        stalls: Some(GcStalls::of(&s.stalls)),
        safepoints: Some(GcSafepoints::of(&s.safepoints)),
    }
}

impl GcTracker {
    /// Reads the known JVMs' new GC log lines into their accumulators,
    /// between reports: a set that wraps faster than the report interval
    /// loses nothing as long as it does not wrap between two reads.
    pub fn read_logs(&mut self, host: &Host, metrics: &Metrics) {
        for state in self.jvms.values_mut().chain(self.extra.values_mut()) {
            state.poll(metrics);
        }
        // The counters too, a few times an interval: the worst stretch.
        for state in self.jvms.values_mut() {
            if let Some(c) = state.counters.as_mut() {
                c.sample(host, self.counters_every);
            }
        }
    }

    /// Matching JVMs the last poll did not follow (past the cap).
    pub fn not_followed(&self) -> usize {
        self.not_followed
    }

    /// Finds the JVMs (the Kafka-family processes `procs`, and what
    /// `jvm_match` names), reads their new GC log lines and reports on
    /// each, judged by its role's profile. The interval accumulators start
    /// again after this call.
    pub fn poll(
        &mut self,
        host: &Host,
        cfg: &Config,
        roles: &super::roles::RoleWatch,
        procs: &[KafkaProcess],
        metrics: &Metrics,
    ) -> Vec<JvmReport> {
        let mut found: Vec<(Jvm, Option<&KafkaProcess>)> =
            procs.iter().map(|p| (p.jvm.clone(), Some(p))).collect();
        for jvm in find_jvms(host, &cfg.jvm_match) {
            if !found.iter().any(|(j, _)| j.pid == jvm.pid) {
                found.push((jvm, None));
            }
        }
        found.sort_by_key(|(j, _)| j.pid);
        // A bound on the JVMs followed (each costs memory and a descriptor):
        // those already followed first, then by pid.
        let cap = crate::agent::fit::MAX_JVMS;
        self.not_followed = found.len().saturating_sub(cap);
        if found.len() > cap {
            found.sort_by_key(|(j, _)| (!self.jvms.contains_key(&j.pid), j.pid));
            found.truncate(cap);
            found.sort_by_key(|(j, _)| j.pid);
        }
        self.counters_every = cfg.interval / READS_PER_INTERVAL;
        let mut out = Vec::new();
        // A JVM that exited gets one last report: the lines it wrote before
        // exiting complete its lifetime totals.
        let gone: Vec<i32> = self
            .jvms
            .keys()
            .filter(|pid| !found.iter().any(|(j, _)| j.pid == **pid))
            .copied()
            .collect();
        for pid in gone {
            if let Some(mut state) = self.jvms.remove(&pid) {
                state.poll(metrics);
                let profile = roles.profile_for(state.who.role);
                let opts = jvm_options(&state, profile);
                let mut r = report(pid, &mut state, &opts);
                r.exited = true;
                // Its file went with it: no counters in its last entry.
                r.counters = None;
                r.profile = Some(profile.name.clone());
                out.push(r);
            }
        }
        for (jvm, kafka) in found {
            let pid = jvm.pid;
            let state = self.jvms.entry(pid).or_insert_with(|| {
                let (command, flags) = (jvm.summary(), jvm.flags());
                let mut s = JvmState::new(jvm.cmdline, command, flags, jvm.gc_logs);
                s.who = kafka.map(Identity::of).unwrap_or_default();
                s.counters = cfg.jvm_counters.then(|| CounterWatch::new(pid));
                s
            });
            let profile = roles.profile_for(state.who.role);
            state.use_stall_rule(AnalyseOptions::default().with_profile(profile).stall);
            // The counters before and after the log: pauses that ran while
            // it was read are neither missed nor called a loss.
            if let Some(c) = state.counters.as_mut() {
                c.before_log(host);
            }
            state.poll(metrics);
            if let Some(c) = state.counters.as_mut() {
                c.after_log(host, self.counters_every);
            }
            let opts = jvm_options(state, profile);
            let mut r = report(pid, state, &opts);
            r.profile = Some(profile.name.clone());
            out.push(r);
        }
        let primary = roles.profile_for(None);
        let rule = AnalyseOptions::default().with_profile(primary).stall;
        for pattern in &cfg.gc_logs {
            let state = self.extra.entry(pattern.clone()).or_insert_with(|| {
                JvmState::new(
                    Vec::new(),
                    format!("gc log {pattern}"),
                    Vec::new(),
                    vec![PathBuf::from(pattern)],
                )
            });
            state.use_stall_rule(rule);
            state.poll(metrics);
            let mut r = report(0, state, &AnalyseOptions::default().with_profile(primary));
            r.profile = Some(primary.name.clone());
            out.push(r);
        }
        out
    }
}

/// Analysis options for one JVM: its command line completes what its log
/// says, its role's profile sets the levels and rules, its role's
/// timeouts the budget.
fn jvm_options(state: &JvmState, profile: &Profile) -> AnalyseOptions {
    AnalyseOptions {
        jvm_args: (!state.cmdline.is_empty()).then(|| state.cmdline.clone()),
        timeouts: match &state.who.timeouts {
            Some(Ok(t)) => t.clone(),
            _ => Vec::new(),
        },
        ..AnalyseOptions::default()
    }
    .with_profile(profile)
}

/// The interval's rate over its real length, `seconds` (the time since
/// the previous report): pause time per second, and no pause a rate of 0.
fn over_interval(s: &mut StatsSnapshot, seconds: f64) {
    let total = s.overall.total_ms;
    if total > seconds * 1000.0 {
        // More pause than time: the log's stamps and the clock disagree
        // (lines written long before they were read); keep the log's own.
        return;
    }
    s.gc_ms_per_second = Some(crate::gc::hist::round3(total / seconds));
    if s.overall.count == 0 {
        s.worst_minute_gc_ms_per_second = Some(0.0);
    }
    s.span_s = Some(crate::gc::hist::round3(seconds));
}

/// Why this JVM's GC figures are missing or empty, when they are: "no
/// pauses" must never hide an unreadable or absent log.
fn log_problem(state: &JvmState) -> Option<(Status, String)> {
    let Some(log) = &state.log else {
        return Some((
            Status::NotApplicable,
            "the JVM's command line names no GC log file (-Xlog:gc*:file=... or -Xloggc:)".into(),
        ));
    };
    if let Some(why) = &log.refused {
        return Some((Status::NotApplicable, why.clone()));
    }
    match log.follower.problem()? {
        Problem::Missing(why) => Some((Status::NotApplicable, why.clone())),
        Problem::Unreadable(why) => Some((
            Status::Unreadable,
            format!("{why}: {}", access_remedy(log.follower.base())),
        )),
    }
}

/// What the follower's bounds cut, as findings beside the GC figures: the
/// figures are short by what was not read, and the operator must know why.
fn bounded_findings(b: &Bounded) -> Vec<crate::finding::Finding> {
    use crate::agent::follow::{MAX_DIR_ENTRIES, MAX_GZ_BYTES, MAX_LINE_BYTES, MAX_SET_FILES};
    let finding =
        |key: &str, expected: &str, actual: String, detail: String| crate::finding::Finding {
            check: "gc".into(),
            key: key.into(),
            expected: expected.into(),
            actual: Some(actual),
            status: Status::Unreadable,
            source: None,
            detail: Some(detail),
            waiver: None,
        };
    let mut out = Vec::new();
    if b.refused_total > 0 {
        out.push(finding(
            "log_refused",
            "regular files only in the GC log set",
            format!("{} not regular", b.refused_total),
            format!(
                "{}{}",
                b.refused.join("; "),
                if b.refused_total > b.refused.len() {
                    format!(" (and {} more)", b.refused_total - b.refused.len())
                } else {
                    String::new()
                }
            ),
        ));
    }
    if b.long_lines > 0 {
        out.push(finding(
            "log_lines",
            &format!("lines of at most {} KiB", MAX_LINE_BYTES >> 10),
            format!("{} longer lines", b.long_lines),
            format!(
                "{} lines longer than {} KiB were skipped, not parsed (no G1 line is that long: a file without newlines, or not a GC log)",
                b.long_lines,
                MAX_LINE_BYTES >> 10
            ),
        ));
    }
    if b.files_over > 0 || b.dir_cut {
        out.push(finding(
            "log_files",
            &format!("at most {MAX_SET_FILES} files in the set"),
            format!("{} more", b.files_over),
            format!(
                "the set holds more files than the JVM's own maximum (filecount 1000){}: the newest {MAX_SET_FILES} are followed, {} older ones are not read",
                if b.dir_cut {
                    format!(", in a directory of more than {MAX_DIR_ENTRIES} names (the rest not looked at)")
                } else {
                    String::new()
                },
                b.files_over
            ),
        ));
    }
    if b.gz_cut > 0 {
        out.push(finding(
            "log_gz",
            &format!("compressed members of at most {} MiB", MAX_GZ_BYTES >> 20),
            format!("{} cut", b.gz_cut),
            format!(
                "{} .gz members inflate past {} MiB: read up to there",
                b.gz_cut,
                MAX_GZ_BYTES >> 20
            ),
        ));
    }
    out
}

/// Why the agent may not read a GC log and what to do: the directory or
/// file that keeps it out, with its mode, owner and group, and the unit
/// drop-in that gives the agent that group (the README's "The services").
fn access_remedy(log: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let dir = log.parent().unwrap_or(std::path::Path::new("/"));
    let blocked = [
        (
            dir,
            nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::X_OK,
        ),
        (log, nix::unistd::AccessFlags::R_OK),
    ]
    .into_iter()
    .find(|(p, mode)| p.exists() && nix::unistd::access(*p, *mode).is_err());
    let Some((path, _)) = blocked else {
        return "the agent needs read access to it and its directory".into();
    };
    let Ok(meta) = std::fs::metadata(path) else {
        return "the agent needs read access to it and its directory".into();
    };
    let owner = nix::unistd::User::from_uid(meta.uid().into())
        .ok()
        .flatten()
        .map_or_else(|| meta.uid().to_string(), |u| u.name);
    let group = nix::unistd::Group::from_gid(meta.gid().into())
        .ok()
        .flatten()
        .map(|g| g.name);
    let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map_or_else(|| nix::unistd::geteuid().to_string(), |u| u.name);
    format!(
        "{} is {:04o} {owner}:{}, and the agent runs as {me}: give it the group with a drop-in (systemctl edit tunekeeper-agent: [Service] SupplementaryGroups={}; README, \"The services\")",
        path.display(),
        meta.mode() & 0o7777,
        group.as_deref().unwrap_or("?"),
        group.as_deref().unwrap_or("GROUP"),
    )
}

fn report(pid: i32, state: &mut JvmState, opts: &AnalyseOptions) -> JvmReport {
    // The longest stop the counters prove, for a log without safepoint lines.
    let counter_stop = state.counters.as_ref().and_then(CounterWatch::stop_bound);
    let with_counters;
    let opts = if counter_stop.is_some() {
        with_counters = AnalyseOptions {
            counter_stop,
            ..opts.clone()
        };
        &with_counters
    } else {
        opts
    };
    let interval = std::mem::replace(
        &mut state.interval,
        GcStats::with_stall_rule(state.stall_rule),
    );
    let has_log = state.log.is_some();
    let now = std::time::Instant::now();
    let since_last = state
        .last_report
        .replace(now)
        .map(|t| now.duration_since(t).as_secs_f64());
    let mut interval = interval.snapshot();
    // The interval's rate is over the interval: a quiet controller's two
    // pauses a second apart are not 10 ms/s over a minute. Only for a log
    // read without trouble (an unreadable log's rate stays unknown), and
    // not the first report of a JVM (its interval is the log's past).
    let log_readable = state
        .log
        .as_ref()
        .is_some_and(|l| l.parser.is_some() && l.refused.is_none())
        && log_problem(state).is_none();
    if let Some(window) = since_last.filter(|w| *w > 0.0 && log_readable) {
        over_interval(&mut interval, window);
    }
    let whose = if state.who.roles.is_empty() {
        state.command.clone()
    } else {
        state.who.roles.join("+")
    };
    // Flag rules and service levels over the JVM's life, as `tunekeeper gc` would report them.
    let analysis = build(state.total.clone(), opts, Vec::new());
    // The log is checked against the counters only when it was read
    // without trouble; otherwise the counters are its only GC figures.
    let counters = state
        .counters
        .as_mut()
        .map(|c| c.report(log_readable.then_some(&analysis.stats), &whose));
    let mut findings = analysis.findings;
    if !log_readable {
        // Levels judged on a log not read would be judged on nothing (no
        // full GC in an empty log is no news): the JVM's own counters
        // judge the levels they can, the rest are as unknown as the log.
        let levels: Vec<&str> = opts.levels.iter().map(|l| l.metric.as_str()).collect();
        findings.retain(|f| !(f.check == "gc" && levels.contains(&f.key.as_str())));
        let (status, why) = log_problem(state).unwrap_or_else(|| {
            (
                Status::NotApplicable,
                "the GC log holds no line the agent could read yet".into(),
            )
        });
        let life = counters
            .as_ref()
            .filter(|c| c.counters.state == crate::report::counters_state::READ)
            .and_then(|c| c.counters.total.as_ref())
            .filter(|w| w.window == JVM_LIFETIME);
        findings.extend(crate::gc::slo::evaluate_without_log(
            life,
            &opts.levels,
            (status, &why),
        ));
    }
    // Service levels are checked over the lifetime, while the report's
    // headline figures are the interval's: each finding says its window.
    for f in findings.iter_mut().filter(|f| f.check == "gc") {
        f.detail = Some(match f.detail.take() {
            Some(d) => format!("over the JVM's lifetime; {d}"),
            None => "over the JVM's lifetime".into(),
        });
    }
    let gc_ids_missing = state.ledger.ids_missing();
    if let Some(n) = gc_ids_missing.filter(|n| *n > 0) {
        // The lifetime counts are short by these collections: say so beside them.
        findings.push(crate::finding::Finding {
            check: "gc".into(),
            key: "gc_ids_missing".into(),
            expected: "every GC of the JVM's life read".into(),
            actual: Some(format!("{n} GC ids never read")),
            status: Status::Unreadable,
            source: None,
            detail: Some(format!(
                "{n} collections were deleted by the log rotation before the agent read them \
                 (the set wrapped between two reads, or before the agent started): the lifetime \
                 counts lack them; a larger filecount or filesize keeps them"
            )),
            waiver: None,
        });
    }
    if let Some(log) = state.log.as_mut() {
        findings.extend(bounded_findings(&log.follower.take_bounded()));
    }
    if let Some(Err(why)) = &state.who.timeouts {
        // A Kafka-family JVM without a budget says why, beside its GC figures.
        findings.push(crate::finding::Finding {
            check: "gc".into(),
            key: "timeouts".into(),
            expected: "its roles' timeouts, from its configuration".into(),
            actual: None,
            status: Status::Unreadable,
            source: None,
            detail: Some(format!(
                "{why}: its pauses are not weighed against its timeouts"
            )),
            waiver: None,
        });
    }
    if let Some((status, why)) = log_problem(state) {
        findings.push(crate::finding::Finding {
            check: "gc".into(),
            key: "log".into(),
            expected: "a readable G1 log".into(),
            actual: None,
            status,
            source: None,
            detail: Some(why),
            waiver: None,
        });
    }
    let counters = counters.map(|out| {
        findings.extend(out.findings);
        out.counters
    });
    JvmReport {
        pid,
        command: state.command.clone(),
        roles: state.who.roles.clone(),
        profile: None,
        config: state.who.config.clone(),
        flags: state.flags.clone(),
        findings,
        gc_logs: state.logs.iter().map(|p| p.display().to_string()).collect(),
        exited: false,
        gc: has_log.then(|| GcReport {
            interval: window(&interval, LAST_INTERVAL),
            total: window(&analysis.stats, JVM_LIFETIME),
            gc_ids_missing,
            lines: state.log.as_ref().map(|l| l.tally.report()),
        }),
        counters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LOG: &str = "[2026-11-24T10:00:00.000+0000][gc] Using G1\n\
[2026-11-24T10:00:01.000+0000][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 3.000ms\n";
    const MORE: &str = "[2026-11-24T10:00:02.000+0000][gc] GC(1) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 5.000ms\n";
    const RESTART: &str = "[2026-11-24T11:00:00.000+0000][gc] Using G1\n\
[2026-11-24T11:00:01.000+0000][gc] GC(0) Pause Full (System.gc()) 24M->4M(256M) 50.000ms\n";

    #[test]
    fn interval_and_total_windows_and_restarts() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("gc.log");
        std::fs::write(&path, LOG).unwrap();
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), vec![path.clone()]);
        let metrics = Metrics::new("p", "h");
        let opts = AnalyseOptions::default();
        state.poll(&metrics);
        let r = report(1, &mut state, &opts);
        let gc = r.gc.unwrap();
        assert_eq!((gc.interval.overall.count, gc.total.overall.count), (1, 1));

        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(MORE.as_bytes())
            .unwrap();
        state.poll(&metrics);
        let gc = report(1, &mut state, &opts).gc.unwrap();
        assert_eq!(
            (gc.interval.overall.count, gc.total.overall.count),
            (1, 2),
            "nothing counted twice"
        );
        assert_eq!(gc.interval.overall.total_ms, 5.0);
        assert_eq!(gc.total.overall.total_ms, 8.0);

        state.poll(&metrics);
        let gc = report(1, &mut state, &opts).gc.unwrap();
        assert_eq!(gc.interval.overall.count, 0, "a quiet interval");

        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(RESTART.as_bytes())
            .unwrap();
        state.poll(&metrics);
        let gc = report(1, &mut state, &opts).gc.unwrap();
        assert_eq!(
            (gc.total.overall.count, gc.total.full_gcs),
            (1, 1),
            "a restart starts a new life"
        );
        assert!(
            metrics
                .encode()
                .contains("tunekeeper_gc_pause_seconds_count{kind=\"young\"} 2")
        );
    }

    /// A quiet JVM's interval rate is over the interval, not over the
    /// second its two pauses span (that gave 8 ms/s for 8 ms in a minute);
    /// a quiet interval is 0, an unread log stays unknown.
    #[test]
    fn the_interval_rate_is_over_the_interval() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("gc.log");
        std::fs::write(&path, LOG).unwrap();
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), vec![path.clone()]);
        let metrics = Metrics::new("p", "h");
        let opts = AnalyseOptions::default();
        state.poll(&metrics);
        report(1, &mut state, &opts);
        // Two pauses a second apart, read a minute after the last report.
        let two = "[2026-11-24T10:00:30.000+0000][gc] GC(1) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 3.000ms\n\
[2026-11-24T10:00:31.000+0000][gc] GC(2) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 5.000ms\n";
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(two.as_bytes())
            .unwrap();
        state.last_report = Some(std::time::Instant::now() - std::time::Duration::from_secs(60));
        state.poll(&metrics);
        let gc = report(1, &mut state, &opts).gc.unwrap();
        let rate = gc.interval.gc_ms_per_second.unwrap();
        assert!(
            (0.13..=0.134).contains(&rate),
            "8 ms over 60 s, not over 1 s: {rate}"
        );
        assert!(gc.interval.wall_seconds.unwrap() >= 60.0);
        // Nothing new: a quiet interval is a rate of 0.
        state.last_report = Some(std::time::Instant::now() - std::time::Duration::from_secs(60));
        state.poll(&metrics);
        let gc = report(1, &mut state, &opts).gc.unwrap();
        assert_eq!(gc.interval.gc_ms_per_second, Some(0.0));
        // A log that cannot be read: unknown, not 0.
        let mut lost = JvmState::new(
            Vec::new(),
            "x".into(),
            Vec::new(),
            vec![t.path().join("absent/gc.log")],
        );
        lost.poll(&metrics);
        report(2, &mut lost, &opts);
        lost.last_report = Some(std::time::Instant::now() - std::time::Duration::from_secs(60));
        lost.poll(&metrics);
        assert_eq!(
            report(2, &mut lost, &opts)
                .gc
                .unwrap()
                .interval
                .gc_ms_per_second,
            None
        );
    }

    #[test]
    fn the_report_counts_lines_by_what_they_were() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("gc.log");
        std::fs::write(
            &path,
            "[0.001s][info ] jvm_args: -XX:+UseG1GC\n\
[0.002s][debug] loadInstanceThreadQ threads:0x00007f0fb402fd40,\n\
[0.003s][info ] Using G1\n\
[0.1s][info ] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 12M->1M(256M) 1.246ms\n\
[0.2s][info ] A line of no known shape\n",
        )
        .unwrap();
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), vec![path]);
        let metrics = Metrics::new("p", "h");
        state.poll(&metrics);
        let gc = report(1, &mut state, &AnalyseOptions::default())
            .gc
            .unwrap();
        let lines = gc.lines.unwrap();
        assert_eq!((lines.read, lines.unrecognised, lines.other), (5, 1, 2));
        assert_eq!(lines.other_kinds.get("class"), Some(&1));
        assert_eq!(lines.other_kinds.get("arguments"), Some(&1));
        assert_eq!(gc.total.overall.count, 1);
    }

    /// Hands `text`'s lines to `state` as a stream over a fresh parser would.
    fn feed(state: &mut JvmState, text: &str, metrics: &Metrics) {
        let mut p = new_parser(LogFormat::UnifiedG1).unwrap();
        let mut items = Vec::new();
        for l in text.lines() {
            if let Some(id) = line_gc_id(l.as_bytes()) {
                items.push(Item::Id(id));
            }
            p.feed(l.as_bytes(), &mut |ev| items.push(Item::Event(ev)));
        }
        for i in items {
            state.take(i, metrics);
        }
    }

    #[test]
    fn cpu_times_and_safepoints_delivered_twice_count_once() {
        let logs = vec![PathBuf::from("/nonexistent/gc.log")];
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), logs);
        let metrics = Metrics::new("p", "h");
        let text = "[2026-11-24T10:00:00.000+0000][gc] Using G1\n\
[2026-11-24T10:00:01.000+0000][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 500.000ms\n\
[2026-11-24T10:00:01.000+0000][gc,cpu] GC(0) User=0.00s Sys=0.00s Real=0.50s\n\
[2026-11-24T10:00:01.001+0000][safepoint] Safepoint \"G1CollectForAllocation\", Time since last: 1000 ns, Reaching safepoint: 2000 ns, At safepoint: 500000000 ns, Total: 500002000 ns\n\
[2026-11-24T10:00:02.000+0000][safepoint] Safepoint \"Cleanup\", Time since last: 1000 ns, Reaching safepoint: 3000000 ns, At safepoint: 1000 ns, Total: 3001000 ns\n";
        feed(&mut state, text, &metrics);
        feed(&mut state, text, &metrics);
        let s = state.total.snapshot();
        assert_eq!(s.overall.count, 1);
        assert_eq!(s.stalls.pauses_with_cpu, 1);
        assert_eq!(s.stalls.stalled_pauses, Some(1));
        assert_eq!(s.safepoints.count, 2, "each stop once");
        assert_eq!(s.safepoints.non_gc_count, Some(1));
        let r = report(1, &mut state, &AnalyseOptions::default());
        let gc = r.gc.unwrap();
        assert_eq!(gc.total.stalls.map(|t| t.worst.len()), Some(1));
        assert_eq!(
            gc.total.safepoints.and_then(|t| t.time_to_safepoint_max_ms),
            Some(3.0)
        );
    }

    #[test]
    fn lines_delivered_twice_count_once_and_a_header_met_again_is_no_restart() {
        // The lines come from `feed`, not from this (absent) file.
        let logs = vec![PathBuf::from("/nonexistent/gc.log")];
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), logs);
        let metrics = Metrics::new("p", "h");
        let text = format!("{LOG}{MORE}");
        feed(&mut state, &text, &metrics);
        // The whole set again, header included (a file read twice).
        feed(&mut state, &text, &metrics);
        feed(&mut state, MORE, &metrics);
        let s = state.total.snapshot();
        assert_eq!(s.overall.count, 2, "each pause once");
        assert_eq!(s.overall.total_ms, 8.0);
        assert_eq!(state.repeats, 3);
        assert_eq!(state.ledger.ids_missing(), Some(0));

        // Collections 2..=4 never read (deleted before the agent got there).
        let gap = "[2026-11-24T10:00:09.000+0000][gc] GC(5) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 1.000ms\n";
        feed(&mut state, gap, &metrics);
        let r = report(1, &mut state, &AnalyseOptions::default());
        assert_eq!(r.gc.as_ref().unwrap().gc_ids_missing, Some(3));
        assert_eq!(r.gc.as_ref().unwrap().total.overall.count, 3);
        let f = r
            .findings
            .iter()
            .find(|f| f.key == "gc_ids_missing")
            .unwrap();
        assert_eq!(f.status, Status::Unreadable);

        // A JVM started later (its events are later in time) is a new life.
        feed(&mut state, RESTART, &metrics);
        let s = state.total.snapshot();
        assert_eq!((s.overall.count, s.pauses.full.count), (1, 1));
        assert_eq!(state.ledger.ids_missing(), Some(0));
    }

    #[test]
    fn every_gc_figure_names_its_window() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("gc.log");
        std::fs::write(&path, format!("{LOG}{MORE}")).unwrap();
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), vec![path]);
        state.poll(&Metrics::new("p", "h"));
        let opts = AnalyseOptions {
            levels: vec![crate::gc::slo::Level::parse("full_gcs", "<=0", None).unwrap()],
            ..AnalyseOptions::default()
        };
        let r = report(1, &mut state, &opts);
        let gc = r.gc.unwrap();
        assert_eq!(gc.interval.window, "last_interval");
        assert_eq!(gc.total.window, "jvm_lifetime");
        let f = r.findings.iter().find(|f| f.key == "full_gcs").unwrap();
        assert!(
            f.detail
                .as_deref()
                .unwrap_or("")
                .starts_with("over the JVM's lifetime"),
            "{f:?}"
        );
        let json = serde_json::to_value(&gc).unwrap();
        assert_eq!(json["interval"]["window"], "last_interval");
    }

    #[test]
    fn heap_fixed_drifts_for_a_jvm_without_xms() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("gc.log");
        // The log says initial = max = 256M (the ergonomic initial size is
        // capped by -Xmx), not the minimum; the command line has no -Xms.
        let log = "[0.005s][info][gc] Using G1\n\
[0.006s][info][gc,init] Heap Initial Capacity: 256M\n\
[0.006s][info][gc,init] Heap Max Capacity: 256M\n\
[0.100s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 3.000ms\n";
        std::fs::write(&path, log).unwrap();
        let cmdline: Vec<String> = ["java", "-Xmx256m", "-XX:+UseG1GC", "kafka.Kafka"]
            .map(String::from)
            .to_vec();
        let mut state = JvmState::new(cmdline.clone(), "x".into(), Vec::new(), vec![path]);
        state.poll(&Metrics::new("p", "h"));
        let opts = AnalyseOptions {
            jvm_args: Some(cmdline),
            ..AnalyseOptions::default()
        };
        let r = report(1, &mut state, &opts);
        let f = r.findings.iter().find(|f| f.key == "heap_fixed").unwrap();
        assert_eq!(f.status, Status::Drift, "{f:?}");
        assert_eq!(f.actual.as_deref(), Some("no -Xms / max 256M"));
    }

    #[test]
    fn a_log_of_another_collector_is_refused_once() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("gc.log");
        std::fs::write(&path, "[0.010s][info][gc] Using Parallel\n[0.2s][info][gc] GC(0) Pause Young (Allocation Failure) 1M->0M(2M) 1.0ms\n").unwrap();
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), vec![path]);
        state.poll(&Metrics::new("p", "h"));
        let r = report(1, &mut state, &AnalyseOptions::default());
        let f = r.findings.iter().find(|f| f.key == "log").unwrap();
        assert!(f.detail.as_ref().unwrap().contains("Parallel"), "{f:?}");
        assert_eq!(r.gc.unwrap().total.overall.count, 0);
    }
    /// The levels of the built-in broker profile.
    fn broker_levels() -> AnalyseOptions {
        let store = crate::profile::ProfileStore::with_dirs(Vec::new());
        AnalyseOptions::default().with_profile(&store.load("kafka-broker").unwrap())
    }

    fn level<'a>(r: &'a JvmReport, key: &str) -> &'a crate::finding::Finding {
        r.findings
            .iter()
            .find(|f| f.check == "gc" && f.key == key)
            .unwrap_or_else(|| panic!("no gc {key} in {:#?}", r.findings))
    }

    /// A log the agent did not read judges no level: main said `full_gcs`
    /// `ok` (no full GC in the empty log it never read). Without counters
    /// every level is as unknown as the log, and says why.
    #[test]
    fn a_log_not_read_judges_no_level_on_nothing() {
        let t = tempfile::tempdir().unwrap();
        let mut state = JvmState::new(
            Vec::new(),
            "x".into(),
            Vec::new(),
            vec![t.path().join("absent/gc.log")],
        );
        state.poll(&Metrics::new("p", "h"));
        let r = report(1, &mut state, &broker_levels());
        let log = level(&r, "log");
        for key in [
            "full_gcs",
            "gc_ms_per_second",
            "pause_p99_ms",
            "evacuation_failures",
        ] {
            let f = level(&r, key);
            assert_ne!(f.status, Status::Ok, "{f:?}");
            assert_eq!(f.status, log.status, "as unknown as the log: {f:?}");
            assert_eq!(f.actual, None, "{f:?}");
            let d = f.detail.as_deref().unwrap();
            assert!(d.starts_with("over the JVM's lifetime; "), "{d}");
            assert!(d.contains("absent"), "the log's reason: {d}");
        }
        assert!(
            level(&r, "pause_p99_ms")
                .detail
                .as_deref()
                .unwrap()
                .contains("needs the GC log")
        );
    }

    /// With its counters read, the levels they can judge (rate and full
    /// GCs over the JVM's life, the window a logged JVM is judged over)
    /// are ordinary findings, said to be the counters'; percentiles stay
    /// unknown: they need the log.
    #[test]
    fn a_log_not_read_is_judged_by_its_own_counters() {
        use crate::jvm::perfdata::counters::tests::snap;
        let t = tempfile::tempdir().unwrap();
        let absent = || vec![t.path().join("absent/gc.log")];
        let metrics = Metrics::new("p", "h");
        // 60 s up: 2,100 ms of young pauses and one full GC of 300 ms,
        // 40 ms/s over its life.
        let hot = snap(
            (50, 2_100_000_000),
            (1, 300_000_000),
            (0, 0),
            (51, 1_000, 2_000),
            60_000_000_000,
        );
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), absent());
        state.counters = Some(CounterWatch::reading(7, &hot));
        state.poll(&metrics);
        let r = report(7, &mut state, &broker_levels());
        for (key, actual) in [("gc_ms_per_second", "40"), ("full_gcs", "1")] {
            let f = level(&r, key);
            assert_eq!(f.status, Status::Drift, "{f:?}");
            assert_eq!(f.actual.as_deref(), Some(actual), "{f:?}");
            assert_eq!(
                f.detail.as_deref(),
                Some("over the JVM's lifetime; from the JVM's own counters (no readable GC log)")
            );
            assert!(f.source.as_deref().unwrap().contains("LinkedIn"), "{f:?}");
        }
        let p99 = level(&r, "pause_p99_ms");
        assert_eq!(
            (p99.status, p99.actual.as_deref()),
            (Status::NotApplicable, None)
        );
        assert!(p99.detail.as_deref().unwrap().contains("needs the GC log"));
        assert!(
            r.gc.as_ref().is_some_and(|g| g.total.full_gcs == 0),
            "the log's figures stay the log's"
        );

        // Within the levels: ok, by the counters.
        let calm = snap(
            (50, 240_000_000),
            (0, 0),
            (0, 0),
            (51, 1_000, 2_000),
            60_000_000_000,
        );
        let mut state = JvmState::new(Vec::new(), "x".into(), Vec::new(), absent());
        state.counters = Some(CounterWatch::reading(8, &calm));
        state.poll(&metrics);
        let r = report(8, &mut state, &broker_levels());
        assert_eq!(level(&r, "gc_ms_per_second").status, Status::Ok);
        assert_eq!(level(&r, "gc_ms_per_second").actual.as_deref(), Some("4"));
        assert_eq!(level(&r, "full_gcs").status, Status::Ok);
    }
}
