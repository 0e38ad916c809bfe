//! The collector's clock: every time it stores, compares or shows is Unix
//! milliseconds, read here.

use time::OffsetDateTime;

/// Now as Unix milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
