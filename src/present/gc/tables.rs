//! The GC report's sections other than the charts: the note on what the
//! log cannot give, the headline cards and the tables. Each takes the
//! analysis (plain data) and returns markup; every value from a log
//! (causes, paths, flags, unrecognised lines) is escaped by the template.

use maud::{Markup, html};

use super::charts::colour;
use super::format::{duration, gap, group, ms, opt, short_duration, sig, wall};
use crate::finding::Status;
use crate::gc::budget::TimeoutCheck;
use crate::gc::event::PauseKind;
use crate::gc::hist::PauseSummary;
use crate::gc::report::Analysis;
use crate::gc::stats::{Clock, StatsSnapshot};

/// Full GCs listed before the rest is folded away...
const FULL_GCS_SHOWN: usize = 20;
/// ...when there are more than this: folding away two rows saves nothing.
const FULL_GCS_FOLD: usize = 30;

/// True when a service-level finding on `key` drifted.
fn drifts(a: &Analysis, key: &str) -> bool {
    a.findings
        .iter()
        .any(|f| f.check == "gc" && f.key == key && f.status == Status::Drift)
}

/// A key and its value, in a two-column table.
fn kv(k: &str, v: Markup) -> Markup {
    html! { tr { td.k { (k) } td.n { (v) } } }
}

/// `n/a (why)`, greyed.
fn na(why: Option<&str>) -> Markup {
    html! { span class="mut" { "n/a (" (why.unwrap_or("not computable")) ")" } }
}

/// What the log cannot give, and what to change so that it can.
pub(super) fn notes(st: &StatsSnapshot) -> Markup {
    if st.not_computable.is_empty() {
        return html! {};
    }
    let what = st.not_computable.join(", ");
    let untimed = st
        .rates_null_because
        .as_deref()
        .is_some_and(|w| w.contains("carry no time"));
    let why = if st.clock == Clock::None {
        html! {
            "The log has no time decorators (" code { "-Xlog:gc*:file=…:none" } " or "
            code { "tags" } " only)"
        }
    } else if untimed {
        html! { "Some pauses in the log carry no time" }
    } else {
        // Timed, but too short a span or no pause: say why, nothing more.
        return html! {
            div.note {
                b { "Not computable from this log:" } " " (what) ": "
                (st.rates_null_because.as_deref().unwrap_or("see the figures")) "."
            }
        };
    };
    html! {
        div.note {
            b { "Not computable from this log:" } " " (what) ". " (why)
            ", so rates are shown as n/a rather than guessed, and pauses are charted by their number, not over time. Add "
            code { "time,uptime" } " to the log's decorators to get them."
        }
    }
}

/// The headline figures, red where a service level drifted.
pub(super) fn cards(a: &Analysis) -> Markup {
    let st = &a.stats;
    let card = |k: &str, v: String, unit: &str, hot: bool| {
        html! {
            div.card { div.k { (k) } div.v.hot[hot] { (v) small { " " (unit) } } }
        }
    };
    html! {
        div.cards {
            (card("Pauses", group(st.overall.count), "", false))
            (card("Time covered", st.span_s.map(short_duration).unwrap_or_else(|| "n/a".into()), "", false))
            (card("GC pause rate", opt(st.gc_ms_per_second), "ms/s", drifts(a, "gc_ms_per_second")))
            (card("Worst minute", opt(st.worst_minute_gc_ms_per_second), "ms/s",
                drifts(a, "worst_minute_gc_ms_per_second")))
            (card("Pause p99", ms(st.overall.p99_ms), "ms", drifts(a, "pause_p99_ms")))
            (card("Longest pause", ms(st.overall.max_ms), "ms", drifts(a, "pause_max_ms")))
            (card("Full GCs", group(st.pauses.full.count), "", st.pauses.full.count > 0))
            (card("Allocation rate", opt(st.allocation_rate_mb_per_s), "MB/s", false))
            (card("Evacuation failures", group(st.evacuation_failures), "", st.evacuation_failures > 0))
        }
    }
}

/// One row of the pause table; `data-kind` names the kind for tests and
/// readers of the markup.
fn pause_row(name: Markup, kind: &str, zero: bool, p: &PauseSummary, total: f64) -> Markup {
    let share = if total > 0.0 {
        format!("{:.1}", p.total_ms / total * 100.0)
    } else {
        "–".into()
    };
    html! {
        tr data-kind=(kind) class=[zero.then_some("zero")] {
            td { (name) }
            td.n.count { (group(p.count)) }
            td.n { (ms(p.total_ms)) }
            td.n { (share) }
            td.n { (ms(p.mean_ms)) }
            td.n { (ms(p.p50_ms)) }
            td.n { (ms(p.p90_ms)) }
            td.n { (ms(p.p99_ms)) }
            td.n { (ms(p.p999_ms)) }
            td.n { (ms(p.max_ms)) }
        }
    }
}

/// Pauses by kind (`id="pauses"`), all pauses in the footer.
pub(super) fn pause_table(st: &StatsSnapshot) -> Markup {
    let total = st.overall.total_ms;
    html! {
        h2 { "Pauses by kind " span class="mut" { "ms" } }
        table #pauses {
            thead { tr {
                th { "Kind" } th.n { "Count" } th.n { "Total" } th.n { "% of time" }
                th.n { "Mean" } th.n { "p50" } th.n { "p90" } th.n { "p99" } th.n { "p99.9" }
                th.n { "Max" }
            } }
            tbody {
                @for kind in PauseKind::ALL {
                    @let p = st.pauses.get(kind);
                    (pause_row(
                        html! { span.sw style=(format_args!("background:{}", colour(kind))) {} (kind.as_str()) },
                        kind.as_str(),
                        p.count == 0,
                        p,
                        total,
                    ))
                }
            }
            tfoot { (pause_row(html! { "all pauses" }, "overall", false, &st.overall, total)) }
        }
    }
}

/// Full GCs (`id="full-gcs"`), one row each, the rest folded away past
/// [`FULL_GCS_FOLD`].
pub(super) fn full_gcs(st: &StatsSnapshot) -> Markup {
    if st.full_gcs.is_empty() {
        return html! { h2 { "Full GCs" } p class="mut" id="full-gcs" { "None in this log." } };
    }
    // A column of dashes says nothing: show only the clocks the log has.
    let has_wall = st.full_gcs.iter().any(|f| f.wall_ms.is_some());
    let has_uptime = st.full_gcs.iter().any(|f| f.uptime_ms.is_some());
    // The first ones tell the story, and the tables beside and below
    // should stay in view.
    let shown = if st.full_gcs.len() > FULL_GCS_FOLD {
        FULL_GCS_SHOWN
    } else {
        st.full_gcs.len()
    };
    let (first, rest) = st.full_gcs.split_at(shown);
    let rows = |gcs: &[crate::gc::stats::FullGc]| {
        html! {
            @for f in gcs {
                tr.fgc {
                    @if has_wall {
                        td { (f.wall_ms.map(wall).unwrap_or_else(|| "–".into())) }
                    }
                    @if has_uptime {
                        td.n {
                            (f.uptime_ms.map(|u| format!("{:.3} s", u / 1000.0)).unwrap_or_else(|| "–".into()))
                        }
                    }
                    td.n.hot { (ms(f.duration_ms)) }
                    td { (f.cause) }
                }
            }
        }
    };
    html! {
        h2 {
            "Full GCs "
            span class="mut" {
                @if (st.full_gcs.len() as u64) < st.pauses.full.count {
                    "the first " (st.full_gcs.len()) " of " (group(st.pauses.full.count))
                }
            }
        }
        table #full-gcs {
            thead { tr {
                @if has_wall { th { "Time (UTC)" } }
                @if has_uptime { th.n { "JVM uptime" } }
                th.n { "Duration, ms" }
                th { "Cause" }
            } }
            tbody { (rows(first)) }
        }
        @if !rest.is_empty() {
            details {
                summary { (rest.len()) " more" }
                table.more { tbody { (rows(rest)) } }
            }
        }
    }
}

/// Stalled pauses and safepoints (`id="stalls"`, `id="safepoints"`), the
/// timeout budget and the worst stalled pauses.
pub(super) fn where_time_went(st: &StatsSnapshot, budget: &[TimeoutCheck]) -> Markup {
    let t = &st.stalls;
    let sp = &st.safepoints;
    html! {
        h2 {
            "Where pause time went "
            span class="mut" {
                "a pause is stalled when its wall time is at least " (sig(t.rule.ratio))
                " × its CPU time ÷ GC threads and it waited at least " (sig(t.rule.min_wait_ms)) " ms"
            }
        }
        table #stalls { tbody {
            @match t.stalled_pauses {
                Some(n) => {
                    (kv("Stalled pauses", html! {
                        (group(n)) " of " (group(t.pauses_with_cpu)) " · "
                        (ms(t.stalled_ms.unwrap_or(0.0))) " ms · "
                        (sig(t.stalled_share_percent.unwrap_or(0.0))) " % of their pause time"
                    }))
                    (kv("GC threads from", html! { (t.threads_from.join(", ")) }))
                }
                None => (kv("Stalled pauses", na(t.null_because.as_deref()))),
            }
            @match &sp.time_to_safepoint {
                Some(tt) => {
                    (kv("Time to safepoint", html! {
                        "p99 " (ms(tt.p99_ms)) " · max " (ms(tt.max_ms)) " ms"
                    }))
                    (kv("Stopped, not for GC", html! {
                        (group(sp.non_gc_count.unwrap_or(0))) " stops · "
                        (ms(sp.non_gc_stopped_ms.unwrap_or(0.0))) " ms · max "
                        (ms(sp.non_gc_max_ms.unwrap_or(0.0))) " ms"
                    }))
                }
                None => (kv("Time to safepoint", na(sp.null_because.as_deref()))),
            }
        } }
        (timeout_budget(budget))
        @if !t.worst.is_empty() {
            table #stalled-pauses {
                thead { tr {
                    th { "When" } th { "Kind" } th.n { "Wall, ms" } th.n { "CPU, ms" }
                    th.n { "Threads" } th.n { "Waited, ms" }
                } }
                tbody {
                    @for w in &t.worst {
                        tr {
                            td {
                                @match (w.wall_ms, w.uptime_ms) {
                                    (Some(t), _) => (wall(t)),
                                    (None, Some(u)) => { "uptime " (format_args!("{:.3}", u / 1000.0)) " s" }
                                    (None, None) => "–",
                                }
                            }
                            td { (w.kind.as_str()) " (" (w.cause) ")" }
                            td.n.hot { (ms(w.duration_ms)) }
                            td.n { (ms(w.cpu_ms)) }
                            td.n { (w.threads) }
                            td.n { (ms(w.waited_ms)) }
                        }
                    }
                }
            }
        }
    }
}

/// The worst pause and stop against each broker timeout (`id="timeouts"`).
fn timeout_budget(checks: &[TimeoutCheck]) -> Markup {
    let cell = |v: Option<f64>, p: Option<f64>| match (v, p) {
        (Some(v), Some(p)) => format!("{} ms ({} %)", ms(v), sig(p)),
        _ => "–".to_owned(),
    };
    html! {
        @if !checks.is_empty() {
            table #timeouts {
                thead { tr {
                    th { "Timeout" } th.n { "ms" } th.n { "Worst pause" } th.n { "Worst stop" }
                    th { "From" }
                } }
                tbody {
                    @for c in checks {
                        tr {
                            td { (c.limit.key) }
                            td.n { (group(c.limit.value_ms)) }
                            td.n { (cell(c.worst_pause_ms, c.worst_pause_percent)) }
                            td.n { (cell(c.worst_stop_ms, c.worst_stop_percent)) }
                            td { (c.limit.from) }
                        }
                    }
                }
            }
        }
    }
}

/// Rates (`id="rates"`) and the concurrent phases (`id="concurrent"`).
pub(super) fn rates(st: &StatsSnapshot) -> Markup {
    let why = st.rates_null_because.as_deref();
    let unit = |v: Option<f64>, u: &str| match v {
        Some(v) => html! { (sig(v)) " " (u) },
        None => na(why),
    };
    html! {
        h2 { "Rates" }
        table #rates { tbody {
            (kv("GC pause per second of running time", unit(st.gc_ms_per_second, "ms/s")))
            (kv("Worst minute", unit(st.worst_minute_gc_ms_per_second, "ms/s")))
            (kv("Young GCs per second", unit(st.young_gcs_per_second, "/s")))
            (kv("Pauses per second", unit(st.pauses_per_second, "/s")))
            (kv("Allocation rate", unit(st.allocation_rate_mb_per_s, "MB/s")))
            @match &st.pause_interval {
                Some(iv) => (kv("Time between pauses", html! {
                    "p50 " (gap(iv.p50_ms)) " · p99 " (gap(iv.p99_ms))
                })),
                None => (kv("Time between pauses", na(why))),
            }
            @match st.span_s {
                Some(s) => (kv("Running time covered", html! { (duration(s)) })),
                None => (kv("Running time covered", na(why))),
            }
            (kv("Evacuation failures", html! { (group(st.evacuation_failures)) }))
            (kv("Humongous allocations", html! {
                (group(st.humongous_allocations)) " ("
                (group(st.humongous_allocation_pauses)) " pauses caused by one)"
            }))
            (kv("JVM starts seen", html! { (group(st.jvm_starts)) }))
        } }
        @if !st.concurrent.is_empty() {
            h2 { "Concurrent phases " span class="mut" { "beside the application, not pauses; ms" } }
            table #concurrent {
                thead { tr {
                    th { "Phase" } th.n { "Runs" } th.n { "p50" } th.n { "p99" } th.n { "Max" }
                } }
                tbody {
                    @for c in &st.concurrent {
                        tr {
                            td { (c.name) }
                            td.n { (group(c.durations.count)) }
                            td.n { (ms(c.durations.p50_ms)) }
                            td.n { (ms(c.durations.p99_ms)) }
                            td.n { (ms(c.durations.max_ms)) }
                        }
                    }
                }
            }
        }
    }
}

/// The JVM's settings as the log and command line give them (`id="jvm"`).
pub(super) fn jvm(a: &Analysis) -> Markup {
    let f = &a.flags;
    let kb = |v: Option<u64>| match v {
        Some(v) if v >= 1024 * 1024 && v % (1024 * 1024) == 0 => format!("{} GB", v / 1024 / 1024),
        Some(v) => format!("{} MB", v / 1024),
        None => "unknown".into(),
    };
    let row = |k: &str, v: &str| html! { tr { td.k { (k) } td { (v) } } };
    html! {
        h2 { "JVM" }
        table #jvm { tbody {
            (row("Version", f.version.as_deref().unwrap_or("unknown")))
            (row("Collector", f.collector.as_deref().unwrap_or("unknown")))
            (row("Initial heap", &kb(f.initial_heap_kb)))
            (row("Maximum heap", &kb(f.max_heap_kb)))
            (row("MaxGCPauseMillis", &f.max_gc_pause_millis
                .map(|v| format!("{v} ms"))
                .unwrap_or_else(|| "unknown".into())))
            @if !f.young_fixed_by.is_empty() {
                (row("Young size fixed by", &f.young_fixed_by.join(" ")))
            }
        } }
    }
}

/// JVM flag and service-level findings (`id="findings"`).
pub(super) fn findings(a: &Analysis) -> Markup {
    let sm = &a.summary;
    html! {
        h2 {
            "Findings "
            span class="mut" {
                (sm.drift) " drift, " (sm.ok) " ok, " (sm.not_applicable)
                " not applicable; jvm: flag rules, gc: service levels"
            }
        }
        table #findings {
            thead { tr {
                th { "Check" } th { "Key" } th { "Expected" } th { "Actual" } th { "Status" }
                th { "Source" } th { "Detail" }
            } }
            tbody {
                @if a.findings.is_empty() {
                    tr.empty-row { td colspan="7" { "No checks ran." } }
                }
                @for f in &a.findings {
                    @let pill = match f.status {
                        Status::Ok => "ok",
                        Status::Drift => "bad",
                        Status::Unreadable => "warn",
                        Status::NotApplicable | Status::Waived => "unk",
                    };
                    tr {
                        td { (f.check) }
                        td.code { (f.key) }
                        td.code { (f.expected) }
                        td.code { (f.actual.as_deref().unwrap_or("–")) }
                        td { span class={ "pill " (pill) } { (f.status.as_str()) } }
                        td class="wrap mut" { (f.source.as_deref().unwrap_or("")) }
                        td.wrap { (f.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

/// The files read, in order, with the first lines not understood
/// (`id="files"`).
pub(super) fn files(a: &Analysis) -> Markup {
    html! {
        h2 { "Files read " span class="mut" { "in the order read" } }
        table #files {
            thead { tr {
                th { "File" } th { "Format" } th.n { "Lines" } th.n { "Unrecognised" }
                th.n title="Lines known to be other JVM output (class loading, JIT, OS, ...): no GC event in them" { "Other JVM output" }
            } }
            tbody {
                @for f in &a.files {
                    tr {
                        td.code {
                            (f.path)
                            @if !f.unrecognised_examples.is_empty() {
                                details {
                                    summary { "first unrecognised lines" }
                                    pre.ex { (f.unrecognised_examples.join("\n")) }
                                }
                            }
                        }
                        td { (f.format.describe()) }
                        td.n { (group(f.lines)) }
                        td.n { (group(f.unrecognised_lines)) }
                        td.n {
                            (group(f.other_lines))
                            @if !f.other_kinds.is_empty() {
                                details {
                                    summary { "by kind" }
                                    table.kinds {
                                        @for (kind, n) in &f.other_kinds {
                                            tr { td { (kind) } td.n { (group(*n)) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The JVM's own counters beside the log (`id="counters"`, `gc --pid`).
pub(super) fn counters(a: &Analysis) -> Markup {
    use crate::jvm::perfdata::crosscheck::CheckStatus;
    use crate::jvm::perfdata::report::CountersReport;
    let Some(c) = &a.jvm_counters else {
        return html! {};
    };
    let fig = |v: Option<f64>, unit: &str| match v {
        None => "n/a".to_string(),
        Some(v) if unit == "ms" => format!("{v:.3} ms"),
        Some(v) => format!("{v:.0}"),
    };
    html! {
        h2 { "JVM counters" }
        @match c {
            CountersReport::Disabled { flag } => {
                p.note #counters { "Switched off (" (flag) "): nothing to check the log against." }
            }
            CountersReport::Unavailable { reason } => {
                p.note #counters { "Not read: " (reason) }
            }
            CountersReport::Read { path, counters, safepoints, cross_check, .. } => {
                p #counters-verdict {
                    @if let Some(why) = &cross_check.not_comparable {
                        "Not compared with the log: " (why)
                    } @else if cross_check.verified {
                        strong { "Verified against the JVM's counters" }
                    } @else {
                        strong { "The log differs from the JVM's counters" }
                    }
                    span class="mut" {
                        " · " (path) " · JDK "
                        (counters.jdk.map(|j| j.to_string()).unwrap_or_else(|| "unknown".into()))
                    }
                }
                table #counters {
                    thead { tr { th { "Figure" } th { "Log" } th { "JVM" } th { "Verdict" } } }
                    tbody {
                        @for f in &cross_check.checks {
                            tr {
                                td.k { (f.figure) }
                                td { (fig(Some(f.log), f.unit)) }
                                td { (fig(f.jvm, f.unit)) }
                                td {
                                    @match f.status {
                                        CheckStatus::Verified => "verified",
                                        CheckStatus::Differs => { "differs: " (f.detail.as_deref().unwrap_or("")) },
                                        CheckStatus::NotCompared => { "not compared: " (f.detail.as_deref().unwrap_or("")) },
                                    }
                                }
                            }
                        }
                        tr {
                            td.k { "safepoints (JVM life)" }
                            td { "" }
                            td { (safepoints.count) }
                            td {
                                (format!("{:.3} ms to reach", safepoints.reaching_ms))
                                @if let Some(m) = safepoints.mean_reaching_ms { (format!(" (mean {m:.3} ms)")) }
                                @if let Some(s) = safepoints.stopped_ms { (format!(", {s:.3} ms stopped")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
