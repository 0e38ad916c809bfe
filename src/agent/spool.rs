//! The spool: every report is a file until the collector acknowledged it.
//! Written by temp file + fsync + rename, so a crash (even SIGKILL mid-write)
//! leaves either the whole report or nothing; deleted only after a 2xx;
//! bounded by bytes and count, dropping the oldest when full.

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
}

/// A bounded directory of pending reports, oldest first by file name.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    max_reports: usize,
    dropped: u64,
    seq: u64,
}

const SUFFIX: &str = ".json.gz";
const REJECTED: &str = "rejected";
const REJECTED_KEEP: usize = 100;

impl Spool {
    /// Opens (creating) the spool directory and removes temp files a crash left behind.
    pub fn open(dir: &Path, max_bytes: u64, max_reports: usize) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir).map_err(err(dir))?;
        for e in std::fs::read_dir(dir).map_err(err(dir))?.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            max_reports: max_reports.max(1),
            dropped: 0,
            seq: 0,
        })
    }

    /// Reports dropped because the spool was full, since it was opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Pending reports, oldest first.
    pub fn entries(&self) -> Result<Vec<Entry>, SpoolError> {
        let mut out: Vec<Entry> = std::fs::read_dir(&self.dir)
            .map_err(err(&self.dir))?
            .flatten()
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.ends_with(SUFFIX) && !n.starts_with('.')
            })
            .filter_map(|e| {
                let bytes = e.metadata().ok()?.len();
                Some(Entry {
                    path: e.path(),
                    bytes,
                })
            })
            .collect();
        out.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        Ok(out)
    }

    /// Adds a report (already gzipped) durably, then enforces the bounds.
    /// `id` must be unique; the name orders entries by time of creation.
    pub fn push(&mut self, id: &str, gz: &[u8]) -> Result<Entry, SpoolError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        self.seq += 1;
        let name = format!("{now:020}-{:06}-{id}{SUFFIX}", self.seq % 1_000_000);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".tmp-{name}"));
        {
            let mut f = std::fs::File::create(&tmp).map_err(err(&tmp))?;
            f.write_all(gz).map_err(err(&tmp))?;
            f.sync_all().map_err(err(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(err(&path))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err(&self.dir))?;
        self.enforce_bounds()?;
        Ok(Entry {
            path,
            bytes: gz.len() as u64,
        })
    }

    fn enforce_bounds(&mut self) -> Result<(), SpoolError> {
        let entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        let mut count = entries.len();
        for e in &entries {
            if total <= self.max_bytes && count <= self.max_reports {
                break;
            }
            // Never drop the newest report: it is the one that describes now.
            if count == 1 {
                break;
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

    /// Reads a pending report's bytes.
    pub fn read(&self, entry: &Entry) -> Result<Vec<u8>, SpoolError> {
        std::fs::read(&entry.path).map_err(err(&entry.path))
    }

    /// Removes a report the collector acknowledged.
    pub fn remove(&self, entry: &Entry) -> Result<(), SpoolError> {
        match std::fs::remove_file(&entry.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(&entry.path)(e)),
        }
    }

    /// Moves a report the collector refused for good (400/401/403/413/422)
    /// aside, keeping the newest few for inspection.
    pub fn set_aside(&self, entry: &Entry) -> Result<PathBuf, SpoolError> {
        let dir = self.dir.join(REJECTED);
        std::fs::create_dir_all(&dir).map_err(err(&dir))?;
        let to = dir.join(entry.path.file_name().unwrap_or_default());
        std::fs::rename(&entry.path, &to).map_err(err(&to))?;
        let mut kept: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(err(&dir))?
            .flatten()
            .map(|e| e.path())
            .collect();
        kept.sort();
        let excess = kept.len().saturating_sub(REJECTED_KEEP);
        for old in &kept[..excess] {
            let _ = std::fs::remove_file(old);
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_bytes_dropping_the_oldest() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Spool::open(t.path(), 1000, 3).unwrap();
        for i in 0..5 {
            s.push(&format!("id{i}"), &[b'x'; 100]).unwrap();
        }
        let names: Vec<String> = s
            .entries()
            .unwrap()
            .iter()
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
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
