//! The tuned daemon: when it runs, it re-applies its own profile's sysctl
//! settings (and the sysctl.d files) and can silently undo ours.

use std::collections::BTreeMap;

use super::Host;
use crate::sysctl_key::SysctlKey;

/// A sysctl value a tuned profile sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunedValue {
    /// The value as written (`>N` means "at least N" in tuned).
    pub value: String,
    /// The tuned profile that sets it.
    pub profile: String,
}

/// The running tuned daemon's effective sysctl settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuned {
    /// Active profile names (`/etc/tuned/active_profile`).
    pub active: Vec<String>,
    /// Key → value after tuned's own include resolution.
    pub sysctl: BTreeMap<SysctlKey, TunedValue>,
    /// Profiles not read, each with why (past [`MAX_TUNED_PROFILES`], or
    /// a `tuned.conf` that is not a regular file or is past 1 MiB).
    pub left_out: Vec<String>,
}

/// The most tuned profiles read (active ones and their includes, each
/// once): real chains are two or three deep; this bounds the recursion.
pub const MAX_TUNED_PROFILES: usize = 64;

/// Where tuned looks for profiles, in priority order.
const TUNED_PROFILE_DIRS: [&str; 4] = [
    "/etc/tuned",
    "/etc/tuned/profiles",
    "/usr/lib/tuned",
    "/usr/lib/tuned/profiles",
];

impl Host {
    /// The tuned daemon's settings when it is running, `None` otherwise.
    pub fn tuned(&self) -> Option<Tuned> {
        let pid = self.read_value("/run/tuned/tuned.pid").ok()?;
        let pid: u32 = pid.trim().parse().ok()?;
        if !self.path(format!("/proc/{pid}")).exists() {
            return None;
        }
        let active: Vec<String> = self
            .read_value("/etc/tuned/active_profile")
            .ok()?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut tuned = Tuned {
            active: active.clone(),
            ..Tuned::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for name in &active {
            self.load_tuned_profile(name, &mut tuned, &mut seen);
        }
        Some(tuned)
    }

    fn load_tuned_profile(
        &self,
        name: &str,
        tuned: &mut Tuned,
        seen: &mut std::collections::BTreeSet<String>,
    ) {
        if seen.contains(name) {
            return;
        }
        if seen.len() >= MAX_TUNED_PROFILES {
            tuned.left_out.push(format!(
                "{name}: more than {MAX_TUNED_PROFILES} profiles included"
            ));
            return;
        }
        seen.insert(name.to_string());
        let mut refused = None;
        let Some(text) = TUNED_PROFILE_DIRS.iter().find_map(|d| {
            let path = self.path(format!("{d}/{name}/tuned.conf"));
            match crate::file_kind::read_bounded(&path, 1 << 20) {
                Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                Err(crate::file_kind::SmallFileError::Io(_)) => None,
                Err(e) => {
                    refused.get_or_insert(format!("{d}/{name}/tuned.conf: {e}"));
                    None
                }
            }
        }) else {
            tuned.left_out.extend(refused);
            return;
        };
        let mut section = String::new();
        let mut own = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.trim().to_string();
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if section == "main" && k == "include" {
                // Included profiles are applied first; this profile's values win.
                for inc in v.split([',', ' ']).filter(|s| !s.is_empty()) {
                    self.load_tuned_profile(inc, tuned, seen);
                }
            } else if section == "sysctl" {
                if let Ok(key) = SysctlKey::parse(k) {
                    own.push((key, v.to_string()));
                }
            }
        }
        for (key, value) in own {
            tuned.sysctl.insert(
                key,
                TunedValue {
                    value,
                    profile: name.to_string(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_active_profile_with_includes() {
        let t = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = t.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let h = Host::at(t.path());
        assert!(h.tuned().is_none(), "no pid file: tuned is not running");
        w("run/tuned/tuned.pid", "4242\n");
        w("etc/tuned/active_profile", "throughput-performance\n");
        assert!(h.tuned().is_none(), "stale pid file: tuned is not running");
        std::fs::create_dir_all(t.path().join("proc/4242")).unwrap();
        w(
            "usr/lib/tuned/balanced/tuned.conf",
            "[sysctl]\nvm.swappiness=30\nvm.dirty_ratio=20\n",
        );
        w(
            "usr/lib/tuned/throughput-performance/tuned.conf",
            "[main]\ninclude=balanced\n\n[sysctl]\nvm.swappiness=10\nnet.core.somaxconn=>2048\n",
        );
        let tuned = h.tuned().unwrap();
        assert_eq!(tuned.active, vec!["throughput-performance"]);
        let get = |k: &str| {
            tuned
                .sysctl
                .get(&SysctlKey::parse(k).unwrap())
                .cloned()
                .unwrap()
        };
        assert_eq!(get("vm.swappiness").value, "10");
        assert_eq!(get("vm.swappiness").profile, "throughput-performance");
        assert_eq!(get("vm.dirty_ratio").profile, "balanced");
        assert_eq!(get("net.core.somaxconn").value, ">2048");
    }

    /// A chain of includes longer than the bound, and a profile that is a
    /// FIFO: the first [`MAX_TUNED_PROFILES`] are read, the rest and the
    /// FIFO are named, nothing blocks.
    #[test]
    fn long_include_chains_and_fifos_are_bounded_and_named() {
        let t = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = t.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("run/tuned/tuned.pid", "4242\n");
        std::fs::create_dir_all(t.path().join("proc/4242")).unwrap();
        w("etc/tuned/active_profile", "piped p0\n");
        for i in 0..100 {
            w(
                &format!("usr/lib/tuned/p{i}/tuned.conf"),
                &format!("[main]\ninclude=p{}\n[sysctl]\nvm.swappiness={i}\n", i + 1),
            );
        }
        std::fs::create_dir_all(t.path().join("usr/lib/tuned/piped")).unwrap();
        nix::unistd::mkfifo(
            &t.path().join("usr/lib/tuned/piped/tuned.conf"),
            nix::sys::stat::Mode::S_IRWXU,
        )
        .unwrap();
        let tuned = Host::at(t.path()).tuned().unwrap();
        let said = tuned.left_out.join("\n");
        assert!(
            said.contains(&format!("more than {MAX_TUNED_PROFILES} profiles")),
            "{said}"
        );
        assert!(said.contains("piped/tuned.conf: it is a FIFO"), "{said}");
        // p0 wins (its includes apply first).
        let v = &tuned.sysctl[&SysctlKey::parse("vm.swappiness").unwrap()];
        assert_eq!((v.value.as_str(), v.profile.as_str()), ("0", "p0"));
    }
}
