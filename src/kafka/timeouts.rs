//! The timeouts a stopped JVM runs into, by its roles, read from its own
//! configuration with where each value came from (else the default):
//!
//! - a broker: its session with the controller (KRaft:
//!   `broker.session.timeout.ms`, with heartbeats every
//!   `broker.heartbeat.interval.ms`) or with ZooKeeper
//!   (`zookeeper.session.timeout.ms`), the ISR (`replica.lag.time.max.ms`),
//!   and the consumers' group session (`session.timeout.ms`, a client
//!   setting: its default);
//! - a KRaft controller: the quorum's `controller.quorum.fetch.timeout.ms`
//!   and `controller.quorum.election.timeout.ms`;
//! - a combined node (`process.roles=broker,controller`): both sets;
//! - a ZooKeeper server: `syncLimit` ticks (its followers) and the shortest
//!   session a client may have (`minSessionTimeout`, two ticks by default).
//!
//! Kafka's defaults are those of its documentation, Broker Configs, the
//! same in 3.x and 4.x (read in the 3.7 and 4.0 documentation,
//! kafka.apache.org/37/documentation.html#brokerconfigs and
//! kafka.apache.org/40/documentation.html#brokerconfigs):
//! `broker.session.timeout.ms` 9000, `broker.heartbeat.interval.ms` 2000,
//! `controller.quorum.fetch.timeout.ms` 2000,
//! `controller.quorum.election.timeout.ms` 1000,
//! `zookeeper.session.timeout.ms` 18000 (3.x; ZooKeeper mode is gone in
//! 4.x), `replica.lag.time.max.ms` 30000; the consumers'
//! `session.timeout.ms` 45000 (Consumer Configs, 3.0 and later).
//! ZooKeeper's: `tickTime` 3000 when unset (`ZooKeeperServer.DEFAULT_TICK_TIME`),
//! `minSessionTimeout` two ticks (ZooKeeper Administrator's Guide,
//! Configuration Parameters), `syncLimit` without a default (an ensemble
//! member must set it; a standalone server has no followers).

use std::path::Path;

use super::process::Role;
use super::properties::Properties;
use crate::gc::budget::TimeoutLimit;

/// A timeout whose value is not a number of milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{from}: `{key}` = `{value}` is not a whole number of {unit}; fix the value or remove it to use the default"
)]
pub struct TimeoutError {
    /// The key.
    pub key: String,
    /// Its text.
    pub value: String,
    /// The file, or `--override`.
    pub from: String,
    /// What the value counts: `milliseconds`, `ticks`.
    pub unit: &'static str,
}

/// One Kafka timeout: its key, Kafka's default in ms, what expires.
type Kafka = (&'static str, u64, &'static str);

/// Where a Kafka default comes from, for the findings.
const KAFKA_DEFAULT: &str = "Kafka's default, 3.x and 4.x";

const KRAFT_SESSION: Kafka = (
    "broker.session.timeout.ms",
    9_000,
    "the controller fences a broker it has not heard from for this long",
);
const KRAFT_HEARTBEAT: Kafka = (
    "broker.heartbeat.interval.ms",
    2_000,
    "the broker heartbeats to the controller this often: a longer stop misses a heartbeat, and the session runs out after a few",
);
const ZK_SESSION: Kafka = (
    "zookeeper.session.timeout.ms",
    18_000,
    "ZooKeeper expires the broker's session (and its leaderships) after this long",
);
const REPLICA_LAG: Kafka = (
    "replica.lag.time.max.ms",
    30_000,
    "a follower that has not caught up for this long is dropped from the ISR",
);
const QUORUM_FETCH: Kafka = (
    "controller.quorum.fetch.timeout.ms",
    2_000,
    "a follower controller that has not fetched from the leader for this long starts an election, and a leader that has heard from no majority for this long resigns",
);
const QUORUM_ELECTION: Kafka = (
    "controller.quorum.election.timeout.ms",
    1_000,
    "a candidate that has not won the vote within this long starts another election: a controller stopped longer than this can outlast a whole election",
);
/// A consumer setting: a broker's configuration does not hold it.
const CLIENT_SESSION: Kafka = (
    "session.timeout.ms",
    45_000,
    "consumers' default group session (a client setting): a coordinator paused this long expires them",
);

/// ZooKeeper's tick when `tickTime` is unset (`ZooKeeperServer.DEFAULT_TICK_TIME`).
const ZK_DEFAULT_TICK_MS: u64 = 3_000;

/// The timeouts of a Kafka process of `role` configured by `file` (with
/// `overrides` applied on top, as `kafka.Kafka --override` does), or of a
/// ZooKeeper server configured by its `zoo.cfg`.
pub fn role_timeouts(
    role: Role,
    cfg: &Properties,
    file: &Path,
    overrides: &[(String, String)],
) -> Result<Vec<TimeoutLimit>, TimeoutError> {
    let kraft = cfg
        .get("process.roles")
        .is_some_and(|r| !r.trim().is_empty());
    let mut keys: Vec<Kafka> = Vec::new();
    if matches!(role, Role::Controller | Role::BrokerController) {
        keys.extend([QUORUM_FETCH, QUORUM_ELECTION]);
    }
    if role.is_broker() {
        if kraft {
            keys.extend([KRAFT_SESSION, KRAFT_HEARTBEAT]);
        } else {
            keys.push(ZK_SESSION);
        }
        keys.push(REPLICA_LAG);
    }
    if role == Role::Zookeeper {
        return zookeeper_timeouts(cfg, file);
    }
    let mut out = Vec::new();
    for (key, default, what) in keys {
        let (value_ms, from) = match setting(cfg, key, file, overrides, "milliseconds")? {
            Some(v) => v,
            None => (default, KAFKA_DEFAULT.to_owned()),
        };
        out.push(TimeoutLimit {
            key: key.to_owned(),
            what: what.to_owned(),
            value_ms,
            from,
        });
    }
    if role.is_broker() {
        let (key, default, what) = CLIENT_SESSION;
        out.push(TimeoutLimit {
            key: key.to_owned(),
            what: what.to_owned(),
            value_ms: default,
            from: "Kafka's default for consumers (3.0+)".to_owned(),
        });
    }
    Ok(out)
}

/// The timeouts of a broker (or, by its `process.roles`, a controller or a
/// combined node) configured by `file`: what `gc --broker-config` weighs.
pub fn broker_timeouts(
    cfg: &Properties,
    file: &Path,
    overrides: &[(String, String)],
) -> Result<Vec<TimeoutLimit>, TimeoutError> {
    role_timeouts(
        Role::from_process_roles(cfg.get("process.roles")),
        cfg,
        file,
        overrides,
    )
}

/// A whole non-negative number from the configuration with where it came
/// from; `None` when unset.
fn setting(
    cfg: &Properties,
    key: &str,
    file: &Path,
    overrides: &[(String, String)],
    unit: &'static str,
) -> Result<Option<(u64, String)>, TimeoutError> {
    let Some(v) = cfg.get(key) else {
        return Ok(None);
    };
    let from = if overrides.iter().any(|(k, _)| k == key) {
        "--override on the command line".to_owned()
    } else {
        file.display().to_string()
    };
    let n = v.trim().parse::<u64>().map_err(|_| TimeoutError {
        key: key.to_owned(),
        value: v.to_owned(),
        from: from.clone(),
        unit,
    })?;
    Ok(Some((n, from)))
}

/// A ZooKeeper server's own timeouts, from its `zoo.cfg`.
fn zookeeper_timeouts(cfg: &Properties, file: &Path) -> Result<Vec<TimeoutLimit>, TimeoutError> {
    let (tick, tick_note) = match setting(cfg, "tickTime", file, &[], "milliseconds")? {
        Some((t, _)) => (t, ""),
        None => (ZK_DEFAULT_TICK_MS, " (tickTime unset: ZooKeeper's default)"),
    };
    let mut out = Vec::new();
    if let Some((ticks, _)) = setting(cfg, "syncLimit", file, &[], "ticks")? {
        out.push(TimeoutLimit {
            key: "syncLimit".to_owned(),
            what: "the leader drops a follower that has not kept up for this long, and a follower that has not heard from its leader for this long leaves it: a leader stopped this long loses its followers and the ensemble elects another".to_owned(),
            value_ms: ticks.saturating_mul(tick),
            from: format!(
                "{}: syncLimit={ticks} ticks of {tick} ms{tick_note}",
                file.display()
            ),
        });
    }
    let (min_session, from) = match setting(cfg, "minSessionTimeout", file, &[], "milliseconds")? {
        Some((v, from)) => (v, from),
        None => (
            tick.saturating_mul(2),
            format!(
                "{}: ZooKeeper's default minSessionTimeout, 2 ticks of {tick} ms{tick_note}",
                file.display()
            ),
        ),
    };
    out.push(TimeoutLimit {
        key: "minSessionTimeout".to_owned(),
        what: "the shortest session a client may have: a server stopped this long can expire such sessions, and with them their ephemeral nodes (a ZooKeeper-mode broker's registration)".to_owned(),
        value_ms: min_session,
        from,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(t: &[TimeoutLimit]) -> Vec<(&str, u64, &str)> {
        t.iter()
            .map(|l| (l.key.as_str(), l.value_ms, l.from.as_str()))
            .collect()
    }

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
        assert_eq!(
            (t[1].key.as_str(), t[1].value_ms, t[1].from.as_str()),
            ("broker.heartbeat.interval.ms", 2000, KAFKA_DEFAULT)
        );
        assert_eq!(t[2].value_ms, 10_000);
        assert_eq!(t[2].from, "/etc/kafka/server.properties");
        assert_eq!(t[3].value_ms, 45_000);

        let zk = Properties::parse("zookeeper.connect=zk:2181\n").unwrap();
        let t = broker_timeouts(&zk, Path::new("s.properties"), &[]).unwrap();
        assert_eq!(t[0].key, "zookeeper.session.timeout.ms");
        assert_eq!((t[0].value_ms, t[0].from.as_str()), (18_000, KAFKA_DEFAULT));
        assert_eq!(t[1].value_ms, 30_000);
    }

    #[test]
    fn each_role_its_own_timeouts() {
        let f = Path::new("/etc/kafka/c.properties");
        let ctl = Properties::parse(
            "process.roles=controller\ncontroller.quorum.election.timeout.ms=1500\n",
        )
        .unwrap();
        assert_eq!(
            keys(&role_timeouts(Role::Controller, &ctl, f, &[]).unwrap()),
            [
                ("controller.quorum.fetch.timeout.ms", 2000, KAFKA_DEFAULT),
                (
                    "controller.quorum.election.timeout.ms",
                    1500,
                    "/etc/kafka/c.properties"
                ),
            ],
            "a controller: the quorum's timeouts only, from its file or the default"
        );
        let both = Properties::parse("process.roles=broker,controller\n").unwrap();
        let t = role_timeouts(Role::BrokerController, &both, f, &[]).unwrap();
        assert_eq!(
            t.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
            [
                "controller.quorum.fetch.timeout.ms",
                "controller.quorum.election.timeout.ms",
                "broker.session.timeout.ms",
                "broker.heartbeat.interval.ms",
                "replica.lag.time.max.ms",
                "session.timeout.ms",
            ],
            "a combined node: both sets"
        );
        assert_eq!(
            broker_timeouts(&both, f, &[]).unwrap(),
            t,
            "--broker-config reads the role from process.roles"
        );

        let zoo = Path::new("/etc/zookeeper/zoo.cfg");
        let z = Properties::parse("tickTime=2000\nsyncLimit=5\ndataDir=/var/lib/zk\n").unwrap();
        let t = role_timeouts(Role::Zookeeper, &z, zoo, &[]).unwrap();
        assert_eq!(
            t.iter()
                .map(|l| (l.key.as_str(), l.value_ms))
                .collect::<Vec<_>>(),
            [("syncLimit", 10_000), ("minSessionTimeout", 4_000)]
        );
        assert!(t[1].from.contains("2 ticks of 2000 ms"), "{:?}", t[1]);
        // Standalone, no tickTime: ZooKeeper's default tick, no followers.
        let z = Properties::parse("dataDir=/var/lib/zk\nminSessionTimeout=8000\n").unwrap();
        let t = role_timeouts(Role::Zookeeper, &z, zoo, &[]).unwrap();
        assert_eq!(
            keys(&t),
            [("minSessionTimeout", 8000, "/etc/zookeeper/zoo.cfg")]
        );
        let z = Properties::parse("dataDir=/var/lib/zk\n").unwrap();
        assert_eq!(
            role_timeouts(Role::Zookeeper, &z, zoo, &[]).unwrap()[0].value_ms,
            6000
        );
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
        let z = Properties::parse("tickTime=2000\nsyncLimit=five\n").unwrap();
        let e = role_timeouts(Role::Zookeeper, &z, Path::new("/etc/zk/zoo.cfg"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/etc/zk/zoo.cfg") && e.contains("syncLimit") && e.contains("ticks"),
            "{e}"
        );
    }
}
