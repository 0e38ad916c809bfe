//! The roles the agent expects on its host, each audited against its own
//! profile every interval, and the process drift of each one that stops.
//!
//! Expected: every role seen running since the agent started (a broker, a
//! KRaft controller, a ZooKeeper server; a combined node is a broker), or,
//! when none runs at start, the default profile's broker (a broker host
//! whose broker has not started yet). A role that appears later is
//! expected from then on. `profile` in the agent's configuration replaces
//! all this with that one profile, judging what its `[process] match` names.

use crate::audit::{AuditReport, audit, audit_role, stopped_detail};
use crate::finding::{Finding, Status, Summary};
use crate::host::Host;
use crate::kafka::{HostRole, KafkaProcess, runs_because};
use crate::profile::{DEFAULT_PROFILE, Profile, ProfileError, ProfileStore};
use crate::report::{JvmReport, RoleReport};

/// One expected role and its state.
#[derive(Debug)]
pub struct Expected {
    /// The role; `None` for a profile named in the configuration.
    pub role: Option<HostRole>,
    /// Its profile.
    pub profile: Profile,
    /// Why it is expected (the processes that ran when it was first seen).
    because: String,
    /// One of its processes was seen since the agent started: a missing
    /// one then "stopped"; before, it "does not run".
    seen_running: bool,
    /// When it was first seen missing (RFC 3339), while it stays missing.
    missing_since: Option<String>,
}

impl Expected {
    /// The key of its `process` finding.
    pub fn process_key(&self) -> &'static str {
        self.role.map_or("running", HostRole::running_key)
    }

    /// What its processes are called in a sentence.
    fn noun(&self) -> &'static str {
        self.role.map_or("broker", HostRole::noun)
    }

    /// Its name in reports: the role, or the configured profile's name.
    pub fn name(&self) -> String {
        match self.role {
            Some(r) => r.name().to_owned(),
            None => self.profile.name.clone(),
        }
    }
}

/// One role's audit of one interval.
#[derive(Debug)]
pub struct RoleAudit {
    /// Which expected role (index into [`RoleWatch::expected`]).
    pub index: usize,
    /// Its audit, waived and with its `process` finding's "since".
    pub report: AuditReport,
    /// The pids of its processes now.
    pub pids: Vec<i32>,
}

/// The expected roles.
#[derive(Debug)]
pub struct RoleWatch {
    /// In [`HostRole::ALL`] order (a configured profile alone).
    pub expected: Vec<Expected>,
    /// `profile` was set in the configuration: the set never grows.
    fixed: bool,
    /// Roles whose profile could not be loaded, said once.
    refused: Vec<HostRole>,
}

impl RoleWatch {
    /// The roles to expect at start: the configured profile, else every
    /// role that runs (`procs`), else the default profile's broker. A
    /// profile that cannot be loaded stops the agent (exit 2), as before.
    pub fn start(
        configured: Option<&str>,
        store: &ProfileStore,
        procs: &[KafkaProcess],
    ) -> Result<RoleWatch, ProfileError> {
        if let Some(name) = configured {
            return Ok(RoleWatch {
                expected: vec![Expected {
                    role: None,
                    profile: store.load(name)?,
                    because: "named in the agent's configuration (`profile`)".into(),
                    seen_running: false,
                    missing_since: None,
                }],
                fixed: true,
                refused: Vec::new(),
            });
        }
        let mut watch = RoleWatch {
            expected: Vec::new(),
            fixed: false,
            refused: Vec::new(),
        };
        for (role, group) in crate::kafka::roles::group(procs.to_vec()) {
            watch.expected.push(Expected {
                role: Some(role),
                profile: store.load(role.profile())?,
                because: runs_because(&group),
                seen_running: false,
                missing_since: None,
            });
        }
        if watch.expected.is_empty() {
            watch.expected.push(Expected {
                role: Some(HostRole::Broker),
                profile: store.load(DEFAULT_PROFILE)?,
                because: "no Kafka broker, controller or ZooKeeper runs: the default profile expects a broker".into(),
                seen_running: false,
                missing_since: None,
            });
        }
        for e in &watch.expected {
            tracing::info!(
                role = %e.name(),
                profile = %e.profile.name,
                reason = %e.because,
                "expecting this role"
            );
        }
        Ok(watch)
    }

    /// Every expected profile's name joined by `+`, for the report's
    /// `profile` and the metrics' `_info`.
    pub fn profile_names(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for e in &self.expected {
            if !names.contains(&e.profile.name.as_str()) {
                names.push(&e.profile.name);
            }
        }
        names.join("+")
    }

    /// Expects the roles of `procs` not expected yet (started after the
    /// agent); a profile that cannot be loaded is logged once and the
    /// role left out.
    pub fn add_new(&mut self, store: &ProfileStore, procs: &[KafkaProcess]) {
        if self.fixed {
            return;
        }
        for (role, group) in crate::kafka::roles::group(procs.to_vec()) {
            if self.expected.iter().any(|e| e.role == Some(role)) || self.refused.contains(&role) {
                continue;
            }
            match store.load(role.profile()) {
                Ok(profile) => {
                    let because = runs_because(&group);
                    tracing::info!(role = %role, profile = %profile.name, reason = %because,
                        "a role started: expecting it from now on");
                    self.expected.push(Expected {
                        role: Some(role),
                        profile,
                        because,
                        seen_running: false,
                        missing_since: None,
                    });
                }
                Err(e) => {
                    tracing::error!(role = %role, error = %e,
                        "a role runs here but its profile cannot be loaded: it is not audited");
                    self.refused.push(role);
                }
            }
        }
        self.expected.sort_by_key(|e| e.role);
    }

    /// The profile that judges a process of `role` (`None`: a JVM only
    /// `jvm_match` names): its role's, else the first expected one.
    pub fn profile_for(&self, role: Option<HostRole>) -> &Profile {
        let own = role.and_then(|r| self.expected.iter().find(|e| e.role == Some(r)));
        &own.or_else(|| self.expected.first())
            .expect("a watch always expects one role")
            .profile
    }

    /// Audits every expected role against its profile.
    pub fn audit(&self, host: &Host, procs: &[KafkaProcess]) -> Vec<RoleAudit> {
        self.expected
            .iter()
            .enumerate()
            .map(|(index, e)| {
                let report = match e.role {
                    Some(role) => audit_role(&e.profile, host, role),
                    None => audit(&e.profile, host),
                };
                let pids = match e.role {
                    Some(role) => procs
                        .iter()
                        .filter(|p| HostRole::of(p.role) == role)
                        .map(|p| p.jvm.pid)
                        .collect(),
                    None => report
                        .findings
                        .iter()
                        .find(|f| f.check == "process" && f.key == "running")
                        .and_then(|f| f.actual.as_deref())
                        .and_then(|a| a.strip_prefix("pid "))
                        .map(|list| list.split(", ").filter_map(|p| p.parse().ok()).collect())
                        .unwrap_or_default(),
                };
                RoleAudit {
                    index,
                    report,
                    pids,
                }
            })
            .collect()
    }

    /// Adds "since ..." to each role's `process` drift, and logs the change
    /// both ways: a stopped role must read as stopped, with its time.
    pub fn note_missing(&mut self, audits: &mut [RoleAudit], now: &str) {
        for a in audits.iter_mut() {
            let e = &mut self.expected[a.index];
            let key = e.process_key();
            let Some(f) = a
                .report
                .findings
                .iter_mut()
                .find(|f| f.check == "process" && f.key == key)
            else {
                continue;
            };
            if f.status == Status::Drift {
                let seen = e.seen_running;
                let noun = e.noun();
                let name = e.name();
                let since = e.missing_since.get_or_insert_with(|| {
                    if seen {
                        tracing::warn!(role = %name, "the {noun} stopped: none of its processes runs");
                    } else {
                        tracing::warn!(role = %name, "no {noun} runs, and the profile expects one");
                    }
                    now.to_owned()
                });
                f.detail = Some(stopped_detail(noun, Some(since)));
            } else if f.status == Status::Ok {
                e.seen_running = true;
                if e.missing_since.take().is_some() {
                    tracing::info!(
                        role = %e.name(),
                        running = f.actual.as_deref().unwrap_or_default(),
                        "the {} runs again",
                        e.noun()
                    );
                }
            }
        }
    }

    /// The report's `roles`: each expected role with its processes and
    /// the counts of its findings (its audit's and its JVMs').
    pub fn reports(&self, audits: &[RoleAudit], jvms: &[JvmReport]) -> Vec<RoleReport> {
        // Each JVM's findings go to the role whose profile judged it.
        let jvm_findings: Vec<(usize, &Finding)> = jvms
            .iter()
            .filter_map(|j| {
                let role = j.profile.as_deref().and_then(HostRole::of_profile);
                self.index_for(role)
                    .map(|i| j.findings.iter().map(move |f| (i, f)))
            })
            .flatten()
            .collect();
        audits
            .iter()
            .map(|a| {
                let e = &self.expected[a.index];
                let own: Vec<Finding> = a
                    .report
                    .findings
                    .iter()
                    .cloned()
                    .chain(
                        jvm_findings
                            .iter()
                            .filter(|(i, _)| *i == a.index)
                            .map(|(_, f)| (*f).clone()),
                    )
                    .collect();
                RoleReport {
                    role: e.name(),
                    profile: e.profile.name.clone(),
                    because: e.because.clone(),
                    pids: a.pids.clone(),
                    running: !a.pids.is_empty(),
                    missing_since: e.missing_since.clone(),
                    process_key: e.process_key().to_owned(),
                    summary: Summary::of(&own),
                    finding_keys: a
                        .report
                        .findings
                        .iter()
                        .map(|f| [f.check.clone(), f.key.clone()])
                        .collect(),
                }
            })
            .collect()
    }

    /// The index of the expected role that judges a JVM of `role`.
    pub fn index_for(&self, role: Option<HostRole>) -> Option<usize> {
        let r = role?;
        self.expected.iter().position(|e| e.role == Some(r))
    }
}

/// Every role's findings in one list, for the report's `findings` (what
/// older collectors count): a finding two profiles make alike (a kernel
/// setting `base` sets for both) appears once.
pub fn merge(audits: &[RoleAudit]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for a in audits {
        for f in &a.report.findings {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: &str, key: &str, status: Status) -> Finding {
        Finding {
            check: check.into(),
            key: key.into(),
            expected: "1".into(),
            actual: Some("1".into()),
            status,
            source: Some("base: why".into()),
            detail: None,
            waiver: None,
        }
    }

    #[test]
    fn merge_keeps_one_of_each_alike_finding_in_role_order() {
        let audit = |findings: Vec<Finding>, index| RoleAudit {
            index,
            report: AuditReport {
                profile: "p".into(),
                profile_chain: vec![],
                chosen_because: None,
                host: Default::default(),
                summary: Summary::of(&findings),
                findings,
            },
            pids: vec![],
        };
        let swappiness = finding("sysctl", "vm.swappiness", Status::Ok);
        let broker = audit(
            vec![
                swappiness.clone(),
                finding("process", "running", Status::Ok),
            ],
            0,
        );
        let zk = audit(
            vec![
                swappiness.clone(),
                finding("process", "running (zookeeper)", Status::Drift),
            ],
            1,
        );
        let merged = merge(&[broker, zk]);
        let keys: Vec<&str> = merged.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["vm.swappiness", "running", "running (zookeeper)"]);
    }
}
