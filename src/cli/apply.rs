//! `tunekeeper apply` and `tunekeeper rollback`.

use tunekeeper::apply::{self, Outcome};
use tunekeeper::kafka::{HostRole, Processes};
use tunekeeper::present::terminal::text;
use tunekeeper::present::text::columns;
use tunekeeper::profile::Profile;

use super::{Format, Global, print_json};

/// How long apply and rollback wait for another applier (the boot-time
/// apply beside an enforcing agent takes milliseconds; a hung one is named).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Arguments of `tunekeeper apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Profile name or path to a .toml file; repeat it for a host with
    /// several roles (one plan of them all). Without it: the profile of each
    /// role that runs here (kafka-broker, kraft-controller, zookeeper),
    /// merged into one plan, else kafka-broker.
    #[arg(long, short)]
    pub profile: Vec<String>,
    /// Print the plan (key, current, target, why) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write /etc/sysctl.d/99-tunekeeper.conf so the sysctl values survive a reboot.
    #[arg(long)]
    pub persist: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The journal's directory.
    #[command(flatten)]
    pub state: super::StateDir,
    /// Waivers file: a key a waiver in force accepts is left as it is.
    /// Default: /etc/tunekeeper/waivers.toml when it exists.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<std::path::PathBuf>,
}

/// Arguments of `tunekeeper rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The journal's directory.
    #[command(flatten)]
    pub state: super::StateDir,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Plans, and unless --dry-run, applies.
pub fn run(g: &Global, args: &ApplyArgs) -> anyhow::Result<u8> {
    let host = g.host();
    // Checked first: a bad waivers file stops the apply before any write.
    let waivers = tunekeeper::waiver::Waivers::load_default(args.waivers.as_deref(), &g.root)?;
    // Named profiles judge what their `[process] match` names; profiles
    // chosen for the roles that run judge their role's processes.
    let chosen: Vec<(String, Option<HostRole>)> = if args.profile.is_empty() {
        tunekeeper::kafka::choose_profiles(&host)
            .into_iter()
            .map(|(name, why)| {
                tracing::info!(profile = name, reason = %why, "planning with this role's profile");
                (name.to_string(), HostRole::of_profile(name))
            })
            .collect()
    } else {
        args.profile.iter().map(|p| (p.clone(), None)).collect()
    };
    // Load every profile first: a bad one stops the apply before any write.
    let mut profiles = Vec::with_capacity(chosen.len());
    for (name, role) in chosen {
        profiles.push((g.profile(&name)?, role));
    }
    let inputs: Vec<(&Profile, Processes<'_>)> = profiles
        .iter()
        .map(|(p, role)| {
            let which = match role {
                Some(r) => Processes::OfRole(*r),
                None => Processes::Matching(&p.process.pattern),
            };
            (p, which)
        })
        .collect();
    if !args.dry_run && !apply::may_write(&host) {
        return Err(apply::ApplyError::NotRoot.into());
    }
    let hold_back = |plan: &mut apply::Plan| {
        let hostname = host.identity().hostname;
        let cluster = tunekeeper::waiver::host_cluster(&host);
        let scope = tunekeeper::waiver::Scope {
            hostname: &hostname,
            cluster: cluster.as_deref(),
        };
        waivers.hold_back(scope, tunekeeper::waiver::today(), plan);
    };
    if args.dry_run {
        let mut plan = apply::plan_all(&inputs, &host)?;
        hold_back(&mut plan);
        tell_conflicts(&plan.conflicts);
        match args.format {
            Format::Json => print_json(&plan)?,
            Format::Table => print_plan(&plan, args.persist),
        }
        return Ok(0);
    }
    // Taken before the plan reads current values: they become the originals.
    let lock = apply::ApplyLock::acquire(&host, &args.state.path, LOCK_WAIT)?;
    let mut plan = apply::plan_all(&inputs, &host)?;
    hold_back(&mut plan);
    tell_conflicts(&plan.conflicts);
    let report = apply::apply(&plan, &host, &args.state.path, args.persist, &lock)?;
    match args.format {
        Format::Json => print_json(&report)?,
        Format::Table => {
            let mut rows = vec![vec![
                "KEY".into(),
                "BEFORE".into(),
                "TARGET".into(),
                "AFTER".into(),
                "RESULT".into(),
            ]];
            for r in &report.results {
                rows.push(vec![
                    r.step.key.clone(),
                    r.step.current.clone(),
                    r.step.desired.clone(),
                    r.after.clone().unwrap_or_else(|| "-".into()),
                    format!("{:?}", r.outcome).to_lowercase(),
                ]);
            }
            if report.results.is_empty() {
                println!(
                    "{}: nothing to change, every kernel setting already matches",
                    report.profile
                );
            } else {
                print!("{}", columns(&rows));
            }
            for r in report.results.iter().filter(|r| r.error.is_some()) {
                println!(
                    "failed {}: {}",
                    text(&r.step.key),
                    text(r.error.as_deref().unwrap_or_default())
                );
            }
            if report.results.iter().any(|r| r.outcome == Outcome::Failed) {
                let undone = report
                    .results
                    .iter()
                    .filter(|r| r.outcome == Outcome::RolledBack)
                    .count();
                println!(
                    "the apply stopped at the failed write; {undone} value(s) written before it were restored"
                );
            }
            if let Some(p) = &report.persisted {
                println!(
                    "persisted: {} (survives reboot)",
                    text(&p.display().to_string())
                );
            }
            if let Some(j) = &report.journal {
                println!(
                    "rollback journal: {} (`tunekeeper rollback` restores the originals)",
                    j.display()
                );
            }
            for m in &report.manual {
                println!(
                    "not changed by apply: {}: {}",
                    text(&m.key),
                    text(&m.advice)
                );
            }
            for m in &plan.waived {
                println!("not changed, {}: {}", text(&m.key), text(&m.advice));
            }
            print_conflicts(&report.conflicts);
        }
    }
    Ok(report.exit_code())
}

/// Each conflict between the profiles on the error log (stderr).
fn tell_conflicts(conflicts: &[apply::Conflict]) {
    for c in conflicts {
        tracing::error!(key = %c.key, "not applied: {}", c.message());
    }
}

/// Each conflict in the table: the key is left as it is.
fn print_conflicts(conflicts: &[apply::Conflict]) {
    for c in conflicts {
        println!("not changed, conflict: {}", text(&c.message()));
    }
}

fn print_plan(plan: &apply::Plan, persist: bool) {
    if plan.steps.is_empty() && !plan.waived.is_empty() {
        println!(
            "{}: nothing to change but what waivers accept (below)",
            plan.profile
        );
    } else if plan.steps.is_empty() {
        println!(
            "{}: nothing to change, every kernel setting already matches",
            plan.profile
        );
    } else {
        let mut rows = vec![vec![
            "KEY".into(),
            "CURRENT".into(),
            "TARGET".into(),
            "WHY".into(),
        ]];
        for s in &plan.steps {
            rows.push(vec![
                s.key.clone(),
                s.current.clone(),
                s.desired.clone(),
                s.why.clone(),
            ]);
        }
        print!("{}", columns(&rows));
    }
    if persist {
        println!(
            "would persist {} sysctl value(s) in {}",
            plan.persist.len(),
            apply::PERSIST_FILE
        );
    }
    for m in &plan.manual {
        println!(
            "not changed by apply: {}: {}",
            text(&m.key),
            text(&m.advice)
        );
    }
    for m in &plan.waived {
        println!("not changed, {}: {}", text(&m.key), text(&m.advice));
    }
    print_conflicts(&plan.conflicts);
    println!("dry run: nothing was changed");
}

/// Restores the journaled originals.
pub fn rollback(g: &Global, args: &RollbackArgs) -> anyhow::Result<u8> {
    let host = g.host();
    if !apply::may_write(&host) {
        return Err(apply::ApplyError::NotRoot.into());
    }
    let lock = apply::ApplyLock::acquire(&host, &args.state.path, LOCK_WAIT)?;
    let report = apply::rollback(&host, &args.state.path, &lock)?;
    match args.format {
        Format::Json => print_json(&report)?,
        Format::Table => {
            if report.profile.is_none() {
                println!(
                    "nothing to roll back: no journal in {}",
                    args.state.path.display()
                );
                return Ok(0);
            }
            let mut rows = vec![vec![
                "KEY".into(),
                "WAS".into(),
                "RESTORED".into(),
                "RESULT".into(),
            ]];
            for r in &report.restored {
                rows.push(vec![
                    r.entry.key.clone(),
                    r.before.clone().unwrap_or_else(|| "-".into()),
                    r.after.clone().unwrap_or_else(|| "-".into()),
                    r.error.clone().unwrap_or_else(|| "restored".into()),
                ]);
            }
            print!("{}", columns(&rows));
            if let Some(p) = &report.persisted {
                println!("{}", text(p));
            }
        }
    }
    Ok(report.exit_code())
}
