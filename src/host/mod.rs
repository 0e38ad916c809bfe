//! Reading and writing the host. Every reader works below a root directory
//! (`/` in production, a temporary tree in tests), so exact scenarios —
//! missing keys, unreadable keys, sysctl.d precedence — can be built on disk.

pub mod blockdev;
pub mod boot;
pub mod identity;
pub mod mounts;
pub mod net;
pub mod pressure;
pub mod procs;
pub mod swap;
pub mod sysctl;
pub mod sysfs;
pub mod tuned;

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A read or write of one host file that failed, naming the file.
#[derive(Debug, Error)]
pub enum HostError {
    /// The file does not exist (a key this kernel lacks).
    #[error("{}: not present on this host", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// Permission denied (mode 0600 keys, writes without root).
    #[error("{}: permission denied", path.display())]
    Denied {
        /// The file.
        path: PathBuf,
    },
    /// The kernel rejected a written value (EINVAL, ERANGE, ...).
    #[error("{}: the kernel rejected `{value}`: {source}", path.display())]
    Rejected {
        /// The file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The errno.
        source: io::Error,
    },
    /// Any other I/O error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl HostError {
    /// Classifies an I/O error on a read of `path`.
    pub fn from_io(path: &Path, source: io::Error) -> HostError {
        let path = path.to_path_buf();
        match source.kind() {
            // ENOTDIR: a part of the path is a file (`vm.swappiness.x`), so
            // the key does not exist either.
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => HostError::Missing { path },
            io::ErrorKind::PermissionDenied => HostError::Denied { path },
            _ => HostError::Io { path, source },
        }
    }
}

/// The host as seen below a root directory.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Default for Host {
    fn default() -> Self {
        Host::at("/")
    }
}

impl Host {
    /// The host whose filesystem starts at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Host {
        Host { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when this is the live system rather than a test tree.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// An absolute host path (`/proc/sys/vm/swappiness`) below the root.
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.root.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    /// Reads a small text file (a sysctl, a sysfs attribute), trimmed.
    pub fn read_value(&self, abs: impl AsRef<Path>) -> Result<String, HostError> {
        let path = self.path(abs);
        crate::file_kind::read_text(&path, crate::file_kind::MAX_KERNEL_FILE_BYTES)
            .map(|s| s.trim().to_string())
            .map_err(|e| HostError::from_io(&path, e))
    }

    /// Writes a value to a kernel file in one write, as `sysctl -w` does.
    pub fn write_value(&self, abs: impl AsRef<Path>, value: &str) -> Result<(), HostError> {
        use std::io::Write;
        let path = self.path(abs);
        // No O_CREAT: a kernel file that is absent must stay absent.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(!self.is_live())
            .open(&path)
            .map_err(|e| HostError::from_io(&path, e))?;
        file.write_all(format!("{value}\n").as_bytes())
            .map_err(|source| {
                use nix::errno::Errno;
                let errno = source.raw_os_error().map(Errno::from_raw);
                match errno {
                    Some(Errno::EPERM | Errno::EACCES) => HostError::Denied { path: path.clone() },
                    Some(Errno::EINVAL | Errno::ERANGE | Errno::EOPNOTSUPP | Errno::EBUSY) => {
                        HostError::Rejected {
                            path: path.clone(),
                            value: value.to_string(),
                            source,
                        }
                    }
                    _ => HostError::Io {
                        path: path.clone(),
                        source,
                    },
                }
            })
    }
}
