//! Java `.properties` files, read the way `java.util.Properties.load` reads
//! them: Kafka and ZooKeeper configuration is only what the JVM saw if it is
//! parsed with the JVM's rules (`key=value`, `key: value` and `key value`,
//! `#`/`!` comments, backslash escapes, `\uXXXX`, line continuations).

use std::collections::BTreeMap;

use thiserror::Error;

/// Why a properties text could not be read as the JVM would.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PropertiesError {
    /// `\u` not followed by four hex digits: `Properties.load` throws here,
    /// so the JVM itself would have refused the file.
    #[error("line {line}: malformed \\uXXXX escape")]
    BadUnicodeEscape {
        /// 1-based line where the logical line starts.
        line: usize,
    },
}

/// The parsed key/value pairs; a later assignment of a key wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    map: BTreeMap<String, String>,
}

impl Properties {
    /// Parses the text of a properties file.
    pub fn parse(text: &str) -> Result<Properties, PropertiesError> {
        let mut map = BTreeMap::new();
        for (line, logical) in logical_lines(text) {
            let (key, value) = split_pair(&logical);
            let key = unescape(key).ok_or(PropertiesError::BadUnicodeEscape { line })?;
            let value = unescape(value).ok_or(PropertiesError::BadUnicodeEscape { line })?;
            map.insert(key, value);
        }
        Ok(Properties { map })
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Sets a key (a later `--override` wins over the file).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.map.insert(key.into(), value.into());
    }

    /// Every key and value, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Logical lines with the 1-based line number they start on: comments and
/// blank lines dropped, continuations joined (leading white space of a
/// continuation line skipped), escapes still in place.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    // `\r\n` is one line end, as are lone `\n` and `\r`.
    let text = text.replace("\r\n", "\n");
    for (i, natural) in text.split(['\n', '\r']).enumerate() {
        let trimmed = natural.trim_start_matches([' ', '\t', '\x0c']);
        let (start, mut acc) = match current.take() {
            Some(c) => c,
            None => {
                if trimmed.is_empty() || trimmed.starts_with(['#', '!']) {
                    continue;
                }
                (i + 1, String::new())
            }
        };
        // An odd run of trailing backslashes escapes the line end.
        let trailing = trimmed.bytes().rev().take_while(|&b| b == b'\\').count();
        if trailing % 2 == 1 {
            acc.push_str(&trimmed[..trimmed.len() - 1]);
            current = Some((start, acc));
        } else {
            acc.push_str(trimmed);
            out.push((start, acc));
        }
    }
    if let Some(c) = current {
        out.push(c);
    }
    out
}

/// Splits a logical line at the first unescaped `=`, `:` or white space;
/// white space around the separator is not part of key or value.
fn split_pair(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

/// Resolves backslash escapes; None on a malformed `\u`.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if hex.len() != 4 {
                    return None;
                }
                let code = u32::from_str_radix(&hex, 16).ok()?;
                // A lone surrogate half cannot be a char; Java would keep it,
                // we show the replacement character rather than fail.
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_comments_and_whitespace() {
        let p = Properties::parse(
            "# a comment\n! another\n\n  log.dirs=/data1/kafka,/data2/kafka\n\
             broker.id : 3\nzookeeper.connect   zk1:2181\nempty=\nkey.only\n\
             log.dirs=/override\n",
        )
        .unwrap();
        assert_eq!(p.get("log.dirs"), Some("/override"), "the last one wins");
        assert_eq!(p.get("broker.id"), Some("3"));
        assert_eq!(p.get("zookeeper.connect"), Some("zk1:2181"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.get("key.only"), Some(""));
        assert_eq!(p.get("# a comment"), None);
    }

    #[test]
    fn continuations_and_escapes() {
        let p = Properties::parse(
            "log.dirs=/data1/kafka,\\\n    /data2/kafka\r\n\
             path=C:\\\\kafka\\\\logs\nkey\\ with\\=sep = v\\u00e9\\tx\n\
             ends.with.escaped.backslash=a\\\\\nnext=1\n",
        )
        .unwrap();
        assert_eq!(p.get("log.dirs"), Some("/data1/kafka,/data2/kafka"));
        assert_eq!(p.get("path"), Some("C:\\kafka\\logs"));
        assert_eq!(p.get("key with=sep"), Some("v\u{e9}\tx"));
        assert_eq!(p.get("ends.with.escaped.backslash"), Some("a\\"));
        assert_eq!(p.get("next"), Some("1"));
    }

    #[test]
    fn a_continued_comment_is_not_continued_and_bad_unicode_names_the_line() {
        let p = Properties::parse("# comment \\\na=1\n").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(
            Properties::parse("a=1\n\nb=\\u12\n"),
            Err(PropertiesError::BadUnicodeEscape { line: 3 })
        );
        // A continuation at the end of the file ends the value.
        assert_eq!(Properties::parse("a=x\\").unwrap().get("a"), Some("x"));
    }
}
