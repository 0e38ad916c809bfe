//! Why a GC analysis could not run; every variant names the file.

use std::path::PathBuf;

/// An error that stops the analysis (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Something that is neither a regular file nor a directory (a FIFO
    /// would block the read forever, a device never ends).
    #[error("{}: {what}; tunekeeper gc reads regular files and directories of them", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is, e.g. "a FIFO (named pipe)".
        what: &'static str,
    },
    /// A GC log of another collector.
    #[error("{}: {what}, not G1", path.display())]
    NotG1 {
        /// The file.
        path: PathBuf,
        /// What it looks like, e.g. "a Parallel GC log".
        what: String,
    },
    /// Not a GC log at all.
    #[error("{}: not a GC log (no G1, JDK 8 or unified-logging GC lines in its first lines)", path.display())]
    NotGcLog {
        /// The file.
        path: PathBuf,
    },
    /// A G1 log whose pause lines could not be read: with no pause, every
    /// figure would be a false "all is well".
    #[error("{}: {lines} lines name G1 pauses but none could be read (line {first_line}: {example:?}); this layout is not supported, please report it", path.display())]
    PausesUnread {
        /// The file.
        path: PathBuf,
        /// How many unrecognised lines name a pause.
        lines: u64,
        /// The first one's line number (1-based).
        first_line: u64,
        /// Its text (cut to 200 characters).
        example: String,
    },
    /// Nothing but empty files: no line to analyse.
    #[error("{}: empty, nothing to analyse (a GC log holds at least the JVM's header once the JVM has started)", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NothingToAnalyse {
        /// The paths given (files, or directories of empty files).
        paths: Vec<PathBuf>,
    },
    /// A directory without any GC log in it.
    #[error("{}: no GC log files found", path.display())]
    NoFiles {
        /// The directory.
        path: PathBuf,
    },
    /// A directory holding more than one rotated set (e.g. a broker's and a
    /// ZooKeeper's GC logs): merging them would give wrong figures.
    #[error("{}: holds several GC log sets ({}); name the files of one set", path.display(), sets.join(", "))]
    SeveralSets {
        /// The directory.
        path: PathBuf,
        /// The sets' base names.
        sets: Vec<String>,
    },
    /// `--since`/`--until` asked for, but the log carries no wall-clock time.
    #[error("{}: --since/--until need wall-clock time stamps, and this log has none (its decorators carry no time/utctime/timemillis/timenanos)", path.display())]
    NoWallClock {
        /// The file.
        path: PathBuf,
    },
}
