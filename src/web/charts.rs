//! The collector's host page draws its charts through here; the chart
//! itself is [`crate::present::chart`]'s (built with maud), so there is one
//! SVG builder for every page.

pub use crate::present::chart::{Chart, Series, downsample_max};

/// The chart as an inline `<svg>` element, as text for pages still put
/// together with `format!`. See [`crate::present::chart::line_chart`].
pub fn line_chart(c: &Chart, x_tick_ms: i64, x_label: impl Fn(i64) -> String) -> String {
    crate::present::chart::line_chart(c, x_tick_ms, x_label).into_string()
}
