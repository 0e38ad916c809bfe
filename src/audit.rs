//! The audit: a profile and a host snapshot become findings.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::finding::{Finding, Status, Summary};
use crate::host::identity::Identity;
use crate::host::mounts::{Mount, mount_for};
use crate::host::procs::LimitValue;
use crate::host::sysfs::{self, Knob, KnobScope, queue_path, thp_path};
use crate::host::{Host, HostError};
use crate::kafka::checks::check_brokers;
use crate::kafka::layout::Brokers;
use crate::kafka::{HostRole, Processes};
use crate::profile::{BlockRule, MountRule, Profile, Setting};

/// The audit result: one document for tables, JSON and the agent.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The profile audited against.
    pub profile: String,
    /// Where it was loaded from and its include chain.
    pub profile_chain: Vec<String>,
    /// Why this profile, when tunekeeper chose it from what runs on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen_because: Option<String>,
    /// The host.
    pub host: Identity,
    /// Every check, in profile order.
    pub findings: Vec<Finding>,
    /// Counts by status.
    pub summary: Summary,
}

/// Audits `host` against `profile`, judging the Kafka-family processes its
/// `[process] match` names. Never fails: what cannot be read becomes an
/// `unreadable` finding, what does not exist a `not-applicable` one.
pub fn audit(profile: &Profile, host: &Host) -> AuditReport {
    audit_processes(profile, host, Processes::Matching(&profile.process.pattern))
}

/// Audits `host` against the profile of one role that runs (or is
/// expected) here: only that role's processes are judged, so a broker
/// profile never judges a controller beside it, while placement still
/// compares their data directories with every other role's.
pub fn audit_role(profile: &Profile, host: &Host, role: HostRole) -> AuditReport {
    audit_processes(profile, host, Processes::OfRole(role))
}

/// Audits `host` against `profile`, judging the processes `which` selects.
pub fn audit_processes(profile: &Profile, host: &Host, which: Processes<'_>) -> AuditReport {
    let mut findings = Vec::new();
    let brokers = Brokers::observe(host, which);
    check_sysctl(profile, host, &mut findings);
    check_thp(profile, host, &mut findings);
    check_sysfs(profile, host, &mut findings);
    for rule in profile.block.values() {
        check_block(rule, host, &brokers, &mut findings);
    }
    if profile.mounts.values().any(|r| !r.paths.is_empty()) {
        let mounts = host.mounts();
        for rule in profile.mounts.values().filter(|r| !r.paths.is_empty()) {
            check_mount(rule, host, &mounts, &mut findings);
        }
    }
    check_brokers(profile, host, &brokers, &mut findings);
    check_swap(profile, host, &mut findings);
    check_running(profile, host, &brokers, which, &mut findings);
    check_nofile(profile, host, &brokers, which, &mut findings);
    let summary = Summary::of(&findings);
    AuditReport {
        profile: profile.name.clone(),
        profile_chain: profile.chain.clone(),
        chosen_because: None,
        host: host.identity(),
        findings,
        summary,
    }
}

/// A finding for one read value against one setting.
fn compare(
    check: &str,
    key: String,
    setting: &Setting,
    read: Result<String, HostError>,
) -> Finding {
    let (actual, status, detail) = match read {
        Ok(v) => {
            let status = if setting.expect.matches(&v) {
                Status::Ok
            } else {
                Status::Drift
            };
            (Some(crate::expect::normalise(&v)), status, None)
        }
        Err(e) => read_failure(e),
    };
    Finding {
        check: check.to_string(),
        key,
        expected: setting.expect.to_string(),
        actual,
        status,
        source: Some(setting.source()),
        detail,
        waiver: None,
    }
}

fn read_failure(e: HostError) -> (Option<String>, Status, Option<String>) {
    match e {
        HostError::Missing { .. } => (
            None,
            Status::NotApplicable,
            Some("this kernel has no such setting".into()),
        ),
        HostError::Denied { .. } => (
            None,
            Status::Unreadable,
            Some("permission denied (run as root to read it)".into()),
        ),
        other => (None, Status::Unreadable, Some(other.to_string())),
    }
}

fn check_sysctl(profile: &Profile, host: &Host, out: &mut Vec<Finding>) {
    if profile.sysctl.is_empty() {
        return;
    }
    let boot = host.boot_config();
    if !boot.left_out.is_empty() {
        out.push(Finding {
            check: "boot".into(),
            key: "sysctl.d".into(),
            expected: "every boot-time sysctl file read".into(),
            actual: None,
            status: Status::Unreadable,
            source: None,
            detail: Some(format!(
                "not read, so the next boot may set more than these findings say: {}",
                boot.left_out.join("; ")
            )),
            waiver: None,
        });
    }
    let tuned = host.tuned();
    if let Some(t) = tuned.as_ref().filter(|t| !t.left_out.is_empty()) {
        out.push(Finding {
            check: "tuned".into(),
            key: "profiles".into(),
            expected: "every active tuned profile read".into(),
            actual: None,
            status: Status::Unreadable,
            source: None,
            detail: Some(format!("not read: {}", t.left_out.join("; "))),
            waiver: None,
        });
    }
    for (key, setting) in &profile.sysctl {
        let mut current = compare("sysctl", key.to_string(), setting, host.sysctl(key));
        if current.status == Status::NotApplicable {
            // Missing: a key an older kernel lacks, or a typo in the profile.
            // The directory is listed only now, so a clean audit lists none.
            if let Some(near) = host.sysctl_suggestion(key) {
                current.detail = Some(format!("no such key on this kernel; did you mean {near}?"));
            }
            out.push(current);
            continue;
        }
        out.push(current);
        // What the next boot will set: systemd-sysctl's winning assignment.
        if let Some(winner) = boot.winner(key) {
            if !setting.expect.matches(&winner.value) {
                out.push(Finding {
                    check: "boot".into(),
                    key: key.to_string(),
                    expected: setting.expect.to_string(),
                    actual: Some(crate::expect::normalise(&winner.value)),
                    status: Status::Drift,
                    source: Some(setting.source()),
                    detail: Some(format!("{winner} sets it at every boot; change or remove that line, or run `tunekeeper apply --persist`")),
                    waiver: None,
                });
            }
        }
        if let Some(t) = &tuned {
            if let Some(tv) = t.sysctl.get(key) {
                // tuned's `>N` only ever raises a value: it fights an expectation
                // only when N itself would not satisfy it.
                let value = tv.value.strip_prefix('>').unwrap_or(&tv.value);
                if !setting.expect.matches(value) {
                    out.push(Finding {
                        check: "tuned".into(),
                        key: key.to_string(),
                        expected: setting.expect.to_string(),
                        actual: Some(tv.value.clone()),
                        status: Status::Drift,
                        source: Some(setting.source()),
                        detail: Some(format!(
                            "the tuned daemon is active (profile `{}`) and re-applies this value whenever it starts or reloads",
                            tv.profile
                        )),
                        waiver: None,
                    });
                }
            }
        }
    }
}

fn check_thp(profile: &Profile, host: &Host, out: &mut Vec<Finding>) {
    for (name, setting) in &profile.thp {
        out.push(compare(
            "thp",
            name.clone(),
            setting,
            host.sysfs_value(&thp_path(name)),
        ));
    }
}

fn check_sysfs(profile: &Profile, host: &Host, out: &mut Vec<Finding>) {
    for (name, setting) in &profile.sysfs {
        // Validated when the profile was loaded: only known names get here.
        let Some(knob) = sysfs::knob(name) else {
            continue;
        };
        out.push(match knob.scope {
            KnobScope::Host { .. } => check_host_knob(knob, setting, host),
            KnobScope::PerCpu { rel, .. } => check_cpu_knob(knob, rel, setting, host),
        });
    }
}

/// One host-wide file (the clock source); on drift, what the kernel offers.
fn check_host_knob(knob: &Knob, setting: &Setting, host: &Host) -> Finding {
    let KnobScope::Host { path, offered } = knob.scope else {
        unreachable!("called for host-wide knobs only");
    };
    let mut f = compare(
        "sysfs",
        knob.name.to_string(),
        setting,
        host.sysfs_value(Path::new(path)),
    );
    match f.status {
        Status::NotApplicable => {
            f.detail = Some(format!("{path} does not exist on this host"));
        }
        Status::Drift => {
            let offered = host
                .read_value(offered)
                .unwrap_or_else(|_| "(unreadable)".into());
            f.detail = Some(format!("{path}; this kernel offers: {offered}"));
        }
        _ => {}
    }
    f
}

/// A per-CPU file (the frequency governor): one finding for the host, the
/// CPUs grouped by value, so a 96-CPU host gets one row, not 96.
fn check_cpu_knob(knob: &Knob, rel: &str, setting: &Setting, host: &Host) -> Finding {
    let mut f = Finding {
        check: "sysfs".into(),
        key: knob.name.to_string(),
        expected: setting.expect.to_string(),
        actual: None,
        status: Status::NotApplicable,
        source: Some(setting.source()),
        detail: None,
        waiver: None,
    };
    let files = match host.knob_files(knob) {
        Ok(files) => files,
        Err(e) => {
            (f.actual, f.status, f.detail) = read_failure(e);
            return f;
        }
    };
    if files.is_empty() {
        f.detail = Some(format!(
            "no CPU has {rel}: no cpufreq driver (common in VMs), the frequency is not this kernel's to set"
        ));
        return f;
    }
    // value → CPUs holding it, in CPU order.
    let mut by_value: Vec<(String, Vec<&str>)> = Vec::new();
    let mut unreadable: Vec<&str> = Vec::new();
    for file in &files {
        match host.sysfs_value(&file.path) {
            Ok(v) => match by_value.iter_mut().find(|(val, _)| *val == v) {
                Some((_, cpus)) => cpus.push(&file.label),
                None => by_value.push((v, vec![&file.label])),
            },
            // A CPU going offline mid-read takes its cpufreq directory with it.
            Err(HostError::Missing { .. }) => {}
            Err(_) => unreadable.push(&file.label),
        }
    }
    if by_value.is_empty() {
        if unreadable.is_empty() {
            f.detail = Some(
                "every CPU's cpufreq directory vanished while reading (CPUs went offline)".into(),
            );
        } else {
            f.status = Status::Unreadable;
            f.detail = Some(format!("cannot read it on {}", unreadable.join(", ")));
        }
        return f;
    }
    let wrong: Vec<&(String, Vec<&str>)> = by_value
        .iter()
        .filter(|(v, _)| !setting.expect.matches(v))
        .collect();
    f.actual = Some(
        by_value
            .iter()
            .map(|(v, _)| v.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    let read = by_value.iter().map(|(_, c)| c.len()).sum::<usize>();
    let mut notes = Vec::new();
    if wrong.is_empty() {
        f.status = Status::Ok;
        notes.push(format!("{read} CPUs"));
    } else {
        f.status = Status::Drift;
        for (v, cpus) in &wrong {
            notes.push(format!("{v} on {}", cpus.join(",")));
        }
        let offered = host.knob_offered(&files[0]);
        if !offered.is_empty() {
            notes.push(format!("{} offers: {}", files[0].label, offered.join(" ")));
        }
    }
    if !unreadable.is_empty() {
        notes.push(format!("unreadable on {}", unreadable.join(",")));
    }
    f.detail = Some(notes.join("; "));
    f
}

/// Devices under /sys/block that a rule's globs match; a rule without
/// globs means the disks under the brokers' data directories.
pub fn matching_devices(
    rule: &BlockRule,
    host: &Host,
    brokers: &Brokers,
) -> Result<Vec<String>, HostError> {
    if rule.devices.is_empty() {
        return Ok(brokers.data_disks().into_iter().collect());
    }
    Ok(host
        .block_devices()?
        .into_iter()
        .filter(|d| rule.devices.iter().any(|p| p.matches(d)))
        .collect())
}

fn check_block(rule: &BlockRule, host: &Host, brokers: &Brokers, out: &mut Vec<Finding>) {
    let devices = match matching_devices(rule, host, brokers) {
        Ok(d) => d,
        Err(e) => {
            let (actual, status, detail) = read_failure(e);
            out.push(Finding {
                check: "block".into(),
                key: rule.devices_text.clone(),
                expected: format!("rule {}", rule.name),
                actual,
                status,
                source: Some(rule.from.clone()),
                detail,
                waiver: None,
            });
            return;
        }
    };
    if devices.is_empty() {
        out.push(Finding {
            check: "block".into(),
            key: rule.devices_text.clone(),
            expected: format!("rule {}", rule.name),
            actual: None,
            status: Status::NotApplicable,
            source: Some(rule.from.clone()),
            detail: Some(if rule.devices.is_empty() {
                if brokers.processes.is_empty() {
                    "no Kafka process runs: its data disks come from its configuration".into()
                } else {
                    "no data directory of a running Kafka process lies on a disk".into()
                }
            } else {
                "no block device matches".into()
            }),
            waiver: None,
        });
        return;
    }
    for dev in &devices {
        for (attr, setting) in &rule.attrs {
            let read = host.sysfs_value(&queue_path(dev, attr));
            out.push(compare("block", format!("{dev}/{attr}"), setting, read));
        }
    }
}

/// Expands a rule's paths (globs allowed) to the paths that exist on the host.
fn existing_paths(rule: &MountRule, host: &Host) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for p in &rule.paths {
        let full = host.path(p);
        let Some(pattern) = full.to_str() else {
            continue;
        };
        if let Ok(paths) = glob::glob(pattern) {
            for hit in paths.flatten() {
                if let Ok(rel) = hit.strip_prefix(host.root()) {
                    found.push(Path::new("/").join(rel));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// What a mount rule expects, for findings: `xfs|ext4,noatime,!strictatime`.
pub fn mount_expected(rule: &MountRule) -> String {
    let mut expected: Vec<String> = Vec::new();
    if let Some(types) = &rule.fstype {
        expected.push(types.join("|"));
    }
    expected.extend(rule.require.iter().cloned());
    expected.extend(rule.forbid.iter().map(|o| format!("!{o}")));
    expected.join(",")
}

/// What a mount is, for findings: `xfs rw,noatime,...`.
pub fn mount_actual(m: &Mount) -> String {
    let opts: Vec<&str> = m.options.iter().map(String::as_str).collect();
    format!("{} {}", m.fs_type, opts.join(","))
}

/// A mount against a rule: the verdict and a detail naming the mount and
/// every problem.
pub fn judge_mount(rule: &MountRule, m: &Mount) -> (Status, String) {
    let mut problems = Vec::new();
    if let Some(types) = &rule.fstype {
        if !types.iter().any(|t| t == &m.fs_type) {
            problems.push(format!("filesystem is {}", m.fs_type));
        }
    }
    problems.extend(
        rule.require
            .iter()
            .filter(|o| !m.has_option(o))
            .map(|o| format!("missing {o}")),
    );
    problems.extend(
        rule.forbid
            .iter()
            .filter(|o| m.has_option(o))
            .map(|o| format!("has {o}")),
    );
    let status = if problems.is_empty() {
        Status::Ok
    } else {
        Status::Drift
    };
    let detail = format!(
        "mounted at {} from {}{}",
        m.mount_point.display(),
        m.source,
        if problems.is_empty() {
            String::new()
        } else {
            format!(": {}", problems.join(", "))
        }
    );
    (status, detail)
}

fn check_mount(
    rule: &MountRule,
    host: &Host,
    mounts: &Result<Vec<Mount>, HostError>,
    out: &mut Vec<Finding>,
) {
    let expected = mount_expected(rule);
    let paths = existing_paths(rule, host);
    let base = |key: String| Finding {
        check: "mount".into(),
        key,
        expected: expected.clone(),
        actual: None,
        status: Status::NotApplicable,
        source: Some(rule.source.clone()),
        detail: None,
        waiver: None,
    };
    if paths.is_empty() {
        out.push(Finding {
            detail: Some("none of these paths exists on this host".into()),
            ..base(rule.paths.join(" "))
        });
        return;
    }
    let mounts = match mounts {
        Ok(m) => m,
        Err(e) => {
            out.push(Finding {
                status: Status::Unreadable,
                detail: Some(e.to_string()),
                ..base(rule.paths.join(" "))
            });
            return;
        }
    };
    for path in paths {
        let key = path.display().to_string();
        let Some(m) = mount_for(mounts, &path) else {
            out.push(Finding {
                status: Status::Unreadable,
                detail: Some("no mount holds this path".into()),
                ..base(key)
            });
            continue;
        };
        let (status, detail) = judge_mount(rule, m);
        out.push(Finding {
            actual: Some(mount_actual(m)),
            status,
            detail: Some(detail),
            ..base(key)
        });
    }
}

fn check_swap(profile: &Profile, host: &Host, out: &mut Vec<Finding>) {
    let Some(rule) = &profile.swap else { return };
    let mut f = Finding {
        check: "swap".into(),
        key: "active".into(),
        expected: if rule.allowed {
            "any".into()
        } else {
            "none".into()
        },
        actual: None,
        status: Status::Ok,
        source: Some(rule.source.clone()),
        detail: None,
        waiver: None,
    };
    match host.swaps() {
        Ok(areas) => {
            f.actual = Some(if areas.is_empty() {
                "none".into()
            } else {
                areas
                    .iter()
                    .map(|a| format!("{} ({} KiB)", a.name, a.size_kb))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            if !rule.allowed && !areas.is_empty() {
                f.status = Status::Drift;
                f.detail = Some("swapoff the devices and remove them from /etc/fstab".into());
            }
        }
        Err(e) => (f.actual, f.status, f.detail) = read_failure(e),
    }
    out.push(f);
}

/// `[process] running = true`: a broker host whose broker is not running
/// is a problem, not a host whose broker findings went away. Judged by role,
/// each role has a key of its own ([`HostRole::running_key`]).
fn check_running(
    profile: &Profile,
    host: &Host,
    brokers: &Brokers,
    which: Processes<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(setting) = &profile.process.running else {
        return;
    };
    let (key, expected, noun) = match which {
        Processes::OfRole(role) => (
            role.running_key().to_string(),
            role.recognised_by().to_string(),
            role.noun(),
        ),
        Processes::Matching(pattern) => (
            "running".to_string(),
            format!("a java process matching /{pattern}/"),
            "broker",
        ),
    };
    let pids: Vec<String> = judged_pids(host, brokers, which)
        .iter()
        .map(i32::to_string)
        .collect();
    out.push(Finding {
        check: "process".into(),
        key,
        expected,
        actual: (!pids.is_empty()).then(|| format!("pid {}", pids.join(", "))),
        status: if pids.is_empty() {
            Status::Drift
        } else {
            Status::Ok
        },
        source: Some(setting.source()),
        detail: pids.is_empty().then(|| stopped_detail(noun, None)),
        waiver: None,
    });
    let unread = crate::host::procs::unread();
    if !unread.stuck.is_empty() || unread.left_out > 0 {
        let mut why = Vec::new();
        if !unread.stuck.is_empty() {
            let pids: Vec<String> = unread.stuck.iter().map(i32::to_string).collect();
            why.push(format!(
                "/proc/PID of pid {} did not answer within {} s (its command line or maps: a process in D state, or its memory on a file system that does not answer)",
                pids.join(", "),
                crate::host::procs::CMDLINE_TIMEOUT.as_secs()
            ));
        }
        if unread.left_out > 0 {
            why.push(format!(
                "{} processes were not read (the scan's {} s budget or {} stuck reads reached)",
                unread.left_out,
                crate::host::procs::SCAN_BUDGET.as_secs(),
                crate::host::procs::MAX_STUCK
            ));
        }
        out.push(Finding {
            check: "process".into(),
            key: "unread".into(),
            expected: "every process's command line read".into(),
            actual: None,
            status: Status::Unreadable,
            source: None,
            detail: Some(format!(
                "{}: a broker among them would not be seen",
                why.join("; ")
            )),
            waiver: None,
        });
    }
}

/// The pids of the processes an audit judges: its role's, or (a profile
/// named by the user) every java process its pattern matches.
fn judged_pids(host: &Host, brokers: &Brokers, which: Processes<'_>) -> Vec<i32> {
    match which {
        Processes::OfRole(_) => brokers.processes.iter().map(|p| p.jvm.pid).collect(),
        Processes::Matching(pattern) => host
            .find_java_processes(pattern)
            .iter()
            .map(|p| p.pid)
            .collect(),
    }
}

/// What a `process` drift says: the role is stopped, and what went with it.
pub fn stopped_detail(noun: &str, since: Option<&str>) -> String {
    let when = since.map_or_else(
        || "none runs".to_string(),
        |s| format!("none runs since {s}"),
    );
    format!("{when}: the {noun} is stopped (its GC and limit findings are gone with it, not fixed)")
}

fn check_nofile(
    profile: &Profile,
    host: &Host,
    brokers: &Brokers,
    which: Processes<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(setting) = &profile.process.nofile else {
        return;
    };
    let procs = judged_pids(host, brokers, which);
    if procs.is_empty() {
        out.push(Finding {
            check: "limits".into(),
            key: "nofile".into(),
            expected: setting.expect.to_string(),
            actual: None,
            status: Status::NotApplicable,
            source: Some(setting.source()),
            detail: Some(match which {
                Processes::OfRole(role) => format!("no {} runs", role.noun()),
                Processes::Matching(pattern) => format!("no java process matches /{pattern}/"),
            }),
            waiver: None,
        });
        return;
    }
    for pid in procs {
        let read = host.nofile_limit(pid).map(|v| match v {
            // "unlimited" satisfies any lower bound.
            LimitValue::Unlimited => u64::MAX.to_string(),
            LimitValue::Value(n) => n.to_string(),
        });
        let mut f = compare("limits", format!("nofile (pid {pid})"), setting, read);
        if f.actual.as_deref() == Some(&u64::MAX.to_string()) {
            f.actual = Some("unlimited".into());
        }
        f.detail = Some(format!("soft limit from /proc/{pid}/limits"));
        out.push(f);
    }
}
