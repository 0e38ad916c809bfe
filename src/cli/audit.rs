//! `tunekeeper audit`.

use tunekeeper::audit::{AuditReport, audit};
use tunekeeper::render::{findings_table, summary_line};

use super::{Global, print_json, stdout_colour};

/// Output formats of `tunekeeper audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// Aligned text for people.
    Table,
    /// One JSON document for programs.
    Json,
    /// JUnit XML for CI servers: one test case per check, drift as a
    /// failure, unreadable as an error, not-applicable as skipped.
    Junit,
}

/// Arguments of `tunekeeper audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Profile name or path to a .toml file. Without it: the profile of each
    /// role that runs here (kafka-broker, kraft-controller, zookeeper), else
    /// kafka-broker.
    #[arg(long, short)]
    pub profile: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
}

/// Audits and prints; exit 0 no drift, 1 drift, 2 could not run.
pub fn run(g: &Global, args: &AuditArgs) -> anyhow::Result<u8> {
    let host = g.host();
    let chosen: Vec<(String, Option<String>)> = match &args.profile {
        Some(p) => vec![(p.clone(), None)],
        None => tunekeeper::kafka::choose_profiles(&host)
            .into_iter()
            .map(|(name, why)| (name.to_string(), Some(why)))
            .collect(),
    };
    // Load every profile before auditing: a bad one stops the run whole.
    let mut profiles = Vec::new();
    for (name, why) in chosen {
        profiles.push((g.profile(&name)?, why));
    }
    let reports: Vec<AuditReport> = profiles
        .iter()
        .map(|(profile, why)| AuditReport {
            chosen_because: why.clone(),
            ..audit(profile, &host)
        })
        .collect();
    match args.format {
        // One object per profile: a host with one role prints one object,
        // as before; several roles print an array of them.
        AuditFormat::Json if reports.len() == 1 => print_json(&reports[0])?,
        AuditFormat::Json => print_json(&reports)?,
        AuditFormat::Junit => print!("{}", tunekeeper::junit::render(&reports)),
        AuditFormat::Table => {
            for (i, report) in reports.iter().enumerate() {
                if i > 0 {
                    println!();
                }
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
                if let Some(why) = &report.chosen_because {
                    println!("profile {}: {why}", report.profile);
                }
            }
        }
    }
    Ok(reports
        .iter()
        .map(|r| r.summary.exit_code())
        .max()
        .unwrap_or(0))
}
