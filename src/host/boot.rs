//! What the kernel settings will be after the next boot: systemd-sysctl's
//! configuration files, merged by its rules.
//!
//! Files named `*.conf` in /etc/sysctl.d, /run/sysctl.d,
//! /usr/local/lib/sysctl.d and /usr/lib/sysctl.d (and /lib/sysctl.d) are
//! sorted by file name across directories; a file in an earlier directory
//! masks a same-named file in a later one; assignments are applied in that
//! order and the last one for a key wins. /etc/sysctl.conf is read last.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Host;
use crate::sysctl_key::SysctlKey;

/// The most of one sysctl.d file read: a file past it is skipped like an
/// unreadable one (real files are a few KiB).
const MAX_SYSCTL_CONF_BYTES: u64 = 1 << 20;

/// Configuration directories in precedence order (earlier masks later).
pub const SYSCTL_DIRS: [&str; 5] = [
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// The legacy file read after every sysctl.d file.
pub const SYSCTL_CONF: &str = "/etc/sysctl.conf";

/// One assignment in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The value as written (whitespace kept; compare normalised).
    pub value: String,
    /// The file, as a host path (`/etc/sysctl.d/99-x.conf`).
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// Position in application order; higher wins.
    order: usize,
}

impl std::fmt::Display for Assignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The merged boot-time configuration.
#[derive(Debug, Clone, Default)]
pub struct BootConfig {
    exact: BTreeMap<SysctlKey, Assignment>,
    globs: Vec<(glob::Pattern, Assignment)>,
    /// Files read, in application order (host paths).
    pub files: Vec<PathBuf>,
}

impl BootConfig {
    /// The assignment that will win for `key` at the next boot, if any.
    pub fn winner(&self, key: &SysctlKey) -> Option<&Assignment> {
        let dotted = key.to_string();
        let exact = self.exact.get(key);
        let glob = self
            .globs
            .iter()
            .filter(|(p, _)| p.matches(&dotted))
            .map(|(_, a)| a)
            .max_by_key(|a| a.order);
        match (exact, glob) {
            (Some(e), Some(g)) => Some(if g.order > e.order { g } else { e }),
            (e, g) => e.or(g),
        }
    }
}

impl Host {
    /// Reads and merges the boot-time sysctl configuration. Unreadable files
    /// are skipped (an unprivileged audit still sees the readable ones).
    pub fn boot_config(&self) -> BootConfig {
        // File name -> the host path that wins for that name (first directory).
        let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in SYSCTL_DIRS {
            let Ok(entries) = std::fs::read_dir(self.path(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") {
                    by_name
                        .entry(name.clone())
                        .or_insert_with(|| Path::new(dir).join(&name));
                }
            }
        }
        let mut config = BootConfig::default();
        let mut order = 0;
        let mut files: Vec<PathBuf> = by_name.into_values().collect();
        files.push(PathBuf::from(SYSCTL_CONF));
        for file in files {
            // A symlink to /dev/null masks a file; reading it yields nothing.
            let Ok(text) = crate::file_kind::read_text(&self.path(&file), MAX_SYSCTL_CONF_BYTES)
            else {
                continue;
            };
            for (i, raw) in text.lines().enumerate() {
                let Some((key, value)) = parse_line(raw) else {
                    continue;
                };
                order += 1;
                let assignment = Assignment {
                    value: value.to_string(),
                    file: file.clone(),
                    line: i + 1,
                    order,
                };
                if key.contains(['*', '?', '[']) {
                    let dotted = key.replace('/', ".");
                    if let Ok(p) = glob::Pattern::new(&dotted) {
                        config.globs.push((p, assignment));
                    }
                } else if let Ok(k) = SysctlKey::parse(key) {
                    config.exact.insert(k, assignment);
                }
            }
            config.files.push(file);
        }
        config
    }
}

/// Splits `key = value` (with an optional leading `-`), skipping comments and blanks.
fn parse_line(raw: &str) -> Option<(&str, &str)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    let key = key.strip_prefix('-').unwrap_or(key).trim();
    if key.is_empty() {
        return None;
    }
    Some((key, value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn key(s: &str) -> SysctlKey {
        SysctlKey::parse(s).unwrap()
    }

    #[test]
    fn sorted_by_name_across_dirs_last_assignment_wins() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "/usr/lib/sysctl.d/50-default.conf",
            "vm.swappiness = 60\n",
        );
        write(
            t.path(),
            "/etc/sysctl.d/10-early.conf",
            "vm.swappiness=10\n",
        );
        write(
            t.path(),
            "/run/sysctl.d/70-late.conf",
            "# comment\n\n vm/swappiness = 30 \n",
        );
        let c = Host::at(t.path()).boot_config();
        let w = c.winner(&key("vm.swappiness")).unwrap();
        assert_eq!(w.value, "30");
        assert_eq!(w.file, PathBuf::from("/run/sysctl.d/70-late.conf"));
        assert_eq!(w.line, 3);
    }

    #[test]
    fn etc_masks_same_named_file_and_sysctl_conf_is_last() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "/usr/lib/sysctl.d/99-x.conf",
            "vm.swappiness = 60\nvm.dirty_ratio = 20\n",
        );
        write(t.path(), "/etc/sysctl.d/99-x.conf", "vm.dirty_ratio = 80\n");
        write(
            t.path(),
            "/etc/sysctl.conf",
            "; old style\n-vm.max_map_count = 65530\n",
        );
        let c = Host::at(t.path()).boot_config();
        assert!(
            c.winner(&key("vm.swappiness")).is_none(),
            "masked file must not be read"
        );
        assert_eq!(c.winner(&key("vm.dirty_ratio")).unwrap().value, "80");
        let m = c.winner(&key("vm.max_map_count")).unwrap();
        assert_eq!(
            (m.value.as_str(), m.file.to_str().unwrap()),
            ("65530", "/etc/sysctl.conf")
        );
    }

    #[test]
    fn glob_assignments_apply_in_order() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "/etc/sysctl.d/10-a.conf",
            "net.ipv4.conf.eth0.rp_filter = 1\n",
        );
        write(
            t.path(),
            "/etc/sysctl.d/20-b.conf",
            "net.ipv4.conf.*.rp_filter = 2\n",
        );
        let c = Host::at(t.path()).boot_config();
        assert_eq!(
            c.winner(&key("net.ipv4.conf.eth0.rp_filter"))
                .unwrap()
                .value,
            "2"
        );
    }
}
