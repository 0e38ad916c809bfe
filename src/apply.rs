//! Applying a profile: a plan, a rollback journal written before the first
//! write, writes with read-back, optional persistence in sysctl.d, and
//! rollback.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::audit::matching_devices;
use crate::host::sysctl::PROC_SYS;
use crate::host::sysfs::{self, KnobScope, active_choice, queue_path, thp_path};
use crate::host::{Host, HostError};
use crate::kafka::Processes;
use crate::profile::Profile;
use crate::sysctl_key::SysctlKey;

pub mod merge;

pub use merge::Conflict;
use merge::Wanted;

/// The file `--persist` writes. `99-` sorts after the distribution's files
/// and `tunekeeper` after `99-sysctl.conf`, so it wins among sysctl.d files.
pub const PERSIST_FILE: &str = "/etc/sysctl.d/99-tunekeeper.conf";

/// Where the rollback journal lives (below the host root).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/tunekeeper";

const JOURNAL_NAME: &str = "rollback.json";

/// The lock file beside the journal: one applier at a time.
const LOCK_NAME: &str = "apply.lock";

/// Why apply or rollback could not run.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// Writing /proc/sys and /sys needs uid 0.
    #[error(
        "applying a profile changes /proc/sys and /sys, which only root may write; run it with sudo (nothing was changed)"
    )]
    NotRoot,
    /// A setting's current value could not be read, so no safe plan exists.
    #[error("cannot plan {key}: {source} (nothing was changed)")]
    Unreadable {
        /// The setting.
        key: String,
        /// The cause.
        source: HostError,
    },
    /// The journal could not be written or read.
    #[error("rollback journal {}: {source}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another apply or rollback held the lock for longer than we wait.
    #[error(
        "another tunekeeper apply or rollback{} holds {} and did not finish within {waited:?}; try again when it has (nothing was changed)",
        holder.as_ref().map(|h| format!(" (pid {h})")).unwrap_or_default(),
        path.display()
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as it wrote it into the lock file.
        holder: Option<String>,
        /// How long we waited.
        waited: std::time::Duration,
    },
    /// The lock file could not be created or locked.
    #[error("lock file {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The persisted sysctl.d file could not be written or removed.
    #[error("{}: {source}", path.display())]
    Persist {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What kind of kernel file a step writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A /proc/sys key.
    Sysctl,
    /// A /sys attribute (THP, block queue).
    Sysfs,
}

/// One change the apply will make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// sysctl or sysfs.
    pub target: Target,
    /// Display name: `vm.swappiness`, `thp/enabled`, `vda/scheduler`.
    pub key: String,
    /// The host path written.
    pub path: PathBuf,
    /// The value now.
    pub current: String,
    /// The value to write.
    pub desired: String,
    /// Why: the profile and its reason.
    pub why: String,
}

/// Something the profile wants that apply does not change itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manual {
    /// What.
    pub key: String,
    /// What to do about it.
    pub advice: String,
}

/// The plan: every change, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// The profile.
    pub profile: String,
    /// Kernel writes.
    pub steps: Vec<Step>,
    /// Drift apply leaves to the operator (mounts, swap, process limits).
    pub manual: Vec<Manual>,
    /// The sysctl.d content `--persist` would write.
    pub persist: Vec<(String, String)>,
    /// Changes left out because a waiver in force accepts the current
    /// value: the key and the waiver's justification.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<Manual>,
    /// Keys the profiles of this host's roles want set to values no one
    /// value satisfies: nothing is written for them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
}

/// The outcome of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Written and read back as desired.
    Applied,
    /// Already right: nothing written.
    Unchanged,
    /// The kernel accepted the write but kept another value.
    Refused,
    /// The write failed; the apply stopped here.
    Failed,
    /// Written in this run, then restored after a later failure.
    RolledBack,
    /// Not attempted because an earlier write failed.
    Skipped,
}

/// The result of one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// The step.
    #[serde(flatten)]
    pub step: Step,
    /// What happened.
    pub outcome: Outcome,
    /// The value read back.
    pub after: Option<String>,
    /// The error, when the write failed.
    pub error: Option<String>,
}

/// The result of an apply.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The profile.
    pub profile: String,
    /// Each step's result.
    pub results: Vec<StepResult>,
    /// The sysctl.d file written, when `--persist` was given.
    pub persisted: Option<PathBuf>,
    /// The journal that `rollback` reads.
    pub journal: Option<PathBuf>,
    /// Drift left to the operator.
    pub manual: Vec<Manual>,
    /// Keys left as they are because the roles' profiles want values no
    /// one value satisfies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
}

impl ApplyReport {
    /// 0 everything took, 1 the kernel refused some value or the roles'
    /// profiles conflict on a key (left as it is), 2 a write failed.
    pub fn exit_code(&self) -> u8 {
        if self.results.iter().any(|r| r.outcome == Outcome::Failed) {
            2
        } else if self.results.iter().any(|r| r.outcome == Outcome::Refused)
            || !self.conflicts.is_empty()
        {
            1
        } else {
            0
        }
    }
}

/// One saved original value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// sysctl or sysfs.
    pub target: Target,
    /// Display name.
    pub key: String,
    /// Host path.
    pub path: PathBuf,
    /// The value before tunekeeper first changed it.
    pub original: String,
}

/// The rollback journal: originals of everything tunekeeper changed since
/// the last rollback, kept on disk (not in /run) so it survives a reboot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Format version.
    pub version: u32,
    /// The profile last applied.
    pub profile: String,
    /// Saved originals, in the order they were first changed.
    pub entries: Vec<JournalEntry>,
    /// The persisted file, and its content before tunekeeper wrote it (None: it did not exist).
    pub persisted: Option<PersistRecord>,
}

/// What `--persist` replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistRecord {
    /// Host path of the file.
    pub path: PathBuf,
    /// Content before tunekeeper wrote it.
    pub previous: Option<String>,
}

/// Proof that this process is the only one changing kernel settings and the
/// journal: an exclusive `flock` on `apply.lock` beside the journal, held
/// from before the plan reads the current values until the journal is saved.
/// Without it, two appliers (the boot-time apply and an agent with
/// `enforce = true`) each load the journal, and the second rename drops
/// the originals the first one saved. The kernel releases the lock when the
/// process dies, so a crash never leaves it stuck.
#[derive(Debug)]
pub struct ApplyLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl ApplyLock {
    /// Takes the lock, waiting up to `wait` for another holder to finish
    /// (`Duration::ZERO`: try once).
    pub fn acquire(
        host: &Host,
        state_dir: &Path,
        wait: std::time::Duration,
    ) -> Result<ApplyLock, ApplyError> {
        use nix::fcntl::{Flock, FlockArg};
        let path = host.path(state_dir).join(LOCK_NAME);
        let lock_err = |source| ApplyError::Lock {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(lock_err)?;
        }
        let deadline = std::time::Instant::now() + wait;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(mut locked) => {
                    // Who holds it, for the message another applier prints.
                    let _ = locked.set_len(0);
                    let _ = writeln!(&mut *locked, "{}", std::process::id());
                    return Ok(ApplyLock { _lock: locked });
                }
                Err((f, nix::errno::Errno::EWOULDBLOCK)) => {
                    if std::time::Instant::now() >= deadline {
                        let holder = crate::file_kind::read_text(&path, 4096)
                            .ok()
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty());
                        return Err(ApplyError::Busy {
                            path,
                            holder,
                            waited: wait,
                        });
                    }
                    tracing::info!(lock = %path.display(), "waiting for another apply to finish");
                    file = f;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err((_, errno)) => return Err(lock_err(errno.into())),
            }
        }
    }
}

/// Builds the plan: reads every setting's current value and decides the
/// value to write. Reads only; changes nothing. The profile judges the
/// processes its `[process] match` names (the disks under their data).
pub fn plan(profile: &Profile, host: &Host) -> Result<Plan, ApplyError> {
    plan_all(
        &[(profile, Processes::Matching(&profile.process.pattern))],
        host,
    )
}

/// The plan for every profile of a host with several roles (a broker
/// beside ZooKeeper or a controller), each with the processes it judges:
/// one plan, one apply, one journal. A key two profiles set gets the one
/// value that satisfies both ([`merge`]); a key no value satisfies is in
/// `conflicts`, not in the steps, and the rest of the plan stands.
pub fn plan_all(profiles: &[(&Profile, Processes<'_>)], host: &Host) -> Result<Plan, ApplyError> {
    let mut names: Vec<&str> = Vec::new();
    for (profile, _) in profiles {
        if !names.contains(&profile.name.as_str()) {
            names.push(&profile.name);
        }
    }
    let mut p = Plan {
        profile: names.join("+"),
        ..Plan::default()
    };
    // Each key with what every profile wants of it, in role order.
    let mut sysctl: BTreeMap<&SysctlKey, Wanted<'_>> = BTreeMap::new();
    let mut thp: BTreeMap<&str, Wanted<'_>> = BTreeMap::new();
    let mut knobs: BTreeMap<&str, Wanted<'_>> = BTreeMap::new();
    for (profile, _) in profiles {
        let name = profile.name.as_str();
        for (key, s) in &profile.sysctl {
            sysctl.entry(key).or_default().add(name, s);
        }
        for (key, s) in &profile.thp {
            thp.entry(key).or_default().add(name, s);
        }
        for (key, s) in &profile.sysfs {
            knobs.entry(key).or_default().add(name, s);
        }
    }
    for (key, wanted) in &sysctl {
        let path = Path::new(PROC_SYS).join(key.rel_path());
        let current = match host.sysctl(key) {
            Ok(v) => v,
            // A key this kernel lacks cannot be set; the audit reports it.
            // A misspelled one is the profile's mistake: say so in the plan.
            Err(HostError::Missing { .. }) => {
                if let Some(near) = host.sysctl_suggestion(key) {
                    p.manual.push(Manual {
                        key: key.to_string(),
                        advice: format!(
                            "no such key on this kernel; did you mean {near}? Fix the profile (nothing is written for it)"
                        ),
                    });
                }
                continue;
            }
            Err(source) => {
                return Err(ApplyError::Unreadable {
                    key: key.to_string(),
                    source,
                });
            }
        };
        let desired = match wanted.target(Some(&current)) {
            Ok(v) => v,
            Err(why) => {
                p.conflicts
                    .push(wanted.conflict(Target::Sysctl, key.to_string(), &current, why));
                continue;
            }
        };
        p.persist.push((key.to_string(), desired.clone()));
        push_step(
            &mut p,
            Target::Sysctl,
            key.to_string(),
            path,
            current,
            desired,
            wanted,
        );
    }
    for (name, wanted) in &thp {
        sysfs_step(&mut p, host, format!("thp/{name}"), thp_path(name), wanted)?;
    }
    for (name, wanted) in &knobs {
        knob_steps(&mut p, host, name, wanted)?;
    }
    // Block queues: each profile's rules over the disks of the processes
    // it judges; a device two profiles tune is one key.
    let mut queues: BTreeMap<PathBuf, (String, Wanted<'_>)> = BTreeMap::new();
    for (profile, which) in profiles {
        let brokers = crate::kafka::layout::Brokers::observe(host, *which);
        for rule in profile.block.values() {
            let devices = matching_devices(rule, host, &brokers).unwrap_or_default();
            for dev in devices {
                for (attr, setting) in &rule.attrs {
                    queues
                        .entry(queue_path(&dev, attr))
                        .or_insert_with(|| (format!("{dev}/{attr}"), Wanted::default()))
                        .1
                        .add(&profile.name, setting);
                }
            }
        }
    }
    for (path, (key, wanted)) in queues {
        sysfs_step(&mut p, host, key, path, &wanted)?;
    }
    for (profile, _) in profiles {
        manual_steps(&mut p, profile, host);
    }
    Ok(p)
}

/// What the profile wants that apply leaves to the operator, each said once.
fn manual_steps(p: &mut Plan, profile: &Profile, host: &Host) {
    let mut add = |key: String, advice: String| {
        if !p.manual.iter().any(|m| m.key == key && m.advice == advice) {
            p.manual.push(Manual { key, advice });
        }
    };
    for rule in profile.mounts.values() {
        add(
            if rule.paths.is_empty() {
                "mount (data directories)".to_string()
            } else {
                format!("mount {}", rule.paths.join(" "))
            },
            "mount options are not changed by apply: set them in /etc/fstab and remount".into(),
        );
    }
    if profile.swap.as_ref().is_some_and(|s| !s.allowed)
        && host.swaps().is_ok_and(|s| !s.is_empty())
    {
        add(
            "swap".into(),
            "swap is active: swapoff -a and remove swap entries from /etc/fstab".into(),
        );
    }
    if profile.process.nofile.is_some() {
        add(
            "nofile".into(),
            "process limits come from the broker's service: set LimitNOFILE= in its systemd unit"
                .into(),
        );
    }
}

fn push_step(
    p: &mut Plan,
    target: Target,
    key: String,
    path: PathBuf,
    current: String,
    desired: String,
    wanted: &Wanted<'_>,
) {
    if wanted.matches(&current) {
        return;
    }
    p.steps.push(Step {
        target,
        key,
        path,
        current: crate::expect::normalise(&current),
        desired,
        why: wanted.why(),
    });
}

fn sysfs_step(
    p: &mut Plan,
    host: &Host,
    key: String,
    path: PathBuf,
    wanted: &Wanted<'_>,
) -> Result<(), ApplyError> {
    let raw = match host.read_value(&path) {
        Ok(v) => v,
        Err(HostError::Missing { .. }) => return Ok(()),
        Err(source) => return Err(ApplyError::Unreadable { key, source }),
    };
    let current = active_choice(&raw);
    if wanted.matches(&current) {
        return Ok(());
    }
    // For choice files aim for the first alternative this device offers.
    let offered: Vec<&str> = raw
        .split_whitespace()
        .map(|w| w.trim_matches(['[', ']']))
        .collect();
    let chosen = raw
        .contains('[')
        .then(|| {
            wanted
                .choices()
                .into_iter()
                .find(|alt| offered.contains(&alt.as_str()))
        })
        .flatten();
    let desired = match chosen.map_or_else(|| wanted.target(Some(&current)), Ok) {
        Ok(v) => v,
        Err(why) => {
            p.conflicts
                .push(wanted.conflict(Target::Sysfs, key, &current, why));
            return Ok(());
        }
    };
    push_step(p, Target::Sysfs, key, path, current, desired, wanted);
    Ok(())
}

/// Steps for a named sysfs knob: one per file behind it (one per CPU for
/// the governor). The value written is the first alternative the kernel
/// lists as available; when it lists none of them, writing would only be
/// refused, so the plan tells the operator instead.
fn knob_steps(
    p: &mut Plan,
    host: &Host,
    name: &str,
    wanted: &Wanted<'_>,
) -> Result<(), ApplyError> {
    let Some(knob) = sysfs::knob(name) else {
        return Ok(());
    };
    let files = match host.knob_files(knob) {
        Ok(files) => files,
        // No cpufreq, no clock source directory: nothing to set; the audit says so.
        Err(HostError::Missing { .. }) => return Ok(()),
        Err(source) => {
            return Err(ApplyError::Unreadable {
                key: format!("sysfs/{name}"),
                source,
            });
        }
    };
    for file in files {
        let key = match knob.scope {
            KnobScope::Host { .. } => format!("sysfs/{name}"),
            KnobScope::PerCpu { .. } => format!("{}/{name}", file.label),
        };
        let current = match host.sysfs_value(&file.path) {
            Ok(v) => v,
            Err(HostError::Missing { .. }) => continue,
            Err(source) => return Err(ApplyError::Unreadable { key, source }),
        };
        if wanted.matches(&current) {
            continue;
        }
        let offered = host.knob_offered(&file);
        let choices = wanted.choices();
        let desired = if choices.is_empty() {
            match wanted.target(Some(&current)) {
                Ok(v) => v,
                Err(why) => {
                    p.conflicts
                        .push(wanted.conflict(Target::Sysfs, key, &current, why));
                    continue;
                }
            }
        } else if offered.is_empty() {
            // The list is unreadable: try the first alternative; read-back judges.
            choices[0].clone()
        } else if let Some(alt) = choices.iter().find(|alt| offered.iter().any(|o| o == *alt)) {
            alt.clone()
        } else {
            p.manual.push(Manual {
                key,
                advice: format!(
                    "this kernel offers only `{}` for {}; none of `{}` can be set",
                    offered.join(" "),
                    file.path.display(),
                    choices.join("|")
                ),
            });
            continue;
        };
        push_step(p, Target::Sysfs, key, file.path, current, desired, wanted);
    }
    Ok(())
}

/// Reads a step's target back, reduced to what is compared.
fn read_back(host: &Host, target: Target, path: &Path) -> Result<String, HostError> {
    let v = host.read_value(path)?;
    Ok(match target {
        Target::Sysctl => crate::expect::normalise(&v),
        Target::Sysfs => active_choice(&v),
    })
}

/// True when the current user may write kernel settings on `host`.
pub fn may_write(host: &Host) -> bool {
    !host.is_live() || nix::unistd::geteuid().is_root()
}

fn journal_path(host: &Host, state_dir: &Path) -> PathBuf {
    host.path(state_dir).join(JOURNAL_NAME)
}

/// Reads the journal, if one exists, and checks it as strictly as a
/// profile ([`crate::journal_check`]): it names the files rollback writes.
pub fn load_journal(host: &Host, state_dir: &Path) -> Result<Option<Journal>, ApplyError> {
    let path = journal_path(host, state_dir);
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    match crate::file_kind::read_bounded(&path, crate::journal_check::MAX_JOURNAL_BYTES)
        .map_err(crate::file_kind::SmallFileError::into_io)
    {
        Ok(bytes) => {
            let journal: Journal =
                serde_json::from_slice(&bytes).map_err(|e| ApplyError::Journal {
                    path: path.clone(),
                    source: invalid(e.to_string()),
                })?;
            crate::journal_check::check(&journal).map_err(|why| ApplyError::Journal {
                path,
                source: invalid(format!("{why}; nothing was changed")),
            })?;
            Ok(Some(journal))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ApplyError::Journal { path, source }),
    }
}

/// Writes `bytes` to `path` durably: temp file, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    crate::file_kind::sync_dir(dir)
}

fn save_journal(host: &Host, state_dir: &Path, journal: &Journal) -> Result<(), ApplyError> {
    let path = journal_path(host, state_dir);
    let bytes = serde_json::to_vec_pretty(journal).expect("the journal always serialises");
    write_atomic(&path, &bytes).map_err(|source| ApplyError::Journal { path, source })
}

fn remove_journal(host: &Host, state_dir: &Path) -> Result<(), ApplyError> {
    let path = journal_path(host, state_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ApplyError::Journal { path, source }),
    }
}

/// The content of the persisted sysctl.d file.
fn persist_text(plan: &Plan) -> String {
    let mut s = format!(
        "# Written by `tunekeeper apply --persist` for profile `{}`.\n\
         # `tunekeeper rollback` removes it. Edit the profile, not this file.\n",
        plan.profile
    );
    for (key, value) in &plan.persist {
        s.push_str(&format!("{key} = {value}\n"));
    }
    s
}

/// Applies a plan: saves the originals, writes each step and reads it back.
/// On a failed write it stops, restores what this run wrote, and keeps in
/// the journal only what it could not restore.
///
/// `_lock` must have been taken before `plan` read the current values.
pub fn apply(
    plan: &Plan,
    host: &Host,
    state_dir: &Path,
    persist: bool,
    _lock: &ApplyLock,
) -> Result<ApplyReport, ApplyError> {
    if !may_write(host) {
        return Err(ApplyError::NotRoot);
    }
    let mut journal = load_journal(host, state_dir)?.unwrap_or(Journal {
        version: 1,
        ..Journal::default()
    });
    let before = journal.clone();
    journal.profile = plan.profile.clone();
    for step in &plan.steps {
        // Keep the oldest original: a second apply must not record tuned values as originals.
        if !journal.entries.iter().any(|e| e.path == step.path) {
            journal.entries.push(JournalEntry {
                target: step.target,
                key: step.key.clone(),
                path: step.path.clone(),
                original: step.current.clone(),
            });
        }
    }
    let persist_path = host.path(PERSIST_FILE);
    if persist && journal.persisted.is_none() {
        journal.persisted = Some(PersistRecord {
            path: PathBuf::from(PERSIST_FILE),
            previous: std::fs::read_to_string(&persist_path).ok(),
        });
    }
    let wrote_journal = !plan.steps.is_empty() || persist;
    if wrote_journal {
        save_journal(host, state_dir, &journal)?;
    }

    let mut results: Vec<StepResult> = Vec::with_capacity(plan.steps.len());
    let mut failed = false;
    for step in &plan.steps {
        if failed {
            results.push(StepResult {
                step: step.clone(),
                outcome: Outcome::Skipped,
                after: None,
                error: None,
            });
            continue;
        }
        tracing::info!(key = %step.key, from = %step.current, to = %step.desired, "writing");
        match host.write_value(&step.path, &step.desired) {
            Ok(()) => {
                let after = read_back(host, step.target, &step.path).ok();
                let took = after.as_deref() == Some(step.desired.as_str());
                results.push(StepResult {
                    step: step.clone(),
                    outcome: if took {
                        Outcome::Applied
                    } else {
                        Outcome::Refused
                    },
                    after,
                    error: None,
                });
            }
            Err(e) => {
                failed = true;
                results.push(StepResult {
                    step: step.clone(),
                    outcome: Outcome::Failed,
                    after: read_back(host, step.target, &step.path).ok(),
                    error: Some(e.to_string()),
                });
            }
        }
    }

    if failed {
        // Undo this run's writes; what cannot be undone stays journaled.
        let mut unrestored = Vec::new();
        for r in results.iter_mut().rev() {
            if !matches!(r.outcome, Outcome::Applied | Outcome::Refused) {
                continue;
            }
            match host.write_value(&r.step.path, &r.step.current) {
                Ok(()) => r.outcome = Outcome::RolledBack,
                Err(e) => {
                    tracing::error!(key = %r.step.key, error = %e, "could not restore");
                    unrestored.push(r.step.path.clone());
                }
            }
        }
        let mut kept = before.clone();
        kept.entries.extend(
            journal
                .entries
                .iter()
                .filter(|e| {
                    unrestored.contains(&e.path) && !before.entries.iter().any(|b| b.path == e.path)
                })
                .cloned(),
        );
        if kept.entries.is_empty() && kept.persisted.is_none() {
            remove_journal(host, state_dir)?;
        } else {
            save_journal(host, state_dir, &kept)?;
        }
        return Ok(ApplyReport {
            profile: plan.profile.clone(),
            results,
            persisted: None,
            journal: (!kept.entries.is_empty()).then(|| journal_path(host, state_dir)),
            manual: plan.manual.clone(),
            conflicts: plan.conflicts.clone(),
        });
    }

    let mut persisted = None;
    if persist {
        write_atomic(&persist_path, persist_text(plan).as_bytes()).map_err(|source| {
            ApplyError::Persist {
                path: PathBuf::from(PERSIST_FILE),
                source,
            }
        })?;
        persisted = Some(PathBuf::from(PERSIST_FILE));
    }
    Ok(ApplyReport {
        profile: plan.profile.clone(),
        results,
        persisted,
        journal: wrote_journal.then(|| journal_path(host, state_dir)),
        manual: plan.manual.clone(),
        conflicts: plan.conflicts.clone(),
    })
}

/// The outcome of restoring one journal entry.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The entry.
    #[serde(flatten)]
    pub entry: JournalEntry,
    /// Value before the rollback.
    pub before: Option<String>,
    /// Value after.
    pub after: Option<String>,
    /// The error, if the restore failed.
    pub error: Option<String>,
}

/// The result of a rollback.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The profile that had been applied (None: nothing to roll back).
    pub profile: Option<String>,
    /// Each entry.
    pub restored: Vec<Restored>,
    /// What happened to the persisted file.
    pub persisted: Option<String>,
}

impl RollbackReport {
    /// 0 all restored, 2 something could not be.
    pub fn exit_code(&self) -> u8 {
        if self.restored.iter().any(|r| r.error.is_some()) {
            2
        } else {
            0
        }
    }
}

/// Restores every journaled original and removes (or restores) the
/// persisted file. The journal is deleted only when everything was restored.
pub fn rollback(
    host: &Host,
    state_dir: &Path,
    _lock: &ApplyLock,
) -> Result<RollbackReport, ApplyError> {
    if !may_write(host) {
        return Err(ApplyError::NotRoot);
    }
    let Some(journal) = load_journal(host, state_dir)? else {
        return Ok(RollbackReport {
            profile: None,
            restored: Vec::new(),
            persisted: None,
        });
    };
    let mut restored = Vec::new();
    // Reverse order: the last change is undone first.
    for entry in journal.entries.iter().rev() {
        let before = read_back(host, entry.target, &entry.path).ok();
        let result = host.write_value(&entry.path, &entry.original);
        let after = read_back(host, entry.target, &entry.path).ok();
        let error = match result {
            Err(e) => Some(e.to_string()),
            Ok(()) if after.as_deref() != Some(entry.original.as_str()) => Some(format!(
                "the kernel kept {:?}",
                after.clone().unwrap_or_default()
            )),
            Ok(()) => None,
        };
        restored.push(Restored {
            entry: entry.clone(),
            before,
            after,
            error,
        });
    }
    let mut persisted = None;
    if let Some(rec) = &journal.persisted {
        let path = host.path(&rec.path);
        let res = match &rec.previous {
            Some(prev) => write_atomic(&path, prev.as_bytes())
                .map(|_| format!("restored {}", rec.path.display())),
            None => match std::fs::remove_file(&path) {
                Ok(()) => Ok(format!("removed {}", rec.path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Ok(format!("{} was already gone", rec.path.display()))
                }
                Err(e) => Err(e),
            },
        };
        persisted = Some(res.map_err(|source| ApplyError::Persist {
            path: rec.path.clone(),
            source,
        })?);
    }
    let report = RollbackReport {
        profile: Some(journal.profile.clone()),
        restored,
        persisted,
    };
    if report.exit_code() == 0 {
        remove_journal(host, state_dir)?;
    } else {
        let left = Journal {
            persisted: None,
            entries: journal
                .entries
                .iter()
                .filter(|e| {
                    report
                        .restored
                        .iter()
                        .any(|r| r.entry.path == e.path && r.error.is_some())
                })
                .cloned()
                .collect(),
            ..journal
        };
        save_journal(host, state_dir, &left)?;
    }
    Ok(report)
}
