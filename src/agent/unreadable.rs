//! What the agent cannot read, said once in the journal: a GC log in a
//! directory it may not enter, a configuration file, a kernel setting. The
//! report says it every interval (an `unreadable` finding with its
//! remedy); the journal says it the first time, so the agent's first
//! minute in `journalctl` tells what it cannot see.

use std::collections::BTreeSet;

use crate::finding::{Finding, Status};
use crate::gc::slo::METRICS;
use crate::report::JvmReport;

/// The unreadable findings already told.
#[derive(Debug, Default)]
pub struct Unreadable {
    /// `(whose, "check key")`: a host finding's whose is empty, a JVM's its
    /// roles (a restarted broker's unreadable log is the same news, not a
    /// new line per pid).
    told: BTreeSet<(String, String)>,
}

impl Unreadable {
    /// Logs each unreadable finding of the host or of a JVM not told yet.
    pub fn tell(&mut self, findings: &[Finding], jvms: &[JvmReport]) {
        let host = findings.iter().map(|f| (None, f));
        let jvm = jvms
            .iter()
            .flat_map(|j| j.findings.iter().map(move |f| (Some(j), f)));
        for (j, f) in host.chain(jvm) {
            if f.status != Status::Unreadable {
                continue;
            }
            // A service level unknown because the GC log is: the log's
            // own finding tells it, once, with the remedy.
            if j.is_some() && f.check == "gc" && METRICS.contains(&f.key.as_str()) {
                continue;
            }
            let whose = j.map_or_else(String::new, |j| {
                if j.roles.is_empty() {
                    j.command.clone()
                } else {
                    j.roles.join("+")
                }
            });
            if !self
                .told
                .insert((whose.clone(), format!("{} {}", f.check, f.key)))
            {
                continue;
            }
            let of = match j {
                Some(j) => format!(" of the {whose} (pid {})", j.pid),
                None => String::new(),
            };
            tracing::warn!(
                "cannot read {} {}{of}: {}; reported as unreadable every interval until it can",
                f.check,
                f.key,
                f.detail.as_deref().unwrap_or("unreadable")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreadable(key: &str) -> Finding {
        Finding {
            check: "gc".into(),
            key: key.into(),
            expected: "x".into(),
            actual: None,
            status: Status::Unreadable,
            source: None,
            detail: None,
            waiver: None,
        }
    }

    /// Levels unknown for want of the log are not told again: the log is
    /// (once), and anything else unreadable of the JVM too.
    #[test]
    fn levels_unknown_with_the_log_are_told_by_the_log() {
        let jvm = JvmReport {
            pid: 7,
            command: "kafka.Kafka".into(),
            roles: vec!["broker".into()],
            profile: None,
            config: None,
            flags: Vec::new(),
            findings: ["log", "pause_p99_ms", "full_gcs", "counters"]
                .map(unreadable)
                .to_vec(),
            gc_logs: Vec::new(),
            gc: None,
            exited: false,
            counters: None,
        };
        let mut u = Unreadable::default();
        u.tell(&[], std::slice::from_ref(&jvm));
        let told: Vec<&str> = u.told.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(told, ["gc counters", "gc log"]);
    }
}
