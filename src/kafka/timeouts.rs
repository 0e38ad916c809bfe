//! The timeouts a stopped broker runs into, read from its configuration
//! with where each value came from: the session with the controller (KRaft
//! `broker.session.timeout.ms`) or with ZooKeeper
//! (`zookeeper.session.timeout.ms`), the ISR (`replica.lag.time.max.ms`),
//! and the consumers' group session (`session.timeout.ms`, a client setting:
//! its default).

use std::path::Path;

use super::properties::Properties;
use crate::gc::budget::TimeoutLimit;

/// A timeout whose value is not a number of milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{from}: `{key}` = `{value}` is not a whole number of milliseconds; fix the value or remove it to use Kafka's default"
)]
pub struct TimeoutError {
    /// The key.
    pub key: String,
    /// Its text.
    pub value: String,
    /// The file, or `--override`.
    pub from: String,
}

/// `(key, default ms, what expires)`: Kafka's defaults (3.x/4.x).
const KRAFT_SESSION: (&str, u64, &str) = (
    "broker.session.timeout.ms",
    9_000,
    "the controller fences a broker it has not heard from for this long",
);
const ZK_SESSION: (&str, u64, &str) = (
    "zookeeper.session.timeout.ms",
    18_000,
    "ZooKeeper expires the broker's session (and its leaderships) after this long",
);
const REPLICA_LAG: (&str, u64, &str) = (
    "replica.lag.time.max.ms",
    30_000,
    "a follower that has not caught up for this long is dropped from the ISR",
);
/// A consumer setting: a broker's configuration does not hold it.
const CLIENT_SESSION: (&str, u64, &str) = (
    "session.timeout.ms",
    45_000,
    "consumers' default group session (a client setting): a coordinator paused this long expires them",
);

/// The timeouts of a broker configured by `file` (with `overrides` applied
/// on top, as `kafka.Kafka --override` does). KRaft (`process.roles` set)
/// uses the controller session, ZooKeeper mode the ZooKeeper session.
pub fn broker_timeouts(
    cfg: &Properties,
    file: &Path,
    overrides: &[(String, String)],
) -> Result<Vec<TimeoutLimit>, TimeoutError> {
    let kraft = cfg
        .get("process.roles")
        .is_some_and(|r| !r.trim().is_empty());
    let session = if kraft { KRAFT_SESSION } else { ZK_SESSION };
    let mut out = Vec::new();
    for (key, default, what) in [session, REPLICA_LAG] {
        let overridden = overrides.iter().rev().find(|(k, _)| k == key);
        let (value_ms, from) = match cfg.get(key) {
            Some(v) => {
                let from = if overridden.is_some() {
                    "--override on the command line".to_owned()
                } else {
                    file.display().to_string()
                };
                let ms = v.trim().parse::<u64>().map_err(|_| TimeoutError {
                    key: key.to_owned(),
                    value: v.to_owned(),
                    from: from.clone(),
                })?;
                (ms, from)
            }
            None => (default, "Kafka's default".to_owned()),
        };
        out.push(TimeoutLimit {
            key: key.to_owned(),
            what: what.to_owned(),
            value_ms,
            from,
        });
    }
    let (key, default, what) = CLIENT_SESSION;
    out.push(TimeoutLimit {
        key: key.to_owned(),
        what: what.to_owned(),
        value_ms: default,
        from: "Kafka's default for consumers (3.0+)".to_owned(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_file_override_default() {
        let mut cfg = Properties::parse(
            "process.roles=broker\nreplica.lag.time.max.ms=10000\nbroker.session.timeout.ms=6000\n",
        )
        .unwrap();
        let ov = vec![("broker.session.timeout.ms".to_owned(), "4000".to_owned())];
        cfg.set("broker.session.timeout.ms", "4000");
        let t = broker_timeouts(&cfg, Path::new("/etc/kafka/server.properties"), &ov).unwrap();
        assert_eq!(t[0].key, "broker.session.timeout.ms");
        assert_eq!(t[0].value_ms, 4000);
        assert!(t[0].from.contains("--override"));
        assert_eq!(t[1].value_ms, 10_000);
        assert_eq!(t[1].from, "/etc/kafka/server.properties");
        assert_eq!(t[2].value_ms, 45_000);

        let zk = Properties::parse("zookeeper.connect=zk:2181\n").unwrap();
        let t = broker_timeouts(&zk, Path::new("s.properties"), &[]).unwrap();
        assert_eq!(t[0].key, "zookeeper.session.timeout.ms");
        assert_eq!(
            (t[0].value_ms, t[0].from.as_str()),
            (18_000, "Kafka's default")
        );
        assert_eq!(t[1].value_ms, 30_000);
    }

    #[test]
    fn a_bad_value_names_file_and_key() {
        let cfg = Properties::parse("replica.lag.time.max.ms=30s\n").unwrap();
        let e = broker_timeouts(&cfg, Path::new("/etc/kafka/server.properties"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/etc/kafka/server.properties") && e.contains("replica.lag.time.max.ms"),
            "{e}"
        );
    }
}
