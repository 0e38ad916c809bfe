//! A FUSE file system, served by a thread of the test, whose one file
//! (`stall`) can be looked up, stat'ed and opened but whose reads are
//! never answered: the reader waits in the kernel (`request_wait_answer`)
//! for as long as the mount lives, as it does on a FUSE or network mount
//! whose server hangs, or reading `/proc/PID/cmdline` of a process whose
//! memory map is locked. Once the kernel has handed a request to the
//! server, the reader waits for the answer uninterruptibly: even SIGKILL
//! cannot end a process whose thread waits there. [`StallingFs::release`]
//! answers every waiting read (and every later one) with EIO; dropping
//! the mount releases it, then unmounts.
//!
//! Spoken straight over `/dev/fuse` (the kernel's FUSE protocol, 7.31
//! replies), so no FUSE library or `fusermount` is needed; root only.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The mount; unmounted (and its pending reads failed) on drop.
pub struct StallingFs {
    dir: tempfile::TempDir,
    /// READ requests received, counted.
    pub reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pending: Pending,
    answer: Mutex<File>,
}

/// Whether reads are answered now, and the READ requests waiting.
type Pending = Arc<Mutex<(bool, Vec<u64>)>>;

const ROOT: u64 = 1;
const FILE: u64 = 2;
/// The file's stated size.
const SIZE: u64 = 64;

impl StallingFs {
    /// Mounts it; `None` (with the reason) where FUSE cannot be mounted
    /// (not root, no /dev/fuse).
    pub fn mount() -> Result<StallingFs, String> {
        let dev = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .map_err(|e| format!("/dev/fuse: {e}"))?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // mount(8) is given the device as a descriptor it inherits (a dup
        // has no close-on-exec); `-i`: no mount.fuse helper, the kernel's
        // own fuse type.
        let fd = nix::unistd::dup(dev.as_raw_fd()).map_err(|e| e.to_string())?;
        let mounted = std::process::Command::new("mount")
            .args(["-i", "-t", "fuse", "-o"])
            .arg(format!(
                "fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other"
            ))
            .arg("tk-stall")
            .arg(dir.path())
            .output();
        let _ = nix::unistd::close(fd);
        match mounted {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "mount -t fuse: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("mount: {e}")),
        }
        let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = reads.clone();
        let pending: Pending = Arc::new(Mutex::new((false, Vec::new())));
        let answer = Mutex::new(dev.try_clone().map_err(|e| e.to_string())?);
        let waiting = pending.clone();
        std::thread::spawn(move || serve(dev, &counter, &waiting));
        Ok(StallingFs {
            dir,
            reads,
            pending,
            answer,
        })
    }

    /// Answers every waiting read, and every later one, with EIO: the
    /// readers (and the processes they belong to) can go on, or end.
    pub fn release(&self) {
        let mut p = self.pending.lock().unwrap();
        p.0 = true;
        let mut dev = self.answer.lock().unwrap();
        for unique in p.1.drain(..) {
            reply(&mut dev, unique, -nix::libc::EIO, &[]);
        }
    }

    /// The file whose reads never answer.
    pub fn file(&self) -> PathBuf {
        self.dir.path().join("stall")
    }
}

impl Drop for StallingFs {
    fn drop(&mut self) {
        self.release();
        // Abort the connection too where the control file system is
        // mounted, then detach the mount.
        if let Ok(meta) = std::fs::metadata(self.dir.path()) {
            use std::os::unix::fs::MetadataExt;
            let id = nix::sys::stat::minor(meta.dev());
            let _ = std::fs::write(format!("/sys/fs/fuse/connections/{id}/abort"), "1");
        }
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .output();
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// `fuse_attr` (88 bytes) for the root directory or the file.
fn attr(node: u64) -> Vec<u8> {
    let (mode, size, nlink) = if node == ROOT {
        (0o040_755u32, 0u64, 2u32)
    } else {
        (0o100_444, SIZE, 1)
    };
    let mut a = Vec::with_capacity(88);
    a.extend(node.to_le_bytes()); // ino
    a.extend(size.to_le_bytes());
    a.extend(1u64.to_le_bytes()); // blocks
    a.extend([0u8; 24]); // atime, mtime, ctime
    a.extend([0u8; 12]); // their nanoseconds
    a.extend(mode.to_le_bytes());
    a.extend(nlink.to_le_bytes());
    a.extend([0u8; 12]); // uid, gid, rdev
    a.extend(4096u32.to_le_bytes()); // blksize
    a.extend([0u8; 4]); // flags
    a
}

fn reply(dev: &mut File, unique: u64, error: i32, body: &[u8]) {
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend(((16 + body.len()) as u32).to_le_bytes());
    out.extend(error.to_le_bytes());
    out.extend(unique.to_le_bytes());
    out.extend(body);
    let _ = dev.write_all(&out);
}

/// Answers everything but READ, until the connection ends.
fn serve(mut dev: File, reads: &std::sync::atomic::AtomicUsize, pending: &Pending) {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match dev.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(nix::libc::EINTR) => continue,
            Err(_) => return,
        };
        if n < 40 {
            continue;
        }
        let req = &buf[..n];
        let opcode = u32_at(req, 4);
        let unique = u64_at(req, 8);
        let node = u64_at(req, 16);
        let body = &req[40..];
        match opcode {
            // INIT: protocol 7.31, no optional features.
            26 => {
                let mut out = Vec::with_capacity(64);
                out.extend(7u32.to_le_bytes());
                out.extend(31u32.to_le_bytes());
                out.extend(u32_at(body, 8).to_le_bytes()); // max_readahead
                out.extend(0u32.to_le_bytes()); // flags
                out.extend([0u8; 4]); // max_background, congestion_threshold
                out.extend(4096u32.to_le_bytes()); // max_write
                out.extend(1u32.to_le_bytes()); // time_gran
                out.resize(64, 0);
                reply(&mut dev, unique, 0, &out);
            }
            // LOOKUP of `stall` in the root.
            1 => {
                let name = body.split(|b| *b == 0).next().unwrap_or_default();
                if node == ROOT && name == b"stall" {
                    let mut out = Vec::with_capacity(128);
                    out.extend(FILE.to_le_bytes());
                    out.extend([0u8; 8]); // generation
                    out.extend(3600u64.to_le_bytes()); // entry_valid
                    out.extend(3600u64.to_le_bytes()); // attr_valid
                    out.extend([0u8; 8]); // their nanoseconds
                    out.extend(attr(FILE));
                    reply(&mut dev, unique, 0, &out);
                } else {
                    reply(&mut dev, unique, -nix::libc::ENOENT, &[]);
                }
            }
            // GETATTR
            3 => {
                let mut out = Vec::with_capacity(104);
                out.extend(3600u64.to_le_bytes());
                out.extend([0u8; 8]);
                out.extend(attr(if node == ROOT { ROOT } else { FILE }));
                reply(&mut dev, unique, 0, &out);
            }
            // OPEN, OPENDIR: a handle, page cache allowed.
            14 | 27 => reply(&mut dev, unique, 0, &[0u8; 16]),
            // READ: counted, not answered until released.
            15 => {
                reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut p = pending.lock().unwrap();
                if p.0 {
                    reply(&mut dev, unique, -nix::libc::EIO, &[]);
                } else {
                    p.1.push(unique);
                }
            }
            // RELEASE, FLUSH, RELEASEDIR
            18 | 25 | 29 => reply(&mut dev, unique, 0, &[]),
            // FORGET, BATCH_FORGET, INTERRUPT: no answer is expected (an
            // interrupted READ stays unanswered: the reader must give up).
            2 | 42 | 36 => {}
            _ => reply(&mut dev, unique, -nix::libc::ENOSYS, &[]),
        }
    }
}
