//! Small self-contained SVG line charts, built with [`maud`]: no script,
//! no external assets, so a page works offline and renders the same in
//! every browser. Titles, legends and tick labels are escaped by the macro.
//!
//! Every SVG element is written with an explicit end tag (`{}` in the
//! template): inside HTML, SVG is foreign content, where an element left
//! open would swallow the ones after it.

use maud::{Markup, Render, html};

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

/// The x range a chart of `[from, to]` shows, fitted to its data: a
/// host that reported for the first time at `first` (after a quarter of
/// the range had passed) gets the stretch from a little before its first
/// report to `to`, so its points are not squashed against the right edge;
/// ticks on a round step that gives at most about eight of them, labelled
/// by the hour within a day and by the day beyond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XSpan {
    /// The range shown, Unix ms.
    pub range: (i64, i64),
    /// The step between ticks, ms.
    pub tick_ms: i64,
    /// Whether the range was shortened to the data.
    pub fitted: bool,
}

impl XSpan {
    /// The span for points from `first` (the earliest, if any) in `[from, to]`.
    pub fn fit(first: Option<i64>, from: i64, to: i64) -> XSpan {
        const MIN: i64 = 60_000;
        const HOUR: i64 = 3_600_000;
        let full = to - from;
        let start = match first {
            Some(t) if t > from + full / 4 => {
                // A margin of a tenth of the data's span (at least a minute).
                let pad = ((to - t) / 10).max(MIN);
                (t - pad).max(from)
            }
            _ => from,
        };
        let span = (to - start).max(1);
        let steps = [
            MIN,
            5 * MIN,
            15 * MIN,
            30 * MIN,
            HOUR,
            3 * HOUR,
            6 * HOUR,
            12 * HOUR,
            24 * HOUR,
        ];
        let tick_ms = steps
            .into_iter()
            .find(|s| span / s <= 8)
            .unwrap_or(24 * HOUR);
        XSpan {
            range: (start, to),
            tick_ms,
            fitted: start > from,
        }
    }

    /// Whether ticks are labelled by the time of day (else by the day).
    pub fn by_hour(&self) -> bool {
        self.tick_ms < 24 * 3_600_000
    }
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

/// A coordinate to a tenth of a pixel. Written straight into the page: a
/// number holds nothing to escape, and a chart has thousands of them.
#[derive(Debug, Clone, Copy)]
struct Px(f64);

impl Render for Px {
    fn render_to(&self, buffer: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(buffer, "{:.1}", self.0);
    }
}

/// One path command (`M` or `L`) and its point, into a path's `d`.
fn path_step(d: &mut String, cmd: char, x: f64, y: f64) {
    use std::fmt::Write as _;
    let _ = write!(d, "{cmd}{x:.1} {y:.1}");
}

/// The chart as an inline `<svg>` element. `x_label` formats an x tick
/// (Unix ms) for the axis; ticks fall on every `x_tick_ms`.
pub fn line_chart(c: &Chart, x_tick_ms: i64, x_label: impl Fn(i64) -> String) -> Markup {
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
    let dash = |s: &Series| s.dashed.then_some("4 3");

    // Legend, right-aligned on the title line: each entry's left edge.
    let mut lx = w - right;
    let legend: Vec<(f64, &Series)> = c
        .series
        .iter()
        .rev()
        .map(|series| {
            lx -= 6.5 * series.label.chars().count() as f64 + 22.0;
            (lx, series)
        })
        .collect();
    // Vertical ticks: where, and the label when it fits (one centred on a
    // tick at the right edge would be cut off).
    let mut xticks: Vec<(f64, Option<String>)> = Vec::new();
    if x_tick_ms > 0 {
        let mut t = x0 - x0.rem_euclid(x_tick_ms) + x_tick_ms;
        while t < x1 {
            let x = sx(t);
            let label = x_label(t);
            let fits = x + 3.0 * label.chars().count() as f64 <= w;
            xticks.push((x, fits.then_some(label)));
            t += x_tick_ms;
        }
    }
    // A gap of more than 5 % of the range breaks a line, so an outage shows
    // as a hole rather than a straight bridge.
    let gap = (xspan * 0.05) as i64;
    let shown: Vec<Vec<(i64, f64)>> = c
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .copied()
                .filter(|p| p.0 >= x0 && p.0 <= x1)
                .collect()
        })
        .collect();

    html! {
        svg class="chart" viewBox=(format_args!("0 0 {w} {h}")) width=(w) height=(h) role="img"
            aria-label=(c.title) xmlns="http://www.w3.org/2000/svg" {
            text x=(left) y="14" class="ct" { (c.title) }
            @for (lx, series) in &legend {
                @if series.dots {
                    circle cx=(lx + 9.0) cy="10" r="3.5" fill=(series.colour) {}
                } @else {
                    line x1=(lx) y1="10" x2=(lx + 14.0) y2="10" stroke=(series.colour)
                        stroke-width="2" stroke-dasharray=[dash(series)] {}
                }
                text x=(lx + 18.0) y="14" class="cl" { (series.label) }
            }
            // Horizontal grid with y labels.
            @for i in 0..=ticks {
                @let v = ymax * f64::from(i) / f64::from(ticks);
                @let y = sy(v);
                line x1=(left) y1=(Px(y)) x2=(left + pw) y2=(Px(y)) class="grid" {}
                text x=(left - 4.0) y=(Px(y + 3.5)) class="ya" { (fmt_num(v)) }
            }
            @for (x, label) in &xticks {
                line x1=(Px(*x)) y1=(top) x2=(Px(*x)) y2=(top + ph) class="grid" {}
                @if let Some(label) = label {
                    text x=(Px(*x)) y=(h - 5.0) class="xa" { (label) }
                }
            }
            @if let Some(t) = c.threshold {
                @let y = sy(t);
                line x1=(left) y1=(Px(y)) x2=(left + pw) y2=(Px(y)) class="slo" {
                    title { "service level " (fmt_num(t)) }
                }
            }
            @for (series, shown) in c.series.iter().zip(&shown) {
                // Each series in its own group, named, so a test (or a
                // reader of the markup) can count what was drawn.
                g data-series=(series.label) data-points=(shown.len()) {
                    @if series.dots {
                        @for &(x, y) in shown {
                            circle cx=(Px(sx(x))) cy=(Px(sy(y))) r="2.2" fill=(series.colour)
                                fill-opacity="0.8" {}
                        }
                    } @else {
                        (line_path(series, shown, gap, &sx, &sy, dash(series)))
                    }
                }
            }
            @if c.series.iter().all(|s| s.points.is_empty()) {
                text x=(Px(left + pw / 2.0)) y=(Px(top + ph / 2.0)) class="empty" { "no data" }
            }
            rect x=(left) y=(top) width=(pw) height=(ph) class="frame" {}
        }
    }
}

/// A series drawn as a line: one path, broken at gaps, plus a dot for each
/// point with no neighbour within the gap (a path would draw nothing for
/// it) and for the latest point (the current value).
fn line_path(
    series: &Series,
    shown: &[(i64, f64)],
    gap: i64,
    sx: &dyn Fn(i64) -> f64,
    sy: &dyn Fn(f64) -> f64,
    dash: Option<&str>,
) -> Markup {
    let mut d = String::new();
    let mut dots = Vec::new();
    for (i, &(x, y)) in shown.iter().enumerate() {
        let joined_before = i > 0 && x - shown[i - 1].0 <= gap;
        let joined_after = shown.get(i + 1).is_some_and(|n| n.0 - x <= gap);
        path_step(&mut d, if joined_before { 'L' } else { 'M' }, sx(x), sy(y));
        if !joined_before && !joined_after || i + 1 == shown.len() {
            dots.push((sx(x), sy(y)));
        }
    }
    html! {
        @if !d.is_empty() {
            path d=(d) fill="none" stroke=(series.colour) stroke-width="1.5"
                stroke-linejoin="round" stroke-dasharray=[dash] {}
        }
        @for (x, y) in dots {
            circle cx=(Px(x)) cy=(Px(y)) r="2.5" fill=(series.colour) {}
        }
    }
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
    fn a_young_hosts_span_fits_its_data() {
        let day = 86_400_000;
        let (from, to) = (0, 14 * day);
        let old = XSpan::fit(Some(day), from, to);
        assert_eq!(
            (old.range, old.tick_ms, old.fitted),
            ((from, to), day, false)
        );
        // Reporting for 40 minutes: the last 44 minutes, ticks every 5 (the
        // smallest round step that gives at most eight).
        let young = XSpan::fit(Some(to - 40 * 60_000), from, to);
        assert_eq!(young.range, (to - 44 * 60_000, to));
        assert!(young.fitted && young.by_hour());
        assert_eq!(young.tick_ms, 5 * 60_000);
        // Reporting for 3 hours: 30-minute ticks.
        let hours = XSpan::fit(Some(to - 3 * 3_600_000), from, to);
        assert_eq!(hours.tick_ms, 30 * 60_000);
        assert_eq!(XSpan::fit(None, from, to).range, (from, to));
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
                label: "<i>\"".into(),
                points: vec![(1, 2.0), (2, 3.0)],
                colour: "#000",
                dashed: false,
                dots: false,
            }],
            width: 400,
            height: 150,
        };
        let svg = line_chart(&c, 5, |t| format!("<{t}>")).into_string();
        assert!(!svg.contains("<b>") && !svg.contains("<i>") && !svg.contains("<5>"));
        assert!(svg.contains("&lt;b&gt;"));
        assert!(svg.contains(r#"data-series="&lt;i&gt;&quot;""#), "{svg}");
    }

    #[test]
    fn every_svg_element_is_closed() {
        // An element left open in SVG inside HTML swallows what follows.
        let c = Chart {
            title: "t".into(),
            unit: "ms",
            x_range: (0, 100),
            threshold: Some(5.0),
            series: vec![
                Series {
                    label: "a".into(),
                    points: vec![(1, 2.0), (2, 3.0), (90, 1.0)],
                    colour: "#000",
                    dashed: true,
                    dots: false,
                },
                Series {
                    label: "b".into(),
                    points: vec![(5, 2.0)],
                    colour: "#111",
                    dashed: false,
                    dots: true,
                },
            ],
            width: 400,
            height: 150,
        };
        let svg = line_chart(&c, 10, |t| t.to_string()).into_string();
        for tag in ["line", "circle", "path", "rect", "text", "g"] {
            assert_eq!(
                svg.matches(&format!("<{tag} ")).count(),
                svg.matches(&format!("</{tag}>")).count(),
                "{tag} in {svg}"
            );
        }
        assert!(svg.contains(r#"<g data-series="a" data-points="3">"#));
        assert!(svg.contains(r#"stroke-dasharray="4 3""#));
    }
}
