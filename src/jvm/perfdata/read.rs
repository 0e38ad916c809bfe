//! Copying a perf-data file: opened the one safe way, bounded in size,
//! copied once, re-read when the JVM changed its structure meanwhile.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{self, FormatError, PROLOGUE_LEN, PerfData};
use crate::file_kind::{Links, SmallFileError, open_regular};

/// The largest file a JVM writes: `-XX:PerfDataMemorySize` is at most
/// 2 MiB (HotSpot's range check), rounded up to the allocation
/// granularity, which divides it. Anything larger is not perf data.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// Copies tried before a file that keeps changing under the reader is
/// given up on (an entry is created in microseconds; three copies in a row
/// torn means something else writes it).
pub const READ_TRIES: usize = 3;

/// Why a perf-data file was not read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum PerfDataError {
    /// open or fstat failed (missing, permission denied, ...).
    #[error("{}: cannot open: {source}", shown(path))]
    Open {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A FIFO, socket, device, directory or symbolic link where the file
    /// should be: refused before reading, so nothing blocks.
    #[error("{}: not a perf-data file: it is {what}", shown(path))]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// Larger than any JVM writes.
    #[error(
        "{}: {size} bytes, more than the {max} a JVM's perf data can take",
        shown(path)
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The bound.
        max: u64,
    },
    /// read failed.
    #[error("{}: cannot read: {source}", shown(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not HotSpot perf data, or damaged (the same in every copy).
    #[error("{}: not valid HotSpot perf data: {source}", shown(path))]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: FormatError,
    },
    /// The JVM has not finished creating its counters (it is starting).
    #[error(
        "{}: the JVM has not finished setting up its counters yet",
        shown(path)
    )]
    NotReady {
        /// The file.
        path: PathBuf,
    },
    /// The structure changed under every copy.
    #[error("{}: changed while being read, {tries} times in a row", shown(path))]
    Unstable {
        /// The file.
        path: PathBuf,
        /// Copies tried.
        tries: usize,
    },
}

impl PerfDataError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            PerfDataError::Open { path, .. }
            | PerfDataError::NotRegular { path, .. }
            | PerfDataError::TooLarge { path, .. }
            | PerfDataError::Read { path, .. }
            | PerfDataError::Malformed { path, .. }
            | PerfDataError::NotReady { path }
            | PerfDataError::Unstable { path, .. } => path,
        }
    }
}

fn shown(p: &Path) -> String {
    super::escape_text(&p.display().to_string())
}

/// Opens the file: the one place this module opens anything, through the
/// crate's one open for foreign files ([`open_regular`]: read-only,
/// non-blocking, a final symbolic link refused, the descriptor checked to
/// be a regular file); its size, taken from the same descriptor, must be at
/// most [`MAX_FILE_BYTES`].
fn open_foreign(path: &Path) -> Result<(File, u64), PerfDataError> {
    let file = open_regular(path, Links::Refuse).map_err(|e| match e {
        SmallFileError::Io(source) => PerfDataError::Open {
            path: path.to_path_buf(),
            source,
        },
        SmallFileError::NotRegular(what) => PerfDataError::NotRegular {
            path: path.to_path_buf(),
            what,
        },
        SmallFileError::TooLarge { size, max } => PerfDataError::TooLarge {
            path: path.to_path_buf(),
            size,
            max,
        },
    })?;
    let size = file
        .metadata()
        .map_err(|source| PerfDataError::Open {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(PerfDataError::TooLarge {
            path: path.to_path_buf(),
            size,
            max: MAX_FILE_BYTES,
        });
    }
    Ok((file, size))
}

/// Reads up to `len` bytes from the start of `file` into `buf` (cleared
/// first), stopping early at the end of the file: never more than `len`,
/// however the file grows meanwhile.
fn copy(file: &File, len: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    buf.resize(len, 0);
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(())
}

/// Reads and decodes a perf-data file. The file is copied whole (its size
/// at open, at most [`MAX_FILE_BYTES`]), then its prologue is read again:
/// if the entry count, bytes used or modification stamp moved, or the copy
/// does not decode (an entry caught half-written), it is copied again, at
/// most [`READ_TRIES`] times.
pub fn read_file(path: &Path) -> Result<PerfData, PerfDataError> {
    let (file, size) = open_foreign(path)?;
    let mut buf = Vec::new();
    read_open(&file, size as usize, &mut buf).map_err(|e| e.at(path))
}

/// What went wrong before the path is known to the error.
enum Failure {
    Read(std::io::Error),
    Malformed(FormatError),
    NotReady,
    Unstable(usize),
}

impl Failure {
    fn at(self, path: &Path) -> PerfDataError {
        let path = path.to_path_buf();
        match self {
            Failure::Read(source) => PerfDataError::Read { path, source },
            Failure::Malformed(source) => PerfDataError::Malformed { path, source },
            Failure::NotReady => PerfDataError::NotReady { path },
            Failure::Unstable(tries) => PerfDataError::Unstable { path, tries },
        }
    }
}

fn read_open(file: &File, size: usize, buf: &mut Vec<u8>) -> Result<PerfData, Failure> {
    let mut last_error = None;
    for _ in 0..READ_TRIES {
        copy(file, size, buf).map_err(Failure::Read)?;
        let mut again = [0u8; PROLOGUE_LEN];
        let moved = match file.read_exact_at(&mut again, 0) {
            Ok(()) => format::structure_stamp(buf) != format::structure_stamp(&again),
            // Shorter than a prologue now: truncated under us; decode says so.
            Err(_) => false,
        };
        if moved {
            last_error = None;
            std::thread::yield_now();
            continue;
        }
        match format::parse(buf) {
            Ok(pd) if !pd.accessible => return Err(Failure::NotReady),
            Ok(pd) => return Ok(pd),
            Err(e) => {
                // Maybe an entry caught half-written: copy again; the same
                // error every time is the file's own.
                last_error = Some(e);
                std::thread::yield_now();
            }
        }
    }
    Err(match last_error {
        Some(e) => Failure::Malformed(e),
        None => Failure::Unstable(READ_TRIES),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jvm::perfdata::format::{ByteOrder, build};

    fn region() -> Vec<u8> {
        build(
            ByteOrder::Little,
            &[("sun.rt.safepoints", 4, 2, 9)],
            &[("sun.gc.cause", "No GC")],
        )
    }

    #[test]
    fn reads_a_region_and_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("4242");
        std::fs::write(&f, region()).unwrap();
        let pd = read_file(&f).unwrap();
        assert_eq!(pd.long("sun.rt.safepoints"), Some(9));

        let mut b = region();
        b[7] = 0;
        std::fs::write(&f, &b).unwrap();
        let e = read_file(&f).unwrap_err();
        assert!(matches!(e, PerfDataError::NotReady { .. }), "{e}");

        std::fs::write(&f, b"hello").unwrap();
        let e = read_file(&f).unwrap_err();
        assert!(matches!(e, PerfDataError::Malformed { .. }), "{e}");
        assert!(e.to_string().starts_with(&f.display().to_string()), "{e}");

        let missing = dir.path().join("nope");
        assert!(matches!(
            read_file(&missing),
            Err(PerfDataError::Open { .. })
        ));
    }

    #[test]
    fn a_fifo_in_its_place_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("4242");
        nix::unistd::mkfifo(&f, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = read_file(&f).unwrap_err();
        assert!(
            matches!(
                e,
                PerfDataError::NotRegular {
                    what: "a FIFO (named pipe)",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_huge_file_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("4242");
        let file = File::create(&f).unwrap();
        // Sparse: 1 TiB on paper, nothing on disk.
        file.set_len(1 << 40).unwrap();
        let e = read_file(&f).unwrap_err();
        assert!(matches!(e, PerfDataError::TooLarge { .. }), "{e}");
    }
}
