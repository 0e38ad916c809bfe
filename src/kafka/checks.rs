//! The broker's own checks: its configuration, each data directory's mount,
//! placement and free space, its heap against memory, and its maps and open
//! files against their limits. Observed state comes from [`Brokers`]; the
//! expectations from the profile's `[mount]` rules without `paths` and its
//! `[broker]` rules.

use std::collections::BTreeMap;

use super::layout::{Brokers, DataDirView};
use super::process::KafkaProcess;
use crate::expect::{Component, Op, Operand};
use crate::finding::{Finding, Status};
use crate::gc::flags::JvmFlags;
use crate::host::Host;
use crate::host::procs::LimitValue;
use crate::profile::{MountRule, Profile, Setting};

/// Every broker finding for the profile.
pub fn check_brokers(profile: &Profile, host: &Host, brokers: &Brokers, out: &mut Vec<Finding>) {
    let data_rules: Vec<&MountRule> = profile
        .mounts
        .values()
        .filter(|r| r.paths.is_empty())
        .collect();
    let wants_dirs = !data_rules.is_empty()
        || [
            "data_off_os_disk",
            "one_dir_per_disk",
            "data_free_percent",
            "data_inodes_free_percent",
        ]
        .iter()
        .any(|k| profile.broker.contains_key(*k));
    if brokers.processes.is_empty() {
        if wants_dirs {
            out.push(Finding {
                check: "datadir".into(),
                key: "data directories".into(),
                expected: "a running Kafka process".into(),
                actual: None,
                status: Status::NotApplicable,
                source: None,
                detail: Some(
                    "no Kafka broker, controller or ZooKeeper runs: data directories come from its configuration".into(),
                ),
                waiver: None,
            });
        }
        return;
    }
    let many = brokers.processes.len() > 1;
    for p in &brokers.processes {
        out.push(config_finding(p));
    }
    for d in &brokers.dirs {
        let key = dir_key(d, many);
        for rule in &data_rules {
            out.push(mount_finding(rule, d, &key));
        }
        out.push(dir_finding(d, &key, &brokers.rotational));
    }
    placement(profile, brokers, many, out);
    space(profile, brokers, many, out);
    for p in &brokers.processes {
        memory(profile, host, p, out);
        maps_and_files(profile, host, p, out);
    }
}

fn dir_key(d: &DataDirView, many: bool) -> String {
    if many {
        format!("{} (pid {})", d.dir.path.display(), d.pid)
    } else {
        d.dir.path.display().to_string()
    }
}

fn config_finding(p: &KafkaProcess) -> Finding {
    let (status, detail) = match &p.config {
        Ok(_) => (
            Status::Ok,
            p.container.as_ref().map(|c| {
                format!(
                    "runs {}: its paths are read through /proc/{}/root",
                    c.describe(),
                    p.jvm.pid
                )
            }),
        ),
        Err(problem) => (
            Status::Unreadable,
            Some(format!(
                "{problem}; its data directories, mounts, disks and timeouts cannot be checked"
            )),
        ),
    };
    Finding {
        check: "kafka".into(),
        key: format!("pid {}", p.jvm.pid),
        expected: "a readable configuration".into(),
        actual: Some(p.describe()),
        status,
        source: None,
        detail,
        waiver: None,
    }
}

/// Existence, and what holds it: mount, file system and disks.
fn dir_finding(
    d: &DataDirView,
    key: &str,
    rotational: &std::collections::BTreeMap<String, bool>,
) -> Finding {
    let mut f = Finding {
        check: "datadir".into(),
        key: key.to_string(),
        expected: "exists".into(),
        actual: None,
        status: Status::Ok,
        source: Some(format!("{} of pid {}", d.dir.from, d.pid)),
        detail: None,
        waiver: None,
    };
    match (&d.mount, &d.disks) {
        (Err(why), _) if d.resolved.is_none() => {
            f.status = Status::Drift;
            f.detail = Some(format!("{why}: the process is configured to write there"));
        }
        // It exists, but what holds it could not be read (the process
        // exited mid-read, or its mount table is not ours to read).
        (Err(why), _) => {
            f.status = Status::Unreadable;
            f.detail = Some(why.clone());
        }
        (Ok(m), disks) => {
            let on = match disks {
                Ok(d) if d.is_empty() => "no disk".to_string(),
                Ok(d) => d
                    .iter()
                    .map(|disk| match rotational.get(disk) {
                        Some(true) => format!("{disk} (HDD)"),
                        Some(false) => format!("{disk} (SSD)"),
                        None => disk.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("+"),
                Err(e) => format!("disk unknown ({e})"),
            };
            f.actual = Some(format!("{} on {on}", m.fs_type));
            f.detail = Some(format!(
                "mounted at {} from {}",
                m.mount_point.display(),
                m.source
            ));
        }
    }
    f
}

/// A `[mount]` rule without paths, applied to one data directory.
fn mount_finding(rule: &MountRule, d: &DataDirView, key: &str) -> Finding {
    let mut f = Finding {
        check: "mount".into(),
        key: key.to_string(),
        expected: crate::audit::mount_expected(rule),
        actual: None,
        status: Status::NotApplicable,
        source: Some(rule.source.clone()),
        detail: None,
        waiver: None,
    };
    match &d.mount {
        Err(why) => f.detail = Some(why.clone()),
        Ok(m) => {
            let (status, detail) = crate::audit::judge_mount(rule, m);
            f.status = status;
            f.actual = Some(crate::audit::mount_actual(m));
            f.detail = Some(detail);
        }
    }
    f
}

/// No data directory on the OS disk; one directory per disk, compared with
/// every data directory on the host, of whatever role: a broker's log
/// directory beside ZooKeeper's transaction log or a controller's metadata
/// log shares that disk as surely as beside another log directory.
fn placement(profile: &Profile, brokers: &Brokers, many: bool, out: &mut Vec<Finding>) {
    let off_os = profile.broker.get("data_off_os_disk");
    let one_per = profile.broker.get("one_dir_per_disk");
    if off_os.is_none() && one_per.is_none() {
        return;
    }
    let mut by_disk: BTreeMap<&str, Vec<&DataDirView>> = BTreeMap::new();
    for d in brokers.dirs.iter().chain(&brokers.others) {
        if let Ok(disks) = &d.disks {
            for disk in disks {
                by_disk.entry(disk.as_str()).or_default().push(d);
            }
        }
    }
    let same_role = |o: &DataDirView| brokers.dirs.iter().any(|d| std::ptr::eq(d, o));
    // Another role's directory says whose it is; the detail says more.
    let name_other = |o: &DataDirView| {
        if same_role(o) {
            dir_key(o, many)
        } else {
            format!("{} ({})", o.dir.path.display(), o.role.name())
        }
    };
    for d in &brokers.dirs {
        let key = dir_key(d, many);
        let Ok(disks) = &d.disks else { continue };
        if let Some(s) = off_os {
            let shared: Vec<&String> = disks.intersection(&brokers.os_disks).collect();
            out.push(Finding {
                check: "placement".into(),
                key: key.clone(),
                expected: "off the OS disk".into(),
                actual: Some(if disks.is_empty() {
                    "no disk".into()
                } else {
                    disks.iter().cloned().collect::<Vec<_>>().join("+")
                }),
                status: if shared.is_empty() {
                    Status::Ok
                } else {
                    Status::Drift
                },
                source: Some(s.source()),
                detail: (!shared.is_empty()).then(|| {
                    format!(
                        "{} also holds / (the OS): the {}'s I/O competes with the system's, and a full data disk fills the root file system",
                        shared.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("+"),
                        d.role.noun()
                    )
                }),
                waiver: None,
            });
        }
        if let Some(s) = one_per {
            let sharing: Vec<&DataDirView> = disks
                .iter()
                .flat_map(|disk| by_disk.get(disk.as_str()).into_iter().flatten())
                .filter(|o| !(o.pid == d.pid && o.dir.path == d.dir.path))
                .copied()
                .collect();
            let others: Vec<String> = sharing
                .iter()
                .map(|o| name_other(o))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let foreign: Vec<&DataDirView> =
                sharing.iter().filter(|o| !same_role(o)).copied().collect();
            out.push(Finding {
                check: "placement".into(),
                key: key.clone(),
                expected: "one data directory per disk".into(),
                actual: Some(if others.is_empty() {
                    "alone on its disk".into()
                } else {
                    format!("shares its disk with {}", others.join(", "))
                }),
                status: if others.is_empty() {
                    Status::Ok
                } else {
                    Status::Drift
                },
                source: Some(s.source()),
                detail: (!others.is_empty()).then(|| placement_detail(d, &foreign)),
                waiver: None,
            });
        }
    }
}

/// Why sharing a disk matters, from the directory's side: a broker's log
/// directories compete (JBOD), ZooKeeper and a controller fsync every write
/// to their logs, and the other roles' directories are named with the
/// setting and pid that put them there.
fn placement_detail(d: &DataDirView, foreign: &[&DataDirView]) -> String {
    use super::roles::HostRole;
    let whose: Vec<String> = foreign
        .iter()
        .map(|o| {
            format!(
                "{} is the {}'s {} (pid {})",
                o.dir.path.display(),
                o.role.name(),
                o.dir.from,
                o.pid
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let why = match (d.role, foreign.is_empty()) {
        (HostRole::Broker, true) => {
            "JBOD means one log directory per disk: two on one disk compete for the same spindle or queue".to_string()
        }
        (HostRole::Broker, false) => {
            "ZooKeeper's transaction log and a controller's metadata log are fsynced on every write: behind this broker's writes they slow the whole cluster's coordination".to_string()
        }
        (HostRole::Zookeeper, _) => {
            "ZooKeeper fsyncs its transaction log on every write, and every other writer on its disk slows each one (ZooKeeper's guide: a dedicated transaction log device)".to_string()
        }
        (HostRole::Controller, _) => {
            "the controller fsyncs its metadata log on every write, and every other writer on its disk slows each one".to_string()
        }
    };
    if whose.is_empty() {
        why
    } else {
        format!("{}: {why}", whose.join("; "))
    }
}

/// Free space and inodes per data directory.
fn space(profile: &Profile, brokers: &Brokers, many: bool, out: &mut Vec<Finding>) {
    for (rule, what) in [
        ("data_free_percent", "free space"),
        ("data_inodes_free_percent", "free inodes"),
    ] {
        let Some(setting) = profile.broker.get(rule) else {
            continue;
        };
        for d in &brokers.dirs {
            let value = d.space.and_then(|s| match rule {
                "data_free_percent" => Some(s.free_percent),
                _ => s.inodes_free_percent,
            });
            let mut f = judge_number(
                "space",
                format!(
                    "{} {what}{}",
                    d.dir.path.display(),
                    if many {
                        format!(" (pid {})", d.pid)
                    } else {
                        String::new()
                    }
                ),
                setting,
                value,
                "%",
            );
            if value.is_none() {
                f.detail = Some(match d.space {
                    None => "the directory does not exist".into(),
                    Some(_) => "this file system reports no inode count".into(),
                });
            } else if let Some(s) = d.space {
                f.detail = Some(if rule == "data_free_percent" {
                    format!(
                        "{} free of {}",
                        human_bytes(s.free_bytes),
                        human_bytes(s.total_bytes)
                    )
                } else {
                    format!(
                        "{} inodes free of {}",
                        human_count(s.free_inodes),
                        human_count(s.total_inodes)
                    )
                });
            }
            out.push(f);
        }
    }
}

/// The heap against the memory the process may use: the host's RAM, or its
/// cgroup's limit when that is lower (a container).
fn memory(profile: &Profile, host: &Host, p: &KafkaProcess, out: &mut Vec<Finding>) {
    let max = profile.broker.get("heap_max");
    let share = profile.broker.get("heap_memory_percent");
    if max.is_none() && share.is_none() {
        return;
    }
    let flags = JvmFlags::from_args(&p.jvm.flags());
    let heap = flags.max_heap_kb.map(|kb| kb.saturating_mul(1024));
    let key = format!("heap (pid {})", p.jvm.pid);
    if let Some(setting) = max {
        let mut f = judge_number("memory", key.clone(), setting, heap, "");
        f.actual = heap.map(human_bytes);
        if heap.is_none() {
            f.detail =
                Some("no -Xmx on its command line: the JVM picks a quarter of memory".into());
        }
        out.push(f);
    }
    if let Some(setting) = share {
        let (limit, from) = memory_limit(host, p.jvm.pid);
        let pct = heap
            .zip(limit)
            .and_then(|(h, l)| (h.saturating_mul(100)).checked_div(l));
        let mut f = judge_number(
            "memory",
            format!("heap share (pid {})", p.jvm.pid),
            setting,
            pct,
            "%",
        );
        if let (Some(h), Some(l)) = (heap, limit) {
            f.detail = Some(format!(
                "{} of {} ({from}); the page cache gets the rest{}",
                human_bytes(h),
                human_bytes(l),
                direct_and_metaspace(&p.jvm.flags())
            ));
        } else {
            f.detail = Some(if heap.is_none() {
                "no -Xmx on its command line".into()
            } else {
                format!("memory size unknown ({from})")
            });
        }
        out.push(f);
    }
}

fn direct_and_metaspace(flags: &[String]) -> String {
    let shown: Vec<&str> = flags
        .iter()
        .map(String::as_str)
        .filter(|f| {
            f.starts_with("-XX:MaxDirectMemorySize=") || f.starts_with("-XX:MaxMetaspaceSize=")
        })
        .collect();
    if shown.is_empty() {
        String::new()
    } else {
        format!("; {}", shown.join(" "))
    }
}

/// The memory a process may use and where that figure comes from.
fn memory_limit(host: &Host, pid: i32) -> (Option<u64>, &'static str) {
    let ram = crate::file_kind::read_text(
        &host.path("/proc/meminfo"),
        crate::file_kind::MAX_KERNEL_FILE_BYTES,
    )
    .ok()
    .and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    })
    .map(|kb| kb * 1024);
    let cgroup = cgroup_memory_max(host, pid);
    match (ram, cgroup) {
        (Some(r), Some(c)) if c < r => (Some(c), "the cgroup's memory.max"),
        (None, Some(c)) => (Some(c), "the cgroup's memory.max"),
        (r, _) => (r, "MemTotal"),
    }
}

/// cgroup v2's `memory.max` of the process's cgroup (None when `max` or unknown).
fn cgroup_memory_max(host: &Host, pid: i32) -> Option<u64> {
    let cg = crate::file_kind::read_text(
        &host.path(format!("/proc/{pid}/cgroup")),
        crate::file_kind::MAX_KERNEL_FILE_BYTES,
    )
    .ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
    let rel = rel.trim().trim_start_matches('/');
    let v = crate::file_kind::read_text(
        &host.path("/sys/fs/cgroup").join(rel).join("memory.max"),
        crate::file_kind::MAX_KERNEL_FILE_BYTES,
    )
    .ok()?;
    v.trim().parse().ok()
}

/// Maps in use against `vm.max_map_count` (Kafka maps two index files per
/// segment), open files against the soft `nofile` limit.
fn maps_and_files(profile: &Profile, host: &Host, p: &KafkaProcess, out: &mut Vec<Finding>) {
    let pid = p.jvm.pid;
    if let Some(setting) = profile.broker.get("map_count_percent") {
        let used = host.map_count(pid).ok();
        let limit = crate::sysctl_key::SysctlKey::parse("vm.max_map_count")
            .ok()
            .and_then(|k| host.sysctl(&k).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        out.push(share_finding(
            "maps",
            pid,
            setting,
            used,
            limit,
            "vm.max_map_count",
        ));
    }
    if let Some(setting) = profile.broker.get("open_files_percent") {
        let used = std::fs::read_dir(host.path(format!("/proc/{pid}/fd")))
            .ok()
            .map(|rd| rd.count() as u64);
        let limit = match host.nofile_limit(pid) {
            Ok(LimitValue::Value(v)) => Some(v),
            _ => None,
        };
        out.push(share_finding(
            "files",
            pid,
            setting,
            used,
            limit,
            "the soft nofile limit",
        ));
    }
}

fn share_finding(
    check: &str,
    pid: i32,
    setting: &Setting,
    used: Option<u64>,
    limit: Option<u64>,
    of: &str,
) -> Finding {
    let pct = used
        .zip(limit)
        .and_then(|(u, l)| (u.saturating_mul(100)).checked_div(l));
    let mut f = judge_number(check, format!("pid {pid}"), setting, pct, "%");
    f.detail = Some(match (used, limit) {
        (Some(u), Some(l)) => format!("{u} in use of {l} ({of})"),
        (None, _) => format!("could not count them for pid {pid} (it exited, or needs root)"),
        (_, None) => format!("{of} is unknown or unlimited"),
    });
    f
}

/// A number against a one-bound setting; None is `unreadable`.
fn judge_number(
    check: &str,
    key: String,
    setting: &Setting,
    value: Option<u64>,
    unit: &str,
) -> Finding {
    let status = match value {
        Some(v) => {
            if setting.expect.matches(&v.to_string()) {
                Status::Ok
            } else {
                Status::Drift
            }
        }
        None => Status::Unreadable,
    };
    Finding {
        check: check.into(),
        key,
        expected: format!("{}{unit}", bound_text(setting)),
        actual: value.map(|v| format!("{v}{unit}")),
        status,
        source: Some(setting.source()),
        detail: None,
        waiver: None,
    }
}

/// `<=6GiB` reads better than `<=6442450944` for sizes.
fn bound_text(setting: &Setting) -> String {
    match setting.expect.alternatives().first().map(Vec::as_slice) {
        Some(
            [
                Component {
                    op,
                    operand: Operand::Int(n),
                },
            ],
        ) if *n >= 1 << 30 && *n % (1 << 20) == 0 => {
            let sym = if *op == Op::Le { "<=" } else { ">=" };
            format!("{sym}{}", human_bytes(*n as u64))
        }
        _ => setting.expect.to_string(),
    }
}

/// `655,360`: a count with thousands separators.
pub fn human_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `6 GiB`, `512 MiB`, `1.5 TiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if (v - v.round()).abs() < 0.05 {
        format!("{:.0} {}", v, UNITS[i])
    } else {
        format!("{:.1} {}", v, UNITS[i])
    }
}
