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
                let cmdline = p.cmdline().ok()?;
                (is_java(&cmdline) && pattern.is_match(&cmdline.join(" "))).then_some(Proc {
                    pid: p.pid,
                    cmdline,
                })
            })
            .collect();
        found.sort_by_key(|p| p.pid);
        found
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
