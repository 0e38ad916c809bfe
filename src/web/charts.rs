//! Small self-contained SVG line charts: no script, no external assets, so
//! the page works offline and renders the same in every browser.

use std::fmt::Write;

/// One line on a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(x, y)` points, x ascending (x in Unix ms).
    pub points: Vec<(i64, f64)>,
    /// CSS colour of the line.
    pub colour: &'static str,
    /// Dashed (a comparison line).
    pub dashed: bool,
    /// A dot per point and no line: a scatter of events (GC pauses), where
    /// joining neighbours would invent values between them.
    pub dots: bool,
}

/// A chart over a fixed x range.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Unit for the y axis labels.
    pub unit: &'static str,
    /// The x range shown, Unix ms.
    pub x_range: (i64, i64),
    /// A service level drawn as a red dashed line, when known.
    pub threshold: Option<f64>,
    /// The lines.
    pub series: Vec<Series>,
    /// Width in px.
    pub width: u32,
    /// Height in px.
    pub height: u32,
}

/// Reduces points to at most `buckets` by keeping the maximum of each
/// bucket: a spike is what an operator looks for, so it must survive.
pub fn downsample_max(
    points: &[(i64, f64)],
    from: i64,
    to: i64,
    buckets: usize,
) -> Vec<(i64, f64)> {
    if points.len() <= buckets || to <= from || buckets == 0 {
        return points.to_vec();
    }
    let span = (to - from) as f64;
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(buckets);
    let mut current: Option<(usize, i64, f64)> = None;
    for &(x, y) in points {
        let b =
            (((x - from) as f64 / span) * buckets as f64).clamp(0.0, buckets as f64 - 1.0) as usize;
        match &mut current {
            Some((cb, cx, cy)) if *cb == b => {
                if y > *cy {
                    *cx = x;
                    *cy = y;
                }
            }
            _ => {
                if let Some((_, cx, cy)) = current.take() {
                    out.push((cx, cy));
                }
                current = Some((b, x, y));
            }
        }
    }
    if let Some((_, cx, cy)) = current {
        out.push((cx, cy));
    }
    out
}

/// A "nice" axis maximum (1, 2, 3, 4, 5, 6 or 8 times a power of ten) at or
/// above `v`, with a tick count that divides it into round steps.
fn nice_axis(v: f64) -> (f64, u32) {
    if v <= 0.0 || !v.is_finite() {
        return (1.0, 4);
    }
    let p = 10f64.powf(v.log10().floor());
    let steps = [
        (1.0, 5),
        (2.0, 4),
        (3.0, 3),
        (4.0, 4),
        (5.0, 5),
        (6.0, 3),
        (8.0, 4),
    ];
    for (m, ticks) in steps {
        if m * p >= v * 0.999_999 {
            return (m * p, ticks);
        }
    }
    (10.0 * p, 5)
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders the chart as an inline `<svg>` element. `x_label` formats an x
/// tick (Unix ms) for the axis; ticks fall on every `x_tick_ms`.
pub fn line_chart(c: &Chart, x_tick_ms: i64, x_label: impl Fn(i64) -> String) -> String {
    let (w, h) = (f64::from(c.width), f64::from(c.height));
    let (left, right, top, bottom) = (44.0, 10.0, 22.0, 20.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let (x0, x1) = c.x_range;
    let xspan = (x1 - x0).max(1) as f64;
    let data_max = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(c.threshold)
        .fold(0.0f64, f64::max);
    let (ymax, ticks) = nice_axis(data_max * 1.05);
    let sx = |x: i64| left + (x - x0) as f64 / xspan * pw;
    let sy = |y: f64| top + ph - (y / ymax).clamp(0.0, 1.0) * ph;

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg">"#,
        title = super::html::escape(&c.title)
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="14" class="ct">{}</text>"#,
        super::html::escape(&c.title)
    );
    // Legend, right-aligned on the title line.
    let mut lx = w - right;
    for series in c.series.iter().rev() {
        let label = super::html::escape(&series.label);
        let tw = 6.5 * series.label.chars().count() as f64;
        lx -= tw + 22.0;
        let dash = if series.dashed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        if series.dots {
            let _ = write!(
                s,
                r#"<circle cx="{}" cy="10" r="3.5" fill="{}"/>"#,
                lx + 9.0,
                series.colour
            );
        } else {
            let _ = write!(
                s,
                r#"<line x1="{lx}" y1="10" x2="{}" y2="10" stroke="{}" stroke-width="2"{dash}/>"#,
                lx + 14.0,
                series.colour
            );
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="14" class="cl">{label}</text>"#,
            lx + 18.0
        );
    }
    // Horizontal grid with y labels.
    for i in 0..=ticks {
        let v = ymax * f64::from(i) / f64::from(ticks);
        let y = sy(v);
        let _ = write!(
            s,
            r#"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" class="grid"/><text x="{}" y="{:.1}" class="ya">{}</text>"#,
            left + pw,
            left - 4.0,
            y + 3.5,
            fmt_num(v)
        );
    }
    // Vertical ticks.
    if x_tick_ms > 0 {
        let mut t = x0 - x0.rem_euclid(x_tick_ms) + x_tick_ms;
        while t < x1 {
            let x = sx(t);
            let _ = write!(
                s,
                r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{}" class="grid"/>"#,
                top + ph,
            );
            // A label centred on a tick at the right edge would be cut off.
            let label = x_label(t);
            if x + 3.0 * label.chars().count() as f64 <= w {
                let _ = write!(
                    s,
                    r#"<text x="{x:.1}" y="{}" class="xa">{}</text>"#,
                    h - 5.0,
                    super::html::escape(&label)
                );
            }
            t += x_tick_ms;
        }
    }
    if let Some(t) = c.threshold {
        let y = sy(t);
        let _ = write!(
            s,
            r#"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" class="slo"><title>service level {}</title></line>"#,
            left + pw,
            fmt_num(t)
        );
    }
    // Lines; a gap of more than 5 % of the range breaks the line, so an
    // outage shows as a hole rather than a straight bridge.
    let gap = (xspan * 0.05) as i64;
    for series in &c.series {
        let dash = if series.dashed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let shown: Vec<(i64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|p| p.0 >= x0 && p.0 <= x1)
            .collect();
        // Each series in its own group, named, so a test (or a reader of
        // the markup) can count what was drawn.
        let _ = write!(
            s,
            r#"<g data-series="{}" data-points="{}">"#,
            super::html::escape(&series.label),
            shown.len()
        );
        if series.dots {
            for &(x, y) in &shown {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="{}" fill-opacity="0.8"/>"#,
                    sx(x),
                    sy(y),
                    series.colour
                );
            }
            s.push_str("</g>");
            continue;
        }
        let mut path = String::new();
        // Points with no neighbour within the gap would draw nothing as a
        // path: they get a dot, as does the latest point (the current value).
        let mut dots = Vec::new();
        for (i, &(x, y)) in shown.iter().enumerate() {
            let joined_before = i > 0 && x - shown[i - 1].0 <= gap;
            let joined_after = shown.get(i + 1).is_some_and(|n| n.0 - x <= gap);
            let cmd = if joined_before { 'L' } else { 'M' };
            let _ = write!(path, "{cmd}{:.1} {:.1}", sx(x), sy(y));
            if !joined_before && !joined_after || i + 1 == shown.len() {
                dots.push((sx(x), sy(y)));
            }
        }
        if !path.is_empty() {
            let _ = write!(
                s,
                r#"<path d="{path}" fill="none" stroke="{}" stroke-width="1.5" stroke-linejoin="round"{dash}/>"#,
                series.colour
            );
        }
        for (x, y) in dots {
            let _ = write!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{}"/>"#,
                series.colour
            );
        }
        s.push_str("</g>");
    }
    if c.series.iter().all(|s| s.points.is_empty()) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="empty">no data</text>"#,
            left + pw / 2.0,
            top + ph / 2.0
        );
    }
    let _ = write!(
        s,
        r#"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="frame"/></svg>"#
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_keeps_spikes() {
        let pts: Vec<(i64, f64)> = (0..1000)
            .map(|i| (i, if i == 503 { 99.0 } else { 1.0 }))
            .collect();
        let d = downsample_max(&pts, 0, 1000, 50);
        assert!(d.len() <= 50);
        assert!(d.contains(&(503, 99.0)));
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_axis(13.0), (20.0, 4));
        assert_eq!(nice_axis(0.0), (1.0, 4));
        assert_eq!(nice_axis(230.0), (300.0, 3));
        assert_eq!(nice_axis(25.0), (30.0, 3));
    }

    #[test]
    fn labels_are_escaped() {
        let c = Chart {
            title: "<b>".into(),
            unit: "ms",
            x_range: (0, 10),
            threshold: Some(5.0),
            series: vec![Series {
                label: "<i>".into(),
                points: vec![(1, 2.0), (2, 3.0)],
                colour: "#000",
                dashed: false,
                dots: false,
            }],
            width: 400,
            height: 150,
        };
        let svg = line_chart(&c, 5, |t| format!("<{t}>"));
        assert!(!svg.contains("<b>") && !svg.contains("<i>") && !svg.contains("<5>"));
        assert!(svg.contains("&lt;b&gt;"));
    }
}
