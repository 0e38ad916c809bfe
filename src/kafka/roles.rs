//! The roles a host runs, as profiles judge them: brokers (ZooKeeper-mode
//! and KRaft brokers, and combined nodes, which serve clients and store
//! partitions), dedicated KRaft controllers, and ZooKeeper servers. Each
//! has its shipped profile, and the audit and the agent judge each role's
//! processes against its own profile only.

use regex::Regex;
use serde::Serialize;

use super::process::{KafkaProcess, Role, find_kafka_processes};
use crate::host::Host;

/// A role as the host runs it, one profile each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostRole {
    /// Kafka brokers: ZooKeeper mode, KRaft `process.roles=broker`, and
    /// combined nodes (`broker,controller`), which are brokers too.
    Broker,
    /// Dedicated KRaft controllers (`process.roles=controller`).
    Controller,
    /// ZooKeeper servers (`QuorumPeerMain`, `ZooKeeperServerMain`).
    Zookeeper,
}

impl HostRole {
    /// Every role, in the order reports list them.
    pub const ALL: [HostRole; 3] = [HostRole::Broker, HostRole::Controller, HostRole::Zookeeper];

    /// Its name in reports and on pages: `broker`, `controller`, `zookeeper`.
    pub fn name(self) -> &'static str {
        match self {
            HostRole::Broker => "broker",
            HostRole::Controller => "controller",
            HostRole::Zookeeper => "zookeeper",
        }
    }

    /// What to call one of its processes in a sentence.
    pub fn noun(self) -> &'static str {
        match self {
            HostRole::Broker => "broker",
            HostRole::Controller => "KRaft controller",
            HostRole::Zookeeper => "ZooKeeper server",
        }
    }

    /// The shipped profile that judges it.
    pub fn profile(self) -> &'static str {
        match self {
            HostRole::Broker => "kafka-broker",
            HostRole::Controller => "kraft-controller",
            HostRole::Zookeeper => "zookeeper",
        }
    }

    /// The role a shipped profile judges, by the profile's name.
    pub fn of_profile(name: &str) -> Option<HostRole> {
        HostRole::ALL.into_iter().find(|r| r.profile() == name)
    }

    /// The host role a process plays (a combined node is a broker: it
    /// serves clients and stores partitions, and the broker profile judges it).
    pub fn of(role: Role) -> HostRole {
        match role {
            Role::Broker | Role::BrokerController => HostRole::Broker,
            Role::Controller => HostRole::Controller,
            Role::Zookeeper => HostRole::Zookeeper,
        }
    }

    /// The key of its `process` finding (does one run?). The broker keeps
    /// the key it always had, `running`, so drift histories and waivers
    /// written for it stay valid; the others name their role, so each
    /// role's stop is a drift of its own.
    pub fn running_key(self) -> &'static str {
        match self {
            HostRole::Broker => "running",
            HostRole::Controller => "running (controller)",
            HostRole::Zookeeper => "running (zookeeper)",
        }
    }

    /// The `process` finding's expectation: one of its processes runs (a
    /// broker: `kafka.Kafka` with `process.roles` unset or naming broker; a
    /// controller: `process.roles=controller`; ZooKeeper: `QuorumPeerMain`
    /// or `ZooKeeperServerMain`).
    pub fn recognised_by(self) -> &'static str {
        match self {
            HostRole::Broker => "a broker running",
            HostRole::Controller => "a KRaft controller running",
            HostRole::Zookeeper => "a ZooKeeper server running",
        }
    }
}

impl std::fmt::Display for HostRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Role {
    /// The role names a process plays, for reports: `["broker",
    /// "controller"]` for a combined node.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Role::Broker => &["broker"],
            Role::Controller => &["controller"],
            Role::BrokerController => &["broker", "controller"],
            Role::Zookeeper => &["zookeeper"],
        }
    }
}

/// Which processes an audit judges.
#[derive(Debug, Clone, Copy)]
pub enum Processes<'a> {
    /// Kafka-family processes whose command line matches a profile's
    /// `[process] match` (a profile the user named).
    Matching(&'a Regex),
    /// The Kafka-family processes of one role (a profile chosen for the
    /// role that runs: a broker profile never judges a controller).
    OfRole(HostRole),
}

impl Processes<'_> {
    /// True when `p` is one of them.
    pub fn selects(&self, p: &KafkaProcess) -> bool {
        match self {
            Processes::Matching(pattern) => pattern.is_match(&p.jvm.cmdline.join(" ")),
            Processes::OfRole(role) => HostRole::of(p.role) == *role,
        }
    }

    /// The role, when selecting by role.
    pub fn role(&self) -> Option<HostRole> {
        match self {
            Processes::OfRole(r) => Some(*r),
            Processes::Matching(_) => None,
        }
    }
}

/// The roles that run on the host, each with its processes, in
/// [`HostRole::ALL`] order.
pub fn running_roles(host: &Host) -> Vec<(HostRole, Vec<KafkaProcess>)> {
    group(find_kafka_processes(host))
}

/// Groups processes by role, in [`HostRole::ALL`] order, roles without a
/// process left out.
pub fn group(procs: Vec<KafkaProcess>) -> Vec<(HostRole, Vec<KafkaProcess>)> {
    let mut out: Vec<(HostRole, Vec<KafkaProcess>)> = Vec::new();
    for p in procs {
        let role = HostRole::of(p.role);
        match out.iter_mut().find(|(r, _)| *r == role) {
            Some((_, v)) => v.push(p),
            None => out.push((role, vec![p])),
        }
    }
    out.sort_by_key(|(r, _)| *r);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_profiles_and_keys() {
        assert_eq!(HostRole::of(Role::BrokerController), HostRole::Broker);
        assert_eq!(Role::BrokerController.names(), ["broker", "controller"]);
        for r in HostRole::ALL {
            assert_eq!(HostRole::of_profile(r.profile()), Some(r));
        }
        assert_eq!(HostRole::Broker.running_key(), "running");
        let keys: std::collections::BTreeSet<&str> =
            HostRole::ALL.iter().map(|r| r.running_key()).collect();
        assert_eq!(keys.len(), 3, "one key per role");
    }
}
