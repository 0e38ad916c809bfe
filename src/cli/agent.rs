//! `tunekeeper agent`.

use std::path::PathBuf;

use tunekeeper::agent::config::Config;
use tunekeeper::agent::run::{Ended, run as run_agent};

use super::Global;

/// Arguments of `tunekeeper agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The agent's configuration file.
    #[arg(long, short, default_value = "/etc/tunekeeper/agent.toml")]
    pub config: PathBuf,
    /// Build and deliver one report, then exit (0 delivered, 1 left in the spool).
    #[arg(long)]
    pub once: bool,
}

/// Runs the agent.
pub fn run(g: &Global, args: &AgentArgs) -> anyhow::Result<u8> {
    let cfg = Config::load(&args.config)?;
    match run_agent(cfg, &g.store(), g.host(), args.once)? {
        Ended::Clean => Ok(0),
        Ended::Pending(n) => {
            eprintln!("tunekeeper: {n} report(s) could not be delivered and wait in the spool");
            Ok(1)
        }
    }
}
