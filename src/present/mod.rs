//! Pages built with `maud`: markup as Rust expressions, every interpolated
//! value escaped by the macro, so an untrusted name cannot become markup.
//!
//! - [`cluster`]: the cluster page, the comparison of two clusters, and the
//!   host page's "against its cluster" section

pub mod cluster;
