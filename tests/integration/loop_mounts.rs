//! File systems on loop devices for tests that need data directories on
//! disks of their own; unmounted (and their loop devices freed) on drop,
//! even when the test fails. Needs root and mkfs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why this machine cannot mount loop file systems, if it cannot.
pub fn missing() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (mounts need it)".into());
    }
    for cmd in ["mkfs.ext4", "mount", "umount"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("no {cmd} on this machine"));
        }
    }
    None
}

/// The mounts of one test, under a directory of its own in /var/tmp (on
/// the root file system's disk).
pub struct LoopMounts {
    /// The test's directory.
    pub dir: tempfile::TempDir,
    points: Vec<PathBuf>,
}

impl LoopMounts {
    /// A directory for the test's mounts and files.
    pub fn new() -> LoopMounts {
        std::fs::create_dir_all("/var/tmp").unwrap();
        LoopMounts {
            dir: tempfile::Builder::new()
                .prefix("tk-roles-")
                .tempdir_in("/var/tmp")
                .unwrap(),
            points: Vec::new(),
        }
    }

    /// A path in the test's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A fresh 128 MiB ext4 image mounted (noatime) on `rel`: a disk of its own.
    pub fn ext4(&mut self, rel: &str) -> PathBuf {
        let img = self.path(&format!("{rel}.img"));
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(128 << 20).unwrap();
        drop(f);
        run("mkfs.ext4", &["-q", img.to_str().unwrap()]);
        let point = self.path(rel);
        std::fs::create_dir_all(&point).unwrap();
        run(
            "mount",
            &[
                "-o",
                "loop,noatime",
                img.to_str().unwrap(),
                point.to_str().unwrap(),
            ],
        );
        self.points.push(point.clone());
        point
    }
}

impl Drop for LoopMounts {
    fn drop(&mut self) {
        for p in self.points.iter().rev() {
            let _ = Command::new("umount").arg(p).status();
        }
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The whole disk (`loop3`) holding `path`, as the audit names it.
pub fn disk_of(path: &Path) -> String {
    let out = Command::new("findmnt")
        .args(["-n", "-o", "SOURCE", "--target"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("/dev/")
        .to_owned()
}
