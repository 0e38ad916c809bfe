//! The bearer-token file format, one for the agent and the collector: one
//! token per line, surrounding whitespace trimmed, blank lines and lines
//! starting with `#` ignored. A token is one word of visible ASCII (what an
//! HTTP `Authorization` header can carry); anything else is refused when the
//! file is loaded, naming the file and line, so a typo shows at start and not
//! as a delivery failure retried forever. Errors never quote a token.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a token file cannot be used. The message names the file (and line).
#[derive(Debug, Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("token file {}: {source}", path.display())]
    Io {
        /// The token file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Only blank lines and comments: nobody could ever authenticate.
    #[error(
        "token file {}: no tokens (one token per line; blank lines and # comments are ignored)",
        path.display()
    )]
    Empty {
        /// The token file.
        path: PathBuf,
    },
    /// A line that cannot be a token.
    #[error(
        "token file {}: line {line}: {what}; a token is one word of visible ASCII characters",
        path.display()
    )]
    Invalid {
        /// The token file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it (never the token itself).
        what: &'static str,
    },
    /// The agent sends one token; a file with several is ambiguous.
    #[error(
        "token file {}: {count} tokens (lines {lines}); the agent sends exactly one: \
         keep one, or comment the others out with #",
        path.display()
    )]
    NotOne {
        /// The token file.
        path: PathBuf,
        /// How many tokens it holds.
        count: usize,
        /// Their line numbers, comma-separated.
        lines: String,
    },
}

/// A token and the line it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// 1-based line number in the file.
    pub line: usize,
    /// The token (visible ASCII only).
    pub value: String,
}

impl std::fmt::Debug for Token {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(line {})", self.line)
    }
}

/// Parses token-file bytes. `Err((line, what))` for the first line that
/// cannot be a token. Comments may hold any bytes; tokens may not.
pub fn parse(bytes: &[u8]) -> Result<Vec<Token>, (usize, &'static str)> {
    let mut tokens = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let what = if line.iter().any(|b| *b == b' ' || *b == b'\t') {
            Some("a space inside the token (one token per line)")
        } else if line.iter().any(|b| !b.is_ascii()) {
            Some("a non-ASCII character")
        } else if line.iter().any(|b| b.is_ascii_control()) {
            Some("a control character")
        } else {
            None
        };
        if let Some(what) = what {
            return Err((i + 1, what));
        }
        tokens.push(Token {
            line: i + 1,
            // Checked above: visible ASCII only.
            value: String::from_utf8_lossy(line).into_owned(),
        });
    }
    Ok(tokens)
}

/// Loads a token file holding one or more tokens (the collector's).
pub fn load(path: &Path) -> Result<Vec<Token>, TokenFileError> {
    // A token file is a few lines: 1 MiB is a file named by mistake.
    let bytes = crate::file_kind::read_bounded(path, 1 << 20)
        .map_err(crate::file_kind::SmallFileError::into_io)
        .map_err(|source| TokenFileError::Io {
            path: path.to_owned(),
            source,
        })?;
    let tokens = parse(&bytes).map_err(|(line, what)| TokenFileError::Invalid {
        path: path.to_owned(),
        line,
        what,
    })?;
    if tokens.is_empty() {
        return Err(TokenFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(tokens)
}

/// Loads a token file holding exactly one token (the agent's).
pub fn load_one(path: &Path) -> Result<String, TokenFileError> {
    let mut tokens = load(path)?;
    if tokens.len() > 1 {
        return Err(TokenFileError::NotOne {
            path: path.to_owned(),
            count: tokens.len(),
            lines: tokens
                .iter()
                .map(|t| t.line.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(tokens.remove(0).value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|t| t.value)
            .collect()
    }

    #[test]
    fn comments_blanks_and_whitespace_are_ignored() {
        assert_eq!(values("# agents\n\n  abc  \r\n\t#def\nxyz"), ["abc", "xyz"]);
        assert_eq!(
            values("a#b\n"),
            ["a#b"],
            "# starts a comment only at the start"
        );
        assert!(values("# only a comment\n\n").is_empty());
    }

    #[test]
    fn what_cannot_go_in_a_header_is_refused_with_its_line() {
        assert_eq!(parse(b"ok\nsec ret\n").unwrap_err().0, 2);
        assert_eq!(parse(b"a\tb").unwrap_err().0, 1);
        assert_eq!(parse(b"a\x07b").unwrap_err(), (1, "a control character"));
        assert_eq!(parse(b"a\x7fb").unwrap_err(), (1, "a control character"));
        assert_eq!(
            parse("s\u{e9}cret".as_bytes()).unwrap_err(),
            (1, "a non-ASCII character")
        );
        // Comments may hold anything.
        assert!(parse(b"# \xff\xfe caf\xc3\xa9\ntoken\n").is_ok());
    }

    #[test]
    fn the_agent_needs_exactly_one_and_errors_never_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "# agent\nsecret-one\n").unwrap();
        assert_eq!(load_one(&p).unwrap(), "secret-one");
        std::fs::write(&p, "secret-one\n\nsecret-two\n").unwrap();
        let e = load_one(&p).unwrap_err().to_string();
        assert!(e.contains("2 tokens (lines 1, 3)") && e.contains(&p.display().to_string()));
        assert!(!e.contains("secret"), "{e}");
        std::fs::write(&p, "#\n").unwrap();
        assert!(matches!(load_one(&p), Err(TokenFileError::Empty { .. })));
        std::fs::write(&p, "secret one\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("secret one"), "{e}");
        assert!(matches!(
            load(&dir.path().join("missing")),
            Err(TokenFileError::Io { .. })
        ));
    }
}
