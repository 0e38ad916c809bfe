//! The binary a test runs: this build's, or another build named by
//! `TUNEKEEPER_TEST_BIN` (an older commit's, to see a hostile-input test
//! fail before its fix; an installed package's). Tests that start
//! tunekeeper go through this (`collector_support::binary` too), so a
//! collector a test starts is of the same build as the agent beside it.

use std::ffi::OsString;

/// The `tunekeeper` binary under test.
pub fn bin() -> OsString {
    std::env::var_os("TUNEKEEPER_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_tunekeeper").into())
}
