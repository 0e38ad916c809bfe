//! The spool: every report is a file until the collector acknowledged it.
//! Written by temp file + fsync + rename, so a crash (even SIGKILL mid-write)
//! leaves either the whole report or nothing; deleted only after a 2xx;
//! bounded by bytes and count, dropping the oldest when full.
//!
//! Order is a sequence number in the file name (`SEQ-ID.json.gz`, SEQ 20
//! digits), never the wall clock: after the clock steps back, a new report
//! must still sort newest. The sequence continues after a restart from the
//! highest number present (in the spool or set aside), so names written by
//! earlier versions (`NANOS-COUNTER-ID.json.gz`) still sort before new ones.

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A spool operation that failed, naming the file.
#[derive(Debug, Error)]
#[error("spool {}: {source}", path.display())]
pub struct SpoolError {
    /// The file or directory.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

impl SpoolError {
    /// Whether the file system (or the quota) is full: dropping reports
    /// makes room, unlike for other errors.
    pub fn is_full(&self) -> bool {
        use nix::errno::Errno;
        self.source
            .raw_os_error()
            .is_some_and(|c| c == Errno::ENOSPC as i32 || c == Errno::EDQUOT as i32)
    }

    /// Whether the file was gone (delivered or dropped meanwhile).
    pub fn is_gone(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::NotFound
    }
}

fn err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError {
        path: path.to_path_buf(),
        source,
    }
}

/// One spooled report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its place in the spool's order (the leading number of its name).
    pub seq: u64,
}

/// A bounded directory of pending reports, oldest first by sequence number.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    max_reports: usize,
    dropped: u64,
    seq: u64,
    /// The entry being sent: never dropped to make room, or the drop would be
    /// counted for a report the collector may be acknowledging.
    in_flight: Option<PathBuf>,
}

const SUFFIX: &str = ".json.gz";
/// Where refused and unreadable entries are set aside.
pub const REJECTED: &str = "rejected";
const REJECTED_KEEP: usize = 100;
/// The largest entry read back: the collector's own ceiling on a body
/// (`--max-body-bytes` at most 256 MiB); a larger entry cannot be a report
/// and is set aside unread.
pub const MAX_ENTRY_BYTES: u64 = crate::collector::MAX_MAX_BODY_BYTES as u64;

/// The leading number of a spool file name, if it has one.
fn seq_of(name: &str) -> Option<u64> {
    let digits = name.split('-').next()?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The highest sequence number among the spool names in `dir`.
fn highest_seq(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.ends_with(SUFFIX).then(|| seq_of(&n)).flatten()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

impl Spool {
    /// Opens (creating) the spool directory, removes temp files a crash left
    /// behind, checks that it can write there, and continues the sequence
    /// from the highest number present.
    pub fn open(dir: &Path, max_bytes: u64, max_reports: usize) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir).map_err(err(dir))?;
        for e in std::fs::read_dir(dir).map_err(err(dir))?.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        // A spool the agent cannot write is a setup error, found at start;
        // a full one is not (an empty file needs no data blocks anyway).
        let probe = dir.join(".tmp-probe");
        match std::fs::File::create(&probe) {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) => {
                let e = err(&probe)(e);
                if !e.is_full() {
                    return Err(e);
                }
            }
        }
        let seq = highest_seq(dir).max(highest_seq(&dir.join(REJECTED)));
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            max_reports: max_reports.max(1),
            dropped: 0,
            seq,
            in_flight: None,
        })
    }

    /// Reports dropped (spool full, file system full) since it was opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Pending entries, oldest first. Anything named like a report is
    /// listed, readable or not: the sender says what it cannot read.
    pub fn entries(&self) -> Result<Vec<Entry>, SpoolError> {
        let mut out: Vec<Entry> = std::fs::read_dir(&self.dir)
            .map_err(err(&self.dir))?
            .flatten()
            .filter_map(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                if !n.ends_with(SUFFIX) || n.starts_with('.') {
                    return None;
                }
                let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
                Some(Entry {
                    seq: seq_of(&n).unwrap_or(0),
                    path: e.path(),
                    bytes,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.seq, a.path.file_name()).cmp(&(b.seq, b.path.file_name())));
        Ok(out)
    }

    /// Adds a report (already gzipped) durably, then enforces the bounds.
    /// `id` must be unique. On a full file system nothing is left behind
    /// and the error says so ([`SpoolError::is_full`]).
    pub fn push(&mut self, id: &str, gz: &[u8]) -> Result<Entry, SpoolError> {
        let seq = self.seq.saturating_add(1);
        let name = format!("{seq:020}-{id}{SUFFIX}");
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".tmp-{name}"));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(gz)?;
                f.sync_all()
            })
            .map_err(err(&tmp));
        if let Err(e) = written {
            // A half-written temp file would only hold on to the space.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(&path)(e));
        }
        self.seq = seq;
        crate::file_kind::sync_dir(&self.dir).map_err(err(&self.dir))?;
        self.enforce_bounds()?;
        Ok(Entry {
            path,
            bytes: gz.len() as u64,
            seq,
        })
    }

    fn enforce_bounds(&mut self) -> Result<(), SpoolError> {
        let entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        let mut count = entries.len();
        // Never the newest report: it is the one that describes now.
        let Some((_, older)) = entries.split_last() else {
            return Ok(());
        };
        for e in older {
            if total <= self.max_bytes && count <= self.max_reports {
                break;
            }
            if self.in_flight.as_ref() == Some(&e.path) {
                continue;
            }
            match std::fs::remove_file(&e.path) {
                Ok(()) => {
                    self.dropped += 1;
                    tracing::warn!(file = %e.path.display(), "spool full: dropped the oldest report");
                }
                Err(e2) if e2.kind() == std::io::ErrorKind::NotFound => {}
                Err(e2) => return Err(err(&e.path)(e2)),
            }
            total -= e.bytes;
            count -= 1;
        }
        Ok(())
    }

    /// Drops the oldest report (not the one being sent) to make room on a
    /// full file system, counting it. `None` when there is nothing to drop.
    pub fn drop_oldest(&mut self) -> Result<Option<PathBuf>, SpoolError> {
        for e in self.entries()? {
            if self.in_flight.as_ref() == Some(&e.path) {
                continue;
            }
            match std::fs::remove_file(&e.path) {
                Ok(()) => {
                    self.dropped += 1;
                    return Ok(Some(e.path));
                }
                Err(e2) if e2.kind() == std::io::ErrorKind::NotFound => {}
                // Not a file (a directory named like one): the sender sets
                // those aside; look further.
                Err(e2) if e2.kind() == std::io::ErrorKind::IsADirectory => {}
                Err(e2) => return Err(err(&e.path)(e2)),
            }
        }
        Ok(None)
    }

    /// Counts a report that could not be spooled at all.
    pub fn count_lost(&mut self) {
        self.dropped += 1;
    }

    /// Marks the entry being sent (or none), so it is not dropped meanwhile.
    pub fn set_in_flight(&mut self, path: Option<PathBuf>) {
        self.in_flight = path;
    }

    /// Reads a pending report's bytes.
    /// Through the one open for foreign files: an entry that is not a
    /// regular file (a FIFO or a link planted in the spool) is refused
    /// without blocking, and none is read past [`MAX_ENTRY_BYTES`].
    pub fn read(&self, entry: &Entry) -> Result<Vec<u8>, SpoolError> {
        use crate::file_kind::{Links, open_regular, read_all_bounded};
        open_regular(&entry.path, Links::Refuse)
            .and_then(|f| read_all_bounded(f, MAX_ENTRY_BYTES))
            .map_err(|e| err(&entry.path)(e.into_io()))
    }

    /// Removes a report the collector acknowledged.
    pub fn remove(&self, entry: &Entry) -> Result<(), SpoolError> {
        match std::fs::remove_file(&entry.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(&entry.path)(e)),
        }
    }

    /// Moves an entry the collector refused for good (a 4xx about the report),
    /// or one that cannot be read, aside into `rejected/`, keeping the
    /// newest few for inspection.
    pub fn set_aside(&self, entry: &Entry) -> Result<PathBuf, SpoolError> {
        let dir = self.dir.join(REJECTED);
        std::fs::create_dir_all(&dir).map_err(err(&dir))?;
        let to = dir.join(entry.path.file_name().unwrap_or_default());
        std::fs::rename(&entry.path, &to).map_err(err(&to))?;
        let mut kept: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
            .map_err(err(&dir))?
            .flatten()
            .map(|e| {
                let seq = seq_of(&e.file_name().to_string_lossy()).unwrap_or(0);
                (seq, e.path())
            })
            .collect();
        kept.sort();
        let excess = kept.len().saturating_sub(REJECTED_KEEP);
        for (_, old) in &kept[..excess] {
            if std::fs::remove_file(old).is_err() {
                let _ = std::fs::remove_dir_all(old);
            }
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Spool) -> Vec<String> {
        s.entries()
            .unwrap()
            .iter()
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn bounded_by_count_and_bytes_dropping_the_oldest() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Spool::open(t.path(), 1000, 3).unwrap();
        for i in 0..5 {
            s.push(&format!("id{i}"), &[b'x'; 100]).unwrap();
        }
        let names = names(&s);
        assert_eq!(names.len(), 3);
        assert!(
            names[0].contains("id2") && names[2].contains("id4"),
            "{names:?}"
        );
        assert_eq!(s.dropped(), 2);

        let mut s = Spool::open(t.path(), 250, 100).unwrap();
        s.push("big", &[b'y'; 200]).unwrap();
        assert_eq!(
            s.entries().unwrap().len(),
            1,
            "byte bound keeps only the newest"
        );
        assert_eq!(s.dropped(), 3);
    }

    #[test]
    fn the_sequence_continues_after_a_restart_and_past_old_names() {
        let t = tempfile::tempdir().unwrap();
        // A name from before sequence numbers: nanoseconds first.
        std::fs::write(
            t.path().join("01800000000000000000-000001-old.json.gz"),
            b"x",
        )
        .unwrap();
        let mut s = Spool::open(t.path(), 1 << 20, 100).unwrap();
        let a = s.push("a", b"a").unwrap();
        assert_eq!(a.seq, 1_800_000_000_000_000_001);
        drop(s);
        let mut s = Spool::open(t.path(), 1 << 20, 100).unwrap();
        let b = s.push("b", b"b").unwrap();
        assert_eq!(b.seq, a.seq + 1);
        let n = names(&s);
        assert!(
            n[0].ends_with("-old.json.gz") && n[2].ends_with("-b.json.gz"),
            "{n:?}"
        );
        // Set aside entries count too: a refused report is not renumbered under.
        s.set_aside(&s.entries().unwrap()[2]).unwrap();
        s.set_aside(&s.entries().unwrap()[1]).unwrap();
        drop(s);
        let mut s = Spool::open(t.path(), 1 << 20, 100).unwrap();
        assert_eq!(s.push("c", b"c").unwrap().seq, b.seq + 1);
    }

    #[test]
    fn dropping_for_space_skips_the_entry_in_flight() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Spool::open(t.path(), 1 << 20, 100).unwrap();
        let a = s.push("a", b"a").unwrap();
        let b = s.push("b", b"b").unwrap();
        s.set_in_flight(Some(a.path.clone()));
        assert_eq!(s.drop_oldest().unwrap(), Some(b.path));
        assert_eq!(s.drop_oldest().unwrap(), None);
        assert_eq!(s.dropped(), 1);
        s.set_in_flight(None);
        assert_eq!(s.drop_oldest().unwrap(), Some(a.path));
    }

    #[test]
    fn crash_leftovers_are_cleaned_and_rejected_set_aside() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(".tmp-half"), b"partial").unwrap();
        let mut s = Spool::open(t.path(), 1 << 20, 10).unwrap();
        assert!(!t.path().join(".tmp-half").exists());
        let e = s.push("a", b"data").unwrap();
        assert_eq!(s.read(&e).unwrap(), b"data");
        let aside = s.set_aside(&e).unwrap();
        assert!(aside.exists() && s.entries().unwrap().is_empty());
    }
}
