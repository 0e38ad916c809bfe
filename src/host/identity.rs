//! Who this host is: the identity every report carries.

use serde::{Deserialize, Serialize};

use super::Host;

/// Host identity as read from /proc and /etc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// `kernel.hostname`.
    pub hostname: String,
    /// `/etc/machine-id`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    /// `kernel.osrelease`.
    pub kernel: String,
}

impl Host {
    /// Reads the host's identity; fields that cannot be read are empty.
    pub fn identity(&self) -> Identity {
        Identity {
            hostname: self
                .read_value("/proc/sys/kernel/hostname")
                .unwrap_or_default(),
            machine_id: self
                .read_value("/etc/machine-id")
                .ok()
                .filter(|s| !s.is_empty()),
            kernel: self
                .read_value("/proc/sys/kernel/osrelease")
                .unwrap_or_default(),
        }
    }
}
