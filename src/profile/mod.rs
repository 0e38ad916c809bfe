//! Profiles: the desired state of a broker host. A profile is a TOML file
//! (shipped ones are embedded in the binary) that may include others; the
//! effective profile is the merge, with every setting remembering which file
//! set it and why.

mod file;
mod store;

use std::collections::BTreeMap;

use regex::Regex;

pub use store::{EMBEDDED, ProfileError, ProfileStore};

use crate::expect::Expectation;
use crate::sysctl_key::SysctlKey;

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "kafka-broker";

/// The default pattern that identifies a Kafka broker's command line.
pub const DEFAULT_BROKER_MATCH: &str = r"kafka\.Kafka";

/// One expectation with its provenance.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The parsed expectation.
    pub expect: Expectation,
    /// The profile that set it (the last one in the include chain to do so).
    pub from: String,
    /// The reason given in the profile.
    pub why: Option<String>,
}

impl Setting {
    /// `profile: why`, the text reports show as a finding's source.
    pub fn source(&self) -> String {
        match &self.why {
            Some(why) => format!("{}: {}", self.from, why),
            None => self.from.clone(),
        }
    }
}

/// Transparent huge page settings under /sys/kernel/mm/transparent_hugepage.
pub const THP_KEYS: [&str; 2] = ["enabled", "defrag"];

/// Queue attributes a block rule may set, with the unit of their sizes.
pub const BLOCK_ATTRS: [(&str, u64); 3] = [
    ("scheduler", 1),
    ("read_ahead_kb", 1024),
    ("nr_requests", 1),
];

/// Expectations on block devices whose names match a glob.
#[derive(Debug, Clone)]
pub struct BlockRule {
    /// Rule name (`[block.NAME]`).
    pub name: String,
    /// Name globs (`sd*`, `nvme*n*`); empty: the brokers' data disks.
    pub devices: Vec<glob::Pattern>,
    /// The globs as written.
    pub devices_text: String,
    /// Queue attribute (`scheduler`, `read_ahead_kb`, `nr_requests`) → expectation.
    pub attrs: BTreeMap<String, Setting>,
    /// The profile that set the rule.
    pub from: String,
}

/// Expectations on the mount options of filesystems holding given paths.
#[derive(Debug, Clone)]
pub struct MountRule {
    /// Rule name (`[mount.NAME]`).
    pub name: String,
    /// The paths (globs allowed) whose filesystems are checked; empty: the
    /// data directories of the running Kafka processes.
    pub paths: Vec<String>,
    /// Options that must be present.
    pub require: Vec<String>,
    /// Options that must be absent.
    pub forbid: Vec<String>,
    /// Allowed filesystem types.
    pub fstype: Option<Vec<String>>,
    /// The profile that set the rule and its reason.
    pub source: String,
}

/// Whether swap may be active.
#[derive(Debug, Clone)]
pub struct SwapRule {
    /// True when active swap is acceptable.
    pub allowed: bool,
    /// The profile that set the rule and its reason.
    pub source: String,
}

/// Limits of the running broker process.
#[derive(Debug, Clone)]
pub struct ProcessRule {
    /// Regex over the NUL-joined command line that identifies the broker.
    pub pattern: Regex,
    /// Soft open-file limit expectation.
    pub nofile: Option<Setting>,
    /// `running = true`: the host must run a matching process (a broker
    /// host without its broker is a problem, not a host without findings).
    pub running: Option<Setting>,
}

/// An effective profile: includes resolved, drops applied, every value validated.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's name (file stem or embedded name).
    pub name: String,
    /// Where it was loaded from (`embedded` or a path).
    pub origin: String,
    /// One line saying what it is for.
    pub description: String,
    /// The include chain, deepest first, ending with this profile.
    pub chain: Vec<String>,
    /// sysctl key → expectation.
    pub sysctl: BTreeMap<SysctlKey, Setting>,
    /// THP file (`enabled`, `defrag`) → expectation.
    pub thp: BTreeMap<String, Setting>,
    /// sysfs knob name (`clocksource`, `cpufreq_governor`) → expectation.
    pub sysfs: BTreeMap<String, Setting>,
    /// Block device rules by name.
    pub block: BTreeMap<String, BlockRule>,
    /// Mount rules by name.
    pub mounts: BTreeMap<String, MountRule>,
    /// Swap rule.
    pub swap: Option<SwapRule>,
    /// Broker process rule (always present: the pattern has a default).
    pub process: ProcessRule,
    /// GC service levels: metric → expectation (`gc_ms_per_second` → `<=15`).
    pub gc: BTreeMap<String, Setting>,
    /// JVM flag rules: rule → expectation (`young_fixed` → `false`).
    pub jvm: BTreeMap<String, Setting>,
    /// Broker rules: rule → expectation (`heap_max` → `<=6GiB`).
    pub broker: BTreeMap<String, Setting>,
}
