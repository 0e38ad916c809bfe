//! Skipping a test whose real part (root, a JDK, Chromium, strace, mkfs...)
//! is missing. On a developer's machine the test says so with a `SKIPPED:`
//! line and returns; under CI (`CI=true`, where `.ci/run` installs every
//! part) a missing part fails the test instead, so a green run proves the
//! real tests ran.
//!
//! libtest counts a test that returns as passed and hides what a passing
//! test prints through `eprintln!`. The line is therefore written straight
//! to the process's standard error, past libtest's capture, so it shows in
//! `cargo test`'s output beside the test's `ok`; the test's name comes
//! from its thread, which libtest names after the test.

use std::io::Write;

/// Call, then `return`, when `why` keeps the test from running.
pub fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true, yet {why}: .ci/run should have installed it");
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Not eprintln!: libtest captures that for a passing test.
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {test}: {why}");
}
