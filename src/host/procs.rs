//! Running processes: finding the broker JVM and reading its limits.

use regex::Regex;

use super::Host;

/// A running process whose command line matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Process id.
    pub pid: i32,
    /// Arguments (argv).
    pub cmdline: Vec<String>,
}

/// The most of a command line read: above what Linux lets a process pass
/// (arguments and environment together are at most 3/4 of the 8 MiB
/// stack limit's ceiling, 6 MiB), so no real command line is cut, and a
/// file that claims more is refused, not read.
pub const MAX_CMDLINE_BYTES: u64 = 8 << 20;

/// A resource limit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// No limit.
    Unlimited,
    /// A number.
    Value(u64),
}

impl std::fmt::Display for LimitValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitValue::Unlimited => f.write_str("unlimited"),
            LimitValue::Value(v) => write!(f, "{v}"),
        }
    }
}

/// True when argv[0] names a JVM launcher (`java`, `/usr/lib/jvm/.../bin/java`).
fn is_java(cmdline: &[String]) -> bool {
    cmdline
        .first()
        .and_then(|a| a.rsplit('/').next())
        .is_some_and(|base| base == "java" || base.starts_with("java-") || base == "jsvc")
}

impl Host {
    /// Java processes whose command line (arguments joined by spaces)
    /// matches `pattern`, sorted by pid. Processes that vanish or cannot be
    /// read while scanning are skipped.
    pub fn find_java_processes(&self, pattern: &Regex) -> Vec<Proc> {
        let Ok(all) = procfs::process::all_processes_with_root(self.path("/proc")) else {
            return Vec::new();
        };
        let me = std::process::id() as i32;
        let mut found: Vec<Proc> = all
            .flatten()
            .filter(|p| p.pid != me)
            .filter_map(|p| {
                let cmdline = self.cmdline(p.pid).ok()?;
                (is_java(&cmdline) && pattern.is_match(&cmdline.join(" "))).then_some(Proc {
                    pid: p.pid,
                    cmdline,
                })
            })
            .collect();
        found.sort_by_key(|p| p.pid);
        found
    }

    /// A process's arguments, read from /proc/PID/cmdline with a bound
    /// ([`MAX_CMDLINE_BYTES`]): past it, an error naming the file.
    pub fn cmdline(&self, pid: i32) -> std::io::Result<Vec<String>> {
        let path = self.path(format!("/proc/{pid}/cmdline"));
        let raw = crate::file_kind::read_bounded(&path, MAX_CMDLINE_BYTES).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        Ok(raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect())
    }

    /// The soft open-file limit of a process.
    pub fn nofile_limit(&self, pid: i32) -> Result<LimitValue, super::HostError> {
        let dir = self.path(format!("/proc/{pid}"));
        let limits = procfs::process::Process::new_with_root(dir.clone())
            .and_then(|p| p.limits())
            .map_err(|e| super::HostError::Io {
                path: dir.join("limits"),
                source: std::io::Error::other(e.to_string()),
            })?;
        Ok(match limits.max_open_files.soft_limit {
            procfs::process::LimitValue::Unlimited => LimitValue::Unlimited,
            procfs::process::LimitValue::Value(v) => LimitValue::Value(v),
        })
    }
}
