//! The x axis the GC report's two charts share: wall-clock time when the
//! log has it and it moves forward, else the JVM's running time, else the
//! pause's number; with round ticks and their labels.

use maud::Markup;
use time::macros::format_description;

use super::format::utc;
use crate::gc::stats::{HeapPoint, PausePoint, StatsSnapshot};
use crate::present::chart::{self, Chart};

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// What the charts' x axis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Axis {
    /// Wall-clock time, epoch ms (every point has it).
    Wall,
    /// Time on the analysis timeline, ms from the start of the log.
    Timeline,
    /// The pause's number: the log has no (usable) time.
    Seq,
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
pub(super) struct XAxis {
    pub(super) axis: Axis,
    pub(super) range: (i64, i64),
    step: i64,
}

impl XAxis {
    /// The axis for this analysis's pauses and heap points.
    pub(super) fn of(s: &StatsSnapshot) -> XAxis {
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
        let mut x = XAxis {
            axis,
            range: (0, 0),
            step: 0,
        };
        let mut xs: Vec<i64> = pts.iter().filter_map(|p| x.pause_x(p)).collect();
        xs.extend(s.heap_after_gc.iter().filter_map(|h| x.heap_x(h)));
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
        x.range = (lo - pad, hi + pad);
        x.step = match axis {
            Axis::Seq => count_step(x.range.1 - x.range.0),
            _ => time_step(x.range.1 - x.range.0),
        };
        x
    }

    /// Where a pause goes on this axis.
    pub(super) fn pause_x(&self, p: &PausePoint) -> Option<i64> {
        match self.axis {
            Axis::Wall => p.wall_ms,
            Axis::Timeline => p.t_s.map(|t| (t * 1000.0).round() as i64),
            Axis::Seq => Some(p.seq as i64),
        }
    }

    /// Where a heap point goes on this axis (nowhere on pause numbers).
    pub(super) fn heap_x(&self, h: &HeapPoint) -> Option<i64> {
        match self.axis {
            Axis::Wall => h.wall_ms,
            Axis::Timeline => h.t_s.map(|t| (t * 1000.0).round() as i64),
            Axis::Seq => None,
        }
    }

    /// What the x axis is, for a chart's heading.
    pub(super) fn describe(&self) -> &'static str {
        match self.axis {
            Axis::Wall => "x: wall-clock time, UTC",
            Axis::Timeline => "x: JVM running time since the start of the log",
            Axis::Seq => "x: pause number (the log has no time, so no time axis)",
        }
    }

    /// The chart drawn over this axis.
    pub(super) fn chart(&self, c: &Chart) -> Markup {
        let span = self.range.1 - self.range.0;
        let (axis, step) = (self.axis, self.step);
        chart::line_chart(c, step, |x| tick_label(axis, span, step, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
