//! The TOML shape of one profile file, exactly as written; unknown sections
//! and keys are errors so a typo never silently checks nothing.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A value in a profile: a bare expectation (`"1"`, `1`, `true`) or a table
/// with the expectation and the reason for it (`{ expect = "1", why = "..." }`).
#[derive(Debug, Clone)]
pub enum RawSetting {
    /// `key = "1"`.
    Text(String),
    /// `key = 1`.
    Int(i64),
    /// `key = true`.
    Bool(bool),
    /// `key = { expect = "...", why = "..." }`.
    Full(RawFull),
}

/// The table form of a setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFull {
    /// The expectation.
    pub expect: RawScalar,
    /// Where the value comes from (a talk, Kafka's docs, a vendor).
    pub why: Option<String>,
}

/// A scalar expectation value.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawScalar {
    /// Text.
    Text(String),
    /// Integer.
    Int(i64),
    /// Boolean.
    Bool(bool),
}

impl<'de> Deserialize<'de> for RawSetting {
    // Hand-written so a mistake inside the table form gets serde's precise
    // message ("unknown field `whyy`") instead of "did not match any variant".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an expectation (\"1\", \">=262144\", 1, true) or a table { expect = \"...\", why = \"...\" }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawSetting, E> {
                Ok(RawSetting::Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawSetting, E> {
                Ok(RawSetting::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawSetting, E> {
                i64::try_from(v)
                    .map(RawSetting::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawSetting, E> {
                Ok(RawSetting::Bool(v))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<RawSetting, M::Error> {
                RawFull::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawSetting::Full)
            }
        }
        d.deserialize_any(V)
    }
}

impl RawSetting {
    /// The expectation text and the reason.
    pub fn parts(&self) -> (String, Option<String>) {
        match self {
            RawSetting::Text(s) => (s.clone(), None),
            RawSetting::Int(n) => (n.to_string(), None),
            RawSetting::Bool(b) => (b.to_string(), None),
            RawSetting::Full(f) => (
                match &f.expect {
                    RawScalar::Text(s) => s.clone(),
                    RawScalar::Int(n) => n.to_string(),
                    RawScalar::Bool(b) => b.to_string(),
                },
                f.why.clone(),
            ),
        }
    }
}

/// One profile file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// One line saying what the profile is for.
    pub description: Option<String>,
    /// Profiles this one builds on, applied in order; this file wins.
    #[serde(default)]
    pub include: Vec<String>,
    /// Inherited checks to remove: `sysctl:vm.zone_reclaim_mode`, `thp:defrag`,
    /// `sysfs:clocksource`, `block:NAME`, `mount:NAME`, `swap`, `process:nofile`, `process:running`, `gc:METRIC`, `jvm:RULE`, `broker:RULE`.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Kernel settings under /proc/sys.
    #[serde(default)]
    pub sysctl: BTreeMap<String, RawSetting>,
    /// Transparent huge pages (`enabled`, `defrag`).
    #[serde(default)]
    pub thp: BTreeMap<String, RawSetting>,
    /// Named host-wide sysfs knobs (`clocksource`, `cpufreq_governor`).
    #[serde(default)]
    pub sysfs: BTreeMap<String, RawSetting>,
    /// Block device queue rules, by rule name.
    #[serde(default)]
    pub block: BTreeMap<String, RawBlock>,
    /// Mount option rules, by rule name.
    #[serde(default)]
    pub mount: BTreeMap<String, RawMount>,
    /// Whether swap may be active.
    pub swap: Option<RawSwap>,
    /// Limits of the running broker process.
    pub process: Option<RawProcess>,
    /// GC service levels (checked by `tunekeeper gc --profile` and the agent).
    #[serde(default)]
    pub gc: BTreeMap<String, RawSetting>,
    /// JVM flag rules.
    #[serde(default)]
    pub jvm: BTreeMap<String, RawSetting>,
    /// Rules on the broker itself: data placement, free space, memory, maps, files.
    #[serde(default)]
    pub broker: BTreeMap<String, RawSetting>,
}

/// `[block.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBlock {
    /// Glob(s) over /sys/block names, `|`-separated (`sd*|nvme*n*|vd*`).
    /// Absent: the disks under the running brokers' data directories.
    pub devices: Option<String>,
    /// `queue/scheduler`.
    pub scheduler: Option<RawSetting>,
    /// `queue/read_ahead_kb` (sizes in KiB; `4MiB` allowed).
    pub read_ahead_kb: Option<RawSetting>,
    /// `queue/nr_requests`.
    pub nr_requests: Option<RawSetting>,
}

/// `[mount.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMount {
    /// Paths whose filesystem is checked; globs allowed. Absent: the data
    /// directories the running Kafka processes name in their configuration.
    pub paths: Option<Vec<String>>,
    /// Options that must be present (`noatime`, `commit=60`).
    #[serde(default)]
    pub require: Vec<String>,
    /// Options that must be absent (`relatime`? `strictatime`).
    #[serde(default)]
    pub forbid: Vec<String>,
    /// Allowed filesystem types, `|`-separated (`xfs|ext4`).
    pub fstype: Option<String>,
    /// Where the rule comes from.
    pub why: Option<String>,
}

/// `[swap]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwap {
    /// Whether an active swap device is acceptable.
    pub allowed: bool,
    /// Where the rule comes from.
    pub why: Option<String>,
}

/// `[process]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    /// Regex over the command line that identifies the broker (`kafka\.Kafka`).
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// Soft open-file limit of that process.
    pub nofile: Option<RawSetting>,
    /// `true`: such a process must be running.
    pub running: Option<RawSetting>,
}
