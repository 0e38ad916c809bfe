//! tunekeeper: keeps Kafka broker hosts tuned and their G1 collectors healthy.
//!
//! Data flows one way: a desired state (a [`profile`]) and an observed state
//! (the host, GC logs) become [`finding::Finding`]s, which become a report,
//! which becomes output (a table, JSON, HTML, a delivery to the collector).

pub mod finding;
pub mod gc;
