//! Checking a rollback journal before `rollback` trusts it: the journal
//! names the files rollback writes, so a journal that was edited, corrupted
//! or planted must not turn rollback into "write anything anywhere". It is
//! held to the rules a profile is held to: kernel settings under /proc/sys
//! (the path the key names, nothing else), sysfs attributes under /sys, no
//! `..` anywhere, values that are one short line of text, and persistence
//! only as a `*.conf` file directly in a sysctl.d directory. Every entry is
//! checked before the first write: a bad journal changes nothing.

use std::path::{Component, Path};

use crate::apply::{Journal, JournalEntry, Target};
use crate::sysctl_key::SysctlKey;

/// The most entries a journal may hold (a profile sets tens of keys; every
/// key of every CPU and disk of a large host is a few thousand).
pub const MAX_ENTRIES: usize = 100_000;
/// The longest value a journal may restore (`/proc/sys` values are at most
/// a page).
pub const MAX_VALUE_BYTES: usize = 4096;
/// The largest journal file read.
pub const MAX_JOURNAL_BYTES: u64 = 16 << 20;
/// The largest previous sysctl.d content a journal may restore.
pub const MAX_PERSISTED_BYTES: usize = 1 << 20;

/// Why a journal is refused: which entry, and what is wrong with it.
pub fn check(journal: &Journal) -> Result<(), String> {
    if journal.entries.len() > MAX_ENTRIES {
        return Err(format!(
            "it holds {} entries, more than {MAX_ENTRIES}",
            journal.entries.len()
        ));
    }
    for (i, e) in journal.entries.iter().enumerate() {
        check_entry(e)
            .map_err(|why| format!("entry {} (`{}`): {why}", i + 1, e.key.escape_default()))?;
    }
    if let Some(p) = &journal.persisted {
        let shown = p.path.display().to_string();
        if !is_sysctl_d_file(&p.path) {
            return Err(format!(
                "persisted file `{}`: not a *.conf file directly in a sysctl.d directory ({})",
                shown.escape_default(),
                crate::host::boot::SYSCTL_DIRS.join(", ")
            ));
        }
        if p.previous
            .as_ref()
            .is_some_and(|t| t.len() > MAX_PERSISTED_BYTES)
        {
            return Err(format!(
                "persisted file `{}`: its previous content is over {MAX_PERSISTED_BYTES} bytes",
                shown.escape_default()
            ));
        }
    }
    Ok(())
}

fn check_entry(e: &JournalEntry) -> Result<(), String> {
    let shown = e.path.display().to_string().escape_default().to_string();
    if !plain_absolute(&e.path) {
        return Err(format!(
            "path `{shown}` is not a plain absolute path (no `.`, `..` or empty parts)"
        ));
    }
    match e.target {
        Target::Sysctl => {
            let key = SysctlKey::parse(&e.key).map_err(|err| err.to_string())?;
            let want = Path::new("/proc/sys").join(key.rel_path());
            if e.path != want {
                return Err(format!(
                    "path `{shown}` is not the key's own file {}",
                    want.display()
                ));
            }
        }
        Target::Sysfs => {
            if !e.path.starts_with("/sys/") || e.path.components().count() < 4 {
                return Err(format!(
                    "path `{shown}` is not a sysfs attribute under /sys"
                ));
            }
        }
    }
    if e.original.len() > MAX_VALUE_BYTES {
        return Err(format!("its value is over {MAX_VALUE_BYTES} bytes"));
    }
    // Tabs separate the fields of multi-value keys; nothing else that is
    // not printable belongs in a kernel value.
    if e.original.chars().any(|c| c.is_control() && c != '\t') {
        return Err("its value holds control characters".into());
    }
    Ok(())
}

/// Absolute, and every part a plain name (`/proc/sys/../../etc/x` is not).
fn plain_absolute(p: &Path) -> bool {
    let s = p.as_os_str().as_encoded_bytes();
    p.is_absolute()
        && !s.windows(2).any(|w| w == b"//")
        && !s.ends_with(b"/")
        && p.components()
            .skip(1)
            .all(|c| matches!(c, Component::Normal(_)))
        && !s
            .split(|b| *b == b'/')
            .any(|part| part == b"." || part == b"..")
}

/// `/etc/sysctl.d/NAME.conf` and the like: a plain name directly in one of
/// the sysctl.d directories.
pub fn is_sysctl_d_file(p: &Path) -> bool {
    let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) else {
        return false;
    };
    plain_absolute(p)
        && name.ends_with(".conf")
        && !name.starts_with('.')
        && crate::host::boot::SYSCTL_DIRS
            .iter()
            .any(|d| Path::new(d) == dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::PersistRecord;
    use std::path::PathBuf;

    fn entry(target: Target, key: &str, path: &str, original: &str) -> JournalEntry {
        JournalEntry {
            target,
            key: key.into(),
            path: PathBuf::from(path),
            original: original.into(),
        }
    }

    fn journal(entries: Vec<JournalEntry>, persisted: Option<&str>) -> Journal {
        Journal {
            version: 1,
            profile: "p".into(),
            entries,
            persisted: persisted.map(|p| PersistRecord {
                path: PathBuf::from(p),
                previous: None,
            }),
        }
    }

    #[test]
    fn what_apply_writes_passes() {
        let j = journal(
            vec![
                entry(
                    Target::Sysctl,
                    "vm.swappiness",
                    "/proc/sys/vm/swappiness",
                    "60",
                ),
                entry(
                    Target::Sysctl,
                    "net.ipv4.tcp_rmem",
                    "/proc/sys/net/ipv4/tcp_rmem",
                    "4096\t131072\t6291456",
                ),
                entry(
                    Target::Sysfs,
                    "thp/enabled",
                    "/sys/kernel/mm/transparent_hugepage/enabled",
                    "always",
                ),
                entry(
                    Target::Sysfs,
                    "sda/scheduler",
                    "/sys/block/sda/queue/scheduler",
                    "mq-deadline",
                ),
            ],
            Some("/etc/sysctl.d/99-tunekeeper.conf"),
        );
        assert_eq!(check(&j), Ok(()));
    }

    #[test]
    fn paths_out_of_their_tree_are_refused() {
        for (target, key, path) in [
            (
                Target::Sysctl,
                "vm.swappiness",
                "/proc/sys/../../etc/passwd",
            ),
            (Target::Sysctl, "vm.swappiness", "/etc/passwd"),
            (Target::Sysctl, "vm.swappiness", "/proc/sys/vm/dirty_ratio"),
            (
                Target::Sysctl,
                "../../etc/passwd",
                "/proc/sys/../../etc/passwd",
            ),
            (Target::Sysfs, "x", "/sys/../etc/shadow"),
            (Target::Sysfs, "x", "/etc/shadow"),
            (Target::Sysfs, "x", "sys/block/sda/queue/scheduler"),
            (Target::Sysfs, "x", "/sys/block/./sda/queue/scheduler"),
        ] {
            let j = journal(vec![entry(target, key, path, "1")], None);
            let e = check(&j).expect_err(path);
            assert!(e.starts_with("entry 1"), "{e}");
        }
        let bad_value = journal(
            vec![entry(
                Target::Sysctl,
                "vm.swappiness",
                "/proc/sys/vm/swappiness",
                "1\n2",
            )],
            None,
        );
        assert!(check(&bad_value).unwrap_err().contains("control"));
    }

    #[test]
    fn persistence_only_in_sysctl_d() {
        for p in [
            "/etc/passwd",
            "/etc/sysctl.d/../cron.d/x.conf",
            "/etc/sysctl.d/sub/x.conf",
            "/etc/sysctl.d/x.sh",
            "/tmp/x.conf",
            "etc/sysctl.d/x.conf",
        ] {
            let e = check(&journal(vec![], Some(p))).expect_err(p);
            assert!(e.contains("persisted file"), "{e}");
        }
        assert!(check(&journal(vec![], Some("/usr/lib/sysctl.d/50-x.conf"))).is_ok());
    }
}
