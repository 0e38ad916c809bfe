//! `tunekeeper gc --format html`: the analysis as one self-contained page
//! to attach to an incident: inline CSS and SVG only (no script, fonts or
//! anything fetched), so it opens offline and the same everywhere.
//!
//! The charts and the escaping are the fleet page's ([`crate::collector`]),
//! so both look alike. Everything taken from a log (causes, paths, flags,
//! unrecognised lines) goes through [`escape`].

use std::fmt::Write as _;
use std::io::{self, Write};

use time::OffsetDateTime;
use time::macros::format_description;

use super::budget::TimeoutCheck;
use super::event::PauseKind;
use super::hist::PauseSummary;
use super::report::Analysis;
use super::stats::{Clock, StatsSnapshot};
use crate::finding::Status;
use crate::web::charts::{self, Chart, Series};
use crate::web::html::escape;

/// Colour of each pause kind, in [`PauseKind::ALL`] order: blues for the
/// routine young pauses, purples for mixed, amber for the concurrent
/// cycle's own pauses, red for full GCs.
const KIND_COLOURS: [&str; 7] = [
    "#1f5fbf", "#19a0b0", "#9b7fd6", "#7b3fbf", "#e08a00", "#9a6b2f", "#c0262d",
];

/// Full GCs listed before the rest is folded away...
const FULL_GCS_SHOWN: usize = 20;
/// ...when there are more than this: folding away two rows saves nothing.
const FULL_GCS_FOLD: usize = 30;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// What the charts' x axis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    /// Wall-clock time, epoch ms (every point has it).
    Wall,
    /// Time on the analysis timeline, ms from the start of the log.
    Timeline,
    /// The pause's number: the log has no (usable) time.
    Seq,
}

fn colour(kind: PauseKind) -> &'static str {
    let i = PauseKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    KIND_COLOURS[i]
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with the precision that matters at their size.
fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        group(v.round() as u64)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(sig).unwrap_or_else(|| "n/a".into())
}

/// A rate: like [`ms`], but small values keep two significant digits
/// (`0.00031`), where fixed decimals would round them to a false zero.
fn sig(v: f64) -> String {
    if v == 0.0 || v >= 1.0 || !v.is_finite() {
        return ms(v);
    }
    let digits = ((-v.log10()).ceil() as usize + 1).min(8);
    format!("{v:.digits$}")
}

/// Time between pauses: ms while short, a duration once it is long.
fn gap(v: f64) -> String {
    if v >= 10_000.0 {
        duration(v / 1000.0)
    } else {
        format!("{} ms", ms(v))
    }
}

fn utc(ms: i64, fmt: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(fmt).ok())
        .unwrap_or_else(|| "?".into())
}

fn wall(ms: i64) -> String {
    utc(
        ms,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"),
    )
}

/// A duration for people: `42.0 s`, `5 min 3 s`, `3 h 10 min`, `2 d 4 h`.
fn duration(s: f64) -> String {
    human_duration(s, ["min", "s", "h", "d"], " ")
}

/// A duration for a card: `42.0 s`, `4m 59s`, `3h 10m`, `2d 4h`.
fn short_duration(s: f64) -> String {
    human_duration(s, ["m", "s", "h", "d"], "")
}

/// Two units of a duration, with the given unit names (minute, second,
/// hour, day) and the separator between number and unit.
fn human_duration(s: f64, [min, sec, hour, day]: [&str; 4], sep: &str) -> String {
    let secs = s.round() as i64;
    if s < 60.0 {
        format!("{s:.1} s")
    } else if secs < 3600 {
        format!("{}{sep}{min} {}{sep}{sec}", secs / 60, secs % 60)
    } else if secs < 86_400 {
        format!("{}{sep}{hour} {}{sep}{min}", secs / 3600, secs % 3600 / 60)
    } else {
        format!(
            "{}{sep}{day} {}{sep}{hour}",
            secs / 86_400,
            secs % 86_400 / 3600
        )
    }
}

/// A tick step giving at most ten ticks over `span` ms, on round times.
fn time_step(span: i64) -> i64 {
    const STEPS: [i64; 29] = [
        10,
        20,
        50,
        100,
        200,
        500,
        SECOND,
        2 * SECOND,
        5 * SECOND,
        10 * SECOND,
        15 * SECOND,
        30 * SECOND,
        MINUTE,
        2 * MINUTE,
        5 * MINUTE,
        10 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        28 * DAY,
        91 * DAY,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 10)
        .unwrap_or(STEPS[STEPS.len() - 1])
}

/// A tick step (1, 2 or 5 times a power of ten) giving at most ten ticks.
fn count_step(span: i64) -> i64 {
    let mut p = 1i64;
    loop {
        for m in [1, 2, 5] {
            if span / (m * p) <= 10 {
                return m * p;
            }
        }
        p = p.saturating_mul(10);
    }
}

/// The x-axis tick label for `x` with ticks every `step`.
fn tick_label(axis: Axis, span: i64, step: i64, x: i64) -> String {
    match axis {
        Axis::Wall if step >= DAY => utc(x, format_description!("[month repr:short] [day]")),
        Axis::Wall if span > DAY => utc(
            x,
            format_description!("[weekday repr:short] [hour]:[minute]"),
        ),
        Axis::Wall if step < SECOND => utc(
            x,
            format_description!("[hour]:[minute]:[second].[subsecond digits:2]"),
        ),
        Axis::Wall if step < MINUTE => utc(x, format_description!("[hour]:[minute]:[second]")),
        Axis::Wall => utc(x, format_description!("[hour]:[minute]")),
        Axis::Timeline => {
            let s = x / SECOND;
            let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
            if step < SECOND {
                format!("+{}.{:02} s", s, x % SECOND / 10)
            } else if d > 0 {
                format!("+{d}d {h:02}:{m:02}")
            } else if step >= MINUTE {
                format!("+{h}:{m:02}")
            } else {
                format!("+{h}:{m:02}:{sec:02}")
            }
        }
        Axis::Seq => format!("#{x}"),
    }
}

/// True when every time is there and none goes back by more than a second
/// (threads' lines may interleave a little out of order).
fn forward(walls: impl Iterator<Item = Option<i64>>) -> bool {
    let mut latest = i64::MIN;
    for w in walls {
        match w {
            Some(w) if w >= latest.saturating_sub(SECOND) => latest = latest.max(w),
            _ => return false,
        }
    }
    true
}

/// The x axis both charts share, and how to describe it.
struct XAxis {
    axis: Axis,
    range: (i64, i64),
    step: i64,
}

impl XAxis {
    fn of(s: &StatsSnapshot) -> XAxis {
        let pts = &s.pause_timeline;
        let timed = !pts.is_empty() && pts.iter().all(|p| p.t_s.is_some());
        // Wall-clock time is what an incident timeline uses, but only when
        // it moves forward: a clock stepped back, or logs of several hosts
        // read as one, would fold the chart onto itself. The analysis
        // timeline always moves forward.
        let forward = forward(pts.iter().map(|p| p.wall_ms))
            && forward(s.heap_after_gc.iter().map(|h| h.wall_ms));
        let axis = if timed && forward {
            Axis::Wall
        } else if timed {
            Axis::Timeline
        } else {
            Axis::Seq
        };
        let mut xs: Vec<i64> = pts
            .iter()
            .filter_map(|p| match axis {
                Axis::Wall => p.wall_ms,
                Axis::Timeline => p.t_s.map(|t| (t * 1000.0).round() as i64),
                Axis::Seq => Some(p.seq as i64),
            })
            .collect();
        xs.extend(s.heap_after_gc.iter().filter_map(|h| match axis {
            Axis::Wall => h.wall_ms,
            Axis::Timeline => h.t_s.map(|t| (t * 1000.0).round() as i64),
            Axis::Seq => None,
        }));
        let lo = xs.iter().copied().min().unwrap_or(0);
        let hi = xs.iter().copied().max().unwrap_or(1);
        let (lo, hi) = match axis {
            Axis::Timeline => (lo.min(0), hi),
            Axis::Seq => (0, hi + 1),
            Axis::Wall => (lo, hi),
        };
        // At least a second (or ten pauses) wide: one pause alone is not a range.
        let hi = hi.max(lo + if axis == Axis::Seq { 10 } else { 1000 });
        // A sliver of room either side, so the first and last dots are whole.
        let pad = (hi - lo) / 100;
        let range = (lo - pad, hi + pad);
        let step = match axis {
            Axis::Seq => count_step(range.1 - range.0),
            _ => time_step(range.1 - range.0),
        };
        XAxis { axis, range, step }
    }

    fn describe(&self) -> &'static str {
        match self.axis {
            Axis::Wall => "x: wall-clock time, UTC",
            Axis::Timeline => "x: JVM running time since the start of the log",
            Axis::Seq => "x: pause number (the log has no time, so no time axis)",
        }
    }

    fn chart(&self, c: &Chart) -> String {
        let span = self.range.1 - self.range.0;
        let (axis, step) = (self.axis, self.step);
        charts::line_chart(c, step, |x| tick_label(axis, span, step, x))
    }
}

/// True when a service-level finding on `key` drifted.
fn drifts(a: &Analysis, key: &str) -> bool {
    a.findings
        .iter()
        .any(|f| f.check == "gc" && f.key == key && f.status == Status::Drift)
}

fn head(s: &mut String, a: &Analysis) {
    let title = match a.files.first() {
        Some(f) => format!("GC report · {}", f.path),
        None => "GC report".into(),
    };
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>{}</title><style>{}{STYLE}</style></head><body>"#,
        escape(&title),
        crate::web::STYLE
    );
}

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
    let mut s = String::with_capacity(256 * 1024);
    head(&mut s, a);
    header(&mut s, a);
    s.push_str("<main>");
    notes(&mut s, st);
    cards(&mut s, a);
    let x = XAxis::of(st);
    pause_chart(&mut s, a, &x);
    heap_chart(&mut s, st, &x);
    s.push_str(r#"<div class="cols"><div>"#);
    pause_table(&mut s, st);
    full_gcs(&mut s, st);
    where_time_went(&mut s, st, &a.timeout_budget);
    s.push_str("</div><div>");
    rates(&mut s, st);
    jvm(&mut s, a);
    s.push_str("</div></div>");
    findings(&mut s, a);
    files(&mut s, a);
    s.push_str("</main>");
    let _ = write!(
        s,
        "<footer>tunekeeper {} · generated {} UTC · pause figures from a histogram: quantiles within 1 %, count, total and max exact</footer></body></html>",
        env!("CARGO_PKG_VERSION"),
        utc(
            (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
            format_description!("[year]-[month]-[day] [hour]:[minute]")
        )
    );
    s.push('\n');
    s
}

fn header(s: &mut String, a: &Analysis) {
    let st = &a.stats;
    let what = match a.files.len() {
        0 => "no files".to_string(),
        1 => escape(&a.files[0].path),
        n => format!(
            "{} <span class=\"mut\">and {} more files</span>",
            escape(&a.files[0].path),
            n - 1
        ),
    };
    let _ = write!(
        s,
        r#"<header><h1>GC report</h1><span class="stats"><span>{what}</span></span>"#
    );
    let when = match (st.first_wall_ms, st.last_wall_ms) {
        (Some(f), Some(l)) => format!("{} → {} UTC", wall(f), wall(l)),
        _ => "no wall-clock time in the log".into(),
    };
    let _ = write!(s, r#"<span class="stamp">{when}</span></header>"#);
}

fn notes(s: &mut String, st: &StatsSnapshot) {
    if st.not_computable.is_empty() {
        return;
    }
    let untimed = st
        .rates_null_because
        .as_deref()
        .is_some_and(|w| w.contains("carry no time"));
    let why = if st.clock == Clock::None {
        "The log has no time decorators (<code>-Xlog:gc*:file=…:none</code> or <code>tags</code> only)"
    } else if untimed {
        "Some pauses in the log carry no time"
    } else {
        // Timed, but too short a span or no pause: say why, nothing more.
        let _ = write!(
            s,
            r#"<div class="note"><b>Not computable from this log:</b> {}: {}.</div>"#,
            escape(&st.not_computable.join(", ")),
            escape(
                st.rates_null_because
                    .as_deref()
                    .unwrap_or("see the figures")
            )
        );
        return;
    };
    let _ = write!(
        s,
        r#"<div class="note"><b>Not computable from this log:</b> {}. {why}, so rates are shown as n/a rather than guessed, and pauses are charted by their number, not over time. Add <code>time,uptime</code> to the log's decorators to get them.</div>"#,
        escape(&st.not_computable.join(", "))
    );
}

fn cards(s: &mut String, a: &Analysis) {
    let st = &a.stats;
    let hot = |b: bool| if b { " hot" } else { "" };
    let card = |s: &mut String, k: &str, v: String, unit: &str, is_hot: bool| {
        let _ = write!(
            s,
            r#"<div class="card"><div class="k">{k}</div><div class="v{}">{v}<small> {unit}</small></div></div>"#,
            hot(is_hot)
        );
    };
    s.push_str(r#"<div class="cards">"#);
    card(s, "Pauses", group(st.overall.count), "", false);
    card(
        s,
        "Time covered",
        st.span_s
            .map(short_duration)
            .unwrap_or_else(|| "n/a".into()),
        "",
        false,
    );
    card(
        s,
        "GC pause rate",
        opt(st.gc_ms_per_second),
        "ms/s",
        drifts(a, "gc_ms_per_second"),
    );
    card(
        s,
        "Worst minute",
        opt(st.worst_minute_gc_ms_per_second),
        "ms/s",
        drifts(a, "worst_minute_gc_ms_per_second"),
    );
    card(
        s,
        "Pause p99",
        ms(st.overall.p99_ms),
        "ms",
        drifts(a, "pause_p99_ms"),
    );
    card(
        s,
        "Longest pause",
        ms(st.overall.max_ms),
        "ms",
        drifts(a, "pause_max_ms"),
    );
    card(
        s,
        "Full GCs",
        group(st.pauses.full.count),
        "",
        st.pauses.full.count > 0,
    );
    card(
        s,
        "Allocation rate",
        opt(st.allocation_rate_mb_per_s),
        "MB/s",
        false,
    );
    card(
        s,
        "Evacuation failures",
        group(st.evacuation_failures),
        "",
        st.evacuation_failures > 0,
    );
    s.push_str("</div>");
}

fn pause_chart(s: &mut String, a: &Analysis, x: &XAxis) {
    let st = &a.stats;
    let to_x = |p: &super::stats::PausePoint| match x.axis {
        Axis::Wall => p.wall_ms,
        Axis::Timeline => p.t_s.map(|t| (t * 1000.0).round() as i64),
        Axis::Seq => Some(p.seq as i64),
    };
    let series: Vec<Series> = PauseKind::ALL
        .iter()
        .filter(|k| st.pauses.get(**k).count > 0)
        .map(|&kind| Series {
            label: kind.as_str().into(),
            points: st
                .pause_timeline
                .iter()
                .filter(|p| p.kind == kind)
                .filter_map(|p| Some((to_x(p)?, p.duration_ms)))
                .collect(),
            colour: colour(kind),
            dashed: false,
            dots: true,
        })
        .collect();
    let target = a.flags.max_gc_pause_millis.map(|v| v as f64);
    let shown = st.pause_timeline.len() as u64;
    let sampled = if shown < st.overall.count {
        format!(
            "; {} of {} pauses drawn: the longest of each stretch, so spikes stay",
            group(shown),
            group(st.overall.count)
        )
    } else {
        String::new()
    };
    let target_note = if target.is_some() {
        "; dashed red: MaxGCPauseMillis"
    } else {
        ""
    };
    let _ = write!(
        s,
        r#"<h2>Pause timeline <span class="mut">{}{target_note}{sampled}</span></h2><div class="charts one"><div class="chartbox" id="pause-chart">{}</div></div>"#,
        x.describe(),
        x.chart(&Chart {
            title: "Pause duration, ms".into(),
            unit: "ms",
            x_range: x.range,
            threshold: target,
            series,
            width: 1340,
            height: 300,
        })
    );
}

fn heap_chart(s: &mut String, st: &StatsSnapshot, x: &XAxis) {
    if x.axis == Axis::Seq || st.heap_after_gc.is_empty() {
        let why = if st.heap_after_gc.is_empty() {
            "the log shows no heap sizes around its pauses"
        } else {
            "not computable: the log has no time to draw it over"
        };
        let _ = write!(
            s,
            r#"<h2>Heap after GC <span class="mut">{why}</span></h2>"#
        );
        return;
    }
    let max_kb = st
        .heap_after_gc
        .iter()
        .map(|h| h.capacity_kb.max(h.after_kb))
        .max()
        .unwrap_or(0);
    // GB once the heap is big enough that MB figures get long.
    let (div, unit) = if max_kb >= 4 * 1024 * 1024 {
        (1024.0 * 1024.0, "GB")
    } else {
        (1024.0, "MB")
    };
    let to_x = |h: &super::stats::HeapPoint| match x.axis {
        Axis::Wall => h.wall_ms,
        Axis::Timeline => h.t_s.map(|t| (t * 1000.0).round() as i64),
        Axis::Seq => None,
    };
    let pts = |f: fn(&super::stats::HeapPoint) -> u64| -> Vec<(i64, f64)> {
        st.heap_after_gc
            .iter()
            .filter_map(|h| Some((to_x(h)?, f(h) as f64 / div)))
            .collect()
    };
    let chart = x.chart(&Chart {
        title: format!("Heap after GC, {unit}"),
        unit,
        x_range: x.range,
        threshold: None,
        series: vec![
            Series {
                label: "committed".into(),
                points: pts(|h| h.capacity_kb),
                colour: "#9aa3b2",
                dashed: true,
                dots: false,
            },
            Series {
                label: "used after GC".into(),
                points: pts(|h| h.after_kb),
                colour: "#1f5fbf",
                dashed: false,
                dots: false,
            },
        ],
        width: 1340,
        height: 220,
    });
    let _ = write!(
        s,
        r#"<h2>Heap after GC <span class="mut">{}; a rising floor of used-after-GC means live data grows</span></h2><div class="charts one"><div class="chartbox" id="heap-chart">{chart}</div></div>"#,
        x.describe()
    );
}

fn pause_row(s: &mut String, name: &str, attrs: &str, cls: &str, p: &PauseSummary, total: f64) {
    let share = if total > 0.0 {
        format!("{:.1}", p.total_ms / total * 100.0)
    } else {
        "–".into()
    };
    let _ = write!(
        s,
        r#"<tr{attrs}{cls}><td>{name}</td><td class="n count">{}</td><td class="n">{}</td><td class="n">{share}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
        group(p.count),
        ms(p.total_ms),
        ms(p.mean_ms),
        ms(p.p50_ms),
        ms(p.p90_ms),
        ms(p.p99_ms),
        ms(p.p999_ms),
        ms(p.max_ms),
    );
}

fn pause_table(s: &mut String, st: &StatsSnapshot) {
    s.push_str(
        r#"<h2>Pauses by kind <span class="mut">ms</span></h2><table id="pauses"><thead><tr><th>Kind</th><th class="n">Count</th><th class="n">Total</th><th class="n">% of time</th><th class="n">Mean</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">p99.9</th><th class="n">Max</th></tr></thead><tbody>"#,
    );
    let total = st.overall.total_ms;
    for kind in PauseKind::ALL {
        let p = st.pauses.get(kind);
        let name = format!(
            r#"<span class="sw" style="background:{}"></span>{}"#,
            colour(kind),
            kind.as_str()
        );
        let cls = if p.count == 0 { r#" class="zero""# } else { "" };
        pause_row(
            s,
            &name,
            &format!(r#" data-kind="{}""#, kind.as_str()),
            cls,
            p,
            total,
        );
    }
    s.push_str("</tbody><tfoot>");
    pause_row(
        s,
        "all pauses",
        r#" data-kind="overall""#,
        "",
        &st.overall,
        total,
    );
    s.push_str("</tfoot></table>");
}

fn full_gcs(s: &mut String, st: &StatsSnapshot) {
    let listed = if (st.full_gcs.len() as u64) < st.pauses.full.count {
        format!(
            "the first {} of {}",
            st.full_gcs.len(),
            group(st.pauses.full.count)
        )
    } else {
        String::new()
    };
    // A column of dashes says nothing: show only the clocks the log has.
    let has_wall = st.full_gcs.iter().any(|f| f.wall_ms.is_some());
    let has_uptime = st.full_gcs.iter().any(|f| f.uptime_ms.is_some());
    if st.full_gcs.is_empty() {
        s.push_str(r#"<h2>Full GCs</h2><p class="mut" id="full-gcs">None in this log.</p>"#);
        return;
    }
    let _ = write!(
        s,
        r#"<h2>Full GCs <span class="mut">{listed}</span></h2><table id="full-gcs"><thead><tr>{}{}<th class="n">Duration, ms</th><th>Cause</th></tr></thead><tbody>"#,
        if has_wall { "<th>Time (UTC)</th>" } else { "" },
        if has_uptime {
            r#"<th class="n">JVM uptime</th>"#
        } else {
            ""
        },
    );
    for (i, f) in st.full_gcs.iter().enumerate() {
        if i == FULL_GCS_SHOWN && st.full_gcs.len() > FULL_GCS_FOLD {
            // The rest folded away: the first ones tell the story, and the
            // tables beside and below should stay in view.
            let _ = write!(
                s,
                r#"</tbody></table><details><summary>{} more</summary><table class="more"><tbody>"#,
                st.full_gcs.len() - FULL_GCS_SHOWN
            );
        }
        let cell = |show: bool, cls: &str, v: Option<String>| {
            if show {
                format!("<td{cls}>{}</td>", v.unwrap_or_else(|| "–".into()))
            } else {
                String::new()
            }
        };
        let _ = write!(
            s,
            r#"<tr class="fgc">{}{}<td class="n hot">{}</td><td>{}</td></tr>"#,
            cell(has_wall, "", f.wall_ms.map(wall)),
            cell(
                has_uptime,
                r#" class="n""#,
                f.uptime_ms.map(|u| format!("{:.3} s", u / 1000.0))
            ),
            ms(f.duration_ms),
            escape(&f.cause)
        );
    }
    s.push_str("</tbody></table>");
}

/// Stalled pauses and safepoints (`id="stalls"`, `id="safepoints"`).
fn where_time_went(s: &mut String, st: &StatsSnapshot, st_budget: &[TimeoutCheck]) {
    let row = |s: &mut String, k: &str, v: String| {
        let _ = write!(
            s,
            r#"<tr><td class="k">{k}</td><td class="n">{v}</td></tr>"#
        );
    };
    let na = |why: &Option<String>| {
        format!(
            r#"<span class="mut">n/a ({})</span>"#,
            escape(why.as_deref().unwrap_or("not computable"))
        )
    };
    let t = &st.stalls;
    let _ = write!(
        s,
        r#"<h2>Where pause time went <span class="mut">a pause is stalled when its wall time is at least {} × its CPU time ÷ GC threads and it waited at least {} ms</span></h2><table id="stalls"><tbody>"#,
        sig(t.rule.ratio),
        sig(t.rule.min_wait_ms)
    );
    match t.stalled_pauses {
        Some(n) => {
            row(
                s,
                "Stalled pauses",
                format!(
                    "{} of {} · {} ms · {} % of their pause time",
                    group(n),
                    group(t.pauses_with_cpu),
                    ms(t.stalled_ms.unwrap_or(0.0)),
                    sig(t.stalled_share_percent.unwrap_or(0.0))
                ),
            );
            row(s, "GC threads from", escape(&t.threads_from.join(", ")));
        }
        None => row(s, "Stalled pauses", na(&t.null_because)),
    }
    let sp = &st.safepoints;
    match &sp.time_to_safepoint {
        Some(tt) => {
            row(
                s,
                "Time to safepoint",
                format!("p99 {} · max {} ms", ms(tt.p99_ms), ms(tt.max_ms)),
            );
            row(
                s,
                "Stopped, not for GC",
                format!(
                    "{} stops · {} ms · max {} ms",
                    group(sp.non_gc_count.unwrap_or(0)),
                    ms(sp.non_gc_stopped_ms.unwrap_or(0.0)),
                    ms(sp.non_gc_max_ms.unwrap_or(0.0))
                ),
            );
        }
        None => row(s, "Time to safepoint", na(&sp.null_because)),
    }
    s.push_str("</tbody></table>");
    timeout_budget(s, st_budget);
    if t.worst.is_empty() {
        return;
    }
    s.push_str(
        r#"<table id="stalled-pauses"><thead><tr><th>When</th><th>Kind</th><th class="n">Wall, ms</th><th class="n">CPU, ms</th><th class="n">Threads</th><th class="n">Waited, ms</th></tr></thead><tbody>"#,
    );
    for w in &t.worst {
        let when = match (w.wall_ms, w.uptime_ms) {
            (Some(t), _) => wall(t),
            (None, Some(u)) => format!("uptime {:.3} s", u / 1000.0),
            (None, None) => "–".into(),
        };
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{} ({})</td><td class="n hot">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            when,
            w.kind.as_str(),
            escape(&w.cause),
            ms(w.duration_ms),
            ms(w.cpu_ms),
            w.threads,
            ms(w.waited_ms)
        );
    }
    s.push_str("</tbody></table>");
}

/// The worst pause and stop against each broker timeout (`id="timeouts"`).
fn timeout_budget(s: &mut String, checks: &[TimeoutCheck]) {
    if checks.is_empty() {
        return;
    }
    s.push_str(
        r#"<table id="timeouts"><thead><tr><th>Timeout</th><th class="n">ms</th><th class="n">Worst pause</th><th class="n">Worst stop</th><th>From</th></tr></thead><tbody>"#,
    );
    let cell = |v: Option<f64>, p: Option<f64>| match (v, p) {
        (Some(v), Some(p)) => format!("{} ms ({} %)", ms(v), sig(p)),
        _ => "–".to_owned(),
    };
    for c in checks {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            escape(&c.limit.key),
            group(c.limit.value_ms),
            cell(c.worst_pause_ms, c.worst_pause_percent),
            cell(c.worst_stop_ms, c.worst_stop_percent),
            escape(&c.limit.from)
        );
    }
    s.push_str("</tbody></table>");
}

fn rates(s: &mut String, st: &StatsSnapshot) {
    s.push_str(r#"<h2>Rates</h2><table id="rates"><tbody>"#);
    let row = |s: &mut String, k: &str, v: String| {
        let _ = write!(
            s,
            r#"<tr><td class="k">{k}</td><td class="n">{v}</td></tr>"#
        );
    };
    let why = escape(st.rates_null_because.as_deref().unwrap_or("not computable"));
    let unit = |v: Option<f64>, u: &str| match v {
        Some(v) => format!("{} {u}", sig(v)),
        None => format!(r#"<span class="mut">n/a ({why})</span>"#),
    };
    row(
        s,
        "GC pause per second of running time",
        unit(st.gc_ms_per_second, "ms/s"),
    );
    row(
        s,
        "Worst minute",
        unit(st.worst_minute_gc_ms_per_second, "ms/s"),
    );
    row(
        s,
        "Young GCs per second",
        unit(st.young_gcs_per_second, "/s"),
    );
    row(s, "Pauses per second", unit(st.pauses_per_second, "/s"));
    row(
        s,
        "Allocation rate",
        unit(st.allocation_rate_mb_per_s, "MB/s"),
    );
    match &st.pause_interval {
        Some(iv) => row(
            s,
            "Time between pauses",
            format!("p50 {} · p99 {}", gap(iv.p50_ms), gap(iv.p99_ms)),
        ),
        None => row(s, "Time between pauses", unit(None, "")),
    }
    row(
        s,
        "Running time covered",
        st.span_s.map(duration).unwrap_or_else(|| unit(None, "")),
    );
    row(s, "Evacuation failures", group(st.evacuation_failures));
    row(
        s,
        "Humongous allocations",
        format!(
            "{} ({} pauses caused by one)",
            group(st.humongous_allocations),
            group(st.humongous_allocation_pauses)
        ),
    );
    row(s, "JVM starts seen", group(st.jvm_starts));
    s.push_str("</tbody></table>");
    if !st.concurrent.is_empty() {
        s.push_str(
            r#"<h2>Concurrent phases <span class="mut">beside the application, not pauses; ms</span></h2><table id="concurrent"><thead><tr><th>Phase</th><th class="n">Runs</th><th class="n">p50</th><th class="n">p99</th><th class="n">Max</th></tr></thead><tbody>"#,
        );
        for c in &st.concurrent {
            let d = &c.durations;
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                escape(&c.name),
                group(d.count),
                ms(d.p50_ms),
                ms(d.p99_ms),
                ms(d.max_ms)
            );
        }
        s.push_str("</tbody></table>");
    }
}

fn jvm(s: &mut String, a: &Analysis) {
    let f = &a.flags;
    let kb = |v: Option<u64>| match v {
        Some(v) if v >= 1024 * 1024 && v % (1024 * 1024) == 0 => format!("{} GB", v / 1024 / 1024),
        Some(v) => format!("{} MB", v / 1024),
        None => "unknown".into(),
    };
    s.push_str(r#"<h2>JVM</h2><table id="jvm"><tbody>"#);
    let mut row = |k: &str, v: String| {
        let _ = write!(s, r#"<tr><td class="k">{k}</td><td>{v}</td></tr>"#);
    };
    row("Version", escape(f.version.as_deref().unwrap_or("unknown")));
    row(
        "Collector",
        escape(f.collector.as_deref().unwrap_or("unknown")),
    );
    row("Initial heap", kb(f.initial_heap_kb));
    row("Maximum heap", kb(f.max_heap_kb));
    row(
        "MaxGCPauseMillis",
        f.max_gc_pause_millis
            .map(|v| format!("{v} ms"))
            .unwrap_or_else(|| "unknown".into()),
    );
    if !f.young_fixed_by.is_empty() {
        row("Young size fixed by", escape(&f.young_fixed_by.join(" ")));
    }
    s.push_str("</tbody></table>");
}

fn findings(s: &mut String, a: &Analysis) {
    let sm = &a.summary;
    let _ = write!(
        s,
        r#"<h2>Findings <span class="mut">{} drift, {} ok, {} not applicable; jvm: flag rules, gc: service levels</span></h2><table id="findings"><thead><tr><th>Check</th><th>Key</th><th>Expected</th><th>Actual</th><th>Status</th><th>Source</th><th>Detail</th></tr></thead><tbody>"#,
        sm.drift, sm.ok, sm.not_applicable
    );
    if a.findings.is_empty() {
        s.push_str(r#"<tr class="empty-row"><td colspan="7">No checks ran.</td></tr>"#);
    }
    for f in &a.findings {
        let pill = match f.status {
            Status::Ok => "ok",
            Status::Drift => "bad",
            Status::Unreadable => "warn",
            Status::NotApplicable | Status::Waived => "unk",
        };
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="code">{}</td><td class="code">{}</td><td class="code">{}</td><td><span class="pill {pill}">{}</span></td><td class="wrap mut">{}</td><td class="wrap">{}</td></tr>"#,
            escape(&f.check),
            escape(&f.key),
            escape(&f.expected),
            escape(f.actual.as_deref().unwrap_or("–")),
            f.status.as_str(),
            escape(f.source.as_deref().unwrap_or("")),
            escape(f.detail.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</tbody></table>");
}

fn files(s: &mut String, a: &Analysis) {
    s.push_str(
        r#"<h2>Files read <span class="mut">in the order read</span></h2><table id="files"><thead><tr><th>File</th><th>Format</th><th class="n">Lines</th><th class="n">Unrecognised</th></tr></thead><tbody>"#,
    );
    for f in &a.files {
        let examples = if f.unrecognised_examples.is_empty() {
            String::new()
        } else {
            let lines: Vec<String> = f.unrecognised_examples.iter().map(|l| escape(l)).collect();
            format!(
                r#"<details><summary>first unrecognised lines</summary><pre class="ex">{}</pre></details>"#,
                lines.join("\n")
            )
        };
        let _ = write!(
            s,
            r#"<tr><td class="code">{}{examples}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            escape(&f.path),
            escape(&f.format.describe()),
            group(f.lines),
            group(f.unrecognised_lines)
        );
    }
    s.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(ms(2.5), "2.50");
        assert_eq!(ms(31.4159), "31.4");
        assert_eq!(ms(314.159), "314");
        assert_eq!(ms(31_415.9), "31,416");
        assert_eq!(duration(42.0), "42.0 s");
        assert_eq!(sig(0.000_312), "0.00031");
        assert_eq!(sig(0.25), "0.25");
        assert_eq!(sig(0.001), "0.0010");
        assert_eq!(sig(0.0), "0.00");
        assert_eq!(sig(275.42), "275");
        assert_eq!(gap(12_776_153.0), "3 h 32 min");
        assert_eq!(duration(3.0 * 3600.0 + 600.0), "3 h 10 min");
        assert_eq!(short_duration(299.0), "4m 59s");
        assert_eq!(short_duration(2.0 * 86_400.0 + 4.0 * 3600.0), "2d 4h");
    }

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(time_step(30 * SECOND), 5 * SECOND);
        assert_eq!(time_step(2 * HOUR), 15 * MINUTE);
        assert_eq!(time_step(3 * DAY), 12 * HOUR);
        assert_eq!(count_step(95), 10);
        assert_eq!(count_step(1234), 200);
        assert_eq!(count_step(5), 1);
        assert_eq!(
            tick_label(Axis::Timeline, HOUR, MINUTE, 90 * MINUTE),
            "+1:30"
        );
        assert_eq!(
            tick_label(Axis::Timeline, DAY, SECOND, 61 * SECOND),
            "+0:01:01"
        );
        assert_eq!(tick_label(Axis::Seq, 10, 1, 7), "#7");
        assert_eq!(tick_label(Axis::Wall, HOUR, MINUTE, 90 * MINUTE), "01:30");
    }
}
