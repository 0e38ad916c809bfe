//! The compact form both backends store reports in (schema version 2):
//! report ids as short keys, documents deflated, and the rule that decides
//! which documents are kept.
//!
//! Per report only a small row of figures is kept (what the charts and the
//! API draw); whole documents only for the latest report of each host, for
//! every report whose drifting findings differ from the host's previous
//! report (and for every report while `--keep-raw-days` asks for it).

use std::io::{Read, Write};

use super::health::DriftKey;

/// What storing writes beside the figures, set at start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Keep every report's document (deflated) for this many days; `0`
    /// keeps only the latest and the changes (the default).
    pub keep_raw_days: u32,
}

impl Options {
    /// Whether every document is kept as it arrives.
    pub fn keep_raw(&self) -> bool {
        self.keep_raw_days > 0
    }

    /// Documents neither latest nor a change received before this are
    /// pruned (`now_ms` itself when raw documents are not kept, which
    /// removes any left from a run that kept them).
    pub fn raw_cutoff(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(i64::from(self.keep_raw_days) * 86_400_000)
    }
}

/// Length of a UUID's bytes: an id of this many bytes is always a UUID.
const UUID_BYTES: usize = 16;
/// Marks a text id that would otherwise be 16 bytes long (never in UTF-8).
const TEXT_MARK: u8 = 0xff;

/// The stored key of a report id: the 16 bytes of a UUID written in its
/// canonical form (lower-case, hyphenated: what agents send), else the
/// id's UTF-8 bytes (followed by 0xff when they happen to be 16 long, so
/// no text id ever reads back as a UUID). One id, one key; the way back
/// is [`id_text`].
pub fn id_key(id: &str) -> Vec<u8> {
    if let Some(b) = uuid_bytes(id) {
        return b.to_vec();
    }
    let mut k = id.as_bytes().to_vec();
    if k.len() == UUID_BYTES {
        k.push(TEXT_MARK);
    }
    k
}

/// The report id of a stored key (see [`id_key`]).
pub fn id_text(key: &[u8]) -> String {
    if key.len() == UUID_BYTES {
        return uuid::Uuid::from_slice(key)
            .map(|u| u.hyphenated().to_string())
            .unwrap_or_default();
    }
    let text = key.strip_suffix(&[TEXT_MARK]).unwrap_or(key);
    String::from_utf8_lossy(text).into_owned()
}

/// The bytes of `id` when it is a UUID in exactly the form it prints as.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    if id.len() != 36 {
        return None;
    }
    let u = uuid::Uuid::try_parse(id).ok()?;
    // Upper case or another spelling would not read back the same.
    (u.hyphenated().to_string() == id).then(|| *u.as_bytes())
}

/// Deflates a document for storing (level 6: an 18 KB report becomes
/// 2.4 KB in about 0.4 ms; level 1 takes half the time for 3.0 KB, but rows
/// that size leave PostgreSQL's pages too empty to be pruned between
/// vacuums, and the replaced latest documents then piled up: 6.5 MB per
/// host-day before autovacuum in `benches/collector_storage.rs`).
pub fn pack(body: &str) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = e.write_all(body.as_bytes());
    e.finish().unwrap_or_default()
}

/// Why a stored document could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("stored document {id} is damaged: {reason}")]
pub struct Damaged {
    /// The report id.
    pub id: String,
    /// What failed.
    pub reason: String,
}

/// Inflates a stored document.
pub fn unpack(id: &str, packed: &[u8]) -> Result<String, Damaged> {
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(packed)
        .read_to_string(&mut out)
        .map_err(|e| Damaged {
            id: id.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(out)
}

/// Whether a report's drifting findings differ from the host's previous
/// report's (`None`: the host's first report, which counts as a change).
/// Keys are compared as drift events are, by `(check, key)`: an observed
/// value that moves while a key keeps drifting is not a change.
pub fn findings_changed(prev: Option<&[DriftKey]>, next: &[DriftKey]) -> bool {
    let Some(prev) = prev else { return true };
    let keys = |v: &[DriftKey]| {
        let mut k: Vec<(String, String)> =
            v.iter().map(|d| (d.check.clone(), d.key.clone())).collect();
        k.sort();
        k.dedup();
        k
    };
    keys(prev) != keys(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_never_collide() {
        let u = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
        assert_eq!(id_key(u).len(), 16);
        assert_eq!(id_text(&id_key(u)), u);
        // Upper case is kept as text: it must read back as sent.
        let upper = u.to_uppercase();
        assert_eq!(id_key(&upper), upper.as_bytes());
        assert_eq!(id_text(&id_key(&upper)), upper);
        // A 16-byte text id is not taken for a UUID.
        let sixteen = "abcdefghijklmnop";
        assert_eq!(id_key(sixteen).len(), 17);
        assert_eq!(id_text(&id_key(sixteen)), sixteen);
        assert_ne!(id_key(sixteen), id_key(u));
        for t in ["", "x", "day-00001", "ünïcode-id"] {
            assert_eq!(id_text(&id_key(t)), t);
        }
    }

    #[test]
    fn documents_round_trip() {
        let doc = r#"{"id":"a","findings":[]}"#.repeat(50);
        let p = pack(&doc);
        assert!(p.len() < doc.len() / 4, "{} of {}", p.len(), doc.len());
        assert_eq!(unpack("a", &p).unwrap(), doc);
        assert!(unpack("a", b"not deflate").is_err());
    }

    #[test]
    fn keep_raw_days_is_bounded_and_sets_the_raw_cutoff() {
        let mut c = crate::collector::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            "db".into(),
            "tokens".into(),
        );
        assert_eq!(c.keep_raw_days, 0, "off by default");
        c.keep_raw_days = 36_501;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("--keep-raw-days"), "{e}");
        c.keep_raw_days = 36_500;
        assert!(c.validate().is_ok());
        let now = 10 * 86_400_000;
        assert_eq!(Options::default().raw_cutoff(now), now, "off: none kept");
        assert!(!Options::default().keep_raw());
        let two = Options { keep_raw_days: 2 };
        assert!(two.keep_raw());
        assert_eq!(two.raw_cutoff(now), 8 * 86_400_000);
    }

    #[test]
    fn a_change_is_a_different_set_of_drifting_keys() {
        let k = |key: &str, actual: &str| DriftKey {
            check: "sysctl".into(),
            key: key.into(),
            expected: "1".into(),
            actual: Some(actual.into()),
            roles: Vec::new(),
        };
        assert!(findings_changed(None, &[]));
        assert!(!findings_changed(Some(&[]), &[]));
        assert!(!findings_changed(Some(&[k("a", "1")]), &[k("a", "2")]));
        assert!(findings_changed(Some(&[k("a", "1")]), &[k("b", "1")]));
        assert!(findings_changed(Some(&[k("a", "1")]), &[]));
    }
}
