//! tunekeeper: keeps Kafka broker hosts tuned and their G1 collectors healthy.
//!
//! Data flows one way: a desired state (a [`profile`]) and an observed state
//! ([`host`], GC logs) become [`finding::Finding`]s, which become a report,
//! which becomes output (a table, JSON, HTML, a delivery to the collector).

pub mod agent;
pub mod apply;
pub mod audit;
pub mod collector;
pub mod expect;
pub mod file_kind;
pub mod finding;
pub mod gc;
pub mod host;
pub mod journal_check;
pub mod junit;
pub mod jvm;
pub mod kafka;
pub mod logging;
pub mod present;
pub mod profile;
pub mod report;
pub mod spelling;
pub mod sysctl_key;
pub mod token_file;
pub mod waiver;
