//! Skipping a test whose real part (root, a JDK, Chromium, strace, mkfs...)
//! is missing. On a developer's machine the test says so on stderr with a
//! `SKIPPED:` line and returns; under CI (`CI=true`, where `.ci/run`
//! installs every part) a missing part fails the test instead, so a green
//! run proves the real tests ran.

/// Call, then `return`, when `why` keeps the test from running.
pub fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true, yet {why}: .ci/run should have installed it");
    }
    eprintln!("SKIPPED: {why}");
}
