//! A host root that shows tunekeeper only the processes a test started.
//!
//! `audit` and `agent` discover brokers by scanning `/proc` for command
//! lines (`kafka.Kafka`, the agent's `jvm_match`): on the live host they
//! also find a developer's brokers and the JVMs of the tests running beside
//! this one in the same test binary. The product reads the host through
//! `--root` / `TUNEKEEPER_ROOT`; this view is such a root: every top-level
//! entry of `/` is a link to the real one, except `/proc`, whose process
//! directories are links for the chosen PIDs only (its other entries,
//! `self`, `sys`, `pressure`, `mounts`..., are links to the real ones). So
//! the run sees the real kernel, disks and file systems, and no process but
//! the test's own.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

/// The view; removed on drop.
pub struct ProcView {
    dir: tempfile::TempDir,
}

impl ProcView {
    /// A view holding the processes `pids` (none: no process at all).
    pub fn new(pids: &[u32]) -> ProcView {
        let dir = tempfile::Builder::new()
            .prefix("tk-proc-view-")
            .tempdir()
            .unwrap();
        for e in std::fs::read_dir("/").unwrap().flatten() {
            let name = e.file_name();
            if name != "proc" {
                symlink(Path::new("/").join(&name), dir.path().join(&name)).unwrap();
            }
        }
        // Readable by the unprivileged user some tests run the agent as.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let proc = dir.path().join("proc");
        std::fs::create_dir(&proc).unwrap();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let name = e.file_name();
            let is_pid = name.to_str().is_some_and(|n| n.parse::<u32>().is_ok());
            if !is_pid {
                symlink(Path::new("/proc").join(&name), proc.join(&name)).unwrap();
            }
        }
        let view = ProcView { dir };
        for &pid in pids {
            view.add(pid);
        }
        view
    }

    /// Shows one more process (one the test started after making the view).
    pub fn add(&self, pid: u32) {
        let link = self.dir.path().join(format!("proc/{pid}"));
        if !link.exists() {
            symlink(format!("/proc/{pid}"), link).unwrap();
        }
    }

    /// The root to give the product (`--root`, `TUNEKEEPER_ROOT`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}
