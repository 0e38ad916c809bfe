//! Knowing the broker: each Kafka-family JVM on the host, its role and its
//! own configuration, and from that its data directories, the mounts and
//! disks under them, its memory and its use of maps and files.

pub mod checks;
pub mod layout;
pub mod process;
pub mod properties;

pub use process::{KafkaProcess, Role, find_kafka_processes};
