//! HotSpot's own counters: the perf-data file `jstat` reads
//! (`hsperfdata_<user>/<pid>` in the JVM's temporary directory), read
//! without attaching to the JVM and without ever blocking on it.
//!
//! The flow, one way: [`locate`] finds the file of a PID (or says the
//! counters are switched off); [`read`] copies it once, bounded, and
//! [`format`] decodes the copy; [`counters`] turns the named entries into
//! a typed [`counters::CounterSnapshot`] (and the difference of two into an
//! interval); [`crosscheck`] sets the log's totals beside the counters;
//! [`safepoints`] derives time to safepoint from snapshots.
//!
//! No crate was taken for the format: `hsperf` is GPL-3.0 (this project is
//! Apache-2.0), and `jmon-rs` (Apache-2.0) memory-maps the file, which
//! ties the agent to a file another process truncates (SIGBUS) and reads
//! values as they change; the format is a prologue and a table of entries.

pub mod counters;
pub mod crosscheck;
pub mod format;
pub mod locate;
pub mod read;
pub mod report;
pub mod safepoints;

pub use counters::{CounterInterval, CounterSnapshot};
pub use format::{FormatError, PerfData};
pub use locate::{Location, locate};
pub use read::{PerfDataError, read_file};

/// Text from another process's memory, safe for a terminal: the crate's
/// one escaping of foreign text ([`crate::present::terminal::text`]), at
/// decode time, so no figure taken from the file carries a control
/// character anywhere it goes.
pub fn escape_text(s: &str) -> String {
    crate::present::terminal::text(s).into_owned()
}
