//! `tunekeeper gc`'s reports over the analysis ([`crate::gc::Analysis`],
//! plain data): the text for a terminal ([`text`]) and, for
//! `--format html`, one self-contained page to attach to an incident:
//! inline CSS and SVG only (no script, fonts or anything fetched, and a
//! Content-Security-Policy that forbids them), so it opens offline and the
//! same everywhere.
//!
//! The page is built with maud: everything taken from a log (causes,
//! paths, flags, unrecognised lines) is escaped by the templates. The
//! stylesheet is the fleet page's ([`crate::present::style::STYLE`]), so both look
//! alike.

mod axis;
mod charts;
mod format;
mod tables;
pub mod text;

use std::io::{self, Write};

use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;
use time::macros::format_description;

use self::axis::XAxis;
use self::format::{utc, wall};
use crate::gc::report::Analysis;

pub use self::text::render_text;

/// Nothing may load: styles only inline, images only as data.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Extra rules on top of the fleet page's stylesheet.
const STYLE: &str = r#"
.note{background:var(--warnbg);border:1px solid #f1d9a6;color:#5c3c00;border-radius:6px;padding:6px 10px;margin:0 0 10px}
.sw{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:baseline}
tr.zero td{color:#a3abb8}
tfoot td{font-weight:600;background:#eef1f5;border-top:1px solid #d5dbe3}
.cols{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:10px;align-items:start}
.charts.one{grid-template-columns:1fr}
.cards{grid-template-columns:repeat(auto-fit,minmax(130px,1fr))}
.card .v{white-space:nowrap}
td.k{color:var(--mut);white-space:nowrap}
details summary{cursor:pointer;color:var(--mut)}
pre.ex{margin:4px 0 0;font-size:11px;white-space:pre-wrap;overflow-wrap:anywhere;color:#3a4556}
footer{color:var(--mut);font-size:12px;padding:0 20px 20px}
@media print{body{background:#fff}header{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
"#;

/// Writes the analysis as a self-contained HTML page.
pub fn render_html(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(page(a).as_bytes())
}

/// The page as a string.
pub fn page(a: &Analysis) -> String {
    let st = &a.stats;
    let title = match a.files.first() {
        Some(f) => format!("GC report · {}", f.path),
        None => "GC report".into(),
    };
    let x = XAxis::of(st);
    let generated = utc(
        (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
    );
    let mut s = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                title { (title) }
                // Constants: the only text that goes in unescaped.
                style { (PreEscaped(crate::present::style::STYLE)) (PreEscaped(STYLE)) }
            }
            body {
                (header(a))
                main {
                    (tables::notes(st))
                    (tables::cards(a))
                    (charts::pause_chart(a, &x))
                    (charts::heap_chart(st, &x))
                    div.cols {
                        div {
                            (tables::pause_table(st))
                            (tables::full_gcs(st))
                            (tables::where_time_went(st, &a.timeout_budget))
                            (tables::counters(a))
                        }
                        div {
                            (tables::rates(st))
                            (tables::jvm(a))
                        }
                    }
                    (tables::findings(a))
                    (tables::files(a))
                }
                footer {
                    "tunekeeper " (env!("CARGO_PKG_VERSION")) " · generated " (generated)
                    " UTC · pause figures from a histogram: quantiles within 1 %, count, total and max exact"
                }
            }
        }
    }
    .into_string();
    s.push('\n');
    s
}

/// The dark band on top: what was read, and when it ran.
fn header(a: &Analysis) -> Markup {
    let st = &a.stats;
    html! {
        header {
            h1 { "GC report" }
            span.stats {
                span {
                    @match a.files.as_slice() {
                        [] => "no files",
                        [one] => (one.path),
                        [first, rest @ ..] => {
                            (first.path) " "
                            span class="mut" { "and " (rest.len()) " more files" }
                        }
                    }
                }
            }
            span.stamp {
                @match (st.first_wall_ms, st.last_wall_ms) {
                    (Some(f), Some(l)) => { (wall(f)) " → " (wall(l)) " UTC" }
                    _ => "no wall-clock time in the log",
                }
            }
        }
    }
}
