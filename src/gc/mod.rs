//! G1 GC log analysis: format detection, JDK 8 and unified-logging parsers,
//! streaming statistics, service-level checks and reports.

pub mod event;
pub mod parser;
pub mod decorators;
pub mod hist;
pub mod unified;
pub mod detect;
pub mod error;
pub mod input;
pub mod stats;
