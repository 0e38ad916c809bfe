//! Where each Kafka-family process keeps its data: every data directory with
//! the mount that holds it, the disks under that mount and its free space,
//! observed once per audit so every check reads the same snapshot.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::process::{DataDir, KafkaProcess, find_kafka_processes};
use super::roles::{HostRole, Processes};
use crate::host::Host;
use crate::host::mounts::{Mount, mount_for};

/// Free space and inodes of a file system, as shares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Space {
    /// Bytes available to unprivileged writers.
    pub free_bytes: u64,
    /// Size of the file system.
    pub total_bytes: u64,
    /// Free space, percent of the size (0-100).
    pub free_percent: u64,
    /// Free inodes, percent (None when the file system has no inode count,
    /// as on btrfs).
    pub inodes_free_percent: Option<u64>,
    /// Inodes available to unprivileged writers (0 when the file system
    /// has no inode count).
    pub free_inodes: u64,
    /// Inodes of the file system (0 when it has no inode count).
    pub total_inodes: u64,
}

/// One data directory of one process, as observed.
#[derive(Debug, Clone)]
pub struct DataDirView {
    /// The process's pid.
    pub pid: i32,
    /// The process's role.
    pub role: HostRole,
    /// The directory as the process names it.
    pub dir: DataDir,
    /// The directory, symlinks resolved, as the process sees it.
    pub resolved: Option<PathBuf>,
    /// The mount holding it (in the process's mount namespace), or why none.
    pub mount: Result<Mount, String>,
    /// The whole disks under that mount (empty for tmpfs), or why unknown.
    pub disks: Result<BTreeSet<String>, String>,
    /// Free space and inodes, when the directory exists.
    pub space: Option<Space>,
}

/// The Kafka-family processes an audit judges and their data directories,
/// and beside them every other Kafka-family process's data directories
/// (placement compares a directory with every other one on the host, of
/// whatever role).
#[derive(Debug, Clone, Default)]
pub struct Brokers {
    /// The processes judged, by pid.
    pub processes: Vec<KafkaProcess>,
    /// Their data directories, in process then configuration order.
    pub dirs: Vec<DataDirView>,
    /// The data directories of the host's other Kafka-family processes
    /// (other roles), judged by their own profiles.
    pub others: Vec<DataDirView>,
    /// The disks under `/` (the OS disk), when known.
    pub os_disks: BTreeSet<String>,
    /// Whether each data disk spins (`queue/rotational`), where readable.
    pub rotational: std::collections::BTreeMap<String, bool>,
}

impl Brokers {
    /// Looks at the host once: the Kafka-family processes `which` selects
    /// (a role, or the profile's `[process] match`), so a broker profile
    /// judges brokers and a ZooKeeper profile ZooKeeper, and the data
    /// directories of all the others.
    pub fn observe(host: &Host, which: Processes<'_>) -> Brokers {
        let (processes, rest): (Vec<KafkaProcess>, Vec<KafkaProcess>) = find_kafka_processes(host)
            .into_iter()
            .partition(|p| which.selects(p));
        let os_disks = host
            .mounts()
            .ok()
            .and_then(|m| mount_for(&m, Path::new("/")).and_then(|r| host.disks_of(&r.majmin).ok()))
            .unwrap_or_default();
        let views = |procs: &[KafkaProcess]| {
            let mut dirs = Vec::new();
            for p in procs {
                let mounts = host.mounts_of(p.jvm.pid);
                for dir in p.data_dirs() {
                    dirs.push(view(host, p, dir, &mounts));
                }
            }
            dirs
        };
        let dirs = views(&processes);
        let others = views(&rest);
        let mut brokers = Brokers {
            processes,
            dirs,
            others,
            os_disks,
            rotational: Default::default(),
        };
        for disk in brokers.data_disks() {
            if let Ok(r) = host.rotational(&disk) {
                brokers.rotational.insert(disk, r);
            }
        }
        brokers
    }

    /// The disks that hold any data directory.
    pub fn data_disks(&self) -> BTreeSet<String> {
        self.dirs
            .iter()
            .filter_map(|d| d.disks.as_ref().ok())
            .flatten()
            .cloned()
            .collect()
    }

    /// The process with this pid.
    pub fn process(&self, pid: i32) -> Option<&KafkaProcess> {
        self.processes.iter().find(|p| p.jvm.pid == pid)
    }
}

fn view(
    host: &Host,
    p: &KafkaProcess,
    dir: DataDir,
    mounts: &Result<Vec<Mount>, crate::host::HostError>,
) -> DataDirView {
    let on_host = p.host_path(host, &dir.path);
    let resolved = if p.container.is_some() {
        // realpath(3) would read /proc/PID/root as the link "/" and leave the
        // container; the kernel's own walk (stat) follows it correctly, so
        // check existence that way and judge the path as the process names it.
        std::fs::metadata(&on_host).ok().map(|_| dir.path.clone())
    } else {
        let base = p.host_path(host, Path::new("/"));
        std::fs::canonicalize(&on_host).ok().map(|c| {
            c.strip_prefix(&base)
                .map(|r| Path::new("/").join(r))
                .unwrap_or(c)
        })
    };
    let mut v = DataDirView {
        pid: p.jvm.pid,
        role: HostRole::of(p.role),
        dir,
        resolved: resolved.clone(),
        mount: Err("the directory does not exist".into()),
        disks: Err("the directory does not exist".into()),
        space: None,
    };
    let Some(inside) = resolved else {
        return v;
    };
    let mount = match mounts {
        Ok(m) => mount_for(m, &inside)
            .cloned()
            .ok_or_else(|| "no mount holds it".to_string()),
        Err(e) => Err(e.to_string()),
    };
    v.disks = match &mount {
        Ok(m) => host.disks_of(&m.majmin).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    v.mount = mount;
    v.space = space(&on_host);
    v
}

fn space(path: &Path) -> Option<Space> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frag = st.fragment_size();
    let total_bytes = st.blocks().saturating_mul(frag);
    let free_bytes = st.blocks_available().saturating_mul(frag);
    let percent = |part: u64, whole: u64| (part.saturating_mul(100)).checked_div(whole);
    Some(Space {
        free_bytes,
        total_bytes,
        free_percent: percent(free_bytes, total_bytes).unwrap_or(0),
        inodes_free_percent: percent(st.files_available(), st.files()),
        free_inodes: st.files_available(),
        total_inodes: st.files(),
    })
}
