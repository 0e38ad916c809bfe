//! Kernel settings under /proc/sys.

use super::{Host, HostError};
use crate::sysctl_key::SysctlKey;

/// The directory sysctl keys live under.
pub const PROC_SYS: &str = "/proc/sys";

/// How many edits (Damerau-Levenshtein) apart a misspelled key may be from
/// the key suggested for it. Two catch a doubled or dropped letter and a
/// swap; more would suggest unrelated neighbours.
pub const MAX_EDITS: usize = 2;

impl Host {
    /// Reads a sysctl as the kernel prints it, trimmed.
    pub fn sysctl(&self, key: &SysctlKey) -> Result<String, HostError> {
        self.read_value(std::path::Path::new(PROC_SYS).join(key.rel_path()))
    }

    /// For a key this kernel lacks, the existing key it was most likely
    /// meant to be: each missing part is replaced by the closest name in its
    /// directory, with at most [`MAX_EDITS`] edits over the whole key. Lists
    /// only the directories on the way, and only when a key is missing.
    pub fn sysctl_suggestion(&self, key: &SysctlKey) -> Option<SysctlKey> {
        let mut dir = self.path(PROC_SYS);
        let mut parts = Vec::with_capacity(key.parts().len());
        let mut budget = MAX_EDITS;
        for part in key.parts() {
            let exact = dir.join(part);
            let found = if exact.exists() {
                part.clone()
            } else {
                let names: Vec<String> = std::fs::read_dir(&dir)
                    .ok()?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                let best =
                    crate::spelling::closest(part, names.iter().map(String::as_str), budget)?;
                budget -= crate::spelling::distance(part, best);
                best.to_string()
            };
            dir = dir.join(&found);
            parts.push(found);
        }
        // A directory is not a key: `net.cor` must not suggest `net.core`.
        if !dir.is_file() {
            return None;
        }
        let suggestion = SysctlKey::from_parts(parts).ok()?;
        (suggestion != *key).then_some(suggestion)
    }

    /// Writes a sysctl (root only; `net.*` also with CAP_NET_ADMIN).
    pub fn set_sysctl(&self, key: &SysctlKey, value: &str) -> Result<(), HostError> {
        self.write_value(std::path::Path::new(PROC_SYS).join(key.rel_path()), value)
    }
}
