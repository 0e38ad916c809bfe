//! The SQLite backend, the embedded default: one file, one writer thread
//! that commits what has queued up in one transaction, pooled read-only
//! connections beside it (WAL). It speaks only the storage interface's
//! types ([`super::report`], [`super::host`], [`super::fleet`]).
//!
//! - [`store`]: the schema, its migrations and every query
//! - [`writer`]: the writer thread (batched transactions) and the pooled readers

pub mod store;
pub mod writer;
