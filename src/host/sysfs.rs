//! Settings under /sys: transparent huge pages and block device queues.

use std::path::PathBuf;

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

impl Host {
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
}
