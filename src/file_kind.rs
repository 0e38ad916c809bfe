//! What a path is, in words, for inputs that must be regular files.
//!
//! Reading a FIFO blocks until a writer comes, a character device such as
//! `/dev/zero` never ends: an input that claims to be a file but is not
//! one is refused up front, naming what it is.

use std::fs::{File, FileType};
use std::os::unix::fs::FileTypeExt;

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

/// Why [`read_small_regular`] read nothing.
#[derive(Debug, thiserror::Error)]
pub enum SmallFileError {
    /// stat or read failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not a regular file: what it is instead.
    #[error("it is {0}")]
    NotRegular(&'static str),
    /// Larger than the caller's bound.
    #[error("it holds {size} bytes, more than {max}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The bound.
        max: u64,
    },
}

/// Reads a configuration-sized file whole, refusing before the first byte
/// what is not a regular file or is larger than `max`: a FIFO would block,
/// a device never ends, a log named by mistake would fill memory.
pub fn read_small_regular(path: &std::path::Path, max: u64) -> Result<Vec<u8>, SmallFileError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(SmallFileError::NotRegular(describe(meta.file_type())));
    }
    if meta.len() > max {
        return Err(SmallFileError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    Ok(std::fs::read(path)?)
}

/// Opens a foreign file for reading without ever blocking or being led
/// elsewhere: read-only, close-on-exec, `O_NOFOLLOW` (a final symbolic link
/// is refused, not followed), `O_NONBLOCK` (a FIFO opens at once instead of
/// waiting for a writer). The descriptor, not the path, is then checked:
/// what is not a regular file, or is larger than `max`, is refused before
/// the first byte is read. Returns the file and its size at the check.
pub fn open_regular(path: &std::path::Path, max: u64) -> Result<(File, u64), SmallFileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                SmallFileError::NotRegular("a symbolic link")
            } else {
                SmallFileError::Io(e)
            }
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(SmallFileError::NotRegular(describe(meta.file_type())));
    }
    if meta.len() > max {
        return Err(SmallFileError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    Ok((file, meta.len()))
}

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
    fn open_regular_refuses_fifos_links_devices_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, "12345").unwrap();
        let (_, len) = open_regular(&f, 5).unwrap();
        assert_eq!(len, 5);
        assert!(matches!(
            open_regular(&f, 4),
            Err(SmallFileError::TooLarge { size: 5, max: 4 })
        ));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // Without O_NONBLOCK this open would wait for a writer forever.
        assert!(matches!(
            open_regular(&fifo, 4),
            Err(SmallFileError::NotRegular("a FIFO (named pipe)"))
        ));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(matches!(
            open_regular(&link, 5),
            Err(SmallFileError::NotRegular("a symbolic link"))
        ));
        assert!(matches!(
            open_regular(std::path::Path::new("/dev/zero"), 5),
            Err(SmallFileError::NotRegular("a character device"))
        ));
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
}
