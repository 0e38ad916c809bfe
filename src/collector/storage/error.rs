//! Why a storage call did not answer, whichever backend: the one error type
//! of the storage interface (a transient one is answered 503).

/// Why a storage call did not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused the statement (not a connection problem).
    #[error("database: {0}")]
    Postgres(String),
    /// The database cannot be reached now (PostgreSQL down, restarting or
    /// out of connections): the caller should retry later (503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The writer has stopped (shutting down).
    #[error("the database writer has stopped")]
    Stopped,
}

impl StoreError {
    /// True when retrying later can succeed (answered with 503).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Stopped)
    }
}
