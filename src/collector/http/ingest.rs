//! Turning a request body into a [`Submission`]: decompression with a bound
//! on the decompressed size (a small gzip body can inflate to gigabytes),
//! then validation. Every rejection maps to one HTTP status.

use std::io::Read;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::collector::storage::health::Derived;
use crate::collector::storage::report::Submission;
use crate::report::{Report, SCHEMA_VERSION};

/// Longest accepted report id, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest accepted host name, in bytes (DNS's limit).
pub const MAX_HOSTNAME_BYTES: usize = 253;
/// Longest label of a host name, in bytes (DNS's limit).
pub const MAX_LABEL_BYTES: usize = 63;
/// Largest count accepted in a report (full GCs in an interval): 2^53 - 1,
/// the largest integer every JSON reader (JavaScript's included) holds
/// exactly. A JVM does not run 9 quadrillion full GCs in one interval; a
/// larger figure is a broken agent, and storing it would only poison sums.
pub const MAX_COUNT: u64 = (1 << 53) - 1;

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
    /// Well-formed, but a value that cannot be right (422): a host name
    /// that is not one, a count beyond any real figure.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as a JSON path.
        field: String,
        /// What is wrong with it.
        reason: String,
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
    check_text("id", &report.id, MAX_ID_BYTES)?;
    // Empty is malformed (400); a name too long or of the wrong characters
    // is well-formed JSON but not a host name (422).
    check_text("host.hostname", &report.host.hostname, usize::MAX)?;
    check_hostname(&report.host.hostname).map_err(|reason| Rejection::Invalid {
        field: "host.hostname".into(),
        reason,
    })?;
    for (i, jvm) in report.jvms.iter().enumerate() {
        let Some(gc) = &jvm.gc else { continue };
        if gc.interval.full_gcs > MAX_COUNT {
            return Err(Rejection::Invalid {
                field: format!("jvms[{i}].gc.interval.full_gcs"),
                reason: format!(
                    "{} is beyond any real count (at most {MAX_COUNT})",
                    gc.interval.full_gcs
                ),
            });
        }
    }
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

fn check_text(field: &str, value: &str, max: usize) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::Malformed(format!("{field} is empty")));
    }
    if value.len() > max {
        return Err(Rejection::Malformed(format!(
            "{field} longer than {max} bytes"
        )));
    }
    Ok(())
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
