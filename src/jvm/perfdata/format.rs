//! The layout of HotSpot's perf-data memory (version 2.0, every JDK from 6
//! to 25), decoded from a copy of its bytes. Pure: bytes in, entries out.
//!
//! HotSpot's `perfMemory.hpp` fixes the layout; `jstat`'s reader
//! (`sun.jvmstat.perfdata.monitor.v2_0.PerfDataBuffer`) is the reference:
//!
//! ```text
//! prologue (32 bytes)
//!   0  magic        CA FE C0 C0 (the same four bytes in either byte order)
//!   4  byte_order   0 big endian, 1 little endian: every field below
//!   5  major, minor 2, 0
//!   7  accessible   non-zero once the JVM finished initialising the region
//!   8  used         bytes of the region in use (entries end there)
//!  12  overflow     bytes that did not fit (counters kept off the region)
//!  16  mod_stamp    ticks of the last structural change (an entry added)
//!  24  entry_offset where the first entry starts
//!  28  num_entries  entries allocated
//! entry (20 bytes, then name, padding, data; offsets from the entry's start)
//!   0  entry_length   4 name_offset   8 vector_length (0: scalar)
//!  12  type ('J' long, 'B' byte array)  13 flags  14 units  15 variability
//!  16  data_offset
//! ```
//!
//! The region is written while it is read: values tick, entries are
//! appended (the JVM bumps `used`/`num_entries` before it fills the new
//! entry in, and stamps `mod_stamp` after). So nothing here trusts an
//! offset it has not checked against the copy's end and the prologue's
//! `used`; an entry whose length is still zero ends the walk, as in jstat.

use serde::Serialize;

/// Size of the prologue.
pub const PROLOGUE_LEN: usize = 32;
/// Size of an entry's fixed header.
const ENTRY_HEADER_LEN: usize = 20;
/// The magic number's bytes, as they lie in the file.
const MAGIC: [u8; 4] = [0xCA, 0xFE, 0xC0, 0xC0];
/// Entries kept at most: HotSpot creates about 200-300; a region of the
/// largest size HotSpot allows (2 MiB) could hold ~80,000 minimal ones.
pub const MAX_ENTRIES: usize = 16_384;
/// Longest string value kept, bytes (`PerfMaxStringConstLength` is 1024 by
/// default; `java.class.path` may be longer and is cut, as the JVM cuts it).
const MAX_STRING: usize = 4096;

/// Why a copy of the region cannot be read as perf data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Shorter than the prologue.
    #[error("{len} bytes, shorter than the 32-byte prologue")]
    Short {
        /// Bytes there were.
        len: usize,
    },
    /// Not HotSpot's magic number.
    #[error("no perf-data magic number (found {found:02x?})")]
    Magic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A byte order other than 0 or 1.
    #[error("byte order {0} is neither big (0) nor little (1) endian")]
    ByteOrder(u8),
    /// A version this reader does not know.
    #[error("perf-data version {major}.{minor}, not 2.x")]
    Version {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// Shorter than the bytes the prologue says are in use.
    #[error("cut short: {len} bytes, but the JVM used {used}")]
    Truncated {
        /// Bytes there are.
        len: usize,
        /// Bytes the prologue says are used.
        used: usize,
    },
    /// A prologue field out of bounds.
    #[error("prologue: {0}")]
    Prologue(String),
    /// An entry that does not fit, or whose fields contradict each other.
    #[error("entry at offset {offset}: {what}")]
    Entry {
        /// Where the entry starts.
        offset: usize,
        /// What is wrong with it.
        what: String,
    },
    /// More entries than any JVM writes.
    #[error("more than {MAX_ENTRIES} entries")]
    TooManyEntries,
}

/// Byte order of the region's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ByteOrder {
    /// `PERFDATA_BIG_ENDIAN` (0).
    Big,
    /// `PERFDATA_LITTLE_ENDIAN` (1).
    Little,
}

/// A counter's unit (`PerfData::Units`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// 1: no unit.
    None,
    /// 2: bytes.
    Bytes,
    /// 3: ticks of `sun.os.hrt.frequency`.
    Ticks,
    /// 4: a count of events.
    Events,
    /// 5: not a number.
    String,
    /// 6: a frequency.
    Hertz,
    /// A code this reader does not know (a newer JVM).
    Unknown(u8),
}

impl Units {
    fn from_code(c: u8) -> Units {
        match c {
            1 => Units::None,
            2 => Units::Bytes,
            3 => Units::Ticks,
            4 => Units::Events,
            5 => Units::String,
            6 => Units::Hertz,
            n => Units::Unknown(n),
        }
    }
}

/// How a counter may change (`PerfData::Variability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variability {
    /// 1: written once.
    Constant,
    /// 2: only grows (a counter).
    Monotonic,
    /// 3: any value.
    Variable,
    /// A code this reader does not know.
    Unknown(u8),
}

impl Variability {
    fn from_code(c: u8) -> Variability {
        match c {
            1 => Variability::Constant,
            2 => Variability::Monotonic,
            3 => Variability::Variable,
            n => Variability::Unknown(n),
        }
    }
}

/// An entry's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A scalar `jlong` (`'J'`).
    Long(i64),
    /// A byte array holding a NUL-terminated string (`'B'`), decoded as
    /// UTF-8 (invalid bytes replaced) with control characters escaped:
    /// the region is another process's memory, and its text may reach a
    /// terminal.
    Text(String),
    /// A type this reader does not decode (HotSpot writes only `J` and `B`).
    Other {
        /// The type code.
        type_code: u8,
    },
}

/// One named counter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// `sun.gc.collector.0.invocations`, ...
    pub name: String,
    /// Its unit.
    pub units: Units,
    /// How it changes.
    pub variability: Variability,
    /// Whether HotSpot flags it as a supported interface (`java.*`, `com.sun.*`).
    pub supported: bool,
    /// Its value when copied.
    pub value: Value,
}

/// A decoded copy of the region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerfData {
    /// Byte order of the fields.
    pub byte_order: ByteOrder,
    /// Major and minor version.
    pub version: (u8, u8),
    /// The JVM has finished initialising the region.
    pub accessible: bool,
    /// Bytes in use.
    pub used: u32,
    /// Bytes that did not fit (counters the JVM kept elsewhere).
    pub overflow: u32,
    /// Ticks of the last structural change.
    pub mod_stamp: i64,
    /// Entries the prologue says were allocated.
    pub num_entries: u32,
    /// The entries decoded, in the region's order (an entry still being
    /// written at the copy's moment is not among them).
    pub entries: Vec<Entry>,
}

impl PerfData {
    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The long value named `name`.
    pub fn long(&self, name: &str) -> Option<i64> {
        match self.get(name)?.value {
            Value::Long(v) => Some(v),
            _ => None,
        }
    }

    /// The text value named `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        match &self.get(name)?.value {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// The prologue's fields that show whether the region changed between two
/// copies: (`used`, `num_entries`, `mod_stamp`). Read from the raw bytes so
/// a caller can compare a re-read prologue without decoding entries.
pub fn structure_stamp(bytes: &[u8]) -> Option<(u32, u32, i64)> {
    let p = Prologue::parse(bytes).ok()?;
    Some((p.used, p.num_entries, p.mod_stamp))
}

/// The fields of the prologue.
struct Prologue {
    order: ByteOrder,
    version: (u8, u8),
    accessible: bool,
    used: u32,
    overflow: u32,
    mod_stamp: i64,
    entry_offset: u32,
    num_entries: u32,
}

/// Fixed-size reads in the region's byte order; callers check bounds first.
#[derive(Clone, Copy)]
struct Fields<'a> {
    b: &'a [u8],
    order: ByteOrder,
}

impl Fields<'_> {
    fn u32(&self, at: usize) -> u32 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&self.b[at..at + 4]);
        match self.order {
            ByteOrder::Big => u32::from_be_bytes(a),
            ByteOrder::Little => u32::from_le_bytes(a),
        }
    }

    /// A `jint` field that must not be negative.
    fn len(&self, at: usize) -> Option<usize> {
        let v = self.u32(at) as i32;
        usize::try_from(v).ok()
    }

    fn i64(&self, at: usize) -> i64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.b[at..at + 8]);
        match self.order {
            ByteOrder::Big => i64::from_be_bytes(a),
            ByteOrder::Little => i64::from_le_bytes(a),
        }
    }
}

impl Prologue {
    fn parse(b: &[u8]) -> Result<Prologue, FormatError> {
        if b.len() < PROLOGUE_LEN {
            return Err(FormatError::Short { len: b.len() });
        }
        if b[0..4] != MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(&b[0..4]);
            return Err(FormatError::Magic { found });
        }
        let order = match b[4] {
            0 => ByteOrder::Big,
            1 => ByteOrder::Little,
            n => return Err(FormatError::ByteOrder(n)),
        };
        let (major, minor) = (b[5], b[6]);
        if major != 2 {
            return Err(FormatError::Version { major, minor });
        }
        let f = Fields { b, order };
        Ok(Prologue {
            order,
            version: (major, minor),
            accessible: b[7] != 0,
            used: f.u32(8),
            overflow: f.u32(12),
            mod_stamp: f.i64(16),
            entry_offset: f.u32(24),
            num_entries: f.u32(28),
        })
    }
}

/// Decodes a copy of the region. Every offset is checked against the end
/// of the copy and the prologue's `used` before it is followed.
pub fn parse(bytes: &[u8]) -> Result<PerfData, FormatError> {
    let p = Prologue::parse(bytes)?;
    let used = p.used as i32;
    let Ok(used) = usize::try_from(used) else {
        return Err(FormatError::Prologue(format!("used is negative ({used})")));
    };
    // A file shorter than what the JVM used is cut: what is missing could
    // be any entry, so nothing of it is trusted.
    if used > bytes.len() {
        return Err(FormatError::Truncated {
            len: bytes.len(),
            used,
        });
    }
    let end = used;
    let first = p.entry_offset as usize;
    if (p.entry_offset as i32) < PROLOGUE_LEN as i32 || first % 4 != 0 {
        return Err(FormatError::Prologue(format!(
            "first entry at {} (must be 4-aligned, at or after byte 32)",
            p.entry_offset as i32
        )));
    }
    if (p.num_entries as i32) < 0 {
        return Err(FormatError::Prologue(format!(
            "entry count is negative ({})",
            p.num_entries as i32
        )));
    }
    let mut entries = Vec::with_capacity((p.num_entries as usize).min(512));
    let f = Fields {
        b: bytes,
        order: p.order,
    };
    let mut at = first;
    // A region still being initialised may say 0 entries and hold some;
    // the walk is bounded by `end` and MAX_ENTRIES, never by the count alone.
    while at + 4 <= end {
        let Some(len) = f.len(at) else {
            return Err(entry_err(at, "negative length"));
        };
        if len == 0 {
            // Allocated, not yet written: the end of what can be read now.
            break;
        }
        if entries.len() == MAX_ENTRIES {
            return Err(FormatError::TooManyEntries);
        }
        entries.push(parse_entry(&f, at, len, end)?);
        at += len;
    }
    Ok(PerfData {
        byte_order: p.order,
        version: p.version,
        accessible: p.accessible,
        used: p.used,
        overflow: p.overflow,
        mod_stamp: p.mod_stamp,
        num_entries: p.num_entries,
        entries,
    })
}

fn entry_err(offset: usize, what: impl Into<String>) -> FormatError {
    FormatError::Entry {
        offset,
        what: what.into(),
    }
}

/// One entry of `len` bytes at `at`, all of it before `end`.
fn parse_entry(f: &Fields<'_>, at: usize, len: usize, end: usize) -> Result<Entry, FormatError> {
    if len < ENTRY_HEADER_LEN || len % 4 != 0 {
        return Err(entry_err(
            at,
            format!("length {len} (under the 20-byte header, or not 4-aligned)"),
        ));
    }
    if at.checked_add(len).is_none_or(|e| e > end) {
        return Err(entry_err(
            at,
            format!("length {len} runs past the end of the data ({end} bytes)"),
        ));
    }
    let e = &f.b[at..at + len];
    let ef = Fields {
        b: e,
        order: f.order,
    };
    let (Some(name_off), Some(vlen), Some(data_off)) = (ef.len(4), ef.len(8), ef.len(16)) else {
        return Err(entry_err(at, "a negative offset or vector length"));
    };
    let (type_code, flags, units, var) = (e[12], e[13], e[14], e[15]);
    if name_off < ENTRY_HEADER_LEN || name_off >= data_off || data_off > len {
        return Err(entry_err(
            at,
            format!("name at {name_off} and data at {data_off} do not fit an entry of {len} bytes"),
        ));
    }
    let name_bytes = &e[name_off..data_off];
    let name_len = memchr::memchr(0, name_bytes)
        .ok_or_else(|| entry_err(at, "the name has no terminating NUL"))?;
    let name_bytes = &name_bytes[..name_len];
    if name_bytes.is_empty() || !name_bytes.iter().all(|c| c.is_ascii_graphic()) {
        return Err(entry_err(
            at,
            format!(
                "the name is not printable ASCII ({})",
                crate::jvm::perfdata::escape_text(&String::from_utf8_lossy(name_bytes))
            ),
        ));
    }
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let data = &e[data_off..];
    let value = match (type_code, vlen) {
        (b'J', 0) => {
            if data.len() < 8 {
                return Err(entry_err(at, format!("{name}: a long needs 8 bytes")));
            }
            Value::Long(
                Fields {
                    b: data,
                    order: f.order,
                }
                .i64(0),
            )
        }
        (b'B', n) if n > 0 => {
            if n > data.len() {
                return Err(entry_err(
                    at,
                    format!("{name}: {n} bytes of text but {} in the entry", data.len()),
                ));
            }
            let raw = &data[..n];
            let raw = &raw[..memchr::memchr(0, raw).unwrap_or(n)];
            let raw = &raw[..raw.len().min(MAX_STRING)];
            Value::Text(crate::jvm::perfdata::escape_text(&String::from_utf8_lossy(
                raw,
            )))
        }
        (b'J' | b'B', n) => {
            return Err(entry_err(
                at,
                format!("{name}: type {} with vector length {n}", type_code as char),
            ));
        }
        (t, _) => Value::Other { type_code: t },
    };
    Ok(Entry {
        name,
        units: Units::from_code(units),
        variability: Variability::from_code(var),
        supported: flags & 1 != 0,
        value,
    })
}

/// Builds a region in the given byte order from entries, the way HotSpot
/// lays them out (`PerfData::create_entry`): for tests, fixtures and
/// fuzzing. Longs are `(name, units, variability, value)`; strings are
/// written as constant byte arrays with units String.
#[doc(hidden)]
pub fn build(order: ByteOrder, longs: &[(&str, u8, u8, i64)], texts: &[(&str, &str)]) -> Vec<u8> {
    let put32 = |v: &mut Vec<u8>, x: u32| match order {
        ByteOrder::Big => v.extend_from_slice(&x.to_be_bytes()),
        ByteOrder::Little => v.extend_from_slice(&x.to_le_bytes()),
    };
    let mut body: Vec<u8> = Vec::new();
    let mut count = 0u32;
    let mut entry = |body: &mut Vec<u8>,
                     name: &str,
                     t: u8,
                     u: u8,
                     var: u8,
                     data: &[u8],
                     vlen: u32,
                     dsize: usize| {
        let namelen = name.len() + 1;
        let mut size = ENTRY_HEADER_LEN + namelen;
        let pad = if size % dsize == 0 {
            0
        } else {
            dsize - size % dsize
        };
        size += pad;
        let data_start = size;
        size += data.len();
        size = (size + 7) & !7;
        let mut e = Vec::with_capacity(size);
        put32(&mut e, size as u32);
        put32(&mut e, ENTRY_HEADER_LEN as u32);
        put32(&mut e, vlen);
        e.extend_from_slice(&[t, 1, u, var]);
        put32(&mut e, data_start as u32);
        e.extend_from_slice(name.as_bytes());
        e.push(0);
        e.resize(data_start, 0);
        e.extend_from_slice(data);
        e.resize(size, 0);
        body.extend_from_slice(&e);
        count += 1;
    };
    for (name, u, var, v) in longs {
        let data = match order {
            ByteOrder::Big => v.to_be_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        };
        entry(&mut body, name, b'J', *u, *var, &data, 0, 8);
    }
    for (name, s) in texts {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        let n = data.len() as u32;
        entry(&mut body, name, b'B', 5, 1, &data, n, 1);
    }
    let mut out = MAGIC.to_vec();
    out.push(match order {
        ByteOrder::Big => 0,
        ByteOrder::Little => 1,
    });
    out.extend_from_slice(&[2, 0, 1]);
    put32(&mut out, (PROLOGUE_LEN + body.len()) as u32);
    put32(&mut out, 0);
    let stamp = 12345i64;
    match order {
        ByteOrder::Big => out.extend_from_slice(&stamp.to_be_bytes()),
        ByteOrder::Little => out.extend_from_slice(&stamp.to_le_bytes()),
    }
    put32(&mut out, PROLOGUE_LEN as u32);
    put32(&mut out, count);
    out.extend_from_slice(&body);
    // The region is page-sized; the rest is zeros (entry length 0 ends it).
    out.resize(out.len().div_ceil(4096) * 4096, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(order: ByteOrder) -> Vec<u8> {
        build(
            order,
            &[
                ("sun.os.hrt.frequency", 6, 1, 1_000_000_000),
                ("sun.gc.collector.0.invocations", 4, 2, 42),
                ("sun.gc.collector.0.time", 3, 2, -7),
            ],
            &[("sun.gc.collector.0.name", "G1 young collection pauses")],
        )
    }

    #[test]
    fn both_byte_orders_decode_alike() {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let pd = parse(&sample(order)).unwrap();
            assert_eq!(pd.byte_order, order);
            assert_eq!(pd.version, (2, 0));
            assert!(pd.accessible);
            assert_eq!(pd.entries.len(), 4);
            assert_eq!(pd.long("sun.os.hrt.frequency"), Some(1_000_000_000));
            assert_eq!(pd.long("sun.gc.collector.0.invocations"), Some(42));
            assert_eq!(pd.long("sun.gc.collector.0.time"), Some(-7));
            assert_eq!(
                pd.text("sun.gc.collector.0.name"),
                Some("G1 young collection pauses")
            );
            let e = pd.get("sun.gc.collector.0.invocations").unwrap();
            assert_eq!(e.units, Units::Events);
            assert_eq!(e.variability, Variability::Monotonic);
            assert!(e.supported);
            assert_eq!(pd.get("sun.os.hrt.frequency").unwrap().units, Units::Hertz);
        }
    }

    #[test]
    fn prologue_errors_name_what_is_wrong() {
        let good = sample(ByteOrder::Little);
        assert_eq!(parse(&good[..31]), Err(FormatError::Short { len: 31 }));
        let mut b = good.clone();
        b[0] = 0;
        assert!(matches!(parse(&b), Err(FormatError::Magic { .. })));
        let mut b = good.clone();
        b[4] = 7;
        assert_eq!(parse(&b), Err(FormatError::ByteOrder(7)));
        let mut b = good.clone();
        b[5] = 1;
        assert!(matches!(
            parse(&b),
            Err(FormatError::Version { major: 1, .. })
        ));
        let mut b = good.clone();
        b[24..28].copy_from_slice(&3u32.to_le_bytes());
        assert!(matches!(parse(&b), Err(FormatError::Prologue(_))));
        let mut b = good;
        b[8..12].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(matches!(parse(&b), Err(FormatError::Prologue(_))));
    }

    #[test]
    fn entries_pointing_past_the_end_are_refused() {
        let good = sample(ByteOrder::Little);
        // The first entry claims to be longer than the region.
        let mut b = good.clone();
        b[32..36].copy_from_slice(&100_000u32.to_le_bytes());
        let err = parse(&b).unwrap_err();
        assert!(err.to_string().contains("runs past the end"), "{err}");
        // Its data offset points outside it.
        let mut b = good.clone();
        b[48..52].copy_from_slice(&4000u32.to_le_bytes());
        assert!(matches!(
            parse(&b),
            Err(FormatError::Entry { offset: 32, .. })
        ));
        // Its name offset points into the header.
        let mut b = good.clone();
        b[36..40].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(
            parse(&b),
            Err(FormatError::Entry { offset: 32, .. })
        ));
        // A string longer than its entry.
        let last = {
            let pd = parse(&good).unwrap();
            assert_eq!(pd.entries.len(), 4);
            // Find the string entry's offset by walking.
            let mut at = 32;
            for _ in 0..3 {
                at += u32::from_le_bytes(good[at..at + 4].try_into().unwrap()) as usize;
            }
            at
        };
        let mut b = good.clone();
        b[last + 8..last + 12].copy_from_slice(&9000u32.to_le_bytes());
        let err = parse(&b).unwrap_err();
        assert!(err.to_string().contains("bytes of text"), "{err}");
        // A copy cut in the middle of the entries, or right after the
        // prologue: refused, not read as fewer entries.
        let used = u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
        for cut in [used - 8, PROLOGUE_LEN] {
            let err = parse(&good[..cut]).unwrap_err();
            assert_eq!(err, FormatError::Truncated { len: cut, used }, "{err}");
        }
    }

    #[test]
    fn an_entry_still_being_written_ends_the_walk() {
        let mut b = sample(ByteOrder::Little);
        // The JVM allocated a fifth entry (used and count grew) but has not
        // written its header yet: it is all zeros.
        let used = u32::from_le_bytes(b[8..12].try_into().unwrap());
        b[8..12].copy_from_slice(&(used + 64).to_le_bytes());
        b[28..32].copy_from_slice(&5u32.to_le_bytes());
        let pd = parse(&b).unwrap();
        assert_eq!(pd.entries.len(), 4);
        assert_eq!(pd.num_entries, 5);
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic pseudo-random mutations of a real-shaped region.
        let good = sample(ByteOrder::Big);
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let mut b = good.clone();
            for _ in 0..rng.usize(1..8) {
                let i = rng.usize(0..300.min(b.len()));
                b[i] = rng.u8(..);
            }
            let cut = if rng.bool() {
                b.len()
            } else {
                rng.usize(0..b.len())
            };
            let _ = parse(&b[..cut]);
        }
    }

    #[test]
    fn names_and_text_cannot_carry_control_characters() {
        let b = build(
            ByteOrder::Little,
            &[],
            &[("sun.gc.lastCause", "evil\x1b[2J\u{7}cause")],
        );
        let pd = parse(&b).unwrap();
        let t = pd.text("sun.gc.lastCause").unwrap();
        assert!(!t.chars().any(char::is_control), "{t:?}");
        assert!(t.contains("\\x1b"), "{t}");
        let mut b = build(ByteOrder::Little, &[("abc", 1, 1, 1)], &[]);
        b[32 + 20] = 0x1b;
        assert!(matches!(parse(&b), Err(FormatError::Entry { .. })));
    }
}
