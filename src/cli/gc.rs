//! `tunekeeper gc`: G1 log analysis.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use tunekeeper::gc::{AnalyseOptions, analyse_with_progress};
use tunekeeper::present::gc::{render_html, render_text};
use tunekeeper::profile::DEFAULT_PROFILE;

/// Inputs smaller than this are read before a bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 50 * 1024 * 1024;
/// Redraw at most ten times a second: a terminal is slow, a log is long.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Output formats of `tunekeeper gc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A report for people.
    Text,
    /// One JSON object.
    Json,
    /// One self-contained HTML page (charts and tables, works offline).
    Html,
}

/// Arguments of `tunekeeper gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// GC log files or directories holding a rotated set (read in time order).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-24T19:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// Check this profile's GC service levels (`[gc]`) and JVM flag rules
    /// (`[jvm]`); without it, the default profile's, as `audit` does.
    #[arg(long, short, default_value = DEFAULT_PROFILE)]
    pub profile: String,
    /// Read the JVM's flags from this running process's command line as well as from the log;
    /// when it is a Kafka broker, controller or ZooKeeper server, weigh pauses against the
    /// timeouts of its roles in its configuration.
    #[arg(long, value_name = "PID")]
    pub pid: Option<i32>,
    /// A Kafka properties file (server.properties): weigh the worst pause and stop against
    /// the timeouts of the roles its process.roles names (a broker's session, heartbeat and
    /// replica lag, the consumers' default session; a controller's quorum fetch and election).
    #[arg(long, value_name = "FILE")]
    pub broker_config: Option<PathBuf>,
}

/// Static causes of stalls for the JVM `--pid` names: its GC log on a data
/// directory's device, hsperfdata on a disk-backed /tmp, swap in use.
fn stall_causes(
    g: &super::Global,
    pid: i32,
    logs: &[PathBuf],
) -> Vec<tunekeeper::finding::Finding> {
    use tunekeeper::host::pressure::{StallSuspect, static_causes};
    let host = g.host();
    let Ok(cmdline) = host.cmdline(pid) else {
        return Vec::new();
    };
    let data_dirs: Vec<PathBuf> = tunekeeper::kafka::find_kafka_processes(&host)
        .iter()
        .find(|p| p.jvm.pid == pid)
        .map(|p| p.data_dirs().into_iter().map(|d| d.path).collect())
        .unwrap_or_default();
    let files: Vec<PathBuf> = logs.iter().filter(|p| p.is_file()).cloned().collect();
    static_causes(
        &host,
        &StallSuspect {
            pid,
            cmdline: &cmdline,
            gc_logs: &files,
            data_dirs: &data_dirs,
        },
    )
}

/// The timeouts to weigh pauses against: from `--broker-config` (its
/// `process.roles` says which), else from the Kafka-family process `--pid`
/// names, by its role (none when it is not one).
fn timeouts(
    g: &super::Global,
    args: &GcArgs,
) -> anyhow::Result<Vec<tunekeeper::gc::budget::TimeoutLimit>> {
    use tunekeeper::kafka::properties::Properties;
    use tunekeeper::kafka::timeouts::broker_timeouts;
    if let Some(path) = &args.broker_config {
        let text =
            tunekeeper::file_kind::read_text(path, tunekeeper::kafka::process::MAX_CONFIG_BYTES)
                .with_context(|| format!("--broker-config {}: cannot read", path.display()))?;
        let cfg = Properties::parse(&text).with_context(|| {
            format!("--broker-config {}: not a properties file", path.display())
        })?;
        return Ok(broker_timeouts(&cfg, path, &[])?);
    }
    let Some(pid) = args.pid else {
        return Ok(Vec::new());
    };
    let procs = tunekeeper::kafka::find_kafka_processes(&g.host());
    let Some(p) = procs.iter().find(|p| p.jvm.pid == pid) else {
        return Ok(Vec::new());
    };
    match p.timeouts() {
        Ok(t) => Ok(t),
        Err(e) => {
            tracing::warn!(
                "--pid {pid}: {} configuration not read ({e}): no timeout budget",
                p.role
            );
            Ok(Vec::new())
        }
    }
}

/// The process `--pid` names, with when it started: its rates are judged
/// by its real running time (`None` when its start cannot be read).
fn running_jvm(g: &super::Global, pid: i32) -> Option<tunekeeper::gc::running::RunningJvm> {
    let started_ms = tunekeeper::gc::running::process_started_ms(&g.host(), pid)?;
    let observed_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    Some(tunekeeper::gc::running::RunningJvm {
        pid,
        started_ms,
        observed_ms: observed_ms as i64,
    })
}

fn parse_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--{flag} {s}: not an RFC 3339 time"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Runs the analysis and returns the exit code (0 ok, 1 drift; errors are 2).
pub fn run(g: &super::Global, args: &GcArgs) -> anyhow::Result<u8> {
    let jvm_args = match args.pid {
        Some(pid) => Some(
            g.host()
                .cmdline(pid)
                .with_context(|| format!("--pid {pid}: cannot read its command line"))?,
        ),
        None => None,
    };
    let opts = AnalyseOptions {
        since_ms: args
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()?,
        until_ms: args
            .until
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()?,
        jvm_args,
        timeouts: timeouts(g, args)?,
        running: args.pid.and_then(|pid| running_jvm(g, pid)),
        ..AnalyseOptions::default()
    };
    let opts = opts.with_profile(&g.profile(&args.profile)?);
    // The JVM's own counters, read before and after its log.
    let counters_before = args
        .pid
        .map(|pid| tunekeeper::jvm::perfdata::report::probe(&g.host(), pid));
    let bar = RefCell::new(Progress::new(
        std::io::stderr(),
        std::io::stderr().is_terminal(),
        PROGRESS_MIN_BYTES,
    ));
    let result = analyse_with_progress(&args.paths, &opts, &|done, total| {
        bar.borrow_mut().update(done, total)
    });
    // Cleared before anything else is printed, error or not.
    bar.borrow_mut().clear();
    let mut analysis = result?;
    if let (Some(pid), Some(before)) = (args.pid, counters_before) {
        use tunekeeper::jvm::perfdata::{crosscheck::LogTotals, report};
        let after = report::probe(&g.host(), pid);
        let log = LogTotals::from_stats(&analysis.stats);
        analysis.jvm_counters = Some(report::report(before, after, &log));
    }
    if let Some(pid) = args.pid {
        let causes = stall_causes(g, pid, &args.paths);
        if !causes.is_empty() {
            analysis.findings.extend(causes);
            analysis.summary = tunekeeper::finding::Summary::of(&analysis.findings);
        }
    }
    let mut buf = Vec::with_capacity(16 * 1024);
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut buf, &analysis)?;
            buf.push(b'\n');
        }
        OutputFormat::Text => {
            // What the logs and the host said is shown, not executed.
            let mut text = Vec::with_capacity(16 * 1024);
            render_text(&analysis, &mut text)?;
            let text = String::from_utf8_lossy(&text);
            buf.extend_from_slice(tunekeeper::present::terminal::lines(&text).as_bytes());
        }
        OutputFormat::Html => render_html(&analysis, &mut buf)?,
    }
    match &args.output {
        Some(path) => std::fs::write(path, &buf)
            .with_context(|| format!("{}: cannot write", path.display()))?,
        None => std::io::stdout().lock().write_all(&buf)?,
    }
    Ok(analysis.exit_code())
}

/// A one-line progress bar on a terminal (stderr): only when it is a
/// terminal and the input is large, redrawn at most every
/// [`PROGRESS_EVERY`], erased at the end so nothing of it stays.
struct Progress<W: Write> {
    out: W,
    enabled: bool,
    min_bytes: u64,
    started: Instant,
    last_draw: Option<Instant>,
    drawn: bool,
}

impl<W: Write> Progress<W> {
    fn new(out: W, is_terminal: bool, min_bytes: u64) -> Self {
        Progress {
            out,
            enabled: is_terminal,
            min_bytes,
            started: Instant::now(),
            last_draw: None,
            drawn: false,
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        if !self.enabled || total < self.min_bytes {
            return;
        }
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < PROGRESS_EVERY)
        {
            return;
        }
        self.last_draw = Some(now);
        let line = bar_line(done, total, now.duration_since(self.started));
        // A failed write to stderr is no reason to stop the analysis.
        let _ = write!(self.out, "\r{line}\x1b[K");
        let _ = self.out.flush();
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            let _ = write!(self.out, "\r\x1b[K");
            let _ = self.out.flush();
            self.drawn = false;
        }
    }
}

/// `reading GC logs [#########...........]  45%  230 / 512 MB  85 MB/s`
fn bar_line(done: u64, total: u64, elapsed: Duration) -> String {
    const WIDTH: usize = 30;
    let done = done.min(total);
    let frac = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let full = ((frac * WIDTH as f64) as usize).min(WIDTH);
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        format!("  {:.0} MB/s", mb(done) / secs)
    } else {
        String::new()
    };
    format!(
        "reading GC logs [{}{}] {:>3.0}%  {:.0} / {:.0} MB{rate}",
        "#".repeat(full),
        ".".repeat(WIDTH - full),
        frac * 100.0,
        mb(done),
        mb(total),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_renders_fraction_size_and_rate() {
        let mb = 1024 * 1024;
        let line = bar_line(256 * mb, 512 * mb, Duration::from_secs(2));
        assert_eq!(
            line,
            "reading GC logs [###############...............]  50%  256 / 512 MB  128 MB/s"
        );
        let line = bar_line(600 * mb, 512 * mb, Duration::ZERO);
        assert!(
            line.contains("[##############################] 100%"),
            "{line}"
        );
    }

    #[test]
    fn silent_unless_terminal_and_large() {
        let mut p = Progress::new(Vec::new(), false, 10);
        p.update(5, 100);
        p.clear();
        assert!(p.out.is_empty(), "not a terminal");
        let mut p = Progress::new(Vec::new(), true, 1000);
        p.update(5, 100);
        p.clear();
        assert!(p.out.is_empty(), "small input");
    }

    #[test]
    fn draws_at_most_ten_times_a_second_and_clears() {
        let mut p = Progress::new(Vec::new(), true, 10);
        for i in 0..1000 {
            p.update(i, 1000);
        }
        let text = String::from_utf8(p.out.clone()).unwrap();
        assert_eq!(text.matches('\r').count(), 1, "one draw in a burst");
        p.clear();
        let text = String::from_utf8(p.out).unwrap();
        assert!(text.ends_with("\r\x1b[K"), "erased at the end");
    }
}
