//! From a file system's device number to the disks under it: through
//! partitions, device-mapper (LVM, dm-crypt), MD RAID and loop devices'
//! `slaves/`, as sysfs links them (`/sys/dev/block/MAJ:MIN`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Host, HostError};

/// Stacks deeper than this are a loop in a (fake) sysfs, not real storage.
const MAX_DEPTH: usize = 16;

/// The most devices looked at under one file system: a stack that fans out
/// (a device on many slaves, each on many more) is walked once per device,
/// not once per path, and no further than this.
pub const MAX_DEVICES: usize = 4096;

impl Host {
    /// The whole disks (names under `/sys/block`, e.g. `sda`, `nvme0n1`)
    /// that hold the block device `majmin`. Empty for a device number that
    /// is no block device (tmpfs, overlay's anonymous `0:NN`).
    pub fn disks_of(&self, majmin: &str) -> Result<BTreeSet<String>, HostError> {
        let mut out = BTreeSet::new();
        if majmin.starts_with("0:") {
            return Ok(out);
        }
        let link = self.path(format!("/sys/dev/block/{majmin}"));
        let dir = std::fs::canonicalize(&link).map_err(|e| HostError::from_io(&link, e))?;
        self.collect_disks(&dir, 0, &mut BTreeSet::new(), &mut out)?;
        Ok(out)
    }

    fn collect_disks(
        &self,
        dev: &Path,
        depth: usize,
        seen: &mut BTreeSet<PathBuf>,
        out: &mut BTreeSet<String>,
    ) -> Result<(), HostError> {
        if !seen.insert(dev.to_path_buf()) {
            return Ok(());
        }
        if seen.len() > MAX_DEVICES {
            return Err(HostError::Io {
                path: dev.to_path_buf(),
                source: std::io::Error::other(format!(
                    "more than {MAX_DEVICES} block devices under one file system"
                )),
            });
        }
        if depth > MAX_DEPTH {
            return Err(HostError::Io {
                path: dev.to_path_buf(),
                source: std::io::Error::other("block devices stacked too deep (a loop?)"),
            });
        }
        // A partition's directory sits inside its disk's.
        if dev.join("partition").exists() {
            if let Some(parent) = dev.parent() {
                return self.collect_disks(parent, depth + 1, seen, out);
            }
        }
        let slaves: Vec<PathBuf> = std::fs::read_dir(dev.join("slaves"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| std::fs::canonicalize(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        if slaves.is_empty() {
            if let Some(name) = dev.file_name().and_then(|n| n.to_str()) {
                out.insert(name.to_string());
            }
            return Ok(());
        }
        for s in slaves {
            self.collect_disks(&s, depth + 1, seen, out)?;
        }
        Ok(())
    }

    /// `1` for a spinning disk, `0` for SSD/NVMe, as the kernel believes.
    pub fn rotational(&self, disk: &str) -> Result<bool, HostError> {
        Ok(self.read_value(format!("/sys/block/{disk}/queue/rotational"))? == "1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A sysfs with sda (partition sda1), sdb and sdc under an MD RAID md0,
    /// and an LVM volume dm-0 on md0.
    fn tree() -> (tempfile::TempDir, Host) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let dev = |p: &str| {
            std::fs::create_dir_all(r.join(p)).unwrap();
        };
        dev("sys/devices/pci0/host0/block/sda/sda1");
        std::fs::write(
            r.join("sys/devices/pci0/host0/block/sda/sda1/partition"),
            "1",
        )
        .unwrap();
        dev("sys/devices/pci0/host1/block/sdb");
        dev("sys/devices/pci0/host2/block/sdc");
        dev("sys/devices/virtual/block/md0/slaves");
        dev("sys/devices/virtual/block/dm-0/slaves");
        symlink(
            "../../../../pci0/host1/block/sdb",
            r.join("sys/devices/virtual/block/md0/slaves/sdb"),
        )
        .unwrap();
        symlink(
            "../../../../pci0/host2/block/sdc",
            r.join("sys/devices/virtual/block/md0/slaves/sdc"),
        )
        .unwrap();
        symlink(
            "../../md0",
            r.join("sys/devices/virtual/block/dm-0/slaves/md0"),
        )
        .unwrap();
        dev("sys/dev/block");
        for (mm, target) in [
            ("8:1", "../../devices/pci0/host0/block/sda/sda1"),
            ("253:0", "../../devices/virtual/block/dm-0"),
            ("9:0", "../../devices/virtual/block/md0"),
        ] {
            symlink(target, r.join("sys/dev/block").join(mm)).unwrap();
        }
        let h = Host::at(r);
        (t, h)
    }

    #[test]
    fn resolves_partitions_raid_and_lvm_to_disks() {
        let (_t, h) = tree();
        let names = |mm: &str| h.disks_of(mm).unwrap().into_iter().collect::<Vec<_>>();
        assert_eq!(names("8:1"), ["sda"]);
        assert_eq!(names("9:0"), ["sdb", "sdc"]);
        assert_eq!(names("253:0"), ["sdb", "sdc"], "LVM on RAID");
        assert!(names("0:42").is_empty(), "tmpfs has no disk");
        assert!(matches!(h.disks_of("7:99"), Err(HostError::Missing { .. })));
    }

    /// Sixteen levels of devices, four at each, every one on all four of
    /// the level below: 4^16 paths to the bottom, 64 devices. Walked per
    /// path (main) that never ended; walked per device it is at once.
    /// Past [`MAX_DEVICES`], an error naming the file system's device.
    #[test]
    fn a_stack_that_fans_out_is_walked_once_per_device_and_bounded() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let name = |level: usize, i: usize| format!("dm-{}", level * 4 + i);
        for level in 0..16 {
            for i in 0..4 {
                let dir = r.join("sys/devices/virtual/block").join(name(level, i));
                std::fs::create_dir_all(dir.join("slaves")).unwrap();
                if level < 15 {
                    for j in 0..4 {
                        symlink(
                            format!("../../{}", name(level + 1, j)),
                            dir.join("slaves").join(name(level + 1, j)),
                        )
                        .unwrap();
                    }
                }
            }
        }
        std::fs::create_dir_all(r.join("sys/dev/block")).unwrap();
        symlink(
            "../../devices/virtual/block/dm-0",
            r.join("sys/dev/block/253:0"),
        )
        .unwrap();
        let h = Host::at(r);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(
                h.disks_of("253:0")
                    .map(|d| d.into_iter().collect::<Vec<_>>()),
            );
        });
        let disks = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the walk ends")
            .unwrap();
        assert_eq!(disks, ["dm-60", "dm-61", "dm-62", "dm-63"]);

        // A device on more slaves than the bound: an error, not a walk.
        let wide = r.join("sys/devices/virtual/block/md9");
        std::fs::create_dir_all(wide.join("slaves")).unwrap();
        for i in 0..=MAX_DEVICES {
            let leaf = r.join(format!("sys/devices/virtual/block/sd{i}"));
            std::fs::create_dir_all(&leaf).unwrap();
            symlink(&leaf, wide.join("slaves").join(format!("sd{i}"))).unwrap();
        }
        symlink(
            "../../devices/virtual/block/md9",
            r.join("sys/dev/block/9:9"),
        )
        .unwrap();
        let err = Host::at(r).disks_of("9:9").unwrap_err().to_string();
        assert!(err.contains("more than 4096 block devices"), "{err}");
    }

    #[test]
    fn the_real_root_file_system_has_a_disk() {
        let host = Host::default();
        let mounts = host.mounts().unwrap();
        let root = crate::host::mounts::mount_for(&mounts, Path::new("/")).unwrap();
        if root.majmin.starts_with("0:") {
            eprintln!("skipped: / is {} (no block device)", root.fs_type);
            return;
        }
        let disks = host.disks_of(&root.majmin).unwrap();
        assert!(!disks.is_empty());
        for d in &disks {
            assert!(Path::new("/sys/block").join(d).exists(), "{d}");
        }
    }
}
