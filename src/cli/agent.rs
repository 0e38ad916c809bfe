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
    /// Build and deliver one report (and the backlog), then exit: 0 all
    /// delivered, 1 reports wait in the spool, 3 entries were set aside
    /// (refused by the collector or unreadable).
    #[arg(long)]
    pub once: bool,
}

/// Runs the agent.
pub fn run(g: &Global, args: &AgentArgs) -> anyhow::Result<u8> {
    let cfg = Config::load(&args.config)?;
    match run_agent(cfg, &g.store(), g.host(), args.once)? {
        Ended::Clean => Ok(0),
        Ended::Once {
            waiting,
            reason,
            set_aside,
        } => {
            for s in &set_aside {
                eprintln!(
                    "tunekeeper: spool entry {}: {}",
                    tunekeeper::present::terminal::text(&s.path.display().to_string()),
                    tunekeeper::present::terminal::text(&s.why)
                );
            }
            if waiting > 0 {
                eprintln!(
                    "tunekeeper: {waiting} report(s) could not be delivered and wait in the spool: {}",
                    tunekeeper::present::terminal::text(&reason)
                );
            }
            // Set-aside entries need a look whatever else happened; waiting
            // reports only need the collector back.
            Ok(if set_aside.is_empty() { 1 } else { 3 })
        }
    }
}
