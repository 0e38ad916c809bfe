//! Why a storage call did not answer, whichever backend: the one error type
//! of the storage interface. A transient one is answered 503 (try again
//! later); a refusal of a report's own data 422 (retrying the same report
//! cannot succeed).

/// Why a storage call did not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused the statement (not a connection problem).
    #[error("database: {0}")]
    Postgres(String),
    /// PostgreSQL refused the data of the statement (a value it cannot
    /// store, a constraint, a size past its limits): the same report would
    /// be refused again.
    #[error("database: {0}")]
    Refused(String),
    /// The database cannot be reached now (PostgreSQL down, restarting or
    /// out of connections): the caller should retry later (503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The writer has stopped (shutting down).
    #[error("the database writer has stopped")]
    Stopped,
}

impl StoreError {
    /// True when retrying later can succeed (answered with 503): the
    /// database is away, busy, locked, out of space or failing to read or
    /// write its files.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::Stopped => true,
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                        | rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::ReadOnly
                        | rusqlite::ErrorCode::OutOfMemory
                        | rusqlite::ErrorCode::FileLockingProtocolFailed
                )
            ),
            StoreError::Postgres(_) | StoreError::Refused(_) => false,
        }
    }

    /// True when the database refused the data it was given (a value, a
    /// constraint, a size): storing the same report again cannot succeed.
    pub fn is_refusal(&self) -> bool {
        match self {
            StoreError::Refused(_) => true,
            StoreError::Sqlite(e) => {
                matches!(
                    e.sqlite_error_code(),
                    Some(
                        rusqlite::ErrorCode::ConstraintViolation
                            | rusqlite::ErrorCode::TooBig
                            | rusqlite::ErrorCode::TypeMismatch
                            | rusqlite::ErrorCode::ParameterOutOfRange
                    )
                ) || matches!(
                    e,
                    rusqlite::Error::ToSqlConversionFailure(_)
                        | rusqlite::Error::IntegralValueOutOfRange(..)
                        | rusqlite::Error::NulError(_)
                )
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    #[test]
    fn a_refusal_is_never_transient_and_a_busy_database_is() {
        let refused = sqlite(rusqlite::ffi::SQLITE_CONSTRAINT);
        assert!(refused.is_refusal() && !refused.is_transient());
        let big = sqlite(rusqlite::ffi::SQLITE_TOOBIG);
        assert!(big.is_refusal());
        for code in [
            rusqlite::ffi::SQLITE_BUSY,
            rusqlite::ffi::SQLITE_FULL,
            rusqlite::ffi::SQLITE_IOERR,
        ] {
            let e = sqlite(code);
            assert!(e.is_transient() && !e.is_refusal(), "{e}");
        }
        assert!(StoreError::Refused("x".into()).is_refusal());
        assert!(!StoreError::Postgres("x".into()).is_refusal());
        assert!(StoreError::Unavailable("x".into()).is_transient());
    }
}
