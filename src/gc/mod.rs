//! G1 GC log analysis: format detection, JDK 8 and unified-logging parsers,
//! streaming statistics, service-level checks and reports.

pub mod analyse;
pub mod decorators;
pub mod detect;
pub mod error;
pub mod event;
pub mod flags;
pub mod hist;
pub mod input;
pub mod parser;
pub mod report;
pub mod slo;
pub mod stats;
pub mod unified;

pub use analyse::{AnalyseOptions, analyse};
pub use error::GcError;
pub use report::Analysis;
pub use stats::GcStats;
