//! Cruise Control's broker capacity file, from what the agents measured:
//! per broker its CPUs (`num.cores`), the size of each log directory's file
//! system (`DISK`, one entry per directory, the `capacityJBOD.json` form,
//! when any broker has several) and its network (`NW_IN`, `NW_OUT`: the
//! fastest physical link's speed). A broker whose figures are not all
//! known is left out and listed with the reason, never given a guess.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::report::Report;

/// Bytes in Cruise Control's MB (its disk unit).
const MB: u64 = 1 << 20;
/// Bytes in Cruise Control's KB (its network unit, per second).
const KB: u64 = 1 << 10;

/// A broker left out of the file, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incomplete {
    /// The host.
    pub host: String,
    /// The broker's id, when known.
    pub broker_id: Option<i64>,
    /// Why it has no entry.
    pub why: String,
}

/// One broker with every figure known.
#[derive(Debug, Clone)]
struct Complete {
    host: String,
    id: i64,
    cpus: u32,
    dirs: Vec<(String, u64)>,
    link: (String, u64),
}

impl Complete {
    fn capacity(&self, jbod: bool) -> Value {
        let disk = if jbod {
            let dirs: serde_json::Map<String, Value> = self
                .dirs
                .iter()
                .map(|(p, b)| (p.clone(), Value::String((b / MB).to_string())))
                .collect();
            Value::Object(dirs)
        } else {
            Value::String((self.dirs[0].1 / MB).to_string())
        };
        // Mbit/s to bytes/s to KB/s.
        let nw = (self.link.1.saturating_mul(1_000_000) / 8 / KB).to_string();
        json!({
            "DISK": disk,
            "CPU": { "num.cores": self.cpus.to_string() },
            "NW_IN": nw,
            "NW_OUT": nw,
        })
    }

    fn doc(&self) -> String {
        format!(
            "host {}: {} CPUs; {}; network: {} at {} Mbit/s (measured by tunekeeper)",
            self.host,
            self.cpus,
            self.dirs
                .iter()
                .map(|(p, b)| format!("{p} on {} GiB", b >> 30))
                .collect::<Vec<_>>()
                .join(", "),
            self.link.0,
            self.link.1
        )
    }
}

/// Sorts each host's brokers into complete ones and the ones left out.
fn sort_out(reports: &[(String, Report)]) -> (Vec<Complete>, Vec<Incomplete>) {
    let mut done = Vec::new();
    let mut left = Vec::new();
    for (host, r) in reports {
        let out = |id: Option<i64>, why: String| Incomplete {
            host: host.clone(),
            broker_id: id,
            why,
        };
        let Some(hw) = &r.hardware else {
            left.push(out(
                None,
                "its agent reports no hardware (an older agent)".into(),
            ));
            continue;
        };
        if hw.brokers.is_empty() {
            left.push(out(None, "no broker runs on it".into()));
            continue;
        }
        for b in &hw.brokers {
            let id = b.broker_id;
            let why = if id.is_none() {
                Some("no broker id: neither node.id nor broker.id in its configuration or meta.properties".to_owned())
            } else if hw.brokers.len() > 1 {
                Some(format!(
                    "{} brokers share this host: its CPUs and network cannot be split between them",
                    hw.brokers.len()
                ))
            } else if r.host.cpus == 0 {
                Some("its CPU count is unknown".into())
            } else if b.log_dirs.is_empty() {
                Some("no log directory".into())
            } else {
                b.log_dirs
                    .iter()
                    .find(|d| d.total_bytes.is_none())
                    .map(|d| {
                        format!(
                            "the size of log directory {} is unknown (missing or unreadable)",
                            d.path
                        )
                    })
            };
            let link = hw
                .network
                .iter()
                .filter_map(|l| Some((l.name.clone(), l.speed_mbps?)))
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
            match (why, link, id) {
                (Some(why), _, _) => left.push(out(id, why)),
                (None, None, _) => left.push(out(
                    id,
                    "no physical network link with a known speed".into(),
                )),
                (None, Some(link), Some(id)) => done.push(Complete {
                    host: host.clone(),
                    id,
                    cpus: r.host.cpus,
                    dirs: b
                        .log_dirs
                        .iter()
                        .map(|d| (d.path.clone(), d.total_bytes.unwrap_or(0)))
                        .collect(),
                    link,
                }),
                (None, Some(_), None) => unreachable!("a missing id is a reason above"),
            }
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
            why: format!(
                "broker id {} is reported by hosts {}",
                c.id,
                hosts_of[&c.id].join(", ")
            ),
            host: c.host,
            broker_id: Some(c.id),
        });
    }
    (ok, left)
}

/// The capacity file of `cluster` from the latest report of each of its
/// hosts, as (host name, report). `brokerCapacities` is Cruise Control's
/// own shape; `tunekeeper` (which Cruise Control ignores) says what was
/// left out and why. The default entry (`brokerId` `-1`, for brokers not
/// listed) is the capacity most listed brokers share; without one such
/// capacity (a tie, or no broker) there is none, and `tunekeeper.default`
/// says so.
pub fn capacity_file(cluster: &str, reports: &[(String, Report)]) -> Value {
    let (mut done, left) = sort_out(reports);
    done.sort_by_key(|c| c.id);
    let jbod = done.iter().any(|c| c.dirs.len() > 1);
    let mut entries: Vec<Value> = Vec::new();
    let mut same: BTreeMap<String, (Value, usize)> = BTreeMap::new();
    for c in &done {
        let cap = c.capacity(jbod);
        let e = same.entry(cap.to_string()).or_insert((cap.clone(), 0));
        e.1 += 1;
        entries.push(json!({
            "brokerId": c.id.to_string(),
            "capacity": cap,
            "doc": c.doc(),
        }));
    }
    let mut counts: Vec<&(Value, usize)> = same.values().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let default = match counts.as_slice() {
        [] => Err("no broker of the cluster has every figure known".to_owned()),
        [(_, n1), (_, n2), ..] if n1 == n2 => Err(format!(
            "no capacity is shared by more brokers than any other ({n1} and {n2}): \
             list every broker, or add a default by hand"
        )),
        [(cap, n), ..] => {
            entries.insert(
                0,
                json!({
                    "brokerId": "-1",
                    "capacity": cap,
                    "doc": format!(
                        "The default for brokers not listed: the capacity {n} of the {} listed brokers share.",
                        done.len()
                    ),
                }),
            );
            Ok(())
        }
    };
    json!({
        "brokerCapacities": entries,
        "tunekeeper": {
            "cluster": cluster,
            "format": if jbod { "capacityJBOD" } else { "capacity" },
            "brokers_listed": done.len(),
            "left_out": left,
            "default": match &default {
                Ok(()) => Value::String("the capacity most listed brokers share".into()),
                Err(_) => Value::Null,
            },
            "default_null_because": default.err(),
            "units": "DISK: MB (2^20 bytes) of each log directory's file system; CPU: cores; \
                      NW_IN, NW_OUT: KB/s (2^10 bytes) of the fastest physical link's speed",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{BrokerHardware, Hardware, LogDirSize, NetLink};

    fn host(
        name: &str,
        id: Option<i64>,
        cpus: u32,
        dirs: &[(&str, Option<u64>)],
    ) -> (String, Report) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/collector/report.json"
        );
        let mut r: Report = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        r.host.hostname = name.into();
        r.host.cpus = cpus;
        r.hardware = Some(Hardware {
            network: vec![
                NetLink {
                    name: "eth0".into(),
                    speed_mbps: Some(1000),
                },
                NetLink {
                    name: "eth1".into(),
                    speed_mbps: Some(10_000),
                },
                NetLink {
                    name: "eth2".into(),
                    speed_mbps: None,
                },
            ],
            brokers: vec![BrokerHardware {
                broker_id: id,
                broker_id_from: None,
                log_dirs: dirs
                    .iter()
                    .map(|(p, b)| LogDirSize {
                        path: (*p).into(),
                        total_bytes: *b,
                    })
                    .collect(),
            }],
        });
        (name.into(), r)
    }

    const T: u64 = 1 << 40;

    #[test]
    fn one_dir_each_is_the_plain_form_with_a_default_of_the_common_capacity() {
        let f = capacity_file(
            "c",
            &[
                host("b1", Some(1), 16, &[("/d1", Some(T))]),
                host("b2", Some(2), 16, &[("/d1", Some(T))]),
                host("b3", Some(3), 32, &[("/d1", Some(2 * T))]),
            ],
        );
        let e = f["brokerCapacities"].as_array().unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0]["brokerId"], "-1");
        assert_eq!(e[0]["capacity"], e[1]["capacity"]);
        assert_eq!(e[1]["brokerId"], "1");
        // 1 TiB = 1048576 MB; 10 Gbit/s = 1.25e9 B/s = 1220703 KB/s.
        assert_eq!(
            e[3]["capacity"],
            json!({"DISK": "2097152", "CPU": {"num.cores": "32"}, "NW_IN": "1220703", "NW_OUT": "1220703"})
        );
        assert_eq!(f["tunekeeper"]["format"], "capacity");
    }

    #[test]
    fn several_dirs_make_every_entry_jbod_and_unknowns_are_left_out() {
        let f = capacity_file(
            "c",
            &[
                host("b1", Some(1), 16, &[("/d1", Some(T)), ("/d2", Some(T))]),
                host("b2", Some(2), 16, &[("/d1", Some(2 * T))]),
                host("b3", None, 16, &[("/d1", Some(T))]),
                host("b4", Some(4), 0, &[("/d1", Some(T))]),
                host("b5", Some(5), 16, &[("/d1", None)]),
                host("b6", Some(2), 16, &[("/d1", Some(T))]),
            ],
        );
        assert_eq!(f["tunekeeper"]["format"], "capacityJBOD");
        let e = f["brokerCapacities"].as_array().unwrap();
        let ids: Vec<&str> = e.iter().map(|x| x["brokerId"].as_str().unwrap()).collect();
        assert_eq!(ids, ["-1", "1"], "b2 and b6 share id 2: neither listed");
        assert_eq!(
            e[1]["capacity"]["DISK"],
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
                    x["why"].as_str().unwrap()
                )
            })
            .collect();
        assert!(
            why.iter().any(|w| w.starts_with("b3 no broker id")),
            "{why:?}"
        );
        assert!(
            why.iter().any(|w| w.starts_with("b4 its CPU count")),
            "{why:?}"
        );
        assert!(
            why.iter()
                .any(|w| w.starts_with("b5 the size of log directory /d1")),
            "{why:?}"
        );
        assert!(
            why.iter()
                .any(|w| w.starts_with("b6 broker id 2 is reported by hosts b2, b6")),
            "{why:?}"
        );
        // Two capacities, one broker each: no default is picked.
        let f = capacity_file(
            "c",
            &[
                host("b1", Some(1), 16, &[("/d1", Some(T))]),
                host("b2", Some(2), 32, &[("/d1", Some(T))]),
            ],
        );
        assert_eq!(f["brokerCapacities"].as_array().unwrap().len(), 2);
        assert_eq!(f["tunekeeper"]["default"], Value::Null);
        assert!(
            f["tunekeeper"]["default_null_because"]
                .as_str()
                .unwrap()
                .contains("(1 and 1)")
        );
    }
}
