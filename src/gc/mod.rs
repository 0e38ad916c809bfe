//! G1 GC log analysis: format detection, JDK 8 and unified-logging parsers,
//! streaming statistics and service-level checks: analysis only (the
//! reports for people are [`crate::present::gc`]'s).
//!
//! The flow: [`input`] expands paths (files, directories, gzip, rotated
//! sets in time order) and [`detect`] tells each file's format; a
//! [`parser::LineParser`] ([`unified::UnifiedParser`] for JDK 9+,
//! [`jdk8::Jdk8Parser`] for JDK 7/8) turns
//! lines into [`event::GcEvent`]s; [`stats::GcStats`] accumulates them in
//! constant memory; [`analyse::build`] adds JVM flag findings ([`flags`])
//! and service-level findings ([`slo`]) into a [`report::Analysis`].
//! [`analyse()`] does it all for a list of paths.

pub mod analyse;
pub mod budget;
pub mod decorators;
pub mod detect;
pub mod error;
pub mod event;
pub mod flags;
pub mod hist;
pub mod input;
pub mod jdk8;
pub mod other;
pub mod parser;
pub mod report;
pub mod running;
pub mod slo;
pub mod stall;
pub mod stats;
pub mod unified;

pub use analyse::{AnalyseOptions, analyse, analyse_with_progress};
pub use error::GcError;
pub use report::Analysis;
pub use stats::GcStats;
