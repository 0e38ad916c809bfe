//! Kernel settings under /proc/sys.

use super::{Host, HostError};
use crate::sysctl_key::SysctlKey;

/// The directory sysctl keys live under.
pub const PROC_SYS: &str = "/proc/sys";

impl Host {
    /// Reads a sysctl as the kernel prints it, trimmed.
    pub fn sysctl(&self, key: &SysctlKey) -> Result<String, HostError> {
        self.read_value(std::path::Path::new(PROC_SYS).join(key.rel_path()))
    }

    /// Writes a sysctl (root only; `net.*` also with CAP_NET_ADMIN).
    pub fn set_sysctl(&self, key: &SysctlKey, value: &str) -> Result<(), HostError> {
        self.write_value(std::path::Path::new(PROC_SYS).join(key.rel_path()), value)
    }
}
