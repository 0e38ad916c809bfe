//! Mounted filesystems and their options, from /proc/self/mountinfo.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use procfs::FromBufRead;

use super::{Host, HostError};

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Filesystem type (`xfs`, `ext4`).
    pub fs_type: String,
    /// The device or source.
    pub source: String,
    /// Per-mount and superblock options together (`noatime`, `commit=60`).
    pub options: BTreeSet<String>,
    /// The device number, `MAJ:MIN` (`0:NN` for tmpfs and other virtual file systems).
    pub majmin: String,
}

impl Mount {
    /// True when the option (`noatime`, or `commit=60` exactly, or `commit`
    /// with any value when written without `=`, or `commit>=60`: a numeric
    /// value at least 60 — ext4's commit interval, where longer is fine) is set.
    pub fn has_option(&self, option: &str) -> bool {
        if let Some((name, min)) = option.split_once(">=") {
            let Ok(min) = min.trim().parse::<u64>() else {
                return false;
            };
            return self.options.iter().any(|o| {
                o.split_once('=')
                    .is_some_and(|(k, v)| k == name && v.parse::<u64>().is_ok_and(|v| v >= min))
            });
        }
        if option.contains('=') {
            self.options.contains(option)
        } else {
            self.options
                .iter()
                .any(|o| o == option || o.split_once('=').is_some_and(|(k, _)| k == option))
        }
    }
}

impl Host {
    /// Every mount of this host's mount namespace.
    pub fn mounts(&self) -> Result<Vec<Mount>, HostError> {
        self.read_mountinfo("/proc/self/mountinfo")
    }

    /// Every mount a process sees: its own mount namespace, so a broker in
    /// a container is judged by its mounts, not the host's.
    pub fn mounts_of(&self, pid: i32) -> Result<Vec<Mount>, HostError> {
        self.read_mountinfo(&format!("/proc/{pid}/mountinfo"))
    }

    fn read_mountinfo(&self, abs: &str) -> Result<Vec<Mount>, HostError> {
        let path = self.path(abs);
        let text = crate::file_kind::read_text(&path, crate::file_kind::MAX_KERNEL_FILE_BYTES)
            .map_err(|e| HostError::from_io(&path, e))?;
        let infos = procfs::process::MountInfos::from_buf_read(text.as_bytes()).map_err(|e| {
            HostError::Io {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            }
        })?;
        Ok(infos
            .0
            .into_iter()
            .map(|m| {
                let opt = |(k, v): (String, Option<String>)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k,
                };
                let mut options: BTreeSet<String> = m.mount_options.into_iter().map(opt).collect();
                options.extend(m.super_options.into_iter().map(opt));
                Mount {
                    mount_point: m.mount_point,
                    fs_type: m.fs_type,
                    source: m.mount_source.unwrap_or_default(),
                    options,
                    majmin: m.majmin,
                }
            })
            .collect())
    }
}

/// The mount holding `path`: the one with the longest mount point that is a
/// prefix of it (the last such mount wins when mounts are stacked).
pub fn mount_for<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.mount_point))
        .max_by_key(|(i, m)| (m.mount_point.components().count(), *i))
        .map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro
30 22 254:16 / /var/lib/kafka rw,noatime shared:2 - xfs /dev/vdb rw,attr2,inode64
31 22 254:32 / /data rw,relatime shared:3 - ext4 /dev/vdc rw,commit=60
";

    fn host() -> (tempfile::TempDir, Host) {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("proc/self")).unwrap();
        std::fs::write(t.path().join("proc/self/mountinfo"), MOUNTINFO).unwrap();
        let h = Host::at(t.path());
        (t, h)
    }

    #[test]
    fn finds_the_mount_holding_a_path() {
        let (_t, h) = host();
        let mounts = h.mounts().unwrap();
        let m = mount_for(&mounts, Path::new("/var/lib/kafka/data-0")).unwrap();
        assert_eq!(m.fs_type, "xfs");
        assert!(m.has_option("noatime"));
        let root = mount_for(&mounts, Path::new("/var/lib/kafkaX")).unwrap();
        assert_eq!(
            root.mount_point,
            PathBuf::from("/"),
            "prefix is by component, not by string"
        );
        let data = mount_for(&mounts, Path::new("/data/kafka")).unwrap();
        assert!(
            data.has_option("commit")
                && data.has_option("commit=60")
                && !data.has_option("commit=5")
        );
        assert!(!data.has_option("noatime"));
        assert_eq!(data.majmin, "254:32");
        assert!(data.has_option("commit>=30") && data.has_option("commit>=60"));
        assert!(!data.has_option("commit>=61") && !data.has_option("commit>=x"));
        let root = mount_for(&mounts, Path::new("/")).unwrap();
        assert!(!root.has_option("commit>=5"), "no commit= at all");
    }
}
