//! What the collector derives from one report when it stores it: the figures
//! the fleet views need, kept in columns so listing hosts or drawing charts
//! never re-parses stored documents: counts, GC figures (and why they are
//! missing), the roles the host runs and each drifting key's roles.

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Status};
use crate::report::{JvmCounters, JvmReport, Report, counters_state};

/// Most roles kept per host (a host runs three; a report naming more is
/// cut here, the document keeps them all).
const MAX_ROLES: usize = 16;
/// Most process ids kept per role.
const MAX_PIDS: usize = 16;
/// Longest text kept of a name or a reason (bytes, cut at a character).
const MAX_TEXT: usize = 600;

/// `s` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A drifting `(check, key)` pair, with what was expected and seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftKey {
    /// The check family (`sysctl`, `gc`, ...).
    pub check: String,
    /// The key within it.
    pub key: String,
    /// The expectation.
    pub expected: String,
    /// The observed value.
    pub actual: Option<String>,
    /// The roles whose audit made it (`roles[].finding_keys`, or the
    /// role of the JVM it is a finding of): when one of them
    /// stops and the key vanishes, it went with that role. Empty for
    /// older agents (no roles) and for rows stored before roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// One role of the host as the fleet and host views show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleState {
    /// `broker`, `controller`, `zookeeper` (or a configured profile's name).
    pub role: String,
    /// The profile that judged it.
    pub profile: String,
    /// One of its processes runs.
    pub running: bool,
    /// When none runs: since when (RFC 3339, as the agent says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_since: Option<String>,
    /// Its processes now.
    #[serde(default)]
    pub pids: Vec<i32>,
    /// Its drifting findings (its audit's and its JVMs').
    pub drift: u32,
}

/// What a host's row keeps beside its counts, as one JSON column: its
/// roles and why its GC figures are missing. Read back whole; a field
/// added later is `default` in rows stored before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDetail {
    /// The roles the agent expects on the host; empty when its report
    /// names none (an agent older than roles).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleState>,
    /// JVMs by role (`broker`, `zookeeper`, ...; a combined node is
    /// `broker+controller`; a JVM with no role is `other`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jvms_by_role: Vec<(String, u32)>,
    /// Why the GC health is unknown, when it is: no JVM, or a JVM whose
    /// GC log the agent cannot read (with the remedy the agent gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_unknown_because: Option<String>,
    /// Why the worst JVM's GC ms per second of the interval is `null`, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_rate_null_because: Option<String>,
    /// How the JVMs' GC logs compared with their own counters; `None`
    /// when no JVM of the report carries counters (an agent older than
    /// them, `jvm_counters = false`) and in rows stored before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<CountersVerdict>,
    /// Where the host's GC ms per second came from: the worst JVM's log,
    /// or the counters of a JVM whose log was not read. `None` when the
    /// rate is `null`, and in rows stored before (whose rate, if any, was
    /// a log's: nothing else gave one then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_rate_source: Option<GcRateSource>,
    /// The live JVMs whose GC figures of the interval (rate, full GCs)
    /// came from their own counters, their log not read: each as
    /// `broker (pid 12): 20.0 ms/s, 0 full GCs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gc_from_counters: Vec<String>,
}

/// Where a host's GC ms per second came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GcRateSource {
    /// The worst JVM's GC log.
    Log,
    /// The worst JVM's own counters (HotSpot's perf data): it has no
    /// readable GC log.
    Counters,
}

impl GcRateSource {
    /// The lower-case name, as the API says it.
    pub fn as_str(self) -> &'static str {
        match self {
            GcRateSource::Log => "log",
            GcRateSource::Counters => "counters",
        }
    }
}

/// The latest report's JVMs by how their GC log compared with their own
/// counters (HotSpot's perf data, read by the agent): the host's compact
/// verdict in `/api/v1/hosts`. Only JVMs whose entry carries `counters`
/// count (an exited JVM's final entry has none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersVerdict {
    /// The log agreed with the counters on every figure compared.
    pub verified: u32,
    /// The log and the counters differ on some figure (the host page
    /// shows both figures).
    pub differs: u32,
    /// The counters were read but nothing was compared: no readable log
    /// (the counters are the JVM's only GC figures), or nothing yet.
    pub not_compared: u32,
    /// The counters were not read: switched off, permission denied,
    /// another mount namespace, or not available.
    pub not_read: u32,
}

/// How one JVM's log compared with its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterResult {
    /// Every figure agreed.
    Verified,
    /// Some figure differs.
    Differs,
    /// Read, nothing compared.
    NotCompared,
    /// Not read (the state says why).
    NotRead,
}

impl CounterResult {
    /// The result of a JVM's counters, as the agent's
    /// `gc_cross_check_jvms{result}` counts it (plus `not_read`).
    pub fn of(c: &JvmCounters) -> CounterResult {
        if c.state != counters_state::READ {
            return CounterResult::NotRead;
        }
        match &c.cross_check {
            Some(x) if x.verified => CounterResult::Verified,
            Some(x) if x.checks.iter().any(|f| f.status == "differs") => CounterResult::Differs,
            _ => CounterResult::NotCompared,
        }
    }
}

impl CountersVerdict {
    /// The verdict over `jvms`; `None` when none carries counters.
    pub fn of(jvms: &[JvmReport]) -> Option<CountersVerdict> {
        let mut v: Option<CountersVerdict> = None;
        for c in jvms.iter().filter_map(|j| j.counters.as_ref()) {
            let v = v.get_or_insert_with(CountersVerdict::default);
            let n = match CounterResult::of(c) {
                CounterResult::Verified => &mut v.verified,
                CounterResult::Differs => &mut v.differs,
                CounterResult::NotCompared => &mut v.not_compared,
                CounterResult::NotRead => &mut v.not_read,
            };
            *n = n.saturating_add(1);
        }
        v
    }
}

impl HostDetail {
    /// The column's text.
    pub fn to_column(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Reads the column (NULL or unreadable: nothing known).
    pub fn from_column(text: Option<&str>) -> HostDetail {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    /// The role filter's column: each role name between newlines
    /// (`\nbroker\nzookeeper\n`), so `strpos` finds a whole name; NULL
    /// (`None`) without roles.
    pub fn role_names(&self) -> Option<String> {
        if self.roles.is_empty() {
            return None;
        }
        let mut s = String::from("\n");
        for r in &self.roles {
            s.push_str(&role_token(&r.role));
            s.push('\n');
        }
        Some(s)
    }
}

/// A role name as the role filter's column holds it: no newline (the
/// separator) and no NUL (PostgreSQL text refuses it).
pub fn role_token(name: &str) -> String {
    name.chars()
        .map(|c| if c == '\n' || c == '\0' { ' ' } else { c })
        .collect()
}

/// Figures derived from one report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    /// Findings with status drift, kernel and JVM alike.
    pub drift: u32,
    /// All findings, kernel and JVM alike.
    pub findings: u32,
    /// Drifting findings of the `gc` check (service levels missed; the
    /// agent judges a JVM without a readable log by its own counters).
    pub gc_drift: u32,
    /// JVMs in the report, of every role.
    pub jvms: u32,
    /// The worst JVM's GC pause milliseconds per wall second over the
    /// interval: by its log, or by its own counters when its log was not
    /// read (`detail.gc_rate_source` says which).
    pub gc_ms_per_second: Option<f64>,
    /// The worst JVM's overall pause p99 over the interval.
    pub pause_p99_ms: Option<f64>,
    /// Full GCs over the interval, all JVMs (by their counters for those
    /// whose log was not read).
    pub full_gcs: u64,
    /// Whether the GC of every JVM was read (and there is one): a JVM
    /// whose GC log the agent cannot read leaves the host's GC health
    /// unknown, never healthy.
    pub has_gc: bool,
    /// The drifting keys, sorted and unique by `(check, key)`.
    pub drifting: Vec<DriftKey>,
    /// The host's cluster (`report.cluster.name`), if it has one.
    pub cluster: Option<String>,
    /// The machine that sent it (`report.host.machine_id`), if it says:
    /// two machines under one host name are told apart by it.
    pub machine_id: Option<String>,
    /// The `process` check says no broker runs (`running` drifts): keys
    /// that vanish now went with the broker, they were not fixed (the rule
    /// for keys whose roles are not known: older agents, older rows).
    pub broker_missing: bool,
    /// The roles the report names, and whether each runs (empty: an
    /// agent older than roles).
    pub roles_running: Vec<(String, bool)>,
    /// When a role (or the broker) is missing: the `(check, key)` pairs
    /// reported `ok`, the only ones that did come back (empty otherwise,
    /// to keep ingest cheap).
    pub fixed_while_stopped: Vec<(String, String)>,
    /// Roles, JVMs by role, and why GC figures are missing.
    pub detail: HostDetail,
    /// Findings a waiver in force covers (status `waived`): shown and
    /// counted, not drift.
    pub waived: u32,
    /// The waived `(check, key)` pairs with the waiver's justification, so
    /// a drifting key that became waived reads `waived` in the history.
    pub waived_keys: Vec<WaivedKey>,
}

/// A `(check, key)` pair a waiver in force covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaivedKey {
    /// The check family.
    pub check: String,
    /// The key within it.
    pub key: String,
    /// Why it is accepted, as the waiver says (if the finding carries it).
    pub justification: Option<String>,
}

impl Derived {
    /// Derives the figures of `report`.
    pub fn of(report: &Report) -> Derived {
        let mut d = Derived {
            jvms: u32::try_from(report.jvms.len()).unwrap_or(u32::MAX),
            cluster: report
                .cluster
                .as_ref()
                .filter(|c| !c.name.trim().is_empty())
                .map(|c| c.name.clone()),
            machine_id: report.host.machine_id.clone(),
            ..Derived::default()
        };
        for f in &report.findings {
            d.count(f, owners_of_host_finding(report, f));
        }
        for jvm in &report.jvms {
            let owners = owners_of_jvm(report, jvm);
            for f in &jvm.findings {
                d.count(f, owners.clone());
            }
        }
        d.gc_figures(report);
        d.broker_missing = d
            .drifting
            .iter()
            .any(|k| k.check == "process" && k.key == "running");
        d.roles_running = report
            .roles
            .iter()
            .take(MAX_ROLES)
            .map(|r| (r.role.clone(), r.running))
            .collect();
        if d.broker_missing || d.roles_running.iter().any(|(_, running)| !running) {
            d.fixed_while_stopped = report
                .findings
                .iter()
                .chain(report.jvms.iter().flat_map(|j| j.findings.iter()))
                .filter(|f| f.status == Status::Ok)
                .map(|f| (f.check.clone(), f.key.clone()))
                .collect();
        }
        d.drifting
            .sort_by(|a, b| (&a.check, &a.key).cmp(&(&b.check, &b.key)));
        d.drifting.dedup_by(|a, b| {
            let same = a.check == b.check && a.key == b.key;
            if same {
                // One key two roles make alike belongs to both.
                for r in std::mem::take(&mut a.roles) {
                    if !b.roles.contains(&r) {
                        b.roles.push(r);
                    }
                }
            }
            same
        });
        d.detail.roles = role_states(report);
        // An agent older than roles names no JVM's role: nothing to count by.
        if !report.roles.is_empty() {
            d.detail.jvms_by_role = jvms_by_role(&report.jvms);
        }
        d.detail.counters = CountersVerdict::of(&report.jvms);
        d
    }

    /// The GC figures of the interval (the worst JVM's), whether every
    /// JVM's GC was read, and why figures are missing. A live JVM whose log
    /// was not read counts by its own counters: its rate and full GCs of
    /// the interval (never a percentile: those need the log). Its levels
    /// are the agent's findings, judged by the JVM's own profile.
    fn gc_figures(&mut self, report: &Report) {
        let live: Vec<&JvmReport> = report.jvms.iter().filter(|j| !j.exited).collect();
        let mut unread: Vec<String> = Vec::new();
        let mut no_rate: Vec<String> = Vec::new();
        for jvm in report.jvms.iter() {
            let log_rate = jvm
                .gc
                .as_ref()
                .and_then(|g| g.interval.gc_ms_per_second)
                .filter(|r| r.is_finite());
            let counted = (!jvm.exited && log_rate.is_none() && unread_because(jvm).is_some())
                .then(|| counted_interval(jvm))
                .flatten();
            if let Some((rate, full)) = counted {
                self.full_gcs = self.full_gcs.saturating_add(full);
                self.worst_rate(rate, GcRateSource::Counters);
                self.detail.gc_from_counters.push(bounded(
                    &format!(
                        "{}: {rate:.1} ms/s, {full} full GC{}",
                        jvm_label(jvm),
                        if full == 1 { "" } else { "s" }
                    ),
                    MAX_TEXT,
                ));
            } else if let Some(gc) = &jvm.gc {
                self.full_gcs = self.full_gcs.saturating_add(gc.interval.full_gcs);
                if let Some(rate) = log_rate {
                    self.worst_rate(rate, GcRateSource::Log);
                }
            }
            // A window without pauses says nothing about pause length.
            if let Some(w) = jvm.gc.as_ref().map(|g| &g.interval) {
                if w.overall.count > 0 && w.overall.p99_ms.is_finite() {
                    let p = w.overall.p99_ms;
                    self.pause_p99_ms = Some(self.pause_p99_ms.map_or(p, |m| m.max(p)));
                }
            }
        }
        self.detail.gc_from_counters.truncate(MAX_ROLES);
        for jvm in &live {
            let who = jvm_label(jvm);
            match unread_because(jvm) {
                Some(why) => unread.push(format!("{who}: {why}{}", counters_say(jvm))),
                None => {
                    let rate = jvm
                        .gc
                        .as_ref()
                        .and_then(|g| g.interval.gc_ms_per_second)
                        .filter(|r| r.is_finite());
                    if rate.is_none() {
                        let why = jvm
                            .gc
                            .as_ref()
                            .and_then(|g| g.interval.rates_null_because.clone())
                            .unwrap_or_else(|| {
                                "no rate over this interval (the JVM's first report, \
                                 or too short a stretch of log)"
                                    .into()
                            });
                        no_rate.push(format!("{who}: {why}"));
                    }
                }
            }
        }
        self.has_gc = !live.is_empty() && unread.is_empty();
        if live.is_empty() {
            let why = if report.jvms.is_empty() {
                "no JVM in the latest report (no broker, controller or ZooKeeper runs)"
            } else {
                "every JVM of the latest report has exited"
            };
            self.detail.gc_unknown_because = Some(why.into());
        } else if !unread.is_empty() {
            self.detail.gc_unknown_because = Some(bounded(
                &format!(
                    "{} of {} JVMs' GC not read: {}",
                    unread.len(),
                    live.len(),
                    unread.join("; ")
                ),
                MAX_TEXT,
            ));
        }
        if self.gc_ms_per_second.is_none() {
            let why = match (&self.detail.gc_unknown_because, no_rate.is_empty()) {
                (_, false) => no_rate.join("; "),
                (Some(u), true) => u.clone(),
                (None, true) => "no JVM reported a rate".into(),
            };
            self.detail.gc_rate_null_because = Some(bounded(&why, MAX_TEXT));
        }
    }

    /// Keeps the worst rate and where it came from (a tie goes to the log).
    fn worst_rate(&mut self, rate: f64, source: GcRateSource) {
        if self.gc_ms_per_second.is_none_or(|m| rate > m) {
            self.gc_ms_per_second = Some(rate);
            self.detail.gc_rate_source = Some(source);
        }
    }

    fn count(&mut self, f: &Finding, roles: Vec<String>) {
        self.findings = self.findings.saturating_add(1);
        if f.status == Status::Waived {
            self.waived = self.waived.saturating_add(1);
            self.waived_keys.push(WaivedKey {
                check: f.check.clone(),
                key: f.key.clone(),
                justification: f.waiver.as_ref().map(|w| w.justification.clone()),
            });
        }
        if f.status == Status::Drift {
            self.drift = self.drift.saturating_add(1);
            if f.check == "gc" {
                self.gc_drift = self.gc_drift.saturating_add(1);
            }
            self.drifting.push(DriftKey {
                check: f.check.clone(),
                key: f.key.clone(),
                expected: f.expected.clone(),
                actual: f.actual.clone(),
                roles,
            });
        }
    }
}

/// A JVM's counters, when the agent read them.
fn counters_read(jvm: &JvmReport) -> Option<&JvmCounters> {
    jvm.counters
        .as_ref()
        .filter(|c| c.state == counters_state::READ)
}

/// The rate (ms/s) and full GCs of the interval by a JVM's own counters:
/// a `last_interval` window with a finite rate.
fn counted_interval(jvm: &JvmReport) -> Option<(f64, u64)> {
    let w = counters_read(jvm)?
        .interval
        .as_ref()
        .filter(|w| w.window == "last_interval")?;
    let rate = w.gc_ms_per_second.filter(|r| r.is_finite() && *r >= 0.0)?;
    Some((rate, w.pauses.get("full").map_or(0, |p| p.count)))
}

/// What a JVM's counters add to why its GC was not read: its rate, or
/// why they give none; nothing for an agent older than them. The levels
/// they judge are the agent's findings, not judged again here.
fn counters_say(jvm: &JvmReport) -> String {
    let Some(c) = &jvm.counters else {
        return String::new();
    };
    if c.state != counters_state::READ {
        return match &c.reason {
            Some(r) => format!(" (its counters not read either: {}, {r})", c.state),
            None => format!(" (its counters not read either: {})", c.state),
        };
    }
    let Some((rate, _)) = counted_interval(jvm) else {
        return " (its counters give no rate yet: the agent's first read of this JVM)".into();
    };
    format!(
        " (its counters show {rate:.1} ms/s over the interval; its pause percentiles need the log)"
    )
}

/// The roles whose audit made a host finding (`roles[].finding_keys`).
fn owners_of_host_finding(report: &Report, f: &Finding) -> Vec<String> {
    report
        .roles
        .iter()
        .take(MAX_ROLES)
        .filter(|r| {
            r.finding_keys
                .iter()
                .any(|[check, key]| *check == f.check && *key == f.key)
        })
        .map(|r| r.role.clone())
        .collect()
}

/// The role whose profile judged a JVM (as the agent counts it in its
/// role's summary), else the report's roles the JVM names.
fn owners_of_jvm(report: &Report, jvm: &JvmReport) -> Vec<String> {
    let by_profile: Vec<String> = report
        .roles
        .iter()
        .take(MAX_ROLES)
        .filter(|r| jvm.profile.as_deref() == Some(r.profile.as_str()))
        .map(|r| r.role.clone())
        .collect();
    if !by_profile.is_empty() {
        return by_profile;
    }
    report
        .roles
        .iter()
        .take(MAX_ROLES)
        .filter(|r| jvm.roles.contains(&r.role))
        .map(|r| r.role.clone())
        .collect()
}

/// A JVM as sentences name it: `broker (pid 12)`, `broker+controller (pid
/// 13)`, or its command for a JVM with no role.
pub fn jvm_label(jvm: &JvmReport) -> String {
    let what = if jvm.roles.is_empty() {
        bounded(&jvm.command, 60)
    } else {
        bounded(&jvm.roles.join("+"), 60)
    };
    format!("{what} (pid {})", jvm.pid)
}

/// Why the agent read none of a JVM's GC, if it did not: its `gc log`
/// finding is `unreadable` (the log or its directory may not be read: the
/// finding carries the remedy) or `not_applicable` (no log configured,
/// the file missing), or there are no GC statistics at all.
pub fn unread_because(jvm: &JvmReport) -> Option<String> {
    let log = jvm.findings.iter().find(|f| {
        f.check == "gc"
            && f.key == "log"
            && matches!(f.status, Status::Unreadable | Status::NotApplicable)
    });
    match (log, &jvm.gc) {
        (Some(f), _) => {
            let what = if f.status == Status::Unreadable {
                "its GC log cannot be read"
            } else {
                "no GC log read"
            };
            Some(match f.detail.as_deref() {
                Some(d) => format!("{what}: {d}"),
                None => what.to_owned(),
            })
        }
        (None, None) => Some("no GC statistics in the report".into()),
        (None, Some(_)) => None,
    }
}

/// The report's roles, bounded, with their drift counts.
fn role_states(report: &Report) -> Vec<RoleState> {
    report
        .roles
        .iter()
        .take(MAX_ROLES)
        .map(|r| RoleState {
            role: bounded(&r.role, 100),
            profile: bounded(&r.profile, 100),
            running: r.running,
            missing_since: r.missing_since.as_deref().map(|t| bounded(t, 64)),
            pids: r.pids.iter().copied().take(MAX_PIDS).collect(),
            drift: u32::try_from(r.summary.drift).unwrap_or(u32::MAX),
        })
        .collect()
}

/// The JVMs counted by their roles, in first-seen order; one that exited
/// since the last report (its final entry) as `zookeeper (exited)`.
fn jvms_by_role(jvms: &[JvmReport]) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for j in jvms {
        let mut name = if j.roles.is_empty() {
            "other".to_owned()
        } else {
            bounded(&j.roles.join("+"), 100)
        };
        if j.exited {
            name.push_str(" (exited)");
        }
        if let Some((_, c)) = out.iter_mut().find(|(n, _)| *n == name) {
            *c = c.saturating_add(1);
        } else if out.len() < MAX_ROLES {
            out.push((name, 1));
        }
    }
    out
}

/// A host's GC health as the fleet view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GcHealth {
    /// Every JVM's GC read and no `gc` finding drifted.
    Healthy,
    /// A `gc` service-level finding drifted (for a JVM without a readable
    /// log, the agent judges the rate and full GCs by its own counters).
    Unhealthy,
    /// Not known: no JVM, or a JVM whose GC log the agent cannot read
    /// (the host view's `unknown_because` says which and what to do).
    Unknown,
}

impl GcHealth {
    /// The health from the latest report's figures. The agent evaluates the
    /// profile's service levels (its `gc` findings), so the collector does
    /// not second-guess them with thresholds of its own.
    pub fn from_figures(gc_drift: u32, has_gc: bool) -> GcHealth {
        if gc_drift > 0 {
            GcHealth::Unhealthy
        } else if has_gc {
            GcHealth::Healthy
        } else {
            GcHealth::Unknown
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GcHealth::Healthy => "healthy",
            GcHealth::Unhealthy => "unhealthy",
            GcHealth::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;

    fn fixture(name: &str) -> Report {
        let path = format!(
            "{}/tests/fixtures/collector/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn roles_of<'a>(d: &'a Derived, check: &str, key: &str) -> &'a [String] {
        &d.drifting
            .iter()
            .find(|k| k.check == check && k.key == key)
            .unwrap_or_else(|| panic!("{check} {key} does not drift"))
            .roles
    }

    /// A real agent's report of a host running a ZooKeeper, a broker and
    /// a controller: each drifting key belongs to the roles whose audit
    /// (or whose JVM) made it; a key every JVM makes alike, to all three.
    #[test]
    fn each_drifting_key_belongs_to_the_roles_that_made_it() {
        let d = Derived::of(&fixture("three-roles"));
        assert_eq!(
            roles_of(&d, "placement", "/srv/roles/zk-txn"),
            ["zookeeper"]
        );
        assert_eq!(roles_of(&d, "limits", "nofile (pid 6324)"), ["broker"]);
        let mut all = roles_of(&d, "stall", "gc_log_off_data_disk").to_vec();
        all.sort();
        assert_eq!(all, ["broker", "controller", "zookeeper"]);
        let names: Vec<(&str, bool)> = d
            .detail
            .roles
            .iter()
            .map(|r| (r.role.as_str(), r.running))
            .collect();
        assert_eq!(
            names,
            [("broker", true), ("controller", true), ("zookeeper", true)]
        );
        assert!(d.has_gc && d.detail.gc_unknown_because.is_none());
        assert_eq!(
            d.detail.role_names().as_deref(),
            Some("\nbroker\ncontroller\nzookeeper\n")
        );
    }

    /// The defect: a broker whose GC log the agent may not read carried
    /// empty GC statistics, and the host read "healthy". Its health is now
    /// unknown, with the JVM, the reason and the remedy.
    #[test]
    fn a_jvm_whose_gc_log_cannot_be_read_leaves_the_health_unknown() {
        let mut r = fixture("three-roles");
        let j = r.jvms.iter_mut().find(|j| j.pid == 6324).unwrap();
        j.findings.push(Finding {
            check: "gc".into(),
            key: "log".into(),
            expected: "a readable G1 log".into(),
            actual: None,
            status: Status::Unreadable,
            source: None,
            detail: Some("permission denied: SupplementaryGroups=kafka".into()),
            waiver: None,
        });
        let d = Derived::of(&r);
        assert!(!d.has_gc);
        assert_eq!(
            GcHealth::from_figures(d.gc_drift, d.has_gc),
            GcHealth::Unknown
        );
        let why = d.detail.gc_unknown_because.unwrap();
        assert!(
            why.starts_with("1 of 3 JVMs' GC not read: broker (pid 6324): its GC log cannot be read: permission denied: SupplementaryGroups=kafka"),
            "{why}"
        );
        // An older agent's report: no roles, nothing counted by role.
        let old = Derived::of(&fixture("report"));
        assert!(old.has_gc && old.detail.roles.is_empty() && old.detail.jvms_by_role.is_empty());
        assert_eq!(old.detail.role_names(), None);
    }

    /// The counters' verdict counts each JVM that carries counters by the
    /// agent's own rule; a report without any (an older agent) and a row
    /// stored before the verdict have none, never zeros.
    #[test]
    fn the_counters_verdict_counts_jvms_with_counters_only() {
        use crate::report::{CounterCheck, CounterFigure, JvmCounters};
        let check = |verified: bool, status: &str| CounterCheck {
            verified,
            summary: String::new(),
            checks: vec![CounterFigure {
                figure: "young pauses".into(),
                status: status.into(),
                ..CounterFigure::default()
            }],
            not_comparable: None,
        };
        let read = |x: Option<CounterCheck>| JvmCounters {
            state: counters_state::READ.into(),
            cross_check: x,
            ..JvmCounters::default()
        };
        let mut r = fixture("three-roles");
        assert_eq!(Derived::of(&r).detail.counters, None, "no counters yet");
        r.jvms[0].counters = Some(read(Some(check(true, "verified"))));
        r.jvms[1].counters = Some(read(Some(check(false, "differs"))));
        // Not verified, yet nothing differs: not compared.
        r.jvms[2].counters = Some(read(Some(check(false, "not_compared"))));
        let mut extra = r.jvms[2].clone();
        extra.counters = Some(JvmCounters {
            state: counters_state::DISABLED.into(),
            ..JvmCounters::default()
        });
        r.jvms.push(extra);
        let mut gone = r.jvms[2].clone();
        gone.exited = true;
        gone.counters = None;
        r.jvms.push(gone);
        let d = Derived::of(&r);
        assert_eq!(
            d.detail.counters,
            Some(CountersVerdict {
                verified: 1,
                differs: 1,
                not_compared: 1,
                not_read: 1
            })
        );
        let back = HostDetail::from_column(Some(&d.detail.to_column()));
        assert_eq!(back.counters, d.detail.counters);
        let before = HostDetail::from_column(Some(r#"{"gc_unknown_because":"x"}"#));
        assert_eq!(before.counters, None);
    }

    /// The JVM of `pid` in `r`, its log made unreadable as the agent
    /// reports it, with `counters` (rate and full GCs over the interval
    /// and its life) or none, and the level findings the agent then
    /// makes: judged by the counters where they can (by the agent's own
    /// code, against the JVM's profile), unknown otherwise.
    fn unread_with(r: &mut Report, pid: i32, counters: Option<(f64, u64)>) {
        use crate::report::{CounterPauses, CounterWindow};
        let window = |name: &str, rate: f64, full: u64| CounterWindow {
            window: name.into(),
            seconds: Some(60.0),
            pauses: [(
                "full".to_owned(),
                CounterPauses {
                    count: full,
                    time_ms: 300.0 * full as f64,
                },
            )]
            .into_iter()
            .collect(),
            gc_ms_per_second: Some(rate),
            ..CounterWindow::default()
        };
        let j = r.jvms.iter_mut().find(|j| j.pid == pid).unwrap();
        j.gc = None;
        let why = "permission denied: SupplementaryGroups=kafka";
        j.findings.push(Finding {
            check: "gc".into(),
            key: "log".into(),
            expected: "a readable G1 log".into(),
            actual: None,
            status: Status::Unreadable,
            source: None,
            detail: Some(why.into()),
            waiver: None,
        });
        j.counters = counters.map(|(rate, full)| JvmCounters {
            state: counters_state::READ.into(),
            only_witness: true,
            interval: Some(window("last_interval", rate, full)),
            total: Some(window("jvm_lifetime", rate, full)),
            ..JvmCounters::default()
        });
        let store = crate::profile::ProfileStore::with_dirs(Vec::new());
        let profile = store.load(j.profile.as_deref().unwrap()).unwrap();
        let levels = crate::gc::analyse::AnalyseOptions::default()
            .with_profile(&profile)
            .levels;
        let judged = crate::gc::slo::evaluate_without_log(
            j.counters.as_ref().and_then(|c| c.total.as_ref()),
            &levels,
            (Status::Unreadable, why),
        );
        j.findings
            .retain(|f| !(f.check == "gc" && judged.iter().any(|g| g.key == f.key)));
        j.findings.extend(judged);
    }

    fn only(r: &mut Report, pids: &[i32]) {
        r.jvms.retain(|j| pids.contains(&j.pid));
    }

    /// The gap of issue 23: a host whose only broker's log is unreadable
    /// had no GC rate and no full GCs, though its report carried the
    /// JVM's own counted rate. Now the counters' figures are the host's,
    /// said to be theirs; the levels are the agent's findings (judged by
    /// the counters there), which the collector counts as any other.
    #[test]
    fn a_jvm_without_a_readable_log_counts_by_its_counters() {
        let mut r = fixture("three-roles");
        only(&mut r, &[6324]);
        unread_with(&mut r, 6324, Some((40.0, 1)));
        let d = Derived::of(&r);
        assert_eq!(d.gc_ms_per_second, Some(40.0));
        assert_eq!(d.detail.gc_rate_source, Some(GcRateSource::Counters));
        assert_eq!(d.full_gcs, 1);
        assert_eq!(d.pause_p99_ms, None, "percentiles need the log");
        assert_eq!(d.detail.gc_rate_null_because, None);
        assert_eq!(
            d.detail.gc_from_counters,
            ["broker (pid 6324): 40.0 ms/s, 1 full GC"]
        );
        // The agent's two drifting findings (rate, full GCs by the
        // counters): unhealthy, as any drifting `gc` finding makes it.
        assert_eq!(d.gc_drift, 2);
        assert!(!d.has_gc);
        assert_eq!(
            GcHealth::from_figures(d.gc_drift, d.has_gc),
            GcHealth::Unhealthy
        );
        let back = HostDetail::from_column(Some(&d.detail.to_column()));
        assert_eq!(back, d.detail);

        // The same counters without the agent's verdict (an agent judging
        // on its log alone): the collector judges nothing itself.
        let j = &mut r.jvms[0];
        j.findings.retain(|f| {
            !(f.check == "gc" && ["gc_ms_per_second", "full_gcs"].contains(&f.key.as_str()))
        });
        let d = Derived::of(&r);
        assert_eq!(d.gc_ms_per_second, Some(40.0));
        assert_eq!(d.gc_drift, 0);
        assert_eq!(
            GcHealth::from_figures(d.gc_drift, d.has_gc),
            GcHealth::Unknown
        );

        // Within the levels: the rate still counts, the health stays
        // unknown (no percentile without the log), and says why.
        let mut r = fixture("three-roles");
        only(&mut r, &[6324]);
        unread_with(&mut r, 6324, Some((4.0, 0)));
        let d = Derived::of(&r);
        assert_eq!(d.gc_ms_per_second, Some(4.0));
        assert_eq!(d.gc_drift, 0);
        assert_eq!(
            GcHealth::from_figures(d.gc_drift, d.has_gc),
            GcHealth::Unknown
        );
        let why = d.detail.gc_unknown_because.unwrap();
        assert!(
            why.contains(
                "its counters show 4.0 ms/s over the interval; its pause percentiles need the log"
            ),
            "{why}"
        );
    }

    /// A logged JVM keeps its log's rate; the worst of the host's JVMs is
    /// its figure, with its source; the agent's findings are the verdict,
    /// waived ones accepted.
    #[test]
    fn the_worst_rate_wins_whatever_its_source() {
        let mut r = fixture("three-roles");
        only(&mut r, &[6324, 6346]);
        r.jvms[0].gc.as_mut().unwrap().interval.gc_ms_per_second = Some(5.0);
        unread_with(&mut r, 6346, Some((20.0, 0)));
        let d = Derived::of(&r);
        assert_eq!(d.gc_ms_per_second, Some(20.0));
        assert_eq!(d.detail.gc_rate_source, Some(GcRateSource::Counters));
        assert_eq!(d.pause_p99_ms, Some(1.012), "the log's p99 stays");

        r.jvms[0].gc.as_mut().unwrap().interval.gc_ms_per_second = Some(25.0);
        let d = Derived::of(&r);
        assert_eq!(d.gc_ms_per_second, Some(25.0));
        assert_eq!(d.detail.gc_rate_source, Some(GcRateSource::Log));
        assert_eq!(d.detail.gc_from_counters.len(), 1);
        assert_eq!(
            d.gc_drift, 1,
            "the agent: the controller's 20 ms/s misses its 15"
        );

        // Waived by the agent: accepted, not judged again.
        let c = r.jvms.iter_mut().find(|j| j.pid == 6346).unwrap();
        let f = c
            .findings
            .iter_mut()
            .find(|f| f.check == "gc" && f.key == "gc_ms_per_second")
            .unwrap();
        f.status = Status::Waived;
        let d = Derived::of(&r);
        assert_eq!(d.gc_drift, 0);
    }

    /// No counters and no log: `null` with the reason, as before, and
    /// the agent's levels unknown: no drift, health unknown.
    #[test]
    fn without_counters_the_rate_stays_null_with_its_reason() {
        let mut r = fixture("three-roles");
        only(&mut r, &[6324]);
        unread_with(&mut r, 6324, None);
        let d = Derived::of(&r);
        assert_eq!(d.gc_ms_per_second, None);
        assert_eq!(d.detail.gc_rate_source, None);
        assert!(d.detail.gc_from_counters.is_empty());
        assert_eq!(d.gc_drift, 0);
        assert_eq!(
            GcHealth::from_figures(d.gc_drift, d.has_gc),
            GcHealth::Unknown
        );
        let why = d.detail.gc_rate_null_because.unwrap();
        assert!(
            why.contains("broker (pid 6324): its GC log cannot be read"),
            "{why}"
        );

        // A row stored before the source was kept reads as before.
        let old = HostDetail::from_column(Some(r#"{"gc_unknown_because":"x"}"#));
        assert_eq!(old.gc_rate_source, None);
        assert!(old.gc_from_counters.is_empty());
    }
}
