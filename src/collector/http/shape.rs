//! A report's JSON checked against the bounds of its shape on its bytes,
//! before it is parsed: nesting depth, each string's length (object keys
//! too) and NUL characters, each number's length, the items of each array
//! and members of each object. Everywhere in the document, fields this
//! collector does not know included: it stores them and serves them back,
//! so they must be as readable as the rest. One pass, linear in the size,
//! no allocation but a stack as deep as the bound.
//!
//! Only bounds are checked here; whether the bytes are JSON at all is the
//! parser's to say (400). On valid JSON the walk is exact, so nothing the
//! parser accepts escapes it.

use crate::collector::limits::{
    Bound, MAX_ITEMS, MAX_JSON_DEPTH, MAX_NUMBER_BYTES, MAX_STRING_BYTES,
};

/// A bound the document goes past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which bound.
    pub bound: Bound,
    /// Where: a JSON path (`jvms[1].flags[0]`).
    pub field: String,
    /// What is wrong, with the bound.
    pub reason: String,
}

/// One open container.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// An object: members so far, the current key (byte range of its text
    /// between the quotes), and whether a key comes next.
    Object {
        members: usize,
        key: Option<(usize, usize)>,
        want_key: bool,
    },
    /// An array: items so far.
    Array { items: usize },
}

/// Checks `doc` against the bounds; the first one it goes past is the
/// error. Bytes that are not JSON end the walk without an error.
pub fn check(doc: &[u8]) -> Result<(), Violation> {
    let mut stack: Vec<Frame> = Vec::with_capacity(MAX_JSON_DEPTH);
    let mut i = 0;
    while i < doc.len() {
        match doc[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b',' => {
                if let Some(Frame::Object { want_key, .. }) = stack.last_mut() {
                    *want_key = true;
                }
                i += 1;
            }
            b'{' | b'[' => {
                value_starts(doc, &mut stack)?;
                if stack.len() >= MAX_JSON_DEPTH {
                    return Err(Violation {
                        bound: Bound::JsonDepth,
                        field: path(doc, &stack),
                        reason: format!(
                            "nested deeper than {MAX_JSON_DEPTH} levels (the bound of a report's JSON)"
                        ),
                    });
                }
                stack.push(if doc[i] == b'{' {
                    Frame::Object {
                        members: 0,
                        key: None,
                        want_key: true,
                    }
                } else {
                    Frame::Array { items: 0 }
                });
                i += 1;
            }
            b'}' | b']' => {
                if stack.pop().is_none() {
                    return Ok(());
                }
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let Some((end, len, nul)) = string(doc, start) else {
                    return Ok(());
                };
                let is_key = matches!(stack.last(), Some(Frame::Object { want_key: true, .. }));
                if is_key {
                    if let Some(Frame::Object {
                        members,
                        key,
                        want_key,
                    }) = stack.last_mut()
                    {
                        *members += 1;
                        *key = Some((start, end));
                        *want_key = false;
                        if *members > MAX_ITEMS {
                            return Err(too_many(doc, &stack, "members", Bound::Items));
                        }
                    }
                } else {
                    value_starts(doc, &mut stack)?;
                }
                if nul {
                    return Err(Violation {
                        bound: Bound::Nul,
                        field: path(doc, &stack),
                        reason: format!(
                            "a NUL character (\\u0000) in {}: no field may hold one",
                            if is_key { "a key" } else { "the text" }
                        ),
                    });
                }
                if len > MAX_STRING_BYTES {
                    return Err(Violation {
                        bound: Bound::StringBytes,
                        field: path(doc, &stack),
                        reason: format!(
                            "{} of {len} bytes, longer than the bound of {MAX_STRING_BYTES} bytes",
                            if is_key { "a key" } else { "a text" }
                        ),
                    });
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                value_starts(doc, &mut stack)?;
                let start = i;
                while i < doc.len()
                    && matches!(doc[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                if i - start > MAX_NUMBER_BYTES {
                    return Err(Violation {
                        bound: Bound::NumberBytes,
                        field: path(doc, &stack),
                        reason: format!(
                            "a number written with {} characters, more than the bound of {MAX_NUMBER_BYTES}",
                            i - start
                        ),
                    });
                }
            }
            b't' | b'f' | b'n' => {
                value_starts(doc, &mut stack)?;
                while i < doc.len() && doc[i].is_ascii_alphabetic() {
                    i += 1;
                }
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Counts a value starting in the innermost container (an array's item).
fn value_starts(doc: &[u8], stack: &mut [Frame]) -> Result<(), Violation> {
    if let Some(Frame::Array { items }) = stack.last_mut() {
        *items += 1;
        if *items > MAX_ITEMS {
            return Err(too_many(doc, stack, "items", Bound::Items));
        }
    }
    Ok(())
}

fn too_many(doc: &[u8], stack: &[Frame], what: &str, bound: Bound) -> Violation {
    // Named by the container (the frames above it name it), not by its
    // item past the bound.
    Violation {
        bound,
        field: path(doc, &stack[..stack.len().saturating_sub(1)]),
        reason: format!("more than {MAX_ITEMS} {what}, the bound of any array or object"),
    }
}

/// The string starting at `start` (just past its quote): the index of its
/// closing quote, its length in bytes once decoded, and whether it holds a
/// NUL. `None` when it does not end.
fn string(doc: &[u8], start: usize) -> Option<(usize, usize, bool)> {
    let mut i = start;
    let mut len = 0usize;
    let mut nul = false;
    loop {
        let rel = memchr::memchr2(b'"', b'\\', &doc[i..])?;
        len += rel;
        i += rel;
        if doc[i] == b'"' {
            return Some((i, len, nul));
        }
        // An escape.
        match doc.get(i + 1)? {
            b'u' => {
                let hex = doc.get(i + 2..i + 6)?;
                let v = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())?;
                nul |= v == 0;
                len += match v {
                    0..=0x7f => 1,
                    0x80..=0x7ff => 2,
                    // Each half of a surrogate pair: 4 bytes for the two.
                    0xd800..=0xdfff => 2,
                    _ => 3,
                };
                i += 6;
            }
            _ => {
                len += 1;
                i += 2;
            }
        }
    }
}

/// The JSON path of the value the walk is at.
fn path(doc: &[u8], stack: &[Frame]) -> String {
    let mut out = String::new();
    for (depth, f) in stack.iter().enumerate() {
        out.push_str(&segment(doc, f, depth == 0));
    }
    if out.is_empty() {
        "(the document)".into()
    } else {
        out
    }
}

/// A container's segment of a path: `.key`, `["odd key"]` or `[3]`.
fn segment(doc: &[u8], f: &Frame, root: bool) -> String {
    match *f {
        Frame::Object {
            key: Some((s, e)), ..
        } => {
            let raw = &doc[s..e];
            let plain = !raw.is_empty()
                && raw.len() <= 64
                && raw.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
            if plain {
                let name = String::from_utf8_lossy(raw);
                if root {
                    name.into_owned()
                } else {
                    format!(".{name}")
                }
            } else {
                // Decoded and written again as JSON (escaped), cut short.
                let quoted = &doc[s - 1..=e];
                let text: String = serde_json::from_slice(quoted)
                    .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned());
                let mut shown: String = text.chars().take(64).collect();
                if shown.len() < text.len() {
                    shown.push('…');
                }
                format!("[{}]", serde_json::to_string(&shown).unwrap_or_default())
            }
        }
        Frame::Object { key: None, .. } => String::new(),
        Frame::Array { items } => format!("[{}]", items.saturating_sub(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(doc: &str) -> Violation {
        check(doc.as_bytes()).expect_err(doc)
    }

    #[test]
    fn paths_name_the_field() {
        let v = err(r#"{"a":1,"jvms":[{"x":1},{"flags":["ok","b\u0000d"]}]}"#);
        assert_eq!(
            (v.bound, v.field.as_str()),
            (Bound::Nul, "jvms[1].flags[1]")
        );
        let v = err(r#"{"odd key":{"k":"\u0000"}}"#);
        assert_eq!(v.field, r#"["odd key"].k"#);
        let v = err(r#"{"k\u0000":1}"#);
        assert_eq!((v.bound, v.field.as_str()), (Bound::Nul, r#"["k\u0000"]"#));
    }

    #[test]
    fn each_bound_is_checked_and_valid_documents_pass() {
        let deep = "[".repeat(MAX_JSON_DEPTH + 1);
        assert_eq!(err(&deep).bound, Bound::JsonDepth);
        assert!(check("[".repeat(MAX_JSON_DEPTH).as_bytes()).is_ok());
        let long = format!(r#"{{"s":"{}"}}"#, "é".repeat(MAX_STRING_BYTES / 2 + 1));
        assert_eq!(err(&long).bound, Bound::StringBytes);
        let fits = format!(r#"{{"s":"{}"}}"#, "é".repeat(MAX_STRING_BYTES / 2));
        assert!(check(fits.as_bytes()).is_ok());
        // Escapes count as what they decode to.
        let escaped = format!(r#"{{"s":"{}"}}"#, r"\u00e9".repeat(MAX_STRING_BYTES / 2));
        assert!(check(escaped.as_bytes()).is_ok());
        let n = format!(r#"{{"n":1{}}}"#, "0".repeat(MAX_NUMBER_BYTES));
        let v = err(&n);
        assert_eq!((v.bound, v.field.as_str()), (Bound::NumberBytes, "n"));
        let many = format!("{{\"a\":[{}]}}", vec!["0"; MAX_ITEMS + 1].join(","));
        let v = err(&many);
        assert_eq!((v.bound, v.field.as_str()), (Bound::Items, "a"));
        let members: Vec<String> = (0..=MAX_ITEMS).map(|i| format!("\"k{i}\":0")).collect();
        let v = err(&format!("{{\"o\":{{{}}}}}", members.join(",")));
        assert_eq!((v.bound, v.field.as_str()), (Bound::Items, "o"));
        // Not JSON: the parser's to refuse.
        assert!(check(b"{\"a\":").is_ok());
        assert!(check(b"]]]").is_ok());
        assert!(check(br#"{"s":"\u00"#).is_ok());
        let fixture = include_str!("../../../tests/fixtures/collector/report.json");
        assert!(check(fixture.as_bytes()).is_ok());
    }
}
