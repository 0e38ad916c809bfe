//! Cruise Control's broker capacity file, from what the agents measured,
//! in the form Cruise Control's `BrokerCapacityConfigFileResolver` loads:
//! `brokerCapacities`, each entry a `brokerId` and a `capacity` holding all
//! four resources as strings (`DISK` in MB, a number or, the
//! `capacityJBOD.json` form, a map of absolute log directories; `CPU` as
//! `{"num.cores": N}`, the `capacityCores.json` form, in every entry since
//! the resolver refuses a mix; `NW_IN` and `NW_OUT` in KB/s), and the
//! default entry, `brokerId` `-1`, which the resolver needs for any broker
//! it does not find (it fails without one).
//!
//! Cruise Control adds up the brokers of one host to get the host's CPU and
//! network: brokers that share a host each get an even share of its cores
//! (whole cores) and of its link, so the host's total is what it has. A
//! figure the agents do not know (a network interface whose driver reports
//! no speed, a log directory that could not be measured) is never guessed:
//! the link speed can be given (`network_mbps`), else the broker is left
//! out and listed with what is missing and why; Cruise Control then uses
//! the default entry for it. Without any broker whose figures are all
//! known there is no file ([`NoFile`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::report::{BrokerHardware, Report};

/// Bytes in Cruise Control's MB (its disk unit).
const MB: u64 = 1 << 20;
/// Bytes in Cruise Control's KB (its network unit, per second).
const KB: u64 = 1 << 10;
/// The default entry's broker id.
const DEFAULT_ID: i64 = -1;

/// What the request adds to the measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapacityOptions {
    /// The link speed, Mbit/s, of hosts whose physical interfaces report
    /// none (virtual NICs often do not): the operator's word for it.
    pub network_mbps: Option<u64>,
}

/// A broker left out of the file, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incomplete {
    /// The host.
    pub host: String,
    /// The broker's id, when known (`null`: the host has no broker).
    pub broker_id: Option<i64>,
    /// Each missing figure and why it is missing (or why the broker
    /// cannot be listed at all).
    pub missing: Vec<String>,
    /// Whether Cruise Control gives it the default entry's capacity (it
    /// has an id, and the file has a default).
    pub covered_by_default: bool,
}

/// No file can be made: no broker of the cluster has every figure known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoFile {
    /// Why, in a sentence.
    pub error: String,
    /// The cluster.
    pub cluster: String,
    /// Every broker (or host) left out, with what is missing.
    pub left_out: Vec<Incomplete>,
}

/// One broker with every figure known.
#[derive(Debug, Clone)]
struct Complete {
    host: String,
    id: i64,
    /// Its share of the host's cores.
    cores: u32,
    /// Log directories and their file systems' sizes, bytes.
    dirs: Vec<(String, u64)>,
    /// Its share of the host's link, KB/s.
    nw_kbps: u64,
    doc: String,
}

impl Complete {
    fn capacity(&self, jbod: bool) -> Value {
        let disk = if jbod {
            Value::Object(
                self.dirs
                    .iter()
                    .map(|(p, b)| (p.clone(), Value::String((b / MB).to_string())))
                    .collect(),
            )
        } else {
            let total: u64 = self.dirs.iter().map(|(_, b)| b / MB).sum();
            Value::String(total.to_string())
        };
        json!({
            "DISK": disk,
            "CPU": { "num.cores": self.cores.to_string() },
            "NW_IN": self.nw_kbps.to_string(),
            "NW_OUT": self.nw_kbps.to_string(),
        })
    }

    /// For ordering candidate defaults: the smallest is the safe one.
    fn size(&self) -> (u64, u32, u64) {
        (
            self.dirs.iter().map(|(_, b)| b / MB).sum(),
            self.cores,
            self.nw_kbps,
        )
    }
}

/// The host's link for its brokers: the fastest physical interface with a
/// known speed, else the operator's `network_mbps`; `Err` says why none.
fn link(r: &Report, opts: CapacityOptions) -> Result<(String, u64), String> {
    let hw = r
        .hardware
        .as_ref()
        .map(|h| h.network.as_slice())
        .unwrap_or_default();
    let known = hw
        .iter()
        .filter_map(|l| Some((l.name.clone(), l.speed_mbps?)))
        .filter(|(_, s)| *s > 0)
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
    match (known, opts.network_mbps) {
        (Some((name, mbps)), _) => Ok((format!("{name} at {mbps} Mbit/s"), mbps)),
        (None, Some(mbps)) => Ok((
            format!("{mbps} Mbit/s as given (network_mbps): no interface reports a speed"),
            mbps,
        )),
        (None, None) if hw.is_empty() => Err(
            "NW_IN, NW_OUT: the agent found no physical network interface; give the link speed with ?network_mbps=N".into(),
        ),
        (None, None) => Err(format!(
            "NW_IN, NW_OUT: no physical interface reports its speed ({}: the driver does not say, or the link is down); give the link speed with ?network_mbps=N",
            hw.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// What is missing for one broker of a host with `brokers` brokers.
fn missing_of(r: &Report, b: &BrokerHardware, link: &Result<(String, u64), String>) -> Vec<String> {
    let mut missing = Vec::new();
    if b.broker_id.is_none() {
        missing.push(
            "brokerId: neither node.id nor broker.id in its configuration or meta.properties"
                .into(),
        );
    }
    if r.host.cpus == 0 {
        missing.push("CPU: the host's CPU count is unknown".into());
    }
    if b.log_dirs.is_empty() {
        missing.push("DISK: the broker names no log directory".into());
    }
    for d in &b.log_dirs {
        if d.total_bytes.is_none() {
            missing.push(format!(
                "DISK: the size of log directory {} is unknown (missing or unreadable)",
                d.path
            ));
        } else if !d.path.starts_with('/') {
            missing.push(format!(
                "DISK: log directory {} is not an absolute path (Cruise Control refuses it)",
                d.path
            ));
        }
    }
    if let Err(why) = link {
        missing.push(why.clone());
    }
    missing
}

/// Sorts each host's brokers into complete ones and the ones left out.
fn sort_out(
    reports: &[(String, Report)],
    opts: CapacityOptions,
) -> (Vec<Complete>, Vec<Incomplete>) {
    let mut done = Vec::new();
    let mut left = Vec::new();
    for (host, r) in reports {
        let out = |id: Option<i64>, missing: Vec<String>| Incomplete {
            host: host.clone(),
            broker_id: id,
            missing,
            covered_by_default: false,
        };
        let Some(hw) = &r.hardware else {
            left.push(out(
                None,
                vec!["everything: its agent reports no hardware (an older agent)".into()],
            ));
            continue;
        };
        if hw.brokers.is_empty() {
            left.push(out(
                None,
                vec!["no broker runs on it (a controller or ZooKeeper host)".into()],
            ));
            continue;
        }
        let n = u32::try_from(hw.brokers.len()).unwrap_or(u32::MAX);
        let link = link(r, opts);
        for b in &hw.brokers {
            let missing = missing_of(r, b, &link);
            let (Some(id), Ok((link_text, mbps)), true) = (b.broker_id, &link, missing.is_empty())
            else {
                left.push(out(b.broker_id, missing));
                continue;
            };
            // Cruise Control sums a host's brokers: each gets its share.
            let cores = (r.host.cpus / n).max(1);
            let nw_kbps = mbps.saturating_mul(1_000_000) / 8 / KB / u64::from(n);
            let dirs: Vec<(String, u64)> = b
                .log_dirs
                .iter()
                .map(|d| (d.path.clone(), d.total_bytes.unwrap_or(0)))
                .collect();
            let share = if n > 1 {
                format!(
                    " ({n} brokers share the host: {cores} of its {} CPUs and 1/{n} of its link each)",
                    r.host.cpus
                )
            } else {
                String::new()
            };
            let doc = format!(
                "host {host}: {} CPUs; {}; network: {link_text}{share} (measured by tunekeeper)",
                r.host.cpus,
                dirs.iter()
                    .map(|(p, b)| format!("{p} on {} GiB", b >> 30))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            done.push(Complete {
                host: host.clone(),
                id,
                cores,
                dirs,
                nw_kbps,
                doc,
            });
        }
    }
    // One id on two hosts (a moved broker's old host still reporting, or a
    // copied configuration): neither entry can be trusted.
    let mut hosts_of: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for c in &done {
        hosts_of.entry(c.id).or_default().push(c.host.clone());
    }
    let (ok, dup): (Vec<Complete>, Vec<Complete>) = done
        .into_iter()
        .partition(|c| hosts_of.get(&c.id).is_some_and(|h| h.len() == 1));
    for c in dup {
        left.push(Incomplete {
            missing: vec![format!(
                "brokerId: broker id {} is reported by hosts {}",
                c.id,
                hosts_of[&c.id].join(", ")
            )],
            host: c.host,
            broker_id: Some(c.id),
            covered_by_default: false,
        });
    }
    (ok, left)
}

/// The capacity file of `cluster` from the latest report of each of its
/// hosts, as (host name, report): every broker whose figures are all
/// known, and the default entry (`brokerId` `-1`): the capacity most listed
/// brokers share, the smallest of those on a tie (a default that claims
/// less is the safe one). `tunekeeper` (which Cruise Control ignores) says
/// what was left out and why. No broker complete: [`NoFile`].
pub fn capacity_file(
    cluster: &str,
    reports: &[(String, Report)],
    opts: CapacityOptions,
) -> Result<Value, NoFile> {
    let (mut done, mut left) = sort_out(reports, opts);
    if done.is_empty() {
        return Err(NoFile {
            error: format!(
                "no broker of cluster {cluster} has every figure Cruise Control needs: no file it could load can be made"
            ),
            cluster: cluster.to_owned(),
            left_out: left,
        });
    }
    done.sort_by_key(|c| c.id);
    let jbod = done.iter().any(|c| c.dirs.len() > 1);
    // The default: the most common capacity, the smallest on a tie.
    let mut same: BTreeMap<String, (usize, &Complete)> = BTreeMap::new();
    for c in &done {
        let e = same.entry(c.capacity(jbod).to_string()).or_insert((0, c));
        e.0 += 1;
    }
    let (shared_by, model) = same
        .values()
        .max_by(|(n1, c1), (n2, c2)| n1.cmp(n2).then_with(|| c2.size().cmp(&c1.size())))
        .map(|(n, c)| (*n, *c))
        .expect("at least one broker is complete");
    let mut entries = vec![json!({
        "brokerId": DEFAULT_ID.to_string(),
        "capacity": model.capacity(jbod),
        "doc": format!(
            "The default, for brokers not listed: the capacity {shared_by} of the {} listed brokers have{}.",
            done.len(),
            if same.len() > 1 && same.values().filter(|(n, _)| *n == shared_by).count() > 1 {
                " (the smallest of those as common)"
            } else {
                ""
            }
        ),
    })];
    for c in &done {
        entries.push(json!({
            "brokerId": c.id.to_string(),
            "capacity": c.capacity(jbod),
            "doc": c.doc,
        }));
    }
    for l in &mut left {
        l.covered_by_default = l.broker_id.is_some_and(|id| id >= 0);
    }
    let file = json!({
        "brokerCapacities": entries,
        "tunekeeper": {
            "cluster": cluster,
            "format": if jbod { "capacityJBOD (with num.cores)" } else { "capacityCores" },
            "brokers_listed": done.len(),
            "left_out": left,
            "default": "brokerId -1: Cruise Control uses it for every broker not listed (when it may estimate capacity); the brokers left out are listed here with what is missing",
            "units": "DISK: MB (2^20 bytes) of each log directory's file system; CPU: num.cores, whole cores (a host's cores shared evenly by its brokers); NW_IN, NW_OUT: KB/s (2^10 bytes) of the fastest physical link with a known speed (shared evenly by the host's brokers)",
        },
    });
    debug_assert_eq!(cruise_control_loads(&file).err(), None);
    Ok(file)
}

/// What Cruise Control's `BrokerCapacityConfigFileResolver` (with
/// `BrokerCapacityInfo`'s sanity check) accepts, as its source reads:
/// Gson reads `brokerCapacities` into (int brokerId, Map<Resource,
/// Object> capacity); every value is cast to a String and parsed as a
/// double (a JSON number fails the cast); `DISK` a string or a map of
/// absolute log directories to strings (JBOD); `CPU` a string (a
/// percentage) or a map with `num.cores` (in all entries or none);
/// all four resources in every entry; a broker not listed takes entry
/// -1, and without it resolving that broker fails. `Ok` carries the ids.
/// Every file [`capacity_file`] makes passes it (checked in debug builds
/// and by the tests).
pub fn cruise_control_loads(file: &Value) -> Result<Vec<i64>, String> {
    const RESOURCES: [&str; 4] = ["CPU", "NW_IN", "NW_OUT", "DISK"];
    let number = |v: &Value, what: &str| -> Result<f64, String> {
        let s = v.as_str().ok_or_else(|| {
            format!("{what}: {v} is not a string (the resolver casts it to String)")
        })?;
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{what}: {s:?} is not a number"))
    };
    let list = file["brokerCapacities"]
        .as_array()
        .ok_or("no brokerCapacities array")?;
    let mut ids = Vec::new();
    let mut cores_form: Option<bool> = None;
    for e in list {
        let id = match &e["brokerId"] {
            Value::String(s) => s.parse::<i32>().map_err(|_| format!("brokerId {s:?}"))?,
            Value::Number(n) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or(format!("brokerId {n}"))?,
            other => return Err(format!("brokerId {other}")),
        };
        if id < -1 {
            return Err(format!("brokerId {id} is negative"));
        }
        if ids.contains(&i64::from(id)) {
            return Err(format!("brokerId {id} twice (one would hide the other)"));
        }
        ids.push(i64::from(id));
        let cap = e["capacity"]
            .as_object()
            .ok_or(format!("broker {id}: no capacity object"))?;
        for k in cap.keys() {
            if !RESOURCES.contains(&k.as_str()) {
                return Err(format!("broker {id}: {k} is not a resource"));
            }
        }
        for r in RESOURCES {
            let v = cap
                .get(r)
                .ok_or(format!("broker {id}: missing value for resource {r}"))?;
            match (r, v) {
                ("DISK", Value::Object(dirs)) => {
                    for (p, size) in dirs {
                        if !p.starts_with('/') {
                            return Err(format!("broker {id}: logDir {p} is not absolute"));
                        }
                        number(size, &format!("broker {id} DISK {p}"))?;
                    }
                }
                ("CPU", Value::Object(m)) => {
                    let n = m
                        .get("num.cores")
                        .ok_or(format!("broker {id}: CPU without num.cores"))?;
                    number(n, &format!("broker {id} num.cores"))?;
                    if !*cores_form.get_or_insert(true) {
                        return Err("num.cores in some entries, not all".into());
                    }
                }
                ("CPU", v) => {
                    number(v, &format!("broker {id} CPU"))?;
                    if *cores_form.get_or_insert(false) {
                        return Err("num.cores in some entries, not all".into());
                    }
                }
                (r, v) => {
                    number(v, &format!("broker {id} {r}"))?;
                }
            }
        }
    }
    if !ids.contains(&DEFAULT_ID) {
        return Err("no default entry (brokerId -1): a broker not listed fails".into());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{BrokerHardware, Hardware, LogDirSize, NetLink};

    /// The three forms Cruise Control documents (its config directory's
    /// capacity.json, capacityJBOD.json and capacityCores.json), written
    /// here with other figures, load; what its resolver refuses does not.
    #[test]
    fn the_check_accepts_the_documented_forms_and_refuses_what_the_resolver_does() {
        let plain = json!({"brokerCapacities": [
            {"brokerId": "-1", "capacity": {"DISK": "500000", "CPU": "100", "NW_IN": "50000", "NW_OUT": "50000"}},
            {"brokerId": "0", "capacity": {"DISK": "500000", "CPU": "100", "NW_IN": "50000", "NW_OUT": "50000"}, "doc": "x"}
        ]});
        let jbod = json!({"brokerCapacities": [
            {"brokerId": "-1", "capacity": {"DISK": {"/d1": "100", "/d2": "200"}, "CPU": "100", "NW_IN": "1", "NW_OUT": "1"}},
            {"brokerId": "3", "capacity": {"DISK": {"/d1": "300"}, "CPU": "100", "NW_IN": "1", "NW_OUT": "1"}}
        ]});
        let cores = json!({"brokerCapacities": [
            {"brokerId": "-1", "capacity": {"DISK": "1", "CPU": {"num.cores": "16"}, "NW_IN": "1", "NW_OUT": "1"}},
            {"brokerId": 4, "capacity": {"DISK": {"/d": "2"}, "CPU": {"num.cores": "8"}, "NW_IN": "1", "NW_OUT": "1"}}
        ]});
        for ok in [&plain, &jbod, &cores] {
            assert!(cruise_control_loads(ok).is_ok(), "{ok}");
        }
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut v = cores.clone();
            f(&mut v);
            cruise_control_loads(&v).unwrap_err()
        };
        assert!(
            broken(&|v| v["brokerCapacities"][0]["capacity"]["NW_IN"] = json!(1))
                .contains("not a string")
        );
        assert!(
            broken(&|v| {
                v["brokerCapacities"][1]["capacity"]
                    .as_object_mut()
                    .unwrap()
                    .remove("NW_OUT");
            })
            .contains("missing value for resource NW_OUT")
        );
        assert!(
            broken(&|v| v["brokerCapacities"][1]["capacity"]["DISK"] = json!({"d": "1"}))
                .contains("not absolute")
        );
        assert!(
            broken(&|v| v["brokerCapacities"][1]["capacity"]["CPU"] = json!("100"))
                .contains("some entries")
        );
        assert!(
            broken(&|v| v["brokerCapacities"][0]["brokerId"] = json!("7"))
                .contains("no default entry")
        );
        assert!(broken(&|v| v["brokerCapacities"] = json!([])).contains("no default entry"));
    }

    /// A broker: its id and its log directories with their sizes.
    type Broker<'a> = (Option<i64>, &'a [(&'a str, Option<u64>)]);

    fn host(
        name: &str,
        cpus: u32,
        brokers: &[Broker<'_>],
        links: &[Option<u64>],
    ) -> (String, Report) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/collector/report.json"
        );
        let mut r: Report = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        r.host.hostname = name.into();
        r.host.cpus = cpus;
        r.hardware = Some(Hardware {
            network: links
                .iter()
                .enumerate()
                .map(|(i, s)| NetLink {
                    name: format!("eth{i}"),
                    speed_mbps: *s,
                })
                .collect(),
            brokers: brokers
                .iter()
                .map(|(id, dirs)| BrokerHardware {
                    broker_id: *id,
                    broker_id_from: None,
                    log_dirs: dirs
                        .iter()
                        .map(|(p, b)| LogDirSize {
                            path: (*p).into(),
                            total_bytes: *b,
                        })
                        .collect(),
                })
                .collect(),
        });
        (name.into(), r)
    }

    const T: u64 = 1 << 40;
    const TEN_G: &[Option<u64>] = &[Some(1000), Some(10_000), None];

    fn ids(f: &Value) -> Vec<&str> {
        f["brokerCapacities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["brokerId"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn one_dir_each_is_the_cores_form_with_a_default_of_the_common_capacity() {
        let f = capacity_file(
            "c",
            &[
                host("b1", 16, &[(Some(1), &[("/d1", Some(T))])], TEN_G),
                host("b2", 16, &[(Some(2), &[("/d1", Some(T))])], TEN_G),
                host("b3", 32, &[(Some(3), &[("/d1", Some(2 * T))])], TEN_G),
            ],
            CapacityOptions::default(),
        )
        .unwrap();
        assert_eq!(cruise_control_loads(&f).unwrap(), [-1, 1, 2, 3]);
        let e = &f["brokerCapacities"];
        assert_eq!(e[0]["capacity"], e[1]["capacity"]);
        // 1 TiB = 1048576 MB; 10 Gbit/s = 1.25e9 B/s = 1220703 KB/s.
        assert_eq!(
            e[3]["capacity"],
            json!({"DISK": "2097152", "CPU": {"num.cores": "32"}, "NW_IN": "1220703", "NW_OUT": "1220703"})
        );
        assert_eq!(f["tunekeeper"]["format"], "capacityCores");
    }

    /// The defect: a host with two brokers and a NIC that reports no
    /// speed gave 200 and an empty `brokerCapacities`, which Cruise Control
    /// cannot use. Now the two brokers share the host's cores and link,
    /// the link's speed can be given, and without it no file is made and
    /// the answer says what is missing.
    #[test]
    fn two_brokers_and_a_nic_without_speed_make_a_file_or_say_what_is_missing() {
        let reports = [host(
            "b1",
            16,
            &[
                (Some(1), &[("/d1", Some(T))]),
                (Some(2), &[("/d2", Some(T))]),
            ],
            &[None],
        )];
        let none = capacity_file("c", &reports, CapacityOptions::default()).unwrap_err();
        assert_eq!(none.left_out.len(), 2);
        assert!(
            none.left_out[0].missing[0].contains("no physical interface reports its speed (eth0")
                && none.left_out[0].missing[0].contains("network_mbps"),
            "{none:?}"
        );
        let f = capacity_file(
            "c",
            &reports,
            CapacityOptions {
                network_mbps: Some(10_000),
            },
        )
        .unwrap();
        assert_eq!(cruise_control_loads(&f).unwrap(), [-1, 1, 2]);
        // Each has half of the 16 cores and of the 10 Gbit/s link.
        assert_eq!(
            f["brokerCapacities"][1]["capacity"],
            json!({"DISK": "1048576", "CPU": {"num.cores": "8"}, "NW_IN": "610351", "NW_OUT": "610351"})
        );
        assert!(
            f["brokerCapacities"][1]["doc"]
                .as_str()
                .unwrap()
                .contains("2 brokers share the host: 8 of its 16 CPUs")
        );
        // Three on 16 cores: whole cores, never more than the host has.
        let three = [host(
            "b1",
            16,
            &[
                (Some(1), &[("/d1", Some(T))]),
                (Some(2), &[("/d2", Some(T))]),
                (Some(3), &[("/d3", Some(T))]),
            ],
            TEN_G,
        )];
        let f = capacity_file("c", &three, CapacityOptions::default()).unwrap();
        assert_eq!(
            f["brokerCapacities"][1]["capacity"]["CPU"]["num.cores"],
            "5"
        );
    }

    #[test]
    fn several_dirs_make_every_entry_jbod_and_unknowns_are_left_out_with_the_reason() {
        let f = capacity_file(
            "c",
            &[
                host(
                    "b1",
                    16,
                    &[(Some(1), &[("/d1", Some(T)), ("/d2", Some(T))])],
                    TEN_G,
                ),
                host("b2", 16, &[(Some(2), &[("/d1", Some(2 * T))])], TEN_G),
                host("b3", 16, &[(None, &[("/d1", Some(T))])], TEN_G),
                host("b4", 0, &[(Some(4), &[("/d1", Some(T))])], TEN_G),
                host("b5", 16, &[(Some(5), &[("/d1", None)])], TEN_G),
                host("b6", 16, &[(Some(2), &[("/d1", Some(T))])], TEN_G),
                host("b7", 16, &[(Some(7), &[("data", Some(T))])], TEN_G),
                host("zk", 4, &[], TEN_G),
            ],
            CapacityOptions::default(),
        )
        .unwrap();
        assert_eq!(cruise_control_loads(&f).unwrap(), [-1, 1]);
        assert_eq!(ids(&f), ["-1", "1"], "b2 and b6 share id 2: neither listed");
        assert_eq!(f["tunekeeper"]["format"], "capacityJBOD (with num.cores)");
        assert_eq!(
            f["brokerCapacities"][1]["capacity"]["DISK"],
            json!({"/d1": "1048576", "/d2": "1048576"})
        );
        let why: Vec<String> = f["tunekeeper"]["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                format!(
                    "{} {}",
                    x["host"].as_str().unwrap(),
                    x["missing"][0].as_str().unwrap()
                )
            })
            .collect();
        for expected in [
            "b3 brokerId: neither node.id nor broker.id",
            "b4 CPU: the host's CPU count is unknown",
            "b5 DISK: the size of log directory /d1 is unknown",
            "b7 DISK: log directory data is not an absolute path",
            "zk no broker runs on it",
            "b2 brokerId: broker id 2 is reported by hosts b2, b6",
        ] {
            assert!(
                why.iter().any(|w| w.starts_with(expected)),
                "{expected}: {why:?}"
            );
        }
        let covered: Vec<bool> = f["tunekeeper"]["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["covered_by_default"].as_bool().unwrap())
            .collect();
        assert!(
            covered.contains(&true) && covered.contains(&false),
            "{covered:?}"
        );
    }

    #[test]
    fn on_a_tie_the_default_is_the_smallest_capacity() {
        let f = capacity_file(
            "c",
            &[
                host("b1", 32, &[(Some(1), &[("/d1", Some(T))])], TEN_G),
                host("b2", 16, &[(Some(2), &[("/d1", Some(T))])], TEN_G),
            ],
            CapacityOptions::default(),
        )
        .unwrap();
        cruise_control_loads(&f).unwrap();
        assert_eq!(
            f["brokerCapacities"][0]["capacity"]["CPU"]["num.cores"],
            "16"
        );
    }
}
