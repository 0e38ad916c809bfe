//! The roles the agent expects on its host, each audited against its own
//! profile every interval, and the process drift of each one that stops.
//!
//! Expected: every role seen running (a broker, a KRaft controller, a
//! ZooKeeper server; a combined node is a broker), since the agent started
//! or before it (remembered in its state directory, [`super::role_state`]),
//! or, when none is known, the default profile's broker (a broker host
//! whose broker has not started yet). A role that appears later is
//! expected from then on; one missing longer than `forget_roles_after` is
//! forgotten. `profile` in the agent's configuration replaces all this with
//! that one profile, judging what its `[process] match` names.

use std::path::PathBuf;
use std::time::Duration;

use super::role_state::{self, Remembered};
use crate::audit::{AuditReport, audit, audit_role, stopped_detail};
use crate::finding::{Finding, Status, Summary};
use crate::host::Host;
use crate::kafka::{HostRole, KafkaProcess, Processes, runs_because};
use crate::profile::{DEFAULT_PROFILE, Profile, ProfileError, ProfileStore};
use crate::report::{JvmReport, RoleReport};

/// Why the default profile's broker is expected.
const DEFAULT_BECAUSE: &str =
    "no Kafka broker, controller or ZooKeeper runs: the default profile expects a broker";

/// One expected role and its state.
#[derive(Debug)]
pub struct Expected {
    /// The role; `None` for a profile named in the configuration.
    pub role: Option<HostRole>,
    /// Its profile.
    pub profile: Profile,
    /// Why it is expected (the processes that ran when it was first seen).
    because: String,
    /// One of its processes was seen running (since the agent started, or
    /// before, as its state file says): a missing one then "stopped";
    /// before, it "does not run".
    seen_running: bool,
    /// When it was first seen missing (RFC 3339), while it stays missing.
    missing_since: Option<String>,
    /// When it was first seen running (RFC 3339).
    first_seen: Option<String>,
    /// When it was last seen running (RFC 3339).
    last_seen: Option<String>,
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

    /// Why it is expected, as the report says it now: while none of its
    /// processes runs, in the past tense with since when (the reason was
    /// written when it ran, and "runs here (pid 12)" of a stopped role
    /// reads as if it still ran).
    fn because_now(&self, running: bool) -> String {
        match (&self.missing_since, running) {
            (Some(since), false) => format!(
                "{}; none has run since {since}",
                self.because.replacen(" runs here ", " ran here ", 1)
            ),
            _ => self.because.clone(),
        }
    }

    /// A role not seen running yet.
    fn new(role: Option<HostRole>, profile: Profile, because: String) -> Expected {
        Expected {
            role,
            profile,
            because,
            seen_running: false,
            missing_since: None,
            first_seen: None,
            last_seen: None,
        }
    }

    /// What the state file keeps of it: a role seen running, only.
    fn remembered(&self) -> Option<Remembered> {
        let role = self.role.filter(|_| self.seen_running)?;
        let first_seen = self.first_seen.clone()?;
        Some(Remembered {
            role,
            last_seen: self.last_seen.clone().unwrap_or_else(|| first_seen.clone()),
            first_seen,
            missing_since: self.missing_since.clone(),
        })
    }
}

/// Where the expected set is kept across restarts, and when a missing
/// role is forgotten.
#[derive(Debug, Clone)]
pub struct Persist {
    /// The state file ([`role_state::path`] of the agent's `state_dir`).
    pub path: PathBuf,
    /// `forget_roles_after`.
    pub forget_after: Duration,
}

/// The state file and what was last written to it.
#[derive(Debug)]
struct StateFile {
    persist: Persist,
    /// What the file holds, as far as a change is concerned (role, first
    /// seen, missing since): `None` until read or written whole.
    written: Option<Vec<(HostRole, String, Option<String>)>>,
    /// The last write failed (said once until one succeeds).
    failing: bool,
}

/// What decides whether the file must be written again: not `last_seen`,
/// which moves every interval.
fn change_key(roles: &[Remembered]) -> Vec<(HostRole, String, Option<String>)> {
    roles
        .iter()
        .map(|r| (r.role, r.first_seen.clone(), r.missing_since.clone()))
        .collect()
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
    /// Where the set is kept across restarts (not for a fixed watch).
    state: Option<StateFile>,
}

impl RoleWatch {
    /// The roles to expect at start: the configured profile, else every
    /// role remembered in the state file (`persist`) and every role that
    /// runs (`procs`), else the default profile's broker. A profile that
    /// cannot be loaded stops the agent (exit 2), as before; a state file
    /// that cannot be used is logged and taken as empty.
    pub fn start(
        configured: Option<&str>,
        store: &ProfileStore,
        procs: &[KafkaProcess],
        persist: Option<Persist>,
    ) -> Result<RoleWatch, ProfileError> {
        if let Some(name) = configured {
            return Ok(RoleWatch {
                expected: vec![Expected::new(
                    None,
                    store.load(name)?,
                    "named in the agent's configuration (`profile`)".into(),
                )],
                fixed: true,
                refused: Vec::new(),
                state: None,
            });
        }
        let mut watch = RoleWatch {
            expected: Vec::new(),
            fixed: false,
            refused: Vec::new(),
            state: None,
        };
        let running = crate::kafka::roles::group(procs.to_vec());
        let mut remembered = Vec::new();
        if let Some(persist) = persist {
            let written = match role_state::load(&persist.path) {
                Ok(r) => {
                    remembered = r;
                    Some(change_key(&remembered))
                }
                Err(e) => {
                    // Kept for a look (renaming opens nothing: a link or a
                    // FIFO is moved, not followed); the next write replaces it.
                    let aside = persist.path.with_extension("json.unusable");
                    let kept = match std::fs::rename(&persist.path, &aside) {
                        Ok(()) => format!("moved aside as {}", aside.display()),
                        Err(why) => format!("could not be moved aside ({why})"),
                    };
                    tracing::error!(error = %e,
                        "the roles the agent expects could not be read back: it starts from the roles that run now, \
                         so a role stopped before this start is not reported; the file was {kept} (to restore the \
                         roles, stop the agent, put a good file in place and start it)");
                    None
                }
            };
            watch.state = Some(StateFile {
                persist,
                written,
                failing: false,
            });
        }
        for r in remembered {
            let group = running.iter().find(|(role, _)| *role == r.role);
            let because = match group {
                Some((_, g)) => runs_because(g),
                None => format!(
                    "a {} ran here (first seen {}, last seen {}; remembered across the agent's restarts)",
                    r.role.noun(),
                    r.first_seen,
                    r.last_seen
                ),
            };
            if let (None, Some(since)) = (group, &r.missing_since) {
                tracing::warn!(role = %r.role, since = %since,
                    "the {} is still stopped: none of its processes runs", r.role.noun());
            }
            watch.expected.push(Expected {
                role: Some(r.role),
                profile: store.load(r.role.profile())?,
                because,
                seen_running: true,
                missing_since: r.missing_since,
                first_seen: Some(r.first_seen),
                last_seen: Some(r.last_seen),
            });
        }
        for (role, group) in &running {
            if watch.expected.iter().any(|e| e.role == Some(*role)) {
                continue;
            }
            watch.expected.push(Expected::new(
                Some(*role),
                store.load(role.profile())?,
                runs_because(group),
            ));
        }
        if watch.expected.is_empty() {
            watch.expect_default(store)?;
        }
        watch.expected.sort_by_key(|e| e.role);
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

    /// Expects the default profile's broker (none other is known).
    fn expect_default(&mut self, store: &ProfileStore) -> Result<(), ProfileError> {
        self.expected.push(Expected::new(
            Some(HostRole::Broker),
            store.load(DEFAULT_PROFILE)?,
            DEFAULT_BECAUSE.into(),
        ));
        Ok(())
    }

    /// Forgets every role that none of `procs` plays and that has been
    /// missing for `forget_roles_after` or longer at `now`: a role taken
    /// off the host on purpose. Logged; when none is left, the default
    /// profile's broker is expected, as at a start with nothing known.
    pub fn forget_missing(
        &mut self,
        store: &ProfileStore,
        procs: &[KafkaProcess],
        now: time::OffsetDateTime,
    ) {
        let Some(state) = &self.state else {
            return;
        };
        let after = state.persist.forget_after;
        let stale = |e: &Expected| {
            let (Some(role), Some(since)) = (e.role, e.missing_since.as_deref()) else {
                return false;
            };
            e.seen_running
                && !procs.iter().any(|p| HostRole::of(p.role) == role)
                && role_state::parse_time(since).is_some_and(|t| now - t >= after)
        };
        if !self.expected.iter().any(stale) {
            return;
        }
        // A watch always expects one role: with none left, the default
        // profile's broker, as at a start with nothing known.
        let fallback = if self.expected.iter().all(stale) {
            match store.load(DEFAULT_PROFILE) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(error = %e,
                        "the default profile cannot be loaded: the stopped roles are not forgotten");
                    return;
                }
            }
        } else {
            None
        };
        for e in self.expected.iter().filter(|e| stale(e)) {
            tracing::info!(role = %e.name(), since = e.missing_since.as_deref().unwrap_or_default(),
                forget_roles_after = %super::config::spell(after),
                "the {} has not run for forget_roles_after: forgotten (no longer expected; expected again if it runs)",
                e.noun());
        }
        self.expected.retain(|e| !stale(e));
        if let Some(profile) = fallback {
            self.expected.push(Expected::new(
                Some(HostRole::Broker),
                profile,
                DEFAULT_BECAUSE.into(),
            ));
        }
        self.save();
    }

    /// Writes the state file when what it holds changed; a failure is said
    /// once (until a write succeeds) and tried again at the next change.
    fn save(&mut self) {
        let roles: Vec<Remembered> = self
            .expected
            .iter()
            .filter_map(Expected::remembered)
            .collect();
        let Some(state) = &mut self.state else {
            return;
        };
        let key = change_key(&roles);
        if state.written.as_ref() == Some(&key) {
            return;
        }
        match role_state::save(&state.persist.path, &roles) {
            Ok(()) => {
                if state.failing {
                    tracing::info!(file = %state.persist.path.display(),
                        "the roles the agent expects are saved again");
                }
                state.failing = false;
                state.written = Some(key);
            }
            Err(e) => {
                if !state.failing {
                    tracing::error!(error = %e,
                        "cannot save the roles the agent expects: after a restart, a role stopped meanwhile \
                         would not be reported; make the directory writable by the agent's user (the packages \
                         create /var/lib/tunekeeper/agent for it) or set state_dir");
                }
                state.failing = true;
            }
        }
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
                    self.expected
                        .push(Expected::new(Some(role), profile, because));
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

    /// Every expected role's profile with the processes it judges, for one
    /// plan of them all ([`crate::apply::plan_all`]): a role's profile its
    /// role's processes, a configured profile what its `[process] match`
    /// names.
    pub fn plan_inputs(&self) -> Vec<(&Profile, Processes<'_>)> {
        self.expected
            .iter()
            .map(|e| {
                let which = match e.role {
                    Some(role) => Processes::OfRole(role),
                    None => Processes::Matching(&e.profile.process.pattern),
                };
                (&e.profile, which)
            })
            .collect()
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
                e.first_seen.get_or_insert_with(|| now.to_owned());
                e.last_seen = Some(now.to_owned());
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
        self.save();
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
                    because: e.because_now(!a.pids.is_empty()),
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

    /// A stopped role's reason is said in the past tense with since
    /// when; a running one's as it was written.
    #[test]
    fn a_stopped_roles_reason_says_it_ran() {
        let store = ProfileStore::with_dirs(vec![]);
        let mut e = Expected::new(
            Some(HostRole::Zookeeper),
            store.load("zookeeper").unwrap(),
            "a zookeeper runs here (pid 8)".into(),
        );
        assert_eq!(e.because_now(true), "a zookeeper runs here (pid 8)");
        e.missing_since = Some("2026-12-01T10:00:00Z".into());
        assert_eq!(
            e.because_now(false),
            "a zookeeper ran here (pid 8); none has run since 2026-12-01T10:00:00Z"
        );
        assert_eq!(e.because_now(true), "a zookeeper runs here (pid 8)");
    }

    /// A role remembered stopped is expected, stopped since the file says;
    /// past `forget_roles_after` it is forgotten, the file rewritten, and
    /// with nothing left the default broker is expected (not remembered).
    #[test]
    fn remembered_roles_are_expected_then_forgotten() {
        let t = tempfile::tempdir().unwrap();
        let path = role_state::path(t.path());
        let since = "2026-12-01T10:00:00Z";
        role_state::save(
            &path,
            &[Remembered {
                role: HostRole::Zookeeper,
                first_seen: "2026-11-01T10:00:00Z".into(),
                last_seen: "2026-12-01T09:59:00Z".into(),
                missing_since: Some(since.into()),
            }],
        )
        .unwrap();
        let store = ProfileStore::with_dirs(vec![]);
        let persist = Persist {
            path: path.clone(),
            forget_after: Duration::from_secs(7 * 86_400),
        };
        let mut w = RoleWatch::start(None, &store, &[], Some(persist.clone())).unwrap();
        assert_eq!(w.expected.len(), 1);
        let z = &w.expected[0];
        assert_eq!(z.role, Some(HostRole::Zookeeper));
        assert!(z.seen_running);
        assert_eq!(z.missing_since.as_deref(), Some(since));
        assert_eq!(z.profile.name, "zookeeper");

        let at = |s: &str| role_state::parse_time(s).unwrap();
        w.forget_missing(&store, &[], at("2026-12-08T09:59:59Z"));
        assert_eq!(
            w.expected[0].role,
            Some(HostRole::Zookeeper),
            "a second short of 7d"
        );
        w.forget_missing(&store, &[], at("2026-12-08T10:00:00Z"));
        assert_eq!(w.expected.len(), 1);
        assert_eq!(w.expected[0].role, Some(HostRole::Broker));
        assert!(!w.expected[0].seen_running);
        assert_eq!(role_state::load(&path).unwrap(), vec![]);

        // A fixed profile neither reads nor writes the file.
        std::fs::write(&path, "not json").unwrap();
        let w = RoleWatch::start(Some("zookeeper"), &store, &[], Some(persist)).unwrap();
        assert!(w.state.is_none() && w.fixed);
        assert_eq!(std::fs::read(&path).unwrap(), b"not json");
    }
}
