//! Knowing the broker: each Kafka-family JVM on the host, its role and its
//! own configuration, and from that its data directories, the mounts and
//! disks under them, its memory and its use of maps and files.

pub mod capacity;
pub mod checks;
pub mod layout;
pub mod process;
pub mod properties;
pub mod roles;
pub mod timeouts;

pub use process::{KafkaProcess, Role, find_kafka_processes};
pub use roles::{HostRole, Processes};

/// The shipped profiles that fit what runs on this host, each with the
/// reason: one per role (a broker and a ZooKeeper node on one host get
/// both). No Kafka-family process: the default profile.
pub fn choose_profiles(host: &crate::host::Host) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = roles::running_roles(host)
        .into_iter()
        .map(|(role, procs)| (role.profile(), runs_because(&procs)))
        .collect();
    if out.is_empty() {
        out.push((
            crate::profile::DEFAULT_PROFILE,
            "no Kafka broker, controller or ZooKeeper runs: the default profile".into(),
        ));
    }
    out
}

/// `a broker runs here (pid 12); a broker+controller runs here (pid 14)`.
pub fn runs_because(procs: &[KafkaProcess]) -> String {
    let mut parts: Vec<String> = Vec::new();
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
        if !pids.is_empty() {
            parts.push(format!("a {role} runs here (pid {})", pids.join(", ")));
        }
    }
    parts.join("; ")
}
