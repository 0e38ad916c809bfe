//! The fleet web pages, rendered on the server: the fleet table at `/` (its
//! query here, its markup in [`crate::present::fleet`]) and one host at
//! `/hosts/{hostname}`. No external assets (works offline). Every untrusted
//! value goes through [`escape`] or [`crate::present::html::segment`] (or maud,
//! which escapes).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use time::OffsetDateTime;
use time::macros::format_description;

use serde::Deserialize;

use super::api::{AppState, DEFAULT_LIMIT, MAX_LIMIT, check_read_page, heavy_read_turn};
use crate::collector::clock::now_ms;
use crate::collector::fleet::trend::Latest;
use crate::collector::storage::drift::Change;
use crate::collector::storage::error::StoreError;
use crate::collector::storage::fleet::{
    ClusterFilter, FleetCursor, FleetQuery, SortKey, StateFilter,
};
use crate::collector::storage::health::GcHealth;
use crate::collector::storage::host::{DriftEvent, HostData, HostView, Point};
use crate::finding::{Finding, Status};
use crate::present::html::{escape, escape_breakable};
use crate::present::style::STYLE;
use crate::present::{
    self,
    fleet::{ClusterSection, FleetRow, FleetView, Selection},
};
use crate::report::Report;
use charts::{Chart, Series};

/// The charts as text, for this page still put together with `format!`.
mod charts {
    pub use crate::present::chart::{Chart, Series, downsample_max};

    /// See [`crate::present::chart::line_chart`].
    pub fn line_chart(c: &Chart, x_tick_ms: i64, x_label: impl Fn(i64) -> String) -> String {
        crate::present::chart::line_chart(c, x_tick_ms, x_label).into_string()
    }
}

const DAY_MS: i64 = 86_400_000;
type Points = Vec<(i64, f64)>;
const WEEK_MS: i64 = 7 * DAY_MS;

/// What `GET /` may be asked (kept as text: a bad value gets a 400 page
/// naming the parameter).
#[derive(Debug, Deserialize)]
pub struct FleetParams {
    q: Option<String>,
    state: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    before: Option<String>,
    cluster: Option<String>,
}

/// The query and the page's choices of `p`, or the parameter at fault and why.
fn fleet_query(p: FleetParams) -> Result<(FleetQuery, Selection), (&'static str, String)> {
    let state = match p.state.as_deref() {
        None | Some("") => StateFilter::All,
        Some(s) => StateFilter::parse(s).ok_or_else(|| {
            let names: Vec<&str> = StateFilter::ALL.iter().map(|f| f.name()).collect();
            ("state", format!("one of {}", names.join(", ")))
        })?,
    };
    let sort = match p.sort.as_deref() {
        None | Some("") => SortKey::Problems,
        Some(s) => SortKey::parse(s).ok_or_else(|| {
            let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.name()).collect();
            ("sort", format!("one of {}", names.join(", ")))
        })?,
    };
    let descending = match p.dir.as_deref() {
        None | Some("") => sort.default_descending(),
        Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(("dir", "asc or desc".into())),
    };
    let limit = match p.limit.as_deref().map(str::parse::<u32>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(("limit", format!("a whole number from 1 to {MAX_LIMIT}"))),
    };
    let cursor = |name: &'static str, t: Option<String>| match t.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => FleetCursor::decode(t, sort)
            .map(Some)
            .ok_or((name, "a link of this page (for the same sort)".to_owned())),
    };
    let after = cursor("after", p.after)?;
    let before = cursor("before", p.before)?;
    let text = p.q.unwrap_or_default();
    let cluster = p.cluster.as_deref().and_then(ClusterFilter::parse);
    Ok((
        FleetQuery {
            cluster: cluster.clone(),
            text: Some(text.clone()),
            state,
            sort,
            descending,
            after,
            before,
            limit,
        },
        Selection {
            text,
            state,
            sort,
            descending,
            limit,
            default_limit: DEFAULT_LIMIT,
            cluster,
        },
    ))
}

/// `GET /`: one page of the fleet table (see [`crate::present::fleet`]).
pub async fn fleet(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<FleetParams>,
) -> Response {
    if let Some(r) = check_read_page(&state, &headers) {
        return r;
    }
    let (query, selection) = match fleet_query(params) {
        Ok(q) => q,
        Err((name, want)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("The parameter “{name}” must be {want}."),
            );
        }
    };
    let now = now_ms();
    let clusters = match state.storage.cluster_counts(now).await {
        Ok(c) => c,
        Err(e) => return store_error_page(e),
    };
    if let Some(f) = &query.cluster
        && !clusters.iter().any(|c| f.is(c.cluster.as_deref()))
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "The parameter “cluster” must be a cluster of the fleet (or “{}”): no host's latest report names “{}”.",
                crate::collector::storage::fleet::NO_CLUSTER,
                f.value()
            ),
        );
    }
    let trend = state.trend.latest();
    let clusters = ClusterSection {
        trend_note: match &trend {
            Latest::Ready(s) => format!(
                "trend computed at {} ({} ago), refreshed in the background",
                fmt_clock(s.as_of_ms),
                fmt_age((now - s.as_of_ms) / 1000)
            ),
            Latest::Missing(why) => why.clone(),
        },
        rows: crate::collector::fleet::cluster::summarize(&clusters, &trend),
    };
    match state.storage.fleet_page(now, query).await {
        Ok(p) => {
            let view = FleetView {
                clock: fmt_clock(now),
                counts: p.counts,
                matching: p.matching,
                rows: p.hosts.iter().map(FleetRow::from_view).collect(),
                selection,
                next: p.next.map(|c| c.encode()),
                prev: p.prev.map(|c| c.encode()),
                clusters,
            };
            page(StatusCode::OK, present::fleet::render(&view))
        }
        Err(e) => store_error_page(e),
    }
}

/// `GET /hosts/{hostname}`: one host.
pub async fn host(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hostname): Path<String>,
) -> Response {
    if let Some(r) = check_read_page(&state, &headers) {
        return r;
    }
    // The latest document (up to --max-body-bytes) is parsed: a heavy read.
    let _turn = match heavy_read_turn(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = now_ms();
    let data = state
        .storage
        .host_data(&hostname, now, now - 2 * WEEK_MS)
        .await;
    match data {
        Ok(HostData {
            view: Some(view),
            latest,
            series,
            events,
        }) => {
            let report = latest.and_then(|b| serde_json::from_str::<Report>(&b).ok());
            let mut html = render_host(&view, report.as_ref(), &series, &events, now);
            if let Some(c) = &view.cluster {
                match crate::collector::fleet::members::cluster_skew(&state.storage, c).await {
                    Ok(Some((m, skew))) => {
                        let section = crate::present::cluster::host_section(
                            &view.hostname,
                            c,
                            &skew,
                            m.hosts.len(),
                        );
                        // Before the findings (the end of the page if the layout changed).
                        let at = html
                            .find(r#"<h2>Current findings"#)
                            .or_else(|| html.rfind("</main>"))
                            .unwrap_or(html.len());
                        html.insert_str(at, &section);
                    }
                    Ok(None) => {}
                    Err(e) => return store_error_page(e),
                }
            }
            page(StatusCode::OK, html)
        }
        Ok(_) => error_page(
            StatusCode::NOT_FOUND,
            &format!("No host named “{hostname}” has reported (or its reports were pruned)."),
        ),
        Err(e) => store_error_page(e),
    }
}

/// A storage failure as a page: 503 (with `Retry-After`) while the database
/// is away, 500 otherwise.
pub(crate) fn store_error_page(e: StoreError) -> Response {
    let status = if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let mut r = error_page(status, &e.to_string());
    if e.is_transient() {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    }
    r
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let mut s = head("tunekeeper");
    let _ = write!(
        s,
        r#"<header><a class="home" href="/">tunekeeper</a></header><main><p class="msg">{}</p><p><a href="/">Back to the fleet</a></p></main></body></html>"#,
        escape(message)
    );
    page(status, s)
}

/// A page response. The policy is a second line of defence behind escaping:
/// nothing may load from anywhere (no images, frames, fetches or forms), so
/// even markup that slipped through could not reach out.
pub(crate) fn page(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn head(title: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>"#,
        escape(title)
    )
}

fn fmt_time(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "?".into())
}

fn fmt_clock(ms: i64) -> String {
    let fmt = format_description!("[hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

fn fmt_day(ms: i64) -> String {
    let fmt = format_description!("[weekday repr:short] [day padding:none]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// A short duration for people: `42 s`, `5 min`, `3 h 10 min`, `2 d 4 h`.
pub fn fmt_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => match (s % 3600) / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match (s % 86_400) / 3600 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    }
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.decimals$}"))
}

fn health_pill(h: GcHealth) -> &'static str {
    match h {
        GcHealth::Healthy => r#"<span class="pill ok">healthy</span>"#,
        GcHealth::Unhealthy => r#"<span class="pill bad">unhealthy</span>"#,
        GcHealth::Unknown => r#"<span class="pill unk">no data</span>"#,
    }
}

/// Whether a `gc` finding on `key` drifts for this host (to colour that figure).
fn gc_key_drifts(h: &HostView, key: &str) -> bool {
    h.drifting.iter().any(|d| d.check == "gc" && d.key == key)
}

/// The clock-skew pill: the host's clock is off from the collector's.
fn skew_pill(h: &HostView) -> String {
    if !h.clock_skewed {
        return String::new();
    }
    let (way, by) = if h.clock_skew_seconds > 0 {
        ("ahead", h.clock_skew_seconds)
    } else {
        ("behind", -h.clock_skew_seconds)
    };
    format!(
        r#" <span class="pill warn" title="report time minus receipt of the last report: {} s; the host's times are not trusted beyond its receipt">clock {way} {}</span>"#,
        h.clock_skew_seconds,
        fmt_age(by)
    )
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

fn status_pill(s: Status) -> &'static str {
    match s {
        Status::Ok => r#"<span class="pill ok">ok</span>"#,
        Status::Drift => r#"<span class="pill bad">drift</span>"#,
        Status::Unreadable => r#"<span class="pill warn">unreadable</span>"#,
        Status::NotApplicable => r#"<span class="pill unk">n/a</span>"#,
        Status::Waived => r#"<span class="pill unk">waived</span>"#,
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

fn finding_rows(s: &mut String, findings: &[Finding]) {
    let passing = |st: Status| matches!(st, Status::Ok | Status::NotApplicable);
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| status_rank(f.status));
    for f in sorted {
        let _ = write!(
            s,
            r#"<tr{}><td>{}</td><td class="code">{}</td><td class="code">{}</td><td class="code{}">{}</td><td>{}</td><td class="wrap mut">{}</td><td class="wrap">{}</td></tr>"#,
            if passing(f.status) {
                r#" class="pass""#
            } else {
                ""
            },
            escape(&f.check),
            escape_breakable(&f.key),
            escape_breakable(&f.expected),
            if f.status == Status::Drift {
                " hot"
            } else {
                ""
            },
            actual_with_window(f),
            status_pill(f.status),
            f.source.as_deref().map(escape).unwrap_or_default(),
            crate::present::text::finding_note(f)
                .map(|n| escape(&n))
                .unwrap_or_default(),
        );
    }
}

/// A finding's actual value; a GC service level's is the JVM's lifetime
/// figure (the agent checks levels over the whole life), which the page says
/// so that it is not read as the interval figures beside it.
fn actual_with_window(f: &Finding) -> String {
    let actual = f.actual.as_deref().map_or_else(|| "–".into(), escape);
    if f.check == "gc" && f.key != "log" && f.actual.is_some() {
        format!(r#"{actual} <small class="mut">JVM lifetime</small>"#)
    } else {
        actual
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
fn data_dirs_section(s: &mut String, findings: &[Finding]) {
    let rows = data_dir_rows(findings);
    if rows.is_empty() {
        return;
    }
    s.push_str(r#"<h2>Data directories <span class="mut">from the broker's own configuration (log.dirs)</span></h2>"#);
    s.push_str(r#"<table><thead><tr><th>Path</th><th>File system and disk</th><th>Mount</th><th class="n">Free</th><th>Status</th><th>Problems</th></tr></thead><tbody>"#);
    for r in rows {
        let _ = write!(
            s,
            r#"<tr><td class="code">{}</td><td class="code">{}</td><td class="wrap mut">{}</td><td class="n" title="{}">{}</td><td>{}</td><td class="wrap">{}</td></tr>"#,
            escape_breakable(r.path),
            r.disk.map(escape).unwrap_or_else(|| "–".into()),
            r.mount.map(escape).unwrap_or_default(),
            r.free.and_then(|(_, d)| d).map(escape).unwrap_or_default(),
            r.free.map(|(a, _)| escape(a)).unwrap_or_else(|| "–".into()),
            status_pill(r.status),
            escape(&r.problems.join("; ")),
        );
    }
    s.push_str("</tbody></table>");
}

struct WeekStats {
    reports: usize,
    mean_rate: Option<f64>,
    worst_rate: Option<f64>,
    median_p99: Option<f64>,
    worst_p99: Option<f64>,
    full_gcs: u64,
    drifting_reports: usize,
}

fn week_stats(points: &[Point]) -> WeekStats {
    let rates: Vec<f64> = points.iter().filter_map(|p| p.gc_ms_per_second).collect();
    let mut p99s: Vec<f64> = points.iter().filter_map(|p| p.pause_p99_ms).collect();
    p99s.sort_by(f64::total_cmp);
    WeekStats {
        reports: points.len(),
        mean_rate: (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
        worst_rate: rates.iter().copied().reduce(f64::max),
        median_p99: p99s.get(p99s.len() / 2).copied(),
        worst_p99: p99s.last().copied(),
        full_gcs: points
            .iter()
            .fold(0u64, |n, p| n.saturating_add(p.full_gcs)),
        drifting_reports: points.iter().filter(|p| p.drift > 0).count(),
    }
}

fn change(now: Option<f64>, before: Option<f64>) -> String {
    match (now, before) {
        (Some(a), Some(b)) if b.abs() > f64::EPSILON => {
            let pct = (a - b) / b * 100.0;
            let cls = if pct > 10.0 { "hot" } else { "mut" };
            format!(r#"<span class="{cls}">{pct:+.0} %</span>"#)
        }
        _ => r#"<span class="mut">–</span>"#.into(),
    }
}

/// A drift episode: when a key started drifting and when (if) it came back
/// or went away with a stopped broker.
struct Episode<'a> {
    start: Option<&'a DriftEvent>,
    end: Option<&'a DriftEvent>,
    /// The key's previous episode ended with the broker stopping: this one
    /// began when the broker ran again.
    after_restart: bool,
}

fn episodes(events: &[DriftEvent]) -> Vec<Episode<'_>> {
    let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    // Keys whose last episode ended with the broker stopping.
    let mut stopped: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut out: Vec<Episode<'_>> = Vec::new();
    for e in events {
        let k = (e.check.as_str(), e.key.as_str());
        if e.state == Change::Drift {
            open.insert(k, out.len());
            out.push(Episode {
                start: Some(e),
                end: None,
                after_restart: stopped.remove(&k),
            });
            continue;
        }
        if e.state == Change::Stopped {
            stopped.insert(k);
        } else {
            stopped.remove(&k);
        }
        if let Some(i) = open.remove(&k) {
            out[i].end = Some(e);
        } else {
            // Its start was pruned by retention.
            out.push(Episode {
                start: None,
                end: Some(e),
                after_restart: false,
            });
        }
    }
    out
}

/// The host page's HTML.
pub fn render_host(
    h: &HostView,
    report: Option<&Report>,
    series: &[Point],
    events: &[DriftEvent],
    now: i64,
) -> String {
    let mut s = head(&format!("{} · tunekeeper", h.hostname));
    let _ = write!(
        s,
        r#"<header><a class="home" href="/">← tunekeeper fleet</a><h1>{}</h1>{}{}{}{}<div class="stamp">updated {}</div></header><main>"#,
        escape(&h.hostname),
        if h.stale {
            r#"<span class="pill warn">stale</span>"#
        } else {
            ""
        },
        skew_pill(h),
        if h.drift > 0 {
            format!(r#"<span class="pill bad">{} drifting</span>"#, h.drift)
        } else {
            r#"<span class="pill ok">no drift</span>"#.into()
        },
        health_pill(h.gc.health),
        fmt_clock(now)
    );

    // Facts line.
    s.push_str(r#"<div class="facts">"#);
    let _ = write!(s, "<span>profile <b>{}</b></span>", escape(&h.profile));
    if let Some(r) = report {
        if !r.host.kernel.is_empty() {
            let _ = write!(s, "<span>kernel <b>{}</b></span>", escape(&r.host.kernel));
        }
        if r.host.cpus > 0 {
            let _ = write!(s, "<span><b>{}</b> CPUs</span>", r.host.cpus);
        }
        if r.host.memory_bytes > 0 {
            let _ = write!(
                s,
                "<span><b>{:.0} GiB</b> memory</span>",
                r.host.memory_bytes as f64 / f64::from(1u32 << 30)
            );
        }
        if !r.agent.version.is_empty() {
            let _ = write!(s, "<span>agent <b>{}</b></span>", escape(&r.agent.version));
        }
    }
    let _ = write!(
        s,
        "<span>last report <b>{}</b> ({} ago, every {} s)</span></div>",
        fmt_time(h.last_time_ms),
        fmt_age(h.age_seconds),
        h.interval_seconds
    );

    // Cards.
    let card_cls = |bad: bool| if bad { " hot" } else { "" };
    let _ = write!(
        s,
        r#"<div class="cards"><div class="card"><div class="k">Drifting findings</div><div class="v{}">{}<small> of {}</small></div></div><div class="card"><div class="k">GC ms/s, last interval (worst JVM)</div><div class="v{}">{}</div></div><div class="card"><div class="k">Pause p99, last interval (worst JVM)</div><div class="v{}">{}<small> ms</small></div></div><div class="card"><div class="k">Full GCs, last 24 h</div><div class="v{}">{}</div></div><div class="card"><div class="k">Broker JVMs</div><div class="v">{}</div></div></div>"#,
        card_cls(h.drift > 0),
        h.drift,
        h.findings,
        card_cls(gc_key_drifts(h, "gc_ms_per_second")),
        fmt_opt(h.gc.gc_ms_per_second, 1),
        card_cls(gc_key_drifts(h, "pause_p99_ms")),
        fmt_opt(h.gc.pause_p99_ms, 1),
        card_cls(h.gc.full_gcs_24h > 0),
        h.gc.full_gcs_24h,
        h.jvms
    );

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
    let chart = |title: &str, unit: &'static str, pts: &[(i64, f64)], threshold, colour| {
        charts::line_chart(
            &Chart {
                title: title.into(),
                unit,
                x_range: (from, now),
                threshold,
                series: vec![Series {
                    label: "worst JVM (max per bucket)".into(),
                    points: charts::downsample_max(pts, from, now, 336),
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
    let _ = write!(
        s,
        r#"<h2>GC over two weeks <span class="mut">dashed red: the profile's service level</span></h2><div class="charts"><div class="chartbox">{}</div><div class="chartbox">{}</div></div>"#,
        chart(
            "GC pause ms per second of wall time, per report interval",
            "ms/s",
            &rate,
            rate_level,
            "#1f5fbf"
        ),
        chart(
            "Pause p99 per report interval, ms",
            "ms",
            &p99,
            p99_level,
            "#7b3fbf"
        ),
    );

    // This week against last week.
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
    let row = |label: &str, x: String, y: String, c: String| {
        format!(
            r#"<tr><td>{label}</td><td class="n">{x}</td><td class="n">{y}</td><td class="n">{c}</td></tr>"#
        )
    };
    let as_f = |v: usize| Some(v as f64);
    let mut table = String::from(
        r#"<table><thead><tr><th></th><th class="n">This week</th><th class="n">Last week</th><th class="n">Change</th></tr></thead><tbody>"#,
    );
    table += &row(
        "Reports",
        a.reports.to_string(),
        b.reports.to_string(),
        change(as_f(a.reports), as_f(b.reports)),
    );
    table += &row(
        "GC ms/s per interval, mean",
        fmt_opt(a.mean_rate, 2),
        fmt_opt(b.mean_rate, 2),
        change(a.mean_rate, b.mean_rate),
    );
    table += &row(
        "GC ms/s per interval, worst",
        fmt_opt(a.worst_rate, 1),
        fmt_opt(b.worst_rate, 1),
        change(a.worst_rate, b.worst_rate),
    );
    table += &row(
        "Pause p99 ms per interval, median",
        fmt_opt(a.median_p99, 1),
        fmt_opt(b.median_p99, 1),
        change(a.median_p99, b.median_p99),
    );
    table += &row(
        "Pause p99 ms per interval, worst",
        fmt_opt(a.worst_p99, 1),
        fmt_opt(b.worst_p99, 1),
        change(a.worst_p99, b.worst_p99),
    );
    table += &row(
        "Full GCs",
        a.full_gcs.to_string(),
        b.full_gcs.to_string(),
        change(Some(a.full_gcs as f64), Some(b.full_gcs as f64)),
    );
    table += &row(
        "Reports with drift",
        a.drifting_reports.to_string(),
        b.drifting_reports.to_string(),
        change(as_f(a.drifting_reports), as_f(b.drifting_reports)),
    );
    table += "</tbody></table>";
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
            charts::downsample_max(&this, now - WEEK_MS, now, 168),
            charts::downsample_max(&last, now - WEEK_MS, now, 168),
        )
    };
    let (rate_this, rate_last) = shift(&rate);
    let overlay = charts::line_chart(
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
    let _ = write!(
        s,
        r#"<h2>This week against last week</h2><div class="split">{table}<div class="chartbox">{overlay}</div></div>"#
    );

    if let Some(r) = report {
        data_dirs_section(&mut s, &r.findings);
    }

    // Current findings.
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
    let _ = write!(
        s,
        r#"<h2>Current findings <span class="mut">from the report of {}; {} of {total} need attention; source: the profile that set the value, and why</span></h2><div class="bar"><label><input type="checkbox" id="showpass"> show the {passing} passing checks</label></div>"#,
        fmt_time(h.last_time_ms),
        total - passing
    );
    s.push_str(r#"<table><thead><tr><th>Check</th><th>Key</th><th>Expected</th><th>Actual</th><th>Status</th><th>Source</th><th>Detail</th></tr></thead><tbody>"#);
    match report {
        Some(r) => {
            let _ = write!(s, r#"<tr class="grp"><td colspan="7">Host</td></tr>"#);
            finding_rows(&mut s, &r.findings);
            for j in &r.jvms {
                let _ = write!(
                    s,
                    r#"<tr class="grp"><td colspan="7">JVM {} <span class="mut">{}</span></td></tr>"#,
                    j.pid,
                    escape(&j.command)
                );
                finding_rows(&mut s, &j.findings);
            }
        }
        None => s.push_str(r#"<tr class="empty-row"><td colspan="7">The latest report could not be read.</td></tr>"#),
    }
    s.push_str("</tbody></table>");

    // Drift history.
    s.push_str(r#"<h2>Drift history <span class="mut">when each key drifted and when it came back, became waived or went away with a stopped broker, newest first</span></h2>"#);
    s.push_str(r#"<table><thead><tr><th>Check</th><th>Key</th><th>Expected</th><th>Seen</th><th class="n">Drifted</th><th class="n">Back</th><th class="n">Lasted</th></tr></thead><tbody>"#);
    let eps = episodes(events);
    for e in eps.iter().rev() {
        let any = e.start.or(e.end).expect("an episode has an event");
        let start = e.start.map(|x| x.time_ms);
        let end = e.end.map(|x| x.time_ms);
        let lasted = match (start, end) {
            (Some(a), Some(b)) => fmt_age((b - a) / 1000),
            (Some(a), None) => format!(
                r#"<span class="hot">{} so far</span>"#,
                fmt_age((now - a) / 1000)
            ),
            _ => "–".into(),
        };
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="code">{}</td><td class="code">{}</td><td class="code">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{lasted}</td></tr>"#,
            escape(&any.check),
            escape(&any.key),
            escape(&any.expected),
            e.start
                .and_then(|x| x.actual.as_deref())
                .map_or_else(|| "–".into(), escape),
            match start {
                None => "before retention".into(),
                Some(t) if e.after_restart => format!(
                    r#"{}<br><span class="mut">after the broker restarted</span>"#,
                    fmt_time(t)
                ),
                Some(t) => fmt_time(t),
            },
            match e.end {
                None => r#"<span class="pill bad">still drifting</span>"#.into(),
                // Gone from the report, not fixed: say so.
                Some(x) if x.state == Change::Stopped => format!(
                    r#"<span class="pill warn">broker stopped</span><br>{}"#,
                    fmt_time(x.time_ms)
                ),
                // Still different, but a waiver accepts it now.
                Some(x) if x.state == Change::Waived => format!(
                    r#"<span class="pill unk">waived</span><br>{}{}"#,
                    x.justification
                        .as_deref()
                        .map(|j| format!(r#"<span class="mut">{}</span><br>"#, escape(j)))
                        .unwrap_or_default(),
                    fmt_time(x.time_ms)
                ),
                Some(x) => fmt_time(x.time_ms),
            },
        );
    }
    if eps.is_empty() {
        s.push_str(
            r#"<tr class="empty-row"><td colspan="7">Nothing has drifted on this host.</td></tr>"#,
        );
    }
    s.push_str("</tbody></table></main></body></html>");
    s
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
        let mut html = String::new();
        data_dirs_section(&mut html, &findings);
        assert!(
            html.contains("Data directories") && html.contains("/<wbr>&lt;b&gt;x&lt;/<wbr>b&gt;")
        );
        assert!(!html.contains("<b>x</b>"));
    }
}
