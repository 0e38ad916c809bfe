//! The analysis result: one serialisable struct (the JSON output). The
//! reports for people are [`crate::present::gc`]'s.

use std::collections::BTreeMap;

use serde::Serialize;

use super::detect::LogFormat;
use super::flags::JvmFlags;
use super::stats::StatsSnapshot;
use crate::finding::{Finding, Summary};

/// What was read from one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file, as given or found in a directory.
    pub path: String,
    /// Its format.
    pub format: LogFormat,
    /// Lines read.
    pub lines: u64,
    /// Lines the parser did not recognise.
    pub unrecognised_lines: u64,
    /// The first few unrecognised lines, to show what was not understood.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrecognised_examples: Vec<String>,
    /// Lines known to be output of other parts of the JVM (class loading,
    /// the JIT, the OS layer, ... of a wide `-Xlog` selection): they hold
    /// no GC event, so they are not in `unrecognised_lines`.
    pub other_lines: u64,
    /// Those lines by kind: the JVM's tag when the log has a `tags`
    /// decorator, else the subsystem their shape names.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other_kinds: BTreeMap<String, u64>,
}

/// The full result of `tunekeeper gc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The statistics (flattened into the top-level JSON object).
    #[serde(flatten)]
    pub stats: StatsSnapshot,
    /// The JVM settings found (log and/or command line).
    pub flags: JvmFlags,
    /// JVM flag findings (`check: "jvm"`) and service-level findings (`check: "gc"`).
    pub findings: Vec<Finding>,
    /// Counts of the findings.
    pub summary: Summary,
    /// The files read, in the order read.
    pub files: Vec<FileReport>,
    /// The worst pause and stop against the broker's timeouts (empty when
    /// no broker configuration was given).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeout_budget: Vec<super::budget::TimeoutCheck>,
    /// The JVM's own counters beside the log's figures (`gc --pid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jvm_counters: Option<crate::jvm::perfdata::report::CountersReport>,
}

impl Analysis {
    /// The process exit code: 1 when a finding drifted, else 0.
    pub fn exit_code(&self) -> u8 {
        self.summary.exit_code()
    }
}
