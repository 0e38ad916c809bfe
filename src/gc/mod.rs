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
pub mod flags;
pub mod analyse;
pub mod report;
pub mod slo;

pub use analyse::{AnalyseOptions, analyse};
pub use error::GcError;
pub use report::Analysis;
pub use stats::GcStats;
