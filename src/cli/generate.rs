//! The hidden `generate` subcommand: writes the man page and the shell
//! completions from the clap definition, for the packages (`packaging/build.sh`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap_complete::Shell;

/// What to generate, and where.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The kind of file.
    #[arg(value_enum)]
    pub what: What,
    /// The directory to write into (created if missing).
    pub dir: PathBuf,
}

/// The generated artefacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    /// `tunekeeper.1` and one page per subcommand, `tunekeeper-agent.1`,
    /// `tunekeeper-profiles-list.1`... (roff, uncompressed): the pages the
    /// main page's SUBCOMMANDS section names.
    Man,
    /// `tunekeeper.bash`, `_tunekeeper` (zsh) and `tunekeeper.fish`.
    Completions,
}

/// Writes the files for `args.what` into `args.dir`; prints each path written.
pub fn run(cmd: clap::Command, args: &GenerateArgs) -> anyhow::Result<u8> {
    fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let name = cmd.get_name().to_string();
    debug_assert_eq!(name, "tunekeeper");
    match args.what {
        What::Man => {
            // No `help` subcommand: it would be listed as a page that does not exist.
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            man_pages(&cmd, &args.dir)?;
        }
        What::Completions => {
            let mut cmd = without_hidden(&cmd);
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut cmd, &name, &mut script);
                let file = match shell {
                    Shell::Zsh => format!("_{name}"),
                    _ => format!("{name}.{shell}"),
                };
                write(&args.dir.join(file), &script)?;
            }
        }
    }
    Ok(0)
}

/// Writes `cmd`'s page and, depth first, one for each of its visible
/// subcommands, named as clap_mangen's SUBCOMMANDS section names them
/// (`tunekeeper-profiles-list(1)`). `cmd` must be built (display names set).
fn man_pages(cmd: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render(&mut page)?;
    write(&dir.join(man.get_filename()), &page)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, dir)?;
    }
    Ok(())
}

/// A copy of `cmd` without its hidden top-level arguments and subcommands
/// (clap_complete would offer them; clap_mangen already leaves them out).
fn without_hidden(cmd: &clap::Command) -> clap::Command {
    // Only `&'static str` names convert without clap's `string` feature.
    let mut public = clap::Command::new("tunekeeper").version(env!("CARGO_PKG_VERSION"));
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        public = public.arg(arg.clone());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        public = public.subcommand(sub.clone());
    }
    public
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}
