//! URL path-segment encoding ([`segment`]: host and cluster names inside
//! links), and the hand escaping the host page still uses until it is
//! built with maud. Host names and every value in a report are untrusted.

use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes like [`escape`] and lets a long key wrap where a reader would
/// break it: a `<wbr>` after each `.`, `/`, `_`, `-` and `,`, so
/// `net.ipv4.tcp_max_syn_backlog` wraps at its dots, not mid-word.
pub fn escape_breakable(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        if matches!(c, '.' | '/' | '_' | '-' | ',') {
            out.push_str("<wbr>");
        }
    }
    out
}

/// Percent-encodes one URL path segment: everything except RFC 3986's
/// unreserved characters, so `/`, `?`, `#`, `%` and quotes cannot change the URL.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakable_keys_wrap_at_separators_and_stay_escaped() {
        assert_eq!(
            escape_breakable("vm.dirty_ratio"),
            "vm.<wbr>dirty_<wbr>ratio"
        );
        assert_eq!(escape_breakable("<a.b>"), "&lt;a.<wbr>b&gt;");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(segment("broker-1.kafka_x~"), "broker-1.kafka_x~");
        assert_eq!(segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(segment("<é>"), "%3C%C3%A9%3E");
        assert_eq!(segment(".."), "..");
    }
}
