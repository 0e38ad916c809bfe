//! `tunekeeper gc`: G1 log analysis.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use tunekeeper::gc::report::render_text;
use tunekeeper::gc::{AnalyseOptions, analyse};

/// Output formats of `tunekeeper gc` (HTML will join them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A report for people.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `tunekeeper gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// GC log files or directories holding a rotated set (read in time order).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
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
    /// Also check this profile's GC service levels (`[gc]`) and JVM flag rules (`[jvm]`).
    #[arg(long, short)]
    pub profile: Option<String>,
    /// Read the JVM's flags from this running process's command line as well as from the log.
    #[arg(long, value_name = "PID")]
    pub pid: Option<i32>,
}

fn parse_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--{flag} {s}: not an RFC 3339 time"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Runs the analysis and returns the exit code (0 ok, 1 drift; errors are 2).
pub fn run(g: &super::Global, args: &GcArgs) -> anyhow::Result<u8> {
    let jvm_args = match args.pid {
        Some(pid) => {
            let path = g.host().path(format!("/proc/{pid}/cmdline"));
            let raw = std::fs::read(&path)
                .with_context(|| format!("--pid {pid}: cannot read {}", path.display()))?;
            Some(
                raw.split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
            )
        }
        None => None,
    };
    let mut opts = AnalyseOptions {
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
        ..AnalyseOptions::default()
    };
    if let Some(name) = &args.profile {
        opts = opts.with_profile(&g.profile(name)?);
    }
    let analysis = analyse(&args.paths, &opts)?;
    let mut buf = Vec::with_capacity(16 * 1024);
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut buf, &analysis)?;
            buf.push(b'\n');
        }
        OutputFormat::Text => render_text(&analysis, &mut buf)?,
    }
    match &args.output {
        Some(path) => std::fs::write(path, &buf)
            .with_context(|| format!("{}: cannot write", path.display()))?,
        None => std::io::stdout().lock().write_all(&buf)?,
    }
    Ok(analysis.exit_code())
}
