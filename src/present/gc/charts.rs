//! The GC report's two charts: every pause drawn as a dot over time (by
//! kind), and the heap used after GC against the heap committed.

use maud::{Markup, html};

use super::axis::{Axis, XAxis};
use super::format::group;
use crate::gc::event::PauseKind;
use crate::gc::report::Analysis;
use crate::gc::stats::{HeapPoint, StatsSnapshot};
use crate::present::chart::{Chart, Series};

/// Colour of each pause kind, in [`PauseKind::ALL`] order: blues for the
/// routine young pauses, purples for mixed, amber for the concurrent
/// cycle's own pauses, red for full GCs.
const KIND_COLOURS: [&str; 7] = [
    "#1f5fbf", "#19a0b0", "#9b7fd6", "#7b3fbf", "#e08a00", "#9a6b2f", "#c0262d",
];

/// The colour a pause kind has in the chart and the pause table.
pub(super) fn colour(kind: PauseKind) -> &'static str {
    let i = PauseKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    KIND_COLOURS[i]
}

/// The pause timeline (`id="pause-chart"`): a dot series per kind that
/// occurred, and `MaxGCPauseMillis` as the service level when known.
pub(super) fn pause_chart(a: &Analysis, x: &XAxis) -> Markup {
    let st = &a.stats;
    let series: Vec<Series> = PauseKind::ALL
        .iter()
        .filter(|k| st.pauses.get(**k).count > 0)
        .map(|&kind| Series {
            label: kind.as_str().into(),
            points: st
                .pause_timeline
                .iter()
                .filter(|p| p.kind == kind)
                .filter_map(|p| Some((x.pause_x(p)?, p.duration_ms)))
                .collect(),
            colour: colour(kind),
            dashed: false,
            dots: true,
        })
        .collect();
    let target = a.flags.max_gc_pause_millis.map(|v| v as f64);
    let shown = st.pause_timeline.len() as u64;
    let chart = x.chart(&Chart {
        title: "Pause duration, ms".into(),
        unit: "ms",
        x_range: x.range,
        threshold: target,
        series,
        width: 1340,
        height: 300,
    });
    html! {
        h2 {
            "Pause timeline "
            span class="mut" {
                (x.describe())
                @if target.is_some() { "; dashed red: MaxGCPauseMillis" }
                @if shown < st.overall.count {
                    "; " (group(shown)) " of " (group(st.overall.count))
                    " pauses drawn: the longest of each stretch, so spikes stay"
                }
            }
        }
        div.charts.one { div.chartbox #pause-chart { (chart) } }
    }
}

/// Heap after GC (`id="heap-chart"`), or why there is none.
pub(super) fn heap_chart(st: &StatsSnapshot, x: &XAxis) -> Markup {
    if x.axis == Axis::Seq || st.heap_after_gc.is_empty() {
        let why = if st.heap_after_gc.is_empty() {
            "the log shows no heap sizes around its pauses"
        } else {
            "not computable: the log has no time to draw it over"
        };
        return html! { h2 { "Heap after GC " span class="mut" { (why) } } };
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
    let pts = |f: fn(&HeapPoint) -> u64| -> Vec<(i64, f64)> {
        st.heap_after_gc
            .iter()
            .filter_map(|h| Some((x.heap_x(h)?, f(h) as f64 / div)))
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
    html! {
        h2 {
            "Heap after GC "
            span class="mut" { (x.describe()) "; a rising floor of used-after-GC means live data grows" }
        }
        div.charts.one { div.chartbox #heap-chart { (chart) } }
    }
}
