//! `tunekeeper audit`.

use std::io::Write as _;
use std::path::PathBuf;
use tunekeeper::present::terminal::text;

use tunekeeper::audit::{AuditReport, audit, audit_role};
use tunekeeper::finding::Summary;
use tunekeeper::kafka::HostRole;
use tunekeeper::present::text::{findings_table, summary_line};
use tunekeeper::waiver::{Scope, Waivers};

use super::{Global, print_json, stdout_colour};

/// Output formats of `tunekeeper audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// Aligned text for people.
    Table,
    /// One JSON document for programs.
    Json,
    /// JUnit XML for CI servers: one test case per check, drift as a
    /// failure, unreadable as an error, not-applicable and waived as skipped.
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
    /// Waivers file (accepted differences). Default:
    /// /etc/tunekeeper/waivers.toml when it exists.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// This host's cluster, for waivers scoped to a cluster. Default: the
    /// running broker's own cluster.id (as the agent finds it).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

/// Audits and prints; exit 0 no drift, 1 drift, 2 could not run.
pub fn run(g: &Global, args: &AuditArgs) -> anyhow::Result<u8> {
    let host = g.host();
    // Checked before anything else: a bad waivers file stops the run whole.
    let waivers = Waivers::load_default(args.waivers.as_deref(), &g.root)?;
    // A profile named by the user judges what its `[process] match` names;
    // profiles chosen for the roles that run judge their role's processes.
    let chosen: Vec<(String, Option<(String, HostRole)>)> = match &args.profile {
        Some(p) => vec![(p.clone(), None)],
        None => tunekeeper::kafka::choose_profiles(&host)
            .into_iter()
            .map(|(name, why)| {
                let role = HostRole::of_profile(name).unwrap_or(HostRole::Broker);
                (name.to_string(), Some((why, role)))
            })
            .collect(),
    };
    // Load every profile before auditing: a bad one stops the run whole.
    let mut profiles = Vec::new();
    for (name, why) in chosen {
        profiles.push((g.profile(&name)?, why));
    }
    let mut reports: Vec<AuditReport> = profiles
        .iter()
        .map(|(profile, why)| match why {
            Some((why, role)) => AuditReport {
                chosen_because: Some(why.clone()),
                ..audit_role(profile, &host, *role)
            },
            None => audit(profile, &host),
        })
        .collect();
    if !waivers.is_empty() {
        apply_waivers(&waivers, &host, args.cluster.as_deref(), &mut reports);
    }
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
                    text(&report.profile),
                    if report.host.hostname.is_empty() {
                        "this host".into()
                    } else {
                        text(&report.host.hostname)
                    },
                    summary_line(&report.summary)
                );
                if let Some(why) = &report.chosen_because {
                    println!("profile {}: {}", text(&report.profile), text(why));
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

/// Marks waived findings, recounts, and warns (stderr) of each waiver that
/// holds for this host but named no finding of any profile audited.
fn apply_waivers(
    waivers: &Waivers,
    host: &tunekeeper::host::Host,
    cluster: Option<&str>,
    reports: &mut [AuditReport],
) {
    let found = match cluster {
        Some(_) => None,
        None => tunekeeper::waiver::host_cluster(host),
    };
    let hostname = reports
        .first()
        .map(|r| r.host.hostname.clone())
        .unwrap_or_default();
    let scope = Scope {
        hostname: &hostname,
        cluster: cluster.or(found.as_deref()),
    };
    let today = tunekeeper::waiver::today();
    let mut matched = vec![false; waivers.entries.len()];
    for r in reports.iter_mut() {
        waivers.apply(scope, today, &mut r.findings, &mut matched);
        r.summary = Summary::of(&r.findings);
    }
    let unmatched = waivers.unmatched(scope, &matched);
    let mut err = std::io::stderr().lock();
    for w in unmatched.iter().take(Waivers::UNMATCHED_NAMED) {
        let _ = writeln!(
            err,
            "warning: {}: the waiver for {} {} matches no finding on this host (misspelt, or no longer needed?)",
            text(&w.from),
            text(&w.check),
            text(&w.key)
        );
    }
    if let Some(more) = unmatched
        .len()
        .checked_sub(Waivers::UNMATCHED_NAMED)
        .filter(|n| *n > 0)
    {
        let _ = writeln!(
            err,
            "warning: {}: {more} more waivers match no finding on this host (the first {} are named above)",
            text(&waivers.path.display().to_string()),
            Waivers::UNMATCHED_NAMED
        );
    }
}
