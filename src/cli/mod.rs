//! Subcommand front ends: each turns parsed arguments into library calls and
//! output, and returns the exit code.

pub mod agent;
pub mod apply;
pub mod audit;
pub mod collector;
pub mod gc;
pub mod generate;
pub mod profiles;

use std::io::IsTerminal;
use std::path::PathBuf;

use tunekeeper::host::Host;
use tunekeeper::profile::{Profile, ProfileStore};

/// Options every subcommand shares.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Directories searched for profiles before the built-in ones (first wins).
    #[arg(long = "profile-dir", global = true, value_name = "DIR",
          default_values = ["/etc/tunekeeper/profiles", "/usr/share/tunekeeper/profiles"])]
    pub profile_dirs: Vec<PathBuf>,
    /// Treat DIR as the host's root filesystem (for tests against a prepared tree).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/",
        env = "TUNEKEEPER_ROOT",
        hide = true
    )]
    pub root: PathBuf,
}

impl Global {
    /// The host to read and write.
    pub fn host(&self) -> Host {
        Host::at(&self.root)
    }

    /// The profile store.
    pub fn store(&self) -> ProfileStore {
        ProfileStore::with_dirs(self.profile_dirs.clone())
    }

    /// Loads a profile by name or path.
    pub fn profile(&self, name: &str) -> anyhow::Result<Profile> {
        Ok(self.store().load(name)?)
    }
}

/// Where apply and rollback keep their journal and lock (only those two
/// commands take it: elsewhere it would mean nothing).
#[derive(Debug, clap::Args)]
pub struct StateDir {
    /// Where apply keeps its rollback journal and lock.
    #[arg(long = "state-dir", value_name = "DIR", default_value = tunekeeper::apply::DEFAULT_STATE_DIR)]
    pub path: PathBuf,
}

/// Output format of the reporting commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// One JSON document for programs.
    Json,
}

/// Colour on stdout when it is a terminal and NO_COLOR is unset.
pub fn stdout_colour() -> bool {
    tunekeeper::present::text::want_colour(std::io::stdout().is_terminal())
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Logs go to stderr, filtered by `TUNEKEEPER_LOG` (default: `default`;
/// the services log their own state changes at info, one-shot commands
/// only warnings); in the journal's own format when stderr is the journal.
pub fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TUNEKEEPER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let journal = tunekeeper::logging::stderr_is_journal();
    let colour =
        !journal && tunekeeper::present::text::want_colour(std::io::stderr().is_terminal());
    // Every record through the terminal escaper: a foreign value in a field
    // (a path, a broker's setting) cannot add lines or rewrite the screen.
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || tunekeeper::present::terminal::LogWriter::stderr(colour));
    if journal {
        fmt.with_ansi(false)
            .event_format(tunekeeper::logging::JournalFormat)
            .init();
    } else {
        fmt.with_ansi(colour).init();
    }
}
