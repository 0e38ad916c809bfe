//! The one shape every check reports in: kernel audit, GC service levels and
//! JVM flag rules all produce [`Finding`]s, so tables, JSON, the agent and the
//! collector handle them alike.

use serde::{Deserialize, Serialize};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The host (or JVM) meets the expectation.
    Ok,
    /// The observed value does not meet the expectation.
    Drift,
    /// The value exists but could not be read (permissions, I/O error).
    Unreadable,
    /// The check does not apply here (key absent from this kernel, no broker running).
    NotApplicable,
    /// The value drifts, and a waiver in force says why that is accepted
    /// here: shown and counted, but not drift (no non-zero exit, no
    /// drifting host on the fleet page).
    Waived,
}

impl Status {
    /// The lower-case name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Drift => "drift",
            Status::Unreadable => "unreadable",
            Status::NotApplicable => "not-applicable",
            Status::Waived => "waived",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One expectation checked against one observed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Which family of check produced it: `sysctl`, `boot`, `tuned`, `thp`, `sysfs`,
    /// `block`, `mount`, `swap`, `limits`, `gc`, `jvm`.
    pub check: String,
    /// What was checked, e.g. `vm.swappiness` or `sda/queue/scheduler`.
    pub key: String,
    /// The expectation as written in the profile (`1`, `>=262144`, `none|mq-deadline`).
    pub expected: String,
    /// What was observed; `None` when nothing could be read.
    pub actual: Option<String>,
    /// The verdict.
    pub status: Status,
    /// Where the expectation comes from: the profile that set it and its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A short human explanation (the overriding file, the error, the advice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The waiver that matched a drifting value: in force (status `waived`)
    /// or expired (status `drift`, and this says since when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverNote>,
}

/// What a finding carries of the waiver that matched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverNote {
    /// Why the difference is accepted, as the waiver says.
    pub justification: String,
    /// The last day the waiver holds (`YYYY-MM-DD`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// True when `expires` has passed: the finding is drift again.
    #[serde(default)]
    pub expired: bool,
    /// Where the waiver is written: `FILE:LINE`.
    pub from: String,
}

/// Every check family a finding can name, for validating what refers to
/// them (waivers).
pub const CHECKS: &[&str] = &[
    "sysctl",
    "boot",
    "tuned",
    "thp",
    "sysfs",
    "block",
    "mount",
    "swap",
    "limits",
    "process",
    "kafka",
    "datadir",
    "placement",
    "space",
    "memory",
    "maps",
    "files",
    "gc",
    "jvm",
    "stall",
];

/// Counts of findings by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// All findings.
    pub total: usize,
    /// Findings with status `ok`.
    pub ok: usize,
    /// Findings with status `drift`.
    pub drift: usize,
    /// Findings with status `unreadable`.
    pub unreadable: usize,
    /// Findings with status `not-applicable`.
    pub not_applicable: usize,
    /// Findings with status `waived` (absent from older reports).
    #[serde(default)]
    pub waived: usize,
}

impl Summary {
    /// Counts the given findings.
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary {
            total: findings.len(),
            ..Summary::default()
        };
        for f in findings {
            match f.status {
                Status::Ok => s.ok += 1,
                Status::Drift => s.drift += 1,
                Status::Unreadable => s.unreadable += 1,
                Status::NotApplicable => s.not_applicable += 1,
                Status::Waived => s.waived += 1,
            }
        }
        s
    }

    /// The process exit code the project uses everywhere: 0 nothing drifted,
    /// 1 drift found (2, "could not run", is decided by the caller).
    pub fn exit_code(&self) -> u8 {
        if self.drift > 0 { 1 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(status: Status) -> Finding {
        Finding {
            check: "sysctl".into(),
            key: "vm.swappiness".into(),
            expected: "1".into(),
            actual: Some("60".into()),
            status,
            source: None,
            detail: None,
            waiver: None,
        }
    }

    #[test]
    fn summary_counts_and_exit_code() {
        let fs = [
            finding(Status::Ok),
            finding(Status::Unreadable),
            finding(Status::NotApplicable),
        ];
        let s = Summary::of(&fs);
        assert_eq!(
            (s.total, s.ok, s.unreadable, s.not_applicable),
            (3, 1, 1, 1)
        );
        assert_eq!(s.exit_code(), 0, "unreadable is not drift");
        let s = Summary::of(&[finding(Status::Drift)]);
        assert_eq!(s.exit_code(), 1);
        let s = Summary::of(&[finding(Status::Waived), finding(Status::Ok)]);
        assert_eq!(
            (s.waived, s.drift, s.exit_code()),
            (1, 0, 0),
            "waived is not drift"
        );
    }

    #[test]
    fn status_serialises_kebab_case() {
        let json = serde_json::to_string(&Status::NotApplicable).unwrap();
        assert_eq!(json, "\"not-applicable\"");
    }
}
