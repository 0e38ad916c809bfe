//! Running processes: finding the broker JVM and reading its limits.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;

use super::Host;

/// A running process whose command line matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Process id.
    pub pid: i32,
    /// Arguments (argv).
    pub cmdline: Vec<String>,
}

/// The most of a command line read: above what Linux lets a process pass
/// (arguments and environment together are at most 3/4 of the 8 MiB
/// stack limit's ceiling, 6 MiB), so no real command line is cut, and a
/// file that claims more is refused, not read.
pub const MAX_CMDLINE_BYTES: u64 = 8 << 20;

/// A resource limit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// No limit.
    Unlimited,
    /// A number.
    Value(u64),
}

impl std::fmt::Display for LimitValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitValue::Unlimited => f.write_str("unlimited"),
            LimitValue::Value(v) => write!(f, "{v}"),
        }
    }
}

/// True when argv[0] names a JVM launcher (`java`, `/usr/lib/jvm/.../bin/java`).
fn is_java(cmdline: &[String]) -> bool {
    cmdline
        .first()
        .and_then(|a| a.rsplit('/').next())
        .is_some_and(|base| base == "java" || base.starts_with("java-") || base == "jsvc")
}

/// The longest a read of one process's command line may take. The kernel
/// reads `/proc/PID/cmdline` from the process's memory: when those pages
/// are a file on a FUSE mount whose daemon never answers, or the process's
/// memory map is locked by a thread stuck in the kernel, the read waits in
/// D state for as long as that lasts, and `ps` hangs with it
/// (CVE-2018-1121). Past this bound the process is left unread, named, and
/// the scan goes on.
pub const CMDLINE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a whole scan of /proc may take (the number of processes is
/// bounded by the kernel's `pid_max`, at most 4,194,304, but reading each
/// one's command line is not free): past it, the processes not yet read
/// are left out and counted.
pub const SCAN_BUDGET: Duration = Duration::from_secs(20);

/// The most processes whose reads may be stuck at once: each holds one
/// waiting thread of ours (a read in D state cannot be cancelled). Past
/// it, no more command lines are read until one answers.
pub const MAX_STUCK: usize = 16;

/// Processes whose command line did not answer within [`CMDLINE_TIMEOUT`]
/// and whose read is still waiting: skipped by later scans until it
/// returns (the waiting thread removes its pid then).
static STUCK: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// What the last scans could not read, for a finding: processes whose
/// command line is stuck, and how many were left out by [`SCAN_BUDGET`]
/// or [`MAX_STUCK`] in the latest scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unread {
    /// Pids whose command line read is still waiting.
    pub stuck: Vec<i32>,
    /// Processes the latest scan did not look at.
    pub left_out: usize,
}

static LEFT_OUT: AtomicUsize = AtomicUsize::new(0);

/// The processes this program could not read (see [`Unread`]).
pub fn unread() -> Unread {
    Unread {
        stuck: STUCK
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default(),
        left_out: LEFT_OUT.load(Ordering::Relaxed),
    }
}

fn stuck_count() -> usize {
    STUCK.lock().map(|s| s.len()).unwrap_or(0)
}

fn is_stuck(pid: i32) -> bool {
    STUCK.lock().is_ok_and(|s| s.contains(&pid))
}

/// Splits a raw command line at its NULs.
fn split_args(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Runs `job` (a read of `/proc/PID/...` that may wait on the process's
/// memory map) for each of `pids` in order on a worker thread, each within
/// [`CMDLINE_TIMEOUT`] and all within `budget`. A job that does not answer
/// leaves its worker waiting (its pid marked stuck) and a new worker goes
/// on with the next pid. Returns what was read, and how many pids were not
/// looked at.
fn read_timed<T: Send + 'static>(
    host: &Host,
    pids: &[i32],
    budget: Duration,
    job: fn(&Host, i32) -> std::io::Result<T>,
) -> (Vec<(i32, std::io::Result<T>)>, usize) {
    let start = Instant::now();
    let mut out = Vec::with_capacity(pids.len());
    let mut next = 0;
    while next < pids.len() {
        if start.elapsed() >= budget || stuck_count() >= MAX_STUCK {
            break;
        }
        let todo: Vec<i32> = pids[next..].to_vec();
        let current = Arc::new(AtomicI32::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let worker_host = host.clone();
        let worker_current = current.clone();
        let spawned = std::thread::Builder::new()
            .name("proc-reader".into())
            .stack_size(128 << 10)
            .spawn(move || {
                for pid in todo {
                    worker_current.store(pid, Ordering::SeqCst);
                    let read = job(&worker_host, pid);
                    if tx.send((pid, read)).is_err() {
                        // Abandoned after a timeout: this read answered at
                        // last, so the pid is no longer stuck.
                        if let Ok(mut s) = STUCK.lock() {
                            s.remove(&pid);
                        }
                        return;
                    }
                }
            });
        if spawned.is_err() {
            break;
        }
        loop {
            let left = budget.saturating_sub(start.elapsed());
            // The last wait of a scan may be cut short by its budget: then
            // the process is left out, not called stuck.
            let wait = CMDLINE_TIMEOUT.min(left);
            match rx.recv_timeout(wait) {
                Ok(done) => {
                    out.push(done);
                    next += 1;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let pid = current.load(Ordering::SeqCst);
                    if wait == CMDLINE_TIMEOUT && pid == pids[next] {
                        tracing::warn!(
                            pid,
                            "/proc/{pid} did not answer within {} s (a process in D state, or its memory on a file system that does not answer); the process is left unread",
                            CMDLINE_TIMEOUT.as_secs()
                        );
                        if let Ok(mut s) = STUCK.lock() {
                            s.insert(pid);
                        }
                        out.push((
                            pid,
                            Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!(
                                    "/proc/{pid} did not answer within {} s",
                                    CMDLINE_TIMEOUT.as_secs()
                                ),
                            )),
                        ));
                        next += 1;
                    }
                    // A new worker goes on after the stuck pid (or the
                    // budget ends the scan).
                    break;
                }
            }
        }
    }
    (out, pids.len() - next)
}

impl Host {
    /// Java processes whose command line (arguments joined by spaces)
    /// matches `pattern`, sorted by pid. Processes that vanish or cannot be
    /// read while scanning are skipped; one whose command line does not
    /// answer in time is skipped and remembered ([`unread`]).
    pub fn find_java_processes(&self, pattern: &Regex) -> Vec<Proc> {
        let Ok(all) = procfs::process::all_processes_with_root(self.path("/proc")) else {
            return Vec::new();
        };
        let me = std::process::id() as i32;
        let pids: Vec<i32> = all
            .flatten()
            .map(|p| p.pid)
            .filter(|&pid| pid != me && !is_stuck(pid))
            .collect();
        let (read, left_out) = read_timed(self, &pids, SCAN_BUDGET, Host::cmdline_untimed);
        LEFT_OUT.store(left_out, Ordering::Relaxed);
        if left_out > 0 {
            tracing::warn!(
                left_out,
                "{left_out} processes were not read: the scan of /proc ran out of time or of threads for stuck reads"
            );
        }
        let mut found: Vec<Proc> = read
            .into_iter()
            .filter_map(|(pid, cmdline)| {
                let cmdline = cmdline.ok()?;
                (is_java(&cmdline) && pattern.is_match(&cmdline.join(" ")))
                    .then_some(Proc { pid, cmdline })
            })
            .collect();
        found.sort_by_key(|p| p.pid);
        found
    }

    /// A process's arguments, read from /proc/PID/cmdline with a bound
    /// ([`MAX_CMDLINE_BYTES`]): past it, an error naming the file. A read
    /// that does not answer within [`CMDLINE_TIMEOUT`] is an error too.
    pub fn cmdline(&self, pid: i32) -> std::io::Result<Vec<String>> {
        self.proc_read_timed(pid, Host::cmdline_untimed)
    }

    /// The lines of `/proc/PID/maps` (the process's mappings), counted as
    /// they stream, within [`CMDLINE_TIMEOUT`]: the kernel reads them
    /// under the process's memory-map lock, as it does the command line.
    pub fn map_count(&self, pid: i32) -> std::io::Result<u64> {
        self.proc_read_timed(pid, |host, pid| {
            crate::file_kind::count_lines(&host.path(format!("/proc/{pid}/maps")))
        })
    }

    /// One timed read of a process's file (see [`read_timed`]).
    fn proc_read_timed<T: Send + 'static>(
        &self,
        pid: i32,
        job: fn(&Host, i32) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        if is_stuck(pid) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("/proc/{pid}: an earlier read still waits for an answer"),
            ));
        }
        let (mut read, _) = read_timed(self, &[pid], SCAN_BUDGET, job);
        read.pop().map(|(_, r)| r).unwrap_or_else(|| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("/proc/{pid}: not read (too many reads stuck)"),
            ))
        })
    }

    /// The read itself, bounded in bytes; the caller bounds it in time.
    fn cmdline_untimed(&self, pid: i32) -> std::io::Result<Vec<String>> {
        let path = self.path(format!("/proc/{pid}/cmdline"));
        let raw = crate::file_kind::read_bounded(&path, MAX_CMDLINE_BYTES).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        Ok(split_args(&raw))
    }

    /// The soft open-file limit of a process, read like every foreign file
    /// (no open that can block, bounded in bytes), parsed by procfs.
    pub fn nofile_limit(&self, pid: i32) -> Result<LimitValue, super::HostError> {
        use procfs::FromBufRead;
        let path = self.path(format!("/proc/{pid}/limits"));
        let text = crate::file_kind::read_text(&path, crate::file_kind::MAX_KERNEL_FILE_BYTES)
            .map_err(|source| super::HostError::Io {
                path: path.clone(),
                source,
            })?;
        let limits = procfs::process::Limits::from_buf_read(text.as_bytes()).map_err(|e| {
            super::HostError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        Ok(match limits.max_open_files.soft_limit {
            procfs::process::LimitValue::Unlimited => LimitValue::Unlimited,
            procfs::process::LimitValue::Value(v) => LimitValue::Value(v),
        })
    }
}
