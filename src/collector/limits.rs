//! Every bound the collector puts on what it is sent and what it sends, in
//! one place: the values the rooms check against, and [`table`], the rows
//! of the README's "Limits" section (a test keeps the two the same). A
//! report past a bound is refused before any work is done on it (422
//! naming the field and the bound, 413 for the body), and counted by
//! [`Bound`] in `tunekeeper_collector_reports_refused_total{limit}`.
//!
//! Nothing here imports from the rooms: they import from here.

use std::time::Duration;

/// Default largest request body, compressed and decompressed: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Smallest `--max-body-bytes`: below it no real report fits.
pub const MIN_MAX_BODY_BYTES: usize = 4 << 10;
/// Largest `--max-body-bytes`: 256 MiB. A request body is held in memory
/// (and inflated up to this much), for each request in flight.
pub const MAX_MAX_BODY_BYTES: usize = 256 << 20;
/// Default time for a request head (and for an idle keep-alive connection's next one).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for a whole request body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(20);
/// Default time shutdown waits for open connections.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Descriptors kept free for everything but client connections: the
/// database and its WAL, reader connections, the listener, logs.
pub const RESERVED_FDS: u64 = 64;

/// Deepest nesting of a report's JSON, the outer object being level 1. A
/// report is 8 deep; JSON readers other than this one (Python's recursion
/// limit, serde_json's 128) must be able to read what the API serves back.
pub const MAX_JSON_DEPTH: usize = 32;
/// Longest string (a value or an object key) anywhere in a report, in
/// bytes once its escapes are decoded. The agent cuts its texts at 4 KiB
/// and its flags at 1 KiB; a path is at most 4 KiB (`PATH_MAX`).
pub const MAX_STRING_BYTES: usize = 8 << 10;
/// Longest number as written: no real figure needs more, and a number of
/// thousands of digits is one many JSON readers refuse (Python's int
/// conversion stops at 4,300 digits).
pub const MAX_NUMBER_BYTES: usize = 64;
/// Most items of any array, and members of any object, in a report (the
/// named lists below have smaller bounds of their own).
pub const MAX_ITEMS: usize = 16_384;
/// Most kernel findings in a report (a broker host has about 60).
pub const MAX_FINDINGS: usize = 4096;
/// Most JVM entries in a report (the agent reports at most 64 one by one).
pub const MAX_JVMS: usize = 256;
/// Most findings of one JVM (the agent keeps at most 512).
pub const MAX_JVM_FINDINGS: usize = 1024;
/// Most flags of one JVM (the agent keeps at most 256 and a marker).
pub const MAX_JVM_FLAGS: usize = 1024;
/// Most GC log files of one JVM (a log set holds at most 1,001).
pub const MAX_GC_LOGS: usize = 2048;
/// Most brokers, network links, and log directories of one broker, in
/// the hardware section.
pub const MAX_HARDWARE_ITEMS: usize = 1024;
/// Longest accepted report id, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest accepted host name, in bytes (DNS's limit).
pub const MAX_HOSTNAME_BYTES: usize = 253;
/// Longest label of a host name, in bytes (DNS's limit).
pub const MAX_LABEL_BYTES: usize = 63;
/// Longest machine id (`/etc/machine-id` is 32 hex digits).
pub const MAX_MACHINE_ID_BYTES: usize = 128;
/// Longest cluster name: the agent's own bound on its `cluster` setting.
pub const MAX_CLUSTER_BYTES: usize = 128;
/// The range of `interval_seconds`: the agent's own range for `interval`
/// (a report a second at most, a day apart at most). Outside it a host
/// could never go stale, or would be stale at every look.
pub const INTERVAL_SECONDS: (u64, u64) = (
    crate::report::INTERVAL_RANGE.0.as_secs(),
    crate::report::INTERVAL_RANGE.1.as_secs(),
);
/// Largest count accepted in a report (full GCs in an interval): 2^53 - 1,
/// the largest integer every JSON reader (JavaScript's included) holds
/// exactly. A JVM does not run 9 quadrillion full GCs in one interval; a
/// larger figure is a broken agent, and storing it would only poison sums.
pub const MAX_COUNT: u64 = (1 << 53) - 1;

/// Largest `limit` of the listings (reports, hosts, the fleet page).
pub const MAX_LIMIT: u32 = 1_000;
/// Most bytes of documents in one page of the reports listing (at least one
/// document is always sent). The rest is reached with the `next` cursor.
pub const PAGE_BYTES: usize = 4 << 20;
/// Heavy reads (report listings, host pages) served at once. Each holds a
/// reader connection and up to a document or two in memory; past this,
/// requests wait up to [`HEAVY_READ_WAIT`] and then get 503.
pub const HEAVY_READS: usize = 4;
/// How long a heavy read waits for its turn before 503.
pub const HEAVY_READ_WAIT: Duration = Duration::from_secs(2);

/// Most alerts in one webhook message; more are split over several.
pub const MAX_ALERTS: usize = 500;
/// Longest annotation (`summary`, `description`) of one alert, in bytes:
/// what a host reports reaches the webhook's receiver cut to this, so a
/// message is at most [`MAX_ALERTS`] alerts of a few KiB each.
pub const MAX_ANNOTATION_BYTES: usize = 1024;
/// Most machine ids a host name's conflict lists (two machines reporting
/// under one name; a sender rotating its id is not a list to grow).
pub const MAX_CONFLICT_MACHINES: usize = 16;

/// A bound a report can be refused for: the `limit` label of
/// `tunekeeper_collector_reports_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bound {
    /// The body, compressed or decompressed (413).
    BodyBytes,
    /// Nesting of the JSON.
    JsonDepth,
    /// A string's length.
    StringBytes,
    /// A NUL character in a string (PostgreSQL cannot store one in text).
    Nul,
    /// A number's length as written.
    NumberBytes,
    /// Items of an array or members of an object, anywhere.
    Items,
    /// Kernel findings.
    Findings,
    /// JVM entries.
    Jvms,
    /// Findings of one JVM.
    JvmFindings,
    /// Flags of one JVM.
    JvmFlags,
    /// GC log files of one JVM.
    GcLogs,
    /// Brokers, network links, log directories in the hardware section.
    Hardware,
    /// The report id.
    Id,
    /// The host name.
    Hostname,
    /// The machine id.
    MachineId,
    /// The cluster name.
    Cluster,
    /// The agent's interval.
    IntervalSeconds,
    /// A count beyond any real figure.
    Count,
    /// Well-formed, but the database refused to store it.
    Storage,
}

impl Bound {
    /// Every bound, in label order: each series is exposed from 0.
    pub const ALL: [Bound; 19] = [
        Bound::BodyBytes,
        Bound::JsonDepth,
        Bound::StringBytes,
        Bound::Nul,
        Bound::NumberBytes,
        Bound::Items,
        Bound::Findings,
        Bound::Jvms,
        Bound::JvmFindings,
        Bound::JvmFlags,
        Bound::GcLogs,
        Bound::Hardware,
        Bound::Id,
        Bound::Hostname,
        Bound::MachineId,
        Bound::Cluster,
        Bound::IntervalSeconds,
        Bound::Count,
        Bound::Storage,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Bound::BodyBytes => "body_bytes",
            Bound::JsonDepth => "json_depth",
            Bound::StringBytes => "string_bytes",
            Bound::Nul => "nul",
            Bound::NumberBytes => "number_bytes",
            Bound::Items => "items",
            Bound::Findings => "findings",
            Bound::Jvms => "jvms",
            Bound::JvmFindings => "jvm_findings",
            Bound::JvmFlags => "jvm_flags",
            Bound::GcLogs => "gc_logs",
            Bound::Hardware => "hardware",
            Bound::Id => "id",
            Bound::Hostname => "hostname",
            Bound::MachineId => "machine_id",
            Bound::Cluster => "cluster",
            Bound::IntervalSeconds => "interval_seconds",
            Bound::Count => "count",
            Bound::Storage => "storage",
        }
    }
}

/// One row of the README's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What is bounded.
    pub input: String,
    /// The bound.
    pub bound: String,
    /// What happens past it (with the `limit` label it is counted under).
    pub past: String,
}

fn row(input: &str, bound: String, past: &str, counted: Option<Bound>) -> Row {
    let past = match counted {
        Some(b) => format!("{past}; counted as `limit=\"{}\"`", b.name()),
        None => past.to_owned(),
    };
    Row {
        input: input.to_owned(),
        bound,
        past,
    }
}

fn kib(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

fn n(v: usize) -> String {
    // Thousands separated as the README writes them.
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The collector's rows of the README's "Limits" table, from the values
/// above.
pub fn table() -> Vec<Row> {
    let refused = "422 naming the field and the bound";
    vec![
        row(
            "a request body, compressed and again decompressed",
            format!(
                "`--max-body-bytes`, default {} ({} to {})",
                kib(DEFAULT_MAX_BODY_BYTES),
                kib(MIN_MAX_BODY_BYTES),
                kib(MAX_MAX_BODY_BYTES)
            ),
            "413, read no further than 16 times the bound; inflating stops one byte past it",
            Some(Bound::BodyBytes),
        ),
        row(
            "a request head / a request body",
            format!(
                "{} s / {} s (`--header-timeout-seconds`, `--body-timeout-seconds`, 1 to 3600)",
                DEFAULT_HEADER_TIMEOUT.as_secs(),
                DEFAULT_BODY_TIMEOUT.as_secs()
            ),
            "the connection is closed / 408 and closed",
            None,
        ),
        row(
            "connections at once",
            format!(
                "the open-file limit (raised to the hard limit) less {RESERVED_FDS}; TLS: a quarter of those for handshakes"
            ),
            "new connections wait in the kernel's backlog",
            None,
        ),
        row(
            "JSON nesting of a report, unknown fields included",
            format!("{MAX_JSON_DEPTH} levels (a report is 8)"),
            refused,
            Some(Bound::JsonDepth),
        ),
        row(
            "a string anywhere in a report (a value or a key, unknown fields included), decoded",
            kib(MAX_STRING_BYTES),
            refused,
            Some(Bound::StringBytes),
        ),
        row(
            "a NUL character in any string of a report",
            "none (PostgreSQL cannot store one in text; SQLite could: both refuse it)".into(),
            refused,
            Some(Bound::Nul),
        ),
        row(
            "a number as written",
            format!("{MAX_NUMBER_BYTES} bytes"),
            refused,
            Some(Bound::NumberBytes),
        ),
        row(
            "items of any array, members of any object",
            n(MAX_ITEMS),
            refused,
            Some(Bound::Items),
        ),
        row(
            "kernel `findings`",
            n(MAX_FINDINGS),
            refused,
            Some(Bound::Findings),
        ),
        row("`jvms`", n(MAX_JVMS), refused, Some(Bound::Jvms)),
        row(
            "a JVM's `findings`",
            n(MAX_JVM_FINDINGS),
            refused,
            Some(Bound::JvmFindings),
        ),
        row(
            "a JVM's `flags`",
            n(MAX_JVM_FLAGS),
            refused,
            Some(Bound::JvmFlags),
        ),
        row(
            "a JVM's `gc_logs`",
            n(MAX_GC_LOGS),
            refused,
            Some(Bound::GcLogs),
        ),
        row(
            "`hardware`: brokers, network links, log directories of a broker",
            n(MAX_HARDWARE_ITEMS),
            refused,
            Some(Bound::Hardware),
        ),
        row(
            "`id`",
            format!("1 to {MAX_ID_BYTES} bytes"),
            "400 when empty, else 422",
            Some(Bound::Id),
        ),
        row(
            "`host.hostname`",
            format!(
                "a host name: labels of 1 to {MAX_LABEL_BYTES} letters, digits, `-` (not first or last), `_`; {MAX_HOSTNAME_BYTES} bytes in all"
            ),
            refused,
            Some(Bound::Hostname),
        ),
        row(
            "`host.machine_id`",
            format!("1 to {MAX_MACHINE_ID_BYTES} of `A-Z a-z 0-9 - _ .`"),
            refused,
            Some(Bound::MachineId),
        ),
        row(
            "`cluster.name`",
            format!(
                "{MAX_CLUSTER_BYTES} bytes (the agent's bound on `cluster`); blank is no cluster"
            ),
            refused,
            Some(Bound::Cluster),
        ),
        row(
            "`interval_seconds`",
            format!(
                "{} to {} (the agent's `interval` range)",
                INTERVAL_SECONDS.0,
                n(INTERVAL_SECONDS.1 as usize)
            ),
            refused,
            Some(Bound::IntervalSeconds),
        ),
        row(
            "a JVM's `gc.interval.full_gcs` and `counters.interval.pauses.full.count`",
            "2^53 − 1 (the largest integer every JSON reader holds exactly)".into(),
            refused,
            Some(Bound::Count),
        ),
        row(
            "a report within every bound above that the database still refuses",
            "—".into(),
            "422 with what the database said, never a 5xx (a 5xx is for \"try again later\" only: 503 with `Retry-After` when the database is away)",
            Some(Bound::Storage),
        ),
        row(
            "`limit` of a listing / bytes of documents in one page of a host's reports",
            format!(
                "1 to {} / {} (at least one document)",
                n(MAX_LIMIT as usize),
                kib(PAGE_BYTES)
            ),
            "400 naming `limit` (the hosts listing; the reports listing clamps it) / the rest through the `next` cursor",
            None,
        ),
        row(
            "heavy reads at once (report listings, host pages)",
            format!(
                "{HEAVY_READS}, waiting up to {} s for a turn",
                HEAVY_READ_WAIT.as_secs()
            ),
            "503 with `Retry-After: 2`",
            None,
        ),
        row(
            "an alert's `summary` / `description` in a webhook message; alerts per message",
            format!("{} each; {}", kib(MAX_ANNOTATION_BYTES), MAX_ALERTS),
            "cut, ending `…`; split over several messages",
            None,
        ),
        row(
            "machine ids a host name's conflict lists",
            MAX_CONFLICT_MACHINES.to_string(),
            "the ones seen last",
            None,
        ),
    ]
}

/// The rows as the README's Markdown table (header included).
pub fn markdown() -> String {
    let mut s = String::from("| Input | Bound | Past it |\n|---|---|---|\n");
    for r in table() {
        s.push_str(&format!("| {} | {} | {} |\n", r.input, r.bound, r.past));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_has_a_distinct_label() {
        let mut names: Vec<&str> = Bound::ALL.iter().map(|b| b.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Bound::ALL.len());
    }

    #[test]
    fn the_readme_shows_the_table_of_the_code() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let limits = readme
            .find("\n## Limits")
            .map(|i| &readme[i..])
            .expect("a `## Limits` section in README.md");
        let collector = limits
            .find("\n### Collector")
            .map(|i| &limits[i..])
            .expect("a `### Collector` subsection under `## Limits`");
        let table: String = collector
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            table,
            markdown(),
            "README.md's collector limits differ from src/collector/limits.rs: paste `markdown()`"
        );
    }

    #[test]
    fn the_interval_bound_is_the_agents() {
        assert_eq!(INTERVAL_SECONDS, (1, 86_400));
        assert_eq!(n(86_400), "86,400");
        assert_eq!(kib(1 << 20), "1 MiB");
        assert_eq!(kib(64), "64 bytes");
    }
}
