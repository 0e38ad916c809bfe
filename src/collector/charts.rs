//! Inline SVG charts.
