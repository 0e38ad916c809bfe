//! The host page (`/hosts/{hostname}`): the host's state, its roles (each
//! running, or missing since when), its JVMs by role with their GC (or why
//! it was not read), its GC over two weeks, this week against last week
//! (the figures its cluster's trend sums), its data directories, the
//! current findings by role and the drift history. Built with maud from
//! what storage answered for the host ([`HostView`], [`Point`],
//! [`DriftEvent`]) and its latest report; no external assets (works
//! offline).

use maud::{Markup, html};

use super::chart::{self, Chart, Series, XSpan};
use super::fleet::counters_title;
use super::format::{fmt_age, fmt_clock, fmt_day, fmt_hm, fmt_time};
use super::html::breakable;
use crate::collector::fleet::history::episodes;
use crate::collector::storage::drift::Change;
use crate::collector::storage::fleet::WeekFigures;
use crate::collector::storage::health::{
    GcHealth, GcRateSource, RoleState, jvm_label, unread_because,
};
use crate::collector::storage::host::{DriftEvent, HostView, Point};
use crate::finding::{Finding, Status};
use crate::report::{
    CounterFigure, CounterWindow, JvmCounters, JvmReport, Report, RoleReport, VERIFIED_TEXT,
    counters_state,
};

/// The host's week-over-week figures, as the background aggregation last
/// computed them (the figures its cluster's trend sums).
#[derive(Debug, Clone, PartialEq)]
pub enum HostWeeks {
    /// Computed at `as_of_ms`.
    Ready {
        /// When the aggregation ran (its weeks end then), Unix ms.
        as_of_ms: i64,
        /// This week's figures.
        this: WeekFigures,
        /// Last week's.
        last: WeekFigures,
    },
    /// Not there, and why (not computed yet, or the host reported since).
    Missing(String),
}

const DAY_MS: i64 = 86_400_000;
type Points = Vec<(i64, f64)>;
const WEEK_MS: i64 = 7 * DAY_MS;

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.decimals$}"))
}

/// The class a figure gets beside its base class when it is bad.
fn hot(bad: bool) -> &'static str {
    if bad { " hot" } else { "" }
}

fn health_pill(h: &HostView) -> Markup {
    match h.gc.health {
        GcHealth::Healthy => html! { span.pill.ok { "GC healthy" } },
        GcHealth::Unhealthy => html! { span.pill.bad { "GC unhealthy" } },
        GcHealth::Unknown => html! {
            span.pill.warn title=[h.gc.unknown_because.as_deref()] { "GC unknown" }
        },
    }
}

/// Whether a `gc` finding on `key` drifts for this host (to colour that figure).
fn gc_key_drifts(h: &HostView, key: &str) -> bool {
    h.drifting.iter().any(|d| d.check == "gc" && d.key == key)
}

/// The clock-skew pill: the host's clock is off from the collector's.
fn skew_pill(h: &HostView) -> Markup {
    if !h.clock_skewed {
        return html! {};
    }
    let (way, by) = if h.clock_skew_seconds > 0 {
        ("ahead", h.clock_skew_seconds)
    } else {
        ("behind", -h.clock_skew_seconds)
    };
    let title = format!(
        "report time minus receipt of the last report: {} s; the host's times are not trusted beyond its receipt",
        h.clock_skew_seconds
    );
    html! { " " span.pill.warn title=(title) { "clock " (way) " " (fmt_age(by)) } }
}

/// The number in a `<=N` service level, for the chart's threshold line.
fn level(report: Option<&Report>, key: &str) -> Option<f64> {
    report?
        .jvms
        .iter()
        .flat_map(|j| &j.findings)
        .find(|f| f.check == "gc" && f.key == key)
        .and_then(|f| f.expected.trim().strip_prefix("<=")?.trim().parse().ok())
}

fn status_pill(s: Status) -> Markup {
    match s {
        Status::Ok => html! { span.pill.ok { "ok" } },
        Status::Drift => html! { span.pill.bad { "drift" } },
        Status::Unreadable => html! { span.pill.warn { "unreadable" } },
        Status::NotApplicable => html! { span.pill.unk { "n/a" } },
        Status::Waived => html! { span.pill.unk { "waived" } },
    }
}

fn status_rank(s: Status) -> u8 {
    match s {
        Status::Drift => 0,
        Status::Unreadable => 1,
        Status::Waived => 2,
        Status::Ok => 3,
        Status::NotApplicable => 4,
    }
}

fn finding_rows(findings: &[Finding]) -> Markup {
    let passing = |st: Status| matches!(st, Status::Ok | Status::NotApplicable);
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| status_rank(f.status));
    html! {
        @for f in sorted {
            tr class=[passing(f.status).then_some("pass")] {
                td { (f.check) }
                td.code { (breakable(&f.key)) }
                td.code { (breakable(&f.expected)) }
                td class={ "code" (hot(f.status == Status::Drift)) } { (actual_with_window(f)) }
                td { (status_pill(f.status)) }
                td.wrap.mut { (f.source.as_deref().unwrap_or_default()) }
                td.wrap { (crate::present::text::finding_note(f).unwrap_or_default()) }
            }
        }
    }
}

/// A finding's actual value; a GC service level's is the JVM's lifetime
/// figure (the agent checks levels over the whole life), which the page says
/// so that it is not read as the interval figures beside it.
fn actual_with_window(f: &Finding) -> Markup {
    html! {
        (f.actual.as_deref().unwrap_or("–"))
        @if f.check == "gc" && f.key != "log" && f.actual.is_some() {
            " " small.mut { "JVM lifetime" }
        }
    }
}

/// One broker data directory as the host page shows it, gathered from the
/// audit's `datadir`, `mount`, `placement` and `space` findings of one key.
#[derive(Debug, PartialEq)]
struct DataDirRow<'a> {
    path: &'a str,
    /// `xfs on sdb` (file system and disks).
    disk: Option<&'a str>,
    /// `mounted at /data1 from /dev/sdb`.
    mount: Option<&'a str>,
    /// `83%` free, with `120 GiB free of 1 TiB`.
    free: Option<(&'a str, Option<&'a str>)>,
    /// The worst status of the directory's findings.
    status: Status,
    /// What is wrong, from the findings that are not ok.
    problems: Vec<&'a str>,
}

/// The key of a `space` finding for a data directory's key (`/d` or
/// `/d (pid N)` when several processes run): `/d free space (pid N)`.
fn space_key(dir_key: &str, what: &str) -> String {
    match dir_key.split_once(" (pid ") {
        Some((path, pid)) => format!("{path} {what} (pid {pid}"),
        None => format!("{dir_key} {what}"),
    }
}

/// Rows of the "Data directories" section, in the report's order.
fn data_dir_rows(findings: &[Finding]) -> Vec<DataDirRow<'_>> {
    let mut rows: Vec<DataDirRow> = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.check == "datadir" && f.key.starts_with('/'))
    {
        let path = f.key.as_str();
        let mine = |check: &'static str| {
            findings
                .iter()
                .filter(move |g| g.check == check && g.key == path)
        };
        let free = findings
            .iter()
            .find(|g| g.check == "space" && g.key == space_key(path, "free space"))
            .and_then(|g| g.actual.as_deref().map(|a| (a, g.detail.as_deref())));
        let related: Vec<&Finding> = std::iter::once(f)
            .chain(mine("mount"))
            .chain(mine("placement"))
            .chain(findings.iter().filter(|g| {
                g.check == "space"
                    && g.key.starts_with(path)
                    && g.key[path.len()..].starts_with(' ')
            }))
            .collect();
        let status = related
            .iter()
            .map(|g| g.status)
            .min_by_key(|st| status_rank(*st))
            .unwrap_or(f.status);
        rows.push(DataDirRow {
            path,
            disk: f.actual.as_deref(),
            mount: f.detail.as_deref().filter(|_| f.status == Status::Ok),
            free,
            status,
            problems: related
                .iter()
                .filter(|g| matches!(g.status, Status::Drift | Status::Unreadable))
                .filter_map(|g| g.detail.as_deref().or(g.actual.as_deref()))
                .collect(),
        });
    }
    rows
}

/// The broker's data directories: where each lives and whether it is fine.
fn data_dirs_section(findings: &[Finding]) -> Markup {
    let rows = data_dir_rows(findings);
    if rows.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Data directories " span.mut { "from each role's own configuration (log.dirs, metadata.log.dir, dataDir, dataLogDir)" } }
        table {
            thead { tr { th { "Path" } th { "File system and disk" } th { "Mount" } th.n { "Free" } th { "Status" } th { "Problems" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td.code { (breakable(r.path)) }
                        td.code { (r.disk.unwrap_or("–")) }
                        td.wrap.mut { (r.mount.unwrap_or_default()) }
                        td.n title=(r.free.and_then(|(_, d)| d).unwrap_or_default()) {
                            (r.free.map_or("–", |(a, _)| a))
                        }
                        td { (status_pill(r.status)) }
                        td.wrap { (r.problems.join("; ")) }
                    }
                }
            }
        }
    }
}

/// The week-over-week table: the same rows as the cluster page's, from
/// the same aggregation (see [`HostWeeks`]).
fn week_table(weeks: &HostWeeks) -> Markup {
    match weeks {
        HostWeeks::Ready {
            as_of_ms,
            this,
            last,
        } => html! {
            p.mut.asof {
                "As of " (fmt_time(*as_of_ms)) " (the figures its cluster's trend sums; "
                "computed in the background, the charts are live)"
            }
            (super::cluster::week_rows(this, last))
        },
        HostWeeks::Missing(why) => html! { p.mut { (why) } },
    }
}

/// The drift history's rows, newest first.
/// Whether the events came from more than one machine (the history then
/// says whose each is).
fn several_machines(events: &[DriftEvent]) -> bool {
    let mut ids = events.iter().filter_map(|e| e.machine_id.as_deref());
    ids.next()
        .is_some_and(|first| ids.any(|other| other != first))
}

/// The machine of an episode: its start's, and its end's when another's.
fn episode_machine(start: Option<&DriftEvent>, end: Option<&DriftEvent>) -> String {
    fn id(e: Option<&DriftEvent>) -> &str {
        e.and_then(|x| x.machine_id.as_deref()).unwrap_or("–")
    }
    let (a, b) = (id(start), id(end));
    match (start, end) {
        (Some(_), Some(_)) if a != b => format!("{a} → {b}"),
        (Some(_), _) => a.to_owned(),
        _ => b.to_owned(),
    }
}

fn history_rows(events: &[DriftEvent], now: i64, machines: bool) -> Markup {
    let eps = episodes(events);
    html! {
        @for e in eps.iter().rev() {
            @let any = e.start.or(e.end).expect("an episode has an event");
            @let start = e.start.map(|x| x.time_ms);
            @let end = e.end.map(|x| x.time_ms);
            tr {
                @if machines {
                    td.code { (breakable(&episode_machine(e.start, e.end))) }
                }
                td { (any.check) }
                td.code { (any.key) }
                td.code { (any.expected) }
                td.code { (e.start.and_then(|x| x.actual.as_deref()).unwrap_or("–")) }
                td.n {
                    @match start {
                        None => "before retention",
                        Some(t) if e.after_restart.is_some() => {
                            (fmt_time(t)) br;
                            span.mut { "after the " (e.after_restart.unwrap_or("broker")) " restarted" }
                        }
                        Some(t) => (fmt_time(t)),
                    }
                }
                td.n {
                    @match e.end {
                        None => span.pill.bad { "still drifting" },
                        // Gone from the report, not fixed: say so.
                        Some(x) if x.state == Change::Stopped => {
                            span.pill.warn title="gone from the report with its role: not fixed, no longer observable" {
                                (x.gone_with.as_deref().unwrap_or("broker")) " stopped"
                            }
                            br; (fmt_time(x.time_ms))
                        }
                        // Still different, but a waiver accepts it now.
                        Some(x) if x.state == Change::Waived => {
                            span.pill.unk { "waived" } br;
                            @if let Some(j) = x.justification.as_deref() {
                                span.mut { (j) } br;
                            }
                            (fmt_time(x.time_ms))
                        }
                        Some(x) => (fmt_time(x.time_ms)),
                    }
                }
                td.n {
                    @match (start, end) {
                        (Some(a), Some(b)) => (fmt_age((b - a) / 1000)),
                        (Some(a), None) => span.hot { (fmt_age((now - a) / 1000)) " so far" },
                        _ => "–",
                    }
                }
            }
        }
        @if eps.is_empty() {
            tr.empty-row { td colspan="8" { "Nothing has drifted on this host." } }
        }
    }
}

/// The first clause of a reason, for a small note (the whole in its title).
fn short_reason(why: &str) -> Markup {
    let short = why.split("; ").next().unwrap_or(why);
    let short = match short.char_indices().nth(90) {
        Some((i, _)) => format!("{}…", &short[..i]),
        None => short.to_owned(),
    };
    html! { span title=(why) { (short) } }
}

/// Why the GC health is unknown, said where the health is, with the
/// remedy the agent gave (a `SupplementaryGroups=` drop-in when it may not
/// read the log's directory).
fn gc_unknown_note(why: &str) -> Markup {
    html! {
        div.note.warn #gc-unknown {
            b { "GC health unknown. " }
            (why)
            @if why.contains("cannot be read") && !why.contains("SupplementaryGroups") {
                " Give the agent read access to the log and its directory (README, “The services”: a "
                code { "SupplementaryGroups=" } " drop-in)."
            }
        }
    }
}

/// The roles the agent expects on the host, each with its profile, its
/// processes or since when none runs, and its drifting findings; an
/// older agent's report (no roles) says so.
fn roles_section(h: &HostView, report: Option<&Report>, now: i64) -> Markup {
    let full: &[RoleReport] = report.map_or(&[], |r| r.roles.as_slice());
    if h.roles.is_empty() && full.is_empty() {
        return html! {
            h2 { "Roles " span.mut { "this host's agent does not report roles (older than roles): judged as one " (h.profile) }
            }
        };
    }
    let because = |role: &RoleState| {
        full.iter()
            .find(|r| r.role == role.role)
            .map(|r| r.because.as_str())
    };
    html! {
        h2 { "Roles " span.mut { "each role the agent expects here, judged by its own profile" } }
        table #roles {
            thead { tr { th { "Role" } th { "Profile" } th { "State" } th { "Processes" } th.n { "Drifting" } th { "Why expected" } } }
            tbody {
                @for r in &h.roles {
                    tr data-role=(r.role) {
                        td { b { (r.role) } }
                        td { (r.profile) }
                        td {
                            @if r.running {
                                span.pill.ok { "running" }
                            } @else {
                                span.pill.bad { "stopped" }
                                @if let Some(t) = &r.missing_since {
                                    " " span.mut title=(t) { "since " (fmt_since(t, now)) }
                                }
                            }
                        }
                        td.code {
                            @for (i, p) in r.pids.iter().enumerate() {
                                @if i > 0 { ", " }
                                "pid " (p)
                            }
                            @if r.pids.is_empty() { "–" }
                        }
                        td.n { span.pill class=(if r.drift > 0 { "bad" } else { "ok" }) { (r.drift) } }
                        td.wrap.mut { (because(r).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

/// An agent's RFC 3339 time as people read it (`2026-12-06 17:11 UTC, 7
/// min ago`); the text as sent when it does not parse.
fn fmt_since(t: &str, now: i64) -> String {
    match super::format::rfc3339_ms(t) {
        Some(ms) => format!("{}, {} ago", fmt_time(ms), fmt_age((now - ms) / 1000)),
        None => t.to_owned(),
    }
}

/// One JVM's GC in a cell: its interval rate and p99, or why there is none.
fn jvm_gc_cell(j: &JvmReport) -> Markup {
    if let Some(why) = unread_because(j) {
        // The counters' rate stands in for the log's (see the counters row).
        let rate = j
            .counters
            .as_ref()
            .filter(|c| c.only_witness)
            .and_then(|c| c.interval.as_ref()?.gc_ms_per_second);
        return html! {
            span.pill.warn { "log not read" } " " span.mut { (short_reason(&why)) }
            @if let Some(r) = rate {
                " · " b { (format!("{r:.1}")) } " ms/s from the JVM's counters"
            }
        };
    }
    let Some(gc) = &j.gc else {
        return html! { "–" };
    };
    let w = &gc.interval;
    html! {
        @match w.gc_ms_per_second {
            Some(r) => { b { (format!("{r:.1}")) } " ms/s" }
            None => {
                "– ms/s "
                span.mut { (short_reason(w.rates_null_because.as_deref().unwrap_or("no rate over this interval"))) }
            }
        }
        @if w.overall.count > 0 {
            " · p99 " (format!("{:.1}", w.overall.p99_ms)) " ms · " (w.overall.count) " pauses"
        }
    }
}

/// A figure of the cross-check in its unit: counts whole, times in ms.
fn fmt_figure(v: f64, unit: &str) -> String {
    if unit == "ms" {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// One figure the log and the counters do not agree on: both values and
/// the agent's words on it, unless `summary` (which joins them) says them.
fn figure_item(f: &CounterFigure, summary: &str) -> Markup {
    html! {
        li data-status=(f.status) {
            b { (f.figure) } ": the log "
            (fmt_figure(f.log, &f.unit))
            ", the JVM "
            (f.jvm.map_or_else(|| "–".to_owned(), |v| fmt_figure(v, &f.unit)))
            @if f.status != "differs" { " " span.mut { "(" (f.status) ")" } }
            @if let Some(d) = f.detail.as_deref().filter(|d| !summary.contains(d)) { " — " (d) }
        }
    }
}

/// Whether the log has time to safepoint of its own (`safepoint` lines).
fn log_has_safepoints(j: &JvmReport) -> bool {
    j.gc.as_ref().is_some_and(|g| {
        [&g.interval, &g.total].iter().any(|w| {
            w.safepoints
                .as_ref()
                .is_some_and(|s| s.time_to_safepoint_p99_ms.is_some())
        })
    })
}

/// Time to safepoint from the counters, for a log that has none: the
/// interval's (else the life's) mean and the worst mean between two of
/// the agent's reads.
fn counters_safepoints(c: &JvmCounters) -> Markup {
    let (w, over): (&CounterWindow, &str) = match (&c.interval, &c.total) {
        (Some(w), _) => (w, "last interval"),
        (None, Some(w)) => (w, "the JVM's life"),
        (None, None) => return html! {},
    };
    let s = &w.safepoints;
    let ms = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.3} ms"));
    html! {
        div.ttsp {
            "Time to safepoint from the JVM's counters (the log has no safepoint lines), "
            (over) ": " (s.count) " safepoints, mean "
            b { (ms(s.mean_reaching_ms)) } " to reach one, worst mean "
            b { (ms(s.worst_mean_reaching_ms)) }
            "; at a safepoint mean " (ms(s.mean_at_safepoint_ms))
            ", worst mean " (ms(s.worst_mean_at_safepoint_ms))
            @if let Some(why) = &s.null_because { " " span.mut { "(" (why) ")" } }
        }
    }
}

/// The counters' own GC figures over the interval (else the life), for a
/// JVM whose log is missing or unreadable.
fn counters_figures(c: &JvmCounters) -> Markup {
    let (w, over): (&CounterWindow, &str) = match (&c.interval, &c.total) {
        (Some(w), _) => (w, "last interval"),
        (None, Some(w)) => (w, "the JVM's life"),
        (None, None) => return html! {},
    };
    html! {
        " " (over) ": "
        @match w.gc_ms_per_second {
            Some(r) => { b { (format!("{r:.1}")) } " ms/s" }
            None => "– ms/s",
        }
        @for (kind, p) in &w.pauses {
            " · " (p.count) " " (kind.replace('_', " ")) " pauses (" (format!("{:.1}", p.time_ms)) " ms)"
        }
        "."
    }
}

/// One JVM's line on its own counters: verified, the difference with
/// both figures, the counters as its only GC figures, or why they were
/// not read. Every text is the report's (foreign input): maud escapes it.
fn counters_line(j: &JvmReport) -> Markup {
    let Some(c) = &j.counters else {
        return html! {
            span.pill.unk { "counters not reported" } " "
            span.mut { "the agent did not send the JVM's own counters (an agent older than them, or jvm_counters = false)" }
        };
    };
    let state = c.state.as_str();
    let reason = c.reason.as_deref();
    let body = match state {
        counters_state::READ => html! {
            @match &c.cross_check {
                Some(x) if x.verified => {
                    span.pill.ok { "verified" } " " b.verified { (VERIFIED_TEXT) }
                }
                Some(x) if x.checks.iter().any(|f| f.status == "differs") => {
                    span.pill.bad { "log differs from the JVM's counters" } " " (x.summary)
                    ul.figures {
                        @for f in x.checks.iter().filter(|f| f.status != "verified") {
                            (figure_item(f, &x.summary))
                        }
                    }
                }
                Some(x) => {
                    span.pill.unk { "not compared" } " "
                    (x.not_comparable.as_deref().unwrap_or(&x.summary))
                }
                None if c.only_witness => {
                    span.pill.warn { "counters only" } " "
                    "No readable GC log: the counts, times and rates are from the JVM's counters alone; percentiles need the log."
                    (counters_figures(c))
                }
                None => { span.pill.unk { "read" } " nothing compared yet (the log's first read)." }
            }
        },
        counters_state::DISABLED => html! {
            span.pill.unk { "switched off" } " "
            "The JVM's counters are switched off"
            @if let Some(r) = reason { " (" (r) ")" }
            ": its log is not checked against them."
        },
        counters_state::PERMISSION_DENIED => html! {
            span.pill.warn { "permission denied" } " "
            "The agent may not read the JVM's counters"
            @if let Some(r) = reason { ": " (r) }
            "."
        },
        counters_state::NAMESPACE_DENIED => html! {
            span.pill.warn { "another namespace" } " "
            "The JVM runs with its own /tmp (a container or PrivateTmp=), which the agent may not enter"
            @if let Some(r) = reason { ": " (r) }
            "."
        },
        counters_state::UNAVAILABLE => html! {
            span.pill.unk { "not available" } " "
            "The JVM's counters were not read"
            @if let Some(r) = reason { ": " (r) }
            "."
        },
        other => html! {
            span.pill.unk { (other) } " "
            "The JVM's counters were not read"
            @if let Some(r) = reason { ": " (r) }
            "."
        },
    };
    html! {
        span.k { "JVM's own counters: " }
        (body)
        @if let Some(remedy) = &c.remedy {
            div.remedy { b { "Remedy: " } (remedy) }
        }
        @if state == counters_state::READ && !log_has_safepoints(j) {
            (counters_safepoints(c))
        }
    }
}

/// The JVMs of the latest report: each with its roles, the profile that
/// judged it, its configuration, its GC logs and its GC over the interval.
fn jvms_section(r: &Report) -> Markup {
    if r.jvms.is_empty() {
        return html! {};
    }
    html! {
        h2 { "JVMs " span.mut { "from the latest report; GC over its interval" } }
        table #jvms {
            thead { tr { th.n { "PID" } th { "Roles" } th { "Profile" } th { "Configuration" } th { "GC log" } th { "GC, last interval" } } }
            tbody {
                @for j in &r.jvms {
                    tr data-pid=(j.pid) {
                        td.n { (j.pid) @if j.exited { " " span.pill.unk { "exited" } } }
                        td { @if j.roles.is_empty() { span.mut { "other" } } @else { b { (j.roles.join(" + ")) } } }
                        td { (j.profile.as_deref().unwrap_or("–")) }
                        td.code { (breakable(j.config.as_deref().unwrap_or("–"))) }
                        td.code { (breakable(&j.gc_logs.join(", "))) @if j.gc_logs.is_empty() { "–" } }
                        td.wrap { (jvm_gc_cell(j)) }
                    }
                    @if !j.exited || j.counters.is_some() {
                        tr.counters data-counters-pid=(j.pid) {
                            td {}
                            td.ctr colspan="5" { (counters_line(j)) }
                        }
                    }
                }
            }
        }
    }
}

/// The host's findings in groups: each role's own (the keys only its
/// audit made, `roles[].finding_keys`), then those several roles' audits
/// share (kernel settings both profiles check); one "Host" group for an
/// older agent's report.
fn finding_groups(r: &Report) -> Vec<(String, Vec<Finding>)> {
    if r.roles.is_empty() {
        return vec![("Host".into(), r.findings.clone())];
    }
    let owners = |f: &Finding| -> Vec<usize> {
        r.roles
            .iter()
            .enumerate()
            .filter(|(_, role)| {
                role.finding_keys
                    .iter()
                    .any(|[c, k]| *c == f.check && *k == f.key)
            })
            .map(|(i, _)| i)
            .collect()
    };
    let mut groups: Vec<(String, Vec<Finding>)> = r
        .roles
        .iter()
        .map(|role| {
            (
                format!("Role {} · its profile {}", role.role, role.profile),
                Vec::new(),
            )
        })
        .collect();
    let mut shared: Vec<Finding> = Vec::new();
    for f in &r.findings {
        match owners(f).as_slice() {
            [one] => groups[*one].1.push(f.clone()),
            _ => shared.push(f.clone()),
        }
    }
    if !shared.is_empty() {
        groups.push(("Host · checked alike by several roles".into(), shared));
    }
    groups.retain(|(_, f)| !f.is_empty());
    groups
}

/// The x axis of a chart over `span`: its tick labels, and the words the
/// title adds when the range was fitted to a young host's data.
fn axis(span: XSpan) -> (fn(i64) -> String, String) {
    let label: fn(i64) -> String = if span.by_hour() { fmt_hm } else { fmt_day };
    let note = match (span.fitted, span.by_hour()) {
        (false, _) => String::new(),
        (true, true) => format!(" · since {} UTC", fmt_hm(span.range.0)),
        (true, false) => format!(" · since {}", fmt_day(span.range.0)),
    };
    (label, note)
}

/// The host page's HTML. `against` is the section on where the host
/// differs from its cluster ([`super::cluster::host_section`]), shown
/// before the findings; `weeks` its week-over-week figures.
pub fn render_host(
    h: &HostView,
    report: Option<&Report>,
    series: &[Point],
    events: &[DriftEvent],
    now: i64,
    against: Option<Markup>,
    weeks: &HostWeeks,
) -> String {
    // Two weeks of GC figures, fitted to a young host's data.
    let from = now - 2 * WEEK_MS;
    let first = series.first().map(|p| p.time_ms);
    let span = XSpan::fit(first, from, now);
    let (x_label, x_note) = axis(span);
    let rate: Vec<(i64, f64)> = series
        .iter()
        .filter_map(|p| Some((p.time_ms, p.gc_ms_per_second?)))
        .collect();
    let p99: Vec<(i64, f64)> = series
        .iter()
        .filter_map(|p| Some((p.time_ms, p.pause_p99_ms?)))
        .collect();
    let rate_level = level(report, "gc_ms_per_second");
    let p99_level = level(report, "pause_p99_ms");
    let two_weeks = |title: &str, unit: &'static str, pts: &[(i64, f64)], threshold, colour| {
        let (x0, x1) = span.range;
        chart::line_chart(
            &Chart {
                title: format!("{title}{x_note}"),
                unit,
                x_range: span.range,
                threshold,
                series: vec![Series {
                    label: "worst JVM (max per bucket)".into(),
                    points: chart::downsample_max(pts, x0, x1, 336),
                    colour,
                    dashed: false,
                    dots: false,
                }],
                width: 680,
                height: 190,
            },
            span.tick_ms,
            x_label,
        )
    };
    // Last week's points shifted forward a week, drawn dashed under this week's.
    let shift = |pts: &[(i64, f64)]| -> (Points, Points) {
        let this: Vec<_> = pts
            .iter()
            .copied()
            .filter(|p| p.0 > now - WEEK_MS)
            .collect();
        let last: Vec<_> = pts
            .iter()
            .filter(|p| p.0 <= now - WEEK_MS)
            .map(|&(t, v)| (t + WEEK_MS, v))
            .collect();
        (
            chart::downsample_max(&this, now - WEEK_MS, now, 168),
            chart::downsample_max(&last, now - WEEK_MS, now, 168),
        )
    };
    let (rate_this, rate_last) = shift(&rate);
    let week_first = rate_last
        .first()
        .or(rate_this.first())
        .map(|p| p.0)
        .or(first.filter(|t| *t > now - WEEK_MS));
    let week_span = XSpan::fit(week_first, now - WEEK_MS, now);
    let (week_label, week_note) = axis(week_span);
    let overlay = chart::line_chart(
        &Chart {
            title: format!("GC pause ms per second, week over week{week_note}"),
            unit: "ms/s",
            x_range: week_span.range,
            threshold: rate_level,
            series: vec![
                Series {
                    label: "last week".into(),
                    points: rate_last,
                    colour: "#9aa3b2",
                    dashed: true,
                    dots: false,
                },
                Series {
                    label: "this week".into(),
                    points: rate_this,
                    colour: "#1f5fbf",
                    dashed: false,
                    dots: false,
                },
            ],
            width: 820,
            height: 190,
        },
        week_span.tick_ms,
        week_label,
    );
    let (total, passing) = report.map_or((0, 0), |r| {
        let all = || {
            r.findings
                .iter()
                .chain(r.jvms.iter().flat_map(|j| &j.findings))
        };
        let pass = all()
            .filter(|f| matches!(f.status, Status::Ok | Status::NotApplicable))
            .count();
        (all().count(), pass)
    });
    let body = html! {
        header {
            a.home href="/" { "← tunekeeper fleet" }
            h1 { (h.hostname) }
            @if h.stale { span.pill.warn { "stale" } }
            (skew_pill(h))
            @if h.drift > 0 {
                span.pill.bad { (h.drift) " drifting" }
            } @else {
                span.pill.ok { "no drift" }
            }
            (health_pill(h))
            @if let Some(c) = &h.machine_conflict {
                " " span.pill.bad title="several machines report under this host name" {
                    (c.machine_ids.len()) " machines"
                }
            }
            div.stamp { "updated " (fmt_clock(now)) }
        }
        main {
            div.facts {
                span { "profile " b { (h.profile) } }
                @if let Some(r) = report {
                    @if !r.host.kernel.is_empty() {
                        span { "kernel " b { (r.host.kernel) } }
                    }
                    @if r.host.cpus > 0 {
                        span { b { (r.host.cpus) } " CPUs" }
                    }
                    @if r.host.memory_bytes > 0 {
                        span {
                            b { (format!("{:.0} GiB", r.host.memory_bytes as f64 / f64::from(1u32 << 30))) }
                            " memory"
                        }
                    }
                    @if !r.agent.version.is_empty() {
                        span { "agent " b { (r.agent.version) } }
                    }
                }
                span {
                    "last report " b { (fmt_time(h.last_time_ms)) }
                    " (" (fmt_age(h.age_seconds)) " ago, every " (h.interval_seconds) " s)"
                }
                @if let Some(m) = &h.machine_id {
                    span { "machine " b.code { (m) } }
                }
            }
            @if let Some(c) = &h.machine_conflict {
                p.msg.conflict {
                    span.pill.bad { "conflict" } " "
                    b { (c.machine_ids.len()) " machines report under this host name" }
                    " (machine ids, latest first: "
                    @for (i, id) in c.machine_ids.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (if id.is_empty() { "(none said)" } else { id.as_str() }) }
                    }
                    "; they last took turns at " (fmt_time(c.last_turn_ms)) "). "
                    "This page shows the latest report, whichever machine sent it; each "
                    "machine's drift is compared with its own previous report, and the drift "
                    "history says which machine each event came from. Give each machine its "
                    "own host name."
                }
            }
            div.cards {
                div.card {
                    div.k { "Drifting findings" }
                    div class={ "v" (hot(h.drift > 0)) } { (h.drift) small { " of " (h.findings) } }
                }
                div.card {
                    div.k { "GC ms/s, last interval (worst JVM)" }
                    div class={ "v" (hot(gc_key_drifts(h, "gc_ms_per_second"))) } { (fmt_opt(h.gc.gc_ms_per_second, 1)) }
                    @if h.gc.gc_ms_per_second_source == Some(GcRateSource::Counters) {
                        div.why #gc-rate-source title=(counters_title(&h.gc.from_counters)) {
                            "from the JVM's counters (no readable GC log)"
                        }
                    }
                    @if let Some(why) = &h.gc.gc_ms_per_second_null_because {
                        div.why { (short_reason(why)) }
                    }
                }
                div.card {
                    div.k { "Pause p99, last interval (worst JVM)" }
                    div class={ "v" (hot(gc_key_drifts(h, "pause_p99_ms"))) } { (fmt_opt(h.gc.pause_p99_ms, 1)) small { " ms" } }
                    @if h.gc.pause_p99_ms.is_none() {
                        div.why {
                            @match &h.gc.gc_ms_per_second_null_because {
                                Some(why) => (short_reason(why)),
                                None => "no pause in the interval",
                            }
                        }
                    }
                }
                div.card {
                    div.k { "Full GCs, last 24 h" }
                    div class={ "v" (hot(h.gc.full_gcs_24h > 0)) } { (h.gc.full_gcs_24h) }
                }
                div.card {
                    div.k { "JVMs" }
                    div.v { (h.jvms) }
                    @if !h.jvms_by_role.is_empty() {
                        div.why {
                            @for (i, (role, n)) in h.jvms_by_role.iter().enumerate() {
                                @if i > 0 { ", " }
                                (n) " " (role)
                            }
                        }
                    }
                }
            }
            @if let Some(why) = &h.gc.unknown_because {
                (gc_unknown_note(why))
            }
            (roles_section(h, report, now))
            @if let Some(r) = report {
                (jvms_section(r))
            }
            h2 {
                "GC over two weeks "
                span.mut {
                    @if span.fitted {
                        "this host reported first at " (fmt_time(first.unwrap_or(span.range.0)))
                        ": the charts show its last " (fmt_age((now - span.range.0) / 1000)) ", not two weeks; "
                    }
                    "dashed red: the profile's service level"
                    @if !h.gc.from_counters.is_empty() {
                        "; a JVM without a readable GC log counts by its own counters' rate"
                    }
                }
            }
            div.charts {
                div.chartbox {
                    (two_weeks("GC pause ms/s, per report interval", "ms/s", &rate, rate_level, "#1f5fbf"))
                }
                div.chartbox {
                    (two_weeks("Pause p99 per report interval, ms", "ms", &p99, p99_level, "#7b3fbf"))
                }
            }
            h2 { "This week against last week" }
            div.split {
                div { (week_table(weeks)) }
                div.chartbox { (overlay) }
            }
            @if let Some(r) = report {
                (data_dirs_section(&r.findings))
            }
            @if let Some(section) = against {
                (section)
            }
            h2 #findings {
                "Current findings "
                span.mut {
                    "from the report of " (fmt_time(h.last_time_ms)) "; " (total - passing) " of " (total)
                    " need attention; source: the profile that set the value, and why"
                }
            }
            div.bar { label { input type="checkbox" id="showpass"; " show the " (passing) " passing checks" } }
            table {
                thead { tr { th { "Check" } th { "Key" } th { "Expected" } th { "Actual" } th { "Status" } th { "Source" } th { "Detail" } } }
                tbody {
                    @match report {
                        Some(r) => {
                            @for (title, findings) in finding_groups(r) {
                                tr.grp { td colspan="7" { (title) } }
                                (finding_rows(&findings))
                            }
                            @for j in &r.jvms {
                                tr.grp {
                                    td colspan="7" {
                                        "JVM " (jvm_label(j))
                                        @if let Some(p) = &j.profile { " · judged by " (p) }
                                        " " span.mut { (j.command) }
                                    }
                                }
                                (finding_rows(&j.findings))
                            }
                        }
                        None => tr.empty-row { td colspan="7" { "The latest report could not be read." } },
                    }
                }
            }
            h2 #history {
                "Drift history "
                span.mut { "when each key drifted and when it came back, became waived or went away with its stopped role, newest first" }
            }
            @let machines = several_machines(events);
            table {
                thead { tr {
                    @if machines { th { "Machine" } }
                    th { "Check" } th { "Key" } th { "Expected" } th { "Seen" } th.n { "Drifted" } th.n { "Back" } th.n { "Lasted" }
                } }
                tbody { (history_rows(events, now, machines)) }
            }
        }
    };
    super::document(&format!("{} · tunekeeper", h.hostname), "", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(check: &str, key: &str, actual: &str, status: Status, detail: &str) -> Finding {
        Finding {
            check: check.into(),
            key: key.into(),
            expected: String::new(),
            actual: Some(actual.into()),
            status,
            source: None,
            detail: Some(detail.into()),
            waiver: None,
        }
    }

    #[test]
    fn a_data_directory_row_gathers_its_findings_and_escapes() {
        let findings = vec![
            f(
                "datadir",
                "/data1/kafka",
                "xfs on sdb",
                Status::Ok,
                "mounted at /data1 from /dev/sdb",
            ),
            f(
                "mount",
                "/data1/kafka",
                "xfs rw",
                Status::Drift,
                "missing noatime",
            ),
            f("placement", "/data1/kafka", "sdb", Status::Ok, ""),
            f(
                "space",
                "/data1/kafka free space",
                "83%",
                Status::Ok,
                "1 TiB free of 1.2 TiB",
            ),
            f(
                "space",
                "/data1/kafka-b free space",
                "1%",
                Status::Drift,
                "other dir",
            ),
            f(
                "datadir",
                "/<b>x</b>",
                "tmpfs on no disk",
                Status::Ok,
                "mounted at / from tmpfs",
            ),
            f(
                "datadir",
                "data directories",
                "",
                Status::NotApplicable,
                "no broker",
            ),
        ];
        assert_eq!(
            space_key("/d (pid 7)", "free space"),
            "/d free space (pid 7)"
        );
        assert_eq!(space_key("/d", "free inodes"), "/d free inodes");
        let rows = data_dir_rows(&findings);
        assert_eq!(rows.len(), 2, "{rows:#?}");
        assert_eq!(rows[0].path, "/data1/kafka");
        assert_eq!(rows[0].status, Status::Drift, "the worst of its findings");
        assert_eq!(
            rows[0].problems,
            ["missing noatime"],
            "not the other directory's space"
        );
        assert_eq!(rows[0].free, Some(("83%", Some("1 TiB free of 1.2 TiB"))));
        let html = data_dirs_section(&findings).into_string();
        assert!(
            html.contains("Data directories") && html.contains("/<wbr>&lt;b&gt;x&lt;/<wbr>b&gt;")
        );
        assert!(!html.contains("<b>x</b>"));
    }
}
