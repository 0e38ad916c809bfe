//! Knowing the broker: each Kafka-family JVM on the host, its role and its
//! own configuration, and from that its data directories, the mounts and
//! disks under them, its memory and its use of maps and files.

pub mod capacity;
pub mod checks;
pub mod layout;
pub mod process;
pub mod properties;
pub mod timeouts;

pub use process::{KafkaProcess, Role, find_kafka_processes};

/// The shipped profiles that fit what runs on this host, each with the
/// reason: one per role (a broker and a ZooKeeper node on one host get
/// both). No Kafka-family process: the default profile.
pub fn choose_profiles(host: &crate::host::Host) -> Vec<(&'static str, String)> {
    let procs = find_kafka_processes(host);
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for role in [
        Role::Broker,
        Role::BrokerController,
        Role::Controller,
        Role::Zookeeper,
    ] {
        let pids: Vec<String> = procs
            .iter()
            .filter(|p| p.role == role)
            .map(|p| p.jvm.pid.to_string())
            .collect();
        if pids.is_empty() {
            continue;
        }
        let why = format!("a {role} runs here (pid {})", pids.join(", "));
        match out.iter_mut().find(|(name, _)| *name == role.profile()) {
            Some((_, reason)) => {
                reason.push_str("; ");
                reason.push_str(&why);
            }
            None => out.push((role.profile(), why)),
        }
    }
    if out.is_empty() {
        out.push((
            crate::profile::DEFAULT_PROFILE,
            "no Kafka broker, controller or ZooKeeper runs: the default profile".into(),
        ));
    }
    out
}
