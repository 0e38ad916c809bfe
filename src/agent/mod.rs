//! The long-running agent: every interval it audits the host (each role
//! that runs against its own profile), follows the Kafka-family JVMs' GC
//! logs, builds one report, spools it, and delivers the spool to the
//! collector.

pub mod config;
pub mod counters;
pub mod fit;
pub mod follow;
pub mod gc;
pub mod ledger;
pub mod metrics;
pub mod metrics_http;
pub mod notify;
pub mod pressure;
pub mod role_state;
pub mod roles;
pub mod run;
pub mod sender;
pub mod spool;
pub mod unreadable;
