//! The binary a test runs: this build's, or another build named by
//! `TUNEKEEPER_TEST_BIN` (an older commit's, to see a hostile-input test
//! fail before its fix; an installed package's). Only the command under
//! test changes: helpers the test starts beside it (a collector) stay this
//! build's.

use std::ffi::OsString;

/// The `tunekeeper` binary under test.
pub fn bin() -> OsString {
    std::env::var_os("TUNEKEEPER_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_tunekeeper").into())
}
