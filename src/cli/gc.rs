//! `tunekeeper gc`: G1 log analysis (placeholder until the gc module lands).

use std::path::PathBuf;

/// Arguments of `tunekeeper gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// GC log files or directories holding a rotated set.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs the analysis and returns the exit code.
pub fn run(_args: &GcArgs) -> anyhow::Result<u8> {
    anyhow::bail!("gc analysis is not built yet")
}
