//! Settings under /sys: transparent huge pages, block device queues and
//! the named host-wide knobs a profile's `[sysfs]` section may check.

use std::path::{Path, PathBuf};

use super::{Host, HostError};

/// Directory of the THP settings.
pub const THP_DIR: &str = "/sys/kernel/mm/transparent_hugepage";

/// Block devices.
pub const SYS_BLOCK: &str = "/sys/block";

/// For "choice" files (`always [madvise] never`) the bracketed, active
/// word; otherwise the value itself.
pub fn active_choice(raw: &str) -> String {
    match (raw.find('['), raw.find(']')) {
        (Some(a), Some(b)) if a < b => raw[a + 1..b].to_string(),
        _ => raw.trim().to_string(),
    }
}

/// A sysfs attribute this tool reads and writes, by host path.
pub fn thp_path(name: &str) -> PathBuf {
    PathBuf::from(THP_DIR).join(name)
}

/// `/sys/block/DEV/queue/ATTR`.
pub fn queue_path(device: &str, attr: &str) -> PathBuf {
    PathBuf::from(SYS_BLOCK)
        .join(device)
        .join("queue")
        .join(attr)
}

/// Where the CPUs live; each `cpuN` below holds its own `cpufreq/`.
pub const SYS_CPU: &str = "/sys/devices/system/cpu";

/// Which files a [`Knob`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnobScope {
    /// One file for the whole host.
    Host {
        /// The file read and written.
        path: &'static str,
        /// The file listing the values this kernel accepts.
        offered: &'static str,
    },
    /// One file per CPU, below `/sys/devices/system/cpu/cpuN/`.
    PerCpu {
        /// The file below `cpuN/` read and written.
        rel: &'static str,
        /// The file below `cpuN/` listing the values its driver accepts.
        offered: &'static str,
    },
}

/// A sysfs setting a profile may check by name. Profiles name knobs, never
/// paths: a path in a profile would let `apply` (run as root) write any file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    /// The name used in `[sysfs]` and in findings.
    pub name: &'static str,
    /// The files behind the name.
    pub scope: KnobScope,
}

/// Every knob `[sysfs]` accepts.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "clocksource",
        scope: KnobScope::Host {
            path: "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            offered: "/sys/devices/system/clocksource/clocksource0/available_clocksource",
        },
    },
    Knob {
        name: "cpufreq_governor",
        scope: KnobScope::PerCpu {
            rel: "cpufreq/scaling_governor",
            offered: "cpufreq/scaling_available_governors",
        },
    },
];

/// The knob with this name.
pub fn knob(name: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|k| k.name == name)
}

/// One file behind a knob on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnobFile {
    /// `clocksource` for a host-wide knob, `cpu3` for a per-CPU one.
    pub label: String,
    /// Host path of the value.
    pub path: PathBuf,
    /// Host path of the list of accepted values.
    pub offered: PathBuf,
}

/// `cpu12` → 12; `cpufreq`, `cpuidle` and the rest → None.
fn cpu_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("cpu")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Host {
    /// The files behind a knob: one for a host-wide knob; for a per-CPU knob
    /// one per CPU whose file exists, in CPU order (a host without cpufreq
    /// has none). Lists `/sys/devices/system/cpu` once; reads nothing else.
    pub fn knob_files(&self, knob: &Knob) -> Result<Vec<KnobFile>, HostError> {
        match knob.scope {
            KnobScope::Host { path, offered } => Ok(vec![KnobFile {
                label: knob.name.to_string(),
                path: PathBuf::from(path),
                offered: PathBuf::from(offered),
            }]),
            KnobScope::PerCpu { rel, offered } => {
                let dir = self.path(SYS_CPU);
                let entries = std::fs::read_dir(&dir).map_err(|e| HostError::from_io(&dir, e))?;
                let mut cpus: Vec<u32> = entries
                    .flatten()
                    .filter_map(|e| cpu_number(&e.file_name().to_string_lossy()))
                    .collect();
                cpus.sort_unstable();
                Ok(cpus
                    .into_iter()
                    .map(|n| {
                        let cpu = Path::new(SYS_CPU).join(format!("cpu{n}"));
                        KnobFile {
                            label: format!("cpu{n}"),
                            path: cpu.join(rel),
                            offered: cpu.join(offered),
                        }
                    })
                    .filter(|f| self.path(&f.path).exists())
                    .collect())
            }
        }
    }

    /// The values a knob file accepts, from its list file; empty when the
    /// list cannot be read.
    pub fn knob_offered(&self, file: &KnobFile) -> Vec<String> {
        self.read_value(&file.offered)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Reads a sysfs attribute, reducing choice lists to the active choice.
    pub fn sysfs_value(&self, path: &std::path::Path) -> Result<String, HostError> {
        self.read_value(path).map(|v| active_choice(&v))
    }

    /// Block device names under /sys/block, sorted.
    pub fn block_devices(&self) -> Result<Vec<String>, HostError> {
        let dir = self.path(SYS_BLOCK);
        let entries = std::fs::read_dir(&dir).map_err(|e| HostError::from_io(&dir, e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_choice_reads_brackets() {
        assert_eq!(active_choice("always [madvise] never"), "madvise");
        assert_eq!(active_choice("[mq-deadline] kyber bfq none"), "mq-deadline");
        assert_eq!(active_choice("none"), "none");
        assert_eq!(active_choice("128"), "128");
    }

    #[test]
    fn cpu_directories_only() {
        assert_eq!(cpu_number("cpu0"), Some(0));
        assert_eq!(cpu_number("cpu127"), Some(127));
        assert_eq!(cpu_number("cpufreq"), None);
        assert_eq!(cpu_number("cpuidle"), None);
        assert_eq!(cpu_number("cpu"), None);
    }

    #[test]
    fn knob_names_are_unique() {
        for k in KNOBS {
            assert_eq!(knob(k.name), Some(k));
        }
        assert_eq!(knob("/etc/passwd"), None);
    }
}
