//! Waiting for something to happen: on a condition, with one generous bound.
//!
//! A test never sleeps a fixed time hoping that what it waits for has
//! happened by then: on a loaded 2-core machine (CI beside other builds, or
//! this binary's other tests) "by then" can come ten times later than on a
//! quiet one. It polls the condition instead. The bound only limits how long
//! a broken product keeps the suite waiting, so it is generous: a passing
//! test waits just as long as its condition takes.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// The bound on every wait for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// Time between two looks at a condition.
const POLL: Duration = Duration::from_millis(50);

/// Polls `ok` until it holds; panics naming `what` after [`PATIENCE`].
pub fn until(what: &str, ok: impl FnMut() -> bool) {
    until_within(what, PATIENCE, ok);
}

/// Polls `ok` until it holds; panics naming `what` after `bound`. For the
/// waits that must end before a deadline the test itself set up (a send
/// timeout it gave the agent); anything else uses [`until`].
pub fn until_within(what: &str, bound: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < bound,
            "waited {bound:?} for {what}, in vain"
        );
        std::thread::sleep(POLL);
    }
}

/// Polls `f` until it gives a value, and returns it; panics naming `what`
/// after [`PATIENCE`].
pub fn until_some<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "waited {PATIENCE:?} for {what}, in vain"
        );
        std::thread::sleep(POLL);
    }
}

/// Polls `ok` until it holds (true) or [`PATIENCE`] passes (false), for a
/// caller that asserts with a message of its own.
pub fn eventually(mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if ok() {
            return true;
        }
        std::thread::sleep(POLL);
    }
    ok()
}

/// Waits for `child` to exit: its status, or None when it still runs
/// after `bound` (the caller kills it and says why).
pub fn exit_within(child: &mut Child, bound: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > bound {
            return None;
        }
        std::thread::sleep(POLL);
    }
}
