//! Reading GC log files: gzip transparently, directories as rotated sets,
//! rotated sets in time order, and lines through one reusable buffer so
//! memory stays constant whatever the file size.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::detect::{LogFormat, SNIFF_BYTES, Sniff, sniff};
use super::error::GcError;

/// Read buffer size: large enough that `memchr` over it dominates.
const CHUNK: usize = 256 * 1024;
/// A line longer than this is cut (the rest is skipped): no real GC line is.
const MAX_LINE: usize = 64 * 1024;

/// Opens a file, decompressing it when it starts with the gzip magic.
pub fn open(path: &Path) -> Result<Box<dyn Read>, GcError> {
    open_observed(path, |_| {})
}

/// Like [`open`], calling `on_read` with the number of bytes of the file
/// itself (compressed, when gzip) after every read from it: once per
/// buffer fill, not per line, so a progress display costs nothing per line.
pub fn open_observed<'a>(
    path: &Path,
    on_read: impl FnMut(usize) + 'a,
) -> Result<Box<dyn Read + 'a>, GcError> {
    let io_err = |source| GcError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Checked on the descriptor it reads: a FIFO swapped in after the
    // listing is refused here, without blocking.
    let inner = crate::file_kind::open_regular(path, crate::file_kind::Links::Follow).map_err(
        |e| match e {
            crate::file_kind::SmallFileError::NotRegular(what) => GcError::NotRegular {
                path: path.to_path_buf(),
                what,
            },
            other => io_err(other.into_io()),
        },
    )?;
    let file = Observed { inner, on_read };
    let mut reader = BufReader::with_capacity(CHUNK, file);
    let head = reader.fill_buf().map_err(io_err)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// A reader that reports the size of every read.
struct Observed<R, F> {
    inner: R,
    on_read: F,
}

impl<R: Read, F: FnMut(usize)> Read for Observed<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n);
        Ok(n)
    }
}

/// Calls `f` with every line of `reader` (without `\n`; a last line without
/// one too), through one buffer reused for the whole file. Returns the
/// number of lines.
pub fn for_each_line(mut reader: impl Read, mut f: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK + MAX_LINE];
    let mut start = 0usize; // first byte of the unfinished line
    let mut end = 0usize; // end of valid data
    let mut lines = 0u64;
    let mut skipping = false; // inside an over-long line's tail
    loop {
        if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        if end == buf.len() {
            // An over-long line: hand over its head, skip the rest.
            if !skipping {
                f(&buf[..end]);
                lines += 1;
            }
            skipping = true;
            end = 0;
        }
        let n = match reader.read(&mut buf[end..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let scan_from = end;
        end += n;
        let mut pos = scan_from;
        for nl in memchr::memchr_iter(b'\n', &buf[scan_from..end]) {
            let nl = scan_from + nl;
            if skipping {
                skipping = false;
            } else {
                f(&buf[start..nl]);
                lines += 1;
            }
            start = nl + 1;
            pos = start;
        }
        let _ = pos;
    }
    if start < end && !skipping {
        // The last line, possibly cut off mid-write.
        f(&buf[start..end]);
        lines += 1;
    }
    Ok(lines)
}

/// Reads up to [`SNIFF_BYTES`] of a file's (decompressed) start and sniffs it.
pub fn sniff_file(path: &Path) -> Result<Sniff, GcError> {
    let mut head = Vec::with_capacity(64 * 1024);
    open(path)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|source| GcError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(sniff(&head))
}

/// One file to read, with what sniffing found.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Its path.
    pub path: PathBuf,
    /// What it looks like.
    pub sniff: Sniff,
}

/// Expands the arguments (files and directories) into the files to read,
/// in time order. Files inside a directory that are not GC logs are
/// skipped; a named file that is not a G1 log is an error.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<InputFile>, GcError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| GcError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut sets: Vec<String> = Vec::new();
            for path in dir_files(p)? {
                let sniff = sniff_file(&path)?;
                if sniff.format == LogFormat::NotGcLog {
                    continue;
                }
                let base = name_key(&path).0;
                if !sets.contains(&base) {
                    sets.push(base);
                }
                files.push(InputFile { path, sniff });
            }
            if sets.is_empty() {
                return Err(GcError::NoFiles { path: p.clone() });
            }
            if sets.len() > 1 {
                return Err(GcError::SeveralSets {
                    path: p.clone(),
                    sets,
                });
            }
        } else if !meta.is_file() {
            return Err(GcError::NotRegular {
                path: p.clone(),
                what: crate::file_kind::describe(meta.file_type()),
            });
        } else {
            let sniff = sniff_file(p)?;
            files.push(InputFile {
                path: p.clone(),
                sniff,
            });
        }
    }
    check_formats(&mut files)?;
    // An empty file beside a log is a freshly rotated one; alone (or with
    // only other empty files) there is nothing to analyse, and "no pause"
    // would read as a healthy JVM.
    if !files.is_empty() && files.iter().all(|f| f.sniff.format == LogFormat::Empty) {
        return Err(GcError::NothingToAnalyse {
            paths: paths.to_vec(),
        });
    }
    order(&mut files);
    Ok(files)
}

/// Regular, non-hidden files of a directory (not recursive).
fn dir_files(dir: &Path) -> Result<Vec<PathBuf>, GcError> {
    let io_err = |source| GcError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type().map_err(io_err)?.is_file() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Every file must be G1 (or empty); a unified file whose start names no
/// collector is G1 when another file of the set is.
fn check_formats(files: &mut [InputFile]) -> Result<(), GcError> {
    let any_unified_g1 = files.iter().any(|f| f.sniff.format == LogFormat::UnifiedG1);
    for f in files.iter_mut() {
        match f.sniff.format {
            LogFormat::UnifiedG1 | LogFormat::Jdk8G1 | LogFormat::Empty => {}
            LogFormat::UnifiedUnknown if any_unified_g1 => f.sniff.format = LogFormat::UnifiedG1,
            LogFormat::UnifiedUnknown => {
                return Err(GcError::NotG1 {
                    path: f.path.clone(),
                    what: "a unified log whose first lines name no collector".into(),
                });
            }
            LogFormat::NotG1(c) => {
                return Err(GcError::NotG1 {
                    path: f.path.clone(),
                    what: c.log_phrase(),
                });
            }
            LogFormat::Jdk8Unknown => {
                return Err(GcError::NotG1 {
                    path: f.path.clone(),
                    what: LogFormat::Jdk8Unknown.describe(),
                });
            }
            LogFormat::NotGcLog => {
                return Err(GcError::NotGcLog {
                    path: f.path.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Puts files in time order: by their first wall-clock stamp when every
/// file has one, else by first uptime when every file has one and at most
/// one JVM started in the set (uptimes of two JVMs do not compare), else by
/// rotation name (`gc.log.0`, `gc.log.1`, ..., then `gc.log`; JDK 8's
/// `gc.log.N.current` by its N). Ties keep name order.
pub fn order(files: &mut [InputFile]) {
    files.sort_by_key(|f| name_key(&f.path));
    let timed: Vec<_> = files
        .iter()
        .filter(|f| f.sniff.format != LogFormat::Empty)
        .collect();
    if timed.iter().all(|f| f.sniff.first_wall_ms.is_some()) {
        files.sort_by_key(|f| f.sniff.first_wall_ms.unwrap_or(i64::MAX));
    } else if timed.iter().all(|f| f.sniff.first_uptime_ms.is_some())
        && timed.iter().filter(|f| f.sniff.jvm_start).count() <= 1
    {
        files.sort_by(|a, b| {
            let ka = a.sniff.first_uptime_ms.unwrap_or(f64::INFINITY);
            let kb = b.sniff.first_uptime_ms.unwrap_or(f64::INFINITY);
            ka.total_cmp(&kb)
        });
    }
}

/// `gc.log.3` → (`gc.log`, 3); `gc.log.2.current` → (`gc.log`, 2);
/// `gc.log.1.gz` → (`gc.log`, 1); `gc.log` → (`gc.log`, MAX): the live file
/// of a JDK 9+ set is the newest.
fn name_key(path: &Path) -> (String, u64, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stem = name.as_str();
    for suffix in [".gz", ".current"] {
        stem = stem.strip_suffix(suffix).unwrap_or(stem);
    }
    if let Some((base, n)) = stem.rsplit_once('.') {
        if let Ok(n) = n.parse::<u64>() {
            return (base.to_owned(), n, name.clone());
        }
    }
    (stem.to_owned(), u64::MAX, name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for_each_line(data, |l| out.push(l.to_vec())).unwrap();
        out
    }

    #[test]
    fn splits_lines_and_keeps_cut_off_tail() {
        assert_eq!(lines_of(b"a\nbb\n\nccc"), [&b"a"[..], b"bb", b"", b"ccc"]);
        assert_eq!(lines_of(b"a\n"), [&b"a"[..]]);
        assert!(lines_of(b"").is_empty());
    }

    #[test]
    fn long_lines_across_chunks() {
        let mut data = Vec::new();
        for i in 0..100_000 {
            data.extend_from_slice(format!("line {i} with some text\n").as_bytes());
        }
        let mut n = 0;
        let mut last = Vec::new();
        for_each_line(&data[..], |l| {
            n += 1;
            last = l.to_vec();
        })
        .unwrap();
        assert_eq!(n, 100_000);
        assert_eq!(last, b"line 99999 with some text");
        let huge = vec![b'x'; MAX_LINE * 3];
        let mut input = huge.clone();
        input.extend_from_slice(b"\nnext\n");
        let got = lines_of(&input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], b"next");
    }

    #[test]
    fn rotation_names() {
        let mut v: Vec<_> = [
            "gc.log",
            "gc.log.2",
            "gc.log.0",
            "gc.log.10",
            "gc.log.1.current",
        ]
        .iter()
        .map(|n| name_key(Path::new(n)))
        .collect();
        v.sort();
        let names: Vec<_> = v.into_iter().map(|k| k.2).collect();
        assert_eq!(
            names,
            [
                "gc.log.0",
                "gc.log.1.current",
                "gc.log.2",
                "gc.log.10",
                "gc.log"
            ]
        );
    }
}
