//! Turning a request body into a [`Submission`]: decompression with a bound
//! on the decompressed size (a small gzip body can inflate to gigabytes),
//! then the bounds of its shape on the bytes ([`super::shape`]), then
//! parsing and the bounds of named fields. Every rejection maps to one HTTP
//! status; a report past a bound is refused before any work is done on it,
//! the same whichever backend stores it. The bounds: [`crate::collector::limits`].

use std::io::Read;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::shape;
use crate::collector::limits::{
    Bound, INTERVAL_SECONDS, MAX_CLUSTER_BYTES, MAX_FINDINGS, MAX_GC_LOGS, MAX_HARDWARE_ITEMS,
    MAX_JVM_FINDINGS, MAX_JVM_FLAGS, MAX_JVMS, MAX_MACHINE_ID_BYTES,
};
pub use crate::collector::limits::{MAX_COUNT, MAX_HOSTNAME_BYTES, MAX_ID_BYTES, MAX_LABEL_BYTES};
use crate::collector::storage::health::Derived;
use crate::collector::storage::report::Submission;
use crate::report::{Report, SCHEMA_VERSION};

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Larger than the limit, compressed or decompressed (413).
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A `Content-Encoding` other than gzip or identity (415).
    #[error("unsupported Content-Encoding {0:?} (use gzip or none)")]
    Encoding(String),
    /// Not a valid report (400).
    #[error("malformed report: {0}")]
    Malformed(String),
    /// Well-formed, but past a bound (422): a host name that is not one,
    /// a count beyond any real figure, a text too long, a NUL, JSON nested
    /// too deep, too many JVMs...
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as a JSON path.
        field: String,
        /// What is wrong with it, naming the bound.
        reason: String,
        /// The bound (the `limit` it is counted under).
        limit: Bound,
    },
    /// A schema version this collector does not know (422).
    #[error("unknown schema version {found} (this collector reads {SCHEMA_VERSION})")]
    UnknownSchema {
        /// The version in the document.
        found: u64,
    },
}

impl Rejection {
    /// The HTTP status for this rejection.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::TooLarge { .. } => 413,
            Rejection::Encoding(_) => 415,
            Rejection::Malformed(_) => 400,
            Rejection::UnknownSchema { .. } | Rejection::Invalid { .. } => 422,
        }
    }

    /// The bound the body went past, if that is why it was refused.
    pub fn bound(&self) -> Option<Bound> {
        match self {
            Rejection::TooLarge { .. } => Some(Bound::BodyBytes),
            Rejection::Invalid { limit, .. } => Some(*limit),
            _ => None,
        }
    }
}

fn invalid(field: impl Into<String>, limit: Bound, reason: String) -> Rejection {
    Rejection::Invalid {
        field: field.into(),
        reason,
        limit,
    }
}

/// Undoes `Content-Encoding`, refusing output beyond `limit` bytes.
pub fn decode(raw: &[u8], encoding: Option<&str>, limit: usize) -> Result<Vec<u8>, Rejection> {
    match encoding.map(str::trim) {
        None | Some("") => Ok(raw.to_vec()),
        Some(e) if e.eq_ignore_ascii_case("identity") => Ok(raw.to_vec()),
        Some(e) if e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip") => {
            let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
            // Read one byte past the limit: getting it proves the body is too large
            // without ever inflating more than limit + 1 bytes.
            let read = flate2::read::MultiGzDecoder::new(raw)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Rejection::Malformed(format!("gzip: {e}")))?;
            if read > limit {
                return Err(Rejection::TooLarge { limit });
            }
            Ok(out)
        }
        Some(other) => Err(Rejection::Encoding(other.to_owned())),
    }
}

#[derive(Deserialize)]
struct SchemaProbe {
    schema: Option<u64>,
}

/// Validates a decoded body and prepares it for storage.
pub fn validate(body: Vec<u8>, received_ms: i64) -> Result<Submission, Rejection> {
    let text = String::from_utf8(body).map_err(|_| Rejection::Malformed("not UTF-8".into()))?;
    // The shape first, on the bytes: nothing is parsed past a bound.
    shape::check(text.as_bytes()).map_err(|v| invalid(v.field, v.bound, v.reason))?;
    let report: Report = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            // A document of another version may not fit this version's shape:
            // say "unknown schema" (422) rather than "malformed" when that is why.
            if let Ok(SchemaProbe { schema: Some(v) }) = serde_json::from_str(&text)
                && v != u64::from(SCHEMA_VERSION)
            {
                return Err(Rejection::UnknownSchema { found: v });
            }
            return Err(Rejection::Malformed(e.to_string()));
        }
    };
    if report.schema != SCHEMA_VERSION {
        return Err(Rejection::UnknownSchema {
            found: u64::from(report.schema),
        });
    }
    check_fields(&report)?;
    let time = OffsetDateTime::parse(&report.time, &Rfc3339)
        .map_err(|e| Rejection::Malformed(format!("time {:?}: {e}", report.time)))?;
    let time_ms = i64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| Rejection::Malformed("time out of range".into()))?;
    Ok(Submission {
        derived: Derived::of(&report),
        id: report.id,
        hostname: report.host.hostname,
        time_ms,
        time_text: report.time,
        received_ms,
        interval_seconds: report.interval_seconds,
        profile: report.profile,
        packed: crate::collector::storage::compact::pack(&text),
        body: text,
    })
}

/// The bounds of named fields, on the parsed report.
fn check_fields(report: &Report) -> Result<(), Rejection> {
    // Empty is malformed (400); too long, or not a host name, is
    // well-formed JSON past a bound (422).
    for (field, value) in [("id", &report.id), ("host.hostname", &report.host.hostname)] {
        if value.is_empty() {
            return Err(Rejection::Malformed(format!("{field} is empty")));
        }
    }
    if report.id.len() > MAX_ID_BYTES {
        return Err(invalid(
            "id",
            Bound::Id,
            format!(
                "{} bytes, longer than the bound of {MAX_ID_BYTES}",
                report.id.len()
            ),
        ));
    }
    check_hostname(&report.host.hostname)
        .map_err(|reason| invalid("host.hostname", Bound::Hostname, reason))?;
    if let Some(m) = &report.host.machine_id
        && !is_machine_id(m)
    {
        return Err(invalid(
            "host.machine_id",
            Bound::MachineId,
            format!(
                "{} bytes: not a machine id (1 to {MAX_MACHINE_ID_BYTES} of A-Z a-z 0-9 - _ .)",
                m.len()
            ),
        ));
    }
    if let Some(c) = &report.cluster
        && c.name.len() > MAX_CLUSTER_BYTES
    {
        return Err(invalid(
            "cluster.name",
            Bound::Cluster,
            format!(
                "{} bytes, longer than the bound of {MAX_CLUSTER_BYTES} (the agent's bound on `cluster`)",
                c.name.len()
            ),
        ));
    }
    let (lo, hi) = INTERVAL_SECONDS;
    if !(lo..=hi).contains(&report.interval_seconds) {
        return Err(invalid(
            "interval_seconds",
            Bound::IntervalSeconds,
            format!(
                "{} is outside {lo} to {hi} (the agent's `interval` range)",
                report.interval_seconds
            ),
        ));
    }
    count(
        "findings",
        report.findings.len(),
        MAX_FINDINGS,
        Bound::Findings,
    )?;
    count("jvms", report.jvms.len(), MAX_JVMS, Bound::Jvms)?;
    for (i, jvm) in report.jvms.iter().enumerate() {
        let at = |f: &str| format!("jvms[{i}].{f}");
        count(
            at("findings"),
            jvm.findings.len(),
            MAX_JVM_FINDINGS,
            Bound::JvmFindings,
        )?;
        count(at("flags"), jvm.flags.len(), MAX_JVM_FLAGS, Bound::JvmFlags)?;
        count(at("gc_logs"), jvm.gc_logs.len(), MAX_GC_LOGS, Bound::GcLogs)?;
        // The full GCs the host's figures sum: the log's, or the counters'
        // of a JVM whose log was not read.
        let counted_full = jvm
            .counters
            .as_ref()
            .and_then(|c| c.interval.as_ref())
            .and_then(|w| w.pauses.get("full"))
            .map(|p| ("counters.interval.pauses.full.count", p.count));
        let logged_full = jvm
            .gc
            .as_ref()
            .map(|g| ("gc.interval.full_gcs", g.interval.full_gcs));
        for (field, n) in [logged_full, counted_full].into_iter().flatten() {
            if n > MAX_COUNT {
                return Err(invalid(
                    at(field),
                    Bound::Count,
                    format!("{n} is beyond any real count (at most {MAX_COUNT})"),
                ));
            }
        }
    }
    if let Some(h) = &report.hardware {
        let max = MAX_HARDWARE_ITEMS;
        count("hardware.network", h.network.len(), max, Bound::Hardware)?;
        count("hardware.brokers", h.brokers.len(), max, Bound::Hardware)?;
        for (i, b) in h.brokers.iter().enumerate() {
            let field = format!("hardware.brokers[{i}].log_dirs");
            count(field, b.log_dirs.len(), max, Bound::Hardware)?;
        }
    }
    Ok(())
}

fn count(field: impl Into<String>, n: usize, max: usize, limit: Bound) -> Result<(), Rejection> {
    if n > max {
        return Err(invalid(
            field,
            limit,
            format!("{n} items, more than the bound of {max}"),
        ));
    }
    Ok(())
}

/// Whether `id` can be a machine id: 1 to [`MAX_MACHINE_ID_BYTES`] of
/// letters, digits, `-`, `_`, `.` (`/etc/machine-id` is 32 hex digits).
pub fn is_machine_id(id: &str) -> bool {
    (1..=MAX_MACHINE_ID_BYTES).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `name` can be a host name: dot-separated labels of ASCII
/// letters, digits, hyphens (not first or last) and underscores (which real
/// fleets use, though RFC 1123 does not), each 1 to 63 bytes. This refuses
/// `..`, empty labels, slashes, NUL, control and bidirectional-override
/// characters: names that would make a misleading page, link or log line.
/// `Err` says why, for the 422.
pub fn check_hostname(name: &str) -> Result<(), String> {
    if name.len() > MAX_HOSTNAME_BYTES {
        return Err(format!(
            "not a host name: longer than {MAX_HOSTNAME_BYTES} bytes ({})",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!(
                "{name:?} is not a host name: an empty label (a leading, trailing or doubled dot)"
            ));
        }
        if label.len() > MAX_LABEL_BYTES {
            return Err(format!(
                "{name:?} is not a host name: a label longer than {MAX_LABEL_BYTES} bytes"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{name:?} is not a host name: {c:?} (U+{:04X}) is not a letter, digit, '-' or '_'",
                u32::from(c)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "{name:?} is not a host name: a label starts or ends with '-'"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_bomb_is_too_large_not_inflated() {
        let bomb = gz(&vec![b' '; 50 << 20]);
        assert!(bomb.len() < 100_000);
        assert_eq!(
            decode(&bomb, Some("gzip"), 1 << 20),
            Err(Rejection::TooLarge { limit: 1 << 20 })
        );
        assert_eq!(decode(&gz(b"{}"), Some("GZIP"), 10).unwrap(), b"{}");
        assert_eq!(decode(b"{}", None, 10).unwrap(), b"{}");
        assert!(matches!(
            decode(b"xx", Some("gzip"), 10),
            Err(Rejection::Malformed(_))
        ));
        assert_eq!(decode(b"{}", Some("br"), 10).unwrap_err().status(), 415);
    }

    #[test]
    fn schema_mismatch_is_422_even_when_shape_differs() {
        let r = validate(br#"{"schema": 2, "whatever": true}"#.to_vec(), 0);
        assert_eq!(r.unwrap_err(), Rejection::UnknownSchema { found: 2 });
        let r = validate(br#"{"schema": 1, "whatever": true}"#.to_vec(), 0);
        assert_eq!(r.unwrap_err().status(), 400);
        assert_eq!(validate(b"not json".to_vec(), 0).unwrap_err().status(), 400);
    }
}
