//! Bearer tokens: loaded from a file in the format the agent reads too
//! ([`crate::token_file`]: one per line; blank lines and `#` comments
//! ignored) and compared in constant time, so response timing says nothing
//! about how much of a guessed token was right.

use std::path::Path;

use crate::collector::error::Error;

/// The set of tokens that may pass.
#[derive(Clone)]
pub struct Tokens {
    tokens: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Tokens {
    // Never print the secrets themselves, only how many there are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.tokens.len())
    }
}

impl Tokens {
    /// Reads a token file. An unreadable file, one without a token or one
    /// with a line that cannot be a token is an error: starting a collector
    /// nobody can reach would only hide the mistake.
    pub fn load(path: &Path) -> Result<Tokens, Error> {
        let tokens = crate::token_file::load(path)?;
        warn_if_world_readable(path);
        Ok(Tokens {
            tokens: tokens.into_iter().map(|t| t.value.into_bytes()).collect(),
        })
    }

    /// Parses token-file text (see [`crate::token_file::parse`]); the
    /// first line that cannot be a token and what is wrong with it.
    pub fn parse(text: &str) -> Result<Tokens, (usize, &'static str)> {
        let tokens = crate::token_file::parse(text.as_bytes())?;
        Ok(Tokens {
            tokens: tokens.into_iter().map(|t| t.value.into_bytes()).collect(),
        })
    }

    /// Whether an `Authorization` header value carries a known bearer token.
    pub fn allows_header(&self, header: Option<&[u8]>) -> bool {
        match header.and_then(bearer) {
            Some(token) => self.allows(token),
            None => false,
        }
    }

    /// Like [`Tokens::allows_header`], but also accepts HTTP Basic
    /// credentials whose password is a token (the user name is ignored), so
    /// a browser can open the fleet page when reads need a token.
    pub fn allows_header_or_basic(&self, header: Option<&[u8]>) -> bool {
        if self.allows_header(header) {
            return true;
        }
        match header.and_then(basic_password) {
            Some(password) => self.allows(&password),
            None => false,
        }
    }

    /// Whether `candidate` is one of the tokens. Every configured token is
    /// compared in full, whatever matched earlier.
    pub fn allows(&self, candidate: &[u8]) -> bool {
        let mut any = false;
        for t in &self.tokens {
            any |= ct_eq(candidate, t);
        }
        any
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, as RFC 9110 says).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The password of `Basic <base64(user:password)>`.
fn basic_password(value: &[u8]) -> Option<Vec<u8>> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64_decode(rest.trim_ascii())?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let password = decoded[colon + 1..].to_vec();
    (!password.is_empty()).then_some(password)
}

/// Standard base64 with optional padding; `None` on anything else.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Constant-time equality: the loop runs over the candidate's length (which
/// the caller already knows) and never exits early on a mismatch.
fn ct_eq(candidate: &[u8], expected: &[u8]) -> bool {
    if expected.is_empty() {
        return false;
    }
    let mut diff = (candidate.len() ^ expected.len()) as u64;
    for (i, &c) in candidate.iter().enumerate() {
        diff |= u64::from(c ^ expected[i % expected.len()]);
    }
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(unix)]
fn warn_if_world_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(path = %path.display(), "token file is readable by every user; chmod 0600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_world_readable(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_skipping_blanks_and_comments() {
        let t = Tokens::parse("# agents\n\n  abc  \n#def\nxyz\n").unwrap();
        assert!(t.allows(b"abc"));
        assert!(t.allows(b"xyz"));
        assert!(!t.allows(b"#def"));
        assert!(!t.allows(b""));
        assert!(!t.allows(b"ab"));
        assert!(!t.allows(b"abcd"));
    }

    #[test]
    fn header_needs_bearer_scheme() {
        let t = Tokens::parse("s3cret").unwrap();
        assert!(t.allows_header(Some(b"Bearer s3cret")));
        assert!(t.allows_header(Some(b"bearer s3cret")));
        assert!(!t.allows_header(Some(b"Basic s3cret")));
        assert!(!t.allows_header(Some(b"Bearer ")));
        assert!(!t.allows_header(Some(b"s3cret")));
        assert!(!t.allows_header(None));
    }

    #[test]
    fn basic_password_is_a_token_for_reads() {
        let t = Tokens::parse("s3cret").unwrap();
        // base64("ops:s3cret") and base64(":s3cret")
        assert!(t.allows_header_or_basic(Some(b"Basic b3BzOnMzY3JldA==")));
        assert!(t.allows_header_or_basic(Some(b"Basic OnMzY3JldA==")));
        assert!(t.allows_header_or_basic(Some(b"Bearer s3cret")));
        // base64("ops:wrong"), base64("s3cret") (no colon), garbage
        assert!(!t.allows_header_or_basic(Some(b"Basic b3BzOndyb25n")));
        assert!(!t.allows_header_or_basic(Some(b"Basic czNjcmV0")));
        assert!(!t.allows_header_or_basic(Some(b"Basic !!!")));
        assert!(
            !t.allows_header(Some(b"Basic b3BzOnMzY3JldA==")),
            "posting needs a bearer token"
        );
        assert_eq!(base64_decode(b"YWJj").unwrap(), b"abc");
        assert_eq!(base64_decode(b"YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode(b"YQ").unwrap(), b"a");
    }
}
