//! What each broker on this host has to work with, for capacity planning:
//! its id, its log directories with the size of the file system under
//! each, and the host's physical network links. The collector turns these
//! into Cruise Control's capacity file.

use std::path::Path;

use super::layout::Brokers;
use super::process::KafkaProcess;
use super::properties::Properties;
use crate::host::Host;
use crate::report::{BrokerHardware, Hardware, LogDirSize};

/// Largest `meta.properties` read (it holds a handful of lines).
const MAX_META_BYTES: u64 = 64 << 10;

/// The hardware of this host's brokers (KRaft controllers only and
/// ZooKeeper are not brokers: they hold no partitions).
pub fn observe(host: &Host) -> Hardware {
    let any = regex::Regex::new(".").expect("a valid pattern");
    let brokers = Brokers::observe(host, super::Processes::Matching(&any));
    let out = brokers
        .processes
        .iter()
        .filter(|p| p.role.is_broker())
        .map(|p| {
            let (broker_id, broker_id_from) = match broker_id(host, p) {
                Some((id, from)) => (Some(id), Some(from)),
                None => (None, None),
            };
            let log_dirs = brokers
                .dirs
                .iter()
                .filter(|d| d.pid == p.jvm.pid && d.dir.from != "metadata.log.dir")
                .map(|d| LogDirSize {
                    path: d.dir.path.display().to_string(),
                    total_bytes: d.space.map(|s| s.total_bytes).filter(|b| *b > 0),
                })
                .collect();
            BrokerHardware {
                broker_id,
                broker_id_from,
                log_dirs,
            }
        })
        .collect();
    Hardware {
        network: crate::host::net::physical_links(host),
        brokers: out,
    }
}

/// An id from a properties value: a non-negative integer (`broker.id=-1`
/// asks Kafka to generate one, which it writes to `meta.properties`).
fn id_of(props: &Properties, key: &str) -> Option<i64> {
    props
        .get(key)?
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
}

/// The broker's id: `node.id` (KRaft) or `broker.id` from its configuration,
/// else from `meta.properties` in its first data directory that has one;
/// with where it came from.
fn broker_id(host: &Host, p: &KafkaProcess) -> Option<(i64, String)> {
    if let Ok(cfg) = &p.config {
        for key in ["node.id", "broker.id"] {
            if let Some(id) = id_of(cfg, key) {
                let file = p
                    .config_path
                    .as_deref()
                    .map_or_else(|| "its configuration".into(), |f| f.display().to_string());
                return Some((id, format!("{key} ({file})")));
            }
        }
    }
    p.data_dirs().into_iter().find_map(|d| {
        let named = d.path.join("meta.properties");
        let bytes =
            crate::file_kind::read_small_regular(&p.host_path(host, &named), MAX_META_BYTES)
                .ok()?;
        let props = Properties::parse(&String::from_utf8_lossy(&bytes)).ok()?;
        ["node.id", "broker.id"]
            .into_iter()
            .find_map(|key| id_of(&props, key).map(|id| (id, format!("{key} ({})", show(&named)))))
    })
}

fn show(p: &Path) -> String {
    p.display().to_string()
}
