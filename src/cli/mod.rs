//! Subcommand front ends: each turns parsed arguments into library calls and
//! output, and returns the exit code.

pub mod gc;

/// Logs go to stderr, filtered by `TUNEKEEPER_LOG` (default: warnings).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TUNEKEEPER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
