//! What pages need beyond maud's escaping: URL path segments ([`segment`]:
//! host and cluster names inside links) and long keys that may wrap
//! ([`breakable`]). Host names and every value in a report are untrusted.

use std::fmt::Write;

use maud::{Markup, html};

/// A value escaped by maud that lets a long key wrap where a reader would
/// break it: a `<wbr>` after each `.`, `/`, `_`, `-` and `,`, so
/// `net.ipv4.tcp_max_syn_backlog` wraps at its dots, not mid-word.
pub fn breakable(s: &str) -> Markup {
    html! {
        @for piece in s.split_inclusive(['.', '/', '_', '-', ',']) {
            (piece)
            @if piece.ends_with(['.', '/', '_', '-', ',']) { wbr; }
        }
    }
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
            breakable("vm.dirty_ratio").into_string(),
            "vm.<wbr>dirty_<wbr>ratio"
        );
        assert_eq!(breakable("<a.b>").into_string(), "&lt;a.<wbr>b&gt;");
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(segment("broker-1.kafka_x~"), "broker-1.kafka_x~");
        assert_eq!(segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(segment("<é>"), "%3C%C3%A9%3E");
        assert_eq!(segment(".."), "..");
    }
}
