//! The host page (`/hosts/{hostname}`): the host's state, its GC over two
//! weeks, this week against last week, its data directories, the current
//! findings and the drift history. Built with maud from what storage
//! answered for the host ([`HostView`], [`Point`], [`DriftEvent`]) and its
//! latest report; no external assets (works offline).

use maud::{Markup, html};

use super::chart::{self, Chart, Series};
use super::format::{fmt_age, fmt_clock, fmt_day, fmt_time};
use super::html::breakable;
use crate::collector::fleet::history::{episodes, week_stats};
use crate::collector::storage::drift::Change;
use crate::collector::storage::health::GcHealth;
use crate::collector::storage::host::{DriftEvent, HostView, Point};
use crate::finding::{Finding, Status};
use crate::report::Report;

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

fn health_pill(h: GcHealth) -> Markup {
    match h {
        GcHealth::Healthy => html! { span.pill.ok { "healthy" } },
        GcHealth::Unhealthy => html! { span.pill.bad { "unhealthy" } },
        GcHealth::Unknown => html! { span.pill.unk { "no data" } },
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
        h2 { "Data directories " span.mut { "from the broker's own configuration (log.dirs)" } }
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

fn change(now: Option<f64>, before: Option<f64>) -> Markup {
    match (now, before) {
        (Some(a), Some(b)) if b.abs() > f64::EPSILON => {
            let pct = (a - b) / b * 100.0;
            let cls = if pct > 10.0 { "hot" } else { "mut" };
            html! { span class=(cls) { (format!("{pct:+.0} %")) } }
        }
        _ => html! { span.mut { "–" } },
    }
}

/// The week-over-week table of a host's samples.
fn week_table(series: &[Point], now: i64) -> Markup {
    let this: Vec<Point> = series
        .iter()
        .copied()
        .filter(|p| p.time_ms > now - WEEK_MS)
        .collect();
    let last: Vec<Point> = series
        .iter()
        .copied()
        .filter(|p| p.time_ms <= now - WEEK_MS)
        .collect();
    let (a, b) = (week_stats(&this), week_stats(&last));
    let as_f = |v: usize| Some(v as f64);
    let rows: [(&str, String, String, Markup); 7] = [
        (
            "Reports",
            a.reports.to_string(),
            b.reports.to_string(),
            change(as_f(a.reports), as_f(b.reports)),
        ),
        (
            "GC ms/s per interval, mean",
            fmt_opt(a.mean_rate, 2),
            fmt_opt(b.mean_rate, 2),
            change(a.mean_rate, b.mean_rate),
        ),
        (
            "GC ms/s per interval, worst",
            fmt_opt(a.worst_rate, 1),
            fmt_opt(b.worst_rate, 1),
            change(a.worst_rate, b.worst_rate),
        ),
        (
            "Pause p99 ms per interval, median",
            fmt_opt(a.median_p99, 1),
            fmt_opt(b.median_p99, 1),
            change(a.median_p99, b.median_p99),
        ),
        (
            "Pause p99 ms per interval, worst",
            fmt_opt(a.worst_p99, 1),
            fmt_opt(b.worst_p99, 1),
            change(a.worst_p99, b.worst_p99),
        ),
        (
            "Full GCs",
            a.full_gcs.to_string(),
            b.full_gcs.to_string(),
            change(Some(a.full_gcs as f64), Some(b.full_gcs as f64)),
        ),
        (
            "Reports with drift",
            a.drifting_reports.to_string(),
            b.drifting_reports.to_string(),
            change(as_f(a.drifting_reports), as_f(b.drifting_reports)),
        ),
    ];
    html! {
        table {
            thead { tr { th {} th.n { "This week" } th.n { "Last week" } th.n { "Change" } } }
            tbody {
                @for (label, x, y, c) in &rows {
                    tr { td { (label) } td.n { (x) } td.n { (y) } td.n { (c) } }
                }
            }
        }
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
                        Some(t) if e.after_restart => {
                            (fmt_time(t)) br; span.mut { "after the broker restarted" }
                        }
                        Some(t) => (fmt_time(t)),
                    }
                }
                td.n {
                    @match e.end {
                        None => span.pill.bad { "still drifting" },
                        // Gone from the report, not fixed: say so.
                        Some(x) if x.state == Change::Stopped => {
                            span.pill.warn { "broker stopped" } br; (fmt_time(x.time_ms))
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

/// The host page's HTML. `against` is the section on where the host
/// differs from its cluster ([`super::cluster::host_section`]), shown
/// before the findings.
pub fn render_host(
    h: &HostView,
    report: Option<&Report>,
    series: &[Point],
    events: &[DriftEvent],
    now: i64,
    against: Option<Markup>,
) -> String {
    // Two weeks of GC figures.
    let from = now - 2 * WEEK_MS;
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
        chart::line_chart(
            &Chart {
                title: title.into(),
                unit,
                x_range: (from, now),
                threshold,
                series: vec![Series {
                    label: "worst JVM (max per bucket)".into(),
                    points: chart::downsample_max(pts, from, now, 336),
                    colour,
                    dashed: false,
                    dots: false,
                }],
                width: 680,
                height: 190,
            },
            DAY_MS,
            fmt_day,
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
    let overlay = chart::line_chart(
        &Chart {
            title: "GC pause ms per second, week over week".into(),
            unit: "ms/s",
            x_range: (now - WEEK_MS, now),
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
        DAY_MS,
        fmt_day,
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
            (health_pill(h.gc.health))
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
                }
                div.card {
                    div.k { "Pause p99, last interval (worst JVM)" }
                    div class={ "v" (hot(gc_key_drifts(h, "pause_p99_ms"))) } { (fmt_opt(h.gc.pause_p99_ms, 1)) small { " ms" } }
                }
                div.card {
                    div.k { "Full GCs, last 24 h" }
                    div class={ "v" (hot(h.gc.full_gcs_24h > 0)) } { (h.gc.full_gcs_24h) }
                }
                div.card {
                    div.k { "Broker JVMs" }
                    div.v { (h.jvms) }
                }
            }
            h2 { "GC over two weeks " span.mut { "dashed red: the profile's service level" } }
            div.charts {
                div.chartbox {
                    (two_weeks("GC pause ms per second of wall time, per report interval", "ms/s", &rate, rate_level, "#1f5fbf"))
                }
                div.chartbox {
                    (two_weeks("Pause p99 per report interval, ms", "ms", &p99, p99_level, "#7b3fbf"))
                }
            }
            h2 { "This week against last week" }
            div.split {
                (week_table(series, now))
                div.chartbox { (overlay) }
            }
            @if let Some(r) = report {
                (data_dirs_section(&r.findings))
            }
            @if let Some(section) = against {
                (section)
            }
            h2 {
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
                            tr.grp { td colspan="7" { "Host" } }
                            (finding_rows(&r.findings))
                            @for j in &r.jvms {
                                tr.grp { td colspan="7" { "JVM " (j.pid) " " span.mut { (j.command) } } }
                                (finding_rows(&j.findings))
                            }
                        }
                        None => tr.empty-row { td colspan="7" { "The latest report could not be read." } },
                    }
                }
            }
            h2 {
                "Drift history "
                span.mut { "when each key drifted and when it came back, became waived or went away with a stopped broker, newest first" }
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
