//! Presentation, all of it: every page built from plain data with
//! [`maud`], whose templates escape every value by construction (a value
//! can only become markup through an explicit `PreEscaped`, used here for
//! the stylesheet and the inline script, both constants), and every text
//! table through one writer ([`text::columns`]).
//!
//! - [`fleet`]: the collector's fleet page (`GET /`), one page of hosts
//! - [`host`]: the host page (`GET /hosts/{hostname}`)
//! - [`message`]: the error pages
//! - [`mod@format`]: times and durations as pages write them
//! - [`cluster`]: the cluster page, the comparison of two clusters, and the
//!   host page's "against its cluster" section
//! - [`chart`]: inline SVG line charts (the GC report's and the host page's)
//! - [`gc`]: `tunekeeper gc`'s reports: the HTML page and the text
//! - [`text`]: text tables for the terminal (`audit`, `apply`, `profiles`): the one table writer
//! - [`style`]: the stylesheet every page shares
//! - [`mod@html`]: URL path segments for links
//! - [`terminal`]: escaping for text that reaches a terminal

pub mod chart;
pub mod cluster;
pub mod fleet;
pub mod format;
pub mod gc;
pub mod host;
pub mod html;
pub mod message;
pub mod style;
pub mod terminal;
pub mod text;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use style::STYLE;

/// The document around a page's body: the shared stylesheet, `extra_style`
/// (a constant) and the title.
pub fn document(title: &str, extra_style: &'static str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) (PreEscaped(extra_style)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// Percent-encodes a query-string value (everything but RFC 3986's
/// unreserved characters), so `&`, `#`, `=` and quotes stay inside it.
pub fn query_value(s: &str) -> String {
    html::segment(s)
}
