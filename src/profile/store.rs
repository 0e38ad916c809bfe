//! Finding, parsing, merging and validating profiles.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use regex::Regex;
use thiserror::Error;

use super::file::{RawProfile, RawSetting};
use super::{
    BLOCK_ATTRS, BlockRule, DEFAULT_BROKER_MATCH, MountRule, ProcessRule, Profile, Setting,
    SwapRule, THP_KEYS,
};
use crate::expect::{Expectation, Op, Operand};
use crate::host::sysfs::KNOBS;
use crate::sysctl_key::SysctlKey;

/// How a block rule without `devices` names its devices in findings.
pub const DATA_DISKS: &str = "data disks";

/// The profiles shipped in `profiles/`, compiled into the binary so an audit
/// works on a bare host.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("base", include_str!("../../profiles/base.toml")),
    (
        "kafka-broker",
        include_str!("../../profiles/kafka-broker.toml"),
    ),
    (
        "kraft-controller",
        include_str!("../../profiles/kraft-controller.toml"),
    ),
    ("zookeeper", include_str!("../../profiles/zookeeper.toml")),
];

/// Rules a `[broker]` section may set: (name, the kind of value, what it checks).
/// Percentages are of the whole (free space of the file system, heap of
/// memory, maps of `vm.max_map_count`, open files of the `nofile` limit).
pub const BROKER_RULES: &[(&str, BrokerValue)] = &[
    ("data_off_os_disk", BrokerValue::Flag),
    ("one_dir_per_disk", BrokerValue::Flag),
    ("data_free_percent", BrokerValue::Bound),
    ("data_inodes_free_percent", BrokerValue::Bound),
    ("heap_max", BrokerValue::Bound),
    ("heap_memory_percent", BrokerValue::Bound),
    ("map_count_percent", BrokerValue::Bound),
    ("open_files_percent", BrokerValue::Bound),
];

/// What a broker rule takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerValue {
    /// `true` (checked) — `false` makes no sense: drop the rule instead.
    Flag,
    /// One numeric bound, `<=N` or `>=N` (sizes allowed).
    Bound,
}

/// GC service-level metrics a `[gc]` section may bound.
pub use crate::gc::slo::METRICS as GC_METRICS;

/// JVM flag rules a `[jvm]` section may enable, each with the one value that
/// makes sense (a rule is a health check, so `g1 = false` is a mistake).
pub const JVM_RULES: &[(&str, &str)] = &[
    ("g1", "true"),
    ("heap_fixed", "true"),
    ("pause_target_set", "true"),
    ("young_fixed", "false"),
    ("log_rotation", "true"),
    ("ihop_set", "true"),
    ("explicit_gc_concurrent", "true"),
];

/// Why a profile could not be loaded. Every variant names the file (or the
/// profile name) and, where it can, the line and key.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// No file or embedded profile has this name.
    #[error(
        "no profile named `{name}` (looked in {searched} and the built-in profiles: {known}); pass a name from `tunekeeper profiles list` or a path to a .toml file"
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// Directories searched, joined for display.
        searched: String,
        /// Names that do exist.
        known: String,
    },
    /// The file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// TOML syntax error, unknown section or key. The message has the line
    /// and column but quotes no line of the file: under a sudo rule that
    /// allows `audit --profile PATH`, a snippet would print any root-only
    /// file's first line.
    #[error("{origin}{}: {message}", at.map(|(l, c)| format!(": line {l}, column {c}")).unwrap_or_default())]
    Syntax {
        /// The file (or `embedded:NAME`).
        origin: String,
        /// 1-based line and column, when toml gave a position.
        at: Option<(usize, usize)>,
        /// toml's message, without the snippet.
        message: String,
    },
    /// A path named as a profile that cannot be one (not `.toml`, not a
    /// regular file, too large); nothing of its content is read or shown.
    #[error("{}: not a profile: {why}", path.display())]
    NotAProfile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// A value that parses as TOML but means nothing valid.
    #[error("{origin}{}: `{key}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file (or `embedded:NAME`).
        origin: String,
        /// 1-based line of the key, when it can be found.
        line: Option<usize>,
        /// The key or section at fault.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Profiles include each other in a loop.
    #[error("profiles include each other in a loop: {0}")]
    IncludeCycle(String),
}

/// Where profiles are looked up: directories first (the first one holding
/// `NAME.toml` wins), then the embedded ones.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dirs: Vec<PathBuf>,
}

impl Default for ProfileStore {
    /// `/etc/tunekeeper/profiles`, then the packaged `/usr/share/tunekeeper/profiles`.
    fn default() -> Self {
        ProfileStore {
            dirs: vec![
                PathBuf::from("/etc/tunekeeper/profiles"),
                PathBuf::from("/usr/share/tunekeeper/profiles"),
            ],
        }
    }
}

/// Where a profile's text came from.
struct Source {
    name: String,
    origin: String,
    text: String,
    dir: Option<PathBuf>,
}

impl ProfileStore {
    /// A store over the given directories (in priority order) plus the embedded profiles.
    pub fn with_dirs(dirs: Vec<PathBuf>) -> ProfileStore {
        ProfileStore { dirs }
    }

    /// Every profile name available, with where it comes from, sorted by name.
    pub fn list(&self) -> Vec<(String, String)> {
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        for (name, _) in EMBEDDED {
            found.insert((*name).to_string(), "embedded".to_string());
        }
        for dir in self.dirs.iter().rev() {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                        found.insert(stem.to_string(), path.display().to_string());
                    }
                }
            }
        }
        found.into_iter().collect()
    }

    /// Loads a profile by name or path and resolves its includes.
    pub fn load(&self, name_or_path: &str) -> Result<Profile, ProfileError> {
        let mut walk = Walk::default();
        self.resolve(name_or_path, None, &mut walk)
    }

    fn find(&self, name_or_path: &str, relative_to: Option<&Path>) -> Result<Source, ProfileError> {
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            let mut path = PathBuf::from(name_or_path);
            if path.is_relative() {
                if let Some(dir) = relative_to {
                    path = dir.join(path);
                }
            }
            let text = read_profile_file(&path)?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(name_or_path)
                .to_string();
            return Ok(Source {
                name,
                origin: path.display().to_string(),
                dir: path.parent().map(Path::to_path_buf),
                text,
            });
        }
        for dir in &self.dirs {
            let path = dir.join(format!("{name_or_path}.toml"));
            match crate::file_kind::read_text(&path, MAX_PROFILE_BYTES) {
                Ok(text) => {
                    return Ok(Source {
                        name: name_or_path.to_string(),
                        origin: path.display().to_string(),
                        dir: Some(dir.clone()),
                        text,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // An unreadable override must not silently fall back to the built-in one.
                Err(source) => return Err(ProfileError::Io { path, source }),
            }
        }
        if let Some((name, text)) = EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
            return Ok(Source {
                name: (*name).to_string(),
                origin: format!("embedded:{name}"),
                dir: None,
                text: (*text).to_string(),
            });
        }
        Err(ProfileError::NotFound {
            name: name_or_path.to_string(),
            searched: self
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            known: self
                .list()
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    fn resolve(
        &self,
        name_or_path: &str,
        relative_to: Option<&Path>,
        walk: &mut Walk,
    ) -> Result<Profile, ProfileError> {
        let src = self.find(name_or_path, relative_to)?;
        let stack = &mut walk.stack;
        if stack.contains(&src.origin) {
            stack.push(src.origin);
            return Err(ProfileError::IncludeCycle(stack.join(" -> ")));
        }
        if let Some(done) = walk.resolved.get(&src.origin) {
            return Ok(done.clone());
        }
        stack.push(src.origin.clone());
        let raw: RawProfile = toml::from_str(&src.text).map_err(|e| ProfileError::Syntax {
            origin: src.origin.clone(),
            at: e.span().map(|s| line_col(&src.text, s.start)),
            message: e.message().trim().lines().collect::<Vec<_>>().join("; "),
        })?;
        let mut profile = empty_profile(&src);
        for inc in &raw.include {
            let parent = self.resolve(inc, src.dir.as_deref(), walk)?;
            merge(&mut profile, parent);
        }
        let ctx = Ctx { src: &src };
        for target in &raw.drop {
            apply_drop(&mut profile, target, &ctx)?;
        }
        apply_own(&mut profile, &raw, &ctx)?;
        profile.chain.push(src.name.clone());
        walk.stack.pop();
        walk.resolved.insert(src.origin, profile.clone());
        Ok(profile)
    }
}

/// State of one `load`: the include path being followed (to name a cycle)
/// and every profile already resolved, so a profile included along several
/// paths (a diamond) is parsed and merged once, not once per path.
#[derive(Default)]
struct Walk {
    stack: Vec<String>,
    resolved: HashMap<String, Profile>,
}

/// Profiles are small TOML files; anything bigger is something else.
const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Reads a file named as a profile, refusing what cannot be one before
/// reading a byte of it (a FIFO would block, `/dev/zero` never ends, and a
/// secret's content must not reach an error message).
fn read_profile_file(path: &Path) -> Result<String, ProfileError> {
    let not = |why: String| ProfileError::NotAProfile {
        path: path.to_path_buf(),
        why,
    };
    if path.extension().is_none_or(|e| e != "toml") {
        return Err(not(
            "profile files are TOML files named NAME.toml".to_string()
        ));
    }
    use crate::file_kind::{SmallFileError, read_small_regular};
    let bytes = read_small_regular(path, MAX_PROFILE_BYTES).map_err(|e| match e {
        SmallFileError::Io(source) => ProfileError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => not(other.to_string()),
    })?;
    String::from_utf8(bytes).map_err(|_| {
        // Not quoted: a secret that is not UTF-8 must not reach the message.
        not("it is not UTF-8 text".to_string())
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

fn empty_profile(src: &Source) -> Profile {
    Profile {
        name: src.name.clone(),
        origin: src.origin.clone(),
        description: String::new(),
        chain: Vec::new(),
        sysctl: BTreeMap::new(),
        thp: BTreeMap::new(),
        sysfs: BTreeMap::new(),
        block: BTreeMap::new(),
        mounts: BTreeMap::new(),
        swap: None,
        process: ProcessRule {
            pattern: Regex::new(DEFAULT_BROKER_MATCH)
                .expect("the default broker pattern is a valid regex"),
            nofile: None,
            running: None,
        },
        gc: BTreeMap::new(),
        jvm: BTreeMap::new(),
        broker: BTreeMap::new(),
    }
}

/// Layers `parent` under `child`: what `child` already holds wins.
fn merge(child: &mut Profile, parent: Profile) {
    // Each profile once, at its first place: a diamond must not repeat (and
    // so double, level by level) the chain.
    for name in parent.chain {
        if !child.chain.contains(&name) {
            child.chain.push(name);
        }
    }
    child.sysctl.extend(parent.sysctl);
    child.thp.extend(parent.thp);
    child.sysfs.extend(parent.sysfs);
    child.block.extend(parent.block);
    child.mounts.extend(parent.mounts);
    if parent.swap.is_some() {
        child.swap = parent.swap;
    }
    child.process.pattern = parent.process.pattern;
    if parent.process.nofile.is_some() {
        child.process.nofile = parent.process.nofile;
    }
    if parent.process.running.is_some() {
        child.process.running = parent.process.running;
    }
    child.gc.extend(parent.gc);
    child.jvm.extend(parent.jvm);
    child.broker.extend(parent.broker);
    if !parent.description.is_empty() {
        child.description = parent.description;
    }
}

struct Ctx<'a> {
    src: &'a Source,
}

impl Ctx<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid {
            origin: self.src.origin.clone(),
            line: line_of(&self.src.text, key),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn setting(&self, key: &str, raw: &RawSetting, unit: u64) -> Result<Setting, ProfileError> {
        let (text, why) = raw.parts();
        let expect = Expectation::parse_in_unit(&text, unit)
            .map_err(|e| self.invalid(key, e.to_string()))?;
        Ok(Setting {
            expect,
            from: self.src.name.clone(),
            why,
        })
    }

    fn source(&self, why: &Option<String>) -> String {
        match why {
            Some(w) => format!("{}: {}", self.src.name, w),
            None => self.src.name.clone(),
        }
    }
}

/// The 1-based line where `key` first appears in the text, for messages.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let bare = key.rsplit(['.', ':']).next().unwrap_or(key);
    [key, bare]
        .iter()
        .find_map(|needle| text.lines().position(|l| l.contains(needle)).map(|i| i + 1))
}

fn apply_drop(p: &mut Profile, target: &str, ctx: &Ctx) -> Result<(), ProfileError> {
    let (section, key) = target.split_once(':').unwrap_or((target, ""));
    let removed = match section {
        "sysctl" => SysctlKey::parse(key)
            .ok()
            .and_then(|k| p.sysctl.remove(&k))
            .is_some(),
        "thp" => p.thp.remove(key).is_some(),
        "sysfs" => p.sysfs.remove(key).is_some(),
        "block" => p.block.remove(key).is_some(),
        "mount" => p.mounts.remove(key).is_some(),
        "swap" => p.swap.take().is_some(),
        "process" if key == "nofile" => p.process.nofile.take().is_some(),
        "process" if key == "running" => p.process.running.take().is_some(),
        "gc" => p.gc.remove(key).is_some(),
        "jvm" => p.jvm.remove(key).is_some(),
        "broker" => p.broker.remove(key).is_some(),
        _ => {
            return Err(ctx.invalid(
                target,
                "drop takes SECTION:KEY with SECTION one of sysctl, thp, sysfs, block, mount, swap, process, gc, jvm, broker",
            ));
        }
    };
    if !removed {
        return Err(ctx.invalid(target, "drop names a setting that no included profile sets"));
    }
    Ok(())
}

fn apply_own(p: &mut Profile, raw: &RawProfile, ctx: &Ctx) -> Result<(), ProfileError> {
    if let Some(d) = &raw.description {
        p.description = d.clone();
    }
    for (key, value) in &raw.sysctl {
        let parsed = SysctlKey::parse(key).map_err(|e| ctx.invalid(key, e.to_string()))?;
        p.sysctl.insert(parsed, ctx.setting(key, value, 1)?);
    }
    for (key, value) in &raw.thp {
        if !THP_KEYS.contains(&key.as_str()) {
            return Err(ctx.invalid(
                key,
                format!(
                    "unknown THP setting; expected one of {}",
                    THP_KEYS.join(", ")
                ),
            ));
        }
        p.thp.insert(key.clone(), ctx.setting(key, value, 1)?);
    }
    for (key, value) in &raw.sysfs {
        let Some(knob) = crate::host::sysfs::knob(key) else {
            let names: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
            return Err(ctx.invalid(
                key,
                format!(
                    "unknown sysfs setting; expected one of {} (sysfs settings are named, never paths)",
                    names.join(", ")
                ),
            ));
        };
        let setting = ctx.setting(key, value, 1)?;
        // These files hold one word the kernel chose from a list: only
        // `word` or `word|word` can ever match.
        let words_only = setting.expect.alternatives().iter().all(|alt| {
            alt.len() == 1
                && alt[0].op == Op::Eq
                && matches!(&alt[0].operand, Operand::Text(t)
                    if t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        });
        if !words_only {
            return Err(ctx.invalid(
                key,
                format!(
                    "`{}` takes one value or alternatives of plain words, e.g. \"tsc\" or \"performance|schedutil\"",
                    knob.name
                ),
            ));
        }
        p.sysfs.insert(key.clone(), setting);
    }
    for (name, rule) in &raw.block {
        let mut devices = Vec::new();
        let devices_text = rule.devices.clone().unwrap_or_default();
        for glob_text in devices_text.split('|').filter(|_| rule.devices.is_some()) {
            let pat = glob::Pattern::new(glob_text.trim()).map_err(|e| {
                ctx.invalid(
                    &format!("block.{name}.devices"),
                    format!("bad glob `{glob_text}`: {e}"),
                )
            })?;
            if glob_text.contains('/') {
                return Err(ctx.invalid(
                    &format!("block.{name}.devices"),
                    "device globs match names under /sys/block and cannot contain `/`",
                ));
            }
            devices.push(pat);
        }
        let mut attrs = BTreeMap::new();
        for (attr, unit) in BLOCK_ATTRS {
            let value = match attr {
                "scheduler" => &rule.scheduler,
                "read_ahead_kb" => &rule.read_ahead_kb,
                _ => &rule.nr_requests,
            };
            if let Some(v) = value {
                attrs.insert(
                    attr.to_string(),
                    ctx.setting(&format!("block.{name}.{attr}"), v, unit)?,
                );
            }
        }
        p.block.insert(
            name.clone(),
            BlockRule {
                name: name.clone(),
                devices,
                devices_text: if rule.devices.is_some() {
                    devices_text
                } else {
                    DATA_DISKS.to_string()
                },
                attrs,
                from: ctx.src.name.clone(),
            },
        );
    }
    for (name, rule) in &raw.mount {
        let paths = rule.paths.clone().unwrap_or_default();
        if rule.paths.is_some() && paths.is_empty() {
            return Err(ctx.invalid(
                &format!("mount.{name}.paths"),
                "needs at least one path; leave `paths` out to check the brokers' data directories",
            ));
        }
        if let Some(bad) = paths.iter().find(|p| !p.starts_with('/')) {
            return Err(ctx.invalid(
                &format!("mount.{name}.paths"),
                format!("`{bad}` is not an absolute path"),
            ));
        }
        p.mounts.insert(
            name.clone(),
            MountRule {
                name: name.clone(),
                paths,
                require: rule.require.clone(),
                forbid: rule.forbid.clone(),
                fstype: rule
                    .fstype
                    .as_ref()
                    .map(|f| f.split('|').map(|s| s.trim().to_string()).collect()),
                source: ctx.source(&rule.why),
            },
        );
    }
    if let Some(swap) = &raw.swap {
        p.swap = Some(SwapRule {
            allowed: swap.allowed,
            source: ctx.source(&swap.why),
        });
    }
    if let Some(proc_rule) = &raw.process {
        if let Some(pattern) = &proc_rule.pattern {
            p.process.pattern = Regex::new(pattern)
                .map_err(|e| ctx.invalid("process.match", format!("not a valid regex: {e}")))?;
        }
        if let Some(nofile) = &proc_rule.nofile {
            p.process.nofile = Some(ctx.setting("process.nofile", nofile, 1)?);
        }
        if let Some(running) = &proc_rule.running {
            let setting = ctx.setting("process.running", running, 1)?;
            if setting.expect.to_string() != "true" {
                return Err(ctx.invalid(
                    "process.running",
                    "the rule is `running = true`; to stop checking it, drop it (drop = [\"process:running\"])",
                ));
            }
            p.process.running = Some(setting);
        }
    }
    for (key, value) in &raw.gc {
        if !GC_METRICS.contains(&key.as_str()) {
            return Err(ctx.invalid(
                key,
                format!(
                    "unknown GC metric; expected one of {}",
                    GC_METRICS.join(", ")
                ),
            ));
        }
        let setting = ctx.setting(key, value, 1)?;
        if !is_one_bound(&setting) {
            return Err(ctx.invalid(
                key,
                "a GC service level is one bound, <=N or >=N, e.g. \"<=15\"",
            ));
        }
        p.gc.insert(key.clone(), setting);
    }
    for (key, value) in &raw.jvm {
        let Some((_, healthy)) = JVM_RULES.iter().find(|(rule, _)| rule == key) else {
            let names: Vec<&str> = JVM_RULES.iter().map(|(r, _)| *r).collect();
            return Err(ctx.invalid(
                key,
                format!("unknown JVM rule; expected one of {}", names.join(", ")),
            ));
        };
        let setting = ctx.setting(key, value, 1)?;
        if setting.expect.to_string() != *healthy {
            return Err(ctx.invalid(
                key,
                format!("the rule checks for `{key} = {healthy}`; to stop checking it, drop it (drop = [\"jvm:{key}\"])"),
            ));
        }
        p.jvm.insert(key.clone(), setting);
    }
    for (key, value) in &raw.broker {
        let Some((_, kind)) = BROKER_RULES.iter().find(|(rule, _)| rule == key) else {
            let names: Vec<&str> = BROKER_RULES.iter().map(|(r, _)| *r).collect();
            return Err(ctx.invalid(
                key,
                format!("unknown broker rule; expected one of {}", names.join(", ")),
            ));
        };
        let setting = ctx.setting(key, value, 1)?;
        let ok = match kind {
            BrokerValue::Flag => setting.expect.to_string() == "true",
            BrokerValue::Bound => is_one_bound(&setting),
        };
        if !ok {
            return Err(ctx.invalid(
                key,
                match kind {
                    BrokerValue::Flag => format!(
                        "the rule is checked with `{key} = true`; to stop checking it, drop it (drop = [\"broker:{key}\"])"
                    ),
                    BrokerValue::Bound => {
                        "a broker rule is one bound, <=N or >=N, e.g. \"<=80\" or \"<=6GiB\"".to_string()
                    }
                },
            ));
        }
        p.broker.insert(key.clone(), setting);
    }
    Ok(())
}

/// True for an expectation of exactly one `<=N` or `>=N`.
fn is_one_bound(setting: &Setting) -> bool {
    let alts = setting.expect.alternatives();
    alts.len() == 1
        && alts[0].len() == 1
        && matches!(alts[0][0].operand, Operand::Int(_))
        && matches!(alts[0][0].op, Op::Le | Op::Ge)
}
