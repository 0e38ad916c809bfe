//! Waivers: a file of accepted differences (a test broker with swap, a disk
//! that cannot take `noatime` yet). Each entry names a check and a key
//! (globs allowed), optionally the hosts or cluster it holds for, a required
//! justification and an optional last day. A drifting finding a waiver in
//! force matches becomes `waived`; one matched only by an expired waiver
//! stays `drift` and says its waiver expired.
//!
//! The file is checked whole before anything runs: a waiver that cannot be
//! understood must stop the run, not silently waive nothing (or everything).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::finding::{CHECKS, Finding, Status, WaiverNote};

/// Where `audit` and the agent look for waivers when not told otherwise
/// (used only when it exists).
pub const DEFAULT_PATH: &str = "/etc/tunekeeper/waivers.toml";

/// The keys a waiver entry takes, for the error that names an unknown one.
const ENTRY_KEYS: &str = "check, key, hosts, cluster, justification, expires";

/// Why a waivers file cannot be used. Every variant names the file; all but
/// an unreadable file the line, and the key where there is one.
#[derive(Debug, Error)]
pub enum WaiverError {
    /// The file could not be read.
    #[error("cannot read waivers file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// TOML syntax, or a value of the wrong type.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An entry that parses but cannot be a waiver.
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key at fault.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    waiver: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    check: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    hosts: Option<Spanned<toml::Value>>,
    cluster: Option<Spanned<String>>,
    justification: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
}

/// One waiver.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// The check family pattern, as written.
    pub check: String,
    /// The key pattern, as written.
    pub key: String,
    /// Host name patterns it holds for; empty: every host.
    pub hosts: Vec<String>,
    /// Cluster name pattern it holds for; `None`: every cluster.
    pub cluster: Option<String>,
    /// Why the difference is accepted.
    pub justification: String,
    /// The last day it holds (inclusive, UTC).
    pub expires: Option<time::Date>,
    /// Where it is written: `FILE:LINE`.
    pub from: String,
    check_pat: glob::Pattern,
    key_pat: glob::Pattern,
    host_pats: Vec<glob::Pattern>,
    cluster_pat: Option<glob::Pattern>,
}

/// Which host the findings come from, for waivers scoped to hosts or a cluster.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The host name.
    pub hostname: &'a str,
    /// The host's cluster, if known.
    pub cluster: Option<&'a str>,
}

impl Waiver {
    /// Whether the waiver holds for this host at all.
    pub fn holds_for(&self, scope: Scope<'_>) -> bool {
        // Host names are case-insensitive (DNS); the rest is matched as written.
        let nocase = glob::MatchOptions {
            case_sensitive: false,
            ..glob::MatchOptions::new()
        };
        let host_ok = self.host_pats.is_empty()
            || self
                .host_pats
                .iter()
                .any(|p| p.matches_with(scope.hostname, nocase));
        let cluster_ok = match (&self.cluster_pat, scope.cluster) {
            (None, _) => true,
            (Some(p), Some(c)) => p.matches(c),
            // Scoped to a cluster, and this host's is unknown: it cannot be
            // shown to belong, so the waiver does not hold.
            (Some(_), None) => false,
        };
        host_ok && cluster_ok
    }

    /// Whether the waiver names this finding's check and key.
    pub fn names(&self, f: &Finding) -> bool {
        self.check_pat.matches(&f.check) && self.key_pat.matches(&f.key)
    }

    /// True when `today` is past the last day.
    pub fn expired(&self, today: time::Date) -> bool {
        self.expires.is_some_and(|d| today > d)
    }

    fn note(&self, today: time::Date) -> WaiverNote {
        WaiverNote {
            justification: self.justification.clone(),
            expires: self.expires.map(format_date),
            expired: self.expired(today),
            from: self.from.clone(),
        }
    }
}

/// A loaded waivers file.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    /// The file they came from.
    pub path: PathBuf,
    /// The waivers, in file order.
    pub entries: Vec<Waiver>,
    index: Index,
}

/// Which waivers can name a finding, found without matching every glob:
/// matching each finding against each waiver made an audit with 40,000
/// waivers cost seconds. Most waivers name a check and a key exactly;
/// those are looked up, and only the rest are matched as globs.
#[derive(Debug, Clone, Default)]
struct Index {
    /// Waivers whose check and key hold no glob, by check then key, each
    /// list in file order.
    exact: HashMap<String, HashMap<String, Vec<usize>>>,
    /// The others (a glob in the check or the key), in file order.
    globbed: Vec<usize>,
}

/// True when a glob pattern matches only its own text (no `*`, `?` or
/// `[`: the glob crate has no other metacharacter).
fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '['])
}

impl Index {
    fn new(entries: &[Waiver]) -> Index {
        let mut index = Index::default();
        for (i, w) in entries.iter().enumerate() {
            if is_literal(&w.check) && is_literal(&w.key) {
                index
                    .exact
                    .entry(w.check.clone())
                    .or_default()
                    .entry(w.key.clone())
                    .or_default()
                    .push(i);
            } else {
                index.globbed.push(i);
            }
        }
        index
    }

    /// The waivers that may name `check`/`key`, in file order: those
    /// written for exactly it and every globbed one (the caller matches).
    fn candidates(&self, check: &str, key: &str) -> impl Iterator<Item = usize> + '_ {
        let exact: &[usize] = self
            .exact
            .get(check)
            .and_then(|keys| keys.get(key))
            .map_or(&[], Vec::as_slice);
        Merged {
            a: exact,
            b: &self.globbed,
        }
    }
}

/// Two ascending lists of indices as one ascending sequence.
struct Merged<'a> {
    a: &'a [usize],
    b: &'a [usize],
}

impl Iterator for Merged<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let (next, rest) = if take_a {
            self.a.split_first()?
        } else {
            self.b.split_first()?
        };
        if take_a {
            self.a = rest;
        } else {
            self.b = rest;
        }
        Some(*next)
    }
}

/// The host's cluster as the agent finds it without a `cluster` setting:
/// the running broker's (or controller's) own `cluster.id`.
pub fn host_cluster(host: &crate::host::Host) -> Option<String> {
    crate::kafka::find_kafka_processes(host)
        .iter()
        .filter(|p| p.role != crate::kafka::Role::Zookeeper)
        .find_map(|p| p.cluster_id(host))
        .map(|(name, _)| name)
}

/// Today's date in UTC, the day waivers' expiry is judged against.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The bare key assigned on a 1-based line (`expires = 2027-02-30`), to
/// name it in toml's own errors.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let (key, _) = text.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then(|| key.to_string())
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The largest waivers file read: 16 MiB is about 100,000 entries, far
/// more than any fleet writes; a larger file is an error naming it.
pub const MAX_WAIVER_FILE_BYTES: u64 = 16 << 20;

impl Waivers {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Waivers, WaiverError> {
        let text = crate::file_kind::read_text(path, MAX_WAIVER_FILE_BYTES).map_err(|source| {
            WaiverError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Waivers::parse(&text, path)
    }

    /// `explicit` when given (it must exist); else [`DEFAULT_PATH`] under
    /// `root` when that exists; else no waivers.
    pub fn load_default(explicit: Option<&Path>, root: &Path) -> Result<Waivers, WaiverError> {
        if let Some(p) = explicit {
            return Waivers::load(p);
        }
        let default = root.join(DEFAULT_PATH.trim_start_matches('/'));
        match std::fs::symlink_metadata(&default) {
            Ok(_) => Waivers::load(&default),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Waivers::default()),
            Err(source) => Err(WaiverError::Io {
                path: default,
                source,
            }),
        }
    }

    /// Parses and checks the text of a waivers file.
    pub fn parse(text: &str, path: &Path) -> Result<Waivers, WaiverError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let start = e.span().map_or(0, |s| s.start);
            let line = line_of(text, start);
            // One line: toml's messages may span several.
            let message = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            if message.starts_with("unknown field") {
                let key = e
                    .span()
                    .and_then(|s| text.get(s))
                    .map(|k| k.trim().trim_matches('"').trim_matches(['[', ']']).to_string())
                    .unwrap_or_default();
                WaiverError::Invalid {
                    path: path.to_path_buf(),
                    line,
                    key,
                    message: format!(
                        "unknown key; the file holds [[waiver]] tables, and a waiver takes {ENTRY_KEYS}"
                    ),
                }
            } else if let Some(key) = key_on_line(text, line) {
                WaiverError::Invalid {
                    path: path.to_path_buf(),
                    line,
                    key,
                    message,
                }
            } else {
                WaiverError::Syntax {
                    path: path.to_path_buf(),
                    line,
                    message,
                }
            }
        })?;
        // Headers and line starts found once: looking them up from the top
        // for each entry made a 40,000-entry file take minutes.
        let index = TextIndex::new(text);
        let mut entries = Vec::with_capacity(raw.waiver.len());
        for (i, e) in raw.waiver.into_iter().enumerate() {
            entries.push(entry(text, &index, path, i, e)?);
        }
        Ok(Waivers {
            path: path.to_path_buf(),
            index: Index::new(&entries),
            entries,
        })
    }

    /// Marks the drifting findings that a waiver in force matches as
    /// `waived`, and those matched only by an expired waiver with that
    /// waiver (they stay `drift`). The first waiver in force in file order
    /// wins. Sets `matched[i]` for each waiver that named some finding.
    pub fn apply(
        &self,
        scope: Scope<'_>,
        today: time::Date,
        findings: &mut [Finding],
        matched: &mut [bool],
    ) {
        let holding: Vec<bool> = self.entries.iter().map(|w| w.holds_for(scope)).collect();
        for f in findings.iter_mut() {
            let mut expired: Option<&Waiver> = None;
            let mut active: Option<&Waiver> = None;
            for i in self.index.candidates(&f.check, &f.key) {
                let w = &self.entries[i];
                if !holding[i] || !w.names(f) {
                    continue;
                }
                if let Some(m) = matched.get_mut(i) {
                    *m = true;
                }
                if w.expired(today) {
                    // The latest-expired one says the most recent decision.
                    if expired.is_none_or(|e| e.expires < w.expires) {
                        expired = Some(w);
                    }
                } else if active.is_none() {
                    active = Some(w);
                }
            }
            if f.status != Status::Drift {
                continue;
            }
            if let Some(w) = active {
                f.status = Status::Waived;
                f.waiver = Some(w.note(today));
            } else if let Some(w) = expired {
                f.waiver = Some(w.note(today));
            }
        }
    }

    /// At most this many unmatched waivers are named one by one; the rest
    /// are counted in one line (a file of 40,000 misspelt entries is one
    /// mistake, not 40,000 lines of warning).
    pub const UNMATCHED_NAMED: usize = 20;

    /// The waivers that hold for this host yet named no finding (given the
    /// `matched` flags [`Waivers::apply`] set): most likely a misspelt key,
    /// or a difference that is gone. Waivers scoped to other hosts are not
    /// listed: one file serves a fleet.
    pub fn unmatched<'a>(&'a self, scope: Scope<'_>, matched: &[bool]) -> Vec<&'a Waiver> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, w)| w.holds_for(scope) && !matched.get(*i).copied().unwrap_or(false))
            .map(|(_, w)| w)
            .collect()
    }

    /// Takes out of `plan` every step whose key a waiver in force accepts
    /// (into `plan.waived`, with the justification), and its `--persist`
    /// line: applying a waived key would undo the accepted difference. A
    /// conflict between the roles' profiles on a waived key is settled by
    /// the waiver the same way: the key is left as it is, and said so.
    pub fn hold_back(&self, scope: Scope<'_>, today: time::Date, plan: &mut crate::apply::Plan) {
        if self.entries.is_empty() {
            return;
        }
        let holding = |target: crate::apply::Target, key: &str| {
            let (check, key) = step_finding(target, key);
            let probe = Finding {
                check: check.into(),
                key,
                expected: String::new(),
                actual: None,
                status: Status::Drift,
                source: None,
                detail: None,
                waiver: None,
            };
            self.index
                .candidates(&probe.check, &probe.key)
                .map(|i| &self.entries[i])
                .find(|w| w.holds_for(scope) && !w.expired(today) && w.names(&probe))
        };
        let mut kept = Vec::with_capacity(plan.steps.len());
        for step in std::mem::take(&mut plan.steps) {
            match holding(step.target, &step.key) {
                Some(w) => {
                    plan.persist.retain(|(k, _)| {
                        !(step.target == crate::apply::Target::Sysctl && *k == step.key)
                    });
                    plan.waived.push(crate::apply::Manual {
                        key: step.key,
                        advice: format!("waived ({}): {}", w.from, w.justification),
                    })
                }
                None => kept.push(step),
            }
        }
        plan.steps = kept;
        let mut conflicts = Vec::with_capacity(plan.conflicts.len());
        for c in std::mem::take(&mut plan.conflicts) {
            match holding(c.target, &c.key) {
                Some(w) => plan.waived.push(crate::apply::Manual {
                    key: c.key,
                    advice: format!(
                        "waived ({}): {} (the roles' profiles want values no one value satisfies)",
                        w.from, w.justification
                    ),
                }),
                None => conflicts.push(c),
            }
        }
        plan.conflicts = conflicts;
    }

    /// Whether the file holds no waivers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The audit's (check, key) for an apply step: sysctl keys as they are,
/// `thp/NAME`, `sysfs/NAME` and `cpuN/NAME` (a per-CPU knob) as the audit
/// names them, and the rest block queue attributes (`dev/attr`).
fn step_finding(target: crate::apply::Target, key: &str) -> (&'static str, String) {
    if target == crate::apply::Target::Sysctl {
        return ("sysctl", key.to_string());
    }
    if let Some(name) = key.strip_prefix("thp/") {
        return ("thp", name.to_string());
    }
    if let Some(name) = key.strip_prefix("sysfs/") {
        return ("sysfs", name.to_string());
    }
    if let Some((first, name)) = key.split_once('/')
        && first.starts_with("cpu")
        && crate::host::sysfs::knob(name).is_some()
    {
        return ("sysfs", name.to_string());
    }
    ("block", key.to_string())
}

fn invalid(path: &Path, text: &str, at: usize, key: &str, message: String) -> WaiverError {
    WaiverError::Invalid {
        path: path.to_path_buf(),
        line: line_of(text, at),
        key: key.to_string(),
        message,
    }
}

/// Where each line and each `[[waiver]]` header starts, found in one pass,
/// so that naming an entry's line costs a binary search, not a rescan.
struct TextIndex {
    /// Byte offset of every line's start.
    line_starts: Vec<usize>,
    /// Byte offset of every `[[waiver]]` header, in order.
    headers: Vec<usize>,
}

impl TextIndex {
    fn new(text: &str) -> TextIndex {
        let mut line_starts = Vec::new();
        let mut headers = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            line_starts.push(offset);
            let t = line.trim_start();
            if t.starts_with("[[") && t[2..].trim_start().starts_with("waiver") {
                headers.push(offset);
            }
            offset += line.len();
        }
        TextIndex {
            line_starts,
            headers,
        }
    }

    /// The 1-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|s| *s <= offset).max(1)
    }
}

fn pattern(
    path: &Path,
    text: &str,
    at: usize,
    key: &str,
    value: &str,
) -> Result<glob::Pattern, WaiverError> {
    if value.trim().is_empty() {
        return Err(invalid(path, text, at, key, "is empty".into()));
    }
    glob::Pattern::new(value)
        .map_err(|e| invalid(path, text, at, key, format!("`{value}` is not a glob: {e}")))
}

fn entry(
    text: &str,
    lines: &TextIndex,
    path: &Path,
    index: usize,
    e: RawEntry,
) -> Result<Waiver, WaiverError> {
    let head = lines.headers.get(index).copied().unwrap_or(0);
    let missing = |key: &str, what: &str| {
        invalid(
            path,
            text,
            head,
            key,
            format!("this waiver has no `{key}`: {what}"),
        )
    };
    let check = e
        .check
        .ok_or_else(|| missing("check", "name the check family (sysctl, block, mount, ...)"))?;
    let check_pat = pattern(path, text, check.span().start, "check", check.get_ref())?;
    if !CHECKS.iter().any(|c| check_pat.matches(c)) {
        let near = crate::spelling::closest(check.get_ref(), CHECKS.iter().copied(), 2)
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        return Err(invalid(
            path,
            text,
            check.span().start,
            "check",
            format!(
                "unknown check `{}`{near} (checks: {})",
                check.get_ref(),
                CHECKS.join(", ")
            ),
        ));
    }
    let key = e
        .key
        .ok_or_else(|| missing("key", "name the key (globs allowed, `*` for all)"))?;
    let key_pat = pattern(path, text, key.span().start, "key", key.get_ref())?;
    let justification = e.justification.ok_or_else(|| {
        missing(
            "justification",
            "every waiver must say why the difference is accepted",
        )
    })?;
    if justification.get_ref().trim().is_empty() {
        return Err(invalid(
            path,
            text,
            justification.span().start,
            "justification",
            "is empty: say why the difference is accepted".into(),
        ));
    }
    let (hosts, host_pats) = match e.hosts {
        None => (Vec::new(), Vec::new()),
        Some(h) => {
            let at = h.span().start;
            let list: Vec<String> = match h.into_inner() {
                toml::Value::String(s) => vec![s],
                toml::Value::Array(a) => a
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s),
                        other => Err(invalid(
                            path,
                            text,
                            at,
                            "hosts",
                            format!("`{other}` is not a host name pattern (a string)"),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(invalid(
                        path,
                        text,
                        at,
                        "hosts",
                        format!("`{other}` is not a host pattern or a list of them"),
                    ));
                }
            };
            if list.is_empty() {
                return Err(invalid(
                    path,
                    text,
                    at,
                    "hosts",
                    "is an empty list: leave `hosts` out to mean every host".into(),
                ));
            }
            let pats = list
                .iter()
                .map(|s| pattern(path, text, at, "hosts", s))
                .collect::<Result<_, _>>()?;
            (list, pats)
        }
    };
    let (cluster, cluster_pat) = match e.cluster {
        None => (None, None),
        Some(c) => {
            let p = pattern(path, text, c.span().start, "cluster", c.get_ref())?;
            (Some(c.into_inner()), Some(p))
        }
    };
    let expires = match e.expires {
        None => None,
        Some(v) => Some(date(path, text, v)?),
    };
    Ok(Waiver {
        check: check.into_inner(),
        key: key.into_inner(),
        hosts,
        cluster,
        justification: justification.into_inner().trim().to_string(),
        expires,
        from: format!("{}:{}", path.display(), lines.line_of(head)),
        check_pat,
        key_pat,
        host_pats,
        cluster_pat,
    })
}

/// `expires`: a TOML date (`2027-01-31`) or the same as a string.
fn date(path: &Path, text: &str, v: Spanned<toml::Value>) -> Result<time::Date, WaiverError> {
    let at = v.span().start;
    let bad = |what: String| {
        invalid(
            path,
            text,
            at,
            "expires",
            format!("{what}: write the last day the waiver holds as YYYY-MM-DD"),
        )
    };
    let written = match v.into_inner() {
        toml::Value::String(s) => s,
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        other => return Err(bad(format!("`{other}` is not a date"))),
    };
    let parts: Vec<&str> = written.trim().split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad(format!("`{written}` is not a date")));
    };
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else {
        return Err(bad(format!("`{written}` is not a date")));
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| bad(format!("`{written}` has no month {m}")))?;
    let day = u8::try_from(d).unwrap_or(0);
    time::Date::from_calendar_date(y, month, day)
        .map_err(|_| bad(format!("`{written}` is not a day of the calendar")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Waivers, WaiverError> {
        Waivers::parse(text, Path::new("w.toml"))
    }

    fn drift(check: &str, key: &str) -> Finding {
        Finding {
            check: check.into(),
            key: key.into(),
            expected: "1".into(),
            actual: Some("60".into()),
            status: Status::Drift,
            source: None,
            detail: None,
            waiver: None,
        }
    }

    fn day(s: &str) -> time::Date {
        let v = Spanned::new(0..0, toml::Value::String(s.into()));
        date(Path::new("x"), "", v).unwrap()
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases = [
            (
                "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\n",
                "w.toml:1: `justification`",
            ),
            (
                "\n[[waiver]]\ncheck = \"sysctl\"\nkey = \"k\"\njustification = \"x\"\nexpires = \"2026-02-30\"\n",
                "w.toml:6: `expires`",
            ),
            (
                "[[waiver]]\ncheck = \"sysctI\"\nkey = \"k\"\njustification = \"x\"\n",
                "w.toml:2: `check`: unknown check `sysctI`; did you mean `sysctl`?",
            ),
            (
                "[[waiver]]\ncheck = \"sysctl\"\nkey = \"k\"\njustification = \"x\"\nhost = \"a\"\n",
                "w.toml:5: `host`: unknown key",
            ),
            (
                "[[waiver]]\ncheck = \"sysctl\nkey = 1\n",
                "w.toml:2: `check`",
            ),
            (
                "[[waiver]]\ncheck = \"sysctl\"\nkey = \"k\"\njustification = \"x\"\nexpires = 2026-02-30\n",
                "w.toml:5: `expires`",
            ),
            (
                "[[waiver]]\ncheck = \"sysctl\"\nkey = 5\njustification = \"x\"\n",
                "w.toml:3: `key`",
            ),
            (
                "[[waiver]]\ncheck = \"sysctl\"\nkey = \"k\"\njustification = \"  \"\n",
                "w.toml:4: `justification`: is empty",
            ),
            (
                "[[waiver]]\ncheck = \"sysctl\"\nkey = \"k\"\njustification = \"x\"\nexpires = 2027-01-01T00:00:00Z\n",
                "w.toml:5: `expires`",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn dates_are_checked_and_toml_dates_accepted() {
        let w = parse(
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"k\"\njustification = \"x\"\nexpires = 2027-01-31\n",
        )
        .unwrap();
        assert_eq!(w.entries[0].expires, Some(day("2027-01-31")));
        for bad in ["2027-1-31", "27-01-31", "2027-13-01", "2027/01/31", "soon"] {
            let v = Spanned::new(0..0, toml::Value::String(bad.into()));
            assert!(date(Path::new("x"), "", v).is_err(), "{bad}");
        }
    }

    #[test]
    fn in_force_waives_expired_says_so_and_scope_counts() {
        let w = parse(
            r#"
[[waiver]]
check = "sysctl"
key = "vm.swap*"
hosts = ["test-*"]
justification = "test broker"
expires = "2027-01-31"

[[waiver]]
check = "block"
key = "*/read_ahead_kb"
cluster = "orders"
justification = "old disks"

[[waiver]]
check = "mount"
key = "/nothing"
justification = "typo"
"#,
        )
        .unwrap();
        let scope = Scope {
            hostname: "test-1",
            cluster: Some("orders"),
        };
        let mut fs = vec![
            drift("sysctl", "vm.swappiness"),
            drift("block", "sda/read_ahead_kb"),
            drift("sysctl", "vm.dirty_ratio"),
        ];
        let mut matched = vec![false; 3];
        w.apply(scope, day("2027-01-31"), &mut fs, &mut matched);
        let upper = Scope {
            hostname: "TEST-1",
            ..scope
        };
        assert!(w.entries[0].holds_for(upper), "host names ignore case");
        assert_eq!(
            fs.iter().map(|f| f.status).collect::<Vec<_>>(),
            [Status::Waived, Status::Waived, Status::Drift]
        );
        let note = fs[0].waiver.as_ref().unwrap();
        assert_eq!(
            (
                note.justification.as_str(),
                note.expires.as_deref(),
                note.from.as_str()
            ),
            ("test broker", Some("2027-01-31"), "w.toml:2")
        );
        let unmatched: Vec<&str> = w
            .unmatched(scope, &matched)
            .iter()
            .map(|w| w.from.as_str())
            .collect();
        assert_eq!(unmatched, ["w.toml:15"]);

        // A day later the first has expired: drift again, saying so.
        let mut fs = vec![drift("sysctl", "vm.swappiness")];
        w.apply(scope, day("2027-02-01"), &mut fs, &mut [false; 3]);
        assert_eq!(fs[0].status, Status::Drift);
        assert!(fs[0].waiver.as_ref().unwrap().expired);

        // Another host, another cluster: nothing holds, nothing is unmatched
        // but the unscoped waiver.
        let other = Scope {
            hostname: "prod-1",
            cluster: None,
        };
        let mut fs = vec![
            drift("sysctl", "vm.swappiness"),
            drift("block", "sda/read_ahead_kb"),
        ];
        let mut matched = vec![false; 3];
        w.apply(other, day("2026-01-01"), &mut fs, &mut matched);
        assert!(
            fs.iter()
                .all(|f| f.status == Status::Drift && f.waiver.is_none())
        );
        assert_eq!(w.unmatched(other, &matched).len(), 1);
    }

    /// The index finds what matching every waiver finds, in file order:
    /// exact and globbed waivers interleaved, the first in force wins,
    /// every one that names the finding is marked matched.
    #[test]
    fn the_index_keeps_file_order_between_exact_and_glob_waivers() {
        let w = parse(
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.*\"\njustification = \"glob, expired\"\nexpires = \"2020-01-01\"\n\
             [[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\njustification = \"exact\"\n\
             [[waiver]]\ncheck = \"s*\"\nkey = \"vm.dirty_ratio\"\njustification = \"glob first\"\n\
             [[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.dirty_ratio\"\njustification = \"exact second\"\n\
             [[waiver]]\ncheck = \"mount\"\nkey = \"/data\"\njustification = \"other host\"\nhosts = [\"b-*\"]\n",
        )
        .unwrap();
        assert_eq!(w.index.globbed, [0, 2]);
        let scope = Scope {
            hostname: "a-1",
            cluster: None,
        };
        let mut fs = vec![
            drift("sysctl", "vm.swappiness"),
            drift("sysctl", "vm.dirty_ratio"),
            drift("mount", "/data"),
            drift("sysctl", "vm.max_map_count"),
        ];
        let mut matched = vec![false; 5];
        w.apply(scope, day("2026-06-01"), &mut fs, &mut matched);
        let why: Vec<Option<&str>> = fs
            .iter()
            .map(|f| f.waiver.as_ref().map(|n| n.justification.as_str()))
            .collect();
        assert_eq!(
            why,
            [
                Some("exact"),
                Some("glob first"),
                None,
                Some("glob, expired")
            ]
        );
        assert_eq!(
            fs.iter().map(|f| f.status).collect::<Vec<_>>(),
            [Status::Waived, Status::Waived, Status::Drift, Status::Drift]
        );
        assert_eq!(matched, [true, true, true, true, false]);
    }

    #[test]
    fn hold_back_maps_steps_to_the_audit_keys() {
        let w = parse(
            "[[waiver]]\ncheck = \"thp\"\nkey = \"enabled\"\njustification = \"a\"\n\
             [[waiver]]\ncheck = \"block\"\nkey = \"sd*/read_ahead_kb\"\njustification = \"b\"\n\
             [[waiver]]\ncheck = \"sysfs\"\nkey = \"cpufreq_governor\"\njustification = \"c\"\n\
             [[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\njustification = \"d\"\nexpires = \"2020-01-01\"\n",
        )
        .unwrap();
        let step = |target, key: &str| crate::apply::Step {
            target,
            key: key.into(),
            path: PathBuf::new(),
            current: "x".into(),
            desired: "y".into(),
            why: String::new(),
        };
        use crate::apply::Target::{Sysctl, Sysfs};
        let mut plan = crate::apply::Plan {
            steps: vec![
                step(Sysfs, "thp/enabled"),
                step(Sysfs, "thp/defrag"),
                step(Sysfs, "sda/read_ahead_kb"),
                step(Sysfs, "nvme0n1/read_ahead_kb"),
                step(Sysfs, "cpu3/cpufreq_governor"),
                step(Sysctl, "vm.swappiness"),
            ],
            persist: vec![("vm.swappiness".into(), "1".into())],
            ..Default::default()
        };
        let scope = Scope {
            hostname: "h",
            cluster: None,
        };
        w.hold_back(scope, day("2026-06-01"), &mut plan);
        let kept: Vec<&str> = plan.steps.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            kept,
            ["thp/defrag", "nvme0n1/read_ahead_kb", "vm.swappiness"],
            "an expired waiver holds nothing back"
        );
        let held: Vec<&str> = plan.waived.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            held,
            ["thp/enabled", "sda/read_ahead_kb", "cpu3/cpufreq_governor"]
        );
        assert_eq!(plan.persist.len(), 1);
    }

    /// A waiver settles a conflict between the roles' profiles: the key
    /// goes to `waived`, not to the error log; others stay conflicts.
    #[test]
    fn hold_back_settles_a_waived_conflict() {
        let w = parse(
            "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.dirty_writeback_centisecs\"\njustification = \"zookeeper wins here\"\n",
        )
        .unwrap();
        let conflict = |key: &str| crate::apply::Conflict {
            target: crate::apply::Target::Sysctl,
            key: key.into(),
            current: "500".into(),
            wanted: vec![],
            too_many: false,
        };
        let mut plan = crate::apply::Plan {
            conflicts: vec![
                conflict("vm.dirty_writeback_centisecs"),
                conflict("vm.dirty_ratio"),
            ],
            ..Default::default()
        };
        let scope = Scope {
            hostname: "h",
            cluster: None,
        };
        w.hold_back(scope, day("2026-06-01"), &mut plan);
        let left: Vec<&str> = plan.conflicts.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(left, ["vm.dirty_ratio"]);
        assert_eq!(plan.waived.len(), 1);
        assert_eq!(plan.waived[0].key, "vm.dirty_writeback_centisecs");
        assert!(plan.waived[0].advice.contains("zookeeper wins here"));
    }
}
