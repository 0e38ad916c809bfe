//! Opening and reading files that others control: the one way every foreign
//! read goes (a broker's properties and GC logs, /proc and /sys, waiver and
//! profile files, the spool).
//!
//! Reading a FIFO blocks until a writer comes, a character device such as
//! `/dev/zero` never ends, and a check on a path followed by a second open
//! is a race (the path can be swapped in between). So [`open_regular`]
//! opens once, non-blocking (`O_NONBLOCK`: an open of a FIFO returns at
//! once), optionally without following a last-component symlink
//! (`O_NOFOLLOW`), then checks with `fstat` the very descriptor it hands
//! back: what is not a regular file is refused, naming what it is. Reads
//! are bounded in bytes ([`read_bounded`]) whatever the file claims as its
//! size (/proc files say 0).

use std::fs::{File, FileType};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The kind of a non-regular file, with its article ("a FIFO (named pipe)").
/// Regular files and directories are named too, for completeness.
pub fn describe(ft: FileType) -> &'static str {
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Why a foreign file was not read.
#[derive(Debug, thiserror::Error)]
pub enum SmallFileError {
    /// open, fstat or read failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not a regular file: what it is instead.
    #[error("it is {0}")]
    NotRegular(&'static str),
    /// Larger than the caller's bound.
    #[error("it holds {size} bytes, more than {max}")]
    TooLarge {
        /// Its size (at least; a file that grows is cut short at max + 1).
        size: u64,
        /// The bound.
        max: u64,
    },
}

impl SmallFileError {
    /// As an `io::Error` (for callers that classify by kind): an `Io` error
    /// as it was, the refusals as `InvalidInput` with their text.
    pub fn into_io(self) -> std::io::Error {
        match self {
            SmallFileError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// Whether a last-component symbolic link is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Followed (a configuration file an administrator links elsewhere).
    Follow,
    /// Refused (`ELOOP`): members of a directory another user can write,
    /// where a link could point the reader at any file.
    Refuse,
}

/// Makes a rename in `dir` durable: fsyncs the directory, opened with
/// `O_DIRECTORY`, so a FIFO or device put in its place is refused at once
/// (`ENOTDIR`), never waited on.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
        .open(dir)?
        .sync_all()
}

/// Opens `path` for reading without blocking and hands back the descriptor
/// only if `fstat` on it says it is a regular file. Never blocks on a FIFO,
/// never reads a device, and checks the file it will read, not the path.
pub fn open_regular(path: &Path, links: Links) -> Result<File, SmallFileError> {
    let mut flags = nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC | nix::libc::O_NOCTTY;
    if links == Links::Refuse {
        flags |= nix::libc::O_NOFOLLOW;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| {
            if links == Links::Refuse && e.raw_os_error() == Some(nix::libc::ELOOP) {
                SmallFileError::NotRegular("a symbolic link")
            } else {
                SmallFileError::Io(e)
            }
        })?;
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(SmallFileError::NotRegular(describe(ft)));
    }
    Ok(file)
}

/// Reads an open file whole, at most `max` bytes: one more is an error,
/// whatever the file's stated size (a /proc file says 0, a growing file
/// grows while it is read).
pub fn read_all_bounded(file: File, max: u64) -> Result<Vec<u8>, SmallFileError> {
    let hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    if hint > max {
        return Err(SmallFileError::TooLarge { size: hint, max });
    }
    let mut out = Vec::with_capacity(usize::try_from(hint.min(max)).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(SmallFileError::TooLarge {
            size: out.len() as u64,
            max,
        });
    }
    Ok(out)
}

/// [`open_regular`] then [`read_all_bounded`]: a configuration-sized file
/// (or a /proc or /sys file) read whole, links followed.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, SmallFileError> {
    read_all_bounded(open_regular(path, Links::Follow)?, max)
}

/// [`read_bounded`] as text (invalid UTF-8 replaced), with the error as
/// an `io::Error` for the callers that classify errors by kind.
pub fn read_text(path: &Path, max: u64) -> std::io::Result<String> {
    read_bounded(path, max)
        .map(|b| match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
        .map_err(SmallFileError::into_io)
}

/// Reads a configuration-sized file whole, refusing before the first byte
/// what is not a regular file and after `max` bytes what is larger: a FIFO
/// would block, a device never ends, a log named by mistake would fill
/// memory.
pub fn read_small_regular(path: &Path, max: u64) -> Result<Vec<u8>, SmallFileError> {
    read_bounded(path, max)
}

/// Counts the lines of a file as it streams (a process's maps can run to
/// megabytes), opened as [`open_regular`] opens, links followed.
pub fn count_lines(path: &Path) -> std::io::Result<u64> {
    use std::io::BufRead;
    let file = open_regular(path, Links::Follow).map_err(SmallFileError::into_io)?;
    let mut r = std::io::BufReader::new(file);
    let mut n = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(n);
        }
        n += memchr::memchr_iter(b'\n', buf).count() as u64;
        let len = buf.len();
        r.consume(len);
    }
}

/// The most a kernel file (/proc, /sys: a sysctl value, a status file, a
/// mount table) is read: far above any real one (a mountinfo of ten
/// thousand mounts is about 1.5 MB).
pub const MAX_KERNEL_FILE_BYTES: u64 = 4 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_path_is() {
        let kind = |p: &str| describe(std::fs::metadata(p).unwrap().file_type());
        assert_eq!(kind("/dev/null"), "a character device");
        assert_eq!(kind("/"), "a directory");
        assert_eq!(kind("/proc/self/status"), "a regular file");
    }

    #[test]
    fn small_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, "12345").unwrap();
        assert_eq!(read_small_regular(&f, 5).unwrap(), b"12345");
        assert!(matches!(
            read_small_regular(&f, 4),
            Err(SmallFileError::TooLarge { size: 5, max: 4 })
        ));
        assert!(matches!(
            read_small_regular(std::path::Path::new("/dev/zero"), 4),
            Err(SmallFileError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read_small_regular(&dir.path().join("none"), 4),
            Err(SmallFileError::Io(_))
        ));
    }

    #[test]
    fn a_directory_is_synced_and_a_fifo_in_its_place_refused_at_once() {
        let t = tempfile::tempdir().unwrap();
        sync_dir(t.path()).unwrap();
        let fifo = t.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = sync_dir(&fifo).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(nix::libc::ENOTDIR), "{e}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking_and_proc_files_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // No writer: a blocking open would never return.
        assert!(matches!(
            open_regular(&fifo, Links::Follow),
            Err(SmallFileError::NotRegular("a FIFO (named pipe)"))
        ));
        // /proc says 0 bytes; the bound holds on what is read.
        assert!(read_bounded(Path::new("/proc/self/status"), 1 << 20).is_ok());
        assert!(matches!(
            read_bounded(Path::new("/proc/self/status"), 16),
            Err(SmallFileError::TooLarge { size: 17, max: 16 })
        ));
        // A link to a regular file: followed or refused, as asked.
        let target = dir.path().join("t");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_regular(&link, Links::Follow).is_ok());
        assert!(matches!(
            open_regular(&link, Links::Refuse),
            Err(SmallFileError::NotRegular("a symbolic link"))
        ));
        let sock = dir.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(matches!(
            open_regular(&sock, Links::Follow),
            Err(SmallFileError::Io(_)) | Err(SmallFileError::NotRegular("a socket"))
        ));
    }
}
