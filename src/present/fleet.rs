//! The fleet page: one page of hosts, problems first by default, the whole
//! fleet's count of each state at the top (each a filter), sortable
//! columns and pages as plain links (they work without script). The text
//! filter needs a few lines of inline script: the page's policy forbids
//! forms (`form-action 'none'`), so typing rewrites the address instead.
//!
//! Everything here works on plain data ([`FleetView`]); the handler builds
//! it from what storage answered.

use maud::{Markup, PreEscaped, html};

use super::format::fmt_age;
use super::{document, query_value};
use crate::collector::fleet::cluster::ClusterSummary;
use crate::collector::storage::fleet::{ClusterFilter, FleetCounts, SortKey, StateFilter};
use crate::collector::storage::health::{GcHealth, GcRateSource, RoleState};
use crate::collector::storage::host::HostView;

/// The roles the page offers as filters (any other is reached by `role=`).
pub const ROLES: [&str; 3] = ["broker", "controller", "zookeeper"];

/// What the page was asked for: the filters, the order and the page size
/// (links keep them, and change one).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The text filter as typed (empty: none).
    pub text: String,
    /// The state filter.
    pub state: StateFilter,
    /// The order.
    pub sort: SortKey,
    /// Largest first.
    pub descending: bool,
    /// Hosts per page.
    pub limit: u32,
    /// The default page size (left out of links).
    pub default_limit: u32,
    /// Only the hosts of this cluster (`None`: all).
    pub cluster: Option<ClusterFilter>,
    /// Only the hosts that run (or expect) this role (`None`: all).
    pub role: Option<String>,
}

impl Selection {
    /// The page's address with these choices, from the first page
    /// (`cursor`: `("after" | "before", token)` for another page). Only
    /// what differs from the defaults is written.
    pub fn href(&self, cursor: Option<(&str, &str)>) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.text.trim().is_empty() {
            parts.push(format!("q={}", query_value(self.text.trim())));
        }
        if self.state != StateFilter::All {
            parts.push(format!("state={}", self.state.name()));
        }
        if let Some(c) = &self.cluster {
            parts.push(format!("cluster={}", query_value(c.value())));
        }
        if let Some(r) = &self.role {
            parts.push(format!("role={}", query_value(r)));
        }
        if self.sort != SortKey::Problems {
            parts.push(format!("sort={}", self.sort.name()));
        }
        if self.descending != self.sort.default_descending() {
            parts.push(format!(
                "dir={}",
                if self.descending { "desc" } else { "asc" }
            ));
        }
        if self.limit != self.default_limit {
            parts.push(format!("limit={}", self.limit));
        }
        if let Some((name, token)) = cursor {
            parts.push(format!("{name}={}", query_value(token)));
        }
        if parts.is_empty() {
            "/".into()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }

    /// The same choices in another state (from the first page).
    fn with_state(&self, state: StateFilter) -> Selection {
        Selection {
            state,
            ..self.clone()
        }
    }

    /// The same choices sorted by `key`: the other way round if it is the
    /// current key, else in the key's own first direction.
    fn sorted_by(&self, key: SortKey) -> Selection {
        let descending = if key == self.sort {
            !self.descending
        } else {
            key.default_descending()
        };
        Selection {
            sort: key,
            descending,
            ..self.clone()
        }
    }
}

/// One host's row, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    /// Host name.
    pub hostname: String,
    /// Profile of the latest report.
    pub profile: String,
    /// The host's cluster, when known (a cluster column appears when any
    /// row has one).
    pub cluster: Option<String>,
    /// Seconds since the latest report.
    pub age_seconds: i64,
    /// Missed three intervals.
    pub stale: bool,
    /// The agent's interval.
    pub interval_seconds: u64,
    /// The clock's offset in seconds when it is off (positive: ahead).
    pub clock_skew_seconds: Option<i64>,
    /// Machines taking turns under the host name (0: no conflict).
    pub machines: usize,
    /// Drifting findings.
    pub drift: u32,
    /// Findings a waiver in force covers (shown, not drift).
    pub waived: u32,
    /// What drifts, one line each (`check key: actual (expected x)`).
    pub drifting: Vec<String>,
    /// GC health.
    pub gc: GcHealth,
    /// Why the GC health is unknown, when it is.
    pub gc_unknown_because: Option<String>,
    /// Worst JVM's GC ms per second, and whether it misses its level.
    pub gc_rate: (Option<f64>, bool),
    /// Why there is no GC ms per second, when there is none.
    pub gc_rate_null_because: Option<String>,
    /// When the GC ms per second is a JVM's own counters' (its log not
    /// read): which JVMs counted it, for the figure's title.
    pub gc_rate_from_counters: Option<String>,
    /// Worst JVM's pause p99, and whether it misses its level.
    pub pause_p99: (Option<f64>, bool),
    /// Full GCs in the last 24 hours.
    pub full_gcs_24h: u64,
    /// JVMs, every role.
    pub jvms: u32,
    /// JVMs by role (empty: an agent older than roles).
    pub jvms_by_role: Vec<(String, u32)>,
    /// The roles the agent expects (empty: an agent older than roles).
    pub roles: Vec<RoleState>,
}

impl FleetRow {
    /// The row of a host as storage shows it.
    pub fn from_view(h: &HostView) -> FleetRow {
        let gc_drifts = |key: &str| h.drifting.iter().any(|d| d.check == "gc" && d.key == key);
        FleetRow {
            hostname: h.hostname.clone(),
            profile: h.profile.clone(),
            cluster: h.cluster.clone(),
            age_seconds: h.age_seconds,
            stale: h.stale,
            interval_seconds: h.interval_seconds,
            clock_skew_seconds: h.clock_skewed.then_some(h.clock_skew_seconds),
            machines: h
                .machine_conflict
                .as_ref()
                .map_or(0, |c| c.machine_ids.len().max(2)),
            drift: h.drift,
            waived: h.waived,
            drifting: h
                .drifting
                .iter()
                .map(|d| {
                    format!(
                        "{} {}: {} (expected {})",
                        d.check,
                        d.key,
                        d.actual.as_deref().unwrap_or("?"),
                        d.expected
                    )
                })
                .collect(),
            gc: h.gc.health,
            gc_unknown_because: h.gc.unknown_because.clone(),
            gc_rate: (h.gc.gc_ms_per_second, gc_drifts("gc_ms_per_second")),
            gc_rate_null_because: h.gc.gc_ms_per_second_null_because.clone(),
            gc_rate_from_counters: (h.gc.gc_ms_per_second_source == Some(GcRateSource::Counters))
                .then(|| counters_title(&h.gc.from_counters)),
            pause_p99: (h.gc.pause_p99_ms, gc_drifts("pause_p99_ms")),
            full_gcs_24h: h.gc.full_gcs_24h,
            jvms: h.jvms,
            jvms_by_role: h.jvms_by_role.clone(),
            roles: h.roles.clone(),
        }
    }

    /// Whether the row has any problem.
    pub fn problem(&self) -> bool {
        self.stale
            || self.clock_skew_seconds.is_some()
            || self.gc == GcHealth::Unhealthy
            || self.drift > 0
    }
}

/// Everything the fleet page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetView {
    /// When the page was made, as `HH:MM:SS UTC`.
    pub clock: String,
    /// The whole fleet's counts of each state.
    pub counts: FleetCounts,
    /// Hosts that match the filters (on every page).
    pub matching: u64,
    /// The hosts of this page, in order.
    pub rows: Vec<FleetRow>,
    /// What was asked for.
    pub selection: Selection,
    /// The token of the next page, if there is one.
    pub next: Option<String>,
    /// The token of the previous page, if there is one.
    pub prev: Option<String>,
    /// The clusters section (shown when any host names a cluster).
    pub clusters: ClusterSection,
}

/// The fleet page's "Clusters" section: one row per cluster.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterSection {
    /// Each cluster, named ones by name, then the hosts without one.
    pub rows: Vec<ClusterSummary>,
    /// When the trend was computed, as people read it (or why there is none).
    pub trend_note: String,
}

/// Styles only this page uses.
const STYLE: &str = r#"
.states{display:flex;gap:6px;flex-wrap:wrap;margin:0 0 10px}
.states a{padding:3px 10px;border:1px solid #c9d0da;border-radius:12px;background:#fff;color:var(--fg);text-decoration:none}
.states a b{margin-left:5px;font-weight:600}
.states a.hot b{color:var(--bad)}
.states a.on{background:var(--acc);border-color:var(--acc);color:#fff}
.states a.on b{color:#fff}
#fleet th a{color:inherit;text-decoration:none;display:block}
#fleet td.host{white-space:nowrap;overflow-wrap:normal;max-width:none}
#fleet td.prof{overflow-wrap:anywhere;max-width:260px}
#fleet td.roles .pill{margin:0 3px 2px 0;font-weight:500}
#fleet td .why{display:block;font-size:11px;color:var(--mut);font-weight:400;white-space:normal;max-width:220px;text-align:right}
.roles-nav{display:flex;gap:6px;align-items:center;margin:0 0 10px;color:var(--mut)}
.roles-nav a{padding:2px 9px;border:1px solid #c9d0da;border-radius:12px;background:#fff;color:var(--fg);text-decoration:none}
.roles-nav a.on{background:var(--acc);border-color:var(--acc);color:#fff}
.bar .order a{color:var(--acc);text-decoration:none}
.pager{display:flex;gap:16px;align-items:center;margin-top:10px}
.pager a{color:var(--acc);text-decoration:none}
.pager a:hover{text-decoration:underline}
.pager .off{color:#aab2bf}
#clusters td.n,#clusters th.n{white-space:nowrap}
#clusters tr.on td{background:#eef3fb}
#clusters a{color:var(--acc);text-decoration:none}
"#;

/// The text filter (after a pause in typing, or on Enter, the page is asked
/// for again with `q=`), `/` to reach it, and the minutely reload (held
/// while a filter is being typed).
const SCRIPT: &str = r#"
(function(){
const f=document.getElementById('filter');let t=0;
function go(){const u=new URL(location.href),v=f.value.trim();if(v)u.searchParams.set('q',v);else u.searchParams.delete('q');u.searchParams.delete('after');u.searchParams.delete('before');if(u.href!==location.href)location.assign(u.href);}
f.addEventListener('input',()=>{clearTimeout(t);t=setTimeout(go,400);});
f.addEventListener('keydown',e=>{if(e.key==='Enter'){clearTimeout(t);go();}});
document.addEventListener('keydown',e=>{if(e.key==='/'&&document.activeElement!==f){e.preventDefault();f.focus();}});
if(f.value){f.focus();f.setSelectionRange(f.value.length,f.value.length);}
(function later(){setTimeout(()=>{if(f.value!==f.defaultValue)later();else location.reload();},60000);})();
})();
"#;

fn state_label(s: StateFilter) -> &'static str {
    match s {
        StateFilter::All => "All",
        StateFilter::Problems => "Problems",
        StateFilter::Drifting => "Drifting",
        StateFilter::Unhealthy => "GC unhealthy",
        StateFilter::Stale => "Stale",
        StateFilter::Skewed => "Clock skewed",
        StateFilter::GcUnknown => "GC unknown",
        StateFilter::Healthy => "Healthy",
    }
}

fn sort_label(k: SortKey) -> &'static str {
    match k {
        SortKey::Problems => "problems",
        SortKey::Host => "host",
        SortKey::Profile => "profile",
        SortKey::Age => "time since the last report",
        SortKey::Drift => "drift",
        SortKey::Gc => "GC health",
        SortKey::GcRate => "GC ms/s",
        SortKey::PauseP99 => "pause p99",
        SortKey::Jvms => "JVMs",
    }
}

/// A column: its heading, the key it sorts by (`None`: not sortable), and
/// whether it holds numbers; `title` explains it.
struct Column {
    label: &'static str,
    sort: Option<SortKey>,
    numeric: bool,
    title: Option<&'static str>,
}

const COLUMNS: [Column; 10] = [
    Column {
        label: "Host",
        sort: Some(SortKey::Host),
        numeric: false,
        title: None,
    },
    Column {
        label: "Roles",
        sort: None,
        numeric: false,
        title: Some("the roles the agent expects on the host: running, or stopped since when"),
    },
    Column {
        label: "Profile",
        sort: Some(SortKey::Profile),
        numeric: false,
        title: None,
    },
    Column {
        label: "Last report",
        sort: Some(SortKey::Age),
        numeric: true,
        title: None,
    },
    Column {
        label: "Drift",
        sort: Some(SortKey::Drift),
        numeric: true,
        title: None,
    },
    Column {
        label: "GC health",
        sort: Some(SortKey::Gc),
        numeric: false,
        title: None,
    },
    Column {
        label: "GC ms/s, last interval",
        sort: Some(SortKey::GcRate),
        numeric: true,
        title: Some("the worst JVM, over the last report interval"),
    },
    Column {
        label: "Pause p99 ms, last interval",
        sort: Some(SortKey::PauseP99),
        numeric: true,
        title: Some("the worst JVM, over the last report interval"),
    },
    Column {
        label: "Full GCs 24 h",
        sort: None,
        numeric: true,
        title: Some("summed over the last day's reports (not sortable)"),
    },
    Column {
        label: "JVMs",
        sort: Some(SortKey::Jvms),
        numeric: true,
        title: Some("JVMs of every role in the latest report"),
    },
];

/// The title of a GC rate a JVM's own counters gave: that, and whose.
pub fn counters_title(from_counters: &[String]) -> String {
    let mut t = String::from("from the JVM's counters (no readable GC log)");
    for j in from_counters {
        t.push('\n');
        t.push_str(j);
    }
    t
}

fn figure(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.1}"))
}

fn health(r: &FleetRow) -> Markup {
    match r.gc {
        GcHealth::Healthy => html! { span.pill.ok { "healthy" } },
        GcHealth::Unhealthy => html! { span.pill.bad { "unhealthy" } },
        GcHealth::Unknown => html! {
            span.pill.warn title=[r.gc_unknown_because.as_deref()] { "unknown" }
            @if let Some(why) = &r.gc_unknown_because {
                span.why title=(why) { (why_short(why)) }
            }
        },
    }
}

/// A reason in a few words, for a table cell (the whole in its title):
/// what kind of gap it is, not the paths and the remedy.
fn why_short(why: &str) -> &'static str {
    if why.contains("cannot be read") {
        "GC log unreadable"
    } else if why.contains("no GC log") || why.contains("names no GC log") {
        "no GC log read"
    } else if why.contains("no JVM") || why.contains("exited") {
        "no JVM"
    } else if why.contains("under a minute")
        || why.contains("too short")
        || why.contains("under the")
        || why.contains("first report")
    {
        "young JVM: too short for a rate"
    } else if why.contains("no pause") {
        "no pause yet"
    } else {
        "not known"
    }
}

/// The host's roles as badges: running ones plain, stopped ones red with
/// since when; an older agent's host shows "–".
fn roles_cell(r: &FleetRow) -> Markup {
    html! {
        @for role in &r.roles {
            @if role.running {
                span.pill.unk title={ (role.role) " runs (" (role.profile) ")" } { (role.role) }
            } @else {
                span.pill.bad title={ (role.role) " stopped" @if let Some(t) = &role.missing_since { " since " (t) } } {
                    (role.role) " stopped"
                }
            }
        }
        @if r.roles.is_empty() { span.mut title="the agent does not report roles (older than roles)" { "–" } }
    }
}

fn row(r: &FleetRow, clusters: bool) -> Markup {
    html! {
        tr.stale[r.stale] data-problem=(u8::from(r.problem())) {
            td.host { a href={ "/hosts/" (crate::present::html::segment(&r.hostname)) } { (r.hostname) } }
            td.roles { (roles_cell(r)) }
            td.prof { (r.profile) }
            @if clusters {
                td {
                    @if let Some(c) = &r.cluster {
                        a href={ "/clusters/" (crate::present::html::segment(c)) } { (c) }
                    } @else { "–" }
                }
            }
            td.n {
                @if r.stale {
                    span.pill.warn title={ "no report for more than three intervals (" (r.interval_seconds) " s)" } { "stale" }
                    " "
                }
                (fmt_age(r.age_seconds))
                @if let Some(skew) = r.clock_skew_seconds {
                    " "
                    span.pill.warn title={ "report time minus receipt of the last report: " (skew) " s; the host's times are not trusted beyond its receipt" } {
                        "clock " (if skew > 0 { "ahead" } else { "behind" }) " " (fmt_age(skew.saturating_abs()))
                    }
                }
                @if r.machines > 0 {
                    " "
                    span.pill.bad title="several machines take turns reporting under this host name" {
                        (r.machines) " machines"
                    }
                }
            }
            td.n {
                @if r.drift == 0 {
                    span.pill.ok { "0" }
                } @else {
                    span.pill.bad title=(r.drifting.join("\n")) { (r.drift) }
                }
                @if r.waived > 0 {
                    " "
                    span.mut.waived title="findings a waiver in force accepts: not drift" { (r.waived) " waived" }
                }
            }
            td { (health(r)) }
            td.n.hot[r.gc_rate.1] {
                (figure(r.gc_rate.0))
                @if let Some(whose) = &r.gc_rate_from_counters {
                    span.why title=(whose) { "from the JVM's counters" }
                }
                // Without a figure, why: never a bare dash.
                @if let (None, Some(why)) = (r.gc_rate.0, &r.gc_rate_null_because) {
                    @if r.gc != GcHealth::Unknown {
                        span.why title=(why) { (why_short(why)) }
                    }
                }
            }
            td.n.hot[r.pause_p99.1] {
                (figure(r.pause_p99.0))
                @if r.pause_p99.0.is_none() && r.gc_rate.0.is_some() {
                    span.why { "no pause in the interval" }
                }
            }
            td.n.hot[r.full_gcs_24h > 0] { (r.full_gcs_24h) }
            td.n {
                @if r.jvms_by_role.is_empty() {
                    (r.jvms)
                } @else {
                    span title=(r.jvms_by_role.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")) { (r.jvms) }
                }
            }
        }
    }
}

fn change(p: Option<f64>) -> String {
    p.map_or_else(|| "–".into(), |p| format!("{p:+.0} %"))
}

/// The clusters, with their counts now and their trend: each row links to
/// its cluster page and filters the host table to it.
fn clusters_section(c: &ClusterSection, sel: &Selection) -> Markup {
    if c.rows.iter().all(|r| r.name.is_none()) {
        return html! {};
    }
    let hot = |n: usize| n > 0;
    html! {
        section #clusters aria-label="Clusters" {
            h2 { "Clusters " span.mut { (c.trend_note) } }
            table {
                thead {
                    tr {
                        th { "Cluster" }
                        th.n { "Hosts" }
                        th.n { "Drifting" }
                        th.n { "GC unhealthy" }
                        th.n { "Stale" }
                        th.n title="mean of the reports' GC ms per second (worst JVM each): the last seven days, the seven before, change" { "GC ms/s this week" }
                        th.n { "last week" }
                        th.n { "change" }
                        th.n title="reports with at least one drifting finding: the last seven days, the seven before" { "Drifting reports this week" }
                        th.n { "last week" }
                        th { }
                    }
                }
                tbody {
                    @for r in &c.rows {
                        @let filter = match &r.name {
                            Some(n) => ClusterFilter::Named(n.clone()),
                            None => ClusterFilter::Without,
                        };
                        @let on = sel.cluster.as_ref() == Some(&filter);
                        tr.on[on] data-cluster=(filter.value()) {
                            td {
                                @match &r.name {
                                    Some(n) => a href={ "/clusters/" (crate::present::html::segment(n)) } { (n) },
                                    None => span.mut { (r.label) },
                                }
                            }
                            td.n { (r.hosts) }
                            td.n.hot[hot(r.drifting)] { (r.drifting) }
                            td.n.hot[hot(r.gc_unhealthy)] { (r.gc_unhealthy) }
                            td.n.hot[hot(r.stale)] { (r.stale) }
                            @match &r.trend {
                                Some(t) => {
                                    td.n { (figure(t.this_week.mean_gc_ms_per_second)) }
                                    td.n { (figure(t.last_week.mean_gc_ms_per_second)) }
                                    td.n { (change(t.gc_ms_per_second_change_percent)) }
                                    td.n { (t.this_week.drifting_reports) " of " (t.this_week.reports) }
                                    td.n { (t.last_week.drifting_reports) " of " (t.last_week.reports) }
                                }
                                None => td.n.mut colspan="5" { (r.trend_missing.as_deref().unwrap_or("not computed yet")) },
                            }
                            td {
                                @if on {
                                    a href=(Selection { cluster: None, ..sel.clone() }.href(None)) { "all clusters" }
                                } @else {
                                    a href=(Selection { cluster: Some(filter.clone()), ..sel.clone() }.href(None)) { "show its hosts" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The fleet page's HTML.
pub fn render(v: &FleetView) -> String {
    let sel = &v.selection;
    let c = &v.counts;
    let clusters = v.rows.iter().any(|r| r.cluster.is_some());
    let columns = COLUMNS.len() + usize::from(clusters);
    let filtered = !sel.text.trim().is_empty()
        || sel.state != StateFilter::All
        || sel.cluster.is_some()
        || sel.role.is_some();
    let body = html! {
        header {
            a.home href="/" { "tunekeeper" }
            h1 { "Fleet" }
            div.stats {
                span { b { (c.hosts) } " hosts" }
                span.hot[c.problems > 0] { b { (c.problems) } " with problems" }
                span.hot[c.drifting > 0] { b { (c.drifting) } " drifting" }
                span.hot[c.unhealthy > 0] { b { (c.unhealthy) } " GC unhealthy" }
                span.hot[c.stale > 0] { b { (c.stale) } " stale" }
                @if c.skewed > 0 {
                    span.hot { b { (c.skewed) } " clock skewed" }
                }
                @if c.gc_unknown > 0 {
                    span.hot title="hosts whose GC health is unknown: no JVM, or a GC log the agent cannot read" { b { (c.gc_unknown) } " GC unknown" }
                }
                @if c.waived > 0 {
                    span.waived title="findings a waiver in force accepts: shown and counted, not drift" {
                        b { (c.waived) } " waived on " (c.waived_hosts) (if c.waived_hosts == 1 { " host" } else { " hosts" })
                    }
                }
            }
            div.stamp { "updated " (v.clock) " · reloads every minute" }
        }
        main {
            (clusters_section(&v.clusters, sel))
            nav.states aria-label="Hosts by state" {
                @for s in StateFilter::ALL {
                    @let n = s.count(c);
                    @let bad = n > 0 && !matches!(s, StateFilter::All | StateFilter::Healthy);
                    a.on[s == sel.state].hot[bad] href=(sel.with_state(s).href(None)) aria-current=[(s == sel.state).then_some("page")] {
                        (state_label(s)) b { (n) }
                    }
                }
            }
            nav.roles-nav aria-label="Hosts by role" {
                "Role:"
                a.on[sel.role.is_none()] href=(Selection { role: None, ..sel.clone() }.href(None)) { "any" }
                @for role in ROLES {
                    @let on = sel.role.as_deref() == Some(role);
                    a.on[on] href=(Selection { role: Some(role.to_owned()), ..sel.clone() }.href(None)) aria-current=[on.then_some("page")] { (role) }
                }
                @if let Some(other) = sel.role.as_deref().filter(|r| !ROLES.contains(r)) {
                    a.on href=(sel.href(None)) { (other) }
                }
                span.mut { "(hosts whose agent reports roles)" }
            }
            div.bar {
                input #filter type="search" value=(sel.text) placeholder="Filter by host or profile…  ( / )" autocomplete="off" aria-label="Filter hosts by name or profile";
                span.mut.order {
                    @if sel.sort == SortKey::Problems {
                        "problems first: clock skewed, stale, GC unhealthy, drifting"
                    } @else {
                        "sorted by " (sort_label(sel.sort)) ", " (if sel.descending { "descending" } else { "ascending" }) " · "
                        a href=(Selection { sort: SortKey::Problems, descending: true, ..sel.clone() }.href(None)) { "problems first" }
                    }
                }
                span.count #count {
                    (v.rows.len()) " of " (v.matching) " hosts"
                    @if filtered { " matching (" (c.hosts) " in the fleet)" }
                }
            }
            noscript { p.mut { "The text filter needs script: add " code { "?q=text" } " to the address. States, sorting and pages are plain links." } }
            table #fleet {
                thead {
                    tr {
                        @for (i, col) in COLUMNS.iter().enumerate() {
                            @if clusters && i == 3 {
                                th { "Cluster" }
                            }
                            @let current = col.sort == Some(sel.sort);
                            @let aria = current.then_some(if sel.descending { "descending" } else { "ascending" });
                            th.n[col.numeric] aria-sort=[aria] title=[col.title] {
                                @match col.sort {
                                    Some(key) => a href=(sel.sorted_by(key).href(None)) { (col.label) },
                                    None => (col.label),
                                }
                            }
                        }
                    }
                }
                tbody {
                    @for r in &v.rows {
                        (row(r, clusters))
                    }
                    @if v.rows.is_empty() {
                        tr.empty-row {
                            td colspan=(columns) {
                                @if c.hosts == 0 {
                                    "No host has reported yet. Point an agent at " code { "POST /api/v1/reports" } "."
                                } @else {
                                    "No host matches. " a href=(Selection { text: String::new(), state: StateFilter::All, ..sel.clone() }.href(None)) { "Show all hosts" }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if v.prev.is_some() {
                    a href=(sel.href(None)) rel="first" { "« First" }
                } @else {
                    span.off { "« First" }
                }
                @match &v.prev {
                    Some(t) => a href=(sel.href(Some(("before", t)))) rel="prev" { "‹ Previous" },
                    None => span.off { "‹ Previous" },
                }
                @match &v.next {
                    Some(t) => a href=(sel.href(Some(("after", t)))) rel="next" { "Next ›" },
                    None => span.off { "Next ›" },
                }
                span.mut { (sel.limit) " per page" }
            }
        }
        script { (PreEscaped(SCRIPT)) }
    };
    document("tunekeeper · fleet", STYLE, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel() -> Selection {
        Selection {
            text: String::new(),
            state: StateFilter::All,
            sort: SortKey::Problems,
            descending: true,
            limit: 100,
            default_limit: 100,
            cluster: None,
            role: None,
        }
    }

    fn row_named(name: &str, profile: &str) -> FleetRow {
        FleetRow {
            hostname: name.into(),
            profile: profile.into(),
            cluster: None,
            age_seconds: 30,
            stale: false,
            interval_seconds: 60,
            clock_skew_seconds: None,
            machines: 0,
            drift: 1,
            waived: 0,
            drifting: vec!["sysctl vm.swappiness: <b>60</b> (expected 1)".into()],
            gc: GcHealth::Healthy,
            gc_unknown_because: None,
            gc_rate: (Some(3.25), false),
            gc_rate_null_because: None,
            gc_rate_from_counters: None,
            pause_p99: (None, false),
            full_gcs_24h: 0,
            jvms: 1,
            jvms_by_role: Vec::new(),
            roles: Vec::new(),
        }
    }

    #[test]
    fn links_keep_the_choices_and_encode_the_text() {
        let mut s = sel();
        assert_eq!(s.href(None), "/");
        s.text = " a&b=c#d ".into();
        s.state = StateFilter::Stale;
        assert_eq!(s.href(None), "/?q=a%26b%3Dc%23d&state=stale");
        let by_host = s.sorted_by(SortKey::Host);
        assert!(!by_host.descending, "names sort A to Z first");
        assert_eq!(
            by_host
                .sorted_by(SortKey::Host)
                .href(Some(("after", "t61.62"))),
            "/?q=a%26b%3Dc%23d&state=stale&sort=host&dir=desc&after=t61.62"
        );
    }

    #[test]
    fn values_are_escaped_and_the_cluster_column_appears_only_when_known() {
        let mut v = FleetView {
            clock: "12:00:00 UTC".into(),
            counts: FleetCounts {
                hosts: 2,
                problems: 1,
                drifting: 1,
                ..FleetCounts::default()
            },
            matching: 2,
            rows: vec![row_named("h-1", "<script>alert(1)</script>")],
            selection: sel(),
            next: Some("n00.68".into()),
            prev: None,
            clusters: ClusterSection::default(),
        };
        let html = render(&v);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            html.contains("&lt;b&gt;60&lt;/b&gt;"),
            "the tooltip escaped"
        );
        assert!(
            html.contains(r#"href="/?after=n00.68" rel="next""#),
            "{html}"
        );
        assert!(!html.contains("Cluster"));
        v.rows[0].cluster = Some("east-1".into());
        assert!(render(&v).contains("<th>Cluster</th>"));
    }
}
