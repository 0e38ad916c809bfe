//! The library entry point: paths in, [`Analysis`] out. Reads every file
//! once, streaming, through the parser for its format into one [`GcStats`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::budget::{self, TimeoutLimit};
use super::detect::{LogFormat, names_a_pause};
use super::error::GcError;
use super::event::GcEvent;
use super::flags::{self, JvmFlags};
use super::input::{self, InputFile};
use super::jdk8::Jdk8Parser;
use super::other::OtherKind;
use super::parser::{LineOutcome, LineParser};
use super::report::{Analysis, FileReport};
use super::slo::{self, Level};
use super::stall::StallRule;
use super::stats::GcStats;
use super::unified::UnifiedParser;
use crate::finding::Summary;

/// How many unrecognised lines are kept per file as examples.
const EXAMPLES: usize = 5;

/// Options of an analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalyseOptions {
    /// Only events at or after this wall-clock time (epoch ms).
    pub since_ms: Option<i64>,
    /// Only events before this wall-clock time (epoch ms).
    pub until_ms: Option<i64>,
    /// Service levels to check (from a profile's `[gc]` section).
    pub levels: Vec<Level>,
    /// The JVM command line, when known (completes what the log says).
    pub jvm_args: Option<Vec<String>>,
    /// JVM flag rules to check, with each one's source; `None` checks all.
    pub jvm_rules: Option<std::collections::BTreeMap<String, String>>,
    /// When a pause counts as stalled (profile `[gc]` `stall_ratio`,
    /// `stall_min_ms`).
    pub stall: StallRule,
    /// The broker's timeouts to weigh pauses against (empty: none known).
    pub timeouts: Vec<TimeoutLimit>,
    /// The share of a timeout a pause may take, percent (profile `[gc]`
    /// `timeout_share_percent`; `None`: [`budget::DEFAULT_SHARE_PERCENT`]).
    pub timeout_share_percent: Option<f64>,
    /// Where the share comes from (the profile's reason), for the findings.
    pub timeout_share_source: Option<String>,
    /// The running process the log belongs to (`gc --pid`): rates are
    /// judged by its real running time ([`super::running`]).
    pub running: Option<super::running::RunningJvm>,
    /// The longest stop the JVM's own counters prove (the agent's reads),
    /// weighed in the timeout budget when the log has no safepoint lines.
    pub counter_stop: Option<budget::CounterStop>,
}

impl AnalyseOptions {
    /// Takes the service levels (`[gc]`) and JVM flag rules (`[jvm]`) of a
    /// profile. The profile was validated when loaded, so every level parses.
    pub fn with_profile(mut self, p: &crate::profile::Profile) -> Self {
        for (key, s) in &p.gc {
            let Ok(l) = Level::parse(key, &s.expect.to_string(), None) else {
                continue;
            };
            match key.as_str() {
                slo::STALL_RATIO => self.stall.ratio = l.limit,
                slo::STALL_MIN_MS => self.stall.min_wait_ms = l.limit,
                slo::TIMEOUT_SHARE_PERCENT => {
                    self.timeout_share_percent = Some(l.limit);
                    self.timeout_share_source = Some(s.source());
                }
                _ => {}
            }
        }
        self.levels =
            p.gc.iter()
                .filter(|(metric, _)| !slo::PARAMETERS.contains(&metric.as_str()))
                .filter_map(|(metric, s)| {
                    Level::parse(metric, &s.expect.to_string(), Some(s.source())).ok()
                })
                .collect();
        self.jvm_rules = Some(
            p.jvm
                .iter()
                .map(|(rule, s)| (rule.clone(), s.source()))
                .collect(),
        );
        self
    }
}

/// A parser for a G1 format; `None` for anything else.
pub fn new_parser(format: LogFormat) -> Option<Box<dyn LineParser>> {
    match format {
        LogFormat::UnifiedG1 | LogFormat::UnifiedUnknown | LogFormat::Empty => {
            Some(Box::new(UnifiedParser::new()))
        }
        LogFormat::Jdk8G1 => Some(Box::new(Jdk8Parser::new())),
        _ => None,
    }
}

/// The parser for a file's format, or why it has none.
pub fn parser_for(format: LogFormat, file: &InputFile) -> Result<Box<dyn LineParser>, GcError> {
    new_parser(format).ok_or_else(|| match format {
        LogFormat::NotG1(c) => GcError::NotG1 {
            path: file.path.clone(),
            what: c.log_phrase(),
        },
        _ => GcError::NotGcLog {
            path: file.path.clone(),
        },
    })
}

/// Analyses the GC logs at `paths` (files, or directories holding a rotated
/// set), read in time order as one stream.
pub fn analyse(paths: &[PathBuf], opts: &AnalyseOptions) -> Result<Analysis, GcError> {
    analyse_with_progress(paths, opts, &|_, _| {})
}

/// Like [`analyse()`], calling `progress(bytes_read, total_bytes)` as the
/// files are read (file sizes on disk, so compressed bytes for gzip): once
/// per read buffer, often; `progress` decides how often to show anything.
pub fn analyse_with_progress(
    paths: &[PathBuf],
    opts: &AnalyseOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<Analysis, GcError> {
    let files = input::collect(paths)?;
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let mut done = 0u64;
    // Every file's parser must exist before anything is read, so an
    // unsupported file fails fast.
    for f in &files {
        parser_for(f.sniff.format, f)?;
    }
    let mut stats = GcStats::with_stall_rule(opts.stall);
    let mut reports = Vec::with_capacity(files.len());
    let mut current: Option<(LogFormat, Box<dyn LineParser>)> = None;
    for f in &files {
        let format = f.sniff.format;
        if format == LogFormat::Empty {
            reports.push(report_for(f, 0, 0, Vec::new()));
            continue;
        }
        // One parser across consecutive files of a format: a rotated
        // file continues the previous one's GC.
        let mut sink = Sink {
            stats: &mut stats,
            opts,
            error: None,
            path: &f.path,
            pauses: 0,
            skip_cpu: false,
        };
        if current.as_ref().is_none_or(|(fmt, _)| *fmt != format) {
            if let Some((_, mut old)) = current.take() {
                old.finish(&mut |ev| sink.take(ev));
            }
            current = Some((format, parser_for(format, f)?));
        }
        let Some((_, parser)) = current.as_mut() else {
            continue;
        };
        let mut unrecognised = 0u64;
        let mut other = OtherCounts::default();
        let mut examples = Vec::new();
        // Unrecognised lines that name a pause: (count, first line number, text).
        let mut unread_pauses: (u64, u64, String) = (0, 0, String::new());
        let mut line_no = 0u64;
        let reader = input::open_observed(&f.path, |n| {
            done += n as u64;
            progress(done, total);
        })?;
        let lines = input::for_each_line(reader, |line| {
            line_no += 1;
            let outcome = parser.feed(line, &mut |ev| sink.take(ev));
            if let LineOutcome::Other(kind) = outcome {
                other.add(kind);
            } else if outcome == LineOutcome::Unrecognised {
                unrecognised += 1;
                if names_a_pause(line) {
                    if unread_pauses.0 == 0 {
                        unread_pauses.1 = line_no;
                        unread_pauses.2 = String::from_utf8_lossy(line).chars().take(200).collect();
                    }
                    unread_pauses.0 += 1;
                }
                if examples.len() < EXAMPLES {
                    examples.push(String::from_utf8_lossy(line).chars().take(300).collect());
                }
            }
        })
        .map_err(|source| GcError::Io {
            path: f.path.clone(),
            source,
        })?;
        if let Some(err) = sink.error.take() {
            return Err(err);
        }
        if sink.pauses == 0 && unread_pauses.0 > 0 {
            return Err(GcError::PausesUnread {
                path: f.path.clone(),
                lines: unread_pauses.0,
                first_line: unread_pauses.1,
                example: unread_pauses.2,
            });
        }
        let mut report = report_for(f, lines, unrecognised, examples);
        (report.other_lines, report.other_kinds) = other.into_report();
        reports.push(report);
    }
    if let Some((_, mut parser)) = current.take() {
        let path = files.last().map(|f| f.path.clone()).unwrap_or_default();
        let mut sink = Sink {
            stats: &mut stats,
            opts,
            error: None,
            path: &path,
            pauses: 0,
            skip_cpu: false,
        };
        parser.finish(&mut |ev| sink.take(ev));
        if let Some(err) = sink.error.take() {
            return Err(err);
        }
    }
    Ok(build(stats, opts, reports))
}

/// Turns the accumulated statistics into the analysis with its findings.
pub fn build(stats: GcStats, opts: &AnalyseOptions, files: Vec<FileReport>) -> Analysis {
    let from_log = stats.jvm().map(JvmFlags::from_log).unwrap_or_default();
    let jvm_flags = match &opts.jvm_args {
        Some(args) => from_log.or(JvmFlags::from_args(args)),
        None => from_log,
    };
    let mut analysis = Analysis {
        stats: stats.snapshot(),
        flags: jvm_flags,
        findings: Vec::new(),
        summary: Summary::default(),
        files,
        timeout_budget: Vec::new(),
        jvm_counters: None,
    };
    if let Some(jvm) = &opts.running {
        super::running::judge(&mut analysis.stats, jvm);
    }
    let mut findings = flags::evaluate(&analysis.flags);
    if let Some(rules) = &opts.jvm_rules {
        findings.retain(|f| rules.contains_key(&f.key));
        for f in &mut findings {
            f.source = rules.get(&f.key).cloned();
        }
    }
    findings.extend(slo::evaluate(&analysis, &opts.levels));
    findings.extend(logging_findings(&analysis));
    if !opts.timeouts.is_empty() {
        let (checks, found) = budget::evaluate(
            &analysis,
            &opts.timeouts,
            opts.timeout_share_percent
                .unwrap_or(budget::DEFAULT_SHARE_PERCENT),
            opts.timeout_share_source.clone(),
            opts.counter_stop.as_ref(),
        );
        analysis.timeout_budget = checks;
        findings.extend(found);
    }
    analysis.summary = Summary::of(&findings);
    analysis.findings = findings;
    analysis
}

/// Advice when the log lacks the lines that tell where pause time went:
/// the figures are null, and this names the logging that would fill them.
fn logging_findings(a: &Analysis) -> Vec<crate::finding::Finding> {
    use crate::finding::{Finding, Status};
    if a.stats.overall.count == 0 {
        return Vec::new();
    }
    let jdk8 = a.files.iter().any(|f| f.format == LogFormat::Jdk8G1);
    let mut out = Vec::new();
    let mut missing = |key: &str, what: &str, unified: &str, old: &str| {
        out.push(Finding {
            check: "gc".into(),
            key: key.into(),
            expected: "logged".into(),
            actual: Some("absent".into()),
            status: Status::NotApplicable,
            source: None,
            detail: Some(format!(
                "the log has no {what}: run the JVM with {}",
                if jdk8 { old } else { unified }
            )),
            waiver: None,
        });
    };
    if a.stats.stalls.pauses_with_cpu == 0 {
        missing(
            "log_gc_cpu",
            "CPU times per pause, so stalled pauses cannot be told",
            "-Xlog:gc*,safepoint (gc+cpu is part of gc*)",
            "-XX:+PrintGCDetails",
        );
    }
    if a.stats.safepoints.count == 0 {
        missing(
            "log_safepoint",
            "safepoint lines, so time to safepoint and non-GC stops are unknown",
            "-Xlog:gc*,safepoint",
            "-XX:+PrintGCApplicationStoppedTime",
        );
    }
    out
}

fn report_for(f: &InputFile, lines: u64, unrecognised: u64, examples: Vec<String>) -> FileReport {
    FileReport {
        path: f.path.display().to_string(),
        format: f.sniff.format,
        lines,
        unrecognised_lines: unrecognised,
        unrecognised_examples: examples,
        other_lines: 0,
        other_kinds: BTreeMap::new(),
    }
}

/// Lines of other JVM output, by kind: a handful of kinds, so a short
/// list beats a map on the per-line path.
#[derive(Debug, Default, Clone)]
pub struct OtherCounts {
    kinds: Vec<(OtherKind, u64)>,
}

impl OtherCounts {
    /// Counts one line of `kind`.
    pub fn add(&mut self, kind: OtherKind) {
        match self.kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.kinds.push((kind, 1)),
        }
    }

    /// The total and the counts by kind name.
    pub fn into_report(self) -> (u64, BTreeMap<String, u64>) {
        let total = self.kinds.iter().map(|(_, n)| n).sum();
        let by_kind = self
            .kinds
            .into_iter()
            .map(|(k, n)| (k.name().to_owned(), n))
            .collect();
        (total, by_kind)
    }
}

/// Applies the time filter and feeds the statistics.
struct Sink<'a> {
    stats: &'a mut GcStats,
    opts: &'a AnalyseOptions,
    error: Option<GcError>,
    path: &'a std::path::Path,
    /// Pauses the parser emitted for this file (before the time filter).
    pauses: u64,
    /// The last pause was filtered out: so is its CPU line.
    skip_cpu: bool,
}

impl Sink<'_> {
    fn take(&mut self, ev: GcEvent) {
        if matches!(ev, GcEvent::Pause(_)) {
            self.pauses += 1;
        }
        if matches!(ev, GcEvent::PauseCpu(_)) && self.skip_cpu {
            return;
        }
        if self.opts.since_ms.is_some() || self.opts.until_ms.is_some() {
            let at = match &ev {
                GcEvent::JvmStart(_) => None,
                GcEvent::Pause(p) => Some(p.at),
                GcEvent::Concurrent(c) => Some(c.at),
                GcEvent::HumongousAllocation { at } => Some(*at),
                GcEvent::Safepoint(sp) => Some(sp.at),
                // Follows its pause, which the filter already judged.
                GcEvent::PauseCpu(_) => None,
            };
            if let Some(at) = at {
                let Some(wall) = at.wall_ms else {
                    if self.error.is_none() {
                        self.error = Some(GcError::NoWallClock {
                            path: self.path.to_path_buf(),
                        });
                    }
                    return;
                };
                let out = self.opts.since_ms.is_some_and(|s| wall < s)
                    || self.opts.until_ms.is_some_and(|u| wall >= u);
                if matches!(ev, GcEvent::Pause(_)) {
                    self.skip_cpu = out;
                }
                if out {
                    return;
                }
            }
        }
        self.stats.add(&ev);
    }
}
