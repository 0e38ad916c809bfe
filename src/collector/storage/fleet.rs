//! Paging through the fleet: which hosts one page of the fleet table (or of
//! `GET /api/v1/hosts`) shows, chosen by the database, not by the server.
//!
//! One query shape for both backends (the SQL differs only in a few
//! function names): the states a host can be in (drifting, GC unhealthy,
//! stale, clock skewed) are SQL expressions over the `hosts` row that
//! decide exactly what [`super::host::HostRow::view`] decides; a page is
//! chosen by keyset (the sort key, then the host name), so a page costs one
//! index or table walk and the views of the rows shown, never the views of
//! the whole fleet. The counts of each state for the whole fleet come from
//! one aggregate over `hosts`, each cluster's from one GROUP BY, and each
//! host's sums of this week and last ([`HostWeekRow`]) from the samples.

use serde::Serialize;

/// Which SQL the query is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (`MIN`/`MAX` of several values, `instr`).
    Sqlite,
    /// PostgreSQL (`LEAST`/`GREATEST`, `strpos`, `$N` parameters).
    Postgres,
}

/// Hosts in one state, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Every host.
    #[default]
    All,
    /// Hosts with any problem (drifting, GC unhealthy, stale, clock skewed).
    Problems,
    /// Hosts with drifting findings.
    Drifting,
    /// Hosts whose GC misses a service level.
    Unhealthy,
    /// Hosts that missed three intervals.
    Stale,
    /// Hosts whose clock is off.
    Skewed,
    /// Hosts whose GC health is unknown (no JVM, or a GC log the agent
    /// cannot read): not a problem of the host, a gap in what is watched.
    GcUnknown,
    /// Hosts with no problem and whose GC is known.
    Healthy,
}

impl StateFilter {
    /// Every filter, in the order the page offers them.
    pub const ALL: [StateFilter; 8] = [
        StateFilter::All,
        StateFilter::Problems,
        StateFilter::Drifting,
        StateFilter::Unhealthy,
        StateFilter::Stale,
        StateFilter::Skewed,
        StateFilter::GcUnknown,
        StateFilter::Healthy,
    ];

    /// The name in URLs (`state=`).
    pub fn name(self) -> &'static str {
        match self {
            StateFilter::All => "all",
            StateFilter::Problems => "problems",
            StateFilter::Drifting => "drifting",
            StateFilter::Unhealthy => "gc-unhealthy",
            StateFilter::Stale => "stale",
            StateFilter::Skewed => "clock-skewed",
            StateFilter::GcUnknown => "gc-unknown",
            StateFilter::Healthy => "healthy",
        }
    }

    /// The filter of a URL name; `None` if there is none of that name.
    pub fn parse(s: &str) -> Option<StateFilter> {
        StateFilter::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The hosts of this filter among `counts`.
    pub fn count(self, c: &FleetCounts) -> u64 {
        match self {
            StateFilter::All => c.hosts,
            StateFilter::Problems => c.problems,
            StateFilter::Drifting => c.drifting,
            StateFilter::Unhealthy => c.unhealthy,
            StateFilter::Stale => c.stale,
            StateFilter::Skewed => c.skewed,
            StateFilter::GcUnknown => c.gc_unknown,
            StateFilter::Healthy => c.healthy,
        }
    }

    fn sql(self) -> String {
        match self {
            StateFilter::All => "1 = 1".into(),
            StateFilter::Problems => problem(),
            StateFilter::Drifting => DRIFTING.into(),
            StateFilter::Unhealthy => UNHEALTHY.into(),
            StateFilter::Stale => stale(),
            StateFilter::Skewed => skewed(),
            StateFilter::GcUnknown => GC_UNKNOWN.into(),
            StateFilter::Healthy => healthy(),
        }
    }
}

/// What the fleet can be sorted by. Ties are broken by host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// The worst problems first: clock skew, then stale, GC unhealthy, drift.
    #[default]
    Problems,
    /// Host name.
    Host,
    /// Profile name.
    Profile,
    /// Time since the last report.
    Age,
    /// Drifting findings.
    Drift,
    /// GC health (unhealthy, no data, healthy).
    Gc,
    /// The worst JVM's GC ms per second (none sorts lowest).
    GcRate,
    /// The worst JVM's pause p99 (none sorts lowest).
    PauseP99,
    /// Broker JVMs.
    Jvms,
}

impl SortKey {
    /// Every key.
    pub const ALL: [SortKey; 9] = [
        SortKey::Problems,
        SortKey::Host,
        SortKey::Profile,
        SortKey::Age,
        SortKey::Drift,
        SortKey::Gc,
        SortKey::GcRate,
        SortKey::PauseP99,
        SortKey::Jvms,
    ];

    /// The name in URLs (`sort=`).
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Problems => "problems",
            SortKey::Host => "host",
            SortKey::Profile => "profile",
            SortKey::Age => "age",
            SortKey::Drift => "drift",
            SortKey::Gc => "gc",
            SortKey::GcRate => "gc-rate",
            SortKey::PauseP99 => "pause-p99",
            SortKey::Jvms => "jvms",
        }
    }

    /// The key of a URL name; `None` if there is none of that name.
    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The direction a first click sorts in: names A to Z, figures (and
    /// problems) worst first.
    pub fn default_descending(self) -> bool {
        !matches!(self, SortKey::Host | SortKey::Profile)
    }

    /// Whether the key is text (else a number).
    pub fn is_text(self) -> bool {
        matches!(self, SortKey::Host | SortKey::Profile)
    }

    /// The key as an SQL expression over a `hosts` row. Numbers are all
    /// doubles (exact for these integers), so one cursor type fits them.
    /// Age sorts by the report time (counted no later than its receipt),
    /// newest first for "youngest": it does not move as the clock does, so
    /// a cursor taken a minute ago still points at the same place.
    fn sql(self) -> String {
        let num = |e: &str| format!("CAST({e} AS DOUBLE PRECISION)");
        match self {
            SortKey::Problems => num(&severity()),
            SortKey::Host => "hostname".into(),
            SortKey::Profile => "profile".into(),
            SortKey::Age => format!("-{}", num("LEAST(last_time, received_at)")),
            SortKey::Drift => num("drift"),
            SortKey::Gc => num("CASE WHEN gc_drift > 0 THEN 2 WHEN has_gc THEN 0 ELSE 1 END"),
            SortKey::GcRate => num("COALESCE(gc_ms_per_second, -1.0)"),
            SortKey::PauseP99 => num("COALESCE(pause_p99_ms, -1.0)"),
            SortKey::Jvms => num("jvms"),
        }
    }
}

/// A sort key's value in a cursor.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// A number key.
    Num(f64),
    /// A text key.
    Text(String),
}

/// Where a page starts or ends: the sort key's value and the host name of
/// the row next to it. Opaque to clients ([`FleetCursor::encode`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetCursor {
    /// The sort key's value of that row.
    pub value: SortValue,
    /// Its host name.
    pub hostname: String,
}

fn hex(s: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = std::fmt::Write::write_fmt(s, format_args!("{b:02x}"));
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl FleetCursor {
    /// The cursor as a URL-safe token: `n` and the number's bits, or `t`
    /// and the text, in hex; `.`; the host name in hex.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        match &self.value {
            SortValue::Num(v) => {
                s.push('n');
                hex(&mut s, &v.to_bits().to_be_bytes());
            }
            SortValue::Text(t) => {
                s.push('t');
                hex(&mut s, t.as_bytes());
            }
        }
        s.push('.');
        hex(&mut s, self.hostname.as_bytes());
        s
    }

    /// Reads a token made by [`FleetCursor::encode`] for a key of `sort`;
    /// `None` if it is not one (or is one of a text key for a number key,
    /// or the other way round).
    pub fn decode(text: &str, sort: SortKey) -> Option<FleetCursor> {
        let (value, host) = text.split_once('.')?;
        let hostname = String::from_utf8(unhex(host)?).ok()?;
        let value = match (value.split_at_checked(1)?, sort.is_text()) {
            (("n", bits), false) => {
                let bytes: [u8; 8] = unhex(bits)?.try_into().ok()?;
                let v = f64::from_bits(u64::from_be_bytes(bytes));
                if !v.is_finite() {
                    return None;
                }
                SortValue::Num(v)
            }
            (("t", t), true) => SortValue::Text(String::from_utf8(unhex(t)?).ok()?),
            _ => return None,
        };
        Some(FleetCursor { value, hostname })
    }
}

/// Which page of the fleet to read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetQuery {
    /// Only hosts whose name or profile contains this (any case).
    pub text: Option<String>,
    /// Only hosts in this state.
    pub state: StateFilter,
    /// The order.
    pub sort: SortKey,
    /// Largest first.
    pub descending: bool,
    /// The page after this row (`None`: from the start)...
    pub after: Option<FleetCursor>,
    /// ...or the page before this row (wins over `after`).
    pub before: Option<FleetCursor>,
    /// Most hosts on the page.
    pub limit: u32,
    /// Only the hosts of this cluster (`None`: every cluster).
    pub cluster: Option<ClusterFilter>,
    /// Only the hosts whose latest report names this role (`broker`,
    /// `controller`, `zookeeper`; hosts of agents older than roles name
    /// none). `None`: every host.
    pub role: Option<String>,
}

/// The role filter's parameter: the name between newlines, as the
/// `role_names` column holds each (see
/// [`super::health::HostDetail::role_names`]); `None` for no filter.
pub fn role_param(q: &FleetQuery) -> Option<String> {
    q.role
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| format!("\n{}\n", super::health::role_token(r)))
}

/// The role filter as SQL over parameter `?n` ([`role_param`]).
fn role_sql(n: u8) -> String {
    let role = format!("CAST(?{n} AS TEXT)");
    format!("({role} IS NULL OR strpos(COALESCE(role_names, ''), {role}) > 0)")
}

/// The hosts of one cluster, as the fleet page and `GET /api/v1/hosts`
/// filter them (`cluster=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterFilter {
    /// The hosts whose latest report names this cluster.
    Named(String),
    /// The hosts whose latest report names none.
    Without,
}

impl ClusterFilter {
    /// The filter of a `cluster=` value: [`NO_CLUSTER`]
    /// is the hosts without one, any other text a cluster's name (not
    /// trimmed: stored names are not); empty is no filter.
    pub fn parse(s: &str) -> Option<ClusterFilter> {
        match s {
            "" => None,
            NO_CLUSTER => Some(ClusterFilter::Without),
            name => Some(ClusterFilter::Named(name.to_owned())),
        }
    }

    /// The value in URLs (`cluster=`), before percent-encoding.
    pub fn value(&self) -> &str {
        match self {
            ClusterFilter::Named(n) => n,
            ClusterFilter::Without => NO_CLUSTER,
        }
    }

    /// Whether a cluster of [`cluster_counts_sql`]'s rows is this one.
    pub fn is(&self, cluster: Option<&str>) -> bool {
        match (self, cluster) {
            (ClusterFilter::Named(n), Some(c)) => n == c,
            (ClusterFilter::Without, None) => true,
            _ => false,
        }
    }
}

/// The cluster's parameters of the page and counts queries: the name
/// (NULL: any), and 1 for only the hosts without a cluster (else 0).
pub fn cluster_params(q: &FleetQuery) -> (Option<String>, i64) {
    match &q.cluster {
        Some(ClusterFilter::Named(n)) => (Some(n.clone()), 0),
        Some(ClusterFilter::Without) => (None, 1),
        None => (None, 0),
    }
}

/// The cluster filter as SQL over parameters `?n` and `?n+1` (from
/// [`cluster_params`]): one statement for every filter.
fn cluster_sql(n: u8) -> String {
    let name = format!("CAST(?{n} AS TEXT)");
    let without = format!("CAST(?{} AS BIGINT)", n + 1);
    format!("(({name} IS NULL OR cluster = {name}) AND ({without} = 0 OR cluster IS NULL))")
}

/// One cluster's counts of each state (the hosts without a cluster: `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterCounts {
    /// The cluster's name.
    pub cluster: Option<String>,
    /// Its hosts in each state.
    pub counts: FleetCounts,
}

/// Each cluster's counts, one GROUP BY over `hosts` with the same state
/// rules as [`counts_sql`]: parameter 1 now. Columns: cluster, hosts,
/// problems, drifting, unhealthy, stale, skewed, hosts with waived
/// findings, waived findings, GC unknown, healthy.
pub fn cluster_counts_sql(d: Dialect) -> String {
    let n = |cond: &str| format!("COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)");
    let sql = format!(
        "SELECT cluster, COUNT(*), {}, {}, {}, {}, {}, {},
                CAST(COALESCE(SUM(waived), 0) AS BIGINT), {}, {} FROM hosts
         WHERE {NOW} IS NOT NULL GROUP BY cluster",
        n(&problem()),
        n(DRIFTING),
        n(UNHEALTHY),
        n(&stale()),
        n(&skewed()),
        n("waived > 0"),
        n(GC_UNKNOWN),
        n(&healthy()),
    );
    dialect(&sql, d)
}

/// How many hosts of the whole fleet are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FleetCounts {
    /// All hosts.
    pub hosts: u64,
    /// Hosts with any problem.
    pub problems: u64,
    /// Hosts with drifting findings.
    pub drifting: u64,
    /// Hosts whose GC misses a service level.
    pub unhealthy: u64,
    /// Hosts that missed three intervals.
    pub stale: u64,
    /// Hosts whose clock is off.
    pub skewed: u64,
    /// Hosts with findings a waiver in force covers (not drift).
    pub waived_hosts: u64,
    /// Such findings, the whole fleet.
    pub waived: u64,
    /// Hosts whose GC health is unknown.
    pub gc_unknown: u64,
    /// Hosts with no problem and whose GC is known.
    pub healthy: u64,
}

/// One page of the fleet, as storage answers it.
#[derive(Debug, Clone)]
pub struct FleetPage<V> {
    /// The hosts of the page, in order.
    pub hosts: Vec<V>,
    /// The whole fleet's counts.
    pub counts: FleetCounts,
    /// Hosts that match the query's text and state (on every page).
    pub matching: u64,
    /// Where the next page starts (`None`: this is the last).
    pub next: Option<FleetCursor>,
    /// Where the previous page ends (`None`: this is the first).
    pub prev: Option<FleetCursor>,
}

/// A week, in ms.
pub const WEEK_MS: i64 = 7 * 86_400_000;
/// How the group of hosts without a cluster is labelled.
pub const NO_CLUSTER: &str = "(no cluster)";

/// The windows of the week-over-week view, the host page's: "this week" is
/// the last seven days (report time, counted no later than its receipt,
/// after `split`), "last week" the seven before (from `since` to `split`).
/// Returns `(since, split)`.
pub fn week_bounds(now_ms: i64) -> (i64, i64) {
    (now_ms - 2 * WEEK_MS, now_ms - WEEK_MS)
}

/// A float sum of counts as a count (saturating; a sum is never negative).
pub fn count(v: f64) -> u64 {
    if v > 0.0 {
        // `as` saturates at u64::MAX (NaN fails the test above).
        v as u64
    } else {
        0
    }
}

/// One week's figures of a cluster, over every report of its hosts: the
/// host page's week-over-week figures, summed over hosts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WeekFigures {
    /// Reports received.
    pub reports: u64,
    /// Mean of the reports' GC ms per second (each the worst JVM of its
    /// host over its interval); `null` without GC figures.
    pub mean_gc_ms_per_second: Option<f64>,
    /// The worst report's GC ms per second.
    pub worst_gc_ms_per_second: Option<f64>,
    /// The worst report's pause p99, ms.
    pub worst_pause_p99_ms: Option<f64>,
    /// Full GCs reported.
    pub full_gcs: u64,
    /// Reports with at least one drifting finding.
    pub drifting_reports: u64,
}

/// A week's reports summed so that weeks of several hosts add up (a mean
/// is kept as its sum and count): one host's week as storage reads it,
/// or a cluster's, the sum of its hosts'.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WeekSums {
    /// Reports received.
    pub reports: u64,
    /// Sum of the reports' GC ms per second.
    pub rate_sum: f64,
    /// Reports with a GC ms per second.
    pub rate_reports: u64,
    /// The worst report's GC ms per second.
    pub worst_rate: Option<f64>,
    /// The worst report's pause p99, ms.
    pub worst_p99: Option<f64>,
    /// Full GCs reported.
    pub full_gcs: u64,
    /// Reports with at least one drifting finding.
    pub drifting_reports: u64,
}

impl WeekSums {
    /// Adds another host's (or week's) sums.
    pub fn add(&mut self, o: &WeekSums) {
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        self.reports = self.reports.saturating_add(o.reports);
        self.rate_sum += o.rate_sum;
        self.rate_reports = self.rate_reports.saturating_add(o.rate_reports);
        self.worst_rate = max(self.worst_rate, o.worst_rate);
        self.worst_p99 = max(self.worst_p99, o.worst_p99);
        self.full_gcs = self.full_gcs.saturating_add(o.full_gcs);
        self.drifting_reports = self.drifting_reports.saturating_add(o.drifting_reports);
    }

    /// The figures pages and the API show.
    pub fn figures(&self) -> WeekFigures {
        WeekFigures {
            reports: self.reports,
            mean_gc_ms_per_second: (self.rate_reports > 0)
                .then(|| self.rate_sum / self.rate_reports as f64)
                .filter(|m| m.is_finite()),
            worst_gc_ms_per_second: self.worst_rate,
            worst_pause_p99_ms: self.worst_p99,
            full_gcs: self.full_gcs,
            drifting_reports: self.drifting_reports,
        }
    }
}

/// One host's sums of one week, as storage reads them (see
/// [`week_bounds`]): the one source of the host page's week-over-week
/// table and of its cluster's trend.
#[derive(Debug, Clone, PartialEq)]
pub struct HostWeekRow {
    /// The host.
    pub hostname: String,
    /// Its cluster when read (`None`: none).
    pub cluster: Option<String>,
    /// This week (true) or last week.
    pub this_week: bool,
    /// Its sums.
    pub sums: WeekSums,
}

// The states, as SQL over a `hosts` row; parameter 1 is now (Unix ms).
// Arithmetic in doubles: a stored interval or offset near the integer
// limits must not overflow (PostgreSQL would fail the whole query).
const NOW: &str = "CAST(?1 AS BIGINT)";
const DRIFTING: &str = "(drift > 0)";
const UNHEALTHY: &str = "(gc_drift > 0)";
/// As `GcHealth::from_figures`: no `gc` drift, and not every JVM's GC read.
const GC_UNKNOWN: &str = "(gc_drift = 0 AND NOT has_gc)";

/// No problem, and the GC known.
fn healthy() -> String {
    format!("(NOT {} AND NOT {GC_UNKNOWN})", problem())
}

fn three_intervals() -> &'static str {
    "(3000.0 * CAST(GREATEST(interval_seconds, 1) AS DOUBLE PRECISION))"
}

/// As `HostRow::view`: the age from the report time (no later than its
/// receipt, nor than now) beyond three intervals.
fn stale() -> String {
    format!(
        "(CAST({NOW} AS DOUBLE PRECISION) - CAST(LEAST(last_time, received_at, {NOW}) AS DOUBLE PRECISION) > {})",
        three_intervals()
    )
}

/// As `HostRow::view`: ahead by more than the limit, or behind by more
/// than the limit and three intervals.
fn skewed() -> String {
    let skew = "CAST(COALESCE(skew_ms, last_time - received_at) AS DOUBLE PRECISION)";
    let limit = super::host::CLOCK_SKEW_LIMIT_MS;
    format!(
        "({skew} > {limit}.0 OR -{skew} > GREATEST({limit}.0, {}))",
        three_intervals()
    )
}

fn problem() -> String {
    format!("({DRIFTING} OR {UNHEALTHY} OR {} OR {})", stale(), skewed())
}

/// The page's rule for "problems first" (as the old table's): clock skew
/// outranks staleness, which outranks unhealthy GC, which outranks drift.
fn severity() -> String {
    format!(
        "(CASE WHEN {} THEN 8 ELSE 0 END + CASE WHEN {} THEN 4 ELSE 0 END + CASE WHEN {UNHEALTHY} THEN 2 ELSE 0 END + CASE WHEN {DRIFTING} THEN 1 ELSE 0 END)",
        skewed(),
        stale()
    )
}

/// The text filter; parameter 2 is the lower-case text (NULL: none).
fn text_filter() -> &'static str {
    "(CAST(?2 AS TEXT) IS NULL OR strpos(lower(hostname), CAST(?2 AS TEXT)) > 0 OR strpos(lower(profile), CAST(?2 AS TEXT)) > 0)"
}

/// Writes the dialect's spelling of a query written in the common one
/// (`?N` parameters, `LEAST`, `GREATEST`, `strpos`).
fn dialect(sql: &str, d: Dialect) -> String {
    match d {
        Dialect::Postgres => sql.replace('?', "$"),
        Dialect::Sqlite => sql
            .replace("LEAST(", "MIN(")
            .replace("GREATEST(", "MAX(")
            .replace("strpos(", "instr("),
    }
}

/// The columns of a host row, in the order both backends read them into a
/// `HostRow`, then the sort key (column [`SORT_KEY_COLUMN`]).
pub const HOST_COLUMNS: &str =
    "hostname, profile, last_id, last_time_text, last_time, interval_seconds,
    drift, findings, jvms, has_gc, gc_drift, gc_ms_per_second, pause_p99_ms, drifting,
    received_at, COALESCE(seen_at, received_at), COALESCE(skew_ms, last_time - received_at),
    cluster, COALESCE(waived, 0), machine_id, conflict_at, conflict_machines, detail";

/// Where the page query puts its sort key: right after [`HOST_COLUMNS`].
pub const SORT_KEY_COLUMN: usize = 23;

/// The page query: parameters 1 now, 2 the text (or NULL), 3 the cursor's
/// value (or NULL), 4 its host name, 5 the limit, 6 and 7 the
/// cluster ([`cluster_params`]), 8 the role ([`role_param`]). `backwards` reads the
/// rows before the cursor, nearest first (the caller reverses them).
pub fn page_sql(q: &FleetQuery, backwards: bool, d: Dialect) -> String {
    let key = q.sort.sql();
    let value_type = if q.sort.is_text() {
        "TEXT"
    } else {
        "DOUBLE PRECISION"
    };
    // The order the rows are read in: the page's, or its reverse.
    let key_desc = q.descending != backwards;
    let (key_dir, key_cmp) = if key_desc {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let (host_dir, host_cmp) = if backwards {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let v = format!("CAST(?3 AS {value_type})");
    let sql = format!(
        "SELECT {HOST_COLUMNS}, {key} AS sort_key FROM hosts
         WHERE {NOW} IS NOT NULL AND {text} AND {state} AND {cluster} AND {role}
           AND (?3 IS NULL OR {key} {key_cmp} {v} OR ({key} = {v} AND hostname {host_cmp} CAST(?4 AS TEXT)))
         ORDER BY sort_key {key_dir}, hostname {host_dir} LIMIT CAST(?5 AS BIGINT)",
        text = text_filter(),
        state = q.state.sql(),
        cluster = cluster_sql(6),
        role = role_sql(8),
    );
    // PostgreSQL must learn each parameter's type from the query: now is
    // named even when no state needs it, and `?3 IS NULL` alone would not do.
    dialect(&sql.replace("?3 IS NULL", &format!("{v} IS NULL")), d)
}

/// The counts query: parameters 1 now, 2 the text (or NULL), 3 and 4 the
/// cluster ([`cluster_params`]), 5 the role ([`role_param`]). Columns:
/// hosts, problems, drifting, unhealthy, stale, skewed (the whole
/// fleet's), matching (text, `state`, cluster and role), hosts with waived
/// findings, waived findings, GC unknown, healthy.
pub fn counts_sql(state: StateFilter, d: Dialect) -> String {
    let n = |cond: &str| format!("COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)");
    let sql = format!(
        "SELECT COUNT(*), {}, {}, {}, {}, {}, {}, {}, CAST(COALESCE(SUM(waived), 0) AS BIGINT),
                {}, {}
         FROM hosts",
        n(&problem()),
        n(DRIFTING),
        n(UNHEALTHY),
        n(&stale()),
        n(&skewed()),
        n(&format!(
            "{} AND {} AND {} AND {}",
            text_filter(),
            state.sql(),
            cluster_sql(3),
            role_sql(5)
        )),
        n("waived > 0"),
        n(GC_UNKNOWN),
        n(&healthy()),
    );
    dialect(&sql, d)
}

/// The text filter as the queries take it: trimmed, lower case, `None`
/// when empty.
pub fn text_param(q: &FleetQuery) -> Option<String> {
    q.text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

/// Turns the rows a page query read (`limit + 1` at most, in read order)
/// into the page: `key` gives a row's cursor. Reading forwards, a row past
/// the limit means a next page, and a cursor given means a previous one.
/// Reading backwards (`before`), the rows come nearest first; a row past
/// the limit means a previous page; a next page exists (we came from it).
pub fn assemble<V>(
    q: &FleetQuery,
    backwards: bool,
    mut rows: Vec<V>,
    key: impl Fn(&V) -> FleetCursor,
) -> (Vec<V>, Option<FleetCursor>, Option<FleetCursor>) {
    let limit = q.limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backwards {
        rows.reverse();
        let prev = if more { rows.first().map(&key) } else { None };
        let next = rows.last().map(&key);
        (rows, next, prev)
    } else {
        let next = if more { rows.last().map(&key) } else { None };
        let prev = match (&q.after, rows.first()) {
            (Some(_), Some(first)) => Some(key(first)),
            _ => None,
        };
        (rows, next, prev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_tokens() {
        let n = FleetCursor {
            value: SortValue::Num(-1.5),
            hostname: "b-01.kafka".into(),
        };
        assert_eq!(
            FleetCursor::decode(&n.encode(), SortKey::Drift),
            Some(n.clone())
        );
        assert_eq!(
            FleetCursor::decode(&n.encode(), SortKey::Host),
            None,
            "a number cursor for a text key"
        );
        let t = FleetCursor {
            value: SortValue::Text("kafka-broker ü".into()),
            hostname: "h".into(),
        };
        assert_eq!(
            FleetCursor::decode(&t.encode(), SortKey::Profile),
            Some(t.clone())
        );
        for bad in [
            "",
            ".",
            "x.00",
            "n00.68",
            "t6.68",
            "n7ff8000000000000.68",
            "t68.6",
        ] {
            assert_eq!(FleetCursor::decode(bad, SortKey::Drift), None, "{bad}");
            assert_eq!(FleetCursor::decode(bad, SortKey::Host), None, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for k in SortKey::ALL {
            assert_eq!(SortKey::parse(k.name()), Some(k));
        }
        for f in StateFilter::ALL {
            assert_eq!(StateFilter::parse(f.name()), Some(f));
        }
        assert_eq!(SortKey::parse("nope"), None);
    }

    #[test]
    fn cluster_filters_parse_and_every_query_binds_the_same_parameters() {
        assert_eq!(ClusterFilter::parse(""), None);
        assert_eq!(
            ClusterFilter::parse("(no cluster)"),
            Some(ClusterFilter::Without)
        );
        let named = ClusterFilter::parse(" east ").unwrap();
        assert_eq!(named, ClusterFilter::Named(" east ".into()), "not trimmed");
        assert!(named.is(Some(" east ")) && !named.is(Some("east")) && !named.is(None));
        assert!(ClusterFilter::Without.is(None) && !ClusterFilter::Without.is(Some("x")));
        // One statement for every filter: only the parameters differ.
        let with = |cluster| FleetQuery {
            limit: 10,
            cluster,
            ..FleetQuery::default()
        };
        let none = page_sql(&with(None), false, Dialect::Postgres);
        assert_eq!(
            none,
            page_sql(
                &with(Some(ClusterFilter::Without)),
                false,
                Dialect::Postgres
            )
        );
        assert!(none.contains("$6") && none.contains("$7"), "{none}");
        assert_eq!(cluster_params(&with(None)), (None, 0));
        assert_eq!(
            cluster_params(&with(Some(ClusterFilter::Without))),
            (None, 1)
        );
        assert_eq!(
            cluster_params(&with(Some(named))),
            (Some(" east ".into()), 0)
        );
        let grouped = cluster_counts_sql(Dialect::Postgres);
        assert!(
            !grouped.contains('?') && grouped.contains("GROUP BY cluster"),
            "{grouped}"
        );
    }

    #[test]
    fn postgres_queries_have_no_question_marks_and_sqlite_no_least() {
        let q = FleetQuery {
            limit: 10,
            ..FleetQuery::default()
        };
        let pg = page_sql(&q, false, Dialect::Postgres);
        assert!(!pg.contains('?') && pg.contains("$5"), "{pg}");
        let lite = page_sql(&q, true, Dialect::Sqlite);
        assert!(
            !lite.contains("LEAST(") && !lite.contains("strpos("),
            "{lite}"
        );
    }
}
