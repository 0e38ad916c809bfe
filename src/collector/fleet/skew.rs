//! Skew: where the hosts of one cluster differ from each other, whatever
//! the profile says. Brokers of a cluster share its load; half of them on
//! `read_ahead_kb=128` and half on `4096` behave differently under it even
//! when both values pass. Pure functions over plain data: the values each
//! host's latest report holds ([`HostValues`]), then per key the values,
//! how many hosts hold each, the majority and the hosts outside it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Status};
use crate::report::{AgentInfo, Hardware, HostInfo, Report};

/// Checks whose values are measurements (GC service levels, free space,
/// shares of a limit in use, stalls, process ids): they differ between
/// healthy hosts all the time, so they are not compared.
pub const MEASURED_CHECKS: &[&str] = &["gc", "space", "maps", "files", "stall", "process"];

/// One compared key: a finding's check and key (with any ` (pid N)`
/// dropped, since process ids differ between hosts), or a fact of the
/// report (`host`/`kernel`, `host`/`cpus`, `host`/`memory`,
/// `agent`/`version`, `report`/`profile`, `jvm`/`flags`, and `hardware`:
/// network links, log directories and their sizes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KeyId {
    /// The check family.
    pub check: String,
    /// The key within it.
    pub key: String,
}

/// The values one host's latest report holds, per key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostValues {
    /// The host name.
    pub hostname: String,
    /// Value per key. A finding with nothing read is `(unreadable)` or
    /// `(not-applicable)`: what the host said, not a gap.
    pub values: BTreeMap<KeyId, String>,
}

/// A key as compared: ` (pid N)` removed, and a key that is only a process
/// id (`pid 4242`) named `process`.
fn normal_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(i) = rest.find(" (pid ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 6..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(')') {
            rest = &after[digits + 1..];
        } else {
            out.push_str(" (pid ");
            rest = after;
        }
    }
    out.push_str(rest);
    match out.strip_prefix("pid ") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => "process".into(),
        _ => out,
    }
}

/// The JVM flags that decide heap and GC: `-XX:` options and the `-Xms`,
/// `-Xmx`, `-Xmn`, `-Xss` sizes, in command-line order (later ones win in
/// the JVM, so order is part of the value). Logging and `-D` properties
/// carry paths and names that differ between hosts by design.
fn gc_flags(flags: &[String]) -> String {
    let kept: Vec<&str> = flags
        .iter()
        .map(String::as_str)
        .filter(|f| {
            f.starts_with("-XX:")
                || ["-Xms", "-Xmx", "-Xmn", "-Xss"]
                    .iter()
                    .any(|p| f.starts_with(p))
        })
        .collect();
    kept.join(" ")
}

/// The parts of a report that skew reads. A stored document is read into
/// this, not a whole [`Report`]: the GC statistics (most of a document)
/// are skipped unbuilt, and a cluster's documents are all read per request.
#[derive(Debug, Clone, Deserialize)]
pub struct Facts {
    host: HostInfo,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    findings: Vec<Finding>,
    #[serde(default)]
    jvms: Vec<JvmFacts>,
    #[serde(default)]
    agent: AgentInfo,
    #[serde(default)]
    hardware: Option<Hardware>,
}

#[derive(Debug, Clone, Deserialize)]
struct JvmFacts {
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    findings: Vec<Finding>,
    #[serde(default)]
    exited: bool,
}

impl From<&Report> for Facts {
    fn from(r: &Report) -> Facts {
        Facts {
            host: r.host.clone(),
            profile: r.profile.clone(),
            findings: r.findings.clone(),
            jvms: r
                .jvms
                .iter()
                .map(|j| JvmFacts {
                    flags: j.flags.clone(),
                    findings: j.findings.clone(),
                    exited: j.exited,
                })
                .collect(),
            agent: r.agent.clone(),
            hardware: r.hardware.clone(),
        }
    }
}

impl HostValues {
    /// The values of `report` (see [`HostValues::of_facts`]).
    pub fn of(report: &Report) -> HostValues {
        HostValues::of_facts(&Facts::from(report))
    }

    /// The values of a stored report document (see [`HostValues::of_facts`]).
    pub fn of_json(text: &str) -> serde_json::Result<HostValues> {
        serde_json::from_str::<Facts>(text).map(|f| HostValues::of_facts(&f))
    }

    /// The values of a report: its findings (but [`MEASURED_CHECKS`]) and
    /// its facts. Several findings of one key (several JVMs, or checks with
    /// more than one expectation) give their distinct values joined by ` | `.
    pub fn of_facts(report: &Facts) -> HostValues {
        let mut values: BTreeMap<KeyId, Vec<String>> = BTreeMap::new();
        let mut put = |check: &str, key: String, value: String| {
            let v = values
                .entry(KeyId {
                    check: check.into(),
                    key,
                })
                .or_default();
            if !v.contains(&value) {
                v.push(value);
            }
        };
        let live = || report.jvms.iter().filter(|j| !j.exited);
        let findings = report
            .findings
            .iter()
            .chain(live().flat_map(|j| j.findings.iter()));
        for f in findings {
            if MEASURED_CHECKS.contains(&f.check.as_str()) {
                continue;
            }
            let value = match (&f.actual, f.status) {
                (Some(a), _) => a.trim().to_owned(),
                (None, Status::NotApplicable) => "(not-applicable)".into(),
                (None, _) => "(unreadable)".into(),
            };
            put(&f.check, normal_key(&f.key), value);
        }
        if !report.host.kernel.is_empty() {
            put("host", "kernel".into(), report.host.kernel.clone());
        }
        if report.host.cpus > 0 {
            put("host", "cpus".into(), report.host.cpus.to_string());
        }
        if report.host.memory_bytes > 0 {
            // Whole GiB: MemTotal moves by megabytes with the kernel's own
            // reservations; a new kernel is not new memory.
            put(
                "host",
                "memory".into(),
                format!("{} GiB", report.host.memory_bytes >> 30),
            );
        }
        if !report.agent.version.is_empty() {
            put("agent", "version".into(), report.agent.version.clone());
        }
        put("report", "profile".into(), report.profile.clone());
        for j in live() {
            put("jvm", "flags".into(), gc_flags(&j.flags));
        }
        if let Some(hw) = &report.hardware {
            let links: Vec<String> = hw
                .network
                .iter()
                .map(|l| match l.speed_mbps {
                    Some(s) => format!("{} {s} Mbit/s", l.name),
                    None => format!("{} (speed unknown)", l.name),
                })
                .collect();
            put("hardware", "network links".into(), links.join(", "));
            for b in &hw.brokers {
                put(
                    "hardware",
                    "log directories".into(),
                    b.log_dirs.len().to_string(),
                );
                for d in &b.log_dirs {
                    // Whole GiB: file systems made alike on disks alike
                    // match; a few blocks of metadata are not skew.
                    let size = d
                        .total_bytes
                        .map_or_else(|| "(unknown)".into(), |t| format!("{} GiB", t >> 30));
                    put("hardware", format!("{} size", d.path), size);
                }
            }
        }
        HostValues {
            hostname: report.host.hostname.clone(),
            values: values
                .into_iter()
                .map(|(k, v)| (k, v.join(" | ")))
                .collect(),
        }
    }
}

/// One value of a key and the hosts holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueCount {
    /// The value.
    pub value: String,
    /// How many hosts hold it.
    pub count: usize,
    /// Which, by name.
    pub hosts: Vec<String>,
}

/// One key across a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySkew {
    /// The check family.
    pub check: String,
    /// The key.
    pub key: String,
    /// Every value reported, most hosts first (then by value).
    pub values: Vec<ValueCount>,
    /// The value more hosts hold than any other; `null` on a tie.
    pub majority: Option<String>,
    /// True when two or more values share the largest count: there is no
    /// majority to hold the others to, and none is picked.
    pub tie: bool,
    /// Hosts holding another value than the majority (empty on a tie).
    pub minority: Vec<String>,
    /// Hosts of the cluster whose report does not have the key (an older
    /// agent, no broker running, another disk layout): not counted.
    pub missing: Vec<String>,
}

impl KeySkew {
    /// True when the cluster's hosts do not all hold one value.
    pub fn skewed(&self) -> bool {
        self.values.len() > 1
    }

    /// The value `host` holds, if it reports the key.
    pub fn value_of(&self, host: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|v| v.hosts.iter().any(|h| h == host))
            .map(|v| v.value.as_str())
    }
}

/// Every key any of `hosts` reports, by check and key.
pub fn skew(hosts: &[HostValues]) -> Vec<KeySkew> {
    let mut keys: BTreeMap<&KeyId, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for h in hosts {
        for (k, v) in &h.values {
            keys.entry(k)
                .or_default()
                .entry(v.as_str())
                .or_default()
                .push(h.hostname.as_str());
        }
    }
    let mut all: Vec<&str> = hosts.iter().map(|h| h.hostname.as_str()).collect();
    all.sort_unstable();
    keys.into_iter()
        .map(|(k, by_value)| {
            let mut values: Vec<ValueCount> = by_value
                .into_iter()
                .map(|(value, mut hs)| {
                    hs.sort_unstable();
                    ValueCount {
                        value: value.to_owned(),
                        count: hs.len(),
                        hosts: hs.into_iter().map(str::to_owned).collect(),
                    }
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            let tie = values.len() > 1 && values[0].count == values[1].count;
            let majority = (!tie).then(|| values[0].value.clone());
            let mut minority: Vec<String> = match &majority {
                Some(m) => values
                    .iter()
                    .filter(|v| &v.value != m)
                    .flat_map(|v| v.hosts.iter().cloned())
                    .collect(),
                None => Vec::new(),
            };
            minority.sort_unstable();
            // A set: a scan of every value's hosts per host is quadratic
            // in the cluster's size.
            let present: std::collections::HashSet<&str> = values
                .iter()
                .flat_map(|v| v.hosts.iter().map(String::as_str))
                .collect();
            let missing = all
                .iter()
                .filter(|h| !present.contains(**h))
                .map(|h| (*h).to_owned())
                .collect();
            KeySkew {
                check: k.check.clone(),
                key: k.key.clone(),
                values,
                majority,
                tie,
                minority,
                missing,
            }
        })
        .collect()
}

/// What a cluster holds for one key, as a comparison shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The majority value; `null` on a tie.
    pub majority: Option<String>,
    /// True when no value has more hosts than every other.
    pub tie: bool,
    /// Hosts reporting the key.
    pub hosts: usize,
    /// Each value with its count, most hosts first.
    pub values: Vec<(String, usize)>,
}

impl Side {
    fn of(k: &KeySkew) -> Side {
        Side {
            majority: k.majority.clone(),
            tie: k.tie,
            hosts: k.values.iter().map(|v| v.count).sum(),
            values: k
                .values
                .iter()
                .map(|v| (v.value.clone(), v.count))
                .collect(),
        }
    }

    /// What the cluster stands for on this key: its majority, or on a tie
    /// the tied values (so that two clusters split the same way compare
    /// equal, and a split never compares equal to a clear majority).
    fn stands_for(&self) -> Vec<&str> {
        match &self.majority {
            Some(m) => vec![m.as_str()],
            None => {
                let top = self.values.first().map_or(0, |v| v.1);
                let mut tied: Vec<&str> = self
                    .values
                    .iter()
                    .filter(|v| v.1 == top)
                    .map(|v| v.0.as_str())
                    .collect();
                tied.sort_unstable();
                tied
            }
        }
    }
}

/// A key on which two clusters differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The check family.
    pub check: String,
    /// The key.
    pub key: String,
    /// The first cluster; `null` when none of its hosts reports the key.
    pub a: Option<Side>,
    /// The second cluster; `null` when none of its hosts reports the key.
    pub b: Option<Side>,
}

/// The keys on which cluster `a` and cluster `b` (their [`skew`]) differ:
/// their majority values differ, one of them has no majority (and the
/// other is not split the same way), or only one reports the key.
pub fn compare(a: &[KeySkew], b: &[KeySkew]) -> Vec<Difference> {
    let index = |s: &[KeySkew]| -> BTreeMap<(String, String), Side> {
        s.iter()
            .map(|k| ((k.check.clone(), k.key.clone()), Side::of(k)))
            .collect()
    };
    let (mut ia, mut ib) = (index(a), index(b));
    let mut keys: Vec<(String, String)> = ia.keys().chain(ib.keys()).cloned().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (sa, sb) = (ia.remove(&k), ib.remove(&k));
            let same = match (&sa, &sb) {
                (Some(x), Some(y)) => x.stands_for() == y.stands_for(),
                _ => false,
            };
            (!same).then_some(Difference {
                check: k.0,
                key: k.1,
                a: sa,
                b: sb,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, kv: &[(&str, &str, &str)]) -> HostValues {
        HostValues {
            hostname: name.into(),
            values: kv
                .iter()
                .map(|(c, k, v)| {
                    (
                        KeyId {
                            check: (*c).into(),
                            key: (*k).into(),
                        },
                        (*v).into(),
                    )
                })
                .collect(),
        }
    }

    fn key<'a>(s: &'a [KeySkew], k: &str) -> &'a KeySkew {
        s.iter().find(|x| x.key == k).unwrap()
    }

    #[test]
    fn majority_minority_and_a_host_missing_a_key() {
        let ra = ("block", "sdb/queue/read_ahead_kb", "4096");
        let hosts = [
            host("b1", &[ra, ("sysctl", "vm.swappiness", "1")]),
            host("b2", &[ra, ("sysctl", "vm.swappiness", "1")]),
            host(
                "b3",
                &[
                    ("block", "sdb/queue/read_ahead_kb", "128"),
                    ("sysctl", "vm.swappiness", "1"),
                ],
            ),
            // No sdb on this one.
            host("b4", &[("sysctl", "vm.swappiness", "1")]),
        ];
        let s = skew(&hosts);
        let r = key(&s, "sdb/queue/read_ahead_kb");
        assert!(r.skewed());
        assert_eq!(r.majority.as_deref(), Some("4096"));
        assert!(!r.tie);
        assert_eq!(r.minority, ["b3"]);
        assert_eq!(r.missing, ["b4"], "missing, not a minority of one");
        assert_eq!(
            r.values
                .iter()
                .map(|v| (v.value.as_str(), v.count))
                .collect::<Vec<_>>(),
            [("4096", 2), ("128", 1)]
        );
        assert_eq!(r.value_of("b3"), Some("128"));
        assert_eq!(r.value_of("b4"), None);
        let w = key(&s, "vm.swappiness");
        assert!(!w.skewed() && w.minority.is_empty() && w.missing.is_empty());
    }

    #[test]
    fn a_large_cluster_is_compared_in_linear_time() {
        // 40,000 hosts, one missing the key: a check per (host, host) pair
        // would be 1.6e9 comparisons (tens of seconds); a set, milliseconds.
        let mut hosts: Vec<HostValues> = (0..40_000)
            .map(|i| {
                host(
                    &format!("b{i:05}"),
                    &[("x", "k", if i % 3 == 0 { "2" } else { "1" })],
                )
            })
            .collect();
        hosts.push(host("gone", &[("x", "other", "1")]));
        let t = std::time::Instant::now();
        let s = skew(&hosts);
        let took = t.elapsed();
        assert_eq!(key(&s, "k").missing, ["gone"]);
        assert_eq!(key(&s, "k").minority.len(), 13_334);
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn a_tie_has_no_majority_and_no_minority() {
        let hosts = [
            host("b1", &[("thp", "enabled", "madvise")]),
            host("b2", &[("thp", "enabled", "never")]),
            host("b3", &[("thp", "enabled", "never")]),
            host("b4", &[("thp", "enabled", "madvise")]),
        ];
        let s = skew(&hosts);
        let t = key(&s, "enabled");
        assert!(t.tie && t.skewed());
        assert_eq!(t.majority, None, "no arbitrary pick");
        assert!(t.minority.is_empty());
        // Three values, the two largest tied: still a tie.
        let hosts = [
            host("a", &[("x", "k", "1")]),
            host("b", &[("x", "k", "1")]),
            host("c", &[("x", "k", "2")]),
            host("d", &[("x", "k", "2")]),
            host("e", &[("x", "k", "3")]),
        ];
        assert!(skew(&hosts)[0].tie);
        // A plurality that is not half is still the most common value.
        let hosts = [
            host("a", &[("x", "k", "1")]),
            host("b", &[("x", "k", "1")]),
            host("c", &[("x", "k", "2")]),
            host("d", &[("x", "k", "3")]),
        ];
        let k = &skew(&hosts)[0];
        assert_eq!(k.majority.as_deref(), Some("1"));
        assert_eq!(k.minority, ["c", "d"]);
    }

    #[test]
    fn comparing_clusters_names_keys_whose_majorities_differ() {
        let a = skew(&[
            host(
                "a1",
                &[("s", "same", "1"), ("s", "diff", "1"), ("s", "only-a", "x")],
            ),
            host(
                "a2",
                &[("s", "same", "1"), ("s", "diff", "1"), ("s", "split", "p")],
            ),
            host(
                "a3",
                &[("s", "same", "2"), ("s", "diff", "1"), ("s", "split", "q")],
            ),
        ]);
        let b = skew(&[
            host(
                "b1",
                &[("s", "same", "1"), ("s", "diff", "2"), ("s", "split", "p")],
            ),
            host(
                "b2",
                &[("s", "same", "1"), ("s", "diff", "2"), ("s", "split", "q")],
            ),
        ]);
        let d = compare(&a, &b);
        let keys: Vec<&str> = d.iter().map(|x| x.key.as_str()).collect();
        // `same`: both majorities 1 (a3's 2 is a's own skew); `split`: both split p/q.
        assert_eq!(keys, ["diff", "only-a"]);
        assert_eq!(d[0].a.as_ref().unwrap().majority.as_deref(), Some("1"));
        assert_eq!(d[0].b.as_ref().unwrap().majority.as_deref(), Some("2"));
        assert!(d[1].b.is_none());
        // A split against a clear majority differs.
        let c = skew(&[host("c1", &[("s", "split", "p")])]);
        assert!(compare(&a, &c).iter().any(|x| x.key == "split"));
    }

    #[test]
    fn keys_lose_process_ids_and_measurements_are_not_compared() {
        assert_eq!(normal_key("heap (pid 4242)"), "heap");
        assert_eq!(
            normal_key("/data1/kafka free space (pid 7)"),
            "/data1/kafka free space"
        );
        assert_eq!(normal_key("pid 4242"), "process");
        assert_eq!(normal_key("odd (pid x)"), "odd (pid x)");
        assert_eq!(normal_key("vm.swappiness"), "vm.swappiness");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/collector/report.json"
        );
        let r: Report = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let v = HostValues::of(&r);
        let get = |c: &str, k: &str| {
            v.values
                .get(&KeyId {
                    check: c.into(),
                    key: k.into(),
                })
                .map(String::as_str)
        };
        assert_eq!(get("block", "nvme0n1/queue/read_ahead_kb"), Some("4096"));
        assert_eq!(get("host", "kernel"), Some("6.1.0-27-amd64"));
        assert_eq!(get("host", "cpus"), Some("16"));
        assert_eq!(get("host", "memory"), Some("64 GiB"));
        assert_eq!(get("report", "profile"), Some("kafka-broker"));
        assert_eq!(get("jvm", "heap"), Some("6g"));
        assert_eq!(
            get("jvm", "flags"),
            Some(
                "-Xms6g -Xmx6g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
                 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
                 -XX:MaxInlineLevel=15"
            )
        );
        assert_eq!(get("gc", "gc_ms_per_second"), None, "a measurement");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            HostValues::of_json(&text).unwrap(),
            v,
            "the same from the document"
        );
    }
}
