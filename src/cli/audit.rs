//! `tunekeeper audit`.

use tunekeeper::audit::audit;
use tunekeeper::profile::DEFAULT_PROFILE;
use tunekeeper::render::{findings_table, summary_line};

use super::{Format, Global, print_json, stdout_colour};

/// Arguments of `tunekeeper audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Profile name or path to a .toml file.
    #[arg(long, short, default_value = DEFAULT_PROFILE)]
    pub profile: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Audits and prints; exit 0 no drift, 1 drift, 2 could not run.
pub fn run(g: &Global, args: &AuditArgs) -> anyhow::Result<u8> {
    let profile = g.profile(&args.profile)?;
    let report = audit(&profile, &g.host());
    match args.format {
        Format::Json => print_json(&report)?,
        Format::Table => {
            print!("{}", findings_table(&report.findings, stdout_colour()));
            println!(
                "\n{} on {}: {}",
                report.profile,
                if report.host.hostname.is_empty() {
                    "this host"
                } else {
                    &report.host.hostname
                },
                summary_line(&report.summary)
            );
        }
    }
    Ok(report.summary.exit_code())
}
