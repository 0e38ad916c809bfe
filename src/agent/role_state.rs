//! The roles the agent expects, kept across its restarts: a role seen
//! running once must read "stopped" after a reboot that did not bring it
//! back, not vanish from the report. One small JSON file in the agent's
//! own state directory (`STATE_DIR/agent/roles.json`, where the packaged,
//! unprivileged agent may write), written by temp file + fsync + rename
//! (as the spool is) only when the set or a role's state changes.
//!
//! The file is input like any other: opened without blocking and without
//! following a last-component link, checked on its descriptor, bounded in
//! size; a file that cannot be used is reported and treated as empty,
//! never a reason for the agent to stop.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::file_kind::{Links, SmallFileError, open_regular, read_all_bounded};
use crate::kafka::HostRole;

/// The largest file read: three roles take a few hundred bytes.
pub const MAX_BYTES: u64 = 64 << 10;

/// The format written (`version` in the file).
const VERSION: u32 = 1;

/// Unknown role names named one by one in the journal; past that, counted.
const NAMED_UNKNOWN: usize = 5;

/// Where the file lives under the agent's `state_dir`: its `agent`
/// subdirectory, the one the packages give the agent's user (the state
/// directory itself is root's, for apply's rollback journal).
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("agent").join("roles.json")
}

/// One role remembered: when it was seen running, and since when it is
/// missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The role.
    pub role: HostRole,
    /// When the agent first saw one of its processes run (RFC 3339).
    pub first_seen: String,
    /// The last time it was seen running, as of the file's last write.
    pub last_seen: String,
    /// Since when none of its processes runs (RFC 3339); `None`: running.
    pub missing_since: Option<String>,
}

/// The file as written.
#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    roles: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    role: String,
    first_seen: String,
    last_seen: String,
    #[serde(default)]
    missing_since: Option<String>,
}

/// Why the file could not be used.
#[derive(Debug, Error)]
pub enum RoleStateError {
    /// It could not be opened or read (not a regular file, a link, too
    /// large, permission denied).
    #[error("{}: cannot be read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: SmallFileError,
    },
    /// It was read but is not what the agent writes.
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (escaped).
        message: String,
    },
    /// It could not be written.
    #[error("{}: cannot be written: {source}", path.display())]
    Write {
        /// The file (or its directory, or the temp file).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Parses an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Reads the file. No file is an empty set; unknown role names are left
/// out (each logged, at most a few by name); a second entry for a role is
/// left out too. Anything else wrong is an error naming the file.
pub fn load(path: &Path) -> Result<Vec<Remembered>, RoleStateError> {
    let read_err = |source| RoleStateError::Read {
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |message: String| RoleStateError::Corrupt {
        path: path.to_path_buf(),
        message: crate::present::terminal::text(&message).into_owned(),
    };
    let file = match open_regular(path, Links::Refuse) {
        Ok(f) => f,
        Err(SmallFileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(read_err(e)),
    };
    let bytes = read_all_bounded(file, MAX_BYTES).map_err(read_err)?;
    let parsed: File = serde_json::from_slice(&bytes)
        .map_err(|e| corrupt(format!("not the agent's roles file: {e}")))?;
    if parsed.version != VERSION {
        return Err(corrupt(format!(
            "version {} (this agent reads version {VERSION}: was it written by a newer tunekeeper?)",
            parsed.version
        )));
    }
    let mut out: Vec<Remembered> = Vec::new();
    let mut unknown = 0usize;
    for (i, e) in parsed.roles.into_iter().enumerate() {
        let Some(role) = HostRole::ALL.into_iter().find(|r| r.name() == e.role) else {
            unknown += 1;
            if unknown <= NAMED_UNKNOWN {
                let name: String = e.role.chars().take(64).collect();
                tracing::warn!(file = %path.display(), role = %crate::present::terminal::text(&name),
                    "the roles file names a role this agent does not know: ignored");
            }
            continue;
        };
        for (what, t) in [
            ("first_seen", Some(&e.first_seen)),
            ("last_seen", Some(&e.last_seen)),
            ("missing_since", e.missing_since.as_ref()),
        ] {
            if let Some(t) = t
                && parse_time(t).is_none()
            {
                let t: String = t.chars().take(64).collect();
                return Err(corrupt(format!(
                    "roles[{i}] ({role}): `{what}` {t:?} is not an RFC 3339 time"
                )));
            }
        }
        if out.iter().any(|r| r.role == role) {
            tracing::warn!(file = %path.display(), role = %role,
                "the roles file names this role twice: the first entry is used");
            continue;
        }
        out.push(Remembered {
            role,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            missing_since: e.missing_since,
        });
    }
    if unknown > NAMED_UNKNOWN {
        tracing::warn!(file = %path.display(), unknown,
            "the roles file names {unknown} roles this agent does not know: all ignored");
    }
    Ok(out)
}

/// Writes the set durably: a temp file beside it (mode 0600, never
/// through a link), fsync, rename over the file, fsync of the directory.
/// A crash leaves the old file or the new one. The directory is created
/// (0750) when missing.
pub fn save(path: &Path, roles: &[Remembered]) -> Result<(), RoleStateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let werr = |p: &Path| {
        let p = p.to_path_buf();
        move |source| RoleStateError::Write { path: p, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(werr(dir))?;
    let file = File {
        version: VERSION,
        roles: roles
            .iter()
            .map(|r| Entry {
                role: r.role.name().to_owned(),
                first_seen: r.first_seen.clone(),
                last_seen: r.last_seen.clone(),
                missing_since: r.missing_since.clone(),
            })
            .collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).expect("the roles file always serialises");
    bytes.push(b'\n');
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("roles.json");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    // A leftover of a crash (or anything planted under the name) goes first:
    // the temp file is created new, never opened through what was there.
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&bytes)?;
            f.sync_all()
        })
        .map_err(werr(&tmp));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(werr(path)(e));
    }
    crate::file_kind::sync_dir(dir).map_err(werr(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zk(missing: Option<&str>) -> Remembered {
        Remembered {
            role: HostRole::Zookeeper,
            first_seen: "2026-12-01T10:00:00Z".into(),
            last_seen: "2026-12-05T09:59:00Z".into(),
            missing_since: missing.map(str::to_owned),
        }
    }

    #[test]
    fn round_trip_and_no_file_is_empty() {
        let t = tempfile::tempdir().unwrap();
        let p = path(&t.path().join("state"));
        assert_eq!(load(&p).unwrap(), vec![]);
        let roles = vec![
            Remembered {
                role: HostRole::Broker,
                first_seen: "2026-12-01T10:00:00Z".into(),
                last_seen: "2026-12-01T10:00:00Z".into(),
                missing_since: None,
            },
            zk(Some("2026-12-05T10:00:00Z")),
        ];
        save(&p, &roles).unwrap();
        assert_eq!(load(&p).unwrap(), roles);
        // Replaced whole; no temp file left behind; only the agent reads it.
        save(&p, &roles[1..]).unwrap();
        assert_eq!(load(&p).unwrap(), roles[1..]);
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["roles.json"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(p.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o027, 0, "{dir_mode:o}");
    }

    #[test]
    fn unknown_and_repeated_roles_are_left_out() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("roles.json");
        std::fs::write(
            &p,
            r#"{"version":1,"roles":[
              {"role":"kafka-connect\u001b[2J","first_seen":"2026-12-01T10:00:00Z","last_seen":"2026-12-01T10:00:00Z"},
              {"role":"zookeeper","first_seen":"2026-12-01T10:00:00Z","last_seen":"2026-12-05T09:59:00Z","missing_since":"2026-12-05T10:00:00Z"},
              {"role":"zookeeper","first_seen":"2026-11-01T10:00:00Z","last_seen":"2026-11-01T10:00:00Z"}
            ],"written_by":"a newer field"}"#,
        )
        .unwrap();
        assert_eq!(load(&p).unwrap(), vec![zk(Some("2026-12-05T10:00:00Z"))]);
    }

    #[test]
    fn what_is_not_the_file_is_an_error_naming_it() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("roles.json");
        let refused = |content: &[u8]| {
            std::fs::write(&p, content).unwrap();
            load(&p).unwrap_err().to_string()
        };
        let e = refused(b"{\"version\":1,\"roles\":[");
        assert!(
            e.starts_with(&p.display().to_string()) && e.contains("not the agent's roles file"),
            "{e}"
        );
        let e = refused(br#"{"version":2,"roles":[]}"#);
        assert!(e.contains("version 2"), "{e}");
        let e = refused(
            br#"{"version":1,"roles":[{"role":"zookeeper","first_seen":"yesterday\u001b","last_seen":"2026-12-01T10:00:00Z"}]}"#,
        );
        assert!(e.contains("`first_seen`") && !e.contains('\u{1b}'), "{e}");
        let e = refused(&vec![b' '; MAX_BYTES as usize + 1]);
        assert!(e.contains("more than 65536"), "{e}");
        // A link is refused, whatever it points at.
        std::fs::remove_file(&p).unwrap();
        let target = t.path().join("elsewhere.json");
        save(&target, &[zk(None)]).unwrap();
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("a symbolic link"), "{e}");
        // ...and replaced, not written through, by the next save.
        save(&p, &[]).unwrap();
        assert_eq!(load(&target).unwrap(), vec![zk(None)]);
        assert_eq!(load(&p).unwrap(), vec![]);
    }
}
