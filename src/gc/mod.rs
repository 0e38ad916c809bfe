//! G1 GC log analysis: format detection, JDK 8 and unified-logging parsers,
//! streaming statistics, service-level checks and reports.

pub mod event;
pub mod jdk8;
pub mod parser;
