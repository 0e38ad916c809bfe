//! Per-JVM GC tracking for the agent. Each interval it finds the broker
//! JVMs, follows each one's GC log set incrementally (never re-reading a
//! byte), and keeps two accumulators: one for the interval, one for the
//! JVM's life as far as its logs reach.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::agent::config::Config;
use crate::agent::follow::{LogFollower, Problem};
use crate::agent::metrics::Metrics;
use crate::finding::Status;
use crate::gc::analyse::{AnalyseOptions, build, new_parser};
use crate::gc::detect::{LogFormat, sniff};
use crate::gc::event::GcEvent;
use crate::gc::parser::LineParser;
use crate::gc::stats::{GcStats, StatsSnapshot};
use crate::host::Host;
use crate::jvm::find_jvms;
use crate::profile::Profile;
use crate::report::{GcReport, GcWindow, JvmReport};

/// Lines held back while a log's format is not yet known.
const SNIFF_LINES: usize = 200;

/// One followed GC log and its parser.
struct LogStream {
    follower: LogFollower,
    parser: Option<Box<dyn LineParser>>,
    held: Vec<Vec<u8>>,
    refused: Option<String>,
}

impl LogStream {
    fn new(path: PathBuf) -> LogStream {
        LogStream {
            follower: LogFollower::new(path),
            parser: None,
            held: Vec::new(),
            refused: None,
        }
    }

    /// Reads what is new and hands every event to `on_event`.
    fn poll(&mut self, on_event: &mut dyn FnMut(GcEvent)) {
        if self.refused.is_some() {
            return;
        }
        let LogStream {
            follower,
            parser,
            held,
            refused,
        } = self;
        let base = follower.base().to_path_buf();
        follower.poll(&mut |line| {
            if let Some(p) = parser.as_mut() {
                p.feed(line, on_event);
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
            if !decided && held.len() < SNIFF_LINES {
                return;
            }
            match new_parser(format) {
                Some(mut p) => {
                    for l in held.drain(..) {
                        p.feed(&l, on_event);
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

/// One JVM's GC state.
struct JvmState {
    cmdline: Vec<String>,
    /// What reports call it (`kafka.Kafka (-Xmx6g ...)`, `gc log PATH`).
    command: String,
    flags: Vec<String>,
    logs: Vec<PathBuf>,
    log: Option<LogStream>,
    total: GcStats,
    interval: GcStats,
}

impl JvmState {
    fn new(
        cmdline: Vec<String>,
        command: String,
        flags: Vec<String>,
        logs: Vec<PathBuf>,
    ) -> JvmState {
        JvmState {
            cmdline,
            command,
            flags,
            // A JVM with several gc outputs writes the same pauses to each: follow one.
            log: logs.first().cloned().map(LogStream::new),
            logs,
            total: GcStats::new(),
            interval: GcStats::new(),
        }
    }

    fn poll(&mut self, metrics: &Metrics) {
        let JvmState {
            log,
            total,
            interval,
            ..
        } = self;
        let Some(log) = log.as_mut() else { return };
        log.poll(&mut |ev| {
            match &ev {
                // A JVM start opens a new life: earlier lines in the set
                // belonged to the previous JVM.
                GcEvent::JvmStart(_) => {
                    *total = GcStats::new();
                    *interval = GcStats::new();
                }
                GcEvent::Pause(p) => metrics.observe_pause(p.kind.as_str(), p.duration_ms / 1000.0),
                _ => {}
            }
            total.add(&ev);
            interval.add(&ev);
        });
    }
}

/// State kept across intervals for every JVM and every extra log.
#[derive(Default)]
pub struct GcTracker {
    jvms: BTreeMap<i32, JvmState>,
    extra: BTreeMap<String, JvmState>,
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
        full_gcs: s.pauses.full.count,
        evacuation_failures: s.evacuation_failures,
        humongous_allocations: s.humongous_allocations,
    }
}

impl GcTracker {
    /// Finds the JVMs, reads their new GC log lines and reports on each.
    /// The interval accumulators start again after this call.
    pub fn poll(
        &mut self,
        host: &Host,
        cfg: &Config,
        profile: &Profile,
        metrics: &Metrics,
    ) -> Vec<JvmReport> {
        let found = find_jvms(host, &cfg.jvm_match);
        let mut out = Vec::new();
        // A JVM that exited gets one last report: the lines it wrote before
        // exiting complete its lifetime totals.
        let gone: Vec<i32> = self
            .jvms
            .keys()
            .filter(|pid| !found.iter().any(|j| j.pid == **pid))
            .copied()
            .collect();
        for pid in gone {
            if let Some(mut state) = self.jvms.remove(&pid) {
                state.poll(metrics);
                let opts = jvm_options(&state.cmdline, profile);
                let mut r = report(pid, &mut state, &opts);
                r.exited = true;
                out.push(r);
            }
        }
        for jvm in found {
            let pid = jvm.pid;
            let state = self.jvms.entry(pid).or_insert_with(|| {
                let (command, flags) = (jvm.summary(), jvm.flags());
                JvmState::new(jvm.cmdline, command, flags, jvm.gc_logs)
            });
            state.poll(metrics);
            let opts = jvm_options(&state.cmdline, profile);
            out.push(report(pid, state, &opts));
        }
        for pattern in &cfg.gc_logs {
            let state = self.extra.entry(pattern.clone()).or_insert_with(|| {
                JvmState::new(
                    Vec::new(),
                    format!("gc log {pattern}"),
                    Vec::new(),
                    vec![PathBuf::from(pattern)],
                )
            });
            state.poll(metrics);
            out.push(report(
                0,
                state,
                &AnalyseOptions::default().with_profile(profile),
            ));
        }
        out
    }
}

/// Analysis options for one JVM: its command line completes what its log says.
fn jvm_options(cmdline: &[String], profile: &Profile) -> AnalyseOptions {
    AnalyseOptions {
        jvm_args: (!cmdline.is_empty()).then(|| cmdline.to_vec()),
        ..AnalyseOptions::default()
    }
    .with_profile(profile)
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
            format!(
                "{why} (the agent needs read access: e.g. SupplementaryGroups=kafka in a unit drop-in)"
            ),
        )),
    }
}

fn report(pid: i32, state: &mut JvmState, opts: &AnalyseOptions) -> JvmReport {
    let interval = std::mem::take(&mut state.interval);
    let has_log = state.log.is_some();
    // Flag rules and service levels over the JVM's life, as `tunekeeper gc` would report them.
    let analysis = build(state.total.clone(), opts, Vec::new());
    let mut findings = analysis.findings;
    // Service levels are checked over the lifetime, while the report's
    // headline figures are the interval's: each finding says its window.
    for f in findings.iter_mut().filter(|f| f.check == "gc") {
        f.detail = Some(match f.detail.take() {
            Some(d) => format!("over the JVM's lifetime; {d}"),
            None => "over the JVM's lifetime".into(),
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
        });
    }
    JvmReport {
        pid,
        command: state.command.clone(),
        flags: state.flags.clone(),
        findings,
        gc_logs: state.logs.iter().map(|p| p.display().to_string()).collect(),
        exited: false,
        gc: has_log.then(|| GcReport {
            interval: window(&interval.snapshot(), LAST_INTERVAL),
            total: window(&analysis.stats, JVM_LIFETIME),
        }),
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
}
