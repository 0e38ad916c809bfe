//! Following a GC log set incrementally: the live file and its rotated
//! siblings (`gc.log`, `gc.log.0`..`gc.log.N`, JDK 8's `gc.log.N.current`).
//!
//! Files are tracked by (device, inode) with the offset read so far, so a
//! rename (rotation) never re-reads or skips a byte: the renamed file's tail
//! is finished first, then the new live file is read from its start. A file
//! that shrank was truncated (a restarted JVM reopening its log): it is read
//! again from 0. Only complete lines are consumed; a line cut off mid-write
//! waits for its end.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Identity of a file across renames.
type FileId = (u64, u64);

#[derive(Debug, Clone)]
struct Tracked {
    offset: u64,
    path: PathBuf,
    /// The file's first bytes when it was first read: a truncated file
    /// rewritten to the same length or longer shows a different head.
    head: Vec<u8>,
}

const HEAD_LEN: usize = 128;

fn read_head(path: &Path) -> Vec<u8> {
    let mut head = Vec::with_capacity(HEAD_LEN);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(HEAD_LEN as u64).read_to_end(&mut head);
    }
    head
}

/// Why the last poll could not read the set: an operator must know that
/// "no pauses" came from an unreadable log, not from a quiet JVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The live file (or its directory) does not exist (yet).
    Missing(String),
    /// It exists but could not be read (permissions, I/O).
    Unreadable(String),
}

/// A log set being followed.
#[derive(Debug)]
pub struct LogFollower {
    base: PathBuf,
    files: HashMap<FileId, Tracked>,
    first_poll: bool,
    buf: Vec<u8>,
    problem: Option<Problem>,
}

/// What one poll read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Complete lines delivered.
    pub lines: u64,
    /// Bytes consumed.
    pub bytes: u64,
    /// Files found truncated and re-read from the start.
    pub truncations: u64,
}

struct Candidate {
    id: FileId,
    path: PathBuf,
    len: u64,
    mtime: SystemTime,
    gz: bool,
}

impl LogFollower {
    /// Follows the set whose live file is `base` (a glob picks the newest match).
    pub fn new(base: impl Into<PathBuf>) -> LogFollower {
        LogFollower {
            base: base.into(),
            files: HashMap::new(),
            first_poll: true,
            buf: Vec::with_capacity(4096),
            problem: None,
        }
    }

    /// What kept the last poll from reading the set, if anything.
    pub fn problem(&self) -> Option<&Problem> {
        self.problem.as_ref()
    }

    /// The live file's path as configured.
    pub fn base(&self) -> &Path {
        &self.base
    }

    fn live_path(&self) -> Option<PathBuf> {
        let s = self.base.to_str()?;
        if !s.contains(['*', '?', '[']) {
            return Some(self.base.clone());
        }
        glob::glob(s)
            .ok()?
            .flatten()
            .filter(|p| !is_rotated_name(p))
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
    }

    fn candidates(&self) -> Result<Vec<Candidate>, Problem> {
        let missing = || Problem::Missing(format!("{}: no such file", self.base.display()));
        let live = self.live_path().ok_or_else(missing)?;
        let name = live
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .ok_or_else(missing)?;
        let dir = live
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Problem::Missing(format!("{}: no such directory", dir.display()))
            }
            _ => Problem::Unreadable(format!("{}: {e}", dir.display())),
        })?;
        for e in entries.flatten() {
            let fname = e.file_name();
            let Some(fname) = fname.to_str() else {
                continue;
            };
            let member = fname == name
                || fname
                    .strip_prefix(&name)
                    .and_then(|r| r.strip_prefix('.'))
                    .is_some_and(|suffix| {
                        let s = suffix.trim_end_matches(".gz").trim_end_matches(".current");
                        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
                    });
            if !member {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            out.push(Candidate {
                id: (meta.dev(), meta.ino()),
                path: e.path(),
                len: meta.len(),
                mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                gz: fname.ends_with(".gz"),
            });
        }
        if out.is_empty() {
            return Err(Problem::Missing(format!(
                "{}: no such file",
                live.display()
            )));
        }
        Ok(out)
    }

    /// Reads every complete line written since the last poll, oldest file
    /// first, and hands each (without its newline) to `on_line`.
    pub fn poll(&mut self, on_line: &mut dyn FnMut(&[u8])) -> PollStats {
        let mut stats = PollStats::default();
        self.problem = None;
        let mut cands = match self.candidates() {
            Ok(c) => c,
            // An unreadable directory keeps the offsets (no re-read once it is
            // readable again); a missing set is gone, its successor is new.
            Err(p) => {
                if matches!(p, Problem::Missing(_)) {
                    self.files.clear();
                }
                self.problem = Some(p);
                return stats;
            }
        };
        let first = std::mem::replace(&mut self.first_poll, false);
        // Compressed files are old rotations: only the first poll reads them
        // (later a .gz is a compressed copy of a file already read).
        cands.retain(|c| !c.gz || (first && !self.files.contains_key(&c.id)));
        // Known files (finishing their tails) before new ones, each group by age.
        cands.sort_by_key(|c| (!self.files.contains_key(&c.id), c.mtime));
        let present: Vec<FileId> = cands.iter().map(|c| c.id).collect();
        self.files.retain(|id, _| present.contains(id));
        for c in cands {
            let tracked = self.files.entry(c.id).or_insert(Tracked {
                offset: 0,
                path: c.path.clone(),
                head: Vec::new(),
            });
            tracked.path = c.path.clone();
            let rewritten = !c.gz && tracked.offset > 0 && {
                let head = read_head(&c.path);
                let n = head.len().min(tracked.head.len());
                head[..n] != tracked.head[..n]
            };
            if (c.len < tracked.offset || rewritten) && !c.gz {
                tracing::info!(file = %c.path.display(), "log truncated: reading it again from the start");
                tracked.offset = 0;
                stats.truncations += 1;
            }
            if !c.gz && c.len == tracked.offset {
                continue;
            }
            let offset = tracked.offset;
            let consumed = if c.gz {
                read_gz(&c.path, &mut self.buf, on_line, &mut stats)
            } else {
                match read_from(&c.path, offset, &mut self.buf, on_line, &mut stats) {
                    Ok(n) => n,
                    Err(e) => {
                        self.problem =
                            Some(Problem::Unreadable(format!("{}: {e}", c.path.display())));
                        0
                    }
                }
            };
            if let Some(t) = self.files.get_mut(&c.id) {
                t.offset = if c.gz { c.len } else { offset + consumed };
                if t.head.len() < HEAD_LEN && !c.gz {
                    t.head = read_head(&c.path);
                    t.head
                        .truncate(usize::try_from(t.offset).unwrap_or(HEAD_LEN).min(HEAD_LEN));
                }
            }
        }
        stats
    }
}

/// True for `x.log.3`, `x.log.3.current`, `x.log.3.gz`: a rotated member, not a live file.
fn is_rotated_name(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let stem = name.trim_end_matches(".gz").trim_end_matches(".current");
    stem.rsplit_once('.')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads complete lines from `offset`; returns the bytes consumed.
fn read_from(
    path: &Path,
    offset: u64,
    buf: &mut Vec<u8>,
    on_line: &mut dyn FnMut(&[u8]),
    stats: &mut PollStats,
) -> std::io::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    Ok(read_lines(
        BufReader::with_capacity(64 * 1024, f),
        buf,
        on_line,
        stats,
    ))
}

fn read_gz(
    path: &Path,
    buf: &mut Vec<u8>,
    on_line: &mut dyn FnMut(&[u8]),
    stats: &mut PollStats,
) -> u64 {
    let Ok(f) = std::fs::File::open(path) else {
        return 0;
    };
    let dec = flate2::read::MultiGzDecoder::new(f);
    read_lines(
        BufReader::with_capacity(64 * 1024, dec),
        buf,
        on_line,
        stats,
    )
}

fn read_lines<R: Read>(
    mut r: BufReader<R>,
    buf: &mut Vec<u8>,
    on_line: &mut dyn FnMut(&[u8]),
    stats: &mut PollStats,
) -> u64 {
    let mut consumed = 0;
    loop {
        buf.clear();
        match r.read_until(b'\n', buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if buf.last() != Some(&b'\n') {
                    // Cut off mid-write: leave it for the next poll.
                    break;
                }
                consumed += n as u64;
                let line = &buf[..buf.len() - 1];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                on_line(line);
                stats.lines += 1;
                stats.bytes += n as u64;
            }
        }
    }
    consumed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(f: &mut LogFollower) -> Vec<String> {
        let mut out = Vec::new();
        f.poll(&mut |l| out.push(String::from_utf8_lossy(l).into_owned()));
        out
    }

    fn append(p: &Path, s: &str) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
            .write_all(s.as_bytes())
            .unwrap();
    }

    #[test]
    fn follows_appends_partial_lines_rotation_truncation_and_deletion() {
        let t = tempfile::tempdir().unwrap();
        let live = t.path().join("gc.log");
        append(&live, "a\nb\npar");
        let mut f = LogFollower::new(&live);
        assert_eq!(lines(&mut f), ["a", "b"]);
        assert!(lines(&mut f).is_empty(), "nothing re-read");
        append(&live, "tial\nc\n");
        assert_eq!(lines(&mut f), ["partial", "c"]);

        // Rotation: the JVM writes a last line, renames gc.log to gc.log.0 and starts a new gc.log.
        append(&live, "d\n");
        std::fs::rename(&live, t.path().join("gc.log.0")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        append(&live, "e\n");
        assert_eq!(
            lines(&mut f),
            ["d", "e"],
            "the renamed tail first, then the new file from its start"
        );

        // Truncation: the same inode starts again.
        std::fs::write(&live, "").unwrap();
        append(&live, "f\n");
        assert_eq!(lines(&mut f), ["f"]);

        // Deletion and re-creation: a new inode is read from the start.
        std::fs::remove_file(&live).unwrap();
        std::fs::remove_file(t.path().join("gc.log.0")).unwrap();
        assert!(lines(&mut f).is_empty());
        append(&live, "g\n");
        assert_eq!(lines(&mut f), ["g"]);
    }

    #[test]
    fn first_poll_reads_the_rotated_set_oldest_first_including_gzip() {
        let t = tempfile::tempdir().unwrap();
        let old = t.path().join("gc.log.1.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&old).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"1\n").unwrap();
        gz.finish().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        append(&t.path().join("gc.log.0"), "2\n");
        std::thread::sleep(std::time::Duration::from_millis(10));
        append(&t.path().join("gc.log"), "3\n");
        append(&t.path().join("gc.log.bak"), "not a member\n");
        let mut f = LogFollower::new(t.path().join("gc.log"));
        assert_eq!(lines(&mut f), ["1", "2", "3"]);
        assert!(lines(&mut f).is_empty());
    }

    #[test]
    fn a_glob_base_follows_the_newest_match() {
        let t = tempfile::tempdir().unwrap();
        append(&t.path().join("gc-2026-11-24_10-00-00.log"), "old\n");
        std::thread::sleep(std::time::Duration::from_millis(10));
        append(&t.path().join("gc-2026-11-25_10-00-00.log"), "new\n");
        let mut f = LogFollower::new(t.path().join("gc-*.log"));
        assert_eq!(lines(&mut f), ["new"]);
    }

    #[test]
    fn a_missing_or_unreadable_set_is_a_problem_not_silence() {
        let t = tempfile::tempdir().unwrap();
        let mut f = LogFollower::new(t.path().join("absent/gc.log"));
        assert!(lines(&mut f).is_empty());
        assert!(
            matches!(f.problem(), Some(Problem::Missing(_))),
            "{:?}",
            f.problem()
        );
        // A file where the directory should be: the directory cannot be listed.
        std::fs::write(t.path().join("file"), "x").unwrap();
        let mut f = LogFollower::new(t.path().join("file/gc.log"));
        assert!(lines(&mut f).is_empty());
        assert!(
            matches!(f.problem(), Some(Problem::Unreadable(_))),
            "{:?}",
            f.problem()
        );
        // Once the log appears the problem goes away.
        let mut f = LogFollower::new(t.path().join("gc.log"));
        lines(&mut f);
        assert!(f.problem().is_some());
        append(&t.path().join("gc.log"), "a\n");
        assert_eq!(lines(&mut f), ["a"]);
        assert_eq!(f.problem(), None);
    }
}
