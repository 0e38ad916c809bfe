//! Following a GC log set incrementally: the live file and its rotated
//! siblings (`gc.log`, `gc.log.0`..`gc.log.N`, JDK 8's `gc.log.N.current`).
//!
//! The live file is held open once seen, and every file is read through a
//! descriptor from the offset read so far. Holding the live file open is
//! what makes (device, inode) a safe identity: the JVM's rotation renames
//! it and deletes an older file, and the next file often gets the freed
//! inode number at once, but not while a descriptor keeps the inode alive;
//! and a rotated file's tail is read even after the JVM deleted it.
//! Descriptors are a budget (a set of 1,100 rotated files must not take
//! 1,100 of the agent's 1,024): every other file is opened, read and
//! closed, one at a time, and a closed file met again under its identity
//! is checked against the first bytes it had (a new file that got the
//! inode number starts differently, or is shorter than what was read) and
//! read from its start when it is not the same. A file is forgotten once
//! it is deleted (no links left) and read to its end, or after it has been
//! out of the set for several polls: a directory listing taken during
//! renames may skip an entry, which must not make a file look new. A file
//! that shrank (or whose first bytes changed) was rewritten in place: it
//! is read again from 0. Only complete lines are consumed; a line cut off
//! mid-write waits for its end.
//!
//! Every input is bounded ([`MAX_LINE_BYTES`], [`MAX_SET_FILES`],
//! [`MAX_POLL_BYTES`], [`MAX_GZ_BYTES`], [`MAX_DIR_ENTRIES`]); what a bound
//! cut is counted in [`Bounded`] and becomes a finding. Every file is opened
//! through [`crate::file_kind::open_regular`]: a FIFO, socket, device or
//! symbolic link in the set is refused (named), never read, never waited on.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::file_kind::{Links, SmallFileError, open_regular};

/// Identity of a file across renames (unique while the file is held open).
type FileId = (u64, u64);

/// Polls a tracked file may be missing from the listing (while it still
/// has a name) before it is let go.
const ABSENT_POLLS: u32 = 3;

/// The longest line read: a G1 log line is under 1 KiB; a longer one (a
/// file with no newline, a binary file named as a log) is skipped to its
/// end, counted, never held in memory.
pub const MAX_LINE_BYTES: usize = 64 << 10;
/// The most files of one set followed: the JVM's own maximum `filecount`
/// is 1000 (plus the live file); past it the newest are followed and the
/// rest counted.
pub const MAX_SET_FILES: usize = 1001;
/// The most directory entries looked at when listing a set: a log
/// directory holding millions of names must not take the agent's time.
pub const MAX_DIR_ENTRIES: usize = 100_000;
/// The most bytes one poll reads from a set; the rest is read by the next
/// polls (offsets are kept), so a set of gigabytes is caught up with in
/// steps that leave the agent's interval on time.
pub const MAX_POLL_BYTES: u64 = 64 << 20;
/// The most bytes decompressed from one `.gz` member (read once, at the
/// first poll): a bomb or a huge member is cut there, and counted.
pub const MAX_GZ_BYTES: u64 = 256 << 20;
/// Non-regular members named in a finding (the rest only counted).
const REFUSED_NAMED: usize = 4;

#[derive(Debug)]
struct Tracked {
    /// Open while this is the live file; `None` between reads otherwise.
    file: Option<File>,
    offset: u64,
    path: PathBuf,
    /// The file's first bytes when it was first read: a truncated file
    /// rewritten to the same length or longer shows a different head, and
    /// so does a new file that got a closed file's inode number.
    head: Vec<u8>,
    /// Consecutive listings that did not show it.
    absent: u32,
    /// Named as the set's live file in the last listing.
    live: bool,
    /// Its size and mtime in the last listing (for a closed file).
    listed_len: u64,
    listed_mtime: SystemTime,
    /// Inside a line longer than [`MAX_LINE_BYTES`]: discard to its newline.
    skipping: bool,
    /// Size and mtime when it was last closed: a closed file listed again
    /// with both unchanged has nothing new (size alone is not enough: a new
    /// file that got its inode number can have exactly its size).
    closed_as: Option<(u64, SystemTime)>,
}

const HEAD_LEN: usize = 128;

fn read_head(file: &File) -> Vec<u8> {
    let mut head = vec![0; HEAD_LEN];
    let mut n = 0;
    while n < HEAD_LEN {
        match file.read_at(&mut head[n..], n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    head.truncate(n);
    head
}

/// Why the last poll could not read the set: an operator must know that
/// "no pauses" came from an unreadable log, not from a quiet JVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The live file (or its directory) does not exist (yet).
    Missing(String),
    /// It exists but could not be read (permissions, I/O, not a regular file).
    Unreadable(String),
}

/// What the bounds cut since the counts were last taken: each becomes a
/// finding beside the JVM's GC figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounded {
    /// Lines longer than [`MAX_LINE_BYTES`], skipped.
    pub long_lines: u64,
    /// Files of the set past [`MAX_SET_FILES`] in the last listing, not read.
    pub files_over: usize,
    /// The set's directory had more than [`MAX_DIR_ENTRIES`] names.
    pub dir_cut: bool,
    /// `.gz` members cut at [`MAX_GZ_BYTES`].
    pub gz_cut: u64,
    /// Members that are not regular files, as "PATH: it is a FIFO ...".
    pub refused: Vec<String>,
    /// How many were refused in all (beyond those named).
    pub refused_total: usize,
}

impl Bounded {
    /// True when nothing was cut.
    pub fn is_empty(&self) -> bool {
        *self == Bounded::default()
    }

    fn refuse(&mut self, path: &Path, why: &str) {
        self.refused_total += 1;
        if self.refused.len() < REFUSED_NAMED {
            let text = format!("{}: {why}, not a log file: refused", path.display());
            if !self.refused.contains(&text) {
                self.refused.push(text);
            }
        }
    }
}

/// A log set being followed.
#[derive(Debug)]
pub struct LogFollower {
    base: PathBuf,
    files: HashMap<FileId, Tracked>,
    first_poll: bool,
    buf: Vec<u8>,
    problem: Option<Problem>,
    bounded: Bounded,
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

/// A member of the set as listed: name and the identity it had then.
struct Listed {
    id: FileId,
    path: PathBuf,
    gz: bool,
    live: bool,
    len: u64,
    mtime: SystemTime,
}

/// A file to read this poll.
struct ToRead {
    id: FileId,
    len: u64,
    mtime: SystemTime,
    known: bool,
}

fn fstat(file: &File) -> Option<(FileId, u64, SystemTime, u64)> {
    let m = file.metadata().ok()?;
    Some((
        (m.dev(), m.ino()),
        m.len(),
        m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        m.nlink(),
    ))
}

/// Opens a member of the set: non-blocking, links refused, checked on the
/// descriptor. `Ok(None)`: gone since the listing.
fn open_member(path: &Path, bounded: &mut Bounded) -> Result<Option<File>, Problem> {
    match open_regular(path, Links::Refuse) {
        Ok(f) => Ok(Some(f)),
        Err(SmallFileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(SmallFileError::NotRegular(what)) => {
            bounded.refuse(path, &format!("it is {what}"));
            Ok(None)
        }
        Err(e) => Err(Problem::Unreadable(format!("{}: {e}", path.display()))),
    }
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
            bounded: Bounded::default(),
        }
    }

    /// What kept the last poll from reading the set, if anything.
    pub fn problem(&self) -> Option<&Problem> {
        self.problem.as_ref()
    }

    /// What the bounds cut since the last call (the counts start again).
    pub fn take_bounded(&mut self) -> Bounded {
        std::mem::take(&mut self.bounded)
    }

    /// Descriptors this follower holds between polls (at most one: the live file).
    pub fn open_files(&self) -> usize {
        self.files.values().filter(|t| t.file.is_some()).count()
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
            .take(MAX_DIR_ENTRIES)
            .filter(|p| !is_rotated_name(p))
            .max_by_key(|p| std::fs::symlink_metadata(p).and_then(|m| m.modified()).ok())
    }

    fn list(&mut self) -> Result<Vec<Listed>, Problem> {
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
        // opendir opens with O_DIRECTORY: a FIFO in the directory's place
        // fails at once (ENOTDIR), it cannot block.
        let entries = std::fs::read_dir(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Problem::Missing(format!("{}: no such directory", dir.display()))
            }
            _ => Problem::Unreadable(format!("{}: {e}", dir.display())),
        })?;
        for (n, e) in entries.flatten().enumerate() {
            if n >= MAX_DIR_ENTRIES {
                self.bounded.dir_cut = true;
                break;
            }
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
                if !meta.is_dir() {
                    self.bounded.refuse(
                        &e.path(),
                        &format!("it is {}", crate::file_kind::describe(meta.file_type())),
                    );
                }
                continue;
            }
            out.push(Listed {
                id: (meta.dev(), meta.ino()),
                path: e.path(),
                gz: fname.ends_with(".gz"),
                live: fname == name,
                len: meta.len(),
                mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        if out.len() > MAX_SET_FILES {
            // The newest are followed: the live file and the latest rotations.
            out.sort_by_key(|l| std::cmp::Reverse((l.live, l.mtime)));
            self.bounded.files_over = out.len() - MAX_SET_FILES;
            out.truncate(MAX_SET_FILES);
        }
        if out.is_empty() {
            if let Some(first) = self.bounded.refused.first() {
                return Err(Problem::Unreadable(first.clone()));
            }
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
        let listed = match self.list() {
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
        let mut seen: Vec<FileId> = Vec::with_capacity(listed.len());
        let mut gz: Vec<(SystemTime, PathBuf)> = Vec::new();
        for l in listed {
            if l.gz {
                // Compressed files are old rotations: only the first poll reads them
                // (later a .gz is a compressed copy of a file already read).
                if first {
                    gz.push((l.mtime, l.path));
                }
                continue;
            }
            seen.push(l.id);
            // Not opened here: a set of a thousand files would hold a
            // thousand descriptors. The read below opens each in turn and
            // checks, on the descriptor, that it is still this file.
            let t = self.files.entry(l.id).or_insert_with(|| Tracked {
                file: None,
                offset: 0,
                path: l.path.clone(),
                head: Vec::new(),
                absent: 0,
                live: false,
                listed_len: 0,
                listed_mtime: SystemTime::UNIX_EPOCH,
                skipping: false,
                closed_as: None,
            });
            t.path = l.path;
            t.live = l.live;
            t.listed_len = l.len;
            t.listed_mtime = l.mtime;
        }
        gz.sort();
        let mut budget = MAX_POLL_BYTES;
        for (_, path) in gz {
            match open_member(&path, &mut self.bounded) {
                Ok(Some(f)) => read_gz(f, &mut self.buf, on_line, &mut stats, &mut self.bounded),
                Ok(None) => {}
                Err(p) => self.problem = Some(p),
            }
        }

        let mut order: Vec<ToRead> = Vec::with_capacity(self.files.len());
        let mut gone: Vec<FileId> = Vec::new();
        for (id, t) in self.files.iter_mut() {
            let listed = seen.contains(id);
            let (len, mtime, links) = match &t.file {
                Some(f) => match fstat(f) {
                    Some((_, len, mtime, links)) => (len, mtime, links),
                    None => {
                        gone.push(*id);
                        continue;
                    }
                },
                // Closed: what the listing said; a closed file that was not
                // listed has no name to open it by.
                None => (t.listed_len, t.listed_mtime, 1),
            };
            if listed {
                t.absent = 0;
            } else {
                t.absent += 1;
                // Deleted, or out of the set for a while: its tail is read one
                // last time below, then it is let go.
                if links == 0 || t.absent >= ABSENT_POLLS {
                    gone.push(*id);
                }
                if t.file.is_none() {
                    continue;
                }
            }
            order.push(ToRead {
                id: *id,
                len,
                mtime,
                known: t.offset > 0 || !t.head.is_empty(),
            });
        }
        // Known files (finishing their tails) before new ones, each group by age.
        order.sort_by_key(|c| (!c.known, c.mtime));
        for c in order {
            let Some(t) = self.files.get_mut(&c.id) else {
                continue;
            };
            let mut len = c.len;
            if t.file.is_none() {
                if t.closed_as == Some((len, c.mtime)) && t.offset == len && !t.skipping {
                    // Read to its end and unchanged since: nothing to open.
                    continue;
                }
                let file = match open_member(&t.path, &mut self.bounded) {
                    Ok(Some(f)) => f,
                    Ok(None) => continue,
                    Err(p) => {
                        self.problem = Some(p);
                        continue;
                    }
                };
                // The name may stand for another file by now: the descriptor decides.
                let Some((id, now_len, _, _)) = fstat(&file) else {
                    continue;
                };
                if id != c.id {
                    continue;
                }
                len = now_len;
                if t.offset > 0 || !t.head.is_empty() {
                    // A closed file met again under its identity: the same
                    // file starts as it did and is no shorter; a new file
                    // that got its inode number is read from its start.
                    let head = read_head(&file);
                    let n = head.len().min(t.head.len());
                    if len < t.offset || head[..n] != t.head[..n] {
                        t.offset = 0;
                        t.head.clear();
                        t.skipping = false;
                    }
                }
                t.file = Some(file);
            }
            let Some(file) = t.file.as_ref() else {
                continue;
            };
            let rewritten = t.offset > 0 && {
                let head = read_head(file);
                let n = head.len().min(t.head.len());
                head[..n] != t.head[..n]
            };
            if len < t.offset || rewritten {
                tracing::info!(file = %t.path.display(), "log truncated: reading it again from the start");
                t.offset = 0;
                t.head.clear();
                t.skipping = false;
                stats.truncations += 1;
            }
            if len != t.offset && budget > 0 {
                let before = stats.bytes;
                match read_from(
                    file,
                    t.offset,
                    budget,
                    &mut t.skipping,
                    &mut self.buf,
                    on_line,
                    &mut stats,
                    &mut self.bounded,
                ) {
                    Ok(n) => t.offset += n,
                    Err(e) => {
                        self.problem =
                            Some(Problem::Unreadable(format!("{}: {e}", t.path.display())));
                    }
                }
                budget = budget.saturating_sub(stats.bytes - before);
            }
            if t.head.len() < HEAD_LEN {
                t.head = read_head(file);
                t.head
                    .truncate(usize::try_from(t.offset).unwrap_or(HEAD_LEN).min(HEAD_LEN));
            }
            // Only the live file keeps its descriptor between polls.
            if !t.live {
                t.closed_as = t
                    .file
                    .take()
                    .as_ref()
                    .and_then(fstat)
                    .map(|(_, len, mtime, _)| (len, mtime));
            }
        }
        for id in gone {
            self.files.remove(&id);
        }
        if self.problem.is_none() && !self.bounded.refused.is_empty() && self.files.is_empty() {
            self.problem = Some(Problem::Unreadable(self.bounded.refused[0].clone()));
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

/// Reads complete lines from `offset` of an open file, at most about
/// `budget` bytes; returns the bytes consumed.
#[allow(clippy::too_many_arguments)]
fn read_from(
    mut file: &File,
    offset: u64,
    budget: u64,
    skipping: &mut bool,
    buf: &mut Vec<u8>,
    on_line: &mut dyn FnMut(&[u8]),
    stats: &mut PollStats,
    bounded: &mut Bounded,
) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    read_lines(
        BufReader::with_capacity(64 * 1024, file),
        budget,
        skipping,
        buf,
        on_line,
        stats,
        bounded,
    )
}

fn read_gz(
    file: File,
    buf: &mut Vec<u8>,
    on_line: &mut dyn FnMut(&[u8]),
    stats: &mut PollStats,
    bounded: &mut Bounded,
) {
    // Bounded on the decompressed side: a small member can inflate to gigabytes.
    let mut dec = flate2::read::MultiGzDecoder::new(file).take(MAX_GZ_BYTES + 1);
    let mut skipping = false;
    let consumed = read_lines(
        BufReader::with_capacity(64 * 1024, &mut dec),
        MAX_GZ_BYTES,
        &mut skipping,
        buf,
        on_line,
        stats,
        bounded,
    )
    .unwrap_or(0);
    if consumed >= MAX_GZ_BYTES || dec.limit() == 0 {
        bounded.gz_cut += 1;
    }
}

/// Hands on each complete line, never holding more than
/// [`MAX_LINE_BYTES`] of one: a longer line is skipped to its newline
/// (`skipping` carries that across polls) and counted. Stops at the first
/// line boundary past `budget` bytes. Returns the bytes consumed: complete
/// lines, and the skipped part of an over-long line; a short line cut off
/// mid-write is left for the next poll.
fn read_lines<R: Read>(
    mut r: BufReader<R>,
    budget: u64,
    skipping: &mut bool,
    buf: &mut Vec<u8>,
    on_line: &mut dyn FnMut(&[u8]),
    stats: &mut PollStats,
    bounded: &mut Bounded,
) -> std::io::Result<u64> {
    let mut consumed = 0u64;
    // Bytes of the line under way (held in `buf`, or skipped).
    let mut partial = 0u64;
    buf.clear();
    loop {
        if consumed + partial >= budget {
            break;
        }
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if consumed == 0 && partial == 0 => return Err(e),
            Err(_) => break,
        };
        if chunk.is_empty() {
            break;
        }
        match memchr::memchr(b'\n', chunk) {
            Some(i) => {
                if *skipping {
                    *skipping = false;
                } else if buf.len() + i > MAX_LINE_BYTES {
                    bounded.long_lines += 1;
                } else {
                    buf.extend_from_slice(&chunk[..i]);
                    let line = buf.strip_suffix(b"\r").unwrap_or(buf);
                    on_line(line);
                    stats.lines += 1;
                }
                let n = partial + i as u64 + 1;
                consumed += n;
                stats.bytes += n;
                partial = 0;
                buf.clear();
                r.consume(i + 1);
            }
            None => {
                let n = chunk.len();
                if !*skipping && buf.len() + n > MAX_LINE_BYTES {
                    *skipping = true;
                    bounded.long_lines += 1;
                    buf.clear();
                }
                if !*skipping {
                    buf.extend_from_slice(chunk);
                }
                partial += n as u64;
                r.consume(n);
            }
        }
    }
    if *skipping {
        // The over-long line's bytes read so far are gone for good: move
        // past them, and skip the rest of it at the next poll.
        consumed += partial;
        stats.bytes += partial;
    }
    buf.clear();
    Ok(consumed)
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

#[cfg(test)]
mod bound_tests {
    //! Every bound of the follower, on more than one input: lines, set size,
    //! descriptors, compressed members, non-regular members.
    use super::*;
    use std::io::Write;

    fn lines(f: &mut LogFollower) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        f.poll(&mut |l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn a_set_of_1100_files_is_read_with_one_descriptor_held() {
        let t = tempfile::tempdir().unwrap();
        for n in 0..1100 {
            std::fs::write(t.path().join(format!("gc.log.{n}")), format!("{n}\n")).unwrap();
        }
        std::fs::write(t.path().join("gc.log"), "live\n").unwrap();
        let mut f = LogFollower::new(t.path().join("gc.log"));
        let got = lines(&mut f);
        // The newest 1001 (the live file first among equals), the rest counted.
        assert_eq!(got.len(), MAX_SET_FILES);
        assert!(f.open_files() <= 1, "{} descriptors held", f.open_files());
        let b = f.take_bounded();
        assert_eq!(b.files_over, 1101 - MAX_SET_FILES);
        // Nothing is read twice, and appends to the live file still come.
        assert!(lines(&mut f).is_empty());
        std::fs::OpenOptions::new()
            .append(true)
            .open(t.path().join("gc.log"))
            .unwrap()
            .write_all(b"more\n")
            .unwrap();
        assert_eq!(lines(&mut f), [b"more".to_vec()]);
        assert!(f.open_files() <= 1);
    }

    #[test]
    fn an_over_long_line_is_skipped_to_its_newline_across_polls() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("gc.log");
        // 3 x the bound without a newline, then the rest of the line later.
        std::fs::write(&p, vec![b'x'; 3 * MAX_LINE_BYTES]).unwrap();
        let mut f = LogFollower::new(&p);
        assert!(lines(&mut f).is_empty());
        assert_eq!(f.take_bounded().long_lines, 1);
        let mut file = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        file.write_all(b"yyy\nnext\n").unwrap();
        assert_eq!(
            lines(&mut f),
            [b"next".to_vec()],
            "the tail of the long line is not a line"
        );
        // A long line between short ones, within one poll.
        let mut text = b"a\n".to_vec();
        text.extend(vec![b'z'; MAX_LINE_BYTES + 1]);
        text.extend(b"\nb\n");
        file.write_all(&text).unwrap();
        let got = lines(&mut f);
        assert!(got == [b"a".to_vec(), b"b".to_vec()], "{} lines", got.len());
        assert_eq!(f.take_bounded().long_lines, 1);
    }

    #[test]
    fn a_gz_member_without_newlines_is_bounded_too() {
        let t = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(t.path().join("gc.log.1.gz")).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&vec![b'q'; 1 << 20]).unwrap();
        gz.write_all(b"\nafter\n").unwrap();
        gz.finish().unwrap();
        std::fs::write(t.path().join("gc.log"), "live\n").unwrap();
        let mut f = LogFollower::new(t.path().join("gc.log"));
        assert_eq!(lines(&mut f), [b"after".to_vec(), b"live".to_vec()]);
        assert_eq!(f.take_bounded().long_lines, 1);
    }

    #[test]
    fn fifos_sockets_and_links_in_the_set_are_refused_without_blocking() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("gc.log"), "live\n").unwrap();
        nix::unistd::mkfifo(
            &t.path().join("gc.log.1"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(t.path().join("gc.log.2")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join("gc.log.3")).unwrap();
        let mut f = LogFollower::new(t.path().join("gc.log"));
        assert_eq!(lines(&mut f), [b"live".to_vec()]);
        let b = f.take_bounded();
        assert_eq!(b.refused_total, 3, "{b:?}");
        let text = b.refused.join("; ");
        for what in ["a FIFO", "a socket", "a symbolic link"] {
            assert!(text.contains(what), "{text}");
        }
        // The live file itself a FIFO: refused, named as the problem.
        let t2 = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(
            &t2.path().join("gc.log"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let mut f = LogFollower::new(t2.path().join("gc.log"));
        assert!(lines(&mut f).is_empty());
        assert!(
            matches!(f.problem(), Some(Problem::Unreadable(w)) if w.contains("FIFO")),
            "{:?}",
            f.problem()
        );
    }

    #[test]
    fn a_poll_reads_at_most_its_budget_and_the_next_goes_on() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("gc.log");
        let line = vec![b'l'; 1023];
        let mut text = Vec::new();
        let n = (MAX_POLL_BYTES / 1024) as usize + 100;
        for _ in 0..n {
            text.extend(&line);
            text.push(b'\n');
        }
        std::fs::write(&p, &text).unwrap();
        let mut f = LogFollower::new(&p);
        let mut count = 0;
        let s = f.poll(&mut |_| count += 1);
        assert!(s.bytes <= MAX_POLL_BYTES + 1024, "{}", s.bytes);
        assert!(count < n);
        f.poll(&mut |_| count += 1);
        assert_eq!(count, n, "the rest at the next poll");
    }
}

#[cfg(test)]
mod rotation_tests {
    //! The JVM's rotation (`filecount=N`): remove `gc.log.K`, rename `gc.log`
    //! to `gc.log.K`, open a new `gc.log` (ext4 often hands it the inode just
    //! freed), with polls landing anywhere in that sequence.
    use super::*;
    use std::collections::HashMap;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    /// A writer behaving like the JVM's file output with `filecount`, `filesize`.
    struct Jvm {
        dir: PathBuf,
        file: std::fs::File,
        written: u64,
        next: u64,
        k: usize,
        count: usize,
        size: u64,
        reused_inodes: u64,
    }

    impl Jvm {
        fn new(dir: &Path, count: usize, size: u64) -> Jvm {
            Jvm {
                dir: dir.to_path_buf(),
                file: std::fs::File::create(dir.join("gc.log")).unwrap(),
                written: 0,
                next: 0,
                k: 0,
                count,
                size,
                reused_inodes: 0,
            }
        }

        /// One log line (about 100 bytes, like a real one); rotates when full.
        fn line(&mut self) {
            let l = format!(
                "[2026-11-25T10:00:00.000+0000][gc,heap        ] GC({:06}) Eden regions: 33->0(33) padding padding\n",
                self.next
            );
            self.file.write_all(l.as_bytes()).unwrap();
            self.next += 1;
            self.written += l.len() as u64;
            if self.written >= self.size {
                self.rotate();
            }
        }

        fn rotate(&mut self) {
            let old = self.dir.join(format!("gc.log.{:02}", self.k));
            let freed = std::fs::metadata(&old).ok().map(|m| m.ino());
            let _ = std::fs::remove_file(&old);
            std::fs::rename(self.dir.join("gc.log"), &old).unwrap();
            self.file = std::fs::File::create(self.dir.join("gc.log")).unwrap();
            if freed == Some(self.file.metadata().unwrap().ino()) {
                self.reused_inodes += 1;
            }
            self.written = 0;
            self.k = (self.k + 1) % self.count;
        }
    }

    fn ids(seen: &[String]) -> HashMap<u64, u32> {
        let mut n = HashMap::new();
        for l in seen {
            let id = l.split("GC(").nth(1).unwrap()[..6].parse().unwrap();
            *n.entry(id).or_default() += 1;
        }
        n
    }

    fn check_once(seen: &[String], written: u64) {
        let n = ids(seen);
        let twice: Vec<_> = n.iter().filter(|(_, c)| **c > 1).collect();
        assert!(
            twice.is_empty(),
            "{} of {written} lines delivered more than once, e.g. {:?}",
            twice.len(),
            twice.iter().take(5).collect::<Vec<_>>()
        );
        let lost: Vec<u64> = (0..written).filter(|i| !n.contains_key(i)).collect();
        assert!(
            lost.is_empty(),
            "{} of {written} lines never delivered: {:?}...",
            lost.len(),
            &lost[..lost.len().min(40)]
        );
    }

    #[test]
    fn a_wrapping_set_with_reused_inodes_delivers_every_line_once() {
        let t = tempfile::tempdir().unwrap();
        let mut jvm = Jvm::new(t.path(), 4, 2_000);
        let mut f = LogFollower::new(t.path().join("gc.log"));
        let mut seen = Vec::new();
        // Polls every 7 lines: some land just after a rotation, some mid-file;
        // the 4-file set (about 80 lines) wraps many times over.
        for i in 0..2_000 {
            jvm.line();
            if i % 7 == 0 {
                f.poll(&mut |l| seen.push(String::from_utf8_lossy(l).into_owned()));
            }
        }
        f.poll(&mut |l| seen.push(String::from_utf8_lossy(l).into_owned()));
        eprintln!("inodes reused at once: {}", jvm.reused_inodes);
        check_once(&seen, jvm.next);
    }

    #[test]
    fn a_set_rotating_while_it_is_read_delivers_every_line_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::time::{Duration, Instant};
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().to_path_buf();
        let done = Arc::new(AtomicBool::new(false));
        let polls = Arc::new(AtomicU64::new(0));
        let writer = {
            let (done, polls) = (done.clone(), polls.clone());
            std::thread::spawn(move || {
                let mut jvm = Jvm::new(&dir, 20, 3_000);
                let mut mark = 0;
                let deadline = Instant::now() + Duration::from_secs(60);
                for i in 0..30_000u64 {
                    jvm.line();
                    // Every 5 rotations wait for a poll that started after the last
                    // wait, so (at most 10 rotations between two listings)
                    // nothing is deleted unread however busy the machine is:
                    // any loss or repeat is then the follower's.
                    if i % 150 == 149 {
                        while polls.load(Ordering::SeqCst) < mark + 2 && Instant::now() < deadline {
                            std::thread::sleep(Duration::from_micros(100));
                        }
                        mark = polls.load(Ordering::SeqCst);
                    }
                }
                done.store(true, Ordering::SeqCst);
                (jvm.next, jvm.reused_inodes)
            })
        };
        let mut f = LogFollower::new(t.path().join("gc.log"));
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "writer stuck");
            f.poll(&mut |l| seen.push(String::from_utf8_lossy(l).into_owned()));
            polls.fetch_add(1, Ordering::SeqCst);
        }
        let (written, reused) = writer.join().unwrap();
        f.poll(&mut |l| seen.push(String::from_utf8_lossy(l).into_owned()));
        eprintln!("inodes reused at once: {reused}");
        check_once(&seen, written);
    }
}
