//! The `tunekeeper` command line: parses arguments, calls the library, maps
//! errors to exit codes (0 ok, 1 findings, 2 could not run).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Keeps Kafka broker hosts tuned and their G1 collectors healthy.
#[derive(Debug, Parser)]
#[command(name = "tunekeeper", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse G1 GC logs (JDK 8 to 25): pause statistics, rates, flags, service levels.
    Gc(cli::gc::GcArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_tracing();
    let result = match &cli.command {
        Command::Gc(args) => cli::gc::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("tunekeeper: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
