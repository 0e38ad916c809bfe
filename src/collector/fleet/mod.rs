//! Fleet logic, one room: what the collector makes of the stored hosts,
//! over the storage interface's types and never a backend's; the HTTP
//! handlers, the pages and the alerts call it, it calls only
//! [`super::storage`].
//!
//! - [`cluster`]: clusters' summaries and week-over-week trend figures
//! - [`history`]: one host's drift episodes and week figures
//! - [`trend`]: the clusters' trend, kept ready in the background
//! - [`skew`]: where a cluster's hosts differ from its majority; two clusters compared
//! - [`members`]: a cluster's hosts' latest values read for skew, and comparisons
//! - [`capacity`]: Cruise Control's capacity file from measured hardware

pub mod capacity;
pub mod cluster;
pub mod history;
pub mod members;
pub mod skew;
pub mod trend;
