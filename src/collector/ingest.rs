//! Turning a request body into a [`Submission`]: decompression with a bound
//! on the decompressed size (a small gzip body can inflate to gigabytes),
//! then validation. Every rejection maps to one HTTP status.

use std::io::Read;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::health::Derived;
use super::store::Submission;
use crate::report::{Report, SCHEMA_VERSION};

/// Longest accepted report id, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest accepted host name, in bytes (DNS allows 253; leave room for odd agents).
pub const MAX_HOSTNAME_BYTES: usize = 1024;

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
            Rejection::UnknownSchema { .. } => 422,
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
    check_text("host.hostname", &report.host.hostname, MAX_HOSTNAME_BYTES)?;
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

/// Now as Unix milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
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
