//! Presentation: pages built from plain data with [`maud`], whose templates
//! escape every value by construction.
//!
//! - [`chart`]: inline SVG line charts (the GC report's and the host page's)
//! - [`gc`]: `tunekeeper gc`'s reports: the HTML page and the text

pub mod chart;
pub mod gc;
