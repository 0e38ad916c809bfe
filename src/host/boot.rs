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
pub const MAX_SYSCTL_CONF_BYTES: u64 = 1 << 20;

/// The most names listed in one sysctl.d directory (real ones hold tens).
pub const MAX_SYSCTL_D_NAMES: usize = 10_000;

/// The most bytes read over all the boot configuration's files.
pub const MAX_BOOT_CONFIG_BYTES: u64 = 16 << 20;

/// The most glob assignments kept (`net.ipv4.conf.*.rp_filter`): each is
/// matched against every key a profile names.
pub const MAX_SYSCTL_GLOBS: usize = 1_000;

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
    /// What was not read, each naming the file or directory and why (not a
    /// regular file, past a bound): the next boot may set more than this.
    pub left_out: Vec<String>,
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
        let mut left_out = Vec::new();
        for dir in SYSCTL_DIRS {
            let Ok(entries) = std::fs::read_dir(self.path(dir)) else {
                continue;
            };
            for (n, entry) in entries.flatten().enumerate() {
                if n == MAX_SYSCTL_D_NAMES {
                    left_out.push(format!(
                        "{dir}: more than {MAX_SYSCTL_D_NAMES} names; the rest not read"
                    ));
                    break;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") {
                    by_name
                        .entry(name.clone())
                        .or_insert_with(|| Path::new(dir).join(&name));
                }
            }
        }
        let mut config = BootConfig {
            left_out,
            ..BootConfig::default()
        };
        let mut order = 0;
        let mut budget = MAX_BOOT_CONFIG_BYTES;
        let mut globs_full = false;
        let mut files: Vec<PathBuf> = by_name.into_values().collect();
        files.push(PathBuf::from(SYSCTL_CONF));
        for file in files {
            let path = self.path(&file);
            let text =
                match crate::file_kind::read_bounded(&path, MAX_SYSCTL_CONF_BYTES.min(budget)) {
                    Ok(bytes) => {
                        budget -= bytes.len() as u64;
                        String::from_utf8_lossy(&bytes).into_owned()
                    }
                    Err(e) => {
                        // A link to /dev/null masks a file (systemd's way);
                        // an absent /etc/sysctl.conf is no news either.
                        let masked =
                            std::fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null"));
                        let absent = matches!(&e, crate::file_kind::SmallFileError::Io(io)
                        if io.kind() == std::io::ErrorKind::NotFound);
                        if !masked && !absent {
                            config.left_out.push(format!("{}: {e}", file.display()));
                        }
                        continue;
                    }
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
                    if config.globs.len() >= MAX_SYSCTL_GLOBS {
                        if !globs_full {
                            config.left_out.push(format!(
                                "{assignment}: more than {MAX_SYSCTL_GLOBS} glob assignments; this one and later ones not used"
                            ));
                            globs_full = true;
                        }
                        continue;
                    }
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

    /// Principle 2 with other file types than a FIFO, and principle 1 in
    /// count: a sysctl.d name that is /dev/zero, a FIFO or a socket is
    /// refused and named (main read /dev/zero until memory ran out, and
    /// blocked on the FIFO); a /dev/null link still masks silently; glob
    /// lines and directory names past their bounds are said once.
    #[test]
    fn devices_fifos_sockets_and_floods_in_sysctl_d_are_named_not_read() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("etc/sysctl.d");
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink("/dev/zero", d.join("10-zero.conf")).unwrap();
        nix::unistd::mkfifo(&d.join("20-fifo.conf"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(d.join("30-sock.conf")).unwrap();
        std::os::unix::fs::symlink("/dev/null", d.join("40-masked.conf")).unwrap();
        let globs: String = (0..=MAX_SYSCTL_GLOBS)
            .map(|i| format!("net.ipv4.conf.eth{i}*.rp_filter = 1\n"))
            .collect();
        write(
            t.path(),
            "/etc/sysctl.d/50-globs.conf",
            &(globs + "vm.swappiness = 1\n"),
        );
        let c = Host::at(t.path()).boot_config();
        let said = c.left_out.join("\n");
        assert!(
            said.contains("10-zero.conf: it is a character device"),
            "{said}"
        );
        assert!(said.contains("20-fifo.conf: it is a FIFO"), "{said}");
        assert!(said.contains("30-sock.conf"), "{said}");
        assert!(!said.contains("40-masked"), "{said}");
        assert_eq!(said.matches("glob assignments").count(), 1, "{said}");
        assert_eq!(c.winner(&key("vm.swappiness")).unwrap().value, "1");

        let u = t.path().join("usr/lib/sysctl.d");
        std::fs::create_dir_all(&u).unwrap();
        for i in 0..=MAX_SYSCTL_D_NAMES {
            std::fs::write(u.join(format!("{i}.txt")), "").unwrap();
        }
        let c = Host::at(t.path()).boot_config();
        assert!(
            c.left_out
                .iter()
                .any(|l| l.starts_with("/usr/lib/sysctl.d: more than 10000 names")),
            "{:?}",
            c.left_out
        );
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
