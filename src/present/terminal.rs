//! Text for a terminal. Whatever a foreign source put in a string (a
//! broker's `log.dirs`, a waiver's justification, a host name, a path, a
//! GC log's JVM version line) reaches the operator's terminal as text:
//! control characters are shown as escapes (`\x1b`, `\r`, `\u{202e}`),
//! never executed, so a value cannot clear the screen, move the cursor,
//! rewrite a line ("ALL GOOD"), set the window title, or reorder what is
//! shown with bidirectional overrides. JSON output is escaped by serde and
//! HTML by maud; this is the one function for everything else.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must be shown escaped: C0 and C1 controls and DEL, and the
/// invisible formatting characters that reorder or hide text (bidi
/// embeddings, overrides and isolates, zero-width marks, the BOM).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

fn escape_where(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| unsafe_char(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) && !keep(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One field of text (a table cell, a value in a sentence): every control
/// character escaped, newlines and tabs included.
pub fn text(s: &str) -> Cow<'_, str> {
    escape_where(s, |_| false)
}

/// Several lines of text (an error message, a text report): every control
/// character escaped except the newlines and tabs that lay it out.
pub fn lines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c == '\n' || c == '\t')
}

/// Standard error for log records: each record (one write of the
/// formatter) has every control character escaped but its final newline, so
/// a field cannot add lines to the log or rewrite the terminal. With colour
/// on, ESC is kept for the formatter's own colour codes (the formatter
/// already escapes ESC inside field values).
#[derive(Debug, Clone, Copy)]
pub struct LogWriter {
    keep_escape: bool,
}

impl LogWriter {
    /// A writer to standard error; `colour`: the formatter writes colour codes.
    pub fn stderr(colour: bool) -> LogWriter {
        LogWriter {
            keep_escape: colour,
        }
    }
}

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let record = String::from_utf8_lossy(buf);
        let (body, end) = match record.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (&*record, ""),
        };
        let keep_escape = self.keep_escape;
        let shown = escape_where(body, |c| keep_escape && c == '\x1b');
        let mut err = std::io::stderr().lock();
        err.write_all(shown.as_bytes())?;
        err.write_all(end.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_executed() {
        let hostile = "/data\x1b[2J\x1b[H\rALL GOOD\u{9b}31m\u{202e}x\x07";
        let shown = text(hostile);
        assert!(!shown.chars().any(unsafe_char), "{shown}");
        assert_eq!(
            shown,
            "/data\\x1b[2J\\x1b[H\\rALL GOOD\\u{9b}31m\\u{202e}x\\x07"
        );
        assert_eq!(text("plain /var/lib/kafka"), "plain /var/lib/kafka");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(lines("a\nb\tc\rd"), "a\nb\tc\\rd");
        assert_eq!(text("a\nb"), "a\\nb");
    }
}
