//! Where a JVM's perf-data file is.
//!
//! HotSpot on Linux puts it at `/tmp/hsperfdata_<user>/<pid>`:
//! `os::get_temp_directory()` is hard-coded to `/tmp` there
//! (`-Djava.io.tmpdir` does not move it; the test
//! `java_io_tmpdir_does_not_move_the_file` checks this on a real JVM),
//! `<user>` is the name of the JVM's effective uid as *its* passwd file
//! says, and `<pid>` is its PID in its own PID namespace. A JVM in another
//! mount namespace (a container, systemd's `PrivateTmp=`) has its own
//! `/tmp`, reached through `/proc/PID/root`. jstat itself finds the
//! directory by looking for `hsperfdata_*/<pid>` (`get_user_name_slow`):
//! so does this, since the user's name inside a container need not exist
//! outside it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::host::Host;

/// Bytes read of `/proc/PID/{cmdline,environ,status}`, at most.
const MAX_PROC_BYTES: u64 = 1 << 20;
/// `hsperfdata_*` entries in a temporary directory looked at, at most.
const MAX_USER_DIRS: usize = 64;
/// Directory entries read from the temporary directory, at most (it may
/// hold anything: a full `/tmp` must not stall the reader).
const MAX_TMP_ENTRIES: usize = 100_000;

/// Where the counters of a JVM are, or why there are none to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Location {
    /// The file, as a path on this host.
    File {
        /// The path (through `/proc/PID/root` for a JVM in another mount namespace).
        path: PathBuf,
        /// The PID the JVM has in its own namespace (the file's name).
        ns_pid: i32,
        /// The user part of the directory name.
        user: String,
    },
    /// The JVM was started with its counters switched off.
    Disabled {
        /// The flag that switched them off (`-XX:+PerfDisableSharedMem`,
        /// `-XX:-UsePerfData`), and where it was found.
        flag: String,
    },
    /// No file was found where HotSpot puts it.
    NotFound {
        /// The directory searched.
        searched: PathBuf,
        /// The file name looked for (the PID in the JVM's namespace).
        ns_pid: i32,
    },
}

/// Why a process cannot be looked at.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// `/proc/PID` could not be read (no such process, or not allowed).
    #[error("{}: cannot read: {source}", path.display())]
    Proc {
        /// The file under /proc.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The JVM's own `/tmp` (another mount namespace: a container,
    /// `PrivateTmp=`), or whether it has one, cannot be seen: the kernel
    /// lets a process into `/proc/PID/root` and `/proc/PID/ns` only with
    /// ptrace access to PID (the same user, or `CAP_SYS_PTRACE`).
    #[error(
        "{}: {source}: the JVM's /tmp {why}, and the kernel shows it through /proc/PID/root only to a reader with ptrace access to the JVM (the JVM's own user, or CAP_SYS_PTRACE)",
        path.display()
    )]
    Namespace {
        /// What could not be read (`/proc/PID/root/tmp`, `/proc/PID/ns/mnt`).
        path: PathBuf,
        /// Why not.
        why: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// Whether the JVM shares this reader's mount namespace (and so its `/tmp`).
enum MountNs {
    /// The same: the host's `/tmp`.
    Same,
    /// Another one: its `/tmp` is under `/proc/PID/root`.
    Other,
    /// Cannot tell: `/proc/PID/ns/mnt` is not readable (no ptrace access).
    Unknown(PathBuf, std::io::Error),
}

fn mount_ns(host: &Host, pid: i32) -> MountNs {
    let theirs_path = host.path(format!("/proc/{pid}/ns/mnt"));
    let theirs = match std::fs::read_link(&theirs_path) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return MountNs::Unknown(theirs_path, e);
        }
        // No such link (a kernel without it, a fake tree): the host's /tmp.
        Err(_) => return MountNs::Same,
    };
    match std::fs::read_link(host.path("/proc/self/ns/mnt")) {
        Ok(ours) if ours == theirs => MountNs::Same,
        Ok(_) => MountNs::Other,
        // A fake tree without links of its own: the process's link decides
        // nothing, so the host's /tmp, as before namespaces were looked at.
        Err(_) => MountNs::Same,
    }
}

/// The state the JVM's own flags put its counters in: the flag that
/// switched them off, if one did. The last of `-XX:±UsePerfData` and of
/// `-XX:±PerfDisableSharedMem` wins, as in HotSpot's argument parsing;
/// `JAVA_TOOL_OPTIONS` and `JDK_JAVA_OPTIONS` come before the command line,
/// `_JAVA_OPTIONS` after it.
pub fn disabled_by(cmdline: &[String], env: &[(String, String)]) -> Option<String> {
    let from_env = |name: &str| -> Vec<(String, String)> {
        env.iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| {
                v.split_whitespace()
                    .map(|a| (a.to_string(), name.to_string()))
            })
            .collect()
    };
    let mut args: Vec<(String, String)> = from_env("JAVA_TOOL_OPTIONS");
    args.extend(from_env("JDK_JAVA_OPTIONS"));
    args.extend(
        crate::jvm::jvm_options(cmdline)
            .into_iter()
            .map(|a| (a, "the command line".to_string())),
    );
    args.extend(from_env("_JAVA_OPTIONS"));
    let mut use_perf: Option<(bool, &str, &str)> = None;
    let mut disable_shared: Option<(bool, &str, &str)> = None;
    for (a, src) in &args {
        match a.as_str() {
            "-XX:+UsePerfData" => use_perf = Some((true, a, src)),
            "-XX:-UsePerfData" => use_perf = Some((false, a, src)),
            "-XX:+PerfDisableSharedMem" => disable_shared = Some((true, a, src)),
            "-XX:-PerfDisableSharedMem" => disable_shared = Some((false, a, src)),
            _ => {}
        }
    }
    if let Some((false, a, src)) = use_perf {
        return Some(format!("{a} ({src})"));
    }
    if let Some((true, a, src)) = disable_shared {
        return Some(format!("{a} ({src})"));
    }
    None
}

/// The PID a process has in its innermost PID namespace: the last field of
/// `NSpid:` in `/proc/PID/status` (kernels before 4.1 have no such line:
/// the host PID is then the only one).
pub fn ns_pid(status: &str, pid: i32) -> i32 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|rest| rest.split_whitespace().last())
        .and_then(|s| s.parse().ok())
        .unwrap_or(pid)
}

/// The effective uid of `/proc/PID/status` (`Uid: real effective ...`).
fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
}

/// Finds the perf-data file of process `pid`.
pub fn locate(host: &Host, pid: i32) -> Result<Location, LocateError> {
    let proc_file = |name: &str| host.path(format!("/proc/{pid}/{name}"));
    // The kernel bounds these files; the reader bounds them again.
    let read = |name: &str| {
        let path = proc_file(name);
        crate::file_kind::read_bounded(&path, MAX_PROC_BYTES).map_err(|e| LocateError::Proc {
            source: e.into_io(),
            path,
        })
    };
    let cmdline: Vec<String> = read("cmdline")?
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // The environment is readable by the process's owner and root only;
    // without it, the command line alone decides.
    let env: Vec<(String, String)> = read("environ")
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            k.contains("JAVA_").then(|| (k.to_string(), v.to_string()))
        })
        .collect();
    if let Some(flag) = disabled_by(&cmdline, &env) {
        return Ok(Location::Disabled { flag });
    }
    let status = String::from_utf8_lossy(&read("status")?).into_owned();
    let nspid = ns_pid(&status, pid);
    let euid = effective_uid(&status);
    let found = |tmp: PathBuf, owned_only: bool| -> Result<Location, LocateError> {
        let hit = find_in(&tmp, nspid, euid).map_err(|source| LocateError::Namespace {
            path: tmp.clone(),
            why: "cannot be listed",
            source,
        })?;
        Ok(match hit {
            Some((path, user, owned)) if owned || !owned_only => Location::File {
                path,
                ns_pid: nspid,
                user,
            },
            _ => Location::NotFound {
                searched: tmp,
                ns_pid: nspid,
            },
        })
    };
    match mount_ns(host, pid) {
        MountNs::Same => found(host.path("/tmp"), false),
        MountNs::Other => found(host.path(format!("/proc/{pid}/root/tmp")), false),
        MountNs::Unknown(link, source) => {
            // A reader without ptrace access to the JVM (the packaged agent,
            // a JVM of another user) cannot tell. A JVM in this PID
            // namespace whose file is in the host's /tmp, owned by its
            // user, is the common case (a broker on the host); otherwise
            // its /tmp is its own and out of sight: said so, not "no file".
            if nspid == pid {
                if let Ok(loc @ Location::File { .. }) = found(host.path("/tmp"), true) {
                    return Ok(loc);
                }
            }
            Err(LocateError::Namespace {
                path: link,
                why: if nspid == pid {
                    "is not the host's (no file of its user there for its PID) and its mount namespace cannot be read"
                } else {
                    "is its container's (it has its own PID namespace)"
                },
                source,
            })
        }
    }
}

/// `tmp/hsperfdata_*/<nspid>` that is a regular file, its user part, and
/// whether the process's effective uid owns it. When several users'
/// directories hold one (a stale file of an earlier process with the same
/// PID), the one owned by the process's effective uid wins, then the newest.
/// A directory that does not exist holds nothing; one that cannot be
/// listed is an error (the caller says why).
fn find_in(
    tmp: &Path,
    nspid: i32,
    euid: Option<u32>,
) -> std::io::Result<Option<(PathBuf, String, bool)>> {
    use std::os::unix::fs::MetadataExt;
    let dir = match std::fs::read_dir(tmp) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Err(e),
        Err(_) => return Ok(None),
    };
    let mut best: Option<(bool, i64, PathBuf, String)> = None;
    let mut users = 0;
    for entry in dir.take(MAX_TMP_ENTRIES).flatten() {
        let name = entry.file_name();
        let Some(user) = name.to_str().and_then(|n| n.strip_prefix("hsperfdata_")) else {
            continue;
        };
        users += 1;
        if users > MAX_USER_DIRS {
            break;
        }
        let path = entry.path().join(nspid.to_string());
        // lstat: a symbolic link is not followed, as HotSpot does not.
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                // The user's directory cannot be searched by this reader
                // (HotSpot makes it 0755 less the JVM's umask: 0750 under
                // `UMask=0027`). When it is the JVM's own user's, the file
                // is there out of sight: a candidate, so that reading it
                // says "permission denied" with its remedy rather than
                // "another namespace".
                let dir_owned = entry
                    .metadata()
                    .is_ok_and(|d| euid.is_some_and(|u| u == d.uid()));
                if dir_owned && best.as_ref().is_none_or(|(o, _, _, _)| !*o) {
                    best = Some((true, i64::MIN, path, user.to_string()));
                }
                continue;
            }
            Err(_) => continue,
        };
        if !meta.file_type().is_file() {
            // Kept as a candidate so the reader names what it is instead.
            if best.is_none() {
                best = Some((false, i64::MIN, path, user.to_string()));
            }
            continue;
        }
        let owned = euid.is_some_and(|u| u == meta.uid());
        let key = (owned, meta.ctime());
        if best.as_ref().is_none_or(|(o, t, _, _)| key > (*o, *t)) {
            best = Some((owned, meta.ctime(), path, user.to_string()));
        }
    }
    Ok(best.map(|(o, _, p, u)| (p, u, o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn flags_that_switch_the_counters_off() {
        assert_eq!(disabled_by(&args("java -Xmx1g kafka.Kafka"), &[]), None);
        assert_eq!(
            disabled_by(&args("java -XX:+PerfDisableSharedMem kafka.Kafka"), &[]),
            Some("-XX:+PerfDisableSharedMem (the command line)".into())
        );
        assert_eq!(
            disabled_by(&args("java -XX:-UsePerfData -XX:+UsePerfData M"), &[]),
            None,
            "the last one wins"
        );
        // After the main class it is the application's argument, not a flag.
        assert_eq!(disabled_by(&args("java M -XX:-UsePerfData"), &[]), None);
        let env = vec![(
            "JAVA_TOOL_OPTIONS".to_string(),
            "-XX:-UsePerfData".to_string(),
        )];
        assert_eq!(
            disabled_by(&args("java M"), &env),
            Some("-XX:-UsePerfData (JAVA_TOOL_OPTIONS)".into())
        );
        assert_eq!(disabled_by(&args("java -XX:+UsePerfData M"), &env), None);
        let env = vec![(
            "_JAVA_OPTIONS".to_string(),
            "-XX:+PerfDisableSharedMem".to_string(),
        )];
        assert_eq!(
            disabled_by(&args("java -XX:-PerfDisableSharedMem M"), &env),
            Some("-XX:+PerfDisableSharedMem (_JAVA_OPTIONS)".into())
        );
    }

    #[test]
    fn the_pid_in_the_process_namespace() {
        assert_eq!(ns_pid("Name:\tjava\nNSpid:\t4242\t1\n", 4242), 1);
        assert_eq!(ns_pid("Name:\tjava\nNSpid:\t4242\n", 4242), 4242);
        assert_eq!(ns_pid("Name:\tjava\n", 4242), 4242);
        assert_eq!(effective_uid("Uid:\t0\t1000\t1000\t1000\n"), Some(1000));
    }

    /// A fake /proc and /tmp: the file is found by the PID in the
    /// process's namespace, under the user directory that holds it.
    #[test]
    fn finds_the_file_in_a_fake_tree() {
        let root = tempfile::tempdir().unwrap();
        let host = Host::at(root.path());
        let proc = root.path().join("proc/77");
        std::fs::create_dir_all(&proc).unwrap();
        std::fs::write(proc.join("cmdline"), b"java\0-Xmx1g\0kafka.Kafka\0").unwrap();
        std::fs::write(
            proc.join("status"),
            "Name:\tjava\nUid:\t0\t0\t0\t0\nNSpid:\t77\n",
        )
        .unwrap();
        let tmp = root.path().join("tmp");
        std::fs::create_dir_all(tmp.join("hsperfdata_kafka")).unwrap();
        std::fs::create_dir_all(tmp.join("hsperfdata_other")).unwrap();
        assert_eq!(
            locate(&host, 77).unwrap(),
            Location::NotFound {
                searched: tmp.clone(),
                ns_pid: 77
            }
        );
        std::fs::write(tmp.join("hsperfdata_kafka/77"), b"x").unwrap();
        assert_eq!(
            locate(&host, 77).unwrap(),
            Location::File {
                path: tmp.join("hsperfdata_kafka/77"),
                ns_pid: 77,
                user: "kafka".into()
            }
        );
        std::fs::write(proc.join("cmdline"), b"java\0-XX:-UsePerfData\0M\0").unwrap();
        assert!(matches!(
            locate(&host, 77).unwrap(),
            Location::Disabled { .. }
        ));
        assert!(matches!(locate(&host, 78), Err(LocateError::Proc { .. })));
    }
}
