//! The `tunekeeper` command line: parses arguments, calls the library, maps
//! errors to exit codes (0 ok, 1 findings, 2 could not run).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Keeps Kafka broker hosts tuned and their G1 collectors healthy.
#[derive(Debug, Parser)]
#[command(name = "tunekeeper", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Audit this host against a profile: what drifted, expected and actual.
    Audit(cli::audit::AuditArgs),
    /// Apply a profile (plan with --dry-run), saving a rollback journal first.
    Apply(cli::apply::ApplyArgs),
    /// Restore what the last apply changed and remove the persisted file.
    Rollback(cli::apply::RollbackArgs),
    /// List profiles or show one's effective settings.
    #[command(subcommand)]
    Profiles(cli::profiles::ProfilesCommand),
    /// Analyse G1 GC logs (JDK 8 to 25): pause statistics, rates, flags, service levels.
    Gc(cli::gc::GcArgs),
    /// Run the reporting agent: audit and GC health every interval, delivered to the collector.
    Agent(cli::agent::AgentArgs),
    /// Run the central collector: HTTP API for agents' reports, SQLite storage, fleet page.
    Collector(cli::collector::CollectorArgs),
    /// Write the man page or shell completions into DIR (for packaging).
    #[command(hide = true)]
    Generate(cli::generate::GenerateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_tracing(match &cli.command {
        // What a journal of the service should show: its own info lines,
        // the libraries' warnings.
        Command::Agent(_) | Command::Collector(_) => "warn,tunekeeper=info",
        _ => "warn",
    });
    let g = &cli.global;
    let result = match &cli.command {
        Command::Audit(args) => cli::audit::run(g, args),
        Command::Apply(args) => cli::apply::run(g, args),
        Command::Rollback(args) => cli::apply::rollback(g, args),
        Command::Profiles(cmd) => cli::profiles::run(g, cmd),
        Command::Gc(args) => cli::gc::run(g, args),
        Command::Agent(args) => cli::agent::run(g, args),
        Command::Collector(args) => cli::collector::run(args),
        Command::Generate(args) => {
            cli::generate::run(<Cli as clap::CommandFactory>::command(), args)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!(
                "tunekeeper: error: {}",
                tunekeeper::present::terminal::lines(&message(&err))
            );
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line. The library's errors already name
/// their cause in their text, so a cause is added only when it says more.
fn message(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}
